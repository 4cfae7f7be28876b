//! `run`: one step headless, journaling exactly as the TUI does.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::*;
use crate::exec::target::TargetOptions;
use crate::exec::{Cancel, ConnectErrorKind, Prompter};
use crate::journal::{Event, Outcome};
use crate::runbook::Runbook;
use crate::runner::{Runner, RunnerEvent};
use crate::session::Session;

/// A `confirm = true` command run headless: ask on a terminal, else refuse unless `--yes`.
/// Returns the refusal, if any.
fn confirm_headless(runner: &Runner, step: &str, index: usize, yes: bool) -> Option<String> {
    use std::io::IsTerminal as _;
    let cmd = runner.runbook.step(step)?.commands.get(index)?;
    if !cmd.confirm || yes {
        return None;
    }
    let shown = runner.display(&cmd.run);
    if !std::io::stdin().is_terminal() {
        return Some(format!(
            "`{step}/{}` is marked confirm = true and there is no terminal to ask; read it with `rehearse plan` and pass --yes to run it:\n    $ {shown}",
            cmd.name
        ));
    }
    eprintln!(
        "── `{step}/{}` on {} is marked confirm = true:\n    $ {shown}",
        cmd.name, cmd.target
    );
    let mut answer = String::new();
    if cmd.destructive {
        eprint!("destructive: type the step id `{step}` to run it: ");
        let _ = std::io::stdin().read_line(&mut answer);
        return (answer.trim() != step)
            .then(|| format!("`{step}/{}` not confirmed; stopped", cmd.name));
    }
    eprint!("run it? [y/N] ");
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
        .then_some(())
        .map_or_else(
            || Some(format!("`{step}/{}` not confirmed; stopped", cmd.name)),
            |()| None,
        )
}

/// The `--var`s a run of `step` uses, once every value it needs is present and valid; else
/// each problem, in a line that names the variable.
fn step_values(
    rb: &Runbook,
    step: &str,
    given: &[(String, String)],
) -> Result<Vec<(String, String)>, Vec<String>> {
    let (vars, _) = rb.resolve_vars(given).map_err(|e| vec![e])?;
    let problems = rb.problems(&vars, &[step]);
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|p| format!("step `{step}`: {p}"))
            .collect());
    }
    let needed = rb.required_vars(&[step]);
    Ok(given
        .iter()
        .filter(|(n, _)| needed.contains(n))
        .cloned()
        .collect())
}

/// Run one step headless. `opts` carries pins and keys for the demo host.
pub async fn run_step(
    rb: Runbook,
    step: &str,
    vars_given: &[(String, String)],
    run_dir: Option<PathBuf>,
    global: &Global,
    prompter: Arc<dyn Prompter>,
    opts: TargetOptions,
) -> i32 {
    run_step_waiving(rb, step, vars_given, run_dir, global, prompter, opts, None).await
}

