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

/// One form of a secret to find. Base64 forms may be wrapped (`base64` wraps at 76 columns,
/// PEM at 64, `-w N` anywhere): they match with line breaks between any two characters.
#[derive(Clone)]
struct Needle {
    bytes: Vec<u8>,
    repl: Vec<u8>,
    wrapped: bool,
}

enum Match {
    /// The needle matched, consuming this many bytes of input.
    Full(usize),
    /// The input ended while it still matched: more bytes may complete it.
    Partial,
    No,
}

impl Needle {
    fn at(&self, hay: &[u8]) -> Match {
        let mut h = 0;
        for (k, &b) in self.bytes.iter().enumerate() {
            if self.wrapped && k > 0 {
                while h < hay.len() && (hay[h] == b'\n' || hay[h] == b'\r') {
                    h += 1;
                }
            }
            match hay.get(h) {
                None => return Match::Partial,
                Some(&c) if c == b => h += 1,
                Some(_) => return Match::No,
            }
        }
        Match::Full(h)
    }

    /// The most input bytes a match can span: two break bytes (`\r\n`) per gap when wrapped.
    fn span(&self) -> usize {
        if self.wrapped {
            self.bytes.len() * 3
        } else {
            self.bytes.len()
        }
    }
}

/// Replaces every secret value (and its base64 forms) with `[secret:NAME]`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest needle first so a secret containing another wins.
    needles: Vec<Needle>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

/// Secrets shorter than this are not redacted: replacing every "a" would destroy the output
/// and protect nothing. Run start refuses such values (see [`check_secret_lengths`]).
pub const MIN_SECRET_LEN: usize = 4;
/// The shortest secret value a run accepts: below it, redaction is either useless or hides
/// ordinary output, so a run refuses to start rather than leak or garble.
pub const MIN_SAFE_SECRET_LEN: usize = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "secret `{name}` is {len} characters long; secrets shorter than {MIN_SAFE_SECRET_LEN} cannot be \
     redacted safely (use a longer value, or do not mark the variable secret)"
)]
pub struct ShortSecret {
    pub name: String,
    pub len: usize,
}

/// Refuse secret values too short to redact safely. Session set-up calls this before a run
/// starts.
pub fn check_secret_lengths(secrets: &[(String, SecretString)]) -> Result<(), ShortSecret> {
    for (name, value) in secrets {
        let len = value.expose().chars().count();
        if len < MIN_SAFE_SECRET_LEN {
            return Err(ShortSecret {
                name: name.clone(),
                len,
            });
        }
    }
    Ok(())
}

impl Redactor {
    pub fn new(secrets: &[(String, SecretString)]) -> Self {
        let mut needles = Vec::new();
        for (name, value) in secrets {
            if value.expose().len() < MIN_SECRET_LEN {
                continue;
            }
            let repl = format!("[secret:{name}]").into_bytes();
            needles.push(Needle {
                bytes: value.expose().as_bytes().to_vec(),
                repl: repl.clone(),
                wrapped: false,
            });
            for form in base64_forms(value.expose()) {
                needles.push(Needle {
                    bytes: form,
                    repl: repl.clone(),
                    wrapped: true,
                });
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.bytes.len()));
        needles.dedup_by(|a, b| a.bytes == b.bytes);
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The most bytes one match can span: a streaming redactor holds back less than this.
    pub fn max_len(&self) -> usize {
        self.needles.iter().map(Needle::span).max().unwrap_or(0)
    }

    fn full_at(&self, hay: &[u8]) -> Option<(usize, &[u8])> {
        self.needles.iter().find_map(|n| match n.at(hay) {
            Match::Full(len) => Some((len, n.repl.as_slice())),
            _ => None,
        })
    }

    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        if self.needles.is_empty() {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            if let Some((len, repl)) = self.full_at(&input[i..]) {
                out.extend_from_slice(repl);
                i += len;
            } else {
                out.push(input[i]);
                i += 1;
            }
        }
        out
    }

    pub fn redact_str(&self, input: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes())).into_owned()
    }

    /// The first secret form found in `haystack`, for the export's last check.
    pub fn find_leak(&self, haystack: &[u8]) -> Option<String> {
        (0..haystack.len()).find_map(|i| {
            self.full_at(&haystack[i..])
                .map(|(_, repl)| String::from_utf8_lossy(repl).into_owned())
        })
    }
}

