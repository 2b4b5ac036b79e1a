//! Driver errors become the right `DatabaseError` variant, on both backends.

use crate::common;

use entity::api_keys;
use entity::sea_orm_active_enums::ApiKeyTier;
use pierre_db::{DatabaseError, NewUser};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

#[tokio::test]
async fn unique_violation_is_conflict() {
    for t in common::databases().await {
        t.db.users()
            .create(NewUser::new("dup@example.org", "h"))
            .await
            .unwrap();
        let err =
            t.db.users()
                .create(NewUser::new("DUP@example.org".replace("DUP", "dup"), "h"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::Conflict { .. }),
            "{}: {err:?}",
            t.backend
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn foreign_key_violation_is_foreign_key() {
    for t in common::databases().await {
        let now = chrono::Utc::now().fixed_offset();
        let orphan = api_keys::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(Uuid::new_v4()),
            name: Set("k".into()),
            description: Set(None),
            key_hash: Set("hash".into()),
            key_prefix: Set("pk_1".into()),
            tier: Set(ApiKeyTier::Trial),
            rate_limit_requests: Set(None),
            rate_limit_window_seconds: Set(None),
            is_active: Set(true),
            expires_at: Set(None),
            last_used_at: Set(None),
            created_at: Set(now),
        };
        let err: DatabaseError = api_keys::Entity::insert(orphan)
            .exec_without_returning(t.db.unscoped_connection())
            .await
            .unwrap_err()
            .into();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{}: {err:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn missing_row_is_not_found() {
    for t in common::databases().await {
        let err =
            t.db.users()
                .get_by_email_required("nobody@example.org")
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::NotFound { entity: "user", .. }),
            "{}: {err:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn bad_input_is_rejected_before_the_database_and_writes_nothing() {
    for t in common::databases().await {
        for email in ["", "no-at", "a@b", "two@@example.org", "x@-bad-.org"] {
            let err =
                t.db.users()
                    .create(NewUser::new(email, "h"))
                    .await
                    .unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { field: "email", .. }),
                "{}: {email:?}: {err:?}",
                t.backend
            );
        }
        let mut long_name = NewUser::new("ok@example.org", "h");
        long_name.display_name = Some("x".repeat(201));
        assert!(matches!(
            t.db.users().create(long_name).await,
            Err(DatabaseError::InvalidInput {
                field: "display_name",
                ..
            })
        ));
        let count: i64 =
            t.db.unscoped_connection()
                .query_one_raw(sea_orm::Statement::from_string(
                    t.db.unscoped_connection().get_database_backend(),
                    "SELECT COUNT(*) FROM users",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index(0)
                .unwrap();
        assert_eq!(count, 0, "{}: nothing written", t.backend);
    }
}

#[tokio::test]
async fn an_unknown_enum_value_in_a_row_is_a_decode_error_not_a_default() {
    // Only SQLite can be talked into storing it (PostgreSQL's enum type
    // refuses the value outright): switch CHECKs off on the one connection.
    let t = common::sqlite().await;
    let user =
        t.db.users()
            .create(NewUser::new("odd@example.org", "h"))
            .await
            .unwrap();
    // One call, so that all three run on the same pooled connection.
    t.db.unscoped_connection()
        .execute_unprepared(
            "PRAGMA ignore_check_constraints = ON; \
             UPDATE users SET user_status = 'banished'; \
             PRAGMA ignore_check_constraints = OFF",
        )
        .await
        .unwrap();
    let err = t.db.users().get_by_id(user.id).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Decode(_)), "{err:?}");
}
