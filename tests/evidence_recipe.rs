//! docs/journal.md's by-hand recipe, run literally (every ```sh block under "Checking by hand")
//! on a real bundle with nothing but sha256sum, jq, ssh-keygen and the shell.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::process::Command;

#[path = "support/evidence.rs"]
mod ev;

fn recipe() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/journal.md"))
        .expect("docs/journal.md");
    let start = doc.find("## Checking by hand").expect("the recipe section");
    let section = &doc[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let mut script = String::new();
    let mut inside = false;
    for line in section[..end].lines() {
        match (inside, line.trim_end()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(script.contains("ssh-keygen -Y verify"), "{script}");
    script
}

fn run_recipe(dir: &Path, trusted: &Path) -> (bool, String) {
    let o = Command::new("sh")
        .args(["-e", "-c", &recipe()])
        .current_dir(dir)
        .env("TRUSTED", trusted)
        .output()
        .expect("sh");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_by_hand_recipe_checks_a_bundle_and_catches_tampering() {
    for tool in ["jq", "sha256sum", "ssh-keygen"] {
        ev::need(tool);
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let ana = ev::keygen(dir, "ana_key");
    let run = ev::make_run(dir, Some(&ana));
    let bundle = dir.join("bundle");
    ev::export(&dir.join("home"), &run, &bundle, &ana, "md");
    let trusted = dir.join("trusted");
    std::fs::write(&trusted, format!("ana,exporter {}\n", ev::pubkey(&ana))).expect("trusted");

    let (ok, out) = run_recipe(&bundle, &trusted);
    assert!(ok, "{out}");
    assert!(
        out.contains("Good \"rehearse-manifest@v1\" signature for exporter"),
        "{out}"
    );
    assert!(
        out.contains("Good \"rehearse-signoff@v1\" signature for ana"),
        "{out}"
    );
    assert!(!out.contains("BROKEN"), "{out}");
    // The recipe leaves the bundle as it found it: rehearse still verifies it.
    let v = ev::verify_with(&dir.join("home"), &bundle, Some(&trusted));
    assert_eq!(v.code, 0, "{}", v.out);

    // Tampered: a changed byte in line 2 breaks the chain at line 3.
    let bad = dir.join("bad");
    ev::copy_dir(&bundle, &bad);
    let j = std::fs::read_to_string(bad.join("journal.jsonl")).expect("j");
    let mut lines: Vec<String> = j.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen("\"ts\":\"2", "\"ts\":\"3", 1);
    std::fs::write(bad.join("journal.jsonl"), lines.join("\n") + "\n").expect("w");
    let (ok, out) = run_recipe(&bad, &trusted);
    assert!(!ok, "{out}");
    assert!(out.contains("BROKEN at seq 2"), "{out}");

    // A key the reader does not trust: ssh-keygen refuses the manifest.
    let other = ev::keygen(dir, "other_key");
    let untrusted = ev::allowed(dir, "untrusted", &[("ana,exporter", &other)]);
    let (ok, out) = run_recipe(&bundle, &untrusted);
    assert!(!ok, "{out}");
}
