//! Variable values before anything connects: which variables the selected steps need, whether
//! each value keeps its variable's rules (`pattern`, `choices`, not a placeholder), and whether
//! the target fields they fill make a host, a port and a user.

use std::collections::BTreeSet;
use std::fmt;

use super::{Command, Runbook, TargetKind, Template, Vars};

/// One value refused, with the rule it broke. The value is shown unless it is secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValueError {
    pub name: String,
    /// `None` for a secret.
    pub value: Option<String>,
    pub rule: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "`{}` = {v:?}: {}", self.name, self.rule),
            None => write!(f, "`{}` (secret): {}", self.name, self.rule),
        }
    }
}

impl Runbook {
    /// Every variable that the given steps use: in their commands, the targets those commands
    /// run on, their expectations, and their conditions. An empty list means every step and the gate's probe.
    pub fn required_vars(&self, steps: &[&str]) -> BTreeSet<String> {
        let mut commands: Vec<&Command> = self
            .steps
            .iter()
            .filter(|s| steps.is_empty() || steps.contains(&s.id.as_str()))
            .flat_map(super::Step::all_commands)
            .collect();
        if steps.is_empty()
            && let Some(m) = &self.gate.monitor
        {
            commands.push(&m.probe);
        }
        let mut out = BTreeSet::new();
        // Conditions read variables too: one left out would be unknown, and an unknown
        // condition does not skip what it guards.
        let conds = self
            .steps
            .iter()
            .filter(|s| steps.is_empty() || steps.contains(&s.id.as_str()))
            .flat_map(|s| s.when.iter())
            .chain(commands.iter().filter_map(|c| c.when.as_ref()));
        for w in conds {
            out.extend(
                w.refs()
                    .into_iter()
                    .filter(|r| r.kind == super::cond::RefKind::Var)
                    .map(|r| r.name.clone()),
            );
        }
        // Captured values come from the run, never from the operator.
        let captured: BTreeSet<&str> = self.captures.iter().map(|c| c.name.as_str()).collect();
        let mut add = |t: &Template| {
            out.extend(
                t.names()
                    .filter(|(_, n)| !captured.contains(n))
                    .map(|(_, n)| n.to_string()),
            );
        };
        for c in &commands {
            add(&c.run);
            for t in [
                &c.expect.stdout_template,
                &c.expect.stderr_template,
                &c.expect.stdout_not_template,
                &c.cwd,
                &c.stdin,
            ]
            .into_iter()
            .flatten()
            .chain(c.env.iter().map(|(_, t)| t))
            {
                add(t);
            }
        }
        let targets: BTreeSet<&str> = commands.iter().map(|c| c.target.as_str()).collect();
        for t in self
            .targets
            .iter()
            .filter(|t| targets.contains(t.name.as_str()))
        {
            if let TargetKind::Ssh(s) = &t.kind {
                for f in [
                    &s.alias,
                    &s.host,
                    &s.port,
                    &s.user,
                    &s.known_hosts,
                    &s.identity_file,
                ]
                .into_iter()
                .flatten()
                {
                    add(f);
                }
            }
        }
        out
    }

    /// This runbook seen by a run of `steps` only: the variables and targets they need and no
    /// others, so a value another step needs is neither asked for nor connected for.
    pub fn for_steps(&self, steps: &[&str]) -> Runbook {
        let needed = self.required_vars(steps);
        let targets: BTreeSet<&str> = self
            .steps
            .iter()
            .filter(|s| steps.is_empty() || steps.contains(&s.id.as_str()))
            .flat_map(|s| s.all_commands().map(|c| c.target.as_str()))
            .collect();
        let mut rb = self.clone();
        rb.vars.retain(|v| needed.contains(&v.name));
        rb.targets.retain(|t| targets.contains(t.name.as_str()));
        rb
    }

    /// Variables among `names` without a value, each with how to give one.
    pub fn missing_hints(&self, vars: &Vars, names: &BTreeSet<String>) -> Vec<String> {
        names
            .iter()
            .filter(|n| !vars.contains(n))
            .map(|n| {
                match self
                    .vars
                    .iter()
                    .find(|v| &v.name == n)
                    .and_then(|v| v.env.clone())
                {
                    Some(e) => format!("--var {n}=... or ${e}"),
                    None => format!("--var {n}=..."),
                }
            })
            .collect()
    }

    /// Variables among `names` whose value is still the runbook's documented placeholder.
    /// A person is asked for these (TUI); headless they are refused by [`Runbook::check_values`].
    pub fn placeholder_vars(&self, vars: &Vars, names: &BTreeSet<String>) -> Vec<String> {
        self.vars
            .iter()
            .filter(|d| d.placeholder && names.contains(&d.name))
            .filter(|d| {
                let value = vars.get(&d.name).map(|v| v.expose());
                value.is_some() && value == d.default.as_deref()
            })
            .map(|d| d.name.clone())
            .collect()
    }

