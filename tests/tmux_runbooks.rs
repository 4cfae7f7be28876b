//! The bundled runbooks walked in the TUI (issue 14, "Done when"), each against the embedded
//! demo host (`rehearse demo --runbook`), its deploy tools stood in for by
//! tests/fixtures/walk-bin. One module per runbook; each test says which strings it replaced
//! in its copy of the runbook to shorten waits, and nothing else differs from the bundled file.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;
#[path = "support/walk.rs"]
mod walk;

#[path = "tmux_runbooks/apprunner.rs"]
mod apprunner;
#[path = "tmux_runbooks/laravel.rs"]
mod laravel;
#[path = "tmux_runbooks/phase05.rs"]
mod phase05;
#[path = "tmux_runbooks/rollout.rs"]
mod rollout;

/// The bundled file with each `(from, to)` replaced, failing if a `from` is not in it (so a
/// change to the runbook cannot silently leave a wait unshortened).
pub fn shortened(file: &str, replace: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(format!("runbooks/{file}")).expect("runbook");
    for (from, to) in replace {
        assert!(text.contains(from), "{file} has no {from:?}");
        text = text.replace(from, to);
    }
    text
}
