//! The runbook as written: serde types mirroring the TOML, with spans kept where a later
//! validation error must point at the source. `deny_unknown_fields` everywhere, so a typo in a
//! key is an error naming the key and the keys that were expected.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunbook {
    pub format: Option<S<u32>>,
    pub id: S<String>,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    pub default_timeout: Option<S<String>>,
    /// Files of shared `[[steps]]`, relative to this file; their steps come first.
    #[serde(default)]
    pub include: Vec<S<String>>,
    #[serde(default)]
    pub vars: BTreeMap<S<String>, RawVar>,
    #[serde(default)]
    pub targets: BTreeMap<S<String>, RawTarget>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
    pub gate: Option<RawGate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVar {
    pub default: Option<S<ScalarString>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub secret: bool,
    /// Name of an environment variable the value may come from.
    pub env: Option<String>,
    /// A regular expression the whole value must match.
    pub pattern: Option<S<String>>,
    /// The only values allowed.
    pub choices: Option<S<Vec<ScalarString>>>,
    /// The default is an example: a run must be given another value.
    #[serde(default)]
    pub placeholder: bool,
}

/// A string that may be written as a TOML string, integer or boolean (`port = 22`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a string, an integer or a boolean")]
        enum Any {
            S(String),
            I(i64),
            B(bool),
        }
        Ok(ScalarString(match Any::deserialize(d)? {
            Any::S(s) => s,
            Any::I(i) => i.to_string(),
            Any::B(b) => b.to_string(),
        }))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    #[serde(default)]
    pub local: bool,
    /// A `Host` alias from `~/.ssh/config`.
    pub alias: Option<S<String>>,
    pub host: Option<S<ScalarString>>,
    pub port: Option<S<ScalarString>>,
    pub user: Option<S<ScalarString>>,
    pub known_hosts: Option<S<String>>,
    pub identity_file: Option<S<String>>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: S<String>,
    pub title: String,
    pub level: S<String>,
    pub page: Option<u32>,
    #[serde(default)]
    pub body: String,
    pub target: Option<S<String>>,
    #[serde(default)]
    pub commands: Vec<RawCommand>,
    #[serde(default)]
    pub checklist: Vec<RawCheck>,
    pub choice: Option<RawChoice>,
    /// Steps that must have passed (or been waived, or skipped) before this one may run.
    #[serde(default)]
    pub after: Vec<S<String>>,
    /// A condition (see `cond.rs`): when false, the step is skipped and not required.
    pub when: Option<S<String>>,
    /// Commands run when one of the step's commands fails (after its retries).
    #[serde(default)]
    pub on_failure: Vec<RawCommand>,
    /// Wait a while probing, after the step's commands passed (see `hold.rs`).
    pub hold: Option<RawHold>,
}

/// A file of shared steps named by `include`: steps, and the files it includes in turn.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepsFile {
    #[serde(default)]
    pub include: Vec<S<String>>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHold {
    #[serde(rename = "for")]
    pub duration: S<String>,
    pub every: S<String>,
    pub probe: RawProbe,
    pub abort_if: Option<RawAbortIf>,
}

/// A hold's probe: a command without a name of its own (it is the step's probe).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub run: S<String>,
    pub target: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub expect: Option<RawExpect>,
    #[serde(default)]
    pub env: BTreeMap<S<String>, S<String>>,
    pub cwd: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAbortIf {
    /// Abort at this many failed probes in the window.
    pub failed: Option<S<u32>>,
    /// Abort at this many failed probes in a row.
    pub in_a_row: Option<S<u32>>,
    /// Abort when a probe's stdout matches.
    pub stdout: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    pub name: S<String>,
    pub run: S<String>,
    pub target: Option<S<String>>,
    pub timeout: Option<S<String>>,
    #[serde(default)]
    pub confirm: bool,
    /// Runs only once the operator types the step's id (implies `confirm`).
    #[serde(default)]
    pub destructive: bool,
    #[serde(default)]
    pub pty: bool,
    pub expect: Option<RawExpect>,
    /// Checklist item (id within the step) that this command's expectation proves.
    pub proves: Option<S<String>>,
    /// When false the command is skipped: not run, not needed for the step to pass.
    pub when: Option<S<String>>,
    /// A value taken from the output for later commands (`{{name}}`).
    pub capture: Option<RawCapture>,
    /// Run again up to this many times when it fails, `retry_delay` apart.
    #[serde(default)]
    pub retries: u32,
    pub retry_delay: Option<S<String>>,
    /// Run again every `every` until stdout matches, for at most `within`.
    pub until: Option<RawUntil>,
    /// Environment variables for the command (values are templates, quoted when used).
    #[serde(default)]
    pub env: BTreeMap<S<String>, S<String>>,
    /// The directory the command runs in (a template).
    pub cwd: Option<S<String>>,
    /// Text given to the command on its standard input (a template).
    pub stdin: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    pub name: S<String>,
    /// The first group (or the whole match) of the first match in stdout.
    pub regex: Option<S<String>>,
    /// A dotted path (`a.b.0.c`) into stdout parsed as JSON.
    pub json: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUntil {
    pub stdout: S<String>,
    pub every: S<String>,
    pub within: S<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub exit: Option<S<RawExit>>,
    pub stdout: Option<S<String>>,
    pub stderr: Option<S<String>>,
    /// Stdout must NOT match this.
    pub stdout_not: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "an exit code, a list of exit codes, or \"any\"")]
pub enum RawExit {
    Code(i64),
    Codes(Vec<i64>),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub id: S<String>,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    pub options: Vec<RawOption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOption {
    pub id: S<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    #[serde(default)]
    pub title: String,
    /// Steps that must pass (or be waived). Default: every `must` step.
    pub required_steps: Option<Vec<S<String>>>,
    /// Checklist items that must be ticked, as `step.item`.
    #[serde(default)]
    pub checklist: Vec<S<String>>,
    #[serde(default)]
    pub signoffs: u32,
    pub rollback: Option<RawRollback>,
    pub monitor: Option<RawMonitor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    pub rollback_step: S<String>,
    pub forward_step: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonitor {
    pub duration: S<String>,
    pub every: S<String>,
    #[serde(default)]
    pub max_failures: u32,
    /// The window counts only probes recorded after these steps last passed.
    #[serde(default)]
    pub after: Vec<S<String>>,
    /// Fail the window at this many failed probes in a row (0: no such limit).
    #[serde(default)]
    pub max_in_a_row: u32,
    pub probe: RawCommand,
}
