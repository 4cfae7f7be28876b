//! Drawing. Everything renders through `&App`, so drawing can never change state.
//!
//! ```text
//! ┌ Steps ───────────────┐┌ 3 · First release ────────────────────────────┐
//! │ MUST                 ││ body text of the selected step                │ detail
//! │ ✓ p1 preflight       ││ ✓ build  ✓ symlink  · smoke                   │
//! │ ▶ p3 release         │└───────────────────────────────────────────────┘
//! │ SHOULD               │┌ Log ──────────────────────────────────────────┐
//! │ · p7 audit           ││ $ build on staging                            │ live log
//! ├ Checklist ───────────┤│ built release 2026...                         │
//! │ [x] tools present    │└───────────────────────────────────────────────┘
//! │ [ ] host key checked │┌ Gate: SHUT ───────────────────────────────────┐
//! └──────────────────────┘│ ✗ steps: 4 of 9 not done                      │ gate
//!  status bar: target ● connected · operator · ⠋ running 3s · keys         └
//! ```

mod dialog;
pub use dialog::DialogView;
mod detail;
mod gate;
mod log;
mod side;
mod status;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};

use crate::app::{App, Pane};
use crate::theme::Theme;

pub use crate::app::view::{FULL, Fit, MIN};
const LEFT_MIN: u16 = 30;
const LEFT_MAX: u16 = 52;
const CHECKLIST_MIN: u16 = 6;
/// The compact layout's step list: narrow, so the one pane beside it has room.
const COMPACT_LEFT: (u16, u16) = (22, 30);
/// The compact layout's step card: title in the border, the commands line inside.
const COMPACT_CARD_H: u16 = 3;

/// The screen's areas, computed from the size alone (also used for mouse hit-testing). In
/// the compact layout log, checklist and gate share one area, and only
/// [`App::compact_pane`] of them is drawn there.
#[derive(Debug, Clone, Copy, Default)]
pub struct Areas {
    pub steps: Rect,
    pub checklist: Rect,
    pub detail: Rect,
    pub log: Rect,
    pub gate: Rect,
    pub status: Rect,
    pub compact: bool,
}

pub fn layout(app: &App) -> Areas {
    layout_at(app, app.size)
}

/// The areas at a given terminal size (the runtime measures a new size before telling the app).
pub fn layout_at(app: &App, size: (u16, u16)) -> Areas {
    match crate::app::view::fit(size) {
        Fit::Full => full(app, size),
        Fit::Compact => compact(size),
        // Nothing is drawn; measure as the smallest screen that draws, so a command started
        // now (or resumed) gets a sane PTY size.
        Fit::TooSmall => compact(MIN),
    }
}

/// ```text
/// ┌ Steps ──────────┐┌ p3 · First release ─ MUST · pending ┐
/// │ MUST            ││ › build  · symlink  · smoke         │ step card
/// │ ✓ p1 preflight  │└─────────────────────────────────────┘
/// │ ▶ p3 release    │┌ Log · release ──────────────────────┐
/// │ SHOULD          ││ $ build on staging                  │ one of log,
/// │ · p7 audit      ││ ...                                 │ checklist, gate
/// └─────────────────┘└─────────────────────────────────────┘
///  [Log] Tab · ● deploy@host · ana  Enter run  v detail ...
/// ```
fn compact(size: (u16, u16)) -> Areas {
    let area = Rect::new(0, 0, size.0, size.1);
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let left_w = (main.width * 36 / 100).clamp(COMPACT_LEFT.0, COMPACT_LEFT.1);
    let [steps, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(1)]).areas(main);
    let [card, pane] =
        Layout::vertical([Constraint::Length(COMPACT_CARD_H), Constraint::Min(3)]).areas(right);
    Areas {
        steps,
        checklist: pane,
        detail: card,
        log: pane,
        gate: pane,
        status,
        compact: true,
    }
}

fn full(app: &App, size: (u16, u16)) -> Areas {
    let area = Rect::new(0, 0, size.0, size.1);
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let left_w = (main.width * 36 / 100).clamp(LEFT_MIN, LEFT_MAX);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(1)]).areas(main);
    let checklist_h = (left.height * 2 / 5).max(CHECKLIST_MIN);
    let [steps, checklist] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(checklist_h)]).areas(left);
    let detail_h = if main.height >= 40 { 10 } else { 6 };
    // One row per requirement (the monitoring one is the gauge) plus the evidence row.
    let gate_rows = u16::try_from(app.verdict.requirements.len()).unwrap_or(4) + 1;
    let gate_h = (gate_rows + 2).clamp(4, if main.height >= 40 { 12 } else { 8 });
    let [detail, log, gate] = Layout::vertical([
        Constraint::Length(detail_h),
        Constraint::Min(3),
        Constraint::Length(gate_h),
    ])
    .areas(right);
    Areas {
        steps,
        checklist,
        detail,
        log,
        gate,
        status,
        compact: false,
    }
}

fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// Inside of the log pane (columns, rows) at a terminal size: the size a PTY command sees.
pub fn log_inside(app: &App, size: (u16, u16)) -> (u16, u16) {
    let a = layout_at(app, size).log;
    (
        a.width.saturating_sub(2).max(1),
        a.height.saturating_sub(2).max(1),
    )
}

/// What is under the mouse at (column, row).
pub fn hit(app: &App, x: u16, y: u16) -> crate::action::Hit {
    let pane = pane_at(app, x, y);
    let step = if pane == Some(Pane::Steps) {
        step_at(app, y)
    } else {
        None
    };
    crate::action::Hit { pane, step }
}

pub fn pane_at(app: &App, x: u16, y: u16) -> Option<Pane> {
    // Under the detail view or the too-small message, no pane is visible to click.
    if app.detail.is_some() || app.fit() == Fit::TooSmall {
        return None;
    }
    let a = layout(app);
    let panes = if a.compact {
        vec![
            (a.steps, Pane::Steps),
            (a.detail, Pane::Steps),
            (a.log, app.compact_pane()),
        ]
    } else {
        vec![
            (a.steps, Pane::Steps),
            (a.checklist, Pane::Checklist),
            (a.log, Pane::Log),
            (a.detail, Pane::Log),
            (a.gate, Pane::Gate),
        ]
    };
    panes
        .into_iter()
        .find(|(r, _)| contains(*r, x, y))
        .map(|(_, p)| p)
}

/// The step drawn on screen row `y` of the step list, if any.
pub fn step_at(app: &App, y: u16) -> Option<usize> {
    let a = layout(app);
    let row = usize::from(y.checked_sub(a.steps.y + 1)?);
    side::step_rows(app, a.steps.height.saturating_sub(2))
        .get(row)
        .copied()
        .flatten()
}

pub fn block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(title)
}

/// The whole screen.
pub struct Screen<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Screen { app, theme } = self;
        buf.set_style(area, theme.text);
        if crate::app::view::fit((area.width, area.height)) == Fit::TooSmall {
            too_small(app, area, buf, theme);
            return;
        }
        let a = layout_at(app, (area.width, area.height));
        side::Steps { app, theme }.render(a.steps, buf);
        log::Detail { app, theme }.render(a.detail, buf);
        if a.compact {
            match app.compact_pane() {
                Pane::Checklist => side::Checklist { app, theme }.render(a.checklist, buf),
                Pane::Gate => gate::Gate { app, theme }.render(a.gate, buf),
                Pane::Log | Pane::Steps => log::Log { app, theme }.render(a.log, buf),
            }
        } else {
            side::Checklist { app, theme }.render(a.checklist, buf);
            log::Log { app, theme }.render(a.log, buf);
            gate::Gate { app, theme }.render(a.gate, buf);
        }
        status::Status {
            app,
            theme,
            compact: a.compact,
        }
        .render(a.status, buf);
        if app.detail.is_some() {
            detail::DetailOverlay { app, theme }.render(area, buf);
        }
        if app.help {
            dialog::Help { app, theme }.render(area, buf);
        } else if let Some(d) = &app.dialog {
            dialog::DialogView { dialog: d, theme }.render(area, buf);
        }
    }
}

/// Below the minimum: say so, and say what is waiting, since no key but quit acts here.
fn too_small(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut msg = vec![Line::styled(
        format!(
            "terminal too small: {}×{}, need {}×{}",
            area.width, area.height, MIN.0, MIN.1
        ),
        theme.failed,
    )];
    let waiting = if app.dialog.is_some() {
        "a question is waiting: enlarge the window to answer it"
    } else if app.busy.is_some() {
        "a command is running: enlarge the window to see it"
    } else {
        "enlarge the window, or q to quit"
    };
    msg.push(Line::styled(waiting, theme.muted));
    let h = area.height.min(4);
    let y = area.y + area.height.saturating_sub(h) / 2;
    let r = Rect::new(area.x, y, area.width, h);
    Paragraph::new(msg)
        .style(Style::default())
        .wrap(Wrap { trim: true })
        .centered()
        .render(r, buf);
}

/// Truncate to `w` columns with an ellipsis.
pub fn fit(s: &str, w: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    if s.width() <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// Cut a line of spans to `w` columns, ending in an ellipsis when anything was cut.
pub fn fit_line(line: Line<'_>, w: usize) -> Line<'_> {
    use unicode_width::UnicodeWidthStr;
    if line.width() <= w {
        return line;
    }
    let mut left = w;
    let mut spans = Vec::new();
    for s in line.spans {
        if left == 0 {
            break;
        }
        let sw = s.content.width();
        if sw < left {
            left -= sw;
            spans.push(s);
        } else {
            // This span reaches the edge: it carries the ellipsis.
            let cut = fit(&s.content, left);
            let cut = if cut.ends_with('…') {
                cut
            } else {
                fit(&format!("{cut}…"), left)
            };
            spans.push(ratatui::text::Span::styled(cut, s.style));
            left = 0;
        }
    }
    Line::from(spans)
}