/// [`run_step`], first recording `waive_order` as the reason to run out of order, if given.
#[allow(clippy::too_many_arguments)]
pub async fn run_step_waiving(
    rb: Runbook,
    step: &str,
    vars_given: &[(String, String)],
    run_dir: Option<PathBuf>,
    global: &Global,
    prompter: Arc<dyn Prompter>,
    opts: TargetOptions,
    waive_order: Option<&str>,
) -> i32 {
    let Some(st) = rb.step(step) else {
        let ids: Vec<_> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "rehearse: no step `{step}` in {} (steps: {})",
            rb.source.path.display(),
            ids.join(", ")
        );
        return EXIT_USAGE;
    };
    let n_commands = st.commands.len();
    // Only what this step uses is required, and every value is checked before anything
    // connects. The session is built for a view of the runbook limited to this step.
    let given = match step_values(&rb, step, vars_given) {
        Ok(g) => g,
        Err(problems) => {
            for p in problems {
                eprintln!("rehearse: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let view = rb.for_steps(&[step]);
    let session = match Session::build(view, &given, &global.session_options(opts), &prompter).await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let (tx, rx) = mpsc::channel(1024);
    let opened = match session.open_run(run_dir, tx) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(t) = &opened.torn {
        eprintln!(
            "rehearse: the journal's last write was cut short: {} bytes kept in {}",
            t.bytes,
            t.saved_as.display()
        );
    }
    let runner = opened.runner;
    let run_dir = runner.run_dir().to_path_buf();
    let printer = tokio::spawn(print_events(rx));
    let cancel = Cancel::default();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("rehearse: cancelling (INT, then TERM, then KILL and closing the channel)");
            c2.cancel();
        }
    });
    let mut code = 0;
    if let Some(reason) = waive_order {
        match runner.waive_order(step, reason).await {
            Ok(_) => eprintln!("── order waived for `{step}`: {reason}"),
            Err(e) => {
                eprintln!("rehearse: {e}");
                code = EXIT_USAGE;
            }
        }
    }
    // A hold under way (its process stopped or died) resumes: running its commands again
    // would start a new window.
    let resuming = st.hold.is_some()
        && runner
            .state()
            .ok()
            .and_then(|s| s.hold_progress(st))
            .is_some_and(|p| p.started && p.aborted.is_none() && p.completed_at.is_none());
    if resuming {
        eprintln!("── {step}: resuming its hold (time nobody watched is not counted)");
    }
    for i in (0..n_commands).take_while(|_| code == 0 && !resuming) {
        if let Some(refusal) = confirm_headless(&runner, step, i, global.yes) {
            eprintln!("rehearse: {refusal}");
            code = EXIT_USAGE;
            break;
        }
        match runner.run_command(step, i, cancel.clone()).await {
            Ok(r) if r.skipped => {
                eprintln!(
                    "── {step} command #{}: {}",
                    i + 1,
                    r.reason.unwrap_or_default()
                );
            }
            Ok(r) if r.outcome == Outcome::Passed => {
                if let Some(item) = r.proposes {
                    eprintln!(
                        "── passing this proves checklist item `{item}`: confirm it in the TUI"
                    );
                }
            }
            Ok(r) => {
                code = if matches!(
                    r.refused,
                    Some(
                        ConnectErrorKind::HostKey
                            | ConnectErrorKind::Auth
                            | ConnectErrorKind::Unreachable
                    )
                ) {
                    EXIT_REFUSED
                } else {
                    EXIT_FAILED
                };
                break;
            }
            Err(e @ crate::runner::RunnerError::Held { .. }) => {
                eprintln!("rehearse: {e}");
                code = EXIT_HELD;
                break;
            }
            Err(e @ crate::runner::RunnerError::Blocked { .. }) => {
                eprintln!("rehearse: {e}");
                code = EXIT_BLOCKED;
                break;
            }
            Err(e) => {
                eprintln!("rehearse: journal: {e}");
                code = EXIT_FAILED;
                break;
            }
        }
    }
    if code == 0 && st.hold.is_some() {
        code = hold(&runner, step, &cancel).await;
    }
    // Every line is on disk before we say where the run is (the writer drains its queue).
    if let Err(e) = runner.close(std::time::Duration::from_secs(5)).await {
        eprintln!("rehearse: journal: {e}");
        code = EXIT_FAILED;
    }
    drop(runner);
    let _ = printer.await;
    eprintln!("run: {}", run_dir.display());
    code
}

