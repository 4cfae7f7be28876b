//! The runtime under the conditions that broke it: quitting right after a sign-off, and another
//! process flooding the same run with lines while a command runs in the TUI.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rehearse::journal::{Event, Journal};
use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

const RUNBOOK: &str = r#"
id = "quick"
title = "Quick"
[[steps]]
id = "one"
title = "One"
level = "must"
[[steps.commands]]
name = "c"
run = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo line-$i; sleep 0.1; done"
target = "local"
[[steps]]
id = "two"
title = "Two"
level = "must"
[[steps.commands]]
name = "c"
run = "true"
target = "local"
"#;

struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    runbook: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("ana_key");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "ana", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen (apt-get install -y openssh-client)");
        assert!(st.success());
        let runbook = dir.path().join("quick.toml");
        std::fs::write(&runbook, RUNBOOK).expect("runbook");
        Fixture { dir, key, runbook }
    }

    /// The shell command that opens the TUI on `run` as ana, signing with her key.
    fn tui(&self, run: &Path) -> String {
        let p = |x: &Path| shell_quote(&x.display().to_string());
        format!(
            "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} SSH_AUTH_SOCK= {} {} --run {} --operator ana --signing-key {}; echo EXITED $?; sleep 600",
            p(&self.dir.path().join("state")),
            p(&self.dir.path().join("cfg")),
            shell_quote(env!("CARGO_BIN_EXE_rehearse")),
            p(&self.runbook),
            p(run),
            p(&self.key),
        )
    }

    /// `run` verifies against allowed_signers trusting ana's key.
    fn assert_verifies(&self, run: &Path, what: &str) {
        let pubkey = std::fs::read_to_string(self.key.with_extension("pub")).expect("pub");
        let allowed = self.dir.path().join("allowed_signers");
        std::fs::write(&allowed, format!("ana {pubkey}")).expect("allowed");
        tmux::assert_verifies(run, &allowed, &[], what);
    }
}

fn kinds(journal: &str) -> Vec<String> {
    journal
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// Sign a step off and press `q` in the same breath, 20 times: the sign-off and its signature
/// are both in the journal, the signature right after the sign-off, and `verify` passes.
#[test]
fn signoff_then_quit_at_once_loses_nothing() {
    let f = Fixture::new();
    for round in 0..20 {
        let run = f.dir.path().join(format!("run-{round}"));
        let journal = run.join("journal.jsonl");
        let t = Tmux::start(&format!("signq{round}"), 100, 30, &f.tui(&run));
        t.wait_text("Steps", T);
        // The second step's one command is instant: select it and run it.
        t.keys(&["Down", "Enter"]);
        wait_file(&journal, "the command finished", T, |j| {
            j.contains(r#""kind":"command_finished""#)
        });
        t.wait_text("✓", T);
        t.keys(&["s"]);
        t.wait_text("Sign off step `two`", T);
        t.text("checked");
        // Submit and quit in one send: no time for the writer between the two keys.
        t.keys(&["Enter", "q"]);
        t.wait_text("EXITED 0", T);
        let j = std::fs::read_to_string(&journal).expect("journal");
        let k = kinds(&j);
        let at = k
            .iter()
            .position(|x| x == "signoff")
            .unwrap_or_else(|| panic!("round {round}: no signoff in {k:?}"));
        assert_eq!(
            k.get(at + 1).map(String::as_str),
            Some("signature"),
            "round {round}: {k:?}"
        );
        f.assert_verifies(&run, &format!("round {round}"));
    }
}

/// Another process appends to the run as fast as it can while the TUI runs a command: the TUI
/// keeps answering keys, and afterwards every line of both is in the journal, in order, with
/// the chain intact.
#[test]
fn a_flood_from_another_process_does_not_stall_the_ui() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let journal_path = run.join("journal.jsonl");
    let t = Tmux::start("flood", 100, 30, &f.tui(&run));
    t.wait_text("Steps", T);
    wait_file(&journal_path, "the run to exist", T, |j| !j.is_empty());

    // The flooder: a second writer on the same file, appending as fast as fsync allows.
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let (stop, run) = (stop.clone(), run.clone());
        std::thread::spawn(move || {
            let (mut j, _, _) = Journal::open(&run).expect("open");
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) && n < 20_000 {
                j.append(Event::Note {
                    step: "one".into(),
                    text: format!("flood {n}"),
                    operator: "bob".into(),
                })
                .expect("flood append");
                n += 1;
            }
            n
        })
    };
    t.keys(&["Enter"]);
    t.wait_text("line-3", T);
    // Keys are answered while the flood goes on: open and close the help overlay.
    let mut latencies = Vec::new();
    for _ in 0..3 {
        let sent = Instant::now();
        t.keys(&["?"]);
        t.wait_text("show / hide this help", T);
        latencies.push(sent.elapsed());
        t.keys(&["Escape"]);
        t.wait_for("help closed", T, |s| !s.contains("show / hide this help"));
    }
    t.wait_text("line-20", T);
    stop.store(true, Ordering::SeqCst);
    let flooded = flooder.join().expect("flooder");
    eprintln!("flooded {flooded} lines; key-to-help latencies {latencies:?}");
    wait_file(&journal_path, "the command finished", T, |j| {
        j.contains(r#""kind":"command_finished""#)
    });
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);

    let entries = rehearse::journal::read_entries(&run).expect("entries");
    let notes: Vec<u64> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Note { text, .. } => text.strip_prefix("flood ")?.parse().ok(),
            _ => None,
        })
        .collect();
    assert_eq!(notes, (0..flooded).collect::<Vec<_>>());
    let k: Vec<&str> = entries.iter().map(|e| e.event.kind()).collect();
    let started = k.iter().position(|x| *x == "command_started");
    let finished = k.iter().position(|x| *x == "command_finished");
    assert!(
        matches!((started, finished), (Some(s), Some(e)) if s < e),
        "{started:?} {finished:?}"
    );
    f.assert_verifies(&run, "the flooded run");
}
