//! A step's hold as its probes tell it: which probes count, how much time they watched, the
//! gaps nobody watched, and whether an abort criterion was met. The monitoring window counts
//! time the same way ([`coverage`]).

use std::time::{Duration, SystemTime};

use super::state::{ProbeRecord, RunState};
use crate::runbook::Step;

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

impl HoldProgress {
    /// Holding again now would watch an undone state: an abort ran the step's `on_failure`,
    /// which reverses what its commands set (a traffic stage back to blue), so the commands
    /// must run again first, which opens a new window.
    pub fn needs_commands_again(&self, step: &Step) -> bool {
        self.aborted.is_some() && !step.on_failure.is_empty()
    }
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
