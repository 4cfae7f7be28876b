//! `{{ name }}` placeholders in runbook strings. Anything else between braces (`{{.State}}` for
//! docker, blade templates) is left alone, so runbooks can carry such commands verbatim.
//!
//! In a command (`Template::shell`), a value is written so that the shell reads it literally,
//! as (part of) one word, whatever quotes it sits in; `{{raw name}}` pastes it as it is. A
//! secret never enters the command text: the command starts by reading it from stdin into a
//! shell variable, and the value travels through the channel (see [`Rendered::input`]).

use std::collections::BTreeMap;
use std::ops::Range;

use super::shell::{self, Context, Unsafe};
use crate::secret::SecretString;

/// A string with the byte ranges of its placeholders already found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    holes: Vec<Hole>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hole {
    /// Range of `{{ name }}` in the text.
    range: Range<usize>,
    name: String,
    /// Written `{{raw name}}`: pasted without quoting.
    raw: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A value used as it is (a host name, a path on this machine).
    Plain,
    /// Shell text: the quoting context of each hole, in order.
    Shell(Vec<Context>),
    /// A regular expression: values match literally.
    Regex,
}

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("variable `{0}` has no value (pass --var {0}=...)")]
    Missing(String),
    #[error("the value of `{name}` cannot be used in {place}: {why}")]
    Unsafe {
        name: String,
        place: String,
        why: Unsafe,
    },
    #[error("secret `{0}` contains a newline or NUL, which cannot be passed to the command")]
    SecretLine(String),
    #[error("the expectation with its values filled in is not a valid regular expression: {0}")]
    Regex(String),
}

/// Shell variable names that hold secrets read from stdin; unlikely to meet a runbook's own.
const SECRET_VAR: &str = "__rehearse_s";

impl Template {
    /// A template whose values are used as they are.
    pub fn parse(text: &str) -> Template {
        Template::with_kind(text, |_| Kind::Plain)
    }

    /// A command: values are quoted for the place each sits in.
    pub fn shell(text: &str) -> Template {
        Template::with_kind(text, |holes| {
            let at: Vec<usize> = holes.iter().map(|h| h.range.start).collect();
            Kind::Shell(shell::contexts(text, &at))
        })
    }

    /// A regular expression: values are escaped so they match literally.
    pub fn regex(text: &str) -> Template {
        Template::with_kind(text, |_| Kind::Regex)
    }

    fn with_kind(text: &str, kind: impl FnOnce(&[Hole]) -> Kind) -> Template {
        let mut holes = Vec::new();
        let mut from = 0;
        while let Some(open) = text[from..].find("{{").map(|i| i + from) {
            let Some(close) = text[open + 2..].find("}}").map(|i| i + open + 2) else {
                break;
            };
            let inner = text[open + 2..close].trim();
            let (raw, name) = match inner.split_once(char::is_whitespace) {
                Some(("raw", rest)) => (true, rest.trim()),
                _ => (false, inner),
            };
            if is_identifier(name) {
                holes.push(Hole {
                    range: open..close + 2,
                    name: name.to_string(),
                    raw,
                });
                from = close + 2;
            } else {
                from = open + 2;
            }
        }
        let kind = kind(&holes);
        Template {
            text: text.to_string(),
            holes,
            kind,
        }
    }

    pub fn raw(&self) -> &str {
        &self.text
    }

    /// Names referenced, with their byte offset in the raw text.
    pub fn names(&self) -> impl Iterator<Item = (usize, &str)> {
        self.holes.iter().map(|h| (h.range.start, h.name.as_str()))
    }

    /// `{{raw name}}` uses, with their byte offset: each deserves a reader's second look.
    pub fn raw_uses(&self) -> impl Iterator<Item = (usize, &str)> {
        self.holes
            .iter()
            .filter(|h| h.raw)
            .map(|h| (h.range.start, h.name.as_str()))
    }

