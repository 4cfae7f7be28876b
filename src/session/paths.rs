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

/// `hostname:pid` for this process.
pub fn session_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Is the process named by a `hostname:pid` session id certainly gone? Only a session on this
/// host can be checked; another host's session is assumed alive.
pub fn session_is_dead(session: &str) -> bool {
    let Some((host, pid)) = session.rsplit_once(':') else {
        return true;
    };
    let this = session_id();
    let this_host = this.rsplit_once(':').map_or("", |(h, _)| h);
    if host != this_host {
        return false;
    }
    let Ok(pid) = pid.parse::<i32>() else {
        return true;
    };
    if pid == i32::try_from(std::process::id()).unwrap_or(-1) {
        return false;
    }
    // Signal 0 checks for existence without delivering anything.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
}
