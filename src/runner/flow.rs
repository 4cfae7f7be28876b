//! A command within the execution model: refused when its step may not run yet, skipped when
//! its condition is false, run again on `retries` or `until`, and followed by the step's
//! `on_failure` commands when it finally fails. Every attempt is its own pair of journal lines.

use std::time::Instant;

use super::{CommandResult, Runner, RunnerError};
use crate::exec::Cancel;
use crate::journal::state::RunState;
use crate::journal::{Entry, Event, Outcome};
use crate::runbook::{Command, Step};

impl Runner {
    /// The run as its journal tells it now: every line this process wrote (on acknowledgement)
    /// and every line of other processes the writer has followed (within its 250 ms tick).
    pub fn state(&self) -> Result<RunState, RunnerError> {
        self.writer.state()
    }

    /// Record that `step` runs although steps it comes after are not done, and why.
    pub async fn waive_order(&self, step: &str, reason: &str) -> Result<Entry, RunnerError> {
        if reason.trim().is_empty() {
            return Err(RunnerError::NoReason);
        }
        let rb = self.runbook.clone();
        let st = rb
            .step(step)
            .ok_or_else(|| RunnerError::UnknownStep(step.to_string()))?;
        let blocked_by = self.state()?.unmet_after(&rb, st);
        self.record(Event::OrderWaiver {
            step: step.to_string(),
            blocked_by,
            reason: reason.trim().to_string(),
            operator: self.operator.name.clone(),
        })
        .await
    }

    /// A signed acknowledgement of the monitoring window's failures: it starts again from
    /// this line (see `gate::monitor_progress`).
    pub async fn acknowledge_monitor(&self, reason: &str) -> Result<Entry, RunnerError> {
        if reason.trim().is_empty() {
            return Err(RunnerError::NoReason);
        }
        if self.operator.key.is_none() {
            return Err(RunnerError::UnsignedAck);
        }
        self.record(Event::MonitorAck {
            operator: self.operator.name.clone(),
            reason: reason.trim().to_string(),
        })
        .await
    }

    pub(super) async fn run_in_order(
        &self,
        step: &Step,
        index: usize,
        cancel: Cancel,
    ) -> Result<CommandResult, RunnerError> {
        let state = self.state()?;
        if let Some(why) = state.refusal(&self.runbook, step) {
            return Err(RunnerError::Blocked {
                step: step.id.clone(),
                why,
            });
        }
        let cmd = &step.commands[index];
        if state.command_skipped(cmd) {
            return Ok(CommandResult {
                outcome: Outcome::Passed,
                exit_status: None,
                reason: Some(format!(
                    "skipped: `{}` is false",
                    cmd.when
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )),
                refused: None,
                proposes: None,
                skipped: true,
            });
        }
        let result = self.attempts(&step.id, cmd, &state, &cancel).await?;
        if result.outcome != Outcome::Passed && result.outcome != Outcome::Cancelled {
            for c in &step.on_failure {
                let state = self.state()?;
                if state.command_skipped(c) {
                    continue;
                }
                let vars = state.with_captures(&self.vars);
                self.run(&step.id, c, &vars, cancel.clone()).await?;
            }
        }
        Ok(result)
    }

    /// Run until it passes or its policy gives up: `retries` extra attempts `delay` apart, or
    /// `until` every `every` within `within`.
    async fn attempts(
        &self,
        step: &str,
        cmd: &Command,
        state: &RunState,
        cancel: &Cancel,
    ) -> Result<CommandResult, RunnerError> {
        let vars = state.with_captures(&self.vars);
        let begun = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let r = self.run(step, cmd, &vars, cancel.clone()).await?;
            let again = match (&cmd.until, r.outcome) {
                (_, Outcome::Passed | Outcome::Cancelled) => None,
                (Some(u), _) if begun.elapsed() + u.every <= u.within => Some(u.every),
                (None, _) if attempt <= cmd.retry.retries => Some(cmd.retry.delay),
                _ => None,
            };
            let Some(wait) = again else {
                return Ok(match (&cmd.until, r.outcome) {
                    (Some(u), o) if o != Outcome::Passed && o != Outcome::Cancelled => {
                        CommandResult {
                            reason: Some(format!(
                                "{} (gave up after {attempt} attempts within {})",
                                r.reason.clone().unwrap_or_default(),
                                humantime::format_duration(u.within)
                            )),
                            ..r
                        }
                    }
                    _ => r,
                });
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return Ok(r),
            }
        }
    }
}
