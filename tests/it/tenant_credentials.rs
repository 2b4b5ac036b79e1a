//! OAuth client credentials: a tenant's own (encrypted, tenant-scoped),
//! users' own (encrypted, per user), and OAuth apps registered by users
//! (secret hashed). Round trips, replacement, validation that writes
//! nothing, the tenant boundary, ciphertexts moved between rows, and key
//! rotation over these columns.

use crate::common;

use std::ops::ControlFlow;

use entity::sea_orm_active_enums::{OauthAppType, OauthProvider};
use entity::{oauth_apps, tenant_oauth_credentials, user_oauth_app_credentials};
use pierre_db::crypto::hashing;
use pierre_db::{DatabaseError, Secret, TenantId, UserId};
use pierre_db::{NewOAuthApp, NewTenantOAuthCredential, NewUserOAuthApp, OAuthApps};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

fn field_of(err: &DatabaseError) -> Option<&'static str> {
    match err {
        DatabaseError::InvalidInput { field, .. } => Some(field),
        _ => None,
    }
}

fn strava(secret: &str) -> NewTenantOAuthCredential {
    let mut new = NewTenantOAuthCredential::new(
        OauthProvider::Strava,
        "client-123",
        secret,
        "https://acme.example.org/oauth/strava/callback",
    );
    new.scopes = vec!["read".into(), "activity:read_all".into(), " read ".into()];
    new.rate_limit_per_day = Some(5000);
    new
}

async fn tenant_rows(t: &common::TestDb) -> Vec<tenant_oauth_credentials::Model> {
    tenant_oauth_credentials::Entity::find()
        .all(t.db.unscoped_connection())
        .await
        .unwrap()
}

async fn user_app_rows(t: &common::TestDb) -> Vec<user_oauth_app_credentials::Model> {
    user_oauth_app_credentials::Entity::find()
        .all(t.db.unscoped_connection())
        .await
        .unwrap()
}

async fn app_count(t: &common::TestDb) -> u64 {
    oauth_apps::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

// ---------------------------------------------------------------- tenant's own

#[tokio::test]
async fn tenant_credentials_round_trip_with_the_secret_encrypted_at_rest() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        assert_eq!(creds.get(OauthProvider::Strava).await.unwrap(), None, "{b}");
        creds.upsert(strava("strava-secret-1")).await.unwrap();

        let got = creds
            .get(OauthProvider::Strava)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(got.tenant_id, w.acme, "{b}");
        assert_eq!(got.provider, OauthProvider::Strava);
        assert_eq!(got.client_id, "client-123");
        assert_eq!(got.client_secret.expose(), "strava-secret-1", "{b}");
        assert_eq!(
            got.redirect_uri,
            "https://acme.example.org/oauth/strava/callback"
        );
        assert_eq!(
            got.scopes,
            ["read", "activity:read_all"],
            "{b}: deduplicated"
        );
        assert_eq!(got.rate_limit_per_day, Some(5000));
        assert!(got.is_active);

        let rows = tenant_rows(&w.t).await;
        assert_eq!(rows.len(), 1, "{b}");
        assert_eq!(rows[0].tenant_id, w.acme.as_uuid());
        assert!(
            !rows[0].client_secret_encrypted.contains("strava-secret-1"),
            "{b}: the column holds ciphertext"
        );
        assert_eq!(
            rows[0].scopes,
            serde_json::json!(["read", "activity:read_all"])
        );
    }
}

#[tokio::test]
async fn tenant_credentials_upsert_replaces_in_place() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        creds.upsert(strava("old-secret")).await.unwrap();
        let first = creds.get(OauthProvider::Strava).await.unwrap().unwrap();

        let mut replacement = NewTenantOAuthCredential::new(
            OauthProvider::Strava,
            "client-456",
            "new-secret",
            "http://localhost:8080/cb",
        );
        replacement.rate_limit_per_day = None;
        creds.upsert(replacement).await.unwrap();
        let second = creds.get(OauthProvider::Strava).await.unwrap().unwrap();
        assert_eq!(second.id, first.id, "{b}: one row per tenant and provider");
        assert_eq!(second.created_at, first.created_at, "{b}");
        assert!(second.updated_at >= first.updated_at);
        assert_eq!(second.client_id, "client-456");
        assert_eq!(second.client_secret.expose(), "new-secret", "{b}");
        assert_eq!(second.redirect_uri, "http://localhost:8080/cb");
        assert!(second.scopes.is_empty());
        assert_eq!(second.rate_limit_per_day, None);
        assert_eq!(tenant_rows(&w.t).await.len(), 1, "{b}");
    }
}

