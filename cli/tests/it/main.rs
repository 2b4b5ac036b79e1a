//! The `pierre-db` binary, run as an operator runs it (one test binary, a
//! module per area).

#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot go on fails by panicking"
)]

mod adopt;
mod command_line;
mod commands;
mod common;
mod copy;
mod counts;
mod migrate_down;
mod missing_file;
mod replicas;
mod rls;
mod seed;
