//! The proven gate (`seal::evaluate_entries`, what the TUI and reports call): sign-offs count
//! only when signed by a trusted key, once per key, and only inside the sealed part.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;

use rehearse::evidence::seal::{self, SigStatus};
use rehearse::journal::allowed_signers::AllowedSigners;
use rehearse::journal::sign::SigningKey;
use rehearse::journal::{Entry, Event, GENESIS, sha256_hex};

#[path = "support/gate_fixture.rs"]
mod fixture;
use fixture::{pass, rb, req, signoff, tick};

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