#[tokio::test]
async fn tenant_credentials_with_invalid_input_write_nothing() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        let with = |edit: fn(&mut NewTenantOAuthCredential)| {
            let mut new = strava("secret");
            edit(&mut new);
            new
        };
        let cases = [
            (with(|n| n.client_id = "  ".into()), "client_id"),
            (with(|n| n.client_id = "x".repeat(257)), "client_id"),
            (with(|n| n.client_secret = Secret::new("")), "client_secret"),
            (
                with(|n| n.client_secret = Secret::new("s".repeat(4097))),
                "client_secret",
            ),
            (
                with(|n| n.redirect_uri = "/callback".into()),
                "redirect_uri",
            ),
            (
                with(|n| n.redirect_uri = "ftp://example.org/cb".into()),
                "redirect_uri",
            ),
            (
                with(|n| n.redirect_uri = "https://example.org/cb#x".into()),
                "redirect_uri",
            ),
            (with(|n| n.scopes = vec!["read write".into()]), "scopes"),
            (with(|n| n.scopes = vec![String::new()]), "scopes"),
            (
                with(|n| n.rate_limit_per_day = Some(u32::MAX)),
                "rate_limit_per_day",
            ),
        ];
        for (new, field) in cases {
            let err = creds.upsert(new).await.unwrap_err();
            assert_eq!(field_of(&err), Some(field), "{b}: {err}");
        }
        assert!(tenant_rows(&w.t).await.is_empty(), "{b}: nothing written");

        // A provider name from outside is parsed first: one rule, the
        // schema's closed set.
        for bad in ["myspace", "STRAVA", ""] {
            assert_eq!(
                field_of(&pierre_db::parse_provider(bad).unwrap_err()),
                Some("provider")
            );
        }
    }
}

#[tokio::test]
async fn tenant_credentials_for_an_unknown_tenant_are_a_foreign_key_error() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let err =
            w.t.db
                .tenant(TenantId::new())
                .oauth_credentials()
                .upsert(strava("secret"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        assert!(tenant_rows(&w.t).await.is_empty(), "{b}");
    }
}

#[tokio::test]
async fn tenant_credentials_are_invisible_through_another_tenants_scope() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).oauth_credentials();
        let globex = w.t.db.tenant(w.globex).oauth_credentials();
        acme.upsert(strava("acme-secret")).await.unwrap();

        assert_eq!(
            globex.get(OauthProvider::Strava).await.unwrap(),
            None,
            "{b}"
        );
        assert!(globex.list().await.unwrap().is_empty(), "{b}");
        assert!(!globex.delete(OauthProvider::Strava).await.unwrap(), "{b}");
        assert_eq!(
            acme.get(OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .client_secret
                .expose(),
            "acme-secret",
            "{b}: globex's delete did not touch acme"
        );

        // Each tenant keeps its own row for the same provider.
        globex.upsert(strava("globex-secret")).await.unwrap();
        assert_eq!(
            globex
                .get(OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .client_secret
                .expose(),
            "globex-secret"
        );
        assert_eq!(
            acme.get(OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .client_secret
                .expose(),
            "acme-secret",
            "{b}"
        );
        assert_eq!(tenant_rows(&w.t).await.len(), 2, "{b}");
    }
}

#[tokio::test]
async fn a_tenant_secret_copied_into_another_tenants_row_fails_to_open() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).oauth_credentials();
        let globex = w.t.db.tenant(w.globex).oauth_credentials();
        acme.upsert(strava("acme-secret")).await.unwrap();
        globex.upsert(strava("globex-secret")).await.unwrap();
        let rows = tenant_rows(&w.t).await;
        let acme_sealed = rows
            .iter()
            .find(|r| r.tenant_id == w.acme.as_uuid())
            .unwrap()
            .client_secret_encrypted
            .clone();
        tenant_oauth_credentials::Entity::update_many()
            .col_expr(
                tenant_oauth_credentials::Column::ClientSecretEncrypted,
                Expr::value(acme_sealed),
            )
            .filter(tenant_oauth_credentials::Column::TenantId.eq(w.globex.as_uuid()))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        let err = globex.get(OauthProvider::Strava).await.unwrap_err();
        assert!(matches!(err, DatabaseError::Crypto(_)), "{b}: {err}");
    }
}

