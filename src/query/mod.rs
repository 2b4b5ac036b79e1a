//! What every repository builds on, below the repositories and the
//! scope: the executor a repository borrows ([`Ctx`]), statements built once
//! ([`Prepared`]), positional cell readers, `LIKE` patterns, write
//! transactions begun and ended one way, and small shared helpers.

mod begin;
pub(crate) mod cells;
mod ctx;
mod prepared;
mod support;
pub(crate) mod text_search;

pub(crate) use begin::{begin_write, finish};
pub(crate) use ctx::Ctx;
pub(crate) use prepared::Prepared;
pub(crate) use support::{expect_changed, in_period, latest, string_list, unsigned, unsigned_opt};
