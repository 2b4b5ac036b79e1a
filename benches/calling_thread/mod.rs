//! SQLite reads on the calling thread: each hot read through the library as
//! it is by default (on the calling thread), through the library with the
//! path turned off (sqlx's worker threads), as raw SQL on a pool opened
//! with sqlx's default options ("peer": what the original system ran), and
//! as the same SQL run by rusqlite directly on a read-only connection of
//! the same file. Sides interleaved round by round, as everywhere here.
//!
//! Goals (issue 34): every hot point read ≥ 3× the peer and ≥ 0.4×
//! rusqlite; pages ≥ 2× the peer; writes with the path on ≥ 0.9× with it
//! off; 16 concurrent tasks read at least as fast in total as through sqlx.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};
use pierre_db::{
    ApiKeyTier, ChatRole, Database, NewApiKey, NewApiKeyUsage, NewChatMessage, NewConversation,
    NewOAuth2Client, NewRequestLog, NewTenant, NewUser, OauthProvider, PageRequest,
    RequestLogFilter, TenantId, UserId, UserStatus,
};
use rusqlite::types::ValueRef;
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{self, Row as _, SqlitePool};

use crate::raw::{Raw, TOKEN_COLUMNS};
use crate::{ROUNDS, Timing, paired_ratio, token};

/// A column's type, for the raw sides' decoding: each cell is read into
/// the Rust type the library reads it into.
#[derive(Clone, Copy)]
enum K {
    Uuid,
    OptUuid,
    Text,
    OptText,
    Bool,
    Int,
    OptInt,
    Time,
    OptTime,
    Json,
}

use K::*;

const USER: &[K] = &[
    Uuid, Text, OptText, Text, OptUuid, Bool, Text, Text, Bool, OptUuid, OptTime, OptText, Text,
    Time, Time,
];
const USER_COLUMNS: &str = "id, email, display_name, tier, tenant_id, is_active, user_status, \
     role, is_admin, approved_by, approved_at, firebase_uid, auth_provider, created_at, last_active";
const KEY: &[K] = &[
    Uuid, Uuid, Text, OptText, Text, Text, OptInt, OptInt, Bool, OptTime, OptTime, Time, Text,
];
const TOKEN: &[K] = &[
    Uuid, Uuid, Uuid, Text, Text, OptText, Text, OptTime, OptText, Time, Time, OptTime,
];
const TENANT: &[K] = &[Uuid, Text, Text, OptText, Text, Uuid, Bool, Time, Time];
const CLIENT: &[K] = &[
    Uuid, Text, Text, Json, Json, Json, OptText, OptText, OptText, Time, OptTime,
];
const MCP: &[K] = &[
    Uuid, Uuid, Text, Text, Text, OptTime, OptTime, Int, Bool, Time,
];
const MESSAGE: &[K] = &[Uuid, Uuid, Text, Text, OptInt, OptText, Time];
const LOG: &[K] = &[
    Uuid, OptUuid, OptUuid, Time, Text, Text, Int, OptInt, OptText,
];

/// A bound value.
#[derive(Clone)]
enum P {
    Id(uuid::Uuid),
    Str(String),
    Int(i64),
}

impl rusqlite::ToSql for P {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput::Borrowed;
        Ok(match self {
            P::Id(id) => Borrowed(ValueRef::Blob(id.as_bytes())),
            P::Str(s) => Borrowed(ValueRef::Text(s.as_bytes())),
            P::Int(i) => Borrowed(ValueRef::Integer(*i)),
        })
    }
}

/// One statement of the raw sides: its SQL, values, the columns' types,
/// and which text columns the caller wants back (a hash to verify,
/// sealed values to open).
struct Query<'a> {
    sql: &'a str,
    params: Vec<P>,
    kinds: &'static [K],
    wanted: &'static [usize],
}

impl<'a> Query<'a> {
    fn new(sql: &'a str, params: Vec<P>, kinds: &'static [K]) -> Self {
        Self {
            sql,
            params,
            kinds,
            wanted: &[],
        }
    }

