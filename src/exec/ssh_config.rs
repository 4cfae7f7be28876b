//! OpenSSH client configuration (`~/.ssh/config`, see `ssh_config(5)`).
//!
//! The file is parsed once into blocks; [`SshConfig::resolve`] then walks them
//! for one alias the way `ssh` does: the first value obtained for a keyword
//! wins, except `IdentityFile`, which accumulates.
//!
//! Differences from OpenSSH, on purpose:
//! - Only the keywords in [`HostConfig`] are interpreted; all others are ignored
//!   (OpenSSH rejects unknown ones). `ProxyCommand` is ignored too, so it does
//!   not suppress a later `ProxyJump` as it would in OpenSSH.
//! - `Match` understands `all`, `host`, `originalhost`, `user` and `localuser`.
//!   A block using any other criterion (`exec`, `canonical`, `final`,
//!   `localnetwork`, `tagged`, `version`, `sessiontype`, `command`) never
//!   matches, negated or not. There is no canonicalization and no final pass.
//! - Tokens: `%%`, `%d`, `%h`, `%n`, `%p`, `%r`, `%u` in `IdentityFile` and
//!   `UserKnownHostsFile`; `%%` and `%h` in `HostName`. Any other token is a
//!   parse error. `${VAR}` and `~user` are not expanded.
//! - `Include` globs support `*` and `?` (not `[...]`) in any path component.
//! - `Port` must be numeric (no service names); file permissions are not checked.
//! - `IdentityAgent` takes `none`, `SSH_AUTH_SOCK` or a path (with `~` and the tokens
//!   above), not `${VAR}`.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use std::{fs, io};

/// OpenSSH's READCONF_MAX_DEPTH.
const MAX_INCLUDE_DEPTH: usize = 16;
const PATH_TOKENS: &str = "dhnpru";

#[derive(Debug, thiserror::Error)]
pub enum SshConfigError {
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    Yes,
    AcceptNew,
    /// `no` or `off`: accept and record unknown and changed keys.
    No,
    /// OpenSSH's default when the option is not set.
    Ask,
}

