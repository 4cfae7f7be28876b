//! The gate: pure table tests of each requirement, and the monitoring window surviving a
//! kill -9 of `rehearse watch` with the gap shown.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rehearse::gate::{self, Verdict};
use rehearse::journal::Event;
use rehearse::journal::state::RunState;
use rehearse::runbook;

#[path = "support/gate_fixture.rs"]
mod fixture;
use fixture::{entries, pass, rb, req, signoff, tick};

/// Build the events in order, giving each pass() the seq its start will have.
fn run(parts: Vec<Part>) -> Verdict {
    let mut evs = Vec::new();
    for p in parts {
        match p {
            Part::Pass(s, c) => {
                let seq = evs.len() as u64;
                evs.extend(pass(s, c, seq));
            }
            Part::Ev(e) => evs.push(e),
        }
    }
    let rb = rb();
    gate::evaluate(&rb, &RunState::from_entries(&entries(evs)))
}

#[allow(clippy::large_enum_variant)] // a handful per table row
enum Part {
    Pass(&'static str, &'static str),
    Ev(Event),
}
use Part::{Ev, Pass};

fn all_done() -> Vec<Part> {
    vec![
        Pass("build", "c"),
        Pass("rollback", "back"),
        Pass("forward", "fwd"),
        Ev(tick()),
    ]
}

#[test]
fn table_of_requirements() {
    struct Case {
        name: &'static str,
        parts: Vec<Part>,
        want: &'static [(&'static str, bool, &'static str)],
        open: bool,
    }
    let with = |extra: Vec<Part>| {
        let mut v = all_done();
        v.extend(extra);
        v
    };
    let cases = vec![
        Case {
            name: "nothing done",
            parts: vec![],
            want: &[
                ("steps", false, "3 of 3 required steps not done"),
                ("checklist", false, "not ticked: build.dns"),
                ("sign-offs", false, "0 of 2"),
                ("rollback", false, "has not passed"),
            ],
            open: false,
        },
        Case {
            name: "all done, two people",
            parts: with(vec![
                Ev(signoff("build", "ana", None)),
                Ev(signoff("rollback", "bob", None)),
            ]),
            want: &[
                ("steps", true, "3 required steps"),
                ("checklist", true, "1 named items ticked"),
                ("sign-offs", true, "2 of 2"),
                ("rollback", true, "rolled back"),
            ],
            open: true,
        },
        Case {
            name: "two sign-offs by one operator count once",
            parts: with(vec![
                Ev(signoff("build", "ana", None)),
                Ev(signoff("rollback", "ana", None)),
            ]),
            want: &[("sign-offs", false, "1 of 2")],
            open: false,
        },
        Case {
            name: "distinct by key: two names, one key",
            parts: with(vec![
                Ev(signoff("build", "ana", Some("SHA256:k1"))),
                Ev(signoff("rollback", "ana2", Some("SHA256:k1"))),
            ]),
            want: &[("sign-offs", false, "1 of 2")],
            open: false,
        },
        Case {
            name: "a waived must step counts as done",
            parts: vec![
                Pass("rollback", "back"),
                Pass("forward", "fwd"),
                Ev(tick()),
                Ev(Event::Waiver {
                    step: "build".into(),
                    item: None,
                    reason: "done by hand".into(),
                    operator: "ana".into(),
                }),
            ],
            want: &[("steps", true, "3 required steps")],
            open: false,
        },
        Case {
            name: "a waived checklist item counts",
            parts: vec![Ev(Event::Waiver {
                step: "build".into(),
                item: Some("dns".into()),
                reason: "internal only".into(),
                operator: "ana".into(),
            })],
            want: &[("checklist", true, "ticked")],
            open: false,
        },
        Case {
            name: "forward before rollback is no proof",
            parts: vec![Pass("forward", "fwd"), Pass("rollback", "back")],
            want: &[("rollback", false, "passed before the rollback")],
            open: false,
        },
        Case {
            name: "rolled back, not forward",
            parts: vec![Pass("rollback", "back")],
            want: &[("rollback", false, "forward step `forward` has not passed")],
            open: false,
        },
        Case {
            name: "a failed should step does not block",
            parts: with(vec![
                Pass("extra", "x"),
                Ev(signoff("build", "ana", None)),
                Ev(signoff("build", "bob", None)),
            ]),
            want: &[("steps", true, "")],
            open: true,
        },
    ];
    for c in cases {
        let v = run(c.parts);
        for (name, met, detail) in c.want {
            let (m, d) = req(&v, name);
            assert_eq!(m, *met, "{}: {name}: {d}", c.name);
            assert!(
                d.contains(detail),
                "{}: {name}: {d:?} lacks {detail:?}",
                c.name
            );
        }
        assert_eq!(v.open, c.open, "{}: {:?}", c.name, v.reasons());
    }
}

