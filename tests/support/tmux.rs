//! Drive rehearse in a detached tmux server, as a person would: send keys, read the screen
//! with capture-pane, wait for conditions with a deadline (never a fixed sleep).
#![allow(dead_code)]
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    pub session: String,
}

fn tmux_available() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs tmux: apt-get install -y tmux (scripts/test installs it)"
    );
}

impl Tmux {
    /// Start `command` (run by sh) in a new detached session of the given size.
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        tmux_available();
        let socket = format!("rehearse-test-{name}-{}", std::process::id());
        let t = Tmux {
            socket,
            session: name.to_string(),
        };
        let out = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-s",
                name,
                command,
            ])
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// Send tmux key names (`Enter`, `Tab`, `C-c`) or literal text with `literal`.
    pub fn keys(&self, keys: &[&str]) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(st.success());
    }

    pub fn text(&self, s: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", &self.session, "-l", s])
            .status()
            .expect("send-keys");
        assert!(st.success());
    }

    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen satisfies `pred`, or fail showing the last screen.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_text(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for(&format!("{needle:?}"), timeout, |s| s.contains(needle))
    }

    /// The pid of the pane's process (the command itself when it was started with `exec`).
    pub fn pane_pid(&self) -> u32 {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", &self.session, "#{pane_pid}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid")
    }

    pub fn resize(&self, w: u16, h: u16) {
        let st = self
            .cmd()
            .args([
                "resize-window",
                "-t",
                &self.session,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .expect("resize-window");
        assert!(st.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// Wait until `path`'s content satisfies `pred`.
pub fn wait_file(
    path: &Path,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&s) {
            return s;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what} in {}:\n{s}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `rehearse verify RUN --allowed-signers FILE` (plus `extra`) must exit 0: intact, signed by a
/// trusted key, the gate proven open. `what` names the run in the failure.
pub fn assert_verifies(run: &Path, allowed: &Path, extra: &[&str], what: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .arg("verify")
        .arg(run)
        .args(extra)
        .arg("--allowed-signers")
        .arg(allowed)
        .output()
        .expect("verify");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what}: verify failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