    /// Placeholders of a command that sit outside any quotes, with their offsets: in format 1
    /// these were split into words and expanded by the shell; now each is one literal word.
    pub fn bare_uses(&self) -> Vec<(usize, &str)> {
        match &self.kind {
            Kind::Shell(ctx) => self
                .holes
                .iter()
                .zip(ctx)
                .filter(|(h, c)| !h.raw && **c == Context::Bare)
                .map(|(h, _)| (h.range.start, h.name.as_str()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Placeholders that can never be filled safely where they are (inside backticks, `${}`,
    /// a comment; a secret in a quoted here-document), with their offsets and why.
    pub fn misplaced(&self, is_secret: impl Fn(&str) -> bool) -> Vec<(usize, String)> {
        let Kind::Shell(ctx) = &self.kind else {
            return Vec::new();
        };
        self.holes
            .iter()
            .zip(ctx)
            .filter(|(h, _)| !h.raw)
            .filter_map(|(h, c)| {
                let name = &h.name;
                if is_secret(name) {
                    if let Context::HereDoc {
                        delimiter,
                        quoted: true,
                    } = c
                    {
                        return Some((
                            h.range.start,
                            format!(
                                "secret `{name}` in a here-document with a quoted delimiter: a \
                                 secret arrives in a shell variable, which such a body does not \
                                 expand; write the delimiter unquoted (<<{delimiter}) and escape \
                                 any `$`, `` ` `` or `\\` of the body's own"
                            ),
                        ));
                    }
                    shell::reference("x", c).err()
                } else {
                    shell::quote("", c).err()
                }
                .map(|why| (h.range.start, format!("`{name}` in {c}: {why}")))
            })
            .collect()
    }

    /// Fill the placeholders. Unknown names were rejected when the runbook was loaded, so a
    /// missing value here means a variable without a value; it is reported, not guessed.
    pub fn render(&self, vars: &Vars) -> Result<Rendered, RenderError> {
        let mut out = String::with_capacity(self.text.len());
        let mut shown = String::with_capacity(self.text.len());
        // Secrets read from stdin, in order of first use: (name, value).
        let mut secrets: Vec<(&str, &str)> = Vec::new();
        let mut at = 0;
        for (i, hole) in self.holes.iter().enumerate() {
            out.push_str(&self.text[at..hole.range.start]);
            shown.push_str(&self.text[at..hole.range.start]);
            at = hole.range.end;
            let name = hole.name.as_str();
            let value = vars
                .get(name)
                .ok_or_else(|| RenderError::Missing(name.to_string()))?;
            let unsafe_here = |ctx: &Context, why| RenderError::Unsafe {
                name: name.to_string(),
                place: ctx.to_string(),
                why,
            };
            let written = match &self.kind {
                Kind::Shell(ctx) if !hole.raw && value.secret => {
                    if value.expose().contains(['\n', '\0']) {
                        return Err(RenderError::SecretLine(name.to_string()));
                    }
                    let n = match secrets.iter().position(|(s, _)| *s == name) {
                        Some(n) => n,
                        None => {
                            secrets.push((name, value.expose()));
                            secrets.len() - 1
                        }
                    };
                    shell::reference(&format!("{SECRET_VAR}{}", n + 1), &ctx[i])
                        .map_err(|why| unsafe_here(&ctx[i], why))?
                }
                Kind::Shell(ctx) if !hole.raw => shell::quote(value.expose(), &ctx[i])
                    .map_err(|why| unsafe_here(&ctx[i], why))?,
                Kind::Regex if !hole.raw => regex::escape(value.expose()),
                _ => value.expose().to_string(),
            };
            out.push_str(&written);
            if value.secret {
                shown.push_str(&format!("[secret:{name}]"));
            } else {
                shown.push_str(&written);
            }
        }
        out.push_str(&self.text[at..]);
        shown.push_str(&self.text[at..]);
        let input = (!secrets.is_empty()).then(|| {
            // On the command's first line, so the runbook's line numbers stay as written.
            let reads: String = (1..=secrets.len())
                .map(|n| format!("IFS= read -r {SECRET_VAR}{n}; "))
                .collect();
            out.insert_str(0, &reads);
            let lines: String = secrets.iter().map(|(_, v)| format!("{v}\n")).collect();
            SecretString::new(lines)
        });
        Ok(Rendered {
            value: SecretString::new(out),
            display: shown,
            input,
        })
    }
}

/// A rendered template: the value to use, and the text safe to show and record.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub value: SecretString,
    pub display: String,
    /// What the command must be given on stdin before EOF: its secrets, one per line.
    pub input: Option<SecretString>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[derive(Debug, Clone)]
pub struct VarValue {
    value: SecretString,
    pub secret: bool,
}

impl VarValue {
    pub fn expose(&self) -> &str {
        self.value.expose()
    }
}

/// Variable values for one run.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, VarValue>,
}

impl Vars {
    pub fn set(&mut self, name: &str, value: impl Into<String>, secret: bool) {
        self.values.insert(
            name.to_string(),
            VarValue {
                value: SecretString::new(value.into()),
                secret,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&VarValue> {
        self.values.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Values of the variables marked secret, for redaction.
    pub fn secret_values(&self) -> Vec<(String, SecretString)> {
        self.values
            .iter()
            .filter(|(_, v)| v.secret)
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }

    /// Non-secret values, for the journal and reports.
    pub fn public_values(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .filter(|(_, v)| !v.secret)
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_placeholders_and_leaves_others() {
        let t = Template::shell("cd {{ deploy_path }} && docker ps --format '{{.Names}}' {{x}}");
        let mut v = Vars::default();
        v.set("deploy_path", "/srv/app", false);
        v.set("x", "hunter2", true);
        let r = t.render(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.value.expose(),
            "IFS= read -r __rehearse_s1; cd /srv/app && docker ps --format '{{.Names}}' \"${__rehearse_s1}\""
        );
        assert_eq!(
            r.input.as_ref().map(SecretString::expose),
            Some("hunter2\n")
        );
        assert_eq!(
            r.display,
            "cd /srv/app && docker ps --format '{{.Names}}' [secret:x]"
        );
        assert_eq!(
            t.names().map(|(_, n)| n).collect::<Vec<_>>(),
            ["deploy_path", "x"]
        );
    }

    #[test]
    fn missing_value_is_an_error() {
        let t = Template::parse("echo {{host}}");
        let err = t.render(&Vars::default()).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("--var host="));
    }
}
