//! App state and `update`: no I/O, no drawing. Keys and engine events come in as actions;
//! what must happen in the world goes out as [`Effect`]s for the runtime to perform. The run's
//! state is only ever what the journal says (`RunState`), so nothing is shown as recorded
//! before it is on disk.

pub mod ansi;
mod detail;
pub mod dialog;
mod log;
pub mod pairing;
pub mod scrollback;
pub mod view;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::action::{Action, Internal};
use crate::app::scrollback::LogBuffer;
use crate::exec::TrustDecision;
use crate::gate::{self, Verdict};
use crate::journal::state::{RunState, StepStatus};
use crate::journal::{Entry, Event, Outcome};
use crate::keymap::Keymap;
use crate::runbook::{Runbook, Vars};
use crate::secret::SecretString;
pub use dialog::{Dialog, DialogResult};
pub use pairing::{OperatorView, Presence};

pub use crate::action::Pane;

pub const PANES: [Pane; 4] = [Pane::Steps, Pane::Log, Pane::Checklist, Pane::Gate];

/// The `item` of a waiver dialog that waives a step's order rather than the step or an item
/// (no checklist id can hold `@`); answering it records an `order_waiver`.
pub const ORDER_WAIVER: &str = "@order";

// An effect lives for one turn of the loop; boxing the recorded event would only make the
// app's tests unable to match on it.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Run {
        step: String,
        index: usize,
    },
    Cancel,
    StartMonitor,
    StopMonitor,
    /// Hold a step in the background (its commands passed); `StopHold` stops it.
    StartHold {
        step: String,
    },
    StopHold,
    Record(Event),
    /// Another operator is at the keys: the engine's lines are written in their name.
    Acting(String),
    AnswerHostKey {
        id: u64,
        decision: TrustDecision,
    },
    AnswerSecret {
        id: u64,
        secret: Option<SecretString>,
    },
    Quit,
}

/// The command this session is running.
#[derive(Debug, Clone)]
pub struct Busy {
    pub step: String,
    pub command: String,
    pub since: Instant,
}

pub struct TermView {
    pub step: String,
    pub started_seq: u64,
    pub parser: vt100::Parser,
}

#[derive(Debug, Clone)]
pub struct TargetView {
    pub name: String,
    pub endpoint: String,
    pub connected: bool,
}

pub struct App {
    pub runbook: Arc<Runbook>,
    pub state: RunState,
    /// The gate over everything recorded: progress, not proof.
    pub verdict: Verdict,
    /// The gate over the sealed part alone, counting only trusted signatures: what a reviewer
    /// with the same trust anchor will see.
    pub proven: crate::evidence::seal::SealedView,
    /// Every line of the run, in order (the sealed view is recomputed from them).
    entries: Vec<Entry>,
    /// Keys trusted to sign (allowed_signers from the config dir); `None`: nothing is proven.
    pub trust: Option<Arc<crate::journal::allowed_signers::AllowedSigners>>,
    pub keymap: Keymap,
    pub operator: String,
    /// For showing resolved commands: secrets render as `[secret:NAME]`.
    display_vars: Vars,
    pub selected: usize,
    pub check_selected: usize,
    pub focus: Pane,
    pub logs: HashMap<String, LogBuffer>,
    /// Log view: `None` follows the end; `Some(first line)` is scrolled.
    pub log_scroll: Option<usize>,
    pub search: Option<String>,
    pub search_hit: Option<usize>,
    pub dialog: Option<Dialog>,
    pub help: bool,
    /// The detail view (one thing in full, wrapped, scrollable), over the panes.
    pub detail: Option<view::DetailView>,
    pub busy: Option<Busy>,
    /// The running PTY command, drawn through a terminal emulator.
    pub term: Option<TermView>,
    pub monitoring: bool,
    /// The step this session is holding, if any.
    pub holding: Option<String>,
    pub targets: Vec<TargetView>,
    pub message: Option<String>,
    pub size: (u16, u16),
    /// Inside of the log pane (columns, rows), as the runtime measured it.
    pub log_area: (u16, u16),
    /// This process's session id: proposals follow only the commands it started.
    pub session: String,
    /// A journal write failed: shown until acknowledged; no command starts after it.
    pub journal_failed: Option<String>,
    /// The key this operator's sign-offs are signed with (`ALGO SHA256:…`); `None`: unsigned.
    pub signing_key: Option<String>,
    pub ticks: u64,
    pub run_dir: String,
    /// Everyone who may be at the keys (pairing at one keyboard); `operator` is the one who is.
    pub operators: Vec<OperatorView>,
    /// Read-only: no key that changes the run acts.
    pub observer: bool,
    /// Who has the run open, from the journal's `joined` and `left` lines.
    pub presence: Presence,
    gate_recorded: Option<bool>,
    pub quit: bool,
}

