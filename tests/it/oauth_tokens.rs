//! Tenant-scoped OAuth tokens: every method, the tenant boundary, and what
//! happens when ciphertexts are moved between rows (the row-swap test).

use crate::common;

use chrono::{Duration, Utc};
use pierre_db::OauthProvider;
use pierre_db::{DatabaseError, NewOAuthToken, PageRequest, Secret, TenantId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

fn full(user: UserId, provider: OauthProvider, access: &str, refresh: &str) -> NewOAuthToken {
    let mut token = NewOAuthToken::new(user, provider, access);
    token.refresh_token = Some(Secret::new(refresh));
    token.expires_at = Some(Utc::now() + Duration::hours(1));
    token.scope = Some("read,activity:read_all".into());
    token
}

#[tokio::test]
async fn upsert_get_and_replace() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        assert_eq!(
            tokens.get(w.ada, OauthProvider::Strava).await.unwrap(),
            None
        );
        tokens
            .upsert(full(w.ada, OauthProvider::Strava, "access-1", "refresh-1"))
            .await
            .unwrap();
        let first = tokens
            .get(w.ada, OauthProvider::Strava)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(first.access_token.expose(), "access-1", "{b}");
        assert_eq!(
            first.refresh_token.as_ref().map(Secret::expose),
            Some("refresh-1")
        );
        assert_eq!(first.tenant_id, w.acme);
        assert_eq!(first.user_id, w.ada);
        assert_eq!(first.token_type, "bearer");
        assert_eq!(first.scope.as_deref(), Some("read,activity:read_all"));
        assert!(first.expires_at.is_some());

        w.t.db
            .tenant(w.acme)
            .oauth_tokens()
            .update_last_sync(w.ada, OauthProvider::Strava, Utc::now())
            .await
            .unwrap();
        tokens
            .upsert(NewOAuthToken::new(w.ada, OauthProvider::Strava, "access-2"))
            .await
            .unwrap();
        let second = tokens
            .get(w.ada, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            second.id, first.id,
            "{b}: one row per user, tenant and provider"
        );
        assert_eq!(second.created_at, first.created_at);
        assert_eq!(second.access_token.expose(), "access-2");
        assert_eq!(second.refresh_token, None);
        assert!(
            second.last_sync.is_some(),
            "{b}: last_sync survives an upsert"
        );
    }
}

