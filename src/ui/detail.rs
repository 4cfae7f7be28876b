//! The detail view: the focused thing in full, wrapped and scrollable, over the panes (the
//! status bar stays visible). What it shows and how it wraps come from `app::view`, so the
//! app's scrolling and this drawing agree row for row.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::{block, fit};
use crate::app::App;
use crate::app::scrollback::LineKind;
use crate::app::view::detail_inner;
use crate::theme::Theme;

pub struct DetailOverlay<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for DetailOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let DetailOverlay { app, theme } = self;
        let (w, h) = detail_inner((area.width, area.height));
        let r = Rect::new(area.x, area.y, w + 2, h + 2).intersection(area);
        let doc = app.detail_doc();
        let rows = app.detail_rows(&doc);
        let top = app.detail_top(rows.len(), usize::from(h));
        let shown = rows.len().min(top + usize::from(h));
        let pos = if rows.len() <= usize::from(h) {
            "all".to_string()
        } else {
            format!("{}-{}/{}", top + 1, shown, rows.len())
        };
        let close = app
            .keymap
            .key_for(&crate::action::Action::Escape)
            .unwrap_or_else(|| "Esc".into());
        let title = Line::from(vec![
            Span::styled(
                format!(" {} ", fit(&doc.title, usize::from(w).saturating_sub(24))),
                theme.title,
            ),
            Span::styled(
                format!("{pos} · ↑↓ PgUp PgDn · {close} closes "),
                theme.muted,
            ),
        ]);
        Clear.render(r, buf);
        buf.set_style(r, theme.text);
        let b = block(title, true, theme);
        let inner = b.inner(r);
        b.render(r, buf);
        let lines: Vec<Line> = rows[top..shown]
            .iter()
            .map(|(_, kind, text)| {
                let style = match kind {
                    LineKind::Stdout => theme.text,
                    LineKind::Stderr => theme.stderr,
                    LineKind::Header => theme.accent,
                    LineKind::Passed => theme.ok,
                    LineKind::Failed => theme.failed,
                    LineKind::Info => theme.muted,
                };
                Line::styled(text.clone(), style)
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
