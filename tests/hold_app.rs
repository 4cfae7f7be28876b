//! The TUI's side of a hold, driven deterministically: Enter runs the step's commands first,
//! then (once they passed) starts the hold in the background; Enter again stops it.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rehearse::action::{Action, Internal};
use rehearse::app::{App, Effect};
use rehearse::journal::{Event, Journal, Outcome};
use rehearse::keymap::Keymap;
use rehearse::runbook;

const RUNBOOK: &str = r#"
format = 2
id = "hold-app"
title = "Hold in the app"

[[steps]]
id = "stage"
title = "Shift and hold"
level = "must"
target = "local"

[[steps.commands]]
name = "shift"
run = "echo 25"

[steps.hold]
for = "1h"
every = "1m"
probe = { run = "true" }
abort_if = { failed = 3 }
"#;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn enter_runs_the_commands_then_starts_and_stops_the_hold() {
    let rb = Arc::new(runbook::parse(RUNBOOK, Path::new("hold-app.toml")).expect("runbook"));
    let dir = tempfile::tempdir().expect("tmp");
    let (mut j, first) = Journal::create(
        dir.path(),
        Event::Note {
            step: "stage".into(),
            text: "begin".into(),
            operator: "ana".into(),
        },
        &[],
    )
    .expect("journal");
    let (vars, _) = rb.resolve_vars(&[]).expect("vars");
    let mut a = App::new(
        rb.clone(),
        std::slice::from_ref(&first.entry),
        vars.clone(),
        "ana".into(),
        Keymap::default(),
    );
    // Before its commands passed, Enter runs them.
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Effect::Run {
            step: "stage".into(),
            index: 0
        }]
    );
    let started = j
        .append(Event::CommandStarted {
            step: "stage".into(),
            command: "shift".into(),
            target: "local".into(),
            run: "echo 25".into(),
            operator: "ana".into(),
            session: None,
        })
        .expect("append")
        .entry;
    let finished = j
        .append(Event::CommandFinished {
            step: "stage".into(),
            command: "shift".into(),
            started_seq: started.seq,
            exit_status: Some(0),
            signal: None,
            duration_ms: 1,
            output_sha256: "0".repeat(64),
            output_bytes: 3,
            outcome: Outcome::Passed,
            reason: None,
        })
        .expect("append")
        .entry;
    let entries = [first.entry, started, finished];
    let mut a = App::new(rb, &entries, vars, "ana".into(), Keymap::default());
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Effect::StartHold {
            step: "stage".into()
        }]
    );
    assert_eq!(a.holding.as_deref(), Some("stage"));
    assert_eq!(a.on_key(key(KeyCode::Enter)), vec![Effect::StopHold]);
    a.update(Action::Internal(Internal::HoldEnded(
        "`stage`: hold stopped; Enter resumes it".into(),
    )));
    assert!(a.holding.is_none());
    assert_eq!(
        a.message.as_deref(),
        Some("`stage`: hold stopped; Enter resumes it")
    );
}
