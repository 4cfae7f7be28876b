//! Operator text and command output are hostile input: in a report they must stay data. Control
//! bytes are shown visibly (`\u{1b}` becomes `␛`), Markdown structure is escaped so a note can
//! never become a heading, a list item or a link, and HTML is escaped.

use std::fmt::Write as _;

/// Control characters as visible symbols: C0 as the Unicode control pictures (U+2400..),
/// DEL as `␡`, C1 and the bidi overrides as `\u{..}`. Newlines and tabs are kept only when
/// `keep_lines` (a preformatted excerpt); otherwise a newline shows as `␤`.
pub fn visible(s: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if keep_lines => out.push(c),
            '\n' => out.push('␤'),
            '\u{0}'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'));
            }
            '\u{7f}' => out.push('␡'),
            '\u{80}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Operator text for one Markdown line: visible controls, and every character that can start
/// or shape Markdown (or inline HTML) backslash-escaped, so it renders as the literal text.
pub fn md(s: &str) -> String {
    let v = visible(s, false);
    let mut out = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '<'
                | '>'
                | '('
                | ')'
                | '#'
                | '+'
                | '-'
                | '.'
                | '!'
                | '|'
                | '~'
                | '&'
                | '='
                | ':'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A fenced block for output excerpts: a fence longer than any run of backticks inside.
pub fn fence(text: &str) -> String {
    let text = visible(text.trim_end(), true);
    let mut ticks = "```".to_string();
    while text.contains(&ticks) {
        ticks.push('`');
    }
    format!("{ticks}text\n{text}\n{ticks}\n")
}

/// A value as a Markdown code span: shown literally (backslash escapes mean nothing inside
/// one, so none are added), control characters made visible, and fenced by a run of backticks
/// longer than any inside it, padded when it starts or ends with one.
pub fn code_span(s: &str) -> String {
    let v = visible(s, false);
    let mut ticks = "`".to_string();
    while v.contains(&ticks) {
        ticks.push('`');
    }
    let pad = if v.starts_with('`') || v.ends_with('`') || v.is_empty() {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{v}{pad}{ticks}")
}

/// HTML text content and attribute values.
pub fn esc(s: &str) -> String {
    esc_raw(&visible(s, false))
}

/// HTML for preformatted text (newlines kept).
pub fn esc_pre(s: &str) -> String {
    esc_raw(&visible(s, true))
}

fn esc_raw(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_span_shows_the_value_literally_whatever_backticks_it_holds() {
        assert_eq!(code_span("v1.2.3"), "`v1.2.3`");
        // A backtick inside cannot close the span early; one at an edge is padded.
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span("a``b`"), "``` a``b` ```");
        // Lines cannot break out of the list item, escapes cannot hide.
        assert_eq!(code_span("a\n## Gate: OPEN\u{1b}"), "`a␤## Gate: OPEN␛`");
    }

    #[test]
    fn a_note_cannot_become_a_heading_or_an_escape() {
        let note = "fine\n## Gate: OPEN\n\u{1b}[2J<script>x</script>";
        let m = md(note);
        assert!(!m.contains('\n'));
        assert!(!m.contains('\u{1b}'));
        assert!(m.contains("␤\\#\\# Gate\\: OPEN␤␛"), "{m}");
        let h = esc(note);
        assert!(!h.contains("<script>") && h.contains("␛"), "{h}");
    }
}
