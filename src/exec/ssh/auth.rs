//! Authentication in OpenSSH's order: agent, identity files, keyboard-interactive, password.
//! A failure names what was tried and what the server accepts.

use super::trust::{Checker, fingerprint};
use super::*;

/// Did the server accept? If not, keep the methods it says may still work.
pub(super) fn accepted(r: AuthResult, methods: &mut Vec<MethodKind>) -> bool {
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

pub(super) fn method_names(m: &[MethodKind]) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(<&str>::from).collect::<Vec<_>>().join(",")
}

pub(super) fn auth_io(p: &SshParams, e: impl std::fmt::Display) -> ConnectError {
    ConnectError {
        kind: ConnectErrorKind::Protocol,
        message: format!("{}: authentication broke off: {e}", p.endpoint()),
    }
}

/// Try the agent, then identity files, then password and keyboard-interactive if the server
/// offers them, as OpenSSH does. On failure, name what was tried and what the server accepts.
pub(super) async fn authenticate(
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
pub(super) async fn keyboard_interactive(
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

pub(super) fn public_key_beside(private: &std::path::Path) -> Option<PublicKey> {
    let mut pubp = private.as_os_str().to_owned();
    pubp.push(".pub");
    let text = std::fs::read_to_string(PathBuf::from(pubp)).ok()?;
    PublicKey::from_openssh(text.trim()).ok()
}

/// Read an identity file, asking for its passphrase (masked) when it is encrypted.
/// A missing file is skipped (OpenSSH tries default names that may not exist); one that cannot
/// be used is skipped with a note for the failure message.
pub(super) async fn load_key(
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
