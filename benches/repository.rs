//! Repositories against hand-written raw sqlx doing the same SQL on the same
//! database in the same run, implementations interleaved round by round.
//!
//! `cargo bench --bench repository` runs on SQLite in memory; with
//! `PIERRE_BENCH_POSTGRES_URL` (or `PIERRE_TEST_POSTGRES_URL`) set it runs on
//! a fresh PostgreSQL database of that server too. Targets (checked here,
//! never in tests): point reads and writes and list pages ≥ 0.9× raw sqlx;
//! batched usage inserts ≥ 2× raw per-row sqlx; the page at depth ≤ 1.5×
//! the first.

mod raw;

use std::future::Future;
use std::time::Instant;

use pierre_db::{
    AdminTokenUse, ApiKeyTier, Database, DatabaseConfig, MasterKey, NewAdminToken, NewApiKey,
    NewApiKeyUsage, NewAuthCode, NewOAuth2Client, NewOAuthToken, NewRefreshToken, NewUser,
    PageRequest, Secret, UserId, UserStatus,
};

use raw::Raw;

/// Rounds per operation; repo and raw run back to back within each round,
/// and which goes first alternates from round to round.
const ROUNDS: usize = 25;

/// Median seconds per operation of `n` runs of `op`, over the rounds.
struct Timing {
    samples: Vec<f64>,
}

impl Timing {
    fn new() -> Self {
        Self {
            samples: Vec::new(),
        }
    }
    async fn sample<F, Fut>(&mut self, n: usize, mut op: F)
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = ()>,
    {
        let start = Instant::now();
        for i in 0..n {
            op(i).await;
        }
        self.samples.push(start.elapsed().as_secs_f64() / n as f64);
    }
    fn median(&self) -> f64 {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    }
}

/// Runs `repo` and `raw` `n` times each per round for [`ROUNDS`] rounds.
///
/// Short rounds and an alternating order keep a slow spell of the machine
/// (or of the database server sharing its two cores) on both sides of the
/// pairs it touches, and neither side always runs on a warmer cache.
async fn paired<A, FA, B, FB>(n: usize, mut repo: A, mut raw: B) -> (Timing, Timing)
where
    A: FnMut(usize) -> FA,
    FA: Future<Output = ()>,
    B: FnMut(usize) -> FB,
    FB: Future<Output = ()>,
{
    let (mut repo_t, mut raw_t) = (Timing::new(), Timing::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            repo_t.sample(n, &mut repo).await;
            raw_t.sample(n, &mut raw).await;
        } else {
            raw_t.sample(n, &mut raw).await;
            repo_t.sample(n, &mut repo).await;
        }
    }
    (repo_t, raw_t)
}

/// Median over rounds of raw time / repo time (repo's speed relative to raw).
fn paired_ratio(repo: &Timing, raw: &Timing) -> f64 {
    let ratios = Timing {
        samples: repo
            .samples
            .iter()
            .zip(&raw.samples)
            .map(|(r, w)| w / r)
            .collect(),
    };
    ratios.median()
}

struct Report {
    backend: &'static str,
    rows: Vec<(String, f64, f64, String)>,
}

impl Report {
    /// Records repo vs raw seconds/op; `min_ratio` is the target on raw/repo speed.
    ///
    /// The ratio is the median of the per-round ratios: repo and raw run
    /// back to back in a round, so a machine that slows down for a while
    /// (these VMs drift by 10-20% within a run) slows both sides of the
    /// pairs it touches instead of skewing one side's median.
    fn compare(&mut self, name: &str, repo: &Timing, raw: &Timing, min_ratio: f64) {
        let (r, w) = (repo.median(), raw.median());
        let ratio = paired_ratio(repo, raw);
        let verdict = if ratio >= min_ratio { "PASS" } else { "FAIL" };
        self.rows.push((
            name.to_owned(),
            1.0 / r,
            1.0 / w,
            format!("{ratio:.2}x (≥ {min_ratio}) {verdict}"),
        ));
    }

    /// Records repo vs raw seconds/op where the issue sets no ratio target.
    fn inform(&mut self, name: &str, repo: &Timing, raw: &Timing) {
        let (r, w) = (repo.median(), raw.median());
        self.rows.push((
            name.to_owned(),
            1.0 / r,
            1.0 / w,
            format!("{:.2}x (no target)", paired_ratio(repo, raw)),
        ));
    }

