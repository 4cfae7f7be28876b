//! `when` conditions: a tiny expression language over variables, choices and captured values.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | operand (("==" | "!=") operand)?
//! operand := ("var" | "choice" | "capture") "." name | "'...'" | "\"...\""
//! ```
//!
//! A reference alone is true when it has a non-empty value. A value not known yet (a choice
//! not made, a capture not recorded) leaves the condition undecided rather than false, so a
//! step is never skipped on a guess.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    Var,
    Choice,
    Capture,
}

impl RefKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RefKind::Var => "var",
            RefKind::Choice => "choice",
            RefKind::Capture => "capture",
        }
    }
}

/// `var.x`, `choice.step`, `capture.name`, with its byte offset in the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub kind: RefKind,
    pub name: String,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Lit(String, usize),
    Ref(Ref),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        left: Operand,
        right: Operand,
        eq: bool,
    },
    Set(Ref),
}

/// A parsed condition and its text, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub text: String,
    pub expr: Expr,
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Cond {
    pub fn parse(text: &str) -> Result<Cond, (usize, String)> {
        let mut p = Parser {
            toks: lex(text)?,
            pos: 0,
            end: text.len(),
        };
        let expr = p.or()?;
        if let Some((at, t)) = p.toks.get(p.pos) {
            return Err((*at, format!("unexpected {t} after a complete condition")));
        }
        Ok(Cond {
            text: text.to_string(),
            expr,
        })
    }

    /// Every reference, in order.
    pub fn refs(&self) -> Vec<&Ref> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a Ref>) {
            match e {
                Expr::Or(a, b) | Expr::And(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Not(a) => walk(a, out),
                Expr::Set(r) => out.push(r),
                Expr::Cmp { left, right, .. } => {
                    for o in [left, right] {
                        if let Operand::Ref(r) = o {
                            out.push(r);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }

    /// `Some(true/false)` once every value it needs is known; `None` while one is missing.
    pub fn eval(&self, value: &dyn Fn(&Ref) -> Option<String>) -> Option<bool> {
        eval(&self.expr, value)
    }
}

fn eval(e: &Expr, value: &dyn Fn(&Ref) -> Option<String>) -> Option<bool> {
    let operand = |o: &Operand| match o {
        Operand::Lit(s, _) => Some(s.clone()),
        Operand::Ref(r) => value(r),
    };
    // Kleene logic: a known side can decide `and`/`or` even when the other is unknown.
    match e {
        Expr::Or(a, b) => match (eval(a, value), eval(b, value)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::And(a, b) => match (eval(a, value), eval(b, value)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Not(a) => eval(a, value).map(|v| !v),
        Expr::Set(r) => value(r).map(|v| !v.is_empty()),
        Expr::Cmp { left, right, eq } => Some((operand(left)? == operand(right)?) == *eq),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Eq,
    Ne,
    Open,
    Close,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Eq => f.write_str("`==`"),
            Tok::Ne => f.write_str("`!=`"),
            Tok::Open => f.write_str("`(`"),
            Tok::Close => f.write_str("`)`"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, (usize, String)> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some(&(at, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' | ')' => {
                it.next();
                out.push((at, if c == '(' { Tok::Open } else { Tok::Close }));
            }
            '=' | '!' => {
                it.next();
                if it.next_if(|(_, n)| *n == '=').is_none() {
                    return Err((at, format!("expected `{c}=`")));
                }
                out.push((at, if c == '=' { Tok::Eq } else { Tok::Ne }));
            }
            '"' | '\'' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err((at, "string not closed".into())),
                    }
                }
                out.push((at, Tok::Str(s)));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut w = String::new();
                while let Some((_, ch)) =
                    it.next_if(|(_, ch)| ch.is_ascii_alphanumeric() || "_-.".contains(*ch))
                {
                    w.push(ch);
                }
                out.push((at, Tok::Word(w)));
            }
            other => return Err((at, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(a, _)| *a)
    }

    fn keyword(&mut self, k: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Word(w)) if w == k);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn or(&mut self) -> Result<Expr, (usize, String)> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, (usize, String)> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, (usize, String)> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let e = self.or()?;
            if self.peek() != Some(&Tok::Close) {
                return Err((self.at(), "expected `)`".into()));
            }
            self.pos += 1;
            return Ok(e);
        }
        let left = self.operand()?;
        let eq = match self.peek() {
            Some(Tok::Eq) => true,
            Some(Tok::Ne) => false,
            _ => {
                return match left {
                    Operand::Ref(r) => Ok(Expr::Set(r)),
                    Operand::Lit(_, at) => Err((
                        at,
                        "a string alone is not a condition: compare it with `==` or `!=`".into(),
                    )),
                };
            }
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp { left, right, eq })
    }

    fn operand(&mut self) -> Result<Operand, (usize, String)> {
        let at = self.at();
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
            return Err((at, "the condition ends where a value was expected".into()));
        };
        self.pos += 1;
        match tok {
            Tok::Str(s) => Ok(Operand::Lit(s, at)),
            Tok::Word(w) => {
                let kind = match w.split_once('.') {
                    Some(("var", _)) => RefKind::Var,
                    Some(("choice", _)) => RefKind::Choice,
                    Some(("capture", _)) => RefKind::Capture,
                    _ => {
                        return Err((
                            at,
                            format!(
                                "expected `var.NAME`, `choice.STEP`, `capture.NAME` or a quoted string, got `{w}`"
                            ),
                        ));
                    }
                };
                let name = w.split_once('.').map_or("", |(_, n)| n).to_string();
                if name.is_empty() || name.contains('.') {
                    return Err((at, format!("expected one name after `{}.`", kind.prefix())));
                }
                Ok(Operand::Ref(Ref { kind, name, at }))
            }
            other => Err((at, format!("expected a value, got {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, vals: &[(&str, &str)]) -> Option<bool> {
        let c = Cond::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        c.eval(&|r| {
            let key = format!("{}.{}", r.kind.prefix(), r.name);
            vals.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_string())
        })
    }

    #[test]
    fn evaluates_with_precedence_and_unknowns() {
        assert_eq!(
            run("choice.path == 'A'", &[("choice.path", "A")]),
            Some(true)
        );
        assert_eq!(run("choice.path == 'A'", &[]), None);
        assert_eq!(
            run(
                "var.x != \"\" and not (choice.p == 'B' or capture.r)",
                &[("var.x", "1"), ("choice.p", "A"), ("capture.r", "")]
            ),
            Some(true)
        );
        // A known false side decides `and` even when the other is unknown.
        assert_eq!(
            run("var.x == 'y' and choice.p == 'A'", &[("var.x", "n")]),
            Some(false)
        );
        assert_eq!(
            run("var.x == 'y' or choice.p == 'A'", &[("var.x", "y")]),
            Some(true)
        );
    }

    #[test]
    fn errors_point_at_the_offending_place() {
        assert_eq!(
            Cond::parse("choice.path = 'A'").err(),
            Some((12, "expected `==`".into()))
        );
        assert_eq!(Cond::parse("path == 'A'").err().map(|e| e.0), Some(0));
        assert_eq!(
            Cond::parse("var.x == 'a' var.y").err(),
            Some((13, "unexpected `var.y` after a complete condition".into()))
        );
        assert_eq!(Cond::parse("(var.x").err().map(|e| e.0), Some(6));
        assert_eq!(Cond::parse("var.x == 'a").err().map(|e| e.0), Some(9));
    }
}
