//! Issue 12's forgeries, each against a real signed run (made through the runner, signed with
//! ssh-keygen keys), with the chain recomputed as a forger would, and each with a control that
//! shows the honest case still verifies with the right gate verdict.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;

use rehearse::journal::{Event, Outcome};

#[path = "support/evidence.rs"]
mod ev;
use ev::{
    allowed, case, copy_dir, export, find_line, forged, journal_lines, keygen, make_run_with,
    signoff, verify_with, write_rechained,
};

#[test]
fn control_a_signed_sealed_run_verifies_with_the_gate_open() {
    let c = case(1);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    assert!(
        v.out.contains("signoff line") && v.out.contains("signed, trusted"),
        "{}",
        v.out
    );
    assert!(v.out.contains("gate: OPEN"), "{}", v.out);
    // The note after the sign-off is the unsealed tail.
    assert!(v.out.contains("unsealed tail: 1 lines"), "{}", v.out);
    // The same trust from the config dir, not the command line.
    let cfg = c.home.join("config");
    std::fs::create_dir_all(&cfg).expect("cfg");
    std::fs::copy(&c.anchor, cfg.join("allowed_signers")).expect("copy");
    let v = verify_with(&c.home, &c.run, None);
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    assert!(v.out.contains("gate: OPEN"), "{}", v.out);
}

#[test]
fn attack_no_trust_anchor_is_not_proven_and_exits_4() {
    let c = case(1);
    let v = verify_with(&c.home, &c.run, None);
    assert_eq!(v.code, 4, "{}{}", v.out, v.err);
    assert!(v.out.contains("valid but untrusted"), "{}", v.out);
    assert!(v.out.contains("gate: NOT PROVEN"), "{}", v.out);
}

#[test]
fn attack_forger_ships_their_own_key_in_the_bundle() {
    let c = case(1);
    // The forger makes a run of their own, signed as "ana" with their key, and a bundle whose
    // allowed_signers (both of them) vouch for that key.
    let forger_dir = c.dir.join("forger");
    std::fs::create_dir_all(&forger_dir).expect("mkdir");
    let eve = keygen(&forger_dir, "eve_key");
    let fake = make_run_with(&forger_dir, Some(&eve), 1);
    let bundle = forger_dir.join("bundle");
    export(&c.home, &fake, &bundle, &eve, "md");
    std::fs::write(
        bundle.join("allowed_signers"),
        format!("ana {}\n", ev::pubkey(&eve)),
    )
    .expect("w");
    // Without an outside anchor: intact but not proven (the manifest now fails too: the forger
    // changed a file, so they re-export instead).
    let bundle2 = forger_dir.join("bundle2");
    export(&c.home, &fake, &bundle2, &eve, "md");
    let v = verify_with(&c.home, &bundle2, None);
    assert_eq!(v.code, 4, "{}", v.out);
    assert!(v.out.contains("gate: NOT PROVEN"), "{}", v.out);
    // With the reviewer's anchor: the signature is valid, the key is not ana's, nothing sealed.
    let v = verify_with(&c.home, &bundle2, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("key not allowed for this name"), "{}", v.out);
    assert!(
        v.out.contains("gate: NOT PROVEN (nothing sealed"),
        "{}",
        v.out
    );
    // And the edited bundle fails outright.
    let v = verify_with(&c.home, &bundle, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(v.out.contains("allowed_signers was changed"), "{}", v.out);
}

#[test]
fn attack_forged_signoff_in_the_tail_counts_for_nothing() {
    let c = case(2);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(
        v.out.contains("gate: SHUT") && v.out.contains("1 of 2"),
        "{}",
        v.out
    );

    // Unsigned, appended, chain recomputed: intact, shown as unsigned, not counted.
    let forged_dir = c.dir.join("forged");
    copy_dir(&c.run, &forged_dir);
    let mut lines = journal_lines(&forged_dir);
    let n = lines.len();
    lines.push(forged(
        &lines,
        Event::Signoff {
            step: "two".into(),
            operator: "bob".into(),
            note: "lgtm".into(),
            key_fingerprint: None,
        },
    ));
    write_rechained(&forged_dir, lines.clone(), n);
    let v = verify_with(&c.home, &forged_dir, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("by bob: unsigned"), "{}", v.out);
    assert!(
        v.out.contains("gate: SHUT") && v.out.contains("1 of 2"),
        "{}",
        v.out
    );
    let md = ev::rehearse(
        &c.home,
        &[
            "export",
            &forged_dir.display().to_string(),
            "--format",
            "md",
        ],
    );
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("## Gate: NOT PROVEN"), "{md}");

    // A sign-off that claims a key but has no signature line: a verify error.
    let claim_dir = c.dir.join("claim");
    copy_dir(&c.run, &claim_dir);
    let mut lines = journal_lines(&claim_dir);
    lines.push(forged(
        &lines,
        Event::Signoff {
            step: "two".into(),
            operator: "bob".into(),
            note: "lgtm".into(),
            key_fingerprint: Some(ev_fingerprint(&c.ana)),
        },
    ));
    write_rechained(&claim_dir, lines, n);
    let v = verify_with(&c.home, &claim_dir, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out
            .contains(&format!("journal.jsonl:{}: sign-off names key", n + 1)),
        "{}",
        v.out
    );

    // Control: bob really signs with a key the reviewer trusts for bob: OPEN.
    let bob = keygen(&c.dir, "bob_key");
    let o = signoff(&c, "bob", Some(&bob), "two");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let both = allowed(&c.dir, "both", &[("ana", &c.ana), ("bob", &bob)]);
    let v = verify_with(&c.home, &c.run, Some(&both));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("gate: OPEN"), "{}", v.out);
}

