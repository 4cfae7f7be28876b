//! Load-time checks for what reaches a shell or a match: commands (quoting contexts, `raw`,
//! secrets), expectations that use variables, variable rules, and the format version.

use regex::Regex;

use super::raw::{RawVar, S};
use super::validate::Ctx;
use super::{FORMAT, Template, VarDef, Vars};

/// What a format-1 runbook must change, said once at its `format` line.
const FORMAT_1: &str = "format 1: values used to be pasted into commands as they were; they are \
     now shell-quoted (each one literal word). The warnings below mark the unquoted places whose \
     meaning changed; review them (write `{{raw name}}` only where a value must stay shell \
     syntax), then set `format = 2`";

pub(super) fn format(cx: &mut Ctx<'_>, f: Option<&S<u32>>) {
    match f.map(|f| (*f.get_ref(), f.span().start)) {
        None => cx.warn(0, format!("no `format` key: read as format 1. {FORMAT_1}")),
        Some((1, at)) => cx.warn(at, FORMAT_1),
        Some((FORMAT, _)) => {}
        Some((n, at)) => cx.error(
            at..at,
            format!("unsupported format {n} (this rehearse reads formats 1 and {FORMAT})"),
        ),
    }
}

pub(super) fn var_def(cx: &mut Ctx<'_>, name: &S<String>, v: &RawVar) -> VarDef {
    cx.identifier(name, "variable name");
    let default = v.default.as_ref().map(|d| d.get_ref().0.clone());
    let pattern = v.pattern.as_ref().and_then(|p| {
        // Anchored, so the rule is about the whole value and not some part of it.
        match Regex::new(&format!("^(?:{})$", p.get_ref())) {
            Ok(re) => Some(re),
            Err(e) => {
                let msg = e.to_string().replace('\n', " ");
                cx.error(p.span(), format!("invalid `pattern`: {msg}"));
                None
            }
        }
    });
    let choices: Vec<String> = v
        .choices
        .as_ref()
        .map(|c| c.get_ref().iter().map(|s| s.0.clone()).collect())
        .unwrap_or_default();
    if let Some(c) = &v.choices
        && choices.is_empty()
    {
        cx.error(c.span(), "`choices` is empty: no value could pass");
    }
    if let (Some(d), false) = (&v.default, v.placeholder) {
        let value = &d.get_ref().0;
        if pattern.as_ref().is_some_and(|re| !re.is_match(value)) {
            cx.error(
                d.span(),
                "the default does not match the variable's `pattern`",
            );
        }
        if !choices.is_empty() && !choices.contains(value) {
            cx.error(
                d.span(),
                "the default is not one of the variable's `choices`",
            );
        }
    }
    if v.placeholder && v.default.is_none() {
        cx.error(
            name.span(),
            "`placeholder = true` marks the default as an example, and there is no default",
        );
    }
    if v.secret && v.placeholder {
        cx.error(name.span(), "a secret cannot have a placeholder default");
    }
    VarDef {
        name: name.get_ref().clone(),
        default,
        description: v.description.clone(),
        secret: v.secret,
        env: v.env.clone(),
        pattern,
        pattern_source: v.pattern.as_ref().map(|p| p.get_ref().clone()),
        choices,
        placeholder: v.placeholder,
    }
}

/// A command's text: every placeholder known, fillable where it sits, secrets kept out of it.
pub(super) fn shell(cx: &mut Ctx<'_>, s: &S<String>, pty: bool) -> Template {
    let t = Template::shell(s.get_ref());
    let t = cx.checked(s, t);
    let secrets = cx.secrets.clone();
    for (at, why) in t.misplaced(|n| secrets.contains(n)) {
        let at = cx.offset_in(s, at);
        cx.error(at..at, why);
    }
    for (at, name) in t.raw_uses() {
        let at = cx.offset_in(s, at);
        if secrets.contains(name) {
            cx.error(
                at..at,
                format!(
                    "`{{{{raw {name}}}}}`: a secret is never pasted into a command (the host's \
                     process list would show it); write `{{{{{name}}}}}`"
                ),
            );
        } else {
            let limit = if cx.guarded.contains(name) {
                "its `pattern` or `choices` limits what can pass"
            } else {
                "any value runs; a `pattern` or `choices` would limit it"
            };
            cx.warn(
                at,
                format!("`{{{{raw {name}}}}}` pastes the value unquoted, as shell code: {limit}"),
            );
        }
    }
    if pty && let Some((at, name)) = t.names().find(|(_, n)| secrets.contains(*n)) {
        let at = cx.offset_in(s, at);
        cx.error(
            at..at,
            format!(
                "secret `{name}` in a `pty = true` command: a secret reaches the command on its \
                 stdin, which a terminal would echo; drop `pty` or the secret"
            ),
        );
    }
    if cx.format < FORMAT {
        for (at, name) in t.bare_uses() {
            let at = cx.offset_in(s, at);
            cx.warn(
                at,
                format!(
                    "format 1: `{{{{{name}}}}}` is unquoted here, so it was split into words and \
                     expanded; it is now one literal word (write `{{{{raw {name}}}}}` to keep the old meaning)"
                ),
            );
        }
    }
    t
}

/// An expectation: compiled now, or kept as a template when it uses variables.
pub(super) fn expectation(
    cx: &mut Ctx<'_>,
    s: Option<&S<String>>,
) -> (Option<Regex>, Option<Template>) {
    let Some(s) = s else { return (None, None) };
    let t = Template::regex(s.get_ref());
    if t.names().next().is_none() {
        return (cx.regex(s), None);
    }
    let t = cx.checked(s, t);
    if let Some((at, name)) = t.names().find(|(_, n)| cx.secrets.contains(*n)) {
        let at = cx.offset_in(s, at);
        cx.error(
            at..at,
            format!(
                "secret `{name}` in an expectation: output is matched after secrets are redacted"
            ),
        );
    }
    // Check the syntax around the values now, with a stand-in for each.
    let mut sample = Vars::default();
    for (_, n) in t.names() {
        sample.set(n, "x", false);
    }
    if let Ok(r) = t.render(&sample) {
        let probe = S::new(s.span(), r.value.expose().to_string());
        cx.regex(&probe);
    }
    (None, Some(t))
}
