//! The selected step's detail (body, commands with their state) and its live log.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit};
use crate::app::scrollback::LineKind;
use crate::app::{App, Pane};
use crate::journal::Outcome;
use crate::theme::Theme;

pub struct Detail<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Detail<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Detail { app, theme } = self;
        let step = app.step();
        let st = app.status_of(app.selected);
        let page = step.page.map(|p| format!("p{p} · ")).unwrap_or_default();
        let title = Line::from(vec![
            Span::styled(format!(" {page}{} ", step.title), theme.title),
            Span::styled(
                format!("{} · {} ", step.level.label(), st.label()),
                super::side::status_style(st, theme),
            ),
        ]);
        let b = block(
            super::fit_line(title, usize::from(area.width.saturating_sub(2))),
            false,
            theme,
        );
        let inner = b.inner(area);
        b.render(area, buf);
        let mut cmds: Vec<Span> = Vec::new();
        let next = app.state.next_command(step).map(|(i, _)| i);
        for (i, c) in step.commands.iter().enumerate() {
            let last = app.state.last_run(&step.id, &c.name).map(|r| r.outcome);
            let running = app
                .busy
                .as_ref()
                .is_some_and(|b| b.step == step.id && b.command == c.name);
            let (g, style) = match (running, last) {
                (true, _) => ("▶", theme.running),
                (_, Some(Outcome::Passed)) => ("✓", theme.ok),
                (_, Some(_)) => ("✗", theme.failed),
                (_, None) if Some(i) == next => ("›", theme.accent),
                (_, None) => ("·", theme.pending),
            };
            let confirm = if c.confirm { "!" } else { "" };
            cmds.push(Span::styled(format!("{g} {}{confirm}  ", c.name), style));
        }
        if step.commands.is_empty() {
            cmds.push(Span::styled("no commands: a manual step", theme.muted));
        }
        let body_h = usize::from(inner.height.saturating_sub(1));
        let w = usize::from(inner.width);
        let mut rows: Vec<String> = crate::app::view::reflow(&step.body)
            .iter()
            .flat_map(|l| crate::app::view::wrap(l, w))
            .collect();
        if rows.len() > body_h && body_h > 0 {
            // Cut short: say so (the detail view shows it all).
            rows.truncate(body_h);
            if let Some(last) = rows.last_mut() {
                *last = fit(&format!("{last}…"), w);
            }
        }
        Paragraph::new(rows.into_iter().map(Line::from).collect::<Vec<_>>())
            .style(theme.text)
            .render(
                Rect {
                    height: u16::try_from(body_h).unwrap_or(0),
                    ..inner
                },
                buf,
            );
        if inner.height > 0 {
            Paragraph::new(super::fit_line(Line::from(cmds), w)).render(
                Rect {
                    y: inner.y + inner.height - 1,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
    }
}

pub struct Log<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Log<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Log { app, theme } = self;
        let log = app.log();
        let len = log.map_or(0, crate::app::scrollback::LogBuffer::len);
        let mode = match app.log_scroll {
            None => "follow".to_string(),
            Some(top) => format!("{}/{len}", top + 1),
        };
        let title = Line::from(vec![
            Span::styled(format!(" Log · {} ", app.step().id), theme.title),
            Span::styled(format!("{mode} "), theme.muted),
        ]);
        let b = block(title, app.focus == Pane::Log, theme);
        let inner = b.inner(area);
        b.render(area, buf);
        if let Some(t) = app.term.as_ref().filter(|t| t.step == app.step().id) {
            // A PTY command: its screen as a terminal would show it (progress bars and all).
            tui_term::widget::PseudoTerminal::new(t.parser.screen()).render(inner, buf);
            return;
        }
        let Some(log) = log.filter(|l| !l.is_empty()) else {
            let hint = match app.keymap.key_for(&crate::action::Action::RunNext) {
                Some(k) => format!("no output yet: {k} runs the next command"),
                None => "no output yet".to_string(),
            };
            Paragraph::new(Line::styled(
                fit(&hint, usize::from(inner.width)),
                theme.muted,
            ))
            .render(inner, buf);
            return;
        };
        let h = usize::from(inner.height);
        let top = app.log_scroll.unwrap_or_else(|| len.saturating_sub(h));
        let w = usize::from(inner.width);
        let needle = app.search.as_ref().map(|s| s.to_lowercase());
        let lines: Vec<Line> = (top..(top + h).min(len))
            .filter_map(|i| log.get(i).map(|l| (i, l)))
            .map(|(i, l)| {
                let style = match l.kind {
                    LineKind::Stdout => theme.text,
                    LineKind::Stderr => theme.stderr,
                    LineKind::Header => theme.accent,
                    LineKind::Passed => theme.ok,
                    LineKind::Failed => theme.failed,
                    LineKind::Info => theme.muted,
                };
                let hit = Some(i) == app.search_hit
                    || needle
                        .as_ref()
                        .is_some_and(|n| l.text.to_lowercase().contains(n.as_str()));
                if hit || l.segs.is_empty() || crate::theme::no_color() {
                    Line::styled(
                        fit(&l.text, w),
                        if hit { theme.search_match } else { style },
                    )
                } else {
                    coloured(&l.segs, style, w)
                }
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}

fn colour(c: crate::app::ansi::Colour) -> ratatui::style::Color {
    match c {
        crate::app::ansi::Colour::Indexed(i) => ratatui::style::Color::Indexed(i),
        crate::app::ansi::Colour::Rgb(r, g, b) => ratatui::style::Color::Rgb(r, g, b),
    }
}

/// A line of command output with its own SGR colours over the pane's base style, cut to `w`.
fn coloured(
    segs: &[(crate::app::ansi::Attr, String)],
    base: ratatui::style::Style,
    w: usize,
) -> Line<'static> {
    use ratatui::style::Modifier;
    let mut left = w;
    let mut spans = Vec::new();
    for (a, text) in segs {
        if left == 0 {
            break;
        }
        let t = fit(text, left);
        left = left.saturating_sub(unicode_width::UnicodeWidthStr::width(t.as_str()));
        let mut st = base;
        if let Some(c) = a.fg {
            st = st.fg(colour(c));
        }
        if let Some(c) = a.bg {
            st = st.bg(colour(c));
        }
        for (on, m) in [
            (a.bold, Modifier::BOLD),
            (a.dim, Modifier::DIM),
            (a.italic, Modifier::ITALIC),
            (a.underline, Modifier::UNDERLINED),
            (a.reverse, Modifier::REVERSED),
        ] {
            if on {
                st = st.add_modifier(m);
            }
        }
        spans.push(Span::styled(t, st));
    }
    Line::from(spans)
}
