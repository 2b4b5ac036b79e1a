//! Every expiring value is refused AT the expiry the API reported and
//! accepted one microsecond before it: the stored expiry is exactly the
//! reported one (issue 29). Lifetimes and expiries are given with
//! nanoseconds, which the stores cannot keep.
//!
//! Impersonation sessions have no expiry (they last until ended), so they
//! have no instant to check.

use chrono::{DateTime, Duration, Utc};
use pierre_db::{
    ApiKeyTier, DatabaseError, FrozenClock, NewAdminToken, NewApiKey, NewAuthCode, NewOAuth2Client,
    NewOAuth2State, NewRefreshToken,
};

use crate::common;

const CALLBACK: &str = "https://client.example.org/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn us() -> Duration {
    Duration::microseconds(1)
}

/// A lifetime with a sub-microsecond part.
fn odd_ttl() -> Duration {
    Duration::minutes(10) + Duration::nanoseconds(123_456_789)
}

/// An expiry an hour ahead, with nanoseconds.
fn odd_expiry() -> DateTime<Utc> {
    let at = Utc::now() + Duration::hours(1);
    DateTime::from_timestamp(at.timestamp(), 987_654_321).unwrap()
}

/// Whether `at` is in whole microseconds, as every reported time must be.
fn whole_micros(at: DateTime<Utc>) -> bool {
    at.timestamp_subsec_nanos() % 1000 == 0
}

#[tokio::test]
async fn oauth2_codes_refresh_tokens_and_states_expire_at_the_reported_instant() {
    for t in common::databases().await {
        let b = t.backend;
        let user = common::user(&t, "ada@example.org").await;
        let tenant = common::tenant(&t, user).await;
        let client =
            t.db.oauth2_clients()
                .register(NewOAuth2Client::new(CALLBACK))
                .await
                .unwrap()
                .client
                .client_id;
        let scope = t.db.tenant(tenant);
        let exchange = t.db.oauth2_exchange();

        // Authorization codes.
        let issue_code = || async {
            let new = NewAuthCode {
                ttl: Some(odd_ttl()),
                ..NewAuthCode::new(&client, user, CALLBACK, CHALLENGE)
            };
            scope.oauth2_auth_codes().issue(new).await.unwrap()
        };
        let code = issue_code().await;
        let at = code.expires_at;
        assert!(whole_micros(at), "{b}: reported {at}");
        let consume = |now| exchange.consume_auth_code(code.code.expose(), &client, CALLBACK, now);
        assert!(
            consume(at).await.unwrap().is_none(),
            "{b}: an auth code was accepted at its reported expiry {at}"
        );
        let consumed = consume(at - us()).await.unwrap();
        assert_eq!(consumed.map(|c| c.expires_at), Some(at), "{b}: 1 µs before");

        // Refresh tokens.
        let new = NewRefreshToken {
            ttl: Some(odd_ttl()),
            ..NewRefreshToken::new(&client, user)
        };
        let refresh = scope.oauth2_refresh_tokens().issue(new).await.unwrap();
        let at = refresh.expires_at;
        assert!(whole_micros(at), "{b}: reported {at}");
        let consume = |now| exchange.consume_refresh_token(refresh.token.expose(), &client, now);
        assert!(
            consume(at).await.unwrap().is_none(),
            "{b}: a refresh token was accepted at its reported expiry {at}"
        );
        let consumed = consume(at - us()).await.unwrap();
        assert_eq!(consumed.map(|r| r.expires_at), Some(at), "{b}: 1 µs before");

        // States: stored at a known instant (the clock frozen), so that the
        // expiry is known before a consume reports it.
        let stored_at = DateTime::from_timestamp(Utc::now().timestamp(), 5_000).unwrap();
        for state in ["state-at-expiry", "state-before-expiry"] {
            let new = NewOAuth2State {
                ttl: Some(odd_ttl()),
                ..NewOAuth2State::new(state, &client, CALLBACK)
            };
            let _clock = FrozenClock::at(stored_at);
            scope.oauth2_states().store(new).await.unwrap();
        }
        let at = stored_at + odd_ttl();
        let at = DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap();
        assert!(
            exchange
                .consume_state("state-at-expiry", &client, at)
                .await
                .unwrap()
                .is_none(),
            "{b}: a state was accepted at its expiry {at}"
        );
        let consumed = exchange
            .consume_state("state-before-expiry", &client, at - us())
            .await
            .unwrap();
        assert_eq!(consumed.map(|s| s.expires_at), Some(at), "{b}: 1 µs before");
    }
}

