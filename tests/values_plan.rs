//! `plan` as a dry run, variables required only where used, rules on values, placeholders, and
//! bundled runbooks by name: `rehearse` as a subprocess, with nothing to connect to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn rehearse(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.env("HOME", dir)
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env_remove("REHEARSE_DB_PASSWORD")
        .env_remove("SSH_AUTH_SOCK")
        .current_dir(dir)
        .stdin(Stdio::null());
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(c: &mut Command) -> (Option<i32>, String, String) {
    let out: Output = c.output().unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Two steps on the operator's machine; each uses one variable of its own.
const TWO_STEPS: &str = r#"
format = 2
id = "two"
title = "Two steps"

[vars.a]
description = "Used by step one"

[vars.b]
description = "Used by step two's expectation only"

[vars.env]
default = "staging"
choices = ["staging", "qa"]

[vars.tag]
default = "v1.2.3"
pattern = 'v[0-9]+\.[0-9]+\.[0-9]+'

[vars.token]
secret = true
pattern = '[a-z]{8}'

[[steps]]
id = "one"
title = "One"
level = "must"
target = "local"

[[steps.commands]]
name = "echo"
run = 'echo "a={{a}} env={{env}} tag={{tag}}"'

[[steps]]
id = "two"
title = "Two"
level = "must"
target = "local"

[[steps.commands]]
name = "expect"
run = 'echo "b is here"; echo "{{token}}" | wc -c'
expect = { exit = 0, stdout = '^b is {{b}}$' }

[[steps.checklist]]
id = "seen"
text = "Step two was read"
"#;

fn two_steps() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("two.toml"), TWO_STEPS).unwrap();
    dir
}

#[test]
fn plan_fails_naming_each_missing_variable_and_passes_with_all() {
    let dir = two_steps();
    let d = dir.path();
    let (code, stdout, stderr) = run(rehearse(d).args(["plan", "two.toml"]));
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("variables without a value: --var a=..., --var b=..., --var token=..."),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "a failing plan prints no plan: {stdout}");

    let (code, stdout, stderr) = run(rehearse(d).args([
        "plan",
        "two.toml",
        "--var",
        "a=first value",
        "--var",
        "b=here",
        "--var",
        "token=abcdefgh",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    // Per step, in order: target, resolved commands, expectations, checklist; then the gate.
    let order = [
        "## [MUST] one — One",
        "target: local (the operator's machine)",
        "$ echo \"a=first value env=staging tag=v1.2.3\"",
        "expect: exit 0",
        "## [MUST] two — Two",
        "$ echo \"b is here\"; echo \"[secret:token]\" | wc -c",
        "expect: exit 0, stdout /^b is here$/",
        "- [ ] Step two was read (seen)",
        "## Gate",
        "- required steps: one, two",
    ];
    let mut at = 0;
    for want in order {
        let found = stdout[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} not after byte {at} in\n{stdout}"));
        at += found + want.len();
    }
    assert!(!stdout.contains("abcdefgh"), "{stdout}");
}

#[test]
fn values_that_break_their_rules_are_refused_naming_variable_value_and_rule() {
    let dir = two_steps();
    let d = dir.path();
    let base = ["plan", "two.toml", "--var", "a=x", "--var", "b=y"];
    let cases = [
        ("env=prod", "`env` = \"prod\": must be one of: staging, qa"),
        (
            "tag=latest; rm -rf /",
            "`tag` = \"latest; rm -rf /\": does not match pattern /v[0-9]+\\.[0-9]+\\.[0-9]+/",
        ),
        (
            "token=NOT-LOWER",
            "`token` (secret): does not match pattern /[a-z]{8}/",
        ),
    ];
    for (var, want) in cases {
        let mut args = base.to_vec();
        args.extend(["--var", var]);
        if !var.starts_with("token") {
            args.extend(["--var", "token=abcdefgh"]);
        }
        let (code, stdout, stderr) = run(rehearse(d).args(&args));
        assert_eq!(code, Some(2), "{var}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{var}: want {want:?} in {stderr}");
        assert!(
            !stderr.contains("NOT-LOWER"),
            "a secret value is never shown"
        );
    }
}

#[test]
fn run_requires_only_what_the_selected_step_uses() {
    let dir = two_steps();
    let d = dir.path();
    // Step one needs `a` only: neither `b` nor the secret is asked for.
    let (code, stdout, stderr) =
        run(rehearse(d).args(["run", "two.toml", "--step", "one", "--var", "a=1"]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("a=1 env=staging tag=v1.2.3"), "{stdout}");
    // Step two needs `b` (its expectation) and `token` (its command), and names exactly those.
    let (code, _, stderr) = run(rehearse(d).args(["run", "two.toml", "--step", "two"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("step `two`: variables without a value: --var b=..., --var token=...\n"),
        "{stderr}"
    );
    // An expectation's value matches literally: `.` in the value is not "any character".
    let (code, stdout, stderr) = run(rehearse(d).args([
        "run",
        "two.toml",
        "--step",
        "two",
        "--var",
        "b=h.re",
        "--var",
        "token=abcdefgh",
    ]));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("stdout did not match /^b is h\\.re$/"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(rehearse(d).args([
        "run",
        "two.toml",
        "--step",
        "two",
        "--var",
        "b=here",
        "--var",
        "token=abcdefgh",
    ]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("b is here\n9\n"), "{stdout}");
}

#[test]
fn bundled_runbooks_open_by_name_and_placeholders_are_refused_headless() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, stdout, stderr) = run(rehearse(d).args([
        "check",
        "phase-05-staging",
        "laravel-staging",
        "apprunner-staging",
        "staged-rollout",
        "demo-staging.toml",
    ]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("phase-05-staging: ok (15 steps"),
        "{stdout}"
    );

    let pw = ("REHEARSE_DB_PASSWORD", "example-pw-1");
    let (code, _, stderr) = run(rehearse(d)
        .env(pw.0, pw.1)
        .args(["plan", "phase-05-staging"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "`host` = \"staging.example.com\": still the runbook's placeholder; pass the real value with --var"
        ),
        "{stderr}"
    );
    // Headless `run` refuses the same before anything connects (exit 2, not a connection error).
    let (code, _, stderr) =
        run(rehearse(d)
            .env(pw.0, pw.1)
            .args(["run", "phase-05-staging", "--step", "preflight"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`host` = \"staging.example.com\": still"),
        "{stderr}"
    );
    assert!(!stderr.contains("host key"), "{stderr}");

    let (code, stdout, stderr) = run(rehearse(d).env(pw.0, pw.1).args([
        "plan",
        "phase-05-staging",
        "--var",
        "host=203.0.113.10",
        "--var",
        "domain=staging.shop.test",
        "--var",
        "acme_email=ops@shop.test",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ssh deploy@203.0.113.10"), "{stdout}");
    assert!(stdout.contains("[secret:db_password]"), "{stdout}");
    assert!(!stdout.contains(pw.1), "{stdout}");
}
