//! Layouts at the sizes people have, in tmux: the full layout at 200×50, the compact one at
//! 80×23 (the pane of an 80×24 terminal running tmux) and 60×20 with Tab switching the pane,
//! below the minimum a message and no key but quit, and the detail view showing a whole
//! 500-character line.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

/// `long` prints one 500-character line (ten-character blocks numbered 0-9, then a tail that
/// marks its end), so the test can tell a whole line from a cut one.
const RUNBOOK: &str = r#"
id = "sizes"
title = "Sizes"
[[steps]]
id = "long"
title = "A command with a long line"
level = "must"
checklist = [{ id = "seen", text = "the whole line was read" }]
[[steps.commands]]
name = "print"
run = "s=; for i in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8; do s=\"${s}abcdefghi$i\"; done; echo \"${s}END-OF-LINE\""
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

fn long_line() -> String {
    let mut s: String = (0..49).map(|i| format!("abcdefghi{}", i % 10)).collect();
    s.push_str("END-OF-LINE");
    assert_eq!(s.chars().count(), 501);
    s
}

struct Fixture {
    dir: tempfile::TempDir,
    runbook: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        let runbook = dir.path().join("sizes.toml");
        std::fs::write(&runbook, RUNBOOK).expect("runbook");
        Fixture { dir, runbook }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn journal(&self) -> PathBuf {
        self.run_dir().join("journal.jsonl")
    }

    fn start(&self, name: &str, w: u16, h: u16) -> Tmux {
        let p = |x: &Path| shell_quote(&x.display().to_string());
        let cmd = format!(
            "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} {} {} --run {} --operator ana; echo EXITED $?; sleep 600",
            p(&self.dir.path().join("state")),
            p(&self.dir.path().join("cfg")),
            shell_quote(env!("CARGO_BIN_EXE_rehearse")),
            p(&self.runbook),
            p(&self.run_dir()),
        );
        let t = Tmux::start(name, w, h, &cmd);
        t.wait_text("Steps 0/2", T);
        t
    }
}

fn widest(screen: &str) -> usize {
    screen.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Tab walks the focus Steps → Log → Checklist → Gate → Steps; in the compact layout the
/// pane beside the steps follows it (the log while the steps have focus), one at a time.
fn tab_switches_the_one_pane(t: &Tmux) {
    let one = |s: &str| {
        [
            s.contains("Log · long"),
            s.contains("Checklist 0/1"),
            s.contains("SHUT"),
        ]
    };
    let s = t.wait_text("[Log] Tab", T);
    assert_eq!(one(&s), [true, false, false], "{s}");
    for (status, focused, want) in [
        ("[Log] Tab", "┏ Log · long", [true, false, false]),
        ("[Checklist] Tab", "┏ Checklist 0/1", [false, true, false]),
        ("[Gate] Tab", "┏ Gate", [false, false, true]),
    ] {
        t.keys(&["Tab"]);
        // The focused pane's border turns thick.
        let s = t.wait_for(focused, T, |s| {
            s.contains(status) && s.contains(focused) && one(s) == want
        });
        assert_eq!(one(&s), want, "{s}");
    }
    t.keys(&["Tab"]);
    let s = t.wait_for("focus back on the steps", T, |s| {
        s.contains("[Log] Tab") && s.contains("┏ Steps")
    });
    assert_eq!(one(&s), [true, false, false], "{s}");
}

#[test]
fn compact_at_80x23_tab_switches_the_pane() {
    let f = Fixture::new();
    // An attached 80×24 client loses a row to tmux's status line; a detached session made
    // here has none, so ask for the 80×23 an operator's pane really is.
    let t = f.start("compact80", 80, 23);
    let s = t.screen();
    assert_eq!(s.lines().count(), 23, "{s}");
    assert!(!s.contains("too small"), "{s}");
    assert!(widest(&s) <= 80);
    tab_switches_the_one_pane(&t);
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}

#[test]
fn compact_at_60x20_tab_switches_the_pane() {
    let f = Fixture::new();
    let t = f.start("compact60", 60, 20);
    let s = t.screen();
    assert_eq!(s.lines().count(), 20, "{s}");
    assert!(widest(&s) <= 60, "{s}");
    tab_switches_the_one_pane(&t);
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}

#[test]
fn full_layout_at_200x50_shows_every_pane() {
    let f = Fixture::new();
    let t = f.start("full200", 200, 50);
    let s = t.wait_text("Checklist 0/1", T);
    assert!(
        s.contains("Log · long") && s.contains("SHUT") && s.contains("Steps 0/2"),
        "{s}"
    );
    assert!(!s.contains("[Log] Tab"), "no pane switching needed: {s}");
    // Tab moves focus without hiding anything.
    t.keys(&["Tab", "Tab"]);
    let s = t.wait_text("┏ Checklist 0/1", T);
    assert!(s.contains("Log · long") && s.contains("SHUT"), "{s}");
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}

#[test]
fn below_the_minimum_enter_does_nothing() {
    let f = Fixture::new();
    let t = f.start("toosmall", 80, 24);
    let before = wait_file(&f.journal(), "the run", T, |j| !j.is_empty());
    t.resize(50, 15);
    t.wait_text("terminal too small: 50×15, need 60×20", T);
    // Keys arrive in order: when q has quit, Enter (and Tab, w) were read and dropped.
    t.keys(&["Enter", "Tab", "w", "Enter", "q"]);
    t.wait_text("EXITED 0", T);
    let after = std::fs::read_to_string(f.journal()).expect("journal");
    // Quitting records this instance's departure (`left`); nothing else may appear.
    let acts = |j: &str| {
        j.lines()
            .filter(|l| !l.contains(r#""kind":"left""#))
            .count()
    };
    assert_eq!(
        acts(&after),
        acts(&before),
        "the journal got a line:\n{after}"
    );
    assert!(!after.contains("command_started"));
}

#[test]
fn detail_view_shows_a_whole_500_character_line() {
    let f = Fixture::new();
    let t = f.start("detail", 80, 23);
    t.keys(&["Enter"]);
    wait_file(&f.journal(), "the command to finish", T, |j| {
        j.contains("command_finished")
    });
    t.wait_text("passed", T);
    let long = long_line();
    // The log pane cuts it (with an ellipsis).
    let s = t.screen();
    assert!(!s.replace('\n', "").contains(&long), "{s}");
    assert!(s.contains('…'), "{s}");
    // Focus the log, open its detail view.
    t.keys(&["Tab", "v"]);
    let s = t.wait_text("Esc closes", T);
    let inside: String = s
        .lines()
        .map(|l| l.trim_start_matches('┃').trim_end().trim_end_matches('┃'))
        .collect();
    assert!(inside.contains(&long), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the detail view closed", T, |s| !s.contains("Esc closes"));
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}
