//! Differential test: OpenSSH and rehearse read the same configs and must agree.
//!
//! OpenSSH's side is `ssh -G` (the resolved config, printed without connecting) and, for
//! `ProxyJump` chains, a real `ssh` whose proxy commands are logged: ssh runs its proxies
//! through its own argv[0], so a logging wrapper there sees every hop ssh would connect
//! through (the innermost hop meets a closed port on 127.0.0.1, and the chain unwinds).
//! Rehearse's side is `SshConfig` in-process and `rehearse plan` as a user runs it.
//!
//! OpenSSH takes the local user and `~` from the passwd entry of the uid (but `Include`'s `~`
//! from `$HOME`), so both sides run under nss_wrapper with a passwd entry whose home is a
//! throwaway directory that `$HOME` also names, and a user name found nowhere else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rehearse::exec::ssh_config::SshConfig;

#[path = "ssh_config_diff/cases.rs"]
mod cases;
#[path = "ssh_config_diff/fields.rs"]
mod fields;

use fields::{from_openssh, from_rehearse};

const LOCAL_USER: &str = "rh-alice";

fn nss_wrapper() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ];
    candidates
        .iter()
        .map(|d| Path::new(d).join("libnss_wrapper.so"))
        .find(|p| p.exists())
        .expect("this test needs nss_wrapper: apt-get install -y libnss-wrapper")
}

fn require_ssh() {
    let ok = Command::new("ssh")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs OpenSSH's client: apt-get install -y openssh-client"
    );
}

/// A throwaway home and passwd entry, and the files a case writes into the home.
pub struct World {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    passwd: PathBuf,
    group: PathBuf,
    lib: PathBuf,
}

impl World {
    pub fn setup() -> World {
        require_ssh();
        let lib = nss_wrapper();
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(home.join(".ssh")).unwrap();
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        let passwd = dir.path().join("passwd");
        let entry = format!(
            "{LOCAL_USER}:x:{uid}:{gid}:diff:{}:/bin/sh\n",
            home.display()
        );
        fs::write(&passwd, entry).unwrap();
        let group = dir.path().join("group");
        fs::write(&group, format!("rh-group:x:{gid}:\n")).unwrap();
        World {
            _dir: dir,
            home,
            passwd,
            group,
            lib,
        }
    }

