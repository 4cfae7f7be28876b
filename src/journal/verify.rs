//! `rehearse verify`: check a run directory or an exported bundle with nothing but its files:
//! the hash chain, every output digest, `SHA256SUMS`, and every sign-off signature.

use std::fmt;
use std::path::Path;

use super::sign::{self, AllowedSigners};
use super::{Entry, Event, GENESIS, JOURNAL_FILE, outputs, sha256_hex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `journal.jsonl:5`, `outputs/<sha>`, `SHA256SUMS:3`.
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
    pub sums: usize,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            place: place.into(),
            message: message.into(),
        });
    }
}

pub fn verify(dir: &Path, allowed: Option<&AllowedSigners>) -> Report {
    let mut r = Report::default();
    let bytes = match std::fs::read(dir.join(JOURNAL_FILE)) {
        Ok(b) => b,
        Err(e) => {
            r.problem(JOURNAL_FILE, format!("cannot read: {e}"));
            return r;
        }
    };
    let lines = split_lines(&bytes, &mut r);
    check_chain(dir, &lines, allowed, &mut r);
    check_sums(dir, &mut r);
    if allowed.is_none() && r.signatures > 0 {
        r.notes.push("signatures were checked against the keys they carry; pass --allowed-signers to check who may sign".into());
    }
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

fn check_chain(dir: &Path, lines: &[&[u8]], allowed: Option<&AllowedSigners>, r: &mut Report) {
    let mut prev = GENESIS.to_string();
    let mut entries: Vec<Option<Entry>> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let place = format!("{JOURNAL_FILE}:{}", i + 1);
        r.lines += 1;
        match serde_json::from_slice::<Entry>(line) {
            Err(e) => {
                r.problem(&place, format!("not a journal entry: {e}"));
                entries.push(None);
            }
            Ok(e) => {
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
                            "prev is {}, but line {} hashes to {prev}: the line before was changed",
                            short(&e.prev),
                            i
                        ),
                    );
                }
                entries.push(Some(e));
            }
        }
        prev = sha256_hex(line);
    }
    for (i, e) in entries.iter().enumerate() {
        let Some(e) = e else { continue };
        let place = format!("{JOURNAL_FILE}:{}", i + 1);
        match &e.event {
            Event::CommandFinished {
                output_sha256,
                output_bytes,
                ..
            } => check_output(dir, output_sha256, *output_bytes, &place, r),
            Event::Probe { output_sha256, .. } => {
                check_output(dir, output_sha256, u64::MAX, &place, r)
            }
            Event::Signature {
                signs_seq,
                key_fingerprint,
                signature,
            } => {
                r.signatures += 1;
                check_signature(
                    lines,
                    &entries,
                    *signs_seq,
                    key_fingerprint,
                    signature,
                    allowed,
                    &place,
                    r,
                );
            }
            _ => {}
        }
    }
}

fn check_output(dir: &Path, sha: &str, len: u64, place: &str, r: &mut Report) {
    r.outputs += 1;
    match std::fs::read(outputs::output_path(dir, sha)) {
        Err(e) => r.problem(place, format!("output {} is missing: {e}", short(sha))),
        Ok(b) => {
            let got = sha256_hex(&b);
            if got != sha {
                r.problem(
                    format!("outputs/{sha}"),
                    format!(
                        "content hashes to {}, not its name (referenced at {place})",
                        short(&got)
                    ),
                );
            } else if len != u64::MAX && b.len() as u64 != len {
                r.problem(
                    place,
                    format!("output_bytes says {len}, the file holds {}", b.len()),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_signature(
    lines: &[&[u8]],
    entries: &[Option<Entry>],
    signs_seq: u64,
    key_fingerprint: &str,
    armored: &str,
    allowed: Option<&AllowedSigners>,
    place: &str,
    r: &mut Report,
) {
    let idx = usize::try_from(signs_seq).unwrap_or(usize::MAX);
    let Some(Some(signed)) = entries.get(idx) else {
        r.problem(
            place,
            format!(
                "signs line {} (seq {signs_seq}), which does not exist",
                idx.saturating_add(1)
            ),
        );
        return;
    };
    let Event::Signoff {
        operator,
        key_fingerprint: claimed,
        ..
    } = &signed.event
    else {
        r.problem(
            place,
            format!(
                "signs seq {signs_seq}, which is a {} line, not a signoff",
                signed.event.kind()
            ),
        );
        return;
    };
    match sign::verify(armored, lines[idx]) {
        Err(e) => r.problem(
            place,
            format!("signature of line {} (signoff by {operator}): {e}", idx + 1),
        ),
        Ok(key) => {
            let fp = key.fingerprint(russh::keys::HashAlg::Sha256).to_string();
            if fp != key_fingerprint || claimed.as_deref().is_some_and(|c| c != fp) {
                r.problem(
                    place,
                    format!("signed by {fp}, but the lines name {key_fingerprint}"),
                );
            }
            if let Some(a) = allowed
                && !a.allows(operator, &key)
            {
                r.problem(
                    place,
                    format!("{operator} is not allowed to sign with {fp} (allowed_signers)"),
                );
            }
        }
    }
}

pub const SUMS_FILE: &str = "SHA256SUMS";

fn check_sums(dir: &Path, r: &mut Report) {
    let Ok(text) = std::fs::read_to_string(dir.join(SUMS_FILE)) else {
        return;
    };
    for (i, line) in text.lines().enumerate() {
        let place = format!("{SUMS_FILE}:{}", i + 1);
        let Some((hash, name)) = line.split_once("  ") else {
            r.problem(&place, "expected `<sha256>  <path>`");
            continue;
        };
        if name.contains("..") || name.starts_with('/') {
            r.problem(&place, format!("refusing path {name:?}"));
            continue;
        }
        r.sums += 1;
        match std::fs::read(dir.join(name)) {
            Err(e) => r.problem(&place, format!("{name}: {e}")),
            Ok(b) if sha256_hex(&b) != hash => r.problem(
                &place,
                format!(
                    "{name} hashes to {}, not {}",
                    short(&sha256_hex(&b)),
                    short(hash)
                ),
            ),
            Ok(_) => {}
        }
    }
}

fn short(h: &str) -> String {
    h.chars().take(12).collect::<String>() + "…"
}