#[tokio::test]
async fn tenant_credentials_list_returns_no_secrets_and_decrypts_nothing() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        for provider in [
            OauthProvider::Whoop,
            OauthProvider::Strava,
            OauthProvider::Fitbit,
        ] {
            let name = pierre_db::provider_name(provider);
            let mut new = strava(&format!("{name}-secret"));
            new.provider = provider;
            new.client_id = format!("{name}-client");
            creds.upsert(new).await.unwrap();
        }
        // Garble one stored secret: get fails on it, list does not care.
        tenant_oauth_credentials::Entity::update_many()
            .col_expr(
                tenant_oauth_credentials::Column::ClientSecretEncrypted,
                Expr::value("not an envelope"),
            )
            .filter(tenant_oauth_credentials::Column::Provider.eq(OauthProvider::Fitbit))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        assert!(matches!(
            creds.get(OauthProvider::Fitbit).await,
            Err(DatabaseError::Crypto(_))
        ));

        let listed = creds.list().await.unwrap();
        let summary: Vec<(OauthProvider, String)> = listed
            .iter()
            .map(|c| (c.provider, c.client_id.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (OauthProvider::Fitbit, "fitbit-client".to_owned()),
                (OauthProvider::Strava, "strava-client".to_owned()),
                (OauthProvider::Whoop, "whoop-client".to_owned()),
            ],
            "{b}"
        );
        assert!(listed.iter().all(|c| c.tenant_id == w.acme
            && c.scopes == ["read", "activity:read_all"]
            && c.rate_limit_per_day == Some(5000)));
    }
}

#[tokio::test]
async fn tenant_credentials_delete_reports_whether_a_row_existed() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        creds.upsert(strava("secret")).await.unwrap();
        assert!(!creds.delete(OauthProvider::Garmin).await.unwrap(), "{b}");
        assert!(creds.delete(OauthProvider::Strava).await.unwrap(), "{b}");
        assert!(!creds.delete(OauthProvider::Strava).await.unwrap(), "{b}");
        assert_eq!(creds.get(OauthProvider::Strava).await.unwrap(), None);
        assert!(tenant_rows(&w.t).await.is_empty(), "{b}");
    }
}

// ---------------------------------------------------------------- users' own

fn fitbit_app(user: UserId, secret: &str) -> NewUserOAuthApp {
    NewUserOAuthApp::new(
        user,
        OauthProvider::Fitbit,
        "23ABCD",
        secret,
        "https://pierre.example.org/oauth/fitbit",
    )
}

#[tokio::test]
async fn user_app_credentials_round_trip_and_replace_in_place() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.user_oauth_apps();
        assert_eq!(
            apps.get(w.ada, OauthProvider::Fitbit).await.unwrap(),
            None,
            "{b}"
        );
        apps.store(fitbit_app(w.ada, "fitbit-secret"))
            .await
            .unwrap();
        let first = apps
            .get(w.ada, OauthProvider::Fitbit)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(first.user_id, w.ada, "{b}");
        assert_eq!(first.provider, OauthProvider::Fitbit);
        assert_eq!(first.client_id, "23ABCD");
        assert_eq!(first.client_secret.expose(), "fitbit-secret", "{b}");
        assert_eq!(
            first.redirect_uri,
            "https://pierre.example.org/oauth/fitbit"
        );
        let rows = user_app_rows(&w.t).await;
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].client_secret.contains("fitbit-secret"), "{b}");

        let mut again = fitbit_app(w.ada, "rotated-secret");
        again.client_id = "99ZZZZ".into();
        apps.store(again).await.unwrap();
        let second = apps
            .get(w.ada, OauthProvider::Fitbit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.id, first.id, "{b}: one row per user and provider");
        assert_eq!(second.created_at, first.created_at);
        assert_eq!(second.client_id, "99ZZZZ");
        assert_eq!(second.client_secret.expose(), "rotated-secret", "{b}");
        assert_eq!(user_app_rows(&w.t).await.len(), 1, "{b}");
        assert_eq!(
            apps.get(w.bob, OauthProvider::Fitbit).await.unwrap(),
            None,
            "{b}"
        );
    }
}