    /// Writes `text` at `rel` under the home, `{home}` replaced by its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.home.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, self.fill(text)).unwrap();
        path
    }

    pub fn fill(&self, text: &str) -> String {
        text.replace("{home}", &self.home.to_string_lossy())
    }

    /// `program` under the fake passwd, with `$HOME` at the same home and `$USER` set to
    /// someone else (OpenSSH ignores it, and so must rehearse).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("LD_PRELOAD", &self.lib)
            .env("NSS_WRAPPER_PASSWD", &self.passwd)
            .env("NSS_WRAPPER_GROUP", &self.group)
            .env("HOME", &self.home)
            .env("USER", "not-the-passwd-user")
            .env("LOGNAME", "not-the-passwd-user")
            .env_remove("SSH_AUTH_SOCK");
        c
    }

    /// `ssh -G` as OpenSSH resolves `alias`: keyword -> values, one entry per line.
    pub fn openssh_g(&self, config: &Path, alias: &str) -> BTreeMap<String, Vec<String>> {
        let out = self
            .command("ssh")
            .arg("-G")
            .arg("-F")
            .arg(config)
            .arg(alias)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh -G {alias}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        map
    }

    /// The hops a real `ssh` goes through to reach `alias`, nearest first, each as
    /// `user@hostname:port` in OpenSSH's own resolution (from `ssh -G` with the arguments ssh
    /// gave that hop's proxy).
    pub fn openssh_chain(&self, config: &Path, alias: &str) -> Vec<String> {
        let log = self.home.join("hops.log");
        let _ = fs::remove_file(&log);
        let wrapper = self.home.join("ssh-wrapper");
        let script = format!(
            "#!/bin/bash\n\
             {{ printf 'HOP\\n'; ssh -G \"$@\" 2>/dev/null; }} >> '{log}'\n\
             exec -a '{me}' ssh -o ConnectTimeout=5 \"$@\"\n",
            log = log.display(),
            me = wrapper.display()
        );
        fs::write(&wrapper, script).unwrap();
        let mut perm = fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        fs::set_permissions(&wrapper, perm).unwrap();
        let mut c = self.command("ssh");
        c.arg0(&wrapper)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-F"])
            .arg(config)
            .args([alias, "true"]);
        // It fails (the innermost hop meets a closed port); the log is what counts.
        let _ = c.output().unwrap();
        let text = fs::read_to_string(&log).unwrap_or_default();
        let mut hops: Vec<String> = text
            .split("HOP\n")
            .filter(|s| !s.is_empty())
            .map(|dump| {
                let get = |k: &str| {
                    dump.lines()
                        .find_map(|l| l.strip_prefix(&format!("{k} ")))
                        .unwrap_or("?")
                        .to_string()
                };
                format!("{}@{}:{}", get("user"), get("hostname"), get("port"))
            })
            .collect();
        hops.reverse();
        hops
    }

    /// `rehearse plan` for a runbook whose one target is `alias`: `user@host[:port]` and the
    /// jump hosts, nearest first, as the binary resolves them (or why it could not).
    pub fn rehearse_plan(&self, config: &Path, alias: &str, env_user: Option<&str>) -> String {
        let runbook = self.write(
            "runbook.toml",
            &format!(
                "format = 1\nid = \"d\"\ntitle = \"d\"\n\n[targets.t]\nalias = \"{alias}\"\n\n\
                 [[steps]]\nid = \"s\"\ntitle = \"s\"\nlevel = \"must\"\ntarget = \"t\"\n"
            ),
        );
        let mut c = self.command(env!("CARGO_BIN_EXE_rehearse"));
        c.env("REHEARSE_STATE_DIR", self.home.join("state"))
            .arg("plan")
            .arg("--ssh-config")
            .arg(config)
            .arg(&runbook);
        match env_user {
            Some(u) => c.env("USER", u).env("LOGNAME", u),
            None => c.env_remove("USER").env_remove("LOGNAME"),
        };
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("- t: "))
            .unwrap_or_else(|| panic!("no target line in plan output:\n{text}"));
        let line = line.strip_prefix("ssh ").unwrap_or(line);
        line.split(" (known_hosts").next().unwrap().to_string()
    }
}

/// Rehearse's jump chain in the same `user@hostname:port` form, resolved as target.rs does.
pub fn rehearse_chain(config: &SshConfig, alias: &str) -> Vec<String> {
    let chain = config.jump_chain(alias).unwrap();
    chain
        .iter()
        .map(|h| {
            let host = h.config.host_name.clone();
            let host = host.unwrap_or_else(|| h.jump.host.to_lowercase());
            let user = h.jump.user.clone().or_else(|| h.config.user.clone());
            let port = h.jump.port.or(h.config.port).unwrap_or(22);
            format!(
                "{}@{host}:{port}",
                user.unwrap_or_else(|| LOCAL_USER.into())
            )
        })
        .collect()
}

pub fn rehearse_config(world: &World, config: &Path) -> SshConfig {
    SshConfig::load_with_home(config, &world.home)
        .unwrap()
        .with_local_user(LOCAL_USER)
}

fn config_for(world: &World, case: &cases::Case) -> PathBuf {
    for (rel, text) in case.files {
        world.write(rel, text);
    }
    world.write("config", case.config)
}

/// `user@host:port` as `SshParams::endpoint` prints it (no `:22`).
fn endpoint(hop: &str) -> String {
    hop.strip_suffix(":22").unwrap_or(hop).to_string()
}

