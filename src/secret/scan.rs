//! The matches of a redactor in one haystack, in order, never overlapping: secret values as
//! they are, and their base64 forms with any line breaks inside them. Two automata run side by
//! side (line breaks must not hide a wrapped form, and must not be skipped inside a value), and
//! the scan takes whichever match starts first, the longer form on a tie, as one left-to-right
//! pass over the input would.

use std::borrow::Cow;

use super::{Searcher, is_break};

/// One match, in haystack positions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub start: usize,
    pub end: usize,
    /// The form's length, which decides between matches that start together.
    pub len: usize,
    pub secret: usize,
}

/// What one automaton's next match is, from the scan's position on.
enum Next {
    Unknown,
    Hit(Hit),
    None,
}

pub(super) struct Scan<'a> {
    plain: Option<&'a Searcher>,
    wrapped: Option<&'a Searcher>,
    hay: &'a [u8],
    joined: Joined<'a>,
    at: usize,
    next_plain: Next,
    next_wrapped: Next,
}

impl<'a> Scan<'a> {
    pub(super) fn new(
        plain: Option<&'a Searcher>,
        wrapped: Option<&'a Searcher>,
        hay: &'a [u8],
    ) -> Self {
        Scan {
            plain,
            wrapped,
            hay,
            joined: if wrapped.is_some() {
                Joined::new(hay)
            } else {
                Joined::default()
            },
            at: 0,
            next_plain: Next::Unknown,
            next_wrapped: Next::Unknown,
        }
    }

    fn find_plain(&self) -> Option<Hit> {
        self.plain?.find(self.hay, self.at)
    }

    fn find_wrapped(&self) -> Option<Hit> {
        let j = &self.joined;
        let hit = self.wrapped?.find(&j.text, j.inner(self.at))?;
        Some(Hit {
            start: j.outer(hit.start),
            end: j.outer(hit.end - 1) + 1,
            ..hit
        })
    }
}

/// A match found from an earlier position stays the next one as long as the scan has not
/// passed its start: nothing starts between, or it would have been found.
fn stale(next: &Next, at: usize) -> bool {
    match next {
        Next::Unknown => true,
        Next::Hit(h) => h.start < at,
        Next::None => false,
    }
}

impl Iterator for Scan<'_> {
    type Item = Hit;

    fn next(&mut self) -> Option<Hit> {
        if stale(&self.next_plain, self.at) {
            self.next_plain = self.find_plain().map_or(Next::None, Next::Hit);
        }
        if stale(&self.next_wrapped, self.at) {
            self.next_wrapped = self.find_wrapped().map_or(Next::None, Next::Hit);
        }
        let hit = match (&self.next_plain, &self.next_wrapped) {
            (Next::Hit(p), Next::Hit(w)) => {
                if (w.start, std::cmp::Reverse(w.len)) < (p.start, std::cmp::Reverse(p.len)) {
                    *w
                } else {
                    *p
                }
            }
            (Next::Hit(h), _) | (_, Next::Hit(h)) => *h,
            _ => return None,
        };
        self.at = hit.end;
        Some(hit)
    }
}

/// The haystack with its line breaks taken out, and where they were, so positions map back.
#[derive(Default)]
struct Joined<'a> {
    text: Cow<'a, [u8]>,
    gaps: Vec<Gap>,
}

/// A run of line breaks: where it began in the haystack, how long it is, and how many break
/// bytes came before it.
struct Gap {
    at: usize,
    len: usize,
    before: usize,
}

impl<'a> Joined<'a> {
    fn new(hay: &'a [u8]) -> Self {
        if memchr::memchr2(b'\n', b'\r', hay).is_none() {
            return Joined {
                text: Cow::Borrowed(hay),
                gaps: Vec::new(),
            };
        }
        let mut text = Vec::with_capacity(hay.len());
        let (mut gaps, mut i, mut removed) = (Vec::new(), 0, 0);
        while let Some(off) = memchr::memchr2(b'\n', b'\r', &hay[i..]) {
            let at = i + off;
            text.extend_from_slice(&hay[i..at]);
            let len = hay[at..].iter().take_while(|&&b| is_break(b)).count();
            gaps.push(Gap {
                at,
                len,
                before: removed,
            });
            removed += len;
            i = at + len;
        }
        text.extend_from_slice(&hay[i..]);
        Joined {
            text: Cow::Owned(text),
            gaps,
        }
    }

