//! Data keys: rotation that loses nothing, resumable re-encryption,
//! retirement, rewrapping, and a wrong master key refused at connect.

use crate::common;

use std::ops::ControlFlow;

use pierre_db::OauthProvider;
use pierre_db::crypto::envelope;
use pierre_db::{
    Database, DatabaseConfig, DatabaseError, MasterKey, NewOAuthToken, NewUser, Secret, TenantId,
    UserId,
};
use sea_orm::{ConnectionTrait, Statement};

const PROVIDERS: [OauthProvider; 4] = [
    OauthProvider::Strava,
    OauthProvider::Fitbit,
    OauthProvider::Garmin,
    OauthProvider::Whoop,
];

async fn seed(
    t: &common::TestDb,
    tenants: usize,
    users: usize,
) -> Vec<(TenantId, UserId, OauthProvider)> {
    let mut ids = Vec::new();
    for i in 0..users {
        ids.push(
            t.db.users()
                .create(NewUser::new(format!("r{i}@example.org"), "h"))
                .await
                .unwrap()
                .id,
        );
    }
    let mut rows = Vec::new();
    for _ in 0..tenants {
        let tenant = common::tenant(t, ids[0]).await;
        let scope = t.db.tenant(tenant);
        for &user in &ids {
            for provider in PROVIDERS {
                let mut token = NewOAuthToken::new(
                    user,
                    provider,
                    format!("access-{tenant}-{user}-{provider:?}"),
                );
                token.refresh_token = Some(Secret::new(format!("refresh-{user}")));
                scope.oauth_tokens().upsert(token).await.unwrap();
                rows.push((tenant, user, provider));
            }
        }
    }
    rows
}

/// The key version of every stored access and refresh token.
async fn stored_versions(t: &common::TestDb) -> Vec<u32> {
    let conn = t.db.unscoped_connection();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT access_token, refresh_token FROM user_oauth_tokens",
        ))
        .await
        .unwrap();
    let mut versions = Vec::new();
    for row in rows {
        for i in 0..2 {
            if let Some(text) = row.try_get_by_index::<Option<String>>(i).unwrap() {
                versions.push(envelope::key_version(&text).unwrap());
            }
        }
    }
    versions
}

async fn all_open(t: &common::TestDb, rows: &[(TenantId, UserId, OauthProvider)]) {
    for &(tenant, user, provider) in rows {
        let token =
            t.db.tenant(tenant)
                .oauth_tokens()
                .get(user, provider)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(
            token.access_token.expose(),
            format!("access-{tenant}-{user}-{provider:?}")
        );
        assert_eq!(
            token.refresh_token.unwrap().expose(),
            format!("refresh-{user}")
        );
    }
}

