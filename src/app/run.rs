//! Starting work: the next command of a step (asking first when it must be confirmed, or
//! refusing when someone else holds it), holds, ticks, and the proposal that follows a passing
//! command this session ran.

use std::time::Instant;

use super::*;

impl App {
    pub(super) fn run_next(&mut self) -> Vec<Effect> {
        if let Some(e) = &self.journal_failed {
            self.message = Some(format!(
                "the journal could not be written ({e}): nothing more runs in this session; quit and reopen the run"
            ));
            return Vec::new();
        }
        if let Some(b) = &self.busy {
            self.message = Some(format!(
                "{}/{} is still running (x cancels)",
                b.step, b.command
            ));
            return Vec::new();
        }
        let step = self.step().clone();
        // Someone else (another instance on this run) holds the step: say who. The journal's
        // lock decides for real when two press at the same moment.
        if let Some(r) = self.state.running.values().find(|r| r.step == step.id) {
            self.message = Some(format!(
                "`{}` is being run by {} ({}, since {}); wait for it to end",
                step.id,
                r.operator,
                r.command,
                r.ts.get(11..19).unwrap_or(&r.ts)
            ));
            return Vec::new();
        }
        // Out of order only with a reason (the engine refuses too; this asks for it).
        if let Some(why) = self.state.refusal(&self.runbook, &step) {
            if self.state.step_skipped(&step) {
                self.message = Some(why);
            } else {
                self.message = Some(format!(
                    "{why}: give a reason to run it anyway (Esc keeps the order)"
                ));
                self.dialog = Some(Dialog::Waive {
                    step: step.id.clone(),
                    item: Some(ORDER_WAIVER.to_string()),
                    reason: dialog::text_area("why run it before the steps it comes after"),
                    error: None,
                });
            }
            return Vec::new();
        }
        if let (Some(options), true) = (&step.choice, step.commands.is_empty()) {
            self.dialog = Some(Dialog::Choice {
                step: step.id.clone(),
                options: options
                    .iter()
                    .map(|o| (o.id.clone(), o.title.clone(), o.description.clone()))
                    .collect(),
                selected: 0,
                reason: dialog::text_area("why this path"),
                error: None,
            });
            return Vec::new();
        }
        if let Some(effects) = self.hold(&step) {
            return effects;
        }
        let Some((index, _)) = self.state.next_command(&step) else {
            if step.commands.is_empty() {
                self.message = Some(format!("`{}` has no commands: tick its checklist", step.id));
            } else {
                self.dialog = Some(Dialog::Rerun {
                    step: step.id.clone(),
                    commands: step.commands.iter().map(|c| c.name.clone()).collect(),
                    selected: step.commands.len() - 1,
                    reason: dialog::text_area("why run it again"),
                    error: None,
                });
            }
            return Vec::new();
        };
        self.confirm_or_start(&step, index)
    }

    /// Enter on a step whose commands passed and whose hold is not over: start the hold in the
    /// background, or stop it when it is this session's (it resumes where it stood).
    pub(super) fn hold(&mut self, step: &crate::runbook::Step) -> Option<Vec<Effect>> {
        let p = self.state.hold_progress(step)?;
        if p.completed_at.is_some() || self.state.next_command(step).is_some() {
            return None;
        }
        // Enter offers to run the commands again instead.
        if p.needs_commands_again(step) {
            return None;
        }
        if self.holding.as_deref() == Some(step.id.as_str()) {
            self.message = Some(format!(
                "stopping the hold of `{}` (it resumes where it stood)",
                step.id
            ));
            return Some(vec![Effect::StopHold]);
        }
        if let Some(other) = &self.holding {
            self.message = Some(format!("holding `{other}`: Enter on it stops it first"));
            return Some(Vec::new());
        }
        self.holding = Some(step.id.clone());
        self.message = Some(format!(
            "holding `{}`: probing until its time is up (Enter stops)",
            step.id
        ));
        Some(vec![Effect::StartHold {
            step: step.id.clone(),
        }])
    }

