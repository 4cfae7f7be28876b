//! One vocabulary for everything that changes the app: key bindings name these actions (the
//! keymap deserializes them by their snake_case names), and the runtime feeds engine events in
//! as internal variants that no key can name.

use serde::Deserialize;

use crate::exec::HostKeyQuestion;
use crate::runner::RunnerEvent;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    RunNext,
    ToggleCheck,
    SignOff,
    Waive,
    Note,
    CancelCommand,
    Monitor,
    Follow,
    Search,
    SearchNext,
    SearchPrev,
    Help,
    Detail,
    /// Pairing at one keyboard: the next of the run's operators is at the keys.
    SwitchOperator,
    Escape,
    Quit,
    #[serde(skip)]
    Internal(Internal),
}

/// Messages from the runtime, not bindable to keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Internal {
    Tick,
    /// The terminal's new size, and the inside of the log pane at that size (the size a PTY
    /// command sees). The runtime measures the layout; the app never asks the UI.
    Resize {
        size: (u16, u16),
        log: (u16, u16),
    },
    /// A click, on what the runtime's hit test found under it.
    Click(Hit),
    /// The wheel over what the hit test found: negative is up.
    Scroll(Hit, i8),
    Runner(RunnerEvent),
    /// The executor asks whether to trust a host key; answer with `Effect::Answer`.
    HostKey(u64, HostKeyQuestion),
    /// The executor needs a passphrase or password.
    Secret(u64, String),
    /// The task running a command ended. What it proposes and how it ended come from its
    /// journal line, never from here; `error` is set when it could not be run or recorded.
    CommandDone {
        step: String,
        error: Option<String>,
    },
    /// Another process appended to the journal, or recording failed.
    Notice(String),
    /// The monitoring window stopped (complete, stopped, failed).
    MonitorEnded(String),
    /// A step's hold stopped (passed, aborted, stopped).
    HoldEnded(String),
}

/// The panes that can have focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Steps,
    Log,
    Checklist,
    Gate,
}

/// What is under the mouse: a pane, and in the step list the step on that row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hit {
    pub pane: Option<Pane>,
    pub step: Option<usize>,
}

impl Action {
    /// Does it change the run (run, tick, sign, waive, note, cancel, monitor, act as someone)?
    /// An observer has none of these.
    pub fn acts(&self) -> bool {
        matches!(
            self,
            Action::RunNext
                | Action::ToggleCheck
                | Action::SignOff
                | Action::Waive
                | Action::Note
                | Action::CancelCommand
                | Action::Monitor
                | Action::SwitchOperator
        )
    }

    /// What the action does, for the help overlay.
    pub fn describe(&self) -> &'static str {
        match self {
            Action::Up => "move up / scroll up",
            Action::Down => "move down / scroll down",
            Action::PageUp => "scroll the log a page up",
            Action::PageDown => "scroll the log a page down",
            Action::Top => "log: go to the top",
            Action::Bottom => "log: go to the end and follow",
            Action::NextPane => "focus the next pane",
            Action::PrevPane => "focus the previous pane",
            Action::RunNext => "run the selected step's next command",
            Action::ToggleCheck => "tick / untick the checklist item",
            Action::SignOff => "sign off the selected step",
            Action::Waive => "waive the step (or the checklist item) with a reason",
            Action::Note => "add a note to the step",
            Action::CancelCommand => "cancel the running command (INT, TERM, close)",
            Action::Monitor => "start / stop the gate's monitoring window",
            Action::Follow => "log: toggle follow mode",
            Action::Search => "log: search",
            Action::SearchNext => "log: next match",
            Action::SearchPrev => "log: previous match",
            Action::Help => "show / hide this help",
            Action::Detail => "show the focused thing in full (Esc closes)",
            Action::SwitchOperator => "switch who is at the keys (--operators)",
            Action::Escape => "close the dialog or overlay",
            Action::Quit => "quit (asks first if a command is running)",
            Action::Internal(_) => "",
        }
    }
}