    /// Where haystack position `o` falls in the joined text.
    fn inner(&self, o: usize) -> usize {
        match self.gaps.partition_point(|g| g.at < o).checked_sub(1) {
            None => o,
            Some(k) => {
                let g = &self.gaps[k];
                o - g.before - (o - g.at).min(g.len)
            }
        }
    }

    /// The haystack position of the joined text's byte `p`.
    fn outer(&self, p: usize) -> usize {
        match self
            .gaps
            .partition_point(|g| g.at - g.before <= p)
            .checked_sub(1)
        {
            None => p,
            Some(k) => p + self.gaps[k].before + self.gaps[k].len,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::secret::{Redactor, SecretString, StreamRedactor};
    use base64::Engine as _;
    use proptest::prelude::*;

    /// The definition the automata must agree with: at each position, the longest form that
    /// matches there (a base64 form with any line breaks between its characters), else one byte.
    fn reference(red: &Redactor, input: &[u8]) -> Vec<u8> {
        let matches_at = |n: &super::super::Needle, hay: &[u8]| -> Option<usize> {
            let mut h = 0;
            for (k, &b) in n.bytes.iter().enumerate() {
                if n.wrapped && k > 0 {
                    while hay.get(h).is_some_and(|&c| super::is_break(c)) {
                        h += 1;
                    }
                }
                (hay.get(h) == Some(&b)).then_some(())?;
                h += 1;
            }
            Some(h)
        };
        let (mut out, mut i) = (Vec::new(), 0);
        while i < input.len() {
            let best = red
                .needles
                .iter()
                .filter_map(|n| matches_at(n, &input[i..]).map(|len| (n.bytes.len(), len)))
                .max_by_key(|&(n, _)| n);
            match best {
                Some((_, len)) => {
                    out.extend_from_slice(b"[secret:a]");
                    i += len;
                }
                None => {
                    out.push(input[i]);
                    i += 1;
                }
            }
        }
        out
    }

    fn pieces() -> impl Strategy<Value = Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        prop_oneof![
            Just(b"hunter-22".to_vec()),
            Just(b"hunter-2222".to_vec()),
            Just(b64.encode("xhunter-22").into_bytes()),
            Just(b64.encode("hunter-2222x").into_bytes()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'h'), Just(b'a'), Just(b'G'), Just(b'2')],
                0..6
            ),
        ]
    }

    proptest! {
        #[test]
        fn automata_agree_with_the_reference_whole_and_streamed(
            parts in proptest::collection::vec((pieces(), any::<bool>()), 0..30),
            wrap in 1usize..12,
            split in 1usize..40,
        ) {
            let mut input = Vec::new();
            for (p, wrapped) in parts {
                // Now and then wrap a piece, as `base64 -w` does.
                if wrapped {
                    for c in p.chunks(wrap) { input.extend_from_slice(c); input.push(b'\n'); }
                } else {
                    input.extend_from_slice(&p);
                }
            }
            // One name for both, so the reference need not know which secret a form is.
            let secrets = [("a", "hunter-22"), ("a", "hunter-2222")]
                .map(|(n, v)| (n.to_string(), SecretString::new(v)));
            let red = Redactor::new(&secrets);
            let whole = red.redact(&input);
            let expected = reference(&red, &input);
            prop_assert_eq!(&whole, &expected);
            let mut s = StreamRedactor::new(red.clone());
            let mut streamed = Vec::new();
            for c in input.chunks(split) { streamed.extend(s.push(c)); }
            streamed.extend(s.finish());
            prop_assert_eq!(streamed, whole);
        }
    }
}
