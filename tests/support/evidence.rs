//! Shared by the evidence tests: real runs made through the runner, the real binary, real
//! ssh-keygen keys, and helpers to forge journals the way an attacker would (prev recomputed).
#![allow(dead_code)]
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rehearse::exec::Headless;
use rehearse::exec::target::{self, TargetOptions};
use rehearse::journal::sign::SigningKey;
use rehearse::journal::{Entry, Event, sha256_hex};
use rehearse::runbook;
use rehearse::runner::{Operator, Runner};

pub const BIN: &str = env!("CARGO_BIN_EXE_rehearse");
pub const CANARY: &str = "canary-7Qx-s3cret-value";

pub fn need(tool: &str) {
    let ok = Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs {tool}: apt-get install -y openssh-client jq coreutils"
    );
}

pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    need("ssh-keygen");
    let p = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&p)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    p
}

pub fn pubkey(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .expect("pub")
        .trim()
        .to_string()
}

/// Write an allowed_signers file from `(principals, key)` pairs.
pub fn allowed(dir: &Path, name: &str, rows: &[(&str, &Path)]) -> PathBuf {
    let p = dir.join(name);
    let text: String = rows
        .iter()
        .map(|(who, k)| format!("{who} {}\n", pubkey(k)))
        .collect();
    std::fs::write(&p, text).expect("allowed_signers");
    p
}

pub const RUNBOOK: &str = r#"
id = "evidence"
title = "Evidence test"

[vars.pw]
secret = true
env = "EVIDENCE_PW"

[vars.region]
default = "eu-west"

[[steps]]
id = "one"
title = "One"
level = "must"
target = "local"

[[steps.commands]]
name = "hello"
run = "echo hello {{region}}; echo 'pw={{pw}}'; printf '%s' '{{pw}}' | base64; echo done >&2"

[[steps]]
id = "two"
title = "Two"
level = "must"
target = "local"

[[steps.commands]]
name = "again"
run = "echo second"

[gate]
signoffs = SIGNOFFS
"#;

/// A run with two steps done and one signed off by ana with `key`, through the real runner.
pub fn make_run(dir: &Path, key: Option<&Path>) -> PathBuf {
    make_run_with(dir, key, 1)
}

pub fn make_run_with(dir: &Path, key: Option<&Path>, signoffs: u32) -> PathBuf {
    let rb_path = dir.join("evidence.toml");
    std::fs::write(&rb_path, RUNBOOK.replace("SIGNOFFS", &signoffs.to_string()))
        .expect("write runbook");
    let rb = Arc::new(runbook::load(&rb_path).expect("runbook"));
    let (vars, missing) = rb
        .resolve_vars(&[("pw".into(), CANARY.into())])
        .expect("vars");
    assert!(missing.is_empty());
    let prompter: Arc<dyn rehearse::exec::Prompter> = Arc::new(Headless {
        accept_new_host_key: false,
    });
    let execs =
        target::executors(&rb, &vars, &TargetOptions::default(), &prompter).expect("executors");
    let run = dir.join("run");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let key = key.map(|k| {
            let text = std::fs::read_to_string(k).expect("key");
            SigningKey::from_private(
                Arc::new(russh::keys::decode_secret_key(&text, None).expect("decode")),
                k.display().to_string(),
            )
        });
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let op = Operator {
            name: "ana".into(),
            key,
        };
        let opened = Runner::open(rb.clone(), vars, execs, op, run.clone(), tx).expect("open");
        let r = opened.runner;
        r.run_command("one", 0, Default::default())
            .await
            .expect("run one");
        r.run_command("two", 0, Default::default())
            .await
            .expect("run two");
        r.record(Event::Signoff {
            step: "one".into(),
            operator: "ana".into(),
            note: format!("checked (pw was {CANARY})"),
            key_fingerprint: None,
        })
        .await
        .expect("signoff");
        r.record(Event::Note {
            step: "two".into(),
            text: "looks fine".into(),
            operator: "ana".into(),
        })
        .await
        .expect("note");
    });
    run
}

