//! A database written the way the original server writes one: its schema,
//! its `_sqlx_migrations` ledger, its data key wrapped by its master key
//! (ring directly, as the original does, not the library's legacy reader),
//! and rows in its conventions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pierre_db::MasterKey;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

/// The original's schema, as adoption reads it.
const DDL: &str = include_str!("../../../src/adopt/legacy_schema.sql");

/// The original's migrations: `20250120000001` … `…021`, no `…016`.
fn mirrored_versions() -> impl Iterator<Item = i64> {
    (1..=21)
        .filter(|n| *n != 16)
        .map(|n| 20_250_120_000_000 + n)
}

pub struct Legacy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// The original server's master key.
    pub master: MasterKey,
    data_key: [u8; 32],
}

impl Legacy {
    /// A database after the original's 20 migrations, with its data key.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pierre.db");
        let random = SystemRandom::new();
        let mut master = [0u8; 32];
        let mut data_key = [0u8; 32];
        random.fill(&mut master).unwrap();
        random.fill(&mut data_key).unwrap();
        let legacy = Self {
            _dir: dir,
            path,
            master: MasterKey::from_bytes(&master).unwrap(),
            data_key,
        };
        let conn = legacy.open(true).await;
        conn.execute_unprepared(DDL).await.unwrap();
        for version in mirrored_versions() {
            ledger_insert(&conn, version, true).await;
        }
        let wrapped = seal(&master, "", &data_key);
        let now = "2025-06-01T10:00:00.000000+00:00";
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "INSERT INTO system_secrets (secret_type, secret_value, created_at, updated_at) \
             VALUES ('database_encryption_key', ?, ?, ?)",
            [wrapped.into(), now.into(), now.into()],
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
        legacy
    }

    /// The URL of the source, as a user would give it.
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    /// Runs `sql` on the source (the tests' own changes to it).
    pub async fn sql(&self, sql: &str) {
        let conn = self.open(false).await;
        conn.execute_unprepared(sql).await.unwrap();
        conn.close().await.unwrap();
    }

    /// Adds a ledger row, as the original's migrator would.
    pub async fn ledger_row(&self, version: i64, success: bool) {
        let conn = self.open(false).await;
        ledger_insert(&conn, version, success).await;
        conn.close().await.unwrap();
    }

    /// `n` users as the original writes them: `role` never set (admins
    /// have `is_admin = 1`), `last_active` from `datetime('now')`.
    pub async fn users(&self, n: usize) {
        let conn = self.open(false).await;
        for i in 0..n {
            conn.execute_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                "INSERT INTO users (id, email, display_name, password_hash, tier, is_active, \
                 user_status, is_admin, created_at, last_active) \
                 VALUES (?, ?, ?, '$2b$12$abcdefghijklmnopqrstuv', 'starter', 1, 'active', ?, \
                 '2025-03-01T08:00:00.123+00:00', datetime('now'))",
                [
                    pierre_db::uuid::Uuid::new_v4().to_string().into(),
                    format!("user{i}@example.org").into(),
                    Value::from(Some(format!("User {i}"))),
                    i64::from(i == 0).into(),
                ],
            ))
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }

    /// A tenant with its owner (a user row), returning the tenant id.
    pub async fn tenant(&self, slug: &str) -> String {
        let tenant = pierre_db::uuid::Uuid::new_v4().to_string();
        let owner = pierre_db::uuid::Uuid::new_v4().to_string();
        self.exec(
            "INSERT INTO users (id, email, password_hash, created_at, last_active) \
             VALUES (?, ?, 'x', '2025-03-01T08:00:00+00:00', '2025-03-01 08:00:00')",
            vec![owner.clone().into(), format!("owner@{slug}.example").into()],
        )
        .await;
        self.exec(
            "INSERT INTO tenants (id, name, slug, owner_user_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, '2025-03-01T08:00:00+00:00', '2025-03-01T08:00:00+00:00')",
            vec![
                tenant.clone().into(),
                slug.into(),
                slug.into(),
                owner.into(),
            ],
        )
        .await;
        tenant
    }

    /// An OAuth token row as the original writes it: both tokens sealed
    /// under `tenant|user|provider|user_oauth_tokens`, the refresh token
    /// optional. Returns the row id.
    pub async fn oauth_token(
        &self,
        tenant: &str,
        user: &str,
        provider: &str,
        access: &str,
        refresh: Option<&str>,
    ) -> String {
        let id = pierre_db::uuid::Uuid::new_v4().to_string();
        let aad = format!("{tenant}|{user}|{provider}|user_oauth_tokens");
        let refresh = refresh.map(|r| self.seal(&aad, r));
        self.exec(
            "INSERT INTO user_oauth_tokens (id, user_id, tenant_id, provider, access_token, \
             refresh_token, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, '2025-04-01T09:30:00.5+00:00', '2025-04-01T09:30:00.5+00:00')",
            vec![
                id.clone().into(),
                user.into(),
                tenant.into(),
                provider.into(),
                self.seal(&aad, access).into(),
                Value::from(refresh),
            ],
        )
        .await;
        id
    }

    /// A tenant's OAuth client credentials as the original writes them: a
    /// NULL id, the secret sealed under `tenant|provider|tenant_oauth_credentials`,
    /// or under no context at all when `with_context` is false (the
    /// original's `encrypt_data`).
    pub async fn tenant_credentials(
        &self,
        tenant: &str,
        provider: &str,
        secret: &str,
        with_context: bool,
    ) {
        let aad = if with_context {
            format!("{tenant}|{provider}|tenant_oauth_credentials")
        } else {
            String::new()
        };
        self.exec(
            "INSERT INTO tenant_oauth_credentials (id, tenant_id, provider, client_id, \
             client_secret_encrypted, redirect_uri, scopes, created_at, updated_at) \
             VALUES (NULL, ?, ?, 'client', ?, 'https://app.example/cb', '[\"read\"]', \
             '2025-04-01 09:30:00', '2025-04-01 09:30:00')",
            vec![
                tenant.into(),
                provider.into(),
                self.seal(&aad, secret).into(),
            ],
        )
        .await;
    }

    /// A user as the original writes one, in `tenant` if given; returns
    /// its id.
    pub async fn user(&self, email: &str, tenant: Option<&str>) -> String {
        let id = pierre_db::uuid::Uuid::new_v4().to_string();
        self.exec(
            "INSERT INTO users (id, email, display_name, password_hash, tier, tenant_id, \
             is_active, user_status, is_admin, created_at, last_active) \
             VALUES (?, ?, NULL, '$2b$12$abcdefghijklmnopqrstuv', 'starter', ?, 1, 'active', 0, \
             '2025-03-01T08:00:00.123456+00:00', '2025-03-02 10:11:12')",
            vec![
                id.clone().into(),
                email.into(),
                Value::from(tenant.map(str::to_owned)),
            ],
        )
        .await;
        id
    }

    /// A credential in the original's HMAC form: standard base64 of
    /// HMAC-SHA256 under its data key.
    pub fn hmac(&self, credential: &str) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.data_key);
        STANDARD.encode(ring::hmac::sign(&key, credential.as_bytes()).as_ref())
    }

    /// `plaintext` sealed the original's way under `aad` with its data key.
    pub fn seal(&self, aad: &str, plaintext: &str) -> String {
        seal(&self.data_key, aad, plaintext.as_bytes())
    }

    /// Runs one statement with `values` bound.
    pub async fn exec(&self, sql: &str, values: Vec<Value>) {
        let conn = self.open(false).await;
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    /// The file's bytes, to show it was not written.
    pub fn file_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    /// Its tables and their columns.
    pub async fn columns(&self) -> BTreeMap<String, BTreeSet<String>> {
        let conn = self.open(false).await;
        let columns = columns_of(&conn).await;
        conn.close().await.unwrap();
        columns
    }

    async fn open(&self, create: bool) -> DatabaseConnection {
        let mode = if create { "?mode=rwc" } else { "" };
        sea_orm::Database::connect(format!("sqlite://{}{mode}", self.path.display()))
            .await
            .unwrap()
    }
}

