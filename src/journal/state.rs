//! The run as the journal tells it: a fold over entries, with no I/O. The TUI, `run`, `export`
//! and the gate all read this one snapshot, so they can never disagree about what happened.

use std::collections::BTreeMap;

use super::{Entry, Event, Outcome};

#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub runbook_id: String,
    pub runbook_sha256: String,
    pub started_ts: String,
    /// Distinct operators in the order they first acted.
    pub operators: Vec<String>,
    pub steps: BTreeMap<String, StepRecord>,
    pub host_keys: Vec<HostKeyRecord>,
    /// Commands started and not (yet) finished, by the `seq` of their start.
    pub running: BTreeMap<u64, Running>,
    pub probes: Vec<ProbeRecord>,
    /// `(seq, ts, started?)` of watch_started / watch_stopped lines.
    pub watch_marks: Vec<(u64, String, bool)>,
    pub gate: Option<(bool, Vec<String>)>,
    pub torn_tails: Vec<(u64, String)>,
    /// (seq, count): events a session accepted but quit before writing.
    pub unrecorded: Vec<(u64, u64)>,
    pub last_seq: Option<u64>,
    pub last_ts: String,
    /// The non-secret variable values the run started with: what conditions read.
    pub vars: BTreeMap<String, String>,
    /// The latest value captured under each name.
    pub captures: BTreeMap<String, CaptureRecord>,
    /// `(seq, operator, reason)` of each acknowledgement that restarted the monitoring window.
    pub monitor_acks: Vec<(u64, String, String)>,
}

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

impl RunState {
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> RunState {
        let mut s = RunState::default();
        for e in entries {
            s.apply(e);
        }
        s
    }

    fn operator_seen(&mut self, op: &str) {
        if !op.is_empty() && !self.operators.iter().any(|o| o == op) {
            self.operators.push(op.to_string());
        }
    }

    fn step_mut(&mut self, id: &str) -> &mut StepRecord {
        self.steps.entry(id.to_string()).or_default()
    }