    /// The columns (text, or UUIDs as text) to hand back, in order.
    fn wanting(self, wanted: &'static [usize]) -> Self {
        Self { wanted, ..self }
    }
}

/// Opens each row's sealed values with the raw side's key: the wanted
/// columns are the user, the provider, the access and refresh tokens.
fn open_tokens(raw: &Raw, tenant: TenantId, rows: &[Vec<Option<String>>]) {
    for row in rows {
        let user: uuid::Uuid = row[0].as_deref().unwrap().parse().unwrap();
        black_box(raw.open_token(
            tenant,
            user,
            row[1].as_deref().unwrap(),
            row[2].as_deref().unwrap(),
            row[3].as_deref(),
        ));
    }
}

/// The raw sides: the peer's pool and a rusqlite connection.
struct RawSides {
    peer: SqlitePool,
    rusqlite: rusqlite::Connection,
}

impl RawSides {
    async fn open(url: &str, path: &std::path::Path) -> Self {
        let peer = SqlitePool::connect(url).await.unwrap();
        // The library's readers' settings: read-only, the memory map, QPSG.
        let rusqlite = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap();
        rusqlite
            .pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)
            .unwrap();
        rusqlite
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )
            .unwrap();
        rusqlite.set_prepared_statement_cache_capacity(64);
        Self { peer, rusqlite }
    }

    /// The wanted columns of each row read by side 2 (the peer) or 3
    /// (rusqlite).
    async fn rows(&self, side: usize, q: &Query<'_>) -> Vec<Vec<Option<String>>> {
        if side == 2 {
            self.peer(q).await
        } else {
            self.rusqlite(q)
        }
    }

    /// How many rows side 2 or 3 read.
    async fn count(&self, side: usize, q: &Query<'_>) -> usize {
        self.rows(side, q).await.len()
    }

    /// The wanted columns of each row, read by the peer.
    async fn peer(&self, q: &Query<'_>) -> Vec<Vec<Option<String>>> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(q.sql.to_owned()));
        for p in &q.params {
            query = match p {
                P::Id(id) => query.bind(*id),
                P::Str(s) => query.bind(s.clone()),
                P::Int(i) => query.bind(*i),
            };
        }
        let rows = query.fetch_all(&self.peer).await.unwrap();
        rows.iter().map(|row| sqlx_row(row, q)).collect()
    }

    /// The wanted columns of each row, read by rusqlite.
    fn rusqlite(&self, q: &Query<'_>) -> Vec<Vec<Option<String>>> {
        let mut stmt = self.rusqlite.prepare_cached(q.sql).unwrap();
        for (i, p) in q.params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, p).unwrap();
        }
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            out.push(rusqlite_row(row, q));
        }
        out
    }
}

fn sqlx_row(row: &SqliteRow, q: &Query<'_>) -> Vec<Option<String>> {
    let mut wanted = Vec::new();
    for (i, kind) in q.kinds.iter().enumerate() {
        match kind {
            Uuid => {
                let id: uuid::Uuid = row.get(i);
                if q.wanted.contains(&i) {
                    wanted.push(Some(id.to_string()));
                } else {
                    black_box(id);
                }
            }
            OptUuid => {
                black_box(row.get::<Option<uuid::Uuid>, _>(i));
            }
            Text | OptText => {
                let text: Option<String> = row.get(i);
                if q.wanted.contains(&i) {
                    wanted.push(text);
                } else {
                    black_box(text);
                }
            }
            Bool => {
                black_box(row.get::<bool, _>(i));
            }
            Int => {
                black_box(row.get::<i64, _>(i));
            }
            OptInt => {
                black_box(row.get::<Option<i32>, _>(i));
            }
            Time => {
                black_box(row.get::<DateTime<Utc>, _>(i));
            }
            OptTime => {
                black_box(row.get::<Option<DateTime<Utc>>, _>(i));
            }
            Json => {
                black_box(row.get::<serde_json::Value, _>(i));
            }
        }
    }
    wanted
}

