//! API keys: creation shows the plaintext once and stores only its hash;
//! lookups verify the hash and the key's state; owners are checked; lists
//! page and filter; expiry is cleaned up by deactivation.

use crate::common;
use pierre_db::ApiKeyId;

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use entity::api_keys;
use entity::sea_orm_active_enums::ApiKeyTier;
use pierre_db::{ApiKeyFilter, ApiKeys, NewApiKey};
use pierre_db::{DatabaseError, NewUser, PageRequest, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// Now, to the microsecond (what the database keeps).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

async fn user(t: &common::TestDb, email: &str) -> UserId {
    t.db.users()
        .create(NewUser::new(email, "hash"))
        .await
        .unwrap()
        .id
}

async fn key_rows(t: &common::TestDb) -> u64 {
    api_keys::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

/// Moves a key's expiry into the past, under the API (which refuses it).
async fn backdate_expiry(t: &common::TestDb, id: Uuid, at: DateTime<Utc>) {
    api_keys::Entity::update_many()
        .col_expr(
            api_keys::Column::ExpiresAt,
            Expr::value(Some(at.fixed_offset())),
        )
        .filter(api_keys::Column::Id.eq(id))
        .exec(t.db.unscoped_connection())
        .await
        .unwrap();
}

fn assert_invalid(err: DatabaseError, expected: &str, backend: &str) {
    match err {
        DatabaseError::InvalidInput { field, .. } => assert_eq!(field, expected, "{backend}"),
        other => panic!("{backend}: expected InvalidInput({expected}), got {other:?}"),
    }
}

#[tokio::test]
async fn create_returns_the_plaintext_once_and_stores_only_its_hash() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let expiry = now() + Duration::days(30);
        let mut new = NewApiKey::new(alice, "  CI pipeline ", ApiKeyTier::Professional);
        new.description = Some("deploys".into());
        new.rate_limit_requests = Some(1000);
        new.rate_limit_window_seconds = Some(3600);
        new.expires_at = Some(expiry);
        let created = t.db.api_keys().create(new).await.unwrap();
        let plaintext = created.plaintext.expose().to_owned();

        assert!(plaintext.starts_with(ApiKeys::KEY_PREFIX), "{b}");
        assert_eq!(plaintext.len(), ApiKeys::KEY_PREFIX.len() + 43, "{b}");
        assert_eq!(
            created.key.key_prefix,
            plaintext[..ApiKeys::DISPLAY_PREFIX_LEN],
            "{b}"
        );
        assert_eq!(created.key.name, "CI pipeline", "{b}: trimmed");
        assert!(
            !format!("{created:?}").contains(&plaintext),
            "{b}: Debug must redact the plaintext"
        );
        assert!(!format!("{:?}", created.key).contains(&plaintext), "{b}");

        // What the database holds: the SHA-256 and the prefix, never the key.
        let row = api_keys::Entity::find_by_id(created.key.id.as_uuid())
            .one(t.db.unscoped_connection())
            .await
            .unwrap()
            .expect("row written");
        assert_eq!(
            row.key_hash,
            pierre_db::crypto::hashing::hash(&plaintext),
            "{b}"
        );
        assert!(!format!("{row:?}").contains(&plaintext), "{b}");

        let read =
            t.db.api_keys()
                .get_by_id_for_owner(created.key.id, alice)
                .await
                .unwrap();
        assert_eq!(read, created.key, "{b}: round trip");
        assert_eq!(read.user_id, alice);
        assert_eq!(read.description.as_deref(), Some("deploys"));
        assert_eq!(read.tier, ApiKeyTier::Professional);
        assert_eq!(read.rate_limit_requests, Some(1000));
        assert_eq!(read.rate_limit_window_seconds, Some(3600));
        assert_eq!(read.expires_at, Some(expiry), "{b}");
        assert!(read.is_active);
        assert_eq!(read.last_used_at, None);
    }
}

#[tokio::test]
async fn every_key_gets_its_own_prefix_and_hash() {
    for t in common::databases().await {
        let alice = user(&t, "alice@example.org").await;
        let mut prefixes = HashSet::new();
        let mut secrets = HashSet::new();
        for i in 0..25 {
            let created =
                t.db.api_keys()
                    .create(NewApiKey::new(alice, format!("key {i}"), ApiKeyTier::Trial))
                    .await
                    .unwrap();
            assert!(prefixes.insert(created.key.key_prefix.clone()));
            assert!(secrets.insert(created.plaintext.expose().to_owned()));
        }
        assert_eq!(key_rows(&t).await, 25, "{}", t.backend);
    }
}

