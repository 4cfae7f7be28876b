//! Executors: run one command on a target and report what happens as a stream of
//! [`ExecEvent`]s over a channel. The SSH executor (russh), the local one (tokio::process) and
//! the demo host all speak this; the TUI and the headless `run` are its clients.
//!
//! Every run ends with exactly one terminal event (`Finished`, `TimedOut`, `Cancelled`,
//! `ConnectionLost` or `Failed`), sent after all the output.

pub mod known_hosts;
pub mod local;
pub mod ssh;
pub mod ssh_config;
pub mod target;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use crate::secret::SecretString;

#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The command line. Secrets are not in it: they come on stdin (see `input`).
    pub command: SecretString,
    /// Written to the command's stdin, then EOF. `None`: EOF at once, so a command that reads
    /// its input ends instead of waiting for its timeout.
    pub input: Option<SecretString>,
    pub pty: Option<PtySize>,
    pub timeout: Duration,
    /// Between INT and TERM, and between TERM and closing the channel.
    pub grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtySize {
    pub cols: u16,
    pub rows: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub status: Option<u32>,
    pub signal: Option<String>,
}

/// How far a stop had to go before the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopStage {
    /// Ended after SIGINT.
    Interrupt,
    /// Ended after SIGTERM.
    Terminate,
    /// Still running after both: the channel (or process) was closed or killed.
    Closed,
}

impl fmt::Display for StopStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopStage::Interrupt => "stopped by SIGINT",
            StopStage::Terminate => "stopped by SIGTERM after SIGINT was ignored",
            StopStage::Closed => {
                "killed (SIGKILL) and the channel closed after SIGINT and SIGTERM were ignored"
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectErrorKind {
    HostKey,
    Auth,
    Unreachable,
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub kind: ConnectErrorKind,
    pub message: String,
}

/// What the client learned about the host's key while connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeySeen {
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    pub fingerprint: String,
    pub trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Known,
    Pinned,
    AcceptedOnce,
    AcceptedSaved,
}

impl Trust {
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Known => "known",
            Trust::Pinned => "pinned",
            Trust::AcceptedOnce => "accepted_once",
            Trust::AcceptedSaved => "accepted_saved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// A new connection was made for this command; its host key.
    Connected(HostKeySeen),
    Started,
    /// Output as the executor received it: shared, not copied, on its way to the spool.
    Stdout(Bytes),
    Stderr(Bytes),
    Finished(ExitInfo),
    TimedOut {
        stage: StopStage,
        exit: Option<ExitInfo>,
    },
    Cancelled {
        stage: StopStage,
        exit: Option<ExitInfo>,
    },
    ConnectionLost {
        reason: String,
    },
    Failed(ConnectError),
}

impl ExecEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ExecEvent::Finished(_)
                | ExecEvent::TimedOut { .. }
                | ExecEvent::Cancelled { .. }
                | ExecEvent::ConnectionLost { .. }
                | ExecEvent::Failed(_)
        )
    }
}

/// A cancel signal any number of holders can wait on.
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Cancel {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Cancel {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl Cancel {
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once `cancel` has been called.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which cannot happen while we hold one.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// Host key questions and secrets the executor needs a person for.
pub trait Prompter: Send + Sync {
    fn host_key(&self, q: HostKeyQuestion) -> BoxFuture<'static, TrustDecision>;
    /// A passphrase, password or keyboard-interactive answer. `None`: the user declined.
    fn secret(&self, prompt: String) -> BoxFuture<'static, Option<SecretString>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyQuestion {
    pub target: String,
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    pub fingerprint: String,
    /// Where "accept and save" would write.
    pub known_hosts: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustDecision {
    Refuse,
    AcceptOnce,
    AcceptAndSave,
}

/// A prompter for headless use: no questions, one fixed answer for unknown keys.
#[derive(Debug, Clone, Copy)]
pub struct Headless {
    pub accept_new_host_key: bool,
}

impl Prompter for Headless {
    fn host_key(&self, _q: HostKeyQuestion) -> BoxFuture<'static, TrustDecision> {
        let d = if self.accept_new_host_key {
            TrustDecision::AcceptAndSave
        } else {
            TrustDecision::Refuse
        };
        Box::pin(async move { d })
    }
    fn secret(&self, _prompt: String) -> BoxFuture<'static, Option<SecretString>> {
        Box::pin(async { None })
    }
}

/// Runs commands on one target. Implementations keep their connection between commands.
pub trait Executor: Send + Sync {
    /// Run `req`, sending events to `tx` until (and including) the terminal one.
    fn run(
        &self,
        req: ExecRequest,
        tx: mpsc::Sender<ExecEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'_, ()>;
    /// `user@host:port` or `local`, for the status bar.
    fn describe(&self) -> String;
    /// Is a connection currently open?
    fn connected(&self) -> bool {
        true
    }
    /// Tell a running PTY command the terminal changed size.
    fn resize(&self, _size: PtySize) {}
}

/// Why a command is being stopped, and how far the stop has gone: INT first, TERM after
/// `grace`, then the channel is closed (or the process group killed) after another `grace`.
#[derive(Debug, Clone, Copy)]
pub struct Stopper {
    pub timed_out: bool,
    pub stage: StopStage,
    pub deadline: tokio::time::Instant,
    grace: Duration,
}

/// What the executor must do next to stop the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAction {
    Signal(&'static str),
    Close,
}

impl Stopper {
    /// Start stopping; the caller sends the first signal, [`Stopper::FIRST`].
    pub fn begin(timed_out: bool, grace: Duration) -> Stopper {
        Stopper {
            timed_out,
            stage: StopStage::Interrupt,
            deadline: tokio::time::Instant::now() + grace,
            grace,
        }
    }

    pub const FIRST: &'static str = "INT";

    /// The grace period ran out: go one stage further.
    pub fn advance(&mut self) -> StopAction {
        self.deadline = tokio::time::Instant::now() + self.grace;
        match self.stage {
            StopStage::Interrupt => {
                self.stage = StopStage::Terminate;
                StopAction::Signal("TERM")
            }
            StopStage::Terminate | StopStage::Closed => {
                self.stage = StopStage::Closed;
                StopAction::Close
            }
        }
    }

    pub fn event(&self, exit: Option<ExitInfo>) -> ExecEvent {
        if self.timed_out {
            ExecEvent::TimedOut {
                stage: self.stage,
                exit,
            }
        } else {
            ExecEvent::Cancelled {
                stage: self.stage,
                exit,
            }
        }
    }
}

/// Sleep until `deadline`, or forever when there is none (for `select!` arms).
pub async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