    /// Start command `index` of `step`, or first ask (a `confirm` command).
    pub(super) fn confirm_or_start(
        &mut self,
        step: &crate::runbook::Step,
        index: usize,
    ) -> Vec<Effect> {
        let Some(cmd) = step.commands.get(index) else {
            return Vec::new();
        };
        if !cmd.confirm {
            return self.start(&step.id, index, &cmd.name);
        }
        let run = cmd
            .run
            .render(&self.display_vars)
            .map_or_else(|e| e.to_string(), |r| r.display);
        let target = self
            .targets
            .iter()
            .find(|t| t.name == cmd.target)
            .map_or_else(
                || cmd.target.clone(),
                |t| format!("{} ({})", t.name, t.endpoint),
            );
        let host_key = if cmd.target == crate::runbook::LOCAL {
            "none: runs on this machine".to_string()
        } else {
            self.state
                .host_keys
                .iter()
                .rev()
                .find(|k| k.target == cmd.target)
                .map_or_else(
                    || "not seen yet: checked against known_hosts when it connects".into(),
                    |k| format!("{} {} ({})", k.algorithm, k.fingerprint, k.trust),
                )
        };
        self.dialog = Some(Dialog::Confirm {
            step: step.id.clone(),
            index,
            command: cmd.name.clone(),
            run,
            target,
            host_key,
            destructive: cmd.destructive,
            typed: dialog::text_area(&format!("type {} to run it", step.id)),
            scroll: 0,
            error: None,
        });
        Vec::new()
    }

    pub(super) fn start(&mut self, step: &str, index: usize, command: &str) -> Vec<Effect> {
        self.busy = Some(Busy {
            step: step.to_string(),
            command: command.to_string(),
            since: Instant::now(),
        });
        self.log_scroll = None;
        self.message = None;
        vec![Effect::Run {
            step: step.to_string(),
            index,
        }]
    }

    pub(super) fn toggle_check(&mut self) -> Vec<Effect> {
        // Only the item under a visible cursor: with focus elsewhere, nobody can see which
        // item Space would tick.
        if self.focus != Pane::Checklist {
            self.message = Some("Tab to the checklist to tick an item".into());
            return Vec::new();
        }
        let step = self.step();
        let Some(item) = step.checklist.get(self.check_selected) else {
            self.message = Some(format!("`{}` has no checklist", step.id));
            return Vec::new();
        };
        let checked = !self.state.is_checked(&step.id, &item.id);
        vec![Effect::Record(Event::CheckToggled {
            step: step.id.clone(),
            item: item.id.clone(),
            checked,
            operator: self.operator.clone(),
            proposed_by: None,
        })]
    }

    /// A command this session started passed: offer the checklist item it proves. Tied to the
    /// journal line of that command (its step, name and outcome), never to which message came
    /// first.
    pub(super) fn propose_from(&mut self, finished: &Entry) {
        let Event::CommandFinished {
            step,
            command,
            started_seq,
            outcome: Outcome::Passed,
            ..
        } = &finished.event
        else {
            return;
        };
        let ours = self
            .state
            .step(step)
            .and_then(|r| r.runs.iter().find(|r| r.started_seq == *started_seq))
            .and_then(|r| r.session.as_deref())
            .is_some_and(|s| s == self.session);
        if !ours {
            return;
        }
        let Some(s) = self.runbook.step(step) else {
            return;
        };
        let Some(item) = s
            .commands
            .iter()
            .find(|c| &c.name == command)
            .and_then(|c| c.proves.clone())
        else {
            return;
        };
        if self.state.is_checked(step, &item) || self.dialog.is_some() {
            return;
        }
        let text = s
            .checklist
            .iter()
            .find(|c| c.id == item)
            .map(|c| c.text.clone())
            .unwrap_or_default();
        self.dialog = Some(Dialog::ProposeTick {
            step: step.clone(),
            item,
            text,
            by: command.clone(),
        });
    }
}
