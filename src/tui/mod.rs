//! The terminal front end: set up the terminal, ask for missing variables, build the session,
//! open the run, hand over to the runtime, and on the way out drain the journal writer.
//!
//! The TUI is a client of the engine like the headless commands: it builds a
//! [`Session`](crate::session::Session) and never imports `cli`.

mod pairing;
mod prompt;
mod runtime;
mod terminal;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::action::Action;
use crate::app::{App, TargetView};
use crate::exec::Prompter;
use crate::journal::{Event, outputs};
use crate::keymap::Keymap;
use crate::runbook::Runbook;
use crate::runner::{Runner, RunnerError, RunnerEvent};
use crate::session::{Session, SessionError, SessionOptions, log_file, paths};
use crate::theme::Theme;
use prompt::TuiPrompter;
pub use terminal::restore as restore_terminal;

/// Bytes of each earlier command's output shown again after a restart.
const RESTORE_TAIL: u64 = 16 * 1024;
/// Output bytes in flight to the screen (see `runner::display`). Everything in flight is folded
/// before the screen hears that the command ended, at most 512 KiB a frame: 1 MiB keeps that
/// wait to a frame or two (4 MiB made it ~240 ms on a 1 GB stream).
const DISPLAY_BUDGET: usize = 1024 * 1024;
/// How long quitting waits for queued journal lines to reach the disk.
const DRAIN: Duration = Duration::from_secs(5);
/// Runner events (output chunks and journal lines) waiting for the loop. Producers wait when it
/// is full (back-pressure to the executor and the writer); the loop never sends into it.
const RUNNER_QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("{0}")]
    Theme(String),
    #[error("quit before every variable had a value")]
    VarsAbandoned,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Run(#[from] RunnerError),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

impl TuiError {
    /// A problem with what was asked for (exit 2), rather than one met while running (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            TuiError::Theme(_) | TuiError::VarsAbandoned | TuiError::Session(_)
        )
    }
}

