//! Figure 1 in the TUI: the streaming step run with Enter in a tmux pane, timed to the
//! outcome on screen, with the TUI process's own CPU from /proc/PID/stat.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::measure::process_cpu;
use crate::tmux::Tmux;

/// Polling for the outcome of a run of several seconds: coarse, so the instrument takes little
/// CPU from the program it measures.
const EVERY: Duration = Duration::from_millis(20);
const OUTCOME: &str = "passed (exit 0";

pub struct TuiRun {
    pub wall: Duration,
    pub cpu: Duration,
}

pub fn run(ctx: &Ctx, t: &Tmux, rb: &Path, bytes: u64, round: usize) -> TuiRun {
    let session = format!("stream-{round}");
    let run_dir = ctx.path(&format!("tui-stream-run-{round}"));
    let argv: Vec<String> = [
        ctx.rehearse.display().to_string(),
        "--state-dir".into(),
        ctx.path("state").display().to_string(),
        "--operator".into(),
        "bench".into(),
        "--signing-key".into(),
        ctx.signing_key.display().to_string(),
        "--ssh-config".into(),
        ctx.ssh_config.display().to_string(),
        "--run".into(),
        run_dir.display().to_string(),
        "--var".into(),
        format!("bytes={bytes}"),
        rb.display().to_string(),
    ]
    .to_vec();
    let env = [format!(
        "REHEARSE_CONFIG_DIR={}",
        ctx.path("config").display()
    )];
    t.spawn(&session, &env, &argv);
    t.wait(&session, Duration::from_secs(30), |s| {
        s.contains("Stream output")
    })
    .expect("the TUI's first frame");
    let pid = t.pane_pid(&session);
    let cpu = process_cpu(pid);
    let start = Instant::now();
    t.run(&["send-keys", "-t", &session, "Enter"]);
    let seen = t
        .wait_every(&session, Duration::from_secs(600), EVERY, |s| {
            s.contains(OUTCOME)
        })
        .unwrap_or_else(|| panic!("no outcome on screen: {}", t.capture(&session)));
    let measured = TuiRun {
        wall: seen - start,
        cpu: process_cpu(pid).saturating_sub(cpu),
    };
    t.kill(&session);
    let stored = std::fs::read_dir(run_dir.join("outputs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    assert_eq!(stored, bytes, "the TUI stored the whole output");
    let _ = std::fs::remove_dir_all(&run_dir);
    measured
}
