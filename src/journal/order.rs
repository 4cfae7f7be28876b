//! How each step stands and what the run allows next, read from the journal: whether a step
//! passed, whether its prerequisites are done, whether a condition holds, and the values captured so far. Conditions read only what the
//! journal holds (public variables, choices, captures), so anyone replaying it decides the same.

use super::Outcome;
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

impl RunState {
    /// Seq of the line at which the step passed: every command had last passed and, for a
    /// hold, its time was up after that.
    pub fn passed_at(&self, step: &Step) -> Option<u64> {
        let before = self.commands_passed_at(step)?;
        match &step.hold {
            None => Some(before),
            Some(_) => self
                .hold_progress(step)?
                .completed_at
                .map(|c| c.max(before)),
        }
    }

    /// Seq of the line at which every command of the step had last passed, if they all have
    /// (0 for a hold with nothing before it).
    pub fn commands_passed_at(&self, step: &Step) -> Option<u64> {
        if step.commands.is_empty() && step.hold.is_some() && step.checklist.is_empty() {
            return Some(0);
        }
        if step.commands.is_empty() {
            let rec = self.steps.get(&step.id);
            if step.choice.is_some() {
                return rec.and_then(|r| r.choice.as_ref()).map(|c| c.seq);
            }
            let all_checked = step
                .checklist
                .iter()
                .all(|c| self.is_checked(&step.id, &c.id));
            return if all_checked && !step.checklist.is_empty() {
                rec.and_then(|r| r.checks.values().map(|c| c.seq).max())
            } else {
                None
            };
        }
        let mut at = 0;
        for c in step.commands.iter().filter(|c| !self.command_skipped(c)) {
            let r = self.last_run(&step.id, &c.name)?;
            if r.outcome != Outcome::Passed {
                return None;
            }
            at = at.max(r.finished_seq);
        }
        Some(at)
    }

    pub fn step_status(&self, step: &Step) -> StepStatus {
        if self.is_running(&step.id) {
            return StepStatus::Running;
        }
        if self.step_skipped(step) {
            return StepStatus::Skipped;
        }
        let rec = self.steps.get(&step.id);
        let waived = rec.is_some_and(|r| r.waivers.iter().any(|w| w.item.is_none()));
        let signed = rec.is_some_and(|r| !r.signoffs.is_empty());
        if self.passed_at(step).is_some() {
            return if signed {
                StepStatus::SignedOff
            } else {
                StepStatus::Passed
            };
        }
        if waived {
            return StepStatus::Waived;
        }
        if self
            .hold_progress(step)
            .is_some_and(|h| h.aborted.is_some())
        {
            return StepStatus::Failed;
        }
        let latest: Vec<Option<Outcome>> = step
            .commands
            .iter()
            .map(|c| self.last_run(&step.id, &c.name).map(|r| r.outcome))
            .collect();
        if latest.iter().flatten().any(|o| *o != Outcome::Passed) {
            StepStatus::Failed
        } else if latest.iter().any(Option::is_some) {
            StepStatus::Partial
        } else {
            StepStatus::Pending
        }
    }

    /// The first command of the step that has not passed yet (the one Enter runs next).
    pub fn next_command<'a>(&self, step: &'a Step) -> Option<(usize, &'a crate::runbook::Command)> {
        step.commands.iter().enumerate().find(|(_, c)| {
            !self.command_skipped(c)
                && self
                    .last_run(&step.id, &c.name)
                    .is_none_or(|r| r.outcome != Outcome::Passed)
        })
    }

    /// All steps with their status, in runbook order.
    pub fn statuses<'a>(&self, rb: &'a Runbook) -> Vec<(&'a Step, StepStatus)> {
        rb.steps.iter().map(|s| (s, self.step_status(s))).collect()
    }
}
