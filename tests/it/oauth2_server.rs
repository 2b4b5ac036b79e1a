//! The OAuth 2.0 authorization server's storage: clients, codes, refresh
//! tokens and states; each single-use value consumed exactly once, under
//! concurrency too, and stored only as a hash.

use chrono::{Duration, Utc};
use pierre_db::crypto::hashing;
use pierre_db::{
    Database, DatabaseError, NewAuthCode, NewOAuth2Client, NewOAuth2State, NewRefreshToken, UserId,
    pkce_s256_challenge, verify_pkce,
};
use sea_orm::EntityTrait;

use crate::common;

const CALLBACK: &str = "https://client.example.org/cb";
const OTHER_CALLBACK: &str = "https://client.example.org/other";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Concurrent callers in race tests.
const RACERS: usize = 16;

#[test]
fn the_s256_challenge_of_a_verifier_is_the_one_verify_pkce_accepts() {
    // RFC 7636, appendix B.
    assert_eq!(pkce_s256_challenge(VERIFIER).unwrap(), CHALLENGE);
    for verifier in [
        "x".repeat(43),
        "A".repeat(128),
        format!("{}-._~", "0".repeat(40)),
    ] {
        let challenge = pkce_s256_challenge(&verifier).unwrap();
        assert_eq!(challenge.len(), 43, "{verifier}");
        assert!(verify_pkce(&verifier, &challenge), "{verifier}");
        assert!(!verify_pkce(&verifier, CHALLENGE), "{verifier}");
    }
    for bad in [
        "x".repeat(42),
        "x".repeat(129),
        format!("{} ", "x".repeat(42)),
        "é".repeat(43),
        String::new(),
    ] {
        match pkce_s256_challenge(&bad) {
            Err(DatabaseError::InvalidInput { field, .. }) => {
                assert_eq!(field, "code_verifier", "{bad:?}")
            }
            other => panic!("{bad:?}: expected InvalidInput, got {other:?}"),
        }
    }
}

/// Two registered clients (the first with a second callback), beside the
/// common cast.
struct Clients {
    client: String,
    other_client: String,
}

/// The common cast on `t`, and two clients registered there.
async fn cast(t: common::TestDb) -> (common::World, Clients) {
    let w = common::World::new(t).await;
    let mut registration = NewOAuth2Client::new(CALLBACK);
    registration.redirect_uris.push(OTHER_CALLBACK.into());
    let client =
        w.t.db
            .oauth2_clients()
            .register(registration)
            .await
            .unwrap();
    let other =
        w.t.db
            .oauth2_clients()
            .register(NewOAuth2Client::new(CALLBACK))
            .await
            .unwrap();
    let clients = Clients {
        client: client.client.client_id,
        other_client: other.client.client_id,
    };
    (w, clients)
}

async fn issue_code(w: &common::World, c: &Clients) -> String {
    w.t.db
        .tenant(w.acme)
        .oauth2_auth_codes()
        .issue(NewAuthCode::new(&c.client, w.ada, CALLBACK, CHALLENGE))
        .await
        .unwrap()
        .code
        .expose()
        .to_owned()
}

async fn issue_refresh(w: &common::World, c: &Clients) -> String {
    w.t.db
        .tenant(w.acme)
        .oauth2_refresh_tokens()
        .issue(NewRefreshToken::new(&c.client, w.ada))
        .await
        .unwrap()
        .token
        .expose()
        .to_owned()
}

/// The single text column `column` of `table`'s rows.
async fn stored_column(db: &Database, table: &str, column: &str) -> Vec<String> {
    common::text_column(db, &format!("SELECT {column} FROM {table}")).await
}

