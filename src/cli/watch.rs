//! `watch`: the gate's monitoring window, headless; `ack`: its signed acknowledgement.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::exec::target::TargetOptions;
use crate::exec::{Cancel, Headless, Prompter};
use crate::journal::Event;
use crate::report;
use crate::session::Session;

/// How often a long watch seals what it has recorded.
const SEAL_EVERY: Duration = Duration::from_secs(600);

/// Held while a process watches a run: `RUN_DIR/watch.lock`, locked, naming its holder.
struct WatchLock {
    _file: std::fs::File,
}

impl WatchLock {
    fn take(run_dir: &Path, operator: &str) -> Result<WatchLock, String> {
        use std::io::{Read as _, Seek as _, Write as _};
        let path = run_dir.join("watch.lock");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if f.try_lock().is_err() {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            return Err(format!(
                "this run is already being watched by {}; one watcher per run",
                holder.trim()
            ));
        }
        let _ = f.set_len(0);
        let _ = f.rewind();
        let _ = writeln!(
            f,
            "{operator} (process {}, since {})",
            crate::runner::process::session_id(),
            crate::journal::now_rfc3339()
        );
        Ok(WatchLock { _file: f })
    }
}

/// `rehearse watch`: resume the run and keep its monitoring window going.
pub async fn watch_cmd(
    run_dir: &Path,
    accept_new_host_key: bool,
    given: &[(String, String)],
    global: &Global,
) -> i32 {
    let rb = match report::run_runbook(run_dir) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if rb.gate.monitor.is_none() {
        eprintln!(
            "rehearse: runbook `{}` has no [gate.monitor] to watch",
            rb.id
        );
        return EXIT_USAGE;
    }
    // The run's recorded values first, then what is given now (secrets come from here).
    let entries = crate::journal::read_entries(run_dir).unwrap_or_default();
    let mut vars: Vec<(String, String)> = entries
        .iter()
        .find_map(|e| match &e.event {
            Event::RunStarted { vars, .. } => {
                Some(vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => None,
        })
        .unwrap_or_default();
    vars.extend(given.iter().cloned());
    let prompter: Arc<dyn Prompter> = Arc::new(Headless {
        accept_new_host_key,
    });
    let opts = global.session_options(TargetOptions::default());
    let session = match Session::build(rb, &vars, &opts, &prompter).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    // One watcher per run: the lock is held for as long as this process watches.
    let _watching = match WatchLock::take(run_dir, &session.operator.name) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_HELD;
        }
    };
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let opened = match session.open_run(Some(run_dir.to_path_buf()), tx) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let stop = Cancel::default();
    let s2 = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            s2.cancel();
        }
    });
    let state = crate::journal::state::RunState::from_entries(&opened.entries);
    let rb = opened.runner.runbook.clone();
    // Seal what the window recorded at intervals (a crash loses little) and when it ends: a
    // signed `seal` line covers every line before it.
    let runner = opened.runner.clone();
    let mut last_seal = std::time::Instant::now();
    let seal = move |reason: &str| {
        if runner.operator.key.is_some() {
            let _ = runner.submit(Event::Seal {
                operator: runner.operator.name.clone(),
                reason: reason.to_string(),
            });
        }
    };
    let seal_end = seal.clone();
    let result = crate::runner::monitor::watch(&opened.runner, state.clone(), &stop, |e| {
        if last_seal.elapsed() >= SEAL_EVERY {
            seal("watch interval");
            last_seal = std::time::Instant::now();
        }
        if let Event::Probe {
            passed,
            reason,
            duration_ms,
            ..
        } = &e.event
        {
            eprintln!(
                "{} probe {} ({duration_ms} ms){}",
                e.ts,
                if *passed { "passed" } else { "FAILED" },
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    })
    .await;
    seal_end("watch end");
    let closed = opened.runner.close(Duration::from_secs(5)).await;
    let entries = crate::journal::read_entries(run_dir).unwrap_or_default();
    let p = crate::gate::monitor_progress(
        &rb,
        &crate::journal::state::RunState::from_entries(&entries),
    );
    if let Some(p) = p {
        let gaps: Vec<String> = p
            .gaps
            .iter()
            .map(|(at, d)| {
                format!(
                    "{} after {at}",
                    humantime::format_duration(Duration::from_secs(d.as_secs()))
                )
            })
            .collect();
        eprintln!(
            "watched {} of {}; {} passed, {} failed{}",
            humantime::format_duration(Duration::from_secs(p.watched.as_secs())),
            humantime::format_duration(p.total),
            p.passed,
            p.failed,
            if gaps.is_empty() {
                String::new()
            } else {
                format!("; unwatched gaps: {}", gaps.join(", "))
            }
        );
    }
    if let Err(e) = closed {
        eprintln!("rehearse: journal: {e}");
        return EXIT_FAILED;
    }
    match result {
        Ok(crate::runner::monitor::WindowEnd::Complete) => 0,
        Ok(crate::runner::monitor::WindowEnd::Stopped) => 0,
        Ok(crate::runner::monitor::WindowEnd::TooManyFailures(_)) => EXIT_FAILED,
        Err(e) => {
            eprintln!("rehearse: {e}");
            EXIT_FAILED
        }
    }
}

/// `rehearse ack RUN_DIR --reason TEXT`: a signed acknowledgement of the monitoring window's
/// failures, after which the window starts again. Refused without a signing key: an unsigned
/// line anyone could append must not reset the gate's clock.
pub async fn ack_cmd(
    run_dir: &Path,
    reason: &str,
    given: &[(String, String)],
    global: &Global,
) -> i32 {
    let rb = match run_runbook_or_exit(run_dir) {
        Ok(rb) => rb,
        Err(c) => return c,
    };
    if rb.gate.monitor.is_none() {
        eprintln!(
            "rehearse: runbook `{}` has no [gate.monitor] to acknowledge",
            rb.id
        );
        return EXIT_USAGE;
    }
    if reason.trim().is_empty() {
        eprintln!("rehearse: an acknowledgement needs a reason (--reason TEXT)");
        return EXIT_USAGE;
    }
    let op = match operator_or_exit(global).await {
        Ok(o) => o,
        Err(c) => return c,
    };
    if op.key.is_none() {
        eprintln!(
            "rehearse: nothing recorded: an acknowledgement restarts the monitoring window only \
             when signed; give --signing-key FILE, set signing_key in the config, or load a key \
             into ssh-agent"
        );
        return EXIT_USAGE;
    }
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let opened = match open_for_lines(rb, run_dir, given, op, tx) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let recorded = opened.runner.acknowledge_monitor(reason).await;
    let closed = opened.runner.close(Duration::from_secs(5)).await;
    match recorded.and_then(|e| closed.map(|()| e)) {
        Ok(e) => {
            eprintln!(
                "acknowledged at line {}: the monitoring window starts again from here",
                e.seq + 1
            );
            0
        }
        Err(e) => {
            eprintln!("rehearse: {e}");
            EXIT_FAILED
        }
    }
}
