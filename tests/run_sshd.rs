//! `rehearse run` as a subprocess against a real OpenSSH sshd on 127.0.0.1, with HOME pointed at
//! a temp dir holding `.ssh/{config,known_hosts,id_ed25519}`: exit codes, what the user reads on
//! stderr, and the journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Client, Sshd};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Formatted like runbooks/demo-staging.toml: the target's address comes from variables.
const RUNBOOK: &str = r#"# The sshd integration test's runbook.
format = 1
id = "sshd-it"
title = "sshd integration"
default_timeout = "1m"

[vars.host]
default = "127.0.0.1"
description = "SSH address of the host"

[vars.port]
default = "22"
description = "SSH port of the host"

[vars.user]
default = "root"
description = "Login on the host"

[vars.marker]
default = "/nonexistent/marker"
description = "A file the commands touch, to prove they ran"

[targets.staging]
host = "{{host}}"
port = "{{port}}"
user = "{{user}}"
description = "The test sshd"

[[steps]]
id = "hello"
title = "Say hello"
level = "must"
target = "staging"

[[steps.commands]]
name = "greet"
run = 'touch "{{marker}}"; echo "hello from $(whoami)"; echo to-stderr >&2'
expect = { exit = 0, stdout = "hello from root" }

[[steps]]
id = "fail"
title = "Fail on purpose"
level = "must"
target = "staging"

[[steps.commands]]
name = "four"
run = 'echo failing; exit 4'

[[steps]]
id = "forever"
title = "Never ends"
level = "should"
target = "staging"

[[steps.commands]]
name = "sleep"
run = 'echo started; sleep 1000'
timeout = "1s"

[[steps]]
id = "trap"
title = "Waits for a cancel"
level = "optional"
target = "staging"

[[steps.commands]]
name = "wait"
run = "trap 'echo got INT; exit 130' INT; echo ready; while :; do sleep 0.1; done"
"#;

struct Setup {
    sshd: Sshd,
    client: Client,
    runbook: PathBuf,
    state: PathBuf,
    marker: PathBuf,
}

fn setup(client: impl FnOnce(&Sshd) -> Client) -> Setup {
    let sshd = Sshd::start();
    let client = client(&sshd);
    let runbook = client.dir.path().join("sshd-it.toml");
    fs::write(&runbook, RUNBOOK).unwrap();
    let state = client.dir.path().join("state");
    let marker = client.dir.path().join("ran");
    // The config must not hold the test alias's settings for 127.0.0.1: the runbook's target
    // alone says where to go.
    fs::write(&client.config, "").unwrap();
    Setup {
        sshd,
        client,
        runbook,
        state,
        marker,
    }
}

impl Setup {
    fn command(&self, step: &str, run_dir: &Path, extra: &[&str]) -> std::process::Command {
        let mut c = self.client.rehearse();
        c.arg("run")
            .arg(&self.runbook)
            .arg("--step")
            .arg(step)
            .arg("--var")
            .arg(format!("port={}", self.sshd.port))
            .arg("--var")
            .arg(format!("marker={}", self.marker.display()))
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--run")
            .arg(run_dir)
            .args(extra)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, step: &str, run_dir: &Path, extra: &[&str]) -> Output {
        self.command(step, run_dir, extra).output().unwrap()
    }
}

