//! The runbook loader: every bundled runbook is valid, every error names file:line:column and
//! what was expected, and no input (arbitrary bytes, mutated runbooks) makes it panic.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;

use proptest::prelude::*;
use rehearse::runbook::{self, LoadError};

const DEMO: &str = include_str!("../runbooks/demo-staging.toml");

fn errors(text: &str) -> Vec<String> {
    match runbook::parse(text, Path::new("rb.toml")) {
        Ok(_) => Vec::new(),
        Err(LoadError(d)) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_runbook_in_the_repo_is_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir("runbooks").expect("runbooks dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            runbook::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn typo_in_a_key_names_its_line_and_the_expected_keys() {
    let text = DEMO.replacen(
        "title = \"Provision host: preflight\"",
        "tittle = \"Provision host: preflight\"",
        1,
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("tittle"))
        .expect("typo line")
        + 1;
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!(
            "rb.toml:{line}:1: unknown field `tittle`, expected one of"
        )),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("`title`"), "{}", errs[0]);
}

#[test]
fn validation_errors_are_all_reported_with_positions() {
    let text = r#"
id = "x"
title = "t"

[targets.web]
host = "{{hots}}"

[[steps]]
id = "a"
title = "A"
level = "mandatory"

[[steps.commands]]
name = "c"
run = "echo"
timeout = "soon"
target = "nowhere"

[[steps]]
id = "a"
title = "again"
level = "must"
"#;
    let errs = errors(text);
    let want = [
        "rb.toml:6:9: unknown variable `hots` (declared: none)",
        "rb.toml:11:9: expected level \"must\", \"should\" or \"optional\", got \"mandatory\"",
        "rb.toml:16:11: expected a duration like \"30s\", \"5m\" or \"24h\"",
        "rb.toml:17:10: unknown target `nowhere` (expected one of: local, web)",
        "rb.toml:20:6: duplicate step id `a`",
    ];
    assert_eq!(errs.len(), want.len(), "{errs:#?}");
    for (e, w) in errs.iter().zip(want) {
        assert!(e.starts_with(w), "got {e:?}, want {w:?}");
    }
}

#[test]
fn syntax_error_has_a_position() {
    let errs = errors("id = \"x\"\ntitle = \"t\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("rb.toml:2:"), "{errs:?}");
}

#[test]
fn check_command_exits_1_and_prints_path_line_col() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        DEMO.replacen("level = \"must\"", "levle = \"must\"", 1),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .arg("check")
        .arg(&bad)
        .arg("runbooks/demo-staging.toml")
        .output()
        .expect("run rehearse");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = DEMO
        .lines()
        .position(|l| l == "level = \"must\"")
        .expect("level line")
        + 1;
    assert!(
        stdout.contains(&format!(
            "{}:{line}:1: unknown field `levle`",
            bad.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("runbooks/demo-staging.toml: ok"),
        "{stdout}"
    );
}

fn assert_positioned(
    r: Result<runbook::Runbook, LoadError>,
    text_len: usize,
) -> Result<(), TestCaseError> {
    if let Err(LoadError(d)) = r {
        prop_assert!(!d.is_empty());
        for x in d {
            prop_assert!(x.line >= 1 && x.column >= 1, "{x}");
            prop_assert!(x.line <= text_len + 1, "{x}");
            prop_assert!(!x.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        assert_positioned(runbook::parse_bytes(&bytes, Path::new("fuzz.toml")), lines)?;
    }

    #[test]
    fn mutated_runbooks_never_panic(at in 0usize..DEMO.len(), len in 0usize..40, insert in "[ -~\n]{0,8}") {
        let mut text = DEMO.as_bytes().to_vec();
        let end = (at + len).min(text.len());
        text.splice(at..end, insert.bytes());
        let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
        assert_positioned(runbook::parse_bytes(&text, Path::new("mutated.toml")), lines)?;
    }
}
