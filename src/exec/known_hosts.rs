//! Host key verification against OpenSSH `known_hosts` files (see the
//! "SSH_KNOWN_HOSTS FILE FORMAT" section of `sshd(8)`).
//!
//! Differences from OpenSSH, on purpose:
//! - `@cert-authority` lines are parsed but never consulted: only plain host
//!   keys are checked.
//! - A known key of a different algorithm makes the result
//!   [`HostKeyStatus::Changed`]; OpenSSH only warns and treats the key as new.
//!   [`KnownKey::algorithm`] lets the caller tell the two cases apart.
//! - A `@revoked` line revokes its key whatever its host patterns say;
//!   OpenSSH only consults revoked lines whose patterns match the host.
//! - No `CheckHostIP` lookups: callers check the address themselves if wanted.
//! - Only hashed names of the `|1|` (HMAC-SHA1) kind exist, as in OpenSSH.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;

use super::ssh_config::match_list;

#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot record a host key for {host:?}: {reason}")]
    InvalidHost { host: String, reason: &'static str },
    #[error("cannot encode host key: {0}")]
    Key(#[from] russh::keys::ssh_key::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Known {
        file: PathBuf,
        line: usize,
    },
    Unknown,
    /// The host has entries, but none with this key (possibly only keys of
    /// other algorithms).
    Changed {
        known: Vec<KnownKey>,
    },
    /// Takes precedence over any `Known` entry.
    Revoked {
        file: PathBuf,
        line: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub file: PathBuf,
    pub line: usize,
    pub algorithm: String,
    /// `SHA256:` followed by unpadded base64, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// A line that was skipped because it could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHostsWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for KnownHostsWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    warnings: Vec<KnownHostsWarning>,
}

#[derive(Debug, Clone)]
struct Entry {
    file: PathBuf,
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key: PublicKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    /// Comma-separated patterns, lowercased, `!` kept as a prefix.
    Patterns(Vec<String>),
    Hashed {
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

impl KnownHosts {
    /// Reads each file in order. Missing files count as empty; any other read
    /// error fails the load.
    pub fn load(files: &[PathBuf]) -> Result<KnownHosts, KnownHostsError> {
        let mut all = KnownHosts::default();
        for file in files {
            let bytes = match fs::read(file) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(KnownHostsError::Io {
                        path: file.clone(),
                        source,
                    });
                }
            };
            let parsed = Self::parse(&String::from_utf8_lossy(&bytes), file);
            all.entries.extend(parsed.entries);
            all.warnings.extend(parsed.warnings);
        }
        Ok(all)
    }

    /// Never fails: like OpenSSH, lines that cannot be understood are skipped,
    /// and each is recorded in [`KnownHosts::warnings`].
    pub fn parse(text: &str, file: &Path) -> KnownHosts {
        let mut known = KnownHosts::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw.strip_suffix('\r').unwrap_or(raw)) {
                Ok(None) => {}
                Ok(Some((marker, hosts, key))) => known.entries.push(Entry {
                    file: file.to_path_buf(),
                    line,
                    marker,
                    hosts,
                    key,
                }),
                Err(message) => known.warnings.push(KnownHostsWarning {
                    file: file.to_path_buf(),
                    line,
                    message,
                }),
            }
        }
        known
    }

    pub fn warnings(&self) -> &[KnownHostsWarning] {
        &self.warnings
    }

    /// Number of usable entries, markers included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let same_key = |entry: &Entry| entry.key.key_data() == key.key_data();
        if let Some(revoked) = self
            .entries
            .iter()
            .find(|e| e.marker == Marker::Revoked && same_key(e))
        {
            return HostKeyStatus::Revoked {
                file: revoked.file.clone(),
                line: revoked.line,
            };
        }
        // ssh lowercases the host name before looking it up or hashing it.
        let name = host_pattern_for(host, port).to_lowercase();
        let mut known = Vec::new();
        for entry in &self.entries {
            if entry.marker != Marker::None || !entry.hosts.matches(&name) {
                continue;
            }
            if same_key(entry) {
                return HostKeyStatus::Known {
                    file: entry.file.clone(),
                    line: entry.line,
                };
            }
            known.push(KnownKey {
                file: entry.file.clone(),
                line: entry.line,
                algorithm: entry.key.algorithm().as_str().to_string(),
                fingerprint: entry.key.fingerprint(HashAlg::Sha256).to_string(),
            });
        }
        if known.is_empty() {
            HostKeyStatus::Unknown
        } else {
            HostKeyStatus::Changed { known }
        }
    }
}