#[tokio::test]
async fn clients_register_verify_list_and_deactivate() {
    for t in common::databases().await {
        let b = t.backend;
        let clients = t.db.oauth2_clients();
        let registered = clients
            .register(NewOAuth2Client::new(CALLBACK))
            .await
            .unwrap();
        let id = registered.client.client_id.clone();
        let secret = registered.client_secret.expose().to_owned();
        assert_eq!(
            stored_column(&t.db, "oauth2_clients", "client_secret_hash").await,
            [hashing::hash(&secret)],
            "{b}: only the secret's SHA-256 is stored"
        );
        let verified = clients.verify_secret(&id, &secret).await.unwrap();
        assert_eq!(verified.as_ref(), Some(&registered.client), "{b}");
        assert!(clients.verify_secret(&id, "wrong").await.unwrap().is_none());
        assert!(
            clients
                .verify_secret("nobody", &secret)
                .await
                .unwrap()
                .is_none()
        );
        assert!(clients.verify_secret(&id, "").await.unwrap().is_none());
        assert_eq!(
            clients.get(&id).await.unwrap(),
            Some(registered.client.clone())
        );
        assert_eq!(
            clients.list().await.unwrap(),
            std::slice::from_ref(&registered.client)
        );

        clients.deactivate(&id).await.unwrap();
        assert!(
            clients.verify_secret(&id, &secret).await.unwrap().is_none(),
            "{b}"
        );
        let first_expiry = clients.get(&id).await.unwrap().unwrap().expires_at;
        assert!(first_expiry.is_some(), "{b}");
        clients.deactivate(&id).await.unwrap();
        assert_eq!(
            clients.get(&id).await.unwrap().unwrap().expires_at,
            first_expiry,
            "{b}: deactivating twice keeps the first time"
        );
        assert!(matches!(
            clients.deactivate("nobody").await,
            Err(DatabaseError::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn bad_client_registrations_are_refused_and_store_nothing() {
    for t in common::databases().await {
        let clients = t.db.oauth2_clients();
        let cases: Vec<(&str, NewOAuth2Client)> = vec![
            (
                "redirect_uris",
                NewOAuth2Client {
                    redirect_uris: vec![],
                    ..NewOAuth2Client::new(CALLBACK)
                },
            ),
            ("redirect_uris", NewOAuth2Client::new("not a url")),
            (
                "grant_types",
                NewOAuth2Client {
                    grant_types: vec!["password".into()],
                    ..NewOAuth2Client::new(CALLBACK)
                },
            ),
            (
                "response_types",
                NewOAuth2Client {
                    response_types: vec!["token".into()],
                    ..NewOAuth2Client::new(CALLBACK)
                },
            ),
            (
                "scope",
                NewOAuth2Client {
                    scope: Some("read \"all\"".into()),
                    ..NewOAuth2Client::new(CALLBACK)
                },
            ),
            (
                "ttl",
                NewOAuth2Client {
                    ttl: Some(Duration::seconds(-1)),
                    ..NewOAuth2Client::new(CALLBACK)
                },
            ),
        ];
        for (field, new) in cases {
            match clients.register(new).await {
                Err(DatabaseError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{}: {field}: {other:?}", t.backend),
            }
        }
        assert!(clients.list().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn codes_are_stored_hashed_and_consumed_once_by_their_client_and_redirect() {
    for t in common::databases().await {
        let b = t.backend;
        let (w, c) = cast(t).await;
        let code = issue_code(&w, &c).await;
        assert_eq!(
            stored_column(&w.t.db, "oauth2_auth_codes", "code").await,
            [hashing::hash(&code)],
            "{b}: the code is stored as its SHA-256"
        );
        let exchange = w.t.db.oauth2_exchange();
        let now = Utc::now();
        // Wrong client, wrong redirect, unknown code: None, nothing burned.
        for (c, client, redirect) in [
            (code.as_str(), c.other_client.as_str(), CALLBACK),
            (code.as_str(), c.client.as_str(), OTHER_CALLBACK),
            ("mcp_code_unknown", c.client.as_str(), CALLBACK),
            ("", c.client.as_str(), CALLBACK),
        ] {
            let got = exchange.consume_auth_code(c, client, redirect, now).await;
            assert!(got.unwrap().is_none(), "{b}: {client} {redirect}");
        }
        let scoped = w.t.db.tenant(w.acme).oauth2_auth_codes();
        assert!(
            !scoped.get(&code).await.unwrap().unwrap().used,
            "{b}: not burned"
        );

        let consumed = exchange
            .consume_auth_code(&code, &c.client, CALLBACK, now)
            .await
            .unwrap()
            .expect("first consumption");
        assert_eq!((consumed.tenant_id, consumed.user_id), (w.acme, w.ada));
        assert!(consumed.used);
        assert!(verify_pkce(
            VERIFIER,
            consumed.code_challenge.as_deref().unwrap()
        ));
        assert!(!verify_pkce("x".repeat(43).as_str(), CHALLENGE));
        assert!(
            exchange
                .consume_auth_code(&code, &c.client, CALLBACK, now)
                .await
                .unwrap()
                .is_none(),
            "{b}: a used code"
        );
        assert!(scoped.get(&code).await.unwrap().unwrap().used);
        assert!(
            w.t.db
                .tenant(w.globex)
                .oauth2_auth_codes()
                .get(&code)
                .await
                .unwrap()
                .is_none(),
            "{b}: invisible to another tenant"
        );
    }
}

#[tokio::test]
async fn a_code_expires_at_its_expiry_instant() {
    for t in common::databases().await {
        let (w, c) = cast(t).await;
        let issued =
            w.t.db
                .tenant(w.acme)
                .oauth2_auth_codes()
                .issue(NewAuthCode::new(&c.client, w.ada, CALLBACK, CHALLENGE))
                .await
                .unwrap();
        let exchange = w.t.db.oauth2_exchange();
        let code = issued.code.expose();
        let at = issued.expires_at;
        assert!(
            exchange
                .consume_auth_code(code, &c.client, CALLBACK, at)
                .await
                .unwrap()
                .is_none(),
            "{}: expires_at == now is expired",
            w.t.backend
        );
        let before = at - Duration::microseconds(1);
        assert!(
            exchange
                .consume_auth_code(code, &c.client, CALLBACK, before)
                .await
                .unwrap()
                .is_some(),
            "{}: one microsecond before, still valid",
            w.t.backend
        );
    }
}

#[tokio::test]
async fn bad_codes_requests_are_refused_and_store_nothing() {
    for t in common::databases().await {
        let (w, c) = cast(t).await;
        let codes = w.t.db.tenant(w.acme).oauth2_auth_codes();
        let plain = NewAuthCode {
            code_challenge_method: "plain".into(),
            ..NewAuthCode::new(&c.client, w.ada, CALLBACK, CHALLENGE)
        };
        let cases = [
            ("code_challenge_method", plain),
            (
                "code_challenge",
                NewAuthCode::new(&c.client, w.ada, CALLBACK, "short"),
            ),
            (
                "redirect_uri",
                NewAuthCode::new(&c.client, w.ada, "https://evil.example/cb", CHALLENGE),
            ),
            (
                "client_id",
                NewAuthCode::new("mcp_nobody", w.ada, CALLBACK, CHALLENGE),
            ),
        ];
        for (field, new) in cases {
            match codes.issue(new).await {
                Err(DatabaseError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{}: {field}: {other:?}", w.t.backend),
            }
        }
        let unknown_user = NewAuthCode::new(&c.client, UserId::new(), CALLBACK, CHALLENGE);
        assert!(matches!(
            codes.issue(unknown_user).await,
            Err(DatabaseError::ForeignKey { .. })
        ));
        assert!(
            stored_column(&w.t.db, "oauth2_auth_codes", "code")
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn refresh_tokens_consume_rotate_and_revoke() {
    for t in common::databases().await {
        let b = t.backend;
        let (w, c) = cast(t).await;
        let token = issue_refresh(&w, &c).await;
        assert_eq!(
            stored_column(&w.t.db, "oauth2_refresh_tokens", "token").await,
            [hashing::hash(&token)],
            "{b}"
        );
        let exchange = w.t.db.oauth2_exchange();
        let now = Utc::now();
        assert!(
            exchange
                .consume_refresh_token(&token, &c.other_client, now)
                .await
                .unwrap()
                .is_none()
        );
        let rotated = exchange
            .rotate_refresh_token(&token, &c.client, now)
            .await
            .unwrap()
            .expect("rotation");
        assert_eq!(rotated.previous.tenant_id, w.acme, "{b}");
        let next = rotated.issued.token.expose().to_owned();
        let scoped = w.t.db.tenant(w.acme).oauth2_refresh_tokens();
        assert!(scoped.get(&token).await.unwrap().unwrap().revoked, "{b}");
        assert!(!scoped.get(&next).await.unwrap().unwrap().revoked, "{b}");
        assert!(
            exchange
                .rotate_refresh_token(&token, &c.client, now)
                .await
                .unwrap()
                .is_none(),
            "{b}: the old token is spent"
        );
        // Expiry boundary.
        let expires = scoped.get(&next).await.unwrap().unwrap().expires_at;
        assert!(
            exchange
                .consume_refresh_token(&next, &c.client, expires)
                .await
                .unwrap()
                .is_none(),
            "{b}: expires_at == now is expired"
        );
        // Revocation.
        assert!(scoped.revoke(&next).await.unwrap(), "{b}");
        assert!(!scoped.revoke(&next).await.unwrap(), "{b}: already revoked");
        for _ in 0..3 {
            issue_refresh(&w, &c).await;
        }
        assert_eq!(
            scoped.revoke_all_for_client(&c.other_client).await.unwrap(),
            0
        );
        assert_eq!(scoped.revoke_all_for_user(w.ada).await.unwrap(), 3, "{b}");
        let other = w.t.db.tenant(w.globex).oauth2_refresh_tokens();
        assert!(
            other.get(&token).await.unwrap().is_none(),
            "{b}: other tenant"
        );
    }
}

#[tokio::test]
async fn a_failed_rotation_leaves_the_old_token_usable() {
    for t in common::databases().await {
        let (w, c) = cast(t).await;
        let token = issue_refresh(&w, &c).await;
        // The successor cannot be issued to a deactivated client.
        w.t.db.oauth2_clients().deactivate(&c.client).await.unwrap();
        let err =
            w.t.db
                .oauth2_exchange()
                .rotate_refresh_token(&token, &c.client, Utc::now())
                .await
                .unwrap_err();
        assert!(matches!(
            err,
            DatabaseError::InvalidInput {
                field: "client_id",
                ..
            }
        ));
        let stored =
            w.t.db
                .tenant(w.acme)
                .oauth2_refresh_tokens()
                .get(&token)
                .await;
        assert!(
            !stored.unwrap().unwrap().revoked,
            "{}: rolled back",
            w.t.backend
        );
        assert_eq!(
            stored_column(&w.t.db, "oauth2_refresh_tokens", "token")
                .await
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn states_are_stored_once_and_consumed_once() {
    for t in common::databases().await {
        let b = t.backend;
        let (w, c) = cast(t).await;
        let exchange = w.t.db.oauth2_exchange();
        let scoped = w.t.db.tenant(w.acme).oauth2_states();
        scoped
            .store(NewOAuth2State::new("state-1", &c.client, CALLBACK))
            .await
            .unwrap();
        exchange
            .store_state(NewOAuth2State::new("state-2", &c.client, CALLBACK))
            .await
            .unwrap();
        assert!(matches!(
            exchange
                .store_state(NewOAuth2State::new("state-1", &c.client, CALLBACK))
                .await,
            Err(DatabaseError::Conflict { .. })
        ));
        let bad = NewOAuth2State::new("a\nb", &c.client, CALLBACK);
        assert!(matches!(
            scoped.store(bad).await,
            Err(DatabaseError::InvalidInput { field: "state", .. })
        ));
        let now = Utc::now();
        assert!(
            exchange
                .consume_state("state-1", &c.other_client, now)
                .await
                .unwrap()
                .is_none()
        );
        let one = exchange.consume_state("state-1", &c.client, now).await;
        assert_eq!(one.unwrap().unwrap().tenant_id, Some(w.acme), "{b}");
        let two = exchange.consume_state("state-2", &c.client, now).await;
        let two = two.unwrap().unwrap();
        assert_eq!(two.tenant_id, None, "{b}");
        assert!(
            exchange
                .consume_state("state-1", &c.client, now)
                .await
                .unwrap()
                .is_none()
        );
        exchange
            .store_state(NewOAuth2State::new("state-3", &c.client, CALLBACK))
            .await
            .unwrap();
        assert!(
            exchange
                .consume_state("state-3", &c.client, two.expires_at + Duration::minutes(1))
                .await
                .unwrap()
                .is_none(),
            "{b}: expired"
        );
    }
}

#[tokio::test]
async fn purge_deletes_only_expired_rows_in_batches() {
    for t in common::databases().await {
        let b = t.backend;
        let (w, c) = cast(t).await;
        let short = Some(Duration::seconds(1));
        for _ in 0..3 {
            w.t.db
                .tenant(w.acme)
                .oauth2_auth_codes()
                .issue(NewAuthCode {
                    ttl: short,
                    ..NewAuthCode::new(&c.client, w.ada, CALLBACK, CHALLENGE)
                })
                .await
                .unwrap();
        }
        let kept_code = issue_code(&w, &c).await;
        w.t.db
            .tenant(w.acme)
            .oauth2_refresh_tokens()
            .issue(NewRefreshToken {
                ttl: short,
                ..NewRefreshToken::new(&c.client, w.ada)
            })
            .await
            .unwrap();
        w.t.db
            .oauth2_exchange()
            .store_state(NewOAuth2State {
                ttl: short,
                ..NewOAuth2State::new("old", &c.client, CALLBACK)
            })
            .await
            .unwrap();
        let exchange = w.t.db.oauth2_exchange();
        assert!(matches!(
            exchange.purge_expired(Utc::now(), 0).await,
            Err(DatabaseError::InvalidInput { field: "batch", .. })
        ));
        let later = Utc::now() + Duration::minutes(5);
        let purged = exchange.purge_expired(later, 2).await.unwrap();
        assert_eq!(
            (purged.auth_codes, purged.refresh_tokens, purged.states),
            (3, 1, 1),
            "{b}"
        );
        assert_eq!(
            stored_column(&w.t.db, "oauth2_auth_codes", "code").await,
            [hashing::hash(&kept_code)],
            "{b}: the live code stays"
        );
        assert_eq!(
            exchange.purge_expired(later, 2).await.unwrap().auth_codes,
            0
        );
    }
}

/// Runs `RACERS` copies of `op` at once; returns how many got `Some`.
async fn race<F, Fut, T>(op: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = pierre_db::Result<Option<T>>> + Send + 'static,
    T: Send + 'static,
{
    let outcomes = common::all_at_once(RACERS, |_| op()).await;
    outcomes
        .into_iter()
        .filter(|outcome| outcome.as_ref().unwrap().is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_of_one_value_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let (w, c) = cast(t).await;
        let now = Utc::now();

        let code = issue_code(&w, &c).await;
        let winners = race(|| {
            let (db, code, client) = (w.t.db.clone(), code.clone(), c.client.clone());
            async move {
                db.oauth2_exchange()
                    .consume_auth_code(&code, &client, CALLBACK, now)
                    .await
            }
        })
        .await;
        assert_eq!(winners, 1, "{b}: code");

        let token = issue_refresh(&w, &c).await;
        let winners = race(|| {
            let (db, token, client) = (w.t.db.clone(), token.clone(), c.client.clone());
            async move {
                db.oauth2_exchange()
                    .consume_refresh_token(&token, &client, now)
                    .await
            }
        })
        .await;
        assert_eq!(winners, 1, "{b}: refresh token");

        w.t.db
            .oauth2_exchange()
            .store_state(NewOAuth2State::new("raced", &c.client, CALLBACK))
            .await
            .unwrap();
        let winners = race(|| {
            let (db, client) = (w.t.db.clone(), c.client.clone());
            async move {
                db.oauth2_exchange()
                    .consume_state("raced", &client, now)
                    .await
            }
        })
        .await;
        assert_eq!(winners, 1, "{b}: state");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_issue_exactly_one_successor() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let (w, c) = cast(t).await;
        let token = issue_refresh(&w, &c).await;
        let now = Utc::now();
        let winners = race(|| {
            let (db, token, client) = (w.t.db.clone(), token.clone(), c.client.clone());
            async move {
                db.oauth2_exchange()
                    .rotate_refresh_token(&token, &client, now)
                    .await
            }
        })
        .await;
        assert_eq!(winners, 1, "{}: one rotation wins", w.t.backend);
        let rows = entity::oauth2_refresh_tokens::Entity::find()
            .all(w.t.db.unscoped_connection())
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            2,
            "{}: the old token and one successor",
            w.t.backend
        );
        assert_eq!(rows.iter().filter(|r| !r.revoked).count(), 1);
    }
}
