//! Tenant isolation under random operations: a seeded sequence of 1,200
//! interleaved writes by 4 tenants, checked against an in-memory model, then
//! every scoped read must return exactly that tenant's rows.

mod common;

use std::collections::BTreeMap;

use pierre_db::{NewOAuthToken, NewUser, Secret, TenantId, UserId};

const OPERATIONS: usize = 1200;
const PROVIDERS: [&str; 4] = ["strava", "fitbit", "garmin", "whoop"];

/// xorshift64*, seeded: the same sequence on every run and backend.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

type Model = BTreeMap<(TenantId, UserId, &'static str), String>;

#[tokio::test]
async fn random_interleaved_operations_never_cross_tenants() {
    for t in common::databases().await {
        let b = t.backend;
        let mut users = Vec::new();
        for i in 0..5 {
            users.push(
                t.db.users()
                    .create(NewUser::new(format!("u{i}@example.org"), "h"))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut tenants = Vec::new();
        for i in 0..4 {
            tenants.push(common::tenant(&t, users[i % users.len()]).await);
        }

        let mut rng = Rng(0xC0FF_EE00_1234_5678);
        let mut model = Model::new();
        for step in 0..OPERATIONS {
            let tenant = rng.pick(&tenants);
            let user = rng.pick(&users);
            let provider = rng.pick(&PROVIDERS);
            let tokens = t.db.tenant(tenant).oauth_tokens();
            match rng.next() % 10 {
                0..=4 => {
                    let value = format!("tok-{step}");
                    tokens
                        .upsert(NewOAuthToken::new(user, provider, value.as_str()))
                        .await
                        .unwrap();
                    model.insert((tenant, user, provider), value);
                }
                5 | 6 => {
                    let value = format!("refreshed-{step}");
                    let outcome = tokens
                        .refresh(user, provider, &Secret::new(value.clone()), None, None)
                        .await;
                    match model.get_mut(&(tenant, user, provider)) {
                        Some(stored) => {
                            outcome.unwrap();
                            *stored = value;
                        }
                        None => assert!(
                            outcome.is_err(),
                            "{b}: step {step}: refresh of a missing token"
                        ),
                    }
                }
                7 => {
                    let existed = tokens.delete(user, provider).await.unwrap();
                    assert_eq!(
                        existed,
                        model.remove(&(tenant, user, provider)).is_some(),
                        "{b}: step {step}"
                    );
                }
                8 => {
                    let n = tokens.delete_all_for_user(user).await.unwrap();
                    let before = model.len();
                    model.retain(|(mt, mu, _), _| !(*mt == tenant && *mu == user));
                    assert_eq!(n as usize, before - model.len(), "{b}: step {step}");
                }
                _ => {
                    let got = tokens
                        .get(user, provider)
                        .await
                        .unwrap()
                        .map(|t| t.access_token.expose().to_owned());
                    assert_eq!(
                        got.as_ref(),
                        model.get(&(tenant, user, provider)),
                        "{b}: step {step}"
                    );
                }
            }
        }

        for &tenant in &tenants {
            let tokens = t.db.tenant(tenant).oauth_tokens();
            for provider in PROVIDERS {
                let got: Vec<(TenantId, UserId, String)> = tokens
                    .list_for_provider(provider)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|t| (t.tenant_id, t.user_id, t.access_token.expose().to_owned()))
                    .collect();
                let mut got_sorted = got.clone();
                got_sorted.sort();
                let want: Vec<(TenantId, UserId, String)> = model
                    .iter()
                    .filter(|((mt, _, mp), _)| *mt == tenant && *mp == provider)
                    .map(|((mt, mu, _), v)| (*mt, *mu, v.clone()))
                    .collect();
                assert_eq!(got_sorted, want, "{b}: tenant {tenant} provider {provider}");
            }
            for &user in &users {
                let got: Vec<(&str, String)> = tokens
                    .list_for_user(user)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|t| {
                        assert_eq!(t.tenant_id, tenant, "{b}: a row of another tenant");
                        let p = PROVIDERS
                            .iter()
                            .find(|p| **p == t.provider)
                            .copied()
                            .unwrap();
                        (p, t.access_token.expose().to_owned())
                    })
                    .collect();
                let want: Vec<(&str, String)> = model
                    .iter()
                    .filter(|((mt, mu, _), _)| *mt == tenant && *mu == user)
                    .map(|((_, _, p), v)| (*p, v.clone()))
                    .collect();
                let mut got_sorted = got;
                got_sorted.sort();
                let mut want_sorted = want;
                want_sorted.sort();
                assert_eq!(got_sorted, want_sorted, "{b}: tenant {tenant} user {user}");
            }
        }
        assert!(!model.is_empty(), "the sequence leaves rows to check");
    }
}
