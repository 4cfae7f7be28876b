//! The status bar: targets and their connection state, OBSERVER for a read-only instance, the
//! operator at the keys, who else has the run open, the running command with a spinner and
//! elapsed time, and key hints from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::action::Action;
use crate::app::{App, Pane};
use crate::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub struct Status<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
    /// The compact layout: say which pane shows beside the steps and how to switch.
    pub compact: bool,
}

impl Widget for Status<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Status {
            app,
            theme,
            compact,
        } = self;
        buf.set_style(area, theme.status);
        let mut spans: Vec<Span> = Vec::new();
        if compact {
            let name = match app.compact_pane() {
                Pane::Checklist => "Checklist",
                Pane::Gate => "Gate",
                Pane::Log | Pane::Steps => "Log",
            };
            let tab = app
                .keymap
                .key_for(&Action::NextPane)
                .map(|k| format!(" {k}"))
                .unwrap_or_default();
            spans.push(Span::styled(format!("[{name}]{tab} "), theme.status_key));
        }
        let step_target = app.step().commands.first().map(|c| c.target.clone());
        if let Some(t) = app
            .targets
            .iter()
            .find(|t| Some(&t.name) == step_target.as_ref())
            .or_else(|| app.targets.first())
        {
            let (dot, style) = if t.connected {
                ("●", theme.ok)
            } else {
                ("○", theme.muted)
            };
            spans.push(Span::styled(format!(" {dot} "), style.patch(theme.status)));
            spans.push(Span::styled(format!("{} ", t.endpoint), theme.status));
        }
        if app.observer {
            spans.push(Span::styled(" OBSERVER ", theme.status_key));
        }
        // Who is at the keys: with several operators on one keyboard, always said.
        let at_keys = if app.operators.len() > 1 {
            format!("· ⌨ {} ", app.operator)
        } else {
            format!("· {} ", app.operator)
        };
        spans.push(Span::styled(at_keys, theme.status));
        let others = app.presence.others(&app.session);
        if !others.is_empty() {
            spans.push(Span::styled(
                format!("· also here: {} ", others.join(", ")),
                theme.status,
            ));
        }
        if app.monitoring {
            spans.push(Span::styled(
                "· ◉ monitoring ",
                theme.running.patch(theme.status),
            ));
        }
        if let Some(b) = &app.busy {
            let frame = SPINNER[usize::try_from(app.ticks % 10).unwrap_or(0)];
            let secs = b.since.elapsed().as_secs();
            spans.push(Span::styled(
                format!(
                    "· {frame} {}/{} {}:{:02} ",
                    b.step,
                    b.command,
                    secs / 60,
                    secs % 60
                ),
                theme.running.patch(theme.status),
            ));
        }
        if let Some(e) = &app.journal_failed {
            spans.push(Span::styled(
                format!("· JOURNAL FAILED: {e} "),
                theme.failed,
            ));
        } else if let Some(m) = &app.message {
            spans.push(Span::styled(format!("· {m} "), theme.status));
        } else {
            let used: usize = spans.iter().map(Span::width).sum();
            for (k, label) in hints(app, usize::from(area.width).saturating_sub(used)) {
                spans.push(Span::styled(format!(" {k}"), theme.status_key));
                spans.push(Span::styled(format!(" {label}"), theme.status));
            }
        }
        Paragraph::new(super::fit_line(Line::from(spans), usize::from(area.width)))
            .render(area, buf);
    }
}

/// Key hints that fit in `room` columns: chosen by importance (help and quit first, since
/// help lists the rest), shown in a stable reading order.
fn hints(app: &App, room: usize) -> Vec<(String, &'static str)> {
    let mut all = vec![
        (Action::RunNext, "run"),
        (Action::ToggleCheck, "tick"),
        (Action::SignOff, "sign"),
        (Action::Detail, "detail"),
        (Action::Help, "help"),
        (Action::Quit, "quit"),
    ];
    if app.busy.is_some() {
        all.insert(0, (Action::CancelCommand, "cancel"));
    }
    let rank = |a: &Action| match a {
        Action::Help => 0,
        Action::Quit => 1,
        Action::CancelCommand => 2,
        Action::RunNext => 3,
        Action::Detail => 4,
        Action::ToggleCheck => 5,
        _ => 6,
    };
    let mut by_rank: Vec<usize> = (0..all.len()).collect();
    by_rank.sort_by_key(|&i| rank(&all[i].0));
    let mut keep = vec![false; all.len()];
    let mut left = room;
    for i in by_rank {
        let Some(k) = app.keymap.key_for(&all[i].0) else {
            continue;
        };
        let w = k.chars().count() + all[i].1.len() + 2;
        if w <= left {
            left -= w;
            keep[i] = true;
        }
    }
    all.into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .filter_map(|((a, label), _)| app.keymap.key_for(&a).map(|k| (k, label)))
        .collect()
}
