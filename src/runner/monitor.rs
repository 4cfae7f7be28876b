//! The monitoring window: run the gate's probe every `every` until the watched time reaches
//! `duration`, appending each result to the journal. Stopping and starting again continues the
//! same window; the time in between is a gap, never a pass (see `gate::monitor_progress`).

use std::time::Duration;

use crate::exec::Cancel;
use crate::gate;
use crate::journal::state::RunState;
use crate::journal::{Entry, Event};
use crate::runner::{Runner, RunnerError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowEnd {
    Complete,
    Stopped,
    TooManyFailures(u32),
}

/// Watch until the window is complete, fails, or `stop` is cancelled. `state` is the run so
/// far; `on_probe` sees each probe line as it is recorded.
pub async fn watch(
    runner: &Runner,
    mut state: RunState,
    stop: &Cancel,
    mut on_probe: impl FnMut(&Entry),
) -> Result<WindowEnd, RunnerError> {
    let rb = runner.runbook.clone();
    let Some(m) = rb.gate.monitor.clone() else {
        return Err(RunnerError::NoMonitor);
    };
    let e = runner
        .record(Event::WatchStarted {
            operator: runner.operator.name.clone(),
        })
        .await?;
    state.apply(&e);
    let end = loop {
        let p =
            gate::monitor_progress(&rb, &state).unwrap_or_else(|| unreachable_progress(m.duration));
        if p.exhausted() {
            break WindowEnd::TooManyFailures(p.failed);
        }
        if !p.waiting_for.is_empty() {
            runner
                .record(Event::WatchStopped {
                    reason: "the window has not started".into(),
                })
                .await?;
            return Err(RunnerError::MonitorWaiting(p.waiting_for));
        }
        if p.watched >= p.total {
            break WindowEnd::Complete;
        }
        // The next probe is due `every` after the last one (at once if that has passed).
        let since_last = state
            .probes
            .last()
            .and_then(|p| humantime::parse_rfc3339(&p.ts).ok())
            .and_then(|t| t.elapsed().ok());
        let wait = since_last.map_or(Duration::ZERO, |d| m.every.saturating_sub(d));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => break WindowEnd::Stopped,
        }
        let (entry, _) = runner.probe(&m.probe, stop.clone()).await?;
        state.apply(&entry);
        on_probe(&entry);
        if stop.is_cancelled() {
            break WindowEnd::Stopped;
        }
    };
    let reason = match &end {
        WindowEnd::Complete => "window complete".to_string(),
        WindowEnd::Stopped => "stopped by the operator".to_string(),
        WindowEnd::TooManyFailures(n) => format!(
            "{n} probes failed (max {}, in a row max {}); a signed acknowledgement restarts the window",
            m.max_failures, m.max_in_a_row
        ),
    };
    runner.record(Event::WatchStopped { reason }).await?;
    Ok(end)
}

fn unreachable_progress(total: Duration) -> gate::MonitorProgress {
    gate::MonitorProgress {
        total,
        watched: Duration::ZERO,
        gaps: Vec::new(),
        passed: 0,
        failed: 0,
        max_failures: 0,
        last_failure: None,
        waiting_for: Vec::new(),
        in_a_row: 0,
        max_in_a_row: 0,
        counts_from: None,
    }
}
