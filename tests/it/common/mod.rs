//! The test harness: every test gets a fresh, migrated database on SQLite in
//! memory, and the same test runs on PostgreSQL when
//! `PIERRE_TEST_POSTGRES_URL` is set, in a database of its own so tests run
//! in parallel. A set URL whose server cannot be reached FAILS the test:
//! nothing is skipped silently.
#![allow(
    dead_code,
    reason = "shared helpers: not every test module uses each one"
)]

#[path = "../../support/postgres_db.rs"]
mod postgres_db;
pub mod rng;

use pierre_db::{Database, DatabaseConfig, MasterKey};
use sea_orm::ConnectionTrait;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "PIERRE_TEST_POSTGRES_URL";

/// A fresh database and what it runs on.
pub struct TestDb {
    /// The migrated database.
    pub db: Database,
    /// `sqlite` or `postgres`, for assertion messages.
    pub backend: &'static str,
    /// The URL it was opened with.
    pub url: String,
}

/// With this variable set to `1`, the SQLite side of every test opens a
/// file of its own instead of memory, so that the hot reads run on the
/// calling thread; set to `off`, files with that path turned off (every
/// read through sqlx). CI runs the suite in memory, on files, and on
/// files with the path off.
pub const SQLITE_FILES_VAR: &str = "PIERRE_TEST_SQLITE_FILES";

/// The run's SQLite mode: `None` in memory, `Some(true)` on files read on
/// the calling thread, `Some(false)` on files read through sqlx. Any other
/// value of [`SQLITE_FILES_VAR`] fails the test that asks: a typo must not
/// quietly run another mode.
fn sqlite_mode() -> Option<bool> {
    match std::env::var(SQLITE_FILES_VAR).as_deref().map(str::trim) {
        Err(_) | Ok("") => None,
        Ok("1") => Some(true),
        Ok("off") => Some(false),
        Ok(other) => panic!("{SQLITE_FILES_VAR} must be 1 or off, got {other:?}"),
    }
}

/// Whether the SQLite side runs on files (see [`SQLITE_FILES_VAR`]).
pub fn sqlite_files() -> bool {
    sqlite_mode().is_some()
}

/// Whether handles on SQLite files read on the calling thread (see
/// [`SQLITE_FILES_VAR`]).
pub fn calling_thread_reads() -> bool {
    sqlite_mode() != Some(false)
}

/// A migrated SQLite database: in memory, or a new file in this run's
/// directory under the target's scratch space with [`SQLITE_FILES_VAR`].
pub async fn sqlite() -> TestDb {
    let url = if sqlite_files() {
        format!("sqlite:{}", new_sqlite_file().display())
    } else {
        "sqlite::memory:".to_owned()
    };
    TestDb {
        db: open(&url).await,
        backend: "sqlite",
        url,
    }
}

/// A migrated PostgreSQL database of its own, when the server is configured.
pub async fn postgres() -> Option<TestDb> {
    let url = new_postgres_database().await?;
    Some(TestDb {
        db: open(&url).await,
        backend: "postgres",
        url,
    })
}

/// SQLite always, PostgreSQL when configured.
pub async fn databases() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

/// The key refresh interval of test handles: `retire` waits twice this long
/// after a rotation.
pub const KEY_REFRESH: std::time::Duration = std::time::Duration::from_millis(50);

/// A fresh master key for a test.
pub fn key() -> MasterKey {
    MasterKey::generate().expect("random key")
}

async fn open(url: &str) -> Database {
    open_with_pool(url, 4).await
}

