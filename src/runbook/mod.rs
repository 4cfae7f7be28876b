//! The runbook model: what a deploy runbook says, validated, with every reference checked.
//! Loading never panics; every problem is a [`Diagnostic`] naming `file:line:column`.

mod commands;
pub mod cond;
mod ctx;
mod flow;
mod gate;
mod hold;
mod include;
mod order;
mod raw;
pub mod shell;
pub mod template;
mod validate;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use sha2::{Digest, Sha256};

pub use cond::Cond;
pub use flow::{Capture, CaptureDef, CaptureFrom, Retry, Until};
pub use template::{RenderError, Rendered, Template, VarValue, Vars};
pub use values::ValueError;

/// The runbook format this rehearse reads. Format 2 quotes `{{var}}` for the shell; format 1
/// pasted values as they were, and still loads (quoted, the safe reading) with a warning.
pub const FORMAT: u32 = 2;

/// The bundled runbooks, so `rehearse demo` and the tests need no files beside the binary,
/// and any of them opens by name (`rehearse check phase-05-staging`).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "demo-staging.toml",
        include_str!("../../runbooks/demo-staging.toml"),
    ),
    (
        "phase-05-staging.toml",
        include_str!("../../runbooks/phase-05-staging.toml"),
    ),
    (
        "laravel-staging.toml",
        include_str!("../../runbooks/laravel-staging.toml"),
    ),
    (
        "apprunner-staging.toml",
        include_str!("../../runbooks/apprunner-staging.toml"),
    ),
    (
        "staged-rollout.toml",
        include_str!("../../runbooks/staged-rollout.toml"),
    ),
];

#[derive(Debug, Clone)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub source: Source,
    pub default_timeout: Duration,
    pub vars: Vec<VarDef>,
    pub targets: Vec<TargetDef>,
    pub steps: Vec<Step>,
    pub gate: Gate,
    /// Values commands capture from their output, usable as `{{name}}` by later commands.
    pub captures: Vec<CaptureDef>,
    /// Things a reader should look at that do not stop the runbook loading (`{{raw ..}}`,
    /// an old format).
    pub warnings: Vec<Diagnostic>,
    /// Set when every SSH target was pointed somewhere else than the file says (`rehearse demo
    /// --runbook`): where they went. Never read from the file; recorded in `run_started`.
    pub redirected: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    pub default: Option<String>,
    pub description: String,
    pub secret: bool,
    pub env: Option<String>,
    /// The whole value must match (anchored when loaded).
    pub pattern: Option<Regex>,
    /// `pattern` as written, for messages.
    pub pattern_source: Option<String>,
    /// When not empty, the value must be one of these.
    pub choices: Vec<String>,
    /// The default only shows the shape of a value: a run must be given a real one.
    pub placeholder: bool,
}

#[derive(Debug, Clone)]
pub struct TargetDef {
    pub name: String,
    pub description: String,
    pub kind: TargetKind,
}

// A runbook has a handful of targets, built once at load: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TargetKind {
    Local,
    Ssh(Box<SshTarget>),
}

#[derive(Debug, Clone, Default)]
pub struct SshTarget {
    pub alias: Option<Template>,
    pub host: Option<Template>,
    pub port: Option<Template>,
    pub user: Option<Template>,
    pub known_hosts: Option<Template>,
    pub identity_file: Option<Template>,
}

/// The name every runbook may use for the operator's own machine.
pub const LOCAL: &str = "local";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
    Optional,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Optional => "OPTIONAL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub page: Option<u32>,
    pub body: String,
    pub commands: Vec<Command>,
    pub checklist: Vec<CheckItem>,
    pub choice: Option<Vec<ChoiceOption>>,
    /// Steps that must be done (passed, waived or skipped) first: the ones written in `after`,
    /// then those it depends on through a condition or a captured value.
    pub after: Vec<String>,
    pub when: Option<Cond>,
    pub on_failure: Vec<Command>,
    /// Once its commands passed, the step waits this long probing; it passes when the time
    /// is up, and fails when an abort criterion is met.
    pub hold: Option<Hold>,
}

impl Step {
    /// Every command the step may run: its commands, its `on_failure`, its hold's probe.
    pub fn all_commands(&self) -> impl Iterator<Item = &Command> {
        self.commands
            .iter()
            .chain(&self.on_failure)
            .chain(self.hold.as_ref().map(|h| &h.probe))
    }
}

#[derive(Debug, Clone)]
pub struct Hold {
    pub duration: Duration,
    pub every: Duration,
    pub probe: Command,
    pub abort: AbortIf,
}

/// What fails a hold before its time is up. Zero means no such limit.
#[derive(Debug, Clone, Default)]
pub struct AbortIf {
    pub failed: u32,
    pub in_a_row: u32,
    pub stdout: Option<Regex>,
}

impl AbortIf {
    /// The criteria in words, for `plan` and messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.failed > 0 {
            parts.push(format!("{} failed probes", self.failed));
        }
        if self.in_a_row > 0 {
            parts.push(format!("{} failed in a row", self.in_a_row));
        }
        if let Some(re) = &self.stdout {
            parts.push(format!("stdout matches /{re}/"));
        }
        parts.join(" or ")
    }
}

