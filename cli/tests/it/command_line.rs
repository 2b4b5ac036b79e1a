//! The command line itself: one refused by the parser is reported like
//! every other failure (one line on stderr, the `--json` document on
//! stdout, exit status 2), while help and version print as usual.

use crate::common::Fixture;

#[test]
fn a_refused_command_line_is_one_line_and_a_json_document() {
    let fx = Fixture::new();
    let refused: [&[&str]; 5] = [
        &["verify", "--batch", "0"],
        &["--no-such-flag", "doctor"],
        &["migrate", "sideways"],
        &["migrate"],
        &[],
    ];
    for args in refused {
        let run = fx.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line on stderr: {run:?}");
        let line = lines[0];
        assert!(
            line.starts_with("error: ") && line.ends_with("(see --help)"),
            "{args:?}: {line}"
        );
        assert!(!line.contains("Usage:"), "{args:?}: {line}");

        let (code, document) = fx.json(args);
        assert_eq!(code, 2, "{args:?} --json");
        assert_eq!(document["ok"], false, "{args:?}: {document}");
        assert_eq!(
            document["error"].as_str(),
            line.strip_prefix("error: "),
            "{args:?}: the document carries the same message"
        );
    }
    let batch = fx.run(&["verify", "--batch", "0"]);
    assert!(
        batch.stderr.contains("--batch"),
        "names the option: {batch:?}"
    );
    // A missing argument is named on the same line.
    let retire = fx.run(&["keys", "retire"]);
    assert_eq!(retire.code, 2, "{retire:?}");
    assert_eq!(retire.stderr.lines().count(), 1, "{retire:?}");
    assert!(
        retire.stderr.contains("<VERSION>"),
        "names the argument: {retire:?}"
    );
}

#[test]
fn help_and_version_still_print_in_full() {
    let fx = Fixture::new();
    let help = fx.run(&["--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("Exit status:"), "{help:?}");
    let version = fx.run(&["--version"]);
    assert_eq!(version.code, 0, "{version:?}");
    assert!(version.stdout.starts_with("pierre-db "), "{version:?}");
}

/// A connection failure is the library's classified message, on one line:
/// never the driver's raw text or the server's source line.
#[tokio::test]
async fn a_missing_postgres_database_is_named_with_its_fix() {
    let Some(url) = crate::common::postgres_database().await else {
        eprintln!("PIERRE_TEST_POSTGRES_URL is unset: the PostgreSQL connect test did not run");
        return;
    };
    let (server, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{server}/pierre_no_such_database");
    let fx = Fixture::new();
    let said = "the database does not exist; create it (createdb NAME)";
    let run = fx.run(&["-u", &missing, "migrate", "up"]);
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {run:?}");
    assert!(lines[0].contains(said), "{run:?}");
    assert!(!lines[0].contains(" at line "), "{run:?}");
    let (code, document) = fx.json(&["-u", &missing, "migrate", "up"]);
    assert_eq!(code, 1, "--json");
    assert_eq!(document["ok"], false, "{document}");
    assert_eq!(
        document["error"].as_str().unwrap(),
        lines[0].strip_prefix("error: ").unwrap(),
        "the document carries the same message"
    );
    // The doctor reports it among its checks, on stdout, in the same words.
    let doctor = fx.run(&["-u", &missing, "doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains(said), "{doctor:?}");
    assert!(!doctor.stdout.contains(" at line "), "{doctor:?}");
}

#[test]
fn master_key_problems_name_the_flag_or_say_how_to_make_a_key() {
    let fx = Fixture::new();
    fx.run(&["migrate", "up"]).ok();
    let bad = fx.dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    let missing = fx.dir.path().join("missing.key");
    for file in [&bad, &missing] {
        let file = file.to_str().unwrap();
        let run = fx.run(&["--master-key-file", file, "keys", "status"]);
        assert_eq!(run.code, 2, "{run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{run:?}");
        assert!(
            lines[0].starts_with("error: --master-key-file: "),
            "{run:?}"
        );
        assert!(!lines[0].contains("PIERRE_MASTER_KEY_FILE"), "{run:?}");
        let (code, document) = fx.json(&["--master-key-file", file, "keys", "status"]);
        assert_eq!(code, 2, "--json");
        assert_eq!(document["ok"], false, "{document}");
        assert_eq!(
            document["error"].as_str().unwrap(),
            lines[0].strip_prefix("error: ").unwrap(),
            "the document carries the same message"
        );
    }
    let output = fx
        .command(&["keys", "status"])
        .env_remove("PIERRE_MASTER_KEY_FILE")
        .output()
        .unwrap();
    let run = crate::common::Run::from(output);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("openssl rand -base64 32"), "{run:?}");
    assert!(run.stderr.contains("--master-key-file"), "{run:?}");
}
