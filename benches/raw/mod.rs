//! The raw sqlx side of the benchmark: the same SQL the repositories send,
//! written by hand, on the same pool, with the same crypto work.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use pierre_db::crypto::aad::Context;
use pierre_db::crypto::keyring::{DataKey, Keyring};
use pierre_db::{Database, NewOAuthToken, Secret, TenantId, UserId};
use sea_orm::sqlx::{self, PgPool, Row, SqlitePool};
use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;

pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct Raw {
    pool: Pool,
    keyring: Arc<Keyring>,
    peer: bool,
}

/// Decoded token row (what the repository returns).
#[allow(dead_code, reason = "read only through Debug, when a check fails")]
#[derive(Debug)]
pub struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    tenant_id: Uuid,
    provider: String,
    access: Secret,
    refresh: Option<Secret>,
    token_type: String,
    expires_at: Option<DateTime<FixedOffset>>,
    scope: Option<String>,
    created_at: DateTime<FixedOffset>,
    updated_at: DateTime<FixedOffset>,
    last_sync: Option<DateTime<FixedOffset>>,
}

/// A consumed authorization code (what the repository returns).
#[allow(dead_code, reason = "read only through Debug, when a check fails")]
#[derive(Debug)]
pub struct CodeRow {
    tenant_id: Uuid,
    user_id: Uuid,
    client_id: String,
    redirect_uri: String,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    expires_at: DateTime<FixedOffset>,
}

pub const TOKEN_COLUMNS: &str = "id, user_id, tenant_id, provider, access_token, refresh_token, token_type, \
     expires_at, scope, created_at, updated_at, last_sync";