#[tokio::test]
async fn user_app_credentials_with_invalid_input_or_unknown_user_write_nothing() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.user_oauth_apps();
        let with = |edit: fn(&mut NewUserOAuthApp)| {
            let mut new = fitbit_app(UserId::new(), "secret");
            edit(&mut new);
            new
        };
        let alice = w.ada;
        let cases = [
            (with(|n| n.client_id = String::new()), "client_id"),
            (with(|n| n.client_secret = Secret::new("")), "client_secret"),
            (
                with(|n| n.redirect_uri = "not a url".into()),
                "redirect_uri",
            ),
            (
                with(|n| n.redirect_uri = "https://user:pw@example.org/cb".into()),
                "redirect_uri",
            ),
        ];
        for (mut new, field) in cases {
            new.user_id = alice;
            let err = apps.store(new).await.unwrap_err();
            assert_eq!(field_of(&err), Some(field), "{b}: {err}");
        }
        let err = apps
            .store(fitbit_app(UserId::new(), "secret"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        assert!(user_app_rows(&w.t).await.is_empty(), "{b}: nothing written");
        for bad in ["polar", "Fitbit", " "] {
            assert_eq!(
                field_of(&pierre_db::parse_provider(bad).unwrap_err()),
                Some("provider")
            );
        }
    }
}

#[tokio::test]
async fn user_app_credentials_list_is_per_user_without_secrets_and_remove_reports() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.user_oauth_apps();
        for provider in [
            OauthProvider::Terra,
            OauthProvider::Garmin,
            OauthProvider::Strava,
        ] {
            let name = pierre_db::provider_name(provider);
            let mut new = fitbit_app(w.ada, &format!("{name}-secret"));
            new.provider = provider;
            apps.store(new).await.unwrap();
        }
        apps.store(fitbit_app(w.bob, "bob-secret")).await.unwrap();
        // Garble one of alice's secrets: list does not decrypt.
        user_oauth_app_credentials::Entity::update_many()
            .col_expr(
                user_oauth_app_credentials::Column::ClientSecret,
                Expr::value("garbage"),
            )
            .filter(user_oauth_app_credentials::Column::Provider.eq(OauthProvider::Garmin))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        let listed: Vec<(UserId, OauthProvider)> = apps
            .list(w.ada)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.user_id, a.provider))
            .collect();
        assert_eq!(
            listed,
            [
                (w.ada, OauthProvider::Garmin),
                (w.ada, OauthProvider::Strava),
                (w.ada, OauthProvider::Terra),
            ],
            "{b}: by provider name on every backend"
        );
        assert_eq!(apps.list(w.bob).await.unwrap().len(), 1, "{b}");
        assert!(apps.list(UserId::new()).await.unwrap().is_empty());

        assert!(
            apps.remove(w.ada, OauthProvider::Terra).await.unwrap(),
            "{b}"
        );
        assert!(
            !apps.remove(w.ada, OauthProvider::Terra).await.unwrap(),
            "{b}"
        );
        assert!(
            !apps.remove(w.ada, OauthProvider::Fitbit).await.unwrap(),
            "{b}: bob's"
        );
        assert!(
            apps.get(w.bob, OauthProvider::Fitbit)
                .await
                .unwrap()
                .is_some(),
            "{b}"
        );
        assert_eq!(apps.list(w.ada).await.unwrap().len(), 2, "{b}");
    }
}

#[tokio::test]
async fn a_user_app_secret_copied_into_another_users_row_fails_to_open() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.user_oauth_apps();
        apps.store(fitbit_app(w.ada, "alice-secret")).await.unwrap();
        apps.store(fitbit_app(w.bob, "bob-secret")).await.unwrap();
        let alice_sealed = user_app_rows(&w.t)
            .await
            .into_iter()
            .find(|r| r.user_id == w.ada.as_uuid())
            .unwrap()
            .client_secret;
        user_oauth_app_credentials::Entity::update_many()
            .col_expr(
                user_oauth_app_credentials::Column::ClientSecret,
                Expr::value(alice_sealed),
            )
            .filter(user_oauth_app_credentials::Column::UserId.eq(w.bob.as_uuid()))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        let err = apps.get(w.bob, OauthProvider::Fitbit).await.unwrap_err();
        assert!(matches!(err, DatabaseError::Crypto(_)), "{b}: {err}");
    }
}

