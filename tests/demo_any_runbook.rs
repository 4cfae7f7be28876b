//! `rehearse demo --runbook FILE` points every SSH target of any runbook at the embedded host:
//! a literal address, a placeholder and an `alias` alike, its key pinned (never a known_hosts
//! prompt), the operator's ~/.ssh/config left out; values given with --var still win.
#![allow(clippy::expect_used)] // a test states its expectations

use std::process::{Command, Output};

const RUNBOOK: &str = r#"
format = 2
id = "any"
title = "Any runbook"

[vars.lb_host]
default = "lb.example.com"
placeholder = true

[vars.lb_user]
default = "ops"

[vars.note]
default = "from the runbook"

[targets.db]
host = "db.internal.example"
port = 2222
user = "postgres"

[targets.lb]
host = "{{lb_host}}"
user = "{{lb_user}}"

[targets.bastioned]
alias = "prod-app"

[[steps]]
id = "where"
title = "Where do commands run?"
level = "must"

[[steps.commands]]
name = "db"
target = "db"
run = "echo db on $USER at $HOME"

[[steps.commands]]
name = "lb"
target = "lb"
run = "echo lb: {{note}}"

[[steps.commands]]
name = "app"
target = "bastioned"
run = "echo app on $USER"
"#;

/// `rehearse ARGS` with HOME at `home`, state and config under `dir`, no agent, run in `dir`.
fn rehearse_at(dir: &std::path::Path, home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .current_dir(dir)
        .args(args)
        .env("HOME", home)
        .env("SSH_AUTH_SOCK", "")
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env("REHEARSE_CONFIG_DIR", dir.join("cfg"))
        .output()
        .expect("rehearse")
}

#[test]
fn every_ssh_target_runs_on_the_demo_host_with_its_key_pinned() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("any.toml");
    std::fs::write(&rb, RUNBOOK).expect("runbook");
    // A config that would send `prod-app` through a jump host and trust anything: ignored.
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("home");
    std::fs::write(
        home.join(".ssh/config"),
        "Host prod-app\n  HostName 203.0.113.9\n  ProxyJump nobody@203.0.113.1\n  StrictHostKeyChecking no\n",
    )
    .expect("config");
    let run = dir.path().join("run");
    let rehearse = |args: &[&str]| rehearse_at(dir.path(), &home, args);
    let (rb_s, run_s) = (
        rb.to_str().expect("utf-8 path"),
        run.to_str().expect("utf-8 path"),
    );
    let o = rehearse(&[
        "demo",
        "--runbook",
        rb_s,
        "--step",
        "where",
        "--run",
        run_s,
        "--var",
        "note=given on the command line",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sandbox = run.join("demo-host");
    assert!(
        out.contains(&format!("db on deploy at {}", sandbox.display())),
        "{out}"
    );
    assert!(out.contains("lb: given on the command line"), "{out}");
    assert!(out.contains("app on deploy"), "{out}");
    let j = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    for target in ["db", "lb", "bastioned"] {
        let line = j
            .lines()
            .find(|l| l.contains(&format!(r#""kind":"host_key","target":"{target}""#)))
            .unwrap_or_else(|| panic!("no host key for {target}:\n{j}"));
        assert!(
            line.contains(r#""host":"127.0.0.1""#) && line.contains(r#""trust":"pinned""#),
            "{line}"
        );
    }
    // `lb_host` is a placeholder nobody gave: it only named the balancer's address, which
    // is the demo host's now, so the run did not ask for it.
    assert!(!home.join(".ssh/known_hosts").exists(), "nothing saved");

    // The run says it was a rehearsal, where a reader looks: run_started, verify, the report.
    let first = j.lines().next().expect("run_started");
    assert!(
        first.contains(r#""redirected":"the embedded demo host on 127.0.0.1"#),
        "{first}"
    );
    let signers = dir.path().join("allowed_signers");
    std::fs::write(&signers, "").expect("signers");
    let v = rehearse(&[
        "verify",
        run_s,
        "--allowed-signers",
        signers.to_str().expect("path"),
    ]);
    // Intact, but a rehearsal: a gate that trusts the exit code must not take it as evidence.
    assert_eq!(
        v.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    assert!(String::from_utf8_lossy(&v.stdout).contains("REHEARSAL: every SSH target ran on"));
    let allowed = rehearse(&[
        "verify",
        run_s,
        "--allow-rehearsal",
        "--allowed-signers",
        signers.to_str().expect("path"),
    ]);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(
        err.contains("ran on the embedded demo host on 127.0.0.1")
            && err.contains("not evidence about any real host"),
        "{err}"
    );
    let report = rehearse::report::build(&run, None).expect("report");
    assert!(
        rehearse::report::to_markdown(&report).contains(r"**Rehearsal\: every SSH target ran on")
    );
    // The attack: the same run resumed as a real one, its commands sent to the runbook's own
    // hosts under a journal that began as a rehearsal. Refused before anything connects.
    // (Were it not refused, this config keeps every connection on 127.0.0.1, port 1: closed.)
    let local_only = dir.path().join("local-only");
    std::fs::write(&local_only, "Host *\n  HostName 127.0.0.1\n  Port 1\n").expect("config");
    let o = rehearse(&[
        "--ssh-config",
        local_only.to_str().expect("path"),
        "run",
        rb_s,
        "--step",
        "where",
        "--var",
        "lb_host=127.0.0.1",
        "--run",
        run_s,
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("targets were redirected to the embedded demo host"),
        "{err}"
    );
    // Control: the rehearsal itself resumes (a second demo on the same run).
    let o = rehearse(&["demo", "--runbook", rb_s, "--step", "where", "--run", run_s]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn local_commands_in_a_rehearsal_are_refused_unless_asked_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("mixed.toml");
    std::fs::write(
        &rb,
        r#"
format = 2
id = "mixed"
title = "Mixed"

[targets.app]
host = "app.example.com"

[[steps]]
id = "s"
title = "S"
level = "must"

[[steps.commands]]
name = "remote"
target = "app"
run = "echo remote"

[[steps.commands]]
name = "here"
target = "local"
run = "touch here-ran"
"#,
    )
    .expect("runbook");
    let rb_s = rb.to_str().expect("utf-8 path");
    let demo = |extra: &[&str]| {
        let mut args = vec!["demo", "--runbook", rb_s, "--step", "s"];
        args.extend(extra);
        rehearse_at(dir.path(), dir.path(), &args)
    };
    // The attack on the operator: a "rehearsal" that would run `aws ...` here, for real.
    let o = demo(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1 command(s) of `mixed` run on this machine")
            && err.contains("--local-commands"),
        "{err}"
    );
    assert!(!dir.path().join("here-ran").exists(), "nothing ran");
    // Asked for: it runs, and the journal says where local commands ran.
    let o = demo(&["--local-commands"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(dir.path().join("here-ran").exists());
    let runs = dir.path().join("state/runs");
    let run = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .next()
        .expect("a run")
        .path();
    let j = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    assert!(
        j.contains("`local` commands ran on the operator's machine"),
        "{j}"
    );
}
