//! rehearse: walk a deploy runbook step by step over SSH, sign it off, and keep a verifiable
//! journal as gate evidence.
//!
//! The engine (`runbook`, `exec`, `journal`, `gate`, `runner`) never imports the UI; the TUI
//! (`app`, `action`, `keymap`, `theme`, `ui`, `tui`) and the headless commands in `cli` are its
//! clients.

pub mod action;
pub mod ansi;
pub mod app;
pub mod cli;
pub mod demo;
pub mod exec;
pub mod gate;
pub mod journal;
pub mod keymap;
pub mod logbuf;
pub mod monitor;
pub mod paths;
pub mod runbook;
pub mod runner;
pub mod secret;
pub mod settings;
pub mod theme;
pub mod tui;
pub mod ui;
