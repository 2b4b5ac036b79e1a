//! The executor a statement runs on: the pool or a transaction, and, with
//! row-level security on, the wall of the handle that runs it (see the
//! `rls` module).
//!
//! A tenant scope's statement on the pool runs in a transaction of its
//! own that first sets the tenant `LOCAL` to it: the setting and the
//! statement share a connection, and the setting ends with the
//! transaction. Inside a caller's transaction every statement sets the
//! wall of its own handle first (`all` for the unscoped ones), since one
//! transaction serves several handles. The cross-tenant paths on the pool
//! set nothing: the library's connections start with `pierre.scope = all`.
//!
//! One simple query (`SELECT set_config(…, true); <statement>`) would be a
//! single round trip, but it returns rows as text, which the driver cannot
//! decode for every value the schema holds (a timestamp in year 0 is
//! printed `… BC`): the statement stays prepared and binary.

use sea_orm::{
    ConnectionTrait, DatabaseExecutor, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    TransactionTrait,
};

use crate::ids::TenantId;

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
}

impl<'a> Walled<'a> {
    /// Runs on `conn`; `wall` is set first when `rls` is on (on the pool,
    /// only for a walled handle).
    pub(crate) fn new(conn: DatabaseExecutor<'a>, rls: bool, wall: Option<Wall>) -> Self {
        let set = match (&conn, rls, wall) {
            (_, false, _) | (DatabaseExecutor::Connection(_), true, None) => None,
            (_, true, wall) => Some(crate::rls::set_wall_sql(wall)),
        };
        Self { conn, set }
    }
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
        walled!(self, |c| c.execute_raw(stmt))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        walled!(self, |c| c.execute_unprepared(sql))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        walled!(self, |c| c.query_one_raw(stmt))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        walled!(self, |c| c.query_all_raw(stmt))
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}
