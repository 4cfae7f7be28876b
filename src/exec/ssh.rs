//! Commands on a remote host through russh, with OpenSSH's trust rules: the host key is checked
//! against known_hosts (or a pinned key) before any authentication is attempted, and one
//! connection per target is kept and reused, reconnecting after a drop. Stopping a command
//! signals its whole process group on the host (see `GROUP_TAG`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures::future::BoxFuture;
use russh::client::{self, AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{
    Algorithm, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate,
};
use russh::{ChannelMsg, MethodKind, Preferred, Sig};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, watch};

use super::known_hosts::{HostKeyStatus, KnownHosts, append_known_host};
use super::ssh_config::StrictHostKeyChecking;
use super::{
    Cancel, ConnectError, ConnectErrorKind, ExecEvent, ExecRequest, Executor, ExitInfo,
    HostKeyQuestion, HostKeySeen, Prompter, PtySize, StopAction, StopStage, Stopper, Trust,
    TrustDecision, sleep_until_opt,
};

/// Channel window and packet sizes. russh's client only ever uses `Config::window_size` as its
/// receive window (`Handler::adjust_window` has no effect, russh issue #770), so it is set here:
/// large, so a fast sender streams instead of waiting for window adjustments. The server sends
/// data packets up to `MAX_PACKET`; 64 KiB halves the per-packet work of OpenSSH's 32 KiB
/// default, which showed in the runner's throughput. Memory stays bounded either way: russh
/// queues at most `channel_buffer_size` packets per channel before it stops reading the socket.
const WINDOW_SIZE: u32 = 16 * 1024 * 1024;
const MAX_PACKET: u32 = 64 * 1024;

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
    /// OpenSSH's `IdentitiesOnly`: agent keys are offered only if they match `identities`.
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
    /// Set while the host key is being decided, which may mean a person is reading a prompt:
    /// that time does not count against the connect timeout.
    asking: Arc<AtomicBool>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let result = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                self.asking.store(true, Ordering::SeqCst);
                let r = decide(&self.params, &*self.prompter, key).await;
                self.asking.store(false, Ordering::SeqCst);
                r
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

/// russh's host key algorithms, those known for this host first (OpenSSH's order_hostkeyalgs).
/// Otherwise a host holding an ed25519 and an ECDSA key, known by the ECDSA one, would offer
/// ed25519 and look changed.
fn host_key_order(p: &SshParams) -> Vec<Algorithm> {
    let known = match &p.pinned {
        Some(k) => vec![k.algorithm()],
        // An unreadable file is reported by `decide`; the default order does until then.
        None => KnownHosts::load(&p.known_hosts)
            .map(|k| k.known_algorithms(&p.host, p.port))
            .unwrap_or_default(),
    };
    // Any RSA key verifies with every RSA signature hash.
    let alike = |a: &Algorithm, b: &Algorithm| {
        a == b || matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }))
    };
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = Preferred::DEFAULT
        .key
        .iter()
        .cloned()
        .partition(|a| known.iter().any(|k| alike(a, k)));
    first.sort_by_key(|a| known.iter().position(|k| alike(a, k)));
    first.extend(rest);
    first
}

