//! The whole demo walked in tmux, as an operator would, to an open gate: every MUST step run
//! over SSH to the embedded host, proposed ticks confirmed, manual items ticked, two confirm
//! dialogs, a waiver, a cancelled command, a sign-off, the rollback proof and a (shortened)
//! monitoring window. The gate pane is captured shut and open.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::Duration;

use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(40);

fn count(journal: &Path, kind: &str) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .matches(&format!(r#""kind":"{kind}""#))
        .count()
}

struct Walk<'a> {
    t: &'a Tmux,
    journal: &'a Path,
}

impl Walk<'_> {
    /// Enter on the selected step; wait for the command to be recorded as finished.
    fn run(&self) {
        let n = count(self.journal, "command_finished");
        self.t.keys(&["Enter"]);
        wait_file(self.journal, "a command to finish", T, |j| {
            j.matches(r#""kind":"command_finished""#).count() > n
        });
        self.settled();
    }

    /// The line is on disk before the screen hears of it: wait until the step no longer shows
    /// as running, or the next key (a sign-off) would reach a step still running.
    fn settled(&self) {
        self.t
            .wait_for("the step to stop running on screen", T, |s| {
                !s.contains("· running")
            });
    }

    /// Run a command whose expectation proves an item, and confirm the proposed tick.
    fn run_and_confirm_tick(&self) {
        let n = count(self.journal, "check_toggled");
        self.run();
        self.t.wait_text("Expectation passed", T);
        self.t.keys(&["y"]);
        wait_file(self.journal, "the tick", T, |j| {
            j.matches(r#""kind":"check_toggled""#).count() > n
        });
    }

    /// A confirm = true command: the dialog shows the command; y runs it.
    fn run_confirmed(&self, shows: &str) {
        let n = count(self.journal, "command_finished");
        self.t.keys(&["Enter"]);
        let s = self.t.wait_text("Confirm command", T);
        assert!(s.contains(shows), "{s}");
        self.t.keys(&["y"]);
        wait_file(self.journal, "the confirmed command", T, |j| {
            j.matches(r#""kind":"command_finished""#).count() > n
        });
        self.settled();
    }

    /// A destructive command: `y` does nothing; typing the step's id runs it.
    fn run_destructive(&self, step: &str, shows: &str) {
        let n = count(self.journal, "command_finished");
        self.t.keys(&["Enter"]);
        let s = self.t.wait_text("Destructive command", T);
        assert!(s.contains(shows), "{s}");
        self.t.keys(&["y", "Enter"]);
        self.t.wait_text(&format!("type `{step}` exactly"), T);
        assert_eq!(count(self.journal, "command_finished"), n, "y ran it");
        // Clear the `y`, then the step's id.
        self.t.keys(&["BSpace"]);
        self.t.text(step);
        self.t.keys(&["Enter"]);
        wait_file(self.journal, "the confirmed command", T, |j| {
            j.matches(r#""kind":"command_finished""#).count() > n
        });
        self.settled();
    }

    /// Tick the checklist items at these positions (focus the checklist and back).
    fn tick(&self, rows: &[usize]) {
        self.t.keys(&["Tab", "Tab"]);
        let mut at = 0;
        for &r in rows {
            while at < r {
                self.t.keys(&["j"]);
                at += 1;
            }
            let n = count(self.journal, "check_toggled");
            self.t.keys(&["Space"]);
            wait_file(self.journal, "a manual tick", T, |j| {
                j.matches(r#""kind":"check_toggled""#).count() > n
            });
        }
        self.t.keys(&["Tab", "Tab"]);
    }

    fn next_step(&self, title: &str) {
        self.t.keys(&["j"]);
        self.t.wait_text(title, T);
    }
}

fn gate_pane(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("Page 6 gate"))
        .unwrap_or(0);
    lines[start..]
        .iter()
        .map(|l| l.chars().skip(30).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn demo_walked_to_an_open_gate() {
    let dir = tempfile::tempdir().expect("tmp");
    // The demo's gate with a three-second monitoring window, probing every second.
    let rb = std::fs::read_to_string("runbooks/demo-staging.toml").expect("demo runbook");
    let rb = rb
        .replace("duration = \"1m\"", "duration = \"3s\"")
        .replace("every = \"10s\"", "every = \"1s\"");
    let rb_path = dir.path().join("demo-short.toml");
    std::fs::write(&rb_path, rb).expect("write");
    let run = dir.path().join("run");
    let bin = env!("CARGO_BIN_EXE_rehearse");
    // ana signs with her own key, and the config dir trusts it: the gate can be proven.
    let key = dir.path().join("ana_key");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ana", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (apt-get install -y openssh-client)");
    assert!(st.success());
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).expect("cfg");
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let allowed = cfg.join("allowed_signers");
    std::fs::write(&allowed, format!("ana {pubkey}")).expect("allowed_signers");
    let cmd = format!(
        "SSH_AUTH_SOCK= REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} {} demo --runbook {} --run {} --operator ana --signing-key {}; echo EXITED $?; sleep 600",
        shell_quote(&dir.path().join("state").display().to_string()),
        shell_quote(&cfg.display().to_string()),
        shell_quote(bin),
        shell_quote(&rb_path.display().to_string()),
        shell_quote(&run.display().to_string()),
        shell_quote(&key.display().to_string()),
    );
    let t = Tmux::start("walk", 80, 24, &cmd);
    let journal = run.join("journal.jsonl");
    let w = Walk {
        t: &t,
        journal: &journal,
    };
    let shut = t.wait_text("SHUT", T);

    // p1 preflight: tools (proves "tools"), disk; the host key is checked by hand.
    w.run_and_confirm_tick();
    w.run();
    w.tick(&[1]);
    // p1 env: template, render (proves "no-debug").
    w.next_step("Provision host: .env from template");
    w.run();
    w.run_and_confirm_tick();
    // p2 DNS + TLS: the vhost, then DNS and certificate ticked by hand.
    w.next_step("DNS + TLS for the staging subdomain");
    w.run();
    w.tick(&[0, 1]);
    // p3 first release: build, symlink (proves "current"), smoke.
    w.next_step("First release (dep deploy)");
    w.run();
    w.run_and_confirm_tick();
    w.run();
    // p4 installer: install, lock-installer (confirm), permissions (proves "private-env").
    w.next_step("Installer and hardening");
    w.run();
    w.run_confirmed("installer/lock-installer");
    w.run_and_confirm_tick();
    // p5 cron + migrations (proves "parity").
    w.next_step("Schedule and schema");
    w.run();
    w.run_and_confirm_tick();
    // p6 rollback: a second release, roll back (confirm), verify; then forward again.
    w.next_step("Rollback: deploy a second release");
    w.run();
    w.run_destructive("rollback", "rollback/roll-back");
    w.run();
    w.next_step("Forward again to the newest release");
    w.run();
    w.next_step("Health probe");
    w.run();
    // Sign off the health step.
    t.keys(&["s"]);
    t.wait_text("Sign off step `health`", T);
    t.text("release answers after rollback and forward");
    t.keys(&["Enter"]);
    wait_file(&journal, "the sign-off and its place", T, |j| {
        j.contains(r#""kind":"signoff""#)
    });
    // p7 audit (SHOULD): waived with a reason.
    w.next_step("Quality tracks: permissions audit");
    t.keys(&["w"]);
    t.wait_text("Waive step `audit`", T);
    t.keys(&["Enter"]);
    t.wait_text("a waiver needs a reason", T);
    t.text("audited by the hosting provider this week");
    t.keys(&["Enter"]);
    wait_file(&journal, "the waiver", T, |j| {
        j.contains(r#""kind":"waiver""#)
    });
    // p7 warm the cache (OPTIONAL): started, then cancelled with x.
    w.next_step("warm the page cache");
    t.keys(&["Enter"]);
    t.wait_text("warming page 2", T);
    t.keys(&["x"]);
    let j = wait_file(&journal, "the cancelled command", T, |j| {
        j.contains(r#""outcome":"cancelled""#)
    });
    let line = j
        .lines()
        .find(|l| l.contains(r#""outcome":"cancelled""#))
        .unwrap_or_default();
    assert!(line.contains("stopped by SIGINT"), "{line}");
    t.wait_text("✗ cancelled", T);

    // Everything but the monitoring window is done: the gate says exactly that.
    let before = t.wait_text("✓ rollback", T);
    assert!(
        before.contains("SHUT") && before.contains("✗ monitoring"),
        "{before}"
    );
    t.keys(&["m"]);
    // Open, and proven: the gate line is signed by a trusted key, sealing all before it.
    let open = t.wait_for("the gate to open, proven", Duration::from_secs(60), |s| {
        s.contains("OPEN PROVEN") && s.contains("✓ monitoring")
    });
    for want in [
        "✓ steps",
        "✓ checklist",
        "✓ sign-offs",
        "✓ rollback",
        "✓ monitoring",
    ] {
        assert!(open.contains(want), "{want}:\n{open}");
    }
    // The README's captures are refreshed on request, not by every test run (they depend on
    // timing, and a test should leave the working tree as it found it).
    if std::env::var_os("REHEARSE_WRITE_ASSETS").is_some() {
        std::fs::create_dir_all("assets").ok();
        let _ = std::fs::write("assets/gate-shut-80x24.txt", gate_pane(&shut));
        let _ = std::fs::write(
            "assets/gate-before-monitoring-80x24.txt",
            gate_pane(&before),
        );
        let _ = std::fs::write("assets/gate-open-80x24.txt", gate_pane(&open));
    }
    wait_file(&journal, "the gate line", T, |j| {
        j.contains(r#""kind":"gate","open":true"#)
    });

    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
    let j = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        j.contains(r#""kind":"watch_started""#) && j.contains(r#""reason":"window complete""#),
        "{j}"
    );
    // Intact, signed by a trusted key, the gate proven open (a rehearsal on the demo host).
    tmux::assert_verifies(&run, &allowed, &["--allow-rehearsal"], "the demo walk");
}
