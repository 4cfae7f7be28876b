//! Commands on a remote host through russh, with OpenSSH's trust rules: the host key is checked
//! against known_hosts (or a pinned key) before any authentication is attempted, and one
//! connection per target is kept and reused, reconnecting after a drop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures::future::BoxFuture;
use russh::client::{self, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, MethodKind, Sig};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use super::known_hosts::{HostKeyStatus, KnownHosts, append_known_host};
use super::ssh_config::StrictHostKeyChecking;
use super::{
    Cancel, ConnectError, ConnectErrorKind, ExecEvent, ExecRequest, Executor, ExitInfo,
    HostKeyQuestion, HostKeySeen, Prompter, PtySize, StopAction, StopStage, Stopper, Trust,
    TrustDecision, sleep_until_opt,
};

/// Channel window and packet sizes. A large client window keeps a fast sender streaming
/// instead of waiting for window adjustments (see russh issue #770); packets stay below the
/// 64 KiB that OpenSSH accepts.
const WINDOW_SIZE: u32 = 16 * 1024 * 1024;
const MAX_PACKET: u32 = 32 * 1024;

#[derive(Clone)]
pub enum Identity {
    File(PathBuf),
    Key(Arc<PrivateKey>),
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::File(p) => write!(f, "File({})", p.display()),
            Identity::Key(k) => write!(f, "Key({})", k.fingerprint(HashAlg::Sha256)),
        }
    }
}

/// Everything needed to reach and trust one host: built from the runbook target, the ssh
/// config and the command line (see `exec::target`).
#[derive(Debug, Clone)]
pub struct SshParams {
    pub target: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub known_hosts: Vec<PathBuf>,
    pub strict: StrictHostKeyChecking,
    /// When set, the only key accepted (the demo host, tests); known_hosts is not consulted.
    pub pinned: Option<PublicKey>,
    pub identities: Vec<Identity>,
    /// Default key names (`~/.ssh/id_*`) are tried only if present and not explicitly listed.
    pub identities_only: bool,
    pub use_agent: bool,
    /// The agent's socket (`IdentityAgent`); `None` means `$SSH_AUTH_SOCK`.
    pub agent: Option<PathBuf>,
    /// Hosts to hop through, outermost first, each with its own trust rules.
    pub jumps: Vec<SshParams>,
    pub connect_timeout: Duration,
    pub keepalive: Option<Duration>,
    pub keepalive_max: usize,
}

