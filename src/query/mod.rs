//! The statement tools every repository builds on, below the keys, the
//! cursors and the repositories: statements built once ([`Prepared`]),
//! positional cell readers, `LIKE` patterns, write transactions begun and
//! ended one way, and small shared helpers. (The executor a repository
//! borrows is `context::Ctx`.)

mod begin;
pub(crate) mod cells;
mod prepared;
mod support;
pub(crate) mod text_search;

pub(crate) use begin::{begin_write, finish};
pub(crate) use prepared::Prepared;
pub(crate) use support::{expect_changed, in_period, latest, string_list, unsigned, unsigned_opt};
