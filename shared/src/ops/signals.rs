//! The signals that stop a process: Ctrl-C (SIGINT) and, on Unix, SIGTERM, as a service
//! manager or `kill` sends it.
//!
//! Listen for them *before* telling anyone the process is ready. Until a handler is in place,
//! a signal takes its default action and ends the process at once: a node that has printed its
//! `started` line but not yet listened would be killed by the SIGTERM meant to stop it
//! cleanly, cutting its live feeds. `tokio::signal::ctrl_c` only listens from its first poll,
//! so [`StopSignals::listen`] sets the handlers up when it is called.

/// A signal that asks the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    /// Its usual name, as a log or a console says it.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// Handlers for SIGINT and SIGTERM, in place from [`StopSignals::listen`] on.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening (within a Tokio runtime). A handler that cannot be set up is simply
    /// never heard from.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the next stop signal (one that came since `listen` included).
    pub async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = recv_from(&mut self.interrupt) => StopSignal::Interrupt,
                Some(()) = recv_from(&mut self.terminate) => StopSignal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            StopSignal::Interrupt
        }
    }

    /// Waits for Ctrl-C (SIGINT) alone.
    pub async fn interrupt(&mut self) {
        #[cfg(unix)]
        recv_from(&mut self.interrupt).await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The next delivery of `signal`; never, if it has no handler.
#[cfg(unix)]
async fn recv_from(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