impl App {
    pub fn new(
        runbook: Arc<Runbook>,
        entries: &[Entry],
        display_vars: Vars,
        operator: String,
        keymap: Keymap,
    ) -> App {
        let state = RunState::from_entries(entries);
        let mut presence = Presence::default();
        entries.iter().for_each(|e| presence.apply(e));
        let verdict = gate::evaluate(&runbook, &state);
        let proven = crate::evidence::seal::evaluate_entries(&runbook, entries, None);
        let gate_recorded = state.gate.as_ref().map(|g| g.0);
        let mut app = App {
            runbook,
            state,
            verdict,
            proven,
            entries: entries.to_vec(),
            trust: None,
            keymap,
            operator,
            display_vars,
            selected: 0,
            check_selected: 0,
            focus: Pane::Steps,
            logs: HashMap::new(),
            log_scroll: None,
            search: None,
            search_hit: None,
            dialog: None,
            help: false,
            detail: None,
            busy: None,
            term: None,
            monitoring: false,
            holding: None,
            targets: Vec::new(),
            message: None,
            size: (80, 24),
            log_area: (46, 8),
            session: String::new(),
            journal_failed: None,
            signing_key: None,
            ticks: 0,
            run_dir: String::new(),
            operators: Vec::new(),
            observer: false,
            presence,
            gate_recorded,
            quit: false,
        };
        // Start where the work is: the first step not done yet.
        app.selected = app
            .runbook
            .steps
            .iter()
            .position(|s| !app.state.step_status(s).is_done())
            .unwrap_or(0);
        app
    }

    /// Trust these signers from now on (and re-evaluate what is proven).
    pub fn set_trust(&mut self, trust: Option<crate::journal::allowed_signers::AllowedSigners>) {
        self.trust = trust.map(Arc::new);
        self.reseal();
    }

    /// Recompute the proven gate. Only lines that can change it trigger this (signatures and
    /// signed kinds); other lines just lengthen the unsealed tail.
    fn reseal(&mut self) {
        self.proven = crate::evidence::seal::evaluate_entries(
            &self.runbook,
            &self.entries,
            self.trust.as_deref(),
        );
    }

    /// A line arrived: keep it, and keep the proven view current.
    fn seen(&mut self, e: &Entry) {
        self.entries.push(e.clone());
        if e.event.is_signed_kind() || matches!(e.event, Event::Signature { .. }) {
            self.reseal();
        } else {
            self.proven.lines += 1;
            self.proven.tail_len += 1;
        }
    }

    pub fn step(&self) -> &crate::runbook::Step {
        &self.runbook.steps[self.selected.min(self.runbook.steps.len() - 1)]
    }

    pub fn log(&self) -> Option<&LogBuffer> {
        self.logs.get(&self.step().id)
    }

    pub fn status_of(&self, i: usize) -> StepStatus {
        self.state.step_status(&self.runbook.steps[i])
    }