/// `?` on SQLite, `$n` on PostgreSQL; `GREATEST(` is SQLite's two-argument
/// `MAX(`.
fn sql(pool: &Pool, text: &str) -> String {
    match pool {
        Pool::Sqlite(_) => text.replace("GREATEST(", "MAX("),
        Pool::Postgres(_) => {
            let mut out = String::with_capacity(text.len() + 8);
            let mut n = 0;
            for c in text.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

macro_rules! run {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

fn ctx(column: &'static str, tenant: TenantId, user: Uuid, provider: &str) -> Context {
    Context::new("user_oauth_tokens", column)
        .tenant(tenant.as_uuid())
        .user(user)
        .part(provider)
}

impl Raw {
    pub fn new(db: &Database) -> Self {
        let conn = db.unscoped_connection();
        let pool = match conn.get_database_backend() {
            DbBackend::Sqlite => Pool::Sqlite(conn.get_sqlite_connection_pool().clone()),
            _ => Pool::Postgres(conn.get_postgres_connection_pool().clone()),
        };
        let keyring = Keyring::new(1, &[DataKey::generate(1).unwrap()]).unwrap();
        Self {
            pool,
            keyring: Arc::new(keyring),
            peer: false,
        }
    }

    /// The same SQL on a pool of its own, opened on `url` with sqlx's
    /// default options (what the original system runs): the peer column.
    /// It shares this side's data key, so it reads what this side wrote.
    pub async fn peer(&self, url: &str) -> Self {
        let pool = match self.pool {
            Pool::Sqlite(_) => Pool::Sqlite(SqlitePool::connect(url).await.unwrap()),
            Pool::Postgres(_) => Pool::Postgres(PgPool::connect(url).await.unwrap()),
        };
        Self {
            pool,
            keyring: Arc::clone(&self.keyring),
            peer: true,
        }
    }

    /// A token row's two sealed values opened with this side's keys, as
    /// [`Self::get_token`] opens them: for a side that reads the row
    /// itself (rusqlite).
    pub fn open_token(
        &self,
        tenant: TenantId,
        user: Uuid,
        provider: &str,
        access: &str,
        refresh: Option<&str>,
    ) -> (Secret, Option<Secret>) {
        let open = |column, text| {
            self.keyring
                .open(&ctx(column, tenant, user, provider), text)
                .unwrap()
        };
        (
            open("access_token", access),
            refresh.map(|r| open("refresh_token", r)),
        )
    }

    /// Whether this is the peer side (for operations that spend values and
    /// so need a supply per side).
    pub fn is_peer(&self) -> bool {
        self.peer
    }

    /// Gathers planner statistics for every table and index.
    pub async fn analyze(&self) {
        run!(&self.pool, |p| sqlx::query("ANALYZE")
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
    }

    /// One user by id, the columns and order `Users::get_by_id` reads.
    pub async fn get_user(&self, id: Uuid) -> Option<Uuid> {
        self.get_user_with(id, "").await
    }

    /// [`Self::get_user`] with the bound `LIMIT ?` that SeaORM's `.one()`
    /// sends: the statement shape SQLite re-plans on every bind without
    /// the query planner stability guarantee.
    pub async fn get_user_limited(&self, id: Uuid) -> Option<Uuid> {
        self.get_user_with(id, " LIMIT ?").await
    }

    async fn get_user_with(&self, id: Uuid, limit: &str) -> Option<Uuid> {
        let enums = match self.pool {
            Pool::Sqlite(_) => "tier, tenant_id, is_active, user_status, role",
            Pool::Postgres(_) => {
                "CAST(tier AS TEXT), tenant_id, is_active, CAST(user_status AS TEXT), CAST(role AS TEXT)"
            }
        };
        let q = sql(
            &self.pool,
            &format!(
                "SELECT id, email, display_name, {enums}, is_admin, approved_by, approved_at, \
                 firebase_uid, auth_provider, created_at, last_active FROM users WHERE id = ?{limit}"
            ),
        );
        run!(&self.pool, |p| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id);
            if !limit.is_empty() {
                query = query.bind(1i64);
            }
            let row = query.fetch_optional(p).await.unwrap()?;
            let id: Uuid = row.get(0);
            let _email: String = row.get(1);
            let _name: Option<String> = row.get(2);
            let _tier: String = row.get(3);
            let _tenant: Option<Uuid> = row.get(4);
            let _active: bool = row.get(5);
            let _status: String = row.get(6);
            let _role: String = row.get(7);
            let _admin: bool = row.get(8);
            let _by: Option<Uuid> = row.get(9);
            let _at: Option<DateTime<FixedOffset>> = row.get(10);
            let _fb: Option<String> = row.get(11);
            let _auth: String = row.get(12);
            let _created: DateTime<FixedOffset> = row.get(13);
            let _last: DateTime<FixedOffset> = row.get(14);
            Some(id)
        })
    }

    pub async fn insert_tenant(&self, owner: UserId) -> TenantId {
        let id = TenantId::new();
        let now = Utc::now().fixed_offset();
        let q = sql(
            &self.pool,
            "INSERT INTO tenants (id, name, slug, owner_user_id, is_active, created_at, updated_at) \
             VALUES (?, 'Bench', ?, ?, TRUE, ?, ?)",
        );
        run!(&self.pool, |p| sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(id.as_uuid())
            .bind(format!("bench-{id}"))
            .bind(owner.as_uuid())
            .bind(now)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
        id
    }

    pub async fn upsert_token(&self, tenant: TenantId, token: &NewOAuthToken) {
        let user = token.user_id.as_uuid();
        let provider = pierre_db::provider_name(token.provider);
        let access = self
            .keyring
            .seal(
                &ctx("access_token", tenant, user, &provider),
                &token.access_token,
            )
            .unwrap();
        let refresh = token.refresh_token.as_ref().map(|r| {
            self.keyring
                .seal(&ctx("refresh_token", tenant, user, &provider), r)
                .unwrap()
        });
        let now = Utc::now().fixed_offset();
        let q = sql(
            &self.pool,
            "INSERT INTO user_oauth_tokens (id, user_id, tenant_id, provider, access_token, refresh_token, \
             token_type, expires_at, scope, created_at, updated_at, last_sync) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, tenant_id, provider) DO UPDATE SET access_token = excluded.access_token, \
             refresh_token = excluded.refresh_token, token_type = excluded.token_type, \
             expires_at = excluded.expires_at, scope = excluded.scope, updated_at = excluded.updated_at",
        );
        // The same guarded write as the repository: in a write transaction
        // that first checks (share-locked on PostgreSQL) that the data key
        // is still stored.
        let (begin, check) = match self.pool {
            Pool::Sqlite(_) => (
                "BEGIN IMMEDIATE",
                "SELECT secret_type FROM system_secrets WHERE secret_type IN ('data_key.v1')",
            ),
            Pool::Postgres(_) => (
                "BEGIN",
                "SELECT secret_type FROM system_secrets WHERE secret_type IN ('data_key.v1') FOR SHARE",
            ),
        };
        run!(&self.pool, |p| {
            let mut tx = p.begin_with(begin).await.unwrap();
            sqlx::query(check).fetch_all(&mut *tx).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(Uuid::now_v7())
                .bind(user)
                .bind(tenant.as_uuid())
                .bind(provider.as_str())
                .bind(access)
                .bind(refresh)
                .bind(token.token_type.as_str())
                .bind(token.expires_at.map(|t| t.fixed_offset()))
                .bind(token.scope.as_deref())
                .bind(now)
                .bind(now)
                .bind(Option::<DateTime<FixedOffset>>::None)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        });
    }

    pub async fn get_token(&self, tenant: TenantId, user: UserId, provider: &str) -> TokenRow {
        let q = sql(
            &self.pool,
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM user_oauth_tokens \
                 WHERE tenant_id = ? AND user_id = ? AND provider = ?"
            ),
        );
        macro_rules! decode {
            ($row:expr) => {{
                let row = $row;
                let tenant_id: Uuid = row.get(2);
                let user_id: Uuid = row.get(1);
                let provider: String = row.get(3);
                let access: String = row.get(4);
                let refresh: Option<String> = row.get(5);
                let tenant_id_typed = TenantId::from_uuid(tenant_id);
                TokenRow {
                    id: row.get(0),
                    access: self
                        .keyring
                        .open(
                            &ctx("access_token", tenant_id_typed, user_id, &provider),
                            &access,
                        )
                        .unwrap(),
                    refresh: refresh.map(|r| {
                        self.keyring
                            .open(
                                &ctx("refresh_token", tenant_id_typed, user_id, &provider),
                                &r,
                            )
                            .unwrap()
                    }),
                    user_id,
                    tenant_id,
                    provider,
                    token_type: row.get(6),
                    expires_at: row.get(7),
                    scope: row.get(8),
                    created_at: row.get(9),
                    updated_at: row.get(10),
                    last_sync: row.get(11),
                }
            }};
        }
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(provider)
                .fetch_one(p)
                .await
                .unwrap();
            decode!(row)
        })
    }

    /// Adds `n` active users with distinct creation times, in chunks.
    /// Inserts users `from..to` (emails `paging{i}@bench.org`), active,
    /// 37 ms apart in `created_at`; returns their ids.
    pub async fn insert_users(&self, from: usize, to: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(to - from);
        let base = Utc::now() - chrono::Duration::days(400);
        let status = match self.pool {
            Pool::Sqlite(_) => "'active'",
            Pool::Postgres(_) => "'active'::user_status",
        };
        for chunk_start in (from..to).step_by(500) {
            let end = (chunk_start + 500).min(to);
            let mut text = String::from(
                "INSERT INTO users (id, email, password_hash, user_status, created_at, last_active) VALUES ",
            );
            for i in chunk_start..end {
                if i > chunk_start {
                    text.push(',');
                }
                text.push_str(&format!("(?, ?, 'h', {status}, ?, ?)"));
            }
            let q = sql(&self.pool, &text);
            run!(&self.pool, |p| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(q));
                for i in chunk_start..end {
                    let at = (base + chrono::Duration::milliseconds(i as i64 * 37)).fixed_offset();
                    let id = Uuid::now_v7();
                    ids.push(id);
                    query = query
                        .bind(id)
                        .bind(format!("paging{i}@bench.org"))
                        .bind(at)
                        .bind(at);
                }
                query.execute(p).await.map(|_| ())
            })
            .unwrap();
        }
        ids
    }

    /// The (created_at, id) of the active user at `depth` (setup only).
    pub async fn position_at(&self, depth: usize) -> (DateTime<FixedOffset>, Uuid) {
        let q = sql(
            &self.pool,
            &format!(
                "SELECT created_at, id FROM users WHERE CAST(user_status AS TEXT) = 'active' \
                 ORDER BY created_at, id LIMIT 1 OFFSET {}",
                depth - 1
            ),
        );
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(q))
                .fetch_one(p)
                .await
                .unwrap();
            (row.get(0), row.get(1))
        })
    }

    /// One page of active users after `after`, as the repository queries it.
    pub async fn users_page(
        &self,
        after: Option<(DateTime<FixedOffset>, Uuid)>,
        limit: i64,
    ) -> usize {
        self.users_page_with(after, None, limit).await
    }

    /// The same page reached with OFFSET instead of a keyset (for comparison).
    pub async fn users_page_offset(&self, offset: usize, limit: i64) -> usize {
        self.users_page_with(None, Some(offset), limit).await
    }

    async fn users_page_with(
        &self,
        after: Option<(DateTime<FixedOffset>, Uuid)>,
        offset: Option<usize>,
        limit: i64,
    ) -> usize {
        let (status_col, status_val) = match self.pool {
            Pool::Sqlite(_) => ("tier, user_status, role", "?"),
            Pool::Postgres(_) => (
                "CAST(tier AS TEXT), CAST(user_status AS TEXT), CAST(role AS TEXT)",
                "CAST(? AS user_status)",
            ),
        };
        let cols = format!(
            "id, email, display_name, password_hash, {status_col}, tenant_id, is_active, is_admin, \
             approved_by, approved_at, created_at, last_active, firebase_uid, auth_provider"
        );
        let filter = if after.is_some() {
            " AND (created_at, id) > (?, ?)"
        } else {
            ""
        };
        let skip = offset.map(|n| format!(" OFFSET {n}")).unwrap_or_default();
        let q = sql(
            &self.pool,
            &format!(
                "SELECT {cols} FROM users WHERE user_status = {status_val}{filter} \
                 ORDER BY created_at ASC, id ASC LIMIT ?{skip}"
            ),
        );
        run!(&self.pool, |p| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(q)).bind("active");
            if let Some((at, id)) = after {
                query = query.bind(at).bind(id);
            }
            let rows = query.bind(limit + 1).fetch_all(p).await.unwrap();
            let mut n = 0;
            for row in rows.iter().take(limit as usize) {
                let _id: Uuid = row.get(0);
                let _email: String = row.get(1);
                let _name: Option<String> = row.get(2);
                let _hash: String = row.get(3);
                let _tier: String = row.get(4);
                let _status: String = row.get(5);
                let _role: String = row.get(6);
                let _tenant: Option<Uuid> = row.get(7);
                let _active: bool = row.get(8);
                let _admin: bool = row.get(9);
                let _by: Option<Uuid> = row.get(10);
                let _at: Option<DateTime<FixedOffset>> = row.get(11);
                let _created: DateTime<FixedOffset> = row.get(12);
                let _last: DateTime<FixedOffset> = row.get(13);
                let _fb: Option<String> = row.get(14);
                let _auth: String = row.get(15);
                n += 1;
            }
            n
        })
    }
}

