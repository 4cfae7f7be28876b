//! allowed_signers read as ssh-keygen reads it: a differential test that asks
//! `ssh-keygen -Y verify -f FILE -I PRINCIPAL -n NAMESPACE -s SIG -Overify-time=T` and rehearse
//! the same question over the same files and signatures, and needs the same answer every time.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use rehearse::journal::allowed_signers::AllowedSigners;
use rehearse::journal::sign;

#[path = "support/evidence.rs"]
mod ev;

fn ssh_sign(key: &Path, namespace: &str, msg: &Path) -> String {
    let sig = msg.with_extension(format!("{namespace}.sig"));
    let _ = std::fs::remove_file(&sig);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(msg)
        .status()
        .expect("ssh-keygen -Y sign");
    assert!(st.success());
    std::fs::rename(msg.with_extension("txt.sig"), &sig).expect("rename sig");
    std::fs::read_to_string(&sig).expect("sig")
}

fn ssh_verify(file: &Path, principal: &str, ns: &str, sig: &Path, msg: &Path, at: &str) -> bool {
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(file)
        .args(["-I", principal, "-n", ns, "-s"])
        .arg(sig)
        .arg(format!("-Overify-time={at}"))
        .stdin(std::fs::File::open(msg).expect("msg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -Y verify")
        .success()
}

fn at(ts: &str) -> SystemTime {
    // "20250601Z" -> 2025-06-01T00:00:00Z
    humantime::parse_rfc3339(&format!(
        "{}-{}-{}T00:00:00Z",
        &ts[0..4],
        &ts[4..6],
        &ts[6..8]
    ))
    .expect("time")
}

#[test]
fn rehearse_agrees_with_ssh_keygen_on_every_case() {
    ev::need("ssh-keygen");
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let ana = ev::keygen(dir, "ana_key");
    let bob = ev::keygen(dir, "bob_key");
    let (a, b) = (ev::pubkey(&ana), ev::pubkey(&bob));
    let msg = dir.join("msg.txt");
    std::fs::write(&msg, b"{\"seq\":5,\"kind\":\"signoff\"}").expect("msg");
    let namespaces = [sign::NAMESPACE, "git"];
    let sigs: Vec<(String, std::path::PathBuf, String)> = namespaces
        .iter()
        .map(|ns| {
            let text = ssh_sign(&ana, ns, &msg);
            (
                ns.to_string(),
                msg.with_extension(format!("{ns}.sig")),
                text,
            )
        })
        .collect();
    let files = [
        format!("ana {a}"),
        format!("ana,bob {a}"),
        format!("*,!ana {a}"),
        format!("!ana,* {a}"),
        format!("*,!bob {a}"),
        format!("a?a {a}"),
        format!("*@example.com {a}"),
        format!("\"ana\" {a}"),
        format!("ana namespaces=\"{}\" {a}", sign::NAMESPACE),
        format!("ana namespaces=\"other@v1,git\" {a}"),
        format!("ana namespaces=\"rehearse-*\" {a}"),
        format!("ana namespaces=\"*,!git\" {a}"),
        format!("ana valid-after=\"20250101Z\" {a}"),
        format!("ana valid-before=\"20250101Z\" {a}"),
        format!("ana valid-after=\"20240101Z\",valid-before=\"20260101Z\" {a}"),
        format!(
            "ana namespaces=\"{}\",valid-after=\"202001011200Z\" {a}",
            sign::NAMESPACE
        ),
        format!("ana {b}"),
        format!("bob {a}\nana {b}"),
        format!("  # a comment\n\nbob,ana@example.com {a} trailing comment"),
        format!("ana VALID-AFTER=\"20240101Z\" {a}"),
    ];
    let principals = ["ana", "bob", "ana@example.com", "eve"];
    let times = ["20230601Z", "20250601Z", "20270601Z"];
    let mut checked = 0;
    for (fi, text) in files.iter().enumerate() {
        let path = dir.join(format!("allowed_{fi}"));
        std::fs::write(&path, format!("{text}\n")).expect("write");
        let ours = AllowedSigners::parse(text, &path, "test")
            .unwrap_or_else(|e| panic!("case {fi} {text:?}: {e}"));
        for (ns, sig_path, sig_text) in &sigs {
            let key = sign::verify_in(ns, sig_text, &std::fs::read(&msg).expect("msg"))
                .expect("our verify");
            for p in principals {
                for t in times {
                    let theirs = ssh_verify(&path, p, ns, sig_path, &msg, t);
                    let mine = ours.allows(p, ns, &key, at(t));
                    assert_eq!(
                        mine, theirs,
                        "disagree on {text:?} principal {p} namespace {ns} at {t}: ssh-keygen {theirs}, rehearse {mine}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, files.len() * 2 * 4 * 3);
}

#[test]
fn unsupported_options_are_refused_with_the_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ana = ev::keygen(tmp.path(), "ana_key");
    let a = ev::pubkey(&ana);
    for (text, want) in [
        (
            format!("ana cert-authority {a}"),
            "cert-authority is not supported",
        ),
        (
            format!("ana valid-after=\"20250101\" {a}"),
            "with a Z suffix",
        ),
        (
            format!("ana frobnicate {a}"),
            "unknown option \"frobnicate\"",
        ),
        (
            format!("ana namespaces=git {a}"),
            "must be in double quotes",
        ),
        ("ana".to_string(), "expected `principals [options] key`"),
    ] {
        let file = format!("# ok\n{text}\n");
        let err = AllowedSigners::parse(&file, Path::new("signers"), "t")
            .map(|_| ())
            .expect_err(&text);
        let msg = err.to_string();
        assert!(msg.starts_with("signers:2: "), "{msg}");
        assert!(msg.contains(want), "{text:?}: {msg}");
    }
}
