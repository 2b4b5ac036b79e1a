//! Keys: the data keys the master key wraps (the master key itself is key
//! material, in `crypto::master`), and the one cache of them a database
//! handle keeps.
//!
//! - `store`: data keys (DEKs) as rows in the database: one global
//!   `key_versions` row per version, and the wrapped key in
//!   `system_secrets` under `data_key.v<N>` (named secrets there are
//!   refused those names). Rows of `key_versions` with a tenant (per-tenant
//!   data keys, which the schema allows) are not supported yet: the store
//!   reads and writes only the global rows and ignores tenant rows.
//! - `cache`: the keyring a handle caches, and the rules that keep it
//!   correct when other processes rotate and retire keys.
//!
//! # Several processes, one database
//!
//! Each `Database` handle caches the keyring. Opening is never a problem:
//! a value under a version newer than the cache reloads it. Sealing is: a
//! handle that only writes would keep sealing under a key that another
//! process has rotated away from, re-encrypted past and retired, and such a
//! value could never be opened again. The rules that prevent it:
//!
//! 1. **Bounded staleness.** A handle seals only with a keyring whose active
//!    version it confirmed within `DatabaseConfig::key_refresh_interval`
//!    (`I`, default 30 s). Past that, the write first re-reads the active
//!    version (one indexed row, through the write's own connection, so it
//!    also works inside a transaction holding the pool's last connection).
//!    So no handle seals under version `v` later than `I` after `v` stopped
//!    being active.
//! 2. **A grace period before retirement.** `retire(v)` is refused until
//!    `2·I` have passed since `v` stopped being active (the creation time of
//!    the next version, in the database): `I` for every handle to notice,
//!    `I` more for a single statement already sealed under `v` to commit.
//! 3. **Check and delete as one.** `retire` counts the values under `v` and
//!    deletes its key in one write transaction (`BEGIN IMMEDIATE` on SQLite,
//!    which excludes every other writer; on PostgreSQL the key row is
//!    deleted first, which waits for transactions holding it, and the count
//!    runs after), so a value committed before the retirement is seen and
//!    refuses it.
//! 4. **Every sealing write checks its key, atomically with the write.**
//!    Rules 1 and 2 bound how stale a keyring can be, but not how long a
//!    write takes to land: it can wait on SQLite's write lock (held by a
//!    re-encryption batch, or by `retire` itself) or have its task
//!    descheduled for longer than `2·I`, and then commit a value under a
//!    key `retire` just deleted. CI caught exactly that under load. So a
//!    repository writes sealed values only through `Ctx::write_sealed`:
//!    one write transaction that first checks the key it seals with is
//!    still stored (`BEGIN IMMEDIATE` keeps `retire` out on SQLite; on
//!    PostgreSQL the check holds `FOR SHARE` on the key row, which
//!    `retire`'s delete waits for, and `retire` then counts the value and
//!    refuses). A key retired just before is `DatabaseError::StaleKey`: the
//!    keys are reloaded and the write runs again. Inside a caller's
//!    transaction the check runs there and its lock lasts until the commit.
//! 5. **Long transactions check at commit** as well (the keys they could
//!    have sealed with before a rotation), under the same lock.
//!
//! The price is a transaction and one indexed read per sealing write; the
//! benchmark's raw side pays it too, since it is part of a correct write.
//! Clocks: the grace of rule 2 is measured between the rotating process's
//! clock (the stored creation time) and the retiring one's; keep them
//! within seconds of each other (NTP).

mod cache;
pub(crate) mod legacy_hmac;
pub(crate) mod store;

pub(crate) use cache::KeyCache;