    fn print(&self) {
        println!("\n== {} ==", self.backend);
        println!(
            "{:<34} {:>12} {:>12}  repo/raw speed",
            "operation", "repo ops/s", "raw ops/s"
        );
        for (name, repo, raw, verdict) in &self.rows {
            println!("{name:<34} {repo:>12.0} {raw:>12.0}  {verdict}");
        }
    }
}

async fn open(url: &str) -> Database {
    let mut config = DatabaseConfig::new(url, MasterKey::generate().unwrap());
    config.migrate_on_connect = true;
    Database::connect_with(config).await.unwrap()
}

async fn bench(db: Database, backend: &'static str, users_for_paging: usize) -> Report {
    let raw = Raw::new(&db);
    let mut report = Report {
        backend,
        rows: Vec::new(),
    };

    // Fixtures: a tenant, users with tokens for the repository and for raw.
    let owner = db
        .users()
        .create(NewUser::new("owner@bench.org", "h"))
        .await
        .unwrap()
        .id;
    let tenant = raw.insert_tenant(owner).await;
    const USERS: usize = 200;
    let mut repo_users = Vec::new();
    let mut raw_users = Vec::new();
    for i in 0..USERS {
        repo_users.push(
            db.users()
                .create(NewUser::new(format!("a{i}@bench.org"), "h"))
                .await
                .unwrap()
                .id,
        );
        raw_users.push(
            db.users()
                .create(NewUser::new(format!("b{i}@bench.org"), "h"))
                .await
                .unwrap()
                .id,
        );
    }
    let token = |user: UserId, i: usize| {
        let mut t = NewOAuthToken::new(user, "strava", format!("ya29.{i:0>160}"));
        t.refresh_token = Some(Secret::new(format!("1//{i:0>100}")));
        t
    };
    for (i, &u) in repo_users.iter().enumerate() {
        db.tenant(tenant)
            .oauth_tokens()
            .upsert(token(u, i))
            .await
            .unwrap();
    }
    for (i, &u) in raw_users.iter().enumerate() {
        raw.upsert_token(tenant, &token(u, i)).await;
    }

    // Token upsert (encrypting both tokens).
    let (repo, rawt) = paired(
        400,
        |i| {
            let db = db.clone();
            let t = token(repo_users[i % USERS], i);
            async move { db.tenant(tenant).oauth_tokens().upsert(t).await.unwrap() }
        },
        |i| {
            let t = token(raw_users[i % USERS], i);
            let raw = &raw;
            async move { raw.upsert_token(tenant, &t).await }
        },
    )
    .await;
    report.compare("token upsert (2 seals)", &repo, &rawt, 0.9);

    // Token get with decrypt.
    let (repo, rawt) = paired(
        800,
        |i| {
            let db = db.clone();
            let u = repo_users[i % USERS];
            async move {
                let t = db
                    .tenant(tenant)
                    .oauth_tokens()
                    .get(u, "strava")
                    .await
                    .unwrap()
                    .unwrap();
                std::hint::black_box(t);
            }
        },
        |i| {
            let u = raw_users[i % USERS];
            let raw = &raw;
            async move {
                std::hint::black_box(raw.get_token(tenant, u, "strava").await);
            }
        },
    )
    .await;
    report.compare("token get (2 opens)", &repo, &rawt, 0.9);

    // API key lookup and verification.
    let mut keys = Vec::new();
    for (i, &u) in repo_users.iter().take(50).enumerate() {
        let created = db
            .api_keys()
            .create(NewApiKey::new(
                u,
                format!("key {i}"),
                ApiKeyTier::Professional,
            ))
            .await
            .unwrap();
        keys.push(created);
    }
    let (repo, rawt) = paired(
        800,
        |i| {
            let db = db.clone();
            let key = keys[i % keys.len()].plaintext.clone();
            async move {
                let found = db
                    .api_keys()
                    .find_by_prefix_and_verify(key.expose())
                    .await
                    .unwrap();
                assert!(found.is_some());
            }
        },
        |i| {
            let key = keys[i % keys.len()].plaintext.clone();
            let raw = &raw;
            async move {
                assert!(raw.find_key(key.expose()).await.is_some());
            }
        },
    )
    .await;
    report.compare("API key lookup + verify", &repo, &rawt, 0.9);

    // Usage: one row per call, and a batch of 500 against raw per-row inserts.
    let key_id = keys[0].key.id;
    let usage_row = |i: usize| {
        let mut u = NewApiKeyUsage::new(key_id, "get_activities", 200);
        u.response_time_ms = Some((i % 300) as u32);
        u.request_size_bytes = Some(512);
        u.response_size_bytes = Some(2048);
        u.ip_address = Some("127.0.0.1".into());
        u.user_agent = Some("bench".into());
        u
    };
    let (repo, rawt) = paired(
        500,
        |i| {
            let db = db.clone();
            let row = usage_row(i);
            async move {
                db.usage().record_api_key_usage(row).await.unwrap();
            }
        },
        |i| {
            let raw = &raw;
            async move { raw.record_usage(key_id.as_uuid(), i).await }
        },
    )
    .await;
    let mut batch = Timing::new();
    for _ in 0..ROUNDS / 3 {
        // 6 batches of 500 rows; the sample is per row.
        let start = Instant::now();
        for b in 0..6 {
            let rows: Vec<_> = (0..500).map(|i| usage_row(b * 500 + i)).collect();
            db.usage().record_api_key_usage_batch(rows).await.unwrap();
        }
        batch.samples.push(start.elapsed().as_secs_f64() / 3000.0);
    }
    report.compare("usage insert, one row", &repo, &rawt, 0.9);
    report.compare("usage insert, batch of 500 (per row)", &batch, &rawt, 2.0);

    // OAuth 2.0: consume an authorization code; rotate a refresh token.
    // Each operation spends a value, so both sides get fresh ones.
    const CALLBACK: &str = "https://client.example.org/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const SPENT_PER_ROUND: usize = 100;
    let client = db
        .oauth2_clients()
        .register(NewOAuth2Client::new(CALLBACK))
        .await
        .unwrap()
        .client
        .client_id;
    let scope = db.tenant(tenant);
    let mut codes = Vec::new();
    let mut refresh = Vec::new();
    for i in 0..2 * ROUNDS * SPENT_PER_ROUND {
        let user = repo_users[i % USERS];
        let code = scope
            .oauth2_auth_codes()
            .issue(NewAuthCode::new(&client, user, CALLBACK, CHALLENGE))
            .await
            .unwrap();
        codes.push(code.code.expose().to_owned());
        let token = scope
            .oauth2_refresh_tokens()
            .issue(NewRefreshToken::new(&client, user))
            .await
            .unwrap();
        refresh.push(token.token.expose().to_owned());
    }
    let (repo_codes, raw_codes) = codes.split_at(ROUNDS * SPENT_PER_ROUND);
    let (repo_refresh, raw_refresh) = refresh.split_at(ROUNDS * SPENT_PER_ROUND);
    let (mut repo_i, mut raw_i) = (0..repo_codes.len(), 0..raw_codes.len());
    let (repo, rawt) = paired(
        SPENT_PER_ROUND,
        |_| {
            let db = db.clone();
            let code = repo_codes[repo_i.next().unwrap()].clone();
            let client = client.clone();
            async move {
                let consumed = db
                    .oauth2_exchange()
                    .consume_auth_code(&code, &client, CALLBACK, chrono::Utc::now())
                    .await
                    .unwrap();
                assert!(consumed.is_some());
            }
        },
        |_| {
            let raw = &raw;
            let code = raw_codes[raw_i.next().unwrap()].clone();
            let client = client.clone();
            async move {
                assert!(raw.consume_code(&code, &client, CALLBACK).await.is_some());
            }
        },
    )
    .await;
    report.compare("consume auth code", &repo, &rawt, 0.9);
    let (mut repo_i, mut raw_i) = (0..repo_refresh.len(), 0..raw_refresh.len());
    let (repo, rawt) = paired(
        SPENT_PER_ROUND,
        |_| {
            let db = db.clone();
            let token = repo_refresh[repo_i.next().unwrap()].clone();
            let client = client.clone();
            async move {
                let rotated = db
                    .oauth2_exchange()
                    .rotate_refresh_token(&token, &client, chrono::Utc::now())
                    .await
                    .unwrap();
                assert!(rotated.is_some());
            }
        },
        |_| {
            let raw = &raw;
            let token = raw_refresh[raw_i.next().unwrap()].clone();
            let client = client.clone();
            async move {
                assert!(raw.rotate_refresh(&token, &client).await.is_some());
            }
        },
    )
    .await;
    report.compare("rotate refresh token", &repo, &rawt, 0.9);

    // Platform: validate an MCP token; record a use of an admin token.
    let mcp = db
        .mcp_tokens()
        .create(repo_users[0], "bench", None)
        .await
        .unwrap()
        .plaintext;
    let (repo, rawt) = paired(
        800,
        |_| {
            let (db, mcp) = (db.clone(), mcp.clone());
            async move {
                let used = db.mcp_tokens().validate(mcp.expose()).await.unwrap();
                assert!(used.is_some());
            }
        },
        |_| {
            let (raw, mcp) = (&raw, mcp.clone());
            async move {
                assert!(raw.validate_mcp(mcp.expose()).await.is_some());
            }
        },
    )
    .await;
    report.compare("MCP token validate", &repo, &rawt, 0.9);
    let admin = db
        .admin_tokens()
        .create(NewAdminToken::new(
            "eyJ.bench.admin-token-signature",
            "s",
            "bench",
        ))
        .await
        .unwrap()
        .id;
    let (repo, rawt) = paired(
        200,
        |_| {
            let db = db.clone();
            async move {
                let used = AdminTokenUse {
                    ip_address: Some("10.0.0.1".into()),
                    ..AdminTokenUse::new("list_keys")
                };
                db.admin_tokens().record_use(admin, used).await.unwrap();
            }
        },
        |_| {
            let raw = &raw;
            async move { raw.record_admin_use(admin).await }
        },
    )
    .await;
    report.compare("admin token record_use", &repo, &rawt, 0.9);

    // Users by status: first page and the page at depth users/2.
    raw.insert_users(users_for_paging).await;
    let depth = users_for_paging / 2;
    let deep_cursor = {
        let mut request = PageRequest::first(500);
        let mut seen = 0;
        loop {
            let page = db
                .users()
                .list_by_status_paginated(UserStatus::Active, &request)
                .await
                .unwrap();
            seen += page.items.len();
            request = PageRequest::after(page.next_cursor.unwrap(), 500);
            if seen >= depth {
                break request.cursor.unwrap();
            }
        }
    };
    let deep_position = raw.position_at(depth).await;
    let (first, raw_first) = paired(
        40,
        |_| {
            let db = db.clone();
            async move {
                std::hint::black_box(
                    db.users()
                        .list_by_status_paginated(UserStatus::Active, &PageRequest::first(50))
                        .await
                        .unwrap(),
                );
            }
        },
        |_| {
            let raw = &raw;
            async move {
                std::hint::black_box(raw.users_page(None, 50).await);
            }
        },
    )
    .await;
    let (deep, raw_deep) = paired(
        40,
        |_| {
            let db = db.clone();
            let request = PageRequest::after(deep_cursor.clone(), 50);
            async move {
                std::hint::black_box(
                    db.users()
                        .list_by_status_paginated(UserStatus::Active, &request)
                        .await
                        .unwrap(),
                );
            }
        },
        |_| {
            let raw = &raw;
            async move {
                std::hint::black_box(raw.users_page(Some(deep_position), 50).await);
            }
        },
    )
    .await;
    // OFFSET is slow at depth: fewer rounds, compared with the first
    // rounds of the keyset pages.
    let mut offset = Timing::new();
    for _ in 0..ROUNDS / 3 {
        offset
            .sample(5, |_| {
                let raw = &raw;
                async move {
                    std::hint::black_box(raw.users_page_offset(depth, 50).await);
                }
            })
            .await;
    }
    report.compare("users page, depth 0 (50 rows)", &first, &raw_first, 0.9);
    report.compare(&format!("users page, depth {depth}"), &deep, &raw_deep, 0.9);
    report.inform(
        &format!("keyset (repo) vs raw OFFSET, depth {depth}"),
        &deep,
        &offset,
    );
    let slowdown = deep.median() / first.median();
    report.rows.push((
        "deep/first page time (repo)".to_owned(),
        1.0 / deep.median(),
        1.0 / first.median(),
        format!(
            "{slowdown:.2}x (≤ 1.5) {}",
            if slowdown <= 1.5 { "PASS" } else { "FAIL" }
        ),
    ));
    report
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let users_for_paging: usize = std::env::var("PIERRE_BENCH_PAGING_USERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let sqlite = bench(
            open("sqlite::memory:").await,
            "SQLite in memory",
            users_for_paging,
        )
        .await;
        sqlite.print();
        let pg_url = std::env::var("PIERRE_BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("PIERRE_TEST_POSTGRES_URL"));
        if let Ok(admin) = pg_url {
            let url = raw::fresh_postgres_database(&admin).await;
            let pg = bench(open(&url).await, "PostgreSQL", users_for_paging).await;
            pg.print();
        } else {
            println!("\n(PostgreSQL skipped: set PIERRE_BENCH_POSTGRES_URL to include it)");
        }
    });
}
