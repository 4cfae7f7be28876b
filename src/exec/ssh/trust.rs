//! Host-key trust: known_hosts or a pinned key, with OpenSSH's rules, decided before any
//! authentication is attempted.

use super::*;

pub(super) type Verdict = Arc<StdMutex<Option<Result<HostKeySeen, String>>>>;

pub(super) struct Checker {
    pub(super) params: SshParams,
    pub(super) prompter: Arc<dyn Prompter>,
    pub(super) verdict: Verdict,
    /// Set while the host key is being decided, which may mean a person is reading a prompt:
    /// that time does not count against the connect timeout.
    pub(super) asking: Arc<AtomicBool>,
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

pub(super) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

pub(super) fn algorithm(key: &PublicKey) -> String {
    key.algorithm().as_str().to_string()
}

/// Should we trust `key` for this host? `Ok` says how; `Err` is the refusal shown to the user.
pub(super) async fn decide(
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
    let name = crate::exec::known_hosts::host_pattern_for(&p.host, p.port);
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
pub(super) fn host_key_order(p: &SshParams) -> Vec<Algorithm> {
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
