//! Operator safety end to end, in tmux at the size a `-x 80 -y 24` window really has (80×23
//! inside, under tmux's status line): a double Enter never runs a `confirm` command, `y` does;
//! a 300-character command shows whole in its dialog; two instances pressing Enter on one step
//! at the same moment run it once.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

/// 300 characters of command, the dangerous part at the very end.
fn long_command() -> String {
    let mut c = String::from("echo start");
    let mut i = 0;
    while c.len() < 270 {
        c.push_str(&format!(" && echo part-{i:02}"));
        i += 1;
    }
    c.push_str(" && echo THE-DESTRUCTIVE-END");
    assert!(c.len() >= 300, "{}", c.len());
    c
}

fn runbook_text() -> String {
    format!(
        r#"
id = "safety"
title = "Safety"
[[steps]]
id = "danger"
title = "Danger"
level = "must"
[[steps.commands]]
name = "wipe"
run = "{}"
target = "local"
confirm = true
[[steps]]
id = "slow"
title = "Slow"
level = "must"
[[steps.commands]]
name = "wait"
run = "sleep 2; echo slept"
target = "local"
"#,
        long_command()
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    runbook: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        let runbook = dir.path().join("safety.toml");
        std::fs::write(&runbook, runbook_text()).expect("runbook");
        Fixture { dir, runbook }
    }

    fn tui(&self, run: &Path, operator: &str) -> String {
        let p = |x: &Path| shell_quote(&x.display().to_string());
        format!(
            "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} SSH_AUTH_SOCK= HOME={} {} {} --run {} --operator {operator}; echo EXITED $?; sleep 600",
            p(&self.dir.path().join("state")),
            p(&self.dir.path().join("cfg")),
            p(self.dir.path()),
            shell_quote(env!("CARGO_BIN_EXE_rehearse")),
            p(&self.runbook),
            p(run),
        )
    }
}

fn count(journal: &Path, kind: &str) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .matches(&format!(r#""kind":"{kind}""#))
        .count()
}

#[test]
fn enter_enter_runs_nothing_y_runs_and_the_whole_command_shows() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let journal = run.join("journal.jsonl");
    let t = Tmux::start("confirm", 80, 24, &f.tui(&run, "ana"));
    t.wait_text("Steps", T);
    // Two Enters in one breath: the first opens the dialog, the second must not confirm.
    t.keys(&["Enter", "Enter"]);
    // The whole command is there, wrapped, its end included (waiting for the frame to land).
    let flat_of = |s: &str| -> String {
        s.lines()
            .map(|l| l.trim_matches(|c| c == '║' || c == ' ' || c == '│'))
            .collect::<Vec<_>>()
            .join("")
    };
    let s = t.wait_for("the whole command in the dialog", T, |s| {
        s.contains("Confirm command") && flat_of(s).contains("THE-DESTRUCTIVE-END")
    });
    let flat = flat_of(&s);
    for i in [0, 5, 10, 15] {
        assert!(
            flat.contains(&format!("part-{i:02}")),
            "part-{i:02} missing:\n{s}"
        );
    }
    // Enter again, then Esc: keys are handled in order, so once the dialog has closed the
    // Enter before it has been handled too, and nothing ran.
    t.keys(&["Enter", "Escape"]);
    t.wait_for("the dialog to close", T, |s| !s.contains("Confirm command"));
    assert_eq!(count(&journal, "command_started"), 0);
    // The deliberate key runs it.
    t.keys(&["Enter"]);
    t.wait_text("Confirm command", T);
    t.keys(&["y"]);
    wait_file(&journal, "the confirmed command", T, |j| {
        j.contains(r#""kind":"command_finished""#)
    });
    assert_eq!(count(&journal, "command_started"), 1);
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}

#[test]
fn two_instances_pressing_enter_together_run_the_step_once() {
    let f = Fixture::new();
    let run = f.dir.path().join("run");
    let journal = run.join("journal.jsonl");
    let ana = Tmux::start("pair-ana", 80, 24, &f.tui(&run, "ana"));
    ana.wait_text("Steps", T);
    let bob = Tmux::start("pair-bob", 80, 24, &f.tui(&run, "bob"));
    bob.wait_text("Steps", T);
    for t in [&ana, &bob] {
        t.keys(&["Down"]);
        t.wait_text("Slow", T);
    }
    // As close to the same moment as two keyboards get.
    ana.keys(&["Enter"]);
    bob.keys(&["Enter"]);
    wait_file(&journal, "the command finished", T, |j| {
        j.contains(r#""kind":"command_finished""#)
    });
    assert_eq!(count(&journal, "command_started"), 1);
    // The one that lost was told who holds it (or saw it running and refused up front).
    let refused = [&ana, &bob]
        .iter()
        .any(|t| t.screen().contains("is being run by"));
    // For the record (shown with --no-capture): both screens after the race.
    eprintln!("ana:\n{}\nbob:\n{}", ana.screen(), bob.screen());
    assert!(refused, "ana:\n{}\nbob:\n{}", ana.screen(), bob.screen());
    for t in [&ana, &bob] {
        t.keys(&["q"]);
        t.wait_text("EXITED 0", T);
    }
}
