//! Row-level security on PostgreSQL: a second wall behind the tenant
//! scope, in the database itself.
//!
//! Every tenant-owned table (the scope's own list, so a new one cannot be
//! forgotten) gets `ENABLE` and `FORCE ROW LEVEL SECURITY` and a policy
//! comparing the row's `tenant_id` with two settings of the transaction:
//!
//! - `pierre.scope`: `tenant` (one tenant's rows, named by
//!   `pierre.tenant_id`), `global` (the rows without a tenant of the tables
//!   that have them), or `all` (every row);
//! - `pierre.tenant_id`: the tenant, when the scope is `tenant`.
//!
//! A connection with neither set (an operator's `psql` as the
//! application's role, a second service) sees no row of those tables and
//! can write none. The library's own connections start with
//! `pierre.scope = all` (a startup option, no round trip), which the
//! cross-tenant paths use as they are; a tenant scope sets both settings
//! `LOCAL` to the transaction each of its statements runs in, so it can
//! never reach another tenant's rows, and nothing of it outlives the
//! transaction into the connection's next use.
//!
//! A tenant scope's reads of the tables with global rows
//! (`admin_config_overrides`, `audit_events`, …) also see the global
//! rows, as the scope's own statements do (a tenant's configuration falls
//! back to the global one); its writes reach only its tenant's rows. The
//! child tables without a tenant column (`chat_messages`,
//! `recipe_ingredients`) are walled through their parent: a row is visible
//! when its parent is.
//!
//! The paths that reach every tenant's rows, through the library's
//! sessions as they start: the global repositories (`db.users()`,
//! `db.tenants()`, … including memberships written by tenant creation),
//! `db.across_tenants()`, `db.oauth2_exchange()`, the key store and
//! `db.security()` (rotation, re-encryption, `verify`), migrations,
//! `copy`, `adopt`, `backup`, and the operator's commands. The global
//! handles (`db.global_admin_config()`, `db.global_audit_events()`) set
//! the `global` scope: the rows without a tenant, and only those.
//!
//! This is a guard against mistakes (a bug in a repository, an ad-hoc
//! query that forgets its filter), not against someone who can run SQL as
//! the application's role: such a session can set the settings itself.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use tracing::instrument;

use crate::database::Database;
use crate::error::{DatabaseError, Result};
use crate::query::{OWNED_TABLES, SHARED_TABLES};

/// The startup option of the library's own PostgreSQL sessions (and of
/// the tools that copy, adopt or verify every row): every row is reachable
/// until a tenant scope walls its transaction.
pub const LIBRARY_SESSION: (&str, &str) = ("pierre.scope", "all");

/// The tables without a tenant column of their own, walled through their
/// parent: `(table, column, parent table)`.
pub(crate) const CHILD_TABLES: &[(&str, &str, &str)] = &[
    ("chat_messages", "conversation_id", "chat_conversations"),
    ("recipe_ingredients", "recipe_id", "recipes"),
];

/// Altering a table waits for every statement using it: on a busy
/// database, give up (and change nothing) rather than queue the
/// application's statements behind the lock.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// The name of every policy this module writes starts with it.
const POLICY_PREFIX: &str = "pierre_wall";

/// Every table the wall covers, in the order [`RowLevelSecurity::enable`]
/// walks them.
pub(crate) fn walled_tables() -> impl Iterator<Item = &'static str> {
    OWNED_TABLES
        .iter()
        .chain(SHARED_TABLES)
        .copied()
        .chain(CHILD_TABLES.iter().map(|(table, _, _)| *table))
}

const SCOPE: &str = "current_setting('pierre.scope', true)";

/// Every row: the library's cross-tenant paths.
fn all() -> String {
    format!("{SCOPE} = 'all'")
}

/// The row belongs to the scope's tenant.
fn mine() -> String {
    format!(
        "({SCOPE} = 'tenant' AND tenant_id = \
         NULLIF(current_setting('pierre.tenant_id', true), '')::uuid)"
    )
}

