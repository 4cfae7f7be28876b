//! What the run allows next, read from the journal: whether a step's prerequisites are done,
//! whether a condition holds, and the values captured so far. Conditions read only what the
//! journal holds (public variables, choices, captures), so anyone replaying it decides the same.

use super::state::{RunState, StepStatus};
use crate::runbook::cond::{Ref, RefKind};
use crate::runbook::{Command, Cond, Runbook, Step, Vars};

impl RunState {
    /// A name's value as the journal tells it; `None` while it is not known.
    pub fn value_of(&self, r: &Ref) -> Option<String> {
        match r.kind {
            RefKind::Var => self.vars.get(&r.name).cloned(),
            RefKind::Choice => self
                .step(&r.name)
                .and_then(|s| s.choice.as_ref())
                .map(|c| c.option.clone()),
            RefKind::Capture => self.captures.get(&r.name).map(|c| c.value.clone()),
        }
    }

    /// `Some(holds)` once decided; `None` while a value it reads is not known yet.
    pub fn decide(&self, c: &Cond) -> Option<bool> {
        c.eval(&|r| self.value_of(r))
    }

    /// The step's condition is decided false.
    pub fn step_skipped(&self, step: &Step) -> bool {
        step.when
            .as_ref()
            .is_some_and(|c| self.decide(c) == Some(false))
    }

    /// The command's condition is decided false.
    pub fn command_skipped(&self, c: &Command) -> bool {
        c.when
            .as_ref()
            .is_some_and(|w| self.decide(w) == Some(false))
    }

    /// Prerequisites of `step` not done yet (passed, waived, signed off or skipped), unless
    /// the operator recorded running it out of order.
    pub fn blocked_by(&self, rb: &Runbook, step: &Step) -> Vec<String> {
        if self
            .step(&step.id)
            .is_some_and(|r| !r.order_waivers.is_empty())
        {
            return Vec::new();
        }
        self.unmet_after(rb, step)
    }

    /// Prerequisites not done, waiver or not (for display).
    pub fn unmet_after(&self, rb: &Runbook, step: &Step) -> Vec<String> {
        step.after
            .iter()
            .filter(|a| rb.step(a).is_none_or(|s| !self.step_status(s).is_done()))
            .cloned()
            .collect()
    }

    /// `vars` with every value captured so far added (not secret: they are in the journal).
    pub fn with_captures(&self, vars: &Vars) -> Vars {
        let mut v = vars.clone();
        for (name, c) in &self.captures {
            v.set(name, c.value.clone(), false);
        }
        v
    }

    /// Why a step does not run now, if it does not: skipped, or waiting for prerequisites.
    pub fn refusal(&self, rb: &Runbook, step: &Step) -> Option<String> {
        if self.step_status(step) == StepStatus::Skipped {
            return Some(format!(
                "`{}` is skipped: its condition `{}` is false",
                step.id,
                step.when
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
        let by = self.blocked_by(rb, step);
        (!by.is_empty()).then(|| {
            format!(
                "`{}` comes after {}, not done yet",
                step.id,
                by.iter()
                    .map(|b| format!("`{b}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}
