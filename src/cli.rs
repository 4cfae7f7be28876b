//! The command line: clap definitions and the headless commands (check, plan, run, export).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::mpsc;

use crate::exec::target::{self, TargetOptions};
use crate::exec::{Cancel, ConnectErrorKind, Headless, Prompter};
use crate::journal::{Event, Outcome, export};
use crate::runbook::{self, Runbook, TargetKind};
use crate::runner::{Operator, Runner, RunnerEvent, new_run_dir};
use crate::{paths, settings};

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
    /// Exit 0: all passed; 1: one failed; 2: usage or runbook error; 3: connection refused.
    Run {
        runbook: PathBuf,
        #[arg(long)]
        step: String,
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
    /// Check a run directory or an exported bundle: the hash chain, every output digest,
    /// SHA256SUMS and every signature. Exit 0 only if all hold; else name the first broken place.
    Verify {
        path: PathBuf,
        /// ssh-keygen allowed_signers file: who may sign with which key.
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
    },
    /// Open the demo runbook against an embedded SSH host on 127.0.0.1 (nothing to install).
    Demo {
        /// Run this step headless instead of opening the TUI.
        #[arg(long)]
        step: Option<String>,
        /// A runbook to use instead of the bundled demo (it must use the demo's variables:
        /// host, port, user, deploy_path, and a target named `staging`).
        #[arg(long, value_name = "FILE")]
        runbook: Option<PathBuf>,
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

/// Who acts, and the key their sign-offs are signed with (`--signing-key`, `signing_key` in
/// the config, else ssh-agent's first key, else an unencrypted default identity).
pub async fn operator(global: &Global) -> Result<Operator, String> {
    let settings = settings::load();
    let name = global
        .operator
        .clone()
        .or(settings.operator)
        .unwrap_or_else(target::login_name);
    let explicit = global.signing_key.clone().or(settings.signing_key);
    let key = crate::journal::sign::discover(explicit.as_deref(), &target::home_dir()).await?;
    if key.is_none() {
        tracing::warn!("no signing key found: sign-offs will be recorded unsigned");
    }
    Ok(Operator { name, key })
}

pub fn check(paths: &[PathBuf]) -> i32 {
    let mut bad = false;
    for p in paths {
        match runbook::load(p) {
            Ok(rb) => println!("{}: ok ({} steps)", p.display(), rb.steps.len()),
            Err(e) => {
                bad = true;
                for d in e.0 {
                    println!("{d}");
                }
            }
        }
    }
    i32::from(bad)
}

pub fn plan(rb: &Runbook, vars_given: &[(String, String)], global: &Global) -> i32 {
    let (vars, missing) = match rb.resolve_vars(vars_given) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let mut out = String::new();
    out.push_str(&format!(
        "# {} ({})\n# runbook sha256 {}\n",
        rb.title, rb.id, rb.source.sha256
    ));
    if !missing.is_empty() {
        out.push_str(&format!(
            "# variables without a value (shown as {{{{name}}}}): {}\n",
            missing.join(", ")
        ));
    }
    let opts = TargetOptions {
        ssh_config: global.ssh_config.clone(),
        ..Default::default()
    };
    out.push_str("\n## Targets\n");
    for t in &rb.targets {
        let desc = match &t.kind {
            TargetKind::Local => "the operator's machine".to_string(),
            TargetKind::Ssh(_) => match target::ssh_params(rb, &t.name, &vars, &opts) {
                Ok(p) => {
                    let via = p.jumps.iter().map(|j| j.endpoint()).collect::<Vec<_>>();
                    format!(
                        "ssh {}{} (known_hosts: {})",
                        p.endpoint(),
                        if via.is_empty() {
                            String::new()
                        } else {
                            format!(" via {}", via.join(" -> "))
                        },
                        p.known_hosts
                            .iter()
                            .map(|k| k.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
                Err(e) => format!("unresolved: {e}"),
            },
        };
        out.push_str(&format!("- {}: {desc}\n", t.name));
    }
    for s in &rb.steps {
        let page = s.page.map(|p| format!(" · page {p}")).unwrap_or_default();
        out.push_str(&format!(
            "\n## [{}] {} — {}{page}\n",
            s.level.label(),
            s.id,
            s.title
        ));
        for c in &s.commands {
            let shown = c
                .run
                .render(&vars)
                .map_or_else(|_| c.run.raw().to_string(), |r| r.display);
            let flags = [c.confirm.then_some("confirm"), c.pty.then_some("pty")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            out.push_str(&format!(
                "- {} on {} (timeout {}, expect {}{}{})\n",
                c.name,
                c.target,
                humantime::format_duration(c.timeout),
                c.expect.exit,
                c.expect
                    .stdout
                    .as_ref()
                    .map(|r| format!(", stdout /{}/", r.as_str()))
                    .unwrap_or_default(),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(", {}", flags.join(", "))
                }
            ));
            for line in shown.trim().lines() {
                out.push_str(&format!("    $ {line}\n"));
            }
        }
        for i in &s.checklist {
            out.push_str(&format!("- [ ] {} ({})\n", i.text, i.id));
        }
    }
    let g = &rb.gate;
    out.push_str(&format!(
        "\n## Gate{}\n- required steps: {}\n- sign-offs by distinct operators: {}\n",
        if g.title.is_empty() {
            String::new()
        } else {
            format!(": {}", g.title)
        },
        g.required_steps.join(", "),
        g.signoffs
    ));
    if let Some(r) = &g.rollback {
        out.push_str(&format!(
            "- rollback proof: `{}` then `{}`\n",
            r.rollback_step, r.forward_step
        ));
    }
    if let Some(m) = &g.monitor {
        out.push_str(&format!(
            "- monitoring: {} every {}, at most {} failures, probe `{}`\n",
            humantime::format_duration(m.duration),
            humantime::format_duration(m.every),
            m.max_failures,
            m.probe.name
        ));
    }
    print!(
        "{}",
        crate::secret::Redactor::new(&vars.secret_values()).redact_str(&out)
    );
    0
}

/// Secret values known to this process for a run: `--var`s and the environment variables the
/// runbook names for its secret variables.
fn known_secrets(rb: &Runbook, given: &[(String, String)]) -> crate::secret::Redactor {
    let mut secrets = Vec::new();
    for v in rb.vars.iter().filter(|v| v.secret) {
        let value = given
            .iter()
            .rev()
            .find(|(n, _)| n == &v.name)
            .map(|(_, x)| x.clone())
            .or_else(|| v.env.as_ref().and_then(|e| std::env::var(e).ok()));
        match value {
            Some(x) => secrets.push((v.name.clone(), crate::secret::SecretString::new(x))),
            None => eprintln!(
                "rehearse: cannot scan for secret `{}`: no value given (--var {}=... or ${})",
                v.name,
                v.name,
                v.env.as_deref().unwrap_or("ENV")
            ),
        }
    }
    crate::secret::Redactor::new(&secrets)
}

pub fn export_cmd(
    run_dir: &Path,
    format: Format,
    output: Option<&Path>,
    given: &[(String, String)],
) -> i32 {
    let rb = match export::run_runbook(run_dir) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let redactor = known_secrets(&rb, given);
    let is_file = output.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| ["md", "json", "html"].contains(&e.to_string_lossy().as_ref()))
    });
    if let (Some(dir), false) = (output, is_file) {
        return match export::write_bundle(run_dir, dir, format.ext(), &redactor) {
            Ok(b) => {
                eprintln!(
                    "wrote {} files to {} (check with: rehearse verify {})",
                    b.files.len(),
                    dir.display(),
                    dir.display()
                );
                0
            }
            Err(e) => {
                eprintln!("rehearse: {e}");
                EXIT_FAILED
            }
        };
    }
    let (report, _) = match export::build(run_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let text = match format {
        Format::Md => export::to_markdown(&report),
        Format::Json => export::to_json(&report),
        Format::Html => export::to_html(&report),
    };
    if let Some(which) = redactor.find_leak(text.as_bytes()) {
        eprintln!("rehearse: refusing to export: the report contains the value of {which}");
        return EXIT_FAILED;
    }
    match output {
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("rehearse: {}: {e}", p.display());
                return EXIT_FAILED;
            }
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    0
}

/// `rehearse watch`: resume the run and keep its monitoring window going.
pub async fn watch_cmd(
    run_dir: &Path,
    accept_new_host_key: bool,
    given: &[(String, String)],
    global: &Global,
) -> i32 {
    let rb = match export::run_runbook(run_dir) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if rb.gate.monitor.is_none() {
        eprintln!(
            "rehearse: runbook `{}` has no [gate.monitor] to watch",
            rb.id
        );
        return EXIT_USAGE;
    }
    // The run's recorded values first, then what is given now (secrets come from here).
    let entries = crate::journal::read_entries(run_dir).unwrap_or_default();
    let mut vars: Vec<(String, String)> = entries
        .iter()
        .find_map(|e| match &e.event {
            Event::RunStarted { vars, .. } => {
                Some(vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => None,
        })
        .unwrap_or_default();
    vars.extend(given.iter().cloned());
    let (vars, missing) = match rb.resolve_vars(&vars) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if !missing.is_empty() {
        eprintln!(
            "rehearse: variables without a value: {}",
            missing.join(", ")
        );
        return EXIT_USAGE;
    }
    let prompter: Arc<dyn Prompter> = Arc::new(Headless {
        accept_new_host_key,
    });
    let opts = TargetOptions {
        ssh_config: global.ssh_config.clone(),
        ..Default::default()
    };
    let execs = match target::executors(&rb, &vars, &opts, &prompter) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let operator = match operator(global).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let opened = match Runner::open(
        Arc::new(rb),
        vars,
        execs,
        operator,
        run_dir.to_path_buf(),
        tx,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let stop = Cancel::default();
    let s2 = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            s2.cancel();
        }
    });
    let state = crate::journal::state::RunState::from_entries(&opened.entries);
    let rb = opened.runner.runbook.clone();
    let result = crate::monitor::watch(&opened.runner, state.clone(), &stop, |e| {
        if let Event::Probe {
            passed,
            reason,
            duration_ms,
            ..
        } = &e.event
        {
            eprintln!(
                "{} probe {} ({duration_ms} ms){}",
                e.ts,
                if *passed { "passed" } else { "FAILED" },
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    })
    .await;
    let entries = crate::journal::read_entries(run_dir).unwrap_or_default();
    let p = crate::gate::monitor_progress(
        &rb,
        &crate::journal::state::RunState::from_entries(&entries),
    );
    if let Some(p) = p {
        let gaps: Vec<String> = p
            .gaps
            .iter()
            .map(|(at, d)| {
                format!(
                    "{} after {at}",
                    humantime::format_duration(Duration::from_secs(d.as_secs()))
                )
            })
            .collect();
        eprintln!(
            "watched {} of {}; {} passed, {} failed{}",
            humantime::format_duration(Duration::from_secs(p.watched.as_secs())),
            humantime::format_duration(p.total),
            p.passed,
            p.failed,
            if gaps.is_empty() {
                String::new()
            } else {
                format!("; unwatched gaps: {}", gaps.join(", "))
            }
        );
    }
    match result {
        Ok(crate::monitor::WindowEnd::Complete) => 0,
        Ok(crate::monitor::WindowEnd::Stopped) => 0,
        Ok(crate::monitor::WindowEnd::TooManyFailures(_)) => EXIT_FAILED,
        Err(e) => {
            eprintln!("rehearse: {e}");
            EXIT_FAILED
        }
    }
}

pub fn verify_cmd(path: &Path, allowed: Option<&Path>) -> i32 {
    let signers = match allowed.map(std::fs::read_to_string).transpose() {
        Ok(t) => t.map(|t| crate::journal::sign::AllowedSigners::parse(&t)),
        Err(e) => {
            eprintln!("rehearse: allowed signers: {e}");
            return EXIT_USAGE;
        }
    };
    let r = crate::journal::verify::verify(path, signers.as_ref());
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if let Some(first) = r.problems.first() {
        println!("FAILED: {first}");
        for p in r.problems.iter().skip(1) {
            println!("also: {p}");
        }
        return EXIT_FAILED;
    }
    println!(
        "ok: {} lines chained, {} outputs match their digests, {} SHA256SUMS entries, {} signatures valid",
        r.lines, r.outputs, r.sums, r.signatures
    );
    0
}

/// A `confirm = true` command run headless: ask on a terminal, else refuse unless `--yes`.
/// Returns the refusal, if any.
fn confirm_headless(runner: &Runner, step: &str, index: usize, yes: bool) -> Option<String> {
    use std::io::IsTerminal as _;
    let cmd = runner.runbook.step(step)?.commands.get(index)?;
    if !cmd.confirm || yes {
        return None;
    }
    let shown = runner.display(&cmd.run);
    if !std::io::stdin().is_terminal() {
        return Some(format!(
            "`{step}/{}` is marked confirm = true and there is no terminal to ask; read it with `rehearse plan` and pass --yes to run it:\n    $ {shown}",
            cmd.name
        ));
    }
    eprintln!(
        "── `{step}/{}` on {} is marked confirm = true:\n    $ {shown}",
        cmd.name, cmd.target
    );
    eprint!("run it? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
        .then_some(())
        .map_or_else(
            || Some(format!("`{step}/{}` not confirmed; stopped", cmd.name)),
            |()| None,
        )
}

/// Run one step headless. `opts` carries pins and keys for the demo host.
pub async fn run_step(
    rb: Runbook,
    step: &str,
    vars_given: &[(String, String)],
    run_dir: Option<PathBuf>,
    global: &Global,
    prompter: Arc<dyn Prompter>,
    opts: TargetOptions,
) -> i32 {
    let Some(st) = rb.step(step) else {
        let ids: Vec<_> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "rehearse: no step `{step}` in {} (steps: {})",
            rb.source.path.display(),
            ids.join(", ")
        );
        return EXIT_USAGE;
    };
    let n_commands = st.commands.len();
    let (vars, missing) = match rb.resolve_vars(vars_given) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if !missing.is_empty() {
        let hints: Vec<String> = missing
            .iter()
            .map(|m| {
                let env = rb
                    .vars
                    .iter()
                    .find(|v| &v.name == m)
                    .and_then(|v| v.env.clone());
                env.map_or_else(
                    || format!("--var {m}=..."),
                    |e| format!("--var {m}=... or ${e}"),
                )
            })
            .collect();
        eprintln!("rehearse: variables without a value: {}", hints.join(", "));
        return EXIT_USAGE;
    }
    let execs = match target::executors(&rb, &vars, &opts, &prompter) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let state = paths::state_dir(global.state_dir.as_deref());
    let run_dir = run_dir.unwrap_or_else(|| new_run_dir(&paths::runs_dir(&state), &rb.id));
    let (tx, mut rx) = mpsc::channel(1024);
    let operator = match operator(global).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let opened = match Runner::open(Arc::new(rb), vars, execs, operator, run_dir.clone(), tx) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(t) = &opened.torn {
        eprintln!(
            "rehearse: the journal's last write was cut short: {} bytes kept in {}",
            t.bytes,
            t.saved_as.display()
        );
    }
    let runner = opened.runner;
    let printer = tokio::spawn(async move {
        let mut stdout = std::io::stdout();
        let mut stderr = std::io::stderr();
        while let Some(ev) = rx.recv().await {
            match ev {
                RunnerEvent::Output {
                    stderr: false,
                    bytes,
                    ..
                } => {
                    let _ = stdout.write_all(&bytes);
                    let _ = stdout.flush();
                }
                RunnerEvent::Output {
                    stderr: true,
                    bytes,
                    ..
                } => {
                    let _ = stderr.write_all(&bytes);
                }
                RunnerEvent::Recorded(e) => match e.event {
                    Event::CommandStarted {
                        step,
                        command,
                        target,
                        ..
                    } => {
                        eprintln!("── {step}/{command} on {target}");
                    }
                    Event::HostKey {
                        host,
                        port,
                        fingerprint,
                        trust,
                        algorithm,
                        ..
                    } => {
                        eprintln!("── host key {host}:{port} {algorithm} {fingerprint} ({trust})");
                    }
                    Event::CommandFinished {
                        outcome,
                        exit_status,
                        duration_ms,
                        reason,
                        ..
                    } => {
                        let exit = exit_status.map_or_else(|| "-".into(), |c| c.to_string());
                        eprintln!(
                            "── {} (exit {exit}, {duration_ms} ms){}",
                            outcome.label(),
                            reason.map(|r| format!(": {r}")).unwrap_or_default()
                        );
                    }
                    _ => {}
                },
                RunnerEvent::JournalFailed(e) => eprintln!("rehearse: journal: {e}"),
            }
        }
    });
    let cancel = Cancel::default();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("rehearse: cancelling (INT, then TERM, then closing the channel)");
            c2.cancel();
        }
    });
    let mut code = 0;
    for i in 0..n_commands {
        if let Some(refusal) = confirm_headless(&runner, step, i, global.yes) {
            eprintln!("rehearse: {refusal}");
            code = EXIT_USAGE;
            break;
        }
        match runner.run_command(step, i, cancel.clone()).await {
            Ok(r) if r.outcome == Outcome::Passed => {
                if let Some(item) = r.proposes {
                    eprintln!(
                        "── passing this proves checklist item `{item}`: confirm it in the TUI"
                    );
                }
            }
            Ok(r) => {
                code = if matches!(
                    r.refused,
                    Some(
                        ConnectErrorKind::HostKey
                            | ConnectErrorKind::Auth
                            | ConnectErrorKind::Unreachable
                    )
                ) {
                    EXIT_REFUSED
                } else {
                    EXIT_FAILED
                };
                break;
            }
            Err(e) => {
                eprintln!("rehearse: journal: {e}");
                code = EXIT_FAILED;
                break;
            }
        }
    }
    drop(runner);
    let _ = printer.await;
    eprintln!("run: {}", run_dir.display());
    code
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

pub fn log_file(global: &Global) -> PathBuf {
    paths::log_dir(&paths::state_dir(global.state_dir.as_deref())).join("rehearse.log")
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
        }) => export_cmd(&run_dir, format, output.as_deref(), &cli.vars),
        Some(Cmd::Verify {
            path,
            allowed_signers,
        }) => verify_cmd(&path, allowed_signers.as_deref()),
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
        }) => match load(&runbook) {
            Ok(rb) => {
                let prompter: Arc<dyn Prompter> = Arc::new(Headless {
                    accept_new_host_key,
                });
                let opts = TargetOptions {
                    ssh_config: cli.global.ssh_config.clone(),
                    ..Default::default()
                };
                rt.block_on(run_step(
                    rb,
                    &step,
                    &cli.vars,
                    cli.run_dir,
                    &cli.global,
                    prompter,
                    opts,
                ))
            }
            Err(c) => c,
        },
        Some(Cmd::Demo { step, runbook }) => rt.block_on(crate::demo::main(
            step,
            runbook,
            cli.vars,
            cli.run_dir,
            cli.global,
        )),
        None => match cli.runbook {
            Some(p) => match load(&p) {
                Ok(rb) => rt.block_on(crate::tui::open(
                    rb,
                    cli.vars,
                    cli.run_dir,
                    cli.global,
                    None,
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
