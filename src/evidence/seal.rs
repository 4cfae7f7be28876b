//! What a journal proves. A signature over line N covers lines 1..=N (each line carries the
//! hash of the one before), so the *sealed* part of a journal is everything up to the last line
//! signed by a valid signature from a key the reader trusts. Lines after it are the *unsealed
//! tail*: shown, never counted. The gate's proven verdict is computed over the sealed part only,
//! and a sign-off counts only when its own signature is valid and trusted, once per key.
//!
//! This assumes the hash chain holds (`verify` checks it); the TUI's reader checks it as it
//! reads.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::gate::{self, Verdict};
use crate::journal::allowed_signers::AllowedSigners;
use crate::journal::state::RunState;
use crate::journal::{Entry, Event, GENESIS, sha256_hex, sign};
use crate::runbook::Runbook;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SigStatus {
    /// Valid, and the trust anchor allows this key for this name.
    Trusted,
    /// Valid, but there is no trust anchor to say whose key it is.
    ValidUntrusted,
    /// Valid, but the trust anchor does not allow this key for this name (now).
    NotAllowed,
    /// A signature is there and does not hold.
    Invalid,
    /// No signature line follows.
    Unsigned,
}

impl SigStatus {
    pub fn label(&self) -> &'static str {
        match self {
            SigStatus::Trusted => "signed, trusted",
            SigStatus::ValidUntrusted => "signed, valid but untrusted (no trust anchor)",
            SigStatus::NotAllowed => "signed, valid but key not allowed for this name",
            SigStatus::Invalid => "signature INVALID",
            SigStatus::Unsigned => "unsigned",
        }
    }
}

/// One line of a signed kind (sign-off, seal, gate opening) and what its signature shows.
#[derive(Debug, Clone, Serialize)]
pub struct SignedLine {
    pub seq: u64,
    pub ts: String,
    pub kind: &'static str,
    pub operator: String,
    /// Step and note of a sign-off.
    pub step: Option<String>,
    pub note: Option<String>,
    /// `SHA256:...` of the key that really signed it, when a signature verifies.
    pub key: Option<String>,
    pub status: SigStatus,
    /// Why a signature is invalid.
    pub problem: Option<String>,
    /// The `prev` of the line: the head of the journal it was signed over.
    pub over_head: String,
}

#[derive(Debug, Clone)]
pub struct SealedView {
    pub anchored: bool,
    pub lines: usize,
    /// Seq of the last sealed line.
    pub sealed_upto: Option<u64>,
    /// Lines after the sealing signature line: shown, never counted.
    pub tail_len: usize,
    /// The run as the sealed part tells it.
    pub state: RunState,
    pub verdict: Verdict,
    pub signed: Vec<SignedLine>,
    /// The last gate opening in the sealed part.
    pub opened: Option<SignedLine>,
    /// SHA-256 of the last line: the journal's head.
    pub head: String,
}

impl SealedView {
    /// The gate verdict a reviewer may rely on: OPEN only if trusted, sealed evidence says so.
    pub fn label(&self) -> &'static str {
        if !self.anchored {
            "NOT PROVEN (no trust anchor)"
        } else if self.sealed_upto.is_none() {
            "NOT PROVEN (nothing sealed by a trusted signature)"
        } else if self.verdict.open {
            "OPEN"
        } else {
            "SHUT"
        }
    }

    pub fn proven_open(&self) -> bool {
        self.anchored && self.sealed_upto.is_some() && self.verdict.open
    }

    pub fn is_sealed(&self, seq: u64) -> bool {
        self.sealed_upto.is_some_and(|n| seq <= n)
    }

    pub fn signoff(&self, seq: u64) -> Option<&SignedLine> {
        self.signed.iter().find(|s| s.seq == seq)
    }
}

