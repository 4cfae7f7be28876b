//! Keys to actions: a table, loaded from defaults and overridden by `[keys]` in the settings
//! file. The help overlay is generated from this table, so it can never disagree with it.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::Action;

/// The defaults, as a user would write them in config.toml.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("up", "up"),
    ("k", "up"),
    ("down", "down"),
    ("j", "down"),
    ("pageup", "page_up"),
    ("pagedown", "page_down"),
    ("g", "top"),
    ("G", "bottom"),
    ("tab", "next_pane"),
    ("backtab", "prev_pane"),
    ("enter", "run_next"),
    ("space", "toggle_check"),
    ("s", "sign_off"),
    ("w", "waive"),
    ("a", "note"),
    ("x", "cancel_command"),
    ("m", "monitor"),
    ("f", "follow"),
    ("/", "search"),
    ("n", "search_next"),
    ("N", "search_prev"),
    ("?", "help"),
    ("v", "detail"),
    ("o", "switch_operator"),
    ("esc", "escape"),
    ("q", "quit"),
    ("ctrl-c", "quit"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        // Shift is folded into the character (`G`), except for BackTab which carries it.
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn parse(spec: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "space" => KeyCode::Char(' '),
            "esc" => KeyCode::Esc,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            s if s.chars().count() == 1 => KeyCode::Char(s.chars().next().unwrap_or(' ')),
            s if s.starts_with('f') && s[1..].parse::<u8>().is_ok() => {
                KeyCode::F(s[1..].parse().unwrap_or(1))
            }
            other => return Err(format!("unknown key {other:?}")),
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("Ctrl-{base}"),
            (_, true) => format!("Alt-{base}"),
            _ => base,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    /// In the order bindings were made (defaults first), so hints and help are stable.
    map: Vec<(Key, Action)>,
}

fn parse_action(name: &str) -> Result<Action, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("unknown action {name:?}"))
}

impl Default for Keymap {
    fn default() -> Self {
        let mut km = Keymap { map: Vec::new() };
        for (k, a) in DEFAULTS {
            if let (Ok(k), Ok(a)) = (Key::parse(k), parse_action(a)) {
                km.bind(k, a);
            }
        }
        km
    }
}

impl Keymap {
    pub fn bind(&mut self, key: Key, action: Action) {
        match self.map.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = action,
            None => self.map.push((key, action)),
        }
    }

    /// Defaults with the user's `[keys.normal]` overrides; bad entries are reported, not fatal.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut errors = Vec::new();
        for (k, a) in overrides {
            match (Key::parse(k), parse_action(a)) {
                (Ok(k), Ok(a)) => km.bind(k, a),
                (Err(e), _) | (_, Err(e)) => errors.push(format!("keys.normal.{k}: {e}")),
            }
        }
        (km, errors)
    }

    /// The same keys without any that change the run: an observer's keymap, so nothing that
    /// runs, ticks, signs, waives or notes is bound (nor shown in help and hints).
    pub fn read_only(mut self) -> Keymap {
        self.map.retain(|(_, a)| !a.acts());
        self
    }

    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(e);
        self.map
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| a.clone())
    }

    /// `(keys, description)` per action, in a stable order, for the help overlay.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(&Action, Vec<String>)> = Vec::new();
        for (k, a) in &self.map {
            match rows.iter_mut().find(|(b, _)| *b == a) {
                Some((_, keys)) => keys.push(k.label()),
                None => rows.push((a, vec![k.label()])),
            }
        }
        // Order as the defaults list them, so the overlay reads top to bottom.
        let rank = |a: &Action| {
            DEFAULTS
                .iter()
                .position(|(_, n)| parse_action(n).ok().as_ref() == Some(a))
                .unwrap_or(usize::MAX)
        };
        rows.sort_by_key(|(a, _)| rank(a));
        rows.into_iter()
            .map(|(a, keys)| (keys.join(" "), a.describe()))
            .collect()
    }

    /// The first key bound to `action`, for hints in the status bar.
    pub fn key_for(&self, action: &Action) -> Option<String> {
        self.map
            .iter()
            .find(|(_, a)| a == action)
            .map(|(k, _)| k.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn default_keys_map_to_actions() {
        let km = Keymap::default();
        let cases = [
            (
                ev(KeyCode::Char('j'), KeyModifiers::NONE),
                Some(Action::Down),
            ),
            (ev(KeyCode::Up, KeyModifiers::NONE), Some(Action::Up)),
            (
                ev(KeyCode::Enter, KeyModifiers::NONE),
                Some(Action::RunNext),
            ),
            (
                ev(KeyCode::Char(' '), KeyModifiers::NONE),
                Some(Action::ToggleCheck),
            ),
            (
                ev(KeyCode::Char('G'), KeyModifiers::SHIFT),
                Some(Action::Bottom),
            ),
            (
                ev(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Some(Action::Quit),
            ),
            (ev(KeyCode::Char('c'), KeyModifiers::NONE), None),
            (
                ev(KeyCode::BackTab, KeyModifiers::SHIFT),
                Some(Action::PrevPane),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(km.action(&e), want, "{e:?}");
        }
    }

    #[test]
    fn overrides_replace_and_report_errors() {
        let mut o = BTreeMap::new();
        o.insert("ctrl-r".to_string(), "run_next".to_string());
        o.insert("z".to_string(), "fly".to_string());
        let (km, errors) = Keymap::with_overrides(&o);
        assert_eq!(
            km.action(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::RunNext)
        );
        assert_eq!(
            errors,
            vec!["keys.normal.z: unknown action \"fly\"".to_string()]
        );
    }

    #[test]
    fn help_lists_every_bound_action_once() {
        let help = Keymap::default().help();
        assert!(
            help.iter().any(|(k, d)| k == "↑ k" && d.contains("up")),
            "{help:?}"
        );
        assert_eq!(
            help.iter().filter(|(_, d)| d.starts_with("quit")).count(),
            1
        );
        assert!(
            help.iter().any(|(k, d)| k == "v" && d.contains("in full")),
            "{help:?}"
        );
    }
}
