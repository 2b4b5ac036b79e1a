//! Platform credentials and secrets: admin tokens and their use, provisioned
//! keys, MCP tokens, named system secrets, RSA signing keys.

use pierre_db::AdminTokenId;
use std::ops::ControlFlow;

use chrono::{Duration, Utc};
use pierre_db::crypto::hashing;
use pierre_db::{
    AdminTokenUse, ApiKeyTier, Database, DatabaseError, NewAdminToken, NewApiKey, NewRsaKeyPair,
    NewUser, PageRequest, Secret, UserId,
};
use sea_orm::{ConnectionTrait, Statement};

use crate::common;

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ.c2lnbmF0dXJlLXJhbmRvbS1wYXJ0";

async fn user(db: &Database, email: &str) -> UserId {
    db.users()
        .create(NewUser::new(email, "h"))
        .await
        .unwrap()
        .id
}

/// The text cells of `sql`'s first column.
async fn column(db: &Database, sql: &str) -> Vec<String> {
    common::text_column(db, sql).await
}

async fn execute(db: &Database, sql: &str) {
    let conn = db.unscoped_connection();
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
}

#[tokio::test]
async fn admin_tokens_are_stored_hashed_and_checked() {
    for t in common::databases().await {
        let b = t.backend;
        let tokens = t.db.admin_tokens();
        let token = tokens
            .create(NewAdminToken::new(JWT, "signing-secret", "ops"))
            .await
            .unwrap();
        assert_eq!(
            token.token_prefix, "c2lnbmF0dXJl",
            "{b}: from the signature"
        );
        assert_eq!(
            column(&t.db, "SELECT token_hash FROM admin_tokens").await,
            [hashing::hash(JWT)]
        );
        assert_eq!(
            column(&t.db, "SELECT jwt_secret_hash FROM admin_tokens").await,
            [hashing::hash("signing-secret")]
        );
        assert_eq!(tokens.verify(JWT).await.unwrap().id, token.id);
        assert!(matches!(
            tokens.verify("eyJ.other.token").await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            tokens.create(NewAdminToken::new(JWT, "s", "again")).await,
            Err(DatabaseError::Conflict { .. })
        ));
        let bad = NewAdminToken {
            permissions: vec!["root".into()],
            ..NewAdminToken::new("other", "s", "ops")
        };
        assert!(matches!(
            tokens.create(bad).await,
            Err(DatabaseError::InvalidInput {
                field: "permissions",
                ..
            })
        ));

        // Expired, then inactive: typed rejections.
        execute(
            &t.db,
            "UPDATE admin_tokens SET expires_at = '2000-01-01T00:00:00+00:00'",
        )
        .await;
        assert!(matches!(
            tokens.verify(JWT).await,
            Err(DatabaseError::Rejected {
                reason: "expired",
                ..
            })
        ));
        tokens.deactivate(token.id).await.unwrap();
        assert!(matches!(
            tokens.verify(JWT).await,
            Err(DatabaseError::Rejected {
                reason: "inactive",
                ..
            })
        ));
        assert!(tokens.list(false).await.unwrap().is_empty(), "{b}");
        assert_eq!(tokens.list(true).await.unwrap().len(), 1, "{b}");
    }
}