fn journal(run_dir: &Path) -> Vec<Value> {
    fs::read_to_string(run_dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kinds(j: &[Value]) -> Vec<&str> {
    j.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn one<'a>(j: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<_> = j.iter().filter(|e| e["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in {j:#?}");
    found[0]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_step_runs_over_ssh_and_is_journaled() {
    let s = setup(Client::new);
    let run_dir = s.client.dir.path().join("run");
    let out = s.run("hello", &run_dir, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(stdout, "hello from root\n");
    assert!(stderr.contains("to-stderr\n"), "{stderr}");
    let fp = s.sshd.fingerprint("ed25519");
    assert!(
        stderr.contains(&format!(
            "── host key 127.0.0.1:{} ssh-ed25519 {fp} (known)",
            s.sshd.port
        )),
        "{stderr}"
    );
    assert!(s.marker.exists());

    let j = journal(&run_dir);
    assert_eq!(
        kinds(&j),
        [
            "run_started",
            "command_started",
            "host_key",
            "command_finished"
        ]
    );
    let seqs: Vec<u64> = j.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2, 3], "{j:#?}");
    let started = one(&j, "run_started");
    assert_eq!(started["runbook_id"], "sshd-it");
    assert_eq!(started["vars"]["port"], s.sshd.port.to_string());
    let key = one(&j, "host_key");
    assert_eq!(key["target"], "staging");
    assert_eq!(key["host"], "127.0.0.1");
    assert_eq!(key["port"], s.sshd.port);
    assert_eq!(key["algorithm"], "ssh-ed25519");
    assert_eq!(key["fingerprint"], fp.as_str());
    assert_eq!(key["trust"], "known");
    let cmd = one(&j, "command_started");
    assert_eq!(
        (&cmd["step"], &cmd["command"], &cmd["target"]),
        (&"hello".into(), &"greet".into(), &"staging".into())
    );
    let fin = one(&j, "command_finished");
    assert_eq!(fin["started_seq"], cmd["seq"]);
    assert_eq!(fin["exit_status"], 0);
    assert_eq!(fin["outcome"], "passed");

    // The output file is named by its digest and holds what the command printed.
    let sha = fin["output_sha256"].as_str().unwrap();
    let bytes = fs::read(run_dir.join("outputs").join(sha)).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
    assert_eq!(fin["output_bytes"], bytes.len());
    let output = text(&bytes);
    assert!(
        output.contains("hello from root\n") && output.contains("to-stderr\n"),
        "{output:?}"
    );
    assert_eq!(bytes.len(), "hello from root\n".len() + "to-stderr\n".len());

    // sshd saw one authenticated connection for it.
    assert_eq!(
        s.sshd
            .log_text()
            .matches("Accepted publickey for root")
            .count(),
        1
    );
}

#[test]
fn a_failing_command_exits_1() {
    let s = setup(Client::new);
    let run_dir = s.client.dir.path().join("run");
    let out = s.run("fail", &run_dir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(text(&out.stdout), "failing\n");
    assert!(stderr.contains("── failed (exit 4, "), "{stderr}");
    assert!(stderr.contains(": exit 4, expected exit 0\n"), "{stderr}");
    let j = journal(&run_dir);
    let fin = one(&j, "command_finished");
    assert_eq!(fin["exit_status"], 4);
    assert_eq!(fin["outcome"], "failed");
    assert_eq!(fin["reason"], "exit 4, expected exit 0");
}

#[test]
fn an_unknown_host_key_is_refused_without_the_flag_and_saved_with_it() {
    let s = setup(|sshd| {
        let c = Client::untrusted(sshd);
        sshd.authorize(&c.key);
        c
    });
    let run_dir = s.client.dir.path().join("run-refused");
    let offset = s.sshd.log_len();
    let out = s.run("hello", &run_dir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let fp = s.sshd.fingerprint("ed25519");
    let refusal = format!(
        "unknown host key for [127.0.0.1]:{}: ssh-ed25519 {fp}; not trusted (use --accept-new-host-key, or answer the prompt in the TUI)",
        s.sshd.port
    );
    assert!(stderr.contains(&refusal), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!s.marker.exists(), "nothing ran");
    assert_eq!(fs::read_to_string(&s.client.known_hosts).unwrap(), "");
    let j = journal(&run_dir);
    assert!(!kinds(&j).contains(&"host_key"), "{j:#?}");
    assert_eq!(one(&j, "connect_failed")["error"], refusal.as_str());
    let fin = one(&j, "command_finished");
    assert_eq!(fin["outcome"], "failed");
    assert_eq!(fin["exit_status"], Value::Null);
    assert!(!s.sshd.log_since(offset).contains("Accepted publickey"));

    let run_dir = s.client.dir.path().join("run-accepted");
    let out = s.run("hello", &run_dir, &["--accept-new-host-key"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(s.marker.exists());
    assert_eq!(
        fs::read_to_string(&s.client.known_hosts).unwrap(),
        s.sshd.known_hosts_line("ed25519"),
        "saved in OpenSSH's format"
    );
    let key = one(&journal(&run_dir), "host_key").clone();
    assert_eq!(key["trust"], "accepted_saved");
    assert_eq!(key["fingerprint"], fp.as_str());

    // From now on the key is known, without the flag.
    let run_dir = s.client.dir.path().join("run-known");
    let out = s.run("hello", &run_dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(one(&journal(&run_dir), "host_key")["trust"], "known");
}

#[test]
fn a_command_that_never_ends_is_timed_out_and_journaled() {
    let s = setup(Client::new);
    let run_dir = s.client.dir.path().join("run");
    let t = std::time::Instant::now();
    let out = s.run("forever", &run_dir, &[]);
    let stderr = text(&out.stderr);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(text(&out.stdout), "started\n");
    assert!(
        stderr.contains("── timed out (exit -, ")
            && stderr.contains("timed out after 1s; stopped by SIGINT"),
        "{stderr}"
    );
    let fin = one(&journal(&run_dir), "command_finished").clone();
    assert_eq!(fin["outcome"], "timed_out");
    assert_eq!(fin["signal"], "INT");
    assert_eq!(fin["reason"], "timed out after 1s; stopped by SIGINT");
}

#[test]
fn ctrl_c_cancels_with_int_first() {
    let s = setup(Client::new);
    let run_dir = s.client.dir.path().join("run");
    let mut child = s
        .command("trap", &run_dir, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // What the terminal sends on Ctrl-C, to the process we started.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(rest, "got INT\n");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rehearse: cancelling (INT, then TERM, then KILL and closing the channel)"),
        "{stderr}"
    );
    assert!(stderr.contains("── cancelled (exit 130, "), "{stderr}");
    assert!(stderr.contains("cancelled; stopped by SIGINT"), "{stderr}");
    let fin = one(&journal(&run_dir), "command_finished").clone();
    assert_eq!(fin["outcome"], "cancelled");
    assert_eq!(fin["exit_status"], 130);
    assert_eq!(fin["reason"], "cancelled; stopped by SIGINT");
}