/// Each cell into the library's type, as directly as rusqlite allows.
fn rusqlite_row(row: &rusqlite::Row<'_>, q: &Query<'_>) -> Vec<Option<String>> {
    let text = |v: ValueRef<'_>| match v {
        ValueRef::Text(t) => Some(std::str::from_utf8(t).unwrap().to_owned()),
        ValueRef::Null => None,
        _ => panic!("not text"),
    };
    let time = |v: ValueRef<'_>| match v {
        ValueRef::Text(t) => Some(
            DateTime::<FixedOffset>::parse_from_rfc3339(std::str::from_utf8(t).unwrap())
                .unwrap()
                .to_utc(),
        ),
        ValueRef::Null => None,
        _ => panic!("not a time"),
    };
    let id = |v: ValueRef<'_>| match v {
        ValueRef::Blob(b) => Some(uuid::Uuid::from_slice(b).unwrap()),
        ValueRef::Null => None,
        _ => panic!("not a uuid"),
    };
    let mut wanted = Vec::new();
    for (i, kind) in q.kinds.iter().enumerate() {
        let v = row.get_ref(i).unwrap();
        match kind {
            Uuid | OptUuid => {
                let id = id(v);
                if q.wanted.contains(&i) {
                    wanted.push(id.map(|id| id.to_string()));
                } else {
                    black_box(id);
                }
            }
            Text | OptText => {
                let t = text(v);
                if q.wanted.contains(&i) {
                    wanted.push(t);
                } else {
                    black_box(t);
                }
            }
            Bool | Int | OptInt => {
                black_box(v.as_i64_or_null().unwrap());
            }
            Time | OptTime => {
                black_box(time(v));
            }
            Json => drop(black_box(
                serde_json::from_slice::<serde_json::Value>(v.as_bytes().unwrap()).unwrap(),
            )),
        }
    }
    wanted
}

/// The four sides, `n` operations per side per round: side 0 the library
/// on the calling thread, 1 the library through sqlx, 2 the peer, 3
/// rusqlite. The order turns every round and reverses every other.
async fn four(n: usize, mut op: impl AsyncFnMut(usize, usize)) -> [Timing; 4] {
    let mut timings = [Timing::new(), Timing::new(), Timing::new(), Timing::new()];
    for round in 0..ROUNDS {
        let mut order: Vec<usize> = (0..4).map(|k| (round + k) % 4).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for side in order {
            let start = Instant::now();
            for i in 0..n {
                op(side, i).await;
            }
            timings[side]
                .samples
                .push(start.elapsed().as_secs_f64() / n as f64);
        }
    }
    timings
}

/// A printed line: ops/s per side and the ratios against the goals.
struct Line {
    name: String,
    ops: Vec<f64>,
    verdicts: String,
}

fn verdict(ratio: f64, min: f64) -> String {
    let pass = if ratio >= min { "PASS" } else { "FAIL" };
    format!("{ratio:.2}x (≥ {min}) {pass}")
}

/// Reads: against the peer (goal `peer_goal`), rusqlite (0.4 for point
/// reads) and the library's own sqlx path.
fn read_line(name: &str, t: &[Timing; 4], point: bool) -> Line {
    let peer_goal = if point { 3.0 } else { 2.0 };
    let mut verdicts = format!(
        "peer {}  sqlx path {:.2}x",
        verdict(paired_ratio(&t[0], &t[2]), peer_goal),
        paired_ratio(&t[0], &t[1]),
    );
    let rusqlite = paired_ratio(&t[0], &t[3]);
    if point {
        verdicts.push_str(&format!("  rusqlite {}", verdict(rusqlite, 0.4)));
    } else {
        verdicts.push_str(&format!("  rusqlite {rusqlite:.2}x"));
    }
    Line {
        name: name.to_owned(),
        ops: t.iter().map(|t| 1.0 / t.median()).collect(),
        verdicts,
    }
}

pub struct CallingThreadReport {
    lines: Vec<Line>,
}