#[tokio::test]
async fn rotate_reencrypt_with_a_crash_resume_and_retire() {
    for t in common::databases().await {
        let b = t.backend;
        let rows = seed(&t, 3, 84).await;
        assert!(rows.len() >= 1000, "{} rows", rows.len());
        let security = t.db.security();
        assert!(stored_versions(&t).await.iter().all(|v| *v == 1));

        let v2 = security.rotate_data_key().await.unwrap();
        assert_eq!(v2, 2);
        let keys = security.key_versions().await.unwrap();
        assert_eq!(
            keys.iter()
                .filter(|k| k.active)
                .map(|k| k.version)
                .collect::<Vec<_>>(),
            [2]
        );
        all_open(&t, &rows[..50]).await; // old rows stay readable

        let err = security.retire(1).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::KeyInUse { version: 1, values, .. } if values > 0),
            "{b}: retiring a key in use: {err:?}"
        );

        // Simulated crash: stop after half of the values.
        let total = rows.len() as u64 * 2;
        let partial = security
            .reencrypt_all(100, |p| {
                if p.reencrypted >= total / 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await
            .unwrap();
        assert!(partial.stopped);
        let versions = stored_versions(&t).await;
        let moved = versions.iter().filter(|v| **v == 2).count() as u64;
        assert_eq!(moved, partial.reencrypted, "{b}");
        assert!(
            moved >= total / 2 && moved < total,
            "{b}: {moved} of {total}"
        );
        all_open(&t, &rows).await; // mixed versions, all readable

        let rest = security
            .reencrypt_all(100, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        assert!(!rest.stopped);
        assert_eq!(
            partial.reencrypted + rest.reencrypted,
            total,
            "{b}: every value moved exactly once"
        );
        assert!(stored_versions(&t).await.iter().all(|v| *v == 2), "{b}");
        let again = security
            .reencrypt_all(100, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        assert_eq!(again.reencrypted, 0, "{b}: idempotent");
        all_open(&t, &rows).await;

        // `retire` waits until no handle can still seal under the old key.
        tokio::time::sleep(common::KEY_REFRESH * 2).await;
        security.retire(1).await.unwrap();
        let keys = security.key_versions().await.unwrap();
        assert!(
            keys.iter()
                .any(|k| k.version == 1 && k.retired && !k.active),
            "{keys:?}"
        );
        assert!(
            matches!(
                security.retire(2).await,
                Err(DatabaseError::InvalidInput { .. })
            ),
            "{b}: active key"
        );
        all_open(&t, &rows[..20]).await;
    }
}

#[tokio::test]
async fn rewrapping_changes_the_master_key_without_touching_rows() {
    for t in common::databases().await {
        let rows = seed(&t, 1, 3).await;
        let before: Vec<String> = raw_tokens(&t).await;
        let new_key = MasterKey::generate().unwrap();
        assert_eq!(
            t.db.security()
                .rewrap_data_keys(new_key.clone())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            raw_tokens(&t).await,
            before,
            "{}: rows untouched",
            t.backend
        );
        all_open(&t, &rows).await;

        // A new handle needs the new master key now.
        let mut config = DatabaseConfig::new(&t.url, new_key);
        config.max_connections = 2;
        if t.backend == "postgres" {
            let reopened = Database::connect_with(config).await.unwrap();
            let (tenant, user, provider) = rows[0];
            assert!(
                reopened
                    .tenant(tenant)
                    .oauth_tokens()
                    .get(user, provider)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
}

async fn raw_tokens(t: &common::TestDb) -> Vec<String> {
    let conn = t.db.unscoped_connection();
    conn.query_all_raw(Statement::from_string(
        conn.get_database_backend(),
        "SELECT access_token FROM user_oauth_tokens ORDER BY id",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<String>(0).unwrap())
    .collect()
}

async fn wrapped_keys(db: &Database) -> Vec<(String, String)> {
    let conn = db.unscoped_connection();
    conn.query_all_raw(Statement::from_string(
        conn.get_database_backend(),
        "SELECT secret_type, secret_value FROM system_secrets ORDER BY secret_type",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
        )
    })
    .collect()
}

async fn check_wrong_master_key(url: &str) {
    let right = MasterKey::generate().unwrap();
    let mut config = DatabaseConfig::new(url, right.clone());
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    let db = Database::connect_with(config).await.unwrap();
    let before = wrapped_keys(&db).await;
    assert_eq!(before.len(), 1, "data key v1 was created on first connect");
    db.close().await.unwrap();

    let wrong = MasterKey::generate().unwrap();
    let err = Database::connect(url, wrong.clone()).await.unwrap_err();
    match &err {
        DatabaseError::Crypto(pierre_db::crypto::CryptoError::WrongMasterKey) => {}
        other => panic!("expected WrongMasterKey, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("PIERRE_MASTER_ENCRYPTION_KEY"),
        "{message}"
    );
    assert!(!message.contains(&wrong.to_base64()) && !message.contains(&right.to_base64()));

    let db = Database::connect(url, right).await.unwrap();
    assert_eq!(
        wrapped_keys(&db).await,
        before,
        "wrapped keys byte-for-byte unchanged"
    );
}

#[tokio::test]
async fn a_wrong_master_key_fails_at_connect_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    check_wrong_master_key(&format!("sqlite:{}", dir.path().join("keys.db").display())).await;
    if let Some(url) = common::new_postgres_database().await {
        check_wrong_master_key(&url).await;
    }
}

#[tokio::test]
async fn a_handle_learns_of_a_key_rotated_elsewhere_even_inside_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("two.db").display());
    let key = MasterKey::generate().unwrap();
    // Handle A has a single connection: a reload through the pool while its
    // transaction holds that connection would wait for the acquire timeout.
    let mut config = DatabaseConfig::new(&url, key.clone());
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    config.max_connections = 1;
    config.min_connections = 1;
    config.acquire_timeout = std::time::Duration::from_secs(3);
    let a = Database::connect_with(config).await.unwrap();
    let user = a
        .users()
        .create(NewUser::new("two@example.org", "h"))
        .await
        .unwrap()
        .id;
    let tenant = common::tenant_of(&a, user).await;
    a.tenant(tenant)
        .oauth_tokens()
        .upsert(NewOAuthToken::new(
            user,
            OauthProvider::Strava,
            "rotated-elsewhere",
        ))
        .await
        .unwrap();

    // Handle B (another process, say) rotates and re-encrypts everything.
    let b = Database::connect(&url, key).await.unwrap();
    b.security().rotate_data_key().await.unwrap();
    b.security()
        .reencrypt_all(100, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    b.close().await.unwrap();

    let read = a
        .transaction(move |tx| {
            Box::pin(async move {
                tx.tenant(tenant)
                    .oauth_tokens()
                    .get(user, OauthProvider::Strava)
                    .await
            })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.access_token.expose(), "rotated-elsewhere");
}

#[tokio::test]
async fn verify_counts_every_value_per_key_and_names_the_rows_that_do_not_open() {
    for t in common::databases().await {
        let b = t.backend;
        let rows = seed(&t, 1, 3).await;
        let sealed = 2 * rows.len() as u64;
        t.db.security().rotate_data_key().await.unwrap();
        // The access tokens move to v2 in one batch; then the job stops.
        t.db.security()
            .reencrypt_all(rows.len() as u32, |_| ControlFlow::Break(()))
            .await
            .unwrap();

        let counts = t.db.security().sealed_counts().await.unwrap();
        let tokens: u64 = counts
            .iter()
            .filter(|c| c.column.starts_with("user_oauth_tokens."))
            .map(|c| c.total)
            .sum();
        assert_eq!(tokens, sealed, "{b}");
        let under = |v: u32| -> u64 { counts.iter().filter_map(|c| c.by_version.get(&v)).sum() };
        assert_eq!(under(1) + under(2), sealed, "{b}: {counts:?}");
        assert!(under(1) > 0 && under(2) > 0, "{b}: {counts:?}");
        assert_eq!(under(0), 2, "{b}: the two wrapped data keys");
        assert!(counts.iter().all(|c| c.unaccounted() == 0), "{b}");

        let mut batches = 0;
        let report =
            t.db.security()
                .verify(5, |_| {
                    batches += 1;
                    ControlFlow::Continue(())
                })
                .await
                .unwrap();
        assert!(report.is_clean(), "{b}: {report:?}");
        assert_eq!(report.checked, sealed + 2, "{b}");
        assert!(
            batches >= (sealed / 5) as usize,
            "{b}: progress after every batch"
        );

        // Move one row's ciphertext onto another row: both still parse,
        // neither opens where it now is.
        let conn = t.db.unscoped_connection();
        let backend = conn.get_database_backend();
        let ids = conn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, access_token FROM user_oauth_tokens ORDER BY id",
            ))
            .await
            .unwrap();
        let first: uuid::Uuid = ids[0].try_get_by_index(0).unwrap();
        let moved: String = ids[1].try_get_by_index(1).unwrap();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "UPDATE user_oauth_tokens SET access_token = $1 WHERE id = $2"
            }
            _ => "UPDATE user_oauth_tokens SET access_token = ? WHERE id = ?",
        };
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [moved.into(), first.into()],
        ))
        .await
        .unwrap();

        let report =
            t.db.security()
                .verify(1000, |_| ControlFlow::Continue(()))
                .await
                .unwrap();
        assert_eq!(report.unreadable.len(), 1, "{b}: {report:?}");
        let bad = &report.unreadable[0];
        assert_eq!(
            (bad.table, bad.column),
            ("user_oauth_tokens", "access_token"),
            "{b}"
        );
        assert_eq!(bad.key, first.to_string(), "{b}");
        assert!(
            !bad.reason.contains("access-"),
            "{b}: no plaintext in reasons"
        );
        let column = report
            .columns
            .iter()
            .find(|c| c.column == "user_oauth_tokens.access_token")
            .unwrap();
        assert_eq!(column.unreadable, 1, "{b}");

        // A data key's wrapped value under another name: sealed under the
        // master key, but not a key this database lists, so not vouched for.
        {
            use entity::system_secrets;
            use sea_orm::{ActiveValue::Set, EntityTrait};
            let data_key = system_secrets::Entity::find_by_id("data_key.v1")
                .one(conn)
                .await
                .unwrap()
                .expect("data key v1 is stored");
            system_secrets::Entity::insert(system_secrets::ActiveModel {
                secret_type: Set("orphan".into()),
                ..data_key.into()
            })
            .exec_without_returning(conn)
            .await
            .unwrap();
        }
        let report =
            t.db.security()
                .verify(1000, |_| ControlFlow::Continue(()))
                .await
                .unwrap();
        let orphan = report.unreadable.iter().find(|u| u.key == "orphan");
        assert_eq!(
            orphan.map(|u| (u.table, u.column)),
            Some(("system_secrets", "secret_value")),
            "{b}: {report:?}"
        );

        let stopped =
            t.db.security()
                .verify(1, |_| ControlFlow::Break(()))
                .await
                .unwrap();
        assert!(stopped.stopped, "{b}");
        assert!(
            t.db.security()
                .verify(0, |_| ControlFlow::Continue(()))
                .await
                .is_err(),
            "{b}"
        );
    }
}