/// The statements that put the wall up on every table, policies first.
/// DDL: the query builder writes no policies.
fn enable_statements() -> Vec<String> {
    let mut sql = Vec::new();
    let (all, mine) = (all(), mine());
    for table in OWNED_TABLES {
        let rule = format!("{all} OR {mine}");
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX} ON {table} FOR ALL USING ({rule}) WITH CHECK ({rule})"
        ));
    }
    // A tenant scope reads the global rows but writes only its own. (A
    // `SELECT … FOR UPDATE` must pass the UPDATE policy too: under a
    // tenant it would skip the global rows. No statement locks them.)
    for table in SHARED_TABLES {
        let read =
            format!("{all} OR {mine} OR ({SCOPE} IN ('tenant', 'global') AND tenant_id IS NULL)");
        let write = format!("{all} OR {mine} OR ({SCOPE} = 'global' AND tenant_id IS NULL)");
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX}_read ON {table} FOR SELECT USING ({read})"
        ));
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX}_insert ON {table} FOR INSERT WITH CHECK ({write})"
        ));
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX}_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({write})"
        ));
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX}_delete ON {table} FOR DELETE USING ({write})"
        ));
    }
    for (table, column, parent) in CHILD_TABLES {
        // The parent's own policy filters the subquery.
        let rule = format!("EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {table}.{column})");
        sql.push(format!(
            "CREATE POLICY {POLICY_PREFIX} ON {table} FOR ALL USING ({rule}) WITH CHECK ({rule})"
        ));
    }
    for table in walled_tables() {
        sql.push(format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"));
        sql.push(format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"));
    }
    sql
}

/// Whether the wall is up on each table, read from the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RlsStatus {
    /// Every walled table has row-level security enabled and forced, and
    /// its policies.
    pub enabled: bool,
    /// Each table the wall covers, and whether it is up there.
    pub tables: Vec<TableWall>,
    /// The connected role is a superuser or has `BYPASSRLS`: the wall does
    /// not apply to it (connect as a role without either).
    pub role_bypasses: bool,
}

/// The wall on one table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableWall {
    /// The table.
    pub table: &'static str,
    /// `ENABLE ROW LEVEL SECURITY`.
    pub enabled: bool,
    /// `FORCE ROW LEVEL SECURITY` (the table's owner is walled too).
    pub forced: bool,
    /// How many of this module's policies the table has.
    pub policies: u32,
}

impl TableWall {
    /// Enabled, forced, and with its policies.
    pub fn is_up(&self) -> bool {
        let wanted = if SHARED_TABLES.contains(&self.table) {
            4
        } else {
            1
        };
        self.enabled && self.forced && self.policies == wanted
    }
}

/// Row-level security of this database (PostgreSQL only): see
/// [`Database::row_level_security`] and the module docs of
/// `pierre_db::rls`.
pub struct RowLevelSecurity<'a> {
    db: &'a Database,
}

impl<'a> RowLevelSecurity<'a> {
    pub(crate) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    fn postgres(&self) -> Result<&'a DatabaseConnection> {
        let conn = self.db.shared().pool();
        postgres(conn)?;
        Ok(conn)
    }

    /// Puts the wall up on every tenant-owned table, in one transaction
    /// (all or nothing). Already up: it is written again, the same. Rows
    /// are untouched. Needs the tables' owner (`CREATE POLICY`).
    #[instrument(skip_all, err(Display))]
    pub async fn enable(&self) -> Result<RlsStatus> {
        enable(self.postgres()?).await
    }

    /// Takes the wall down from every tenant-owned table, in one
    /// transaction. Rows are untouched.
    #[instrument(skip_all, err(Display))]
    pub async fn disable(&self) -> Result<RlsStatus> {
        disable(self.postgres()?).await
    }

    /// Whether the wall is up, table by table, and whether the connected
    /// role escapes it.
    #[instrument(skip_all, err(Display))]
    pub async fn status(&self) -> Result<RlsStatus> {
        status(self.postgres()?).await
    }
}

