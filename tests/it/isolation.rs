//! Tenant isolation under random operations: a seeded sequence of 1,200
//! interleaved operations by 4 tenants on tenant-owned tables (OAuth
//! tokens, members, tenant OAuth credentials, OAuth 2.0 authorization codes
//! and refresh tokens, fitness configurations, chat conversations and
//! their messages, recipes and their ingredients, admin configuration
//! overrides and their audit log, audit events), checked against an
//! in-memory model as it goes; afterwards every scoped read must return exactly that tenant's rows.

use crate::common;
use pierre_db::{ConversationId, RecipeId};

use std::collections::BTreeMap;

use crate::common::rng::Rng;
use pierre_db::OauthProvider;
use pierre_db::{
    AuditEventFilter, AuditSeverity, ChatRole, ConfigActor, ConfigAuditFilter, ConfigChange,
    ConfigDataType, DatabaseError, IngredientUnit, NewAuditEvent, NewAuthCode, NewChatMessage,
    NewConversation, NewIngredient, NewOAuth2Client, NewOAuthToken, NewRefreshToken,
    NewTenantOAuthCredential, NewUser, PageRequest, RecipeDraft, RecipeFilter, Secret, TenantId,
    TenantRole, UserId,
};

const OPERATIONS: usize = 1200;
const PROVIDERS: [&str; 4] = ["strava", "fitbit", "garmin", "whoop"];

