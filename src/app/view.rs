//! What the screen can show at its size, and the detail view. The app decides which keys act
//! from this (a key must never act on something the operator cannot see); `ui` draws it.
//!
//! Sizes: the full layout from [`FULL`] up, the compact one (steps plus one pane, Tab
//! switches) from [`MIN`] up, and below that only a message, with only quit acting.

use crossterm::event::KeyEvent;
use unicode_width::UnicodeWidthChar;

use super::{App, Effect, Pane};
use crate::action::Action;
use crate::app::scrollback::LineKind;

/// (columns, rows) from which every pane shows at once.
pub const FULL: (u16, u16) = (80, 24);
/// (columns, rows) below which nothing but a message fits. `tmux new -x 80 -y 24` gives
/// 80×23 inside (its status line takes a row), which must work.
pub const MIN: (u16, u16) = (60, 20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Full,
    /// Steps plus one of log, checklist and gate.
    Compact,
    TooSmall,
}

pub fn fit(size: (u16, u16)) -> Fit {
    if size.0 >= FULL.0 && size.1 >= FULL.1 {
        Fit::Full
    } else if size.0 >= MIN.0 && size.1 >= MIN.1 {
        Fit::Compact
    } else {
        Fit::TooSmall
    }
}

/// The detail view's text area (columns, rows) at a terminal size: the whole screen above the
/// status bar, inside a border. `ui::detail` draws exactly this.
pub fn detail_inner(size: (u16, u16)) -> (u16, u16) {
    (
        size.0.saturating_sub(2).max(1),
        size.1.saturating_sub(3).max(1),
    )
}

/// The detail view: one thing shown in full, wrapped and scrollable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailView {
    /// The pane it was opened from, which decides what it shows.
    pub of: Pane,
    /// First wrapped row shown; `None` keeps the end in view (a live log keeps growing).
    pub scroll: Option<usize>,
}

/// A document for the detail view: a title and logical lines, each styled by kind.
#[derive(Debug, Clone, Default)]
pub struct DetailDoc {
    pub title: String,
    pub lines: Vec<(LineKind, String)>,
    /// The logical line to start at when opened (the log line in view), if any.
    pub anchor: Option<usize>,
}

impl App {
    pub fn fit(&self) -> Fit {
        fit(self.size)
    }

    /// The pane shown beside the steps in the compact layout: the focused one, or the log
    /// while the steps have focus (so moving through steps shows each step's output).
    pub fn compact_pane(&self) -> Pane {
        match self.focus {
            Pane::Steps => Pane::Log,
            p => p,
        }
    }

    /// Keys the current view takes before the dialogs and the keymap: `Some` when the key was
    /// handled (or deliberately dropped) here.
    pub(super) fn view_key(&mut self, key: &KeyEvent) -> Option<Vec<Effect>> {
        let action = self.keymap.action(key);
        if self.fit() == Fit::TooSmall {
            // Nothing else may act on a screen nobody can see; quitting is safe only when it
            // would not need to ask (no dialog waiting, nothing running).
            let quit_ok = self.dialog.is_none() && self.busy.is_none() && !self.help;
            return match action {
                Some(Action::Quit) if quit_ok => None,
                _ => Some(Vec::new()),
            };
        }
        if self.dialog.is_some() || self.help || self.detail.is_none() {
            return None;
        }
        match action? {
            Action::Up => self.detail_scroll(-1),
            Action::Down => self.detail_scroll(1),
            Action::PageUp => self.detail_scroll(-self.detail_page()),
            Action::PageDown => self.detail_scroll(self.detail_page()),
            Action::Top => self.detail_scroll(i64::MIN / 2),
            Action::Bottom => self.detail_scroll(i64::MAX / 2),
            Action::Escape | Action::Detail => self.detail = None,
            Action::Quit | Action::Help => return None,
            _ => {
                self.message = Some("the detail view is open: Esc closes it".into());
            }
        }
        Some(Vec::new())
    }

    /// Open (or close) the detail view of the focused pane, starting where that pane is.
    pub(super) fn toggle_detail(&mut self) {
        if self.detail.take().is_some() {
            return;
        }
        let of = self.focus;
        self.detail = Some(DetailView { of, scroll: None });
        let doc = self.detail_doc();
        let rows = self.detail_rows(&doc);
        let start = match (of, doc.anchor) {
            // A log followed to its end opens at its end.
            (Pane::Log, None) => None,
            (_, Some(a)) => rows.iter().position(|r| r.0 >= a),
            (_, None) => Some(0),
        };
        if let Some(d) = self.detail.as_mut() {
            d.scroll = start;
        }
        self.clamp_detail(rows.len());
    }

    fn detail_page(&self) -> i64 {
        i64::from(detail_inner(self.size).1.saturating_sub(1).max(1))
    }