#[tokio::test]
async fn rotation_reencrypts_tenant_and_user_app_secrets() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let creds = w.t.db.tenant(w.acme).oauth_credentials();
        let apps = w.t.db.user_oauth_apps();
        creds.upsert(strava("tenant-secret")).await.unwrap();
        apps.store(fitbit_app(w.ada, "user-secret")).await.unwrap();
        let before = (
            tenant_rows(&w.t).await[0].client_secret_encrypted.clone(),
            user_app_rows(&w.t).await[0].client_secret.clone(),
        );

        let security = w.t.db.security();
        let old = security.key_versions().await.unwrap();
        security.rotate_data_key().await.unwrap();
        let report = security
            .reencrypt_all(10, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        assert!(report.reencrypted >= 2, "{b}: {report:?}");
        // `retire` waits until no handle can still seal under the old key.
        tokio::time::sleep(common::KEY_REFRESH * 2).await;
        for version in old {
            security.retire(version.version).await.unwrap();
        }

        assert_ne!(
            tenant_rows(&w.t).await[0].client_secret_encrypted,
            before.0,
            "{b}"
        );
        assert_ne!(user_app_rows(&w.t).await[0].client_secret, before.1, "{b}");
        assert_eq!(
            creds
                .get(OauthProvider::Strava)
                .await
                .unwrap()
                .unwrap()
                .client_secret
                .expose(),
            "tenant-secret",
            "{b}: readable under the new key alone"
        );
        assert_eq!(
            apps.get(w.ada, OauthProvider::Fitbit)
                .await
                .unwrap()
                .unwrap()
                .client_secret
                .expose(),
            "user-secret",
            "{b}"
        );
    }
}

// ---------------------------------------------------------------- OAuth apps

fn app(owner: UserId, name: &str) -> NewOAuthApp {
    let mut new = NewOAuthApp::new(owner, name, "https://app.example.org/callback");
    new.redirect_uris.push("http://localhost:3000/cb".into());
    new.redirect_uris
        .push("https://app.example.org/callback".into());
    new.scopes = vec!["fitness:read".into(), "profile".into()];
    new.description = Some("Reads activities".into());
    new.app_type = OauthAppType::Confidential;
    new
}

#[tokio::test]
async fn register_returns_the_secret_once_and_stores_only_its_hash() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let registered = apps.register(app(w.ada, "Training log")).await.unwrap();
        let secret = registered.client_secret.expose().to_owned();
        let created = registered.app;
        assert!(
            created.client_id.starts_with(OAuthApps::CLIENT_ID_PREFIX),
            "{b}"
        );
        assert!(secret.starts_with(OAuthApps::CLIENT_SECRET_PREFIX), "{b}");
        assert_eq!(created.owner_user_id, w.ada);
        assert_eq!(created.name, "Training log");
        assert_eq!(created.description.as_deref(), Some("Reads activities"));
        assert_eq!(
            created.redirect_uris,
            [
                "https://app.example.org/callback",
                "http://localhost:3000/cb"
            ],
            "{b}: duplicates dropped"
        );
        assert_eq!(created.scopes, ["fitness:read", "profile"]);
        assert_eq!(created.app_type, OauthAppType::Confidential);
        assert!(created.is_active);

        let row = oauth_apps::Entity::find()
            .one(w.t.db.unscoped_connection())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.client_secret_hash, hashing::hash(&secret), "{b}");
        assert!(!row.client_secret_hash.contains(&secret));

        assert_eq!(
            apps.get_by_client_id(&created.client_id).await.unwrap(),
            Some(created.clone()),
            "{b}"
        );
        assert!(
            apps.verify_client_secret(&created.client_id, &secret)
                .await
                .unwrap(),
            "{b}"
        );

        let other = apps.register(app(w.ada, "Second")).await.unwrap();
        assert_ne!(other.app.client_id, created.client_id, "{b}");
        assert_ne!(other.client_secret.expose(), secret);
    }
}

#[tokio::test]
async fn register_with_invalid_input_or_unknown_owner_writes_nothing() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let with = |edit: fn(&mut NewOAuthApp)| {
            let mut new = app(UserId::new(), "App");
            edit(&mut new);
            new
        };
        let cases = [
            (with(|n| n.name = " ".into()), "name"),
            (with(|n| n.name = "n".repeat(201)), "name"),
            (
                with(|n| n.description = Some("d".repeat(2001))),
                "description",
            ),
            (with(|n| n.redirect_uris.clear()), "redirect_uris"),
            (
                with(|n| n.redirect_uris = vec!["/relative".into()]),
                "redirect_uris",
            ),
            (
                with(|n| n.redirect_uris.push("javascript:alert(1)".into())),
                "redirect_uris",
            ),
            (
                with(|n| {
                    n.redirect_uris
                        .push("https://app.example.org/cb#frag".into())
                }),
                "redirect_uris",
            ),
            (
                with(|n| n.redirect_uris.push("https://evil@app.example.org/".into())),
                "redirect_uris",
            ),
            (
                with(|n| {
                    n.redirect_uris = (0..21)
                        .map(|i| format!("https://app.example.org/{i}"))
                        .collect()
                }),
                "redirect_uris",
            ),
            (with(|n| n.scopes = vec!["a\"b".into()]), "scopes"),
        ];
        for (mut new, field) in cases {
            new.owner = w.ada;
            let err = apps.register(new).await.unwrap_err();
            assert_eq!(field_of(&err), Some(field), "{b}: {err}");
        }
        let err = apps
            .register(app(UserId::new(), "Ghost"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        assert_eq!(app_count(&w.t).await, 0, "{b}: nothing written");
    }
}

