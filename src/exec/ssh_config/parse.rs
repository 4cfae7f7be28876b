//! Reading config files: lines, quoting, keywords, `Host`/`Match` conditions and `Include`.

use super::*;

pub(super) struct Parser<'a> {
    pub(super) home: &'a Path,
    /// Files being parsed, outermost first, for loop detection.
    pub(super) stack: Vec<PathBuf>,
}

impl Parser<'_> {
    pub(super) fn parse_file(
        &mut self,
        text: &str,
        path: &Path,
    ) -> Result<ConfigFile, SshConfigError> {
        let mut file = ConfigFile::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let syntax = |message| syntax_error(path, line, message);
            let Some((keyword, args)) = split_line(raw).map_err(syntax)? else {
                continue;
            };
            let lower = keyword.to_ascii_lowercase();
            let item = match lower.as_str() {
                "host" | "match" => {
                    let condition = if lower == "host" {
                        parse_host(&args)
                    } else {
                        parse_match(&args)
                    };
                    file.blocks.push((condition.map_err(syntax)?, Vec::new()));
                    continue;
                }
                "include" => Item::Include(self.include(&args, path, line)?),
                _ => match parse_setting(&lower, &keyword, &args).map_err(syntax)? {
                    Some(values) => Item::Set(Box::new(values)),
                    None => continue,
                },
            };
            match file.blocks.last_mut() {
                Some((_, items)) => items.push(item),
                None => file.preamble.push(item),
            }
        }
        Ok(file)
    }

    fn include(
        &mut self,
        args: &[String],
        from: &Path,
        line: usize,
    ) -> Result<Vec<ConfigFile>, SshConfigError> {
        if args.is_empty() {
            return Err(syntax_error(
                from,
                line,
                "missing argument for Include".into(),
            ));
        }
        let mut files = Vec::new();
        for arg in args {
            let expanded = PathBuf::from(expand_tilde(arg, self.home));
            let pattern = if expanded.is_absolute() {
                expanded
            } else {
                self.home.join(".ssh").join(expanded)
            };
            let paths = pattern::glob_files(&pattern).map_err(|m| syntax_error(from, line, m))?;
            for path in paths {
                let key = canonical(&path);
                let message = if self.stack.contains(&key) {
                    format!("Include loop through {}", path.display())
                } else if self.stack.len() > MAX_INCLUDE_DEPTH {
                    format!("Include nested more than {MAX_INCLUDE_DEPTH} levels deep")
                } else {
                    let text = fs::read_to_string(&path).map_err(|source| SshConfigError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    self.stack.push(key);
                    let parsed = self.parse_file(&text, &path);
                    self.stack.pop();
                    files.push(parsed?);
                    continue;
                };
                return Err(syntax_error(from, line, message));
            }
        }
        Ok(files)
    }
}

pub(super) fn syntax_error(path: &Path, line: usize, message: String) -> SshConfigError {
    SshConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    }
}

pub(super) fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Splits a line into its keyword and arguments; `None` for blank and comment
/// lines. The keyword may be followed by whitespace and/or a single `=`.
pub(super) fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c == '=' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    if end == 0 {
        return Err("missing keyword before '='".into());
    }
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    Ok(Some((line[..end].to_string(), tokenize(rest)?)))
}

/// Splits arguments on whitespace, honouring double and single quotes and the
/// backslash escapes OpenSSH accepts. An unquoted `#` starting an argument
/// begins a comment.
pub(super) fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if matches!(chars.peek(), None | Some('#')) {
            return Ok(args);
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', q) => {
                    let escapable =
                        |&n: &char| matches!(n, '\\' | '"' | '\'') || (n == ' ' && q.is_none());
                    arg.push(chars.next_if(escapable).unwrap_or('\\'));
                }
                (c, None) if c.is_ascii_whitespace() => break,
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        args.push(arg);
    }
}

pub(super) fn parse_host(args: &[String]) -> Result<Condition, String> {
    if args.is_empty() {
        return Err("missing argument for Host".into());
    }
    Ok(Condition::Host(args.to_vec()))
}

pub(super) fn parse_match(args: &[String]) -> Result<Condition, String> {
    if args.is_empty() {
        return Err("missing criteria for Match".into());
    }
    let (mut criteria, mut has_all, mut others) = (Vec::new(), false, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (negated, word) = match arg.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, arg.as_str()),
        };
        let name = word.to_ascii_lowercase();
        let subject = match name.as_str() {
            "all" => {
                has_all = true;
                criteria.push(Criterion::All);
                continue;
            }
            "canonical" | "final" => {
                criteria.push(Criterion::Unsupported);
                continue;
            }
            "host" => Some(Subject::Host),
            "originalhost" => Some(Subject::OriginalHost),
            "user" => Some(Subject::User),
            "localuser" => Some(Subject::LocalUser),
            "exec" | "localnetwork" | "tagged" | "version" | "sessiontype" | "command" => None,
            _ => return Err(format!("unknown Match criterion '{word}'")),
        };
        others = true;
        let patterns = it
            .next()
            .cloned()
            .ok_or_else(|| format!("missing argument for Match {name}"))?;
        let patterns = match subject {
            Some(Subject::Host | Subject::OriginalHost) => patterns.to_lowercase(),
            _ => patterns,
        };
        criteria.push(match subject {
            Some(subject) => Criterion::Test {
                negated,
                subject,
                patterns,
            },
            None => Criterion::Unsupported,
        });
    }
    if has_all && others {
        return Err("'Match all' cannot be combined with other criteria".into());
    }
    Ok(Condition::Match(criteria))
}

