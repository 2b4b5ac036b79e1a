//! The statement tools every repository builds on, below the keys, the
//! cursors and the repositories: statements built once ([`Prepared`]),
//! positional cell readers, `LIKE` patterns, write transactions begun and
//! ended one way, and small shared helpers; and the executor a repository
//! borrows ([`Ctx`]) with the scope handles that alone run statements on
//! tenant-owned tables (see `exec` and `scoped`). The connection inside a
//! `Ctx` is reachable from this module tree only.

mod begin;
pub(crate) mod cells;
mod context;
mod exec;
mod keyset;
mod prepared;
mod scoped;
mod sealed;
mod support;
pub(crate) mod text_search;
mod walled;

pub(crate) use begin::{begin_write, finish};
pub use context::Ctx;
pub use context::TxFuture;
pub use exec::{Allowed, Checked, RunInsert, RunSelect, RunWrite, Unowned};
#[cfg(feature = "internals")]
pub(crate) use keyset::in_page;
pub(crate) use keyset::{
    Direction, Keyset, KeysetSql, PreparedPage, keyset_order, keyset_page, keyset_sql,
};
#[cfg(all(feature = "internals", debug_assertions))]
pub use prepared::checks as prepared_checks;
pub(crate) use prepared::{Prepared, prepared};
#[cfg(feature = "internals")]
pub use scoped::NullableTenant;
pub use scoped::{AllTenants, Scoped, TenantColumn};
pub(crate) use scoped::{GlobalRows, Rows, global_insert, global_rows, global_update};
pub(crate) use scoped::{OWNED_TABLES, SHARED_TABLES};
pub(crate) use support::{expect_changed, in_period, latest, string_list, unsigned, unsigned_opt};
pub(crate) use walled::{Wall, refused_on_replica};