/// `IdentityAgent`: where to find the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityAgent {
    /// `none`: do not use an agent.
    Off,
    /// `SSH_AUTH_SOCK`: the socket named by that variable (OpenSSH's default).
    Env,
    Socket(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Settings in effect for one alias. `None` means "not set in the config".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostConfig {
    /// `HostName` with `%h` expanded; `None` means connect to the alias itself.
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// In config order, duplicates dropped, tokens and `~` expanded. Empty means
    /// the caller should try its default identities.
    pub identity_files: Vec<PathBuf>,
    pub identities_only: Option<bool>,
    pub identity_agent: Option<IdentityAgent>,
    /// Always the effective list: OpenSSH's default
    /// (`~/.ssh/known_hosts ~/.ssh/known_hosts2`) when unset, and empty only
    /// for `UserKnownHostsFile none`.
    pub user_known_hosts_files: Vec<PathBuf>,
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// `Some(vec![])` means `ProxyJump none`: explicitly no jump host.
    pub proxy_jump: Option<Vec<JumpHost>>,
    pub connect_timeout: Option<Duration>,
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct SshConfig {
    root: ConfigFile,
    home: PathBuf,
    local_user: String,
}

#[derive(Debug, Clone, Default)]
struct ConfigFile {
    /// Lines before the first Host/Match; they inherit the includer's state.
    preamble: Vec<Item>,
    blocks: Vec<(Condition, Vec<Item>)>,
}

#[derive(Debug, Clone)]
enum Condition {
    /// Whitespace-separated patterns, lowercased, `!` kept as a prefix.
    Host(Vec<String>),
    Match(Vec<Criterion>),
}

#[derive(Debug, Clone)]
enum Criterion {
    All,
    Unsupported,
    Test {
        negated: bool,
        subject: Subject,
        patterns: String,
    },
}

#[derive(Debug, Clone, Copy)]
enum Subject {
    Host,
    OriginalHost,
    User,
    LocalUser,
}

#[derive(Debug, Clone)]
enum Item {
    /// One config line, as a set of values of which exactly one is filled in.
    Set(Box<Values>),
    Include(Vec<ConfigFile>),
}

/// Values as written, before token expansion.
#[derive(Debug, Clone, Default)]
struct Values {
    host_name: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    identities_only: Option<bool>,
    identity_agent: Option<String>,
    known_hosts: Option<Vec<String>>,
    strict: Option<StrictHostKeyChecking>,
    proxy_jump: Option<Vec<JumpHost>>,
    connect_timeout: Option<Duration>,
    alive_interval: Option<Duration>,
    alive_count: Option<u32>,
}

impl Values {
    fn merge_first_wins(&mut self, line: &Values) {
        macro_rules! first {
            ($($field:ident),*) => {$(
                if self.$field.is_none() {
                    self.$field.clone_from(&line.$field);
                }
            )*};
        }
        first!(
            host_name,
            user,
            port,
            identities_only,
            identity_agent,
            known_hosts,
            strict
        );
        first!(proxy_jump, connect_timeout, alive_interval, alive_count);
        for file in &line.identity_files {
            // OpenSSH drops duplicates by their text as written.
            if !self.identity_files.contains(file) {
                self.identity_files.push(file.clone());
            }
        }
    }
}

impl SshConfig {
    /// Loads `path` with `$HOME` as the home directory. A missing file gives an
    /// empty config.
    pub fn load(path: &Path) -> Result<SshConfig, SshConfigError> {
        Self::load_with_home(path, &home_from_env())
    }

    pub fn load_with_home(path: &Path, home: &Path) -> Result<SshConfig, SshConfigError> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path, home),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::parse("", path, home),
            Err(source) => Err(SshConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `text` as if read from `origin`. Relative `Include` paths are
    /// resolved against `home/.ssh`, as for a user configuration.
    pub fn parse(text: &str, origin: &Path, home: &Path) -> Result<SshConfig, SshConfigError> {
        let mut parser = Parser {
            home,
            stack: vec![canonical(origin)],
        };
        Ok(SshConfig {
            root: parser.parse_file(text, origin)?,
            home: home.to_path_buf(),
            local_user: local_user_from_env(),
        })
    }

    /// Overrides the local user name (`%u`, and `%r` when `User` is unset),
    /// which otherwise comes from `$USER` or `$LOGNAME`.
    pub fn with_local_user(mut self, user: impl Into<String>) -> SshConfig {
        self.local_user = user.into();
        self
    }

    pub fn resolve(&self, alias: &str) -> HostConfig {
        let mut walk = Walk {
            alias,
            alias_lc: alias.to_lowercase(),
            local_user: &self.local_user,
            values: Values::default(),
        };
        walk.file(&self.root, true);
        walk.finish(&self.home)
    }
}

struct Walk<'a> {
    alias: &'a str,
    alias_lc: String,
    local_user: &'a str,
    values: Values,
}

impl Walk<'_> {
    fn file(&mut self, file: &ConfigFile, active: bool) {
        self.items(&file.preamble, active);
        for (condition, items) in &file.blocks {
            // Evaluated in order: `Match host` sees a HostName set above it.
            let block_active = active && self.matches(condition);
            self.items(items, block_active);
        }
    }

    fn items(&mut self, items: &[Item], active: bool) {
        for item in items {
            match item {
                Item::Set(values) if active => self.values.merge_first_wins(values),
                Item::Set(_) => {}
                Item::Include(files) => files.iter().for_each(|f| self.file(f, active)),
            }
        }
    }

    fn host_name(&self) -> Option<String> {
        let raw = self.values.host_name.as_deref()?;
        Some(expand_tokens(raw, |t| {
            (t == 'h').then(|| self.alias.to_string())
        }))
    }

    fn matches(&self, condition: &Condition) -> bool {
        let criteria = match condition {
            Condition::Host(patterns) => {
                return match_patterns(patterns.iter().map(String::as_str), &self.alias_lc);
            }
            Condition::Match(criteria) => criteria,
        };
        criteria.iter().all(|criterion| match criterion {
            Criterion::All => true,
            Criterion::Unsupported => false,
            Criterion::Test {
                negated,
                subject,
                patterns,
            } => {
                // Host patterns were lowercased when parsed; user names are case-sensitive.
                let value = match subject {
                    Subject::Host => self.host_name().unwrap_or_else(|| self.alias.into()),
                    Subject::OriginalHost => self.alias.to_string(),
                    Subject::User => self
                        .values
                        .user
                        .clone()
                        .unwrap_or_else(|| self.local_user.into()),
                    Subject::LocalUser => self.local_user.to_string(),
                };
                let value = match subject {
                    Subject::Host | Subject::OriginalHost => value.to_lowercase(),
                    Subject::User | Subject::LocalUser => value,
                };
                match_patterns(patterns.split(','), &value) != *negated
            }
        })
    }

    fn finish(self, home: &Path) -> HostConfig {
        let host_name = self.host_name();
        let v = self.values;
        let host = host_name.clone().unwrap_or_else(|| self.alias.to_string());
        let port = v.port.unwrap_or(22).to_string();
        let remote_user = v.user.as_deref().unwrap_or(self.local_user);
        let home_text = home.to_string_lossy();
        let expand_path = |raw: &String| {
            PathBuf::from(expand_tokens(&expand_tilde(raw, home), |token| {
                Some(match token {
                    'd' => home_text.to_string(),
                    'h' => host.clone(),
                    'n' => self.alias.to_string(),
                    'p' => port.clone(),
                    'r' => remote_user.to_string(),
                    'u' => self.local_user.to_string(),
                    _ => return None,
                })
            }))
        };
        let user_known_hosts_files = match &v.known_hosts {
            None => vec![
                home.join(".ssh/known_hosts"),
                home.join(".ssh/known_hosts2"),
            ],
            Some(files) if files.len() == 1 && files[0].eq_ignore_ascii_case("none") => vec![],
            Some(files) => files.iter().map(expand_path).collect(),
        };
        let identity_agent = v.identity_agent.as_ref().map(|a| match a.as_str() {
            "none" => IdentityAgent::Off,
            "SSH_AUTH_SOCK" => IdentityAgent::Env,
            path => IdentityAgent::Socket(expand_path(&path.to_string())),
        });
        HostConfig {
            identity_agent,
            identity_files: v.identity_files.iter().map(expand_path).collect(),
            user_known_hosts_files,
            host_name,
            user: v.user,
            port: v.port,
            identities_only: v.identities_only,
            strict_host_key_checking: v.strict,
            proxy_jump: v.proxy_jump,
            connect_timeout: v.connect_timeout,
            server_alive_interval: v.alive_interval,
            server_alive_count_max: v.alive_count,
        }
    }
}

