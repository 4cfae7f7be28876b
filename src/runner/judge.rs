//! How a command did: its end and its output against the runbook's expectations.

use crate::exec::{ConnectErrorKind, ExecEvent};
use crate::journal::Outcome;
use crate::runbook::Command;

/// How one command ended, for the caller.
#[derive(Debug, Clone)]
pub struct CommandResult {
    pub outcome: Outcome,
    pub exit_status: Option<u32>,
    pub reason: Option<String>,
    /// A connection that was refused (host key, authentication, unreachable).
    pub refused: Option<ConnectErrorKind>,
    /// The checklist item a passing expectation proposes to tick.
    pub proposes: Option<String>,
    /// Not run: its `when` condition is false.
    pub skipped: bool,
}

/// Decide the outcome of a command from how it ended and its expectations.
pub fn judge(cmd: &Command, end: &ExecEvent, stdout: &[u8], stderr: &[u8]) -> CommandResult {
    let mut r = CommandResult {
        outcome: Outcome::Failed,
        exit_status: None,
        reason: None,
        refused: None,
        proposes: None,
        skipped: false,
    };
    match end {
        ExecEvent::Finished(x) => {
            r.exit_status = x.status;
            let out = String::from_utf8_lossy(stdout);
            let err = String::from_utf8_lossy(stderr);
            if !cmd.expect.exit.accepts(x.status) {
                r.reason = Some(match (&x.status, &x.signal) {
                    (Some(c), _) => format!("exit {c}, expected {}", cmd.expect.exit),
                    (None, Some(s)) => format!("killed by SIG{s}, expected {}", cmd.expect.exit),
                    (None, None) => format!("no exit status, expected {}", cmd.expect.exit),
                });
            } else if let Some(re) = cmd.expect.stdout.as_ref().filter(|re| !re.is_match(&out)) {
                r.reason = Some(format!("stdout did not match /{}/", re.as_str()));
            } else if let Some(re) = cmd.expect.stderr.as_ref().filter(|re| !re.is_match(&err)) {
                r.reason = Some(format!("stderr did not match /{}/", re.as_str()));
            } else if let Some(re) = cmd
                .expect
                .stdout_not
                .as_ref()
                .filter(|re| re.is_match(&out))
            {
                r.reason = Some(format!(
                    "stdout matched /{}/, which it must not",
                    re.as_str()
                ));
            } else if let Some(u) = cmd.until.as_ref().filter(|u| !u.stdout.is_match(&out)) {
                r.reason = Some(format!(
                    "not yet: stdout did not match /{}/",
                    u.stdout.as_str()
                ));
            } else {
                r.outcome = Outcome::Passed;
                r.proposes.clone_from(&cmd.proves);
            }
        }
        ExecEvent::TimedOut { stage, exit } => {
            r.outcome = Outcome::TimedOut;
            r.exit_status = exit.as_ref().and_then(|x| x.status);
            r.reason = Some(format!(
                "timed out after {}; {stage}",
                humantime::format_duration(cmd.timeout)
            ));
        }
        ExecEvent::Cancelled { stage, exit } => {
            r.outcome = Outcome::Cancelled;
            r.exit_status = exit.as_ref().and_then(|x| x.status);
            r.reason = Some(format!("cancelled; {stage}"));
        }
        ExecEvent::ConnectionLost { reason } => {
            r.outcome = Outcome::ConnectionLost;
            r.reason = Some(reason.clone());
        }
        ExecEvent::Failed(e) => {
            r.reason = Some(e.message.clone());
            r.refused = Some(e.kind);
        }
        _ => r.reason = Some("unexpected end".into()),
    }
    r
}
