//! Terminal output made safe to draw: SGR colour and weight kept as attributes, every other
//! escape sequence and control character removed, a carriage return keeping what follows it
//! (progress bars redraw their line). Pure, and never panics on any bytes.

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

    /// Apply one SGR parameter list (`1;31`, `38;5;208`, `0`).
    fn apply(&mut self, params: &str) {
        let nums: Vec<u16> = if params.is_empty() {
            vec![0]
        } else {
            params
                .split([';', ':'])
                .map(|p| p.parse().unwrap_or(0))
                .collect()
        };
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
                    let c = match nums.get(i + 1) {
                        Some(5) => {
                            let c = nums
                                .get(i + 2)
                                .map(|&x| Colour::Indexed(u8::try_from(x).unwrap_or(255)));
                            i += 2;
                            c
                        }
                        Some(2) => {
                            let g = |k: usize| {
                                nums.get(i + k)
                                    .map_or(0, |&x| u8::try_from(x).unwrap_or(255))
                            };
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

/// A line as drawable segments; `attr` carries SGR state from line to line, as a terminal does.
pub fn parse_line(raw: &[u8], attr: &mut Attr) -> Vec<(Attr, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut segs: Vec<(Attr, String)> = Vec::new();
    let mut cur = String::new();
    let mut col = 0usize;
    let push = |segs: &mut Vec<(Attr, String)>, cur: &mut String, a: Attr| {
        if !cur.is_empty() {
            match segs.last_mut() {
                Some((la, s)) if *la == a => s.push_str(cur),
                _ => segs.push((a, std::mem::take(cur))),
            }
            cur.clear();
        }
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut fin = None;
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            fin = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    if fin == Some('m')
                        && params
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == ';' || c == ':')
                    {
                        push(&mut segs, &mut cur, *attr);
                        attr.apply(&params);
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\r' => {
                if chars.peek().is_some() {
                    segs.clear();
                    cur.clear();
                    col = 0;
                }
            }
            '\t' => {
                let pad = 8 - (col % 8);
                cur.extend(std::iter::repeat_n(' ', pad));
                col += pad;
            }
            c if c.is_control() => {}
            c => {
                cur.push(c);
                col += 1;
            }
        }
    }
    push(&mut segs, &mut cur, *attr);
    segs
}

/// Plain text of a line, escape sequences removed.
pub fn strip(raw: &[u8]) -> String {
    parse_line(raw, &mut Attr::default())
        .into_iter()
        .map(|(_, s)| s)
        .collect()
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
