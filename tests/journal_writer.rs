//! The one ordered writer: lines land in the order each producer made them, every line is
//! acknowledged only once on disk, closing drains the queue, and redaction fails closed.
#![allow(clippy::expect_used)] // a test states its expectations

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rehearse::journal::{self, Event, Journal};
use rehearse::runner::{RunnerError, RunnerEvent, Writer};
use rehearse::secret::{Redactor, SecretString};
use tokio::sync::mpsc;

fn note(producer: usize, n: usize) -> Event {
    Event::Note {
        step: format!("p{producer}"),
        text: format!("{n}"),
        operator: "ana".into(),
    }
}

fn start(dir: &std::path::Path, redactor: Redactor) -> (Writer, mpsc::Receiver<RunnerEvent>) {
    let (j, _) = Journal::create(dir, note(99, 0), &[]).expect("journal");
    let (tx, rx) = mpsc::channel(8);
    (Writer::start(j, &[], redactor, (None, None), tx), rx)
}

/// Drain the listener so the writer never waits on it (as the TUI loop does).
fn drain(mut rx: mpsc::Receiver<RunnerEvent>) -> tokio::task::JoinHandle<Vec<RunnerEvent>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            seen.push(e);
        }
        seen
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Several producers, each mixing waited-for records and fire-and-forget submits: per
    /// producer, the journal holds every event, in the order it was produced, and the chain and
    /// `seq` hold; the listener saw the same lines in the same order.
    #[test]
    fn journal_order_is_production_order(plan in prop::collection::vec(
        prop::collection::vec(any::<bool>(), 1..40), 1..5)
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        rt().block_on(async {
            let (w, rx) = start(dir.path(), Redactor::default());
            let seen = drain(rx);
            let w = Arc::new(w);
            let mut tasks = Vec::new();
            for (p, waits) in plan.iter().cloned().enumerate() {
                let r = w.recorder().clone();
                tasks.push(tokio::spawn(async move {
                    for (n, wait) in waits.into_iter().enumerate() {
                        if wait {
                            r.record(note(p, n)).await.expect("record");
                        } else {
                            r.submit(note(p, n)).expect("submit");
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.expect("producer");
            }
            w.close(Duration::from_secs(30)).await.expect("drained");
            drop(w);
            let seen = seen.await.expect("listener");
            let entries = journal::read_entries(dir.path()).expect("read");
            // Opening re-reads every line checking `seq` and `prev`: the chain holds.
            let reopened = Journal::open(dir.path()).map(|(_, e, torn)| (e.len(), torn));
            prop_assert!(matches!(reopened, Ok((n, None)) if n == entries.len()), "{reopened:?}");
            for (p, waits) in plan.iter().enumerate() {
                let got: Vec<usize> = entries.iter().filter_map(|e| match &e.event {
                    Event::Note { step, text, .. } if *step == format!("p{p}") => text.parse().ok(),
                    _ => None,
                }).collect();
                prop_assert_eq!(got, (0..waits.len()).collect::<Vec<_>>());
            }
            let seqs: Vec<u64> = seen.iter().filter_map(|e| match e {
                RunnerEvent::Recorded(e) => Some(e.seq),
                _ => None,
            }).collect();
            prop_assert_eq!(seqs, (1..entries.len() as u64).collect::<Vec<_>>());
            Ok(())
        })?;
    }
}

#[test]
fn closing_drains_what_was_submitted_and_refuses_what_comes_after() {
    let dir = tempfile::tempdir().expect("tmp");
    rt().block_on(async {
        let (w, rx) = start(dir.path(), Redactor::default());
        let seen = drain(rx);
        for n in 0..200 {
            w.recorder().submit(note(1, n)).expect("submit");
        }
        w.close(Duration::from_secs(30)).await.expect("drained");
        assert!(matches!(
            w.recorder().submit(note(1, 200)),
            Ok(()) | Err(RunnerError::WriterGone)
        ));
        assert!(matches!(
            w.recorder().record(note(1, 201)).await,
            Err(RunnerError::WriterGone)
        ));
        drop(w);
        seen.await.expect("listener");
    });
    let entries = journal::read_entries(dir.path()).expect("read");
    assert_eq!(entries.len(), 201, "the first line and all 200 submitted");
}

#[test]
fn a_secret_with_quotes_and_backslashes_is_redacted_in_the_journal() {
    let dir = tempfile::tempdir().expect("tmp");
    let secret = r#"pa"ss\word-42"#;
    let red = Redactor::new(&[("db".into(), SecretString::new(secret))]);
    rt().block_on(async {
        let (w, rx) = start(dir.path(), red);
        let seen = drain(rx);
        let e = w
            .recorder()
            .record(Event::Note {
                step: "s".into(),
                text: format!("the password is {secret} (do not share)"),
                operator: "ana".into(),
            })
            .await
            .expect("record");
        assert!(matches!(&e.event, Event::Note { text, .. } if text == "the password is [secret:db] (do not share)"));
        w.close(Duration::from_secs(10)).await.expect("drained");
        drop(w);
        seen.await.expect("listener");
    });
    let text = std::fs::read_to_string(dir.path().join(journal::JOURNAL_FILE)).expect("read");
    assert!(!text.contains("pa\\\"ss\\\\word"), "{text}");
    assert!(!text.contains("ss\\word"), "{text}");
    assert!(text.contains("[secret:db]"), "{text}");
}

/// A redaction that cannot be applied (here: the secret's value is an event kind, so redacting
/// breaks the line's structure) stops the write and says so; nothing unredacted is written.
#[test]
fn a_redaction_failure_stops_the_write_and_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let red = Redactor::new(&[("word".into(), SecretString::new("signoff"))]);
    let seen = rt().block_on(async {
        let (w, rx) = start(dir.path(), red);
        let seen = drain(rx);
        let r = w
            .recorder()
            .record(Event::Signoff {
                step: "s".into(),
                operator: "ana".into(),
                note: "ok".into(),
                key_fingerprint: None,
            })
            .await;
        assert!(matches!(r, Err(RunnerError::Redaction(_))), "{r:?}");
        // Control: an event the redaction can be applied to is written.
        w.recorder().record(note(1, 1)).await.expect("control");
        w.close(Duration::from_secs(10)).await.expect("drained");
        drop(w);
        seen.await.expect("listener")
    });
    let after = std::fs::read_to_string(dir.path().join(journal::JOURNAL_FILE)).expect("read");
    assert!(!after.contains(r#""kind":"signoff""#), "{after}");
    // The first line and the control note, nothing else.
    assert_eq!(after.lines().count(), 2, "{after}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, RunnerEvent::JournalFailed(m) if m.contains("redaction failed"))),
        "{seen:?}"
    );
}
