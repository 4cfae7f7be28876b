//! The app's side of the engine's events: journal lines folded into state and per-step logs,
//! output into the log (or the terminal emulator for PTY commands), and the log's scrolling
//! and search.

use std::collections::HashMap;

use super::{App, Dialog, TermView};
use crate::app::Effect;
use crate::app::scrollback::{LineKind, LogBuffer};
use crate::gate;
use crate::journal::{Entry, Event, Outcome};
use crate::runner::RunnerEvent;

impl App {
    /// Rebuild the per-step logs of a resumed run from the journal and the tails of the
    /// output files (read by the runtime, keyed by the `seq` of each command's start).
    pub fn restore_logs(&mut self, entries: &[Entry], tails: &HashMap<u64, Vec<u8>>) {
        for e in entries {
            match &e.event {
                Event::CommandStarted {
                    step,
                    command,
                    target,
                    operator,
                    ..
                } => {
                    self.log_mut(step).push_note(
                        LineKind::Header,
                        format!("$ {command} on {target} ({operator}) at {}", e.ts),
                    );
                }
                Event::CommandFinished {
                    step,
                    started_seq,
                    outcome,
                    exit_status,
                    reason,
                    ..
                } => {
                    if let Some(t) = tails.get(started_seq) {
                        self.log_mut(step).push_bytes(t, false);
                    }
                    let log = self.log_mut(step);
                    log.flush_partial();
                    let kind = if *outcome == Outcome::Passed {
                        LineKind::Passed
                    } else {
                        LineKind::Failed
                    };
                    let exit = exit_status.map_or_else(|| "-".into(), |c| c.to_string());
                    log.push_note(
                        kind,
                        format!(
                            "{} (exit {exit}){}",
                            outcome.label(),
                            reason
                                .as_ref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        ),
                    );
                }
                _ => {}
            }
        }
    }

    pub(super) fn log_mut(&mut self, step: &str) -> &mut LogBuffer {
        self.logs.entry(step.to_string()).or_default()
    }

    pub(super) fn on_runner(&mut self, ev: RunnerEvent) -> Vec<Effect> {
        match ev {
            RunnerEvent::Output {
                step,
                stderr,
                bytes,
                started_seq,
                ..
            } => match self.term.as_mut() {
                // A PTY command's output goes through the terminal emulator while it runs.
                Some(t) if t.started_seq == started_seq => t.parser.process(&bytes),
                _ => self.log_mut(&step).push_bytes(&bytes, stderr),
            },
            RunnerEvent::Skipped { step, bytes, .. } => {
                self.log_mut(&step).push_note(
                    LineKind::Info,
                    format!(
                        "… {} not shown: the screen could not keep up (all of it is on disk)",
                        human_bytes(bytes)
                    ),
                );
            }
            RunnerEvent::JournalFailed(e) => {
                // Shown until acknowledged; whatever dialog was open gives way (its input is
                // not worth more than knowing the record is broken).
                self.dialog = Some(Dialog::Alert {
                    title: "JOURNAL WRITE FAILED".into(),
                    text: format!(
                        "{e}\n\nWhat failed is not recorded. No further command runs in this session: fix the cause, quit and reopen the run."
                    ),
                });
                self.journal_failed = Some(e);
            }
            RunnerEvent::Recorded(entry) => {
                self.state.apply(&entry);
                self.seen(&entry);
                self.presence.apply(&entry);
                if let Event::CommandFinished { started_seq, .. } = &entry.event {
                    self.end_term(*started_seq);
                    self.propose_from(&entry);
                }
                match &entry.event {
                    Event::CommandStarted {
                        step,
                        command,
                        run,
                        target,
                        operator,
                        ..
                    } => {
                        let log = self.log_mut(step);
                        log.push_note(
                            LineKind::Header,
                            format!("$ {command} on {target} ({operator})"),
                        );
                        for l in run.lines().take(3) {
                            log.push_note(LineKind::Info, format!("  {l}"));
                        }
                        let pty = self
                            .runbook
                            .step(step)
                            .and_then(|s| s.commands.iter().find(|c| &c.name == command))
                            .is_some_and(|c| c.pty);
                        if pty {
                            let (rows, cols) = self.term_size();
                            self.term = Some(TermView {
                                step: step.clone(),
                                started_seq: entry.seq,
                                parser: vt100::Parser::new(rows, cols, 0),
                            });
                        }
                    }
                    Event::CommandFinished {
                        step,
                        outcome,
                        exit_status,
                        duration_ms,
                        reason,
                        ..
                    } => {
                        let kind = if *outcome == Outcome::Passed {
                            LineKind::Passed
                        } else {
                            LineKind::Failed
                        };
                        let exit = exit_status.map_or_else(|| "-".into(), |c| c.to_string());
                        let why = reason
                            .as_ref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default();
                        self.log_mut(step).push_note(
                            kind,
                            format!(
                                "{} {} (exit {exit}, {duration_ms} ms){why}",
                                if kind == LineKind::Passed {
                                    "✓"
                                } else {
                                    "✗"
                                },
                                outcome.label()
                            ),
                        );
                    }
                    Event::ConnectFailed { target, error } => {
                        self.message = Some(format!("{target}: {error}"))
                    }
                    _ => {}
                }
                self.verdict = gate::evaluate(&self.runbook, &self.state);
                if let Some((open, _)) = &self.state.gate {
                    self.gate_recorded = Some(*open);
                }
                if self.gate_recorded != Some(self.verdict.open) && self.state.last_seq.is_some() {
                    self.gate_recorded = Some(self.verdict.open);
                    return vec![Effect::Record(Event::Gate {
                        open: self.verdict.open,
                        reasons: self.verdict.reasons(),
                        operator: None,
                    })];
                }
            }
        }
        Vec::new()
    }

