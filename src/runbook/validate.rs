//! From the raw TOML to a checked [`Runbook`]: every reference resolved, every duration and
//! regex parsed, every problem collected with its position rather than stopping at the first.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::raw::{RawCommand, RawExit, RawRunbook, RawStep, RawTarget, S};
use super::{
    CheckItem, ChoiceOption, Command, Diagnostic, ExitExpect, Expect, LOCAL, Level, LoadError,
    Runbook, Source, SshTarget, Step, TargetDef, TargetKind, commands, flow, gate, hold, include,
    line_col, order,
};

pub(super) use super::ctx::Ctx;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) fn build(mut source: Source) -> Result<Runbook, LoadError> {
    let mut raw: RawRunbook = match toml::from_str(&source.text) {
        Ok(r) => r,
        Err(e) => {
            let (line, column) = line_col(&source.text, e.span().map_or(0, |s| s.start));
            return Err(LoadError(vec![Diagnostic {
                path: source.path.clone(),
                line,
                column,
                message: e.message().trim().replace('\n', " "),
            }]));
        }
    };
    let mut cx = Ctx {
        source: &source,
        diags: Vec::new(),
        warnings: Vec::new(),
        vars: raw.vars.keys().map(|k| k.get_ref().clone()).collect(),
        declared: raw.vars.keys().map(|k| k.get_ref().clone()).collect(),
        choices: BTreeMap::new(),
        captures: BTreeMap::new(),
        secrets: raw
            .vars
            .iter()
            .filter(|(_, v)| v.secret)
            .map(|(k, _)| k.get_ref().clone())
            .collect(),
        guarded: raw
            .vars
            .iter()
            .filter(|(_, v)| v.pattern.is_some() || v.choices.is_some())
            .map(|(k, _)| k.get_ref().clone())
            .collect(),
        targets: raw.targets.keys().map(|k| k.get_ref().clone()).collect(),
        format: raw.format.as_ref().map_or(1, |f| *f.get_ref()),
        files: Vec::new(),
        origins: Vec::new(),
        current: None,
    };
    let included = include::expand(&mut cx, &mut raw);
    cx.targets.insert(LOCAL.to_string());
    commands::format(&mut cx, raw.format.as_ref());
    cx.identifier(&raw.id, "runbook id");
    let default_timeout = raw
        .default_timeout
        .as_ref()
        .and_then(|t| cx.duration(t))
        .unwrap_or(DEFAULT_TIMEOUT);

    let vars = raw
        .vars
        .iter()
        .map(|(name, v)| commands::var_def(&mut cx, name, v))
        .collect();

    let targets = raw
        .targets
        .iter()
        .map(|(name, t)| target(&mut cx, name, t))
        .collect();

    let captures = flow::prepass(&mut cx, &raw);
    let mut seen = HashSet::new();
    let mut steps: Vec<Step> = raw
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            cx.in_step(i);
            if !seen.insert(s.id.get_ref().clone()) {
                cx.error(
                    s.id.span(),
                    format!("duplicate step id `{}`", s.id.get_ref()),
                );
            }
            step(&mut cx, s, default_timeout)
        })
        .collect();
    cx.in_runbook();
    if steps.is_empty() {
        cx.error(0..0, "a runbook needs at least one [[steps]] table");
    }
    order::order(&mut cx, &raw.steps, &mut steps);
    cx.in_runbook();

    let gate = gate::gate(&mut cx, &raw, &steps, default_timeout);

    if cx.diags.is_empty() {
        let mut warnings = std::mem::take(&mut cx.warnings);
        warnings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        if !included.is_empty() {
            let composed = include::compose(&cx, &included);
            drop(cx);
            source = composed?;
        } else {
            drop(cx);
        }
        Ok(Runbook {
            id: raw.id.into_inner(),
            title: raw.title,
            summary: raw.summary,
            source,
            default_timeout,
            vars,
            targets,
            steps,
            gate,
            captures,
            warnings,
            redirected: None,
        })
    } else {
        let mut d = cx.diags;
        // The runbook's own problems first, then each included file's.
        let main = source.path.clone();
        d.sort_by(|a, b| {
            (a.path != main, &a.path, a.line, a.column).cmp(&(
                b.path != main,
                &b.path,
                b.line,
                b.column,
            ))
        });
        Err(LoadError(d))
    }
}

