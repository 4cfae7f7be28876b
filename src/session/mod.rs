//! Everything a run needs, built once: settings (the config file, read once), where state
//! lives, who acts and the key they sign with, the runbook, its variables and an executor per
//! target. The TUI and every headless command (`run`, `watch`, `signoff`, the demo) start here,
//! so they can never disagree about any of it.

pub mod paths;
pub mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::exec::target::{self, TargetOptions};
use crate::exec::{Executor, Prompter};
use crate::journal::allowed_signers::AllowedSigners;
use crate::journal::sign;
use crate::runbook::{Runbook, Vars};
use crate::runner::{Opened, Operator, Runner, RunnerError, RunnerEvent};
pub use settings::Settings;

/// What the person asked for on the command line (or the demo set up).
#[derive(Clone, Default)]
pub struct SessionOptions {
    pub operator: Option<String>,
    /// Everyone who may be at this instance's keys (`--operators ana,bob`); the operator is
    /// one of them.
    pub operators: Vec<String>,
    /// Open the run read-only (`rehearse observe`): nothing this instance does changes it.
    pub observe: bool,
    pub state_dir: Option<PathBuf>,
    pub signing_key: Option<PathBuf>,
    /// Pins, in-memory keys and the ssh_config path for the executors.
    pub targets: TargetOptions,
    /// The config file, read once by whoever builds the options.
    pub settings: Settings,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Vars(String),
    #[error("variables without a value: {}", .0.join(", "))]
    Missing(Vec<String>),
    #[error("{0}")]
    Targets(String),
    #[error("signing key: {0}")]
    Signer(String),
}

pub struct Session {
    pub runbook: Arc<Runbook>,
    pub vars: Vars,
    pub executors: BTreeMap<String, Arc<dyn Executor>>,
    pub operator: Operator,
    /// Everyone who may be at the keys, the operator first; see [`Teammate`].
    pub operators: Vec<Teammate>,
    pub settings: Settings,
    pub state_dir: PathBuf,
}

/// One of the people who may be at the keys, with their own signing key, or why there is none
/// (their sign-offs are then refused: nobody signs with someone else's key).
#[derive(Debug, Clone)]
pub struct Teammate {
    pub operator: Operator,
    pub missing: Option<String>,
}

impl Session {
    /// Resolve every variable (all must have a value), build the executors, find the operator
    /// and their signing key.
    pub async fn build(
        runbook: Runbook,
        given: &[(String, String)],
        opts: &SessionOptions,
        prompter: &Arc<dyn Prompter>,
    ) -> Result<Session, SessionError> {
        let settings = opts.settings.clone();
        let (vars, missing) = runbook.resolve_vars(given).map_err(SessionError::Vars)?;
        if !missing.is_empty() {
            return Err(SessionError::Missing(missing_hints(&runbook, &missing)));
        }
        crate::secret::check_secret_lengths(&vars.secret_values())
            .map_err(|e| SessionError::Vars(e.to_string()))?;
        let executors = target::executors(&runbook, &vars, &opts.targets, prompter)
            .map_err(SessionError::Targets)?;
        let operator = operator(opts, &settings).await?;
        let operators = teammates(&operator, opts, &settings).await;
        Ok(Session {
            runbook: Arc::new(runbook),
            vars,
            executors,
            operator,
            operators,
            state_dir: paths::state_dir(opts.state_dir.as_deref()),
            settings,
        })
    }

    /// A fresh run directory under the state dir.
    pub fn new_run_dir(&self) -> PathBuf {
        crate::runner::new_run_dir(&paths::runs_dir(&self.state_dir), &self.runbook.id)
    }

    /// Create or join the run in `run_dir` (a new one when `None`). The runner's events, and
    /// every journal line (ours and other processes'), arrive on `tx` in file order.
    pub fn open_run(
        self,
        run_dir: Option<PathBuf>,
        tx: mpsc::Sender<RunnerEvent>,
    ) -> Result<Opened, RunnerError> {
        let run_dir = run_dir.unwrap_or_else(|| self.new_run_dir());
        Runner::open(
            self.runbook,
            self.vars,
            self.executors,
            self.operator,
            run_dir,
            tx,
        )
    }
}

fn missing_hints(rb: &Runbook, missing: &[String]) -> Vec<String> {
    missing
        .iter()
        .map(|m| {
            match rb
                .vars
                .iter()
                .find(|v| &v.name == m)
                .and_then(|v| v.env.clone())
            {
                Some(e) => format!("--var {m}=... or ${e}"),
                None => format!("--var {m}=..."),
            }
        })
        .collect()
}

