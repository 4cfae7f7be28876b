//! The terminal runtime: owns the terminal, the runner and the event loop. It turns terminal
//! and engine events into actions for the app, performs the app's effects, and draws at a
//! bounded rate (bursts of output coalesce into one frame).

use std::collections::HashMap;
use std::io::{Stdout, stdout};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream, KeyEventKind,
    MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::{mpsc, oneshot};

use crate::action::{Action, Internal};
use crate::app::{App, Effect, TargetView};
use crate::cli::{EXIT_FAILED, EXIT_USAGE, Global};
use crate::exec::target::TargetOptions;
use crate::exec::{Cancel, HostKeyQuestion, Prompter, PtySize, TrustDecision};
use crate::journal::{Event, outputs};
use crate::keymap::Keymap;
use crate::runbook::Runbook;
use crate::runner::{Runner, RunnerEvent, new_run_dir};
use crate::secret::SecretString;
use crate::session::{paths, settings};
use crate::theme::Theme;
use crate::ui::Screen;

const FRAME: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(500);
/// Lines of each earlier command's output shown again after a restart.
const RESTORE_TAIL: u64 = 16 * 1024;

enum Pending {
    HostKey(oneshot::Sender<TrustDecision>),
    Secret(oneshot::Sender<Option<SecretString>>),
}

/// Asks the person at the terminal: questions go to the app as actions, answers come back
/// through the effects the app emits.
#[derive(Clone)]
struct TuiPrompter {
    tx: mpsc::UnboundedSender<Action>,
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl TuiPrompter {
    fn ask(&self, pending: Pending, action: impl FnOnce(u64) -> Action) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, pending);
        }
        let _ = self.tx.send(action(id));
    }
}

impl Prompter for TuiPrompter {
    fn host_key(&self, q: HostKeyQuestion) -> BoxFuture<'static, TrustDecision> {
        let (tx, rx) = oneshot::channel();
        self.ask(Pending::HostKey(tx), |id| {
            Action::Internal(Internal::HostKey(id, q))
        });
        Box::pin(async move { rx.await.unwrap_or(TrustDecision::Refuse) })
    }

    fn secret(&self, prompt: String) -> BoxFuture<'static, Option<SecretString>> {
        let (tx, rx) = oneshot::channel();
        self.ask(Pending::Secret(tx), |id| {
            Action::Internal(Internal::Secret(id, prompt))
        });
        Box::pin(async move { rx.await.ok().flatten() })
    }
}

type Term = Terminal<CrosstermBackend<Stdout>>;

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        LeaveAlternateScreen,
        DisableMouseCapture,
        crossterm::cursor::Show
    );
}

fn setup_terminal(log: PathBuf) -> std::io::Result<Term> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!("panic: {info}");
        eprintln!(
            "rehearse crashed; the journal is intact. Log: {}",
            log.display()
        );
        default_hook(info);
    }));
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    Terminal::new(CrosstermBackend::new(stdout()))
}

