//! Secrets: a string type that never prints itself, and the redactor that keeps secret values out
//! of everything rehearse writes or shows.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;

/// A secret string. `Debug` and `Display` print a placeholder; only `expose` gives the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(Arc<str>);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(Arc::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every secret value (and its base64 forms) with `[secret:NAME]`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (needle, replacement), longest needle first so a secret containing another wins.
    needles: Vec<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

/// Secrets shorter than this are not redacted: replacing every "a" would destroy the output
/// and protect nothing. Loading a runbook warns about such values.
pub const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    pub fn new(secrets: &[(String, SecretString)]) -> Self {
        let mut needles = Vec::new();
        for (name, value) in secrets {
            if value.expose().len() < MIN_SECRET_LEN {
                continue;
            }
            let replacement = format!("[secret:{name}]").into_bytes();
            for form in forms(value.expose()) {
                needles.push((form, replacement.clone()));
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        needles.dedup_by(|a, b| a.0 == b.0);
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The longest needle: a streaming redactor must hold back this many bytes minus one.
    pub fn max_len(&self) -> usize {
        self.needles.first().map_or(0, |n| n.0.len())
    }

    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        if self.needles.is_empty() {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        'outer: while i < input.len() {
            for (needle, repl) in &self.needles {
                if input[i..].starts_with(needle) {
                    out.extend_from_slice(repl);
                    i += needle.len();
                    continue 'outer;
                }
            }
            out.push(input[i]);
            i += 1;
        }
        out
    }

    pub fn redact_str(&self, input: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes())).into_owned()
    }

    /// The first secret form found in `haystack`, for the export's last check.
    pub fn find_leak(&self, haystack: &[u8]) -> Option<String> {
        self.needles.iter().find_map(|(needle, repl)| {
            haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
                .then(|| String::from_utf8_lossy(repl).into_owned())
        })
    }
}

/// The value, and its base64 encodings at each of the three alignments a value can take inside
/// a longer base64 stream (trimmed to the characters that do not depend on neighbours).
fn forms(value: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = vec![value.as_bytes().to_vec()];
    for pad in 0..3usize {
        let mut buf = vec![0u8; pad];
        buf.extend_from_slice(value.as_bytes());
        let enc = b64.encode(&buf);
        // Skip characters influenced by the padding prefix, and the tail that depends on what
        // follows the value.
        let skip = if pad == 0 { 0 } else { (pad * 8).div_ceil(6) };
        let keep_end = ((pad + value.len()) * 8) / 6;
        if keep_end > skip + 2 {
            out.push(enc.as_bytes()[skip..keep_end].to_vec());
        }
    }
    out
}

/// Redacts a byte stream chunk by chunk, holding back just enough bytes that a secret split
/// across two chunks is still caught.
#[derive(Debug)]
pub struct StreamRedactor {
    redactor: Redactor,
    pending: Vec<u8>,
}

impl StreamRedactor {
    pub fn new(redactor: Redactor) -> Self {
        StreamRedactor {
            redactor,
            pending: Vec::new(),
        }
    }

    /// Feed a chunk; returns the bytes that are safe to emit now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.redactor.is_empty() {
            return chunk.to_vec();
        }
        self.pending.extend_from_slice(chunk);
        // Hold back only a tail that could be the start of a secret, so ordinary output is
        // never delayed waiting for bytes that may not come.
        let hold = self.partial_tail();
        if hold == self.pending.len() {
            return Vec::new();
        }
        let cut = self.safe_cut(hold);
        let head: Vec<u8> = self.pending.drain(..cut).collect();
        self.redactor.redact(&head)
    }

    /// Length of the longest suffix of `pending` that is a proper prefix of some needle.
    fn partial_tail(&self) -> usize {
        let max = self
            .redactor
            .max_len()
            .saturating_sub(1)
            .min(self.pending.len());
        (1..=max)
            .rev()
            .find(|&k| {
                let tail = &self.pending[self.pending.len() - k..];
                self.redactor
                    .needles
                    .iter()
                    .any(|(n, _)| n.len() > k && n.starts_with(tail))
            })
            .unwrap_or(0)
    }

    /// Where to split so that no needle straddles the cut: move the cut left past any position
    /// where a needle match begins and would extend beyond it.
    fn safe_cut(&self, hold: usize) -> usize {
        let mut cut = self.pending.len() - hold;
        let mut i = 0;
        while i < cut {
            let mut advanced = false;
            for (needle, _) in &self.redactor.needles {
                if self.pending[i..].starts_with(needle) {
                    i += needle.len();
                    advanced = true;
                    break;
                }
            }
            if !advanced {
                i += 1;
            }
            if i > cut {
                cut = i;
            }
        }
        cut.min(self.pending.len())
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        self.redactor.redact(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(&[("db_pass".into(), SecretString::new("canary-s3cret"))])
    }

    #[test]
    fn secret_never_prints() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** SecretString(***)");
    }

    #[test]
    fn redacts_plain_and_base64() {
        let red = r();
        let out = red.redact_str("pw=canary-s3cret!");
        assert_eq!(out, "pw=[secret:db_pass]!");
        let enc = base64::engine::general_purpose::STANDARD.encode("x=canary-s3cret;");
        assert!(red.find_leak(enc.as_bytes()).is_some(), "{enc}");
        assert!(
            red.find_leak(red.redact(enc.as_bytes()).as_slice())
                .is_none()
        );
    }

    #[test]
    fn stream_catches_split_secret() {
        let mut s = StreamRedactor::new(r());
        let mut out = Vec::new();
        for chunk in [&b"aaa canar"[..], b"y-s3", b"cret bbb"] {
            out.extend(s.push(chunk));
        }
        out.extend(s.finish());
        assert_eq!(String::from_utf8_lossy(&out), "aaa [secret:db_pass] bbb");
    }

    proptest::proptest! {
        #[test]
        fn stream_equals_whole(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), split in 1usize..50) {
            let mut data = data;
            data.extend_from_slice(b"canary-s3cret");
            let whole = r().redact(&data);
            let mut s = StreamRedactor::new(r());
            let mut out = Vec::new();
            for c in data.chunks(split) { out.extend(s.push(c)); }
            out.extend(s.finish());
            proptest::prop_assert_eq!(out, whole);
        }
    }
}
