//! `check` and `plan`: read runbooks, run nothing.

use std::path::PathBuf;

use super::*;
use crate::exec::target::{self, TargetOptions};
use crate::runbook::{Command, Runbook, TargetKind, Vars};

pub fn check(paths: &[PathBuf]) -> i32 {
    let mut bad = false;
    for p in paths {
        match runbook::open(p) {
            Ok(rb) => {
                for w in &rb.warnings {
                    println!("{w}");
                }
                let warned = match rb.warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".into(),
                    n => format!(", {n} warnings"),
                };
                println!("{}: ok ({} steps{warned})", p.display(), rb.steps.len());
            }
            Err(e) => {
                bad = true;
                for d in e.0 {
                    println!("{d}");
                }
            }
        }
    }
    i32::from(bad)
}

/// A dry run: every step as it would run with these values, and nothing connects. Exits 2,
/// naming them, when a variable has no value or a value breaks a rule.
pub fn plan(rb: &Runbook, vars_given: &[(String, String)], global: &Global) -> i32 {
    let (vars, _) = match rb.resolve_vars(vars_given) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let problems = rb.problems(&vars, &[]);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("rehearse: {p}");
        }
        return EXIT_USAGE;
    }
    let mut out = String::new();
    out.push_str(&format!(
        "# {} ({})\n# runbook sha256 {}\n",
        rb.title, rb.id, rb.source.sha256
    ));
    let opts = TargetOptions {
        ssh_config: global.ssh_config.clone(),
        ..Default::default()
    };
    out.push_str("\n## Targets\n");
    for t in &rb.targets {
        let line = target_line(rb, &t.name, &vars, &opts);
        out.push_str(&format!("- {}: {line}\n", t.name));
    }
    // Captured values are not known before the run: they show as a marked stand-in.
    let mut vars = vars;
    for c in &rb.captures {
        vars.set(
            &c.name,
            format!("<{} from {}/{}>", c.name, c.step, c.command),
            false,
        );
    }
    out.push_str("\n## Order\n");
    for s in &rb.steps {
        out.push_str(&format!(
            "- {}{}{}\n",
            s.id,
            if s.after.is_empty() {
                String::new()
            } else {
                format!(" after {}", s.after.join(", "))
            },
            s.when
                .as_ref()
                .map(|w| format!(" when `{w}`"))
                .unwrap_or_default()
        ));
    }
    let endpoints: std::collections::BTreeMap<&str, String> = rb
        .targets
        .iter()
        .map(|t| (t.name.as_str(), target_line(rb, &t.name, &vars, &opts)))
        .collect();
    for s in &rb.steps {
        let page = s.page.map(|p| format!(" · page {p}")).unwrap_or_default();
        out.push_str(&format!(
            "\n## [{}] {} — {}{page}\n",
            s.level.label(),
            s.id,
            s.title
        ));
        let mut targets: Vec<&str> = s
            .commands
            .iter()
            .chain(s.hold.as_ref().map(|h| &h.probe))
            .map(|c| c.target.as_str())
            .collect();
        targets.dedup();
        for t in targets {
            let desc = endpoints
                .get(t)
                .map_or("the operator's machine", String::as_str);
            out.push_str(&format!("target: {t} ({desc})\n"));
        }
        if !s.after.is_empty() {
            out.push_str(&format!("after: {}\n", s.after.join(", ")));
        }
        if let Some(w) = &s.when {
            out.push_str(&format!("when: {w} (else skipped, not required)\n"));
        }
        if let Some(options) = &s.choice {
            for o in options {
                let selects: Vec<&str> = rb
                    .steps
                    .iter()
                    .filter(|t| selects(t, &s.id, &o.id))
                    .map(|t| t.id.as_str())
                    .collect();
                out.push_str(&format!(
                    "- option {} ({}): selects {}\n",
                    o.id,
                    o.title,
                    if selects.is_empty() {
                        "no step".to_string()
                    } else {
                        selects.join(", ")
                    }
                ));
            }
        }
        for c in &s.commands {
            command(&mut out, c, &vars);
        }
        if let Some(h) = &s.hold {
            out.push_str(&format!(
                "hold: {} once the commands passed, probing every {}; aborts (step fails) at {}; probe:\n",
                humantime::format_duration(h.duration),
                humantime::format_duration(h.every),
                h.abort.describe()
            ));
            command(&mut out, &h.probe, &vars);
        }
        for c in &s.on_failure {
            out.push_str("on failure:\n");
            command(&mut out, c, &vars);
        }
        for i in &s.checklist {
            out.push_str(&format!("- [ ] {} ({})\n", i.text, i.id));
        }
    }
    let g = &rb.gate;
    out.push_str(&format!(
        "\n## Gate{}\n- required steps: {}\n- sign-offs by distinct operators: {}\n",
        if g.title.is_empty() {
            String::new()
        } else {
            format!(": {}", g.title)
        },
        g.required_steps.join(", "),
        g.signoffs
    ));
    for (step, item) in &g.checklist {
        out.push_str(&format!("- checklist item ticked: {step}.{item}\n"));
    }
    if let Some(r) = &g.rollback {
        out.push_str(&format!(
            "- rollback proof: `{}` then `{}`\n",
            r.rollback_step, r.forward_step
        ));
    }
    if let Some(m) = &g.monitor {
        out.push_str(&format!(
            "- monitoring: {} every {}, at most {} failures{}{}, probe:\n",
            humantime::format_duration(m.duration),
            humantime::format_duration(m.every),
            m.max_failures,
            if m.max_in_a_row > 0 {
                format!(", fewer than {} in a row", m.max_in_a_row)
            } else {
                String::new()
            },
            if m.after.is_empty() {
                String::new()
            } else {
                format!(", counting after {} passed", m.after.join(", "))
            },
        ));
        command(&mut out, &m.probe, &vars);
    }
    print!(
        "{}",
        crate::secret::Redactor::new(&vars.secret_values()).redact_str(&out)
    );
    0
}

