//! The execution model on top of steps and commands: conditions (`when`), values captured from
//! output, retries, `until` polling and per-command `env`/`cwd`/`stdin` (order between steps is
//! in `order.rs`). Checked when the runbook loads, so a run never meets a dangling name.

use std::time::Duration;

use regex::Regex;

use super::cond::{Cond, RefKind};
use super::raw::{RawCommand, RawRunbook, S};
use super::shell::{self, Context};
use super::validate::Ctx;
use super::{Command, RenderError, Rendered, Template, Vars};
use crate::secret::SecretString;

/// A captured value is at most this long: it is a release name or an id, not a payload.
pub const CAPTURE_MAX: usize = 1024;

#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub from: CaptureFrom,
}

#[derive(Debug, Clone)]
pub enum CaptureFrom {
    /// The first group of the first match (or the whole match when it has no group).
    Regex(Regex),
    /// A dotted path into stdout read as JSON: `items.0.id`.
    Json(Vec<String>),
}

/// Where a captured name comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureDef {
    pub name: String,
    pub step: String,
    pub command: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    /// Extra attempts after a failure.
    pub retries: u32,
    pub delay: Duration,
}

#[derive(Debug, Clone)]
pub struct Until {
    pub stdout: Regex,
    pub every: Duration,
    pub within: Duration,
}

impl Capture {
    /// The value in `stdout`, or why there is none. Output is hostile: the value must be
    /// short and printable, because it goes into later commands (quoted) and the journal.
    pub fn extract(&self, stdout: &str) -> Result<String, String> {
        let value = match &self.from {
            CaptureFrom::Regex(re) => {
                let caps = re
                    .captures(stdout)
                    .ok_or_else(|| format!("capture `{}`: /{}/ matched nothing", self.name, re))?;
                caps.get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default()
            }
            CaptureFrom::Json(path) => {
                let v: serde_json::Value = serde_json::from_str(stdout)
                    .map_err(|e| format!("capture `{}`: stdout is not JSON: {e}", self.name))?;
                let mut at = &v;
                for key in path {
                    at = match at {
                        serde_json::Value::Array(a) => {
                            key.parse::<usize>().ok().and_then(|i| a.get(i))
                        }
                        serde_json::Value::Object(o) => o.get(key),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        format!(
                            "capture `{}`: no `{}` in the JSON",
                            self.name,
                            path.join(".")
                        )
                    })?;
                }
                match at {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => at.to_string(),
                    _ => {
                        return Err(format!(
                            "capture `{}`: `{}` is not a string, number or boolean",
                            self.name,
                            path.join(".")
                        ));
                    }
                }
            }
        };
        if value.len() > CAPTURE_MAX {
            return Err(format!(
                "capture `{}`: the value is {} bytes (at most {CAPTURE_MAX})",
                self.name,
                value.len()
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!(
                "capture `{}`: the value holds a control character (newline, escape, NUL...)",
                self.name
            ));
        }
        Ok(value)
    }
}

/// The command with its `cwd` and `env` in front and its `stdin` after its secrets.
pub(super) fn with_options(
    c: &Command,
    mut r: Rendered,
    vars: &Vars,
) -> Result<Rendered, RenderError> {
    let mut prefix = String::new();
    let quoted = |name: &str, t: &Template| -> Result<String, RenderError> {
        shell::quote(t.render(vars)?.value.expose(), &Context::Bare).map_err(|why| {
            RenderError::Unsafe {
                name: name.to_string(),
                place: "an unquoted word".into(),
                why,
            }
        })
    };
    if let Some(cwd) = &c.cwd {
        prefix.push_str(&format!("cd -- {} || exit 1; ", quoted("cwd", cwd)?));
    }
    for (name, t) in &c.env {
        prefix.push_str(&format!("export {name}={}; ", quoted(name, t)?));
    }
    if !prefix.is_empty() {
        r.value = SecretString::new(format!("{prefix}{}", r.value.expose()));
        r.display = format!("{prefix}{}", r.display);
    }
    if let Some(t) = &c.stdin {
        let text = t.render(vars)?.value;
        let before = r.input.as_ref().map_or("", |i| i.expose());
        r.input = Some(SecretString::new(format!("{before}{}", text.expose())));
    }
    Ok(r)
}

/// Names the whole runbook knows before any step is built: choices and their options, and
/// captured values (which commands then use like variables).
pub(super) fn prepass(cx: &mut Ctx<'_>, raw: &RawRunbook) -> Vec<CaptureDef> {
    let mut defs = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        cx.in_step(i);
        if let Some(c) = &s.choice {
            cx.choices.insert(
                s.id.get_ref().clone(),
                c.options.iter().map(|o| o.id.get_ref().clone()).collect(),
            );
        }
        for c in &s.commands {
            let Some(cap) = &c.capture else { continue };
            let name = cap.name.get_ref();
            cx.identifier(&cap.name, "capture name");
            if raw.vars.keys().any(|k| k.get_ref() == name) {
                cx.error(
                    cap.name.span(),
                    format!("capture `{name}` has the name of a variable; name it differently"),
                );
            } else if let Some(d) = defs.iter().find(|d: &&CaptureDef| &d.name == name) {
                cx.error(
                    cap.name.span(),
                    format!(
                        "capture `{name}` is already captured by `{}/{}`",
                        d.step, d.command
                    ),
                );
            } else {
                defs.push(CaptureDef {
                    name: name.clone(),
                    step: s.id.get_ref().clone(),
                    command: c.name.get_ref().clone(),
                });
                cx.vars.insert(name.clone());
            }
        }
    }
    cx.in_runbook();
    cx.captures = defs
        .iter()
        .map(|d| (d.name.clone(), d.step.clone()))
        .collect();
    defs
}