impl SshParams {
    pub fn endpoint(&self) -> String {
        if self.port == 22 {
            format!("{}@{}", self.user, self.host)
        } else {
            format!("{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

type Verdict = Arc<StdMutex<Option<Result<HostKeySeen, String>>>>;

struct Checker {
    params: SshParams,
    prompter: Arc<dyn Prompter>,
    verdict: Verdict,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let result = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                decide(&self.params, &*self.prompter, key).await
            }
            PublicKeyOrCertificate::Certificate(_) => {
                Err("the host offered a certificate; rehearse checks plain host keys only".into())
            }
        };
        let trusted = result.is_ok();
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(result);
        }
        Ok(trusted)
    }
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn algorithm(key: &PublicKey) -> String {
    key.algorithm().as_str().to_string()
}

/// Should we trust `key` for this host? `Ok` says how; `Err` is the refusal shown to the user.
async fn decide(
    p: &SshParams,
    prompter: &dyn Prompter,
    key: &PublicKey,
) -> Result<HostKeySeen, String> {
    let seen = |trust| HostKeySeen {
        host: p.host.clone(),
        port: p.port,
        algorithm: algorithm(key),
        fingerprint: fingerprint(key),
        trust,
    };
    let name = super::known_hosts::host_pattern_for(&p.host, p.port);
    if let Some(pinned) = &p.pinned {
        return if pinned.key_data() == key.key_data() {
            Ok(seen(Trust::Pinned))
        } else {
            Err(format!(
                "host key for {name} does not match the pinned key: offered {} {}, pinned {} {}; refusing before authentication",
                algorithm(key),
                fingerprint(key),
                algorithm(pinned),
                fingerprint(pinned)
            ))
        };
    }
    let known =
        KnownHosts::load(&p.known_hosts).map_err(|e| format!("cannot read known_hosts: {e}"))?;
    match known.check(&p.host, p.port, key) {
        HostKeyStatus::Known { .. } => Ok(seen(Trust::Known)),
        HostKeyStatus::Revoked { file, line } => Err(format!(
            "host key {} {} for {name} is marked @revoked in {}:{line}; refusing",
            algorithm(key),
            fingerprint(key),
            file.display()
        )),
        HostKeyStatus::Changed { known } => {
            let listed: Vec<String> = known
                .iter()
                .map(|k| {
                    format!(
                        "{} {} ({}:{})",
                        k.algorithm,
                        k.fingerprint,
                        k.file.display(),
                        k.line
                    )
                })
                .collect();
            Err(format!(
                "HOST KEY CHANGED for {name}: the host offered {} {}, but known_hosts holds {}. \
                 Refusing before authentication; nothing was sent. If the change is expected, \
                 remove the old entry (ssh-keygen -R '{name}') and connect again.",
                algorithm(key),
                fingerprint(key),
                listed.join(", ")
            ))
        }
        HostKeyStatus::Unknown => {
            let save_to = p.known_hosts.first().cloned();
            let decision = match p.strict {
                StrictHostKeyChecking::Yes => {
                    return Err(format!(
                        "unknown host key for {name}: {} {} (StrictHostKeyChecking yes); refusing",
                        algorithm(key),
                        fingerprint(key)
                    ));
                }
                StrictHostKeyChecking::AcceptNew => TrustDecision::AcceptAndSave,
                StrictHostKeyChecking::Ask | StrictHostKeyChecking::No => {
                    prompter
                        .host_key(HostKeyQuestion {
                            target: p.target.clone(),
                            host: p.host.clone(),
                            port: p.port,
                            algorithm: algorithm(key),
                            fingerprint: fingerprint(key),
                            known_hosts: save_to.clone(),
                        })
                        .await
                }
            };
            match decision {
                TrustDecision::Refuse => Err(format!(
                    "unknown host key for {name}: {} {}; not trusted (use --accept-new-host-key, or answer the prompt in the TUI)",
                    algorithm(key),
                    fingerprint(key)
                )),
                TrustDecision::AcceptOnce => Ok(seen(Trust::AcceptedOnce)),
                TrustDecision::AcceptAndSave => {
                    let file = save_to.ok_or("no known_hosts file to save the key in")?;
                    append_known_host(&file, &p.host, p.port, key)
                        .map_err(|e| format!("cannot save the host key: {e}"))?;
                    Ok(seen(Trust::AcceptedSaved))
                }
            }
        }
    }
}

fn client_config(p: &SshParams) -> Arc<client::Config> {
    Arc::new(client::Config {
        window_size: WINDOW_SIZE,
        maximum_packet_size: MAX_PACKET,
        // A long step may print nothing for an hour: never time out for inactivity, detect
        // dead peers with keepalives instead.
        inactivity_timeout: None,
        keepalive_interval: p.keepalive.or(Some(Duration::from_secs(15))),
        keepalive_max: p.keepalive_max.max(1),
        nodelay: true,
        ..Default::default()
    })
}

pub struct Connection {
    handle: Handle<Checker>,
    /// Jump-host connections the main one tunnels through; kept alive with it.
    hops: Vec<Handle<Checker>>,
    seen: Vec<HostKeySeen>,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.hops.iter().any(Handle::is_closed)
    }
}

fn refused(verdict: &Verdict, err: &russh::Error, p: &SshParams) -> ConnectError {
    if let Ok(v) = verdict.lock() {
        if let Some(Err(why)) = v.as_ref() {
            return ConnectError {
                kind: ConnectErrorKind::HostKey,
                message: why.clone(),
            };
        }
    }
    ConnectError {
        kind: ConnectErrorKind::Protocol,
        message: format!("SSH handshake with {} failed: {err}", p.endpoint()),
    }
}

