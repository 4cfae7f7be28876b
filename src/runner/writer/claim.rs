//! The writer's side of claims (one runner per step): a command starts only under the journal
//! lock and only if no live process holds its step; a dead holder's claim is ended once.

use super::*;
use crate::runner::claims::Claim;

impl Task {
    /// Start a command only if no live process holds its step: the check and the
    /// `command_started` line happen under one file lock. A claim whose process is gone is
    /// ended as `interrupted` first.
    pub(super) async fn claim(&mut self, event: Event, step: String) -> Result<Entry, RunnerError> {
        let claims = self.claims.clone();
        let guarded = self
            .with_journal(move |j| {
                let run_dir = j.dir().to_path_buf();
                j.append_guarded(event, |foreign| {
                    let mut c = claims.lock().map_err(|_| RunnerError::WriterGone)?;
                    foreign.iter().for_each(|e| c.observe(e));
                    match c.holder(&step) {
                        Some(h) if !h.is_stale() => Err(held(h)),
                        Some(h) => Ok(vec![h.interrupted(&run_dir).map_err(|e| {
                            RunnerError::Output {
                                path: run_dir.clone(),
                                source: e,
                            }
                        })?]),
                        None => Ok(Vec::new()),
                    }
                })
                .map_err(RunnerError::Journal)
            })
            .await?;
        for e in guarded.foreign {
            self.tell(RunnerEvent::Recorded(Box::new(e))).await;
        }
        let appended = guarded.appended?;
        let mut last = None;
        for a in appended {
            last = Some(a.entry.clone());
            self.tell(RunnerEvent::Recorded(Box::new(a.entry))).await;
        }
        last.ok_or(RunnerError::WriterGone)
    }

    /// End the claims of processes that are gone (another instance killed mid-command), so the
    /// step shows as interrupted and can be run again. Re-checked under the lock: if two live
    /// instances notice at once, one writes the finish and the other sees it.
    pub(super) async fn reap(&mut self) -> Result<(), RunnerError> {
        let stale = self.claims.lock().map(|c| c.stale()).unwrap_or_default();
        for claim in stale {
            let claims = self.claims.clone();
            let seq = claim.started_seq;
            let guarded = self
                .with_journal(move |j| {
                    let run_dir = j.dir().to_path_buf();
                    let finish = claim
                        .interrupted(&run_dir)
                        .map_err(|e| RunnerError::Output {
                            path: run_dir.clone(),
                            source: e,
                        })?;
                    j.append_guarded(finish, |foreign| {
                        let mut c = claims.lock().map_err(|_| ())?;
                        foreign.iter().for_each(|e| c.observe(e));
                        let still = c.stale().iter().any(|s| s.started_seq == seq);
                        if still { Ok(Vec::new()) } else { Err(()) }
                    })
                    .map_err(RunnerError::Journal)
                })
                .await?;
            for e in guarded.foreign {
                self.tell(RunnerEvent::Recorded(Box::new(e))).await;
            }
            for a in guarded.appended.unwrap_or_default() {
                self.tell(RunnerEvent::Recorded(Box::new(a.entry))).await;
            }
        }
        Ok(())
    }
}

fn held(c: &Claim) -> RunnerError {
    RunnerError::Held {
        step: c.step.clone(),
        command: c.command.clone(),
        operator: c.operator.clone(),
        session: c.session.clone().unwrap_or_else(|| "?".into()),
        since: c.since.clone(),
    }
}