#[test]
fn resolved_fields_agree_with_ssh_g() {
    assert!(cases::FIELDS.len() >= 25, "keep the table broad");
    let world = World::setup();
    let empty = world.write("empty", "");
    let defaults = world.openssh_g(&empty, "x")["identityfile"].clone();
    let mut disagree = Vec::new();
    for case in cases::FIELDS {
        let world = World::setup();
        let config = config_for(&world, case);
        let openssh = from_openssh(
            &world.openssh_g(&config, case.alias),
            &defaults,
            case.alias,
            &world.home,
        );
        let ours = from_rehearse(
            &rehearse_config(&world, &config).resolve(case.alias),
            case.alias,
        );
        if openssh != ours {
            disagree.push(format!(
                "{}:\n  ssh -G:   {:?}\n  rehearse: {:?}",
                case.name, openssh.0, ours.0
            ));
        }
    }
    assert!(
        disagree.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagree.len(),
        cases::FIELDS.len(),
        disagree.join("\n")
    );
}

#[test]
fn jump_chains_agree_with_ssh() {
    for case in cases::CHAINS {
        let world = World::setup();
        let config = config_for(&world, case);
        let openssh = world.openssh_chain(&config, case.alias);
        assert!(
            !openssh.is_empty(),
            "{}: ssh went through no jump host",
            case.name
        );
        let ours = rehearse_chain(&rehearse_config(&world, &config), case.alias);
        assert_eq!(ours, openssh, "{}", case.name);
        // And end to end through the binary a user runs, its passwd lookup included.
        let plan = world.rehearse_plan(&config, case.alias, None);
        let via: Vec<String> = openssh.iter().map(|h| endpoint(h)).collect();
        let want = format!(
            "{} via {}",
            world.fill("rh-alice@target.invalid"),
            via.join(" -> ")
        );
        assert_eq!(plan, want, "{}", case.name);
    }
}

#[test]
fn a_jump_loop_is_refused_by_both() {
    let world = World::setup();
    let config = world.write("config", "Host a\n  ProxyJump a\n");
    let out = world
        .command("ssh")
        .args(["-o", "BatchMode=yes", "-F"])
        .arg(&config)
        .args(["a", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("jumphost loop"),
        "ssh: {err}"
    );
    let ours = rehearse_config(&world, &config)
        .jump_chain("a")
        .unwrap_err()
        .to_string();
    assert!(ours.contains("loop"), "{ours}");
    let plan = world.rehearse_plan(&config, "a", None);
    assert!(
        plan.starts_with("unresolved: ProxyJump for a: the jump hosts loop"),
        "{plan}"
    );
}

#[test]
fn match_localuser_without_user_or_logname_in_the_environment() {
    let world = World::setup();
    let config = world.write(
        "config",
        "Host t\n  HostName 127.0.0.1\nMatch localuser rh-alice\n  Port 2022\nHost other\n  HostName 127.0.0.1\n",
    );
    for (alias, env_user) in [("t", None), ("t", Some("someone-else")), ("other", None)] {
        let mut ssh = world.command("ssh");
        if env_user.is_none() {
            ssh.env_remove("USER").env_remove("LOGNAME");
        }
        let out = ssh
            .arg("-G")
            .arg("-F")
            .arg(&config)
            .arg(alias)
            .output()
            .unwrap();
        let g = String::from_utf8_lossy(&out.stdout);
        let get = |k: &str| {
            g.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} ")))
                .unwrap()
                .to_string()
        };
        let openssh = endpoint(&format!(
            "{}@{}:{}",
            get("user"),
            get("hostname"),
            get("port")
        ));
        let plan = world.rehearse_plan(&config, alias, env_user);
        assert_eq!(plan, openssh, "{alias} with USER={env_user:?}");
    }
    // The control: the passwd name, not $USER, is what both match on.
    let plan = world.rehearse_plan(&config, "t", None);
    assert_eq!(plan, "rh-alice@127.0.0.1:2022");
}
