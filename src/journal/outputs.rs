//! Command output on disk: `RUN_DIR/outputs/<sha256>`, named by the digest of its (already
//! redacted) content. While a command runs its output goes to `outputs/partial-<seq>`, so what
//! arrived before a crash or a dropped connection is kept and can be finished later.
//!
//! The spool is written through (no buffer in this process): other instances on the run follow
//! it as it grows to show the command live, so a line must reach the file when it arrives, not
//! when a buffer fills.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use bytes::Bytes;

use sha2::{Digest, Sha256};

pub const OUTPUTS_DIR: &str = "outputs";

pub fn output_path(run_dir: &Path, sha256: &str) -> PathBuf {
    run_dir.join(OUTPUTS_DIR).join(sha256)
}

/// The path of an output named by a journal field, only if the field is a digest: a value
/// such as `../../x` never becomes a path.
pub fn checked_output_path(run_dir: &Path, sha256: &str) -> io::Result<PathBuf> {
    if is_digest(sha256) {
        Ok(output_path(run_dir, sha256))
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{sha256:?} is not a SHA-256 digest"),
        ))
    }
}

pub fn partial_path(run_dir: &Path, started_seq: u64) -> PathBuf {
    run_dir
        .join(OUTPUTS_DIR)
        .join(format!("partial-{started_seq}"))
}

/// Outputs this process sealed durably (fsync'd file and directory), by path.
static SEALED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> =
    std::sync::LazyLock::new(Default::default);

#[derive(Debug)]
pub struct OutputSpool {
    run_dir: PathBuf,
    partial: PathBuf,
    file: File,
    hasher: Hashing,
    len: u64,
}

/// Past this much output the digest is computed on a thread of its own (short outputs, most
/// commands, never start one).
const HASH_BESIDE_FROM: u64 = 1024 * 1024;
/// Chunks go to the hashing thread in batches of about this many bytes, so it wakes rarely;
/// at most `HASH_QUEUE` batches wait for it (memory stays bounded if it falls behind).
const HASH_BATCH: usize = 1024 * 1024;
const HASH_QUEUE: usize = 4;
/// The hashing thread also starts the disk writes of a long output every this many bytes, so
/// the final fsync (which must come before the journal line naming the output) finds little
/// left to write instead of the whole output: the disk works while the stream is received.
const SYNC_EVERY: usize = 64 * 1024 * 1024;

/// SHA-256 of what was written. On a fast stream it is computed beside the write rather than in
/// front of the next read: the chunks, shared not copied, go to a hashing thread, and the
/// receive path only writes them to the file.
#[derive(Debug)]
enum Hashing {
    Inline(Sha256),
    Beside {
        tx: mpsc::SyncSender<Vec<Bytes>>,
        thread: std::thread::JoinHandle<(Sha256, io::Result<()>)>,
        batch: Vec<Bytes>,
        batched: usize,
    },
}

impl Hashing {
    fn update(&mut self, chunk: Bytes, len_before: u64, file: &File) {
        if let Hashing::Inline(h) = self {
            if len_before < HASH_BESIDE_FROM {
                h.update(&chunk);
                return;
            }
            let h = std::mem::take(h);
            match spawn_hasher(h.clone(), file.try_clone().ok()) {
                Some((tx, thread)) => {
                    *self = Hashing::Beside {
                        tx,
                        thread,
                        batch: Vec::new(),
                        batched: 0,
                    };
                }
                None => {
                    // No thread to be had: hash here, as short outputs are.
                    let mut h = h;
                    h.update(&chunk);
                    *self = Hashing::Inline(h);
                    return;
                }
            }
        }
        if let Hashing::Beside {
            tx, batch, batched, ..
        } = self
        {
            *batched += chunk.len();
            batch.push(chunk);
            if *batched >= HASH_BATCH {
                // Blocks only while the hashing thread is HASH_QUEUE batches behind.
                let _ = tx.send(std::mem::take(batch));
                *batched = 0;
            }
        }
    }

    fn finalize(self) -> io::Result<String> {
        let h = match self {
            Hashing::Inline(h) => h,
            Hashing::Beside {
                tx, thread, batch, ..
            } => {
                let _ = tx.send(batch);
                drop(tx);
                let (h, synced) = thread
                    .join()
                    .map_err(|_| io::Error::other("the output's hashing thread panicked"))?;
                // The descriptor is shared: an error the thread's sync saw is not seen again
                // by the final one, so it is reported here.
                synced?;
                h
            }
        };
        Ok(hex::encode(h.finalize()))
    }
}

type Hasher = (
    mpsc::SyncSender<Vec<Bytes>>,
    std::thread::JoinHandle<(Sha256, io::Result<()>)>,
);

fn spawn_hasher(mut h: Sha256, file: Option<File>) -> Option<Hasher> {
    let (tx, rx) = mpsc::sync_channel::<Vec<Bytes>>(HASH_QUEUE);
    let thread = std::thread::Builder::new()
        .name("output-sha256".into())
        .spawn(move || {
            let (mut unsynced, mut synced) = (0usize, Ok(()));
            for batch in rx {
                for chunk in batch {
                    h.update(&chunk);
                    unsynced += chunk.len();
                }
                if let Some(f) = file.as_ref().filter(|_| unsynced >= SYNC_EVERY) {
                    unsynced = 0;
                    if synced.is_ok() {
                        synced = f.sync_data();
                    }
                }
            }
            (h, synced)
        })
        .ok()?;
    Some((tx, thread))
}