#[tokio::test]
async fn a_use_is_recorded_with_its_error_and_paged_in_history() {
    for t in common::databases().await {
        let tokens = t.db.admin_tokens();
        let token = tokens
            .create(NewAdminToken::new(JWT, "s", "ops"))
            .await
            .unwrap();
        let start = Utc::now() - Duration::seconds(1);
        for i in 0..5 {
            let used = AdminTokenUse {
                success: i != 3,
                error_message: (i == 3).then(|| "tier unknown".to_owned()),
                ip_address: Some(format!("10.0.0.{i}")),
                ..AdminTokenUse::new("provision_key")
            };
            tokens.record_use(token.id, used).await.unwrap();
        }
        let after = tokens.get(token.id).await.unwrap();
        assert_eq!(after.usage_count, 5);
        assert_eq!(after.last_used_ip.as_deref(), Some("10.0.0.4"));
        let end = Utc::now() + Duration::seconds(1);
        let first = tokens
            .usage_history(token.id, start, end, &PageRequest::first(3))
            .await
            .unwrap();
        assert_eq!(first.items.len(), 3);
        let rest = tokens
            .usage_history(
                token.id,
                start,
                end,
                &PageRequest::after(first.next_cursor.unwrap(), 3),
            )
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 2);
        assert!(!rest.has_more);
        let failed: Vec<_> = first
            .items
            .iter()
            .chain(&rest.items)
            .filter(|u| !u.success)
            .collect();
        assert_eq!(failed[0].error_message.as_deref(), Some("tier unknown"));

        assert!(matches!(
            tokens
                .record_use(token.id, AdminTokenUse::new("drop_tables"))
                .await,
            Err(DatabaseError::InvalidInput {
                field: "action",
                ..
            })
        ));
        let unknown = tokens
            .record_use(AdminTokenId::new(), AdminTokenUse::new("provision_key"))
            .await;
        assert!(matches!(unknown, Err(DatabaseError::NotFound { .. })));
        assert_eq!(
            column(
                &t.db,
                "SELECT CAST(COUNT(*) AS TEXT) FROM admin_token_usage"
            )
            .await,
            ["5"],
            "{}: the failed calls left no row",
            t.backend
        );
    }
}

#[tokio::test]
async fn provisioning_creates_key_and_record_together_and_revokes_both() {
    for t in common::databases().await {
        let owner = user(&t.db, "client@example.org").await;
        let token =
            t.db.admin_tokens()
                .create(NewAdminToken::new(JWT, "s", "ops"))
                .await
                .unwrap();
        let provisioned =
            t.db.provisioned_keys()
                .provision(
                    token.id,
                    "client@example.org",
                    NewApiKey::new(owner, "provisioned", ApiKeyTier::Professional),
                    "month",
                )
                .await
                .unwrap();
        assert_eq!(provisioned.record.provisioned_by_service, "ops");
        assert_eq!(provisioned.record.api_key_id, provisioned.key.key.id);
        let found =
            t.db.api_keys()
                .find_by_prefix_and_verify(provisioned.key.plaintext.expose())
                .await
                .unwrap();
        assert!(found.is_some());

        // A failure after the key was created rolls the key back too.
        let before = column(&t.db, "SELECT name FROM api_keys").await.len();
        let bad =
            t.db.provisioned_keys()
                .provision(
                    AdminTokenId::new(),
                    "client@example.org",
                    NewApiKey::new(owner, "orphan", ApiKeyTier::Starter),
                    "month",
                )
                .await;
        assert!(matches!(bad, Err(DatabaseError::NotFound { .. })));
        assert_eq!(
            column(&t.db, "SELECT name FROM api_keys").await.len(),
            before
        );

        let keys = t.db.provisioned_keys();
        let listed = keys
            .list_for_token(
                token.id,
                Utc::now() - Duration::hours(1),
                Utc::now() + Duration::hours(1),
            )
            .await
            .unwrap();
        assert_eq!(listed, std::slice::from_ref(&provisioned.record));
        assert!(
            keys.revoke(provisioned.record.id, "contract ended")
                .await
                .unwrap()
        );
        assert!(!keys.revoke(provisioned.record.id, "again").await.unwrap());
        let after = keys
            .list_for_token(
                token.id,
                Utc::now() - Duration::hours(1),
                Utc::now() + Duration::hours(1),
            )
            .await
            .unwrap();
        assert_eq!(after[0].key_status, "revoked");
        assert_eq!(after[0].revoked_reason.as_deref(), Some("contract ended"));
        let found =
            t.db.api_keys()
                .find_by_prefix_and_verify(provisioned.key.plaintext.expose())
                .await
                .unwrap();
        assert!(found.is_none(), "{}: the key itself is off", t.backend);
    }
}