struct Parser<'a> {
    home: &'a Path,
    /// Files being parsed, outermost first, for loop detection.
    stack: Vec<PathBuf>,
}

impl Parser<'_> {
    fn parse_file(&mut self, text: &str, path: &Path) -> Result<ConfigFile, SshConfigError> {
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
            for path in glob_files(&pattern) {
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

fn syntax_error(path: &Path, line: usize, message: String) -> SshConfigError {
    SshConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Splits a line into its keyword and arguments; `None` for blank and comment
/// lines. The keyword may be followed by whitespace and/or a single `=`.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
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
fn tokenize(s: &str) -> Result<Vec<String>, String> {
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

fn parse_host(args: &[String]) -> Result<Condition, String> {
    if args.is_empty() {
        return Err("missing argument for Host".into());
    }
    Ok(Condition::Host(
        args.iter().map(|a| a.to_lowercase()).collect(),
    ))
}

fn parse_match(args: &[String]) -> Result<Condition, String> {
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
fn parse_setting(lower: &str, keyword: &str, args: &[String]) -> Result<Option<Values>, String> {
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

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("invalid port '{v}'")),
    }
}

/// OpenSSH time format: a number of seconds, or a sequence such as `1h30m`
/// with units s, m, h, d, w (either case).
fn parse_duration(keyword: &str, v: &str) -> Result<Duration, String> {
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

fn parse_proxy_jump(v: &str) -> Result<Vec<JumpHost>, String> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    v.split(',').map(parse_jump_host).collect()
}

/// `[user@]host[:port]`, with `[addr]` brackets for IPv6 and an optional
/// `ssh://` prefix.
fn parse_jump_host(spec: &str) -> Result<JumpHost, String> {
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

/// Returns `value` unchanged if its `%` tokens are all in `allowed` (or `%%`).
fn check_tokens(keyword: &str, value: &str, allowed: &str) -> Result<String, String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(t) if t == '%' || allowed.contains(t) => {}
                Some(t) => return Err(format!("unsupported token %{t} in {keyword}")),
                None => return Err(format!("trailing '%' in {keyword}")),
            }
        }
    }
    Ok(value.to_string())
}

