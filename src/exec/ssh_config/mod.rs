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
//! - `ProxyJump` chains are followed as ssh follows them (see [`SshConfig::jump_chain`]),
//!   but a loop is an error here where ssh would spawn itself until something gives.
//! - The local user is the passwd entry of the uid, as for OpenSSH; `$HOME` (not the passwd
//!   home) stands for `~` and `%d`, so a run can be pointed at another home.
//! - `Port` must be numeric (no service names); file permissions are not checked.
//! - `IdentityAgent` takes `none`, `SSH_AUTH_SOCK` or a path (with `~` and the tokens
//!   above), not `${VAR}`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use std::{fs, io};

mod jump;
mod parse;
mod pattern;
#[cfg(test)]
mod tests;

pub use jump::Hop;
use parse::{Parser, canonical};
pub(crate) use pattern::match_list;

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
    #[error("ProxyJump for {alias}: {message}")]
    ProxyJump { alias: String, message: String },
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
    /// Whitespace-separated patterns as written, `!` kept as a prefix. OpenSSH compares them
    /// case-sensitively with the name as typed (`Match host` and `originalhost` fold case).
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
            local_user: local_user(),
        })
    }

    /// Overrides the local user name (`%u`, `Match localuser`, and `%r` when `User` is
    /// unset), which otherwise comes from [`local_user`].
    pub fn with_local_user(mut self, user: impl Into<String>) -> SshConfig {
        self.local_user = user.into();
        self
    }

    pub fn local_user(&self) -> &str {
        &self.local_user
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

    /// OpenSSH lowercases the host name once `HostName` is expanded, so `%h` and known_hosts
    /// lookups see it lowercased.
    fn host_name(&self) -> Option<String> {
        let raw = self.values.host_name.as_deref()?;
        let expanded = expand_tokens(raw, |t| (t == 'h').then(|| self.alias.to_string()));
        Some(expanded.to_lowercase())
    }

    fn matches(&self, condition: &Condition) -> bool {
        let criteria = match condition {
            Condition::Host(patterns) => {
                return match_list(patterns.iter().map(String::as_str), self.alias);
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
                match_list(patterns.split(','), &value) != *negated
            }
        })
    }

    fn finish(self, home: &Path) -> HostConfig {
        let host_name = self.host_name();
        let v = self.values;
        let host = host_name.clone().unwrap_or_else(|| self.alias_lc.clone());
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

/// Returns `value` unchanged if its `%` tokens are all in `allowed` (or `%%`).
pub(super) fn check_tokens(keyword: &str, value: &str, allowed: &str) -> Result<String, String> {
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
pub(super) fn expand_tokens(value: &str, lookup: impl Fn(char) -> Option<String>) -> String {
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

pub(super) fn expand_tilde(value: &str, home: &Path) -> String {
    match value.strip_prefix('~') {
        Some("") => home.to_string_lossy().into_owned(),
        Some(rest) if rest.starts_with('/') => home.join(&rest[1..]).to_string_lossy().into_owned(),
        _ => value.to_string(),
    }
}

pub(super) fn home_from_env() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(std::env::home_dir)
        .unwrap_or_default()
}

/// The local user as OpenSSH sees it (`%u`, `Match localuser`, the default remote user): the
/// passwd entry of the real uid, whatever `$USER` says. `$USER` or `$LOGNAME` only stand in
/// when the uid has no entry, as in a container running an unnamed uid.
pub fn local_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| {
            ["USER", "LOGNAME"]
                .iter()
                .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_default()
}
