//! Styles by meaning (ok, failed, running, muted, accent...), loaded from `themes/*.toml`.
//! Bundled themes are embedded; a theme file may set only some roles, the rest fall back to the
//! dark default. `NO_COLOR` keeps the modifiers (bold, reverse) and drops every colour.

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
    #[serde(default)]
    styles: RoleDefs,
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
    fn no_color_drops_colours_keeps_modifiers() {
        let t = Theme::parse(BUNDLED[0].1, "dark", true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.failed.fg, None);
        assert!(
            t.selected.add_modifier.contains(Modifier::REVERSED)
                || t.selected.add_modifier.contains(Modifier::BOLD)
        );
    }

    #[test]
    fn unknown_role_is_an_error() {
        assert!(Theme::parse("[styles]\nshiny = { fg = \"red\" }", "x", false).is_err());
    }
}
