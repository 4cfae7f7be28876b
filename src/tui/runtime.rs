//! The event loop and the effect runtime. The loop only folds events into the app and draws;
//! it never awaits I/O. Everything that touches the world runs as a task that reports back:
//!
//! | channel | producers | bound and back-pressure |
//! |---|---|---|
//! | terminal events | crossterm | the OS's input buffer |
//! | runner events (output, journal lines) | the executor task, the journal writer (which also follows other processes' lines) | bounded ([`super::RUNNER_QUEUE`]); producers wait, the loop never sends into it, so waiting cannot deadlock; taken only within a per-frame quota (output past it is skipped by the runner's display budget) |
//! | actions | the prompter (one per question), command and monitor tasks (one message when each ends) | unbounded, but each producer sends one message per task or question |
//!
//! Journal lines the app asks for (`Effect::Record`) are queued on the writer without waiting;
//! they show as recorded when the writer reports them on the runner channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event as TermEvent, EventStream, KeyEventKind, MouseButton, MouseEventKind,
};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::prompt::{Pending, TuiPrompter};
use super::target_views;
use super::terminal::Term;
use crate::action::{Action, Internal};
use crate::app::{App, Effect};
use crate::exec::{Cancel, PtySize};
use crate::runner::monitor::{self, WindowEnd};
use crate::runner::{Runner, RunnerError, RunnerEvent};
use crate::theme::Theme;
use crate::ui::Screen;

const FRAME: Duration = Duration::from_millis(16);
/// The most time the loop spends folding runner events per frame, and the most output it
/// folds per frame (about 32 MB/s at 60 frames a second: more than anyone reads). Past either,
/// the loop stops taking runner events until the next frame: keys and frames never wait for a
/// fast producer, the runner's display budget fills, and the runner skips what the screen
/// cannot take (the output on disk stays complete). This also bounds the CPU the screen costs
/// a fast command.
const FOLD_SLICE: Duration = Duration::from_millis(4);
const FOLD_BYTES: usize = 512 * 1024;
const TICK: Duration = Duration::from_millis(100);
/// How long quitting waits for a cancelled command to be recorded.
const QUIT_WAIT: Duration = Duration::from_secs(12);

pub struct Runtime<'a> {
    pub terminal: &'a mut Term,
    pub app: &'a mut App,
    pub theme: &'a Theme,
    pub runner: &'a Arc<Runner>,
    pub prompter: &'a TuiPrompter,
    pub act_tx: mpsc::UnboundedSender<Action>,
    pub act_rx: mpsc::UnboundedReceiver<Action>,
    pub run_rx: mpsc::Receiver<RunnerEvent>,
    /// Output bytes in flight from the runner to this loop.
    pub budget: crate::runner::display::DisplayBudget,
}

