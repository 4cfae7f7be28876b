//! Dialogs and the help overlay, drawn centred over the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use crate::app::App;
use crate::app::dialog::{Dialog, HOST_KEY_CHOICES};
use crate::theme::Theme;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn frame<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.dialog_border)
        .style(theme.dialog)
        .title(Span::styled(format!(" {title} "), theme.dialog_border))
}

pub struct DialogView<'a> {
    pub dialog: &'a Dialog,
    pub theme: &'a Theme,
}

impl Widget for DialogView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let (title, mut lines, input, hint): (
            &str,
            Vec<Line>,
            Option<&ratatui_textarea::TextArea>,
            &str,
        ) = match self.dialog {
            Dialog::Confirm {
                step,
                command,
                run,
                target,
                host_key,
                destructive,
                typed,
                error,
                ..
            } => (
                if *destructive {
                    "Destructive command"
                } else {
                    "Confirm command"
                },
                vec![
                    Line::styled(format!("{step}/{command}"), t.accent),
                    Line::styled(format!("on {target}"), t.text),
                    Line::styled(format!("host key {host_key}"), t.muted),
                    Line::raw(""),
                ]
                .into_iter()
                .chain(run.lines().map(|l| Line::styled(format!("$ {l}"), t.text)))
                .chain(error.iter().map(|e| Line::styled(e.clone(), t.failed)))
                .collect(),
                destructive.then_some(typed),
                if *destructive {
                    "type the step id, Enter run   Esc cancel   ↑↓ scroll"
                } else {
                    "y run   n / Esc cancel   ↑↓ scroll"
                },
            ),
            Dialog::SignOff { step, note, signer } => (
                "Sign off",
                vec![
                    Line::styled(
                        format!("Sign off step `{step}`. Your note goes into the journal."),
                        t.text,
                    ),
                    match signer {
                        Some(k) => Line::styled(format!("Signed with {k}"), t.muted),
                        None => Line::styled(
                            "NO SIGNING KEY: this sign-off will be recorded UNSIGNED and counts for nothing toward the gate. Load your key into ssh-agent or pass --signing-key, then reopen the run.",
                            t.failed,
                        ),
                    },
                ],
                Some(note),
                if signer.is_some() {
                    "Enter sign off   Alt-Enter new line   Esc cancel"
                } else {
                    "Enter record unsigned   Esc cancel"
                },
            ),
            Dialog::Rerun {
                step,
                commands,
                selected,
                reason,
                error,
            } => (
                "Run a passed command again",
                std::iter::once(Line::styled(
                    format!("Every command of `{step}` has passed. Run one again (↑↓):"),
                    t.text,
                ))
                .chain(commands.iter().enumerate().map(|(i, c)| {
                    if i == *selected {
                        Line::styled(format!(" › {c}"), t.selected)
                    } else {
                        Line::styled(format!("   {c}"), t.text)
                    }
                }))
                .chain(std::iter::once(Line::styled(
                    error
                        .clone()
                        .unwrap_or_else(|| "The reason is recorded.".into()),
                    if error.is_some() { t.failed } else { t.muted },
                )))
                .collect(),
                Some(reason),
                "Enter run again   Esc cancel",
            ),
            Dialog::Waive {
                step,
                item,
                reason,
                error,
            } => (
                "Waive",
                vec![
                    Line::styled(
                        match item {
                            Some(i) if i == crate::app::ORDER_WAIVER => {
                                format!("Run `{step}` before the steps it comes after.")
                            }
                            Some(i) => format!("Waive checklist item `{i}` of `{step}`."),
                            None => format!("Waive step `{step}`: the gate will count it as done."),
                        },
                        t.text,
                    ),
                    Line::styled(
                        error
                            .clone()
                            .unwrap_or_else(|| "A reason is required.".into()),
                        if error.is_some() { t.failed } else { t.muted },
                    ),
                ],
                Some(reason),
                "Enter waive   Esc cancel",
            ),
            Dialog::Note { step, text } => (
                "Note",
                vec![Line::styled(format!("Note on `{step}`"), t.text)],
                Some(text),
                "Enter save   Esc cancel",
            ),
            Dialog::HostKey { q, choice, .. } => {
                let mut l = vec![
                    Line::styled(
                        format!(
                            "The authenticity of {}:{} ({}) can't be established.",
                            q.host, q.port, q.target
                        ),
                        t.text,
                    ),
                    Line::styled(format!("{} key fingerprint is", q.algorithm), t.text),
                    Line::styled(q.fingerprint.clone(), t.accent),
                    Line::styled(
                        "Compare it with the one from the host's console before trusting it.",
                        t.muted,
                    ),
                    Line::raw(""),
                ];
                for (i, (label, _)) in HOST_KEY_CHOICES.iter().enumerate() {
                    let s = if i == *choice { t.selected } else { t.text };
                    l.push(Line::styled(
                        format!(" {} {label} ", if i == *choice { "›" } else { " " }),
                        s,
                    ));
                }
                if let Some(k) = &q.known_hosts {
                    l.push(Line::styled(format!("(saves to {})", k.display()), t.muted));
                }
                (
                    "Unknown host key",
                    l,
                    None,
                    "↑↓ choose   Enter confirm   r/o/a   Esc refuse",
                )
            }
            Dialog::Secret { prompt, input, .. } => (
                "Secret",
                vec![Line::styled(prompt.clone(), t.text)],
                Some(input),
                "Enter submit   Esc cancel",
            ),
            Dialog::ProposeTick { item, text, by, .. } => (
                "Expectation passed",
                vec![
                    Line::styled(format!("`{by}` met its expectation, which proves:"), t.text),
                    Line::styled(format!("[ ] {text} ({item})"), t.accent),
                    Line::raw(""),
                    Line::styled("Tick it?", t.text),
                ],
                None,
                "y tick   n / Esc leave it",
            ),
            Dialog::Alert { title, text } => (
                title.as_str(),
                text.lines()
                    .map(|l| Line::styled(l.to_string(), t.failed))
                    .collect(),
                None,
                "a acknowledge",
            ),
            Dialog::Quit => (
                "Quit?",
                vec![Line::styled(
                    "A command is running. Quitting cancels it (it is recorded as cancelled).",
                    t.text,
                )],
                None,
                "y quit   n / Esc stay",
            ),
            Dialog::Choice {
                step,
                options,
                selected,
                reason,
                error,
            } => {
                let mut l = vec![
                    Line::styled(
                        format!("Which path does the team take for `{step}`?"),
                        t.text,
                    ),
                    Line::raw(""),
                ];
                for (i, (id, title, desc)) in options.iter().enumerate() {
                    let s = if i == *selected { t.selected } else { t.text };
                    l.push(Line::styled(
                        format!(
                            " {} {id} — {title} ",
                            if i == *selected { "›" } else { " " }
                        ),
                        s,
                    ));
                    if !desc.is_empty() {
                        l.push(Line::styled(format!("     {desc}"), t.muted));
                    }
                }
                l.push(Line::styled(
                    error
                        .clone()
                        .unwrap_or_else(|| "Why this path? (required)".into()),
                    if error.is_some() { t.failed } else { t.muted },
                ));
                (
                    "Choose a path",
                    l,
                    Some(reason),
                    "↑↓ choose   Enter record   Esc cancel",
                )
            }
            Dialog::Var {
                name,
                description,
                secret,
                input,
                error,
            } => (
                "Variable",
                vec![
                    Line::styled(
                        format!(
                            "`{name}` has no value{}.",
                            if *secret {
                                " (secret: typed, never shown or recorded)"
                            } else {
                                ""
                            }
                        ),
                        t.text,
                    ),
                    Line::styled(description.clone(), t.muted),
                    Line::styled(error.clone().unwrap_or_default(), t.failed),
                ],
                Some(input),
                "Enter set   Esc quit",
            ),
            Dialog::Search { input } => (
                "Search the log",
                Vec::new(),
                Some(input),
                "Enter search   Esc cancel",
            ),
        };
        lines.push(Line::raw(""));
        // As wide as the screen allows (up to 100), and as tall as the wrapped text needs: the
        // end of a long command is never cut off, at worst it scrolls.
        let width = area.width.saturating_sub(4).clamp(20, 100);
        let inner_w = width.saturating_sub(2);
        let scroll = match self.dialog {
            Dialog::Confirm { scroll, .. } => *scroll,
            _ => 0,
        };
        let text = Paragraph::new(lines).wrap(Wrap { trim: false });
        let rows = u16::try_from(text.line_count(inner_w)).unwrap_or(u16::MAX);
        let input_h = if input.is_some() { 3 } else { 0 };
        let r = centered(area, width, rows.saturating_add(input_h + 3));
        Clear.render(r, buf);
        let b = frame(title, t);
        let inner = b.inner(r);
        b.render(r, buf);
        let [text_r, input_r, hint_r] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(input_h),
            Constraint::Length(1),
        ])
        .areas(inner);
        let hidden = rows.saturating_sub(text_r.height);
        let scroll = scroll.min(hidden);
        text.scroll((scroll, 0)).render(text_r, buf);
        if let Some(input) = input {
            let mut ta = input.clone();
            ta.set_block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.border_focus),
            );
            ta.render(input_r, buf);
        }
        let hint = if hidden > 0 {
            format!(
                "{hint}   rows {}-{} of {rows}",
                scroll + 1,
                scroll + text_r.height
            )
        } else {
            hint.to_string()
        };
        Paragraph::new(Line::styled(hint, t.muted)).render(hint_r, buf);
    }
}

