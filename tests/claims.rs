//! One runner per step across processes: two `rehearse run` on one run at the same moment, and a
//! holder killed with -9 whose claim is ended by the next one to try.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNBOOK: &str = r#"
id = "claims"
title = "Claims"
[[steps]]
id = "deploy"
title = "Deploy"
level = "must"
[[steps.commands]]
name = "slow"
run = "if [ -e first-done ]; then echo second; else touch first-done; sleep 2; echo first; fi"
target = "local"
"#;

fn rehearse(dir: &Path, run: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.current_dir(dir)
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env("REHEARSE_CONFIG_DIR", dir.join("cfg"))
        .env("SSH_AUTH_SOCK", "")
        .env("HOME", dir)
        .args(["run", "claims.toml", "--step", "deploy", "--run"])
        .arg(run)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn kinds(run: &Path) -> Vec<String> {
    rehearse::journal::read_entries(run)
        .expect("journal")
        .iter()
        .map(|e| e.event.kind().to_string())
        .collect()
}

#[test]
fn two_headless_runs_of_one_step_at_once_run_it_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("claims.toml"), RUNBOOK).expect("runbook");
        let run = dir.path().join("run");
        let a = rehearse(dir.path(), &run).spawn().expect("spawn a");
        let b = rehearse(dir.path(), &run).spawn().expect("spawn b");
        let (a, b) = (
            a.wait_with_output().expect("a"),
            b.wait_with_output().expect("b"),
        );
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(
            codes,
            [Some(0), Some(5)],
            "round {round}: a: {}\nb: {}",
            err(&a),
            err(&b)
        );
        let refused = if a.status.code() == Some(5) { &a } else { &b };
        assert!(err(refused).contains("is being run by"), "{}", err(refused));
        let k = kinds(&run);
        assert_eq!(
            k.iter().filter(|x| *x == "command_started").count(),
            1,
            "round {round}: {k:?}"
        );
        assert_eq!(k.iter().filter(|x| *x == "run_started").count(), 1);
        // Control: once the first has finished, the step can be run again.
        let again = rehearse(dir.path(), &run).output().expect("again");
        assert_eq!(again.status.code(), Some(0), "{}", err(&again));
    }
}

#[test]
fn a_claim_whose_process_died_is_ended_as_interrupted_by_the_next_runner() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("claims.toml"),
        RUNBOOK.replace("sleep 2", "sleep 60"),
    )
    .expect("runbook");
    let run = dir.path().join("run");
    let mut a = rehearse(dir.path(), &run).spawn().expect("spawn a");
    let start = Instant::now();
    while !kinds_or_empty(&run).iter().any(|k| k == "command_started") {
        assert!(start.elapsed() < Duration::from_secs(30), "a never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().expect("kill -9");
    let _ = a.wait();
    let b = rehearse(dir.path(), &run).output().expect("b");
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let entries = rehearse::journal::read_entries(&run).expect("journal");
    let outcomes: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.event {
            rehearse::journal::Event::CommandFinished { outcome, .. } => {
                Some(outcome.label().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, ["interrupted", "passed"]);
}

fn kinds_or_empty(run: &Path) -> Vec<String> {
    if run.join("journal.jsonl").exists() {
        kinds(run)
    } else {
        Vec::new()
    }
}
