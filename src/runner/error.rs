//! What can go wrong driving a run: each error says what a person needs to act on it.

use std::path::PathBuf;
use std::time::Duration;

use crate::journal::JournalError;

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
    #[error(
        "the hold of `{0}` aborted and its on_failure ran: run the step's commands again (a new window) before holding"
    )]
    HoldAfterAbort(String),
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

fn where_to(r: &Option<String>) -> String {
    r.as_ref().map_or_else(
        || "the runbook's own".to_string(),
        |w| format!("redirected to {w}"),
    )
}