#[tokio::test]
async fn lists_refresh_sync_and_deletes() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        for provider in [
            OauthProvider::Strava,
            OauthProvider::Garmin,
            OauthProvider::Fitbit,
        ] {
            tokens
                .upsert(full(
                    w.ada,
                    provider,
                    &format!("a-{}", pierre_db::provider_name(provider)),
                    "r",
                ))
                .await
                .unwrap();
        }
        tokens
            .upsert(full(w.bob, OauthProvider::Strava, "b-strava", "r"))
            .await
            .unwrap();

        let alice: Vec<OauthProvider> = tokens
            .list_for_user(w.ada)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.provider)
            .collect();
        assert_eq!(
            alice,
            [
                OauthProvider::Fitbit,
                OauthProvider::Garmin,
                OauthProvider::Strava
            ],
            "{b}"
        );
        let strava: Vec<(UserId, String)> = tokens
            .list_for_provider(OauthProvider::Strava)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.user_id, t.access_token.expose().to_owned()))
            .collect();
        assert_eq!(
            strava,
            [
                (w.ada, "a-strava".to_owned()),
                (w.bob, "b-strava".to_owned())
            ],
            "{b}"
        );

        let expires = Utc::now() + Duration::hours(6);
        tokens
            .refresh(
                w.ada,
                OauthProvider::Strava,
                &Secret::new("a-strava-2"),
                Some(Secret::new("r-2")),
                Some(expires),
            )
            .await
            .unwrap();
        let refreshed = tokens
            .get(w.ada, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refreshed.access_token.expose(), "a-strava-2");
        assert_eq!(refreshed.refresh_token.unwrap().expose(), "r-2");
        assert_eq!(
            refreshed.expires_at.unwrap().timestamp_micros(),
            expires.timestamp_micros(),
            "{b}"
        );
        assert!(matches!(
            tokens
                .refresh(w.ada, OauthProvider::Whoop, &Secret::new("x"), None, None)
                .await,
            Err(DatabaseError::NotFound { .. })
        ));

        assert_eq!(
            tokens
                .last_sync(w.ada, OauthProvider::Garmin)
                .await
                .unwrap(),
            None
        );
        let at = Utc::now();
        tokens
            .update_last_sync(w.ada, OauthProvider::Garmin, at)
            .await
            .unwrap();
        assert_eq!(
            tokens
                .last_sync(w.ada, OauthProvider::Garmin)
                .await
                .unwrap()
                .map(|t| t.timestamp_micros()),
            Some(at.timestamp_micros())
        );
        assert!(matches!(
            tokens.last_sync(w.bob, OauthProvider::Garmin).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            tokens
                .update_last_sync(w.bob, OauthProvider::Garmin, at)
                .await,
            Err(DatabaseError::NotFound { .. })
        ));

        assert!(tokens.delete(w.ada, OauthProvider::Fitbit).await.unwrap());
        assert!(!tokens.delete(w.ada, OauthProvider::Fitbit).await.unwrap());
        assert_eq!(tokens.delete_all_for_user(w.ada).await.unwrap(), 2);
        assert!(tokens.list_for_user(w.ada).await.unwrap().is_empty());
        assert_eq!(
            tokens
                .list_for_provider(OauthProvider::Strava)
                .await
                .unwrap()
                .len(),
            1,
            "{b}: bob's token stays"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    for w in common::worlds().await {
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        let cases = [
            (
                NewOAuthToken::new(w.ada, OauthProvider::Strava, ""),
                "access_token",
            ),
            (
                NewOAuthToken::new(w.ada, OauthProvider::Strava, "x".repeat(16 * 1024 + 1)),
                "access_token",
            ),
        ];
        for (token, field) in cases {
            let err = tokens.upsert(token).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { field: f, .. } if f == field),
                "{err:?}"
            );
        }
        // Providers are the schema's closed set; a name from outside (an
        // HTTP request, say) is parsed first, and an unknown one refused.
        for name in ["Strava", "", "myspace"] {
            assert!(matches!(
                pierre_db::parse_provider(name),
                Err(DatabaseError::InvalidInput {
                    field: "provider",
                    ..
                })
            ));
        }
        let mut bad_scope = NewOAuthToken::new(w.ada, OauthProvider::Strava, "a");
        bad_scope.scope = Some("a\u{0}b".into());
        assert!(tokens.upsert(bad_scope).await.is_err());
        // A user that does not exist, and a tenant that does not exist.
        assert!(matches!(
            tokens
                .upsert(NewOAuthToken::new(
                    UserId::new(),
                    OauthProvider::Strava,
                    "a"
                ))
                .await,
            Err(DatabaseError::ForeignKey { .. })
        ));
        assert!(matches!(
            w.t.db
                .tenant(TenantId::new())
                .oauth_tokens()
                .upsert(NewOAuthToken::new(w.ada, OauthProvider::Strava, "a"))
                .await,
            Err(DatabaseError::ForeignKey { .. })
        ));
        assert!(
            w.t.db
                .across_tenants()
                .oauth_tokens()
                .list_for_user(w.ada)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_scope_sees_only_its_tenant_and_cross_tenant_calls_are_explicit() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).oauth_tokens();
        let globex = w.t.db.tenant(w.globex).oauth_tokens();
        acme.upsert(full(w.ada, OauthProvider::Strava, "acme-token", "r"))
            .await
            .unwrap();
        globex
            .upsert(full(w.ada, OauthProvider::Strava, "globex-token", "r"))
            .await
            .unwrap();

        assert_eq!(
            acme.get(w.ada, OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "acme-token"
        );
        assert_eq!(
            globex
                .get(w.ada, OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "globex-token"
        );
        assert_eq!(
            globex
                .list_for_provider(OauthProvider::Strava)
                .await
                .unwrap()
                .len(),
            1,
            "{b}"
        );
        assert!(acme.delete(w.ada, OauthProvider::Strava).await.unwrap());
        assert!(
            globex
                .get(w.ada, OauthProvider::Strava)
                .await
                .unwrap()
                .is_some(),
            "{b}: other tenant untouched"
        );

        acme.upsert(full(w.ada, OauthProvider::Garmin, "acme-garmin", "r"))
            .await
            .unwrap();
        let everywhere = w.t.db.across_tenants().oauth_tokens();
        let all: Vec<TenantId> = everywhere
            .list_for_user(w.ada)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.tenant_id)
            .collect();
        assert_eq!(all.len(), 2, "{b}");
        assert!(all.contains(&w.acme) && all.contains(&w.globex));
        assert_eq!(everywhere.delete_all_for_user(w.ada).await.unwrap(), 2);
        assert!(everywhere.list_for_user(w.ada).await.unwrap().is_empty());
    }
}

