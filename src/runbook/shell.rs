//! Where a placeholder sits in POSIX `sh` text, and how a value must be written there to be
//! exactly one literal word. The scanner follows the parts of the shell grammar that change
//! how a character is read: quotes, backslashes, comments, `$(...)`, `${...}`, backticks and
//! here-documents. It need not understand commands, only quoting.

use std::fmt;

/// The quoting context of a byte offset in a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Outside any quotes: the value must become one quoted word.
    Bare,
    /// Inside `'...'`: nothing is special but `'` itself.
    Single,
    /// Inside `"..."`: `$`, `` ` ``, `"` and `\` are special.
    Double,
    /// In the body of a here-document. An unquoted delimiter expands `$`, `` ` `` and `\`;
    /// a quoted one takes the body literally. Either way a line equal to the delimiter ends it.
    HereDoc { delimiter: String, quoted: bool },
    /// Somewhere no quoting is reliable (inside backticks or `${...}`), or after a comment.
    Unsupported(&'static str),
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Context::Bare => f.write_str("an unquoted word"),
            Context::Single => f.write_str("single quotes"),
            Context::Double => f.write_str("double quotes"),
            Context::HereDoc {
                delimiter,
                quoted: true,
            } => write!(f, "a here-document with quoted delimiter '{delimiter}'"),
            Context::HereDoc { delimiter, .. } => write!(f, "a here-document ({delimiter})"),
            Context::Unsupported(why) => f.write_str(why),
        }
    }
}

/// Why a value cannot be written safely in its context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    #[error("a NUL byte cannot be passed to a shell")]
    Nul,
    #[error("a newline in {0} could end the here-document early")]
    NewlineInHereDoc(Context),
    #[error("no quoting is reliable inside {0}; move the placeholder out of it")]
    Unsupported(Context),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Command text. `parens` counts open `(` and `cases` open `case`, so that `)` knows
    /// whether it ends a `$(`; `subst` says whether this frame is a `$(`.
    Cmd {
        parens: u32,
        cases: u32,
        subst: bool,
    },
    /// `$((...))`: arithmetic, where `<<` is a shift and quotes are not allowed.
    Arith {
        parens: u32,
    },
    Single,
    Double,
    Brace,
    Backtick,
}

