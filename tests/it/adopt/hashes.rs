//! Credentials the original stored in hash forms of its own keep working
//! after adoption: the first successful check replaces the hash with this
//! crate's form.

use argon2::password_hash::{PasswordHasher, SaltString};
use entity::oauth2_clients as clients;
use pierre_db::NewOAuth2Client;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::common;

/// The original's Argon2id PHC string of `secret` (its parameters:
/// m=19456, t=2, p=1).
fn argon2id(secret: &str) -> String {
    let salt = SaltString::encode_b64(b"pierre legacy salt").unwrap();
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(secret.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

async fn stored_secret_hash(db: &pierre_db::Database, client_id: &str) -> String {
    clients::Entity::find()
        .filter(clients::Column::ClientId.eq(client_id))
        .one(db.unscoped_connection())
        .await
        .unwrap()
        .unwrap()
        .client_secret_hash
}

async fn set_legacy_hash(db: &pierre_db::Database, client_id: &str, hash: &str) {
    clients::Entity::update_many()
        .col_expr(clients::Column::ClientSecretHash, Expr::value(hash))
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(db.unscoped_connection())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_oauth2_client_secret_in_argon2id_verifies_and_is_upgraded_once() {
    for t in common::databases().await {
        let b = t.backend;
        let clients = t.db.oauth2_clients();
        let client = clients
            .register(NewOAuth2Client::new("https://app.example/cb"))
            .await
            .unwrap();
        let id = client.client.client_id.clone();
        let legacy = argon2id("legacy-secret");
        set_legacy_hash(&t.db, &id, &legacy).await;

        // A wrong secret is refused and changes nothing.
        assert!(
            clients.verify_secret(&id, "wrong").await.unwrap().is_none(),
            "{b}"
        );
        assert_eq!(stored_secret_hash(&t.db, &id).await, legacy, "{b}");

        // The right one verifies, and the hash is now this crate's form.
        let verified = clients.verify_secret(&id, "legacy-secret").await.unwrap();
        assert_eq!(verified.map(|c| c.client_id), Some(id.clone()), "{b}");
        let upgraded = stored_secret_hash(&t.db, &id).await;
        assert_ne!(upgraded, legacy, "{b}");
        assert!(!upgraded.starts_with('$'), "{b}: {upgraded}");
        assert!(
            clients
                .verify_secret(&id, "legacy-secret")
                .await
                .unwrap()
                .is_some(),
            "{b}"
        );
        assert!(
            clients.verify_secret(&id, "wrong").await.unwrap().is_none(),
            "{b}"
        );
    }
}

#[tokio::test]
async fn callers_verifying_a_legacy_secret_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let client =
            t.db.oauth2_clients()
                .register(NewOAuth2Client::new("https://app.example/cb"))
                .await
                .unwrap();
        let id = client.client.client_id.clone();
        set_legacy_hash(&t.db, &id, &argon2id("legacy-secret")).await;
        let db = std::sync::Arc::new(t.db.clone());
        let results = common::all_at_once(16, |_| {
            let (db, id) = (db.clone(), id.clone());
            async move {
                db.oauth2_clients()
                    .verify_secret(&id, "legacy-secret")
                    .await
            }
        })
        .await;
        for result in results {
            assert!(result.unwrap().is_some(), "{b}");
        }
        assert!(
            !stored_secret_hash(&t.db, &id).await.starts_with('$'),
            "{b}"
        );
    }
}
