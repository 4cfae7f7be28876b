//! The append-only, hash-chained journal: `RUN_DIR/journal.jsonl`, one JSON object per line.
//!
//! Every line carries `seq`, `ts`, `kind`, the event's fields and `prev`, the SHA-256 of the
//! previous line's bytes without its newline. Appends take an exclusive file lock, so several
//! processes may share one run: each append first reads what others wrote since, so `seq` and
//! `prev` stay consecutive, and hands those lines back to the caller to fold into its state.

pub mod allowed_signers;
pub mod event;
pub mod hold;
pub mod order;
pub mod outputs;
mod records;
pub mod sign;
pub mod state;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use event::{Event, Outcome};

pub const JOURNAL_FILE: &str = "journal.jsonl";
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: String,
    #[serde(flatten)]
    pub event: Event,
    pub prev: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Corrupt {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{0}: no journal here (expected {JOURNAL_FILE})")]
    Missing(PathBuf),
    #[error("{0}: a run already exists here")]
    Exists(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What `open` found after the last complete line: the bytes were moved to `saved_as`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub bytes: u64,
    pub saved_as: PathBuf,
}

/// A line as appended: the entry, and the exact bytes written (without the newline), which a
/// sign-off signature covers.
#[derive(Debug, Clone)]
pub struct Appended {
    pub entry: Entry,
    pub line: String,
    /// Lines other processes appended since we last looked, in order, before ours.
    pub foreign: Vec<Entry>,
}

/// What a guarded append did: the lines other writers had appended (read under the lock), and
/// ours, or the guard's refusal.
#[derive(Debug)]
pub struct Guarded<E> {
    pub foreign: Vec<Entry>,
    pub appended: Result<Vec<Appended>, E>,
}

#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes of the file we have read and checked.
    len: u64,
    next_seq: u64,
    last_hash: String,
}

