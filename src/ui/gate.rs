//! The gate: each requirement with ✓/✗ and why, and the monitoring window's progress.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Widget};

use super::{block, fit};
use crate::app::{App, Pane};
use crate::theme::Theme;

pub struct Gate<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Gate<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Gate { app, theme } = self;
        let v = &app.verdict;
        let name = if app.runbook.gate.title.is_empty() {
            "Gate".to_string()
        } else {
            app.runbook.gate.title.clone()
        };
        let verdict = if v.open {
            Span::styled(" OPEN ", theme.ok)
        } else {
            Span::styled(" SHUT ", theme.failed)
        };
        let w = usize::from(area.width.saturating_sub(10));
        let title = Line::from(vec![
            Span::styled(format!(" {} ", fit(&name, w)), theme.title),
            verdict,
        ]);
        let b = block(title, app.focus == Pane::Gate, theme);
        let inner = b.inner(area);
        b.render(area, buf);
        let w = usize::from(inner.width);
        let shown: Vec<_> = v
            .requirements
            .iter()
            // The monitoring requirement is drawn as the gauge below.
            .filter(|r| v.monitor.is_none() || r.name != "monitoring")
            .collect();
        let room = usize::from(inner.height.saturating_sub(u16::from(v.monitor.is_some())));
        // Whole reasons when they fit (the compact layout's gate is tall), else one line each.
        let wrapped: Vec<Vec<String>> = shown
            .iter()
            .map(|r| {
                crate::app::view::wrap(&format!("{}: {}", r.name, r.detail), w.saturating_sub(2))
            })
            .collect();
        let whole = wrapped.iter().map(Vec::len).sum::<usize>() <= room;
        let mut lines: Vec<Line> = Vec::new();
        for (r, rows) in shown.iter().zip(&wrapped) {
            let (g, style) = if r.met {
                ("✓", theme.ok)
            } else {
                ("✗", theme.failed)
            };
            if whole {
                for (i, row) in rows.iter().enumerate() {
                    let lead = if i == 0 { g } else { " " };
                    lines.push(Line::from(vec![
                        Span::styled(format!("{lead} "), style),
                        Span::styled(row.clone(), if i == 0 { style } else { theme.text }),
                    ]));
                }
            } else {
                lines.push(Line::from(vec![
                    Span::styled(format!("{g} {}: ", r.name), style),
                    Span::styled(
                        fit(&r.detail, w.saturating_sub(r.name.len() + 4)),
                        theme.text,
                    ),
                ]));
            }
        }
        if v.requirements.is_empty() {
            lines.push(Line::styled(
                "this runbook's gate has no requirements",
                theme.muted,
            ));
        }
        let text_rows = u16::try_from(lines.len()).unwrap_or(u16::MAX);
        let text_h = inner.height.saturating_sub(u16::from(v.monitor.is_some()));
        Paragraph::new(lines).render(
            Rect {
                height: text_h,
                ..inner
            },
            buf,
        );
        if let Some(m) = &v.monitor
            && inner.height > 0
        {
            let met = v
                .requirements
                .iter()
                .any(|r| r.name == "monitoring" && r.met);
            let label = format!(
                "{} monitoring {} / {} · {} passed, {} failed (max {})",
                if met { "✓" } else { "✗" },
                humantime::format_duration(std::time::Duration::from_secs(m.watched.as_secs())),
                humantime::format_duration(m.total),
                m.passed,
                m.failed,
                m.max_failures
            );
            let y = inner.y + text_rows.min(inner.height - 1);
            Gauge::default()
                .gauge_style(theme.gauge)
                .ratio(m.fraction())
                .label(fit(&label, w))
                .render(
                    Rect {
                        y,
                        height: 1,
                        ..inner
                    },
                    buf,
                );
        }
    }
}
