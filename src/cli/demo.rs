//! `rehearse demo`: the bundled demo runbook (or any runbook, `--runbook FILE`) against the
//! embedded SSH host, with the host's key pinned and a throwaway client key. Every SSH target
//! of the runbook is pointed at that host, so any runbook's flow can be rehearsed on a
//! throwaway host. Quitting stops the host.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::{EXIT_FAILED, EXIT_USAGE, Global};
use crate::exec::target::TargetOptions;
use crate::exec::{Headless, Prompter};
use crate::runbook::{self, Runbook, SshTarget, TargetKind, Template};
use crate::server::{DEMO_USER, DemoHost};
use crate::session::paths;

pub const DEMO_RUNBOOK: &str = "demo-staging.toml";

/// Where the demo host keeps its files for one run.
fn sandbox_for(run_dir: &std::path::Path) -> PathBuf {
    run_dir.join("demo-host")
}

/// Start the host and point the runbook at it: every SSH target of `rb` is rewritten to
/// reach the embedded host (127.0.0.1, its port, the demo user) with the host's key pinned,
/// and variables that only named a target's address, port or login get the demo's values, so
/// the journal's `run_started` and `host_key` lines say where the commands really ran.
pub async fn prepare(
    run_dir: &std::path::Path,
    rb: &mut Runbook,
    given: &[(String, String)],
) -> std::io::Result<(DemoHost, Vec<(String, String)>, TargetOptions)> {
    let host = DemoHost::start(&sandbox_for(run_dir)).await?;
    let port = host.addr.port().to_string();
    let deploy = host.sandbox.join("srv/shop");
    // Provisioned, as a real host would be before its first deploy (runbooks check it exists).
    std::fs::create_dir_all(&deploy)?;
    let mut vars = vec![
        ("host".to_string(), "127.0.0.1".to_string()),
        ("port".to_string(), port.clone()),
        ("user".to_string(), DEMO_USER.to_string()),
        ("deploy_path".to_string(), deploy.display().to_string()),
    ];
    if std::env::var_os("REHEARSE_DB_PASSWORD").is_none()
        && !given.iter().any(|(k, _)| k == "db_password")
    {
        // A fresh throwaway secret each run, so the demo shows redaction at work.
        let pw: String = {
            use rand::RngExt as _;
            let mut rng = rand::rng();
            (0..16)
                .map(|_| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[rng.random_range(0..31)]))
                .collect()
        };
        vars.push(("db_password".to_string(), format!("demo-{pw}")));
    }
    let mut opts = TargetOptions {
        no_agent: true,
        // The operator's ~/.ssh/config is about real hosts; none of it applies here. (Not a
        // file in the sandbox: the demo host's own commands could write one there.)
        ssh_config: Some(PathBuf::from("/dev/null")),
        ..Default::default()
    };
    for t in &mut rb.targets {
        let TargetKind::Ssh(ssh) = &mut t.kind else {
            continue;
        };
        for (field, value) in [
            (&ssh.host, "127.0.0.1"),
            (&ssh.alias, "127.0.0.1"),
            (&ssh.port, port.as_str()),
            (&ssh.user, DEMO_USER),
        ] {
            if let Some(name) = field.as_ref().and_then(sole_placeholder) {
                vars.push((name, value.to_string()));
            }
        }
        **ssh = SshTarget {
            host: Some(Template::parse("127.0.0.1")),
            port: Some(Template::parse(&port)),
            user: Some(Template::parse(DEMO_USER)),
            ..SshTarget::default()
        };
        opts.pins.insert(t.name.clone(), host.host_key.clone());
    }
    opts.keys.push(host.client_key.clone());
    // Recorded in `run_started`: reports and `verify` say the run rehearsed the runbook here.
    rb.redirected = Some(if local_count(rb) > 0 {
        "the embedded demo host on 127.0.0.1 (`rehearse demo`); `local` commands ran on the \
         operator's machine"
            .to_string()
    } else {
        "the embedded demo host on 127.0.0.1 (`rehearse demo`)".to_string()
    });
    // Only what the runbook declares (any runbook may be given), and what the operator gave
    // wins over the demo's values.
    let mut seen = std::collections::BTreeSet::new();
    vars.retain(|(k, _)| {
        rb.vars.iter().any(|v| &v.name == k)
            && !given.iter().any(|(g, _)| g == k)
            && seen.insert(k.clone())
    });
    vars.extend(given.iter().cloned());
    Ok((host, vars, opts))
}

/// Commands of `rb` that run on the operator's machine (steps, their holds and rescues, and
/// the gate's probe): a rehearsal on the demo host does not move them.
fn local_count(rb: &Runbook) -> usize {
    rb.steps
        .iter()
        .flat_map(crate::runbook::Step::all_commands)
        .chain(rb.gate.monitor.as_ref().map(|m| &m.probe))
        .filter(|c| c.target == runbook::LOCAL)
        .count()
}

/// The variable a target field names when it is nothing but `{{ name }}`.
fn sole_placeholder(t: &Template) -> Option<String> {
    let inner = t
        .raw()
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim();
    let mut names = t.names();
    match (names.next(), names.next()) {
        (Some((_, n)), None) if n == inner => Some(n.to_string()),
        _ => None,
    }
}

pub async fn main(
    step: Option<String>,
    runbook_file: Option<PathBuf>,
    local_commands: bool,
    given: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    global: Global,
) -> i32 {
    let loaded = match runbook_file {
        Some(p) => Some(runbook::open(&p)),
        None => runbook::bundled(DEMO_RUNBOOK),
    };
    let mut rb = match loaded {
        Some(Ok(rb)) => rb,
        Some(Err(e)) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
        None => return EXIT_USAGE,
    };
    // Only SSH targets move to the demo host: a `local` command would run here, for real, with
    // this machine's credentials. That takes asking for.
    let local = local_count(&rb);
    if local > 0 && !local_commands {
        eprintln!(
            "rehearse: {local} command(s) of `{}` run on this machine (target `local`), not on \
             the demo host: with this machine's tools and credentials, for real. Pass \
             --local-commands to run them anyway (with stand-ins first on PATH, say).",
            rb.id
        );
        return EXIT_USAGE;
    }
    let state = paths::state_dir(global.state_dir.as_deref());
    let run_dir =
        run_dir.unwrap_or_else(|| crate::runner::new_run_dir(&paths::runs_dir(&state), &rb.id));
    if let Err(e) = std::fs::create_dir_all(&run_dir) {
        eprintln!("rehearse: {}: {e}", run_dir.display());
        return EXIT_FAILED;
    }
    let (host, vars, opts) = match prepare(&run_dir, &mut rb, &given).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rehearse: cannot start the demo host: {e}");
            return EXIT_FAILED;
        }
    };
    tracing::info!(
        "demo host on {} (key {})",
        host.addr,
        host.host_key.fingerprint(russh::keys::HashAlg::Sha256)
    );
    let code = match step {
        Some(step) => {
            let prompter: Arc<dyn Prompter> = Arc::new(Headless {
                accept_new_host_key: false,
            });
            crate::cli::run_step(rb, &step, &vars, Some(run_dir), &global, prompter, opts).await
        }
        None => crate::cli::open_tui(rb, vars, Some(run_dir), &global, opts).await,
    };
    host.stop();
    code
}
