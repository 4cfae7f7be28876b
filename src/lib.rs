//! rehearse: walk a deploy runbook step by step over SSH, sign it off, and keep a verifiable
//! journal as gate evidence.
//!
//! The engine (`runbook`, `exec`, `journal`, `gate`, `runner`) never imports the UI; the TUI
//! (`app`, `action`, `keymap`, `theme`, `ui`, `tui`) and the headless commands in `cli` are its
//! clients.

pub mod action;
pub mod app;
pub mod cli;
pub mod evidence;
pub mod exec;
pub mod gate;
pub mod journal;
pub mod keymap;
pub mod report;
pub mod runbook;
pub mod runner;
pub mod secret;
pub mod server;
pub mod session;
pub mod theme;
pub mod tui;
pub mod ui;
