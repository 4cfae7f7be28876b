//! Styles by meaning (ok, failed, running, muted, accent...), loaded from `themes/*.toml`.
//! Bundled themes are embedded; a theme file may set only some roles, the rest fall back to the
//! dark default. `NO_COLOR` keeps the modifiers (bold, reverse) and drops every colour.
//!
//! Body text (`text`, `title`, `status`, `dialog`) keeps the terminal's own colours, so it
//! reads on dark and light terminals alike; the bundled themes colour meaning only, and a
//! test holds their contrast against a dark and a light background.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const BUNDLED: &[(&str, &str)] = &[
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleDef {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reverse: bool,
    #[serde(default)]
    dim: bool,
}

macro_rules! roles {
    ($($role:ident),* $(,)?) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RoleDefs { $($role: Option<StyleDef>,)* }

        /// Every style the UI uses, by meaning.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $role: Style,)*
        }

        impl Theme {
            fn from_defs(name: String, defs: &RoleDefs, base: Option<&Theme>, no_color: bool) -> Result<Theme, String> {
                Ok(Theme {
                    name,
                    $($role: match (&defs.$role, base) {
                        (Some(d), _) => to_style(d, no_color).map_err(|e| format!("{}: {e}", stringify!($role)))?,
                        (None, Some(b)) => b.$role,
                        (None, None) => Style::default(),
                    },)*
                })
            }
        }
    };
}

