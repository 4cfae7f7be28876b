//! From a runbook target to an executor: the target's fields, then `~/.ssh/config` for the
//! alias or host, then OpenSSH's defaults, in that order (explicit beats configured).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKey, PublicKey};

use super::local::LocalExecutor;
use super::ssh::{Identity, SshExecutor, SshParams};
use super::ssh_config::{HostConfig, IdentityAgent, SshConfig, StrictHostKeyChecking};
use super::{Executor, Prompter};
use crate::runbook::{LOCAL, Runbook, TargetKind, Template, Vars};

#[derive(Clone, Default)]
pub struct TargetOptions {
    /// `~/.ssh/config` unless given.
    pub ssh_config: Option<PathBuf>,
    /// Keys pinned per target name (the demo host): known_hosts is not consulted for these.
    pub pins: BTreeMap<String, PublicKey>,
    /// In-memory identities tried before any file (the demo's throwaway client key).
    pub keys: Vec<Arc<PrivateKey>>,
    /// Ask the agent? (Off for the demo, whose host knows only its own key.)
    pub no_agent: bool,
    pub strict_override: Option<StrictHostKeyChecking>,
    /// The home directory for `~` and the default files; `$HOME` unless given.
    pub home: Option<PathBuf>,
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

pub fn login_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "operator".into())
}

fn expand_tilde(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => PathBuf::from(p),
    }
}

fn render(t: &Option<Template>, vars: &Vars, what: &str) -> Result<Option<String>, String> {
    t.as_ref()
        .map(|t| t.render(vars).map(|r| r.value.expose().to_string()))
        .transpose()
        .map_err(|e| format!("{what}: {e}"))
        .map(|o| o.filter(|s| !s.is_empty()))
}

fn params_from(
    target: &str,
    name: &str,
    explicit: (Option<String>, Option<u16>, Option<String>),
    hc: &HostConfig,
    config: &SshConfig,
    home: &Path,
) -> SshParams {
    let (host, port, user) = explicit;
    let default_ids = ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| Identity::File(home.join(".ssh").join(n)))
        .collect::<Vec<_>>();
    SshParams {
        target: target.to_string(),
        // OpenSSH lowercases the name it connects to, and looks it up in known_hosts so.
        host: host
            .or_else(|| hc.host_name.clone())
            .unwrap_or_else(|| name.to_lowercase()),
        port: port.or(hc.port).unwrap_or(22),
        user: user
            .or_else(|| hc.user.clone())
            .unwrap_or_else(|| config.local_user().to_string()),
        // The config module fills in OpenSSH's defaults; empty means `UserKnownHostsFile none`.
        known_hosts: hc.user_known_hosts_files.clone(),
        strict: hc
            .strict_host_key_checking
            .unwrap_or(StrictHostKeyChecking::Ask),
        pinned: None,
        identities: if hc.identity_files.is_empty() {
            default_ids
        } else {
            hc.identity_files
                .iter()
                .cloned()
                .map(Identity::File)
                .collect()
        },
        identities_only: hc.identities_only.unwrap_or(false),
        use_agent: hc.identity_agent != Some(IdentityAgent::Off),
        agent: match &hc.identity_agent {
            Some(IdentityAgent::Socket(p)) => Some(p.clone()),
            _ => None,
        },
        jumps: Vec::new(),
        // Zero means "no timeout" to OpenSSH; here it would mean "give up at once".
        connect_timeout: hc
            .connect_timeout
            .filter(|t| !t.is_zero())
            .unwrap_or(Duration::from_secs(15)),
        // Zero turns OpenSSH's keepalives off; rehearse keeps its default ones (see ssh.rs).
        keepalive: hc.server_alive_interval.filter(|t| !t.is_zero()),
        keepalive_max: hc.server_alive_count_max.map_or(3, |n| n as usize),
    }
}

/// Resolve one SSH target of the runbook into connection parameters.
pub fn ssh_params(
    rb: &Runbook,
    target: &str,
    vars: &Vars,
    opts: &TargetOptions,
) -> Result<SshParams, String> {
    let def = rb
        .target(target)
        .ok_or_else(|| format!("unknown target `{target}`"))?;
    let TargetKind::Ssh(t) = &def.kind else {
        return Err(format!("target `{target}` is local"));
    };
    let home = opts.home.clone().unwrap_or_else(home_dir);
    let config_path = opts
        .ssh_config
        .clone()
        .unwrap_or_else(|| home.join(".ssh/config"));
    let config = SshConfig::load_with_home(&config_path, &home).map_err(|e| e.to_string())?;
    let alias = render(&t.alias, vars, "alias")?;
    let host = render(&t.host, vars, "host")?;
    let port = render(&t.port, vars, "port")?
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("target `{target}`: port {p:?} is not a port number"))
        })
        .transpose()?;
    let user = render(&t.user, vars, "user")?;
    let name = alias.clone().or_else(|| host.clone()).unwrap_or_default();
    let hc = config.resolve(&name);
    // With an alias, the runbook's host (if any) overrides HostName; without, `host` is the
    // name looked up, and HostName from the config applies.
    let explicit_host = if alias.is_some() { host } else { None };
    let mut p = params_from(
        target,
        &name,
        (explicit_host, port, user),
        &hc,
        &config,
        &home,
    );
    if let Some(kh) = render(&t.known_hosts, vars, "known_hosts")? {
        p.known_hosts = vec![expand_tilde(&kh, &home)];
    }
    if let Some(id) = render(&t.identity_file, vars, "identity_file")? {
        let id = Identity::File(expand_tilde(&id, &home));
        if hc.identity_files.is_empty() {
            // Like `ssh -i`: a named key replaces the default ones rather than joining them.
            p.identities = vec![id];
        } else {
            p.identities.insert(0, id);
        }
    }
    // Each hop's own ProxyJump counts, as it does for OpenSSH: the chain comes out flat,
    // nearest hop first, and the connection tunnels through each in turn.
    for hop in config.jump_chain(&name).map_err(|e| e.to_string())? {
        let j = hop.jump;
        let explicit = (None, j.port, j.user);
        p.jumps.push(params_from(
            target,
            &j.host,
            explicit,
            &hop.config,
            &config,
            &home,
        ));
    }
    apply_options(&mut p, opts);
    for j in &mut p.jumps {
        apply_options(
            j,
            &TargetOptions {
                pins: BTreeMap::new(),
                ..opts.clone()
            },
        );
    }
    Ok(p)
}

