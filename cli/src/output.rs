//! What the command prints: text lines for people, one JSON document for
//! programs (`--json`), progress bars only on a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::interrupt::Interrupt;

/// Where output goes, decided once from the global options.
pub struct Output {
    json: bool,
    quiet: bool,
    terminal: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Whether stdout is for the one JSON document.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// A line of the human-readable result, on stdout.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json && !self.quiet {
            println!("{}", text.as_ref());
        }
    }

    /// The JSON document of the result (only with `--json`).
    pub fn document(&self, value: Value) {
        if self.json {
            println!("{value}");
        }
    }

    /// A failure: one line on stderr, and the JSON document with `--json`.
    pub fn error(&self, message: &str) {
        eprintln!("error: {message}");
        if self.json {
            println!("{}", json!({ "ok": false, "error": message }));
        }
    }

    /// A progress display for `len` units of `unit` (singular: `row`): a bar on a terminal,
    /// a plain line every few seconds when stderr is piped, nothing with
    /// `--json` or `-q`.
    pub fn progress(&self, label: &str, len: u64, unit: &'static str) -> Progress {
        let shown = !self.json && !self.quiet;
        let bar = (shown && self.terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            // `wide_bar` takes what the line leaves of the terminal's width,
            // so the line never wraps; the rate is whole units per second.
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {unit}s \
                     {{rate}} ETA {{eta}} {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_owned());
            bar
        });
        Progress {
            bar,
            plain: shown && !self.terminal,
            label: label.to_owned(),
            unit,
            len,
            started: Instant::now(),
            last_line: None,
            position: 0,
        }
    }
}

/// One progress display; see [`Output::progress`].
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    label: String,
    unit: &'static str,
    len: u64,
    started: Instant,
    /// When the last plain line was printed.
    last_line: Option<Instant>,
    position: u64,
}

/// How often a piped progress display prints a line.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    pub fn set_position(&mut self, position: u64) {
        self.position = position;
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        } else if self.plain
            && match self.last_line {
                // At once when the job has more to do: a reader of piped
                // output sees it start, and a one-batch job prints only its
                // summary.
                None => position < self.len,
                Some(t) => t.elapsed() >= PLAIN_EVERY,
            }
        {
            self.last_line = Some(Instant::now());
            eprintln!("{}: {}/{} {}s", self.label, position, self.len, self.unit);
        }
    }

    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }

    /// One report of a batch job: shows `position` and `message`, and
    /// tells the job to stop if Ctrl-C was pressed.
    pub fn step(
        &mut self,
        position: u64,
        message: &str,
        interrupt: &Interrupt,
    ) -> std::ops::ControlFlow<()> {
        self.set_position(position);
        self.set_message(message);
        if interrupt.raised() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }

    /// Ends the display with a summary line, which replaces the bar on a
    /// terminal (so what is printed next starts on a line of its own).
    pub fn finish(self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.plain {
            eprintln!(
                "{}: {} in {:.1} s",
                self.label,
                counted(self.position, self.unit),
                elapsed
            );
        }
    }
}

/// `n` per second over `elapsed`, for reports.
pub fn rate(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// `n` and the noun, singular for one: "1 value", "2 values".
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_the_rest_plural() {
        assert_eq!(counted(1u64, "row"), "1 row");
        assert_eq!(counted(0u64, "row"), "0 rows");
        assert_eq!(counted(2u32, "value"), "2 values");
    }
}