#[tokio::test]
async fn credentials_and_sessions_expire_at_the_reported_instant() {
    for t in common::databases().await {
        let b = t.backend;
        let db = &t.db;
        let ada = common::user(&t, "ada@example.org").await;
        let bob = common::user(&t, "bob@example.org").await;

        // API keys.
        let new = NewApiKey {
            expires_at: Some(odd_expiry()),
            ..NewApiKey::new(ada, "expiring", ApiKeyTier::Starter)
        };
        let key = db.api_keys().create(new).await.unwrap();
        let at = key.key.expires_at.unwrap();
        assert!(whole_micros(at), "{b}: reported {at}");
        let stored = db.api_keys().admin_get_by_id(key.key.id).await.unwrap();
        assert_eq!(stored.expires_at, Some(at), "{b}: stored as reported");
        let keys = db.api_keys();
        let verify = || keys.find_by_prefix_and_verify(key.plaintext.expose());
        {
            let _clock = FrozenClock::at(at);
            assert!(verify().await.unwrap().is_none(), "{b}: API key at {at}");
        }
        {
            let _clock = FrozenClock::at(at - us());
            assert!(
                verify().await.unwrap().is_some(),
                "{b}: API key 1 µs before"
            );
        }

        // MCP tokens.
        let mcp = db
            .mcp_tokens()
            .create(ada, "cli", Some(odd_expiry()))
            .await
            .unwrap();
        let at = mcp.token.expires_at.unwrap();
        assert!(whole_micros(at), "{b}: reported {at}");
        let mcp_tokens = db.mcp_tokens();
        let validate = || mcp_tokens.validate(mcp.plaintext.expose());
        {
            let _clock = FrozenClock::at(at);
            assert!(
                validate().await.unwrap().is_none(),
                "{b}: MCP token at {at}"
            );
        }
        {
            let _clock = FrozenClock::at(at - us());
            assert!(
                validate().await.unwrap().is_some(),
                "{b}: MCP token 1 µs before"
            );
        }

        // Admin tokens.
        let new = NewAdminToken {
            expires_at: Some(odd_expiry()),
            ..NewAdminToken::new("admin-token-expiring", "s", "ops")
        };
        let admin = db.admin_tokens().create(new).await.unwrap();
        let at = admin.expires_at.unwrap();
        assert!(whole_micros(at), "{b}: reported {at}");
        {
            let _clock = FrozenClock::at(at);
            assert!(
                matches!(
                    db.admin_tokens().verify("admin-token-expiring").await,
                    Err(DatabaseError::Rejected {
                        reason: "expired",
                        ..
                    })
                ),
                "{b}: admin token at {at}"
            );
        }
        {
            let _clock = FrozenClock::at(at - us());
            db.admin_tokens()
                .verify("admin-token-expiring")
                .await
                .unwrap_or_else(|err| panic!("{b}: admin token 1 µs before: {err}"));
        }

        // Permission delegations.
        let grant = db
            .permission_delegations()
            .grant(ada, bob, 0b101, Some(odd_expiry()))
            .await
            .unwrap();
        let at = grant.expires_at.unwrap();
        assert!(whole_micros(at), "{b}: reported {at}");
        {
            let _clock = FrozenClock::at(at);
            let bits = db.permission_delegations().effective_permissions(bob).await;
            assert_eq!(bits.unwrap(), 0, "{b}: delegation at {at}");
        }
        {
            let _clock = FrozenClock::at(at - us());
            let bits = db.permission_delegations().effective_permissions(bob).await;
            assert_eq!(bits.unwrap(), 0b101, "{b}: delegation 1 µs before");
        }

        // A2A sessions.
        let key = db
            .api_keys()
            .create(NewApiKey::new(ada, "agents", ApiKeyTier::Starter))
            .await
            .unwrap();
        let client = common::a2a_client(db, ada, key.key.id).await.client.id;
        let session = db
            .a2a_sessions()
            .create(ada, client, None, &["tasks"], odd_expiry())
            .await
            .unwrap();
        let at = session.session.expires_at;
        assert!(whole_micros(at), "{b}: reported {at}");
        let token = session.token.expose();
        {
            let _clock = FrozenClock::at(at);
            assert!(db.a2a_sessions().get(token).await.unwrap().is_none(), "{b}");
            assert!(
                !db.a2a_sessions().touch(token).await.unwrap(),
                "{b}: at {at}"
            );
        }
        {
            let _clock = FrozenClock::at(at - us());
            assert!(db.a2a_sessions().get(token).await.unwrap().is_some(), "{b}");
            assert!(
                db.a2a_sessions().touch(token).await.unwrap(),
                "{b}: 1 µs before"
            );
        }
    }
}
