//! The executor a statement runs on: the pool, a transaction or (for the
//! read-replica handle's reads) a replica; with row-level security on, the
//! wall of the handle that runs it (see the `rls` module); and the note of
//! a write that replica reads wait for (see the `replicas` module).
//!
//! A tenant scope's statement sets the tenant `LOCAL` before it runs, on
//! its own connection, so the setting ends with the transaction. A plain
//! `SELECT` or one-row `INSERT` does it inside itself (see [`gated`]): one
//! round trip, on the pool or in a transaction. Any other statement of a
//! tenant scope on the pool runs in a transaction of its own that sets the
//! wall first (four round trips); inside a caller's transaction it is
//! preceded by the setting (`all` for the unscoped handles), since one
//! transaction serves several handles. The cross-tenant paths on the pool
//! set nothing: the library's connections start with `pierre.scope = all`.
//! A replica runs no transaction of a handle's: its reads carry their wall
//! inside them.
//!
//! One simple query (`SELECT set_config(…, true); <statement>`) would be a
//! single round trip too, but it returns rows as text, which the driver
//! cannot decode for every value the schema holds (a timestamp in year 0
//! is printed `… BC`), and it is planned on every call.

use sea_orm::{
    ConnectionTrait, DatabaseExecutor, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    TransactionTrait, Value, Values,
};

use crate::ids::TenantId;
use crate::replicas::{ReplicaSet, WriteMark, Writing};

/// Which rows of the tenant-owned tables a handle's statements may reach
/// under row-level security; unscoped handles have none (every row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wall {
    /// One tenant's rows (and, for reading, the global rows).
    Tenant(TenantId),
    /// The rows without a tenant.
    Global,
}

/// The pool or a transaction, and the statement that sets the handle's
/// wall when row-level security is on.
pub(crate) struct Walled<'a> {
    conn: DatabaseExecutor<'a>,
    /// `None`: the statement runs as it is.
    set: Option<String>,
    /// The wall a gated statement sets (see [`gated`]).
    wall: Option<Wall>,
    /// The handle's replicas: where its writes are noted and, for the
    /// read-replica handle (`replica`), where its reads may go.
    replicas: &'a ReplicaSet,
    /// Whether this is the read-replica handle's executor: reads may go to
    /// a replica, and anything else is refused before it is sent.
    replica: bool,
    /// The handle's last write, which its replica reads wait for.
    mark: &'a WriteMark,
}

impl<'a> Walled<'a> {
    /// Runs on `conn`; `wall` is set first when `rls` is on (on the pool,
    /// only for a walled handle).
    pub(crate) fn new(
        conn: DatabaseExecutor<'a>,
        rls: bool,
        wall: Option<Wall>,
        replicas: &'a ReplicaSet,
        mark: &'a WriteMark,
    ) -> Self {
        let set = match (&conn, rls, wall) {
            (_, false, _) | (DatabaseExecutor::Connection(_), true, None) => None,
            (_, true, wall) => Some(crate::rls::set_wall_sql(wall)),
        };
        Self {
            conn,
            set,
            wall,
            replicas,
            replica: false,
            mark,
        }
    }

    /// The read-replica handle's executor (on the pool only: a transaction
    /// stays where it began).
    pub(crate) fn on_replica(mut self) -> Self {
        self.replica = matches!(self.conn, DatabaseExecutor::Connection(_));
        self
    }

    /// `stmt` as a replica runs it: the wall, when on, goes inside it (a
    /// replica runs no transaction of this handle's).
    fn for_replica(&self, stmt: &Statement) -> Statement {
        match &self.set {
            Some(_) => gated(stmt, self.wall).unwrap_or_else(|| stmt.clone()),
            None => stmt.clone(),
        }
    }

    /// Notes the write, when `sql` may write, once it has ended (or was
    /// abandoned).
    /// Nothing to note without replicas: every statement passes here, so
    /// the SQL is not scanned then.
    fn writing(&self, sql: &str) -> Option<Writing<'a>> {
        (self.replicas.any() && !is_read(sql)).then(|| self.replicas.writing(self.mark))
    }

    /// `stmt` as one statement that sets the wall first, when it is a
    /// plain read or insert and a wall is to be set.
    fn gated(&self, stmt: &Statement) -> Option<Statement> {
        self.set.as_ref().and_then(|_| gated(stmt, self.wall))
    }
}

