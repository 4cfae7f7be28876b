//! The engine's driver: runs a step's commands through the executors, spools their output,
//! and records everything in the journal. The TUI and the headless `run` both drive a
//! [`Runner`]; neither writes the journal itself, so both record exactly the same lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::exec::{Cancel, ExecEvent, ExecRequest, Executor, PtySize};
use crate::journal::outputs::OutputSpool;
use crate::journal::sign::SigningKey;
use crate::journal::state::RunState;
use crate::journal::{Entry, Event, Journal, JournalError, Outcome, TornTail};
use crate::runbook::{Command, Runbook, Vars};
use crate::secret::{Redactor, StreamRedactor};

pub mod claims;
pub mod display;
mod error;
mod execute;
mod flow;
mod follow;
pub mod hold;
mod judge;
pub mod monitor;
mod open;
pub mod presence;
pub mod process;
pub mod writer;
pub use error::RunnerError;
pub use judge::{CommandResult, judge};
pub use open::{Opened, RUNBOOK_COPY, new_run_dir};
pub use writer::{Recorder, Writer};

/// Stdout kept in memory per command for `expect.stdout`; the full output is on disk.
const EXPECT_CAPTURE: usize = 8 * 1024 * 1024;
const STOP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq)]
pub enum RunnerEvent {
    /// A journal line, on disk. Includes lines other processes appended to the same run.
    Recorded(Box<Entry>),
    /// Output of a running command, already redacted.
    Output {
        started_seq: u64,
        step: String,
        command: String,
        stderr: bool,
        /// Shared with the spool's hashing, not copied.
        bytes: Bytes,
    },
    /// A problem writing the journal: the UI must say so, loudly.
    JournalFailed(String),
    /// Output the screen could not keep up with and was not sent (it is on disk in full).
    Skipped {
        started_seq: u64,
        step: String,
        bytes: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
    /// Signs this operator's sign-offs; without one they are recorded unsigned.
    pub key: Option<SigningKey>,
}

impl Operator {
    pub fn key_fingerprint(&self) -> Option<String> {
        self.key.as_ref().map(SigningKey::fingerprint)
    }

