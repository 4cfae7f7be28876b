//! What the run allows next, read from the journal: whether a step's prerequisites are done,
//! whether a condition holds, and the values captured so far. Conditions read only what the
//! journal holds (public variables, choices, captures), so anyone replaying it decides the same.

use std::time::{Duration, SystemTime};

use super::state::{ProbeRecord, RunState, StepStatus};
use crate::runbook::cond::{Ref, RefKind};
use crate::runbook::{Command, Cond, Runbook, Step, Vars};

impl RunState {
    /// A name's value as the journal tells it; `None` while it is not known.
    pub fn value_of(&self, r: &Ref) -> Option<String> {
        match r.kind {
            RefKind::Var => self.vars.get(&r.name).cloned(),
            RefKind::Choice => self
                .step(&r.name)
                .and_then(|s| s.choice.as_ref())
                .map(|c| c.option.clone()),
            RefKind::Capture => self.captures.get(&r.name).map(|c| c.value.clone()),
        }
    }

    /// `Some(holds)` once decided; `None` while a value it reads is not known yet.
    pub fn decide(&self, c: &Cond) -> Option<bool> {
        c.eval(&|r| self.value_of(r))
    }

    /// The step's condition is decided false.
    pub fn step_skipped(&self, step: &Step) -> bool {
        step.when
            .as_ref()
            .is_some_and(|c| self.decide(c) == Some(false))
    }

    /// The command's condition is decided false.
    pub fn command_skipped(&self, c: &Command) -> bool {
        c.when
            .as_ref()
            .is_some_and(|w| self.decide(w) == Some(false))
    }

    /// Prerequisites of `step` not done yet (passed, waived, signed off or skipped), unless
    /// the operator recorded running it out of order.
    pub fn blocked_by(&self, rb: &Runbook, step: &Step) -> Vec<String> {
        if self
            .step(&step.id)
            .is_some_and(|r| !r.order_waivers.is_empty())
        {
            return Vec::new();
        }
        self.unmet_after(rb, step)
    }

    /// Prerequisites not done, waiver or not (for display).
    pub fn unmet_after(&self, rb: &Runbook, step: &Step) -> Vec<String> {
        step.after
            .iter()
            .filter(|a| rb.step(a).is_none_or(|s| !self.step_status(s).is_done()))
            .cloned()
            .collect()
    }

    /// `vars` with every value captured so far added (not secret: they are in the journal).
    pub fn with_captures(&self, vars: &Vars) -> Vars {
        let mut v = vars.clone();
        for (name, c) in &self.captures {
            v.set(name, c.value.clone(), false);
        }
        v
    }

    /// Why a step does not run now, if it does not: skipped, or waiting for prerequisites.
    pub fn refusal(&self, rb: &Runbook, step: &Step) -> Option<String> {
        if self.step_status(step) == StepStatus::Skipped {
            return Some(format!(
                "`{}` is skipped: its condition `{}` is false",
                step.id,
                step.when
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
        let by = self.blocked_by(rb, step);
        (!by.is_empty()).then(|| {
            format!(
                "`{}` comes after {}, not done yet",
                step.id,
                by.iter()
                    .map(|b| format!("`{b}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// A hold as its probes tell it: the window counts probes after the step's commands last
/// passed and after the last restart, and stops at the first abort or when the time is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldProgress {
    pub total: Duration,
    pub watched: Duration,
    /// `(ts of the probe before, length)` of each stretch nobody watched.
    pub gaps: Vec<(String, Duration)>,
    pub passed: u32,
    pub failed: u32,
    pub in_a_row: u32,
    /// Probes after this line count (`None`: from the start of the run).
    pub from: Option<u64>,
    /// `(seq, why)` of the probe at which an abort criterion was met.
    pub aborted: Option<(u64, String)>,
    /// Seq of the probe at which the watched time reached `total`.
    pub completed_at: Option<u64>,
    /// Timestamp of the last probe counted.
    pub last_ts: Option<String>,
    /// A session started holding in this window (it may have died since).
    pub started: bool,
}

/// Time covered by probes no further apart than `allowance`, and the stretches that were.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub watched: Duration,
    pub gaps: Vec<(String, Duration)>,
    prev: Option<(SystemTime, String)>,
}

impl Coverage {
    pub fn add(&mut self, p: &ProbeRecord, allowance: Duration) {
        let Ok(t) = humantime::parse_rfc3339(&p.ts) else {
            return;
        };
        if let Some((pt, pts)) = self.prev.take() {
            let d = t.duration_since(pt).unwrap_or_default();
            if d <= allowance {
                self.watched += d;
            } else {
                self.gaps.push((pts, d));
            }
        }
        self.prev = Some((t, p.ts.clone()));
    }
}

/// [`Coverage`] of all of `probes`.
pub fn coverage<'a>(
    probes: impl IntoIterator<Item = &'a ProbeRecord>,
    allowance: Duration,
) -> (Duration, Vec<(String, Duration)>) {
    let mut c = Coverage::default();
    for p in probes {
        c.add(p, allowance);
    }
    (c.watched, c.gaps)
}

impl RunState {
    /// `None` when the step has no hold or its commands have not passed (no window yet).
    pub fn hold_progress(&self, step: &Step) -> Option<HoldProgress> {
        let h = step.hold.as_ref()?;
        let rec = self.step(&step.id);
        let mut from = Some(self.commands_passed_at(step)?).filter(|f| *f > 0);
        let restart = rec.and_then(|r| r.hold_starts.iter().rev().find(|s| s.2).map(|s| s.0));
        from = from.max(restart);
        let mut p = HoldProgress {
            total: h.duration,
            watched: Duration::ZERO,
            gaps: Vec::new(),
            passed: 0,
            failed: 0,
            in_a_row: 0,
            from,
            aborted: None,
            completed_at: None,
            last_ts: None,
            started: rec
                .is_some_and(|r| r.hold_starts.iter().any(|s| from.is_none_or(|f| s.0 >= f))),
        };
        let probes = rec.map_or(&[][..], |r| &r.hold_probes[..]);
        let mut cov = Coverage::default();
        for probe in probes.iter().filter(|x| from.is_none_or(|f| x.seq > f)) {
            cov.add(probe, h.every * 2);
            if probe.passed {
                p.passed += 1;
                p.in_a_row = 0;
            } else {
                p.failed += 1;
                p.in_a_row += 1;
            }
            let why = probe
                .abort
                .clone()
                .or_else(|| {
                    (h.abort.failed > 0 && p.failed >= h.abort.failed).then(|| {
                        format!("{} probes failed (abort at {})", p.failed, h.abort.failed)
                    })
                })
                .or_else(|| {
                    (h.abort.in_a_row > 0 && p.in_a_row >= h.abort.in_a_row).then(|| {
                        format!(
                            "{} probes failed in a row (abort at {})",
                            p.in_a_row, h.abort.in_a_row
                        )
                    })
                });
            p.last_ts = Some(probe.ts.clone());
            if let Some(why) = why {
                p.aborted = Some((probe.seq, why));
                break;
            }
            if cov.watched >= p.total {
                p.completed_at = Some(probe.seq);
                break;
            }
        }
        p.watched = cov.watched;
        p.gaps = cov.gaps;
        Some(p)
    }
}
