//! Redaction without holes, end to end: a real command prints a long secret through `base64`
//! (wrapped at 76 columns), `base64 -w 64` and a URL-safe unpadded form; nothing of it reaches
//! the output file or the journal, and the export scan catches a wrapped leak.
#![allow(clippy::expect_used)] // a test states its expectations

use std::sync::Arc;

use base64::Engine as _;
use rehearse::exec::Headless;
use rehearse::exec::target::{self, TargetOptions};
use rehearse::runbook;
use rehearse::runner::{Operator, Runner};
use rehearse::secret::{Redactor, SecretString};

const SECRET: &str =
    "tok-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-end";

const RUNBOOK: &str = r#"
id = "redact"
title = "Redaction"
[vars.tok]
secret = true
[[steps]]
id = "s"
title = "S"
level = "must"
target = "local"
[[steps.commands]]
name = "leak"
run = "printf '%s' '{{tok}}' | base64; printf 'x%s' '{{tok}}' | base64 -w 64; printf 'xy%s' '{{tok}}' | base64 -w 0 | tr '+/' '-_' | tr -d '='; echo"
"#;

fn unwrapped(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\n', '\r'], "")
}

#[test]
fn wrapped_and_url_safe_base64_never_reach_the_output() {
    assert!(SECRET.len() >= 57, "long enough for base64 to wrap it");
    let dir = tempfile::tempdir().expect("tmp");
    let rb_path = dir.path().join("r.toml");
    std::fs::write(&rb_path, RUNBOOK).expect("rb");
    let rb = Arc::new(runbook::load(&rb_path).expect("runbook"));
    let (vars, _) = rb
        .resolve_vars(&[("tok".into(), SECRET.into())])
        .expect("vars");
    let prompter: Arc<dyn rehearse::exec::Prompter> = Arc::new(Headless {
        accept_new_host_key: false,
    });
    let execs = target::executors(&rb, &vars, &TargetOptions::default(), &prompter).expect("ex");
    let run = dir.path().join("run");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let op = Operator {
            name: "ana".into(),
            key: None,
        };
        let opened = Runner::open(rb.clone(), vars, execs, op, run.clone(), tx).expect("open");
        opened
            .runner
            .run_command("s", 0, Default::default())
            .await
            .expect("run");
    });
    let std_b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let core = &std_b64[..std_b64.len() - 4];
    for e in std::fs::read_dir(run.join("outputs"))
        .expect("outputs")
        .flatten()
    {
        let b = std::fs::read(e.path()).expect("read");
        let flat = unwrapped(&b);
        assert!(!flat.contains(SECRET), "{flat}");
        assert!(!flat.contains(core), "wrapped base64 got through: {flat}");
        assert!(
            !flat.contains(&core.replace('+', "-").replace('/', "_")),
            "{flat}"
        );
        assert!(
            String::from_utf8_lossy(&b).contains("[secret:tok]"),
            "control: redacted"
        );
    }
    // The export scan: a leak wrapped at 76 columns is found.
    let red = Redactor::new(&[("tok".into(), SecretString::new(SECRET))]);
    let wrapped: String = std_b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
        .collect();
    assert_eq!(
        red.find_leak(wrapped.as_bytes()).as_deref(),
        Some("[secret:tok]")
    );
    assert_eq!(red.find_leak(b"nothing secret here\n"), None);
}
