//! The status bar: targets and their connection state, operator, the running command with a
//! spinner and elapsed time, and key hints from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::action::Action;
use crate::app::App;
use crate::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub struct Status<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Status<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Status { app, theme } = self;
        buf.set_style(area, theme.status);
        let mut spans: Vec<Span> = Vec::new();
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
        spans.push(Span::styled(format!("· {} ", app.operator), theme.status));
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
            for (a, label) in [
                (Action::RunNext, "run"),
                (Action::ToggleCheck, "tick"),
                (Action::SignOff, "sign"),
                (Action::CancelCommand, "cancel"),
                (Action::Help, "help"),
                (Action::Quit, "quit"),
            ] {
                if let Some(k) = app.keymap.key_for(&a) {
                    spans.push(Span::styled(format!(" {k}"), theme.status_key));
                    spans.push(Span::styled(format!(" {label}"), theme.status));
                }
            }
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}
