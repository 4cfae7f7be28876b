//! Both sides' answers in `ssh -G`'s vocabulary, for the fields rehearse uses.
#![allow(clippy::expect_used)] // a test states its expectations

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rehearse::exec::ssh_config::{HostConfig, IdentityAgent, StrictHostKeyChecking};

use super::LOCAL_USER;

/// The fields rehearse uses, in `ssh -G`'s vocabulary.
#[derive(Debug, PartialEq)]
pub struct Fields(pub BTreeMap<&'static str, String>);

/// OpenSSH's identity files are printed before token expansion; the values come from the same
/// `ssh -G` output (and the passwd entry), so only the substitution is the test's own.
fn expand_identity(
    raw: &str,
    g: &BTreeMap<String, Vec<String>>,
    alias: &str,
    home: &str,
) -> String {
    let one = |k: &str| {
        g.get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let raw = match raw.strip_prefix("~/") {
        Some(rest) => format!("{home}/{rest}"),
        None => raw.to_string(),
    };
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('d') => out.push_str(home),
            Some('u') => out.push_str(LOCAL_USER),
            Some('h') => out.push_str(&one("hostname")),
            Some('p') => out.push_str(&one("port")),
            Some('r') => out.push_str(&one("user")),
            Some('n') => out.push_str(alias),
            Some(t) => panic!("token %{t} not covered by this test"),
            None => out.push('%'),
        }
    }
    out
}

pub fn from_openssh(
    g: &BTreeMap<String, Vec<String>>,
    defaults: &[String],
    alias: &str,
    home: &Path,
) -> Fields {
    let home = home.to_string_lossy();
    let one = |k: &str| g.get(k).map(|v| v.join(" ")).unwrap_or_default();
    let ids = g.get("identityfile").cloned().unwrap_or_default();
    let ids = if ids == defaults {
        "(defaults)".to_string()
    } else {
        let ids: Vec<String> = ids
            .iter()
            .map(|i| expand_identity(i, g, alias, &home))
            .collect();
        ids.join(" ")
    };
    let mut f = BTreeMap::new();
    for k in [
        "hostname",
        "port",
        "user",
        "userknownhostsfile",
        "stricthostkeychecking",
        "proxyjump",
        "identitiesonly",
        "identityagent",
        "connecttimeout",
        "serveraliveinterval",
        "serveralivecountmax",
    ] {
        f.insert(k, one(k));
    }
    f.insert("identityfile", ids);
    Fields(f)
}

pub fn from_rehearse(hc: &HostConfig, alias: &str) -> Fields {
    let list = |paths: &[PathBuf]| {
        let v: Vec<String> = paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        v.join(" ")
    };
    let jump = hc
        .proxy_jump
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|j| {
            let user = j.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
            let port = j.port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{user}{}{port}", j.host)
        });
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs().to_string());
    let mut f = BTreeMap::new();
    let hostname = hc.host_name.clone().unwrap_or_else(|| alias.to_lowercase());
    f.insert("hostname", hostname);
    f.insert("port", hc.port.unwrap_or(22).to_string());
    f.insert("user", hc.user.clone().unwrap_or_else(|| LOCAL_USER.into()));
    let kh = &hc.user_known_hosts_files;
    f.insert(
        "userknownhostsfile",
        if kh.is_empty() {
            "none".into()
        } else {
            list(kh)
        },
    );
    let strict = match hc.strict_host_key_checking {
        Some(StrictHostKeyChecking::Yes) => "true",
        Some(StrictHostKeyChecking::No) => "false",
        Some(StrictHostKeyChecking::AcceptNew) => "accept-new",
        Some(StrictHostKeyChecking::Ask) | None => "ask",
    };
    f.insert("stricthostkeychecking", strict.into());
    f.insert("proxyjump", jump.collect::<Vec<_>>().join(","));
    let only = if hc.identities_only == Some(true) {
        "yes"
    } else {
        "no"
    };
    f.insert("identitiesonly", only.into());
    let agent = match &hc.identity_agent {
        None => String::new(),
        Some(IdentityAgent::Off) => "none".into(),
        Some(IdentityAgent::Env) => "SSH_AUTH_SOCK".into(),
        Some(IdentityAgent::Socket(p)) => p.to_string_lossy().into_owned(),
    };
    f.insert("identityagent", agent);
    f.insert(
        "connecttimeout",
        secs(hc.connect_timeout).unwrap_or_else(|| "none".into()),
    );
    f.insert(
        "serveraliveinterval",
        secs(hc.server_alive_interval).unwrap_or_else(|| "0".into()),
    );
    let count = hc.server_alive_count_max.unwrap_or(3).to_string();
    f.insert("serveralivecountmax", count);
    let ids = if hc.identity_files.is_empty() {
        "(defaults)".to_string()
    } else {
        list(&hc.identity_files)
    };
    f.insert("identityfile", ids);
    Fields(f)
}
