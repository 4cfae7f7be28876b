//! Order between steps, checked when the runbook loads: each step's prerequisites (`after`,
//! the choices its conditions read, the steps whose captures it uses), with unknown names and
//! cycles as errors, and no capture used in its own step before the command that captures it.

use std::collections::{BTreeMap, BTreeSet};

use super::cond::RefKind;
use super::raw::RawStep;
use super::validate::Ctx;
use super::{Command, Step};

/// Every step's prerequisites: `after`, choices its conditions read and steps whose captures
/// it uses; unknown names and cycles are errors.
pub(super) fn order(cx: &mut Ctx<'_>, raw: &[RawStep], steps: &mut [Step]) {
    let ids: BTreeSet<String> = steps.iter().map(|s| s.id.clone()).collect();
    for (i, (r, s)) in raw.iter().zip(steps.iter_mut()).enumerate() {
        cx.in_step(i);
        let mut after: Vec<String> = Vec::new();
        for a in &r.after {
            if !ids.contains(a.get_ref()) {
                cx.error(
                    a.span(),
                    format!("`after` names unknown step `{}`", a.get_ref()),
                );
            } else if a.get_ref() == &s.id {
                cx.error(a.span(), "a step cannot come after itself");
            } else if !after.contains(a.get_ref()) {
                after.push(a.get_ref().clone());
            }
        }
        let mut implied = BTreeSet::new();
        let conds = s
            .when
            .iter()
            .chain(s.commands.iter().filter_map(|c| c.when.as_ref()));
        for c in conds {
            for r in c.refs() {
                match r.kind {
                    RefKind::Choice => {
                        implied.insert(r.name.clone());
                    }
                    RefKind::Capture => {
                        implied.extend(cx.captures.get(&r.name).cloned());
                    }
                    RefKind::Var => {}
                }
            }
        }
        for c in s.all_commands() {
            for name in used_names(c) {
                implied.extend(cx.captures.get(&name).cloned());
            }
        }
        implied.remove(&s.id);
        for i in implied {
            if !after.contains(&i) {
                after.push(i);
            }
        }
        s.after = after;
    }
    // Depth-first search for a cycle; reported once, at the first step on it.
    let index: BTreeMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut mark = vec![0u8; steps.len()];
    for start in 0..steps.len() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(start, steps, &index, &mut mark, &mut path) {
            let names: Vec<&str> = cycle.iter().map(|i| steps[*i].id.as_str()).collect();
            cx.in_step(cycle[0]);
            cx.error(
                raw[cycle[0]].id.span(),
                format!(
                    "steps wait for each other in a cycle: {} -> {}",
                    names.join(" -> "),
                    names[0]
                ),
            );
            return;
        }
    }
}

fn visit(
    i: usize,
    steps: &[Step],
    index: &BTreeMap<&str, usize>,
    mark: &mut [u8],
    path: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    match mark[i] {
        2 => return None,
        1 => {
            let from = path.iter().position(|p| *p == i).unwrap_or(0);
            return Some(path[from..].to_vec());
        }
        _ => {}
    }
    mark[i] = 1;
    path.push(i);
    for a in &steps[i].after {
        if let Some(&j) = index.get(a.as_str())
            && let Some(c) = visit(j, steps, index, mark, path)
        {
            return Some(c);
        }
    }
    path.pop();
    mark[i] = 2;
    None
}

/// The names a command fills in: its text, options and expectations.
pub fn used_names(c: &Command) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ts = [
        Some(&c.run),
        c.cwd.as_ref(),
        c.stdin.as_ref(),
        c.expect.stdout_template.as_ref(),
        c.expect.stderr_template.as_ref(),
        c.expect.stdout_not_template.as_ref(),
    ];
    for t in ts.into_iter().flatten().chain(c.env.iter().map(|(_, t)| t)) {
        out.extend(t.names().map(|(_, n)| n.to_string()));
    }
    out
}

/// A capture used in the same step before the command that captures it.
pub(super) fn same_step_order(cx: &mut Ctx<'_>, raw: &RawStep, step: &Step) {
    for (i, c) in step.commands.iter().enumerate() {
        for name in used_names(c) {
            let later = step.commands[i..]
                .iter()
                .any(|d| d.capture.as_ref().is_some_and(|k| k.name == name));
            if later {
                cx.error(
                    raw.commands[i].name.span(),
                    format!("`{}` uses `{{{{{name}}}}}` before it is captured", c.name),
                );
            }
        }
    }
}