fn target(cx: &mut Ctx<'_>, name: &S<String>, t: &RawTarget) -> TargetDef {
    cx.identifier(name, "target name");
    if name.get_ref() == LOCAL {
        cx.error(
            name.span(),
            "`local` is built in (the operator's machine) and cannot be redefined",
        );
    }
    let tpl = |cx: &mut Ctx<'_>, v: &Option<S<super::raw::ScalarString>>| {
        v.as_ref().map(|s| {
            let st = S::new(s.span(), s.get_ref().0.clone());
            cx.template(&st)
        })
    };
    let kind = if t.local {
        if t.alias.is_some() || t.host.is_some() {
            cx.error(
                name.span(),
                "a `local = true` target cannot also name a host or alias",
            );
        }
        TargetKind::Local
    } else {
        if t.alias.is_none() && t.host.is_none() {
            cx.error(
                name.span(),
                format!("target `{}` needs `alias` (a Host in ~/.ssh/config), `host`, or `local = true`", name.get_ref()),
            );
        }
        TargetKind::Ssh(Box::new(SshTarget {
            alias: t.alias.as_ref().map(|a| cx.template(a)),
            host: tpl(cx, &t.host),
            port: tpl(cx, &t.port),
            user: tpl(cx, &t.user),
            known_hosts: t.known_hosts.as_ref().map(|a| cx.template(a)),
            identity_file: t.identity_file.as_ref().map(|a| cx.template(a)),
        }))
    };
    TargetDef {
        name: name.get_ref().clone(),
        description: t.description.clone(),
        kind,
    }
}

fn step(cx: &mut Ctx<'_>, s: &RawStep, default_timeout: Duration) -> Step {
    cx.identifier(&s.id, "step id");
    let level = match s.level.get_ref().as_str() {
        "must" => Level::Must,
        "should" => Level::Should,
        "optional" => Level::Optional,
        other => {
            cx.error(
                s.level.span(),
                format!("expected level \"must\", \"should\" or \"optional\", got {other:?}"),
            );
            Level::Optional
        }
    };
    if let Some(t) = &s.target {
        check_target(cx, t);
    }
    let mut check_ids = HashSet::new();
    let checklist: Vec<CheckItem> = s
        .checklist
        .iter()
        .map(|c| {
            cx.identifier(&c.id, "checklist item id");
            if !check_ids.insert(c.id.get_ref().clone()) {
                cx.error(
                    c.id.span(),
                    format!("duplicate checklist item `{}`", c.id.get_ref()),
                );
            }
            CheckItem {
                id: c.id.get_ref().clone(),
                text: c.text.clone(),
            }
        })
        .collect();
    let default_target = s.target.as_ref().map(|t| t.get_ref().clone());
    let mut names = HashSet::new();
    let commands = s
        .commands
        .iter()
        .map(|c| {
            if !names.insert(c.name.get_ref().clone()) {
                cx.error(
                    c.name.span(),
                    format!(
                        "duplicate command name `{}` in step `{}`",
                        c.name.get_ref(),
                        s.id.get_ref()
                    ),
                );
            }
            if let Some(p) = &c.proves
                && !check_ids.contains(p.get_ref())
            {
                cx.error(
                    p.span(),
                    format!(
                        "`proves` names `{}`, which is not a checklist item of this step",
                        p.get_ref()
                    ),
                );
            }
            command(cx, c, default_target.as_deref(), default_timeout)
        })
        .collect();
    let choice = s.choice.as_ref().map(|c| {
        if c.options.len() < 2 {
            cx.error(s.id.span(), "a choice needs at least two options");
        }
        let mut ids = HashSet::new();
        c.options
            .iter()
            .map(|o| {
                cx.identifier(&o.id, "option id");
                if !ids.insert(o.id.get_ref().clone()) {
                    cx.error(
                        o.id.span(),
                        format!("duplicate option id `{}`", o.id.get_ref()),
                    );
                }
                ChoiceOption {
                    id: o.id.get_ref().clone(),
                    title: o.title.clone(),
                    description: o.description.clone(),
                }
            })
            .collect()
    });
    let on_failure = s
        .on_failure
        .iter()
        .map(|c| {
            if !names.insert(c.name.get_ref().clone()) {
                cx.error(
                    c.name.span(),
                    "an `on_failure` command needs a name of its own in the step",
                );
            }
            command(cx, c, default_target.as_deref(), default_timeout)
        })
        .collect();
    let step = Step {
        id: s.id.get_ref().clone(),
        title: s.title.clone(),
        level,
        page: s.page,
        body: s.body.trim_end().to_string(),
        commands,
        checklist,
        choice,
        after: Vec::new(),
        when: s.when.as_ref().and_then(|w| flow::cond(cx, w)),
        on_failure,
        hold: s
            .hold
            .as_ref()
            .and_then(|h| hold::hold(cx, h, default_target.as_deref(), default_timeout)),
    };
    order::same_step_order(cx, s, &step);
    step
}

