//! The command line: clap definitions, dispatch, and what the headless commands share.

pub mod demo;
mod evidence;
mod observe;
mod plan;
mod run;
mod signoff;
mod watch;

pub use crate::session::trust_anchor;
pub use evidence::{EXIT_UNTRUSTED, export_cmd, verify_cmd};
pub use plan::{check, plan};
pub use run::run_step;
pub use signoff::signoff_cmd;
pub use watch::{ack_cmd, watch_cmd};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exec::target::TargetOptions;
use crate::exec::{Headless, Prompter};
use crate::runbook::{self, Runbook};
use crate::session::{SessionOptions, paths, settings};

#[derive(Debug, Parser)]
#[command(
    name = "rehearse",
    version,
    about = "Walk a deploy runbook step by step over SSH; sign it off; keep a verifiable journal as gate evidence."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// Runbook to open in the TUI (a path, or the name of a bundled runbook).
    pub runbook: Option<PathBuf>,
    #[command(flatten)]
    pub global: Global,
    /// Variable value for the runbook (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var, global = true)]
    pub vars: Vec<(String, String)>,
    /// Resume (or create) the run in this directory.
    #[arg(long = "run", value_name = "RUN_DIR", global = true)]
    pub run_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args, Clone)]
pub struct Global {
    /// Who is acting (default: `operator` in the config file, else the login name).
    #[arg(long, global = true)]
    pub operator: Option<String>,
    /// Everyone who may be at this instance's keys, comma-separated (`o` switches who is);
    /// each signs with their own key (see `[operators.NAME]` in the config).
    #[arg(long, global = true, value_delimiter = ',', value_name = "NAMES")]
    pub operators: Vec<String>,
    /// Where runs and logs are kept (default: the platform data dir).
    #[arg(long, env = "REHEARSE_STATE_DIR", global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Theme name (themes/NAME.toml or a bundled theme).
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Private key (OpenSSH format) that signs sign-offs (default: ssh-agent, else ~/.ssh/id_*).
    #[arg(long, global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Headless: run commands marked `confirm = true` without asking (read `rehearse plan` first).
    #[arg(long, global = true)]
    pub yes: bool,
    /// OpenSSH client config to read instead of ~/.ssh/config.
    #[arg(long, global = true, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Validate runbooks: exit 0 if all are valid, else print `path:line:col: message` and exit 1.
    Check {
        #[arg(required = true)]
        runbooks: Vec<PathBuf>,
    },
    /// Show the resolved steps and commands, per target, without running anything.
    Plan { runbook: PathBuf },
    /// Run one step's commands headless, journaling exactly as the TUI does.
    /// Exit 0: all passed; 1: one failed; 2: usage or runbook error; 3: connection refused;
    /// 5: another process runs the step; 6: the step waits for others (or is skipped).
    Run {
        runbook: PathBuf,
        #[arg(long)]
        step: String,
        /// Run the step although steps it comes after are not done; the reason is journaled.
        #[arg(long, value_name = "REASON")]
        waive_order: Option<String>,
        /// Trust and save an unknown host key (a changed key is always refused).
        #[arg(long)]
        accept_new_host_key: bool,
    },
    /// Write a report of a run: to standard output, to a file (`-o report.md`), or as an
    /// evidence bundle in a directory (`-o DIR`: report, journal, outputs, SHA256SUMS).
    /// Refuses to write anything that contains a secret value (from --var or the environment).
    Export {
        run_dir: PathBuf,
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// A file (ending in .md, .json or .html) or a directory for the bundle.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run the gate's monitoring probes headless for the whole window (under tmux or systemd
    /// for a day or two). Stop and start again at will: the same window continues, and the
    /// time nobody watched is shown as a gap.
    Watch {
        run_dir: PathBuf,
        /// Trust and save an unknown host key (a changed key is always refused).
        #[arg(long)]
        accept_new_host_key: bool,
    },
    /// Acknowledge the monitoring window's failures with a reason, signed with the session's
    /// key (refused without one): the window starts again from this line.
    Ack {
        run_dir: PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Check a run directory or an exported bundle: the hash chain, every output digest,
    /// SHA256SUMS and every signature. Exit 0 only if all hold; else name the first broken place
    /// (exit 1). Exit 4: no trust anchor; 7: intact, but a rehearsal on the demo host.
    Verify {
        path: PathBuf,
        /// ssh-keygen allowed_signers file: who may sign with which key.
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
        /// Exit 0 for an intact rehearsal too (a run whose SSH targets were redirected, as
        /// `rehearse demo` does); without it such a run exits 7: intact, but not evidence about
        /// any real host.
        #[arg(long)]
        allow_rehearsal: bool,
    },
    /// Sign a step off headless with the session's key (--signing-key, config, ssh-agent).
    /// Refuses without a key unless --unsigned (an unsigned sign-off counts for nothing).
    Signoff {
        run_dir: PathBuf,
        #[arg(long)]
        step: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        unsigned: bool,
    },
    /// Open a run read-only, as an observer: everything followed live (command output,
    /// sign-offs, who is here); no key that runs, ticks, signs, waives or notes acts.
    Observe { run_dir: PathBuf },
    /// Open the demo runbook against an embedded SSH host on 127.0.0.1 (nothing to install).
    Demo {
        /// Run this step headless instead of opening the TUI.
        #[arg(long)]
        step: Option<String>,
        /// Rehearse this runbook (a path or a bundled name) instead of the demo: every SSH
        /// target is pointed at the embedded host, its key pinned; variables that only name a
        /// target's host, port or user get the host's values (and deploy_path, if declared, a
        /// directory of the host's sandbox).
        #[arg(long, value_name = "FILE")]
        runbook: Option<PathBuf>,
        /// Run the runbook's `local` commands too: they run on this machine, with its tools and
        /// credentials (aws, gh, dig, ...), not on the demo host. Refused without it when the
        /// runbook has any.
        #[arg(long)]
        local_commands: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Md,
    Json,
    Html,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Json => "json",
            Format::Html => "html",
        }
    }
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))
}

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_REFUSED: i32 = 3;
/// `run`: another live process is running the step (it holds the claim).
pub const EXIT_HELD: i32 = 5;
/// `run`: the step's prerequisites are not done (or its condition skips it).
pub const EXIT_BLOCKED: i32 = 6;