/// Who acts, and the key their sign-offs are signed with (`--signing-key`, `signing_key` in
/// the config, else ssh-agent's first key, else an unencrypted default identity).
pub async fn operator(
    opts: &SessionOptions,
    settings: &Settings,
) -> Result<Operator, SessionError> {
    let name = opts
        .operator
        .clone()
        .or_else(|| settings.operator.clone())
        .or_else(|| opts.operators.first().cloned())
        .unwrap_or_else(target::login_name);
    let explicit = opts
        .signing_key
        .clone()
        .or_else(|| settings.signing_key.clone())
        .or_else(|| {
            settings
                .operators
                .get(&name)
                .and_then(|o| o.signing_key.clone())
        });
    // With several keys in one agent, the operator's own (by comment) before the first one.
    let own = if explicit.is_none() {
        sign::from_agent(&agent_key_name(&name, settings)).await
    } else {
        None
    };
    let key = match own {
        Some(k) => Some(k),
        None => sign::discover(explicit.as_deref(), &target::home_dir())
            .await
            .map_err(SessionError::Signer)?,
    };
    if key.is_none() {
        tracing::warn!("no signing key found: sign-offs will be recorded unsigned");
    }
    Ok(Operator { name, key })
}

fn agent_key_name(name: &str, settings: &Settings) -> String {
    settings
        .operators
        .get(name)
        .and_then(|o| o.agent_key.clone())
        .unwrap_or_else(|| name.to_string())
}

/// Everyone who may be at the keys: `--operators`, else the `[operators.*]` of the config,
/// the session's operator always first. Each one's key: their `signing_key` file, else the
/// agent's key named for them. A key that cannot be had is not an error here: it is said
/// where it matters, when that operator would sign.
pub async fn teammates(me: &Operator, opts: &SessionOptions, settings: &Settings) -> Vec<Teammate> {
    let mut names: Vec<String> = if opts.operators.is_empty() {
        settings.operators.keys().cloned().collect()
    } else {
        opts.operators.clone()
    };
    let mut seen = std::collections::BTreeSet::from([me.name.clone()]);
    names.retain(|n| !n.trim().is_empty() && seen.insert(n.clone()));
    let mut out = vec![Teammate {
        operator: me.clone(),
        missing: None,
    }];
    for name in names {
        let file = settings
            .operators
            .get(&name)
            .and_then(|o| o.signing_key.clone());
        let (key, missing) = match file {
            Some(p) => match sign::load_file(&p) {
                Ok(k) => (Some(k), None),
                Err(e) => (None, Some(e)),
            },
            None => {
                let wanted = agent_key_name(&name, settings);
                match sign::from_agent(&wanted).await {
                    Some(k) => (Some(k), None),
                    None => (
                        None,
                        Some(format!(
                            "no key for {name}: no ssh-agent key with comment or fingerprint {wanted:?}, and no [operators.{name}] signing_key in config.toml"
                        )),
                    ),
                }
            }
        };
        out.push(Teammate {
            operator: Operator { name, key },
            missing,
        });
    }
    out
}

/// The app log: nothing is printed to the terminal while the TUI is up.
pub fn log_file(state_dir: &Path) -> PathBuf {
    paths::log_dir(state_dir).join("rehearse.log")
}

/// The trust anchor for signatures, from outside the evidence: `explicit` (`--allowed-signers`),
/// else `allowed_signers` in the config dir; never a file inside the evidence, never a path the
/// journal names. `None`: no anchor, nothing can be proven. The bytes are kept so a bundle can
/// record exactly what it was checked against.
pub fn trust_anchor(explicit: Option<&Path>) -> Result<Option<(AllowedSigners, Vec<u8>)>, String> {
    let (path, origin): (PathBuf, String) = match explicit {
        Some(p) => (
            p.to_path_buf(),
            format!("--allowed-signers {}", p.display()),
        ),
        None => match paths::config_dir().map(|d| d.join("allowed_signers")) {
            Some(p) if p.exists() => {
                let o = format!("{} (config dir)", p.display());
                (p, o)
            }
            _ => return Ok(None),
        },
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = AllowedSigners::parse(&String::from_utf8_lossy(&bytes), &path, origin)
        .map_err(|e| e.to_string())?;
    Ok(Some((t, bytes)))
}
