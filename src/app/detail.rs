//! What the detail view shows: the thing the focused pane cuts short, in full, as plain
//! lines for `ui::detail` to draw (see `view` for sizes, keys and scrolling).

use super::App;
use super::view::{DetailDoc, reflow};
use crate::action::Pane;
use crate::app::scrollback::LineKind;
use crate::journal::Outcome;

impl App {
    /// What the detail view shows: the thing the focused pane cuts short, in full.
    pub fn detail_doc(&self) -> DetailDoc {
        let Some(v) = &self.detail else {
            return DetailDoc::default();
        };
        let mut doc = DetailDoc::default();
        if let Some(m) = self.journal_failed.as_ref().or(self.message.as_ref()) {
            doc.lines.push((LineKind::Header, "Message".into()));
            doc.lines.push((LineKind::Failed, m.clone()));
            doc.lines.push((LineKind::Info, String::new()));
        }
        let step = self.step();
        match v.of {
            Pane::Log => {
                doc.title = format!("Log · {}", step.id);
                let Some(log) = self.log().filter(|l| !l.is_empty()) else {
                    doc.lines.push((LineKind::Info, "no output yet".into()));
                    return doc;
                };
                let first = doc.lines.len();
                if log.dropped > 0 {
                    doc.lines.push((
                        LineKind::Info,
                        format!(
                            "({} earlier lines are in the run's outputs/ only)",
                            log.dropped
                        ),
                    ));
                }
                let base = doc.lines.len();
                doc.lines
                    .extend((0..log.len()).filter_map(|i| log.get(i).map(|l| (l.kind, l.text))));
                doc.anchor = self
                    .search_hit
                    .or(self.log_scroll)
                    .map(|i| base + i)
                    .or((first > 0 && self.log_scroll.is_some()).then_some(first));
            }
            Pane::Steps => {
                doc.title = format!("Step · {}", step.id);
                self.step_lines(&mut doc.lines);
                self.presence_lines(&mut doc.lines);
            }
            Pane::Checklist => {
                doc.title = format!("Checklist · {}", step.id);
                self.checklist_lines(&mut doc.lines);
            }
            Pane::Gate => {
                doc.title = "Gate".into();
                for r in &self.verdict.requirements {
                    let (g, k) = if r.met {
                        ("✓", LineKind::Passed)
                    } else {
                        ("✗", LineKind::Failed)
                    };
                    doc.lines.push((k, format!("{g} {}: {}", r.name, r.detail)));
                }
                if let Some(m) = &self.verdict.monitor {
                    for (when, gap) in &m.gaps {
                        doc.lines.push((
                            LineKind::Info,
                            format!(
                                "unwatched gap of {} at {when}",
                                humantime::format_duration(*gap)
                            ),
                        ));
                    }
                }
            }
        }
        doc
    }

    fn step_lines(&self, out: &mut Vec<(LineKind, String)>) {
        let step = self.step();
        let st = self.status_of(self.selected);
        let page = step.page.map(|p| format!("p{p} · ")).unwrap_or_default();
        out.push((LineKind::Header, format!("{page}{}", step.title)));
        out.push((
            LineKind::Info,
            format!("{} · {}", step.level.label(), st.label()),
        ));
        out.push((LineKind::Info, String::new()));
        out.extend(
            reflow(&step.body)
                .into_iter()
                .map(|l| (LineKind::Stdout, l)),
        );
        if !step.commands.is_empty() {
            out.push((LineKind::Info, String::new()));
            out.push((LineKind::Header, "Commands".into()));
        }
        for c in &step.commands {
            let last = self.state.last_run(&step.id, &c.name);
            let (kind, state) = match last {
                Some(r) if r.outcome == Outcome::Passed => (LineKind::Passed, "✓ passed".into()),
                Some(r) => (
                    LineKind::Failed,
                    format!(
                        "✗ {}{}",
                        r.outcome.label(),
                        r.reason
                            .as_ref()
                            .map(|x| format!(": {x}"))
                            .unwrap_or_default()
                    ),
                ),
                None => (LineKind::Info, "· not run".to_string()),
            };
            let confirm = if c.confirm { " (asks first)" } else { "" };
            out.push((
                kind,
                format!("{} on {}{confirm}: {state}", c.name, c.target),
            ));
            let run = c
                .run
                .render(&self.display_vars)
                .map_or_else(|e| e.to_string(), |r| r.display);
            out.extend(run.lines().map(|l| (LineKind::Stdout, format!("  $ {l}"))));
        }
        if let Some(e) = self.last_event(&step.id) {
            out.push((LineKind::Info, String::new()));
            out.push((LineKind::Header, "Last journal event".into()));
            out.push((LineKind::Stdout, e));
        }
    }