/// Hold the step to its end, printing each probe; the exit code.
async fn hold(runner: &Runner, step: &str, stop: &Cancel) -> i32 {
    use crate::runner::hold::HoldEnd;
    let end = runner
        .run_hold(step, stop, |e| {
            if let Event::Probe {
                passed,
                reason,
                abort,
                duration_ms,
                ..
            } = &e.event
            {
                eprintln!(
                    "{} {step} probe {} ({duration_ms} ms){}",
                    e.ts,
                    if *passed { "passed" } else { "FAILED" },
                    abort
                        .as_ref()
                        .or(reason.as_ref())
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
        })
        .await;
    match end {
        Ok(HoldEnd::Passed) => {
            eprintln!("── {step}: hold passed");
            0
        }
        Ok(HoldEnd::Stopped) => {
            eprintln!("── {step}: hold stopped; run the step again to resume it");
            EXIT_FAILED
        }
        Ok(HoldEnd::Aborted(why)) => {
            eprintln!("── {step}: hold ABORTED: {why}");
            EXIT_FAILED
        }
        Err(e @ crate::runner::RunnerError::Blocked { .. }) => {
            eprintln!("rehearse: {e}");
            EXIT_BLOCKED
        }
        Err(e @ crate::runner::RunnerError::Held { .. }) => {
            eprintln!("rehearse: {e}");
            EXIT_HELD
        }
        Err(e) => {
            eprintln!("rehearse: {e}");
            EXIT_FAILED
        }
    }
}

/// Standard output without std's line buffering: `Stdout` scans every write for its last
/// newline (a `memrchr` over each chunk of a streamed output) and copies into its own buffer.
/// Only the printer writes to stdout during a run, so nothing can interleave with it.
struct RawStdout(std::io::Stdout);

impl std::io::Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        nix::unistd::write(&self.0, buf).map_err(std::io::Error::from)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Output to stdout (and stderr), journal lines to stderr as they are recorded.
async fn print_events(mut rx: mpsc::Receiver<RunnerEvent>) {
    // Small writes batched and flushed when a burst ends; a chunk at least as large as the
    // buffer goes straight to the file descriptor, without a copy.
    let mut stdout = std::io::BufWriter::with_capacity(16 * 1024, RawStdout(std::io::stdout()));
    while let Some(ev) = rx.recv().await {
        let mut streamed = print_event(ev, &mut stdout);
        while let Ok(ev) = rx.try_recv() {
            streamed += print_event(ev, &mut stdout);
        }
        let _ = stdout.flush();
        if streamed >= STREAMING {
            // A fast stream: let its chunks gather for a moment (in the runner's bounded
            // queue) rather than waking this task for each one; nobody sees 2 ms.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

/// A burst of output this large is a stream, not a person's pace.
const STREAMING: usize = 64 * 1024;

/// Print one event; the number of stdout bytes it wrote.
fn print_event(ev: RunnerEvent, stdout: &mut impl std::io::Write) -> usize {
    match ev {
        RunnerEvent::Output {
            stderr: false,
            bytes,
            ..
        } => {
            let _ = stdout.write_all(&bytes);
            return bytes.len();
        }
        RunnerEvent::Output {
            stderr: true,
            bytes,
            ..
        } => {
            let _ = stdout.flush();
            let _ = std::io::stderr().write_all(&bytes);
        }
        RunnerEvent::Recorded(e) => {
            // What the command printed comes before the line that says how it ended.
            let _ = stdout.flush();
            match e.event {
                Event::CommandStarted {
                    step,
                    command,
                    target,
                    ..
                } => {
                    eprintln!("── {step}/{command} on {target}");
                }
                Event::HostKey {
                    host,
                    port,
                    fingerprint,
                    trust,
                    algorithm,
                    ..
                } => {
                    eprintln!("── host key {host}:{port} {algorithm} {fingerprint} ({trust})");
                }
                Event::CommandFinished {
                    outcome,
                    exit_status,
                    duration_ms,
                    reason,
                    ..
                } => {
                    let exit = exit_status.map_or_else(|| "-".into(), |c| c.to_string());
                    eprintln!(
                        "── {} (exit {exit}, {duration_ms} ms){}",
                        outcome.label(),
                        reason.map(|r| format!(": {r}")).unwrap_or_default()
                    );
                }
                _ => {}
            }
        }
        RunnerEvent::JournalFailed(e) => eprintln!("rehearse: journal: {e}"),
        // Headless listeners have no display budget: nothing is ever skipped.
        RunnerEvent::Skipped { .. } => {}
    }
    0
}
