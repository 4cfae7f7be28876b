//! Modal dialogs: each owns its input state and turns keys into a result. Drawing lives in
//! `ui::dialog`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::exec::{HostKeyQuestion, TrustDecision};

pub enum Dialog {
    /// Before a `confirm = true` command: the exact resolved command, wrapped in full, its
    /// target and the host key it will be checked against. Only `y` runs it (never Enter, the
    /// key that opened it); a destructive one runs only once the step's id is typed.
    Confirm {
        step: String,
        index: usize,
        command: String,
        run: String,
        target: String,
        host_key: String,
        destructive: bool,
        typed: TextArea<'static>,
        /// First wrapped row shown, for commands longer than the dialog.
        scroll: u16,
        error: Option<String>,
    },
    SignOff {
        step: String,
        note: TextArea<'static>,
        /// The key that will sign (`ALGO SHA256:…`), or `None`: the sign-off will be unsigned,
        /// and the dialog says so before anything is written.
        signer: Option<String>,
    },
    /// Run a command that already passed again: which one, and why (recorded).
    Rerun {
        step: String,
        commands: Vec<String>,
        selected: usize,
        reason: TextArea<'static>,
        error: Option<String>,
    },
    Waive {
        step: String,
        item: Option<String>,
        reason: TextArea<'static>,
        error: Option<String>,
    },
    Note {
        step: String,
        text: TextArea<'static>,
    },
    HostKey {
        id: u64,
        q: HostKeyQuestion,
        choice: usize,
    },
    Secret {
        id: u64,
        prompt: String,
        input: TextArea<'static>,
    },
    /// A passing expectation proves a checklist item: tick it?
    ProposeTick {
        step: String,
        item: String,
        text: String,
        by: String,
    },
    Quit,
    /// Something the operator must acknowledge (a journal write failed): only `a` closes it,
    /// so a key meant for the screen behind cannot dismiss it by accident.
    Alert {
        title: String,
        text: String,
    },
    Search {
        input: TextArea<'static>,
    },
    /// A variable without a value, asked before the run opens; masked when secret.
    Var {
        name: String,
        description: String,
        secret: bool,
        input: TextArea<'static>,
        error: Option<String>,
    },
    /// A `choice` step: which path the team took, and why.
    Choice {
        step: String,
        options: Vec<(String, String, String)>,
        selected: usize,
        reason: TextArea<'static>,
        error: Option<String>,
    },
}

/// What a key did to a dialog.
pub enum DialogResult {
    /// Still open.
    Open,
    Cancelled,
    Confirmed,
    /// Text dialogs: the text entered.
    Text(String),
    HostKey(TrustDecision),
    /// A choice dialog: (option id, reason).
    Chosen(String, String),
}

pub const HOST_KEY_CHOICES: [(&str, TrustDecision); 3] = [
    ("Refuse", TrustDecision::Refuse),
    ("Accept once", TrustDecision::AcceptOnce),
    (
        "Accept and save to known_hosts",
        TrustDecision::AcceptAndSave,
    ),
];

pub fn text_area(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

pub fn masked(placeholder: &str) -> TextArea<'static> {
    let mut t = text_area(placeholder);
    t.set_mask_char('•');
    t
}

fn text_of(t: &TextArea<'_>) -> String {
    t.lines().join("\n").trim().to_string()
}

/// Enter submits; Alt-Enter or Ctrl-J starts a new line; Esc cancels.
fn edit(t: &mut TextArea<'static>, key: KeyEvent, multiline: bool) -> DialogResult {
    match key.code {
        KeyCode::Esc => DialogResult::Cancelled,
        KeyCode::Enter if multiline && key.modifiers.contains(KeyModifiers::ALT) => {
            t.insert_newline();
            DialogResult::Open
        }
        KeyCode::Char('j') if multiline && key.modifiers.contains(KeyModifiers::CONTROL) => {
            t.insert_newline();
            DialogResult::Open
        }
        KeyCode::Enter => DialogResult::Text(text_of(t)),
        _ => {
            t.input(key);
            DialogResult::Open
        }
    }
}

/// Only `y` says yes: Enter (which opens these dialogs, and which a person presses twice by
/// habit) never does.
fn yes_no(key: KeyEvent) -> DialogResult {
    match key.code {
        KeyCode::Char('y' | 'Y') => DialogResult::Confirmed,
        KeyCode::Char('n' | 'N') | KeyCode::Esc => DialogResult::Cancelled,
        _ => DialogResult::Open,
    }
}

/// Scroll a long command: ↑/↓ by a row, PgUp/PgDn by ten.
fn scroll_key(scroll: &mut u16, key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Up => *scroll = scroll.saturating_sub(1),
        KeyCode::Down => *scroll = scroll.saturating_add(1),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::PageDown => *scroll = scroll.saturating_add(10),
        _ => return false,
    }
    true
}