/// Load a runbook from a path, or from the bundled ones by name.
pub fn load_runbook(arg: &Path) -> Result<Runbook, runbook::LoadError> {
    if !arg.exists() {
        let name = arg.to_string_lossy();
        let file = if name.ends_with(".toml") {
            name.to_string()
        } else {
            format!("{name}.toml")
        };
        if let Some(r) = runbook::bundled(&file) {
            return r;
        }
    }
    runbook::load(arg)
}

impl Global {
    /// What the session is built from; the config file is read here, once.
    pub fn session_options(&self, targets: TargetOptions) -> SessionOptions {
        let mut targets = targets;
        if targets.ssh_config.is_none() {
            targets.ssh_config.clone_from(&self.ssh_config);
        }
        SessionOptions {
            operator: self.operator.clone(),
            operators: self.operators.clone(),
            observe: false,
            state_dir: self.state_dir.clone(),
            signing_key: self.signing_key.clone(),
            targets,
            settings: settings::load(),
        }
    }
}

/// Who acts, and with which signing key, for commands that open no session of executors.
pub async fn operator(
    global: &Global,
) -> Result<crate::runner::Operator, crate::session::SessionError> {
    let opts = global.session_options(TargetOptions::default());
    crate::session::operator(&opts, &opts.settings).await
}

/// The runbook a run started with (only if its digest matches the journal's), or the exit code
/// after saying why.
pub fn run_runbook_or_exit(run_dir: &Path) -> Result<Runbook, i32> {
    crate::report::run_runbook(run_dir).map_err(|e| {
        eprintln!("rehearse: {e}");
        EXIT_USAGE
    })
}

/// Who acts, or the exit code after saying why.
pub async fn operator_or_exit(global: &Global) -> Result<crate::runner::Operator, i32> {
    operator(global).await.map_err(|e| {
        eprintln!("rehearse: {e}");
        EXIT_USAGE
    })
}

/// A runner on an existing run with no executors, for lines that need only the journal (a
/// sign-off, an acknowledgement). Known secret values still keep what is written clean.
pub fn open_for_lines(
    rb: Runbook,
    run_dir: &Path,
    given: &[(String, String)],
    op: crate::runner::Operator,
    tx: tokio::sync::mpsc::Sender<crate::runner::RunnerEvent>,
) -> Result<crate::runner::Opened, i32> {
    let vars = rb.resolve_vars(given).map(|(v, _)| v).map_err(|e| {
        eprintln!("rehearse: {e}");
        EXIT_USAGE
    })?;
    crate::runner::Runner::open(
        Arc::new(rb),
        vars,
        std::collections::BTreeMap::new(),
        op,
        run_dir.to_path_buf(),
        tx,
    )
    .map_err(|e| {
        eprintln!("rehearse: {e}");
        EXIT_FAILED
    })
}

