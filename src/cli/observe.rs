//! `rehearse observe RUN_DIR`: the run opened read-only, with the runbook it started with (kept
//! beside its journal) and the variable values it recorded.

use std::path::Path;

use super::{EXIT_USAGE, Global};
use crate::exec::target::TargetOptions;
use crate::journal::{self, Event};
use crate::runner::RUNBOOK_COPY;

/// Stands in for a value an observer does not have (a secret, or one no step has needed yet):
/// nothing is run, so it is never used.
const NOT_AVAILABLE: &str = "[secret: not available to an observer]";

pub async fn observe_cmd(run_dir: &Path, global: &Global) -> i32 {
    let rb = match crate::runbook::load(&run_dir.join(RUNBOOK_COPY)) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {}: not a run to observe: {e}", run_dir.display());
            return EXIT_USAGE;
        }
    };
    let entries = match journal::read_entries(run_dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let mut given: Vec<(String, String)> = Vec::new();
    if let Some(Event::RunStarted {
        vars, secret_vars, ..
    }) = entries.first().map(|e| &e.event)
    {
        given.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        given.extend(
            secret_vars
                .iter()
                .map(|n| (n.clone(), NOT_AVAILABLE.to_string())),
        );
    }
    // Values the run never needed (a step not run yet asks for its own) are not asked for
    // either: an observer runs nothing.
    if let Ok((_, missing)) = rb.resolve_vars(&given) {
        given.extend(missing.into_iter().map(|n| (n, NOT_AVAILABLE.to_string())));
    }
    let mut opts = global.session_options(TargetOptions::default());
    opts.observe = true;
    super::open_tui_with(rb, given, Some(run_dir.to_path_buf()), global, opts).await
}
