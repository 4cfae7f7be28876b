//! Quoting by context, tried by the shells themselves: for arbitrary values, a command with the
//! value in each quoting context is rendered and run by `dash` and `bash`, and must print the
//! value exactly (or the value is refused, for a line break in a here-document).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use proptest::prelude::*;
use rehearse::runbook::{RenderError, Template, Vars};

/// Each prints `[` + the value + `]` (a here-document adds its newline).
const PLACES: [&str; 7] = [
    "printf '[%s]' \"{{v}}\"",
    "printf '[%s]' '{{v}}'",
    "printf '[%s]' {{v}}",
    "printf '%s' [{{v}}]",
    "cat <<EOF\n[{{v}}]\nEOF",
    "cat <<'EOF'\n[{{v}}]\nEOF",
    "v=\"$(printf '%s.' \"{{v}}\")\"; printf '[%s]' \"${v%.}\"",
];

fn shells() -> [&'static str; 2] {
    for sh in ["dash", "bash"] {
        let ok = Command::new(sh)
            .args(["-c", "true"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "this test needs {sh}: apt-get install -y {sh}");
    }
    ["dash", "bash"]
}

fn run(shell: &str, command: &str) -> Vec<u8> {
    let out = Command::new(shell)
        .args(["-c", command])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{shell} -c {command:?}: {out:?}");
    out.stdout
}

fn check(value: &str) {
    let mut vars = Vars::default();
    vars.set("v", value, false);
    for place in PLACES {
        let heredoc = place.contains("<<");
        let r = Template::shell(place).render(&vars);
        if heredoc && value.contains(['\n', '\r']) {
            assert!(
                matches!(r, Err(RenderError::Unsafe { .. })),
                "{value:?} in {place:?} must be refused"
            );
            continue;
        }
        let r = r.unwrap();
        let want = format!("[{value}]{}", if heredoc { "\n" } else { "" });
        for shell in shells() {
            let out = run(shell, r.value.expose());
            assert_eq!(
                String::from_utf8_lossy(&out),
                want,
                "{shell}: {value:?} in {place:?} rendered as {:?}",
                r.value.expose()
            );
        }
    }
}

#[test]
fn the_issues_hostile_values_print_verbatim() {
    for v in [
        "x\"; touch /tmp/rehearse-canary; echo \"",
        "$(touch /tmp/rehearse-canary)",
        "`touch /tmp/rehearse-canary`",
        "x;touch /tmp/rehearse-canary",
        "'; touch /tmp/rehearse-canary #",
        "",
        "-n",
        "a\\",
        "\\'\\\"",
        "two\nlines",
        "EOF",
        "*",
        "~root",
        "{a,b}",
        "!!",
    ] {
        check(v);
    }
    assert!(!std::path::Path::new("/tmp/rehearse-canary").exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_value_prints_verbatim(v in "[ -~\\t\\n]{0,24}") {
        check(&v);
    }
}