/// Install the file logger: nothing is printed to the terminal while the TUI is up.
fn init_logging(state: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = paths::log_dir(state);
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "rehearse.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("REHEARSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,russh=warn"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// The TUI, with its outcome turned into an exit code and a last word on the terminal.
pub async fn open_tui(
    rb: Runbook,
    vars: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    global: &Global,
    targets: TargetOptions,
) -> i32 {
    let opts = global.session_options(targets);
    open_tui_with(rb, vars, run_dir, global, opts).await
}

async fn open_tui_with(
    rb: Runbook,
    vars: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    global: &Global,
    opts: crate::session::SessionOptions,
) -> i32 {
    match crate::tui::open(rb, vars, run_dir, opts, global.theme.clone()).await {
        Ok(dir) => {
            eprintln!("run: {}", dir.display());
            0
        }
        Err(e) => {
            eprintln!("rehearse: {e}");
            if e.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            }
        }
    }
}

/// Dispatch a parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let state = paths::state_dir(cli.global.state_dir.as_deref());
    let _guard = init_logging(&state);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rehearse: cannot start the runtime: {e}");
            return EXIT_FAILED;
        }
    };
    let load = |p: &Path| match load_runbook(p) {
        Ok(rb) => Ok(rb),
        Err(e) => {
            eprintln!("{e}");
            Err(EXIT_USAGE)
        }
    };
    match cli.command {
        Some(Cmd::Check { runbooks }) => check(&runbooks),
        Some(Cmd::Plan { runbook }) => match load(&runbook) {
            Ok(rb) => plan(&rb, &cli.vars, &cli.global),
            Err(c) => c,
        },
        Some(Cmd::Export {
            run_dir,
            format,
            output,
        }) => rt.block_on(export_cmd(
            &run_dir,
            format,
            output.as_deref(),
            &cli.vars,
            &cli.global,
        )),
        Some(Cmd::Signoff {
            run_dir,
            step,
            note,
            unsigned,
        }) => rt.block_on(signoff_cmd(
            &run_dir,
            &step,
            &note,
            unsigned,
            &cli.vars,
            &cli.global,
        )),
        Some(Cmd::Ack { run_dir, reason }) => {
            rt.block_on(ack_cmd(&run_dir, &reason, &cli.vars, &cli.global))
        }
        Some(Cmd::Verify {
            path,
            allowed_signers,
            allow_rehearsal,
        }) => verify_cmd(&path, allowed_signers.as_deref(), allow_rehearsal),
        Some(Cmd::Watch {
            run_dir,
            accept_new_host_key,
        }) => rt.block_on(watch_cmd(
            &run_dir,
            accept_new_host_key,
            &cli.vars,
            &cli.global,
        )),
        Some(Cmd::Run {
            runbook,
            step,
            accept_new_host_key,
            waive_order,
        }) => match load(&runbook) {
            Ok(rb) => {
                let prompter: Arc<dyn Prompter> = Arc::new(Headless {
                    accept_new_host_key,
                });
                let opts = TargetOptions {
                    ssh_config: cli.global.ssh_config.clone(),
                    ..Default::default()
                };
                rt.block_on(run::run_step_waiving(
                    rb,
                    &step,
                    &cli.vars,
                    cli.run_dir,
                    &cli.global,
                    prompter,
                    opts,
                    waive_order.as_deref(),
                ))
            }
            Err(c) => c,
        },
        Some(Cmd::Observe { run_dir }) => rt.block_on(observe::observe_cmd(&run_dir, &cli.global)),
        Some(Cmd::Demo {
            step,
            runbook,
            local_commands,
        }) => rt.block_on(crate::cli::demo::main(
            step,
            runbook,
            local_commands,
            cli.vars,
            cli.run_dir,
            cli.global,
        )),
        None => match cli.runbook {
            Some(p) => match load(&p) {
                Ok(rb) => rt.block_on(open_tui(
                    rb,
                    cli.vars,
                    cli.run_dir,
                    &cli.global,
                    TargetOptions::default(),
                )),
                Err(c) => c,
            },
            None => {
                eprintln!("rehearse: give a runbook to open, or try `rehearse demo` (see --help)");
                EXIT_USAGE
            }
        },
    }
}