impl Runtime<'_> {
    pub async fn run(mut self) -> std::io::Result<()> {
        let mut events = EventStream::new();
        let mut tick = tokio::time::interval(TICK);
        let mut cancel = Cancel::default();
        let mut monitor_stop = Cancel::default();
        let mut hold_stop = Cancel::default();
        let mut dirty = true;
        // A key, click or resize: its frame is drawn at once, not at the next frame time.
        let mut urgent = false;
        let mut last_draw = Instant::now() - FRAME;
        let mut quota = FoldQuota::default();
        let mut quitting: Option<Instant> = None;
        // Commands get the log pane's size from the start, not a default.
        if let Ok(s) = self.terminal.size() {
            self.resize(s.width, s.height);
        }
        loop {
            if dirty && (urgent || last_draw.elapsed() >= FRAME) {
                let (app, theme) = (&*self.app, self.theme);
                self.terminal
                    .draw(|f| f.render_widget(Screen { app, theme }, f.area()))?;
                last_draw = Instant::now();
                dirty = false;
                urgent = false;
                quota = FoldQuota::default();
            }
            if let Some(since) = quitting
                && (self.app.busy.is_none() || since.elapsed() > QUIT_WAIT)
            {
                return Ok(());
            }
            let wake = if dirty {
                FRAME.saturating_sub(last_draw.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            let mut effects = Vec::new();
            let had_dialog = self.app.dialog.is_some();
            // The person first: keys are read before anything else that is ready, and the
            // runner's events only while this frame's fold quota lasts.
            tokio::select! {
                biased;
                ev = events.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                        urgent = true;
                        effects = self.app.on_key(k);
                    }
                    Some(Ok(TermEvent::Resize(w, h))) => {
                        urgent = true;
                        effects = self.resize(w, h);
                    }
                    Some(Ok(TermEvent::Mouse(m))) => {
                        let hit = crate::ui::hit(self.app, m.column, m.row);
                        let i = match m.kind {
                            MouseEventKind::Down(MouseButton::Left) => Some(Internal::Click(hit)),
                            MouseEventKind::ScrollUp => Some(Internal::Scroll(hit, -1)),
                            MouseEventKind::ScrollDown => Some(Internal::Scroll(hit, 1)),
                            _ => None,
                        };
                        // Only a click or a scroll: mouse motion alone changes nothing.
                        if let Some(i) = i {
                            urgent = true;
                            effects = self.app.update(Action::Internal(i));
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                Some(a) = self.act_rx.recv() => effects = self.app.update(a),
                Some(ev) = self.run_rx.recv(), if quota.left() => {
                    // A burst is folded into one frame, within the quota.
                    let began = Instant::now();
                    effects = self.fold(ev, &mut quota);
                    while quota.left() && began.elapsed() < FOLD_SLICE {
                        let Ok(ev) = self.run_rx.try_recv() else { break };
                        effects.extend(self.fold(ev, &mut quota));
                    }
                    quota.time += began.elapsed();
                }
                _ = tick.tick() => {
                    self.app.targets = target_views(self.runner);
                    effects = self.app.update(Action::Internal(Internal::Tick));
                }
                () = tokio::time::sleep(wake) => {}
            }
            dirty = true;
            if !had_dialog && self.app.dialog.is_some() {
                // A dialog just opened: keys already typed were meant for the screen behind it
                // (a second Enter, a `y` for something else). Drop them; resizes still count.
                while let Some(Some(Ok(ev))) = events.next().now_or_never() {
                    if let TermEvent::Resize(w, h) = ev {
                        effects.extend(self.resize(w, h));
                    }
                }
            }
            for e in effects {
                // An observer changes nothing: not even the gate verdict lines the app asks
                // for when the verdict changes (the operators' instances record those).
                if self.app.observer && !observer_may(&e) {
                    continue;
                }
                match e {
                    Effect::Run { step, index } => {
                        cancel = Cancel::default();
                        self.spawn_command(step, index, cancel.clone());
                    }
                    Effect::Cancel => cancel.cancel(),
                    Effect::StartMonitor => {
                        monitor_stop = Cancel::default();
                        self.spawn_monitor(monitor_stop.clone());
                    }
                    Effect::StopMonitor => monitor_stop.cancel(),
                    Effect::Record(ev) if ev.is_signed_kind() => self.record_signed(ev),
                    Effect::Acting(name) => self.runner.recorder().set_acting(name),
                    Effect::StartHold { step } => {
                        hold_stop = Cancel::default();
                        self.spawn_hold(step, hold_stop.clone());
                    }
                    Effect::StopHold => hold_stop.cancel(),
                    Effect::Record(ev) => {
                        if let Err(e) = self.runner.submit(ev) {
                            let fail = RunnerEvent::JournalFailed(e.to_string());
                            effects_ignored(
                                self.app.update(Action::Internal(Internal::Runner(fail))),
                            );
                        }
                    }
                    Effect::AnswerHostKey { id, decision } => {
                        if let Some(Pending::HostKey(tx)) = self.prompter.take(id) {
                            let _ = tx.send(decision);
                        }
                    }
                    Effect::AnswerSecret { id, secret } => {
                        if let Some(Pending::Secret(tx)) = self.prompter.take(id) {
                            let _ = tx.send(secret);
                        }
                    }
                    Effect::Quit => quitting = Some(Instant::now()),
                }
            }
        }
    }

    /// Fold one runner event into the app, giving its bytes back to the display budget.
    fn fold(&mut self, ev: RunnerEvent, quota: &mut FoldQuota) -> Vec<Effect> {
        if let RunnerEvent::Output { bytes, .. } = &ev {
            self.budget.give(bytes.len());
            quota.bytes += bytes.len();
        }
        self.app.update(Action::Internal(Internal::Runner(ev)))
    }

    /// Measure the new layout, tell the app, and give running and future PTY commands the log
    /// pane's size.
    fn resize(&mut self, w: u16, h: u16) -> Vec<Effect> {
        let log = crate::ui::log_inside(self.app, (w, h));
        self.runner.set_pty_size(PtySize {
            cols: log.0,
            rows: log.1,
        });
        self.app
            .update(Action::Internal(Internal::Resize { size: (w, h), log }))
    }

    /// A signed line may be refused (its operator has no key here): queue it now, in order,
    /// and bring the refusal back to the person at the keys.
    fn record_signed(&mut self, ev: crate::journal::Event) {
        match self.runner.recorder().submit_acked(ev) {
            Ok(ack) => {
                let tx = self.act_tx.clone();
                tokio::spawn(async move {
                    if let Ok(Err(e @ RunnerError::NoKey { .. })) = ack.await {
                        let _ = tx.send(Action::Internal(Internal::Notice(e.to_string())));
                    }
                });
            }
            Err(e) => {
                let fail = RunnerEvent::JournalFailed(e.to_string());
                effects_ignored(self.app.update(Action::Internal(Internal::Runner(fail))));
            }
        }
    }

    fn spawn_command(&self, step: String, index: usize, cancel: Cancel) {
        let (r, tx) = (self.runner.clone(), self.act_tx.clone());
        tokio::spawn(async move {
            let error = r
                .run_command(&step, index, cancel)
                .await
                .err()
                .map(|e| e.to_string());
            let _ = tx.send(Action::Internal(Internal::CommandDone { step, error }));
        });
    }

    fn spawn_hold(&self, step: String, stop: Cancel) {
        use crate::runner::hold::HoldEnd;
        let (r, tx) = (self.runner.clone(), self.act_tx.clone());
        tokio::spawn(async move {
            let msg = match r.run_hold(&step, &stop, |_| {}).await {
                Ok(HoldEnd::Passed) => format!("`{step}`: hold passed"),
                Ok(HoldEnd::Stopped) => format!("`{step}`: hold stopped; Enter resumes it"),
                Ok(HoldEnd::Aborted(why)) => format!("`{step}`: hold ABORTED: {why}"),
                Err(e) => format!("`{step}`: {e}"),
            };
            let _ = tx.send(Action::Internal(Internal::HoldEnded(msg)));
        });
    }

    fn spawn_monitor(&self, stop: Cancel) {
        let (r, tx, state) = (
            self.runner.clone(),
            self.act_tx.clone(),
            self.app.state.clone(),
        );
        tokio::spawn(async move {
            let msg = match monitor::watch(&r, state, &stop, |_| {}).await {
                Ok(WindowEnd::Complete) => "monitoring window complete".to_string(),
                Ok(WindowEnd::Stopped) => {
                    "monitoring stopped; m resumes the same window".to_string()
                }
                Ok(WindowEnd::TooManyFailures(n)) => {
                    format!("monitoring failed: {n} probes failed")
                }
                Err(e) => format!("monitoring: {e}"),
            };
            let _ = tx.send(Action::Internal(Internal::MonitorEnded(msg)));
        });
    }
}

/// What the loop folded since its last frame.
#[derive(Default)]
struct FoldQuota {
    time: Duration,
    bytes: usize,
}

impl FoldQuota {
    fn left(&self) -> bool {
        self.time < FOLD_SLICE && self.bytes < FOLD_BYTES
    }
}

/// What an observer's instance still does: answer its own prompts, and quit.
fn observer_may(e: &Effect) -> bool {
    matches!(
        e,
        Effect::Quit | Effect::AnswerHostKey { .. } | Effect::AnswerSecret { .. }
    )
}

/// A journal failure reported to the app produces no effects worth performing.
fn effects_ignored(_: Vec<Effect>) {}
