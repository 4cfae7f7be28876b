//! Walk a bundled runbook in the real TUI under tmux, as an operator would: `rehearse demo
//! --runbook` against the embedded SSH host, with the deploy tools stood in for by the scripts
//! of tests/fixtures/walk-bin (first on PATH). The runbook file itself drives the walk: which
//! commands ask to be confirmed, which one the step's id must be typed for, which pass proposes
//! a tick. Every wait is for a condition with a deadline; every command must pass.
#![allow(dead_code)]
#![allow(clippy::expect_used)] // a test states its expectations

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rehearse::runbook::Runbook;

use crate::tmux::{Tmux, shell_quote, wait_file};

pub const T: Duration = Duration::from_secs(40);

pub struct Walk {
    pub t: Tmux,
    pub dir: tempfile::TempDir,
    pub run: PathBuf,
    pub journal: PathBuf,
    /// Stands in for `/` on the hosts: the stubs write /etc, /usr/local, /var/log there.
    pub root: PathBuf,
    /// The directory the TUI starts in: local commands run there (`project_dir = "."`).
    pub work: PathBuf,
    pub allowed: PathBuf,
    pub rb: Runbook,
    /// Checklist items ticked so far, `step.item`: a pass proposes only an unticked one.
    ticked: BTreeSet<String>,
}

fn keygen(path: &Path, who: &str) {
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (apt-get install -y openssh-client)");
    assert!(st.success());
}

/// Real git in `dir`, with an identity for commits (the test's, not the machine's).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(["-c", "user.name=walk", "-c", "user.email=walk@example.test"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git (apt-get install -y git)");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Write `files` (path, content) under `dir`, creating directories.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, text) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
}