#[tokio::test]
async fn create_rejects_bad_input_and_writes_nothing() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let base = || NewApiKey::new(alice, "ok", ApiKeyTier::Starter);
        let cases: Vec<(NewApiKey, &str)> = vec![
            (
                NewApiKey {
                    name: "   ".into(),
                    ..base()
                },
                "name",
            ),
            (
                NewApiKey {
                    name: "x".repeat(ApiKeys::MAX_NAME + 1),
                    ..base()
                },
                "name",
            ),
            (
                NewApiKey {
                    name: "a\nb".into(),
                    ..base()
                },
                "name",
            ),
            (
                NewApiKey {
                    description: Some("d".repeat(ApiKeys::MAX_DESCRIPTION + 1)),
                    ..base()
                },
                "description",
            ),
            (
                NewApiKey {
                    expires_at: Some(now() - Duration::seconds(1)),
                    ..base()
                },
                "expires_at",
            ),
            (
                NewApiKey {
                    rate_limit_requests: Some(0),
                    rate_limit_window_seconds: Some(60),
                    ..base()
                },
                "rate_limit_requests",
            ),
            (
                NewApiKey {
                    rate_limit_requests: Some(10),
                    rate_limit_window_seconds: Some(u32::MAX),
                    ..base()
                },
                "rate_limit_window_seconds",
            ),
            (
                NewApiKey {
                    rate_limit_requests: Some(10),
                    ..base()
                },
                "rate_limit_window_seconds",
            ),
        ];
        for (new, field) in cases {
            let err = t.db.api_keys().create(new).await.unwrap_err();
            assert_invalid(err, field, b);
        }
        assert_eq!(key_rows(&t).await, 0, "{b}: nothing half written");
    }
}

#[tokio::test]
async fn create_for_an_unknown_user_is_a_foreign_key_error() {
    for t in common::databases().await {
        let err =
            t.db.api_keys()
                .create(NewApiKey::new(UserId::new(), "k", ApiKeyTier::Trial))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{}: {err:?}",
            t.backend
        );
        assert_eq!(key_rows(&t).await, 0);
    }
}

#[tokio::test]
async fn the_prefix_is_unique_in_the_database() {
    for t in common::databases().await {
        let alice = user(&t, "alice@example.org").await;
        let created =
            t.db.api_keys()
                .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
                .await
                .unwrap();
        // A second row reusing the prefix, under the API: the unique index
        // holds and the error classifies as a conflict.
        let mut row = api_keys::Entity::find_by_id(created.key.id.as_uuid())
            .one(t.db.unscoped_connection())
            .await
            .unwrap()
            .unwrap();
        row.id = Uuid::now_v7();
        row.key_hash = "0".repeat(64);
        let err: DatabaseError =
            api_keys::Entity::insert(api_keys::ActiveModel::from(row).reset_all())
                .exec_without_returning(t.db.unscoped_connection())
                .await
                .unwrap_err()
                .into();
        assert!(
            matches!(err, DatabaseError::Conflict { .. }),
            "{}: {err:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn verify_accepts_only_the_exact_live_key() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let keys = t.db.api_keys();
        let created = keys
            .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
            .await
            .unwrap();
        let plaintext = created.plaintext.expose().to_owned();
        let found = keys.find_by_prefix_and_verify(&plaintext).await.unwrap();
        assert_eq!(found.as_ref().map(|k| k.id), Some(created.key.id), "{b}");

        // Same prefix, one character off at the end: the hash decides.
        let mut tampered = plaintext.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let long = format!("{plaintext}{}", "x".repeat(300));
        for wrong in [
            tampered.as_str(),
            &plaintext[..ApiKeys::DISPLAY_PREFIX_LEN],
            &plaintext[..plaintext.len() - 1],
            &format!("{plaintext}x"),
            &plaintext.replacen("pk_live_", "pk_test_", 1),
            "",
            "pk_live_",
            long.as_str(),
        ] {
            assert_eq!(
                keys.find_by_prefix_and_verify(wrong).await.unwrap(),
                None,
                "{b}: {wrong:?}"
            );
        }

        // A key that expires later still works; once expired it does not.
        let mut expiring = NewApiKey::new(alice, "soon", ApiKeyTier::Trial);
        expiring.expires_at = Some(now() + Duration::hours(1));
        let expiring = keys.create(expiring).await.unwrap();
        assert!(
            keys.find_by_prefix_and_verify(expiring.plaintext.expose())
                .await
                .unwrap()
                .is_some(),
            "{b}"
        );
        backdate_expiry(&t, expiring.key.id.as_uuid(), now() - Duration::seconds(1)).await;
        assert_eq!(
            keys.find_by_prefix_and_verify(expiring.plaintext.expose())
                .await
                .unwrap(),
            None,
            "{b}: expired"
        );

        // A deactivated key does not verify.
        keys.deactivate(created.key.id, alice).await.unwrap();
        assert_eq!(
            keys.find_by_prefix_and_verify(&plaintext).await.unwrap(),
            None,
            "{b}: inactive"
        );
    }
}

#[tokio::test]
async fn get_by_id_for_owner_hides_other_users_keys() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let keys = t.db.api_keys();
        let created = keys
            .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
            .await
            .unwrap();
        assert_eq!(
            keys.get_by_id_for_owner(created.key.id, alice)
                .await
                .unwrap()
                .id,
            created.key.id
        );
        for (id, owner) in [
            (created.key.id, bob),
            (ApiKeyId::new(), alice),
            (created.key.id, UserId::new()),
        ] {
            let err = keys.get_by_id_for_owner(id, owner).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::NotFound { .. }),
                "{b}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn list_for_user_returns_only_their_keys_oldest_first() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let keys = t.db.api_keys();
        let mut mine = Vec::new();
        for i in 0..4 {
            mine.push(
                keys.create(NewApiKey::new(alice, format!("a{i}"), ApiKeyTier::Trial))
                    .await
                    .unwrap()
                    .key,
            );
            keys.create(NewApiKey::new(bob, format!("b{i}"), ApiKeyTier::Trial))
                .await
                .unwrap();
        }
        keys.deactivate(mine[1].id, alice).await.unwrap();
        mine[1].is_active = false;
        let listed = keys.list_for_user(alice).await.unwrap();
        assert_eq!(listed, mine, "{b}: inactive keys included, creation order");
        assert!(
            keys.list_for_user(UserId::new()).await.unwrap().is_empty(),
            "{b}"
        );
    }
}