#[derive(Debug, Clone)]
pub struct Command {
    pub name: String,
    pub run: Template,
    pub target: String,
    pub timeout: Duration,
    pub confirm: bool,
    /// Confirmed only by typing the step's id, never by a single key.
    pub destructive: bool,
    pub pty: bool,
    pub expect: Expect,
    pub proves: Option<String>,
    pub when: Option<Cond>,
    pub capture: Option<Capture>,
    pub retry: Retry,
    pub until: Option<Until>,
    /// Values shell-quoted into `export` before the command.
    pub env: Vec<(String, Template)>,
    pub cwd: Option<Template>,
    pub stdin: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct Expect {
    pub exit: ExitExpect,
    /// Compiled when the runbook loads, or (with variables) by [`Command::resolve`].
    pub stdout: Option<Regex>,
    pub stderr: Option<Regex>,
    /// Set when the expectation uses variables; their values match literally.
    pub stdout_template: Option<Template>,
    pub stderr_template: Option<Template>,
    /// Stdout must not match.
    pub stdout_not: Option<Regex>,
    pub stdout_not_template: Option<Template>,
}

impl Command {
    /// The command with values filled in: its text for the executor, and its expectations.
    pub fn resolve(&self, vars: &Vars) -> Result<(Rendered, Command), RenderError> {
        let rendered = flow::with_options(self, self.run.render(vars)?, vars)?;
        let mut cmd = self.clone();
        let fill = |t: &Option<Template>| -> Result<Option<Regex>, RenderError> {
            t.as_ref()
                .map(|t| {
                    let r = t.render(vars)?;
                    regex::RegexBuilder::new(r.value.expose())
                        .multi_line(true)
                        .build()
                        .map_err(|e| RenderError::Regex(e.to_string()))
                })
                .transpose()
        };
        if self.expect.stdout_template.is_some() {
            cmd.expect.stdout = fill(&self.expect.stdout_template)?;
        }
        if self.expect.stderr_template.is_some() {
            cmd.expect.stderr = fill(&self.expect.stderr_template)?;
        }
        if self.expect.stdout_not_template.is_some() {
            cmd.expect.stdout_not = fill(&self.expect.stdout_not_template)?;
        }
        Ok((rendered, cmd))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpect {
    Any,
    Codes(Vec<u32>),
}

impl ExitExpect {
    pub fn accepts(&self, code: Option<u32>) -> bool {
        match self {
            ExitExpect::Any => code.is_some(),
            ExitExpect::Codes(c) => code.is_some_and(|code| c.contains(&code)),
        }
    }
}

impl fmt::Display for ExitExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitExpect::Any => f.write_str("any exit status"),
            ExitExpect::Codes(c) if c.len() == 1 => write!(f, "exit {}", c[0]),
            ExitExpect::Codes(c) => write!(f, "exit in {c:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckItem {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct ChoiceOption {
    pub id: String,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub title: String,
    pub required_steps: Vec<String>,
    /// `(step id, item id)`
    pub checklist: Vec<(String, String)>,
    pub signoffs: u32,
    pub rollback: Option<RollbackProof>,
    pub monitor: Option<Monitor>,
}

#[derive(Debug, Clone)]
pub struct RollbackProof {
    pub rollback_step: String,
    pub forward_step: String,
}

#[derive(Debug, Clone)]
pub struct Monitor {
    pub duration: Duration,
    pub every: Duration,
    pub max_failures: u32,
    /// Only probes after these steps last passed count.
    pub after: Vec<String>,
    /// This many failed probes in a row fail the window (0: no such limit).
    pub max_in_a_row: u32,
    pub probe: Command,
}

impl Runbook {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    pub fn target(&self, name: &str) -> Option<&TargetDef> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Variable values: defaults, then the environment for those naming one, then `--var`s.
    /// Returns the names still without a value.
    pub fn resolve_vars(&self, given: &[(String, String)]) -> Result<(Vars, Vec<String>), String> {
        let mut vars = Vars::default();
        for (name, _) in given {
            if !self.vars.iter().any(|v| &v.name == name) {
                let known: Vec<_> = self.vars.iter().map(|v| v.name.as_str()).collect();
                return Err(format!(
                    "--var {name}: the runbook declares no such variable (it has: {})",
                    known.join(", ")
                ));
            }
        }
        let mut missing = Vec::new();
        for def in &self.vars {
            let from_cli = given
                .iter()
                .rev()
                .find(|(n, _)| n == &def.name)
                .map(|(_, v)| v.clone());
            let from_env = def.env.as_ref().and_then(|e| std::env::var(e).ok());
            match from_cli.or(from_env).or_else(|| def.default.clone()) {
                Some(v) => vars.set(&def.name, v, def.secret),
                None => missing.push(def.name.clone()),
            }
        }
        Ok((vars, missing))
    }
}

/// One problem in a runbook, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError(pub Vec<Diagnostic>);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

pub fn load(path: &Path) -> Result<Runbook, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| {
        LoadError(vec![Diagnostic {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read runbook: {e}"),
        }])
    })?;
    parse_bytes(&bytes, path)
}

pub fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Runbook, LoadError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, path),
        Err(e) => {
            let (line, column) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
            Err(LoadError(vec![Diagnostic {
                path: path.to_path_buf(),
                line,
                column,
                message: "runbook is not valid UTF-8".into(),
            }]))
        }
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Runbook, LoadError> {
    let source = Source {
        path: path.to_path_buf(),
        text: text.to_string(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    };
    validate::build(source)
}

/// A bundled runbook by name, with or without `.toml`, parsed.
pub fn bundled(name: &str) -> Option<Result<Runbook, LoadError>> {
    let file = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    BUNDLED
        .iter()
        .find(|(n, _)| *n == file)
        .map(|(n, text)| parse(text, Path::new(&format!("runbooks/{n}"))))
}

/// A runbook from a path or, when no such file exists, a bundled runbook by name.
pub fn open(arg: &Path) -> Result<Runbook, LoadError> {
    if !arg.exists()
        && arg.components().count() == 1
        && let Some(r) = bundled(&arg.to_string_lossy())
    {
        return r;
    }
    load(arg)
}