    /// A PTY command ended: keep the emulator's last screen as plain lines in its step's log.
    pub(super) fn end_term(&mut self, started_seq: u64) {
        if self
            .term
            .as_ref()
            .is_some_and(|t| t.started_seq == started_seq)
            && let Some(t) = self.term.take()
        {
            let text = t.parser.screen().contents();
            let log = self.log_mut(&t.step);
            for l in text.trim_end().lines() {
                log.push_bytes(format!("{l}\n").as_bytes(), false);
            }
        }
    }

    /// Rows and columns inside the log pane: the size a PTY command sees.
    pub fn term_size(&self) -> (u16, u16) {
        (self.log_area.1.max(1), self.log_area.0.max(1))
    }

    pub fn log_height(&self) -> u16 {
        self.log_area.1.max(1)
    }

    /// First line shown when following.
    pub fn log_top(&self) -> usize {
        let len = self.log().map_or(0, LogBuffer::len);
        len.saturating_sub(usize::from(self.log_height()))
    }

    pub(super) fn scroll_by(&mut self, d: i64) {
        let top = self.log_scroll.unwrap_or_else(|| self.log_top());
        let max = self.log_top();
        let next = usize::try_from((i64::try_from(top).unwrap_or(0) + d).max(0)).unwrap_or(0);
        self.log_scroll = if next >= max { None } else { Some(next) };
    }

    pub(super) fn search_step(&mut self, forward: bool) {
        let Some(q) = self.search.clone() else { return };
        let hits = self.log().map(|l| l.find(&q)).unwrap_or_default();
        if hits.is_empty() {
            self.message = Some(format!("no match for {q:?}"));
            return;
        }
        let cur = self.search_hit;
        let next = if forward {
            hits.iter()
                .copied()
                .find(|&h| cur.is_none_or(|c| h > c))
                .unwrap_or(hits[0])
        } else {
            hits.iter()
                .rev()
                .copied()
                .find(|&h| cur.is_none_or(|c| h < c))
                .unwrap_or(hits[hits.len() - 1])
        };
        self.search_hit = Some(next);
        self.log_scroll = Some(next.saturating_sub(usize::from(self.log_height()) / 2));
        self.message = Some(format!(
            "match {} of {} for {q:?}",
            hits.iter().position(|&h| h == next).map_or(0, |p| p + 1),
            hits.len()
        ));
    }
}

fn human_bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a display of sizes, rounded anyway
    let f = n as f64;
    if n >= 1 << 20 {
        format!("{:.1} MiB", f / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