/// The binary, isolated from the machine's config, agent and keys.
pub fn cmd(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("EVIDENCE_PW", CANARY)
        .env("REHEARSE_CONFIG_DIR", home.join("config"))
        .env("REHEARSE_STATE_DIR", home.join("state"))
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK");
    c
}

pub fn rehearse(home: &Path, args: &[&str]) -> std::process::Output {
    cmd(home).args(args).output().expect("run rehearse")
}

pub struct Verified {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Verified {
    /// Intact (exit 0 with an anchor, 4 without): nothing broken.
    pub fn intact(&self) -> bool {
        self.code == 0 || self.code == 4
    }
}

pub fn verify_with(home: &Path, path: &Path, anchor: Option<&Path>) -> Verified {
    let mut args = vec!["verify".to_string(), path.display().to_string()];
    if let Some(a) = anchor {
        args.push("--allowed-signers".into());
        args.push(a.display().to_string());
    }
    let o = cmd(home).args(&args).output().expect("verify");
    Verified {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn export(home: &Path, run: &Path, out: &Path, key: &Path, format: &str) {
    let o = rehearse(
        home,
        &[
            "export",
            &run.display().to_string(),
            "--format",
            format,
            "-o",
            &out.display().to_string(),
            "--signing-key",
            &key.display().to_string(),
            "--operator",
            "exporter",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

pub fn journal_lines(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Write lines back as a forger would: from line `from` on, seq and `prev` recomputed so the
/// chain holds. Lines before `from` keep their exact bytes.
pub fn write_rechained(run: &Path, mut lines: Vec<String>, from: usize) {
    for i in from..lines.len() {
        let prev = if i == 0 {
            "0".repeat(64)
        } else {
            sha256_hex(lines[i - 1].as_bytes())
        };
        let mut e: Entry = serde_json::from_str(&lines[i]).expect("entry");
        e.seq = i as u64;
        e.prev = prev;
        lines[i] = serde_json::to_string(&e).expect("encode");
    }
    std::fs::write(run.join("journal.jsonl"), lines.join("\n") + "\n").expect("write journal");
}

/// A new line (seq and prev fixed by `write_rechained`), stamped after the last line.
pub fn forged(lines: &[String], event: Event) -> String {
    let last: Entry = serde_json::from_str(lines.last().expect("a line")).expect("entry");
    serde_json::to_string(&Entry {
        seq: 0,
        ts: last.ts,
        event,
        prev: String::new(),
    })
    .expect("encode")
}

pub fn find_line(lines: &[String], kind: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
        .unwrap_or_else(|| panic!("no {kind} line"))
}

/// A signed run (ana signs step one with her ssh-keygen key), an isolated HOME, and a trust
/// anchor that trusts ana's key for ana.
pub struct Case {
    pub _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub dir: PathBuf,
    pub ana: PathBuf,
    pub run: PathBuf,
    /// Trusts ana's key for ana.
    pub anchor: PathBuf,
}

pub fn case(signoffs: u32) -> Case {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let ana = keygen(&dir, "ana_key");
    let run = make_run_with(&dir, Some(&ana), signoffs);
    let anchor = allowed(&dir, "trusted", &[("ana", &ana)]);
    Case {
        _tmp: tmp,
        home,
        dir,
        ana,
        run,
        anchor,
    }
}

pub fn signoff(c: &Case, who: &str, key: Option<&Path>, step: &str) -> std::process::Output {
    let mut args = vec![
        "signoff".to_string(),
        c.run.display().to_string(),
        "--step".into(),
        step.into(),
        "--note".into(),
        format!("{who} agrees"),
        "--operator".into(),
        who.into(),
    ];
    match key {
        Some(k) => {
            args.push("--signing-key".into());
            args.push(k.display().to_string());
        }
        None => args.push("--unsigned".into()),
    }
    cmd(&c.home).args(&args).output().expect("signoff")
}