    /// `algo base64` of the public key, recorded so a verifier can build allowed_signers.
    pub fn key_openssh(&self) -> Option<String> {
        self.key.as_ref().map(SigningKey::openssh)
    }
}

pub struct Runner {
    pub runbook: Arc<Runbook>,
    vars: Vars,
    redactor: Redactor,
    writer: Writer,
    run_dir: PathBuf,
    executors: BTreeMap<String, Arc<dyn Executor>>,
    pub operator: Operator,
    tx: mpsc::Sender<RunnerEvent>,
    pty_size: Mutex<PtySize>,
    probe_counter: std::sync::atomic::AtomicU64,
    /// Output in flight to a screen, when one is listening (see [`display`]).
    display: std::sync::OnceLock<display::DisplayBudget>,
    /// Bytes not sent to the screen since it was last told.
    skipped: std::sync::atomic::AtomicU64,
}

impl Runner {
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// A template as it may be shown: secrets as `[secret:NAME]`.
    pub fn display(&self, t: &crate::runbook::Template) -> String {
        t.render(&self.vars)
            .map_or_else(|e| e.to_string(), |r| r.display)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn executor(&self, target: &str) -> Option<&Arc<dyn Executor>> {
        self.executors.get(target)
    }

    pub fn executors(&self) -> &BTreeMap<String, Arc<dyn Executor>> {
        &self.executors
    }

    pub fn set_pty_size(&self, size: PtySize) {
        if let Ok(mut s) = self.pty_size.lock() {
            *s = size;
        }
        for e in self.executors.values() {
            e.resize(size);
        }
    }

    /// Append an event through the ordered writer and wait until it is on disk; sign-offs are
    /// signed with the operator's key and their signature line follows them.
    pub async fn record(&self, event: Event) -> Result<Entry, RunnerError> {
        self.writer.recorder().record(event).await
    }

    /// The writer's queue itself: for answers that come later, and for other operators' keys.
    pub fn recorder(&self) -> &Recorder {
        self.writer.recorder()
    }

    /// Queue an event without waiting (the TUI: the line shows when the writer reports it).
    pub fn submit(&self, event: Event) -> Result<(), RunnerError> {
        self.writer.recorder().submit(event)
    }

    /// Write what is queued and stop the writer (see [`Writer::close`]).
    pub async fn close(&self, deadline: Duration) -> Result<(), RunnerError> {
        self.writer.close(deadline).await
    }

    /// Record that `step`'s command `index` is starting, run it, record how it ended.
    pub async fn run_command(
        &self,
        step_id: &str,
        index: usize,
        cancel: Cancel,
    ) -> Result<CommandResult, RunnerError> {
        let rb = self.runbook.clone();
        let Some(step) = rb.step(step_id) else {
            return Err(RunnerError::UnknownStep(step_id.to_string()));
        };
        if index >= step.commands.len() {
            return Err(RunnerError::UnknownCommand {
                step: step_id.to_string(),
                index,
            });
        }
        self.run_in_order(step, index, cancel).await
    }

    /// One attempt of a command with these values: recorded start, captured value, finish.
    async fn run(
        &self,
        step_id: &str,
        cmd: &Command,
        vars: &Vars,
        cancel: Cancel,
    ) -> Result<CommandResult, RunnerError> {
        let (rendered, cmd) = match cmd.resolve(vars) {
            Ok(r) => r,
            Err(e) => {
                return Ok(CommandResult {
                    outcome: Outcome::Failed,
                    exit_status: None,
                    reason: Some(e.to_string()),
                    refused: None,
                    proposes: None,
                    skipped: false,
                });
            }
        };
        let started = self
            .record(Event::CommandStarted {
                step: step_id.to_string(),
                command: cmd.name.clone(),
                target: cmd.target.clone(),
                run: rendered.display.clone(),
                operator: self.operator.name.clone(),
                session: Some(process::session_id()),
            })
            .await?;
        let cmd = &cmd;
        let x = self
            .execute(step_id, cmd, started.seq, rendered, cancel)
            .await?;
        let mut result = judge(cmd, &x.end, &x.stdout, &x.stderr);
        if let Some(cap) = cmd
            .capture
            .as_ref()
            .filter(|_| result.outcome == Outcome::Passed)
        {
            // From the redacted output, so a secret the host printed is never captured.
            match cap.extract(&String::from_utf8_lossy(&x.stdout)) {
                Ok(value) => {
                    self.record(Event::Captured {
                        step: step_id.to_string(),
                        command: cmd.name.clone(),
                        started_seq: started.seq,
                        name: cap.name.clone(),
                        value,
                    })
                    .await?;
                }
                Err(why) => {
                    result.outcome = Outcome::Failed;
                    result.reason = Some(why);
                    result.proposes = None;
                }
            }
        }
        self.record(Event::CommandFinished {
            step: step_id.to_string(),
            command: cmd.name.clone(),
            started_seq: started.seq,
            exit_status: x.exit_status,
            signal: x.signal,
            duration_ms: x.duration_ms,
            output_sha256: x.sha256,
            output_bytes: x.len,
            outcome: result.outcome,
            reason: result.reason.clone(),
        })
        .await?;
        Ok(result)
    }

    /// Run a monitoring probe: like a command, but recorded as one `probe` line.
    pub async fn probe(
        &self,
        cmd: &Command,
        cancel: Cancel,
    ) -> Result<(Entry, CommandResult), RunnerError> {
        let (rendered, cmd) = cmd.resolve(&self.vars).map_err(|e| RunnerError::Render {
            what: format!("probe {}", cmd.name),
            message: e.to_string(),
        })?;
        let cmd = &cmd;
        // Probe output is spooled under an id no command start can have, and no other process
        // probing the same run either (its pid is part of it).
        let spool_id = u64::MAX / 2
            + (u64::from(std::process::id()) << 24)
            + self
                .probe_counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let x = self
            .execute(PROBE_STEP, cmd, spool_id, rendered, cancel)
            .await?;
        let result = judge(cmd, &x.end, &x.stdout, &x.stderr);
        let entry = self
            .record(Event::Probe {
                passed: result.outcome == Outcome::Passed,
                exit_status: x.exit_status,
                duration_ms: x.duration_ms,
                output_sha256: x.sha256,
                reason: result.reason.clone(),
                step: None,
                abort: None,
            })
            .await?;
        Ok((entry, result))
    }
}

/// The step name under which probe output is streamed to the listener.
pub const PROBE_STEP: &str = "gate.monitor";
