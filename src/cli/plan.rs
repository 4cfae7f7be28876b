//! `check` and `plan`: read runbooks, run nothing.

use std::path::PathBuf;

use super::*;
use crate::exec::target::{self, TargetOptions};
use crate::runbook::{Runbook, TargetKind};

pub fn check(paths: &[PathBuf]) -> i32 {
    let mut bad = false;
    for p in paths {
        match runbook::load(p) {
            Ok(rb) => println!("{}: ok ({} steps)", p.display(), rb.steps.len()),
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

pub fn plan(rb: &Runbook, vars_given: &[(String, String)], global: &Global) -> i32 {
    let (vars, missing) = match rb.resolve_vars(vars_given) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let mut out = String::new();
    out.push_str(&format!(
        "# {} ({})\n# runbook sha256 {}\n",
        rb.title, rb.id, rb.source.sha256
    ));
    if !missing.is_empty() {
        out.push_str(&format!(
            "# variables without a value (shown as {{{{name}}}}): {}\n",
            missing.join(", ")
        ));
    }
    let opts = TargetOptions {
        ssh_config: global.ssh_config.clone(),
        ..Default::default()
    };
    out.push_str("\n## Targets\n");
    for t in &rb.targets {
        let desc = match &t.kind {
            TargetKind::Local => "the operator's machine".to_string(),
            TargetKind::Ssh(_) => match target::ssh_params(rb, &t.name, &vars, &opts) {
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
        };
        out.push_str(&format!("- {}: {desc}\n", t.name));
    }
    for s in &rb.steps {
        let page = s.page.map(|p| format!(" · page {p}")).unwrap_or_default();
        out.push_str(&format!(
            "\n## [{}] {} — {}{page}\n",
            s.level.label(),
            s.id,
            s.title
        ));
        for c in &s.commands {
            let shown = c
                .run
                .render(&vars)
                .map_or_else(|_| c.run.raw().to_string(), |r| r.display);
            let flags = [c.confirm.then_some("confirm"), c.pty.then_some("pty")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            out.push_str(&format!(
                "- {} on {} (timeout {}, expect {}{}{})\n",
                c.name,
                c.target,
                humantime::format_duration(c.timeout),
                c.expect.exit,
                c.expect
                    .stdout
                    .as_ref()
                    .map(|r| format!(", stdout /{}/", r.as_str()))
                    .unwrap_or_default(),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(", {}", flags.join(", "))
                }
            ));
            for line in shown.trim().lines() {
                out.push_str(&format!("    $ {line}\n"));
            }
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
    if let Some(r) = &g.rollback {
        out.push_str(&format!(
            "- rollback proof: `{}` then `{}`\n",
            r.rollback_step, r.forward_step
        ));
    }
    if let Some(m) = &g.monitor {
        out.push_str(&format!(
            "- monitoring: {} every {}, at most {} failures, probe `{}`\n",
            humantime::format_duration(m.duration),
            humantime::format_duration(m.every),
            m.max_failures,
            m.probe.name
        ));
    }
    print!(
        "{}",
        crate::secret::Redactor::new(&vars.secret_values()).redact_str(&out)
    );
    0
}
