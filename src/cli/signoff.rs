//! `rehearse signoff RUN_DIR --step ID --note TEXT`: sign a step off without the TUI, through
//! the same runner that writes every other line, so the signature is the line right after the
//! sign-off. Refuses without a signing key unless `--unsigned` (which then counts for nothing).

use std::path::Path;

use tokio::sync::mpsc;

use super::*;
use crate::journal::Event;
use crate::runner::RunnerEvent;

pub async fn signoff_cmd(
    run_dir: &Path,
    step: &str,
    note: &str,
    unsigned: bool,
    given: &[(String, String)],
    global: &Global,
) -> i32 {
    let rb = match run_runbook_or_exit(run_dir) {
        Ok(rb) => rb,
        Err(c) => return c,
    };
    if rb.step(step).is_none() {
        let ids: Vec<_> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        eprintln!("rehearse: no step `{step}` (steps: {})", ids.join(", "));
        return EXIT_USAGE;
    }
    let mut op = match operator_or_exit(global).await {
        Ok(o) => o,
        Err(c) => return c,
    };
    if unsigned {
        op.key = None;
    } else if op.key.is_none() {
        eprintln!(
            "rehearse: no signing key: give --signing-key FILE, set signing_key in the config, \
             load a key into ssh-agent, or pass --unsigned (an unsigned sign-off counts for nothing)"
        );
        return EXIT_USAGE;
    }
    let (tx, mut rx) = mpsc::channel(1024);
    let failures = tokio::spawn(async move {
        let mut failed = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let RunnerEvent::JournalFailed(m) = ev {
                failed.push(m);
            }
        }
        failed
    });
    let name = op.name.clone();
    let opened = match open_for_lines(rb, run_dir, given, op, tx) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let recorded = opened
        .runner
        .record(Event::Signoff {
            step: step.to_string(),
            operator: name,
            note: note.to_string(),
            key_fingerprint: None,
        })
        .await;
    let closed = opened.runner.close(std::time::Duration::from_secs(5)).await;
    drop(opened);
    let failed = failures.await.unwrap_or_default();
    match recorded.and_then(|e| closed.map(|()| e)) {
        Err(e) => {
            eprintln!("rehearse: {e}");
            EXIT_FAILED
        }
        Ok(_) if !failed.is_empty() => {
            eprintln!("rehearse: {}", failed.join("; "));
            EXIT_FAILED
        }
        Ok(e) => {
            eprintln!(
                "signed off `{step}` at line {}{}",
                e.seq + 1,
                if unsigned { " (unsigned)" } else { "" }
            );
            0
        }
    }
}
