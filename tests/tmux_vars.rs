//! A variable without a value is asked for before the run opens, masked when secret, and the
//! secret never reaches the screen or the journal.
#![allow(clippy::expect_used)] // a test states its expectations

#[path = "support/tmux.rs"]
mod tmux;

use std::time::Duration;

use tmux::{Tmux, shell_quote, wait_file};

const T: Duration = Duration::from_secs(30);

const RB: &str = r#"
id = "vars"
title = "Vars"
[vars.token]
secret = true
description = "API token for the staging API"
[vars.region]
description = "Region to deploy to"
[[steps]]
id = "s"
title = "Use them"
level = "must"
target = "local"
[[steps.commands]]
name = "show"
run = "echo region={{region}} token={{token}}"
"#;

#[test]
fn missing_variables_are_asked_for_and_secrets_are_masked() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("vars.toml");
    std::fs::write(&rb, RB).expect("write");
    let run = dir.path().join("run");
    let cmd = format!(
        "REHEARSE_STATE_DIR={} REHEARSE_CONFIG_DIR={} {} {} --run {}; echo EXITED $?; sleep 600",
        shell_quote(&dir.path().join("state").display().to_string()),
        shell_quote(&dir.path().join("cfg").display().to_string()),
        shell_quote(env!("CARGO_BIN_EXE_rehearse")),
        shell_quote(&rb.display().to_string()),
        shell_quote(&run.display().to_string()),
    );
    let t = Tmux::start("vars", 80, 24, &cmd);
    // Variables are asked in name order: region, then token.
    t.wait_text("`region` has no value", T);
    t.text("eu-west-3");
    t.keys(&["Enter"]);
    let s = t.wait_text("`token` has no value (secret", T);
    assert!(s.contains("API token for the staging API"), "{s}");
    t.text("tok-Zz9-canary");
    let s = t.wait_text("••••••••••••••", T);
    assert!(!s.contains("tok-Zz9-canary"), "{s}");
    t.keys(&["Enter"]);
    t.wait_text("Steps 0/1", T);
    t.keys(&["Enter"]);
    let s = t.wait_text("region=eu-west-3 token=[secret:token]", T);
    assert!(!s.contains("tok-Zz9-canary"), "{s}");
    let journal = run.join("journal.jsonl");
    let j = wait_file(&journal, "the command", T, |j| {
        j.contains(r#""kind":"command_finished""#)
    });
    assert!(
        !j.contains("tok-Zz9-canary") && j.contains(r#""region":"eu-west-3""#),
        "{j}"
    );
    t.keys(&["q"]);
    t.wait_text("EXITED 0", T);
}
