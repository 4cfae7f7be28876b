//! `rehearse verify`: check a run directory (or the journal half of a bundle) with nothing but
//! its files and a trust anchor from outside them: the hash chain, timestamps, every digest
//! field, every output, the runbook's binding, every signature and where it stands, the gate
//! lines, and what the sealed part proves.

use std::fmt;
use std::path::Path;

use super::seal::{self, SealedView, SigStatus};
use crate::journal::allowed_signers::AllowedSigners;
use crate::journal::state::RunState;
use crate::journal::{Entry, Event, GENESIS, JOURNAL_FILE, outputs, sha256_hex};
use crate::runbook::{self, Runbook};

pub const RUNBOOK_FILE: &str = "runbook.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `journal.jsonl:5`, `outputs/<sha>`, `MANIFEST:3`, `runbook.toml`.
    pub place: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub lines: usize,
    pub outputs: usize,
    pub signatures: usize,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
    /// What the sealed part proves; `None` when the journal or runbook could not be read.
    pub sealed: Option<SealedView>,
    pub runbook: Option<Runbook>,
    pub entries: Vec<Entry>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn problem(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            place: place.into(),
            message: message.into(),
        });
    }
}

pub use crate::journal::outputs::is_digest;

pub fn verify(dir: &Path, trust: Option<&AllowedSigners>) -> Report {
    let mut r = Report::default();
    let bytes = match std::fs::read(dir.join(JOURNAL_FILE)) {
        Ok(b) => b,
        Err(e) => {
            r.problem(JOURNAL_FILE, format!("cannot read: {e}"));
            return r;
        }
    };
    let lines = split_lines(&bytes, &mut r);
    let entries = check_chain(&lines, &mut r);
    let Some(entries) = entries else { return r };
    check_fields(dir, &entries, &mut r);
    check_signature_lines(&entries, &mut r);
    let Some(rb) = bound_runbook(dir, &entries, &mut r) else {
        r.entries = entries;
        return r;
    };
    check_gate_lines(&rb, &entries, &mut r);
    if let Some(Event::RunStarted {
        redirected: Some(to),
        ..
    }) = entries.first().map(|e| &e.event)
    {
        r.notes.push(format!(
            "every SSH target of this run ran on {to}, not on the hosts the runbook names: it \
             rehearses the runbook, and is not evidence about any real host"
        ));
    }
    let view = seal::evaluate(&rb, &entries, &lines, trust);
    for s in &view.signed {
        let place = format!("{JOURNAL_FILE}:{}", s.seq + 1);
        match s.status {
            SigStatus::Invalid => r.problem(
                &place,
                format!(
                    "signature of this {} by {}: {}",
                    s.kind,
                    s.operator,
                    s.problem.as_deref().unwrap_or("invalid")
                ),
            ),
            SigStatus::NotAllowed => r.notes.push(format!(
                "{place}: {} by {} is signed with {}, which {} does not allow for that name: not counted",
                s.kind,
                s.operator,
                s.key.as_deref().unwrap_or("?"),
                trust.map_or("the trust anchor", |t| t.origin.as_str())
            )),
            _ => {}
        }
    }
    if trust.is_none() && !view.signed.is_empty() {
        r.notes.push(
            "no trust anchor (--allowed-signers FILE, or allowed_signers in the config dir): \
             signatures are valid but untrusted and the gate is not proven"
                .into(),
        );
    }
    r.sealed = Some(view);
    r.runbook = Some(rb);
    r.entries = entries;
    r
}

fn split_lines<'a>(bytes: &'a [u8], r: &mut Report) -> Vec<&'a [u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    match lines.last() {
        Some([]) => {
            lines.pop();
        }
        Some(_) => {
            let n = lines.len();
            r.problem(
                format!("{JOURNAL_FILE}:{n}"),
                "the last line has no newline: a torn write",
            );
            lines.pop();
        }
        None => {}
    }
    lines
}

/// Parse and chain every line. `None` if a line is not an entry at all (nothing after it can
/// be placed).
fn check_chain(lines: &[&[u8]], r: &mut Report) -> Option<Vec<Entry>> {
    let mut prev = GENESIS.to_string();
    let mut entries = Vec::with_capacity(lines.len());
    let mut last_ts: Option<(std::time::SystemTime, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let place = format!("{JOURNAL_FILE}:{}", i + 1);
        r.lines += 1;
        let e: Entry = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                r.problem(&place, format!("not a journal entry: {e}"));
                return None;
            }
        };
        if e.seq != i as u64 {
            r.problem(
                &place,
                format!(
                    "seq is {}, expected {i} (a line is missing, added or out of order)",
                    e.seq
                ),
            );
        }
        if e.prev != prev {
            r.problem(
                &place,
                format!(
                    "prev is {}, but line {i} hashes to {}: the line before was changed",
                    short(&e.prev),
                    short(&prev)
                ),
            );
        }
        match humantime::parse_rfc3339(&e.ts) {
            Err(_) => r.problem(&place, format!("ts {:?} is not an RFC 3339 time", e.ts)),
            Ok(t) => {
                if let Some((before, at)) = last_ts
                    && t < before
                {
                    r.problem(
                        &place,
                        format!(
                            "ts {} is earlier than line {at}'s: time went backwards",
                            e.ts
                        ),
                    );
                }
                last_ts = Some((t, i + 1));
            }
        }
        prev = sha256_hex(line);
        entries.push(e);
    }
    Some(entries)
}