/// The context at each of `offsets` (ascending byte offsets into `text`).
pub fn contexts(text: &str, offsets: &[usize]) -> Vec<Context> {
    let b = text.as_bytes();
    let mut stack = vec![Frame::Cmd {
        parens: 0,
        cases: 0,
        subst: false,
    }];
    // Here-documents announced on the current line, their bodies begin after its newline.
    let mut pending: Vec<(String, bool, bool)> = Vec::new();
    let mut heredoc: Option<(String, bool, bool)> = None;
    let mut comment = false;
    let mut out = Vec::with_capacity(offsets.len());
    let mut next = offsets.iter().copied().peekable();
    let mut i = 0;
    let mut line_start = true;
    while i <= b.len() {
        while next.peek() == Some(&i) {
            next.next();
            out.push(if let Some((d, q, _)) = &heredoc {
                Context::HereDoc {
                    delimiter: d.clone(),
                    quoted: *q,
                }
            } else if comment {
                Context::Unsupported("a comment")
            } else {
                match stack.last() {
                    Some(Frame::Single) => Context::Single,
                    Some(Frame::Double) => Context::Double,
                    Some(Frame::Brace) => Context::Unsupported("`${...}`"),
                    Some(Frame::Backtick) => Context::Unsupported("backticks (use `$(...)`)"),
                    Some(Frame::Arith { .. }) => {
                        Context::Unsupported("arithmetic `$((...))` (set a shell variable first)")
                    }
                    _ => Context::Bare,
                }
            });
        }
        if i == b.len() {
            break;
        }
        if let Some((delim, _, strip_tabs)) = &heredoc {
            if line_start {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                let line = &text[i..end];
                let line = if *strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == delim {
                    heredoc = None;
                    if !pending.is_empty() {
                        heredoc = Some(pending.remove(0));
                    }
                    i = end + 1;
                    continue;
                }
            }
            line_start = b[i] == b'\n';
            i += 1;
            continue;
        }
        let c = b[i];
        if comment {
            if c == b'\n' {
                comment = false;
            } else {
                i += 1;
                continue;
            }
        }
        let top = *stack.last().unwrap_or(&Frame::Cmd {
            parens: 0,
            cases: 0,
            subst: false,
        });
        match (top, c) {
            (Frame::Arith { parens }, b'(') => {
                stack.pop();
                stack.push(Frame::Arith { parens: parens + 1 });
            }
            (Frame::Arith { parens: 0 }, b')') => {
                stack.pop();
                i += usize::from(b.get(i + 1) == Some(&b')'));
            }
            (Frame::Arith { parens }, b')') => {
                stack.pop();
                stack.push(Frame::Arith { parens: parens - 1 });
            }
            (Frame::Arith { .. }, _) => {}
            (Frame::Single, b'\'') => {
                stack.pop();
            }
            (Frame::Single, _) => {}
            (Frame::Double | Frame::Brace | Frame::Backtick | Frame::Cmd { .. }, b'\\') => {
                i += 1; // the next character is taken literally
            }
            (Frame::Double, b'"') => {
                stack.pop();
            }
            (Frame::Backtick, b'`') => {
                stack.pop();
            }
            (Frame::Brace, b'}') => {
                stack.pop();
            }
            (_, b'$') if text[i..].starts_with("$((") => {
                stack.push(Frame::Arith { parens: 0 });
                i += 2;
            }
            (_, b'$') if b.get(i + 1) == Some(&b'(') => {
                stack.push(Frame::Cmd {
                    parens: 0,
                    cases: 0,
                    subst: true,
                });
                i += 1;
            }
            (_, b'$') if b.get(i + 1) == Some(&b'{') => {
                stack.push(Frame::Brace);
                i += 1;
            }
            (Frame::Double | Frame::Brace | Frame::Cmd { .. }, b'`') => stack.push(Frame::Backtick),
            (Frame::Double | Frame::Brace | Frame::Backtick, _) => {}
            (Frame::Cmd { .. }, b'\'') => stack.push(Frame::Single),
            (Frame::Cmd { .. }, b'"') => stack.push(Frame::Double),
            (
                Frame::Cmd {
                    parens,
                    cases,
                    subst,
                },
                b'(',
            ) => {
                stack.pop();
                stack.push(Frame::Cmd {
                    parens: parens + 1,
                    cases,
                    subst,
                });
            }
            (
                Frame::Cmd {
                    parens,
                    cases,
                    subst,
                },
                b')',
            ) => {
                stack.pop();
                // A `case` pattern's `)` (or a stray one at the top) ends nothing.
                if parens > 0 || cases > 0 || !subst {
                    stack.push(Frame::Cmd {
                        parens: parens.saturating_sub(1),
                        cases,
                        subst,
                    });
                }
            }
            (
                Frame::Cmd {
                    parens,
                    cases,
                    subst,
                },
                b'c' | b'e',
            ) if word_at(text, i, "case") || word_at(text, i, "esac") => {
                let cases = if c == b'c' {
                    cases + 1
                } else {
                    cases.saturating_sub(1)
                };
                stack.pop();
                stack.push(Frame::Cmd {
                    parens,
                    cases,
                    subst,
                });
                i += 4;
                continue;
            }
            (Frame::Cmd { .. }, b'#') if i == 0 || b" \t\n;&|()".contains(&b[i - 1]) => {
                comment = true;
            }
            (Frame::Cmd { .. }, b'<') if text[i..].starts_with("<<<") => {
                i += 3; // a here-string, not a here-document
                continue;
            }
            // `<<` before a digit is a shift (in `((...))`), not a here-document.
            (Frame::Cmd { .. }, b'<')
                if b.get(i + 1) == Some(&b'<') && !b.get(i + 2).is_some_and(u8::is_ascii_digit) =>
            {
                let strip = b.get(i + 2) == Some(&b'-');
                let mut j = i + if strip { 3 } else { 2 };
                while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                    j += 1;
                }
                let (word, end) = heredoc_word(text, j);
                let quoted = text[j..end].contains(['\'', '"', '\\']);
                if !word.is_empty() {
                    pending.push((word, quoted, strip));
                }
                i = end;
                continue;
            }
            (Frame::Cmd { .. }, b'\n') if !pending.is_empty() => {
                heredoc = Some(pending.remove(0));
                line_start = true;
                i += 1;
                continue;
            }
            (Frame::Cmd { .. }, _) => {}
        }
        i += 1;
    }
    while out.len() < offsets.len() {
        out.push(Context::Bare);
    }
    out
}

/// Is `word` a whole shell word at `i` (a keyword such as `case`)?
fn word_at(text: &str, i: usize, word: &str) -> bool {
    let b = text.as_bytes();
    let boundary = |c: Option<&u8>| c.is_none_or(|c| b" \t\n;&|()".contains(c));
    text[i..].starts_with(word)
        && (i == 0 || boundary(b.get(i - 1)))
        && boundary(b.get(i + word.len()))
}

/// The delimiter word after `<<`, with quotes removed, and where it ends.
fn heredoc_word(text: &str, from: usize) -> (String, usize) {
    let b = text.as_bytes();
    let mut word = String::new();
    let mut j = from;
    let mut quote: Option<u8> = None;
    while j < b.len() {
        let c = b[j];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c as char),
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'\\' => {
                if let Some(&n) = b.get(j + 1) {
                    word.push(n as char);
                    j += 1;
                }
            }
            None if c.is_ascii_whitespace() || b";&|<>()".contains(&c) => break,
            None => word.push(c as char),
        }
        j += 1;
    }
    (word, j)
}

