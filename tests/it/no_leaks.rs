//! Secrets never leave in clear: not in tracing output (at TRACE, SeaORM's
//! and sqlx's own events included), not in `Debug` forms, not in the SQLite
//! file on disk.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use pierre_db::{Database, DatabaseConfig, MasterKey, NewOAuthToken, NewUser, Secret};

const ACCESS: &str = "ACCESS-7f3a9c-plaintext-token";
const REFRESH: &str = "REFRESH-91bd22-plaintext-token";
const ROTATED: &str = "ROTATED-0c44aa-plaintext-token";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Stores and reads tokens through every token path, returning what it printed.
async fn exercise(db: &Database) -> Vec<String> {
    let users = db.users();
    let alice = users
        .create(NewUser::new("alice@example.org", "pw-hash"))
        .await
        .unwrap();
    let tenant = common::tenant_of(db, alice.id).await;
    let tokens = db.tenant(tenant).oauth_tokens();
    let mut token = NewOAuthToken::new(alice.id, "strava", ACCESS);
    token.refresh_token = Some(Secret::new(REFRESH));
    let new_token_debug = format!("{token:?}");
    tokens.upsert(token).await.unwrap();
    let read = tokens.get(alice.id, "strava").await.unwrap().unwrap();
    assert_eq!(
        read.access_token.expose(),
        ACCESS,
        "the test reads the real value"
    );
    tokens
        .refresh(alice.id, "strava", &Secret::new(ROTATED), None, None)
        .await
        .unwrap();
    let listed = tokens.list_for_user(alice.id).await.unwrap();
    db.security().rotate_data_key().await.unwrap();
    db.security()
        .reencrypt_all(10, |_| std::ops::ControlFlow::Continue(()))
        .await
        .unwrap();
    let again = db
        .across_tenants()
        .oauth_tokens()
        .list_for_user(alice.id)
        .await
        .unwrap();
    assert_eq!(again[0].access_token.expose(), ROTATED);
    vec![
        new_token_debug,
        format!("{read:?}"),
        format!("{listed:?}"),
        format!("{again:?}"),
        format!("{:?}", Secret::new(ACCESS)),
        format!("{}", Secret::new(ACCESS)),
        format!("{db:?}"),
        format!("{:?}", db.config()),
    ]
}

fn assert_clean(label: &str, text: &str, master: &MasterKey) {
    for secret in [ACCESS, REFRESH, ROTATED, &master.to_base64()] {
        assert!(
            !text.contains(secret),
            "{label} contains a secret ({secret})"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tracing_output_and_debug_forms_hold_no_plaintext() {
    for t in common::databases().await {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            // Print every span as it opens and closes, with its fields.
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let debugs = exercise(&t.db).await;
        drop(guard);
        let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains("tenant_id"),
            "{}: spans were captured:\n{log}",
            t.backend
        );
        if std::env::var("PIERRE_SHOW_TRACE").is_ok() {
            eprintln!("{log}");
        }
        let master = t.db.config().master_key.clone();
        assert_clean(&format!("{} tracing output", t.backend), &log, &master);
        for (i, shown) in debugs.iter().enumerate() {
            assert_clean(&format!("{} Debug form {i}", t.backend), shown, &master);
        }
    }
}

#[tokio::test]
async fn the_sqlite_file_holds_no_plaintext_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.db");
    let mut config = DatabaseConfig::new(
        format!("sqlite:{}", path.display()),
        MasterKey::generate().unwrap(),
    );
    config.migrate_on_connect = true;
    let db = Database::connect_with(config).await.unwrap();
    exercise(&db).await;
    // Also the WAL: scan every file SQLite wrote before and after closing.
    let mut scanned = 0;
    for stage in ["open", "closed"] {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            scanned += bytes.len();
            for secret in [ACCESS, REFRESH, ROTATED] {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(
                    !found,
                    "{stage}: {} contains {secret}",
                    entry.path().display()
                );
            }
        }
        if stage == "open" {
            db.clone().close().await.unwrap();
        }
    }
    assert!(
        scanned > 100_000,
        "the database files were read ({scanned} bytes)"
    );
}