#[tokio::test]
async fn mcp_tokens_validate_in_one_statement_and_refuse_revoked_or_expired() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t.db, "alice@example.org").await;
        let bob = user(&t.db, "bob@example.org").await;
        let tokens = t.db.mcp_tokens();
        let created = tokens.create(alice, "laptop", None).await.unwrap();
        let plain = created.plaintext.expose().to_owned();
        assert!(plain.starts_with("pmcp_"));
        assert_eq!(
            column(&t.db, "SELECT token_hash FROM user_mcp_tokens").await,
            [hashing::hash(&plain)]
        );
        let used = tokens.validate(&plain).await.unwrap().unwrap();
        assert_eq!(used.user_id, alice);
        assert!(tokens.validate("pmcp_guess").await.unwrap().is_none());
        let id = created.token.id;
        assert_eq!(tokens.get(id, alice).await.unwrap().usage_count, 1);
        assert!(matches!(
            tokens.get(id, bob).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            tokens.revoke(id, bob).await,
            Err(DatabaseError::NotFound { .. })
        ));

        // Expired: refused, not counted.
        execute(
            &t.db,
            "UPDATE user_mcp_tokens SET expires_at = '2000-01-01T00:00:00+00:00'",
        )
        .await;
        assert!(tokens.validate(&plain).await.unwrap().is_none(), "{b}");
        assert_eq!(tokens.get(id, alice).await.unwrap().usage_count, 1, "{b}");
        execute(&t.db, "UPDATE user_mcp_tokens SET expires_at = NULL").await;
        tokens.revoke(id, alice).await.unwrap();
        assert!(tokens.validate(&plain).await.unwrap().is_none(), "{b}");
        assert_eq!(tokens.get(id, alice).await.unwrap().usage_count, 1, "{b}");

        let short = tokens
            .create(alice, "short", Some(Utc::now() + Duration::seconds(1)))
            .await
            .unwrap();
        assert_eq!(tokens.list_for_user(alice).await.unwrap().len(), 2);
        let removed = tokens
            .cleanup_expired(Utc::now() + Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(removed, 1, "{b}");
        assert!(matches!(
            tokens.get(short.token.id, alice).await,
            Err(DatabaseError::NotFound { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_are_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let admin =
            t.db.admin_tokens()
                .create(NewAdminToken::new(JWT, "s", "ops"))
                .await
                .unwrap();
        let results = common::all_at_once(32, |_| {
            let db = t.db.clone();
            async move {
                db.admin_tokens()
                    .record_use(admin.id, AdminTokenUse::new("list_keys"))
                    .await
            }
        })
        .await;
        assert!(results.iter().all(Result::is_ok), "{b}: {results:?}");
        assert_eq!(
            t.db.admin_tokens().get(admin.id).await.unwrap().usage_count,
            32
        );
        assert_eq!(
            column(
                &t.db,
                "SELECT CAST(COUNT(*) AS TEXT) FROM admin_token_usage"
            )
            .await,
            ["32"],
            "{b}"
        );

        let alice = user(&t.db, "alice@example.org").await;
        let created = t.db.mcp_tokens().create(alice, "cli", None).await.unwrap();
        let plain = created.plaintext.expose().to_owned();
        let results = common::all_at_once(32, |_| {
            let (db, plain) = (t.db.clone(), plain.clone());
            async move { db.mcp_tokens().validate(&plain).await }
        })
        .await;
        assert!(
            results.iter().all(|r| matches!(r, Ok(Some(_)))),
            "{b}: {results:?}"
        );
        let after =
            t.db.mcp_tokens()
                .get(created.token.id, alice)
                .await
                .unwrap();
        assert_eq!(after.usage_count, 32, "{b}");
    }
}

#[tokio::test]
async fn system_secrets_round_trip_and_keep_clear_of_data_keys() {
    for t in common::databases().await {
        let secrets = t.db.system_secrets();
        assert!(secrets.get("session_key").await.unwrap().is_none());
        secrets
            .put("session_key", Secret::new("first"))
            .await
            .unwrap();
        secrets
            .put("session_key", Secret::new("second"))
            .await
            .unwrap();
        let got = secrets.get("session_key").await.unwrap().unwrap();
        assert_eq!(got.expose(), "second");
        let stored = column(
            &t.db,
            "SELECT secret_value FROM system_secrets WHERE secret_type = 'session_key'",
        )
        .await;
        assert!(!stored[0].contains("second"), "{}: encrypted", t.backend);
        for bad in ["data_key.v1", "data_key.v99", "", "Upper Case"] {
            assert!(matches!(
                secrets.put(bad, Secret::new("x")).await,
                Err(DatabaseError::InvalidInput { field: "name", .. })
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_get_or_create_agree_on_one_value() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let values = common::all_at_once(16, |i| {
            let db = t.db.clone();
            async move {
                db.system_secrets()
                    .get_or_create("jwt_secret", || Secret::new(format!("candidate-{i}")))
                    .await
                    .map(|s| s.expose().to_owned())
            }
        })
        .await;
        let values: Vec<String> = values.into_iter().map(Result::unwrap).collect();
        assert!(
            values.iter().all(|v| *v == values[0]),
            "{}: {values:?}",
            t.backend
        );
        assert_eq!(
            column(
                &t.db,
                "SELECT secret_type FROM system_secrets WHERE secret_type = 'jwt_secret'"
            )
            .await
            .len(),
            1
        );
    }
}

fn key_pair(kid: &str) -> NewRsaKeyPair {
    NewRsaKeyPair {
        kid: kid.into(),
        private_key_pem: Secret::new(format!("-----BEGIN PRIVATE KEY----- {kid}")),
        public_key_pem: format!("-----BEGIN PUBLIC KEY----- {kid}"),
        key_size_bits: 2048,
    }
}

#[tokio::test]
async fn rsa_keys_save_load_activate_and_retire() {
    for t in common::databases().await {
        let keys = t.db.rsa_keys();
        keys.save(key_pair("k1")).await.unwrap();
        keys.save(key_pair("k2")).await.unwrap();
        assert!(keys.active().await.unwrap().is_none());
        keys.set_active("k1").await.unwrap();
        keys.set_active("k2").await.unwrap();
        let active = keys.active().await.unwrap().unwrap();
        assert_eq!(active.kid, "k2");
        assert_eq!(
            active.private_key_pem.expose(),
            "-----BEGIN PRIVATE KEY----- k2"
        );
        assert!(matches!(
            keys.set_active("nope").await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert_eq!(keys.active().await.unwrap().unwrap().kid, "k2", "unchanged");
        let all = keys.load_all().await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(matches!(
            keys.save(NewRsaKeyPair {
                key_size_bits: 1024,
                ..key_pair("weak")
            })
            .await,
            Err(DatabaseError::InvalidInput {
                field: "key_size_bits",
                ..
            })
        ));
        let removed = keys
            .delete_retired(Utc::now() + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(removed, 1, "{}: k1 only", t.backend);
        assert_eq!(keys.load_all().await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_leave_exactly_one_active_key() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        for i in 0..8 {
            t.db.rsa_keys()
                .save(key_pair(&format!("k{i}")))
                .await
                .unwrap();
        }
        for _ in 0..3 {
            let results = common::all_at_once(16, |i| {
                let db = t.db.clone();
                async move { db.rsa_keys().set_active(&format!("k{}", i % 8)).await }
            })
            .await;
            assert!(
                results.iter().all(Result::is_ok),
                "{}: {results:?}",
                t.backend
            );
            let active = column(&t.db, "SELECT kid FROM rsa_keypairs WHERE is_active = TRUE").await;
            assert_eq!(active.len(), 1, "{}: {active:?}", t.backend);
        }
    }
}

#[tokio::test]
async fn secrets_open_after_rotation_reencryption_and_retirement() {
    for t in common::databases().await {
        t.db.system_secrets()
            .put("session_key", Secret::new("kept"))
            .await
            .unwrap();
        t.db.rsa_keys().save(key_pair("k1")).await.unwrap();
        let security = t.db.security();
        security.rotate_data_key().await.unwrap();
        let report = security
            .reencrypt_all(10, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        assert!(report.reencrypted >= 2, "{}: {report:?}", t.backend);
        tokio::time::sleep(common::KEY_REFRESH * 3).await;
        security.retire(1).await.unwrap();
        let fresh = t.db.system_secrets().get("session_key").await.unwrap();
        assert_eq!(fresh.unwrap().expose(), "kept");
        let pair = t.db.rsa_keys().load_all().await.unwrap();
        assert_eq!(
            pair[0].private_key_pem.expose(),
            "-----BEGIN PRIVATE KEY----- k1"
        );
    }
}