fn check_target(cx: &mut Ctx<'_>, t: &S<String>) {
    if !cx.targets.contains(t.get_ref()) {
        let known: Vec<_> = cx.targets.iter().cloned().collect();
        cx.error(
            t.span(),
            format!(
                "unknown target `{}` (expected one of: {})",
                t.get_ref(),
                known.join(", ")
            ),
        );
    }
}

pub(super) fn command(
    cx: &mut Ctx<'_>,
    c: &RawCommand,
    default_target: Option<&str>,
    default_timeout: Duration,
) -> Command {
    let target = match (&c.target, default_target) {
        (Some(t), _) => {
            check_target(cx, t);
            t.get_ref().clone()
        }
        (None, Some(t)) => t.to_string(),
        (None, None) => {
            // One declared target is the obvious default; otherwise the runbook must say.
            let remote: Vec<_> = cx.targets.iter().filter(|t| *t != LOCAL).cloned().collect();
            if remote.len() == 1 {
                remote[0].clone()
            } else {
                cx.error(
                    c.name.span(),
                    "command has no target: set `target` on the command or its step",
                );
                LOCAL.to_string()
            }
        }
    };
    if c.run.get_ref().trim().is_empty() {
        cx.error(c.run.span(), "`run` is empty");
    }
    let expect = match &c.expect {
        None => Expect {
            exit: ExitExpect::Codes(vec![0]),
            stdout: None,
            stderr: None,
            stdout_template: None,
            stderr_template: None,
            stdout_not: None,
            stdout_not_template: None,
        },
        Some(e) => {
            let (stdout, stdout_template) = commands::expectation(cx, e.stdout.as_ref());
            let (stderr, stderr_template) = commands::expectation(cx, e.stderr.as_ref());
            let (stdout_not, stdout_not_template) =
                commands::expectation(cx, e.stdout_not.as_ref());
            Expect {
                exit: match &e.exit {
                    None => ExitExpect::Codes(vec![0]),
                    Some(x) => exit_expect(cx, x),
                },
                stdout,
                stderr,
                stdout_template,
                stderr_template,
                stdout_not,
                stdout_not_template,
            }
        }
    };
    let o = flow::options(cx, c);
    Command {
        name: c.name.get_ref().clone(),
        run: commands::shell(cx, &c.run, c.pty),
        target,
        timeout: c
            .timeout
            .as_ref()
            .and_then(|t| cx.duration(t))
            .unwrap_or(default_timeout),
        confirm: c.confirm || c.destructive,
        destructive: c.destructive,
        pty: c.pty,
        expect,
        proves: c.proves.as_ref().map(|p| p.get_ref().clone()),
        when: o.when,
        capture: o.capture,
        retry: o.retry,
        until: o.until,
        env: o.env,
        cwd: o.cwd,
        stdin: o.stdin,
    }
}

fn exit_expect(cx: &mut Ctx<'_>, x: &S<RawExit>) -> ExitExpect {
    let code = |cx: &mut Ctx<'_>, c: i64| match u32::try_from(c) {
        Ok(c) if c <= 255 => Some(c),
        _ => {
            cx.error(x.span(), format!("exit codes are 0..=255, got {c}"));
            None
        }
    };
    match x.get_ref() {
        RawExit::Code(c) => ExitExpect::Codes(code(cx, *c).into_iter().collect()),
        RawExit::Codes(cs) => ExitExpect::Codes(cs.iter().filter_map(|c| code(cx, *c)).collect()),
        RawExit::Word(w) if w == "any" => ExitExpect::Any,
        RawExit::Word(w) => {
            cx.error(
                x.span(),
                format!("expected an exit code, a list of codes or \"any\", got {w:?}"),
            );
            ExitExpect::Any
        }
    }
}
