//! A step's hold: once its commands passed, probe every `every` until the watched time reaches
//! `for`, recording each probe (with the step) in the journal. Stopping or dying and starting
//! again continues the same window; the time in between is a gap, never watched time (see
//! `RunState::hold_progress`). An abort criterion fails the step and runs its `on_failure`.

use std::time::Duration;

use super::{Runner, RunnerError, judge};
use crate::exec::Cancel;
use crate::journal::event::HoldOutcome;
use crate::journal::{Entry, Event, Outcome};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldEnd {
    Passed,
    Aborted(String),
    Stopped,
}

impl Runner {
    /// Hold `step` until its time is up, an abort criterion is met, or `stop` is cancelled.
    /// `on_probe` sees each probe line as it is recorded.
    pub async fn run_hold(
        &self,
        step_id: &str,
        stop: &Cancel,
        mut on_probe: impl FnMut(&Entry),
    ) -> Result<HoldEnd, RunnerError> {
        let rb = self.runbook.clone();
        let step = rb
            .step(step_id)
            .ok_or_else(|| RunnerError::UnknownStep(step_id.to_string()))?;
        let Some(h) = &step.hold else {
            return Err(RunnerError::NoHold(step_id.to_string()));
        };
        let mut state = self.state()?;
        if let Some(why) = state.refusal(&rb, step) {
            return Err(RunnerError::Blocked {
                step: step.id.clone(),
                why,
            });
        }
        let Some(p) = state.hold_progress(step) else {
            return Err(RunnerError::HoldBeforeCommands(step_id.to_string()));
        };
        if p.completed_at.is_some() {
            return Ok(HoldEnd::Passed);
        }
        if p.needs_commands_again(step) {
            return Err(RunnerError::HoldAfterAbort(step_id.to_string()));
        }
        let e = self
            .record(Event::HoldStarted {
                step: step_id.to_string(),
                operator: self.operator.name.clone(),
                restart: p.aborted.is_some(),
                session: Some(super::process::session_id()),
            })
            .await?;
        state.apply(&e);
        // From here the step is claimed: whatever goes wrong, the claim is ended (as stopped,
        // naming the error), or it would hold the step for as long as this process lives.
        let end = match self
            .hold_window(step, h, &mut state, stop, &mut on_probe)
            .await
        {
            Ok(end) => end,
            Err(e) => {
                let _ = self
                    .record(Event::HoldEnded {
                        step: step_id.to_string(),
                        outcome: HoldOutcome::Stopped,
                        reason: format!("stopped by an error: {e}"),
                    })
                    .await;
                return Err(e);
            }
        };
        self.end_hold(step, h, &state, &end, stop).await?;
        Ok(end)
    }

    /// Probe every `every` until the window completes, aborts or `stop` is cancelled.
    async fn hold_window(
        &self,
        step: &crate::runbook::Step,
        h: &crate::runbook::Hold,
        state: &mut crate::journal::state::RunState,
        stop: &Cancel,
        on_probe: &mut impl FnMut(&Entry),
    ) -> Result<HoldEnd, RunnerError> {
        let step_id = step.id.as_str();
        Ok(loop {
            let Some(p) = state.hold_progress(step) else {
                return Err(RunnerError::HoldBeforeCommands(step_id.to_string()));
            };
            if let Some((_, why)) = p.aborted {
                break HoldEnd::Aborted(why);
            }
            if p.completed_at.is_some() {
                break HoldEnd::Passed;
            }
            // Due `every` after the last probe of the window (at once if that has passed).
            let since_last = p
                .last_ts
                .as_deref()
                .and_then(|t| humantime::parse_rfc3339(t).ok())
                .and_then(|t| t.elapsed().ok());
            let wait = since_last.map_or(Duration::ZERO, |d| h.every.saturating_sub(d));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => break HoldEnd::Stopped,
            }
            let entry = self.hold_probe(step_id, h, state, stop.clone()).await?;
            state.apply(&entry);
            on_probe(&entry);
            if stop.is_cancelled() {
                break HoldEnd::Stopped;
            }
        })
    }

    /// Record how the hold ended; after an abort, run the step's on_failure.
    async fn end_hold(
        &self,
        step: &crate::runbook::Step,
        h: &crate::runbook::Hold,
        state: &crate::journal::state::RunState,
        end: &HoldEnd,
        stop: &Cancel,
    ) -> Result<(), RunnerError> {
        let step_id = step.id.as_str();
        let p = state.hold_progress(step);
        let gaps = p.as_ref().map_or(0, |p| p.gaps.len());
        let watched = p.as_ref().map_or(Duration::ZERO, |p| p.watched);
        let (outcome, reason) = match end {
            HoldEnd::Passed => (
                HoldOutcome::Passed,
                format!(
                    "{} watched of {}{}",
                    humantime::format_duration(Duration::from_secs(watched.as_secs())),
                    humantime::format_duration(h.duration),
                    if gaps > 0 {
                        format!(", {gaps} unwatched gap(s) not counted")
                    } else {
                        String::new()
                    }
                ),
            ),
            HoldEnd::Aborted(why) => (HoldOutcome::Aborted, why.clone()),
            HoldEnd::Stopped => (
                HoldOutcome::Stopped,
                "stopped; the hold resumes where it stood".into(),
            ),
        };
        self.record(Event::HoldEnded {
            step: step_id.to_string(),
            outcome,
            reason,
        })
        .await?;
        if matches!(end, HoldEnd::Aborted(_)) {
            for c in &step.on_failure {
                let state = self.state()?;
                if state.command_skipped(c) {
                    continue;
                }
                let vars = state.with_captures(&self.vars);
                self.run(&step.id, c, &vars, stop.clone()).await?;
            }
        }
        Ok(())
    }

    /// One probe of the hold, recorded as a `probe` line naming the step.
    async fn hold_probe(
        &self,
        step_id: &str,
        h: &crate::runbook::Hold,
        state: &crate::journal::state::RunState,
        cancel: Cancel,
    ) -> Result<Entry, RunnerError> {
        let vars = state.with_captures(&self.vars);
        let (rendered, cmd) = h.probe.resolve(&vars).map_err(|e| RunnerError::Render {
            what: format!("the probe of `{step_id}`"),
            message: e.to_string(),
        })?;
        // Spooled under an id no command start can have, unique to this process.
        let spool_id = u64::MAX / 2
            + (u64::from(std::process::id()) << 24)
            + self
                .probe_counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let x = self
            .execute(step_id, &cmd, spool_id, rendered, cancel)
            .await?;
        let result = judge(&cmd, &x.end, &x.stdout, &x.stderr);
        // Judged on the redacted output, like every expectation.
        let abort = h.abort.stdout.as_ref().and_then(|re| {
            re.is_match(&String::from_utf8_lossy(&x.stdout))
                .then(|| format!("stdout matched /{re}/"))
        });
        self.record(Event::Probe {
            passed: result.outcome == Outcome::Passed && abort.is_none(),
            exit_status: x.exit_status,
            duration_ms: x.duration_ms,
            output_sha256: x.sha256,
            reason: result.reason.clone(),
            step: Some(step_id.to_string()),
            abort,
        })
        .await
    }
}
