//! A step's execution model as the journal tells it, for the report: the choice made, runs out
//! of order (and why), the values captured, and the hold with every probe it recorded. What
//! counts (a hold's verdict) comes from the sealed part; every line is listed, each marked
//! sealed or not.

use std::time::Duration;

use serde::Serialize;

use super::ProbeRow;
use crate::evidence::seal::SealedView;
use crate::journal::event::HoldOutcome;
use crate::journal::state::{RunState, WaiverRecord};
use crate::runbook::Step;

#[derive(Debug, Default, Serialize)]
pub struct ModelRows {
    /// `option (by OPERATOR: reason)`, for a step that offers choices.
    pub choice: Option<String>,
    pub order_waivers: Vec<String>,
    pub captures: Vec<CaptureRow>,
    pub hold: Option<HoldRow>,
}

#[derive(Debug, Serialize)]
pub struct CaptureRow {
    pub seq: u64,
    pub command: String,
    pub name: String,
    pub value: String,
    pub sealed: bool,
}

#[derive(Debug, Serialize)]
pub struct HoldRow {
    pub window: String,
    pub every: String,
    /// How the sealed part tells it (passed, aborted, in progress or not started), and how the
    /// whole journal does where that differs.
    pub verdict: String,
    /// The figures of the current window, from every probe recorded.
    pub watched: String,
    pub passed: u32,
    pub failed: u32,
    pub gaps: Vec<String>,
    /// Every `hold_started` and `hold_ended`, in order.
    pub sessions: Vec<String>,
    pub probes: Vec<ProbeRow>,
}

fn secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

pub(super) fn gap_text((at, d): &(String, Duration)) -> String {
    format!("{at}: {} unwatched", secs(*d))
}

pub(super) fn waiver_text(w: &WaiverRecord) -> String {
    format!(
        "{}{}: {}",
        w.operator,
        w.item
            .as_ref()
            .map(|i| format!(" [{i}]"))
            .unwrap_or_default(),
        w.reason
    )
}

pub(super) fn rows(step: &Step, all: &RunState, view: &SealedView) -> ModelRows {
    let Some(rec) = all.step(&step.id) else {
        return ModelRows {
            hold: step.hold.as_ref().map(|h| hold_row(step, h, all, view)),
            ..ModelRows::default()
        };
    };
    ModelRows {
        choice: rec
            .choice
            .as_ref()
            .map(|c| format!("{} (by {}: {})", c.option, c.operator, c.reason)),
        order_waivers: rec.order_waivers.iter().map(waiver_text).collect(),
        captures: all
            .captures
            .iter()
            .filter(|(_, c)| c.step == step.id)
            .map(|(name, c)| CaptureRow {
                seq: c.seq,
                command: c.command.clone(),
                name: name.clone(),
                value: c.value.clone(),
                sealed: view.is_sealed(c.seq),
            })
            .collect(),
        hold: step.hold.as_ref().map(|h| hold_row(step, h, all, view)),
    }
}

fn verdict(p: Option<&crate::journal::hold::HoldProgress>) -> String {
    match p {
        None => "not started: the step's commands have not all passed".to_string(),
        Some(p) => match (&p.aborted, p.completed_at) {
            (Some((seq, why)), _) => format!("ABORTED at line {}: {why}", seq + 1),
            (None, Some(seq)) => format!("passed at line {}", seq + 1),
            (None, None) if p.started => "in progress (or stopped before its time)".to_string(),
            (None, None) => "not started".to_string(),
        },
    }
}

