//! OpenSSH's wildcards: pattern lists for `Host`, `Match` and known_hosts, and `Include` globs.

use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// For host and user patterns `*` crosses every character, `/` and a leading `.` included.
const ANYTHING: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// True when some pattern matches and no `!`-negated pattern does (OpenSSH's
/// `match_pattern_list`). Callers lowercase both sides where OpenSSH does.
pub(crate) fn match_list<'p>(patterns: impl IntoIterator<Item = &'p str>, subject: &str) -> bool {
    let mut positive = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildmatch(negated, subject) => return false,
            Some(_) => {}
            None => positive |= wildmatch(pattern, subject),
        }
    }
    positive
}

/// One OpenSSH pattern: `*` matches any run of characters, `?` exactly one, and every other
/// character itself. `[` is literal to OpenSSH (known_hosts writes `[host]:port`), so it is
/// escaped before `glob` sees it; runs of `*` collapse because `glob` reads `**` as "any
/// directories".
pub(crate) fn wildmatch(pattern: &str, subject: &str) -> bool {
    let mut glob = String::with_capacity(pattern.len() + 8);
    let mut after_star = false;
    for c in pattern.chars() {
        match c {
            '*' if after_star => continue,
            '[' => glob.push_str("[[]"),
            ']' => glob.push_str("[]]"),
            c => glob.push(c),
        }
        after_star = c == '*';
    }
    Pattern::new(&glob).is_ok_and(|p| p.matches_with(subject, ANYTHING))
}

/// Existing regular files matching `pattern`, in lexical order, as glob(3) gives them to
/// OpenSSH: `*`, `?` and `[...]` within one path component, a leading `.` only matched by a
/// pattern that starts with one.
pub(crate) fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let options = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let text = pattern.to_string_lossy();
    let paths = glob::glob_with(&text, options)
        .map_err(|e| format!("invalid Include pattern '{text}': {e}"))?;
    // Unreadable directories on the way are skipped, as glob(3) without GLOB_ERR does.
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