/// A path for a new SQLite file. The files of one run share a directory
/// named by its process; those of runs over an hour old are removed when
/// the next run starts (a test's file lives as long as its test).
pub fn new_sqlite_file() -> std::path::PathBuf {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-files");
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for old in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let stale = old
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if stale {
                std::fs::remove_dir_all(old.path()).ok();
            }
        }
        let dir = root.join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    });
    dir.join(format!("t{}.db", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Creates an empty database on the configured server and returns its URL.
pub async fn new_postgres_database() -> Option<String> {
    postgres_db::create(POSTGRES_URL_VAR).await
}

/// A database owned by, and opened as, a role row-level security applies
/// to, whatever the run's mode; `None` without a server.
pub async fn new_walled_postgres_database() -> Option<String> {
    postgres_db::create_walled(POSTGRES_URL_VAR).await
}

/// `url` (a database made by [`new_walled_postgres_database`]) as the
/// server's admin, whom row-level security does not apply to.
pub fn as_admin(url: &str) -> String {
    let admin = std::env::var(POSTGRES_URL_VAR).expect("the server's URL");
    let path = url.rsplit_once('/').map(|(_, p)| p).unwrap_or_default();
    let name = path.split('?').next().unwrap_or_default();
    postgres_db::with_database(&admin, name)
}

/// How many migrations the schema has (all pending on a fresh database).
pub const MIGRATIONS: usize = 23;

/// A user with `email` (through the users repository); returns its id.
pub async fn user(t: &TestDb, email: &str) -> pierre_db::UserId {
    let new = pierre_db::NewUser::new(email, "h");
    t.db.users().create(new).await.expect("create user").id
}

/// Two users and two tenants (both owned by Ada): the cast of the tests
/// where one user or tenant must not reach the other's rows.
pub struct World {
    /// The database.
    pub t: TestDb,
    /// The first user.
    pub ada: pierre_db::UserId,
    /// The second user.
    pub bob: pierre_db::UserId,
    /// The first tenant.
    pub acme: pierre_db::TenantId,
    /// The second tenant.
    pub globex: pierre_db::TenantId,
}

impl World {
    /// The cast, created in `t`.
    pub async fn new(t: TestDb) -> Self {
        let ada = user(&t, "ada@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let acme = tenant(&t, ada).await;
        let globex = tenant(&t, ada).await;
        Self {
            t,
            ada,
            bob,
            acme,
            globex,
        }
    }
}

/// The cast on each configured database (SQLite, and PostgreSQL when set).
pub async fn worlds() -> Vec<World> {
    let mut out = Vec::new();
    for t in databases().await {
        out.push(World::new(t).await);
    }
    out
}

/// A tenant owned by `owner`, written directly (the tenants repository has
/// its own tests); returns its id.
pub async fn tenant(t: &TestDb, owner: pierre_db::UserId) -> pierre_db::TenantId {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let id = pierre_db::TenantId::new();
    let now = chrono::Utc::now().fixed_offset();
    entity::tenants::Entity::insert(entity::tenants::ActiveModel {
        id: Set(id.as_uuid()),
        name: Set("Tenant".into()),
        slug: Set(format!("t-{id}")),
        domain: Set(None),
        plan: Set(entity::sea_orm_active_enums::SubscriptionTier::Starter),
        owner_user_id: Set(owner.as_uuid()),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(t.db.unscoped_connection())
    .await
    .expect("insert tenant");
    id
}

/// [`tenant`] for a bare `Database`.
pub async fn tenant_of(db: &Database, owner: pierre_db::UserId) -> pierre_db::TenantId {
    let t = TestDb {
        db: db.clone(),
        backend: "",
        url: String::new(),
    };
    tenant(&t, owner).await
}

/// Databases for race tests: a SQLite FILE with a pool of 8 (several
/// connections really contend) and PostgreSQL when configured.
pub async fn racing(dir: &tempfile::TempDir) -> Vec<TestDb> {
    let file = format!("sqlite:{}", dir.path().join("race.db").display());
    let mut all = vec![TestDb {
        db: open_with_pool(&file, 8).await,
        backend: "sqlite file",
        url: file,
    }];
    if let Some(url) = new_postgres_database().await {
        all.push(TestDb {
            db: open_with_pool(&url, 8).await,
            backend: "postgres",
            url,
        });
    }
    all
}

async fn open_with_pool(url: &str, pool: u32) -> Database {
    open_keyed(url, key(), pool).await
}

/// A handle on `url` with master key `key` and a pool of `pool`: several
/// handles on one database stand for several processes.
pub async fn open_keyed(url: &str, key: MasterKey, pool: u32) -> Database {
    connect(keyed_config(url, key, pool)).await
}

/// The settings of [`open_keyed`], to change before [`connect`].
pub fn keyed_config(url: &str, key: MasterKey, pool: u32) -> DatabaseConfig {
    // Short key refresh, so that tests can retire a key right after
    // rotating it.
    let mut config = DatabaseConfig::new(url, key);
    config.max_connections = pool;
    config.min_connections = 1;
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    config.key_refresh_interval = KEY_REFRESH;
    config.sqlite_calling_thread_reads = calling_thread_reads();
    config.row_level_security = postgres_db::row_level_security() && url.starts_with("postgres");
    config
}

/// Connects with `config`, the wall put up when it sets row-level security.
pub async fn connect(config: DatabaseConfig) -> Database {
    let url = config.url.clone();
    let walled = config.row_level_security;
    let db = Database::connect_with(config)
        .await
        .unwrap_or_else(|err| panic!("open {url}: {err}"));
    if walled {
        wall_up(&db).await;
    }
    db
}

/// Puts row-level security up on `db` unless it is (several handles on one
/// database may ask at once: one of them wins, the others find it up).
pub async fn wall_up(db: &Database) {
    let rls = db.row_level_security();
    let mut tries = 0;
    loop {
        let status = rls.status().await.unwrap();
        if status.enabled {
            assert!(!status.role_bypasses, "the test role escapes the wall");
            return;
        }
        // Another handle enabling at the same moment may win (or deadlock
        // this one): look again once it has committed.
        match rls.enable().await {
            Ok(_) => {}
            Err(err) if tries < 20 => {
                tries += 1;
                eprintln!("enabling row-level security, trying again: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(err) => panic!("enable row-level security: {err}"),
        }
    }
}

/// The text cells of the first column of `sql`'s rows, read under the API.
pub async fn text_column(db: &Database, sql: &str) -> Vec<String> {
    let conn = db.unscoped_connection();
    conn.query_all_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}

/// An A2A client "coach-bot" of `owner`, linked to API key `key`, with
/// the scopes `read_stats` and `tasks`.
pub async fn a2a_client(
    db: &Database,
    owner: pierre_db::UserId,
    key: pierre_db::ApiKeyId,
) -> pierre_db::RegisteredA2aClient {
    let new = pierre_db::NewA2aClient::new(
        owner,
        key,
        "coach-bot",
        format!("pk-{key}"),
        &["read_stats", "tasks"],
    );
    db.a2a_clients()
        .register(new)
        .await
        .expect("register a2a client")
}

/// The URLs of race tests: a SQLite FILE in `dir` and, when configured, a
/// fresh PostgreSQL database.
pub async fn racing_urls(dir: &tempfile::TempDir, name: &str) -> Vec<(&'static str, String)> {
    let mut all = vec![(
        "sqlite file",
        format!("sqlite:{}", dir.path().join(name).display()),
    )];
    all.extend(new_postgres_database().await.map(|url| ("postgres", url)));
    all
}

/// Runs `fut` with the library's clock frozen at `at` for its first poll:
/// a repository reads the clock before its first await, so the call acts
/// as if made at `at`, and the rest of it (and every other task) runs on
/// the real clock.
pub async fn started_at<F: std::future::Future>(
    at: chrono::DateTime<chrono::Utc>,
    fut: F,
) -> F::Output {
    use std::task::Poll;
    let mut fut = std::pin::pin!(fut);
    let first = {
        let _clock = pierre_db::FrozenClock::at(at);
        std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
    };
    match first {
        Poll::Ready(out) => out,
        Poll::Pending => fut.await,
    }
}

/// Runs `n` copies of `op` at once, released together.
pub async fn all_at_once<F, Fut, T>(n: usize, op: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, fut) = (barrier.clone(), op(i));
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// Asserts that each statement's plan (EXPLAIN QUERY PLAN on SQLite,
/// EXPLAIN on PostgreSQL) neither sorts nor scans a whole table: an index
/// serves its filter and its order.
pub async fn assert_plans_use_indexes(t: &TestDb, statements: Vec<sea_orm::Statement>) {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    let b = t.backend;
    let backend = t.db.unscoped_connection().get_database_backend();
    // One connection for the settings and the EXPLAINs.
    let conn = t.db.unscoped_connection().begin().await.unwrap();
    if backend == DbBackend::Postgres {
        // Few rows: make the planner show whether an index serves the
        // order (with sorting and other scans discouraged, a Sort that
        // remains means none does).
        for setting in ["enable_seqscan", "enable_bitmapscan", "enable_sort"] {
            conn.execute_unprepared(&format!("SET LOCAL {setting} = off"))
                .await
                .unwrap();
        }
    }
    for statement in statements {
        let explain = match backend {
            DbBackend::Sqlite => format!("EXPLAIN QUERY PLAN {}", statement.sql),
            _ => format!("EXPLAIN {}", statement.sql),
        };
        let rows = conn
            .query_all_raw(sea_orm::Statement {
                sql: explain,
                values: statement.values.clone(),
                db_backend: backend,
            })
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|row| match backend {
                DbBackend::Sqlite => row.try_get_by_index::<String>(3).unwrap(),
                _ => row.try_get_by_index::<String>(0).unwrap(),
            })
            .collect();
        let text = plan.join("\n");
        // SQLite says "SCAN t" for a full scan, "SEARCH t USING INDEX" for
        // an index; a covering index scan of the whole table is "SCAN t
        // USING COVERING INDEX", also refused.
        let full_scan = text.lines().any(|line| {
            line.trim_start_matches(['-', '|', ' ', '`'])
                .starts_with("SCAN ")
        });
        assert!(
            !full_scan,
            "{b}: a full scan in the plan of\n{}\n{text}",
            statement.sql
        );
        for bad in ["TEMP B-TREE", "Sort", "Seq Scan"] {
            assert!(
                !text.contains(bad),
                "{b}: {bad} in the plan of\n{}\n{text}",
                statement.sql
            );
        }
    }
}

/// Makes the database refuse, with the message `boom`, any row inserted
/// into `table` whose `column` is `'boom'`: a write that fails after its
/// first statements ran, to show that a transaction takes them back.
pub async fn refuse_boom(t: &TestDb, table: &str, column: &str) {
    use sea_orm::ConnectionTrait;
    let conn = t.db.unscoped_connection();
    let statements = match conn.get_database_backend() {
        sea_orm::DbBackend::Sqlite => vec![format!(
            "CREATE TRIGGER boom_{table} BEFORE INSERT ON {table} \
             WHEN NEW.{column} = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )],
        _ => vec![
            format!(
                "CREATE FUNCTION boom_{table}() RETURNS trigger AS $$ BEGIN \
                 IF NEW.{column} = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            format!(
                "CREATE TRIGGER boom_{table} BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION boom_{table}()"
            ),
        ],
    };
    for sql in statements {
        conn.execute_unprepared(&sql).await.unwrap();
    }
}

/// Every `.rs` file under `dir`, recursively: what the census tests read.
pub fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}
