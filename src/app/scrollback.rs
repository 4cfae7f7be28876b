//! The live log's memory: a capped scrollback of sanitized lines per step. The full output is
//! on disk (`outputs/`); this keeps only what the screen can use, so a flood cannot exhaust
//! memory.

use std::collections::VecDeque;

use crate::app::ansi::Attr;

pub const DEFAULT_CAP: usize = 5_000;
/// A line longer than this is broken, so one endless line cannot grow without bound.
const MAX_LINE: usize = 4_096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Stdout,
    Stderr,
    /// `$ command` before its output.
    Header,
    Passed,
    Failed,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub kind: LineKind,
    pub text: String,
    /// Coloured segments, when the output carried SGR colour; empty for plain lines.
    pub segs: Vec<(Attr, String)>,
}

impl LogLine {
    fn from_raw(kind: LineKind, raw: &[u8], attr: &mut Attr) -> LogLine {
        let folded = crate::app::ansi::fold_line(raw, attr);
        // A plain line needs no segments: most output then costs one allocation a line.
        let segs = if folded.is_plain() {
            Vec::new()
        } else {
            folded.segments()
        };
        LogLine {
            kind,
            text: folded.text,
            segs,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    cap: usize,
    /// Lines dropped off the top since the buffer began.
    pub dropped: u64,
    partial: Vec<u8>,
    partial_kind: LineKind,
    /// SGR state carried from line to line.
    attr: Attr,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::with_cap(DEFAULT_CAP)
    }
}

impl LogBuffer {
    pub fn with_cap(cap: usize) -> Self {
        LogBuffer {
            lines: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
            partial: Vec::new(),
            partial_kind: LineKind::Stdout,
            attr: Attr::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len() + usize::from(!self.partial.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_line(&mut self, line: LogLine) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    /// A line of rehearse's own (headers, outcomes).
    pub fn push_note(&mut self, kind: LineKind, text: impl Into<String>) {
        self.flush_partial();
        self.push_line(LogLine {
            kind,
            text: text.into(),
            segs: Vec::new(),
        });
    }

    /// Output bytes from a command. Lines are completed at `\n`; the unfinished tail is kept
    /// (and shown) until its newline arrives.
    pub fn push_bytes(&mut self, bytes: &[u8], stderr: bool) {
        let kind = if stderr {
            LineKind::Stderr
        } else {
            LineKind::Stdout
        };
        if !self.partial.is_empty() && self.partial_kind != kind {
            self.flush_partial();
        }
        self.partial_kind = kind;
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let (take, newline) = match memchr::memchr(b'\n', &rest[..rest.len().min(room)]) {
                Some(i) => (i, true),
                None => (rest.len().min(room), false),
            };
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take + usize::from(newline)..];
            if newline || self.partial.len() >= MAX_LINE {
                self.flush_partial_as_line();
            }
        }
    }

    fn flush_partial_as_line(&mut self) {
        let line = LogLine::from_raw(self.partial_kind, &self.partial, &mut self.attr);
        self.partial.clear();
        self.push_line(line);
    }

    /// End an unfinished line (the command ended without a final newline).
    pub fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            self.flush_partial_as_line();
        }
    }

    /// Line `i` (0 = oldest kept), including the unfinished one at the end.
    pub fn get(&self, i: usize) -> Option<LogLine> {
        if i < self.lines.len() {
            return self.lines.get(i).cloned();
        }
        (i == self.lines.len() && !self.partial.is_empty())
            .then(|| LogLine::from_raw(self.partial_kind, &self.partial, &mut self.attr.clone()))
    }

    /// Indices of lines containing `needle` (case-insensitive).
    pub fn find(&self, needle: &str) -> Vec<usize> {
        if needle.is_empty() {
            return Vec::new();
        }
        let n = needle.to_lowercase();
        (0..self.len())
            .filter(|&i| {
                self.get(i)
                    .is_some_and(|l| l.text.to_lowercase().contains(&n))
            })
            .collect()
    }
}

/// Text safe to draw (see `ansi`): escapes removed, `\r` keeps what follows it.
pub fn sanitize(raw: &[u8]) -> String {
    crate::app::ansi::strip(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_partial_is_visible() {
        let mut b = LogBuffer::default();
        b.push_bytes(b"one\ntw", false);
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(1).map(|l| l.text), Some("tw".into()));
        b.push_bytes(b"o\n", false);
        assert_eq!(b.get(1).map(|l| l.text), Some("two".into()));
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn endless_line_is_broken_at_max_line() {
        let mut b = LogBuffer::default();
        b.push_bytes(&vec![b'x'; MAX_LINE * 2 + 3], false);
        b.push_bytes(b"\n", false);
        let lens: Vec<usize> = (0..b.len())
            .filter_map(|i| b.get(i).map(|l| l.text.len()))
            .collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 3]);
    }

    #[test]
    fn cap_bounds_memory() {
        let mut b = LogBuffer::with_cap(3);
        for i in 0..10 {
            b.push_bytes(format!("{i}\n").as_bytes(), false);
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped, 7);
        assert_eq!(b.get(0).map(|l| l.text), Some("7".into()));
    }

    #[test]
    fn sanitize_strips_escapes_and_keeps_last_redraw() {
        assert_eq!(sanitize(b"\x1b[31mred\x1b[0m"), "red");
        assert_eq!(sanitize(b" 10%\r 50%\r100%"), "100%");
        assert_eq!(sanitize(b"\x1b]0;title\x07a\tb"), "a       b");
        assert_eq!(sanitize(b"bell\x07"), "bell");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_printable(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let mut b = LogBuffer::with_cap(50);
            b.push_bytes(&data, false);
            for i in 0..b.len() {
                let l = b.get(i).unwrap_or(LogLine { kind: LineKind::Info, text: String::new(), segs: Vec::new() });
                proptest::prop_assert!(!l.text.chars().any(char::is_control));
            }
        }
    }
}
