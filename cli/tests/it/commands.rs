//! Every command but `copy`, run as an operator runs it, on SQLite files:
//! exit statuses, what it prints, and what it leaves in the database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use migration::MigratorTrait;
use pierre_db::uuid::Uuid;
use pierre_db::{Database, DatabaseConfig, MasterKey, OauthProvider};

use crate::common::{Fixture, Run};
use crate::counts::row_counts;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;

fn all_migrations() -> usize {
    migration::Migrator::migrations().len()
}

/// Values per key version over every column of `keys --json status`.
fn values_under(status: &Value, version: u32) -> u64 {
    status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["version"] == version)
        .map(|k| k["values"].as_u64().unwrap())
        .unwrap_or(0)
}

#[test]
fn migrate_up_status_down_and_refusals() {
    let fx = Fixture::new();
    let all = all_migrations();

    // Before `up` there is no file, and `status` does not make one.
    let (code, status) = fx.json(&["migrate", "status"]);
    assert_ne!(code, 0, "{status}");
    assert_eq!(status["ok"], false, "{status}");
    assert!(!fx.dir.path().join("pierre.db").exists());

    let up = fx.run(&["migrate", "up"]).ok();
    assert_eq!(up.stdout.matches("applied m").count(), all, "{up:?}");
    assert!(
        up.stdout
            .contains(&format!("{all} of {all} migrations applied"))
    );
    assert!(
        fx.run(&["migrate", "up"])
            .ok()
            .stdout
            .contains("nothing to do")
    );

    let down = fx.run(&["migrate", "down", "2"]).ok();
    assert_eq!(down.stdout.matches("reverted m").count(), 2, "{down:?}");
    let (_, status) = fx.json(&["migrate", "status"]);
    assert_eq!(status["pending"], 2);
    let names = status["migrations"].as_array().unwrap();
    assert_eq!(names.len(), all);
    assert_eq!(names[all - 1]["applied"], false);
    assert_eq!(names[0]["applied"], true);

    let fresh = fx.run(&["migrate", "fresh"]);
    assert_eq!(fresh.code, 2, "{fresh:?}");
    assert!(fresh.stderr.contains("--yes"), "{fresh:?}");
    let (_, status) = fx.json(&["migrate", "status"]);
    assert_eq!(status["pending"], 2, "a refused fresh changed nothing");

    let (code, _) = fx.json(&["migrate", "up", "-n", "1"]);
    assert_eq!(code, 0);
    assert_eq!(fx.json(&["migrate", "status"]).1["pending"], 1);

    let nowhere = Command::new(env!("CARGO_BIN_EXE_pierre-db"))
        .args(["migrate", "status"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let nowhere = Run::from(nowhere);
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains("--database-url"), "{nowhere:?}");
    assert_eq!(nowhere.stderr.lines().count(), 1, "one line: {nowhere:?}");

    let zero = fx.run(&["verify", "--batch", "0"]);
    assert_eq!(zero.code, 2, "{zero:?}");
    assert!(zero.stderr.contains("--batch"), "{zero:?}");

    let bad_url = fx.run(&["-u", "mysql://localhost/db", "migrate", "status"]);
    assert_eq!(bad_url.code, 2, "{bad_url:?}");
    assert!(bad_url.stderr.contains("mysql"), "{bad_url:?}");
}

#[tokio::test]
async fn keys_rotate_reencrypt_interrupted_and_resumed_then_retire() {
    // Enough one-value batches that the job is still running when the
    // signal arrives, even on a loaded machine.
    let users = 1000;
    let (fx, tenant, ids) = Fixture::seeded(users).await;
    let sealed = 2 * users as u64;

    let (_, status) = fx.json(&["keys", "status"]);
    assert_eq!(values_under(&status, 1), sealed);
    assert_eq!(status["stale"], 0);

    let rotate = fx.run(&["keys", "rotate"]).ok();
    assert!(
        rotate.stdout.contains("data key v2 is active"),
        "{rotate:?}"
    );
    let rotated_at = Instant::now();
    let (_, status) = fx.json(&["keys", "status"]);
    assert_eq!(status["keys"][0]["state"], "inactive");
    assert_eq!(status["keys"][1]["state"], "active");
    assert_eq!(status["stale"], sealed);

    let in_use = fx.run(&["keys", "retire", "1"]);
    assert_eq!(in_use.code, 1, "{in_use:?}");
    assert!(in_use.stderr.contains("user_oauth_tokens"), "{in_use:?}");

    // One value per batch, interrupted as soon as the first batch reports.
    let mut child = fx
        .command(&["keys", "reencrypt", "--batch", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    progress.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("re-encrypting: "),
        "plain progress line: {first:?}"
    );
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a live child's pid and a valid signal number has
    // no memory effects in this process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "SIGINT sent");
    let interrupted = Run::from(child.wait_with_output().unwrap());
    assert_eq!(interrupted.code, 130, "{interrupted:?}");
    assert!(
        interrupted.stdout.contains("again to resume"),
        "{interrupted:?}"
    );

    let (_, status) = fx.json(&["keys", "status"]);
    let left = status["stale"].as_u64().unwrap();
    assert!(
        0 < left && left < sealed,
        "interrupted part-way: {left} of {sealed} left"
    );
    assert_eq!(
        values_under(&status, 2) + left,
        sealed,
        "no value lost or doubled"
    );

    let (code, resumed) = fx.json(&["keys", "reencrypt", "--batch", "50"]);
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(
        resumed["reencrypted"], left,
        "the rerun moved only what was left"
    );
    let (_, status) = fx.json(&["keys", "status"]);
    assert_eq!(status["stale"], 0);
    assert_eq!(values_under(&status, 2), sealed);

    let active = fx.run(&["keys", "retire", "2"]);
    assert_eq!(active.code, 1, "{active:?}");
    assert!(active.stderr.contains("active"), "{active:?}");

    // Retirement waits twice the refresh interval (1 s here) after the
    // rotation, so that no other process still seals under the old key.
    let grace = Duration::from_millis(2_200);
    if let Some(wait) = grace.checked_sub(rotated_at.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let retire = fx.run(&["keys", "retire", "1"]).ok();
    assert!(retire.stdout.contains("v1 retired"), "{retire:?}");
    let (_, status) = fx.json(&["keys", "status"]);
    assert_eq!(status["keys"][0]["state"], "retired");

    let verify = fx.run(&["verify"]).ok();
    assert!(
        verify
            .stdout
            .contains(&format!("every value opens: {} values", sealed + 1)),
        "{verify:?}"
    );

    // And the application still reads every token.
    let db = fx.open().await;
    let tokens = db.tenant(tenant).oauth_tokens();
    for (i, id) in ids.iter().enumerate().step_by(37) {
        let token = tokens
            .get(*id, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.access_token.expose(), format!("access-{i}"));
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn verify_reports_a_tampered_row_by_table_and_id_and_exits_1() {
    let (fx, _, ids) = Fixture::seeded(12).await;
    let clean = fx.run(&["verify", "--batch", "5"]).ok();
    assert!(
        clean.stdout.contains("every value opens: 25 values"),
        "{clean:?}"
    );

    // Swap two rows' access tokens: each is a valid ciphertext, bound to
    // the other row.
    let db = fx.open().await;
    let conn = db.unscoped_connection();
    let (a, b) = (ids[3].as_uuid(), ids[7].as_uuid());
    let token_of = |user: Uuid| {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT id, access_token FROM user_oauth_tokens WHERE user_id = ?",
            [user.into()],
        )
    };
    let row_a = conn.query_one_raw(token_of(a)).await.unwrap().unwrap();
    let row_b = conn.query_one_raw(token_of(b)).await.unwrap().unwrap();
    let id_a: String = row_a.try_get_by_index::<Uuid>(0).unwrap().to_string();
    let id_b: String = row_b.try_get_by_index::<Uuid>(0).unwrap().to_string();
    for (id, text) in [(&id_a, &row_b), (&id_b, &row_a)] {
        let sealed: String = text.try_get_by_index(1).unwrap();
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE user_oauth_tokens SET access_token = ? WHERE id = ?",
            [sealed.into(), Uuid::parse_str(id).unwrap().into()],
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    let bad = fx.run(&["verify"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    for id in [&id_a, &id_b] {
        assert!(
            bad.stdout.contains(&format!(
                "unreadable: user_oauth_tokens.access_token row {id}"
            )),
            "{bad:?}"
        );
    }
    assert!(bad.stdout.contains("2 of 25 values do not open"), "{bad:?}");

    let (code, report) = fx.json(&["verify"]);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let mut keys: Vec<&str> = report["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert_eq!(u["table"], "user_oauth_tokens");
            assert_eq!(u["column"], "access_token");
            u["key"].as_str().unwrap()
        })
        .collect();
    keys.sort_unstable();
    let mut expected = vec![id_a.as_str(), id_b.as_str()];
    expected.sort_unstable();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn backup_writes_a_copy_that_doctor_passes() {
    let (fx, _, _) = Fixture::seeded(5).await;
    let copy = fx.dir.path().join("backup.db");
    let copy_arg = copy.to_str().unwrap();
    let (code, done) = fx.json(&["backup", copy_arg]);
    assert_eq!(code, 0, "{done}");
    assert!(done["bytes"].as_u64().unwrap() > 0);

    let again = fx.run(&["backup", copy_arg]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");

    let on_copy = format!("sqlite:{copy_arg}");
    let (code, doctor) = fx.json(&["-u", &on_copy, "doctor"]);
    assert_eq!(code, 0, "{doctor}");
    let checks = doctor["checks"].as_array().unwrap();
    let status = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {doctor}"))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for name in [
        "connect",
        "version",
        "integrity",
        "foreign_keys",
        "migrations",
        "keys",
        "rows",
    ] {
        assert_eq!(status(name), "ok", "{name}: {doctor}");
    }
    let rows = checks.iter().find(|c| c["name"] == "rows").unwrap();
    assert!(
        rows["detail"].as_str().unwrap().contains("users 6"),
        "{rows}"
    );
    // The counts as data too: every table, by name.
    let counts = rows["counts"].as_object().expect("counts object");
    assert_eq!(counts["users"], 6, "{rows}");
    assert_eq!(counts.len(), 44, "{rows}");

    let pg = fx.run(&[
        "-u",
        "postgres://app:s3cret@db.internal/pierre",
        "backup",
        "out.dump",
    ]);
    assert_eq!(pg.code, 1, "{pg:?}");
    assert!(
        pg.stderr
            .contains("pg_dump --enable-row-security --format=custom --file=out.dump"),
        "{pg:?}"
    );
    assert!(
        !pg.stderr.contains("s3cret"),
        "the password is not printed: {pg:?}"
    );
}

#[tokio::test]
async fn doctor_names_each_problem_with_its_fix() {
    let fx = Fixture::new();
    let missing = fx.dir.path().join("typo.db");
    let typo = fx.run(&["-u", &format!("sqlite:{}", missing.display()), "doctor"]);
    assert_eq!(typo.code, 1, "{typo:?}");
    assert!(typo.stdout.contains("no such file"), "{typo:?}");
    assert!(!missing.exists(), "doctor created {}", missing.display());

    std::fs::File::create(fx.url.strip_prefix("sqlite:").unwrap()).unwrap();
    let unmigrated = fx.run(&["doctor"]);
    assert_eq!(unmigrated.code, 1, "{unmigrated:?}");
    assert!(
        unmigrated.stdout.contains("FAIL  migrations"),
        "{unmigrated:?}"
    );
    assert!(
        unmigrated.stdout.contains("fix: pierre-db migrate up"),
        "{unmigrated:?}"
    );

    fx.run(&["migrate", "up"]).ok();
    let (code, healthy) = fx.json(&["doctor"]);
    assert_eq!(code, 0, "{healthy}");
    assert_eq!(
        row_counts(&fx.url).await["key_versions"],
        0,
        "doctor only looks: it creates no data key"
    );
    // After a rotation the old key's values are a warning, with the fix.
    Fixture::seed_into(&fx, 2).await;
    fx.run(&["keys", "rotate"]).ok();
    let stale = fx.run(&["doctor"]);
    assert_eq!(stale.code, 0, "a warning is not a failure: {stale:?}");
    assert!(stale.stdout.contains("warn  keys"), "{stale:?}");
    assert!(
        stale.stdout.contains("fix: pierre-db keys reencrypt"),
        "{stale:?}"
    );

    // Another master key: the data keys do not open.
    let other = fx.dir.path().join("other.key");
    std::fs::write(&other, MasterKey::generate().unwrap().to_base64()).unwrap();
    let wrong = fx.run(&["--master-key-file", other.to_str().unwrap(), "doctor"]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stdout.contains("FAIL  keys"), "{wrong:?}");
    assert!(
        wrong.stdout.contains("use this database's master key"),
        "{wrong:?}"
    );

    let missing = fx.run(&["--master-key-file", "/nonexistent/key", "keys", "status"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("/nonexistent/key"), "{missing:?}");
}

#[tokio::test]
async fn keys_rewrap_moves_the_data_keys_to_a_new_master_key() {
    let (fx, tenant, ids) = Fixture::seeded(3).await;
    let new_key = MasterKey::generate().unwrap();
    let new_file = fx.dir.path().join("new.key");
    std::fs::write(&new_file, new_key.to_base64()).unwrap();
    let rewrap = fx
        .run(&[
            "keys",
            "rewrap",
            "--new-master-key-file",
            new_file.to_str().unwrap(),
        ])
        .ok();
    assert!(rewrap.stdout.contains("1 data key rewrapped"), "{rewrap:?}");

    let old = fx.run(&["keys", "status"]);
    assert_eq!(old.code, 1, "the old master key no longer opens: {old:?}");
    let new = fx
        .run(&["--master-key-file", new_file.to_str().unwrap(), "verify"])
        .ok();
    assert!(
        new.stdout.contains("every value opens: 7 values"),
        "{new:?}"
    );

    let db = Database::connect_with(DatabaseConfig::new(&fx.url, new_key))
        .await
        .unwrap();
    let token = db
        .tenant(tenant)
        .oauth_tokens()
        .get(ids[2], OauthProvider::Strava)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.access_token.expose(), "access-2");
    db.close().await.unwrap();
}

#[tokio::test]
async fn restore_puts_a_checked_backup_in_place_and_asks_before_replacing() {
    let (fx, _, _) = Fixture::seeded(5).await;
    let backup = fx.dir.path().join("backup.db");
    let backup_arg = backup.to_str().unwrap();
    fx.run(&["backup", backup_arg]).ok();

    let fresh = format!("sqlite:{}", fx.dir.path().join("fresh.db").display());
    let (code, done) = fx.json(&["restore", backup_arg, "--to", &fresh]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["replaced"], false);
    assert!(done["verified"].as_u64().unwrap() > 0, "{done}");
    let (code, doctor) = fx.json(&["-u", &fresh, "doctor"]);
    assert_eq!(code, 0, "{doctor}");

    // The live database is there: replacing it needs --yes.
    let live = fx.url.clone();
    let before = std::fs::read(fx.dir.path().join("pierre.db")).unwrap();
    let refused = fx.run(&["restore", backup_arg, "--to", &live]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains("pass --yes"), "{refused:?}");
    assert!(std::fs::read(fx.dir.path().join("pierre.db")).unwrap() == before);
    let replaced = fx
        .run(&["restore", backup_arg, "--to", &live, "--yes"])
        .ok();
    assert!(
        replaced.stdout.contains("replacing the database"),
        "{replaced:?}"
    );
    println!("{}", replaced.stdout);

    let pg = fx.run(&[
        "restore",
        backup_arg,
        "--to",
        "postgres://app:secret@db/pierre",
    ]);
    assert_eq!(pg.code, 1, "{pg:?}");
    assert!(
        pg.stderr
            .contains("pg_restore --enable-row-security --clean"),
        "{pg:?}"
    );
    assert!(!pg.stderr.contains("secret@"), "{pg:?}");
}
