//! The migration suite: one test binary, a module per area. Every test runs
//! on SQLite in memory, and on PostgreSQL too when
//! `PIERRE_TEST_POSTGRES_URL` is set (see [`common`]).

#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot go on fails by panicking"
)]

mod common;

mod binary;
mod constraints;
mod down_plan;
mod lifecycle;
mod schema;
mod upgrades;
