//! The validation context: what the runbook declares, the file spans point into (the runbook
//! or one it includes), and every problem collected with its `line:column`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use regex::Regex;

use super::raw::S;
use super::{Diagnostic, Source, Template, line_col};

pub(super) struct Ctx<'a> {
    pub(super) source: &'a Source,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) warnings: Vec<Diagnostic>,
    /// Names a template may use: variables and captured values.
    pub(super) vars: BTreeSet<String>,
    /// Declared variables only.
    pub(super) declared: BTreeSet<String>,
    /// Choice steps and their option ids.
    pub(super) choices: BTreeMap<String, Vec<String>>,
    /// Captured names and the step that captures each.
    pub(super) captures: BTreeMap<String, String>,
    pub(super) secrets: BTreeSet<String>,
    /// Variables with a `pattern` or `choices`: what they can hold is limited.
    pub(super) guarded: BTreeSet<String>,
    pub(super) targets: BTreeSet<String>,
    pub(super) format: u32,
    /// Included files, and for each step the file it came from (`None`: the runbook itself).
    pub(super) files: Vec<Source>,
    pub(super) origins: Vec<Option<usize>>,
    /// The file spans point into now.
    pub(super) current: Option<usize>,
}

impl Ctx<'_> {
    /// Spans from here on point into the file step `index` came from.
    pub(super) fn in_step(&mut self, index: usize) {
        self.current = self.origins.get(index).copied().flatten();
    }

    pub(super) fn current_file(&self) -> Option<usize> {
        self.current
    }

    pub(super) fn set_file(&mut self, file: Option<usize>) {
        self.current = file;
    }

    /// Spans from here on point into the runbook itself.
    pub(super) fn in_runbook(&mut self) {
        self.current = None;
    }

    fn file(&self) -> &Source {
        self.current
            .and_then(|i| self.files.get(i))
            .unwrap_or(self.source)
    }

    fn diagnostic(&self, at: usize, message: String) -> Diagnostic {
        let (line, column) = line_col(&self.file().text, at);
        Diagnostic {
            path: self.file().path.clone(),
            line,
            column,
            message,
        }
    }

    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.diagnostic(span.start, message.into());
        self.diags.push(d);
    }

    pub(super) fn warn(&mut self, at: usize, message: impl Into<String>) {
        let d = self.diagnostic(at, format!("warning: {}", message.into()));
        self.warnings.push(d);
    }

    /// The source offset of byte `at` inside the string value `s`. Exact for plain strings;
    /// escapes shift it a little.
    pub(super) fn offset_in(&self, s: &S<String>, at: usize) -> usize {
        let start = s.span().start;
        let rest = &self.file().text[start..];
        let quote = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else {
            1
        };
        // A multi-line string's first newline, right after the quotes, is not part of it.
        let newline = usize::from(quote == 3 && rest[3..].starts_with('\n'));
        start + quote + newline + at
    }

    /// A template whose placeholders all name declared variables.
    pub(super) fn template(&mut self, s: &S<String>) -> Template {
        self.checked(s, Template::parse(s.get_ref()))
    }

    pub(super) fn checked(&mut self, s: &S<String>, t: Template) -> Template {
        let unknown: Vec<(usize, String)> = t
            .names()
            .filter(|(_, n)| !self.vars.contains(*n))
            .map(|(at, n)| (at, n.to_string()))
            .collect();
        for (at, name) in unknown {
            let known: Vec<_> = self.vars.iter().cloned().collect();
            let at = self.offset_in(s, at);
            self.error(
                at..at,
                format!(
                    "unknown variable `{name}` (declared: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        t
    }

    pub(super) fn duration(&mut self, s: &S<String>) -> Option<Duration> {
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(s.span(), "expected a duration above zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    s.span(),
                    format!("expected a duration like \"30s\", \"5m\" or \"24h\": {e}"),
                );
                None
            }
        }
    }

    /// Expectations match line by line: `^` and `$` anchor at each line, so `^0$` matches
    /// output `0\n`, as a reader of the runbook would expect.
    pub(super) fn regex(&mut self, s: &S<String>) -> Option<Regex> {
        match regex::RegexBuilder::new(s.get_ref())
            .multi_line(true)
            .build()
        {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = e
                    .to_string()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                self.error(s.span(), format!("invalid regular expression: {msg}"));
                None
            }
        }
    }

    pub(super) fn identifier(&mut self, s: &S<String>, what: &str) {
        let ok = !s.get_ref().is_empty()
            && s.get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            self.error(
                s.span(),
                format!(
                    "{what} must be letters, digits, `-` or `_`, got {:?}",
                    s.get_ref()
                ),
            );
        }
    }
}