/// Digest fields are hostile until shown to be 64 lowercase hex; only then is an output read.
fn check_fields(dir: &Path, entries: &[Entry], r: &mut Report) {
    for e in entries {
        let place = format!("{JOURNAL_FILE}:{}", e.seq + 1);
        match &e.event {
            Event::CommandFinished {
                output_sha256,
                output_bytes,
                ..
            } => check_output(dir, output_sha256, Some(*output_bytes), &place, r),
            Event::Probe { output_sha256, .. } => {
                check_output(dir, output_sha256, None, &place, r);
            }
            Event::RunStarted { runbook_sha256, .. } if !is_digest(runbook_sha256) => {
                r.problem(
                    &place,
                    format!("runbook_sha256 {runbook_sha256:?} is not a digest"),
                );
            }
            _ => {}
        }
    }
}

fn check_output(dir: &Path, sha: &str, len: Option<u64>, place: &str, r: &mut Report) {
    r.outputs += 1;
    if !is_digest(sha) {
        r.problem(
            place,
            format!("output_sha256 {sha:?} is not 64 lowercase hex digits: refusing to use it"),
        );
        return;
    }
    // Hashed as a stream: a 1 GB output costs a buffer, not a gigabyte.
    match hash_file(&outputs::output_path(dir, sha)) {
        Err(e) => r.problem(place, format!("output {} is missing: {e}", short(sha))),
        Ok((got, size)) => {
            if got != sha {
                r.problem(
                    format!("outputs/{sha}"),
                    format!(
                        "content hashes to {}, not its name (referenced at {place})",
                        short(&got)
                    ),
                );
            } else if let Some(len) = len
                && size != len
            {
                r.problem(
                    place,
                    format!("output_bytes says {len}, the file holds {size}"),
                );
            }
        }
    }
}

/// SHA-256 (hex) and size of a file, read in blocks.
pub fn hash_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

/// A signature line must sign the line right before it, and that line must be of a signed
/// kind; a sign-off that names a key must be followed by its signature.
fn check_signature_lines(entries: &[Entry], r: &mut Report) {
    for (i, e) in entries.iter().enumerate() {
        let place = format!("{JOURNAL_FILE}:{}", i + 1);
        match &e.event {
            Event::Signature { signs_seq, .. } => {
                r.signatures += 1;
                let before = i.checked_sub(1).and_then(|j| entries.get(j));
                if *signs_seq + 1 != e.seq {
                    r.problem(
                        &place,
                        format!(
                            "signs seq {signs_seq}, but a signature must sign the line right before it (seq {})",
                            e.seq.saturating_sub(1)
                        ),
                    );
                } else if let Some(b) = before
                    && !b.event.is_signed_kind()
                {
                    r.problem(
                        &place,
                        format!(
                            "signs a {} line, which is not a kind that is signed",
                            b.event.kind()
                        ),
                    );
                }
            }
            Event::Signoff {
                key_fingerprint: Some(fp),
                ..
            } => {
                let next_signs = matches!(
                    entries.get(i + 1).map(|n| &n.event),
                    Some(Event::Signature { signs_seq, .. }) if *signs_seq == e.seq
                );
                if !next_signs {
                    r.problem(
                        &place,
                        format!("sign-off names key {fp} but no signature follows it"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// The runbook kept beside the journal, used only if it is the one the run started with.
fn bound_runbook(dir: &Path, entries: &[Entry], r: &mut Report) -> Option<Runbook> {
    let recorded = entries.first().and_then(|e| match &e.event {
        Event::RunStarted { runbook_sha256, .. } => Some(runbook_sha256.clone()),
        _ => None,
    });
    let Some(recorded) = recorded else {
        r.problem(
            format!("{JOURNAL_FILE}:1"),
            "the first line is not run_started",
        );
        return None;
    };
    let path = dir.join(RUNBOOK_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            r.problem(
                RUNBOOK_FILE,
                format!("cannot read: {e}; the gate cannot be recomputed"),
            );
            return None;
        }
    };
    let got = sha256_hex(&bytes);
    if got != recorded {
        r.problem(
            RUNBOOK_FILE,
            format!(
                "hashes to {got}, but the run started with runbook_sha256 {recorded}: not the runbook of this run"
            ),
        );
        return None;
    }
    match runbook::parse_bytes(&bytes, &path) {
        Ok(rb) => Some(rb),
        Err(e) => {
            r.problem(RUNBOOK_FILE, e.to_string());
            None
        }
    }
}

/// A `gate` line that says OPEN must agree with the gate recomputed over the lines before it,
/// as the writer computed it (the live view). A forged "gate opened" is an error.
fn check_gate_lines(rb: &Runbook, entries: &[Entry], r: &mut Report) {
    let mut state = RunState::default();
    for e in entries {
        if let Event::Gate { open, .. } = &e.event {
            let v = crate::gate::evaluate(rb, &state);
            let place = format!("{JOURNAL_FILE}:{}", e.seq + 1);
            if *open && !v.open {
                r.problem(
                    &place,
                    format!(
                        "says the gate opened, but the lines before it leave it shut ({})",
                        v.reasons().join("; ")
                    ),
                );
            } else if !*open && v.open {
                r.notes.push(format!(
                    "{place}: says the gate shut, though the lines before it would open it"
                ));
            }
        }
        state.apply(e);
    }
}

pub fn short(h: &str) -> String {
    h.chars().take(12).collect::<String>() + "…"
}
