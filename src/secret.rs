//! Secrets: a string type that never prints itself, and the redactor that keeps secret values out
//! of everything rehearse writes or shows.

use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use base64::Engine as _;

mod scan;
use scan::{Hit, Scan};

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

/// One form of a secret. Base64 forms may be wrapped (`base64` wraps at 76 columns, PEM at
/// 64, `-w N` anywhere): they match with line breaks between any two characters.
#[derive(Clone)]
struct Needle {
    bytes: Vec<u8>,
    wrapped: bool,
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl Needle {
    /// Whether `tail` is a proper beginning of this needle, so more input may complete it.
    fn could_start(&self, tail: &[u8]) -> bool {
        let mut h = 0;
        for (k, &b) in self.bytes.iter().enumerate() {
            if self.wrapped && k > 0 {
                while h < tail.len() && is_break(tail[h]) {
                    h += 1;
                }
            }
            match tail.get(h) {
                None => return true,
                Some(&c) if c == b => h += 1,
                Some(_) => return false,
            }
        }
        false
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

/// One multi-pattern automaton (leftmost-longest, so a secret containing another wins) and
/// which secret each of its patterns belongs to.
#[derive(Clone)]
struct Searcher {
    ac: AhoCorasick,
    secret: Vec<usize>,
}

impl Searcher {
    fn build(forms: Vec<(Vec<u8>, usize)>) -> Option<Searcher> {
        if forms.is_empty() {
            return None;
        }
        let (patterns, secret): (Vec<Vec<u8>>, Vec<usize>) = forms.into_iter().unzip();
        #[allow(clippy::expect_used)]
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            // Only more than ~2^31 automaton states fail: secrets are a handful of short values.
            .expect("secret patterns fit an Aho-Corasick automaton");
        Some(Searcher { ac, secret })
    }

    fn find(&self, hay: &[u8], from: usize) -> Option<Hit> {
        let m = self.ac.find(Input::new(hay).range(from..))?;
        Some(Hit {
            start: m.start(),
            end: m.end(),
            len: m.len(),
            secret: self.secret[m.pattern().as_usize()],
        })
    }
}

/// Replaces every secret value (and its base64 forms) with `[secret:NAME]`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every form, for deciding how much of a stream's tail a secret could still complete.
    needles: Vec<Needle>,
    /// Secret values as they are.
    plain: Option<Searcher>,
    /// Their base64 forms, searched in the input with line breaks taken out.
    wrapped: Option<Searcher>,
    /// `[secret:NAME]` for each secret.
    repl: Vec<Vec<u8>>,
    max_len: usize,
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
        let (mut plain, mut wrapped, mut repl) = (Vec::new(), Vec::new(), Vec::new());
        for (name, value) in secrets {
            if value.expose().len() < MIN_SECRET_LEN {
                continue;
            }
            let id = repl.len();
            repl.push(format!("[secret:{name}]").into_bytes());
            plain.push((value.expose().as_bytes().to_vec(), id));
            wrapped.extend(base64_forms(value.expose()).into_iter().map(|f| (f, id)));
        }
        let needles: Vec<Needle> = (plain.iter().map(|(b, _)| (b, false)))
            .chain(wrapped.iter().map(|(b, _)| (b, true)))
            .map(|(bytes, wrapped)| Needle {
                bytes: bytes.clone(),
                wrapped,
            })
            .collect();
        Redactor {
            max_len: needles.iter().map(Needle::span).max().unwrap_or(0),
            needles,
            plain: Searcher::build(plain),
            wrapped: Searcher::build(wrapped),
            repl,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The most bytes one match can span: a streaming redactor holds back less than this.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    fn scan<'a>(&'a self, hay: &'a [u8]) -> Scan<'a> {
        Scan::new(self.plain.as_ref(), self.wrapped.as_ref(), hay)
    }

    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        if self.is_empty() {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len());
        let mut last = 0;
        for hit in self.scan(input) {
            out.extend_from_slice(&input[last..hit.start]);
            out.extend_from_slice(&self.repl[hit.secret]);
            last = hit.end;
        }
        out.extend_from_slice(&input[last..]);
        out
    }

    pub fn redact_str(&self, input: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes())).into_owned()
    }

    /// The first secret form found in `haystack`, for the export's last check.
    pub fn find_leak(&self, haystack: &[u8]) -> Option<String> {
        let hit = self.scan(haystack).next()?;
        Some(String::from_utf8_lossy(&self.repl[hit.secret]).into_owned())
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
        // Emit up to the hold, moving the cut right past any match that begins before it, so
        // no match straddles the cut and the next push resumes where a whole scan would.
        let mut cut = self.pending.len() - hold;
        let mut out = Vec::with_capacity(cut);
        let mut last = 0;
        for hit in self.redactor.scan(&self.pending) {
            if hit.start >= cut {
                break;
            }
            out.extend_from_slice(&self.pending[last..hit.start]);
            out.extend_from_slice(&self.redactor.repl[hit.secret]);
            last = hit.end;
            cut = cut.max(hit.end);
        }
        out.extend_from_slice(&self.pending[last..cut]);
        self.pending.drain(..cut);
        out
    }

    /// Length of the longest suffix of `pending` that a needle could still complete.
    fn partial_tail(&self) -> usize {
        let max = self.redactor.max_len().min(self.pending.len());
        (1..=max)
            .rev()
            .find(|&k| {
                let tail = &self.pending[self.pending.len() - k..];
                self.redactor.needles.iter().any(|n| n.could_start(tail))
            })
            .unwrap_or(0)
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
