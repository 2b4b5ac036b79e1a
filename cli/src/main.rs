//! `pierre-db`: the operator's command for a pierre-db database.
//!
//! Every failure is one line on stderr (and, with `--json`, an
//! `{"ok": false, "error": …}` document on stdout) and an exit status:
//! see [`exit`].

#![cfg_attr(test, allow(clippy::unwrap_used, reason = "a failed unit test panics"))]

mod args;
mod commands;
mod connect;
mod exit;
mod interrupt;
mod output;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::exit::Failure;
use crate::output::Output;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.global.json, cli.global.quiet);
    let outcome = match &cli.command {
        Command::Migrate(action) => commands::migrate::run(&cli.global, &out, action).await,
        Command::Keys(action) => commands::keys::run(&cli.global, &out, action).await,
        Command::Verify(options) => commands::verify::run(&cli.global, &out, options).await,
        Command::Backup(options) => commands::backup::run(&cli.global, &out, options).await,
        Command::Doctor => commands::doctor::run(&cli.global, &out).await,
        Command::Copy(options) => commands::copy::run(&cli.global, &out, options).await,
    };
    match outcome {
        Ok(code) => code.into(),
        Err(Failure { message, code }) => {
            out.error(&message);
            code.into()
        }
    }
}