/// [`RowLevelSecurity::enable`] on any PostgreSQL connection (the
/// operator's command runs it without the master key).
pub async fn enable(conn: &DatabaseConnection) -> Result<RlsStatus> {
    postgres(conn)?;
    let txn = conn.begin().await?;
    txn.execute_unprepared(LOCK_TIMEOUT).await?;
    remove_policies(&txn).await?;
    for sql in enable_statements() {
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await?;
    let status = status(conn).await?;
    if !status.enabled {
        return Err(DatabaseError::Config(format!(
            "row-level security did not come up on every table: {:?}",
            status
                .tables
                .iter()
                .filter(|t| !t.is_up())
                .collect::<Vec<_>>()
        )));
    }
    Ok(status)
}

/// [`RowLevelSecurity::disable`] on any PostgreSQL connection.
pub async fn disable(conn: &DatabaseConnection) -> Result<RlsStatus> {
    postgres(conn)?;
    let txn = conn.begin().await?;
    txn.execute_unprepared(LOCK_TIMEOUT).await?;
    remove_policies(&txn).await?;
    for table in walled_tables() {
        txn.execute_unprepared(&format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"))
            .await?;
        txn.execute_unprepared(&format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"))
            .await?;
    }
    txn.commit().await?;
    status(conn).await
}

/// [`RowLevelSecurity::status`] on any PostgreSQL connection.
pub async fn status(conn: &DatabaseConnection) -> Result<RlsStatus> {
    postgres(conn)?;
    let mut tables = Vec::new();
    // The catalog is not an entity: its queries are written out.
    for table in walled_tables() {
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT c.relrowsecurity, c.relforcerowsecurity, \
                 (SELECT count(*) FROM pg_policies p WHERE p.schemaname = n.nspname \
                  AND p.tablename = c.relname AND p.policyname LIKE $2)::int4 \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = to_regclass($1)",
                [table.into(), format!("{POLICY_PREFIX}%").into()],
            ))
            .await?
            .ok_or_else(|| {
                DatabaseError::Config(format!(
                    "table {table} does not exist: migrate first (`pierre-db migrate up`)"
                ))
            })?;
        let policies: i32 = row.try_get_by_index(2)?;
        tables.push(TableWall {
            table,
            enabled: row.try_get_by_index(0)?,
            forced: row.try_get_by_index(1)?,
            policies: u32::try_from(policies).unwrap_or_default(),
        });
    }
    let role_bypasses: bool = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?
        .unwrap_or(false);
    Ok(RlsStatus {
        enabled: tables.iter().all(TableWall::is_up),
        tables,
        role_bypasses,
    })
}

fn postgres(conn: &DatabaseConnection) -> Result<()> {
    match conn.get_database_backend() {
        DbBackend::Postgres => Ok(()),
        _ => Err(DatabaseError::Unsupported(
            "row-level security is PostgreSQL's; SQLite has none (the tenant scope still applies)"
                .to_owned(),
        )),
    }
}

impl Database {
    /// Row-level security on PostgreSQL: put up, taken down, or checked.
    /// See the module docs of `pierre_db::rls`.
    pub fn row_level_security(&self) -> RowLevelSecurity<'_> {
        RowLevelSecurity::new(self)
    }
}

/// With [`DatabaseConfig::row_level_security`](crate::DatabaseConfig::row_level_security)
/// on, says (as a warning: the wall is often put up after the first
/// connect migrates) when the wall is not up, or when the connected role
/// escapes it: either way it protects nothing.
pub(crate) async fn check_on_connect(db: &Database) {
    if !db.config().row_level_security {
        return;
    }
    match status(db.shared().pool()).await {
        Ok(status) if !status.enabled => tracing::warn!(
            "row-level security is on in the settings but not up on every tenant-owned \
             table: run `pierre-db rls enable` as the tables' owner"
        ),
        Ok(status) if status.role_bypasses => tracing::warn!(
            "row-level security is up, but this role is a superuser or has BYPASSRLS: \
             the wall does not apply to it; connect as a role without either"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "cannot check row-level security"),
    }
}

/// Drops every policy this module wrote (and only those).
async fn remove_policies(txn: &sea_orm::DatabaseTransaction) -> Result<()> {
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT policyname, tablename FROM pg_policies \
             WHERE schemaname = current_schema() AND policyname LIKE $1",
            [format!("{POLICY_PREFIX}%").into()],
        ))
        .await?;
    for row in rows {
        let policy: String = row.try_get_by_index(0)?;
        let table: String = row.try_get_by_index(1)?;
        // Names from the catalog, quoted as identifiers.
        txn.execute_unprepared(&format!(
            "DROP POLICY {} ON {}",
            quote(&policy),
            quote(&table)
        ))
        .await?;
    }
    Ok(())
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The statement that sets a wall for the rest of the current transaction
/// (`None`: every row). The tenant is a UUID, written by its `Display`,
/// so it cannot carry SQL.
pub(crate) fn set_wall_sql(wall: Option<crate::query::Wall>) -> String {
    use crate::query::Wall;
    match wall {
        None => "SELECT set_config('pierre.scope', 'all', true)".to_owned(),
        Some(Wall::Global) => "SELECT set_config('pierre.scope', 'global', true), \
             set_config('pierre.tenant_id', '', true)"
            .to_owned(),
        Some(Wall::Tenant(tenant)) => format!(
            "SELECT set_config('pierre.scope', 'tenant', true), \
             set_config('pierre.tenant_id', '{tenant}', true)"
        ),
    }
}
