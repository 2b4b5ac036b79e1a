//! The integration suite: one test binary, a module per area, so the
//! library and its drivers are linked once (the compile-fail cases are a
//! binary of their own). Every database test runs on SQLite in memory (or
//! on files, with `PIERRE_TEST_SQLITE_FILES`), and on PostgreSQL too when
//! `PIERRE_TEST_POSTGRES_URL` is set (see [`common`]).

#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot go on fails by panicking"
)]

mod common;

mod a2a;
#[cfg(feature = "adopt")]
mod adopt;
mod api_keys;
mod calling_thread;
mod chat;
mod config;
mod configuration;
mod crypto;
mod database;
mod errors;
mod expiry;
mod first_hour;
mod fitness_configs;
mod isolation;
mod last_seen;
mod no_leaks;
mod oauth2_server;
mod oauth_tokens;
mod pagination;
mod platform;
mod prepared;
mod privileged;
mod profile;
mod recipes;
mod reliability;
mod replicas;
mod restore;
mod retry;
mod rls;
mod rotation;
mod scaling;
mod scoping;
#[cfg(feature = "metrics")]
mod telemetry;
mod tenant_credentials;
mod tenants;
mod usage;
mod user_admin;
mod users;
