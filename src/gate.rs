//! The gate: requirements evaluated over an immutable snapshot of the run, each explained.
//! Pure: the same runbook and the same journal give the same verdict, anywhere.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::journal::state::{RunState, SignoffRecord};
use crate::runbook::{Level, Runbook};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub met: bool,
    /// Short name: "steps", "checklist", "sign-offs", "rollback", "monitoring".
    pub name: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub open: bool,
    pub requirements: Vec<Requirement>,
    pub monitor: Option<MonitorProgress>,
}

impl Verdict {
    /// One line per unmet requirement (or "all requirements met"), for the journal.
    pub fn reasons(&self) -> Vec<String> {
        let unmet: Vec<String> = self
            .requirements
            .iter()
            .filter(|r| !r.met)
            .map(|r| format!("{}: {}", r.name, r.detail))
            .collect();
        if unmet.is_empty() {
            vec!["all requirements met".into()]
        } else {
            unmet
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorProgress {
    pub total: Duration,
    /// Time covered by consecutive probes no further apart than the gap allowance.
    pub watched: Duration,
    /// Time between probes that nobody watched (process stopped, machine asleep).
    pub gaps: Vec<(String, Duration)>,
    pub passed: u32,
    pub failed: u32,
    pub max_failures: u32,
    pub last_failure: Option<String>,
    /// Steps in `[gate.monitor] after` not passed yet: until they are, nothing counts.
    pub waiting_for: Vec<String>,
    /// Failed probes at the end of the window, in a row, and the limit (0: none).
    pub in_a_row: u32,
    pub max_in_a_row: u32,
    /// Journal line from which probes count (after the `after` steps and the last
    /// acknowledgement), if not the start.
    pub counts_from: Option<u64>,
}

impl MonitorProgress {
    /// The failure budget is spent: more failures than allowed, or too many in a row.
    pub fn exhausted(&self) -> bool {
        self.failed > self.max_failures
            || (self.max_in_a_row > 0 && self.in_a_row >= self.max_in_a_row)
    }
}

impl MonitorProgress {
    pub fn fraction(&self) -> f64 {
        if self.total.is_zero() {
            return 1.0;
        }
        (self.watched.as_secs_f64() / self.total.as_secs_f64()).min(1.0)
    }
}

/// Monitoring progress from the probe lines. Two probes further apart than twice the interval
/// leave a gap: that time is not counted as watched.
pub fn monitor_progress(rb: &Runbook, state: &RunState) -> Option<MonitorProgress> {
    let m = rb.gate.monitor.as_ref()?;
    let allowance = m.every * 2;
    // The window's clock starts once the named steps passed (so probes watched before a
    // rollback do not count), and starts again at each signed acknowledgement.
    let mut waiting_for = Vec::new();
    let mut from: Option<u64> = None;
    for id in &m.after {
        match rb.step(id).and_then(|s| state.passed_at(s)) {
            Some(at) => from = from.max(Some(at)),
            None => waiting_for.push(id.clone()),
        }
    }
    from = from.max(state.monitor_acks.last().map(|a| a.0));
    let (mut in_a_row, mut counted) = (0u32, Vec::new());
    if waiting_for.is_empty() {
        counted.extend(
            state
                .probes
                .iter()
                .filter(|p| from.is_none_or(|f| p.seq > f)),
        );
    }
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut last_failure = None;
    for p in &counted {
        if p.passed {
            passed += 1;
            in_a_row = 0;
        } else {
            failed += 1;
            in_a_row += 1;
            last_failure = Some(format!(
                "{}: {}",
                p.ts,
                p.reason.clone().unwrap_or_default()
            ));
        }
    }
    let (watched, gaps) = crate::journal::hold::coverage(counted, allowance);
    Some(MonitorProgress {
        total: m.duration,
        watched,
        gaps,
        passed,
        failed,
        max_failures: m.max_failures,
        last_failure,
        waiting_for,
        in_a_row,
        max_in_a_row: m.max_in_a_row,
        counts_from: from,
    })
}

/// Who a sign-off counts as, if it counts at all: distinct answers are distinct signers.
pub type SignerOf<'a> = &'a dyn Fn(&SignoffRecord) -> Option<String>;

/// The live view, as the process writing the journal sees it: a sign-off counts by the key it
/// names, else by the operator's name. Nothing here is proven; for evidence (verify, export,
/// reports) use `evidence::seal::evaluate`, which counts only trusted signatures.
pub fn evaluate(rb: &Runbook, state: &RunState) -> Verdict {
    evaluate_with(rb, state, &|so| {
        Some(
            so.key_fingerprint
                .clone()
                .unwrap_or_else(|| format!("name:{}", so.operator)),
        )
    })
}

pub fn evaluate_with(rb: &Runbook, state: &RunState, signer_of: SignerOf<'_>) -> Verdict {
    let mut reqs = Vec::new();
    let g = &rb.gate;

    // Steps: passed, or waived with a reason.
    let mut missing = Vec::new();
    for id in &g.required_steps {
        let Some(step) = rb.step(id) else { continue };
        let st = state.step_status(step);
        if !st.is_done() {
            missing.push(format!("{id} ({})", st.label()));
        }
    }
    let must_count = g.required_steps.len();
    reqs.push(Requirement {
        met: missing.is_empty(),
        name: "steps",
        detail: if missing.is_empty() {
            format!("{must_count} required steps passed or waived")
        } else {
            format!(
                "{} of {must_count} required steps not done: {}",
                missing.len(),
                missing.join(", ")
            )
        },
    });

    if !g.checklist.is_empty() {
        let open: Vec<String> = g
            .checklist
            .iter()
            .filter(|(s, i)| !state.is_checked(s, i) && !item_waived(state, s, i))
            .map(|(s, i)| format!("{s}.{i}"))
            .collect();
        reqs.push(Requirement {
            met: open.is_empty(),
            name: "checklist",
            detail: if open.is_empty() {
                format!("{} named items ticked", g.checklist.len())
            } else {
                format!("not ticked: {}", open.join(", "))
            },
        });
    }

    if g.signoffs > 0 {
        let mut who = BTreeSet::new();
        for (id, rec) in &state.steps {
            let required = g.required_steps.contains(id)
                || rb.step(id).is_some_and(|s| s.level == Level::Must);
            if !required {
                continue;
            }
            who.extend(rec.signoffs.iter().filter_map(signer_of));
        }
        let n = u32::try_from(who.len()).unwrap_or(u32::MAX);
        reqs.push(Requirement {
            met: n >= g.signoffs,
            name: "sign-offs",
            detail: format!("{n} of {} distinct operators signed off", g.signoffs),
        });
    }

    if let Some(r) = &g.rollback {
        let back = rb.step(&r.rollback_step).and_then(|s| state.passed_at(s));
        let fwd = rb.step(&r.forward_step).and_then(|s| state.passed_at(s));
        let (met, detail) = match (back, fwd) {
            (None, _) => (
                false,
                format!("rollback step `{}` has not passed", r.rollback_step),
            ),
            (Some(_), None) => (
                false,
                format!(
                    "rolled back; forward step `{}` has not passed",
                    r.forward_step
                ),
            ),
            (Some(b), Some(f)) if f > b => (
                true,
                format!(
                    "rolled back (journal line {}), forward again (line {})",
                    b + 1,
                    f + 1
                ),
            ),
            (Some(_), Some(_)) => (
                false,
                format!(
                    "`{}` passed before the rollback; run it again after",
                    r.forward_step
                ),
            ),
        };
        reqs.push(Requirement {
            met,
            name: "rollback",
            detail,
        });
    }

    let monitor = monitor_progress(rb, state);
    if let Some(m) = &monitor {
        let done = m.watched >= m.total;
        let too_many = m.exhausted();
        let gap_note = if m.gaps.is_empty() {
            String::new()
        } else {
            let unwatched: Duration = m.gaps.iter().map(|g| g.1).sum();
            format!(
                ", {} unwatched",
                humantime::format_duration(Duration::from_secs(unwatched.as_secs()))
            )
        };
        let waiting = if m.waiting_for.is_empty() {
            String::new()
        } else {
            format!("waits for {} to pass; ", m.waiting_for.join(", "))
        };
        let row = if m.max_in_a_row > 0 {
            format!(", {} in a row (max {})", m.in_a_row, m.max_in_a_row)
        } else {
            String::new()
        };
        reqs.push(Requirement {
            met: done && !too_many && m.waiting_for.is_empty(),
            name: "monitoring",
            detail: format!(
                "{waiting}{}{row}",
                format_args!(
                    "{} of {} watched, {} probes passed, {} failed (max {}){gap_note}{}",
                    humantime::format_duration(Duration::from_secs(m.watched.as_secs())),
                    humantime::format_duration(m.total),
                    m.passed,
                    m.failed,
                    m.max_failures,
                    m.last_failure
                        .as_ref()
                        .map(|f| format!("; last failure {f}"))
                        .unwrap_or_default()
                )
            ),
        });
    }

    Verdict {
        open: reqs.iter().all(|r| r.met),
        requirements: reqs,
        monitor,
    }
}

fn item_waived(state: &RunState, step: &str, item: &str) -> bool {
    state
        .step(step)
        .is_some_and(|r| r.waivers.iter().any(|w| w.item.as_deref() == Some(item)))
}
