//! Sizes in tmux: the app follows the window as tmux resizes it (as it does for clients of
//! different sizes), says "terminal too small" below 60×20 and recovers, and never garbles.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::time::Duration;

use tmux::{Tmux, shell_quote};

const T: Duration = Duration::from_secs(30);

#[test]
fn follows_resizes_and_recovers_from_too_small() {
    let dir = tempfile::tempdir().expect("tmp");
    let cmd = format!(
        "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} {} demo --run {}; echo EXITED $?; sleep 600",
        shell_quote(&dir.path().join("state").display().to_string()),
        shell_quote(&dir.path().join("cfg").display().to_string()),
        shell_quote(env!("CARGO_BIN_EXE_rehearse")),
        shell_quote(&dir.path().join("run").display().to_string()),
    );
    let t = Tmux::start("sizes", 160, 48, &cmd);
    let big = t.wait_text("Steps 0/11", T);
    // At 160×48 the step titles are not cut.
    assert!(big.contains("Provision host: preflight"), "{big}");
    assert_eq!(big.lines().count(), 48);

    t.resize(50, 15);
    t.wait_text("terminal too small", T);
    let small = t.wait_text("terminal too small: 50×15, need 60×20", T);
    assert!(!small.contains("Steps"), "{small}");

    t.resize(80, 24);
    let s = t.wait_for("the screen back at 80×24", T, |s| {
        s.contains("Steps 0/11") && !s.contains("too small")
    });
    for l in s.lines() {
        assert!(l.chars().count() <= 80, "line wider than the window: {l:?}");
    }
    // Still responsive after all that: help opens and closes.
    t.keys(&["?"]);
    t.wait_text("Keys (any key closes)", T);
    t.keys(&["Escape"]);
    t.wait_for("help closed", T, |s| !s.contains("Keys (any key closes)"));
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}