/// The tables of a SQLite database (its own and the migration ledgers
/// excepted) and their columns.
pub async fn columns_of(conn: &impl ConnectionTrait) -> BTreeMap<String, BTreeSet<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' \
             AND m.name NOT IN ('_sqlx_migrations', 'seaql_migrations')",
        ))
        .await
        .unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let (table, column): (String, String) = (
            row.try_get_by_index(0).unwrap(),
            row.try_get_by_index(1).unwrap(),
        );
        tables.entry(table).or_default().insert(column);
    }
    tables
}

async fn ledger_insert(conn: &DatabaseConnection, version: i64, success: bool) {
    // sqlx keeps the SHA-384 of the migration's text.
    let checksum = ring::digest::digest(&ring::digest::SHA384, version.to_string().as_bytes());
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, ?, ?, ?)",
        [
            version.into(),
            format!("migration {version}").into(),
            success.into(),
            checksum.as_ref().to_vec().into(),
            1_234_567i64.into(),
        ],
    ))
    .await
    .unwrap();
}

/// AES-256-GCM the original's way: base64 of nonce ‖ ciphertext ‖ tag,
/// `aad` as UTF-8.
fn seal(key: &[u8], aad: &str, plaintext: &[u8]) -> String {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).unwrap();
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad.as_bytes()),
        &mut sealed,
    )
    .unwrap();
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&sealed);
    STANDARD.encode(raw)
}