    /// Everything that stops `steps` (empty: all, and the gate's probe) from running with
    /// `vars`, each said in a line: variables without a value, values that break their rules,
    /// and values that cannot be written safely where a command uses them. Run before anything
    /// connects; an empty list means the steps may start.
    pub fn problems(&self, vars: &Vars, steps: &[&str]) -> Vec<String> {
        let needed = self.required_vars(steps);
        let missing = self.missing_hints(vars, &needed);
        let mut out: Vec<String> = (!missing.is_empty())
            .then(|| format!("variables without a value: {}", missing.join(", ")))
            .into_iter()
            .chain(
                self.check_values(vars, &needed)
                    .iter()
                    .map(ToString::to_string),
            )
            .collect();
        if !missing.is_empty() {
            // Filling the commands would only repeat that the values are missing.
            return out;
        }
        let probe = self.gate.monitor.as_ref().filter(|_| steps.is_empty());
        let commands = self
            .steps
            .iter()
            .filter(|s| steps.is_empty() || steps.contains(&s.id.as_str()))
            .flat_map(|s| s.commands.iter().map(move |c| (s.id.as_str(), c)))
            .chain(probe.map(|m| ("gate.monitor", &m.probe)));
        // A captured value is checked when it is captured; here a stand-in fills its place.
        let mut vars = vars.clone();
        for cap in &self.captures {
            vars.set(&cap.name, "captured", false);
        }
        for (step, c) in commands {
            if let Err(e) = c.resolve(&vars) {
                out.push(format!("{step}/{}: {e}", c.name));
            }
        }
        out
    }

    /// Every rule broken by the values of `names`: each variable's own rules, then the target
    /// fields the values fill. Nothing has connected yet when this runs.
    pub fn check_values(&self, vars: &Vars, names: &BTreeSet<String>) -> Vec<ValueError> {
        let mut errs = Vec::new();
        for d in self.vars.iter().filter(|d| names.contains(&d.name)) {
            let Some(v) = vars.get(&d.name) else { continue };
            let value = v.expose();
            let refuse = |rule: String| ValueError {
                name: d.name.clone(),
                value: (!d.secret).then(|| value.to_string()),
                rule,
            };
            if value.contains('\0') {
                errs.push(refuse("contains a NUL byte".into()));
            }
            if d.secret && value.contains(['\n', '\r']) {
                errs.push(refuse(
                    "a secret reaches its command as one line of input, and this one has a line break"
                        .into(),
                ));
            }
            if d.placeholder && Some(value) == d.default.as_deref() {
                errs.push(refuse(
                    "still the runbook's placeholder; pass the real value with --var".into(),
                ));
            }
            if let Some(re) = &d.pattern
                && !re.is_match(value)
            {
                errs.push(refuse(format!(
                    "does not match pattern /{}/",
                    d.pattern_source.as_deref().unwrap_or_default()
                )));
            }
            if !d.choices.is_empty() && !d.choices.iter().any(|c| c == value) {
                errs.push(refuse(format!("must be one of: {}", d.choices.join(", "))));
            }
        }
        for t in &self.targets {
            let TargetKind::Ssh(s) = &t.kind else {
                continue;
            };
            let fields = [
                (
                    "host",
                    &s.host,
                    host_rule as fn(&str) -> Option<&'static str>,
                ),
                ("port", &s.port, port_rule),
                ("user", &s.user, user_rule),
                ("alias", &s.alias, host_rule),
            ];
            for (field, tpl, rule) in fields {
                let Some(tpl) = tpl else { continue };
                if !tpl.names().any(|(_, n)| names.contains(n)) {
                    continue;
                }
                let Ok(r) = tpl.render(vars) else { continue };
                let value = r.value.expose();
                if let Some(why) = rule(value) {
                    let name = tpl.names().map(|(_, n)| n).collect::<Vec<_>>().join(", ");
                    errs.push(ValueError {
                        name,
                        value: Some(r.display),
                        rule: format!("target `{}` {field}: {why}", t.name),
                    });
                }
            }
        }
        errs
    }
}

/// A host name or address as `ssh` would take it, and nothing an option parser could misread.
fn host_rule(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        Some("is empty")
    } else if v.starts_with('-') {
        Some("must not start with `-`")
    } else if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_:[]%".contains(c))
    {
        Some("must be a host name or IP address (letters, digits, `.`, `-`, `_`, `:`)")
    } else {
        None
    }
}

fn port_rule(v: &str) -> Option<&'static str> {
    match v.parse::<u32>() {
        Ok(1..=65535) if v.chars().all(|c| c.is_ascii_digit()) => None,
        _ => Some("must be a port number, 1 to 65535"),
    }
}

fn user_rule(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        Some("is empty")
    } else if v.starts_with('-') {
        Some("must not start with `-`")
    } else if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Some("must be a login name (letters, digits, `.`, `_`, `-`)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_fields_rules() {
        assert_eq!(host_rule("staging.example.test"), None);
        assert_eq!(host_rule("::1"), None);
        assert!(host_rule("-oProxyCommand=x").is_some());
        assert!(host_rule("a b").is_some());
        assert!(host_rule("a;touch f").is_some());
        assert_eq!(port_rule("22"), None);
        assert!(port_rule("0").is_some());
        assert!(port_rule("65536").is_some());
        assert!(port_rule("+22").is_some());
        assert_eq!(user_rule("deploy"), None);
        assert!(user_rule("-l").is_some());
        assert!(user_rule("a$(x)").is_some());
    }
}