impl Dialog {
    pub fn key(&mut self, key: KeyEvent) -> DialogResult {
        match self {
            Dialog::Confirm {
                destructive: false,
                scroll,
                ..
            } => {
                if scroll_key(scroll, key) {
                    DialogResult::Open
                } else {
                    yes_no(key)
                }
            }
            Dialog::Confirm {
                destructive: true,
                step,
                typed,
                scroll,
                error,
                ..
            } => {
                if scroll_key(scroll, key) {
                    return DialogResult::Open;
                }
                match edit(typed, key, false) {
                    DialogResult::Text(t) if t.trim() == step.as_str() => DialogResult::Confirmed,
                    DialogResult::Text(_) => {
                        *error = Some(format!("type `{step}` exactly to run it"));
                        DialogResult::Open
                    }
                    other => other,
                }
            }
            Dialog::Quit | Dialog::ProposeTick { .. } => yes_no(key),
            Dialog::Alert { .. } => match key.code {
                KeyCode::Char('a' | 'A') => DialogResult::Confirmed,
                _ => DialogResult::Open,
            },
            Dialog::SignOff { note: t, .. } | Dialog::Note { text: t, .. } => edit(t, key, true),
            Dialog::Rerun {
                commands,
                selected,
                reason,
                error,
                ..
            } => match key.code {
                KeyCode::Up => {
                    *selected = selected.saturating_sub(1);
                    DialogResult::Open
                }
                KeyCode::Down => {
                    *selected = (*selected + 1).min(commands.len().saturating_sub(1));
                    DialogResult::Open
                }
                _ => match edit(reason, key, false) {
                    DialogResult::Text(r) if r.trim().is_empty() => {
                        *error = Some("running a passed command again needs a reason".into());
                        DialogResult::Open
                    }
                    other => other,
                },
            },
            Dialog::Waive { reason, error, .. } => match edit(reason, key, true) {
                DialogResult::Text(r) if r.is_empty() => {
                    *error = Some("a waiver needs a reason".into());
                    DialogResult::Open
                }
                other => other,
            },
            Dialog::Secret { input, .. } => {
                // A secret is one line; Enter submits, even when empty.
                match key.code {
                    KeyCode::Esc => DialogResult::Cancelled,
                    KeyCode::Enter => DialogResult::Text(input.lines().join("")),
                    _ => {
                        input.input(key);
                        DialogResult::Open
                    }
                }
            }
            Dialog::Search { input } => edit(input, key, false),
            Dialog::Var { input, error, .. } => match key.code {
                KeyCode::Esc => DialogResult::Cancelled,
                KeyCode::Enter if input.lines().join("").is_empty() => {
                    *error = Some("a value is needed (Esc quits)".into());
                    DialogResult::Open
                }
                KeyCode::Enter => DialogResult::Text(input.lines().join("")),
                _ => {
                    input.input(key);
                    DialogResult::Open
                }
            },
            Dialog::Choice {
                options,
                selected,
                reason,
                error,
                ..
            } => match key.code {
                KeyCode::Up | KeyCode::BackTab => {
                    *selected = selected.saturating_sub(1);
                    DialogResult::Open
                }
                KeyCode::Down | KeyCode::Tab => {
                    *selected = (*selected + 1).min(options.len().saturating_sub(1));
                    DialogResult::Open
                }
                _ => match edit(reason, key, false) {
                    DialogResult::Text(r) if r.is_empty() => {
                        *error = Some("say why this path".into());
                        DialogResult::Open
                    }
                    DialogResult::Text(r) => DialogResult::Chosen(
                        options
                            .get(*selected)
                            .map(|o| o.0.clone())
                            .unwrap_or_default(),
                        r,
                    ),
                    other => other,
                },
            },
            Dialog::HostKey { choice, .. } => match key.code {
                KeyCode::Esc => DialogResult::HostKey(TrustDecision::Refuse),
                KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                    *choice = choice.saturating_sub(1);
                    DialogResult::Open
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                    *choice = (*choice + 1).min(HOST_KEY_CHOICES.len() - 1);
                    DialogResult::Open
                }
                KeyCode::Char('r') => DialogResult::HostKey(TrustDecision::Refuse),
                KeyCode::Char('o') => DialogResult::HostKey(TrustDecision::AcceptOnce),
                KeyCode::Char('a') => DialogResult::HostKey(TrustDecision::AcceptAndSave),
                KeyCode::Enter => DialogResult::HostKey(HOST_KEY_CHOICES[*choice].1),
                _ => DialogResult::Open,
            },
        }
    }
}
