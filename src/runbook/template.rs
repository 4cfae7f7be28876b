//! `{{ name }}` placeholders in runbook strings. Anything else between braces (`{{.State}}` for
//! docker, blade templates) is left alone, so runbooks can carry such commands verbatim.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::secret::SecretString;

/// A string with the byte ranges of its placeholders already found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    /// (range of `{{ name }}` in `text`, name)
    holes: Vec<(Range<usize>, String)>,
}

impl Template {
    pub fn parse(text: &str) -> Template {
        let mut holes = Vec::new();
        let mut from = 0;
        while let Some(open) = text[from..].find("{{").map(|i| i + from) {
            let Some(close) = text[open + 2..].find("}}").map(|i| i + open + 2) else {
                break;
            };
            let inner = text[open + 2..close].trim();
            if is_identifier(inner) {
                holes.push((open..close + 2, inner.to_string()));
                from = close + 2;
            } else {
                from = open + 2;
            }
        }
        Template {
            text: text.to_string(),
            holes,
        }
    }

    pub fn raw(&self) -> &str {
        &self.text
    }

    /// Names referenced, with their byte offset in the raw text.
    pub fn names(&self) -> impl Iterator<Item = (usize, &str)> {
        self.holes.iter().map(|(r, n)| (r.start, n.as_str()))
    }

    /// Fill the placeholders. Unknown names were rejected when the runbook was loaded, so a
    /// missing value here means a variable without a value; it is reported, not guessed.
    pub fn render(&self, vars: &Vars) -> Result<Rendered, String> {
        let mut out = String::with_capacity(self.text.len());
        let mut shown = String::with_capacity(self.text.len());
        let mut at = 0;
        for (range, name) in &self.holes {
            out.push_str(&self.text[at..range.start]);
            shown.push_str(&self.text[at..range.start]);
            let value = vars
                .get(name)
                .ok_or_else(|| format!("variable `{name}` has no value (pass --var {name}=...)"))?;
            out.push_str(value.expose());
            if value.secret {
                shown.push_str(&format!("[secret:{name}]"));
            } else {
                shown.push_str(value.expose());
            }
            at = range.end;
        }
        out.push_str(&self.text[at..]);
        shown.push_str(&self.text[at..]);
        Ok(Rendered {
            value: SecretString::new(out),
            display: shown,
        })
    }
}

/// A rendered template: the value to use, and the text safe to show and record.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub value: SecretString,
    pub display: String,
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
        let t = Template::parse("cd {{ deploy_path }} && docker ps --format '{{.Names}}' {{x}}");
        let mut v = Vars::default();
        v.set("deploy_path", "/srv/app", false);
        v.set("x", "hunter2", true);
        let r = t.render(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.value.expose(),
            "cd /srv/app && docker ps --format '{{.Names}}' hunter2"
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
        let err = t.render(&Vars::default()).err().unwrap_or_default();
        assert!(err.contains("--var host="), "{err}");
    }
}