/// Connect (through any jump hosts), check the host key, authenticate.
async fn connect(p: &SshParams, prompter: Arc<dyn Prompter>) -> Result<Connection, ConnectError> {
    let mut hops = Vec::new();
    let mut seen = Vec::new();
    let mut via: Option<Handle<Checker>> = None;
    for hop in p.jumps.iter().chain(std::iter::once(p)) {
        let verdict: Verdict = Arc::default();
        let checker = Checker {
            params: hop.clone(),
            prompter: prompter.clone(),
            verdict: verdict.clone(),
        };
        let config = client_config(hop);
        let handshake = async {
            match via.take() {
                None => {
                    let tcp = TcpStream::connect((hop.host.as_str(), hop.port))
                        .await
                        .map_err(|e| ConnectError {
                            kind: ConnectErrorKind::Unreachable,
                            message: format!("cannot reach {}: {e}", hop.endpoint()),
                        })?;
                    let _ = tcp.set_nodelay(true);
                    client::connect_stream(config, tcp, checker)
                        .await
                        .map_err(|e| refused(&verdict, &e, hop))
                }
                Some(jump) => {
                    let ch = jump
                        .channel_open_direct_tcpip(
                            hop.host.clone(),
                            u32::from(hop.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| ConnectError {
                            kind: ConnectErrorKind::Unreachable,
                            message: format!("jump host cannot reach {}: {e}", hop.endpoint()),
                        })?;
                    hops.push(jump);
                    client::connect_stream(config, ch.into_stream(), checker)
                        .await
                        .map_err(|e| refused(&verdict, &e, hop))
                }
            }
        };
        let mut handle = tokio::time::timeout(hop.connect_timeout, handshake)
            .await
            .map_err(|_| ConnectError {
                kind: ConnectErrorKind::Unreachable,
                message: format!(
                    "connecting to {} timed out after {:?}",
                    hop.endpoint(),
                    hop.connect_timeout
                ),
            })??;
        if let Ok(Some(Ok(s))) = verdict.lock().map(|v| v.clone()) {
            seen.push(s);
        }
        authenticate(&mut handle, hop, &*prompter).await?;
        via = Some(handle);
    }
    let handle = via.ok_or(ConnectError {
        kind: ConnectErrorKind::Protocol,
        message: "no host".into(),
    })?;
    Ok(Connection { handle, hops, seen })
}

fn method_names(m: &[MethodKind]) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|k| <&str>::from(k))
        .collect::<Vec<_>>()
        .join(",")
}

fn auth_io(p: &SshParams, e: impl std::fmt::Display) -> ConnectError {
    ConnectError {
        kind: ConnectErrorKind::Protocol,
        message: format!("{}: authentication broke off: {e}", p.endpoint()),
    }
}

