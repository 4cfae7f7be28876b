//! The runbook and event builders the gate tests share.
#![allow(dead_code)]
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;

use rehearse::gate::Verdict;
use rehearse::journal::{Entry, Event, GENESIS, Outcome};
use rehearse::runbook::{self, Runbook};

pub const RB: &str = r#"
id = "g"
title = "G"
[[steps]]
id = "build"
title = "Build"
level = "must"
[[steps.commands]]
name = "c"
run = "true"
target = "local"
[[steps.checklist]]
id = "dns"
text = "DNS points at the host"
[[steps]]
id = "rollback"
title = "Rollback"
level = "must"
[[steps.commands]]
name = "back"
run = "true"
target = "local"
[[steps]]
id = "forward"
title = "Forward"
level = "must"
[[steps.commands]]
name = "fwd"
run = "true"
target = "local"
[[steps]]
id = "extra"
title = "Extra"
level = "should"
[[steps.commands]]
name = "x"
run = "false"
target = "local"
[gate]
signoffs = 2
checklist = ["build.dns"]
[gate.rollback]
rollback_step = "rollback"
forward_step = "forward"
"#;

pub fn rb() -> Runbook {
    runbook::parse(RB, Path::new("g.toml")).expect("runbook")
}

/// Entries with consecutive seqs (the chain is not the gate's business).
pub fn entries(events: Vec<Event>) -> Vec<Entry> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Entry {
            seq: i as u64,
            ts: format!("2026-12-01T10:00:{:02}Z", i % 60),
            event,
            prev: GENESIS.into(),
        })
        .collect()
}

pub fn pass(step: &str, cmd: &str, seq: u64) -> Vec<Event> {
    vec![
        Event::CommandStarted {
            step: step.into(),
            command: cmd.into(),
            target: "local".into(),
            run: "true".into(),
            operator: "ana".into(),
            session: None,
        },
        Event::CommandFinished {
            step: step.into(),
            command: cmd.into(),
            started_seq: seq,
            exit_status: Some(0),
            signal: None,
            duration_ms: 1,
            output_sha256: String::new(),
            output_bytes: 0,
            outcome: Outcome::Passed,
            reason: None,
        },
    ]
}

pub fn signoff(step: &str, who: &str, key: Option<&str>) -> Event {
    Event::Signoff {
        step: step.into(),
        operator: who.into(),
        note: String::new(),
        key_fingerprint: key.map(str::to_string),
    }
}

pub fn tick() -> Event {
    Event::CheckToggled {
        step: "build".into(),
        item: "dns".into(),
        checked: true,
        operator: "ana".into(),
        proposed_by: None,
    }
}

pub fn req(v: &Verdict, name: &str) -> (bool, String) {
    let r = v
        .requirements
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {v:?}"));
    (r.met, r.detail.clone())
}
