//! The step list (grouped MUST / SHOULD / OPTIONAL) and the selected step's checklist.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit};
use crate::app::{App, Pane};
use crate::journal::state::StepStatus;
use crate::runbook::Level;
use crate::theme::Theme;

pub fn glyph(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Pending => "·",
        StepStatus::Running => "▶",
        StepStatus::Partial => "◐",
        StepStatus::Passed => "✓",
        StepStatus::Failed => "✗",
        StepStatus::Waived => "~",
        StepStatus::SignedOff => "★",
        StepStatus::Skipped => "–",
    }
}

pub fn status_style(s: StepStatus, t: &Theme) -> Style {
    match s {
        StepStatus::Pending => t.pending,
        StepStatus::Running | StepStatus::Partial => t.running,
        StepStatus::Passed => t.ok,
        StepStatus::Failed => t.failed,
        StepStatus::Waived => t.waived,
        StepStatus::SignedOff => t.signed,
        StepStatus::Skipped => t.muted,
    }
}

/// Rows of the list: `None` for a group heading, `Some(step index)` for a step, scrolled so
/// the selection is visible within `height` rows.
pub fn step_rows(app: &App, height: u16) -> Vec<Option<usize>> {
    let mut rows = Vec::new();
    let mut level: Option<Level> = None;
    for (i, s) in app.runbook.steps.iter().enumerate() {
        if level != Some(s.level) {
            rows.push(None);
            level = Some(s.level);
        }
        rows.push(Some(i));
    }
    let h = usize::from(height);
    let sel = rows
        .iter()
        .position(|r| *r == Some(app.selected))
        .unwrap_or(0);
    let start = sel.saturating_sub(h.saturating_sub(1));
    rows.into_iter().skip(start).take(h).collect()
}

pub struct Steps<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Steps<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Steps { app, theme } = self;
        let done = (0..app.runbook.steps.len())
            .filter(|&i| app.status_of(i).is_done())
            .count();
        let title = format!(" Steps {done}/{} ", app.runbook.steps.len());
        let b = block(
            Span::styled(title, theme.title),
            app.focus == Pane::Steps,
            theme,
        );
        let inner = b.inner(area);
        b.render(area, buf);
        let w = usize::from(inner.width);
        let rows = step_rows(app, inner.height);
        let lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .map(|(k, row)| match row {
                // A heading names the group of the step that follows it.
                None => {
                    let next = rows[k + 1..]
                        .iter()
                        .flatten()
                        .next()
                        .map(|&i| app.runbook.steps[i].level);
                    Line::styled(next.map_or("", Level::label), theme.accent)
                }
                Some(i) => {
                    let s = &app.runbook.steps[*i];
                    let st = app.status_of(*i);
                    let page = s.page.map(|p| format!("p{p} ")).unwrap_or_default();
                    // A step waiting for others says which, so nobody runs 100% before 25%.
                    let by = if st.is_done() || st == StepStatus::Running {
                        Vec::new()
                    } else {
                        app.state.blocked_by(&app.runbook, s)
                    };
                    let waits = if by.is_empty() {
                        String::new()
                    } else {
                        format!(" (after {})", by.join(", "))
                    };
                    let text = fit(&format!("{} {page}{}{waits}", glyph(st), s.title), w);
                    let style = if *i == app.selected {
                        theme.selected
                    } else {
                        status_style(st, theme)
                    };
                    Line::styled(format!("{text:<w$}"), style)
                }
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}

pub struct Checklist<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Checklist<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Checklist { app, theme } = self;
        let step = app.step();
        let focused = app.focus == Pane::Checklist;
        let ticked = step
            .checklist
            .iter()
            .filter(|c| app.state.is_checked(&step.id, &c.id))
            .count();
        let title = format!(" Checklist {ticked}/{} ", step.checklist.len());
        let b = block(Span::styled(title, theme.title), focused, theme);
        let inner = b.inner(area);
        b.render(area, buf);
        let w = usize::from(inner.width);
        let rec = app.state.step(&step.id);
        let mut lines: Vec<Line> = Vec::new();
        if step.checklist.is_empty() {
            lines.push(Line::styled("no checklist for this step", theme.muted));
        }
        for (i, c) in step.checklist.iter().enumerate() {
            let checked = app.state.is_checked(&step.id, &c.id);
            let waived =
                rec.is_some_and(|r| r.waivers.iter().any(|x| x.item.as_deref() == Some(&c.id)));
            let mark = if checked {
                "[x]"
            } else if waived {
                "[~]"
            } else {
                "[ ]"
            };
            let text = fit(&format!("{mark} {}", c.text), w);
            let style = if focused && i == app.check_selected {
                theme.selected
            } else if checked {
                theme.ok
            } else if waived {
                theme.waived
            } else {
                theme.text
            };
            lines.push(Line::styled(format!("{text:<w$}"), style));
        }
        if let Some(r) = rec {
            for so in &r.signoffs {
                let note = if so.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", so.note)
                };
                // An unsigned sign-off never looks like a signed one: it counts for nothing.
                let (text, style) = match app.proven.signoff(so.seq).map(|l| &l.status) {
                    Some(crate::evidence::seal::SigStatus::Trusted) => (
                        format!("★ signed off by {}{note}", so.operator),
                        theme.signed,
                    ),
                    Some(crate::evidence::seal::SigStatus::Unsigned) | None
                        if so.signature.is_none() =>
                    {
                        (
                            format!(
                                "☆ UNSIGNED sign-off by {} (counts for nothing){note}",
                                so.operator
                            ),
                            theme.failed,
                        )
                    }
                    Some(st) => (
                        format!("☆ sign-off by {} ({}){note}", so.operator, st.label()),
                        theme.muted,
                    ),
                    None => (format!("☆ sign-off by {}{note}", so.operator), theme.muted),
                };
                lines.push(Line::styled(fit(&text, w), style));
            }
            for wv in r.waivers.iter().filter(|w| w.item.is_none()) {
                lines.push(Line::styled(
                    fit(&format!("~ waived by {}: {}", wv.operator, wv.reason), w),
                    theme.waived,
                ));
            }
            for n in &r.notes {
                lines.push(Line::styled(
                    fit(&format!("✎ {}: {}", n.operator, n.text), w),
                    theme.muted,
                ));
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