/// Try the agent, then identity files, then password and keyboard-interactive if the server
/// offers them, as OpenSSH does. On failure, name what was tried and what the server accepts.
async fn authenticate(
    h: &mut Handle<Checker>,
    p: &SshParams,
    prompter: &dyn Prompter,
) -> Result<(), ConnectError> {
    use russh::client::AuthResult;
    let mut tried: Vec<String> = Vec::new();
    // Why something the user may expect was not tried.
    let mut notes: Vec<String> = Vec::new();
    let mut methods = match h
        .authenticate_none(&p.user)
        .await
        .map_err(|e| auth_io(p, e))?
    {
        AuthResult::Success => return Ok(()),
        AuthResult::Failure {
            remaining_methods, ..
        } => remaining_methods.to_vec(),
    };
    let rsa_hash = h.best_supported_rsa_hash().await.ok().flatten().flatten();

    if methods.contains(&MethodKind::PublicKey) {
        let explicit: Vec<PublicKey> = p
            .identities
            .iter()
            .filter_map(|i| match i {
                Identity::Key(k) => Some(k.public_key().clone()),
                Identity::File(f) => public_key_beside(f),
            })
            .collect();
        if p.use_agent {
            let agent = match &p.agent {
                Some(sock) => AgentClient::connect_uds(sock)
                    .await
                    .map_err(|e| format!("agent {}: {e}", sock.display())),
                // No agent configured at all is normal, not worth a note.
                None if std::env::var_os("SSH_AUTH_SOCK").is_none() => Err(String::new()),
                None => AgentClient::connect_env()
                    .await
                    .map_err(|e| format!("agent ($SSH_AUTH_SOCK): {e}")),
            };
            match agent {
                Err(why) if why.is_empty() => {}
                Err(why) => notes.push(why),
                Ok(mut agent) => {
                    let ids = match agent.request_identities().await {
                        Ok(ids) => ids,
                        Err(e) => {
                            notes.push(format!("the agent did not list its keys: {e}"));
                            Vec::new()
                        }
                    };
                    let mut skipped = 0;
                    for id in ids {
                        let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else {
                            continue;
                        };
                        if p.identities_only
                            && !explicit.iter().any(|e| e.key_data() == key.key_data())
                        {
                            skipped += 1;
                            continue;
                        }
                        tried.push(format!("publickey (agent {})", fingerprint(&key)));
                        let r = h
                            .authenticate_publickey_with(&p.user, key.clone(), rsa_hash, &mut agent)
                            .await
                            .map_err(|e| auth_io(p, format!("{e:?}")))?;
                        match r {
                            AuthResult::Success => return Ok(()),
                            AuthResult::Failure {
                                remaining_methods, ..
                            } => methods = remaining_methods.to_vec(),
                        }
                    }
                    if skipped > 0 {
                        notes.push(format!(
                            "{skipped} agent key(s) not offered because of IdentitiesOnly"
                        ));
                    }
                }
            }
        }
        for id in &p.identities {
            let (label, key) = match id {
                Identity::Key(k) => (
                    format!("publickey (key {})", k.fingerprint(HashAlg::Sha256)),
                    Some(k.clone()),
                ),
                Identity::File(f) => (
                    format!("publickey ({})", f.display()),
                    load_key(f, prompter, &mut notes).await?,
                ),
            };
            let Some(key) = key else { continue };
            tried.push(label);
            let r = h
                .authenticate_publickey(&p.user, PrivateKeyWithHashAlg::new(key, rsa_hash))
                .await
                .map_err(|e| auth_io(p, e))?;
            match r {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure {
                    remaining_methods, ..
                } => methods = remaining_methods.to_vec(),
            }
        }
    }
    if methods.contains(&MethodKind::KeyboardInteractive) {
        tried.push("keyboard-interactive".into());
        if keyboard_interactive(h, p, prompter).await? {
            return Ok(());
        }
    } else if methods.contains(&MethodKind::Password) {
        match prompter
            .secret(format!("Password for {}", p.endpoint()))
            .await
        {
            Some(pw) => {
                tried.push("password".into());
                let r = h
                    .authenticate_password(&p.user, pw.expose())
                    .await
                    .map_err(|e| auth_io(p, e))?;
                if r.success() {
                    return Ok(());
                }
            }
            None => notes.push("no password given".into()),
        }
    }
    Err(ConnectError {
        kind: ConnectErrorKind::Auth,
        message: format!(
            "authentication failed for {}: tried {}; the server accepts {}{}",
            p.endpoint(),
            if tried.is_empty() {
                "nothing (no usable key, no agent key)".to_string()
            } else {
                tried.join(", ")
            },
            method_names(&methods),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        ),
    })
}

async fn keyboard_interactive(
    h: &mut Handle<Checker>,
    p: &SshParams,
    prompter: &dyn Prompter,
) -> Result<bool, ConnectError> {
    use russh::client::KeyboardInteractiveAuthResponse as R;
    let mut resp = h
        .authenticate_keyboard_interactive_start(&p.user, None)
        .await
        .map_err(|e| auth_io(p, e))?;
    for _ in 0..8 {
        match resp {
            R::Success => return Ok(true),
            R::Failure { .. } => return Ok(false),
            R::InfoRequest { prompts, .. } => {
                let mut answers = Vec::new();
                for pr in prompts {
                    match prompter
                        .secret(format!("{} ({})", pr.prompt.trim(), p.endpoint()))
                        .await
                    {
                        Some(a) => answers.push(a.expose().to_string()),
                        None => return Ok(false),
                    }
                }
                resp = h
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(|e| auth_io(p, e))?;
            }
        }
    }
    Ok(false)
}

fn public_key_beside(private: &std::path::Path) -> Option<PublicKey> {
    let mut pubp = private.as_os_str().to_owned();
    pubp.push(".pub");
    let text = std::fs::read_to_string(PathBuf::from(pubp)).ok()?;
    PublicKey::from_openssh(text.trim()).ok()
}

