//! The demo host: an SSH server (russh's server side) on 127.0.0.1 with a random port and
//! throwaway in-memory keys, whose commands run under `sh -c` in a sandbox directory. The TUI
//! reaches it through the same russh client as a real host, with its key pinned.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use russh::keys::{Algorithm, PrivateKey, PublicKey};
use russh::server::{self, Auth, ChannelOpenHandle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Sig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::exec::local::{exit_info, signal_group, spawn_shell};

pub const DEMO_USER: &str = "deploy";

pub struct DemoHost {
    pub addr: SocketAddr,
    pub host_key: PublicKey,
    pub client_key: Arc<PrivateKey>,
    pub sandbox: PathBuf,
    task: JoinHandle<()>,
}

impl DemoHost {
    /// Start listening on 127.0.0.1 with fresh keys. Commands run in `sandbox`.
    pub async fn start(sandbox: &Path) -> std::io::Result<DemoHost> {
        let mut rng = rand::rng();
        let host =
            PrivateKey::random(&mut rng, Algorithm::Ed25519).map_err(std::io::Error::other)?;
        let client =
            PrivateKey::random(&mut rng, Algorithm::Ed25519).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(sandbox)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let config = Arc::new(server::Config {
            keys: vec![host.clone()],
            auth_rejection_time: std::time::Duration::from_millis(200),
            auth_rejection_time_initial: Some(std::time::Duration::ZERO),
            inactivity_timeout: None,
            methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
            window_size: 16 * 1024 * 1024,
            nodelay: true,
            ..Default::default()
        });
        let state = Shared {
            allowed: client.public_key().clone(),
            sandbox: sandbox.to_path_buf(),
        };
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    break;
                };
                let _ = socket.set_nodelay(true);
                let handler = Conn {
                    shared: state.clone(),
                    channels: HashMap::new(),
                    pids: Arc::default(),
                };
                let config = config.clone();
                tokio::spawn(async move {
                    if let Ok(session) = server::run_stream(config, socket, handler).await {
                        let _ = session.await;
                    }
                });
            }
        });
        Ok(DemoHost {
            addr,
            host_key: host.public_key().clone(),
            client_key: Arc::new(client),
            sandbox: sandbox.to_path_buf(),
            task,
        })
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for DemoHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    allowed: PublicKey,
    sandbox: PathBuf,
}

struct Conn {
    shared: Shared,
    channels: HashMap<ChannelId, Channel<Msg>>,
    pids: Arc<Mutex<HashMap<ChannelId, u32>>>,
}

impl server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if user == DEMO_USER && key.public_key.key_data() == self.shared.allowed.key_data() {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pw: u32,
        _ph: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The demo host has no terminals; the command runs with pipes, which every demo
        // command is happy with.
        session.channel_success(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(channel) = self.channels.remove(&id) else {
            session.channel_failure(id)?;
            return Ok(());
        };
        let command = String::from_utf8_lossy(data).into_owned();
        let sandbox = self.shared.sandbox.clone();
        let env = vec![
            ("HOME".to_string(), sandbox.display().to_string()),
            ("USER".to_string(), DEMO_USER.to_string()),
        ];
        let child = match spawn_shell(&command, Some(&sandbox), &env) {
            Ok(c) => c,
            Err(_) => {
                session.channel_failure(id)?;
                return Ok(());
            }
        };
        session.channel_success(id)?;
        if let (Some(pid), Ok(mut pids)) = (child.id(), self.pids.lock()) {
            pids.insert(id, pid);
        }
        let handle = session.handle();
        let pids = self.pids.clone();
        tokio::spawn(async move {
            pump(child, channel, handle, id).await;
            if let Ok(mut p) = pids.lock() {
                p.remove(&id);
            }
        });
        Ok(())
    }

    async fn channel_close(
        &mut self,
        id: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The client gave up on the command: end it, as sshd's SIGHUP would.
        let pid = self.pids.lock().ok().and_then(|p| p.get(&id).copied());
        signal_group(pid, "KILL");
        self.channels.remove(&id);
        Ok(())
    }
}

/// Copy the child's output into the channel (respecting the client's window), then report
/// its exit and close.
async fn pump(
    mut child: tokio::process::Child,
    channel: Channel<Msg>,
    handle: server::Handle,
    id: ChannelId,
) {
    let (mut rd, wr) = channel.split();
    // Read what the client sends so the session never backs up; signal requests arrive here
    // (the channel is ours, not the handler's) and go to the command's process group.
    let pid = child.id();
    // The client's data is the command's stdin; its EOF closes it, as sshd does.
    let mut stdin = child.stdin.take();
    let drain = tokio::spawn(async move {
        while let Some(msg) = rd.wait().await {
            match msg {
                russh::ChannelMsg::Signal { signal } => {
                    if let Some(name) = sig_name(&signal) {
                        signal_group(pid, name);
                    }
                }
                russh::ChannelMsg::Data { data } => {
                    if let Some(w) = stdin.as_mut() {
                        let _ = tokio::io::AsyncWriteExt::write_all(w, &data).await;
                    }
                }
                russh::ChannelMsg::Eof => stdin = None,
                _ => {}
            }
        }
    });
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return;
    };
    let mut ob = vec![0u8; 32 * 1024];
    let mut eb = vec![0u8; 32 * 1024];
    let (mut o_open, mut e_open) = (true, true);
    while o_open || e_open {
        tokio::select! {
            n = out.read(&mut ob), if o_open => match n {
                Ok(0) | Err(_) => o_open = false,
                Ok(n) => if wr.data_bytes(ob[..n].to_vec()).await.is_err() { break },
            },
            n = err.read(&mut eb), if e_open => match n {
                Ok(0) | Err(_) => e_open = false,
                Ok(n) => if wr.extended_data_bytes(1, eb[..n].to_vec()).await.is_err() { break },
            },
        }
    }
    let status = child.wait().await.map(exit_info).ok();
    match status {
        Some(crate::exec::ExitInfo {
            status: Some(code), ..
        }) => {
            let _ = handle.exit_status_request(id, code).await;
        }
        Some(crate::exec::ExitInfo {
            signal: Some(sig), ..
        }) => {
            let s = match sig.as_str() {
                "INT" => Sig::INT,
                "TERM" => Sig::TERM,
                "KILL" => Sig::KILL,
                "HUP" => Sig::HUP,
                other => Sig::Custom(other.to_string()),
            };
            let _ = handle
                .exit_signal_request(id, s, false, String::new(), String::new())
                .await;
        }
        _ => {}
    }
    let _ = wr.eof().await;
    let _ = wr.close().await;
    drain.abort();
}

fn sig_name(s: &Sig) -> Option<&'static str> {
    match s {
        Sig::INT => Some("INT"),
        Sig::TERM => Some("TERM"),
        Sig::HUP => Some("HUP"),
        Sig::KILL => Some("KILL"),
        Sig::QUIT => Some("QUIT"),
        Sig::USR1 => Some("USR1"),
        _ => None,
    }
}
