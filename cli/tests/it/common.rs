//! The fixture every test starts from: a SQLite file with its master key,
//! and the built binary run on it.

use std::path::PathBuf;
use std::process::{Command, Output};

use pierre_db::{
    Database, DatabaseConfig, MasterKey, NewOAuthToken, NewTenant, NewUser, OauthProvider, Secret,
    TenantId, UserId,
};
use serde_json::Value;

/// A SQLite file and the key file of its master key, in a temp dir.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub key_file: PathBuf,
    pub key: MasterKey,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("pierre.db").display());
        let key = MasterKey::generate().unwrap();
        let key_file = dir.path().join("master.key");
        std::fs::write(&key_file, key.to_base64()).unwrap();
        Self {
            dir,
            url,
            key_file,
            key,
        }
    }

    /// `pierre-db ARGS` on this database with this key, nothing inherited
    /// that could point it elsewhere.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pierre-db"));
        command
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("PIERRE_MASTER_KEY_FILE", &self.key_file)
            .env_remove("PIERRE_MASTER_ENCRYPTION_KEY")
            // `keys retire` waits twice this long after a rotation.
            .env("PIERRE_KEY_REFRESH_INTERVAL", "1");
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    /// `pierre-db --json ARGS`, its document parsed.
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        let document: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|err| {
            panic!("--json printed something that is not one JSON document ({err}): {run:?}")
        });
        (run.code, document)
    }

    pub async fn open(&self) -> Database {
        Database::connect_with(DatabaseConfig::new(&self.url, self.key.clone()))
            .await
            .unwrap()
    }

    /// Migrated through the binary, with `users` users each holding a
    /// Strava token (access and refresh: two sealed values each).
    pub async fn seeded(users: usize) -> (Self, TenantId, Vec<UserId>) {
        let fx = Self::new();
        fx.run(&["migrate", "up"]).ok();
        let (tenant, ids) = Self::seed_into(&fx, users).await;
        (fx, tenant, ids)
    }

    /// A tenant and `users` users with a token each, in `fx`'s database.
    pub async fn seed_into(fx: &Self, users: usize) -> (TenantId, Vec<UserId>) {
        let db = fx.open().await;
        let owner = db
            .users()
            .create(NewUser::new("owner@example.org", "hash"))
            .await
            .unwrap();
        let tenant = db
            .tenants()
            .create(NewTenant::new("Acme", "acme", owner.id))
            .await
            .unwrap()
            .id;
        let ids = db
            .transaction(move |tx| {
                Box::pin(async move {
                    let mut ids = Vec::with_capacity(users);
                    for i in 0..users {
                        let user = tx
                            .users()
                            .create(NewUser::new(format!("athlete{i}@example.org"), "hash"))
                            .await?;
                        let mut token = NewOAuthToken::new(
                            user.id,
                            OauthProvider::Strava,
                            format!("access-{i}"),
                        );
                        token.refresh_token = Some(Secret::new(format!("refresh-{i}")));
                        tx.tenant(tenant).oauth_tokens().upsert(token).await?;
                        ids.push(user.id);
                    }
                    Ok(ids)
                })
            })
            .await
            .unwrap();
        db.close().await.unwrap();
        (tenant, ids)
    }
}

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

#[path = "../../../tests/support/postgres_db.rs"]
mod postgres_db;

/// A new, empty database on the server `PIERRE_TEST_POSTGRES_URL` names, or
/// `None` when it is unset.
pub async fn postgres_database() -> Option<String> {
    postgres_db::create("PIERRE_TEST_POSTGRES_URL").await
}

/// [`postgres_database`] owned by, and opened as, a role row-level
/// security applies to.
pub async fn walled_postgres_database() -> Option<String> {
    postgres_db::create_walled("PIERRE_TEST_POSTGRES_URL").await
}
