//! Everything a run needs, built once: where state lives, settings, who acts, the runbook's
//! values and executors. The TUI and every headless command start here.

pub mod paths;
pub mod settings;