/// `Ok(None)` for keywords this module does not interpret.
pub(super) fn parse_setting(
    lower: &str,
    keyword: &str,
    args: &[String],
) -> Result<Option<Values>, String> {
    let mut v = Values::default();
    let one = || match args {
        [] => Err(format!("missing argument for {keyword}")),
        [one] => Ok(one.as_str()),
        [_, extra, ..] => Err(format!("garbage at end of line: '{extra}'")),
    };
    let invalid = |value: &str| format!("invalid {keyword} value '{value}'");
    match lower {
        "hostname" => v.host_name = Some(check_tokens(keyword, one()?, "h")?),
        "user" => v.user = Some(one()?.to_string()),
        "port" => v.port = Some(parse_port(one()?)?),
        "identityfile" => v.identity_files = vec![check_tokens(keyword, one()?, PATH_TOKENS)?],
        "identitiesonly" => {
            let value = one()?;
            v.identities_only = Some(match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => return Err(format!("{} (expected yes or no)", invalid(value))),
            })
        }
        "identityagent" => v.identity_agent = Some(check_tokens(keyword, one()?, PATH_TOKENS)?),
        "userknownhostsfile" => {
            if args.is_empty() {
                return Err(format!("missing argument for {keyword}"));
            }
            let files = args.iter().map(|a| check_tokens(keyword, a, PATH_TOKENS));
            v.known_hosts = Some(files.collect::<Result<_, _>>()?);
        }
        "stricthostkeychecking" => {
            let value = one()?;
            v.strict = Some(match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => StrictHostKeyChecking::Yes,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                "no" | "off" | "false" => StrictHostKeyChecking::No,
                "ask" => StrictHostKeyChecking::Ask,
                _ => return Err(invalid(value)),
            })
        }
        "proxyjump" => v.proxy_jump = Some(parse_proxy_jump(one()?)?),
        "connecttimeout" => v.connect_timeout = Some(parse_duration(keyword, one()?)?),
        "serveraliveinterval" => v.alive_interval = Some(parse_duration(keyword, one()?)?),
        "serveralivecountmax" => {
            let value = one()?;
            v.alive_count = Some(value.parse().map_err(|_| invalid(value))?);
        }
        _ => return Ok(None),
    }
    Ok(Some(v))
}

pub(super) fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("invalid port '{v}'")),
    }
}

/// OpenSSH time format: a number of seconds, or a sequence such as `1h30m`
/// with units s, m, h, d, w (either case).
pub(super) fn parse_duration(keyword: &str, v: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid {keyword} time value '{v}'");
    let mut total: u64 = 0;
    let mut rest = v;
    loop {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let mut tail = rest[digits..].chars();
        let unit = match tail.next().map(|c| c.to_ascii_lowercase()) {
            None | Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            Some('w') => 604_800,
            Some(_) => return Err(invalid()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(invalid)?;
        rest = tail.as_str();
        if rest.is_empty() {
            return Ok(Duration::from_secs(total));
        }
    }
}

pub(super) fn parse_proxy_jump(v: &str) -> Result<Vec<JumpHost>, String> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    v.split(',').map(parse_jump_host).collect()
}

/// `[user@]host[:port]`, with `[addr]` brackets for IPv6 and an optional
/// `ssh://` prefix.
pub(super) fn parse_jump_host(spec: &str) -> Result<JumpHost, String> {
    let invalid = |why: &str| format!("invalid ProxyJump host '{spec}': {why}");
    let body = spec.strip_prefix("ssh://").unwrap_or(spec);
    let body = body.strip_suffix('/').unwrap_or(body);
    let (user, hostport) = match body.rsplit_once('@') {
        Some(("", _)) => return Err(invalid("empty user")),
        Some((user, hostport)) => (Some(user.to_string()), hostport),
        None => (None, body),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(invalid("unexpected text after ']'")),
            },
            None => return Err(invalid("missing ']'")),
        },
        None => match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    if host.is_empty() {
        return Err(invalid("empty host name"));
    }
    Ok(JumpHost {
        user,
        host: host.to_string(),
        port: port.map(parse_port).transpose()?,
    })
}