    fn detail_scroll(&mut self, d: i64) {
        let total = self.detail_rows(&self.detail_doc()).len();
        let h = usize::from(detail_inner(self.size).1);
        let max = total.saturating_sub(h);
        let Some(v) = self.detail.as_mut() else {
            return;
        };
        let top = i64::try_from(v.scroll.unwrap_or(max)).unwrap_or(0);
        let next = usize::try_from(top.saturating_add(d).max(0)).unwrap_or(0);
        v.scroll = Some(next);
        self.clamp_detail(total);
    }

    fn clamp_detail(&mut self, total: usize) {
        let h = usize::from(detail_inner(self.size).1);
        let max = total.saturating_sub(h);
        if let Some(v) = self.detail.as_mut()
            && let Some(s) = v.scroll
        {
            // At the end of a log is following it again.
            v.scroll = if v.of == Pane::Log && s >= max {
                None
            } else {
                Some(s.min(max))
            };
        }
    }

    /// The detail document wrapped to the detail view's width: (logical line, kind, text).
    pub fn detail_rows(&self, doc: &DetailDoc) -> Vec<(usize, LineKind, String)> {
        let w = usize::from(detail_inner(self.size).0);
        doc.lines
            .iter()
            .enumerate()
            .flat_map(|(i, (k, t))| wrap(t, w).into_iter().map(move |r| (i, *k, r)))
            .collect()
    }

    /// First wrapped row to draw, for `rows` rows in a view `height` rows high.
    pub fn detail_top(&self, rows: usize, height: usize) -> usize {
        let max = rows.saturating_sub(height);
        self.detail
            .as_ref()
            .and_then(|d| d.scroll)
            .map_or(max, |s| s.min(max))
    }
}

/// A step body as paragraphs: the line breaks of a TOML multi-line string are soft (joined),
/// except before an indented line, a list item or a blank line.
pub fn reflow(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for l in body.lines() {
        let t = l.trim_end();
        let hard = t.is_empty()
            || t.starts_with([' ', '\t', '-', '*', '>', '|'])
            || t.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        match out.last_mut() {
            Some(last) if open && !hard => {
                last.push(' ');
                last.push_str(t);
            }
            _ => out.push(t.to_string()),
        }
        open = !t.is_empty();
    }
    out
}

/// Word-wrap `text` to `width` columns; words longer than a row are broken. Control
/// characters (journal text is hostile) show as `�`, tabs as spaces; every row fits.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        let mut started = false;
        for word in para.split([' ', '\t']) {
            let word: String = word
                .chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect();
            let ww: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
            let sep = usize::from(started);
            if used + sep + ww <= width {
                if started {
                    line.push(' ');
                }
                line.push_str(&word);
                used += sep + ww;
                started = true;
                continue;
            }
            if started && used > 0 {
                out.push(std::mem::take(&mut line));
                used = 0;
            } else if started {
                line.clear();
            }
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > width && used > 0 {
                    out.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += cw;
            }
            started = true;
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn sizes_pick_a_layout() {
        for (size, want) in [
            ((200, 50), Fit::Full),
            ((80, 24), Fit::Full),
            ((80, 23), Fit::Compact),
            ((79, 40), Fit::Compact),
            ((60, 20), Fit::Compact),
            ((59, 20), Fit::TooSmall),
            ((60, 19), Fit::TooSmall),
            ((0, 0), Fit::TooSmall),
        ] {
            assert_eq!(fit(size), want, "{size:?}");
        }
    }

    #[test]
    fn wrap_keeps_every_character_and_fits() {
        let long = "x".repeat(500);
        let rows = wrap(&long, 78);
        assert_eq!(rows.concat(), long);
        assert!(rows.iter().all(|r| r.width() <= 78));
        assert_eq!(
            wrap("rm -rf /srv/app/releases/old  then restart", 12),
            ["rm -rf", "/srv/app/rel", "eases/old ", "then restart"]
        );
        assert_eq!(wrap("  indented", 20), ["  indented"]);
        assert_eq!(wrap("a\nb", 5), ["a", "b"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn reflow_joins_soft_breaks_and_keeps_lists() {
        let body =
            "Write the template, then render\nit with the secret.\n\n- one\n- two\n  indented";
        assert_eq!(
            reflow(body),
            [
                "Write the template, then render it with the secret.",
                "",
                "- one",
                "- two",
                "  indented"
            ]
        );
    }

    #[test]
    fn wrap_shows_control_characters_as_replacement() {
        let rows = wrap("evil\u{1b}]0;pwned\u{7}title\r", 40);
        assert_eq!(rows, ["evil\u{fffd}]0;pwned\u{fffd}title\u{fffd}"]);
    }

    #[test]
    fn wide_characters_never_overflow() {
        for w in 1..8 {
            for r in wrap("配置ファイル 更新 完了しました", w) {
                assert!(r.width() <= w.max(2), "{w}: {r:?}");
            }
        }
    }
}
