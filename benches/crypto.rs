//! Seal/open throughput of the envelope (64 B and 1 KiB), and the share of
//! encryption in an encrypted token write on SQLite in memory, both writes
//! done with raw sqlx in the same run (target: encryption < 5% of the write).
//!
//! `cargo bench --features internals --bench crypto`

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that cannot go on stops by panicking"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use pierre_db::crypto::aad::Context;
use pierre_db::crypto::keyring::{DataKey, Keyring};
use pierre_db::crypto::secret::Secret;
use pierre_db::{Database, DatabaseConfig, MasterKey, NewUser, TenantId};
use sea_orm::sqlx;
use uuid::Uuid;

/// Runs `f` repeatedly for about `budget`, returning operations per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..256 {
            f();
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn context() -> Context {
    Context::new("user_oauth_tokens", "access_token")
        .tenant(Uuid::new_v4())
        .user(Uuid::new_v4())
        .part("strava")
}

fn main() {
    let keyring = Keyring::new(1, &[DataKey::generate(1).unwrap()]).unwrap();
    let ctx = context();
    println!("envelope throughput (AES-256-GCM, ring; includes AAD encoding and base64)");
    println!(
        "{:<10} {:>14} {:>14} {:>12}",
        "size", "seal ops/s", "open ops/s", "seal µs"
    );
    for size in [64usize, 1024] {
        let secret = Secret::new("x".repeat(size));
        let sealed = keyring.seal(&ctx, &secret).unwrap();
        let seal = rate(Duration::from_millis(700), || {
            black_box(keyring.seal(&ctx, black_box(&secret)).unwrap());
        });
        let open = rate(Duration::from_millis(700), || {
            black_box(keyring.open(&ctx, black_box(&sealed)).unwrap());
        });
        println!(
            "{:<10} {:>14.0} {:>14.0} {:>12.2}",
            format!("{size} B"),
            seal,
            open,
            1e6 / seal
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(share_of_encryption(&keyring));
}

async fn share_of_encryption(keyring: &Keyring) {
    let mut config = DatabaseConfig::new("sqlite::memory:", MasterKey::generate().unwrap());
    config.migrate_on_connect = true;
    let db = Database::connect_with(config).await.unwrap();
    let user = db
        .users()
        .create(NewUser::new("bench@example.org", "h"))
        .await
        .unwrap()
        .id;
    let tenant = TenantId::new();
    let now = chrono::Utc::now().fixed_offset();
    sqlx::query(
        "INSERT INTO tenants (id, name, slug, plan, owner_user_id, is_active, created_at, updated_at) \
         VALUES (?, 'T', 't', 'starter', ?, 1, ?, ?)",
    )
    .bind(tenant.as_uuid())
    .bind(user.as_uuid())
    .bind(now)
    .bind(now)
    .execute(db.unscoped_connection().get_sqlite_connection_pool())
    .await
    .unwrap();
    let pool = db
        .unscoped_connection()
        .get_sqlite_connection_pool()
        .clone();
    let access = Secret::new("ya29.".to_owned() + &"a".repeat(160));
    let refresh = Secret::new("1//".to_owned() + &"r".repeat(100));
    let ctx_a = Context::new("user_oauth_tokens", "access_token")
        .tenant(tenant.as_uuid())
        .user(user.as_uuid())
        .part("strava");
    let ctx_r = Context::new("user_oauth_tokens", "refresh_token")
        .tenant(tenant.as_uuid())
        .user(user.as_uuid())
        .part("strava");
    let presealed = (
        keyring.seal(&ctx_a, &access).unwrap(),
        keyring.seal(&ctx_r, &refresh).unwrap(),
    );

    let upsert = |a: String, r: String| {
        let pool = pool.clone();
        async move {
            let now = chrono::Utc::now().fixed_offset();
            sqlx::query(
                "INSERT INTO user_oauth_tokens (id, user_id, tenant_id, provider, access_token, refresh_token, \
                 token_type, created_at, updated_at) VALUES (?, ?, ?, 'strava', ?, ?, 'bearer', ?, ?) \
                 ON CONFLICT (user_id, tenant_id, provider) DO UPDATE SET access_token = excluded.access_token, \
                 refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
            )
            .bind(Uuid::now_v7())
            .bind(user.as_uuid())
            .bind(tenant.as_uuid())
            .bind(a)
            .bind(r)
            .bind(now)
            .bind(now)
            .execute(&pool)
            .await
            .unwrap();
        }
    };

    const N: u32 = 3000;
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    for _round in 0..5 {
        let start = Instant::now();
        for _ in 0..N {
            upsert(presealed.0.clone(), presealed.1.clone()).await;
        }
        plain.push(start.elapsed().as_secs_f64() / f64::from(N));
        let start = Instant::now();
        for _ in 0..N {
            let a = keyring.seal(&ctx_a, &access).unwrap();
            let r = keyring.seal(&ctx_r, &refresh).unwrap();
            upsert(a, r).await;
        }
        sealed.push(start.elapsed().as_secs_f64() / f64::from(N));
    }
    plain.sort_by(f64::total_cmp);
    sealed.sort_by(f64::total_cmp);
    let (p, s) = (plain[2], sealed[2]);
    // The difference of two medians is within noise at this size, so the
    // share is also computed from the measured cost of the two seals.
    let seal_cost = {
        let start = Instant::now();
        for _ in 0..N {
            black_box(keyring.seal(&ctx_a, &access).unwrap());
            black_box(keyring.seal(&ctx_r, &refresh).unwrap());
        }
        start.elapsed().as_secs_f64() / f64::from(N)
    };
    let share = seal_cost / s * 100.0;
    println!();
    println!("token upsert on SQLite in memory (raw sqlx, medians of 5 rounds of {N})");
    println!("  without encryption: {:>8.1} µs/op", p * 1e6);
    println!("  with two seals:     {:>8.1} µs/op", s * 1e6);
    println!("  two seals alone:    {:>8.2} µs/op", seal_cost * 1e6);
    println!(
        "  encryption share:   {share:>8.1} %   target < 5%: {}",
        if share < 5.0 { "PASS" } else { "FAIL" }
    );
}
