//! The runbook loader: every bundled runbook is valid, every error names file:line:column and
//! what was expected, and no input (arbitrary bytes, mutated runbooks) makes it panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

fn warnings(text: &str) -> Vec<String> {
    runbook::parse(text, Path::new("rb.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

const QUOTING: &str = r#"format = 2
id = "q"
title = "q"

[vars.list]
default = "a b"
pattern = "[a-z ]+"

[vars.any]
default = "x"

[vars.pw]
secret = true

[[steps]]
id = "s"
title = "S"
level = "must"
target = "local"

[[steps.commands]]
name = "raw"
run = "for w in {{raw list}}; do echo $w; done; echo {{raw any}}"
"#;

#[test]
fn raw_uses_are_warnings_with_their_place() {
    assert_eq!(
        warnings(QUOTING),
        [
            "rb.toml:23:17: warning: `{{raw list}}` pastes the value unquoted, as shell code: its `pattern` or `choices` limits what can pass",
            "rb.toml:23:54: warning: `{{raw any}}` pastes the value unquoted, as shell code: any value runs; a `pattern` or `choices` would limit it",
        ]
    );
}

#[test]
fn format_1_loads_quoted_and_check_says_what_to_change() {
    let text = QUOTING
        .replace("format = 2", "format = 1")
        .replace("{{raw list}}", "{{list}}");
    let w = warnings(&text);
    assert!(
        w[0].starts_with("rb.toml:1:10: warning: format 1: values used to be pasted"),
        "{w:?}"
    );
    assert!(w[0].ends_with("then set `format = 2`"), "{w:?}");
    assert!(
        w[1].starts_with("rb.toml:23:17: warning: format 1: `{{list}}` is unquoted here, so it was split into words and expanded; it is now one literal word (write `{{raw list}}`"),
        "{w:?}"
    );
    let e = errors(&QUOTING.replace("format = 2", "format = 3"));
    assert_eq!(
        e,
        ["rb.toml:1:10: unsupported format 3 (this rehearse reads formats 1 and 2)"]
    );
}

#[test]
fn placeholders_where_no_quoting_holds_are_errors() {
    let with = |run: &str| {
        QUOTING.replace(
            "run = \"for w in {{raw list}}; do echo $w; done; echo {{raw any}}\"",
            &format!("run = '''\n{run}'''"),
        )
    };
    let cases = [
        (
            "echo `ls {{any}}`",
            "rb.toml:24:10: `any` in backticks (use `$(...)`): no quoting is reliable",
        ),
        (
            "echo ${x:-{{any}}}",
            "rb.toml:24:11: `any` in `${...}`: no quoting is reliable",
        ),
        (
            "echo {{raw pw}}",
            "rb.toml:24:6: `{{raw pw}}`: a secret is never pasted into a command",
        ),
        (
            "cat <<'EOF'\n{{pw}}\nEOF",
            "rb.toml:25:1: secret `pw` in a here-document with a quoted delimiter: a secret arrives in a shell variable, which such a body does not expand; write the delimiter unquoted (<<EOF)",
        ),
    ];
    for (run, want) in cases {
        let e = errors(&with(run));
        assert_eq!(e.len(), 1, "{run}: {e:?}");
        assert!(e[0].starts_with(want), "{run}:\n{}\nwant {want}", e[0]);
    }
    // Controls: the same values in places that quote are fine.
    for run in [
        "echo \"$(ls {{any}})\" {{pw}}",
        "cat <<EOF\n{{pw}} {{any}}\nEOF",
        "cat <<'EOF'\n{{any}}\nEOF",
    ] {
        assert_eq!(errors(&with(run)), Vec::<String>::new(), "{run}");
    }
    let pty = with("echo {{pw}}").replace("name = \"raw\"", "name = \"raw\"\npty = true");
    assert!(
        errors(&pty)[0].contains("secret `pw` in a `pty = true` command"),
        "{:?}",
        errors(&pty)
    );
}

#[test]
fn variable_rules_are_checked_when_loading() {
    let bad = QUOTING
        .replace("pattern = \"[a-z ]+\"", "pattern = \"[a-z\"")
        .replace(
            "[vars.any]\ndefault = \"x\"",
            "[vars.any]\ndefault = \"x\"\nchoices = [\"y\", \"z\"]",
        );
    let e = errors(&bad);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("rb.toml:7:11: invalid `pattern`:"),
        "{e:?}"
    );
    assert_eq!(
        e[1],
        "rb.toml:10:11: the default is not one of the variable's `choices`"
    );
}
