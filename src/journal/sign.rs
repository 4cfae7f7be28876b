//! Journal lines signed in OpenSSH's SSHSIG format (namespace `rehearse-signoff@v1` for every
//! signed kind: sign-offs, seals, gate openings), through ssh-agent when one is running, else a
//! key file. The signed message is the exact bytes of the line without its newline; since that
//! line carries `prev`, the signature vouches for the whole history before it. Anyone can check one with
//! `ssh-keygen -Y verify -n rehearse-signoff@v1 -f allowed_signers -I NAME -s SIG < LINE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::{LineEnding, SshSig};
use russh::keys::{HashAlg, PrivateKey, PublicKey};

pub const NAMESPACE: &str = "rehearse-signoff@v1";
/// ssh-keygen signs with SHA-512; so do we, so its verifier and ours agree.
const HASH: HashAlg = HashAlg::Sha512;

#[derive(Clone)]
enum Source {
    Agent,
    Key(Arc<PrivateKey>),
}

/// The operator's signing key: its public half, and where signatures come from.
#[derive(Clone)]
pub struct SigningKey {
    pub public: PublicKey,
    source: Source,
    /// Where it came from, for messages: "ssh-agent", a path, "throwaway".
    pub origin: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} from {})", self.fingerprint(), self.origin)
    }
}

impl SigningKey {
    pub fn from_private(key: Arc<PrivateKey>, origin: impl Into<String>) -> SigningKey {
        SigningKey {
            public: key.public_key().clone(),
            source: Source::Key(key),
            origin: origin.into(),
        }
    }

    pub fn fingerprint(&self) -> String {
        self.public.fingerprint(HashAlg::Sha256).to_string()
    }

    /// `algo base64` of the public key, for `allowed_signers` and the journal.
    pub fn openssh(&self) -> String {
        let mut k = self.public.clone();
        k.set_comment("");
        k.to_openssh().unwrap_or_default().trim().to_string()
    }

    /// The armored signature of `msg`.
    pub async fn sign(&self, msg: &[u8]) -> Result<String, String> {
        self.sign_in(NAMESPACE, msg).await
    }

    /// The armored signature of `msg` in another namespace (the bundle manifest's).
    pub async fn sign_in(&self, namespace: &str, msg: &[u8]) -> Result<String, String> {
        let sig = match &self.source {
            Source::Key(k) => SshSig::sign(k.as_ref(), namespace, HASH, msg)
                .map_err(|e| format!("cannot sign: {e}"))?,
            Source::Agent => {
                let mut agent = AgentClient::connect_env()
                    .await
                    .map_err(|e| format!("ssh-agent: {e}"))?;
                let data = SshSig::signed_data(namespace, HASH, msg).map_err(|e| e.to_string())?;
                let rsa_hash = self.public.algorithm().is_rsa().then_some(HashAlg::Sha512);
                let signature = agent
                    .sign_request_signature(&self.public, rsa_hash, &data)
                    .await
                    .map_err(|e| format!("ssh-agent refused to sign: {e}"))?;
                SshSig::new(self.public.key_data().clone(), namespace, HASH, signature)
                    .map_err(|e| e.to_string())?
            }
        };
        sig.to_pem(LineEnding::LF).map_err(|e| e.to_string())
    }
}

/// Find the operator's key: an explicit file, else the agent's first key, else an unencrypted
/// default identity (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`). `None` means sign-offs are
/// recorded unsigned (and the report says so).
pub async fn discover(explicit: Option<&Path>, home: &Path) -> Result<Option<SigningKey>, String> {
    if let Some(p) = explicit {
        return load_file(p).map(Some);
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some()
        && let Ok(mut agent) = AgentClient::connect_env().await
        && let Ok(ids) = agent.request_identities().await
    {
        for id in ids {
            if let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id {
                return Ok(Some(SigningKey {
                    public: key,
                    source: Source::Agent,
                    origin: "ssh-agent".into(),
                }));
            }
        }
    }
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        let p: PathBuf = home.join(".ssh").join(name);
        if let Ok(text) = std::fs::read_to_string(&p)
            && let Ok(k) = russh::keys::decode_secret_key(&text, None)
        {
            return Ok(Some(SigningKey::from_private(
                Arc::new(k),
                p.display().to_string(),
            )));
        }
    }
    Ok(None)
}

/// The agent's key whose comment or `SHA256:` fingerprint is `wanted`: how one operator's key
/// is told from another's when several sit in one agent. `None` if there is no agent or no
/// such key.
pub async fn from_agent(wanted: &str) -> Option<SigningKey> {
    std::env::var_os("SSH_AUTH_SOCK")?;
    let mut agent = AgentClient::connect_env().await.ok()?;
    let ids = agent.request_identities().await.ok()?;
    ids.into_iter().find_map(|id| match id {
        russh::keys::agent::AgentIdentity::PublicKey { key, comment }
            if comment == wanted || key.fingerprint(HASH_FP).to_string() == wanted =>
        {
            Some(SigningKey {
                public: key,
                source: Source::Agent,
                origin: format!("ssh-agent ({comment})"),
            })
        }
        _ => None,
    })
}

const HASH_FP: HashAlg = HashAlg::Sha256;

pub fn load_file(p: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let key = russh::keys::decode_secret_key(&text, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => {
            format!(
                "{}: the key is encrypted; load it into ssh-agent (ssh-add) to sign with it",
                p.display()
            )
        }
        e => format!("{}: {e}", p.display()),
    })?;
    Ok(SigningKey::from_private(
        Arc::new(key),
        p.display().to_string(),
    ))
}

/// Check an armored SSHSIG over `msg` made in `namespace`. Returns the signer's key; whether
/// that key is trusted is for an allowed_signers file to say, never the signature itself.
pub fn verify_in(namespace: &str, armored: &str, msg: &[u8]) -> Result<PublicKey, String> {
    let sig =
        SshSig::from_pem(armored.as_bytes()).map_err(|e| format!("not an SSH signature: {e}"))?;
    if sig.namespace() != namespace {
        return Err(format!(
            "signature namespace is {:?}, expected {namespace:?}",
            sig.namespace()
        ));
    }
    let key = PublicKey::from(sig.public_key().clone());
    key.verify(namespace, msg, &sig)
        .map_err(|_| "signature does not match the signed bytes".to_string())?;
    Ok(key)
}

/// A journal line's signature (namespace [`NAMESPACE`]).
pub fn verify(armored: &str, msg: &[u8]) -> Result<PublicKey, String> {
    verify_in(NAMESPACE, armored, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sign_then_verify_and_tamper() {
        let key = PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
            .unwrap_or_else(|e| panic!("{e}"));
        let sk = SigningKey::from_private(Arc::new(key), "test");
        let line = br#"{"seq":3,"kind":"signoff"}"#;
        let sig = sk.sign(line).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        let who = verify(&sig, line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(who.key_data(), sk.public.key_data());
        assert!(verify(&sig, br#"{"seq":3,"kind":"signoff "}"#).is_err());
    }
}