/// `value` written so that, in `ctx`, the shell reads exactly `value` as (part of) one word.
pub fn quote(value: &str, ctx: &Context) -> Result<String, Unsafe> {
    if value.contains('\0') {
        return Err(Unsafe::Nul);
    }
    Ok(match ctx {
        Context::Bare => bare(value),
        Context::Single => value.replace('\'', r"'\''"),
        Context::Double => escape(value, &['$', '`', '"', '\\']),
        Context::HereDoc { .. } if value.contains(['\n', '\r']) => {
            return Err(Unsafe::NewlineInHereDoc(ctx.clone()));
        }
        Context::HereDoc { quoted: true, .. } => value.to_string(),
        Context::HereDoc { quoted: false, .. } => escape(value, &['$', '`', '\\']),
        Context::Unsupported(_) => return Err(Unsafe::Unsupported(ctx.clone())),
    })
}

/// How a secret held in shell variable `var` is referred to in `ctx`.
pub fn reference(var: &str, ctx: &Context) -> Result<String, Unsafe> {
    Ok(match ctx {
        Context::Bare => format!("\"${{{var}}}\""),
        Context::Single => format!("'\"${{{var}}}\"'"),
        Context::Double | Context::HereDoc { quoted: false, .. } => format!("${{{var}}}"),
        Context::HereDoc { quoted: true, .. } | Context::Unsupported(_) => {
            return Err(Unsafe::Unsupported(ctx.clone()));
        }
    })
}

/// Plain words stay readable in `plan`; anything else is single-quoted.
fn bare(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,-".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

fn escape(value: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, marker: &str) -> Context {
        let i = text.find(marker).unwrap_or(text.len());
        contexts(text, &[i]).remove(0)
    }

    #[test]
    fn finds_each_quoting_context() {
        assert_eq!(at("echo X", "X"), Context::Bare);
        assert_eq!(at("echo 'a X'", "X"), Context::Single);
        assert_eq!(at("echo \"a X\"", "X"), Context::Double);
        assert_eq!(at("echo \"it's X\"", "X"), Context::Double);
        assert_eq!(at("echo 'say \"X'", "X"), Context::Single);
        assert_eq!(at("echo \"$(cd 'a' && echo X)\"", "X"), Context::Bare);
        assert_eq!(at("echo \\' X", "X"), Context::Bare);
        assert_eq!(
            at("echo `X`", "X"),
            Context::Unsupported("backticks (use `$(...)`)")
        );
        assert_eq!(at("echo ${a:-X}", "X"), Context::Unsupported("`${...}`"));
        assert_eq!(at("echo hi # X", "X"), Context::Unsupported("a comment"));
        assert_eq!(at("echo a#X", "X"), Context::Bare);
        assert_eq!(at("case a in a) echo X;; esac", "X"), Context::Bare);
        assert_eq!(
            at("echo \"$(case a in a) echo b;; esac) X\"", "X"),
            Context::Double
        );
        assert_eq!(at("echo $((1 << 2)); echo X", "X"), Context::Bare);
        assert_eq!(at("(( y = 1 <<2 )); echo X", "X"), Context::Bare);
        assert!(matches!(
            at("echo $(( X + 1 ))", "X"),
            Context::Unsupported(_)
        ));
    }

    #[test]
    fn here_documents_by_delimiter_quoting() {
        let t = "cat <<EOF\nhi X\nEOF\necho Y";
        assert_eq!(
            at(t, "X"),
            Context::HereDoc {
                delimiter: "EOF".into(),
                quoted: false
            }
        );
        assert_eq!(at(t, "Y"), Context::Bare);
        let t = "cat <<'EOF' > f && echo \"Z\"\nit's X\nEOF\n";
        assert!(matches!(at(t, "X"), Context::HereDoc { quoted: true, .. }));
        assert_eq!(at(t, "Z"), Context::Double);
        let t = "cat <<-\"E\"\n\tX\n\tE\necho 'Y'";
        assert!(matches!(at(t, "X"), Context::HereDoc { quoted: true, .. }));
        assert_eq!(at(t, "Y"), Context::Single);
    }

    #[test]
    fn quotes_for_each_context() {
        let v = "x\"; $(a) `b` \\ 'c'";
        assert_eq!(
            quote(v, &Context::Double).as_deref(),
            Ok("x\\\"; \\$(a) \\`b\\` \\\\ 'c'")
        );
        assert_eq!(quote("a'b", &Context::Single).as_deref(), Ok("a'\\''b"));
        assert_eq!(quote("a b", &Context::Bare).as_deref(), Ok("'a b'"));
        assert_eq!(quote("/srv/app", &Context::Bare).as_deref(), Ok("/srv/app"));
        assert_eq!(quote("", &Context::Bare).as_deref(), Ok("''"));
        let hd = Context::HereDoc {
            delimiter: "EOF".into(),
            quoted: false,
        };
        assert_eq!(quote("$x", &hd).as_deref(), Ok("\\$x"));
        assert!(quote("a\nEOF", &hd).is_err());
        assert!(quote("a\0", &Context::Bare).is_err());
    }
}