fn client_config(p: &SshParams) -> Arc<client::Config> {
    Arc::new(client::Config {
        preferred: Preferred {
            key: host_key_order(p).into(),
            ..Preferred::DEFAULT
        },
        window_size: WINDOW_SIZE,
        maximum_packet_size: MAX_PACKET,
        // A long step may print nothing for an hour: never time out for inactivity, detect
        // dead peers with keepalives instead.
        inactivity_timeout: None,
        keepalive_interval: p
            .keepalive
            .filter(|d| !d.is_zero())
            .or(Some(Duration::from_secs(15))),
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
    /// The login shell is POSIX-like: commands can report their process group (see `stop`).
    group_marker: bool,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.hops.iter().any(Handle::is_closed)
    }
}

fn refused(verdict: &Verdict, err: &russh::Error, p: &SshParams) -> ConnectError {
    if let Ok(v) = verdict.lock()
        && let Some(Err(why)) = v.as_ref()
    {
        return ConnectError {
            kind: ConnectErrorKind::HostKey,
            message: why.clone(),
        };
    }
    ConnectError {
        kind: ConnectErrorKind::Protocol,
        message: format!("SSH handshake with {} failed: {err}", p.endpoint()),
    }
}

fn timed_out(hop: &SshParams, stage: &str) -> ConnectError {
    ConnectError {
        kind: ConnectErrorKind::Unreachable,
        message: format!(
            "connecting to {} timed out after {} ({stage})",
            hop.endpoint(),
            humantime::format_duration(hop.connect_timeout)
        ),
    }
}

/// Await `fut` within the hop's connect timeout, not counting time spent deciding on the host
/// key (a person may be reading the fingerprint).
async fn within_connect_timeout<T>(
    hop: &SshParams,
    asking: &AtomicBool,
    stage: &str,
    fut: impl std::future::Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    tokio::pin!(fut);
    let mut deadline = tokio::time::Instant::now() + hop.connect_timeout;
    loop {
        tokio::select! {
            r = &mut fut => return r,
            () = tokio::time::sleep_until(deadline) => {
                if !asking.load(Ordering::SeqCst) {
                    return Err(timed_out(hop, stage));
                }
                deadline = tokio::time::Instant::now() + hop.connect_timeout;
            }
        }
    }
}

/// Connect (through any jump hosts), check the host key, authenticate.
async fn connect(p: &SshParams, prompter: Arc<dyn Prompter>) -> Result<Connection, ConnectError> {
    let mut hops = Vec::new();
    let mut seen = Vec::new();
    let mut via: Option<Handle<Checker>> = None;
    for hop in p.jumps.iter().chain(std::iter::once(p)) {
        let verdict: Verdict = Arc::default();
        let asking = Arc::new(AtomicBool::new(false));
        let checker = Checker {
            params: hop.clone(),
            prompter: prompter.clone(),
            verdict: verdict.clone(),
            asking: asking.clone(),
        };
        let config = client_config(hop);
        let mut handle = match via.take() {
            None => {
                let tcp = tokio::time::timeout(
                    hop.connect_timeout,
                    TcpStream::connect((hop.host.as_str(), hop.port)),
                )
                .await
                .map_err(|_| timed_out(hop, "no TCP connection"))?
                .map_err(|e| ConnectError {
                    kind: ConnectErrorKind::Unreachable,
                    message: format!("cannot reach {}: {e}", hop.endpoint()),
                })?;
                let _ = tcp.set_nodelay(true);
                let handshake = async {
                    client::connect_stream(config, tcp, checker)
                        .await
                        .map_err(|e| refused(&verdict, &e, hop))
                };
                within_connect_timeout(
                    hop,
                    &asking,
                    "TCP connected, but no SSH handshake",
                    handshake,
                )
                .await?
            }
            Some(jump) => {
                let ch = tokio::time::timeout(
                    hop.connect_timeout,
                    jump.channel_open_direct_tcpip(
                        hop.host.clone(),
                        u32::from(hop.port),
                        "127.0.0.1",
                        0,
                    ),
                )
                .await
                .map_err(|_| timed_out(hop, "the jump host did not open a tunnel"))?
                .map_err(|e| ConnectError {
                    kind: ConnectErrorKind::Unreachable,
                    message: format!("the jump host cannot reach {}: {e}", hop.endpoint()),
                })?;
                hops.push(jump);
                let handshake = async {
                    client::connect_stream(config, ch.into_stream(), checker)
                        .await
                        .map_err(|e| refused(&verdict, &e, hop))
                };
                within_connect_timeout(hop, &asking, "tunnel open, but no SSH handshake", handshake)
                    .await?
            }
        };
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
    let group_marker = probe_group_marker(&handle).await;
    Ok(Connection {
        handle,
        hops,
        seen,
        group_marker,
    })
}

/// Did the server accept? If not, keep the methods it says may still work.
fn accepted(r: AuthResult, methods: &mut Vec<MethodKind>) -> bool {
    match r {
        AuthResult::Success => true,
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            *methods = remaining_methods.to_vec();
            false
        }
    }
}

fn method_names(m: &[MethodKind]) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(<&str>::from).collect::<Vec<_>>().join(",")
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
    let mut tried: Vec<String> = Vec::new();
    // Why something the user may expect was not tried.
    let mut notes: Vec<String> = Vec::new();
    // "none" first: it tells us which methods the server offers.
    let mut methods = Vec::new();
    if accepted(
        h.authenticate_none(&p.user)
            .await
            .map_err(|e| auth_io(p, e))?,
        &mut methods,
    ) {
        return Ok(());
    }
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
            let sock = p
                .agent
                .clone()
                .or_else(|| std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from));
            // No agent at all is normal and not worth a note; one that does not answer is.
            let agent = match &sock {
                None => None,
                Some(sock) => Some(
                    AgentClient::connect_uds(sock)
                        .await
                        .map_err(|e| format!("agent {}: {e}", sock.display())),
                ),
            };
            match agent {
                None => {}
                Some(Err(why)) => notes.push(why),
                Some(Ok(mut agent)) => {
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
                        if accepted(r, &mut methods) {
                            return Ok(());
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
            if accepted(r, &mut methods) {
                return Ok(());
            }
        }
    }
    if methods.contains(&MethodKind::KeyboardInteractive) {
        tried.push("keyboard-interactive".into());
        match keyboard_interactive(h, p, prompter, &methods).await? {
            None => return Ok(()),
            Some(remaining) => methods = remaining,
        }
    }
    // OpenSSH's order: keyboard-interactive, then password.
    if methods.contains(&MethodKind::Password) {
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
                if accepted(r, &mut methods) {
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

/// `None` once authenticated; otherwise the methods the server still accepts.
async fn keyboard_interactive(
    h: &mut Handle<Checker>,
    p: &SshParams,
    prompter: &dyn Prompter,
    methods: &[MethodKind],
) -> Result<Option<Vec<MethodKind>>, ConnectError> {
    use russh::client::KeyboardInteractiveAuthResponse as R;
    let mut resp = h
        .authenticate_keyboard_interactive_start(&p.user, None)
        .await
        .map_err(|e| auth_io(p, e))?;
    // A server may ask any number of rounds; a bound keeps a broken one from looping forever.
    for _ in 0..8 {
        match resp {
            R::Success => return Ok(None),
            R::Failure {
                remaining_methods, ..
            } => return Ok(Some(remaining_methods.to_vec())),
            R::InfoRequest { prompts, .. } => {
                let mut answers = Vec::new();
                for pr in prompts {
                    match prompter
                        .secret(format!("{} ({})", pr.prompt.trim(), p.endpoint()))
                        .await
                    {
                        Some(a) => answers.push(a.expose().to_string()),
                        None => return Ok(Some(methods.to_vec())),
                    }
                }
                resp = h
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(|e| auth_io(p, e))?;
            }
        }
    }
    Ok(Some(methods.to_vec()))
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

/// Why stopping needs more than SSH's `signal` request: OpenSSH refuses it for root logins
/// ("session signalling requires privilege separation") and older servers ignore it, both
/// silently. So each command first prints its process group id behind a random tag (sshd puts
/// every session in its own group, `$$` being the leader), and INT, TERM and KILL go to the
/// whole group with `kill` over a second channel. The `signal` request is the fallback for
/// shells that cannot run the marker (probed once per connection) and before the id arrives.
const GROUP_TAG: &str = "\x1erehearse-pgid ";

/// The shell line printing the marker (`\036` is the tag's first byte, 0x1e).
fn marker_command(nonce: &str) -> String {
    format!("printf '\\036rehearse-pgid {nonce} %s\\n' \"$$\"")
}

/// Does this connection's login shell run the marker? One that cannot (fish has no `$$`) would
/// fail every prefixed command, so commands are only prefixed when this says yes. One round
/// trip per connection.
async fn probe_group_marker(handle: &Handle<Checker>) -> bool {
    let probe = async {
        let mut ch = handle.channel_open_session().await.ok()?;
        ch.exec(true, marker_command("probe")).await.ok()?;
        let mut filter = GroupMarker::new("probe");
        let mut status = None;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    filter.push(&data);
                }
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Some(status == Some(0) && filter.group.is_some())
    };
    tokio::time::timeout(Duration::from_secs(10), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Takes the marker line out of a command's stdout and keeps the group id it names. Bytes that
/// might be the start of the marker are held back until they prove otherwise.
struct GroupMarker {
    tag: Vec<u8>,
    held: Vec<u8>,
    done: bool,
    group: Option<u32>,
}

impl GroupMarker {
    fn new(nonce: &str) -> GroupMarker {
        GroupMarker {
            tag: format!("{GROUP_TAG}{nonce} ").into_bytes(),
            held: Vec::new(),
            done: false,
            group: None,
        }
    }

    /// A filter that has nothing to find (the command was not prefixed).
    fn off() -> GroupMarker {
        GroupMarker {
            tag: Vec::new(),
            held: Vec::new(),
            done: true,
            group: None,
        }
    }

    /// The bytes of `data` that belong to the command's output.
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if self.done {
            return data.to_vec();
        }
        self.held.extend_from_slice(data);
        if let Some(at) = find(&self.held, &self.tag) {
            let rest = &self.held[at + self.tag.len()..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > 24 {
                    return self.give_up();
                }
                let out = self.held[..at].to_vec();
                self.held.drain(..at);
                return out;
            };
            let digits = String::from_utf8_lossy(&rest[..nl]);
            // A PTY turns the newline into CR LF.
            self.group = digits
                .trim_end_matches('\r')
                .parse::<u32>()
                .ok()
                .filter(|&g| g > 1);
            let mut out = self.held[..at].to_vec();
            out.extend_from_slice(&rest[nl + 1..]);
            self.held.clear();
            self.done = true;
            return out;
        }
        // Keep the longest tail that could still become the tag.
        let keep = (1..self.tag.len().min(self.held.len() + 1))
            .rev()
            .find(|&n| self.held.ends_with(&self.tag[..n]))
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_vec();
        self.held.drain(..cut);
        out
    }

    fn give_up(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Send `sig` to the command: to its process group over a second channel when its id is known,
/// else with the channel's `signal` request. Never waits for `kill`: its reply could sit behind
/// output of this command that has not been read yet.
async fn send_signal(
    conn: &Arc<Connection>,
    channel: &russh::Channel<client::Msg>,
    group: Option<u32>,
    sig: Sig,
) {
    let Some(g) = group else {
        let _ = channel.signal(sig).await;
        return;
    };
    let name = sig_name(&sig);
    let conn = conn.clone();
    tokio::spawn(async move {
        if let Ok(mut ch) = conn.handle.channel_open_session().await
            && ch
                .exec(false, format!("kill -s {name} -- -{g}"))
                .await
                .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while ch.wait().await.is_some() {}
            })
            .await;
        }
    });
}

/// An executor for one SSH target. The connection is opened on first use and kept.
pub struct SshExecutor {
    params: SshParams,
    prompter: Arc<dyn Prompter>,
    conn: Mutex<Option<Arc<Connection>>>,
    up: AtomicBool,
    /// The terminal size running PTY commands follow; `None` until the first resize.
    pty_size: watch::Sender<Option<PtySize>>,
}

impl SshExecutor {
    pub fn new(params: SshParams, prompter: Arc<dyn Prompter>) -> Self {
        SshExecutor {
            params,
            prompter,
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
            pty_size: watch::channel(None).0,
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
        if let Some(c) = slot.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
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

    /// A session channel on the kept connection, reconnecting once if it died quietly.
    async fn open_channel(
        &self,
        tx: &mpsc::Sender<ExecEvent>,
    ) -> Result<(Arc<Connection>, russh::Channel<client::Msg>), ExecEvent> {
        let conn = self.connection(tx).await.map_err(ExecEvent::Failed)?;
        if let Ok(ch) = conn.handle.channel_open_session().await {
            return Ok((conn, ch));
        }
        self.drop_connection().await;
        let conn = self.connection(tx).await.map_err(ExecEvent::Failed)?;
        match conn.handle.channel_open_session().await {
            Ok(ch) => Ok((conn, ch)),
            Err(e) => Err(ExecEvent::ConnectionLost {
                reason: format!("cannot open a channel to {}: {e}", self.params.endpoint()),
            }),
        }
    }

    async fn run_inner(
        &self,
        req: ExecRequest,
        tx: &mpsc::Sender<ExecEvent>,
        cancel: &Cancel,
    ) -> ExecEvent {
        let (conn, mut channel) = match self.open_channel(tx).await {
            Ok(c) => c,
            Err(end) => return end,
        };
        let mut sizes = self.pty_size.subscribe();
        if let Some(asked) = req.pty {
            // A resize seen before this command started wins over the size it was given.
            let size = (*sizes.borrow_and_update()).unwrap_or(asked);
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
        }
        let (mut marker, command) = if conn.group_marker {
            let nonce = format!("{:016x}", rand::random::<u64>());
            // On the same line, so the command's own line numbers stay as written.
            let line = format!("{}; {}", marker_command(&nonce), req.command.expose());
            (GroupMarker::new(&nonce), line)
        } else {
            (GroupMarker::off(), req.command.expose().to_string())
        };
        if let Err(e) = channel.exec(true, command.into_bytes()).await {
            return ExecEvent::ConnectionLost {
                reason: format!("exec failed: {e}"),
            };
        }
        let _ = tx.send(ExecEvent::Started).await;
        // The server answers the PTY and exec requests in order; popped from the end.
        let mut replies: Vec<&str> = if req.pty.is_some() {
            vec!["exec", "pty"]
        } else {
            vec!["exec"]
        };

        let timeout_at = tokio::time::Instant::now() + req.timeout;
        let mut stop: Option<Stopper> = None;
        let mut closing = false;
        let mut exit = ExitInfo {
            status: None,
            signal: None,
        };
        let mut got_exit = false;
        let mut lost = false;
        loop {
            tokio::select! {
                msg = channel.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => {
                        let out = marker.push(&data);
                        if !out.is_empty() {
                            let _ = tx.send(ExecEvent::Stdout(out)).await;
                        }
                    }
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                        let _ = tx.send(ExecEvent::Stderr(data.to_vec())).await;
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        exit.status = Some(exit_status);
                        got_exit = true;
                    }
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        exit.signal = Some(sig_name(&signal_name));
                        got_exit = true;
                    }
                    Some(ChannelMsg::Success) => { replies.pop(); }
                    Some(ChannelMsg::Failure) => {
                        if replies.pop() == Some("exec") {
                            return ExecEvent::Failed(ConnectError {
                                kind: ConnectErrorKind::Protocol,
                                message: format!("{} refused to run the command", self.params.endpoint()),
                            });
                        }
                        tracing::warn!("{}: no PTY granted; running without one", self.params.endpoint());
                    }
                    Some(ChannelMsg::Close) => break,
                    Some(_) => {}
                    // The connection is gone. (Data can follow the exit status, so only the
                    // channel's end, or this, ends the read.)
                    None => { lost = true; break; }
                },
                () = cancel.cancelled(), if stop.is_none() => {
                    send_signal(&conn, &channel, marker.group, Sig::INT).await;
                    stop = Some(Stopper::begin(false, req.grace));
                }
                () = tokio::time::sleep_until(timeout_at), if stop.is_none() => {
                    send_signal(&conn, &channel, marker.group, Sig::INT).await;
                    stop = Some(Stopper::begin(true, req.grace));
                }
                () = sleep_until_opt(stop.map(|s| s.deadline)), if stop.is_some() => {
                    let Some(s) = stop.as_mut() else { continue };
                    if closing {
                        break; // closed a grace period ago, and still no word from the server
                    }
                    if s.stage == StopStage::Closed {
                        // KILL went to the group a grace period ago.
                        let _ = channel.close().await;
                        closing = true;
                        s.deadline = tokio::time::Instant::now() + req.grace;
                        continue;
                    }
                    match s.advance() {
                        StopAction::Signal(_) => {
                            send_signal(&conn, &channel, marker.group, Sig::TERM).await;
                        }
                        StopAction::Close if marker.group.is_some() => {
                            send_signal(&conn, &channel, marker.group, Sig::KILL).await;
                        }
                        StopAction::Close => {
                            let _ = channel.close().await;
                            closing = true;
                        }
                    }
                }
                Ok(()) = sizes.changed(), if req.pty.is_some() => {
                    let size = *sizes.borrow_and_update();
                    if let Some(size) = size {
                        let _ = channel.window_change(u32::from(size.cols), u32::from(size.rows), 0, 0).await;
                    }
                }
            }
        }
        let held = marker.give_up();
        if !held.is_empty() {
            let _ = tx.send(ExecEvent::Stdout(held)).await;
        }
        let exit = got_exit.then_some(exit);
        if lost && exit.is_none() {
            self.up.store(false, Ordering::Relaxed);
            return ExecEvent::ConnectionLost {
                reason: format!(
                    "connection to {} lost while the command was running",
                    self.params.endpoint()
                ),
            };
        }
        if let Some(s) = stop {
            return s.event(exit);
        }
        ExecEvent::Finished(exit.unwrap_or(ExitInfo {
            status: None,
            signal: None,
        }))
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
        self.pty_size.send_replace(Some(size));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn feed(m: &mut GroupMarker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(m.push(c));
        }
        out.extend(m.give_up());
        out
    }

    #[test]
    fn marker_is_removed_whole_or_split() {
        let line = b"\x1erehearse-pgid n1 4242\nhello\n";
        for split in 0..line.len() {
            let mut m = GroupMarker::new("n1");
            let out = feed(&mut m, &[&line[..split], &line[split..]]);
            assert_eq!(out, b"hello\n", "split at {split}");
            assert_eq!(m.group, Some(4242));
        }
    }

    #[test]
    fn marker_after_rc_noise_and_with_crlf() {
        let mut m = GroupMarker::new("n2");
        let out = feed(&mut m, &[b"motd\n\x1erehearse-pgid n2 77\r\nout"]);
        assert_eq!(out, b"motd\nout");
        assert_eq!(m.group, Some(77));
    }

    #[test]
    fn output_without_marker_passes_untouched() {
        let mut m = GroupMarker::new("n3");
        let out = feed(&mut m, &[b"\x1erehearse", b"-pgid other 5\n", b"tail"]);
        assert_eq!(out, b"\x1erehearse-pgid other 5\ntail");
        assert_eq!(m.group, None);
        let mut off = GroupMarker::off();
        assert_eq!(
            feed(&mut off, &[b"\x1erehearse-pgid  1\n"]),
            b"\x1erehearse-pgid  1\n"
        );
    }

    #[test]
    fn groups_zero_and_one_are_never_signalled() {
        // `kill -- -1` would reach every process the user may signal.
        for g in ["0", "1", "x"] {
            let mut m = GroupMarker::new("n4");
            let out = feed(
                &mut m,
                &[format!("\x1erehearse-pgid n4 {g}\nrest").as_bytes()],
            );
            assert_eq!(out, b"rest");
            assert_eq!(m.group, None);
        }
    }
}
