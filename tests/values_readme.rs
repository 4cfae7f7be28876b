//! The READMEs run: every line of every `sh` block in README.md and runbooks/README.md is
//! executed, and every complete runbook in a `toml` block is checked and usable by those lines.
//! Commands that name a host use `$HOST`, `$PORT` and `$USER`, which point at a real OpenSSH
//! sshd on 127.0.0.1 whose key the client already trusts.
//!
//! Two lines cannot run as written inside a test, and are run as close to it as possible:
//! `cargo run --release -- demo` opens the TUI, so it runs (as the built `rehearse demo`) in
//! tmux and is quit with `q`; `scripts/test` runs the whole suite, this test included, so it
//! runs with a stub `cargo` that records how it would start the suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Client, Sshd};
use tmux::{Tmux, shell_quote};

const DOCS: [&str; 2] = ["README.md", "runbooks/README.md"];
/// Files the examples write on the (local) host; removed after the test.
const WRITTEN: [&str; 2] = ["/tmp/rehearse-demo", "/tmp/rehearse-example.env"];

/// Fenced blocks of one language, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match &mut cur {
            None if line.trim_end() == open => cur = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(cur.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    out
}

/// The command lines of a `sh` block, continuation lines joined.
fn lines(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in block.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            continue;
        }
        cur.push_str(line);
        if !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.clear();
    }
    out
}

struct Env {
    sshd: Sshd,
    client: Client,
    work: PathBuf,
    bin: PathBuf,
}

impl Env {
    fn sh(&self, line: &str) -> Command {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(line)
            .current_dir(&self.work)
            .env("PATH", path)
            .env("HOME", &self.client.home)
            .env("HOST", "127.0.0.1")
            .env("PORT", self.sshd.port.to_string())
            .env("USER", "root")
            .env("REHEARSE_STATE_DIR", self.work.join("state"))
            .env_remove("REHEARSE_DB_PASSWORD")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        sh
    }
}

fn setup() -> Env {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    // Only the runbook's target says where to go.
    fs::write(&client.config, "").unwrap();
    let work = client.dir.path().join("work");
    let bin = client.dir.path().join("bin");
    fs::create_dir_all(&work).unwrap();
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rehearse"), bin.join("rehearse")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(repo.join("runbooks"), work.join("runbooks")).unwrap();
    Env {
        sshd,
        client,
        work,
        bin,
    }
}

fn run_demo_tui(env: &Env) {
    let cmd = format!(
        "cd {} && REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} rehearse demo; echo EXITED $?; sleep 600",
        shell_quote(&env.work.display().to_string()),
        shell_quote(&env.work.join("state").display().to_string()),
        shell_quote(&env.work.join("cfg").display().to_string()),
    );
    let cmd = format!(
        "PATH={}:$PATH; {cmd}",
        shell_quote(&env.bin.display().to_string())
    );
    let t = Tmux::start("readme", 100, 30, &cmd);
    t.wait_text("Steps 0/11", Duration::from_secs(30));
    t.keys(&["q"]);
    t.wait_text("EXITED 0", Duration::from_secs(30));
}

/// `scripts/test` itself runs (its checks for sshd and tmux, its set-up), with `cargo` on PATH
/// replaced by a stub that records how the suite would be started: the real thing would run
/// this test again, and a nested cargo in a test rebuilds what the outer one built.
fn run_scripts_test(env: &Env) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stub = env.work.join("stub-bin");
    fs::create_dir_all(&stub).unwrap();
    let log = env.work.join("cargo-args");
    fs::write(
        stub.join("cargo"),
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"nextest --version\" ] && exit 0\necho \"$*\" >> {}\n",
            shell_quote(&log.display().to_string())
        ),
    )
    .unwrap();
    fs::set_permissions(stub.join("cargo"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        stub.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg("scripts/test")
        .current_dir(repo)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/test failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "nextest run --no-fail-fast\n",
        "scripts/test should start the whole suite"
    );
}

#[test]
fn every_readme_command_runs() {
    let env = setup();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in WRITTEN {
        let _ = fs::remove_dir_all(f);
        let _ = fs::remove_file(f);
    }
    // Complete runbooks shown in the docs are files the commands may name.
    let mut runbooks = 0;
    for doc in DOCS {
        for b in blocks(&fs::read_to_string(repo.join(doc)).unwrap(), "toml") {
            let Some(id) = b
                .lines()
                .find_map(|l| l.strip_prefix("id = \""))
                .and_then(|r| r.strip_suffix('"'))
                .filter(|_| b.starts_with("format = "))
            else {
                continue;
            };
            let file = env.work.join(format!("{id}.toml"));
            fs::write(&file, &b).unwrap();
            let out = env
                .sh(&format!("rehearse check {id}.toml"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{doc}: the runbook `{id}` does not pass check:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            runbooks += 1;
        }
    }
    assert!(runbooks >= 2, "the complete example and the secret example");

    let mut ran = Vec::new();
    for doc in DOCS {
        for b in blocks(&fs::read_to_string(repo.join(doc)).unwrap(), "sh") {
            for line in lines(&b) {
                match line.trim() {
                    "cargo run --release -- demo" => run_demo_tui(&env),
                    "scripts/test" => run_scripts_test(&env),
                    l => {
                        let out = env.sh(l).output().unwrap();
                        assert!(
                            out.status.success(),
                            "{doc}: `{l}` exited {:?}:\n{}{}",
                            out.status.code(),
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                }
                ran.push(format!("{doc}: {line}"));
            }
        }
    }
    assert!(ran.len() >= 8, "{ran:#?}");

    // What the examples claim, checked: the secret reached the host's file, and no one else
    // may read it.
    let env_file = Path::new(WRITTEN[1]);
    assert_eq!(
        fs::read_to_string(env_file).unwrap(),
        "DB_PASSWORD=correct horse\n"
    );
    assert_eq!(
        fs::metadata(env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(Path::new(WRITTEN[0]).join("releases").is_dir());
    for f in WRITTEN {
        let _ = fs::remove_dir_all(f);
        let _ = fs::remove_file(f);
    }
}