/// Copies `column` of the row (from_user, from_tenant, from_provider) over
/// `to_column` of the row (to_user, to_tenant, to_provider), as an attacker
/// with write access to the database would.
async fn swap(
    t: &common::TestDb,
    column: &str,
    from: (UserId, TenantId, OauthProvider),
    to_column: &str,
    to: (UserId, TenantId, OauthProvider),
) {
    let conn = t.db.unscoped_connection();
    let backend = conn.get_database_backend();
    let p = |i: usize| {
        if backend == DbBackend::Sqlite {
            "?".to_owned()
        } else {
            format!("${i}")
        }
    };
    let sql = format!(
        "UPDATE user_oauth_tokens SET {to_column} = (SELECT {column} FROM user_oauth_tokens \
         WHERE user_id = {} AND tenant_id = {} AND provider = {}) \
         WHERE user_id = {} AND tenant_id = {} AND provider = {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    );
    let changed = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                from.0.as_uuid().into(),
                from.1.as_uuid().into(),
                pierre_db::provider_name(from.2).into(),
                to.0.as_uuid().into(),
                to.1.as_uuid().into(),
                pierre_db::provider_name(to.2).into(),
            ],
        ))
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn ciphertexts_moved_to_another_row_or_column_fail_to_open() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let seed = |tenant: TenantId, user: UserId, provider: OauthProvider| {
            let db = w.t.db.clone();
            async move {
                db.tenant(tenant)
                    .oauth_tokens()
                    .upsert(full(
                        user,
                        provider,
                        &format!("secret-{tenant}-{user}-{provider:?}"),
                        "refresh-secret",
                    ))
                    .await
                    .unwrap()
            }
        };
        seed(w.acme, w.ada, OauthProvider::Strava).await;
        seed(w.globex, w.ada, OauthProvider::Strava).await;
        seed(w.acme, w.bob, OauthProvider::Strava).await;
        seed(w.acme, w.ada, OauthProvider::Garmin).await;

        let victim = (w.ada, w.acme, OauthProvider::Strava);
        for (label, column, to_column, target) in [
            (
                "other tenant",
                "access_token",
                "access_token",
                (w.ada, w.globex, OauthProvider::Strava),
            ),
            (
                "other user",
                "access_token",
                "access_token",
                (w.bob, w.acme, OauthProvider::Strava),
            ),
            (
                "other provider",
                "access_token",
                "access_token",
                (w.ada, w.acme, OauthProvider::Garmin),
            ),
            ("other column", "access_token", "refresh_token", victim),
        ] {
            swap(&w.t, column, victim, to_column, target).await;
            let (user, tenant, provider) = target;
            let read =
                w.t.db
                    .tenant(tenant)
                    .oauth_tokens()
                    .get(user, provider)
                    .await;
            match read {
                Err(DatabaseError::Crypto(_)) => {}
                Err(other) => panic!("{b}: {label}: expected Crypto, got {other:?}"),
                Ok(token) => panic!("{b}: {label}: the moved ciphertext opened: {token:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_refresh_without_new_refresh_token_or_expiry_keeps_the_stored_ones() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        let first = full(w.ada, OauthProvider::Strava, "a-1", "r-1");
        let expires = first.expires_at.unwrap();
        tokens.upsert(first).await.unwrap();

        tokens
            .refresh(w.ada, OauthProvider::Strava, "a-2", None, None)
            .await
            .unwrap();
        let kept = tokens
            .get(w.ada, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.access_token.expose(), "a-2", "{b}");
        assert_eq!(
            kept.refresh_token.unwrap().expose(),
            "r-1",
            "{b}: refresh token kept"
        );
        assert_eq!(
            kept.expires_at.map(|t| t.timestamp_micros()),
            Some(expires.timestamp_micros()),
            "{b}: expiry kept"
        );

        let later = Utc::now() + Duration::hours(3);
        tokens
            .refresh(
                w.ada,
                OauthProvider::Strava,
                Secret::new("a-3"),
                Some(Secret::new("r-3")),
                Some(later),
            )
            .await
            .unwrap();
        let replaced = tokens
            .get(w.ada, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replaced.access_token.expose(), "a-3");
        assert_eq!(replaced.refresh_token.unwrap().expose(), "r-3", "{b}");
        assert_eq!(
            replaced.expires_at.map(|t| t.timestamp_micros()),
            Some(later.timestamp_micros())
        );
    }
}

/// Sets `access_token` of every token row to the SQL expression `value`.
async fn set_access_token_sql(t: &common::TestDb, value: &str) {
    set_column_sql(t, "access_token", value).await;
}

/// Sets `column` of every token row to the SQL expression `value`, around
/// the API.
async fn set_column_sql(t: &common::TestDb, column: &str, value: &str) {
    let conn = t.db.unscoped_connection();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        format!("UPDATE user_oauth_tokens SET {column} = {value}"),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn an_envelope_header_spelled_another_way_does_not_open() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        tokens
            .upsert(NewOAuthToken::new(w.ada, OauthProvider::Strava, "secret"))
            .await
            .unwrap();
        for (from, to) in [("pdb1:k1:", "pdb1:k01:"), ("pdb1:k1:", "pdb1:k+1:")] {
            set_access_token_sql(&w.t, &format!("REPLACE(access_token, '{from}', '{to}')")).await;
            let err = tokens.get(w.ada, OauthProvider::Strava).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    DatabaseError::Crypto(pierre_db::crypto::CryptoError::Malformed)
                ),
                "{b}: {to}: {err:?}"
            );
            set_access_token_sql(&w.t, &format!("REPLACE(access_token, '{to}', '{from}')")).await;
            assert_eq!(
                tokens
                    .get(w.ada, OauthProvider::Strava)
                    .await
                    .unwrap()
                    .unwrap()
                    .access_token
                    .expose(),
                "secret"
            );
        }
    }
}

