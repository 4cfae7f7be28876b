//! Pairing in tmux: two instances on one run (live output, presence, a co-signer), an observer
//! that cannot change anything, and two operators taking turns at one instance's keys, each
//! signing with their own key.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rehearse::journal::{Entry, Event};
use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

struct Fixture {
    dir: tempfile::TempDir,
    runbook: PathBuf,
    /// Created by the test to let the command print its second line.
    go: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        for who in ["ana", "bob"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
                .arg(dir.path().join(format!("{who}_key")))
                .status()
                .expect("ssh-keygen (apt-get install -y openssh-client)");
            assert!(st.success());
        }
        let go = dir.path().join("GO");
        let runbook = dir.path().join("pair.toml");
        std::fs::write(
            &runbook,
            format!(
                r#"
id = "pair"
title = "Pair"
[[steps]]
id = "one"
title = "One"
level = "must"
[[steps.commands]]
name = "c"
run = "echo first-line; while [ ! -e {go} ]; do sleep 0.05; done; echo second-line"
target = "local"
"#,
                go = go.display()
            ),
        )
        .expect("runbook");
        Fixture { dir, runbook, go }
    }

    fn key(&self, who: &str) -> PathBuf {
        self.dir.path().join(format!("{who}_key"))
    }

    fn fingerprint(&self, who: &str) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.key(who).with_extension("pub"))
            .output()
            .expect("ssh-keygen -l");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    }

    /// `rehearse ARGS` under a shell, as `who` with their key if they have one, in the given
    /// config dir.
    fn cmd(&self, who: &str, cfg: &str, args: &str) -> String {
        let p = |x: &Path| shell_quote(&x.display().to_string());
        self.trust(cfg);
        let key = if self.key(who).exists() {
            format!(" --signing-key {}", p(&self.key(who)))
        } else {
            String::new()
        };
        format!(
            "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} SSH_AUTH_SOCK= exec {} {args} --operator {who}{key}",
            p(&self.dir.path().join("state")),
            p(&self.dir.path().join(cfg)),
            shell_quote(env!("CARGO_BIN_EXE_rehearse")),
        )
    }

    /// The TUI on `run` as `who`; the pane says how it exited.
    fn tui(&self, who: &str, run: &Path, extra: &str) -> String {
        let args = format!(
            "{} --run {} {extra}",
            shell_quote(&self.runbook.display().to_string()),
            shell_quote(&run.display().to_string())
        );
        // A subshell, so `exec` replaces it and the pane can still print the exit code.
        format!(
            "({}); echo EXITED $?; sleep 600",
            self.cmd(who, "cfg", &args)
        )
    }

    /// The TUI on `run` as `who`, as the pane's own process (for kill -9).
    fn tui_exec(&self, who: &str, run: &Path) -> String {
        self.cmd(
            who,
            "cfg",
            &format!(
                "{} --run {}",
                shell_quote(&self.runbook.display().to_string()),
                shell_quote(&run.display().to_string())
            ),
        )
    }

    /// The config dir trusts ana's and bob's keys (those that exist), so their sign-offs count.
    fn trust(&self, cfg: &str) {
        let dir = self.dir.path().join(cfg);
        std::fs::create_dir_all(&dir).expect("cfg");
        let mut allowed = String::new();
        for who in ["ana", "bob"] {
            if let Ok(pubkey) = std::fs::read_to_string(self.key(who).with_extension("pub")) {
                allowed.push_str(&format!("{who} {pubkey}"));
            }
        }
        std::fs::write(dir.join("allowed_signers"), allowed).expect("allowed_signers");
    }

    /// allowed_signers trusting ana's and bob's keys.
    fn allowed_signers(&self) -> PathBuf {
        let mut allowed = String::new();
        for who in ["ana", "bob"] {
            let pubkey = std::fs::read_to_string(self.key(who).with_extension("pub")).expect("pub");
            allowed.push_str(&format!("{who} {pubkey}"));
        }
        let path = self.dir.path().join("allowed_signers");
        std::fs::write(&path, allowed).expect("allowed");
        path
    }
}

