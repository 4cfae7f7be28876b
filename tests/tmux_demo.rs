//! End to end, as a person would: `rehearse demo` in tmux, run the first step over SSH to the
//! embedded host, confirm the proposed tick, sign the step off, quit, then check the journal
//! and the exported Markdown.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::time::Duration;

use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

#[test]
fn demo_first_step_signed_off_and_exported() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let state = dir.path().join("state");
    let cfg = dir.path().join("cfg");
    let bin = env!("CARGO_BIN_EXE_rehearse");
    let cmd = format!(
        "REHEARSE_DB_PASSWORD=canary-Zq7-secret REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} {} demo --run {} --operator ana; echo EXITED $?; sleep 600",
        shell_quote(&state.display().to_string()),
        shell_quote(&cfg.display().to_string()),
        shell_quote(bin),
        shell_quote(&run.display().to_string()),
    );
    let t = Tmux::start("demo", 80, 24, &cmd);
    let journal = run.join("journal.jsonl");

    // The first whole frame (a capture can catch one half drawn): every pane is there.
    let panes = [
        "Steps 0/11",
        "Checklist",
        "Log · preflight",
        "SHUT",
        "Enter run",
    ];
    t.wait_for("every pane of the first frame", T, |s| {
        panes.iter().all(|p| s.contains(p))
    });

    t.keys(&["Enter"]);
    t.wait_text("Expectation passed", T);
    t.keys(&["y"]);
    wait_file(&journal, "the confirmed tick", T, |j| {
        j.contains(r#""kind":"check_toggled","step":"preflight","item":"tools","checked":true"#)
    });
    t.keys(&["Enter"]);
    wait_file(&journal, "both commands finished", T, |j| {
        j.matches(r#""kind":"command_finished""#).count() == 2
    });
    let s = t.wait_text("✓ disk", T);
    assert!(s.contains("all tools present"), "{s}");

    t.keys(&["s"]);
    t.wait_text("Sign off step `preflight`", T);
    t.text("checked host and tools");
    t.keys(&["Enter"]);
    wait_file(&journal, "the sign-off", T, |j| {
        j.contains(r#""kind":"signoff""#)
    });
    // No key in this test's environment: the sign-off says it is unsigned.
    t.wait_text("UNSIGNED sign-off by ana", T);

    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);

    let j = std::fs::read_to_string(&journal).expect("journal");
    let kinds: Vec<String> = j
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    for k in [
        "run_started",
        "command_started",
        "host_key",
        "command_finished",
        "check_toggled",
        "signoff",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in {kinds:?}");
    }
    let host_key = j
        .lines()
        .find(|l| l.contains(r#""kind":"host_key""#))
        .expect("host_key line");
    assert!(
        host_key.contains(r#""trust":"pinned""#) && host_key.contains("SHA256:"),
        "{host_key}"
    );
    // The secret variable is listed by name only.
    assert!(!j.contains("canary-Zq7-secret"), "{j}");
    assert!(j.contains(r#""secret_vars":["db_password"]"#), "{j}");

    let out = std::process::Command::new(bin)
        .args(["export"])
        .arg(&run)
        .args(["--format", "md"])
        .output()
        .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("Signed off by **ana**"), "{md}");
    assert!(md.contains("checked host and tools"), "{md}");
    assert!(md.contains("**tools** on `staging` by ana"), "{md}");
    assert!(md.contains("all tools present"), "{md}");
}