impl Journal {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Create a new run directory's journal with its first event, atomically: the first line
    /// (and `extra` files, such as the runbook copy) are written and fsync'd under a temporary
    /// name, then linked into place with a call that fails if a journal is already there. Two
    /// processes creating one run: one wins; the other gets [`JournalError::Exists`] and can
    /// join the run instead. No one ever sees an empty journal or a journal without its first
    /// line.
    pub fn create(
        dir: &Path,
        first: Event,
        extra: &[(&str, &[u8])],
    ) -> Result<(Journal, Appended), JournalError> {
        fs::create_dir_all(dir.join(outputs::OUTPUTS_DIR)).map_err(io(dir))?;
        let path = dir.join(JOURNAL_FILE);
        if path.exists() {
            return Err(JournalError::Exists(dir.to_path_buf()));
        }
        for (name, bytes) in extra {
            let target = dir.join(name);
            if !target.exists() {
                write_durably(&target, bytes)?;
            }
        }
        let entry = Entry {
            seq: 0,
            ts: now_rfc3339(),
            event: first,
            prev: GENESIS.to_string(),
        };
        let line = encode(&path, &entry)?;
        let tmp = dir.join(format!(".journal.new-{}", std::process::id()));
        write_durably(&tmp, format!("{line}\n").as_bytes())?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(JournalError::Exists(dir.to_path_buf()));
            }
            Err(e) => return Err(io(&path)(e)),
        }
        sync_dir(dir);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let len = line.len() as u64 + 1;
        let j = Journal {
            dir: dir.to_path_buf(),
            path,
            file,
            len,
            next_seq: 1,
            last_hash: sha256_hex(line.as_bytes()),
        };
        Ok((
            j,
            Appended {
                entry,
                line,
                foreign: Vec::new(),
            },
        ))
    }

    /// Open an existing journal for appending. Returns every entry, and the torn tail if the
    /// last write was cut short (it is moved aside and recorded, never dropped).
    pub fn open(dir: &Path) -> Result<(Journal, Vec<Entry>, Option<TornTail>), JournalError> {
        let path = dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(JournalError::Missing(dir.to_path_buf()));
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut j = Journal {
            dir: dir.to_path_buf(),
            path,
            file,
            len: 0,
            next_seq: 0,
            last_hash: GENESIS.to_string(),
        };
        j.file.lock().map_err(io(&j.path))?;
        let result = j.open_locked();
        let _ = j.file.unlock();
        let (entries, torn) = result?;
        Ok((j, entries, torn))
    }

    fn open_locked(&mut self) -> Result<(Vec<Entry>, Option<TornTail>), JournalError> {
        let mut entries = self.read_new()?;
        let total = self.file.metadata().map_err(io(&self.path))?.len();
        if total == self.len {
            return Ok((entries, None));
        }
        // Bytes after the last newline: a write cut short. Keep them aside, then truncate.
        let mut torn = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(io(&self.path))?;
        self.file.read_to_end(&mut torn).map_err(io(&self.path))?;
        let saved_as = (1..)
            .map(|n| self.dir.join(format!("journal.torn-{n}")))
            .find(|p| !p.exists())
            .unwrap_or_else(|| self.dir.join("journal.torn"));
        let mut f = File::create(&saved_as).map_err(io(&saved_as))?;
        f.write_all(&torn).map_err(io(&saved_as))?;
        f.sync_all().map_err(io(&saved_as))?;
        self.file.set_len(self.len).map_err(io(&self.path))?;
        self.file.sync_all().map_err(io(&self.path))?;
        let tail = TornTail {
            bytes: torn.len() as u64,
            saved_as,
        };
        let appended = self.append_locked(Event::TornTail {
            bytes: tail.bytes,
            saved_as: tail
                .saved_as
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })?;
        entries.push(appended.entry);
        Ok((entries, Some(tail)))
    }

    /// Append one event: lock, catch up with other writers, write, fsync, unlock. When this
    /// returns, the line is on disk.
    pub fn append(&mut self, event: Event) -> Result<Appended, JournalError> {
        self.file.lock().map_err(io(&self.path))?;
        let result = self.append_locked(event);
        let _ = self.file.unlock();
        result
    }

    /// Append an event and, under the same lock, the event `then` builds from the exact bytes
    /// just written (a signature): nothing another process appends can come between them.
    pub fn append_then(
        &mut self,
        event: Event,
        then: impl FnOnce(&Appended) -> Option<Event>,
    ) -> Result<(Appended, Option<Appended>), JournalError> {
        self.file.lock().map_err(io(&self.path))?;
        let result = self.append_locked(event).and_then(|first| {
            let second = match then(&first) {
                Some(ev) => Some(self.append_locked(ev)?),
                None => None,
            };
            Ok((first, second))
        });
        let _ = self.file.unlock();
        result
    }

    /// Append under a condition checked while the file is locked, after catching up with
    /// other writers: `guard` sees the lines they appended since we last looked and either
    /// refuses (nothing is written) or returns events to write first, then `event` is written.
    /// Returns the other writers' lines (always: they were read) and what was appended.
    pub fn append_guarded<E>(
        &mut self,
        event: Event,
        guard: impl FnOnce(&[Entry]) -> Result<Vec<Event>, E>,
    ) -> Result<Guarded<E>, JournalError> {
        self.file.lock().map_err(io(&self.path))?;
        let result = self.read_new().and_then(|foreign| {
            let appended = match guard(&foreign) {
                Err(e) => Err(e),
                Ok(before) => {
                    let mut out = Vec::with_capacity(before.len() + 1);
                    for ev in before.into_iter().chain(std::iter::once(event)) {
                        out.push(self.append_locked(ev)?);
                    }
                    Ok(out)
                }
            };
            Ok(Guarded { foreign, appended })
        });
        let _ = self.file.unlock();
        result
    }

    fn append_locked(&mut self, event: Event) -> Result<Appended, JournalError> {
        let foreign = self.read_new()?;
        let entry = Entry {
            seq: self.next_seq,
            ts: now_rfc3339(),
            event,
            prev: self.last_hash.clone(),
        };
        let line = encode(&self.path, &entry)?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file.write_all(&buf).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.len += buf.len() as u64;
        self.next_seq += 1;
        self.last_hash = sha256_hex(line.as_bytes());
        Ok(Appended {
            entry,
            line,
            foreign,
        })
    }

    /// Lines appended by other processes since we last looked (following the journal live).
    pub fn poll(&mut self) -> Result<Vec<Entry>, JournalError> {
        self.file.lock_shared().map_err(io(&self.path))?;
        let r = self.read_new();
        let _ = self.file.unlock();
        r
    }

    /// Read complete lines after `self.len`, checking `seq` and `prev` as we go.
    fn read_new(&mut self) -> Result<Vec<Entry>, JournalError> {
        let total = self.file.metadata().map_err(io(&self.path))?.len();
        if total <= self.len {
            return Ok(Vec::new());
        }
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(io(&self.path))?;
        let mut buf = Vec::new();
        (&self.file)
            .take(total - self.len)
            .read_to_end(&mut buf)
            .map_err(io(&self.path))?;
        let mut out = Vec::new();
        let mut consumed = 0usize;
        while let Some(nl) = buf[consumed..].iter().position(|&b| b == b'\n') {
            let line = &buf[consumed..consumed + nl];
            let entry = self.check_line(line)?;
            self.last_hash = sha256_hex(line);
            self.next_seq += 1;
            consumed += nl + 1;
            out.push(entry);
        }
        self.len += consumed as u64;
        Ok(out)
    }

    fn check_line(&self, line: &[u8]) -> Result<Entry, JournalError> {
        let corrupt = |message: String| JournalError::Corrupt {
            path: self.path.clone(),
            line: self.next_seq + 1,
            message,
        };
        let entry: Entry = serde_json::from_slice(line)
            .map_err(|e| corrupt(format!("not a journal entry: {e}")))?;
        if entry.seq != self.next_seq {
            return Err(corrupt(format!(
                "seq is {}, expected {}",
                entry.seq, self.next_seq
            )));
        }
        if entry.prev != self.last_hash {
            return Err(corrupt(format!(
                "prev is {}, but the previous line hashes to {}",
                entry.prev, self.last_hash
            )));
        }
        Ok(entry)
    }
}

fn encode(path: &Path, entry: &Entry) -> Result<String, JournalError> {
    serde_json::to_string(entry).map_err(|e| JournalError::Corrupt {
        path: path.to_path_buf(),
        line: entry.seq + 1,
        message: format!("cannot encode event: {e}"),
    })
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Make a new directory entry durable (best effort: not every platform can fsync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Read a journal without opening it for appends (export, verify, follow-only views).
pub fn read_entries(dir: &Path) -> Result<Vec<Entry>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let text = fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            JournalError::Missing(dir.to_path_buf())
        } else {
            JournalError::Io {
                path: path.clone(),
                source: e,
            }
        }
    })?;
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_slice(line).map_err(|e| JournalError::Corrupt {
            path: path.clone(),
            line: i as u64 + 1,
            message: format!("not a journal entry: {e}"),
        })?;
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