impl OutputSpool {
    pub fn create(run_dir: &Path, started_seq: u64) -> io::Result<OutputSpool> {
        fs::create_dir_all(run_dir.join(OUTPUTS_DIR))?;
        let partial = partial_path(run_dir, started_seq);
        let file = File::create(&partial)?;
        Ok(OutputSpool {
            run_dir: run_dir.to_path_buf(),
            partial,
            file,
            hasher: Hashing::Inline(Sha256::new()),
            len: 0,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.hasher {
            Hashing::Inline(h) if self.len < HASH_BESIDE_FROM => {
                self.file.write_all(bytes)?;
                h.update(bytes);
                self.len += bytes.len() as u64;
                Ok(())
            }
            _ => self.write_shared(Bytes::copy_from_slice(bytes)),
        }
    }

    /// Write a chunk the caller shares (no copy is made of it).
    pub fn write_shared(&mut self, bytes: Bytes) -> io::Result<()> {
        self.file.write_all(&bytes)?;
        let before = self.len;
        self.len += bytes.len() as u64;
        self.hasher.update(bytes, before, &self.file);
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nothing is buffered here; kept so callers can say where durability matters.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// Make the output durable under its digest. Returns (sha256, length).
    ///
    /// Content addressing pays for itself here: if this process already sealed an output with
    /// this digest (every `true`, every empty output, a probe that prints the same line each
    /// time), it made it durable then (file and directory fsync'd before the line naming it was
    /// written), so the copy is dropped without any fsync.
    pub fn finish(self) -> io::Result<(String, u64)> {
        let sha = self.hasher.finalize()?;
        let dest = output_path(&self.run_dir, &sha);
        let known = SEALED.lock().is_ok_and(|s| s.contains(&dest));
        if known && dest.exists() {
            drop(self.file);
            fs::remove_file(&self.partial)?;
            return Ok((sha, self.len));
        }
        self.file.sync_all()?;
        seal(&self.run_dir, &self.partial, &sha)?;
        if let Ok(mut s) = SEALED.lock() {
            s.insert(dest);
        }
        Ok((sha, self.len))
    }
}

fn seal(run_dir: &Path, partial: &Path, sha: &str) -> io::Result<()> {
    let dest = output_path(run_dir, sha);
    if dest.exists() {
        fs::remove_file(partial)?;
    } else {
        fs::rename(partial, &dest)?;
    }
    if let Ok(d) = File::open(run_dir.join(OUTPUTS_DIR)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// After a crash: seal the partial output of the command started at `started_seq`, if any.
pub fn recover_partial(run_dir: &Path, started_seq: u64) -> io::Result<(String, u64)> {
    let partial = partial_path(run_dir, started_seq);
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    match File::open(&partial) {
        Ok(mut f) => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                len += n as u64;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            File::create(&partial)?;
        }
        Err(e) => return Err(e),
    }
    let sha = hex::encode(hasher.finalize());
    seal(run_dir, &partial, &sha)?;
    Ok((sha, len))
}

/// The last `max` bytes of an output file, for excerpts and for a step's log after a restart.
pub fn read_tail(run_dir: &Path, sha256: &str, max: u64) -> io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(checked_output_path(run_dir, sha256)?)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// A digest field as it must be before it is used anywhere, least of all in a path.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What [`read_from`] found: the bytes after `offset` (at most `max`), where the next read
/// starts, and how many bytes were passed over to stay within `max`.
#[derive(Debug, Default, PartialEq)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub next: u64,
    pub skipped: u64,
}

/// Read what a file holds after `offset`, at most `max` bytes: when more is there, the oldest
/// part is skipped, so a follower that fell behind catches up with bounded memory. A file that
/// does not exist (yet, or any more) reads as nothing.
pub fn read_from(path: &Path, offset: u64, max: u64) -> io::Result<Chunk> {
    use std::io::{Seek, SeekFrom};
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Chunk {
                next: offset,
                ..Chunk::default()
            });
        }
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    if len <= offset {
        return Ok(Chunk {
            next: offset,
            ..Chunk::default()
        });
    }
    let start = offset.max(len - max.min(len));
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(len - start).read_to_end(&mut bytes)?;
    Ok(Chunk {
        next: start + bytes.len() as u64,
        skipped: start - offset,
        bytes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The digest computed beside the write is the digest of what is on disk, in order: a
    /// stream long enough to start the hashing thread, fed both as shared chunks and as
    /// slices, against a short one hashed inline (the control).
    #[test]
    fn digest_beside_the_write_matches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (seq, total) in [(1u64, 100_000usize), (2, 5 * 1024 * 1024 + 77)] {
            let mut spool = OutputSpool::create(dir.path(), seq).unwrap();
            let mut all = Vec::new();
            let mut i = 0usize;
            while all.len() < total {
                let n = (total - all.len()).min(1000 + (i * 7919) % 70_000);
                let chunk: Vec<u8> = (0..n).map(|k| ((i * 31 + k) % 251) as u8).collect();
                all.extend_from_slice(&chunk);
                if i.is_multiple_of(3) {
                    spool.write(&chunk).unwrap();
                } else {
                    spool.write_shared(Bytes::from(chunk)).unwrap();
                }
                i += 1;
            }
            let started_beside = matches!(spool.hasher, Hashing::Beside { .. });
            assert_eq!(started_beside, total > 2 * 1024 * 1024, "{total} bytes");
            let (sha, len) = spool.finish().unwrap();
            assert_eq!(len, total as u64);
            assert_eq!(sha, hex::encode(Sha256::digest(&all)));
            assert_eq!(fs::read(output_path(dir.path(), &sha)).unwrap(), all);
        }
    }
}