impl CallingThreadReport {
    pub fn print(&self) {
        println!("\n== SQLite file: reads on the calling thread ==");
        println!(
            "{:<34} {:>10} {:>10} {:>10} {:>10}  library (calling thread) vs …",
            "operation", "library", "sqlx path", "peer", "rusqlite"
        );
        for line in &self.lines {
            let cell = |i: usize| {
                line.ops
                    .get(i)
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_default()
            };
            println!(
                "{:<34} {:>10} {:>10} {:>10} {:>10}  {}",
                line.name,
                cell(0),
                cell(1),
                cell(2),
                cell(3),
                line.verdicts
            );
        }
    }
}

/// The lines, on a new SQLite file in `dir`.
pub async fn calling_thread_lines(dir: &std::path::Path) -> CallingThreadReport {
    let path = dir.join("calling-thread.db");
    let url = format!("sqlite:{}", path.display());
    let db = crate::open(&url).await;
    let mut config = db.config();
    config.sqlite_calling_thread_reads = false;
    config.migrate_on_connect = false;
    let off = Database::connect_with(config).await.unwrap();
    assert!(off.calling_thread_reads().is_none());
    let raw = Raw::new(&db);
    let sides = RawSides::open(&url, &path).await;
    let mut lines = Vec::new();

    // Fixtures: users; a tenant for the library's tokens and one for raw
    // tokens (sealed under the raw side's key); API keys; a client; MCP
    // tokens; a conversation; request logs.
    const USERS: usize = 200;
    let owner = db
        .users()
        .create(NewUser::new("owner@bench.org", "h"))
        .await
        .unwrap()
        .id;
    let mine = db
        .tenants()
        .create(NewTenant::new("Library", "library", owner))
        .await
        .unwrap()
        .id;
    let theirs: TenantId = raw.insert_tenant(owner).await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let mut new = NewUser::new(format!("u{i}@bench.org"), "h");
        new.status = UserStatus::Active;
        let user = db.users().create(new).await.unwrap().id;
        db.tenant(mine)
            .oauth_tokens()
            .upsert(token(user, i))
            .await
            .unwrap();
        raw.upsert_token(theirs, &token(user, i)).await;
        users.push(user);
    }
    let mut keys = Vec::new();
    for (i, &user) in users.iter().take(50).enumerate() {
        keys.push(
            db.api_keys()
                .create(NewApiKey::new(
                    user,
                    format!("key {i}"),
                    ApiKeyTier::Starter,
                ))
                .await
                .unwrap()
                .plaintext,
        );
    }
    let client = db
        .oauth2_clients()
        .register(NewOAuth2Client::new("https://client.example.org/cb"))
        .await
        .unwrap()
        .client
        .client_id;
    let mut mcp = Vec::new();
    for &user in users.iter().take(50) {
        mcp.push((
            db.mcp_tokens()
                .create(user, "bench", None)
                .await
                .unwrap()
                .token
                .id,
            user,
        ));
    }
    let chat = db.tenant(mine).chat();
    let talk = chat
        .create_conversation(NewConversation::new(owner, "Bench"))
        .await
        .unwrap()
        .id;
    for i in 0..200 {
        let mut m = NewChatMessage::new(ChatRole::User, format!("message {i:0>120}"));
        m.token_count = Some(30);
        chat.add_message(owner, talk, m).await.unwrap();
    }
    for i in 0..200 {
        let mut log = NewRequestLog::new("GET", "/api/activities", 200);
        log.user_id = Some(owner);
        log.request.response_time_ms = Some((i % 300) as u32);
        db.usage().record_request_log(log).await.unwrap();
    }

    let handle = |side: usize| if side == 0 { &db } else { &off };
    let user_at = |i: usize| users[(i * 7) % USERS];

    // A warm-up pass per side: every connection maps the file once.
    for i in 0..400 {
        db.users().get_by_id(user_at(i)).await.unwrap();
        off.users().get_by_id(user_at(i)).await.unwrap();
    }

    let by_id = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
    let t = four(200, async |side, i| {
        if side < 2 {
            assert!(
                handle(side)
                    .users()
                    .get_by_id(user_at(i))
                    .await
                    .unwrap()
                    .is_some()
            );
        } else {
            let q = Query::new(&by_id, vec![P::Id(user_at(i).as_uuid())], USER);
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("user by id", &t, true));

    let by_email = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ? AND is_active = ?");
    let email = |i: usize| format!("u{}@bench.org", (i * 7) % USERS);
    let t = four(200, async |side, i| {
        if side < 2 {
            let found = handle(side).users().get_by_email(&email(i)).await.unwrap();
            assert!(found.is_some());
        } else {
            let q = Query::new(&by_email, vec![P::Str(email(i)), P::Int(1)], USER);
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("user by email", &t, true));

    let key_sql = "SELECT id, user_id, name, description, key_prefix, tier, rate_limit_requests, \
                   rate_limit_window_seconds, is_active, expires_at, last_used_at, created_at, \
                   key_hash FROM api_keys WHERE key_prefix = ?";
    let t = four(200, async |side, i| {
        let key = keys[i % keys.len()].expose();
        if side < 2 {
            let found = handle(side).api_keys().find_by_prefix_and_verify(key).await;
            assert!(found.unwrap().is_some());
        } else {
            let q = Query::new(key_sql, vec![P::Str(key[..20].to_owned())], KEY).wanting(&[12]);
            let rows = sides.rows(side, &q).await;
            let hash = rows[0][0].as_deref().unwrap();
            assert!(pierre_db::crypto::hashing::verify(key, hash));
        }
    })
    .await;
    lines.push(read_line("API key lookup + verify", &t, true));

    // The raw sides read (and open) their own tokens, sealed under their
    // key in their own tenant.
    let token_sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM user_oauth_tokens \
         WHERE tenant_id = ? AND user_id = ? AND provider = ?"
    );
    let t = four(200, async |side, i| {
        let user = user_at(i);
        if side < 2 {
            let scope = handle(side).tenant(mine);
            let got = scope.oauth_tokens().get(user, OauthProvider::Strava).await;
            assert!(got.unwrap().is_some());
        } else {
            let params = vec![
                P::Id(theirs.as_uuid()),
                P::Id(user.as_uuid()),
                P::Str("strava".into()),
            ];
            let q = Query::new(&token_sql, params, TOKEN).wanting(&[3, 4, 5]);
            let row = &sides.rows(side, &q).await[0];
            let (provider, access) = (row[0].as_deref(), row[1].as_deref());
            let opened = raw.open_token(
                theirs,
                user.as_uuid(),
                provider.unwrap(),
                access.unwrap(),
                row[2].as_deref(),
            );
            black_box(opened);
        }
    })
    .await;
    lines.push(read_line("token get (2 opens)", &t, true));

    let tenant_cols = "id, name, slug, domain, plan, owner_user_id, is_active, created_at, \
                       updated_at";
    let tenant_by_id = format!("SELECT {tenant_cols} FROM tenants WHERE id = ?");
    let t = four(200, async |side, _| {
        if side < 2 {
            assert!(
                handle(side)
                    .tenants()
                    .get_by_id(mine)
                    .await
                    .unwrap()
                    .is_some()
            );
        } else {
            let q = Query::new(&tenant_by_id, vec![P::Id(mine.as_uuid())], TENANT);
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("tenant by id", &t, true));

    let tenant_by_slug = format!("SELECT {tenant_cols} FROM tenants WHERE slug = ?");
    let t = four(200, async |side, _| {
        if side < 2 {
            let found = handle(side).tenants().get_by_slug("library").await;
            assert!(found.unwrap().is_some());
        } else {
            let q = Query::new(&tenant_by_slug, vec![P::Str("library".into())], TENANT);
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("tenant by slug", &t, true));

    let client_sql = "SELECT id, client_id, client_secret_hash, redirect_uris, grant_types, \
                      response_types, client_name, client_uri, scope, created_at, expires_at \
                      FROM oauth2_clients WHERE client_id = ?";
    let t = four(200, async |side, _| {
        if side < 2 {
            assert!(
                handle(side)
                    .oauth2_clients()
                    .get(&client)
                    .await
                    .unwrap()
                    .is_some()
            );
        } else {
            let q = Query::new(client_sql, vec![P::Str(client.clone())], CLIENT);
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("OAuth 2.0 client", &t, true));

    let mcp_sql = "SELECT id, user_id, name, token_hash, token_prefix, expires_at, last_used_at, \
                   usage_count, is_revoked, created_at FROM user_mcp_tokens \
                   WHERE id = ? AND user_id = ?";
    let t = four(200, async |side, i| {
        let (id, user) = mcp[i % mcp.len()];
        if side < 2 {
            black_box(handle(side).mcp_tokens().get(id, user).await.unwrap());
        } else {
            let q = Query::new(
                mcp_sql,
                vec![P::Id(id.as_uuid()), P::Id(user.as_uuid())],
                MCP,
            );
            assert_eq!(sides.count(side, &q).await, 1);
        }
    })
    .await;
    lines.push(read_line("MCP token", &t, true));

    // Pages of 50 (51 rows read: the one past tells whether there is more).
    let page = PageRequest::first(50);
    let users_page = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_status = ? \
         ORDER BY created_at ASC, id ASC LIMIT ?"
    );
    let t = four(40, async |side, _| {
        if side < 2 {
            let users = handle(side).users();
            let got = users
                .list_by_status_paginated(UserStatus::Active, &page)
                .await;
            assert_eq!(got.unwrap().items.len(), 50);
        } else {
            let q = Query::new(&users_page, vec![P::Str("active".into()), P::Int(51)], USER);
            assert_eq!(sides.count(side, &q).await, 51);
        }
    })
    .await;
    lines.push(read_line("users page of 50", &t, false));

    let tokens_page = format!(
        "SELECT {TOKEN_COLUMNS} FROM user_oauth_tokens WHERE tenant_id = ? AND provider = ? \
         ORDER BY created_at ASC, id ASC LIMIT ?"
    );
    let t = four(20, async |side, _| {
        if side < 2 {
            let tokens = handle(side).tenant(mine).oauth_tokens();
            let got = tokens
                .list_for_provider_paged(OauthProvider::Strava, &page)
                .await;
            assert_eq!(got.unwrap().items.len(), 50);
        } else {
            let params = vec![P::Id(theirs.as_uuid()), P::Str("strava".into()), P::Int(51)];
            let q = Query::new(&tokens_page, params, TOKEN).wanting(&[1, 3, 4, 5]);
            let rows = sides.rows(side, &q).await;
            assert_eq!(rows.len(), 51);
            open_tokens(&raw, theirs, &rows[..50]);
        }
    })
    .await;
    lines.push(read_line("tokens page of 50 (100 opens)", &t, false));

    let owned = "SELECT id FROM chat_conversations WHERE tenant_id = ? AND id = ? AND user_id = ?";
    let messages_page = "SELECT id, conversation_id, role, content, token_count, finish_reason, \
                         created_at FROM chat_messages WHERE conversation_id = ? \
                         ORDER BY created_at ASC, id ASC LIMIT ?";
    let t = four(40, async |side, _| {
        if side < 2 {
            let chat = handle(side).tenant(mine).chat();
            let got = chat.messages(owner, talk, &page).await;
            assert_eq!(got.unwrap().items.len(), 50);
        } else {
            // The library checks that the conversation is the user's first.
            let ids = [mine.as_uuid(), talk.as_uuid(), owner.as_uuid()];
            let q = Query::new(owned, ids.map(P::Id).to_vec(), &[Uuid]);
            assert_eq!(sides.count(side, &q).await, 1);
            let q = Query::new(
                messages_page,
                vec![P::Id(talk.as_uuid()), P::Int(51)],
                MESSAGE,
            );
            assert_eq!(sides.count(side, &q).await, 51);
        }
    })
    .await;
    lines.push(read_line("chat messages page of 50", &t, false));

    let logs_page = "SELECT id, user_id, api_key_id, timestamp, method, endpoint, status_code, \
                     response_time_ms, error_message FROM request_logs WHERE user_id = ? \
                     ORDER BY timestamp ASC, id ASC LIMIT ?";
    let filter = RequestLogFilter {
        user_id: Some(owner),
        ..RequestLogFilter::default()
    };
    let t = four(40, async |side, _| {
        if side < 2 {
            let got = handle(side).usage().list_request_logs(&filter, &page).await;
            assert_eq!(got.unwrap().items.len(), 50);
        } else {
            let q = Query::new(logs_page, vec![P::Id(owner.as_uuid()), P::Int(51)], LOG);
            assert_eq!(sides.count(side, &q).await, 51);
        }
    })
    .await;
    lines.push(read_line("request logs page of 50", &t, false));

    lines.extend(writes(&db, &off, mine, &users, keys.len()).await);
    lines.push(concurrent(&db, &off, &users).await);

    let counts = db.calling_thread_reads().unwrap();
    println!(
        "\n(calling thread: {} reads served, {} given up to sqlx)",
        counts.served, counts.fell_back
    );
    CallingThreadReport { lines }
}

/// Writes while another task reads users by id without pause: the
/// reads on the calling thread on one side, through sqlx on the other, in
/// the same run (goal: writes ≥ 0.9× beside calling-thread reads what
/// they are beside sqlx reads).
async fn writes(
    db: &Database,
    off: &Database,
    tenant: TenantId,
    users: &[UserId],
    keys: usize,
) -> Vec<Line> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Which handle the reader uses (true: the calling thread), and when
    // it stops.
    let calling = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, off, users) = (db.clone(), off.clone(), users.to_vec());
        let (calling, stop) = (calling.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let h = if calling.load(Ordering::Relaxed) {
                    &db
                } else {
                    &off
                };
                black_box(h.users().get_by_id(users[i % users.len()]).await.unwrap());
                i += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut lines = Vec::new();
    let (on, base) = crate::interleaved(100, async |first, i| {
        calling.store(first, Ordering::Relaxed);
        let h = if first { db } else { off };
        h.tenant(tenant)
            .oauth_tokens()
            .upsert(token(users[i % users.len()], i))
            .await
            .unwrap();
    })
    .await;
    lines.push(write_line("token upsert beside reads", &on, &base));
    let key = db
        .api_keys()
        .create(NewApiKey::new(
            users[0],
            format!("key {keys}"),
            ApiKeyTier::Starter,
        ))
        .await
        .unwrap()
        .key
        .id;
    let (on, base) = crate::interleaved(125, async |first, _| {
        calling.store(first, Ordering::Relaxed);
        let h = if first { db } else { off };
        h.usage()
            .record_api_key_usage(NewApiKeyUsage::new(key, "get_activities", 200))
            .await
            .unwrap();
    })
    .await;
    lines.push(write_line("usage insert beside reads", &on, &base));
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    lines
}

fn write_line(name: &str, on: &Timing, off: &Timing) -> Line {
    Line {
        name: name.to_owned(),
        ops: vec![1.0 / on.median(), 1.0 / off.median()],
        verdicts: format!("sqlx path {}", verdict(paired_ratio(on, off), 0.9)),
    }
}

/// 16 tasks reading users by id at once on the runtime's threads: total
/// reads per second with the path on against off (goal ≥ 1×).
async fn concurrent(db: &Database, off: &Database, users: &[UserId]) -> Line {
    const TASKS: usize = 16;
    const READS: usize = 200;
    let mut on_t = Timing::new();
    let mut off_t = Timing::new();
    for round in 0..24 {
        for first in [round % 2 == 0, round % 2 == 1] {
            let h = if first { db } else { off };
            let start = Instant::now();
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let (h, users) = (h.clone(), users.to_vec());
                    tokio::spawn(async move {
                        for i in 0..READS {
                            let user = users[(task * 31 + i * 7) % users.len()];
                            assert!(h.users().get_by_id(user).await.unwrap().is_some());
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let per_read = start.elapsed().as_secs_f64() / (TASKS * READS) as f64;
            if first {
                on_t.samples.push(per_read);
            } else {
                off_t.samples.push(per_read);
            }
        }
    }
    Line {
        name: "16 tasks, user by id (total)".to_owned(),
        ops: vec![1.0 / on_t.median(), 1.0 / off_t.median()],
        verdicts: format!("sqlx path {}", verdict(paired_ratio(&on_t, &off_t), 1.0)),
    }
}