/// Evaluate with the exact bytes of each line (`raw[i]` is line i without its newline).
pub fn evaluate(
    rb: &Runbook,
    entries: &[Entry],
    raw: &[&[u8]],
    trust: Option<&AllowedSigners>,
) -> SealedView {
    let mut signed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.event.is_signed_kind() {
            signed.push(check_one(entries, raw, i, trust));
        }
    }
    let sealed_upto = signed
        .iter()
        .filter(|s| s.status == SigStatus::Trusted)
        .map(|s| s.seq)
        .max();
    // Lines before `sealed_len` are sealed; the sealing signature right after them is the seal
    // itself, neither sealed content nor tail.
    let (sealed_len, tail_len) = match sealed_upto {
        Some(n) => {
            let len = usize::try_from(n)
                .map_or(entries.len(), |n| n + 1)
                .min(entries.len());
            (len, entries.len().saturating_sub(len + 1))
        }
        None => (0, entries.len()),
    };
    let state = RunState::from_entries(&entries[..sealed_len]);
    let counted: BTreeMap<u64, String> = signed
        .iter()
        .filter(|s| s.status == SigStatus::Trusted && s.kind == "signoff")
        .filter_map(|s| Some((s.seq, s.key.clone()?)))
        .collect();
    let verdict = gate::evaluate_with(rb, &state, &|so| counted.get(&so.seq).cloned());
    let opened = signed
        .iter()
        .rfind(|s| s.kind == "gate" && sealed_upto.is_some_and(|n| s.seq <= n))
        .cloned();
    SealedView {
        anchored: trust.is_some(),
        lines: entries.len(),
        sealed_upto,
        tail_len,
        state,
        verdict,
        signed,
        opened,
        head: raw.last().map_or(GENESIS.to_string(), |l| sha256_hex(l)),
    }
}

/// Evaluate from parsed entries alone (the TUI): each line is re-encoded as the writer encoded
/// it. A line that was not written by rehearse re-encodes differently and its signature fails,
/// which is the safe direction.
pub fn evaluate_entries(
    rb: &Runbook,
    entries: &[Entry],
    trust: Option<&AllowedSigners>,
) -> SealedView {
    let raw: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap_or_default())
        .collect();
    let refs: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    evaluate(rb, entries, &refs, trust)
}

fn check_one(
    entries: &[Entry],
    raw: &[&[u8]],
    i: usize,
    trust: Option<&AllowedSigners>,
) -> SignedLine {
    let e = &entries[i];
    let operator = e.event.signer_name().unwrap_or_default().to_string();
    let mut out = SignedLine {
        seq: e.seq,
        ts: e.ts.clone(),
        kind: e.event.kind(),
        operator: operator.clone(),
        step: match &e.event {
            Event::Signoff { step, .. } => Some(step.clone()),
            _ => None,
        },
        note: match &e.event {
            Event::Signoff { note, .. } => Some(note.clone()),
            Event::Seal { reason, .. } => Some(reason.clone()),
            _ => None,
        },
        key: None,
        status: SigStatus::Unsigned,
        problem: None,
        over_head: e.prev.clone(),
    };
    let Some(Entry {
        event:
            Event::Signature {
                signs_seq,
                key_fingerprint,
                signature,
            },
        ..
    }) = entries.get(i + 1)
    else {
        return out;
    };
    if *signs_seq != e.seq {
        return out;
    }
    let Some(msg) = raw.get(i) else { return out };
    let invalid = |mut out: SignedLine, why: String| {
        out.status = SigStatus::Invalid;
        out.problem = Some(why);
        out
    };
    let key = match sign::verify(signature, msg) {
        Ok(k) => k,
        Err(why) => return invalid(out, why),
    };
    let fp = key.fingerprint(russh::keys::HashAlg::Sha256).to_string();
    let claimed = match &e.event {
        Event::Signoff {
            key_fingerprint, ..
        } => key_fingerprint.clone(),
        _ => None,
    };
    if *key_fingerprint != fp || claimed.as_ref().is_some_and(|c| *c != fp) {
        return invalid(
            out,
            format!("signed by {fp}, but the lines name {key_fingerprint}"),
        );
    }
    out.key = Some(fp);
    out.status = match trust {
        None => SigStatus::ValidUntrusted,
        Some(t) => {
            let at = humantime::parse_rfc3339(&e.ts).unwrap_or(SystemTime::UNIX_EPOCH);
            if !operator.is_empty() && t.allows(&operator, sign::NAMESPACE, &key, at) {
                SigStatus::Trusted
            } else {
                SigStatus::NotAllowed
            }
        }
    };
    out
}
