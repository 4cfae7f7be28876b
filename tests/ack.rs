//! `rehearse ack RUN_DIR --reason TEXT`: the monitoring window's failures acknowledged, signed.
//! Refused without a key (nothing recorded, the window stays failed); with one, a signed
//! `monitor_ack` line after which the window starts again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use rehearse::journal::state::RunState;
use rehearse::journal::{Event, read_entries};

const RUNBOOK: &str = r#"
format = 2
id = "acked"
title = "Acknowledged"

[[steps]]
id = "deploy"
title = "Deploy"
level = "must"
target = "local"

[[steps.commands]]
name = "go"
run = "echo deployed"

[gate.monitor]
duration = "1h"
every = "1m"
max_failures = 0
probe = { name = "health", target = "local", run = "exit 1" }
"#;

fn rehearse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .current_dir(dir)
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env("REHEARSE_CONFIG_DIR", dir.join("cfg"))
        .env("SSH_AUTH_SOCK", "")
        .env("HOME", dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn progress(run: &Path) -> rehearse::gate::MonitorProgress {
    let rb = rehearse::report::run_runbook(run).unwrap();
    let st = RunState::from_entries(&read_entries(run).unwrap());
    rehearse::gate::monitor_progress(&rb, &st).unwrap()
}

#[test]
fn ack_is_refused_without_a_key_and_restarts_the_window_when_signed() {
    common::require_openssh();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("acked.toml"), RUNBOOK).unwrap();
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let o = rehearse(
        dir,
        &["run", "acked.toml", "--step", "deploy", "--run", run_s],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // The window fails at its first probe (no failure allowed).
    let o = rehearse(dir, &["watch", run_s]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(progress(&run).exhausted());
    let lines = read_entries(&run).unwrap().len();

    // Without a key: refused, nothing recorded, the window still failed.
    let o = rehearse(
        dir,
        &["ack", run_s, "--reason", "probe pointed at the old LB"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("only when signed"), "{}", err(&o));
    assert_eq!(read_entries(&run).unwrap().len(), lines);
    assert!(progress(&run).exhausted());

    // With a key: a monitor_ack line, its signature right after it, the window counting anew.
    let key = dir.join("id_ed25519");
    common::keygen(&key, "ed25519", "");
    let o = rehearse(
        dir,
        &[
            "ack",
            run_s,
            "--reason",
            "probe pointed at the old LB",
            "--signing-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let entries = read_entries(&run).unwrap();
    let at = entries
        .iter()
        .position(|e| matches!(e.event, Event::MonitorAck { .. }))
        .expect("a monitor_ack line");
    match &entries[at].event {
        Event::MonitorAck { reason, .. } => assert_eq!(reason, "probe pointed at the old LB"),
        _ => unreachable!(),
    }
    assert!(
        matches!(&entries[at + 1].event, Event::Signature { signs_seq, .. } if *signs_seq == entries[at].seq),
        "{:?}",
        entries[at + 1]
    );
    let p = progress(&run);
    assert!(!p.exhausted(), "{p:?}");
    assert_eq!((p.failed, p.counts_from), (0, Some(entries[at].seq)));
    // An empty reason is refused even with a key.
    let o = rehearse(
        dir,
        &[
            "ack",
            run_s,
            "--reason",
            "  ",
            "--signing-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}