/// How a target would be reached, resolved from the runbook and ssh config without connecting.
fn target_line(rb: &Runbook, name: &str, vars: &Vars, opts: &TargetOptions) -> String {
    match rb.target(name).map(|t| &t.kind) {
        Some(TargetKind::Ssh(_)) => match target::ssh_params(rb, name, vars, opts) {
            Ok(p) => {
                let via = p.jumps.iter().map(|j| j.endpoint()).collect::<Vec<_>>();
                format!(
                    "ssh {}{} (known_hosts: {})",
                    p.endpoint(),
                    if via.is_empty() {
                        String::new()
                    } else {
                        format!(" via {}", via.join(" -> "))
                    },
                    p.known_hosts
                        .iter()
                        .map(|k| k.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Err(e) => format!("unresolved: {e}"),
        },
        _ => "the operator's machine".to_string(),
    }
}

/// One command: how it runs, the text it runs (secrets as `[secret:NAME]`), what it must show.
fn command(out: &mut String, c: &Command, vars: &Vars) {
    let (shown, resolved) = match c.resolve(vars) {
        Ok((r, cmd)) => (r.display, cmd),
        Err(e) => (format!("{} ({e})", c.run.raw()), c.clone()),
    };
    let flags = [c.confirm.then_some("confirm"), c.pty.then_some("pty")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    out.push_str(&format!(
        "- {} on {} (timeout {}{})\n",
        c.name,
        c.target,
        humantime::format_duration(c.timeout),
        if flags.is_empty() {
            String::new()
        } else {
            format!(", {}", flags.join(", "))
        }
    ));
    for line in shown.trim().lines() {
        out.push_str(&format!("    $ {line}\n"));
    }
    let e = &resolved.expect;
    let mut expect = vec![e.exit.to_string()];
    if let Some(r) = &e.stdout {
        expect.push(format!("stdout /{}/", r.as_str()));
    }
    if let Some(r) = &e.stderr {
        expect.push(format!("stderr /{}/", r.as_str()));
    }
    if let Some(r) = &e.stdout_not {
        expect.push(format!("stdout not /{}/", r.as_str()));
    }
    if let Some(p) = &c.proves {
        expect.push(format!("proves `{p}`"));
    }
    out.push_str(&format!("  expect: {}\n", expect.join(", ")));
    let mut flow = Vec::new();
    if let Some(w) = &c.when {
        flow.push(format!("when `{w}`"));
    }
    if let Some(cap) = &c.capture {
        flow.push(format!("captures `{}`", cap.name));
    }
    if c.retry.retries > 0 {
        flow.push(format!(
            "retries {} ({} apart)",
            c.retry.retries,
            humantime::format_duration(c.retry.delay)
        ));
    }
    if let Some(u) = &c.until {
        flow.push(format!(
            "until stdout /{}/ every {} within {}",
            u.stdout.as_str(),
            humantime::format_duration(u.every),
            humantime::format_duration(u.within)
        ));
    }
    if !flow.is_empty() {
        out.push_str(&format!("  flow: {}\n", flow.join(", ")));
    }
}

/// Does step `t` run only when `choice` is `option`? (Its condition holds with that answer
/// and fails with every other.)
fn selects(t: &crate::runbook::Step, choice: &str, option: &str) -> bool {
    use crate::runbook::cond::RefKind;
    let Some(w) = &t.when else { return false };
    let with = |o: &str| {
        w.eval(&|r| (r.kind == RefKind::Choice && r.name == choice).then(|| o.to_string()))
    };
    with(option) == Some(true) && with("\u{0}other") != Some(true)
}
