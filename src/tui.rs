//! The terminal runtime (placeholder until the UI lands).
use std::path::PathBuf;

use crate::cli::Global;
use crate::exec::target::TargetOptions;
use crate::runbook::Runbook;

pub async fn open(
    _rb: Runbook,
    _vars: Vec<(String, String)>,
    _run: Option<PathBuf>,
    _g: Global,
    _opts: Option<TargetOptions>,
) -> i32 {
    2
}
