//! Another instance's running command, shown live here: its output spool
//! (`outputs/partial-<seq>`, redacted before it reaches the disk, written through) is read from
//! where the last read stopped on every follow tick, and whatever is left when the command ends
//! is read from the sealed output before its `command_finished` line is passed on. Each read is
//! bounded: an instance that falls behind a flood skips ahead and says how much it passed over
//! (the full output stays on disk).

use std::collections::BTreeMap;
use std::path::Path;

use super::RunnerEvent;
use crate::journal::outputs::{self, Chunk};
use crate::journal::{Entry, Event};

/// At most this much of one command's output is read per tick (or at its end).
pub const MAX_READ: u64 = 256 * 1024;

struct Followed {
    step: String,
    command: String,
    offset: u64,
}

/// The commands other processes are running on this run, and how far each has been read.
pub struct Follower {
    ours: String,
    live: BTreeMap<u64, Followed>,
}

impl Follower {
    /// `ours` is this process's session id: its own commands reach the listener directly.
    pub fn new(ours: String, seen: &[Entry]) -> Follower {
        let mut f = Follower {
            ours,
            live: BTreeMap::new(),
        };
        // Lines from before we opened: follow what is still running, from its start.
        for e in seen {
            f.track(e);
        }
        f
    }

    /// Start or stop following on a journal line. Returns the seq of a followed command that
    /// this line ends, with where its reading stopped.
    fn track(&mut self, e: &Entry) -> Option<(u64, Followed)> {
        match &e.event {
            Event::CommandStarted {
                step,
                command,
                session,
                ..
            } if session.as_deref() != Some(self.ours.as_str()) => {
                self.live.insert(
                    e.seq,
                    Followed {
                        step: step.clone(),
                        command: command.clone(),
                        offset: 0,
                    },
                );
                None
            }
            Event::CommandFinished { started_seq, .. } => {
                self.live.remove(started_seq).map(|f| (*started_seq, f))
            }
            _ => None,
        }
    }

    /// A journal line about to be passed on: when it ends a followed command, the output not
    /// read yet (from the sealed file), to be shown before it.
    pub fn on_line(&mut self, run_dir: &Path, e: &Entry) -> Vec<RunnerEvent> {
        let Some((seq, f)) = self.track(e) else {
            return Vec::new();
        };
        let Event::CommandFinished { output_sha256, .. } = &e.event else {
            return Vec::new();
        };
        // A digest that is not one never becomes a path.
        let Ok(path) = outputs::checked_output_path(run_dir, output_sha256) else {
            return Vec::new();
        };
        match outputs::read_from(&path, f.offset, MAX_READ) {
            Ok(c) => output(seq, &f, c),
            Err(e) => {
                tracing::warn!("cannot read output {}: {e}", path.display());
                Vec::new()
            }
        }
    }

    /// Read what every followed command wrote since the last tick.
    pub fn poll(&mut self, run_dir: &Path) -> Vec<RunnerEvent> {
        let mut out = Vec::new();
        for (seq, f) in &mut self.live {
            let path = outputs::partial_path(run_dir, *seq);
            match outputs::read_from(&path, f.offset, MAX_READ) {
                Ok(c) => {
                    let next = c.next;
                    out.extend(output(*seq, f, c));
                    f.offset = next;
                }
                Err(e) => tracing::warn!("cannot follow {}: {e}", path.display()),
            }
        }
        out
    }
}

fn output(seq: u64, f: &Followed, c: Chunk) -> Vec<RunnerEvent> {
    let event = |bytes: Vec<u8>| RunnerEvent::Output {
        started_seq: seq,
        step: f.step.clone(),
        command: f.command.clone(),
        stderr: false,
        bytes: bytes.into(),
    };
    let mut out = Vec::new();
    if c.skipped > 0 {
        out.push(event(
            format!(
                "\n[{} bytes not shown live: they are in the stored output]\n",
                c.skipped
            )
            .into_bytes(),
        ));
    }
    if !c.bytes.is_empty() {
        out.push(event(c.bytes));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use crate::journal::Outcome;

    fn entry(seq: u64, event: Event) -> Entry {
        Entry {
            seq,
            ts: String::new(),
            event,
            prev: String::new(),
        }
    }

    fn started(seq: u64, session: &str) -> Entry {
        entry(
            seq,
            Event::CommandStarted {
                step: "s".into(),
                command: "c".into(),
                target: "local".into(),
                run: "x".into(),
                operator: "ana".into(),
                session: Some(session.into()),
            },
        )
    }

    fn bytes(evs: &[RunnerEvent]) -> Vec<u8> {
        evs.iter()
            .flat_map(|e| match e {
                RunnerEvent::Output { bytes, .. } => bytes.to_vec(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn follows_others_incrementally_and_reads_the_rest_from_the_sealed_output() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spool = outputs::OutputSpool::create(dir.path(), 7).expect("spool");
        let mut f = Follower::new("me:1".into(), &[started(3, "me:1")]);
        assert!(f.on_line(dir.path(), &started(7, "other:2")).is_empty());
        spool.write(b"first\n").expect("write");
        assert_eq!(bytes(&f.poll(dir.path())), b"first\n");
        assert!(f.poll(dir.path()).is_empty(), "nothing new, nothing read");
        spool.write(b"second\n").expect("write");
        let (sha, len) = spool.finish().expect("finish");
        let end = entry(
            8,
            Event::CommandFinished {
                step: "s".into(),
                command: "c".into(),
                started_seq: 7,
                exit_status: Some(0),
                signal: None,
                duration_ms: 1,
                output_sha256: sha,
                output_bytes: len,
                outcome: Outcome::Passed,
                reason: None,
            },
        );
        assert_eq!(bytes(&f.on_line(dir.path(), &end)), b"second\n");
        assert!(f.poll(dir.path()).is_empty());
    }

    #[test]
    fn our_own_commands_are_not_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spool = outputs::OutputSpool::create(dir.path(), 3).expect("spool");
        spool.write(b"mine\n").expect("write");
        let mut f = Follower::new("me:1".into(), &[started(3, "me:1")]);
        assert!(f.poll(dir.path()).is_empty());
    }

    #[test]
    fn a_flood_is_read_with_bounded_memory() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spool = outputs::OutputSpool::create(dir.path(), 5).expect("spool");
        let mut f = Follower::new("me:1".into(), &[started(5, "other:2")]);
        let big = vec![b'x'; usize::try_from(MAX_READ * 3).expect("size")];
        spool.write(&big).expect("write");
        let evs = f.poll(dir.path());
        let got = bytes(&evs);
        assert!(got.len() < usize::try_from(MAX_READ).expect("size") + 200);
        assert!(String::from_utf8_lossy(&got).contains("bytes not shown live"));
    }
}