fn hold_row(step: &Step, h: &crate::runbook::Hold, all: &RunState, view: &SealedView) -> HoldRow {
    let rec = all.step(&step.id);
    // What counts is the sealed part; the figures are every probe recorded.
    let counted = verdict(view.state.hold_progress(step).as_ref());
    let recorded = all.hold_progress(step);
    let told = verdict(recorded.as_ref());
    let verdict = if told == counted {
        counted
    } else {
        format!("{counted} as sealed; {told} as recorded after the seal (not counted)")
    };
    let mut sessions: Vec<(u64, String)> = Vec::new();
    if let Some(r) = rec {
        sessions.extend(r.hold_starts.iter().map(|(seq, ts, restart)| {
            let what = if *restart {
                "started again (new window)"
            } else {
                "started"
            };
            (*seq, format!("line {}: {what} at {ts}", seq + 1))
        }));
        sessions.extend(r.hold_ends.iter().map(|(seq, outcome, reason)| {
            let what = match outcome {
                HoldOutcome::Passed => "ended, passed",
                HoldOutcome::Aborted => "ended, ABORTED",
                HoldOutcome::Stopped => "stopped",
            };
            (*seq, format!("line {}: {what}: {reason}", seq + 1))
        }));
    }
    sessions.sort_by_key(|s| s.0);
    HoldRow {
        window: humantime::format_duration(h.duration).to_string(),
        every: humantime::format_duration(h.every).to_string(),
        verdict,
        watched: recorded
            .as_ref()
            .map_or_else(|| secs(Duration::ZERO), |p| secs(p.watched)),
        passed: recorded.as_ref().map_or(0, |p| p.passed),
        failed: recorded.as_ref().map_or(0, |p| p.failed),
        gaps: recorded
            .as_ref()
            .map_or_else(Vec::new, |p| p.gaps.iter().map(gap_text).collect()),
        sessions: sessions.into_iter().map(|s| s.1).collect(),
        probes: rec.map_or_else(Vec::new, |r| {
            r.hold_probes
                .iter()
                .map(|p| ProbeRow::of(p, view))
                .collect()
        }),
    }
}

/// One line of the rendered model: how deep it nests, and its text (already escaped by the
/// renderer's `esc`).
pub(super) struct Item {
    pub depth: u8,
    pub text: String,
}

/// `Probe line N at TS: passed|FAILED — why`, the same in every format.
pub(super) fn probe_text(p: &ProbeRow, esc: &dyn Fn(&str) -> String, unsealed: &str) -> String {
    format!(
        "Probe line {} at {}: {}{}{}",
        p.seq + 1,
        esc(&p.ts),
        if p.passed { "passed" } else { "FAILED" },
        p.abort
            .as_ref()
            .map(|a| format!(" — abort: {}", esc(a)))
            .or_else(|| p.reason.as_ref().map(|x| format!(" — {}", esc(x))))
            .unwrap_or_default(),
        if p.sealed { "" } else { unsealed }
    )
}

/// The model's lines for one step, in the order a reader needs them. `esc` makes journal text
/// safe for the format; `code` shows a raw value literally (escaping it itself); `unsealed`
/// flags a line after the seal.
pub(super) fn items(
    m: &ModelRows,
    esc: &dyn Fn(&str) -> String,
    code: &dyn Fn(&str) -> String,
    unsealed: &str,
) -> Vec<Item> {
    let top = |text: String| Item { depth: 0, text };
    let sub = |text: String| Item { depth: 1, text };
    let mut out = Vec::new();
    if let Some(c) = &m.choice {
        out.push(top(format!("Chose {}", esc(c))));
    }
    for w in &m.order_waivers {
        out.push(top(format!("Run out of order, waived by {}", esc(w))));
    }
    for c in &m.captures {
        out.push(top(format!(
            "Captured {} = {} from {} (line {}){}",
            code(&c.name),
            code(&c.value),
            esc(&c.command),
            c.seq + 1,
            if c.sealed { "" } else { unsealed }
        )));
    }
    if let Some(h) = &m.hold {
        out.push(top(format!(
            "Hold for {}, a probe every {}: {}; watched {}, {} probe(s) passed, {} failed",
            h.window,
            h.every,
            esc(&h.verdict),
            h.watched,
            h.passed,
            h.failed
        )));
        out.extend(h.sessions.iter().map(|x| sub(esc(x))));
        out.extend(h.gaps.iter().map(|g| sub(format!("Gap: {}", esc(g)))));
        out.extend(h.probes.iter().map(|p| sub(probe_text(p, esc, unsealed))));
    }
    out
}
