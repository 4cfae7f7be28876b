//! Where rehearse keeps things: runs and logs under the platform data dir (from `directories`),
//! overridable with `--state-dir` / `REHEARSE_STATE_DIR`; settings under the config dir.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "rehearse")
}

pub fn state_dir(overridden: Option<&Path>) -> PathBuf {
    overridden
        .map(Path::to_path_buf)
        .or_else(|| project().map(|p| p.data_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from(".rehearse"))
}

pub fn runs_dir(state: &Path) -> PathBuf {
    state.join("runs")
}

pub fn log_dir(state: &Path) -> PathBuf {
    state.join("logs")
}

pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("REHEARSE_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    project().map(|p| p.config_dir().to_path_buf())
}
