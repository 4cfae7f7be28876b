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
mod flow;
mod follow;
pub mod hold;
mod judge;
pub mod monitor;
mod open;
pub mod presence;
pub mod process;
pub mod writer;
pub use judge::{CommandResult, judge};
pub use open::{Opened, RUNBOOK_COPY, new_run_dir};
pub use writer::{Recorder, Writer};

/// What can go wrong driving a run, with what a person needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Journal(JournalError),
    #[error("cannot write output for the journal in {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no step `{0}` in this runbook")]
    UnknownStep(String),
    #[error("step `{step}` has no command #{index}")]
    UnknownCommand { step: String, index: usize },
    #[error("no target `{0}` in this session")]
    UnknownTarget(String),
    #[error("{run_dir}: this run is of runbook `{recorded}`, not `{given}`", run_dir = run_dir.display())]
    OtherRunbook {
        run_dir: PathBuf,
        recorded: String,
        given: String,
    },
    /// A demo run resumed against real hosts, or a real run resumed on the demo host.
    #[error("{}: this run's targets were {}, and now they would be {}: start a new run", run_dir.display(), where_to(recorded), where_to(given))]
    Redirected {
        run_dir: PathBuf,
        recorded: Option<String>,
        given: Option<String>,
    },
    #[error("{run_dir}: the runbook changed since this run started (recorded sha256 {recorded}, given {given}); finish it with the runbook it started with, or start a new run", run_dir = run_dir.display())]
    ChangedRunbook {
        run_dir: PathBuf,
        recorded: String,
        given: String,
    },
    #[error(
        "`{step}` is being run by {operator} ({command}, process {session}, since {since}); wait for it to end"
    )]
    Held {
        step: String,
        command: String,
        operator: String,
        session: String,
        since: String,
    },
    /// The step may not run now: skipped by its condition, or waiting for prerequisites.
    #[error(
        "{why}; to run it anyway, waive the order with a reason (`run --waive-order REASON`, or W in the TUI)"
    )]
    Blocked { step: String, why: String },
    #[error("the monitoring window starts once {} passed; run that first", .0.join(", "))]
    MonitorWaiting(Vec<String>),
    #[error(
        "nothing recorded: an acknowledgement restarts the window only when signed; set a signing key"
    )]
    UnsignedAck,
    #[error("a waiver needs a reason")]
    NoReason,
    #[error("the runbook's gate has no [gate.monitor]")]
    NoMonitor,
    #[error("step `{0}` has no hold")]
    NoHold(String),
    #[error("`{0}` holds once its commands passed; run them first")]
    HoldBeforeCommands(String),
    #[error("cannot render `{what}`: {message}")]
    Render { what: String, message: String },
    #[error("redaction failed, nothing was written: {0}")]
    Redaction(String),
    #[error("the sign-off was recorded UNSIGNED: {0}")]
    Signing(String),
    #[error(
        "REFUSED: {operator} has no signing key available in this session, and nobody signs with someone else's key; nothing was recorded. Give {operator} a key: an ssh-agent key with comment {operator}, or [operators.{operator}] signing_key in config.toml"
    )]
    NoKey { operator: String },
    #[error("the journal writer has stopped; nothing more can be recorded in this session")]
    WriterGone,
    #[error(
        "{left} event(s) were still waiting to be written after {waited:?}; the run is marked for recovery"
    )]
    Undrained { left: usize, waited: Duration },
}

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

    /// Execute a rendered command, streaming its redacted output to the listener and the
    /// spool, and recording the host key of any new connection.
    async fn execute(
        &self,
        step_id: &str,
        cmd: &Command,
        spool_id: u64,
        command: crate::runbook::Rendered,
        cancel: Cancel,
    ) -> Result<Executed, RunnerError> {
        let begun = Instant::now();
        keep_freed_memory();
        let io_err = |e: std::io::Error| RunnerError::Output {
            path: self.run_dir.join("outputs"),
            source: e,
        };
        let mut spool = OutputSpool::create(&self.run_dir, spool_id).map_err(io_err)?;
        let Some(exec) = self.executors.get(&cmd.target).cloned() else {
            return Err(RunnerError::UnknownTarget(cmd.target.clone()));
        };
        let pty = cmd.pty.then(|| {
            self.pty_size
                .lock()
                .map(|s| *s)
                .unwrap_or(PtySize { cols: 80, rows: 24 })
        });
        let req = ExecRequest {
            command: command.value,
            input: command.input,
            pty,
            timeout: cmd.timeout,
            grace: STOP_GRACE,
        };
        let (etx, mut erx) = mpsc::channel::<ExecEvent>(64);
        let run = exec.run(req, etx, cancel);
        tokio::pin!(run);
        let mut run_done = false;
        let mut reds = [
            StreamRedactor::new(self.redactor.clone()),
            StreamRedactor::new(self.redactor.clone()),
        ];
        let mut caps: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let secretless = self.redactor.is_empty();
        let mut last_flush = Instant::now();
        let mut end: Option<ExecEvent> = None;
        loop {
            let ev = tokio::select! {
                () = &mut run, if !run_done => { run_done = true; continue; }
                ev = erx.recv() => ev,
            };
            let Some(ev) = ev else { break };
            match ev {
                ExecEvent::Connected(seen) => {
                    self.record(Event::HostKey {
                        target: cmd.target.clone(),
                        host: seen.host,
                        port: seen.port,
                        algorithm: seen.algorithm,
                        fingerprint: seen.fingerprint,
                        trust: seen.trust.as_str().to_string(),
                    })
                    .await?;
                }
                ExecEvent::Started => {}
                ExecEvent::Stdout(b) | ExecEvent::Stderr(b) if b.is_empty() => {}
                ExecEvent::Stdout(b) => {
                    let clean = redact(secretless, &mut reds[0], b);
                    self.emit(
                        &mut spool,
                        spool_id,
                        step_id,
                        cmd,
                        false,
                        clean,
                        &mut caps[0],
                    )
                    .await
                    .map_err(io_err)?;
                }
                ExecEvent::Stderr(b) => {
                    let clean = redact(secretless, &mut reds[1], b);
                    self.emit(
                        &mut spool,
                        spool_id,
                        step_id,
                        cmd,
                        true,
                        clean,
                        &mut caps[1],
                    )
                    .await
                    .map_err(io_err)?;
                }
                terminal => end = Some(terminal),
            }
            if last_flush.elapsed() > Duration::from_millis(500) {
                spool.flush().map_err(io_err)?;
                last_flush = Instant::now();
            }
        }
        for (i, red) in reds.iter_mut().enumerate() {
            let rest = Bytes::from(red.finish());
            self.emit(
                &mut spool,
                spool_id,
                step_id,
                cmd,
                i == 1,
                rest,
                &mut caps[i],
            )
            .await
            .map_err(io_err)?;
        }
        self.flush_skipped(spool_id, step_id).await;
        let (sha256, len) = spool.finish().map_err(io_err)?;
        let end = end.unwrap_or(ExecEvent::ConnectionLost {
            reason: "the executor ended without a result".into(),
        });
        if let ExecEvent::Failed(e) = &end {
            self.record(Event::ConnectFailed {
                target: cmd.target.clone(),
                error: e.message.clone(),
            })
            .await?;
        }
        let (exit_status, signal) = match &end {
            ExecEvent::Finished(x) => (x.status, x.signal.clone()),
            ExecEvent::TimedOut { exit: Some(x), .. }
            | ExecEvent::Cancelled { exit: Some(x), .. } => (x.status, x.signal.clone()),
            _ => (None, None),
        };
        let [stdout, stderr] = caps;
        Ok(Executed {
            end,
            sha256,
            len,
            stdout,
            stderr,
            exit_status,
            signal,
            duration_ms: u64::try_from(begun.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn emit(
        &self,
        spool: &mut OutputSpool,
        started_seq: u64,
        step: &str,
        cmd: &Command,
        stderr: bool,
        bytes: Bytes,
        cap: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        spool.write_shared(bytes.clone())?;
        let room = EXPECT_CAPTURE.saturating_sub(cap.len());
        cap.extend_from_slice(&bytes[..room.min(bytes.len())]);
        if let Some(budget) = self.display.get() {
            if !budget.take(bytes.len()) {
                self.skipped
                    .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            self.flush_skipped(started_seq, step).await;
        }
        let _ = self
            .tx
            .send(RunnerEvent::Output {
                started_seq,
                step: step.to_string(),
                command: cmd.name.clone(),
                stderr,
                bytes,
            })
            .await;
        Ok(())
    }
}

impl Runner {
    /// Limit the output in flight to a screen (the TUI); headless listeners get everything.
    pub fn set_display_budget(&self, budget: display::DisplayBudget) {
        let _ = self.display.set(budget);
    }

    /// Tell the screen how much it did not get since it last did.
    async fn flush_skipped(&self, started_seq: u64, step: &str) {
        let n = self.skipped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            let _ = self
                .tx
                .send(RunnerEvent::Skipped {
                    started_seq,
                    step: step.to_string(),
                    bytes: n,
                })
                .await;
        }
    }
}

/// A chunk with its secrets redacted; with no secrets to find it passes as it came, uncopied.
fn redact(secretless: bool, red: &mut StreamRedactor, chunk: Bytes) -> Bytes {
    if secretless {
        chunk
    } else {
        Bytes::from(red.push(&chunk))
    }
}

/// Streaming allocates a chunk per SSH packet on one thread and frees it on another. glibc
/// gives the freed memory back to the kernel as soon as more than 128 KiB is free at the top of
/// a heap, so the next chunks fault in fresh, zeroed pages: 115,000 page faults per GB streamed,
/// more than the cipher cost. Freeing one block that glibc had to `mmap` raises that threshold
/// for good (its documented dynamic threshold, mallopt(3): to twice the block's size), so a few
/// MiB stay with the process instead. Elsewhere this is one allocation and nothing more.
fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(4 << 20))));
}

/// The step name under which probe output is streamed to the listener.
pub const PROBE_STEP: &str = "gate.monitor";

struct Executed {
    end: ExecEvent,
    sha256: String,
    len: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_status: Option<u32>,
    signal: Option<String>,
    duration_ms: u64,
}

fn where_to(r: &Option<String>) -> String {
    r.as_ref().map_or_else(
        || "the runbook's own".to_string(),
        |w| format!("redirected to {w}"),
    )
}
