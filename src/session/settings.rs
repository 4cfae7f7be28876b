//! The user's settings file: `config.toml` in the platform config dir (or
//! `REHEARSE_CONFIG_DIR`). Everything is optional.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub operator: Option<String>,
    pub theme: Option<String>,
    /// Private key that signs sign-offs.
    pub signing_key: Option<std::path::PathBuf>,
    /// Key overrides: `[keys.normal] "ctrl-r" = "run_next"`.
    #[serde(default)]
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    /// The people who may be at the keys of one instance, and how each one's key is found:
    /// `[operators.bob] signing_key = "..."` (or `agent_key = "bob@laptop"`).
    #[serde(default)]
    pub operators: BTreeMap<String, OperatorSettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    /// Private key file (OpenSSH format) that signs this operator's lines.
    pub signing_key: Option<std::path::PathBuf>,
    /// The ssh-agent key to sign with, by comment or `SHA256:` fingerprint (default: a key
    /// whose comment is the operator's name).
    pub agent_key: Option<String>,
}

pub fn load() -> Settings {
    let Some(dir) = crate::session::paths::config_dir() else {
        return Settings::default();
    };
    let path = dir.join("config.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}", path.display());
            Settings::default()
        }),
        Err(_) => Settings::default(),
    }
}
