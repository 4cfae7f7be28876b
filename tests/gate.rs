//! The gate: pure table tests of each requirement, and the monitoring window surviving a
//! kill -9 of `rehearse watch` with the gap shown.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rehearse::gate::{self, Verdict};
use rehearse::journal::state::RunState;
use rehearse::journal::{Entry, Event, GENESIS, Outcome};
use rehearse::runbook::{self, Runbook};

const RB: &str = r#"
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

fn rb() -> Runbook {
    runbook::parse(RB, Path::new("g.toml")).expect("runbook")
}

/// Entries with consecutive seqs (the chain is not the gate's business).
fn entries(events: Vec<Event>) -> Vec<Entry> {
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

fn pass(step: &str, cmd: &str, seq: u64) -> Vec<Event> {
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

fn signoff(step: &str, who: &str, key: Option<&str>) -> Event {
    Event::Signoff {
        step: step.into(),
        operator: who.into(),
        note: String::new(),
        key_fingerprint: key.map(str::to_string),
    }
}

fn tick() -> Event {
    Event::CheckToggled {
        step: "build".into(),
        item: "dns".into(),
        checked: true,
        operator: "ana".into(),
        proposed_by: None,
    }
}

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

enum Part {
    Pass(&'static str, &'static str),
    Ev(Event),
}
use Part::{Ev, Pass};

fn req(v: &Verdict, name: &str) -> (bool, String) {
    let r = v
        .requirements
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {v:?}"));
    (r.met, r.detail.clone())
}

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

/// The proven gate (`seal::evaluate_entries`, what the TUI and reports call): sign-offs count
/// only when signed by a trusted key, once per key, and only inside the sealed part.
mod sealed {
    use super::*;
    use rehearse::journal::allowed_signers::AllowedSigners;
    use rehearse::journal::seal::{self, SigStatus};
    use rehearse::journal::sha256_hex;
    use rehearse::journal::sign::SigningKey;

    fn key() -> SigningKey {
        let k = russh::keys::PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
            .expect("key");
        SigningKey::from_private(std::sync::Arc::new(k), "test")
    }

    /// A chained journal: every line written as the writer writes it, each signed kind followed
    /// by its signature when a key is given.
    fn journal(events: Vec<(Event, Option<&SigningKey>)>) -> Vec<Entry> {
        let rt = tokio::runtime::Runtime::new().expect("rt");
        let mut out: Vec<Entry> = Vec::new();
        let mut prev = GENESIS.to_string();
        let push = |event: Event, out: &mut Vec<Entry>, prev: &mut String| {
            let e = Entry {
                seq: out.len() as u64,
                ts: format!("2026-12-01T10:{:02}:00Z", out.len() % 60),
                event,
                prev: prev.clone(),
            };
            let line = serde_json::to_string(&e).expect("encode");
            *prev = sha256_hex(line.as_bytes());
            out.push(e);
            line
        };
        for (ev, k) in events {
            let line = push(ev, &mut out, &mut prev);
            if let Some(k) = k {
                let sig = rt.block_on(k.sign(line.as_bytes())).expect("sign");
                let seq = out.len() as u64 - 1;
                push(
                    Event::Signature {
                        signs_seq: seq,
                        key_fingerprint: k.fingerprint(),
                        signature: sig,
                    },
                    &mut out,
                    &mut prev,
                );
            }
        }
        out
    }

    fn done() -> Vec<(Event, Option<&'static SigningKey>)> {
        let mut evs = Vec::new();
        for (s, c) in [("build", "c"), ("rollback", "back"), ("forward", "fwd")] {
            let seq = evs.len() as u64;
            evs.extend(pass(s, c, seq).into_iter().map(|e| (e, None)));
        }
        evs.push((tick(), None));
        evs
    }

    fn so(step: &str, who: &str, k: Option<&SigningKey>) -> Event {
        signoff(step, who, k.map(SigningKey::fingerprint).as_deref())
    }

    fn trust(rows: &[(&str, &SigningKey)]) -> AllowedSigners {
        let text: String = rows
            .iter()
            .map(|(who, k)| format!("{who} {}\n", k.openssh()))
            .collect();
        AllowedSigners::parse(&text, Path::new("t"), "test").expect("trust")
    }

    fn signoffs(v: &seal::SealedView) -> String {
        req(&v.verdict, "sign-offs").1
    }

    #[test]
    fn only_trusted_distinct_keys_inside_the_seal_count() {
        let (ka, kb) = (key(), key());
        let rb = rb();
        let both = trust(&[("ana", &ka), ("bob", &kb)]);

        let mut evs = done();
        evs.push((so("build", "ana", Some(&ka)), Some(&ka)));
        evs.push((so("rollback", "bob", Some(&kb)), Some(&kb)));
        let j = journal(evs.clone());
        let v = seal::evaluate_entries(&rb, &j, Some(&both));
        assert!(v.proven_open(), "{:?}", v.verdict);
        assert_eq!(v.tail_len, 0);
        assert_eq!(v.label(), "OPEN");
        // No anchor: the same journal proves nothing.
        let v = seal::evaluate_entries(&rb, &j, None);
        assert_eq!(v.label(), "NOT PROVEN (no trust anchor)");
        assert!(
            v.signed
                .iter()
                .all(|s| s.status == SigStatus::ValidUntrusted)
        );

        // One key under two names is one signer.
        let mut evs = done();
        evs.push((so("build", "ana", Some(&ka)), Some(&ka)));
        evs.push((so("rollback", "bob", Some(&ka)), Some(&ka)));
        let one = trust(&[("ana,bob", &ka)]);
        let v = seal::evaluate_entries(&rb, &journal(evs), Some(&one));
        assert!(signoffs(&v).starts_with("1 of 2"), "{}", signoffs(&v));

        // Unsigned sign-offs count for nothing and are shown unsigned.
        let mut evs = done();
        evs.push((so("build", "ana", Some(&ka)), Some(&ka)));
        evs.push((so("rollback", "bob", None), None));
        let v = seal::evaluate_entries(&rb, &journal(evs), Some(&both));
        assert!(signoffs(&v).starts_with("1 of 2"), "{}", signoffs(&v));
        assert!(
            v.signed
                .iter()
                .any(|s| s.operator == "bob" && s.status == SigStatus::Unsigned)
        );

        // A trusted key signing for a name it is not allowed for: valid, not counted.
        let mut evs = done();
        evs.push((so("build", "ana", Some(&ka)), Some(&ka)));
        evs.push((so("rollback", "bob", Some(&ka)), Some(&ka)));
        let v = seal::evaluate_entries(&rb, &journal(evs), Some(&both));
        assert!(
            v.signed
                .iter()
                .any(|s| s.operator == "bob" && s.status == SigStatus::NotAllowed)
        );
        assert!(signoffs(&v).starts_with("1 of 2"));

        // What comes after the last trusted signature is tail: not counted.
        let mut evs = vec![(so("build", "ana", Some(&ka)), Some(&ka))];
        evs.extend(done());
        evs.push((so("rollback", "bob", Some(&kb)), None));
        let v = seal::evaluate_entries(&rb, &journal(evs), Some(&both));
        assert_eq!(v.sealed_upto, Some(0));
        assert!(!v.verdict.open);
        assert!(!req(&v.verdict, "steps").0);
    }
}