/// Read an identity file, asking for its passphrase (masked) when it is encrypted.
/// A missing file is skipped (OpenSSH tries default names that may not exist); one that cannot
/// be used is skipped with a note for the failure message.
async fn load_key(
    path: &std::path::Path,
    prompter: &dyn Prompter,
    notes: &mut Vec<String>,
) -> Result<Option<Arc<PrivateKey>>, ConnectError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            notes.push(format!("cannot read {}: {e}", path.display()));
            return Ok(None);
        }
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => return Ok(Some(Arc::new(k))),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => {
            tracing::warn!("skipping identity {}: {e}", path.display());
            notes.push(format!(
                "{} is not a usable private key: {e}",
                path.display()
            ));
            return Ok(None);
        }
    }
    for _ in 0..3 {
        let Some(pass) = prompter
            .secret(format!("Passphrase for {}", path.display()))
            .await
        else {
            notes.push(format!("no passphrase given for {}", path.display()));
            return Ok(None);
        };
        if let Ok(k) = russh::keys::decode_secret_key(&text, Some(pass.expose())) {
            return Ok(Some(Arc::new(k)));
        }
    }
    Err(ConnectError {
        kind: ConnectErrorKind::Auth,
        message: format!("wrong passphrase for {} (3 tries)", path.display()),
    })
}

/// An executor for one SSH target. The connection is opened on first use and kept.
pub struct SshExecutor {
    params: SshParams,
    prompter: Arc<dyn Prompter>,
    conn: Mutex<Option<Arc<Connection>>>,
    up: Arc<AtomicBool>,
    pty_size: StdMutex<Option<PtySize>>,
    resize_tx: StdMutex<Option<mpsc::UnboundedSender<PtySize>>>,
}

impl SshExecutor {
    pub fn new(params: SshParams, prompter: Arc<dyn Prompter>) -> Self {
        SshExecutor {
            params,
            prompter,
            conn: Mutex::new(None),
            up: Arc::new(AtomicBool::new(false)),
            pty_size: StdMutex::new(None),
            resize_tx: StdMutex::new(None),
        }
    }

    pub fn params(&self) -> &SshParams {
        &self.params
    }

    /// The kept connection, or a new one (reporting its host keys on `tx`).
    async fn connection(
        &self,
        tx: &mpsc::Sender<ExecEvent>,
    ) -> Result<Arc<Connection>, ConnectError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        *slot = None;
        self.up.store(false, Ordering::Relaxed);
        let c = Arc::new(connect(&self.params, self.prompter.clone()).await?);
        for s in &c.seen {
            let _ = tx.send(ExecEvent::Connected(s.clone())).await;
        }
        self.up.store(true, Ordering::Relaxed);
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn drop_connection(&self) {
        *self.conn.lock().await = None;
        self.up.store(false, Ordering::Relaxed);
    }