/// Open the TUI on a runbook. Returns the run directory it worked in.
pub async fn open(
    rb: Runbook,
    given: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    opts: SessionOptions,
    theme: Option<String>,
) -> Result<PathBuf, TuiError> {
    let state_dir = paths::state_dir(opts.state_dir.as_deref());
    let theme_name = theme
        .or_else(|| opts.settings.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let theme = Theme::load(&theme_name).map_err(TuiError::Theme)?;
    let (keymap, key_errors) = Keymap::with_overrides(
        opts.settings
            .keys
            .get("normal")
            .unwrap_or(&Default::default()),
    );
    let keymap = if opts.observe {
        keymap.read_only()
    } else {
        keymap
    };
    // Variables without a value are asked for here, masked when secret, before anything runs.
    let mut given = given;
    let mut early = None;
    if let Some(missing) = to_ask(&rb, &given)
        && !missing.is_empty()
    {
        let mut t = terminal::setup(log_file(&state_dir))?;
        match prompt::ask_vars(&mut t, &theme, &rb, &missing).await {
            Some(values) => given.extend(values),
            None => {
                terminal::restore();
                return Err(TuiError::VarsAbandoned);
            }
        }
        early = Some(t);
    }
    let result = run(rb, given, run_dir, opts, theme, keymap, key_errors, early).await;
    terminal::restore();
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    rb: Runbook,
    given: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    opts: SessionOptions,
    theme: Theme,
    keymap: Keymap,
    key_errors: Vec<String>,
    early: Option<terminal::Term>,
) -> Result<PathBuf, TuiError> {
    let state_dir = paths::state_dir(opts.state_dir.as_deref());
    let (act_tx, act_rx) = mpsc::unbounded_channel::<Action>();
    let prompter = TuiPrompter::new(act_tx.clone());
    let dyn_prompter: Arc<dyn Prompter> = Arc::new(prompter.clone());
    // Every value checked against its rules before anything connects.
    if let Ok((vars, _)) = rb.resolve_vars(&given) {
        let problems = rb.problems(&vars, &[]);
        if !problems.is_empty() {
            return Err(SessionError::Vars(problems.join("; ")).into());
        }
    }
    let session = Session::build(rb, &given, &opts, &dyn_prompter).await?;
    let display_vars = session.vars.clone();
    let operator = session.operator.name.clone();
    let team = session.operators.clone();
    let (run_tx, run_rx) = mpsc::channel::<RunnerEvent>(RUNNER_QUEUE);
    let opened = session.open_run(run_dir, run_tx)?;
    let runner = opened.runner;
    let run_dir = runner.run_dir().to_path_buf();
    let mut app = App::new(
        runner.runbook.clone(),
        &opened.entries,
        display_vars,
        operator,
        keymap,
    );
    app.run_dir = run_dir.display().to_string();
    app.session = crate::runner::process::session_id();
    app.signing_key = runner.operator.key.as_ref().map(pairing::describe);
    let here = pairing::join(&mut app, &runner, &team, opts.observe);
    let tails = opened
        .entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::CommandFinished {
                started_seq,
                output_sha256,
                ..
            } => outputs::read_tail(&run_dir, output_sha256, RESTORE_TAIL)
                .ok()
                .map(|t| (*started_seq, t)),
            _ => None,
        })
        .collect();
    app.restore_logs(&opened.entries, &tails);
    if let Some(t) = &opened.torn {
        app.message = Some(format!(
            "the journal's last write was cut short: {} bytes kept in {}",
            t.bytes,
            t.saved_as.display()
        ));
    }
    if !key_errors.is_empty() {
        app.message = Some(key_errors.join("; "));
    }
    app.targets = target_views(&runner);
    match crate::session::trust_anchor(None) {
        Ok(t) => app.set_trust(t.map(|(t, _)| t)),
        Err(e) => app.message = Some(format!("allowed_signers: {e}")),
    }

    let mut terminal = match early {
        Some(t) => t,
        None => terminal::setup(log_file(&state_dir))?,
    };
    // A fast command must not fill memory or the loop's queue: at most this much output is
    // on its way to the screen; the rest is on disk and the log says what it skipped.
    let budget = crate::runner::display::DisplayBudget::new(DISPLAY_BUDGET);
    runner.set_display_budget(budget.clone());
    let result = runtime::Runtime {
        terminal: &mut terminal,
        app: &mut app,
        theme: &theme,
        runner: &runner,
        prompter: &prompter,
        act_tx,
        act_rx,
        run_rx,
        budget,
    }
    .run()
    .await;
    terminal::restore();
    pairing::leave(&app, &runner, here.as_ref());
    // Seal what this session recorded (a signed `seal` line covers every line before it), then
    // write everything queued before we go; if that cannot happen in time the run is marked
    // for recovery and the operator is told.
    if runner.operator.key.is_some() && !app.observer {
        let _ = runner.submit(Event::Seal {
            operator: runner.operator.name.clone(),
            reason: "quit".into(),
        });
    }
    let drained = runner.close(DRAIN).await;
    result?;
    if let Some(h) = here {
        h.leave();
    }
    drained?;
    Ok(run_dir)
}

/// The variables to ask for before the run opens: those without a value, and those still at a
/// documented placeholder (`staging.example.test` is nobody's staging host).
fn to_ask(rb: &Runbook, given: &[(String, String)]) -> Option<Vec<String>> {
    let (vars, mut missing) = rb.resolve_vars(given).ok()?;
    let names = rb.vars.iter().map(|v| v.name.clone()).collect();
    for p in rb.placeholder_vars(&vars, &names) {
        if !missing.contains(&p) {
            missing.push(p);
        }
    }
    Some(missing)
}

fn target_views(runner: &Runner) -> Vec<TargetView> {
    runner
        .executors()
        .iter()
        .filter(|(name, _)| {
            name.as_str() != crate::runbook::LOCAL || runner.runbook.targets.is_empty()
        })
        .map(|(name, e)| TargetView {
            name: name.clone(),
            endpoint: e.describe(),
            connected: e.connected(),
        })
        .collect()
}
