//! Commands on the operator's machine (`target = "local"`): `sh -c` in its own process group,
//! so INT and TERM reach the whole pipeline, not only the shell.

use std::path::PathBuf;
use std::process::Stdio;

use bytes::{BufMut, BytesMut};
use futures::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::{
    Cancel, ConnectError, ConnectErrorKind, ExecEvent, ExecRequest, Executor, ExitInfo, StopAction,
    StopStage, Stopper, sleep_until_opt,
};

#[derive(Debug, Clone, Default)]
pub struct LocalExecutor {
    pub cwd: Option<PathBuf>,
}

/// Start `sh -c command` in a new process group with piped input and output. The caller owns
/// stdin: [`feed_stdin`] writes what the command was given and closes it.
pub fn spawn_shell(
    command: &str,
    cwd: Option<&std::path::Path>,
    env: &[(String, String)],
) -> std::io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
}

/// Write `input` (if any) to the child's stdin and close it, so reading it ends in EOF. In its
/// own task: a command that never reads must not hold up its output.
pub fn feed_stdin(child: &mut Child, input: Option<crate::secret::SecretString>) {
    use tokio::io::AsyncWriteExt as _;
    let Some(mut stdin) = child.stdin.take() else {
        return;
    };
    tokio::spawn(async move {
        if let Some(input) = input {
            // A command that exits without reading closes the pipe; nothing is lost then.
            let _ = stdin.write_all(input.expose().as_bytes()).await;
        }
        drop(stdin);
    });
}

/// Send a signal by name (`INT`, `TERM`, `KILL`, ...) to the child's process group.
pub fn signal_group(pid: Option<u32>, name: &str) {
    let sig = match name {
        "INT" => Signal::SIGINT,
        "TERM" => Signal::SIGTERM,
        "HUP" => Signal::SIGHUP,
        "QUIT" => Signal::SIGQUIT,
        "USR1" => Signal::SIGUSR1,
        _ => Signal::SIGKILL,
    };
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // The group may already be gone; that is the outcome we wanted.
        let _ = killpg(Pid::from_raw(pid), sig);
    }
}

/// Exit status of a finished child, OpenSSH style: a status, or the name of the signal.
pub fn exit_info(status: std::process::ExitStatus) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitInfo {
            status: u32::try_from(c).ok(),
            signal: None,
        },
        (None, Some(s)) => ExitInfo {
            status: None,
            signal: Some(
                Signal::try_from(s)
                    .map(|s| s.as_str().trim_start_matches("SIG").to_string())
                    .unwrap_or_else(|_| s.to_string()),
            ),
        },
        (None, None) => ExitInfo {
            status: None,
            signal: None,
        },
    }
}

impl Executor for LocalExecutor {
    fn run(
        &self,
        req: ExecRequest,
        tx: mpsc::Sender<ExecEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut child = match spawn_shell(req.command.expose(), self.cwd.as_deref(), &[]) {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx
                        .send(ExecEvent::Failed(ConnectError {
                            kind: ConnectErrorKind::Unreachable,
                            message: format!("cannot start sh: {e}"),
                        }))
                        .await;
                    return;
                }
            };
            feed_stdin(&mut child, req.input.clone());
            let _ = tx.send(ExecEvent::Started).await;
            let end = drive(&mut child, &req, &tx, &cancel).await;
            let _ = tx.send(end).await;
        })
    }

    fn describe(&self) -> String {
        "local".into()
    }
}

/// Read what the pipe holds, up to 64 KiB, into `buf`'s free space.
async fn read_chunk<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    buf.reserve(CHUNK);
    r.read_buf(&mut (&mut *buf).limit(CHUNK)).await
}

const CHUNK: usize = 64 * 1024;

/// Pump a child's output to `tx` until it exits, stopping it on timeout or cancel.
async fn drive(
    child: &mut Child,
    req: &ExecRequest,
    tx: &mpsc::Sender<ExecEvent>,
    cancel: &Cancel,
) -> ExecEvent {
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return ExecEvent::ConnectionLost {
            reason: "child has no pipes".into(),
        };
    };
    // Kept from the start: tokio forgets the pid once the child has been reaped, and the
    // group may outlive its leader.
    let pid = child.id();
    // Read into a buffer whose filled part is split off and sent as it is (no copy); the
    // buffer's memory is reused once the runner has dropped what was sent from it.
    let mut obuf = BytesMut::new();
    let mut ebuf = BytesMut::new();
    let (mut out_open, mut err_open) = (true, true);
    let timeout_at = tokio::time::Instant::now() + req.timeout;
    let mut stop: Option<Stopper> = None;
    let mut status = None;
    loop {
        if status.is_some() && !out_open && !err_open {
            break;
        }
        tokio::select! {
            n = read_chunk(&mut out, &mut obuf), if out_open => match n {
                Ok(0) | Err(_) => out_open = false,
                Ok(_) => { let _ = tx.send(ExecEvent::Stdout(obuf.split().freeze())).await; }
            },
            n = read_chunk(&mut err, &mut ebuf), if err_open => match n {
                Ok(0) | Err(_) => err_open = false,
                Ok(_) => { let _ = tx.send(ExecEvent::Stderr(ebuf.split().freeze())).await; }
            },
            s = child.wait(), if status.is_none() => {
                status = Some(s.map(exit_info).unwrap_or(ExitInfo { status: None, signal: None }));
            }
            () = cancel.cancelled(), if stop.is_none() => {
                signal_group(pid, Stopper::FIRST);
                stop = Some(Stopper::begin(false, req.grace));
            }
            () = tokio::time::sleep_until(timeout_at), if stop.is_none() => {
                signal_group(pid, Stopper::FIRST);
                stop = Some(Stopper::begin(true, req.grace));
            }
            () = sleep_until_opt(stop.map(|s| s.deadline)), if stop.is_some() => {
                if let Some(s) = stop.as_mut() {
                    if s.stage == StopStage::Closed {
                        break; // killed, and something outside the group still holds the pipes
                    }
                    match s.advance() {
                        StopAction::Signal(sig) => signal_group(pid, sig),
                        StopAction::Close => {
                            signal_group(pid, "KILL");
                            // Output still buffered in the pipes is read above until EOF.
                        }
                    }
                }
            }
        }
    }
    match stop {
        Some(s) => s.event(status),
        None => ExecEvent::Finished(status.unwrap_or(ExitInfo {
            status: None,
            signal: None,
        })),
    }
}