fn entries(run: &Path) -> Vec<Entry> {
    rehearse::journal::read_entries(run).expect("journal")
}

fn journal(run: &Path) -> PathBuf {
    run.join("journal.jsonl")
}

fn assert_verifies(f: &Fixture, run: &Path) {
    tmux::assert_verifies(run, &f.allowed_signers(), &[], "the pair's run");
}

/// Ana runs a command that prints a line, waits, prints another: bob's screen shows the first
/// line while the command is still waiting, then the second; bob signs off, ana sees it, both
/// quit, and the journal verifies with both keys.
#[test]
fn two_instances_live_output_and_a_co_signer() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let ana = Tmux::start("pair-ana", 120, 30, &f.tui("ana", &run, ""));
    ana.wait_text("Steps", T);
    wait_file(&journal(&run), "the run to exist", T, |j| !j.is_empty());
    let bob = Tmux::start("pair-bob", 120, 30, &f.tui("bob", &run, ""));
    bob.wait_text("Steps", T);
    ana.wait_text("also here: bob", T);
    bob.wait_text("also here: ana", T);

    ana.keys(&["Enter"]);
    let pressed = Instant::now();
    // Within a second of being printed, plus the time ana takes to start it.
    let shown = bob.wait_text("first-line", Duration::from_secs(5));
    eprintln!(
        "first-line in bob's screen {:?} after ana's Enter",
        pressed.elapsed()
    );
    // The command is still waiting for GO: the second line does not exist anywhere yet.
    assert!(!f.go.exists());
    assert!(!shown.contains("second-line"), "{shown}");
    assert!(
        !std::fs::read_to_string(journal(&run))
            .expect("journal")
            .contains(r#""kind":"command_finished""#)
    );
    std::fs::write(&f.go, "").expect("go");
    bob.wait_text("second-line", T);
    bob.wait_text("✓", T);

    bob.keys(&["s"]);
    let dialog = bob.wait_text("Sign off step `one`", T);
    assert!(dialog.contains("bob's key"), "{dialog}");
    bob.text("watched it pass");
    bob.keys(&["Enter"]);
    ana.wait_text("signed off by bob", T);
    // The capture for the closing note: both panes, ana's output live in bob's.
    eprintln!(
        "--- ana ---\n{}\n--- bob ---\n{}",
        ana.screen(),
        bob.screen()
    );

    ana.keys(&["q"]);
    bob.keys(&["q"]);
    ana.wait_text("EXITED 0", T);
    bob.wait_text("EXITED 0", T);

    let es = entries(&run);
    let signoff = es
        .iter()
        .find_map(|e| match &e.event {
            Event::Signoff {
                operator,
                key_fingerprint,
                ..
            } => Some((operator.clone(), key_fingerprint.clone())),
            _ => None,
        })
        .expect("a signoff");
    assert_eq!(signoff, ("bob".into(), Some(f.fingerprint("bob"))));
    let left: Vec<(String, String)> = es
        .iter()
        .filter_map(|e| match &e.event {
            Event::Left {
                operator, reason, ..
            } => Some((operator.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|(_, r)| r == "quit"), "{left:?}");
    assert_verifies(&f, &run);
}

/// Bob opens the run: ana's status bar names him within 2 s. Bob is killed with kill -9: ana's
/// list drops him within 10 s, and his departure is recorded once.
#[test]
fn presence_names_who_is_here_and_drops_the_dead() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let ana = Tmux::start("pres-ana", 120, 30, &f.tui("ana", &run, ""));
    ana.wait_text("Steps", T);
    wait_file(&journal(&run), "the run to exist", T, |j| !j.is_empty());
    // The detail view's list of who is here, kept open.
    ana.keys(&["v"]);
    ana.wait_text("Who has the run open", T);

    let bob = Tmux::start("pres-bob", 120, 30, &f.tui_exec("bob", &run));
    bob.wait_text("Steps", T);
    let opened = Instant::now();
    ana.wait_for("bob in ana's list", Duration::from_secs(2), |s| {
        s.contains("bob · operator")
    });
    ana.keys(&["Escape"]);
    ana.wait_text("also here: bob", Duration::from_secs(2));
    eprintln!(
        "bob named in ana's status bar {:?} after his screen was up",
        opened.elapsed()
    );

    let pid = bob.pane_pid();
    let st = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let killed = Instant::now();
    ana.wait_for(
        "bob dropped from ana's status bar",
        Duration::from_secs(10),
        |s| !s.contains("also here: bob"),
    );
    eprintln!("bob dropped {:?} after kill -9", killed.elapsed());
    ana.keys(&["v"]);
    let list = ana.wait_text("Who has the run open", T);
    assert!(!list.contains("bob · operator"), "{list}");
    assert!(list.contains("ana · operator"), "{list}");
    ana.keys(&["Escape"]);
    ana.wait_for("the detail view closed", T, |s| {
        !s.contains("Who has the run open")
    });
    ana.keys(&["q"]);
    ana.wait_text("EXITED 0", T);

    let gone: Vec<String> = entries(&run)
        .iter()
        .filter_map(|e| match &e.event {
            Event::Left {
                operator, reason, ..
            } if operator == "bob" => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(gone.len(), 1, "recorded once: {gone:?}");
    assert!(gone[0].starts_with("gone"), "{gone:?}");
    assert_verifies(&f, &run);
}

/// Enter, Space, s, w (and a, x, m, o) in an observer change nothing in the journal; the same
/// Enter in an operator's instance starts the command. The observer follows it live and is
/// shown to the operator as an observer.
#[test]
fn an_observer_changes_nothing() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let ana = Tmux::start("obs-ana", 120, 30, &f.tui("ana", &run, ""));
    ana.wait_text("Steps", T);
    wait_file(&journal(&run), "the run to exist", T, |j| !j.is_empty());
    let observe = format!(
        "({}); echo EXITED $?; sleep 600",
        f.cmd(
            "lead",
            "cfg",
            &format!("observe {}", shell_quote(&run.display().to_string()))
        )
    );
    let lead = Tmux::start("obs-lead", 120, 30, &observe);
    lead.wait_text("OBSERVER", T);
    ana.wait_text("also here: lead (observer)", T);
    let before = std::fs::read_to_string(journal(&run)).expect("journal");

    lead.keys(&["Enter", "Tab", "Tab", "Space", "s", "w", "a", "x", "m", "o"]);
    // Keys are handled in order: once help is up, every key before it was.
    lead.keys(&["?"]);
    lead.wait_text("show / hide this help", T);
    let help = lead.screen();
    assert!(!help.contains("sign off the selected step"), "{help}");
    lead.keys(&["Escape"]);
    // Nothing shows up in the journal over several of the writer's follow ticks.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            std::fs::read_to_string(journal(&run)).expect("journal"),
            before,
            "an observer's key changed the journal"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The control: the same Enter in an operator's instance runs the command, and the
    // observer sees its output live.
    ana.keys(&["Enter"]);
    wait_file(&journal(&run), "ana's command to start", T, |j| {
        j.contains(r#""kind":"command_started""#)
    });
    lead.wait_text("first-line", T);
    std::fs::write(&f.go, "").expect("go");
    lead.wait_text("second-line", T);
    lead.keys(&["q"]);
    lead.wait_text("EXITED 0", T);
    ana.wait_for("lead gone from ana's status bar", T, |s| {
        !s.contains("lead (observer)")
    });
    ana.keys(&["q"]);
    ana.wait_text("EXITED 0", T);
    let by_lead: Vec<&'static str> = entries(&run)
        .iter()
        .filter(|e| {
            serde_json::to_string(&e.event)
                .expect("json")
                .contains(r#""operator":"lead""#)
        })
        .map(|e| e.event.kind())
        .collect();
    assert_eq!(by_lead, ["resumed", "joined", "left"]);
}

fn config_with_bob_key(f: &Fixture, name: &str, key: &Path) {
    let cfg = f.dir.path().join(name);
    std::fs::create_dir_all(&cfg).expect("cfg");
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[operators.bob]\nsigning_key = {:?}\n",
            key.display().to_string()
        ),
    )
    .expect("config");
}

/// One instance, ana and bob taking turns at its keys: after `o`, bob's sign-off is recorded as
/// bob's and signed with bob's key (verify checks it against his name). With bob's key missing,
/// his sign-off is refused with a message that says why, and nothing is recorded; ana, with
/// her key, still signs (the control).
#[test]
fn operators_switch_at_one_keyboard_and_each_signs_with_their_own_key() {
    let f = Fixture::new();
    std::fs::write(&f.go, "").expect("go");
    config_with_bob_key(&f, "cfg-good", &f.key("bob"));
    config_with_bob_key(&f, "cfg-missing", &f.dir.path().join("no-such-key"));
    for (cfg, bob_has_key) in [("cfg-good", true), ("cfg-missing", false)] {
        let run = f.dir.path().join(format!("run-{cfg}"));
        let args = format!(
            "{} --run {} --operators ana,bob",
            shell_quote(&f.runbook.display().to_string()),
            shell_quote(&run.display().to_string())
        );
        let cmd = format!("({}); echo EXITED $?; sleep 600", f.cmd("ana", cfg, &args));
        let t = Tmux::start(&format!("switch-{bob_has_key}"), 140, 30, &cmd);
        t.wait_text("⌨ ana", T);
        t.keys(&["o"]);
        t.wait_text("⌨ bob", T);
        // Bob runs the command: it is recorded as his.
        t.keys(&["Enter"]);
        t.wait_text("c on local (bob)", T);
        t.wait_text("✓", T);
        t.keys(&["s"]);
        if bob_has_key {
            let d = t.wait_text("Sign off step `one`", T);
            assert!(
                d.contains("bob's key") && d.contains(&f.fingerprint("bob")),
                "{d}"
            );
            t.text("bob checked");
            t.keys(&["Enter"]);
            t.wait_text("signed off by bob", T);
        } else {
            let s = t.wait_text("REFUSED", T);
            assert!(s.contains("bob cannot sign off"), "{s}");
            t.keys(&["v"]);
            let d = t.wait_text("At this instance's keys", T);
            assert!(d.contains("Message") && d.contains("no-such-key"), "{d}");
            // Esc and the next key sent apart: together a terminal reads them as Alt-key.
            t.keys(&["Escape"]);
            t.wait_for("the detail view closed", T, |s| {
                !s.contains("At this instance's keys")
            });
            t.keys(&["o"]);
            t.wait_text("⌨ ana", T);
            t.keys(&["s"]);
            let d = t.wait_text("Sign off step `one`", T);
            assert!(d.contains("ana's key"), "{d}");
            t.text("ana checked");
            t.keys(&["Enter"]);
            t.wait_text("signed off by ana", T);
        }
        t.keys(&["q"]);
        t.wait_text("EXITED 0", T);
        let signoffs: Vec<(String, Option<String>)> = entries(&run)
            .iter()
            .filter_map(|e| match &e.event {
                Event::Signoff {
                    operator,
                    key_fingerprint,
                    ..
                } => Some((operator.clone(), key_fingerprint.clone())),
                _ => None,
            })
            .collect();
        let expected = if bob_has_key {
            ("bob".to_string(), Some(f.fingerprint("bob")))
        } else {
            ("ana".to_string(), Some(f.fingerprint("ana")))
        };
        assert_eq!(signoffs, [expected]);
        let started_by = entries(&run).iter().find_map(|e| match &e.event {
            Event::CommandStarted { operator, .. } => Some(operator.clone()),
            _ => None,
        });
        assert_eq!(started_by.as_deref(), Some("bob"));
        assert_verifies(&f, &run);
    }
}