pub struct Help<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Help<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let rows = self.app.keymap.help();
        let key_w = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(8);
        let footer =
            " Mouse: click a step or pane; the wheel scrolls. Keys: config.toml [keys.normal].";
        // One column when it fits, else two side by side (80×24 has room for 20 rows).
        let room = usize::from(area.height.saturating_sub(4));
        let cols = if rows.len() + 2 <= room { 1 } else { 2 };
        let per_col = rows.len().div_ceil(cols);
        let width = if cols == 1 {
            76
        } else {
            area.width.saturating_sub(2)
        };
        let col_w = usize::from(width.saturating_sub(2)) / cols;
        let cell = |i: usize| -> Vec<Span> {
            rows.get(i).map_or_else(Vec::new, |(k, d)| {
                let desc = crate::ui::fit(d, col_w.saturating_sub(key_w + 3));
                vec![
                    Span::styled(format!(" {k:<key_w$}  "), t.accent),
                    Span::styled(
                        format!("{desc:<w$}", w = col_w.saturating_sub(key_w + 3)),
                        t.text,
                    ),
                ]
            })
        };
        let mut lines: Vec<Line> = (0..per_col)
            .map(|r| {
                Line::from(
                    (0..cols)
                        .flat_map(|c| cell(c * per_col + r))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        if lines.len() + 2 <= room {
            lines.push(Line::raw(""));
            lines.push(Line::styled(footer, t.muted));
        }
        let h = u16::try_from(lines.len()).unwrap_or(20) + 2;
        let r = centered(area, width, h);
        Clear.render(r, buf);
        let b = frame("Keys (any key closes)", t);
        let inner = b.inner(r);
        b.render(r, buf);
        Paragraph::new(lines).render(inner, buf);
    }
}