    async fn run_inner(
        &self,
        req: ExecRequest,
        tx: &mpsc::Sender<ExecEvent>,
        cancel: &Cancel,
    ) -> ExecEvent {
        let conn = match self.connection(tx).await {
            Ok(c) => c,
            Err(e) => return ExecEvent::Failed(e),
        };
        let mut channel = match conn.handle.channel_open_session().await {
            Ok(ch) => ch,
            Err(_) => {
                // The kept connection died quietly: reconnect once.
                self.drop_connection().await;
                let conn = match self.connection(tx).await {
                    Ok(c) => c,
                    Err(e) => return ExecEvent::Failed(e),
                };
                match conn.handle.channel_open_session().await {
                    Ok(ch) => ch,
                    Err(e) => {
                        return ExecEvent::ConnectionLost {
                            reason: format!("cannot open a channel: {e}"),
                        };
                    }
                }
            }
        };
        let (resize_tx, mut resize_rx) = mpsc::unbounded_channel();
        if let Some(size) = req.pty {
            let size = self.pty_size.lock().ok().and_then(|s| *s).unwrap_or(size);
            if let Err(e) = channel
                .request_pty(
                    true,
                    "xterm-256color",
                    u32::from(size.cols),
                    u32::from(size.rows),
                    0,
                    0,
                    &[],
                )
                .await
            {
                return ExecEvent::ConnectionLost {
                    reason: format!("PTY request failed: {e}"),
                };
            }
            if let Ok(mut r) = self.resize_tx.lock() {
                *r = Some(resize_tx);
            }
        }
        if let Err(e) = channel.exec(true, req.command.expose().as_bytes()).await {
            return ExecEvent::ConnectionLost {
                reason: format!("exec failed: {e}"),
            };
        }
        let _ = tx.send(ExecEvent::Started).await;

        let timeout_at = tokio::time::Instant::now() + req.timeout;
        let mut stop: Option<Stopper> = None;
        let mut exit = ExitInfo {
            status: None,
            signal: None,
        };
        let mut got_exit = false;
        let mut closed_cleanly = false;
        loop {
            tokio::select! {
                msg = channel.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => { let _ = tx.send(ExecEvent::Stdout(data.to_vec())).await; }
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => { let _ = tx.send(ExecEvent::Stderr(data.to_vec())).await; }
                    Some(ChannelMsg::ExitStatus { exit_status }) => { exit.status = Some(exit_status); got_exit = true; }
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        exit.signal = Some(sig_name(&signal_name));
                        got_exit = true;
                    }
                    Some(ChannelMsg::Close) => { closed_cleanly = true; break; }
                    Some(_) => {}
                    // Data can follow the exit status: only the channel's end ends the read.
                    None => break,
                },
                () = cancel.cancelled(), if stop.is_none() => {
                    let _ = channel.signal(Sig::INT).await;
                    stop = Some(Stopper::begin(false, req.grace));
                }
                () = tokio::time::sleep_until(timeout_at), if stop.is_none() => {
                    let _ = channel.signal(Sig::INT).await;
                    stop = Some(Stopper::begin(true, req.grace));
                }
                () = sleep_until_opt(stop.map(|s| s.deadline)), if stop.is_some() => {
                    if let Some(s) = stop.as_mut() {
                        if s.stage == StopStage::Closed {
                            break;
                        }
                        match s.advance() {
                            StopAction::Signal(_) => { let _ = channel.signal(Sig::TERM).await; }
                            StopAction::Close => { let _ = channel.close().await; }
                        }
                    }
                }
                Some(size) = resize_rx.recv() => {
                    let _ = channel.window_change(u32::from(size.cols), u32::from(size.rows), 0, 0).await;
                }
            }
        }
        if let Ok(mut r) = self.resize_tx.lock() {
            *r = None;
        }
        let exit = got_exit.then_some(exit);
        if let Some(s) = stop {
            return s.event(exit);
        }
        match exit {
            Some(e) => ExecEvent::Finished(e),
            None if !closed_cleanly || conn.handle.is_closed() => {
                self.up.store(false, Ordering::Relaxed);
                ExecEvent::ConnectionLost {
                    reason: format!("connection to {} lost", self.params.endpoint()),
                }
            }
            None => ExecEvent::Finished(ExitInfo {
                status: None,
                signal: None,
            }),
        }
    }
}

fn sig_name(s: &Sig) -> String {
    format!("{s:?}")
        .trim_start_matches("Custom(\"")
        .trim_end_matches("\")")
        .to_string()
}

impl Executor for SshExecutor {
    fn run(
        &self,
        req: ExecRequest,
        tx: mpsc::Sender<ExecEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let end = self.run_inner(req, &tx, &cancel).await;
            let _ = tx.send(end).await;
        })
    }

    fn describe(&self) -> String {
        self.params.endpoint()
    }

    fn connected(&self) -> bool {
        // The flag alone would only change when a command notices: look at the connection.
        match self.conn.try_lock() {
            Ok(slot) => slot.as_ref().is_some_and(|c| !c.is_closed()),
            Err(_) => self.up.load(Ordering::Relaxed),
        }
    }

    fn resize(&self, size: PtySize) {
        if let Ok(mut s) = self.pty_size.lock() {
            *s = Some(size);
        }
        if let Ok(r) = self.resize_tx.lock() {
            if let Some(tx) = r.as_ref() {
                let _ = tx.send(size);
            }
        }
    }
}