const WATCHED: &str = r#"
id = "watched"
title = "Watched"
[[steps]]
id = "s"
title = "S"
level = "must"
[[steps.commands]]
name = "c"
run = "true"
target = "local"
[gate]
[gate.monitor]
duration = "4s"
every = "1s"
max_failures = 0
[gate.monitor.probe]
name = "health"
run = "echo healthy"
target = "local"
expect = { exit = 0, stdout = "healthy" }
"#;

fn probes(journal: &Path) -> Vec<String> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(r#""kind":"probe""#))
        .map(str::to_string)
        .collect()
}

fn wait(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_killed_and_restarted_resumes_the_window_and_shows_the_gap() {
    let bin = env!("CARGO_BIN_EXE_rehearse");
    let dir = tempfile::tempdir().expect("tmp");
    let rbp = dir.path().join("watched.toml");
    std::fs::write(&rbp, WATCHED).expect("write");
    let run = dir.path().join("run");
    let st = Command::new(bin)
        .arg("run")
        .arg(&rbp)
        .args(["--step", "s", "--run"])
        .arg(&run)
        .env("REHEARSE_STATE_DIR", dir.path().join("state"))
        .output()
        .expect("run");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let journal = run.join("journal.jsonl");

    let mut w = Command::new(bin)
        .arg("watch")
        .arg(&run)
        .env("REHEARSE_STATE_DIR", dir.path().join("state"))
        .stderr(Stdio::null())
        .spawn()
        .expect("watch");
    wait("two probes", Duration::from_secs(30), || {
        probes(&journal).len() >= 2
    });
    w.kill().expect("kill -9");
    let _ = w.wait();
    let before = probes(&journal).len();
    // Leave a gap longer than two intervals, measured from the last probe's own timestamp.
    let last_ts = |j: &Path| -> std::time::SystemTime {
        let l = probes(j).last().cloned().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&l).expect("probe json");
        humantime::parse_rfc3339(v["ts"].as_str().unwrap_or("")).expect("ts")
    };
    let t0 = last_ts(&journal);
    wait("a gap of 2.5s", Duration::from_secs(30), || {
        t0.elapsed().is_ok_and(|d| d > Duration::from_millis(2500))
    });

    let out = Command::new(bin)
        .arg("watch")
        .arg(&run)
        .env("REHEARSE_STATE_DIR", dir.path().join("state"))
        .output()
        .expect("watch again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("unwatched gaps"), "{stderr}");
    assert!(probes(&journal).len() > before);

    let entries = rehearse::journal::read_entries(&run).expect("entries");
    let state = RunState::from_entries(&entries);
    let rb = runbook::parse(WATCHED, Path::new("w.toml")).expect("rb");
    let p = gate::monitor_progress(&rb, &state).expect("progress");
    assert_eq!(p.gaps.len(), 1, "{p:?}");
    assert!(p.gaps[0].1 >= Duration::from_millis(2500), "{p:?}");
    assert!(p.watched >= Duration::from_secs(4), "{p:?}");
    assert_eq!(p.failed, 0);
    let starts = entries
        .iter()
        .filter(|e| matches!(e.event, Event::WatchStarted { .. }))
        .count();
    assert_eq!(starts, 2);
    let v = gate::evaluate(&rb, &state);
    let (met, detail) = req(&v, "monitoring");
    assert!(met, "{detail}");
    assert!(detail.contains("unwatched"), "{detail}");
}