/// Creates the database `name` (dropped first if a run left it) on the
/// server and returns its URL: owned by, and to be opened as, `owner` when
/// given, else as the admin.
pub async fn fresh_postgres_database(admin_url: &str, name: &str, owner: Option<&str>) -> String {
    let admin = sea_orm::Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    let owned = owner.map(|o| format!(" OWNER {o}")).unwrap_or_default();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}{owned}"))
        .await
        .unwrap();
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    match owner {
        None => format!("{base}/{name}"),
        Some(owner) => {
            let (scheme, rest) = base.split_once("://").unwrap();
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{owner}@{host}/{name}")
        }
    }
}

/// A decoded API key row (what the repository returns, hash included for
/// the check).
#[allow(dead_code, reason = "read only through Debug, when a check fails")]
#[derive(Debug)]
pub struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    key_prefix: String,
    is_active: bool,
    expires_at: Option<DateTime<FixedOffset>>,
    created_at: DateTime<FixedOffset>,
}

impl Raw {
    /// Looks a presented key up by its 20-character prefix and verifies its
    /// hash, activity and expiry, as the repository does.
    pub async fn find_key(&self, plaintext: &str) -> Option<KeyRow> {
        let prefix = &plaintext[..20];
        let (tier, _) = match self.pool {
            Pool::Sqlite(_) => ("tier", ()),
            Pool::Postgres(_) => ("CAST(tier AS TEXT)", ()),
        };
        let q = sql(
            &self.pool,
            &format!(
                "SELECT id, user_id, name, description, key_hash, key_prefix, {tier}, rate_limit_requests, \
                 rate_limit_window_seconds, is_active, expires_at, last_used_at, created_at \
                 FROM api_keys WHERE key_prefix = ?"
            ),
        );
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(prefix)
                .fetch_optional(p)
                .await
                .unwrap()?;
            let hash: String = row.get(4);
            if !pierre_db::crypto::hashing::verify(plaintext, &hash) {
                return None;
            }
            let _description: Option<String> = row.get(3);
            let _tier: String = row.get(6);
            let _rl: Option<i32> = row.get(7);
            let _rw: Option<i32> = row.get(8);
            let _last: Option<DateTime<FixedOffset>> = row.get(11);
            let key = KeyRow {
                id: row.get(0),
                user_id: row.get(1),
                name: row.get(2),
                key_prefix: row.get(5),
                is_active: row.get(9),
                expires_at: row.get(10),
                created_at: row.get(12),
            };
            let usable = key.is_active && key.expires_at.is_none_or(|t| t > Utc::now());
            usable.then_some(key)
        })
    }

    /// Consumes an authorization code: one conditional UPDATE … RETURNING,
    /// the row decoded as the repository does.
    ///
    /// `fetch_all`, as the repository: on SQLite, `fetch_optional` hands the
    /// row back before the statement ends, and sqlx drops the error of the
    /// reset that commits it, so a failed commit would pass for a consumed
    /// code. The raw side pays for the same guarantee.
    pub async fn consume_code(&self, code: &str, client: &str, redirect: &str) -> Option<CodeRow> {
        let q = sql(
            &self.pool,
            "UPDATE oauth2_auth_codes SET used = TRUE WHERE code = ? AND client_id = ? \
             AND redirect_uri = ? AND used = FALSE AND expires_at > ? RETURNING *",
        );
        let hash = pierre_db::crypto::hashing::hash(code);
        let now = Utc::now().fixed_offset();
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(hash)
                .bind(client)
                .bind(redirect)
                .bind(now)
                .fetch_all(p)
                .await
                .unwrap()
                .pop()?;
            Some(CodeRow {
                tenant_id: row.get("tenant_id"),
                user_id: row.get("user_id"),
                client_id: row.get("client_id"),
                redirect_uri: row.get("redirect_uri"),
                scope: row.get("scope"),
                state: row.get("state"),
                code_challenge: row.get("code_challenge"),
                code_challenge_method: row.get("code_challenge_method"),
                expires_at: row.get("expires_at"),
            })
        })
    }

    /// Rotates a refresh token in one write transaction: consume the old
    /// one, check the client, insert the successor.
    pub async fn rotate_refresh(&self, token: &str, client: &str) -> Option<Secret> {
        use pierre_db::crypto::hashing;
        let now = Utc::now().fixed_offset();
        let consume = sql(
            &self.pool,
            "UPDATE oauth2_refresh_tokens SET revoked = TRUE WHERE token = ? AND client_id = ? \
             AND revoked = FALSE AND expires_at > ? RETURNING *",
        );
        let client_row = sql(
            &self.pool,
            "SELECT * FROM oauth2_clients WHERE client_id = ?",
        );
        let insert = sql(
            &self.pool,
            "INSERT INTO oauth2_refresh_tokens (token, client_id, user_id, tenant_id, scope, \
             expires_at, created_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let begin = match self.pool {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        };
        run!(&self.pool, |p| {
            let mut tx = p.begin_with(begin).await.unwrap();
            let old = sqlx::query(sqlx::AssertSqlSafe(consume))
                .bind(hashing::hash(token))
                .bind(client)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .unwrap()?;
            let client_id: String = old.get("client_id");
            let user: Uuid = old.get("user_id");
            let tenant: Uuid = old.get("tenant_id");
            let scope: Option<String> = old.get("scope");
            let registered = sqlx::query(sqlx::AssertSqlSafe(client_row))
                .bind(&client_id)
                .fetch_optional(&mut *tx)
                .await
                .unwrap()?;
            let expires: Option<DateTime<FixedOffset>> = registered.get("expires_at");
            if expires.is_some_and(|at| at <= now) {
                return None;
            }
            let fresh = hashing::generate("mcp_refresh_").unwrap();
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(hashing::hash(fresh.expose()))
                .bind(client_id)
                .bind(user)
                .bind(tenant)
                .bind(scope)
                .bind(now + chrono::Duration::days(30))
                .bind(now)
                .bind(false)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            Some(fresh)
        })
    }

    /// Validates an MCP token: one conditional UPDATE … RETURNING.
    pub async fn validate_mcp(&self, token: &str) -> Option<(Uuid, Uuid)> {
        let q = sql(
            &self.pool,
            "UPDATE user_mcp_tokens SET usage_count = usage_count + 1, \
             last_used_at = GREATEST(COALESCE(last_used_at, ?), ?) WHERE token_hash = ? AND is_revoked = FALSE \
             AND (expires_at IS NULL OR expires_at > ?) RETURNING id, user_id",
        );
        let now = Utc::now().fixed_offset();
        let hash = pierre_db::crypto::hashing::hash(token);
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(now)
                .bind(now)
                .bind(hash)
                .bind(now)
                .fetch_all(p) // as `consume_code`
                .await
                .unwrap()
                .pop()?;
            Some((row.get(0), row.get(1)))
        })
    }

    /// Records a use of an admin token: the counters and the usage row in
    /// one write transaction.
    pub async fn record_admin_use(&self, token: Uuid) {
        let bump = sql(
            &self.pool,
            "UPDATE admin_tokens SET usage_count = usage_count + 1, \
             last_used_at = GREATEST(COALESCE(last_used_at, ?), ?), last_used_ip = ? WHERE id = ?",
        );
        let insert = sql(
            &self.pool,
            "INSERT INTO admin_token_usage (id, admin_token_id, timestamp, action, \
             target_resource, ip_address, user_agent, request_size_bytes, success, \
             error_message, response_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let begin = match self.pool {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        };
        let now = Utc::now().fixed_offset();
        run!(&self.pool, |p| {
            let mut tx = p.begin_with(begin).await.unwrap();
            let changed = sqlx::query(sqlx::AssertSqlSafe(bump))
                .bind(now)
                .bind(now)
                .bind(Some("10.0.0.1"))
                .bind(token)
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(changed, 1);
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(Uuid::now_v7())
                .bind(token)
                .bind(now)
                .bind("list_keys")
                .bind(Option::<String>::None)
                .bind(Some("10.0.0.1"))
                .bind(Option::<String>::None)
                .bind(Option::<i64>::None)
                .bind(true)
                .bind(Option::<String>::None)
                .bind(Option::<i32>::None)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    }

    /// One usage row, one statement.
    pub async fn record_usage(&self, key: Uuid, i: usize) {
        let q = sql(
            &self.pool,
            "INSERT INTO api_key_usage (id, api_key_id, timestamp, tool_name, status_code, response_time_ms, \
             error_message, request_size_bytes, response_size_bytes, ip_address, user_agent) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        run!(&self.pool, |p| sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(Uuid::now_v7())
            .bind(key)
            .bind(Utc::now().fixed_offset())
            .bind("get_activities")
            .bind(200i32)
            .bind(Some((i % 300) as i32))
            .bind(Option::<String>::None)
            .bind(Some(512i64))
            .bind(Some(2048i64))
            .bind(Some("127.0.0.1"))
            .bind(Some("bench"))
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
    }

    /// `Usage::user_usage_stats`: the usage of every key of `user` in
    /// `[from, to)`, grouped by tool in one query, totalled here.
    pub async fn user_usage_stats(
        &self,
        user: Uuid,
        from: DateTime<FixedOffset>,
        to: DateTime<FixedOffset>,
    ) -> (u64, u64, Option<f64>) {
        let q = sql(
            &self.pool,
            "SELECT tool_name, COUNT(*), COUNT(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 END), \
             SUM(response_time_ms), COUNT(response_time_ms) FROM api_key_usage \
             WHERE api_key_id IN (SELECT id FROM api_keys WHERE user_id = ?) \
             AND timestamp >= ? AND timestamp < ? GROUP BY tool_name ORDER BY tool_name",
        );
        let rows: Vec<(String, i64, i64, Option<i64>, i64)> = run!(&self.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(user)
                .bind(from)
                .bind(to)
                .fetch_all(p)
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                        .collect()
                })
        })
        .unwrap();
        let (mut requests, mut successes, mut total_ms, mut timed) = (0u64, 0u64, 0u64, 0u64);
        let mut by_tool = std::collections::BTreeMap::new();
        for (tool, n, ok, ms, t) in rows {
            requests += n as u64;
            successes += ok as u64;
            total_ms += ms.unwrap_or(0) as u64;
            timed += t as u64;
            by_tool.insert(tool, n as u64);
        }
        std::hint::black_box(by_tool);
        (
            requests,
            successes,
            (timed > 0).then(|| total_ms as f64 / timed as f64),
        )
    }

    /// `A2aSessions::touch`: one conditional UPDATE counting in SQL.
    pub async fn touch_session(&self, token: &str) {
        let q = sql(
            &self.pool,
            "UPDATE a2a_sessions SET last_activity = GREATEST(COALESCE(last_activity, ?), ?), \
             requests_count = requests_count + ? WHERE session_token = ? AND expires_at > ?",
        );
        let now = Utc::now().fixed_offset();
        let hash = pierre_db::crypto::hashing::hash(token);
        let changed = run!(&self.pool, |p| sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(now)
            .bind(now)
            .bind(1i64)
            .bind(hash)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .unwrap();
        assert_eq!(changed, 1);
    }

    /// `A2aUsage::record`: one INSERT of every column, of an active
    /// client only.
    pub async fn record_a2a_usage(&self, client: Uuid, i: usize) {
        let lock = match self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR SHARE",
        };
        let q = sql(
            &self.pool,
            &format!(
                "INSERT INTO a2a_usage (id, client_id, session_token, timestamp, tool_name, \
                 response_time_ms, status_code, error_message, request_size_bytes, \
                 response_size_bytes, ip_address, user_agent, protocol_version, \
                 client_capabilities, granted_scopes) \
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS \
                 (SELECT id FROM a2a_clients WHERE id = ? AND is_active = ?{lock})"
            ),
        );
        let empty = sqlx::types::Json(serde_json::json!([]));
        run!(&self.pool, |p| sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(Uuid::now_v7())
            .bind(client)
            .bind(Option::<String>::None)
            .bind(Utc::now().fixed_offset())
            .bind("get_stats")
            .bind(Some((i % 300) as i32))
            .bind(200i32)
            .bind(Option::<String>::None)
            .bind(Some(512i64))
            .bind(Some(2048i64))
            .bind(Some("127.0.0.1"))
            .bind(Some("bench"))
            .bind("1.0")
            .bind(&empty)
            .bind(&empty)
            .bind(client)
            .bind(true)
            .execute(p)
            .await
            .map(|r| assert_eq!(r.rows_affected(), 1)))
        .unwrap();
    }
}

mod content;
