//! Ctrl-C as a flag: long jobs check it between batches, so the batch in
//! hand commits and a rerun resumes after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinHandle;

/// Raised by the first Ctrl-C (SIGINT) after [`Interrupt::listen`].
pub struct Interrupt {
    raised: Arc<AtomicBool>,
    listener: JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening. On Unix the handler is installed before this
    /// returns, so a signal sent as soon as the job reports progress is
    /// never the default (killing) one.
    pub fn listen() -> Self {
        let raised = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&raised);
        #[cfg(unix)]
        let listener = {
            use tokio::signal::unix::{SignalKind, signal};
            let installed = signal(SignalKind::interrupt());
            tokio::spawn(async move {
                if let Ok(mut sigint) = installed {
                    if sigint.recv().await.is_some() {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            })
        };
        #[cfg(not(unix))]
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        });
        Self { raised, listener }
    }

    /// Whether Ctrl-C was pressed.
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.listener.abort();
    }
}