#[tokio::test]
async fn verify_client_secret_is_false_for_every_wrong_credential() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let one = apps.register(app(w.ada, "One")).await.unwrap();
        let two = apps.register(app(w.bob, "Two")).await.unwrap();
        let (id1, secret1) = (one.app.client_id.as_str(), one.client_secret.expose());
        let secret2 = two.client_secret.expose();

        assert!(
            apps.verify_client_secret(id1, secret1).await.unwrap(),
            "{b}"
        );
        let mut altered = secret1.to_owned();
        altered.pop();
        altered.push('#');
        for (client_id, secret) in [
            (id1, secret2),
            (id1, altered.as_str()),
            (id1, ""),
            (id1, &"x".repeat(10_000)),
            ("app_unknown", secret1),
            ("", secret1),
            (two.app.client_id.as_str(), secret1),
        ] {
            assert!(
                !apps.verify_client_secret(client_id, secret).await.unwrap(),
                "{b}: {client_id:?} must not verify"
            );
        }
        apps.deactivate(id1, w.ada).await.unwrap();
        assert!(
            !apps.verify_client_secret(id1, secret1).await.unwrap(),
            "{b}: a deactivated app does not authenticate"
        );
    }
}

#[tokio::test]
async fn get_by_client_id_finds_apps_active_or_not() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let one = apps.register(app(w.ada, "One")).await.unwrap().app;
        assert_eq!(
            apps.get_by_client_id("app_missing").await.unwrap(),
            None,
            "{b}"
        );
        assert_eq!(
            field_of(&apps.get_by_client_id("  ").await.unwrap_err()),
            Some("client_id")
        );
        apps.deactivate(&one.client_id, w.ada).await.unwrap();
        let read = apps
            .get_by_client_id(&one.client_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!read.is_active, "{b}");
        assert!(read.updated_at >= one.updated_at);
    }
}

#[tokio::test]
async fn list_for_owner_returns_only_the_owners_apps_oldest_first() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let mut mine = Vec::new();
        for name in ["First", "Second", "Third"] {
            mine.push(apps.register(app(w.ada, name)).await.unwrap().app.client_id);
        }
        apps.register(app(w.bob, "Bob's")).await.unwrap();
        apps.deactivate(&mine[1], w.ada).await.unwrap();
        let listed: Vec<String> = apps
            .list_for_owner(w.ada)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.client_id)
            .collect();
        assert_eq!(listed, mine, "{b}: inactive apps included, in order");
        assert_eq!(apps.list_for_owner(w.bob).await.unwrap().len(), 1, "{b}");
        assert!(apps.list_for_owner(UserId::new()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn deactivate_is_owner_checked() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let apps = w.t.db.oauth_apps();
        let registered = apps.register(app(w.ada, "Mine")).await.unwrap();
        let client_id = registered.app.client_id.as_str();
        let secret = registered.client_secret.expose();

        let err = apps.deactivate(client_id, w.bob).await.unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");
        assert!(
            apps.verify_client_secret(client_id, secret).await.unwrap(),
            "{b}: still active after another user's attempt"
        );
        let err = apps.deactivate("app_missing", w.ada).await.unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");
        assert_eq!(
            field_of(&apps.deactivate("", w.ada).await.unwrap_err()),
            Some("client_id")
        );

        apps.deactivate(client_id, w.ada).await.unwrap();
        apps.deactivate(client_id, w.ada).await.unwrap();
        let read = apps.get_by_client_id(client_id).await.unwrap().unwrap();
        assert!(!read.is_active, "{b}");
        assert_eq!(app_count(&w.t).await, 1, "{b}");
    }
}