fn apply_options(p: &mut SshParams, opts: &TargetOptions) {
    p.pinned = opts.pins.get(&p.target).cloned();
    for k in opts.keys.iter().rev() {
        p.identities.insert(0, Identity::Key(k.clone()));
    }
    if opts.no_agent {
        p.use_agent = false;
    }
    if let Some(s) = opts.strict_override {
        p.strict = s;
    }
}

/// One executor per target the runbook uses (plus `local`), each keeping its own connection.
pub fn executors(
    rb: &Runbook,
    vars: &Vars,
    opts: &TargetOptions,
    prompter: &Arc<dyn Prompter>,
) -> Result<BTreeMap<String, Arc<dyn Executor>>, String> {
    let mut out: BTreeMap<String, Arc<dyn Executor>> = BTreeMap::new();
    out.insert(LOCAL.to_string(), Arc::new(LocalExecutor::default()));
    for t in &rb.targets {
        let exec: Arc<dyn Executor> = match &t.kind {
            TargetKind::Local => Arc::new(LocalExecutor::default()),
            TargetKind::Ssh(_) => Arc::new(SshExecutor::new(
                ssh_params(rb, &t.name, vars, opts)?,
                prompter.clone(),
            )),
        };
        out.insert(t.name.clone(), exec);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RUNBOOK: &str = r#"
format = 1
id = "t"
title = "t"

[targets.plain]
host = "db.example"

[targets.keyed]
host = "db.example"
identity_file = "~/keys/deploy"

[targets.aliased]
alias = "web"
port = "2200"

[[steps]]
id = "s"
title = "s"
level = "must"
target = "plain"
"#;

    fn resolve(config: &str, target: &str) -> (SshParams, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/config"), config).unwrap();
        let rb = crate::runbook::parse(RUNBOOK, Path::new("t.toml")).unwrap();
        let vars = rb.resolve_vars(&[]).unwrap().0;
        let opts = TargetOptions {
            home: Some(home),
            ..Default::default()
        };
        (ssh_params(&rb, target, &vars, &opts).unwrap(), dir)
    }

    fn files(p: &SshParams) -> Vec<PathBuf> {
        p.identities
            .iter()
            .filter_map(|i| match i {
                Identity::File(f) => Some(f.clone()),
                Identity::Key(_) => None,
            })
            .collect()
    }

    #[test]
    fn defaults_are_openssh_defaults() {
        let (p, dir) = resolve("", "plain");
        let ssh = dir.path().join(".ssh");
        assert_eq!((p.host.as_str(), p.port), ("db.example", 22));
        assert_eq!(
            files(&p),
            ["id_ed25519", "id_ecdsa", "id_rsa"].map(|n| ssh.join(n))
        );
        assert_eq!(
            p.known_hosts,
            vec![ssh.join("known_hosts"), ssh.join("known_hosts2")]
        );
        assert!(p.use_agent && p.agent.is_none());
        assert_eq!(p.keepalive, None);
        assert_eq!(p.connect_timeout, Duration::from_secs(15));
    }

    #[test]
    fn a_targets_identity_file_replaces_the_default_names() {
        let (p, dir) = resolve("", "keyed");
        assert_eq!(files(&p), vec![dir.path().join("keys/deploy")]);
        // With IdentityFile in the config, both are tried, the target's first.
        let (p, dir) = resolve("Host db.example\n  IdentityFile ~/.ssh/cfg_key\n", "keyed");
        assert_eq!(
            files(&p),
            vec![
                dir.path().join("keys/deploy"),
                dir.path().join(".ssh/cfg_key")
            ]
        );
    }

    #[test]
    fn alias_settings_with_the_runbook_winning() {
        let (p, dir) = resolve(
            "Host web\n  HostName 10.0.0.5\n  Port 22\n  User deploy\n  IdentityAgent ~/agent.sock\n  ProxyJump ops@bastion:2022\n  ServerAliveInterval 0\n  ConnectTimeout 0\n",
            "aliased",
        );
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("10.0.0.5", 2200, "deploy")
        );
        assert_eq!(p.agent, Some(dir.path().join("agent.sock")));
        // Zero means "off" to OpenSSH; rehearse keeps its own keepalives and a real timeout.
        assert_eq!(p.keepalive, None);
        assert_eq!(p.connect_timeout, Duration::from_secs(15));
        assert_eq!(p.jumps.len(), 1);
        let j = &p.jumps[0];
        assert_eq!(
            (j.host.as_str(), j.port, j.user.as_str()),
            ("bastion", 2022, "ops")
        );
        assert_eq!(p.target, "aliased");

        let (p, _dir) = resolve("Host web\n  IdentityAgent none\n", "aliased");
        assert!(!p.use_agent);
    }
}
