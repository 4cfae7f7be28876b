//! Which process is running a command: `hostname:pid`, recorded with each command start so a
//! restart can tell a command another live session is running from one whose process died.

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