impl KnownHosts {
    /// Algorithms of the keys known for `host` (revoked keys left out), in file order. The
    /// client asks for these first, as OpenSSH does, so that a host with several keys shows the
    /// one on file instead of looking changed.
    pub fn known_algorithms(&self, host: &str, port: u16) -> Vec<russh::keys::Algorithm> {
        let name = host_pattern_for(host, port).to_lowercase();
        let revoked: Vec<&PublicKey> = self
            .entries
            .iter()
            .filter(|e| e.marker == Marker::Revoked)
            .map(|e| &e.key)
            .collect();
        let mut out = Vec::new();
        for e in &self.entries {
            if e.marker != Marker::None
                || !e.hosts.matches(&name)
                || revoked.iter().any(|r| r.key_data() == e.key.key_data())
            {
                continue;
            }
            let alg = e.key.algorithm();
            if !out.contains(&alg) {
                out.push(alg);
            }
        }
        out
    }
}

impl Hosts {
    fn matches(&self, name: &str) -> bool {
        match self {
            Hosts::Hashed { salt, hash } => {
                let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Hosts::Patterns(patterns) => match_list(patterns.iter().map(String::as_str), name),
        }
    }
}

type ParsedLine = (Marker, Hosts, PublicKey);

/// `Ok(None)` for blank and comment lines; `Err` explains a skipped line.
fn parse_line(line: &str) -> Result<Option<ParsedLine>, String> {
    let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
    let first = match fields.next() {
        None => return Ok(None),
        Some(f) if f.starts_with('#') => return Ok(None),
        Some(f) => f,
    };
    let (marker, hosts) = match first {
        "@revoked" => (Marker::Revoked, fields.next()),
        "@cert-authority" => (Marker::CertAuthority, fields.next()),
        m if m.starts_with('@') => return Err(format!("unknown marker {m}")),
        hosts => (Marker::None, Some(hosts)),
    };
    let hosts = parse_hosts(hosts.ok_or("missing host patterns")?)?;
    let (Some(algorithm), Some(data)) = (fields.next(), fields.next()) else {
        return Err("missing key".into());
    };
    let key = PublicKey::from_openssh(&format!("{algorithm} {data}"))
        .map_err(|e| format!("cannot parse {algorithm} key: {e}"))?;
    Ok(Some((marker, hosts, key)))
}

fn parse_hosts(field: &str) -> Result<Hosts, String> {
    if !field.starts_with('|') {
        return Ok(Hosts::Patterns(
            field
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_lowercase)
                .collect(),
        ));
    }
    let invalid = || format!("invalid hashed host name {field}");
    let ["", "1", salt, hash] = field.split('|').collect::<Vec<_>>()[..] else {
        return Err(invalid());
    };
    let salt = STANDARD.decode(salt).map_err(|_| invalid())?;
    let hash = STANDARD.decode(hash).map_err(|_| invalid())?;
    // OpenSSH requires both to be exactly one SHA-1 digest long.
    if salt.len() != 20 || hash.len() != 20 {
        return Err(invalid());
    }
    Ok(Hosts::Hashed { salt, hash })
}

/// The name ssh looks up: `host` on port 22, `[host]:port` otherwise.
pub fn host_pattern_for(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Appends `host key` as a new line, creating the file (0600) and its parent
/// directory (0700) if needed. Existing lines are never rewritten; if the file
/// lacks a final newline, one is added first.
pub fn append_known_host(
    file: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<(), KnownHostsError> {
    let invalid = |reason| KnownHostsError::InvalidHost {
        host: host.to_string(),
        reason,
    };
    if host.is_empty() {
        return Err(invalid("empty host name"));
    }
    if host.starts_with(['@', '#', '|', '!', '[']) {
        return Err(invalid(
            "it starts with a character that has a meaning in known_hosts",
        ));
    }
    if host.contains(|c: char| c.is_whitespace() || c.is_control() || ",*?[]".contains(c)) {
        return Err(invalid("it contains whitespace or a pattern character"));
    }
    let entry = format!(
        "{} {} {}\n",
        host_pattern_for(&host.to_lowercase(), port),
        key.algorithm().as_str(),
        STANDARD.encode(key.to_bytes()?)
    );
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KnownHostsError::Io { path, source }
    };
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io_err(parent))?;
    }
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .map_err(io_err(file))?;
    let mut text = String::new();
    if f.metadata().map_err(io_err(file))?.len() > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::End(-1))
            .and_then(|_| f.read_exact(&mut last))
            .map_err(io_err(file))?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(&entry);
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(io_err(file))
}

#[cfg(test)]
mod tests;
