//! App state and `update`: no I/O, no drawing. Keys and engine events come in as actions;
//! what must happen in the world goes out as [`Effect`]s for the runtime to perform. The run's
//! state is only ever what the journal says (`RunState`), so nothing is shown as recorded
//! before it is on disk.

pub mod ansi;
mod answer;
mod detail;
pub mod dialog;
mod log;
pub mod pairing;
mod run;
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
}
