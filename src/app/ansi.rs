//! Terminal output made safe to draw: SGR colour and weight kept as attributes, every other
//! escape sequence and control character removed, a carriage return keeping what follows it
//! (progress bars redraw their line). Pure, and never panics on any bytes.
//!
//! The escape grammar is `vte`'s (the parser vt100 already uses): this module only decides
//! what each sequence it reports becomes.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Indexed(u8),
    Rgb(u8, u8, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attr {
    pub fg: Option<Colour>,
    pub bg: Option<Colour>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reverse: bool,
}

impl Attr {
    pub fn is_plain(&self) -> bool {
        *self == Attr::default()
    }

    /// Apply one SGR parameter list (`1;31`, `38;5;208`, `0`), sub-parameters flattened as
    /// parameters (`38:5:208` reads as `38;5;208`).
    fn apply(&mut self, nums: &[u16]) {
        let mut i = 0;
        while i < nums.len() {
            let n = nums[i];
            match n {
                0 => *self = Attr::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                7 => self.reverse = true,
                22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                27 => self.reverse = false,
                30..=37 => self.fg = Some(Colour::Indexed(u8::try_from(n - 30).unwrap_or(7))),
                90..=97 => self.fg = Some(Colour::Indexed(u8::try_from(n - 90 + 8).unwrap_or(7))),
                39 => self.fg = None,
                40..=47 => self.bg = Some(Colour::Indexed(u8::try_from(n - 40).unwrap_or(0))),
                100..=107 => {
                    self.bg = Some(Colour::Indexed(u8::try_from(n - 100 + 8).unwrap_or(0)))
                }
                49 => self.bg = None,
                38 | 48 => {
                    let byte = |k: usize| nums.get(i + k).map(|&x| u8::try_from(x).unwrap_or(255));
                    let c = match nums.get(i + 1) {
                        Some(5) => {
                            let c = byte(2).map(Colour::Indexed);
                            i += 2;
                            c
                        }
                        Some(2) => {
                            let g = |k| byte(k).unwrap_or(0);
                            let c = Some(Colour::Rgb(g(2), g(3), g(4)));
                            i += 4;
                            c
                        }
                        _ => None,
                    };
                    if n == 38 {
                        self.fg = c;
                    } else {
                        self.bg = c;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// One line folded: its drawable text, and where each attribute run ends in it. Built with
/// one allocation for the text and none for the runs of a line that never changes colour.
#[derive(Debug, Default)]
pub struct Folded {
    pub text: String,
    /// Closed runs, `(attr, range of text)`, in order; the open run is `(last, tail..)`.
    closed: Vec<(Attr, Range<usize>)>,
    last: Attr,
    tail: usize,
}

impl Folded {
    /// Every run with its attribute: `(attr, &text)`, empty runs left out.
    pub fn runs(&self) -> impl Iterator<Item = (Attr, &str)> {
        self.closed
            .iter()
            .map(|(a, r)| (*a, &self.text[r.clone()]))
            .chain((self.tail < self.text.len()).then(|| (self.last, &self.text[self.tail..])))
    }

    /// Whether all of the text is drawn plain (a line that needs no segments).
    pub fn is_plain(&self) -> bool {
        self.runs().all(|(a, _)| a.is_plain())
    }

    /// The runs as owned segments, each allocated at its final size.
    pub fn segments(&self) -> Vec<(Attr, String)> {
        let mut segs = Vec::with_capacity(self.closed.len() + 1);
        segs.extend(self.runs().map(|(a, s)| (a, s.to_owned())));
        segs
    }
}

/// What `vte` reports, turned into a [`Folded`] line.
struct Fold<'a> {
    out: Folded,
    attr: &'a mut Attr,
    /// Characters on the line, for tab stops.
    col: usize,
    /// A `\r` was seen: the line restarts at whatever comes next, if anything does.
    restart: bool,
    /// Set while feeding the byte that flushes an unfinished UTF-8 sequence at the end.
    flushing: bool,
    /// An SGR sequence may have changed `attr` since the open run began. Checked before every
    /// character, so the common case is this one flag rather than comparing attributes.
    recoloured: bool,
}

impl Fold<'_> {
    /// Something follows a carriage return: drop what it returned over, as a terminal
    /// overwrites it (the SGR state it set stays, as it does on a terminal).
    #[inline]
    fn settle(&mut self) {
        if self.restart || self.recoloured {
            self.settle_now();
        }
    }

    fn settle_now(&mut self) {
        if std::mem::take(&mut self.restart) {
            self.out.text.clear();
            self.out.closed.clear();
            self.out.tail = 0;
            self.col = 0;
        }
        // The open run takes the attribute the text will be drawn in.
        if std::mem::take(&mut self.recoloured) && self.out.last != *self.attr {
            self.close_run();
            self.out.last = *self.attr;
        }
    }

    fn close_run(&mut self) {
        let out = &mut self.out;
        if out.tail < out.text.len() {
            let range = out.tail..out.text.len();
            match out.closed.last_mut() {
                Some((a, r)) if *a == out.last => r.end = range.end,
                _ => out.closed.push((out.last, range)),
            }
            out.tail = out.text.len();
        }
    }
}

impl vte::Perform for Fold<'_> {
    fn print(&mut self, c: char) {
        self.settle();
        // vte hands C1 characters written as UTF-8 to `execute`, but stay safe regardless.
        if !c.is_control() {
            self.out.text.push(c);
            self.col += 1;
        }
    }

    fn execute(&mut self, byte: u8) {
        if self.flushing {
            return;
        }
        match byte {
            b'\r' => {
                self.settle();
                self.restart = true;
            }
            b'\t' => {
                self.settle();
                let pad = 8 - (self.col % 8);
                self.out.text.extend(std::iter::repeat_n(' ', pad));
                self.col += pad;
            }
            _ => self.settle(),
        }
    }

    fn csi_dispatch(&mut self, params: &vte::Params, inter: &[u8], ignore: bool, action: char) {
        self.settle();
        // Private markers (`?`, `>`) arrive as intermediates: `\e[?1m` is not SGR.
        if action == 'm' && inter.is_empty() && !ignore {
            let mut nums = [0u16; 32];
            let mut n = 0;
            for (slot, &v) in nums.iter_mut().zip(params.iter().flatten()) {
                *slot = v;
                n += 1;
            }
            self.attr.apply(&nums[..n]);
            self.recoloured = true;
        }
    }

    fn esc_dispatch(&mut self, _: &[u8], _: bool, _: u8) {
        self.settle();
    }

    fn osc_dispatch(&mut self, _: &[&[u8]], _: bool) {
        self.settle();
    }

    fn hook(&mut self, _: &vte::Params, _: &[u8], _: bool, _: char) {
        self.settle();
    }
}

/// Fold one line; `attr` carries SGR state from line to line, as a terminal does.
pub fn fold_line(raw: &[u8], attr: &mut Attr) -> Folded {
    let last = *attr;
    let mut fold = Fold {
        out: Folded {
            text: String::with_capacity(raw.len()),
            last,
            ..Folded::default()
        },
        attr,
        col: 0,
        restart: false,
        flushing: false,
        recoloured: false,
    };
    let mut parser = vte::Parser::new();
    parser.advance(&mut fold, raw);
    // A line ending inside a UTF-8 sequence shows it as U+FFFD: CAN completes it as invalid
    // (and cancels any unfinished escape, which then shows nothing).
    fold.flushing = true;
    parser.advance(&mut fold, b"\x18");
    fold.out
}

/// A line as drawable segments; `attr` carries SGR state from line to line, as a terminal does.
pub fn parse_line(raw: &[u8], attr: &mut Attr) -> Vec<(Attr, String)> {
    fold_line(raw, attr).segments()
}

/// Plain text of a line, escape sequences removed.
pub fn strip(raw: &[u8]) -> String {
    fold_line(raw, &mut Attr::default()).text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_attributes_and_carry_over() {
        let mut a = Attr::default();
        let segs = parse_line(b"ok \x1b[1;32mPASS\x1b[0m done \x1b[38;5;208mor", &mut a);
        assert_eq!(segs.len(), 4);
        assert_eq!(segs[1].1, "PASS");
        assert!(segs[1].0.bold && segs[1].0.fg == Some(Colour::Indexed(2)));
        assert!(segs[2].0.is_plain());
        assert_eq!(
            a.fg,
            Some(Colour::Indexed(208)),
            "state carries to the next line"
        );
        let next = parse_line(b"ange", &mut a);
        assert_eq!(next[0].0.fg, Some(Colour::Indexed(208)));
    }

    #[test]
    fn strips_other_sequences() {
        assert_eq!(strip(b"\x1b[2K\x1b[1Gline\x1b]0;title\x07!"), "line!");
        assert_eq!(strip(b" 10%\r 50%\r100%"), "100%");
        assert_eq!(strip(b"a\tb"), "a       b");
        assert_eq!(strip(b"\x1b[38;2;255;0;0mred\x1b[m"), "red");
    }

    #[test]
    fn only_plain_sgr_is_colour() {
        let mut a = Attr::default();
        // Sub-parameters read as parameters; a private marker makes it not SGR at all.
        let segs = parse_line(b"\x1b[38:5:208mx\x1b[?1my", &mut a);
        assert_eq!(segs, [(a, "xy".to_string())]);
        assert_eq!(a.fg, Some(Colour::Indexed(208)));
        assert!(!a.bold);
        // Control: a plain `1` is bold.
        parse_line(b"\x1b[1m", &mut a);
        assert!(a.bold);
    }

    #[test]
    fn strings_and_broken_bytes() {
        // DCS, APC and OSC bodies are not text; a cut UTF-8 character shows as U+FFFD.
        assert_eq!(strip(b"a\x1bPq#0;2;0;0;0\x1b\\b\x1b_hidden\x1b\\c"), "abc");
        assert_eq!(strip(b"ok \xe2\x9c"), "ok \u{fffd}");
        assert_eq!(strip("caf\u{e9} \u{2713}".as_bytes()), "caf\u{e9} \u{2713}");
        // A line that ends inside an escape shows what came before it.
        assert_eq!(strip(b"done\x1b[3"), "done");
        // CRLF keeps the line; a redraw after `\r` replaces it.
        assert_eq!(strip(b"kept\r"), "kept");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_printable_text(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut a = Attr::default();
            for (_, s) in parse_line(&data, &mut a) {
                proptest::prop_assert!(!s.chars().any(char::is_control));
            }
        }
    }
}
