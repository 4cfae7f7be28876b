//! The run as the journal tells it: a fold over entries, with no I/O. The TUI, `run`, `export`
//! and the gate all read this one snapshot, so they can never disagree about what happened.

use std::collections::BTreeMap;

use super::{Entry, Event};

pub use super::records::*;

#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub runbook_id: String,
    pub runbook_sha256: String,
    /// Where every SSH target was pointed instead (a demo rehearsal), from `run_started`.
    pub redirected: Option<String>,
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
                redirected,
                ..
            } => {
                self.redirected.clone_from(redirected);
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
