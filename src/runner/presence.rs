//! Who has a run open. Each instance keeps a file under `RUN_DIR/presence/`, named for its
//! session, and holds an exclusive lock on it for as long as it lives; the OS releases the lock
//! when the process ends, however it ends. The journal says who joined (`joined`) and who left
//! (`left`); an instance that joined and whose lock is free is gone, and whoever notices first
//! records its departure, once, under the journal's lock.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::journal::{Entry, Event};

pub const PRESENCE_DIR: &str = "presence";

/// This instance's presence: the locked file. Dropping it (or the process dying) frees it.
#[derive(Debug)]
pub struct Here {
    _file: File,
    path: PathBuf,
}

impl Here {
    /// Leave cleanly (after the `left` line is recorded): the file goes, then the lock.
    pub fn leave(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A session id as a file name: hex, so a hostile id (`..`, `a/../../b`) never names a path
/// outside the directory and two ids never share a file.
fn file_name(session: &str) -> String {
    format!("{}.lock", hex::encode(session.as_bytes()))
}

fn path_of(run_dir: &Path, session: &str) -> PathBuf {
    run_dir.join(PRESENCE_DIR).join(file_name(session))
}

/// Take this instance's place on the run. Record `joined` only after this succeeds.
pub fn announce(run_dir: &Path, session: &str) -> io::Result<Here> {
    fs::create_dir_all(run_dir.join(PRESENCE_DIR))?;
    let path = path_of(run_dir, session);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    file.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is held by another live process", path.display()),
        ),
        fs::TryLockError::Error(e) => e,
    })?;
    file.set_len(0)?;
    file.write_all(session.as_bytes())?;
    Ok(Here { _file: file, path })
}

/// Is the instance of `session` still there? Its file locked by someone means yes; a missing
/// file or a free lock means it is gone.
pub fn is_alive(run_dir: &Path, session: &str) -> bool {
    let Ok(f) = File::open(path_of(run_dir, session)) else {
        return false;
    };
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(fs::TryLockError::WouldBlock) => true,
        // Cannot tell (a filesystem without locks): assume alive rather than record a lie.
        Err(fs::TryLockError::Error(_)) => true,
    }
}

/// Who joined and has not left, from the journal lines seen so far.
#[derive(Debug, Default)]
pub struct Roster {
    ours: String,
    /// session -> operator
    here: BTreeMap<String, String>,
}

impl Roster {
    pub fn new(ours: String, seen: &[Entry]) -> Roster {
        let mut r = Roster {
            ours,
            here: BTreeMap::new(),
        };
        seen.iter().for_each(|e| r.observe(e));
        r
    }

    pub fn observe(&mut self, e: &Entry) {
        match &e.event {
            Event::Joined {
                operator, session, ..
            } => {
                self.here.insert(session.clone(), operator.clone());
            }
            Event::Left { session, .. } => {
                self.here.remove(session);
            }
            _ => {}
        }
    }

    /// The departures to record: instances on the roster (not this one) whose lock is free.
    pub fn gone(&self, run_dir: &Path) -> Vec<Event> {
        self.here
            .iter()
            .filter(|(s, _)| **s != self.ours && !is_alive(run_dir, s))
            .map(|(session, operator)| Event::Left {
                operator: operator.clone(),
                session: session.clone(),
                reason: "gone: its process ended without leaving".into(),
            })
            .collect()
    }
}

/// Under the journal lock, with the lines appended since we last read: is `session` still
/// gone and its departure still unrecorded? (Another instance may have recorded it, or the
/// session may have come back.)
pub fn still_gone(run_dir: &Path, session: &str, foreign: &[Entry]) -> bool {
    let recorded = foreign.iter().any(|e| match &e.event {
        Event::Left { session: s, .. } | Event::Joined { session: s, .. } => s == session,
        _ => false,
    });
    !recorded && !is_alive(run_dir, session)
}

/// After a departure is recorded: the dead instance's file is no longer anyone's.
pub fn clear(run_dir: &Path, session: &str) {
    let _ = fs::remove_file(path_of(run_dir, session));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn a_held_lock_is_alive_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().expect("tmp");
        let here = announce(dir.path(), "host:1").expect("announce");
        assert!(is_alive(dir.path(), "host:1"));
        assert!(
            announce(dir.path(), "host:1").is_err(),
            "one place per session"
        );
        drop(here);
        assert!(!is_alive(dir.path(), "host:1"));
        assert!(!is_alive(dir.path(), "host:2"), "never announced");
    }

    #[test]
    fn a_hostile_session_id_stays_inside_the_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        for hostile in ["..", "../x", "/etc/passwd", "a\nb"] {
            let _h = announce(dir.path(), hostile).expect("announce");
            assert!(path_of(dir.path(), hostile).starts_with(dir.path().join(PRESENCE_DIR)));
            assert!(is_alive(dir.path(), hostile));
        }
        assert!(!dir.path().join("x").exists());
        // The control: an honest id round-trips to its own file.
        let _h = announce(dir.path(), "host:42").expect("announce");
        assert!(path_of(dir.path(), "host:42").exists());
    }
}