#[tokio::test]
async fn a_secret_cell_that_is_not_text_is_a_decode_error_naming_the_column() {
    // PostgreSQL's text columns hold only valid UTF-8 text: SQLite alone can
    // store a BLOB or broken UTF-8 there.
    let w = common::worlds().await.remove(0);
    let tokens = w.t.db.tenant(w.acme).oauth_tokens();
    tokens
        .upsert(NewOAuthToken::new(w.ada, OauthProvider::Strava, "secret"))
        .await
        .unwrap();
    for bad in ["X'00FF10'", "CAST(X'C328' AS TEXT)"] {
        set_access_token_sql(&w.t, bad).await;
        for result in [
            tokens.get(w.ada, OauthProvider::Strava).await.map(|_| ()),
            tokens.list_for_user(w.ada).await.map(|_| ()),
        ] {
            match result {
                Err(DatabaseError::Decode(message)) => assert!(
                    message.contains("user_oauth_tokens.access_token"),
                    "{bad}: {message}"
                ),
                other => panic!("{bad}: expected a Decode error, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn times_outside_years_0000_to_9999_are_refused_and_write_nothing() {
    use chrono::TimeZone;
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        let far = [
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 0, 0, 0).unwrap(),
        ];
        for at in far {
            let mut token = NewOAuthToken::new(w.ada, OauthProvider::Strava, "a");
            token.expires_at = Some(at);
            let err = tokens.upsert(token).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    DatabaseError::InvalidInput {
                        field: "expires_at",
                        ..
                    }
                ),
                "{b}: {at}: {err:?}"
            );
            assert!(
                tokens
                    .get(w.ada, OauthProvider::Strava)
                    .await
                    .unwrap()
                    .is_none(),
                "{b}"
            );

            let mut key = pierre_db::NewApiKey::new(w.ada, "k", pierre_db::ApiKeyTier::Starter);
            key.expires_at = Some(at);
            assert!(matches!(
                w.t.db.api_keys().create(key).await,
                Err(DatabaseError::InvalidInput { .. })
            ));
            assert!(matches!(
                w.t.db.usage().current_jwt_usage(w.ada, at).await,
                Err(DatabaseError::InvalidInput { field: "since", .. })
            ));
            assert!(matches!(
                w.t.db.usage().system_stats(at).await,
                Err(DatabaseError::InvalidInput { .. })
            ));
            // Times only compared with stored ones are refused too: text
            // comparison on SQLite would get them wrong.
            let exchange = w.t.db.oauth2_exchange();
            let refusals = [
                exchange
                    .consume_auth_code("code", "client", "https://a.example/cb", at)
                    .await
                    .map(drop),
                exchange
                    .consume_refresh_token("t", "client", at)
                    .await
                    .map(drop),
                exchange
                    .rotate_refresh_token("t", "client", at)
                    .await
                    .map(drop),
                exchange.consume_state("s", "client", at).await.map(drop),
                exchange.purge_expired(at, 10).await.map(drop),
                w.t.db.mcp_tokens().cleanup_expired(at).await.map(drop),
            ];
            for (i, refused) in refusals.into_iter().enumerate() {
                assert!(
                    matches!(
                        refused,
                        Err(DatabaseError::InvalidInput { field: "now", .. })
                    ),
                    "{b}: call {i}: {refused:?}"
                );
            }
            assert!(
                matches!(
                    w.t.db.rsa_keys().delete_retired(at).await,
                    Err(DatabaseError::InvalidInput {
                        field: "before",
                        ..
                    })
                ),
                "{b}"
            );
            let unknown = pierre_db::uuid::Uuid::now_v7();
            assert!(
                matches!(
                    w.t.db
                        .provisioned_keys()
                        .list_for_token(
                            pierre_db::AdminTokenId::from_uuid(unknown),
                            at.min(Utc::now()),
                            at.max(Utc::now())
                        )
                        .await,
                    Err(DatabaseError::InvalidInput { .. })
                ),
                "{b}"
            );
            assert!(
                matches!(
                    w.t.db
                        .a2a_usage()
                        .stats(
                            w.ada,
                            pierre_db::A2aClientId::from_uuid(unknown),
                            at.min(Utc::now()),
                            at.max(Utc::now())
                        )
                        .await,
                    Err(DatabaseError::InvalidInput { .. })
                ),
                "{b}"
            );
        }
        // A day at the end of the calendar is refused, not a panic in the
        // date arithmetic.
        for today in [chrono::NaiveDate::MAX, chrono::NaiveDate::MIN] {
            let history =
                w.t.db
                    .a2a_usage()
                    .daily_history(
                        w.ada,
                        pierre_db::A2aClientId::from_uuid(pierre_db::uuid::Uuid::now_v7()),
                        today,
                        7,
                    )
                    .await;
            assert!(
                matches!(
                    history,
                    Err(DatabaseError::InvalidInput { field: "today", .. })
                ),
                "{b}: {today}: {history:?}"
            );
        }
        assert!(
            w.t.db
                .api_keys()
                .list_for_user(w.ada)
                .await
                .unwrap()
                .is_empty()
        );
        // The ends of the range are fine.
        for at in [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ] {
            let mut token = NewOAuthToken::new(w.ada, OauthProvider::Strava, "a");
            token.expires_at = Some(at);
            tokens.upsert(token).await.unwrap();
            let stored = tokens
                .get(w.ada, OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.expires_at, Some(at), "{b}");
        }
    }
}

