//! Ctrl-C as a flag: long jobs check it between batches, so the batch in
//! hand commits and a rerun resumes after it.
//!
//! Listening replaces the default SIGINT action for the rest of the
//! process, so the listener stays for good: while a job listens, the first
//! Ctrl-C raises the flag; a second one, or any once no job listens, exits
//! at once with status 130.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Code;

/// Raised by the first Ctrl-C (SIGINT) while a job listens; see the module
/// docs.
pub struct Interrupt {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    raised: AtomicBool,
    listening: AtomicBool,
}

impl Interrupt {
    /// Starts listening. On Unix the handler is installed before this
    /// returns, so a signal sent as soon as the job reports progress is
    /// never the default (killing) one.
    pub fn listen() -> Self {
        let state = Arc::new(State::default());
        state.listening.store(true, Ordering::SeqCst);
        let shared = Arc::clone(&state);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut sigint) = signal(SignalKind::interrupt()) {
                tokio::spawn(async move {
                    while sigint.recv().await.is_some() {
                        shared.on_signal();
                    }
                });
            }
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                shared.on_signal();
            }
        });
        Self { state }
    }

    /// Whether Ctrl-C was pressed.
    pub fn raised(&self) -> bool {
        self.state.raised.load(Ordering::SeqCst)
    }
}

impl State {
    fn on_signal(&self) {
        let first = !self.raised.swap(true, Ordering::SeqCst);
        if !(first && self.listening.load(Ordering::SeqCst)) {
            eprintln!("interrupted");
            std::process::exit(Code::Interrupted as i32);
        }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.state.listening.store(false, Ordering::SeqCst);
    }
}