    pub fn apply(&mut self, e: &Entry) {
        self.last_seq = Some(e.seq);
        self.last_ts.clone_from(&e.ts);
        match &e.event {
            Event::RunStarted {
                runbook_id,
                runbook_sha256,
                operator,
                vars,
                ..
            } => {
                self.vars.clone_from(vars);
                self.runbook_id.clone_from(runbook_id);
                self.runbook_sha256.clone_from(runbook_sha256);
                self.started_ts.clone_from(&e.ts);
                self.operator_seen(operator);
            }
            Event::Resumed { operator, .. } | Event::WatchStarted { operator } => {
                self.operator_seen(operator);
                if matches!(e.event, Event::WatchStarted { .. }) {
                    self.watch_marks.push((e.seq, e.ts.clone(), true));
                }
            }
            Event::WatchStopped { .. } => self.watch_marks.push((e.seq, e.ts.clone(), false)),
            Event::HostKey {
                target,
                host,
                port,
                algorithm,
                fingerprint,
                trust,
            } => {
                self.host_keys.push(HostKeyRecord {
                    seq: e.seq,
                    target: target.clone(),
                    host: host.clone(),
                    port: *port,
                    algorithm: algorithm.clone(),
                    fingerprint: fingerprint.clone(),
                    trust: trust.clone(),
                });
            }
            Event::ConnectFailed { .. } | Event::Signature { .. } => {
                if let Event::Signature {
                    signs_seq,
                    signature,
                    ..
                } = &e.event
                {
                    // Only the line right after a sign-off can be its signature.
                    for rec in self.steps.values_mut().filter(|_| *signs_seq + 1 == e.seq) {
                        if let Some(so) = rec.signoffs.iter_mut().find(|s| s.seq == *signs_seq) {
                            so.signature = Some(signature.clone());
                        }
                    }
                }
            }
            Event::CommandStarted {
                step,
                command,
                target,
                run,
                operator,
                session,
            } => {
                self.operator_seen(operator);
                self.running.insert(
                    e.seq,
                    Running {
                        step: step.clone(),
                        command: command.clone(),
                        target: target.clone(),
                        run: run.clone(),
                        ts: e.ts.clone(),
                        operator: operator.clone(),
                        session: session.clone(),
                    },
                );
            }
            Event::CommandFinished {
                step,
                command,
                started_seq,
                exit_status,
                signal,
                duration_ms,
                output_sha256,
                output_bytes,
                outcome,
                reason,
            } => {
                let started = self.running.remove(started_seq);
                let (run, target, operator, ts, session) = started
                    .map(|r| (r.run, r.target, r.operator, r.ts, r.session))
                    .unwrap_or_default();
                self.step_mut(step).runs.push(CommandRun {
                    command: command.clone(),
                    started_seq: *started_seq,
                    finished_seq: e.seq,
                    ts,
                    run,
                    target,
                    operator,
                    session,
                    outcome: *outcome,
                    exit_status: *exit_status,
                    signal: signal.clone(),
                    duration_ms: *duration_ms,
                    output_sha256: output_sha256.clone(),
                    output_bytes: *output_bytes,
                    reason: reason.clone(),
                });
            }
            Event::CheckToggled {
                step,
                item,
                checked,
                operator,
                proposed_by,
            } => {
                self.operator_seen(operator);
                self.step_mut(step).checks.insert(
                    item.clone(),
                    CheckRecord {
                        checked: *checked,
                        operator: operator.clone(),
                        seq: e.seq,
                        proposed_by: proposed_by.clone(),
                    },
                );
            }
            Event::Note {
                step,
                text,
                operator,
            } => {
                self.operator_seen(operator);
                self.step_mut(step).notes.push(NoteRecord {
                    seq: e.seq,
                    ts: e.ts.clone(),
                    operator: operator.clone(),
                    text: text.clone(),
                });
            }
            Event::Waiver {
                step,
                item,
                reason,
                operator,
            } => {
                self.operator_seen(operator);
                self.step_mut(step).waivers.push(WaiverRecord {
                    seq: e.seq,
                    item: item.clone(),
                    reason: reason.clone(),
                    operator: operator.clone(),
                });
            }
            Event::Choice {
                step,
                option,
                reason,
                operator,
            } => {
                self.operator_seen(operator);
                self.step_mut(step).choice = Some(ChoiceRecord {
                    seq: e.seq,
                    option: option.clone(),
                    reason: reason.clone(),
                    operator: operator.clone(),
                });
            }
            Event::Signoff {
                step,
                operator,
                note,
                key_fingerprint,
            } => {
                self.operator_seen(operator);
                self.step_mut(step).signoffs.push(SignoffRecord {
                    seq: e.seq,
                    ts: e.ts.clone(),
                    operator: operator.clone(),
                    note: note.clone(),
                    key_fingerprint: key_fingerprint.clone(),
                    signature: None,
                });
            }
            Event::Gate { open, reasons, .. } => self.gate = Some((*open, reasons.clone())),
            Event::Seal { operator, .. } => self.operator_seen(operator),
            Event::Probe {
                passed,
                reason,
                step,
                abort,
                ..
            } => {
                let rec = ProbeRecord {
                    seq: e.seq,
                    ts: e.ts.clone(),
                    passed: *passed,
                    reason: reason.clone(),
                    abort: abort.clone(),
                };
                match step {
                    Some(step) => self.step_mut(step).hold_probes.push(rec),
                    None => self.probes.push(rec),
                }
            }
            Event::HoldStarted {
                step,
                operator,
                restart,
                ..
            } => {
                self.operator_seen(operator);
                self.step_mut(step)
                    .hold_starts
                    .push((e.seq, e.ts.clone(), *restart));
            }
            Event::HoldEnded {
                step,
                outcome,
                reason,
            } => self
                .step_mut(step)
                .hold_ends
                .push((e.seq, *outcome, reason.clone())),
            Event::TornTail { saved_as, .. } => self.torn_tails.push((e.seq, saved_as.clone())),
            Event::Unrecorded { count } => self.unrecorded.push((e.seq, *count)),
            Event::Captured {
                step,
                command,
                name,
                value,
                ..
            } => {
                self.captures.insert(
                    name.clone(),
                    CaptureRecord {
                        seq: e.seq,
                        step: step.clone(),
                        command: command.clone(),
                        value: value.clone(),
                    },
                );
            }
            Event::OrderWaiver {
                step,
                reason,
                operator,
                ..
            } => {
                self.operator_seen(operator);
                self.step_mut(step).order_waivers.push(WaiverRecord {
                    seq: e.seq,
                    item: None,
                    reason: reason.clone(),
                    operator: operator.clone(),
                });
            }
            Event::MonitorAck { operator, reason } => {
                self.operator_seen(operator);
                self.monitor_acks
                    .push((e.seq, operator.clone(), reason.clone()));
            }
            // Presence is the app's to show; it changes nothing about the run's state.
            Event::Joined { .. } | Event::Left { .. } => {}
        }
    }

    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.get(id)
    }

    /// The latest run of one command of a step.
    pub fn last_run(&self, step: &str, command: &str) -> Option<&CommandRun> {
        self.steps
            .get(step)?
            .runs
            .iter()
            .rev()
            .find(|r| r.command == command)
    }

    pub fn is_running(&self, step: &str) -> bool {
        self.running.values().any(|r| r.step == step)
    }

    pub fn is_checked(&self, step: &str, item: &str) -> bool {
        self.steps
            .get(step)
            .and_then(|s| s.checks.get(item))
            .is_some_and(|c| c.checked)
    }
}
