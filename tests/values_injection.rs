//! Hostile variable values against a real OpenSSH sshd on 127.0.0.1, through `rehearse run`:
//! in every place a value can sit (double quotes, single quotes, a bare word, here-documents
//! with unquoted and quoted delimiters, an expectation, the target's fields), each value is
//! either passed literally (the command echoes it verbatim) or refused before anything
//! connects. A canary file proves nothing ran as shell; plain values are the control.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{Client, Sshd};

/// Every quoting context, one command each; every command echoes `got:<value>`.
const RUNBOOK: &str = r#"
format = 2
id = "values-it"
title = "Hostile values"
default_timeout = "30s"

[vars.host]
default = "127.0.0.1"

[vars.port]
default = "22"

[vars.user]
default = "root"

[vars.v]
description = "The value under test"

[targets.box]
host = "{{host}}"
port = "{{port}}"
user = "{{user}}"

[[steps]]
id = "all"
title = "Every place a value can sit"
level = "must"
target = "box"

[[steps.commands]]
name = "double"
run = 'echo "double:got:{{v}}:end"'

[[steps.commands]]
name = "single"
run = "echo 'single:got:{{v}}:end'"

[[steps.commands]]
name = "bare"
run = "printf '%s\n' bare:got:{{v}}:end"

[[steps.commands]]
name = "expect"
run = "printf '%s\n' \"expect:got:{{v}}:end\""
expect = { exit = 0, stdout = '^expect:got:{{v}}:end$' }

[[steps]]
id = "heredoc"
title = "Here-documents"
level = "must"
target = "box"

[[steps.commands]]
name = "unquoted"
run = '''
cat <<EOF
unquoted:got:{{v}}:end
EOF'''

[[steps.commands]]
name = "quoted"
run = '''
cat <<'EOF'
quoted:got:{{v}}:end
EOF'''
"#;

struct Setup {
    sshd: Sshd,
    client: Client,
    runbook: PathBuf,
    canary: PathBuf,
}

fn setup() -> Setup {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    // The runbook's target alone says where to go.
    fs::write(&client.config, "").unwrap();
    let runbook = client.dir.path().join("values.toml");
    fs::write(&runbook, RUNBOOK).unwrap();
    let canary = client.dir.path().join("CANARY");
    Setup {
        sshd,
        client,
        runbook,
        canary,
    }
}

impl Setup {
    fn run(&self, step: &str, vars: &[(&str, &str)]) -> Output {
        let mut c = self.client.rehearse();
        c.arg("run")
            .arg(&self.runbook)
            .arg("--step")
            .arg(step)
            .arg("--state-dir")
            .arg(self.client.dir.path().join("state"))
            .arg("--var")
            .arg(format!("port={}", self.sshd.port))
            .stdin(Stdio::null());
        for (k, v) in vars {
            c.arg("--var").arg(format!("{k}={v}"));
        }
        c.output().unwrap()
    }

    fn canary_cmd(&self) -> String {
        format!("touch {}", self.canary.display())
    }
}

/// No SSH client spoke to sshd since `offset` of its log. (The harness's own readiness check
/// opens a TCP connection but never sends a version string, so it does not count.)
fn assert_no_client(sshd: &Sshd, offset: usize) {
    let log = sshd.log_since(offset);
    assert!(
        !log.contains("Remote protocol version"),
        "nothing may connect before the values are checked:\n{log}"
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The hostile values of the issue, each aimed at creating the canary.
fn hostile(s: &Setup) -> Vec<String> {
    let t = s.canary_cmd();
    vec![
        format!("x\"; {t}; echo \""),
        format!("$({t})"),
        format!("`{t}`"),
        format!("x;{t}"),
        format!("'; {t} #"),
        format!("x' && {t} && echo '"),
        format!("\\\"; {t}; echo \\"),
        format!("a b  *  $HOME ${{PATH}} !! ~ {{a,b}} \\n"),
    ]
}

fn assert_literal(out: &Output, v: &str, places: &[&str], canary: &Path) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "value {v:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for place in places {
        let want = format!("{place}:got:{v}:end\n");
        assert!(
            stdout.contains(&want),
            "value {v:?} in {place}: want {want:?} in\n{stdout}"
        );
    }
    assert!(
        !canary.exists(),
        "value {v:?} ran as shell (the canary exists)"
    );
}

#[test]
fn plain_values_pass_in_every_place() {
    let s = setup();
    for v in ["hello", "/srv/my app", "it's", "say \"hi\""] {
        let out = s.run("all", &[("v", v)]);
        assert_literal(&out, v, &["double", "single", "bare", "expect"], &s.canary);
        let out = s.run("heredoc", &[("v", v)]);
        assert_literal(&out, v, &["unquoted", "quoted"], &s.canary);
    }
}

#[test]
fn hostile_values_are_passed_literally_in_quotes_bare_words_and_expectations() {
    let s = setup();
    for v in hostile(&s) {
        let out = s.run("all", &[("v", &v)]);
        assert_literal(&out, &v, &["double", "single", "bare", "expect"], &s.canary);
    }
}

#[test]
fn hostile_values_are_passed_literally_in_here_documents() {
    let s = setup();
    for v in hostile(&s) {
        let out = s.run("heredoc", &[("v", &v)]);
        assert_literal(&out, &v, &["unquoted", "quoted"], &s.canary);
    }
}

#[test]
fn a_newline_that_could_end_a_here_document_is_refused_before_connecting() {
    let s = setup();
    let v = format!("x\nEOF\n{}\ncat <<EOF", s.canary_cmd());
    let before = s.sshd.log_len();
    let out = s.run("heredoc", &[("v", &v)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("heredoc/unquoted: the value of `v` cannot be used in a here-document"),
        "{stderr}"
    );
    assert!(stderr.contains("newline"), "{stderr}");
    assert!(!s.canary.exists());
    assert_no_client(&s.sshd, before);
    // Control: outside a here-document, the same value is one literal word with newlines.
    let out = s.run("all", &[("v", &v)]);
    assert_literal(&out, &v, &["double", "single", "bare"], &s.canary);
}

#[test]
fn hostile_target_fields_are_refused_before_connecting() {
    let s = setup();
    let t = s.canary_cmd();
    let port = s.sshd.port.to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("host", format!("127.0.0.1;{t}"), "target `box` host"),
        (
            "host",
            "-oProxyCommand=sh".into(),
            "must not start with `-`",
        ),
        ("host", "127.0.0.1 -p 1".into(), "target `box` host"),
        ("port", format!("{port} -oProxyCommand={t}"), "port number"),
        ("port", "0".into(), "port number"),
        ("port", "70000".into(), "port number"),
        (
            "user",
            format!("-oProxyCommand={t}"),
            "must not start with `-`",
        ),
        ("user", "root$(x)".into(), "login name"),
    ];
    let before = s.sshd.log_len();
    for (field, value, rule) in &cases {
        // A later --var wins, so a port given here replaces the harness's.
        let out = s.run("all", &[("v", "x"), (*field, value.as_str())]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}={value:?}: {stderr}");
        assert!(
            stderr.contains(&format!("`{field}` = {value:?}")) && stderr.contains(rule),
            "{field}={value:?} should be named with its rule {rule:?}: {stderr}"
        );
    }
    assert!(!s.canary.exists());
    assert_no_client(&s.sshd, before);
    // Control: honest target values connect, and the log shows it.
    let out = s.run(
        "all",
        &[("v", "x"), ("host", "127.0.0.1"), ("user", "root")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(s.sshd.log_since(before).contains("Remote protocol version"));
}