/// `stmt` as one statement that sets the wall (for the rest of its
/// transaction, implicit or not) before anything of it runs, when it is a
/// plain `SELECT` or a one-row `INSERT … VALUES`; `None` for anything else
/// (other writes, locking reads, `WITH` statements), which keeps the
/// setter of its own.
///
/// A read becomes
///
/// ```sql
/// SELECT pierre_q.* FROM (SELECT set_config('pierre.scope', $n+1, true) AS s,
///                                set_config('pierre.tenant_id', $n+2, true) AS t) AS pierre_w
/// CROSS JOIN LATERAL (SELECT * FROM (<stmt>) AS pierre_o
///                     WHERE pierre_w.t IS NOT NULL OFFSET 0) AS pierre_q
/// ```
///
/// The lateral subquery refers to `pierre_w`, so the planner can only join
/// them by a nested loop that reads `pierre_w` first and runs the read
/// once per row of it; `OFFSET 0` and the volatile `set_config` keep either
/// side from being flattened into the other. The read keeps its own order
/// (one outer row, nothing sorts above it).
///
/// An insert becomes `WITH pierre_w AS (…) INSERT … VALUES ((SELECT $1 FROM
/// pierre_w), $2, …)`: the row cannot be formed, so neither checked by the
/// wall nor matched against a conflicting row, before `pierre_w` has run.
///
/// The settings are `LOCAL`: on the pool nothing outlives the statement's
/// implicit transaction, and in a caller's transaction every statement
/// sets its own wall anyway. Built as text because sea-query has no lateral
/// join over an arbitrary statement; the wall goes in as parameters so that
/// every tenant shares one prepared statement.
fn gated(stmt: &Statement, wall: Option<Wall>) -> Option<Statement> {
    let sql = stmt.sql.as_str();
    let mut values = stmt.values.clone().unwrap_or(Values(Vec::new())).0;
    let (scope, tenant) = match wall {
        Some(Wall::Tenant(tenant)) => ("tenant", tenant.to_string()),
        Some(Wall::Global) => ("global", String::new()),
        None => ("all", String::new()),
    };
    let first = values.len() + 1;
    let setter = format!(
        "SELECT set_config('pierre.scope', ${first}, true) AS s, \
         set_config('pierre.tenant_id', ${}, true) AS t",
        first + 1
    );
    let sql = if is_read(sql) {
        format!(
            "SELECT pierre_q.* FROM ({setter}) AS pierre_w \
             CROSS JOIN LATERAL (SELECT * FROM ({sql}) AS pierre_o \
             WHERE pierre_w.t IS NOT NULL OFFSET 0) AS pierre_q"
        )
    } else if sql.starts_with("INSERT INTO ") {
        let (head, row) = sql.split_once(" VALUES ($")?;
        let digits = row.find(|c: char| !c.is_ascii_digit())?;
        let (param, rest) = row.split_at(digits);
        // One row only, and its first value a parameter.
        if digits == 0 || !rest.starts_with([',', ')']) || rest.contains("), (") {
            return None;
        }
        format!("WITH pierre_w AS ({setter}) {head} VALUES ((SELECT ${param} FROM pierre_w){rest}")
    } else {
        return None;
    };
    values.push(Value::from(scope));
    values.push(Value::from(tenant));
    Some(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// What marks the driver error of a statement refused on the read-replica
/// handle, before the library's error names it.
const REFUSED_ON_REPLICA: &str = "pierre-db read-only handle: ";

/// A statement refused on the read-replica handle, as the driver error the
/// executor's trait returns.
fn refused(sql: &str) -> DbErr {
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or("an empty statement");
    DbErr::Custom(format!("{REFUSED_ON_REPLICA}{verb}"))
}

/// What was refused, when `err` is a statement refused on the read-replica
/// handle.
pub(crate) fn refused_on_replica(err: &DbErr) -> Option<&str> {
    match err {
        DbErr::Custom(message) => message.strip_prefix(REFUSED_ON_REPLICA),
        _ => None,
    }
}

/// Whether `sql` only reads: a `SELECT` that locks no row (a replica could
/// not run the rest, and the read-replica handle sends it nowhere).
fn is_read(sql: &str) -> bool {
    const LOCKS: [&str; 4] = [
        " FOR UPDATE",
        " FOR NO KEY UPDATE",
        " FOR SHARE",
        " FOR KEY SHARE",
    ];
    sql.starts_with("SELECT ") && !LOCKS.iter().any(|lock| sql.contains(lock))
}

/// On the read-replica handle: refuses anything but a read, then runs
/// `$call` with `$c` a replica fit for it and `$s` the statement as it
/// runs there, returning its rows; falls through to the primary when no
/// replica is fit or the replica failed.
macro_rules! on_replica {
    ($self:ident, $stmt:ident, |$c:ident, $s:ident| $call:expr) => {
        if $self.replica {
            if !is_read(&$stmt.sql) {
                return Err(refused(&$stmt.sql));
            }
            if let Ok((i, $c)) = $self.replicas.pick($self.mark) {
                let $s = $self.for_replica(&$stmt);
                match $call.await {
                    Ok(rows) => return Ok(rows),
                    Err(err) => $self.replicas.failed(i, &err),
                }
            }
        }
    };
}

/// Runs `$call` with `$c` bound to the connection to use: as it is, after
/// the wall is set inside the caller's transaction, or in a transaction of
/// its own that sets the wall first.
macro_rules! walled {
    ($self:ident, |$c:ident| $call:expr) => {{
        match (&$self.set, &$self.conn) {
            (None, conn) => {
                let $c = conn;
                $call.await
            }
            (Some(set), DatabaseExecutor::Transaction(txn)) => {
                txn.execute_unprepared(set).await?;
                let $c = *txn;
                $call.await
            }
            (Some(set), conn) => {
                let txn = conn.begin().await?;
                txn.execute_unprepared(set).await?;
                let outcome = {
                    let $c = &txn;
                    $call.await
                };
                super::begin::finish(txn, outcome).await
            }
        }
    }};
}

#[async_trait::async_trait]
impl ConnectionTrait for Walled<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if self.replica {
            return Err(refused(&stmt.sql));
        }
        let noted = self.writing(&stmt.sql);
        let done = match self.gated(&stmt) {
            Some(gated) => self.conn.execute_raw(gated).await,
            None => walled!(self, |c| c.execute_raw(stmt)),
        };
        if let Some(noted) = noted {
            noted.done();
        }
        done
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        if self.replica {
            return Err(refused(sql));
        }
        let noted = self.writing(sql);
        let done = walled!(self, |c| c.execute_unprepared(sql));
        if let Some(noted) = noted {
            noted.done();
        }
        done
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_replica!(self, stmt, |c, s| c.query_one_raw(s));
        let noted = self.writing(&stmt.sql);
        let done = match self.gated(&stmt) {
            Some(gated) => self.conn.query_one_raw(gated).await,
            None => walled!(self, |c| c.query_one_raw(stmt)),
        };
        if let Some(noted) = noted {
            noted.done();
        }
        done
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_replica!(self, stmt, |c, s| c.query_all_raw(s));
        let noted = self.writing(&stmt.sql);
        let done = match self.gated(&stmt) {
            Some(gated) => self.conn.query_all_raw(gated).await,
            None => walled!(self, |c| c.query_all_raw(stmt)),
        };
        if let Some(noted) = noted {
            noted.done();
        }
        done
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str, values: usize) -> Statement {
        let values: Vec<Value> = (0..values).map(|i| Value::from(i as i64)).collect();
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    fn tenant() -> Option<Wall> {
        Some(Wall::Tenant(TenantId::from_uuid(uuid::Uuid::nil())))
    }

    #[test]
    fn a_read_is_wrapped_after_the_setter_with_the_wall_as_its_last_parameters() {
        let read = stmt(
            r#"SELECT "id" FROM "t" WHERE "a" = $1 ORDER BY "id" LIMIT $2"#,
            2,
        );
        let wrapped = gated(&read, tenant()).unwrap();
        assert_eq!(
            wrapped.sql,
            "SELECT pierre_q.* FROM (SELECT set_config('pierre.scope', $3, true) AS s, \
             set_config('pierre.tenant_id', $4, true) AS t) AS pierre_w \
             CROSS JOIN LATERAL (SELECT * FROM (SELECT \"id\" FROM \"t\" WHERE \"a\" = $1 \
             ORDER BY \"id\" LIMIT $2) AS pierre_o WHERE pierre_w.t IS NOT NULL OFFSET 0) \
             AS pierre_q"
        );
        let values = wrapped.values.unwrap().0;
        assert_eq!(values[2], Value::from("tenant"));
        assert_eq!(values[3], Value::from(uuid::Uuid::nil().to_string()));
        let all = gated(&read, None).unwrap().values.unwrap().0;
        assert_eq!(all[2..], [Value::from("all"), Value::from("")]);
    }

    #[test]
    fn a_one_row_insert_forms_its_row_from_the_setter() {
        let insert = stmt(
            r#"INSERT INTO "t" ("id", "a") VALUES ($1, $2) ON CONFLICT ("id") DO NOTHING"#,
            2,
        );
        assert_eq!(
            gated(&insert, tenant()).unwrap().sql,
            "WITH pierre_w AS (SELECT set_config('pierre.scope', $3, true) AS s, \
             set_config('pierre.tenant_id', $4, true) AS t) INSERT INTO \"t\" (\"id\", \"a\") \
             VALUES ((SELECT $1 FROM pierre_w), $2) ON CONFLICT (\"id\") DO NOTHING"
        );
    }

    #[test]
    fn other_statements_keep_a_setter_of_their_own() {
        for sql in [
            r#"SELECT "id" FROM "t" WHERE "a" = $1 FOR UPDATE"#,
            r#"SELECT "id" FROM "t" FOR NO KEY UPDATE"#,
            r#"INSERT INTO "t" ("id") VALUES ($1), ($2)"#,
            r#"INSERT INTO "t" ("id") VALUES (DEFAULT)"#,
            r#"UPDATE "t" SET "a" = $1"#,
            r#"DELETE FROM "t" WHERE "a" = $1"#,
            r#"WITH x AS (DELETE FROM "t" RETURNING 1) SELECT 1"#,
        ] {
            assert!(gated(&stmt(sql, 2), tenant()).is_none(), "{sql}");
        }
    }
}
