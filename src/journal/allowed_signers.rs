//! `allowed_signers` read the way `ssh-keygen -Y verify` reads it (ssh-keygen(1), ALLOWED
//! SIGNERS): `principals [options] key`, principals a comma-separated pattern list with `*`,
//! `?` and `!` negation; options `namespaces="..."`, `valid-after="..."`, `valid-before="..."`
//! and `cert-authority`. Certificates are not used to sign rehearse journals, so a
//! `cert-authority` line is refused rather than silently ignored.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use russh::keys::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum AllowedSignersError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone)]
struct Line {
    principals: String,
    namespaces: Option<String>,
    /// Seconds since the epoch; ssh-keygen's bounds are inclusive of the instant itself.
    valid_after: Option<u64>,
    valid_before: Option<u64>,
    key: PublicKey,
}

/// The keys a verifier trusts, and for whom.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    /// Where the file came from, for messages ("--allowed-signers x", "config dir").
    pub origin: String,
    lines: Vec<Line>,
}

impl AllowedSigners {
    pub fn load(path: &Path, origin: impl Into<String>) -> Result<Self, AllowedSignersError> {
        let text = std::fs::read_to_string(path).map_err(|source| AllowedSignersError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, origin)
    }

    pub fn parse(
        text: &str,
        path: &Path,
        origin: impl Into<String>,
    ) -> Result<Self, AllowedSignersError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_start_matches([' ', '\t']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = parse_line(line).map_err(|message| AllowedSignersError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            })?;
            lines.push(parsed);
        }
        Ok(AllowedSigners {
            origin: origin.into(),
            lines,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Would `ssh-keygen -Y verify -I principal -n namespace -Overify-time=at` accept a valid
    /// signature by `key`?
    pub fn allows(
        &self,
        principal: &str,
        namespace: &str,
        key: &PublicKey,
        at: SystemTime,
    ) -> bool {
        let t = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        self.lines.iter().any(|l| {
            match_list(principal, &l.principals) == Some(true)
                && l.namespaces
                    .as_deref()
                    .is_none_or(|ns| match_list(namespace, ns) == Some(true))
                && l.valid_after.is_none_or(|a| t >= a)
                && l.valid_before.is_none_or(|b| t <= b)
                && l.key.key_data() == key.key_data()
        })
    }

    /// Does any line name this key at all (for "valid but not allowed for that name")?
    pub fn knows_key(&self, key: &PublicKey) -> bool {
        self.lines
            .iter()
            .any(|l| l.key.key_data() == key.key_data())
    }
}

/// One whitespace-delimited field, or a double-quoted one (quotes removed), as `strdelimw`.
fn field(s: &str) -> Result<(String, &str), String> {
    if let Some(rest) = s.strip_prefix('"') {
        let end = rest.find('"').ok_or("unterminated quote")?;
        return Ok((rest[..end].to_string(), &rest[end + 1..]));
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    Ok((s[..end].to_string(), &s[end..]))
}

/// The options field runs to the first blank outside double quotes.
fn options_field(s: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Ok((&s[..i], &s[i..])),
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quote in options".into());
    }
    Ok((s, ""))
}

fn parse_key(s: &str) -> Option<PublicKey> {
    let mut parts = s.split_whitespace();
    let algo = parts.next()?;
    let body = parts.next()?;
    PublicKey::from_openssh(&format!("{algo} {body}")).ok()
}

fn parse_line(line: &str) -> Result<Line, String> {
    let (principals, rest) = field(line)?;
    let rest = rest.trim_start();
    if principals.is_empty() || rest.is_empty() {
        return Err("expected `principals [options] key`".into());
    }
    let mut l = Line {
        principals,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: match parse_key(rest) {
            Some(k) => k,
            None => {
                let (_, after) = options_field(rest)?;
                parse_key(after.trim_start())
                    .ok_or_else(|| "no valid public key after the options".to_string())?
            }
        },
    };
    if parse_key(rest).is_none() {
        apply_options(options_field(rest)?.0, &mut l)?;
    }
    if l.key.algorithm().as_str().contains("-cert-") {
        return Err("certificate keys are not supported".into());
    }
    Ok(l)
}

fn split_options(opts: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in opts.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn dequote(v: &str) -> Result<String, String> {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_string)
        .ok_or_else(|| format!("option value {v:?} must be in double quotes"))
}

fn apply_options(opts: &str, l: &mut Line) -> Result<(), String> {
    for opt in split_options(opts) {
        let (name, value) = opt.split_once('=').unwrap_or((&opt, ""));
        match name.to_ascii_lowercase().as_str() {
            "cert-authority" => {
                return Err(
                    "cert-authority is not supported: list the signing keys themselves".into(),
                );
            }
            "namespaces" => l.namespaces = Some(dequote(value)?),
            "valid-after" => l.valid_after = Some(parse_time(&dequote(value)?)?),
            "valid-before" => l.valid_before = Some(parse_time(&dequote(value)?)?),
            _ => return Err(format!("unknown option {name:?}")),
        }
    }
    Ok(())
}

/// `YYYYMMDD[HHMM[SS]]Z`. ssh-keygen reads a time without `Z` as local time; rehearse refuses
/// it rather than guess which zone a reviewer's machine is in.
fn parse_time(s: &str) -> Result<u64, String> {
    let Some(digits) = s.strip_suffix(['Z', 'z']) else {
        return Err(format!(
            "time {s:?}: write it in UTC with a Z suffix (YYYYMMDD[HHMM[SS]]Z)"
        ));
    };
    let bad = || format!("time {s:?}: expected YYYYMMDD[HHMM[SS]]Z");
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().unwrap_or(0);
    let (hh, mm, ss) = match digits.len() {
        8 => (0, 0, 0),
        12 => (n(8, 10), n(10, 12), 0),
        _ => (n(8, 10), n(10, 12), n(12, 14)),
    };
    let text = format!(
        "{}-{}-{}T{:02}:{:02}:{:02}Z",
        &digits[0..4],
        &digits[4..6],
        &digits[6..8],
        hh,
        mm,
        ss
    );
    let t = humantime::parse_rfc3339(&text).map_err(|_| bad())?;
    Ok(t.duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| bad())?
        .as_secs())
}

/// OpenSSH's `match_pattern_list`: `Some(true)` if a positive pattern matches and no negated
/// one does, `Some(false)` if a negated one matches (a hard no), `None` if nothing matched.
pub fn match_list(s: &str, list: &str) -> Option<bool> {
    let mut positive = None;
    for pat in list.split(',') {
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg, s) {
                return Some(false);
            }
        } else if glob(pat, s) {
            positive = Some(true);
        }
    }
    positive
}

/// `*` and `?` wildcards, iteratively (no exponential backtracking on hostile patterns).
fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_match_pattern_list() {
        assert_eq!(match_list("ana", "ana,bob"), Some(true));
        assert_eq!(match_list("ana", "*,!ana"), Some(false));
        assert_eq!(match_list("eve", "*,!ana"), Some(true));
        assert_eq!(match_list("eve", "a*"), None);
        assert_eq!(match_list("ana@x", "?na@*"), Some(true));
        assert!(!glob("*a*a*a*a*b", &"a".repeat(40)));
    }

    #[test]
    fn times_need_utc() {
        assert_eq!(parse_time("19700102Z"), Ok(86_400));
        assert_eq!(parse_time("197001020001Z"), Ok(86_460));
        assert!(parse_time("19700102").is_err());
        assert!(parse_time("1970010").is_err());
    }
}
