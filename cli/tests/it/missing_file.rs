//! A mistyped SQLite path creates nothing: only `migrate up` makes a new
//! database file (issue 29).

use crate::common::Fixture;

#[test]
fn commands_on_a_missing_file_create_nothing_and_name_it() {
    let fx = Fixture::new();
    let missing_dir = fx.dir.path().join("nodir");
    let in_missing_dir = missing_dir.join("x.db");
    let in_dir = fx.dir.path().join("typo.db");
    let commands: [&[&str]; 5] = [
        &["verify"],
        &["keys", "status"],
        &["keys", "rotate"],
        &["backup", "out.db"],
        &["migrate", "status"],
    ];
    for path in [&in_missing_dir, &in_dir] {
        let url = format!("sqlite:{}", path.display());
        for args in commands {
            let mut all = vec!["-u", url.as_str()];
            all.extend_from_slice(args);
            let run = fx.run(&all);
            assert_ne!(run.code, 0, "{args:?} on a missing file: {run:?}");
            assert!(
                run.stderr.contains(&path.display().to_string()),
                "{args:?}: the message names the file: {run:?}"
            );
            assert!(
                run.stderr.contains("no such file"),
                "{args:?}: the message says what is wrong: {run:?}"
            );
            assert!(!path.exists(), "{args:?} created {}", path.display());
            assert!(!missing_dir.exists(), "{args:?} created a directory");
            assert!(
                !fx.dir.path().join("out.db").exists(),
                "{args:?}: backup wrote a copy of nothing"
            );
        }
    }
    // `migrate up` does create the database it is pointed at.
    let url = format!("sqlite:{}", in_missing_dir.display());
    let made = fx.run(&["-u", &url, "migrate", "up"]);
    assert_eq!(made.code, 0, "{made:?}");
    assert!(in_missing_dir.exists());
}
