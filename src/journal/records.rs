//! What the journal says about a run, piece by piece: the records a [`RunState`] folds lines
//! into (commands, checks, notes, waivers, sign-offs, choices, host keys, probes) and how a
//! step stands.
//!
//! [`RunState`]: super::state::RunState

use std::collections::BTreeMap;

use super::Outcome;

#[derive(Debug, Clone)]
pub struct CaptureRecord {
    pub seq: u64,
    pub step: String,
    pub command: String,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    pub runs: Vec<CommandRun>,
    pub checks: BTreeMap<String, CheckRecord>,
    pub notes: Vec<NoteRecord>,
    pub waivers: Vec<WaiverRecord>,
    pub signoffs: Vec<SignoffRecord>,
    pub choice: Option<ChoiceRecord>,
    /// Runs out of order, each with its reason.
    pub order_waivers: Vec<WaiverRecord>,
    /// The hold's probes, in journal order.
    pub hold_probes: Vec<ProbeRecord>,
    /// `(seq, ts, restart)` of each `hold_started`; a restart begins a new window.
    pub hold_starts: Vec<(u64, String, bool)>,
    /// `(seq, outcome, reason)` of each `hold_ended`.
    pub hold_ends: Vec<(u64, crate::journal::event::HoldOutcome, String)>,
}

#[derive(Debug, Clone)]
pub struct Running {
    pub step: String,
    pub command: String,
    pub target: String,
    pub run: String,
    pub ts: String,
    pub operator: String,
    pub session: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CommandRun {
    pub command: String,
    pub started_seq: u64,
    pub finished_seq: u64,
    pub ts: String,
    pub run: String,
    pub target: String,
    pub operator: String,
    /// The process that ran it (`hostname:pid`).
    pub session: Option<String>,
    pub outcome: Outcome,
    pub exit_status: Option<u32>,
    pub signal: Option<String>,
    pub duration_ms: u64,
    pub output_sha256: String,
    pub output_bytes: u64,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub checked: bool,
    pub operator: String,
    pub seq: u64,
    pub proposed_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NoteRecord {
    pub seq: u64,
    pub ts: String,
    pub operator: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct WaiverRecord {
    pub seq: u64,
    pub item: Option<String>,
    pub reason: String,
    pub operator: String,
}

#[derive(Debug, Clone)]
pub struct SignoffRecord {
    pub seq: u64,
    pub ts: String,
    pub operator: String,
    pub note: String,
    pub key_fingerprint: Option<String>,
    /// The armored SSHSIG of the sign-off line, when one followed it.
    pub signature: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChoiceRecord {
    pub seq: u64,
    pub option: String,
    pub reason: String,
    pub operator: String,
}

#[derive(Debug, Clone)]
pub struct HostKeyRecord {
    pub seq: u64,
    pub target: String,
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    pub fingerprint: String,
    pub trust: String,
}

#[derive(Debug, Clone)]
pub struct ProbeRecord {
    pub seq: u64,
    pub ts: String,
    pub passed: bool,
    pub reason: Option<String>,
    /// A hold's abort criterion this probe met (`stdout` matched).
    pub abort: Option<String>,
}

/// How a step stands, derived from its records and its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    /// Some commands passed, others not run yet.
    Partial,
    Passed,
    Failed,
    Waived,
    SignedOff,
    /// Its `when` condition is false: it does not run and is not required.
    Skipped,
}

impl StepStatus {
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Partial => "in progress",
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Waived => "waived",
            StepStatus::SignedOff => "signed off",
            StepStatus::Skipped => "skipped",
        }
    }

    /// Passed, waived or signed off: nothing more is needed for the gate's step requirement.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            StepStatus::Passed | StepStatus::Waived | StepStatus::SignedOff | StepStatus::Skipped
        )
    }
}