roles!(
    text,
    muted,
    accent,
    title,
    ok,
    failed,
    running,
    waived,
    signed,
    pending,
    stderr,
    border,
    border_focus,
    selected,
    status,
    status_key,
    dialog,
    dialog_border,
    gauge,
    search_match,
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    /// The background the theme is tuned for; documents intent, and the contrast test reads it.
    #[serde(default)]
    #[allow(dead_code)] // read by the contrast test
    background: Option<Background>,
    #[serde(default)]
    styles: RoleDefs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Background {
    Dark,
    Light,
}

fn color(s: &str) -> Result<Color, String> {
    Color::from_str(s).map_err(|_| format!("unknown colour {s:?}"))
}

fn to_style(d: &StyleDef, no_color: bool) -> Result<Style, String> {
    let mut s = Style::default();
    if !no_color {
        if let Some(fg) = &d.fg {
            s = s.fg(color(fg)?);
        }
        if let Some(bg) = &d.bg {
            s = s.bg(color(bg)?);
        }
    }
    for (on, m) in [
        (d.bold, Modifier::BOLD),
        (d.italic, Modifier::ITALIC),
        (d.underline, Modifier::UNDERLINED),
        (d.reverse, Modifier::REVERSED),
        (d.dim, Modifier::DIM),
    ] {
        if on {
            s = s.add_modifier(m);
        }
    }
    Ok(s)
}

pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Theme {
    pub fn parse(text: &str, fallback_name: &str, no_color: bool) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let base = if fallback_name == "dark" {
            None
        } else {
            Some(Theme::dark(no_color))
        };
        Theme::from_defs(
            f.name.unwrap_or_else(|| fallback_name.to_string()),
            &f.styles,
            base.as_ref(),
            no_color,
        )
    }

    pub fn dark(no_color: bool) -> Theme {
        // The bundled dark theme is the fallback for every other theme: it must parse.
        let text = BUNDLED[0].1;
        toml::from_str::<ThemeFile>(text)
            .ok()
            .and_then(|f| Theme::from_defs("dark".into(), &f.styles, None, no_color).ok())
            .unwrap_or_else(|| {
                Theme::from_defs("dark".into(), &RoleDefs::default(), None, no_color)
                    .unwrap_or_else(|_| unreachable!())
            })
    }

    /// A bundled theme by name, or a file `themes/NAME.toml` / a path.
    pub fn load(name: &str) -> Result<Theme, String> {
        let nc = no_color();
        if let Some((n, text)) = BUNDLED.iter().find(|(n, _)| *n == name) {
            return Theme::parse(text, n, nc);
        }
        let path = if name.ends_with(".toml") {
            std::path::PathBuf::from(name)
        } else {
            std::path::Path::new("themes").join(format!("{name}.toml"))
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let known: Vec<_> = BUNDLED.iter().map(|(n, _)| *n).collect();
            format!(
                "theme {name:?}: {}: {e} (bundled: {})",
                path.display(),
                known.join(", ")
            )
        })?;
        Theme::parse(&text, name, nc).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_theme_parses_and_sets_every_role() {
        for (name, text) in BUNDLED {
            let t = Theme::parse(text, name, false).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(t.ok, t.failed, "{name}: ok and failed must look different");
        }
    }

    #[test]
    fn no_color_drops_colours_keeps_meaning_in_modifiers() {
        for (name, text) in BUNDLED {
            let t = Theme::parse(text, name, true).unwrap_or_else(|e| panic!("{e}"));
            for (role, st) in roles(&t) {
                assert!(
                    st.fg.is_none() && st.bg.is_none(),
                    "{name}.{role} has a colour under NO_COLOR"
                );
            }
            // Without colour the selection and a failure must still stand out.
            assert!(
                t.selected.add_modifier.contains(Modifier::REVERSED),
                "{name}"
            );
            assert!(t.failed.add_modifier.contains(Modifier::BOLD), "{name}");
        }
    }

    #[test]
    fn unknown_role_is_an_error() {
        assert!(Theme::parse("[styles]\nshiny = { fg = \"red\" }", "x", false).is_err());
    }

    fn roles(t: &Theme) -> Vec<(&'static str, Style)> {
        vec![
            ("text", t.text),
            ("muted", t.muted),
            ("accent", t.accent),
            ("title", t.title),
            ("ok", t.ok),
            ("failed", t.failed),
            ("running", t.running),
            ("waived", t.waived),
            ("signed", t.signed),
            ("pending", t.pending),
            ("stderr", t.stderr),
            ("border", t.border),
            ("border_focus", t.border_focus),
            ("selected", t.selected),
            ("status", t.status),
            ("status_key", t.status_key),
            ("dialog", t.dialog),
            ("dialog_border", t.dialog_border),
            ("gauge", t.gauge),
            ("search_match", t.search_match),
        ]
    }

    /// Roles drawn as words: WCAG's 4.5:1 for text. The rest are borders and bars: 3:1.
    const TEXT_ROLES: &[&str] = &[
        "muted",
        "accent",
        "ok",
        "failed",
        "running",
        "waived",
        "signed",
        "pending",
        "stderr",
        "status_key",
    ];
    /// Body text: the terminal's own colours, whatever its background.
    const BODY_ROLES: &[&str] = &["text", "title", "status", "dialog", "selected"];
    const DARK_BG: (u8, u8, u8) = (0x1e, 0x1e, 0x1e);
    const LIGHT_BG: (u8, u8, u8) = (0xff, 0xff, 0xff);

    /// The RGB a colour shows as, when that is known: indices 16-255 are fixed by the xterm
    /// 256-colour scheme; 0-15 and the named colours follow the user's palette, so they are
    /// not known (and not allowed in bundled themes).
    fn rgb(c: Color) -> Option<(u8, u8, u8)> {
        const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
        match c {
            Color::Rgb(r, g, b) => Some((r, g, b)),
            Color::Indexed(i @ 16..=231) => {
                let n = usize::from(i - 16);
                Some((LEVELS[n / 36], LEVELS[(n / 6) % 6], LEVELS[n % 6]))
            }
            Color::Indexed(i @ 232..=255) => {
                let v = 8 + 10 * (i - 232);
                Some((v, v, v))
            }
            _ => None,
        }
    }

    /// WCAG 2 relative luminance and contrast ratio.
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    }

    fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
        // #767676 on white is the well-known 4.54:1 grey.
        assert!((contrast((0x76, 0x76, 0x76), LIGHT_BG) - 4.54).abs() < 0.01);
    }

    #[test]
    fn bundled_themes_leave_body_text_to_the_terminal() {
        for (name, text) in BUNDLED {
            let t = Theme::parse(text, name, false).unwrap_or_else(|e| panic!("{e}"));
            for (role, st) in roles(&t) {
                if BODY_ROLES.contains(&role) {
                    assert_eq!(
                        (st.fg, st.bg),
                        (None, None),
                        "{name}.{role} must not set colours"
                    );
                }
            }
        }
    }

    #[test]
    fn bundled_theme_colours_read_on_dark_and_light_backgrounds() {
        let mut report = Vec::new();
        for (name, text) in BUNDLED {
            let file: ThemeFile = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
            let own = match file.background {
                Some(Background::Dark) => DARK_BG,
                Some(Background::Light) => LIGHT_BG,
                None => panic!("{name}: bundled themes say which background they are for"),
            };
            let other = if own == DARK_BG { LIGHT_BG } else { DARK_BG };
            // High contrast means WCAG AAA on its own background; the others must also stay
            // readable (3:1, the non-text minimum) if the terminal turns out to be the other kind.
            let high = *name == "high-contrast";
            let t = Theme::parse(text, name, false).unwrap_or_else(|e| panic!("{e}"));
            for (role, st) in roles(&t) {
                let Some(fg) = st.fg else { continue };
                let fg = rgb(fg)
                    .unwrap_or_else(|| panic!("{name}.{role}: {fg:?} depends on the palette"));
                if let Some(bg) = st.bg {
                    // A role with its own background carries its own contrast.
                    let bg = rgb(bg).unwrap_or_else(|| panic!("{name}.{role}: {bg:?}"));
                    let c = contrast(fg, bg);
                    assert!(c >= 4.5, "{name}.{role}: {c:.2}:1 on its own background");
                    continue;
                }
                let need = match (TEXT_ROLES.contains(&role), high) {
                    (true, true) => 7.0,
                    (false, true) => 4.5,
                    (true, false) => 4.5,
                    (false, false) => 3.0,
                };
                let on_own = contrast(fg, own);
                let on_other = contrast(fg, other);
                report.push(format!("{name}.{role}: {on_own:.2} / {on_other:.2}"));
                assert!(
                    on_own >= need,
                    "{name}.{role}: {on_own:.2}:1, need {need}:1"
                );
                if !high {
                    assert!(
                        on_other >= 3.0,
                        "{name}.{role}: {on_other:.2}:1 on the other background"
                    );
                }
            }
        }
        assert!(report.len() > 30, "{report:?}");
    }
}
