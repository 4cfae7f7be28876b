//! Opening a connection: TCP (or a jump host's tunnel), the handshake with its host-key check,
//! then authentication, each hop within its connect timeout.

use super::auth::authenticate;
use super::trust::{Checker, Verdict, host_key_order};
use super::*;

pub(super) fn client_config(p: &SshParams) -> Arc<client::Config> {
    Arc::new(client::Config {
        preferred: Preferred {
            key: host_key_order(p).into(),
            cipher: cipher_order().into(),
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

/// AES-GCM first where the CPU has AES and carry-less multiply instructions: there it costs
/// less than half the CPU of ChaCha20-Poly1305 on both ends (OpenSSH 9.2 and ring on this
/// project's machines, see docs/benchmarks.md), and the cipher is most of what streaming a
/// command's output costs. Both are AEADs OpenSSH enables by default; without the instructions
/// ChaCha20 is the faster and the constant-time one, so it stays first, as in OpenSSH's order.
fn cipher_order() -> Vec<russh::cipher::Name> {
    cipher_order_for(aes_in_hardware())
}

fn cipher_order_for(aes_in_hardware: bool) -> Vec<russh::cipher::Name> {
    use russh::cipher::{AES_128_CTR, AES_192_CTR, AES_256_CTR, AES_256_GCM, CHACHA20_POLY1305};
    let aead = if aes_in_hardware {
        [AES_256_GCM, CHACHA20_POLY1305]
    } else {
        [CHACHA20_POLY1305, AES_256_GCM]
    };
    aead.into_iter()
        .chain([AES_256_CTR, AES_192_CTR, AES_128_CTR])
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn aes_in_hardware() -> bool {
    std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
}

#[cfg(target_arch = "aarch64")]
fn aes_in_hardware() -> bool {
    std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn aes_in_hardware() -> bool {
    false
}

pub struct Connection {
    pub(super) handle: Handle<Checker>,
    /// Jump-host connections the main one tunnels through; kept alive with it.
    hops: Vec<Handle<Checker>>,
    pub(super) seen: Vec<HostKeySeen>,
    /// The login shell is POSIX-like: commands can report their process group (see `group`).
    pub(super) group_marker: bool,
}

impl Connection {
    pub(super) fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.hops.iter().any(Handle::is_closed)
    }
}

pub(super) fn refused(verdict: &Verdict, err: &russh::Error, p: &SshParams) -> ConnectError {
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

pub(super) fn timed_out(hop: &SshParams, stage: &str) -> ConnectError {
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
pub(super) async fn within_connect_timeout<T>(
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
pub(super) async fn connect(
    p: &SshParams,
    prompter: Arc<dyn Prompter>,
) -> Result<Connection, ConnectError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use russh::cipher::{AES_256_GCM, CHACHA20_POLY1305};

    #[test]
    fn aes_gcm_leads_only_where_the_cpu_has_aes() {
        for (hardware, first) in [(true, AES_256_GCM), (false, CHACHA20_POLY1305)] {
            let order = cipher_order_for(hardware);
            assert_eq!(order[0], first, "AES instructions: {hardware}");
            // Both AEADs stay on offer, so a server that has only one of them still connects.
            assert!(order.contains(&AES_256_GCM) && order.contains(&CHACHA20_POLY1305));
        }
        assert_eq!(cipher_order(), cipher_order_for(aes_in_hardware()));
    }
}