    fn checklist_lines(&self, out: &mut Vec<(LineKind, String)>) {
        let step = self.step();
        let rec = self.state.step(&step.id);
        if step.checklist.is_empty() {
            out.push((LineKind::Info, "no checklist for this step".into()));
        }
        for c in &step.checklist {
            let checked = self.state.is_checked(&step.id, &c.id);
            let mark = if checked { "[x]" } else { "[ ]" };
            let kind = if checked {
                LineKind::Passed
            } else {
                LineKind::Stdout
            };
            out.push((kind, format!("{mark} {} ({})", c.text, c.id)));
        }
        let Some(r) = rec else { return };
        for so in &r.signoffs {
            out.push((
                LineKind::Passed,
                format!("★ signed off by {} at {}: {}", so.operator, so.ts, so.note),
            ));
        }
        for w in &r.waivers {
            let what = w.item.as_deref().unwrap_or("the step");
            out.push((
                LineKind::Info,
                format!("~ {what} waived by {}: {}", w.operator, w.reason),
            ));
        }
        for n in &r.notes {
            out.push((
                LineKind::Info,
                format!("✎ {} at {}: {}", n.operator, n.ts, n.text),
            ));
        }
    }

    /// The step's most recent journal line, in words.
    fn last_event(&self, step: &str) -> Option<String> {
        let r = self.state.step(step)?;
        let mut all: Vec<(u64, String)> = Vec::new();
        all.extend(r.runs.iter().map(|x| {
            (
                x.finished_seq,
                format!(
                    "#{} {} {} on {} by {}: {} (exit {}, {} ms){}",
                    x.finished_seq,
                    x.ts,
                    x.command,
                    x.target,
                    x.operator,
                    x.outcome.label(),
                    x.exit_status.map_or_else(|| "-".into(), |c| c.to_string()),
                    x.duration_ms,
                    x.reason
                        .as_ref()
                        .map(|y| format!(": {y}"))
                        .unwrap_or_default()
                ),
            )
        }));
        all.extend(r.checks.iter().map(|(item, c)| {
            let verb = if c.checked { "ticked" } else { "unticked" };
            (c.seq, format!("#{} {item} {verb} by {}", c.seq, c.operator))
        }));
        all.extend(r.notes.iter().map(|n| {
            (
                n.seq,
                format!("#{} note by {}: {}", n.seq, n.operator, n.text),
            )
        }));
        all.extend(r.waivers.iter().map(|w| {
            (
                w.seq,
                format!("#{} waiver by {}: {}", w.seq, w.operator, w.reason),
            )
        }));
        all.extend(r.signoffs.iter().map(|s| {
            (
                s.seq,
                format!("#{} sign-off by {}: {}", s.seq, s.operator, s.note),
            )
        }));
        all.extend(r.choice.iter().map(|c| {
            (
                c.seq,
                format!(
                    "#{} chose {} ({}): {}",
                    c.seq, c.option, c.operator, c.reason
                ),
            )
        }));
        all.into_iter().max_by_key(|(seq, _)| *seq).map(|(_, t)| t)
    }
}