/// Open the TUI on a runbook. `opts` carries the demo host's pins and keys.
pub async fn open(
    rb: Runbook,
    given: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    global: Global,
    opts: Option<TargetOptions>,
) -> i32 {
    let settings = settings::load();
    let theme_name = global
        .theme
        .clone()
        .or(settings.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let theme = match Theme::load(&theme_name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let (keymap, key_errors) =
        Keymap::with_overrides(settings.keys.get("normal").unwrap_or(&Default::default()));
    // Variables without a value are asked for here, masked when secret, before anything runs.
    let mut given = given;
    let mut early: Option<Term> = None;
    if let Ok((_, missing)) = rb.resolve_vars(&given)
        && !missing.is_empty()
    {
        let mut t = match setup_terminal(crate::cli::log_file(&global)) {
            Ok(t) => t,
            Err(e) => {
                restore_terminal();
                eprintln!("rehearse: cannot set up the terminal: {e}");
                return EXIT_FAILED;
            }
        };
        match ask_vars(&mut t, &theme, &rb, &missing).await {
            Some(values) => given.extend(values),
            None => {
                restore_terminal();
                eprintln!("rehearse: quit before every variable had a value");
                return EXIT_USAGE;
            }
        }
        early = Some(t);
    }
    let (act_tx, mut act_rx) = mpsc::unbounded_channel::<Action>();
    let prompter = TuiPrompter {
        tx: act_tx.clone(),
        pending: Arc::default(),
        next: Arc::default(),
    };
    let dyn_prompter: Arc<dyn Prompter> = Arc::new(prompter.clone());
    let mut opts = opts.unwrap_or_default();
    if opts.ssh_config.is_none() {
        opts.ssh_config.clone_from(&global.ssh_config);
    }
    let crate::cli::Session {
        vars,
        executors: execs,
        operator,
    } = match crate::cli::session(&rb, &given, &opts, &dyn_prompter, &global).await {
        Ok(s) => s,
        Err(e) => {
            restore_terminal();
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let state = paths::state_dir(global.state_dir.as_deref());
    let run_dir = run_dir.unwrap_or_else(|| new_run_dir(&paths::runs_dir(&state), &rb.id));
    let (run_tx, mut run_rx) = mpsc::channel::<RunnerEvent>(4096);
    let rb = Arc::new(rb);
    let display_vars = vars.clone();
    let opened = match Runner::open(
        rb.clone(),
        vars,
        execs,
        operator.clone(),
        run_dir.clone(),
        run_tx,
    ) {
        Ok(o) => o,
        Err(e) => {
            restore_terminal();
            eprintln!("rehearse: {e}");
            return EXIT_FAILED;
        }
    };
    let runner = opened.runner;
    let mut app = App::new(
        rb,
        &opened.entries,
        display_vars,
        operator.name.clone(),
        keymap,
    );
    app.run_dir = run_dir.display().to_string();
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

    let terminal = match early {
        Some(t) => Ok(t),
        None => setup_terminal(crate::cli::log_file(&global)),
    };
    let mut terminal = match terminal {
        Ok(t) => t,
        Err(e) => {
            restore_terminal();
            eprintln!("rehearse: cannot set up the terminal: {e}");
            return EXIT_FAILED;
        }
    };
    if let Ok(s) = terminal.size() {
        app.size = (s.width, s.height);
    }
    let result = event_loop(
        &mut terminal,
        &mut app,
        &theme,
        &runner,
        &prompter,
        &act_tx,
        &mut act_rx,
        &mut run_rx,
    )
    .await;
    restore_terminal();
    if let Err(e) = result {
        eprintln!("rehearse: {e}");
        return EXIT_FAILED;
    }
    eprintln!("run: {}", run_dir.display());
    0
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

#[allow(clippy::too_many_arguments)]
async fn event_loop(
    terminal: &mut Term,
    app: &mut App,
    theme: &Theme,
    runner: &Arc<Runner>,
    prompter: &TuiPrompter,
    act_tx: &mpsc::UnboundedSender<Action>,
    act_rx: &mut mpsc::UnboundedReceiver<Action>,
    run_rx: &mut mpsc::Receiver<RunnerEvent>,
) -> std::io::Result<()> {
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut poll = tokio::time::interval(POLL);
    let mut cancel = Cancel::default();
    let mut monitor_stop = Cancel::default();
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut quitting: Option<Instant> = None;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| f.render_widget(Screen { app, theme }, f.area()))?;
            last_draw = Instant::now();
            dirty = false;
        }
        if let Some(since) = quitting {
            // Wait (briefly) for a cancelled command to be recorded before leaving.
            if app.busy.is_none() || since.elapsed() > Duration::from_secs(12) {
                return Ok(());
            }
        }
        let wake = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        let mut effects = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => effects = app.on_key(k),
                Some(Ok(TermEvent::Resize(w, h))) => {
                    effects = app.update(Action::Internal(Internal::Resize(w, h)));
                    let a = crate::ui::layout(app).log;
                    runner.set_pty_size(PtySize { cols: a.width.saturating_sub(2), rows: a.height.saturating_sub(2) });
                }
                Some(Ok(TermEvent::Mouse(m))) => {
                    let i = match m.kind {
                        MouseEventKind::Down(MouseButton::Left) => Some(Internal::Click(m.column, m.row)),
                        MouseEventKind::ScrollUp => Some(Internal::Scroll(m.column, m.row, -1)),
                        MouseEventKind::ScrollDown => Some(Internal::Scroll(m.column, m.row, 1)),
                        _ => None,
                    };
                    if let Some(i) = i {
                        effects = app.update(Action::Internal(i));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            Some(ev) = run_rx.recv() => {
                effects = app.update(Action::Internal(Internal::Runner(ev)));
                // Drain a burst before drawing: one frame for many chunks.
                while let Ok(ev) = run_rx.try_recv() {
                    effects.extend(app.update(Action::Internal(Internal::Runner(ev))));
                }
            }
            Some(a) = act_rx.recv() => effects = app.update(a),
            _ = tick.tick() => {
                app.targets = target_views(runner);
                effects = app.update(Action::Internal(Internal::Tick));
            }
            _ = poll.tick() => {
                // Lines other sessions appended arrive through the runner channel.
                if let Err(e) = runner.poll().await {
                    app.message = Some(format!("cannot follow the journal: {e}"));
                }
            }
            () = tokio::time::sleep(wake) => {}
        }
        dirty = true;
        for e in effects {
            match e {
                Effect::Run { step, index } => {
                    cancel = Cancel::default();
                    let (r, c, tx) = (runner.clone(), cancel.clone(), act_tx.clone());
                    tokio::spawn(async move {
                        let done = match r.run_command(&step, index, c).await {
                            Ok(res) => Internal::CommandDone {
                                step,
                                proposes: res.proposes,
                                outcome: res.outcome,
                            },
                            Err(e) => {
                                let _ = tx.send(Action::Internal(Internal::Notice(format!(
                                    "JOURNAL WRITE FAILED: {e}"
                                ))));
                                Internal::CommandDone {
                                    step,
                                    proposes: None,
                                    outcome: crate::journal::Outcome::Failed,
                                }
                            }
                        };
                        let _ = tx.send(Action::Internal(done));
                    });
                }
                Effect::Cancel => cancel.cancel(),
                Effect::StartMonitor => {
                    monitor_stop = Cancel::default();
                    let (r, stop, tx, state) = (
                        runner.clone(),
                        monitor_stop.clone(),
                        act_tx.clone(),
                        app.state.clone(),
                    );
                    tokio::spawn(async move {
                        let msg =
                            match crate::runner::monitor::watch(&r, state, &stop, |_| {}).await {
                                Ok(crate::runner::monitor::WindowEnd::Complete) => {
                                    "monitoring window complete".to_string()
                                }
                                Ok(crate::runner::monitor::WindowEnd::Stopped) => {
                                    "monitoring stopped; m resumes the same window".to_string()
                                }
                                Ok(crate::runner::monitor::WindowEnd::TooManyFailures(n)) => {
                                    format!("monitoring failed: {n} probes failed")
                                }
                                Err(e) => format!("monitoring: {e}"),
                            };
                        let _ = tx.send(Action::Internal(Internal::MonitorEnded(msg)));
                    });
                }
                Effect::StopMonitor => monitor_stop.cancel(),
                Effect::Record(ev) => {
                    let (r, tx) = (runner.clone(), act_tx.clone());
                    tokio::spawn(async move {
                        if let Err(e) = r.record(ev).await {
                            let _ = tx.send(Action::Internal(Internal::Notice(format!(
                                "JOURNAL WRITE FAILED: {e}"
                            ))));
                        }
                    });
                }
                Effect::AnswerHostKey { id, decision } => {
                    if let Some(Pending::HostKey(tx)) =
                        prompter.pending.lock().ok().and_then(|mut p| p.remove(&id))
                    {
                        let _ = tx.send(decision);
                    }
                }
                Effect::AnswerSecret { id, secret } => {
                    if let Some(Pending::Secret(tx)) =
                        prompter.pending.lock().ok().and_then(|mut p| p.remove(&id))
                    {
                        let _ = tx.send(secret);
                    }
                }
                Effect::Quit => quitting = Some(Instant::now()),
            }
        }
    }
}

/// Ask for each variable without a value in a dialog (masked when secret). `None`: the
/// operator quit.
async fn ask_vars(
    terminal: &mut Term,
    theme: &Theme,
    rb: &Runbook,
    missing: &[String],
) -> Option<Vec<(String, String)>> {
    use crate::app::dialog::{Dialog, DialogResult, masked, text_area};
    let mut events = EventStream::new();
    let mut out = Vec::new();
    for name in missing {
        let def = rb.vars.iter().find(|v| &v.name == name)?;
        let input = if def.secret {
            masked("")
        } else {
            text_area("")
        };
        let mut d = Dialog::Var {
            name: name.clone(),
            description: def.description.clone(),
            secret: def.secret,
            input,
            error: None,
        };
        loop {
            terminal
                .draw(|f| {
                    let area = f.area();
                    f.render_widget(
                        ratatui::widgets::Paragraph::new(format!(" {} — variables", rb.title))
                            .style(theme.title),
                        area,
                    );
                    f.render_widget(crate::ui::DialogView { dialog: &d, theme }, area);
                })
                .ok()?;
            match events.next().await {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => match d.key(k) {
                    DialogResult::Text(v) => {
                        out.push((name.clone(), v));
                        break;
                    }
                    DialogResult::Cancelled => return None,
                    _ => {}
                },
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    }
    Some(out)
}