#[tokio::test]
async fn list_filtered_pages_through_exactly_the_matching_keys() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let keys = t.db.api_keys();
        let tiers = [
            ApiKeyTier::Trial,
            ApiKeyTier::Starter,
            ApiKeyTier::Professional,
        ];
        let mut all = Vec::new();
        for i in 0..18 {
            let owner = if i % 3 == 0 { bob } else { alice };
            let key = keys
                .create(NewApiKey::new(owner, format!("k{i}"), tiers[i % 3]))
                .await
                .unwrap()
                .key;
            all.push(key);
        }
        for key in all.iter_mut().filter(|k| k.name.ends_with(['1', '4', '7'])) {
            keys.deactivate(key.id, key.user_id).await.unwrap();
            key.is_active = false;
        }
        let filters = [
            ApiKeyFilter::default(),
            ApiKeyFilter {
                user_id: Some(alice),
                ..Default::default()
            },
            ApiKeyFilter {
                active: Some(false),
                ..Default::default()
            },
            ApiKeyFilter {
                user_id: Some(alice),
                active: Some(true),
                tier: Some(ApiKeyTier::Starter),
            },
            ApiKeyFilter {
                tier: Some(ApiKeyTier::Enterprise),
                ..Default::default()
            },
        ];
        for filter in filters {
            let expected: Vec<_> = all
                .iter()
                .filter(|k| filter.user_id.is_none_or(|u| k.user_id == u))
                .filter(|k| filter.active.is_none_or(|a| k.is_active == a))
                .filter(|k| filter.tier.is_none_or(|tier| k.tier == tier))
                .cloned()
                .collect();
            let mut seen = Vec::new();
            let mut request = PageRequest::first(4);
            loop {
                let page = keys.list_filtered(&filter, &request).await.unwrap();
                assert!(page.items.len() <= 4);
                seen.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => request = PageRequest::after(cursor, 4),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "{b}: {filter:?}");
        }

        // A cursor belongs to its filter.
        let alice_only = ApiKeyFilter {
            user_id: Some(alice),
            ..Default::default()
        };
        let page = keys
            .list_filtered(&alice_only, &PageRequest::first(2))
            .await
            .unwrap();
        let cursor = page.next_cursor.expect("more pages");
        let err = keys
            .list_filtered(&ApiKeyFilter::default(), &PageRequest::after(cursor, 2))
            .await
            .unwrap_err();
        assert_invalid(err, "cursor", b);
    }
}

