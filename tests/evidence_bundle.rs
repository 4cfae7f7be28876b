//! Issue 12's attacks on bundles and reports: files changed, added or removed, a rewritten
//! report, digests used as paths, injected operator text; and a report complete enough to
//! review. Each against a real signed run, each with its control.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;

use rehearse::journal::{Event, Outcome};

#[path = "support/evidence.rs"]
mod ev;
use ev::{case, copy_dir, export, forged, journal_lines, keygen, verify_with, write_rechained};

#[test]
fn attack_bundle_files_changed_added_removed_or_report_rewritten() {
    let c = case(1);
    let bundle = c.dir.join("bundle");
    export(&c.home, &c.run, &bundle, &c.ana, "md");
    let v = verify_with(&c.home, &bundle, Some(&c.anchor));
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    assert!(v.out.contains("gate: OPEN"), "{}", v.out);

    let try_case = |name: &str, f: &dyn Fn(&Path)| {
        let d = c.dir.join(name);
        copy_dir(&bundle, &d);
        f(&d);
        verify_with(&c.home, &d, Some(&c.anchor))
    };
    let v = try_case("extra", &|d| {
        std::fs::write(d.join("notes.txt"), "x").expect("w")
    });
    assert_eq!(v.code, 1);
    assert!(
        v.out.contains("notes.txt: not in the MANIFEST"),
        "{}",
        v.out
    );
    let v = try_case("missing", &|d| {
        std::fs::remove_file(d.join("runbook.toml")).expect("rm")
    });
    assert_eq!(v.code, 1);
    assert!(v.out.contains("runbook.toml is missing"), "{}", v.out);
    let v = try_case("nomanifest", &|d| {
        std::fs::remove_file(d.join("MANIFEST")).expect("rm")
    });
    assert_eq!(v.code, 1);
    assert!(v.out.contains("MANIFEST: missing"), "{}", v.out);

    // The strongest forger: rewrites the report, rebuilds the manifest and signs it with their
    // own key. The manifest holds (untrusted), but the report no longer matches the journal.
    let eve = keygen(&c.dir, "eve_key");
    let v = try_case("report", &|d| {
        let md = std::fs::read_to_string(d.join("report.md")).expect("md");
        let edited = md.replace("looks fine", "approved by the CTO");
        assert_ne!(md, edited);
        std::fs::write(d.join("report.md"), edited).expect("w");
        let mut manifest = String::from("rehearse-manifest v1 signer=eve\n");
        let mut files = walk(d);
        files.retain(|f| f != "MANIFEST" && f != "MANIFEST.sig");
        for f in files {
            let b = std::fs::read(d.join(&f)).expect("read");
            manifest.push_str(&format!(
                "{}  {}  {f}\n",
                rehearse::journal::sha256_hex(&b),
                b.len()
            ));
        }
        std::fs::write(d.join("MANIFEST"), &manifest).expect("w");
        std::fs::remove_file(d.join("MANIFEST.sig")).expect("rm");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", "rehearse-manifest@v1", "-f"])
            .arg(&eve)
            .arg(d.join("MANIFEST"))
            .status()
            .expect("sign");
        assert!(st.success());
    });
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out
            .contains("report.md: does not match the report regenerated from the journal"),
        "{}",
        v.out
    );
    assert!(v.err.contains("signed by eve"), "{}", v.err);

    // Export refuses a tampered run and names the broken place.
    let mut lines = journal_lines(&c.run);
    lines[1] = lines[1].replace("\"seq\":1", "\"seq\":7");
    std::fs::write(c.run.join("journal.jsonl"), lines.join("\n") + "\n").expect("w");
    let out = c.dir.join("refused");
    let o = ev::rehearse(
        &c.home,
        &[
            "export",
            &c.run.display().to_string(),
            "-o",
            &out.display().to_string(),
            "--signing-key",
            &c.ana.display().to_string(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("journal.jsonl:2: seq is 7"), "{err}");
    assert!(!out.exists());
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(root)
                        .expect("rel")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out
}

#[test]
fn attack_injected_note_stays_text_in_every_report() {
    let c = case(1);
    let mut lines = journal_lines(&c.run);
    let n = lines.len();
    lines.push(forged(
        &lines,
        Event::Note {
            step: "two".into(),
            text: "fine\n## Gate: OPEN\n\u{1b}[2J<script>alert(1)</script>".into(),
            operator: "mallory".into(),
        },
    ));
    write_rechained(&c.run, lines, n);
    let md = ev::rehearse(
        &c.home,
        &["export", &c.run.display().to_string(), "--format", "md"],
    );
    assert!(
        md.status.success(),
        "{}",
        String::from_utf8_lossy(&md.stderr)
    );
    let md = String::from_utf8_lossy(&md.stdout);
    let gate_heads: Vec<&str> = md.lines().filter(|l| l.starts_with("## Gate")).collect();
    assert_eq!(
        gate_heads,
        ["## Gate: NOT PROVEN (no trust anchor)"],
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "{md}");
    assert!(md.contains("␛"), "{md}");
    assert!(
        md.contains("looks fine"),
        "control: the honest note is there\n{md}"
    );
    assert!(md.contains("unsealed tail"), "{md}");
    let html = ev::rehearse(
        &c.home,
        &["export", &c.run.display().to_string(), "--format", "html"],
    );
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        !html.contains("<script>") && !html.contains('\u{1b}'),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;") && html.contains("␛"),
        "{html}"
    );
}

#[test]
fn complete_report_names_commands_vars_signers_head_and_seal() {
    let c = case(1);
    let cfg = c.home.join("config");
    std::fs::create_dir_all(&cfg).expect("cfg");
    std::fs::copy(&c.anchor, cfg.join("allowed_signers")).expect("copy");
    let o = ev::rehearse(
        &c.home,
        &["export", &c.run.display().to_string(), "--format", "md"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = String::from_utf8_lossy(&o.stdout);
    for want in [
        "## Gate: OPEN",
        "Variable `region` = `eu-west`",
        "Variable `pw`: secret, not shown",
        "echo hello eu-west; echo 'pw=[secret:pw]'",
        "matches the runbook kept with the run",
        "signed, trusted",
        "unsealed",
        "head `",
        "exit 0",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    assert!(!md.contains(ev::CANARY));
}
#[test]
fn attack_output_digest_with_dotdot_never_becomes_a_path() {
    let c = case(1);
    let outside = c.dir.join("escaped");
    std::fs::write(&outside, "outside the run\n").expect("w");
    let mut lines = journal_lines(&c.run);
    let n = lines.len();
    lines.push(forged(
        &lines,
        Event::CommandFinished {
            step: "two".into(),
            command: "again".into(),
            started_seq: 0,
            exit_status: Some(0),
            signal: None,
            duration_ms: 1,
            output_sha256: "../../escaped".into(),
            output_bytes: 16,
            outcome: Outcome::Passed,
            reason: None,
        },
    ));
    write_rechained(&c.run, lines, n);
    let v = verify_with(&c.home, &c.run, Some(&c.anchor));
    assert_eq!(v.code, 1, "{}", v.out);
    assert!(
        v.out
            .contains("output_sha256 \"../../escaped\" is not 64 lowercase hex digits"),
        "{}",
        v.out
    );
    let bundle = c.dir.join("bundle");
    let o = ev::rehearse(
        &c.home,
        &[
            "export",
            &c.run.display().to_string(),
            "-o",
            &bundle.display().to_string(),
            "--signing-key",
            &c.ana.display().to_string(),
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refusing to export"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!bundle.exists());
}