#[tokio::test]
async fn a_stored_provider_outside_the_schema_set_is_a_decode_error() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        tokens
            .upsert(NewOAuthToken::new(w.ada, OauthProvider::Strava, "secret"))
            .await
            .unwrap();
        // Written around the API, as an older deployment or a hand edit
        // could have; the row is not read as some other provider.
        set_column_sql(&w.t, "provider", "'myspace'").await;
        match tokens.list_for_user(w.ada).await {
            Err(DatabaseError::Decode(message)) => {
                assert!(message.contains("\"myspace\""), "{b}: {message}")
            }
            other => panic!("{b}: expected a Decode error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn tokens_of_a_provider_page_for_sync_jobs() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        let mut users = Vec::new();
        for i in 0..7 {
            let user = common::user(&w.t, &format!("sync{i}@example.org")).await;
            let token = NewOAuthToken::new(user, OauthProvider::Strava, format!("tok-{i}"));
            tokens.upsert(token).await.unwrap();
            users.push(user);
        }
        let garmin = NewOAuthToken::new(w.ada, OauthProvider::Garmin, "g");
        tokens.upsert(garmin).await.unwrap();
        let elsewhere = NewOAuthToken::new(w.bob, OauthProvider::Strava, "other tenant");
        w.t.db
            .tenant(w.globex)
            .oauth_tokens()
            .upsert(elsewhere)
            .await
            .unwrap();

        let mut request = PageRequest::first(3);
        let mut seen = Vec::new();
        loop {
            let page = tokens
                .list_for_provider_paged(OauthProvider::Strava, &request)
                .await
                .unwrap();
            assert!(page.items.len() <= 3, "{b}");
            for token in &page.items {
                assert_eq!(token.tenant_id, w.acme, "{b}");
                seen.push((token.user_id, token.access_token.expose().to_owned()));
            }
            match page.next_cursor {
                Some(cursor) => request = PageRequest::after(cursor, 3),
                None => break,
            }
        }
        let want: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, format!("tok-{i}")))
            .collect();
        assert_eq!(seen, want, "{b}: oldest first, decrypted, this tenant only");
    }
}