type Model = BTreeMap<(TenantId, UserId, &'static str), String>;
type Members = BTreeMap<(TenantId, UserId), TenantRole>;
type Credentials = BTreeMap<(TenantId, &'static str), String>;
/// Codes and refresh tokens issued (plaintext → tenant).
type Issued = Vec<(String, TenantId)>;

const CALLBACK: &str = "https://client.example.org/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const CREDENTIAL_PROVIDERS: [&str; 3] = ["strava", "garmin", "terra"];

/// The model keys providers by name (the enum is not `Ord`).
fn named(provider: &str) -> OauthProvider {
    pierre_db::parse_provider(provider).unwrap()
}
const CONFIG_NAMES: [&str; 2] = ["zones", "plan"];
/// Admin configuration keys, each with a global override of GLOBAL_VALUE.
const CONFIG_KEYS: [&str; 3] = ["burst", "window", "quota"];
const GLOBAL_VALUE: usize = 1_000_000;
const ROLES: [TenantRole; 3] = [TenantRole::Admin, TenantRole::Member, TenantRole::Viewer];

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
        let mut owners = BTreeMap::new();
        for i in 0..4 {
            let owner = users[i % users.len()];
            tenants.push(common::tenant(&t, owner).await);
            owners.insert(tenants[i], owner);
        }

        let mut rng = Rng(0xC0FF_EE00_1234_5678);
        let mut model = Model::new();
        let mut members = Members::new();
        let mut credentials = Credentials::new();
        // Fitness configurations: (tenant, user or default, name) → value.
        let mut configs: BTreeMap<(TenantId, Option<UserId>, &str), i64> = BTreeMap::new();
        let (mut codes, mut refresh): (Issued, Issued) = (Vec::new(), Vec::new());
        // Conversations: (id, tenant, user, messages).
        let mut talks: Vec<(ConversationId, TenantId, UserId, u64)> = Vec::new();
        // Recipes: (id, tenant, user, ingredients).
        let mut recipes: Vec<(RecipeId, TenantId, UserId, usize)> = Vec::new();
        // Config overrides: (tenant, key) → value; changes and events per tenant.
        let mut overrides: BTreeMap<(TenantId, &str), usize> = BTreeMap::new();
        let mut config_changes: BTreeMap<TenantId, usize> = BTreeMap::new();
        let admin = ConfigActor::new(users[0], "admin@example.org");
        for key in CONFIG_KEYS {
            let global = ConfigChange::new(
                "rate_limiting",
                key,
                GLOBAL_VALUE.to_string(),
                ConfigDataType::Integer,
            );
            t.db.global_admin_config()
                .set(global, &admin)
                .await
                .unwrap();
        }
        let client =
            t.db.oauth2_clients()
                .register(NewOAuth2Client::new(CALLBACK))
                .await
                .unwrap()
                .client
                .client_id;
        for step in 0..OPERATIONS {
            let tenant = rng.pick(&tenants);
            let user = rng.pick(&users);
            let provider = rng.pick(&PROVIDERS);
            let tokens = t.db.tenant(tenant).oauth_tokens();
            let scope = t.db.tenant(tenant);
            match rng.next() % 25 {
                23 => {
                    let key = rng.pick(&CONFIG_KEYS);
                    let change = ConfigChange::new(
                        "rate_limiting",
                        key,
                        step.to_string(),
                        ConfigDataType::Integer,
                    );
                    scope.admin_config().set(change, &admin).await.unwrap();
                    overrides.insert((tenant, key), step);
                    *config_changes.entry(tenant).or_default() += 1;
                    let event = NewAuditEvent::new(
                        "config.set",
                        AuditSeverity::Info,
                        key,
                        "admin",
                        "success",
                    );
                    scope.audit_events().record(event).await.unwrap();
                }
                24 => {
                    let key = rng.pick(&CONFIG_KEYS);
                    let got = scope
                        .admin_config()
                        .effective("rate_limiting", key)
                        .await
                        .unwrap()
                        .map(|o| o.config_value.parse::<usize>().unwrap());
                    let want = overrides
                        .get(&(tenant, key))
                        .copied()
                        .unwrap_or(GLOBAL_VALUE);
                    assert_eq!(got, Some(want), "{b}: step {step}: effective {key}");
                }
                21 => {
                    let mut draft = RecipeDraft::new(format!("recipe {step}"));
                    draft.ingredients = (0..1 + rng.below(3))
                        .map(|k| {
                            NewIngredient::new(format!("i{k}"), 1.0, IngredientUnit::Pieces, 50.0)
                        })
                        .collect();
                    let made = scope.recipes().create(user, draft).await.unwrap();
                    recipes.push((made.recipe.id, tenant, user, made.ingredients.len()));
                }
                22 if !recipes.is_empty() => {
                    let (id, owner_tenant, owner, n) = recipes[rng.below(recipes.len())];
                    let (tenant, user) = if rng.next() % 2 == 0 {
                        (owner_tenant, owner)
                    } else {
                        (tenant, user)
                    };
                    let got = t.db.tenant(tenant).recipes().get(user, id).await;
                    if (tenant, user) == (owner_tenant, owner) {
                        assert_eq!(got.unwrap().ingredients.len(), n, "{b}: step {step}");
                    } else {
                        let err = got.unwrap_err();
                        assert!(
                            matches!(err, DatabaseError::NotFound { .. }),
                            "{b}: step {step}: {err}"
                        );
                    }
                }
                19 => {
                    let talk = scope
                        .chat()
                        .create_conversation(NewConversation::new(user, format!("talk {step}")))
                        .await
                        .unwrap();
                    talks.push((talk.id, tenant, user, 0));
                }
                20 if !talks.is_empty() => {
                    let i = rng.below(talks.len());
                    let (id, owner_tenant, owner, _) = talks[i];
                    // Half the time the owner writes; otherwise whoever was
                    // drawn, which is mostly someone else.
                    let (tenant, user) = if rng.next() % 2 == 0 {
                        (owner_tenant, owner)
                    } else {
                        (tenant, user)
                    };
                    let added =
                        t.db.tenant(tenant)
                            .chat()
                            .add_message(user, id, NewChatMessage::new(ChatRole::User, "hi"))
                            .await;
                    if (tenant, user) == (owner_tenant, owner) {
                        added.unwrap();
                        talks[i].3 += 1;
                    } else {
                        let err = added.unwrap_err();
                        assert!(
                            matches!(err, DatabaseError::NotFound { .. }),
                            "{b}: step {step}: {err}"
                        );
                    }
                }
                17 => {
                    let name = rng.pick(&CONFIG_NAMES);
                    let owner = (rng.next() % 2 == 0).then_some(user);
                    let value = step as i64;
                    let data = serde_json::json!({ "v": value });
                    let fitness = scope.fitness_configs();
                    match owner {
                        Some(owner) => fitness.save_for_user(owner, name, data).await,
                        None => fitness.save_tenant_default(name, data).await,
                    }
                    .unwrap();
                    configs.insert((tenant, owner, name), value);
                }
                18 => {
                    let name = rng.pick(&CONFIG_NAMES);
                    let got = scope
                        .fitness_configs()
                        .get_for_user(user, name)
                        .await
                        .unwrap()
                        .map(|c| c.data["v"].as_i64().unwrap());
                    let want = configs
                        .get(&(tenant, Some(user), name))
                        .or(configs.get(&(tenant, None, name)))
                        .copied();
                    assert_eq!(got, want, "{b}: step {step}: fitness {name}");
                }
                14 => {
                    let issued = scope
                        .oauth2_auth_codes()
                        .issue(NewAuthCode::new(&client, user, CALLBACK, CHALLENGE))
                        .await
                        .unwrap();
                    codes.push((issued.code.expose().to_owned(), tenant));
                }
                15 => {
                    let issued = scope
                        .oauth2_refresh_tokens()
                        .issue(NewRefreshToken::new(&client, user))
                        .await
                        .unwrap();
                    refresh.push((issued.token.expose().to_owned(), tenant));
                }
                16 if !codes.is_empty() && !refresh.is_empty() => {
                    let (code, owner) = codes[rng.below(codes.len())].clone();
                    let seen = scope.oauth2_auth_codes().get(&code).await.unwrap();
                    assert_eq!(seen.is_some(), owner == tenant, "{b}: step {step}: code");
                    let (token, owner) = refresh[rng.below(refresh.len())].clone();
                    let seen = scope.oauth2_refresh_tokens().get(&token).await.unwrap();
                    assert_eq!(seen.is_some(), owner == tenant, "{b}: step {step}: token");
                }
                10 => {
                    let role = rng.pick(&ROLES);
                    let added = scope.members().add(user, role, None).await;
                    match members.entry((tenant, user)) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            assert!(added.is_err(), "{b}: step {step}: duplicate member")
                        }
                        std::collections::btree_map::Entry::Vacant(slot) => {
                            added.unwrap();
                            slot.insert(role);
                        }
                    }
                }
                11 => {
                    let removed = scope.members().remove(user).await;
                    if owners.get(&tenant) == Some(&user) {
                        // The owner keeps its membership (if it has one).
                        let kept = members.contains_key(&(tenant, user));
                        assert_eq!(removed.is_err(), kept, "{b}: step {step}: owner");
                    } else {
                        assert_eq!(
                            removed.unwrap(),
                            members.remove(&(tenant, user)).is_some(),
                            "{b}: step {step}"
                        );
                    }
                }
                12 => {
                    let provider = rng.pick(&CREDENTIAL_PROVIDERS);
                    let secret = format!("client-secret-{step}");
                    scope
                        .oauth_credentials()
                        .upsert(NewTenantOAuthCredential::new(
                            named(provider),
                            format!("client-{step}"),
                            secret.as_str(),
                            "https://app.example.org/callback",
                        ))
                        .await
                        .unwrap();
                    credentials.insert((tenant, provider), secret);
                }
                13 => {
                    let provider = rng.pick(&CREDENTIAL_PROVIDERS);
                    let existed = scope
                        .oauth_credentials()
                        .delete(named(provider))
                        .await
                        .unwrap();
                    assert_eq!(
                        existed,
                        credentials.remove(&(tenant, provider)).is_some(),
                        "{b}: step {step}"
                    );
                }
                0..=4 => {
                    let value = format!("tok-{step}");
                    tokens
                        .upsert(NewOAuthToken::new(user, named(provider), value.as_str()))
                        .await
                        .unwrap();
                    model.insert((tenant, user, provider), value);
                }
                5 | 6 => {
                    let value = format!("refreshed-{step}");
                    let outcome = tokens
                        .refresh(
                            user,
                            named(provider),
                            &Secret::new(value.clone()),
                            None,
                            None,
                        )
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
                    let existed = tokens.delete(user, named(provider)).await.unwrap();
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
                        .get(user, named(provider))
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
                    .list_for_provider(named(provider))
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
                            .find(|p| named(p) == t.provider)
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
        for &tenant in &tenants {
            let config = t.db.tenant(tenant).admin_config();
            let mut got: Vec<(String, usize)> = config
                .list(None)
                .await
                .unwrap()
                .into_iter()
                .map(|o| {
                    assert_eq!(o.tenant_id, Some(tenant), "{b}: another tenant's override");
                    (o.config_key, o.config_value.parse().unwrap())
                })
                .collect();
            let mut want: Vec<(String, usize)> = overrides
                .iter()
                .filter(|((ot, _), _)| *ot == tenant)
                .map(|((_, k), v)| ((*k).to_owned(), *v))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{b}: tenant {tenant}: overrides");
            let changes = config_changes.get(&tenant).copied().unwrap_or(0);
            let log = config
                .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(500))
                .await
                .unwrap();
            assert_eq!(
                log.items.len(),
                changes,
                "{b}: tenant {tenant}: config audit"
            );
            assert!(log.items.iter().all(|e| e.tenant_id == Some(tenant)), "{b}");
            let events =
                t.db.tenant(tenant)
                    .audit_events()
                    .list(&AuditEventFilter::default(), &PageRequest::first(500))
                    .await
                    .unwrap();
            assert_eq!(
                events.items.len(),
                changes,
                "{b}: tenant {tenant}: audit events"
            );
            assert!(
                events.items.iter().all(|e| e.tenant_id == Some(tenant)),
                "{b}"
            );
        }
        for &tenant in &tenants {
            let scoped = t.db.tenant(tenant).recipes();
            for &user in &users {
                let listed = scoped
                    .list(user, &RecipeFilter::default(), &PageRequest::first(500))
                    .await
                    .unwrap();
                let mut got: Vec<RecipeId> = listed
                    .items
                    .iter()
                    .map(|r| {
                        assert_eq!(
                            (r.tenant_id, r.user_id),
                            (tenant, user),
                            "{b}: a stranger's recipe"
                        );
                        r.id
                    })
                    .collect();
                let mut want: Vec<RecipeId> = recipes
                    .iter()
                    .filter(|(_, rt, ru, _)| (*rt, *ru) == (tenant, user))
                    .map(|(id, ..)| *id)
                    .collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{b}: tenant {tenant} user {user}: recipes");
            }
        }
        for &tenant in &tenants {
            let chat = t.db.tenant(tenant).chat();
            for &user in &users {
                let listed = chat
                    .list_conversations(user, &PageRequest::first(500))
                    .await
                    .unwrap();
                let mut got: Vec<(ConversationId, u64)> = listed
                    .items
                    .iter()
                    .map(|s| {
                        let c = &s.conversation;
                        assert_eq!(
                            (c.tenant_id, c.user_id),
                            (tenant, user),
                            "{b}: a stranger's talk"
                        );
                        (c.id, s.message_count)
                    })
                    .collect();
                let mut want: Vec<(ConversationId, u64)> = talks
                    .iter()
                    .filter(|(_, ct, cu, _)| (*ct, *cu) == (tenant, user))
                    .map(|(id, _, _, n)| (*id, *n))
                    .collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{b}: tenant {tenant} user {user}: conversations");
            }
        }
        for &tenant in &tenants {
            let fitness = t.db.tenant(tenant).fitness_configs();
            let mut got: Vec<(Option<UserId>, String, i64)> = Vec::new();
            let mut lists = vec![fitness.list_tenant_defaults().await.unwrap()];
            for &user in &users {
                lists.push(fitness.list_for_user(user).await.unwrap());
            }
            for config in lists.into_iter().flatten() {
                assert_eq!(
                    config.tenant_id, tenant,
                    "{b}: a configuration of another tenant"
                );
                got.push((
                    config.user_id,
                    config.name,
                    config.data["v"].as_i64().unwrap(),
                ));
            }
            let mut want: Vec<(Option<UserId>, String, i64)> = configs
                .iter()
                .filter(|((ct, _, _), _)| *ct == tenant)
                .map(|((_, u, n), v)| (*u, (*n).to_owned(), *v))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{b}: tenant {tenant}: fitness configurations");
        }
        for &tenant in &tenants {
            let scope = t.db.tenant(tenant);
            let listed = scope
                .members()
                .list(&PageRequest::first(500))
                .await
                .unwrap();
            let mut got: Vec<(UserId, TenantRole)> = listed
                .items
                .iter()
                .map(|m| {
                    assert_eq!(m.tenant_id, tenant, "{b}: a member of another tenant");
                    (m.user_id, m.role)
                })
                .collect();
            got.sort_by_key(|(u, _)| *u);
            let want: Vec<(UserId, TenantRole)> = members
                .iter()
                .filter(|((mt, _), _)| *mt == tenant)
                .map(|((_, u), r)| (*u, *r))
                .collect();
            // Tenant creation made no membership here (rows written directly).
            assert_eq!(got, want, "{b}: members of {tenant}");

            let summaries = scope.oauth_credentials().list().await.unwrap();
            assert!(
                summaries.iter().all(|c| c.tenant_id == tenant),
                "{b}: foreign credential"
            );
            assert_eq!(
                summaries.len(),
                credentials.keys().filter(|(ct, _)| *ct == tenant).count(),
                "{b}: credentials of {tenant}"
            );
            for provider in CREDENTIAL_PROVIDERS {
                let got = scope
                    .oauth_credentials()
                    .get(named(provider))
                    .await
                    .unwrap()
                    .map(|c| c.client_secret.expose().to_owned());
                assert_eq!(
                    got.as_ref(),
                    credentials.get(&(tenant, provider)),
                    "{b}: {tenant} {provider}"
                );
            }
        }
        for (code, owner) in &codes {
            for &tenant in &tenants {
                let seen = t.db.tenant(tenant).oauth2_auth_codes().get(code).await;
                let seen = seen.unwrap().map(|c| c.tenant_id);
                assert_eq!(seen, (*owner == tenant).then_some(*owner), "{b}: code");
            }
        }
        for (token, owner) in &refresh {
            for &tenant in &tenants {
                let seen = t.db.tenant(tenant).oauth2_refresh_tokens().get(token).await;
                let seen = seen.unwrap().map(|r| r.tenant_id);
                assert_eq!(seen, (*owner == tenant).then_some(*owner), "{b}: token");
            }
        }
        assert!(
            !codes.is_empty() && !refresh.is_empty(),
            "the sequence issues codes and refresh tokens"
        );
        assert!(!model.is_empty(), "the sequence leaves tokens to check");
        assert!(
            !members.is_empty() && !credentials.is_empty(),
            "and members and credentials"
        );
    }
}
