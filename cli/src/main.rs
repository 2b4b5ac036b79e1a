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
use crate::exit::{Code, Failure};
use crate::output::Output;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return command_line_refused(&err),
    };
    let out = Output::new(cli.global.json, cli.global.quiet);
    let outcome = match &cli.command {
        Command::Migrate(action) => commands::migrate::run(&cli.global, &out, action).await,
        Command::Keys(action) => commands::keys::run(&cli.global, &out, action).await,
        Command::Verify(options) => commands::verify::run(&cli.global, &out, options).await,
        Command::Backup(options) => commands::backup::run(&cli.global, &out, options).await,
        Command::Restore(options) => commands::restore::run(&cli.global, &out, options).await,
        Command::Doctor => commands::doctor::run(&cli.global, &out).await,
        Command::Copy(options) => commands::copy::run(&cli.global, &out, options).await,
        Command::Adopt(options) => commands::adopt::run(&cli.global, &out, options).await,
        Command::Rls(action) => commands::rls::run(&cli.global, &out, action).await,
    };
    match outcome {
        Ok(code) => code.into(),
        Err(Failure { message, code }) => {
            out.error(&message);
            code.into()
        }
    }
}

/// A command line clap refused, reported like every other failure: one
/// line on stderr (clap's first line, which names the problem), the
/// `--json` document, and the usage exit status. Help and version are
/// printed as clap prints them.
fn command_line_refused(err: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let message = match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Printing to a closed pipe is not worth an error of its own.
            let _ = err.print();
            return Code::Ok.into();
        }
        // clap would print the command's whole help here.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is missing (see --help)".to_owned()
        }
        _ => one_line(err),
    };
    // Parsing failed, so `--json` is looked for in the raw arguments.
    let json = std::env::args_os().skip(1).any(|arg| arg == "--json");
    Output::new(json, false).error(&message);
    Code::Usage.into()
}

/// clap's message on one line: its first paragraph (which, for a missing
/// argument, lists the arguments on the lines below the first), joined,
/// without its own `error:` prefix, its tips and its usage block.
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    let message = joined.strip_prefix("error:").unwrap_or(&joined).trim();
    if message.is_empty() {
        return "the command line was not understood (see --help)".to_owned();
    }
    format!("{message} (see --help)")
}