/// A `when` condition whose names all exist, compared with values they can take.
pub(super) fn cond(cx: &mut Ctx<'_>, s: &S<String>) -> Option<Cond> {
    let c = match Cond::parse(s.get_ref()) {
        Ok(c) => c,
        Err((at, msg)) => {
            let at = cx.offset_in(s, at);
            cx.error(at..at, format!("in `when`: {msg}"));
            return None;
        }
    };
    let mut ok = true;
    for r in c.refs() {
        let problem = match r.kind {
            RefKind::Var if cx.secrets.contains(&r.name) => Some(format!(
                "`var.{}` is secret: a condition is decided from the journal, which never holds secrets",
                r.name
            )),
            RefKind::Var if !cx.declared.contains(&r.name) => {
                Some(format!("no variable `{}` is declared", r.name))
            }
            RefKind::Choice if !cx.choices.contains_key(&r.name) => {
                Some(format!("no step `{}` with a choice", r.name))
            }
            RefKind::Capture if !cx.captures.contains_key(&r.name) => {
                Some(format!("no command captures `{}`", r.name))
            }
            _ => None,
        };
        if let Some(p) = problem {
            let at = cx.offset_in(s, r.at);
            cx.error(at..at, format!("in `when`: {p}"));
            ok = false;
        }
    }
    // `choice.x == "C"` where x has no option C could never hold: a typo.
    for (step, lit, at) in choice_literals(&c) {
        if let Some(opts) = cx.choices.get(&step)
            && !opts.contains(&lit)
        {
            let at = cx.offset_in(s, at);
            cx.error(
                at..at,
                format!(
                    "in `when`: `{step}` has no option {lit:?} (options: {})",
                    opts.join(", ")
                ),
            );
            ok = false;
        }
    }
    ok.then_some(c)
}

fn choice_literals(c: &Cond) -> Vec<(String, String, usize)> {
    use super::cond::{Expr, Operand};
    fn walk(e: &Expr, out: &mut Vec<(String, String, usize)>) {
        match e {
            Expr::Or(a, b) | Expr::And(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Not(a) => walk(a, out),
            Expr::Set(_) => {}
            Expr::Cmp { left, right, .. } => match (left, right) {
                (Operand::Ref(r), Operand::Lit(l, at)) | (Operand::Lit(l, at), Operand::Ref(r))
                    if r.kind == RefKind::Choice =>
                {
                    out.push((r.name.clone(), l.clone(), *at));
                }
                _ => {}
            },
        }
    }
    let mut out = Vec::new();
    walk(&c.expr, &mut out);
    out
}

pub(super) struct Options {
    pub when: Option<Cond>,
    pub capture: Option<Capture>,
    pub retry: Retry,
    pub until: Option<Until>,
    pub env: Vec<(String, Template)>,
    pub cwd: Option<Template>,
    pub stdin: Option<Template>,
}

pub(super) fn options(cx: &mut Ctx<'_>, c: &RawCommand) -> Options {
    let capture = c.capture.as_ref().and_then(|cap| {
        let from = match (&cap.regex, &cap.json) {
            (Some(re), None) => cx.regex(re).map(CaptureFrom::Regex),
            (None, Some(p)) => {
                let path: Vec<String> = p.get_ref().split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    cx.error(p.span(), "expected a dotted path like `items.0.id`");
                }
                Some(CaptureFrom::Json(path))
            }
            _ => {
                cx.error(
                    cap.name.span(),
                    "a capture needs exactly one of `regex` or `json`",
                );
                None
            }
        };
        from.map(|from| Capture {
            name: cap.name.get_ref().clone(),
            from,
        })
    });
    let delay = c.retry_delay.as_ref().and_then(|d| cx.duration(d));
    if let (Some(d), 0) = (&c.retry_delay, c.retries) {
        cx.error(d.span(), "`retry_delay` without `retries`");
    }
    let until = c.until.as_ref().and_then(|u| {
        if c.retries > 0 {
            cx.error(
                u.stdout.span(),
                "`until` and `retries` on one command: `until` already runs it again",
            );
        }
        let (re, every, within) = (
            cx.regex(&u.stdout),
            cx.duration(&u.every),
            cx.duration(&u.within),
        );
        match (re, every, within) {
            (Some(_), Some(e), Some(w)) if e > w => {
                cx.error(u.every.span(), "`every` is longer than `within`");
                None
            }
            (Some(stdout), Some(every), Some(within)) => Some(Until {
                stdout,
                every,
                within,
            }),
            _ => None,
        }
    });
    let env = c
        .env
        .iter()
        .map(|(k, v)| {
            let ok = k
                .get_ref()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                cx.error(
                    k.span(),
                    format!("`{}` is not an environment variable name", k.get_ref()),
                );
            }
            (k.get_ref().clone(), no_secret(cx, v, "env"))
        })
        .collect();
    Options {
        when: c.when.as_ref().and_then(|w| cond(cx, w)),
        capture,
        retry: Retry {
            retries: c.retries,
            delay: delay.unwrap_or_default(),
        },
        until,
        env,
        cwd: c.cwd.as_ref().map(|d| no_secret(cx, d, "cwd")),
        stdin: c.stdin.as_ref().map(|t| cx.template(t)),
    }
}

/// A value template that must not hold a secret: it ends up in the command text.
fn no_secret(cx: &mut Ctx<'_>, s: &S<String>, what: &str) -> Template {
    let t = cx.template(s);
    if let Some((at, name)) = t.names().find(|(_, n)| cx.secrets.contains(*n)) {
        let at = cx.offset_in(s, at);
        cx.error(
            at..at,
            format!(
                "secret `{name}` in `{what}`: it would be written into the command line; \
                 use it in `run` (it arrives on stdin) or in `stdin`"
            ),
        );
    }
    t
}