#[tokio::test]
async fn update_last_used_records_the_time_or_reports_not_found() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let keys = t.db.api_keys();
        let created = keys
            .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
            .await
            .unwrap();
        let before = now();
        keys.update_last_used(created.key.id).await.unwrap();
        let used = keys
            .get_by_id_for_owner(created.key.id, alice)
            .await
            .unwrap()
            .last_used_at
            .expect("recorded");
        assert!(used >= before && used <= now(), "{b}: {used}");
        let err = keys.update_last_used(ApiKeyId::new()).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::NotFound { .. }),
            "{b}: {err:?}"
        );
    }
}

#[tokio::test]
async fn deactivate_is_owner_checked() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let keys = t.db.api_keys();
        let created = keys
            .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
            .await
            .unwrap();

        for (id, owner) in [(created.key.id, bob), (ApiKeyId::new(), alice)] {
            let err = keys.deactivate(id, owner).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::NotFound { .. }),
                "{b}: {err:?}"
            );
        }
        assert!(
            keys.get_by_id_for_owner(created.key.id, alice)
                .await
                .unwrap()
                .is_active,
            "{b}: bob's attempt changed nothing"
        );

        keys.deactivate(created.key.id, alice).await.unwrap();
        assert!(
            !keys
                .get_by_id_for_owner(created.key.id, alice)
                .await
                .unwrap()
                .is_active
        );
        keys.deactivate(created.key.id, alice)
            .await
            .expect("deactivating twice is fine");
    }
}

#[tokio::test]
async fn cleanup_deactivates_expired_keys_and_list_expired_finds_them() {
    for t in common::databases().await {
        let b = t.backend;
        let alice = user(&t, "alice@example.org").await;
        let keys = t.db.api_keys();
        let mut made = Vec::new();
        for name in ["old", "older", "expired-inactive", "future", "never"] {
            let mut new = NewApiKey::new(alice, name, ApiKeyTier::Trial);
            if name != "never" {
                new.expires_at = Some(now() + Duration::days(1));
            }
            made.push(keys.create(new).await.unwrap().key);
        }
        let past = now();
        backdate_expiry(&t, made[0].id.as_uuid(), past - Duration::hours(1)).await;
        backdate_expiry(&t, made[1].id.as_uuid(), past - Duration::hours(2)).await;
        backdate_expiry(&t, made[2].id.as_uuid(), past - Duration::hours(3)).await;
        keys.deactivate(made[2].id, alice).await.unwrap();

        let expired: Vec<_> = keys
            .list_expired(10)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(
            expired,
            ["expired-inactive", "older", "old"],
            "{b}: earliest expiry first, active or not"
        );
        assert_eq!(keys.list_expired(1).await.unwrap().len(), 1, "{b}: limit");

        assert_eq!(keys.cleanup_expired().await.unwrap(), 2, "{b}");
        assert_eq!(
            keys.cleanup_expired().await.unwrap(),
            0,
            "{b}: nothing left"
        );
        let after = keys.list_for_user(alice).await.unwrap();
        assert_eq!(after.len(), 5, "{b}: deactivated, not deleted");
        let active: Vec<_> = after
            .iter()
            .filter(|k| k.is_active)
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(active, ["future", "never"], "{b}");
    }
}

#[tokio::test]
async fn a_key_created_in_a_failed_transaction_does_not_exist() {
    for t in common::databases().await {
        let alice = user(&t, "alice@example.org").await;
        let result: Result<(), _> =
            t.db.transaction(|tx| {
                Box::pin(async move {
                    tx.api_keys()
                        .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
                        .await?;
                    Err(DatabaseError::invalid("test", "abort"))
                })
            })
            .await;
        assert!(result.is_err());
        assert_eq!(key_rows(&t).await, 0, "{}", t.backend);

        let id =
            t.db.transaction(|tx| {
                Box::pin(async move {
                    Ok(tx
                        .api_keys()
                        .create(NewApiKey::new(alice, "k", ApiKeyTier::Trial))
                        .await?
                        .key
                        .id)
                })
            })
            .await
            .unwrap();
        assert!(t.db.api_keys().get_by_id_for_owner(id, alice).await.is_ok());
    }
}

#[tokio::test]
async fn admins_look_up_keys_without_the_owner() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let keys = w.t.db.api_keys();
        let made = keys
            .create(NewApiKey::new(w.bob, "k", ApiKeyTier::Starter))
            .await
            .unwrap()
            .key;
        assert_eq!(keys.admin_get_by_id(made.id).await.unwrap(), made, "{b}");
        let listed = keys
            .admin_list_by_owner_email("BOB@example.org")
            .await
            .unwrap();
        assert_eq!(listed, vec![made], "{b}: the email is normalized");
        assert!(
            keys.admin_list_by_owner_email("ada@example.org")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            keys.admin_list_by_owner_email("not an email")
                .await
                .is_err(),
            "{b}"
        );
    }
}