/// The base64 encodings of `value` at each of the three alignments it can take inside a longer
/// base64 stream (trimmed to the characters that do not depend on neighbours, so padding or its
/// absence does not matter), in the standard and the URL-safe alphabet.
fn base64_forms(value: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for pad in 0..3usize {
        let mut buf = vec![0u8; pad];
        buf.extend_from_slice(value.as_bytes());
        let enc = b64.encode(&buf);
        let skip = if pad == 0 { 0 } else { (pad * 8).div_ceil(6) };
        let keep_end = ((pad + value.len()) * 8) / 6;
        if keep_end > skip + 2 {
            let std_form = enc.as_bytes()[skip..keep_end].to_vec();
            let url: Vec<u8> = std_form
                .iter()
                .map(|&c| match c {
                    b'+' => b'-',
                    b'/' => b'_',
                    c => c,
                })
                .collect();
            out.push(std_form);
            out.push(url);
        }
    }
    out
}

/// Redacts a byte stream chunk by chunk, holding back just enough bytes that a secret split
/// across two chunks (or wrapped across lines) is still caught.
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
    /// Like [`push`](Self::push), taking the chunk: with no secrets to find it is handed back
    /// as it came, with no copy (the streaming hot path).
    pub fn push_owned(&mut self, chunk: Vec<u8>) -> Vec<u8> {
        if self.redactor.is_empty() {
            return chunk;
        }
        self.push(&chunk)
    }

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

    /// Length of the longest suffix of `pending` that a needle could still complete.
    fn partial_tail(&self) -> usize {
        let max = self.redactor.max_len().min(self.pending.len());
        (1..=max)
            .rev()
            .find(|&k| {
                let tail = &self.pending[self.pending.len() - k..];
                self.redactor
                    .needles
                    .iter()
                    .any(|n| matches!(n.at(tail), Match::Partial))
            })
            .unwrap_or(0)
    }

    /// Where to split so that no match straddles the cut: move the cut right past any match
    /// that begins before it.
    fn safe_cut(&self, hold: usize) -> usize {
        let mut cut = self.pending.len() - hold;
        let mut i = 0;
        while i < cut {
            match self.redactor.full_at(&self.pending[i..]) {
                Some((len, _)) => i += len,
                None => i += 1,
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

    #[test]
    fn wrapped_url_safe_and_unpadded_base64_are_caught() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        // 57 bytes and more: where `base64`'s 76-column wrapping used to hide it.
        let secret = "s3cret-".repeat(12);
        let red = Redactor::new(&[("k".into(), SecretString::new(secret.clone()))]);
        for prefix in ["", "x", "xy"] {
            let raw = format!("{prefix}{secret}");
            for enc in [
                STANDARD.encode(&raw),
                STANDARD_NO_PAD.encode(&raw),
                URL_SAFE_NO_PAD.encode(format!("{raw}\u{fb}\u{ff}")),
            ] {
                for width in [1usize, 4, 64, 76] {
                    let wrapped: String = enc
                        .as_bytes()
                        .chunks(width)
                        .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
                        .collect();
                    assert!(
                        red.find_leak(wrapped.as_bytes()).is_some(),
                        "w{width}: {wrapped}"
                    );
                    let out = red.redact(wrapped.as_bytes());
                    assert!(red.find_leak(&out).is_none(), "w{width}");
                    let mut s = StreamRedactor::new(red.clone());
                    let mut streamed = Vec::new();
                    for c in wrapped.as_bytes().chunks(7) {
                        streamed.extend(s.push(c));
                    }
                    streamed.extend(s.finish());
                    assert_eq!(streamed, out, "stream w{width}");
                }
            }
        }
        // Control: ordinary wrapped base64 passes untouched.
        let other = STANDARD.encode("nothing to see here, really nothing at all");
        assert_eq!(red.redact(other.as_bytes()), other.as_bytes());
    }

    #[test]
    fn short_secrets_are_refused_at_run_start() {
        let err = check_secret_lengths(&[
            ("ok".into(), SecretString::new("long-enough")),
            ("pin".into(), SecretString::new("123")),
        ]);
        assert_eq!(
            err,
            Err(ShortSecret {
                name: "pin".into(),
                len: 3
            })
        );
        assert!(err.is_err_and(|e| e.to_string().contains("`pin` is 3 characters")));
        assert!(check_secret_lengths(&[("ok".into(), SecretString::new("abcdef"))]).is_ok());
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
