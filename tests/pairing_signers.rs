//! The writer signs a line with the key of the operator it names, and refuses, writing nothing,
//! when that operator has no key here: a sign-off is never signed with someone else's key, even
//! if the screen failed to stop it.
#![allow(clippy::expect_used)] // a test states its expectations

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rehearse::journal::sign::{self, SigningKey};
use rehearse::journal::{self, Event, Journal};
use rehearse::runner::{RunnerError, Writer};
use rehearse::secret::Redactor;
use russh::keys::{Algorithm, PrivateKey};
use tokio::sync::mpsc;

fn key(name: &str) -> SigningKey {
    let k = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("key");
    SigningKey::from_private(Arc::new(k), name)
}

fn signoff(operator: &str) -> Event {
    Event::Signoff {
        step: "one".into(),
        operator: operator.into(),
        note: String::new(),
        key_fingerprint: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operator_signs_with_their_own_key_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = Event::Note {
        step: "one".into(),
        text: "start".into(),
        operator: "ana".into(),
    };
    let (j, _) = Journal::create(dir.path(), first, &[]).expect("journal");
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let (ana, bob) = (key("ana"), key("bob"));
    let w = Writer::start(
        j,
        &[],
        Redactor::default(),
        (Some("ana".into()), Some(ana.clone())),
        tx,
    );
    let r = w.recorder().clone();

    // Bob is at the keys but has no key here, and carol is nobody's: both refused.
    r.set_signers(BTreeMap::from([("bob".to_string(), None)]));
    for who in ["bob", "carol"] {
        match r.record(signoff(who)).await {
            Err(RunnerError::NoKey { operator }) => assert_eq!(operator, who),
            other => panic!("{who}: expected a refusal, got {other:?}"),
        }
    }
    let written = journal::read_entries(dir.path()).expect("read");
    assert!(
        !written.iter().any(|e| e.event.kind() == "signoff"),
        "a refused sign-off was written"
    );

    // With his key, bob's sign-off is his; ana's stays hers (the control).
    r.set_signers(BTreeMap::from([("bob".to_string(), Some(bob.clone()))]));
    for (who, k) in [("bob", &bob), ("ana", &ana)] {
        let e = r.record(signoff(who)).await.expect("recorded");
        let Event::Signoff {
            key_fingerprint, ..
        } = &e.event
        else {
            panic!("not a signoff")
        };
        assert_eq!(key_fingerprint.as_deref(), Some(k.fingerprint().as_str()));
    }
    w.close(Duration::from_secs(10)).await.expect("drained");

    // Each signature line verifies with the key of the operator its line names.
    let entries = journal::read_entries(dir.path()).expect("read");
    let lines: Vec<String> = std::fs::read_to_string(dir.path().join(journal::JOURNAL_FILE))
        .expect("journal")
        .lines()
        .map(str::to_string)
        .collect();
    let mut checked = 0;
    for (i, e) in entries.iter().enumerate() {
        if let Event::Signature { signature, .. } = &e.event {
            let signed = &entries[i - 1];
            let who = signed.event.signer_name().expect("signed kind");
            let expected = if who == "bob" { &bob } else { &ana };
            let by = sign::verify(signature, lines[i - 1].as_bytes()).expect("verifies");
            assert_eq!(by.key_data(), expected.public.key_data(), "{who}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}