pub fn count(journal: &Path, kind: &str) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .matches(&format!(r#""kind":"{kind}""#))
        .count()
}

impl Walk {
    /// Open `text` (a copy of a bundled runbook, durations shortened by the caller) in the
    /// TUI with these `--var`s and environment (`{dir}` in a value: the walk's temporary
    /// directory), at 200x50
    /// (wide enough that a step's row of commands is never cut), ana and bob at the keys,
    /// each with a key the config dir trusts.
    pub fn start(name: &str, text: &str, vars: &[(&str, &str)], env: &[(&str, &str)]) -> Walk {
        let dir = tempfile::tempdir().expect("tmp");
        // `{dir}` in a value stands for this walk's temporary directory.
        let at = |v: &str| v.replace("{dir}", &dir.path().display().to_string());
        let rb_path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&rb_path, text).expect("write runbook");
        let rb = rehearse::runbook::parse(text, &rb_path).expect("the copy loads");
        let run = dir.path().join("run");
        let root = dir.path().join("root");
        let work = dir.path().join("work");
        let cfg = dir.path().join("cfg");
        for d in [&root, &work, &cfg] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let mut allowed = String::new();
        for who in ["ana", "bob"] {
            let key = dir.path().join(format!("{who}_key"));
            keygen(&key, who);
            let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
            allowed.push_str(&format!("{who} {public}"));
        }
        let allowed_path = cfg.join("allowed_signers");
        std::fs::write(&allowed_path, allowed).expect("allowed_signers");
        std::fs::write(
            cfg.join("config.toml"),
            format!(
                "[operators.bob]\nsigning_key = {:?}\n",
                dir.path().join("bob_key").display().to_string()
            ),
        )
        .expect("config.toml");
        let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/walk-bin");
        let path = format!(
            "{}:{}",
            stubs.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut envs = vec![
            ("PATH".to_string(), path),
            ("WALK_ROOT".to_string(), root.display().to_string()),
            (
                "WALK_DEPLOY_PATH".to_string(),
                run.join("demo-host/srv/shop").display().to_string(),
            ),
            ("SSH_AUTH_SOCK".to_string(), String::new()),
            (
                "REHEARSE_STATE_DIR".to_string(),
                dir.path().join("state").display().to_string(),
            ),
            ("REHEARSE_CONFIG_DIR".to_string(), cfg.display().to_string()),
        ];
        envs.extend(env.iter().map(|(k, v)| (k.to_string(), at(v))));
        let env_words: Vec<String> = envs
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        let var_words: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("--var {}", shell_quote(&format!("{k}={}", at(v)))))
            .collect();
        let cmd = format!(
            "cd {} && {} {} demo --local-commands --runbook {} --run {} --operator ana --operators ana,bob --signing-key {} {}; echo EXITED $?; sleep 600",
            shell_quote(&work.display().to_string()),
            env_words.join(" "),
            shell_quote(env!("CARGO_BIN_EXE_rehearse")),
            shell_quote(&rb_path.display().to_string()),
            shell_quote(&run.display().to_string()),
            shell_quote(&dir.path().join("ana_key").display().to_string()),
            var_words.join(" "),
        );
        let t = Tmux::start(name, 200, 50, &cmd);
        t.wait_text("SHUT", T);
        Walk {
            t,
            journal: run.join("journal.jsonl"),
            run,
            root,
            work,
            allowed: allowed_path,
            rb,
            dir,
            ticked: BTreeSet::new(),
        }
    }

    pub fn journal(&self) -> String {
        std::fs::read_to_string(&self.journal).unwrap_or_default()
    }

    /// The recorded (redacted) output of the latest run of `step`/`command`.
    pub fn output(&self, step: &str, command: &str) -> String {
        let head = format!(r#""kind":"command_finished","step":"{step}","command":"{command}""#);
        let j = self.journal();
        let line = j
            .lines()
            .rfind(|l| l.contains(&head))
            .unwrap_or_else(|| panic!("{step}/{command} never finished"));
        let sha = line
            .split(r#""output_sha256":""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("an output digest");
        std::fs::read_to_string(self.run.join("outputs").join(sha)).expect("the output file")
    }

    fn wait_journal(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_file(&self.journal, what, T, pred)
    }

    /// Select step `id`, moving up or down the list (in file order; the log pane's title
    /// names the selection).
    pub fn goto(&self, id: &str) {
        let index = |id: &str| self.rb.steps.iter().position(|s| s.id == id);
        let want = index(id).expect("a step of the runbook");
        for _ in 0..self.rb.steps.len() {
            let at = selected(&self.t.screen());
            let Some(now) = index(&at) else {
                panic!("no step selected:\n{}", self.t.screen());
            };
            if now == want {
                return;
            }
            self.t.keys(&[if now < want { "j" } else { "k" }]);
            self.t
                .wait_for("the selection to move", T, |s| selected(s) != at);
        }
        panic!("could not select `{id}`:\n{}", self.t.screen());
    }

    /// Select `id` and run each of its commands in order, answering the confirm and
    /// destructive dialogs as the runbook asks, and confirming each tick a pass proposes.
    /// `skip`: commands its `when` leaves out.
    pub fn step(&mut self, id: &str, skip: &[&str]) {
        self.goto(id);
        let step = self.rb.step(id).expect("step").clone();
        for c in step
            .commands
            .iter()
            .filter(|c| !skip.contains(&c.name.as_str()))
        {
            let polls = c.until.is_some() || c.retry.retries > 0;
            self.command(id, &c.name, c.confirm, c.destructive, polls);
            if let Some(item) = &c.proves
                && self.ticked.insert(format!("{id}.{item}"))
            {
                let n = count(&self.journal, "check_toggled");
                self.t.wait_text("Expectation passed", T);
                self.t.keys(&["y"]);
                self.wait_journal("the proposed tick", |j| {
                    j.matches(r#""kind":"check_toggled""#).count() > n
                });
            }
        }
    }

    /// Enter on the selected step; wait until `name` finished and passed (an `until` or
    /// `retries` command may take several attempts).
    pub fn command(&self, step: &str, name: &str, confirm: bool, destructive: bool, polls: bool) {
        // The journal line lands before the screen folds it in: wait until the app itself
        // shows `name` as the step's next command, or the Enter would find it still busy.
        self.t
            .wait_for(&format!("`{name}` shown next"), T, |s| shown_next(s, name));
        let before = self.journal().lines().count();
        self.t.keys(&["Enter"]);
        if destructive {
            let s = self.t.wait_text("Destructive command", T);
            assert!(s.contains(&format!("{step}/{name}")), "{s}");
            self.t.text(step);
            self.t.keys(&["Enter"]);
        } else if confirm {
            let s = self.t.wait_text("Confirm command", T);
            assert!(s.contains(&format!("{step}/{name}")), "{s}");
            self.t.keys(&["y"]);
        }
        let head = format!(r#""kind":"command_finished","step":"{step}","command":"{name}""#);
        // A command that polls or retries may fail a few attempts first.
        let j = wait_file(&self.journal, &format!("{step}/{name} to finish"), T, |j| {
            j.lines()
                .skip(before)
                .any(|l| l.contains(&head) && (!polls || l.contains(r#""outcome":"passed""#)))
        });
        let lines: Vec<&str> = j.lines().skip(before).collect();
        let line = lines
            .iter()
            .rfind(|l| l.contains(&head))
            .copied()
            .unwrap_or_default();
        assert!(
            line.contains(r#""outcome":"passed""#),
            "{step}/{name} did not pass: {line}\n{}",
            self.t.screen()
        );
    }

    /// Tick the checklist items of the selected step at these rows (focus it and back).
    pub fn tick(&mut self, step: &str, items: &[&str]) {
        let s = self.rb.step(step).expect("step");
        let mut rows: Vec<usize> = items
            .iter()
            .map(|i| {
                s.checklist
                    .iter()
                    .position(|c| c.id == *i)
                    .expect("checklist item")
            })
            .collect();
        rows.sort_unstable();
        self.t.keys(&["Tab", "Tab"]);
        let mut at = 0;
        for r in rows {
            while at < r {
                self.t.keys(&["j"]);
                at += 1;
            }
            let n = count(&self.journal, "check_toggled");
            self.t.keys(&["Space"]);
            self.wait_journal("a manual tick", |j| {
                j.matches(r#""kind":"check_toggled""#).count() > n
            });
        }
        for i in items {
            self.ticked.insert(format!("{step}.{i}"));
        }
        self.t.keys(&["Tab", "Tab"]);
    }

    /// Tick every item of `step` not ticked yet.
    pub fn tick_rest(&mut self, step: &str) {
        let s = self.rb.step(step).expect("step").clone();
        let rest: Vec<&str> = s
            .checklist
            .iter()
            .filter(|c| !self.ticked.contains(&format!("{step}.{}", c.id)))
            .map(|c| c.id.as_str())
            .collect();
        self.tick(step, &rest);
    }

    /// Choose option `index` (0-based) of the selected choice step, with a reason.
    pub fn choose(&self, step: &str, index: usize, reason: &str) {
        self.goto(step);
        self.t.keys(&["Enter"]);
        self.t
            .wait_text(&format!("Which path does the team take for `{step}`?"), T);
        for _ in 0..index {
            self.t.keys(&["Down"]);
        }
        self.t.text(reason);
        self.t.keys(&["Enter"]);
        self.wait_journal("the choice", |j| j.contains(r#""kind":"choice""#));
    }

    /// Enter on a step whose commands passed: its hold starts in the background. Waits for
    /// the hold to end and returns how (`passed`, `aborted`).
    pub fn hold(&self, id: &str) -> String {
        self.goto(id);
        let n = count(&self.journal, "hold_ended");
        self.t.keys(&["Enter"]);
        let head = format!(r#""kind":"hold_ended","step":"{id}","outcome":""#);
        let j = wait_file(&self.journal, &format!("the hold of {id} to end"), T, |j| {
            j.matches(r#""kind":"hold_ended""#).count() > n && j.contains(&head)
        });
        let line = j.lines().rfind(|l| l.contains(&head)).unwrap_or_default();
        line.split(&head)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string()
    }

    /// Waive step `id` with a reason (an empty one is refused first).
    pub fn waive(&self, id: &str, reason: &str) {
        self.goto(id);
        self.t.keys(&["w"]);
        self.t.wait_text(&format!("Waive step `{id}`"), T);
        self.t.keys(&["Enter"]);
        self.t.wait_text("a waiver needs a reason", T);
        self.t.text(reason);
        self.t.keys(&["Enter"]);
        self.wait_journal("the waiver", |j| {
            j.contains(&format!(r#""kind":"waiver","step":"{id}""#))
        });
    }

    /// Sign off the selected step as whoever is at the keys.
    pub fn sign(&self, step: &str, note: &str) {
        let n = count(&self.journal, "signoff");
        self.goto(step);
        self.t.keys(&["s"]);
        self.t.wait_text(&format!("Sign off step `{step}`"), T);
        self.t.text(note);
        self.t.keys(&["Enter"]);
        self.wait_journal("the sign-off", |j| {
            j.matches(r#""kind":"signoff""#).count() > n
        });
    }

    /// The next operator takes the keys (`o`).
    pub fn switch_to(&self, who: &str) {
        self.t.keys(&["o"]);
        self.t.wait_text(&format!("⌨ {who}"), T);
    }

    /// Start the monitoring window and wait for the gate to open, proven.
    pub fn monitor_to_open(&self) -> String {
        self.t.keys(&["m"]);
        let open = self
            .t
            .wait_for("the gate to open, proven", Duration::from_secs(90), |s| {
                s.contains("OPEN PROVEN") && s.contains("✓ monitoring")
            });
        self.wait_journal("the gate line", |j| {
            j.contains(r#""kind":"gate","open":true"#)
        });
        open
    }

    /// Watch the window until the gate opens with every requirement met, then quit and verify.
    pub fn open_the_gate_and_verify(&self) {
        let open = self.monitor_to_open();
        for want in [
            "✓ steps",
            "✓ checklist",
            "✓ sign-offs",
            "✓ rollback",
            "✓ monitoring",
        ] {
            assert!(open.contains(want), "{want}:\n{open}");
        }
        self.quit_and_verify();
    }

    /// Quit, then `rehearse verify` the run against the trusted keys: exit 0 is intact,
    /// signed, and the gate proven open.
    pub fn quit_and_verify(&self) {
        self.t.keys(&["q"]);
        self.t.wait_text("EXITED 0", T);
        super::tmux::assert_verifies(&self.run, &self.allowed, &["--allow-rehearsal"], "the walk");
    }
}

/// The step named in the log pane's title.
fn selected(screen: &str) -> String {
    screen
        .split("Log · ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// The step pane marks the next command `› name` (`!` after it asks to be confirmed).
fn shown_next(screen: &str, name: &str) -> bool {
    screen.split("› ").skip(1).any(|rest| {
        let shown: String = rest
            .chars()
            .take_while(|c| !matches!(c, ' ' | '…' | '│' | '!' | '\n'))
            .collect();
        let cut = rest[shown.len()..].starts_with('…');
        shown == name || (cut && !shown.is_empty() && name.starts_with(&shown))
    })
}