fn ev_fingerprint(key: &Path) -> String {
    let o = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(key.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

#[test]
fn attack_one_key_under_two_names_is_one_signer() {
    let c = case(2);
    let o = signoff(&c, "bob", Some(&c.ana), "two");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = c.dir.join("two_names");
    std::fs::write(&p, format!("ana,bob {}\n", ev::pubkey(&c.ana))).expect("w");
    let v = verify_with(&c.home, &c.run, Some(&p));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("by bob: signed, trusted"), "{}", v.out);
    assert!(
        v.out.contains("gate: SHUT") && v.out.contains("1 of 2"),
        "{}",
        v.out
    );
}

#[test]
fn attack_unsigned_signoff_cli_counts_for_nothing_and_a_key_is_required() {
    let c = case(2);
    let o = ev::rehearse(
        &c.home,
        &[
            "signoff",
            &c.run.display().to_string(),
            "--step",
            "two",
            "--operator",
            "bob",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no signing key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = signoff(&c, "bob", None, "two");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("by bob: unsigned"), "{}", v.out);
    assert!(v.out.contains("1 of 2"), "{}", v.out);
}

#[test]
fn attack_changed_outcome_under_a_signature_breaks_it() {
    let c = case(1);
    let mut lines = journal_lines(&c.run);
    let i = find_line(&lines, "command_finished");
    lines[i] = lines[i].replace("\"duration_ms\":", "\"duration_ms\":1");
    write_rechained(&c.run, lines, i);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out.contains("signature of this signoff by ana"),
        "{}",
        v.out
    );
}

#[test]
fn attack_forged_pass_in_the_tail_is_not_counted_until_sealed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let home = dir.join("home");
    let ana = keygen(dir, "ana_key");
    let anchor = allowed(dir, "trusted", &[("ana", &ana)]);
    let rb = dir.join("evidence.toml");
    std::fs::write(&rb, ev::RUNBOOK.replace("SIGNOFFS", "1")).expect("rb");
    let run = dir.join("run");
    let cli = |args: &[&str]| {
        let o = ev::rehearse(&home, args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let (rb_s, run_s, key_s) = (
        rb.display().to_string(),
        run.display().to_string(),
        ana.display().to_string(),
    );
    cli(&["run", &rb_s, "--step", "one", "--run", &run_s]);
    cli(&[
        "signoff",
        &run_s,
        "--step",
        "one",
        "--operator",
        "ana",
        "--signing-key",
        &key_s,
    ]);

    // The forger appends step two's pass after the seal, chain recomputed.
    let mut lines = journal_lines(&run);
    let n = lines.len();
    lines.push(forged(
        &lines,
        Event::CommandStarted {
            step: "two".into(),
            command: "again".into(),
            target: "local".into(),
            run: "echo second".into(),
            operator: "ana".into(),
            session: None,
        },
    ));
    let fin = forged(
        &lines,
        Event::CommandFinished {
            step: "two".into(),
            command: "again".into(),
            started_seq: n as u64,
            exit_status: Some(0),
            signal: None,
            duration_ms: 1,
            output_sha256: rehearse::journal::sha256_hex(b""),
            output_bytes: 0,
            outcome: Outcome::Passed,
            reason: None,
        },
    );
    lines.push(fin);
    let forged_dir = dir.join("forged");
    copy_dir(&run, &forged_dir);
    std::fs::write(
        forged_dir
            .join("outputs")
            .join(rehearse::journal::sha256_hex(b"")),
        b"",
    )
    .expect("empty output");
    write_rechained(&forged_dir, lines, n);
    let v = verify_with(&home, &forged_dir, Some(&anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("unsealed tail: 2 lines"), "{}", v.out);
    assert!(
        v.out.contains("gate: SHUT") && v.out.contains("two (pending)"),
        "{}",
        v.out
    );

    // Control: step two really runs; still tail until a trusted signature seals it.
    cli(&["run", &rb_s, "--step", "two", "--run", &run_s]);
    let v = verify_with(&home, &run, Some(&anchor));
    assert!(v.out.contains("gate: SHUT"), "{}", v.out);
    cli(&[
        "signoff",
        &run_s,
        "--step",
        "two",
        "--operator",
        "ana",
        "--signing-key",
        &key_s,
    ]);
    let v = verify_with(&home, &run, Some(&anchor));
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("gate: OPEN"), "{}", v.out);
}

#[test]
fn attack_signature_not_right_after_its_line() {
    let c = case(1);
    let mut lines = journal_lines(&c.run);
    let so = find_line(&lines, "signoff");
    lines.swap(so + 1, so + 2);
    write_rechained(&c.run, lines, so + 1);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out
            .contains("but a signature must sign the line right before it"),
        "{}",
        v.out
    );
    assert!(v.out.contains("no signature follows it"), "{}", v.out);
}

#[test]
fn attack_swapped_runbook_is_refused_naming_both_digests() {
    let c = case(2);
    let original = std::fs::read(c.run.join("runbook.toml")).expect("rb");
    let weaker = String::from_utf8_lossy(&original).replace("signoffs = 2", "signoffs = 1");
    std::fs::write(c.run.join("runbook.toml"), &weaker).expect("w");
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    let want = rehearse::journal::sha256_hex(&original);
    let got = rehearse::journal::sha256_hex(weaker.as_bytes());
    assert!(
        v.out.contains(&format!(
            "runbook.toml: hashes to {got}, but the run started with runbook_sha256 {want}"
        )),
        "{}",
        v.out
    );
    let o = ev::rehearse(
        &c.home,
        &["export", &c.run.display().to_string(), "--format", "md"],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains(&want));
    // Control: the original runbook back, it verifies (and the gate stays shut: 1 of 2).
    std::fs::write(c.run.join("runbook.toml"), &original).expect("w");
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}", v.out);
}

#[test]
fn attack_time_going_backwards_and_a_forged_gate_opening() {
    let c = case(2);
    let mut back = journal_lines(&c.run);
    let last = back.len() - 1;
    let ts_at = back[last].find("\"ts\":\"").expect("ts") + 6;
    back[last].replace_range(ts_at..ts_at + 4, "2001");
    let back_dir = c.dir.join("back");
    copy_dir(&c.run, &back_dir);
    write_rechained(&back_dir, back, last);
    let v = verify_with(&c.home, &back_dir, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(v.out.contains("time went backwards"), "{}", v.out);

    let mut lines = journal_lines(&c.run);
    let n = lines.len();
    lines.push(forged(
        &lines,
        Event::Gate {
            open: true,
            reasons: vec!["all requirements met".into()],
            operator: Some("ana".into()),
        },
    ));
    write_rechained(&c.run, lines, n);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out
            .contains("says the gate opened, but the lines before it leave it shut"),
        "{}",
        v.out
    );
}
