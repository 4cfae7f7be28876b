//! A private tmux server for the figures that watch the TUI as a person would: keys go in
//! with `send-keys`, and "on screen" means in `capture-pane`'s text.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::measure::ms;

/// Between two captures: each is a tmux client process, and polling flat out would take a core
/// from the program under test on a 2-core machine.
pub const POLL: Duration = Duration::from_millis(2);
/// Longest wait for one key's frame; a key never answered counts as this long.
pub const KEY_DEADLINE: Duration = Duration::from_secs(20);

/// A private tmux server (its own socket, no config file), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start() -> Tmux {
        let t = Tmux {
            socket: format!("rehearse-bench-{}", std::process::id()),
        };
        // A session that lives for the whole bench, so no figure pays for the server's start.
        t.run(&[
            "new-session",
            "-d",
            "-s",
            "keep",
            "-x",
            "80",
            "-y",
            "24",
            "cat",
        ]);
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .cmd()
            .args(args)
            .output()
            .expect("tmux (apt-get install -y tmux)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn capture(&self, session: &str) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn spawn(&self, session: &str, env: &[String], argv: &[String]) {
        let mut args: Vec<String> = ["new-session", "-d", "-s", session, "-x", "120", "-y", "40"]
            .map(String::from)
            .to_vec();
        for e in env {
            args.extend(["-e".to_string(), e.clone()]);
        }
        args.push("--".into());
        args.extend(argv.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs);
    }

    pub fn pane_pid(&self, session: &str) -> u32 {
        self.run(&["display-message", "-p", "-t", session, "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane pid")
    }

    pub fn kill(&self, session: &str) {
        let _ = self
            .cmd()
            .args(["kill-session", "-t", session])
            .stderr(Stdio::null())
            .status();
    }

    /// Poll until `pred` holds for the pane's text; the instant it was first seen.
    pub fn wait(
        &self,
        session: &str,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<Instant> {
        self.wait_every(session, within, POLL, pred)
    }

    /// [`Tmux::wait`], polling every `every`.
    pub fn wait_every(
        &self,
        session: &str,
        within: Duration,
        every: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<Instant> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if pred(&self.capture(session)) {
                return Some(Instant::now());
            }
            std::thread::sleep(every);
        }
        None
    }

    /// Send `key` and time until `expect` is on screen (the key's frame).
    pub fn key(&self, session: &str, key: &str, expect: &str) -> f64 {
        let start = Instant::now();
        self.run(&["send-keys", "-t", session, key]);
        self.wait(session, KEY_DEADLINE, |s| s.contains(expect))
            .map_or(ms(KEY_DEADLINE), |t| ms(t - start))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").stderr(Stdio::null()).status();
    }
}
