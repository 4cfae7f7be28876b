//! One runner per step, across every process on a run. A `command_started` line is the claim:
//! it is written only under the journal's file lock, after catching up with the other writers,
//! and only if no live process holds the step. The claim ends with the command's
//! `command_finished`, or, when its process is gone, with an `interrupted` finish written by
//! whoever notices first (under the same lock, so only one does).
//!
//! A hold is a runner too: its `hold_started` line claims the step until its `hold_ended`, so a
//! second process cannot hold (or run a command of) a step another live process is holding, and
//! a holder that died is ended as `stopped` (the window resumes where it stood).

use std::collections::BTreeMap;
use std::path::Path;

use crate::journal::event::HoldOutcome;
use crate::journal::{Entry, Event, Outcome, outputs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub started_seq: u64,
    pub step: String,
    pub command: String,
    pub operator: String,
    /// `hostname:pid` of the process running it.
    pub session: Option<String>,
    pub since: String,
    /// A hold's claim rather than a command's.
    pub hold: bool,
}

impl Claim {
    /// Is the process holding it certainly gone? (Only one on this host can be checked; a
    /// claim from another host is assumed live.)
    pub fn is_stale(&self) -> bool {
        self.session
            .as_deref()
            .is_none_or(super::process::session_is_dead)
    }

    /// The line that ends a stale claim: a command's `interrupted` finish, keeping the output
    /// that reached disk, or a hold's `stopped` end.
    pub fn interrupted(&self, run_dir: &Path) -> std::io::Result<Event> {
        if self.hold {
            return Ok(Event::HoldEnded {
                step: self.step.clone(),
                outcome: HoldOutcome::Stopped,
                reason: format!(
                    "the session holding it ({}) ended; the hold resumes where it stood",
                    self.session.as_deref().unwrap_or("?")
                ),
            });
        }
        let (sha, len) = outputs::recover_partial(run_dir, self.started_seq)?;
        Ok(Event::CommandFinished {
            step: self.step.clone(),
            command: self.command.clone(),
            started_seq: self.started_seq,
            exit_status: None,
            signal: None,
            duration_ms: 0,
            output_sha256: sha,
            output_bytes: len,
            outcome: Outcome::Interrupted,
            reason: Some("the session running it ended before it finished".into()),
        })
    }
}

/// The commands running now, by the seq of their start, folded from journal lines in order.
#[derive(Debug, Default, Clone)]
pub struct Claims {
    running: BTreeMap<u64, Claim>,
}

impl Claims {
    pub fn from_entries(entries: &[Entry]) -> Claims {
        let mut c = Claims::default();
        entries.iter().for_each(|e| c.observe(e));
        c
    }

    /// Fold one line. Replaying lines already seen, in order, changes nothing.
    pub fn observe(&mut self, e: &Entry) {
        let claim =
            |step: &String, command: &str, operator: &String, session: &Option<String>| Claim {
                started_seq: e.seq,
                step: step.clone(),
                command: command.to_string(),
                operator: operator.clone(),
                session: session.clone(),
                since: e.ts.clone(),
                hold: matches!(e.event, Event::HoldStarted { .. }),
            };
        match &e.event {
            Event::CommandStarted {
                step,
                command,
                operator,
                session,
                ..
            } => {
                self.running
                    .insert(e.seq, claim(step, command, operator, session));
            }
            Event::CommandFinished { started_seq, .. } => {
                self.running.remove(started_seq);
            }
            // A hold line without a session was written before holds were claims: it claims
            // nothing (ending it for a "dead" holder could stop a hold that still runs).
            Event::HoldStarted {
                step,
                operator,
                session: session @ Some(_),
                ..
            } => {
                self.running
                    .insert(e.seq, claim(step, "its hold", operator, session));
            }
            Event::HoldEnded { step, .. } => {
                self.running.retain(|_, c| !(c.hold && &c.step == step));
            }
            _ => {}
        }
    }

    /// Who runs `step` now, if anyone.
    pub fn holder(&self, step: &str) -> Option<&Claim> {
        self.running.values().find(|c| c.step == step)
    }

    /// Claims whose process is gone.
    pub fn stale(&self) -> Vec<Claim> {
        self.running
            .values()
            .filter(|c| c.is_stale())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::journal::event::HoldOutcome;

    fn entry(seq: u64, event: Event) -> Entry {
        Entry {
            seq,
            ts: format!("t{seq}"),
            event,
            prev: String::new(),
        }
    }

    fn hold_started(seq: u64, session: Option<String>) -> Entry {
        entry(
            seq,
            Event::HoldStarted {
                step: "stage".into(),
                operator: "ana".into(),
                restart: false,
                session,
            },
        )
    }

    fn hold_ended(seq: u64) -> Entry {
        entry(
            seq,
            Event::HoldEnded {
                step: "stage".into(),
                outcome: HoldOutcome::Passed,
                reason: String::new(),
            },
        )
    }

    #[test]
    fn a_hold_claims_its_step_until_its_end() {
        let me = crate::runner::process::session_id();
        let mut c = Claims::from_entries(&[hold_started(3, Some(me.clone()))]);
        let h = c.holder("stage").expect("held");
        assert!(h.hold && !h.is_stale() && h.session.as_deref() == Some(me.as_str()));
        c.observe(&hold_ended(9));
        assert!(c.holder("stage").is_none());
    }

    #[test]
    fn a_dead_holder_is_ended_as_stopped_naming_its_session() {
        // A pid that cannot be alive on this host.
        let host = crate::runner::process::session_id();
        let host = host.rsplit_once(':').map_or("", |(h, _)| h);
        let dead = format!("{host}:{}", i32::MAX);
        let c = Claims::from_entries(&[hold_started(3, Some(dead.clone()))]);
        let stale = c.stale();
        assert_eq!(stale.len(), 1);
        let dir = tempfile::tempdir().expect("tmp");
        match stale[0].interrupted(dir.path()).expect("an ending") {
            Event::HoldEnded {
                outcome: HoldOutcome::Stopped,
                reason,
                ..
            } => assert!(reason.contains(&dead), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_hold_line_from_before_holds_were_claims_claims_nothing() {
        let c = Claims::from_entries(&[hold_started(3, None)]);
        assert!(c.holder("stage").is_none());
        assert!(
            c.stale().is_empty(),
            "nothing to end for a holder nobody can check"
        );
    }
}
