//! The journal's vocabulary: one variant per line kind. Field names are part of the evidence
//! format (docs/journal.md); add fields, never rename them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        runbook_id: String,
        runbook_title: String,
        runbook_path: String,
        runbook_sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runbook_git_commit: Option<String>,
        operator: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator_key: Option<String>,
        /// Values of the non-secret variables; secret ones are listed by name only.
        vars: BTreeMap<String, String>,
        #[serde(default)]
        secret_vars: Vec<String>,
        rehearse_version: String,
        /// Every SSH target ran somewhere else than the runbook says (the embedded demo host
        /// of `rehearse demo`): where. Such a run rehearses the runbook, not a real host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redirected: Option<String>,
    },
    /// Another session (or the same operator after a restart) picked the run up.
    Resumed {
        operator: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator_key: Option<String>,
    },
    HostKey {
        target: String,
        host: String,
        port: u16,
        algorithm: String,
        fingerprint: String,
        /// `known` (in known_hosts), `pinned`, `accepted_once`, `accepted_saved`.
        trust: String,
    },
    ConnectFailed {
        target: String,
        error: String,
    },
    CommandStarted {
        step: String,
        command: String,
        target: String,
        /// The resolved command with secret values replaced by `[secret:NAME]`.
        run: String,
        operator: String,
        /// `hostname:pid` of the process running it, so a restart can tell a command that
        /// another live session is running from one whose process died.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    CommandFinished {
        step: String,
        command: String,
        /// `seq` of the matching `command_started`.
        started_seq: u64,
        exit_status: Option<u32>,
        signal: Option<String>,
        duration_ms: u64,
        output_sha256: String,
        output_bytes: u64,
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    CheckToggled {
        step: String,
        item: String,
        checked: bool,
        operator: String,
        /// Set when the tick was proposed by a passing expectation and confirmed by the operator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposed_by: Option<String>,
    },
    Note {
        step: String,
        text: String,
        operator: String,
    },
    Waiver {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        reason: String,
        operator: String,
    },
    Choice {
        step: String,
        option: String,
        reason: String,
        operator: String,
    },
    Signoff {
        step: String,
        operator: String,
        note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_fingerprint: Option<String>,
    },
    Signature {
        signs_seq: u64,
        key_fingerprint: String,
        /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----` ...).
        signature: String,
    },
    /// Written whenever the verdict changes. An opening (`open = true`) is signed: the
    /// signature line right after it says who opened the gate, and its `prev` over which head.
    Gate {
        open: bool,
        reasons: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// A signed checkpoint: the signature right after it covers every line before it, so
    /// what was recorded up to here can no longer be changed unnoticed. `reason` says why
    /// (`quit`, `watch interval`, `watch end`, ...).
    Seal {
        operator: String,
        reason: String,
    },
    Probe {
        passed: bool,
        exit_status: Option<u32>,
        duration_ms: u64,
        output_sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Set for a hold's probe: the step holding. Absent: the gate's monitoring window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// A hold's abort criterion this probe met on its own (`stdout` matched), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        abort: Option<String>,
    },
    /// A session starts (or resumes) a step's hold. `restart`: after an abort, a new window
    /// starts here and earlier probes no longer count.
    HoldStarted {
        step: String,
        operator: String,
        #[serde(default)]
        restart: bool,
        /// `hostname:pid` of the process holding it: like `command_started`, this line is a
        /// claim on the step until its `hold_ended` (see runner/claims.rs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// A session stopped holding: the time was up, an abort criterion was met, or it was
    /// stopped (the hold resumes where it stood). The verdict is the probes', not this line's.
    HoldEnded {
        step: String,
        outcome: HoldOutcome,
        reason: String,
    },
    WatchStarted {
        operator: String,
    },
    WatchStopped {
        reason: String,
    },
    /// A value a command took from its output (`capture`), written before its finish line.
    Captured {
        step: String,
        command: String,
        /// `seq` of the command's `command_started`.
        started_seq: u64,
        name: String,
        value: String,
    },
    /// The operator runs `step` although steps it comes after are not done, and says why.
    OrderWaiver {
        step: String,
        /// The prerequisites not done at the time.
        blocked_by: Vec<String>,
        reason: String,
        operator: String,
    },
    /// A signed acknowledgement of the monitoring window's failures: the window starts again
    /// from here (probes before it no longer count, failed or passed).
    MonitorAck {
        operator: String,
        reason: String,
    },
    /// An instance opened the run: who, from which process (`hostname:pid`), and in which mode
    /// (`operator`, or `observer`: read-only).
    Joined {
        operator: String,
        session: String,
        #[serde(default = "operator_mode")]
        mode: String,
    },
    /// An instance left the run: it quit, or it was found gone (its presence lock free) and
    /// whoever noticed recorded it, once.
    Left {
        operator: String,
        session: String,
        #[serde(default)]
        reason: String,
    },
    /// Bytes found after the last complete line when the journal was opened, moved aside.
    TornTail {
        bytes: u64,
        saved_as: String,
    },
    /// The previous session quit before its writer could drain: this many events it had
    /// accepted were never written.
    Unrecorded {
        count: u64,
    },
}

fn operator_mode() -> String {
    "operator".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldOutcome {
    Passed,
    Aborted,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    TimedOut,
    Cancelled,
    ConnectionLost,
    /// The process recording it stopped (crash, kill -9) while the command ran.
    Interrupted,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Cancelled => "cancelled",
            Outcome::ConnectionLost => "connection lost",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::Resumed { .. } => "resumed",
            Event::HostKey { .. } => "host_key",
            Event::ConnectFailed { .. } => "connect_failed",
            Event::CommandStarted { .. } => "command_started",
            Event::CommandFinished { .. } => "command_finished",
            Event::CheckToggled { .. } => "check_toggled",
            Event::Note { .. } => "note",
            Event::Waiver { .. } => "waiver",
            Event::Choice { .. } => "choice",
            Event::Signoff { .. } => "signoff",
            Event::Signature { .. } => "signature",
            Event::Gate { .. } => "gate",
            Event::Probe { .. } => "probe",
            Event::WatchStarted { .. } => "watch_started",
            Event::WatchStopped { .. } => "watch_stopped",
            Event::TornTail { .. } => "torn_tail",
            Event::Unrecorded { .. } => "unrecorded",
            Event::Seal { .. } => "seal",
            Event::Captured { .. } => "captured",
            Event::OrderWaiver { .. } => "order_waiver",
            Event::MonitorAck { .. } => "monitor_ack",
            Event::Joined { .. } => "joined",
            Event::Left { .. } => "left",
            Event::HoldStarted { .. } => "hold_started",
            Event::HoldEnded { .. } => "hold_ended",
        }
    }

    /// Kinds whose line is signed by the line right after it (when the writer has a key).
    pub fn is_signed_kind(&self) -> bool {
        matches!(
            self,
            Event::Signoff { .. }
                | Event::Seal { .. }
                | Event::Gate { open: true, .. }
                | Event::MonitorAck { .. }
        )
    }

    /// Who a signed line speaks for: the principal its signature is checked against.
    pub fn signer_name(&self) -> Option<&str> {
        match self {
            Event::Signoff { operator, .. }
            | Event::Seal { operator, .. }
            | Event::MonitorAck { operator, .. } => Some(operator),
            Event::Gate { operator, .. } => operator.as_deref(),
            _ => None,
        }
    }
}
