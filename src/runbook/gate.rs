//! The `[gate]` table: required steps, checklist items, sign-offs, the rollback proof and the
//! monitoring window, every reference checked against the steps.

use std::time::Duration;

use super::raw::{RawRunbook, S};
use super::validate::{Ctx, command};
use super::{Gate, Level, Monitor, RollbackProof, Step};

pub(super) fn gate(
    cx: &mut Ctx<'_>,
    raw: &RawRunbook,
    steps: &[Step],
    default_timeout: Duration,
) -> Gate {
    let Some(g) = &raw.gate else {
        return Gate {
            required_steps: steps
                .iter()
                .filter(|s| s.level == Level::Must)
                .map(|s| s.id.clone())
                .collect(),
            ..Gate::default()
        };
    };
    let step_exists = |cx: &mut Ctx<'_>, s: &S<String>| {
        let ok = steps.iter().any(|st| &st.id == s.get_ref());
        if !ok {
            cx.error(s.span(), format!("unknown step `{}`", s.get_ref()));
        }
        ok
    };
    let required_steps = match &g.required_steps {
        Some(list) => list
            .iter()
            .filter(|s| step_exists(cx, s))
            .map(|s| s.get_ref().clone())
            .collect(),
        None => steps
            .iter()
            .filter(|s| s.level == Level::Must)
            .map(|s| s.id.clone())
            .collect(),
    };
    let checklist = g
        .checklist
        .iter()
        .filter_map(|c| {
            let Some((step_id, item)) = c.get_ref().split_once('.') else {
                cx.error(
                    c.span(),
                    format!("expected `step.item`, got {:?}", c.get_ref()),
                );
                return None;
            };
            let found = steps
                .iter()
                .find(|s| s.id == step_id)
                .is_some_and(|s| s.checklist.iter().any(|i| i.id == item));
            if !found {
                cx.error(
                    c.span(),
                    format!("no checklist item `{item}` in step `{step_id}`"),
                );
                return None;
            }
            Some((step_id.to_string(), item.to_string()))
        })
        .collect();
    let rollback = g.rollback.as_ref().and_then(|r| {
        let a = step_exists(cx, &r.rollback_step);
        let b = step_exists(cx, &r.forward_step);
        (a && b).then(|| RollbackProof {
            rollback_step: r.rollback_step.get_ref().clone(),
            forward_step: r.forward_step.get_ref().clone(),
        })
    });
    let monitor = g.monitor.as_ref().and_then(|m| {
        let duration = cx.duration(&m.duration);
        let every = cx.duration(&m.every);
        let probe = command(cx, &m.probe, None, default_timeout);
        match (duration, every) {
            (Some(duration), Some(every)) if every > duration => {
                cx.error(
                    m.every.span(),
                    "`every` is longer than the whole `duration`",
                );
                None
            }
            (Some(duration), Some(every)) => Some(Monitor {
                duration,
                every,
                max_failures: m.max_failures,
                after: m
                    .after
                    .iter()
                    .filter(|s| step_exists(cx, s))
                    .map(|s| s.get_ref().clone())
                    .collect(),
                max_in_a_row: m.max_in_a_row,
                probe,
            }),
            _ => None,
        }
    });
    Gate {
        title: g.title.clone(),
        required_steps,
        checklist,
        signoffs: g.signoffs,
        rollback,
        monitor,
    }
}