    /// A key press: dialogs and overlays first, then the keymap.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if let Some(fx) = self.view_key(&key) {
            return fx;
        }
        if let Some(mut d) = self.dialog.take() {
            let r = d.key(key);
            return self.dialog_result(d, r);
        }
        match self.keymap.action(&key) {
            Some(a) => self.update(a),
            None => Vec::new(),
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if self.help && !matches!(action, Action::Internal(_) | Action::Quit) {
            // Any key closes the overlay.
            self.help = false;
            return Vec::new();
        }
        if self.observer && action.acts() {
            self.message = Some("OBSERVER: read-only, nothing here changes the run".into());
            return Vec::new();
        }
        let n_steps = self.runbook.steps.len();
        let n_checks = self.step().checklist.len();
        match action {
            Action::Up => match self.focus {
                Pane::Steps | Pane::Gate => self.select(self.selected.saturating_sub(1)),
                Pane::Checklist => self.check_selected = self.check_selected.saturating_sub(1),
                Pane::Log => self.scroll_by(-1),
            },
            Action::Down => match self.focus {
                Pane::Steps | Pane::Gate => self.select((self.selected + 1).min(n_steps - 1)),
                Pane::Checklist => {
                    self.check_selected = (self.check_selected + 1).min(n_checks.saturating_sub(1))
                }
                Pane::Log => self.scroll_by(1),
            },
            Action::PageUp => self.scroll_by(-(i64::from(self.log_height()))),
            Action::PageDown => self.scroll_by(i64::from(self.log_height())),
            Action::Top => self.log_scroll = Some(0),
            Action::Bottom => self.log_scroll = None,
            Action::Follow => {
                self.log_scroll = match self.log_scroll {
                    None => Some(self.log_top()),
                    Some(_) => None,
                };
            }
            Action::NextPane | Action::PrevPane => {
                let i = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let next = if action == Action::NextPane {
                    (i + 1) % 4
                } else {
                    (i + 3) % 4
                };
                self.focus = PANES[next];
            }
            Action::RunNext => return self.run_next(),
            Action::ToggleCheck => return self.toggle_check(),
            Action::SignOff => {
                let st = self.status_of(self.selected);
                if let Some(refused) = self.signoff_refusal() {
                    self.message = Some(refused);
                } else if st.is_done() {
                    self.dialog = Some(Dialog::SignOff {
                        step: self.step().id.clone(),
                        note: dialog::text_area("what you checked, anything odd"),
                        signer: self.signer_line(),
                    });
                } else {
                    self.message = Some(format!(
                        "`{}` is {}: run it (or waive it) before signing off",
                        self.step().id,
                        st.label()
                    ));
                }
            }
            Action::Waive => {
                let item = (self.focus == Pane::Checklist)
                    .then(|| {
                        self.step()
                            .checklist
                            .get(self.check_selected)
                            .map(|c| c.id.clone())
                    })
                    .flatten();
                self.dialog = Some(Dialog::Waive {
                    step: self.step().id.clone(),
                    item,
                    reason: dialog::text_area("why this is safe to skip"),
                    error: None,
                });
            }
            Action::Note => {
                self.dialog = Some(Dialog::Note {
                    step: self.step().id.clone(),
                    text: dialog::text_area("a note for the journal"),
                })
            }
            Action::Monitor => {
                if self.runbook.gate.monitor.is_none() {
                    self.message = Some("this runbook's gate has no monitoring window".into());
                } else if self.monitoring {
                    self.message =
                        Some("stopping the monitoring window (it resumes where it stood)".into());
                    return vec![Effect::StopMonitor];
                } else {
                    self.monitoring = true;
                    self.message =
                        Some("monitoring: probing until the window is complete (m stops)".into());
                    return vec![Effect::StartMonitor];
                }
            }
            Action::CancelCommand => {
                if self.busy.is_some() {
                    self.message =
                        Some("cancelling: INT, then TERM, then closing the channel".into());
                    return vec![Effect::Cancel];
                }
                self.message = Some("nothing is running".into());
            }
            Action::Search => {
                self.dialog = Some(Dialog::Search {
                    input: dialog::text_area("search the log"),
                })
            }
            Action::SearchNext => self.search_step(true),
            Action::SearchPrev => self.search_step(false),
            Action::Help => self.help = true,
            Action::Detail => self.toggle_detail(),
            Action::SwitchOperator => return self.switch_operator(),
            Action::Escape => {
                self.message = None;
                self.search = None;
            }
            Action::Quit => {
                if self.busy.is_some() {
                    self.dialog = Some(Dialog::Quit);
                } else {
                    self.quit = true;
                    return vec![Effect::Quit];
                }
            }
            Action::Internal(i) => return self.internal(i),
        }
        Vec::new()
    }

    fn select(&mut self, i: usize) {
        if i != self.selected {
            self.selected = i;
            self.check_selected = 0;
            self.log_scroll = None;
        }
    }

    fn run_next(&mut self) -> Vec<Effect> {
        if let Some(e) = &self.journal_failed {
            self.message = Some(format!(
                "the journal could not be written ({e}): nothing more runs in this session; quit and reopen the run"
            ));
            return Vec::new();
        }
        if let Some(b) = &self.busy {
            self.message = Some(format!(
                "{}/{} is still running (x cancels)",
                b.step, b.command
            ));
            return Vec::new();
        }
        let step = self.step().clone();
        // Someone else (another instance on this run) holds the step: say who. The journal's
        // lock decides for real when two press at the same moment.
        if let Some(r) = self.state.running.values().find(|r| r.step == step.id) {
            self.message = Some(format!(
                "`{}` is being run by {} ({}, since {}); wait for it to end",
                step.id,
                r.operator,
                r.command,
                r.ts.get(11..19).unwrap_or(&r.ts)
            ));
            return Vec::new();
        }
        // Out of order only with a reason (the engine refuses too; this asks for it).
        if let Some(why) = self.state.refusal(&self.runbook, &step) {
            if self.state.step_skipped(&step) {
                self.message = Some(why);
            } else {
                self.message = Some(format!(
                    "{why}: give a reason to run it anyway (Esc keeps the order)"
                ));
                self.dialog = Some(Dialog::Waive {
                    step: step.id.clone(),
                    item: Some(ORDER_WAIVER.to_string()),
                    reason: dialog::text_area("why run it before the steps it comes after"),
                    error: None,
                });
            }
            return Vec::new();
        }
        if let (Some(options), true) = (&step.choice, step.commands.is_empty()) {
            self.dialog = Some(Dialog::Choice {
                step: step.id.clone(),
                options: options
                    .iter()
                    .map(|o| (o.id.clone(), o.title.clone(), o.description.clone()))
                    .collect(),
                selected: 0,
                reason: dialog::text_area("why this path"),
                error: None,
            });
            return Vec::new();
        }
        if let Some(effects) = self.hold(&step) {
            return effects;
        }
        let Some((index, _)) = self.state.next_command(&step) else {
            if step.commands.is_empty() {
                self.message = Some(format!("`{}` has no commands: tick its checklist", step.id));
            } else {
                self.dialog = Some(Dialog::Rerun {
                    step: step.id.clone(),
                    commands: step.commands.iter().map(|c| c.name.clone()).collect(),
                    selected: step.commands.len() - 1,
                    reason: dialog::text_area("why run it again"),
                    error: None,
                });
            }
            return Vec::new();
        };
        self.confirm_or_start(&step, index)
    }

    /// Enter on a step whose commands passed and whose hold is not over: start the hold in the
    /// background, or stop it when it is this session's (it resumes where it stood).
    fn hold(&mut self, step: &crate::runbook::Step) -> Option<Vec<Effect>> {
        let p = self.state.hold_progress(step)?;
        if p.completed_at.is_some() || self.state.next_command(step).is_some() {
            return None;
        }
        if self.holding.as_deref() == Some(step.id.as_str()) {
            self.message = Some(format!(
                "stopping the hold of `{}` (it resumes where it stood)",
                step.id
            ));
            return Some(vec![Effect::StopHold]);
        }
        if let Some(other) = &self.holding {
            self.message = Some(format!("holding `{other}`: Enter on it stops it first"));
            return Some(Vec::new());
        }
        self.holding = Some(step.id.clone());
        self.message = Some(format!(
            "holding `{}`: probing until its time is up (Enter stops)",
            step.id
        ));
        Some(vec![Effect::StartHold {
            step: step.id.clone(),
        }])
    }

    /// Start command `index` of `step`, or first ask (a `confirm` command).
    fn confirm_or_start(&mut self, step: &crate::runbook::Step, index: usize) -> Vec<Effect> {
        let Some(cmd) = step.commands.get(index) else {
            return Vec::new();
        };
        if !cmd.confirm {
            return self.start(&step.id, index, &cmd.name);
        }
        let run = cmd
            .run
            .render(&self.display_vars)
            .map_or_else(|e| e.to_string(), |r| r.display);
        let target = self
            .targets
            .iter()
            .find(|t| t.name == cmd.target)
            .map_or_else(
                || cmd.target.clone(),
                |t| format!("{} ({})", t.name, t.endpoint),
            );
        let host_key = if cmd.target == crate::runbook::LOCAL {
            "none: runs on this machine".to_string()
        } else {
            self.state
                .host_keys
                .iter()
                .rev()
                .find(|k| k.target == cmd.target)
                .map_or_else(
                    || "not seen yet: checked against known_hosts when it connects".into(),
                    |k| format!("{} {} ({})", k.algorithm, k.fingerprint, k.trust),
                )
        };
        self.dialog = Some(Dialog::Confirm {
            step: step.id.clone(),
            index,
            command: cmd.name.clone(),
            run,
            target,
            host_key,
            destructive: cmd.destructive,
            typed: dialog::text_area(&format!("type {} to run it", step.id)),
            scroll: 0,
            error: None,
        });
        Vec::new()
    }

    fn start(&mut self, step: &str, index: usize, command: &str) -> Vec<Effect> {
        self.busy = Some(Busy {
            step: step.to_string(),
            command: command.to_string(),
            since: Instant::now(),
        });
        self.log_scroll = None;
        self.message = None;
        vec![Effect::Run {
            step: step.to_string(),
            index,
        }]
    }

    fn toggle_check(&mut self) -> Vec<Effect> {
        // Only the item under a visible cursor: with focus elsewhere, nobody can see which
        // item Space would tick.
        if self.focus != Pane::Checklist {
            self.message = Some("Tab to the checklist to tick an item".into());
            return Vec::new();
        }
        let step = self.step();
        let Some(item) = step.checklist.get(self.check_selected) else {
            self.message = Some(format!("`{}` has no checklist", step.id));
            return Vec::new();
        };
        let checked = !self.state.is_checked(&step.id, &item.id);
        vec![Effect::Record(Event::CheckToggled {
            step: step.id.clone(),
            item: item.id.clone(),
            checked,
            operator: self.operator.clone(),
            proposed_by: None,
        })]
    }

    fn dialog_result(&mut self, d: Dialog, r: DialogResult) -> Vec<Effect> {
        let op = self.operator.clone();
        match (d, r) {
            (d, DialogResult::Open) => {
                self.dialog = Some(d);
                Vec::new()
            }
            (Dialog::HostKey { id, .. }, DialogResult::HostKey(decision)) => {
                vec![Effect::AnswerHostKey { id, decision }]
            }
            (Dialog::HostKey { id, .. }, DialogResult::Cancelled) => vec![Effect::AnswerHostKey {
                id,
                decision: TrustDecision::Refuse,
            }],
            (Dialog::Secret { id, .. }, DialogResult::Cancelled) => {
                vec![Effect::AnswerSecret { id, secret: None }]
            }
            (Dialog::Secret { id, .. }, DialogResult::Text(s)) => vec![Effect::AnswerSecret {
                id,
                secret: Some(SecretString::new(s)),
            }],
            (
                Dialog::Confirm {
                    step,
                    index,
                    command,
                    ..
                },
                DialogResult::Confirmed,
            ) => self.start(&step, index, &command),
            (
                Dialog::Rerun {
                    step,
                    commands,
                    selected,
                    ..
                },
                DialogResult::Text(reason),
            ) => {
                let command = commands.get(selected).cloned().unwrap_or_default();
                let mut fx = vec![Effect::Record(Event::Note {
                    step: step.clone(),
                    text: format!("running `{command}` again: {reason}"),
                    operator: op,
                })];
                if let Some(st) = self.runbook.step(&step).cloned() {
                    fx.extend(self.confirm_or_start(&st, selected));
                }
                fx
            }
            (Dialog::Quit, DialogResult::Confirmed) => {
                self.quit = true;
                vec![Effect::Cancel, Effect::Quit]
            }
            (Dialog::ProposeTick { step, item, by, .. }, DialogResult::Confirmed) => {
                vec![Effect::Record(Event::CheckToggled {
                    step,
                    item,
                    checked: true,
                    operator: op,
                    proposed_by: Some(by),
                })]
            }
            (Dialog::SignOff { step, .. }, DialogResult::Text(note)) => {
                vec![Effect::Record(Event::Signoff {
                    step,
                    operator: op,
                    note,
                    key_fingerprint: None,
                })]
            }
            (Dialog::Choice { step, .. }, DialogResult::Chosen(option, reason)) => {
                vec![Effect::Record(Event::Choice {
                    step,
                    option,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Waive { step, item, .. }, DialogResult::Text(reason))
                if item.as_deref() == Some(ORDER_WAIVER) =>
            {
                let blocked_by = self
                    .runbook
                    .step(&step)
                    .map(|s| self.state.unmet_after(&self.runbook, s))
                    .unwrap_or_default();
                vec![Effect::Record(Event::OrderWaiver {
                    step,
                    blocked_by,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Waive { step, item, .. }, DialogResult::Text(reason)) => {
                vec![Effect::Record(Event::Waiver {
                    step,
                    item,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Note { step, .. }, DialogResult::Text(text)) if !text.is_empty() => {
                vec![Effect::Record(Event::Note {
                    step,
                    text,
                    operator: op,
                })]
            }
            (Dialog::Search { .. }, DialogResult::Text(q)) => {
                self.search = (!q.is_empty()).then_some(q);
                self.search_hit = None;
                self.search_step(true);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn internal(&mut self, i: Internal) -> Vec<Effect> {
        match i {
            Internal::Tick => self.ticks = self.ticks.wrapping_add(1),
            Internal::Resize { size, log } => {
                self.size = size;
                self.log_area = log;
                let (rows, cols) = self.term_size();
                if let Some(t) = self.term.as_mut() {
                    t.parser.screen_mut().set_size(rows, cols);
                }
            }
            Internal::Click(hit) => self.click(hit),
            Internal::Scroll(hit, d) => {
                if hit.pane == Some(Pane::Steps) {
                    let i = if d < 0 {
                        self.selected.saturating_sub(1)
                    } else {
                        (self.selected + 1).min(self.runbook.steps.len() - 1)
                    };
                    self.select(i);
                } else {
                    self.scroll_by(i64::from(d) * 3);
                }
            }
            Internal::Runner(ev) => return self.on_runner(ev),
            Internal::HostKey(id, q) => self.dialog = Some(Dialog::HostKey { id, q, choice: 0 }),
            Internal::Secret(id, prompt) => {
                self.dialog = Some(Dialog::Secret {
                    id,
                    prompt,
                    input: dialog::masked(""),
                })
            }
            Internal::CommandDone { step, error } => {
                if self.busy.as_ref().is_some_and(|b| b.step == step) {
                    self.busy = None;
                }
                self.message = error.map(|e| format!("`{step}`: {e}"));
            }
            Internal::Notice(m) => self.message = Some(m),
            Internal::MonitorEnded(m) => {
                self.monitoring = false;
                self.message = Some(m);
            }
            Internal::HoldEnded(m) => {
                self.holding = None;
                self.message = Some(m);
            }
        }
        Vec::new()
    }

    fn click(&mut self, hit: crate::action::Hit) {
        let Some(p) = hit.pane else {
            return;
        };
        self.focus = p;
        if p == Pane::Steps
            && let Some(i) = hit.step
        {
            self.select(i);
        }
    }

    /// A command this session started passed: offer the checklist item it proves. Tied to the
    /// journal line of that command (its step, name and outcome), never to which message came
    /// first.
    fn propose_from(&mut self, finished: &Entry) {
        let Event::CommandFinished {
            step,
            command,
            started_seq,
            outcome: Outcome::Passed,
            ..
        } = &finished.event
        else {
            return;
        };
        let ours = self
            .state
            .step(step)
            .and_then(|r| r.runs.iter().find(|r| r.started_seq == *started_seq))
            .and_then(|r| r.session.as_deref())
            .is_some_and(|s| s == self.session);
        if !ours {
            return;
        }
        let Some(s) = self.runbook.step(step) else {
            return;
        };
        let Some(item) = s
            .commands
            .iter()
            .find(|c| &c.name == command)
            .and_then(|c| c.proves.clone())
        else {
            return;
        };
        if self.state.is_checked(step, &item) || self.dialog.is_some() {
            return;
        }
        let text = s
            .checklist
            .iter()
            .find(|c| c.id == item)
            .map(|c| c.text.clone())
            .unwrap_or_default();
        self.dialog = Some(Dialog::ProposeTick {
            step: step.clone(),
            item,
            text,
            by: command.clone(),
        });
    }
}