/// Replaces `%x` tokens. Values went through `check_tokens` at parse time, so
/// a token `lookup` does not know is left as written.
fn expand_tokens(value: &str, lookup: impl Fn(char) -> Option<String>) -> String {
    let mut chars = value.chars().peekable();
    let mut out = String::with_capacity(value.len());
    while let Some(c) = chars.next() {
        match (c, chars.next_if(|_| c == '%')) {
            ('%', Some('%')) => out.push('%'),
            ('%', Some(t)) => match lookup(t) {
                Some(v) => out.push_str(&v),
                None => out.extend(['%', t]),
            },
            (c, _) => out.push(c),
        }
    }
    out
}

fn expand_tilde(value: &str, home: &Path) -> String {
    match value.strip_prefix('~') {
        Some("") => home.to_string_lossy().into_owned(),
        Some(rest) if rest.starts_with('/') => home.join(&rest[1..]).to_string_lossy().into_owned(),
        _ => value.to_string(),
    }
}

/// Existing regular files matching `pattern`, in lexical order. As in
/// glob(3), a wildcard does not match a leading `.` unless the pattern does.
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !matches!(component, Component::Normal(_)) || !part.contains(['*', '?']) {
            current.iter_mut().for_each(|path| path.push(component));
            continue;
        }
        let mut next = Vec::new();
        for base in &current {
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base
            };
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| (part.starts_with('.') || !n.starts_with('.')) && wildmatch(&part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        current = next;
    }
    current.retain(|p| p.is_file());
    current
}

