//! The `migration` binary: errors are one line and an exit status, never a
//! panic.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migration"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn a_missing_url_says_how_to_give_one() {
    let output = run(&["status"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = one_line_error(&output);
    assert!(
        stderr.contains("-u URL") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_server_is_one_line_without_the_password() {
    if !cfg!(feature = "postgres") {
        return;
    }
    let started = std::time::Instant::now();
    let output = run(&["-u", "postgres://nobody:hunter2@127.0.0.1:1/none", "status"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    let stderr = one_line_error(&output);
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn an_unopenable_sqlite_file_is_one_line() {
    let output = run(&["-u", "sqlite:/nonexistent-dir/x.db", "status"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = one_line_error(&output);
    assert!(stderr.contains("unable to open database file"), "{stderr}");
}