/// True when some pattern matches and no `!`-negated pattern does.
fn match_patterns<'p>(patterns: impl IntoIterator<Item = &'p str>, subject: &str) -> bool {
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

/// `*` matches any run of characters, `?` exactly one.
fn wildmatch(pattern: &str, subject: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), subject.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == s[si])) {
            (pi, si) = (pi + 1, si + 1);
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((star_pi, star_si)) = star {
            // Let the last `*` swallow one more character and retry.
            (pi, si) = (star_pi + 1, star_si + 1);
            star = Some((star_pi, star_si + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn home_from_env() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(std::env::home_dir)
        .unwrap_or_default()
}

fn local_user_from_env() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SshConfig {
        SshConfig::parse(text, Path::new("/cfg/config"), Path::new("/home/me"))
            .unwrap()
            .with_local_user("me")
    }

    fn parse_err(text: &str) -> String {
        SshConfig::parse(text, Path::new("/cfg/config"), Path::new("/home/me"))
            .unwrap_err()
            .to_string()
    }

    const SAMPLE: &str = r#"
# global defaults first
ConnectTimeout 10

Host web-* !web-legacy
    User deploy
    Port 2222
    IdentityFile ~/.ssh/web_%h_%p

Host web-legacy
    User legacy

Host db?
    HostName %h.internal.example.com
    User dba

Host *
    User fallback
    Port 22
    IdentityFile ~/.ssh/id_ed25519
    ServerAliveInterval 1m30s
    ServerAliveCountMax 3
"#;

    #[test]
    fn aliases_and_patterns() {
        let cfg = parse(SAMPLE);
        let web = cfg.resolve("web-1");
        assert_eq!(web.user.as_deref(), Some("deploy"));
        assert_eq!(web.port, Some(2222));
        assert_eq!(web.host_name, None);
        assert_eq!(web.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(web.server_alive_interval, Some(Duration::from_secs(90)));
        assert_eq!(web.server_alive_count_max, Some(3));

        let db = cfg.resolve("db1");
        assert_eq!(db.host_name.as_deref(), Some("db1.internal.example.com"));
        assert_eq!(db.user.as_deref(), Some("dba"));
        assert_eq!(db.port, Some(22));
        // `?` matches exactly one character.
        assert_eq!(cfg.resolve("db12").user.as_deref(), Some("fallback"));

        let other = cfg.resolve("elsewhere");
        assert_eq!(other.user.as_deref(), Some("fallback"));
        assert_eq!(
            other.identity_files,
            vec![PathBuf::from("/home/me/.ssh/id_ed25519")]
        );
    }

    #[test]
    fn host_matching_is_case_insensitive() {
        let cfg = parse("Host Web-*\n  User deploy\n");
        assert_eq!(cfg.resolve("WEB-1").user.as_deref(), Some("deploy"));
    }

    #[test]
    fn negation_excludes_block() {
        let cfg = parse(SAMPLE);
        let legacy = cfg.resolve("web-legacy");
        assert_eq!(legacy.user.as_deref(), Some("legacy"));
        assert_eq!(legacy.port, Some(22));
        // A negated pattern alone never selects a block.
        let cfg = parse("Host !foo\n  User x\n");
        assert_eq!(cfg.resolve("bar").user, None);
    }

    #[test]
    fn first_value_wins() {
        let cfg = parse("User a\nUser b\nHost h\n  User c\n  Port 1\nHost *\n  Port 2\n");
        let h = cfg.resolve("h");
        assert_eq!(h.user.as_deref(), Some("a"));
        assert_eq!(h.port, Some(1));
    }

    #[test]
    fn identity_files_accumulate_and_expand() {
        let cfg = parse(SAMPLE);
        let web = cfg.resolve("web-1");
        assert_eq!(
            web.identity_files,
            vec![
                PathBuf::from("/home/me/.ssh/web_web-1_2222"),
                PathBuf::from("/home/me/.ssh/id_ed25519"),
            ]
        );
        let cfg = parse(
            "Host a\n  HostName real.example\n  IdentityFile %d/k_%r_%u_%n_%h_%%\n  IdentityFile ~/x\n  IdentityFile ~/x\n",
        );
        assert_eq!(
            cfg.resolve("a").identity_files,
            vec![
                PathBuf::from("/home/me/k_me_me_a_real.example_%"),
                PathBuf::from("/home/me/x"),
            ]
        );
        let cfg = parse("Host a\n  User root\n  IdentityFile /keys/%r@%h:%p\n");
        assert_eq!(
            cfg.resolve("a").identity_files,
            vec![PathBuf::from("/keys/root@a:22")]
        );
    }

    #[test]
    fn identity_agent_values() {
        let cfg = parse(
            "Host a\n  IdentityAgent none\nHost b\n  IdentityAgent SSH_AUTH_SOCK\nHost c\n  IdentityAgent ~/.ssh/agent-%h.sock\n",
        );
        assert_eq!(cfg.resolve("a").identity_agent, Some(IdentityAgent::Off));
        assert_eq!(cfg.resolve("b").identity_agent, Some(IdentityAgent::Env));
        assert_eq!(
            cfg.resolve("c").identity_agent,
            Some(IdentityAgent::Socket(PathBuf::from(
                "/home/me/.ssh/agent-c.sock"
            )))
        );
        assert_eq!(cfg.resolve("d").identity_agent, None);
    }

    #[test]
    fn known_hosts_files() {
        let cfg = parse(
            "Host a\n  UserKnownHostsFile ~/.ssh/kh_%h /etc/kh\nHost b\n  UserKnownHostsFile none\nHost *\n  UserKnownHostsFile /ignored\n",
        );
        assert_eq!(
            cfg.resolve("a").user_known_hosts_files,
            vec![
                PathBuf::from("/home/me/.ssh/kh_a"),
                PathBuf::from("/etc/kh")
            ]
        );
        assert!(cfg.resolve("b").user_known_hosts_files.is_empty());
        assert_eq!(
            cfg.resolve("c").user_known_hosts_files,
            vec![PathBuf::from("/ignored")]
        );
        assert_eq!(
            parse("").resolve("c").user_known_hosts_files,
            vec![
                PathBuf::from("/home/me/.ssh/known_hosts"),
                PathBuf::from("/home/me/.ssh/known_hosts2"),
            ]
        );
    }

    #[test]
    fn equals_syntax_quotes_and_comments() {
        let cfg = parse(
            "HOST=a\nhostname=a.example\nPort = 2200\nUser =bob # trailing comment\nIdentityFile \"~/my keys/id\"\nIdentitiesOnly=yes\nStrictHostKeyChecking accept-new\n",
        );
        let a = cfg.resolve("a");
        assert_eq!(a.host_name.as_deref(), Some("a.example"));
        assert_eq!(a.port, Some(2200));
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.identity_files, vec![PathBuf::from("/home/me/my keys/id")]);
        assert_eq!(a.identities_only, Some(true));
        assert_eq!(
            a.strict_host_key_checking,
            Some(StrictHostKeyChecking::AcceptNew)
        );
    }

    #[test]
    fn tokenizer_edge_cases() {
        assert_eq!(
            tokenize(r#"a "b c" d"e f"g 'h i' j\ k \"l"#).unwrap(),
            vec!["a", "b c", "de fg", "h i", "j k", "\"l"]
        );
        assert_eq!(tokenize("\"\"").unwrap(), vec![""]);
        assert_eq!(tokenize("  # all comment").unwrap(), Vec::<String>::new());
        assert_eq!(tokenize("a#b").unwrap(), vec!["a#b"]);
    }

    #[test]
    fn strict_host_key_checking_values() {
        for (v, want) in [
            ("yes", StrictHostKeyChecking::Yes),
            ("no", StrictHostKeyChecking::No),
            ("off", StrictHostKeyChecking::No),
            ("ask", StrictHostKeyChecking::Ask),
            ("Accept-New", StrictHostKeyChecking::AcceptNew),
        ] {
            let cfg = parse(&format!("StrictHostKeyChecking {v}\n"));
            assert_eq!(cfg.resolve("x").strict_host_key_checking, Some(want), "{v}");
        }
    }

    #[test]
    fn proxy_jump_lists_and_none() {
        let cfg = parse(
            "Host a\n  ProxyJump alice@bastion:2022,jump2,[fe80::1]:23,ssh://bob@j3\nHost b\n  ProxyJump none\nHost *\n  ProxyJump default\n",
        );
        assert_eq!(
            cfg.resolve("a").proxy_jump,
            Some(vec![
                JumpHost {
                    user: Some("alice".into()),
                    host: "bastion".into(),
                    port: Some(2022)
                },
                JumpHost {
                    user: None,
                    host: "jump2".into(),
                    port: None
                },
                JumpHost {
                    user: None,
                    host: "fe80::1".into(),
                    port: Some(23)
                },
                JumpHost {
                    user: Some("bob".into()),
                    host: "j3".into(),
                    port: None
                },
            ])
        );
        assert_eq!(cfg.resolve("b").proxy_jump, Some(vec![]));
        assert_eq!(
            cfg.resolve("c").proxy_jump,
            Some(vec![JumpHost {
                user: None,
                host: "default".into(),
                port: None
            }])
        );
        assert_eq!(parse("").resolve("c").proxy_jump, None);
    }

    #[test]
    fn match_blocks() {
        let cfg = parse(
            "Host short\n  HostName short.prod.example\nMatch host *.prod.example\n  User prod\nMatch originalhost other\n  User orig\nMatch exec \"true\"\n  Port 1\nMatch !host nothing localuser me\n  Port 2\nMatch all\n  IdentitiesOnly yes\n",
        );
        let s = cfg.resolve("short");
        assert_eq!(s.user.as_deref(), Some("prod"));
        assert_eq!(
            s.port,
            Some(2),
            "exec never matches, so the negated host block applies"
        );
        assert_eq!(s.identities_only, Some(true));
        assert_eq!(cfg.resolve("other").user.as_deref(), Some("orig"));
        assert_eq!(
            parse_err("Match all host x\n"),
            "/cfg/config:1: 'Match all' cannot be combined with other criteria"
        );
        assert_eq!(
            parse_err("Match bogus x\n"),
            "/cfg/config:1: unknown Match criterion 'bogus'"
        );
        assert_eq!(
            parse_err("Match host\n"),
            "/cfg/config:1: missing argument for Match host"
        );
    }

    #[test]
    fn match_host_pattern_lists() {
        let cfg = parse("Match host a*,!ab\n  User x\n");
        assert_eq!(cfg.resolve("ac").user.as_deref(), Some("x"));
        assert_eq!(cfg.resolve("ab").user, None);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            parse_err("Host a\n  Port 99999\n"),
            "/cfg/config:2: invalid port '99999'"
        );
        assert_eq!(parse_err("\n\nPort 0\n"), "/cfg/config:3: invalid port '0'");
        assert_eq!(
            parse_err("User \"bob\n"),
            "/cfg/config:1: unterminated quote"
        );
        assert_eq!(
            parse_err("Host a\n\n  ConnectTimeout 10x\n"),
            "/cfg/config:3: invalid ConnectTimeout time value '10x'"
        );
        assert_eq!(
            parse_err("Host\n"),
            "/cfg/config:1: missing argument for Host"
        );
        assert_eq!(
            parse_err("User\n"),
            "/cfg/config:1: missing argument for User"
        );
        assert_eq!(
            parse_err("User a b\n"),
            "/cfg/config:1: garbage at end of line: 'b'"
        );
        assert_eq!(
            parse_err("IdentityFile ~/.ssh/%C\n"),
            "/cfg/config:1: unsupported token %C in IdentityFile"
        );
        assert_eq!(
            parse_err("ProxyJump a:b\n"),
            "/cfg/config:1: invalid port 'b'"
        );
        assert_eq!(
            parse_err("IdentitiesOnly maybe\n"),
            "/cfg/config:1: invalid IdentitiesOnly value 'maybe' (expected yes or no)"
        );
        // Values are checked even in blocks that would not match.
        assert!(parse_err("Host never\n  Port x\n").starts_with("/cfg/config:2:"));
    }

    #[test]
    fn unknown_keywords_ignored_and_crlf() {
        let cfg =
            parse("ForwardAgent yes\r\nHost a\r\n  SomeFutureOption whatever\r\n  User u\r\n");
        assert_eq!(cfg.resolve("a").user.as_deref(), Some("u"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("T", "0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("T", "1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("T", "1m30"), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration("T", "2W1D"),
            Ok(Duration::from_secs(2 * 604_800 + 86_400))
        );
        assert!(parse_duration("T", "").is_err());
        assert!(parse_duration("T", "m").is_err());
        assert!(parse_duration("T", "-5").is_err());
    }

    #[test]
    fn wildcard_matcher() {
        assert!(wildmatch("*", ""));
        assert!(wildmatch("a*b*c", "aXXbYYc"));
        assert!(wildmatch("*.example.com", "a.b.example.com"));
        assert!(!wildmatch("*.example.com", "example.com"));
        assert!(wildmatch("h?st", "host"));
        assert!(!wildmatch("h?st", "hst"));
        assert!(wildmatch("**a", "bba"));
    }

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, text).unwrap();
    }

    #[test]
    fn include_glob_relative_to_dot_ssh() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        write(&ssh.join("conf.d/20-b.conf"), "Host b\n  User from-b\n");
        write(
            &ssh.join("conf.d/10-a.conf"),
            "Host a b\n  User from-a\n  Port 1000\n",
        );
        write(&ssh.join("conf.d/.hidden.conf"), "Host *\n  User hidden\n");
        write(&ssh.join("conf.d/skip.txt"), "Host *\n  User txt\n");
        write(
            &ssh.join("config"),
            "Include conf.d/*.conf\nHost *\n  User default\n",
        );
        let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
        assert_eq!(cfg.resolve("a").user.as_deref(), Some("from-a"));
        // 10-a.conf comes first in lexical order, so it wins for b too.
        assert_eq!(cfg.resolve("b").user.as_deref(), Some("from-a"));
        assert_eq!(cfg.resolve("c").user.as_deref(), Some("default"));
    }

    #[test]
    fn include_absolute_tilde_and_missing() {
        let home = tempfile::tempdir().unwrap();
        write(&home.path().join("extra/inc"), "Port 2345\n");
        let cfg = SshConfig::parse(
            "Include ~/extra/inc /nonexistent/*.conf ~/.ssh/missing\n",
            &home.path().join(".ssh/config"),
            home.path(),
        )
        .unwrap();
        assert_eq!(cfg.resolve("x").port, Some(2345));
    }

    #[test]
    fn include_inside_host_block_is_conditional() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        // The included file's preamble inherits the enclosing block's state;
        // its own Host blocks only apply when that block matches too.
        write(&ssh.join("prod"), "User prod-user\nHost *\n  Port 2200\n");
        write(
            &ssh.join("config"),
            "Host prod-*\n  Include prod\n  IdentitiesOnly yes\nHost *\n  User generic\n",
        );
        let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
        let p = cfg.resolve("prod-1");
        assert_eq!(p.user.as_deref(), Some("prod-user"));
        assert_eq!(p.port, Some(2200));
        assert_eq!(
            p.identities_only,
            Some(true),
            "enclosing block resumes after Include"
        );
        let other = cfg.resolve("dev-1");
        assert_eq!(other.user.as_deref(), Some("generic"));
        assert_eq!(other.port, None);
        assert_eq!(other.identities_only, None);
    }

    #[test]
    fn include_errors() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        write(&ssh.join("loop_a"), "Include loop_b\n");
        write(&ssh.join("loop_b"), "\nInclude loop_a\n");
        write(&ssh.join("config"), "Include loop_a\n");
        let err = SshConfig::load_with_home(&ssh.join("config"), home.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:2: Include loop", ssh.join("loop_b").display())),
            "{err}"
        );

        for i in 0..20 {
            write(
                &ssh.join(format!("deep{i}")),
                &format!("Include deep{}\n", i + 1),
            );
        }
        write(&ssh.join("deep20"), "Port 1\n");
        let err = SshConfig::parse("Include deep0\n", &ssh.join("top"), home.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Include nested more than 16 levels deep"),
            "{err}"
        );

        write(&ssh.join("bad"), "Host x\n  Port nope\n");
        let err = SshConfig::parse("Include bad\n", &ssh.join("top"), home.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("{}:2: invalid port 'nope'", ssh.join("bad").display())
        );
    }

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SshConfig::load_with_home(&dir.path().join("nope"), dir.path()).unwrap();
        let h = cfg.resolve("x");
        assert_eq!(h.user, None);
        assert!(h.identity_files.is_empty());
    }
}
