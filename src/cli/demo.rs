//! `rehearse demo`: the bundled demo runbook against the embedded SSH host, with the host's
//! key pinned and a throwaway client key. Quitting stops the host.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::{EXIT_FAILED, EXIT_USAGE, Global};
use crate::exec::target::TargetOptions;
use crate::exec::{Headless, Prompter};
use crate::runbook;
use crate::server::{DEMO_USER, DemoHost};
use crate::session::paths;

pub const DEMO_RUNBOOK: &str = "demo-staging.toml";

/// Where the demo host keeps its files for one run.
fn sandbox_for(run_dir: &std::path::Path) -> PathBuf {
    run_dir.join("demo-host")
}

/// Start the host and fill in the variables that point the runbook at it.
pub async fn prepare(
    run_dir: &std::path::Path,
    given: &[(String, String)],
) -> std::io::Result<(DemoHost, Vec<(String, String)>, TargetOptions)> {
    let host = DemoHost::start(&sandbox_for(run_dir)).await?;
    let deploy = host.sandbox.join("srv/shop");
    let mut vars = vec![
        ("host".to_string(), "127.0.0.1".to_string()),
        ("port".to_string(), host.addr.port().to_string()),
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
    vars.extend(given.iter().cloned());
    let mut opts = TargetOptions {
        no_agent: true,
        ..Default::default()
    };
    opts.pins
        .insert("staging".to_string(), host.host_key.clone());
    opts.keys.push(host.client_key.clone());
    Ok((host, vars, opts))
}

pub async fn main(
    step: Option<String>,
    runbook_file: Option<PathBuf>,
    given: Vec<(String, String)>,
    run_dir: Option<PathBuf>,
    global: Global,
) -> i32 {
    let loaded = match runbook_file {
        Some(p) => Some(runbook::open(&p)),
        None => runbook::bundled(DEMO_RUNBOOK),
    };
    let rb = match loaded {
        Some(Ok(rb)) => rb,
        Some(Err(e)) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
        None => return EXIT_USAGE,
    };
    let state = paths::state_dir(global.state_dir.as_deref());
    let run_dir =
        run_dir.unwrap_or_else(|| crate::runner::new_run_dir(&paths::runs_dir(&state), &rb.id));
    if let Err(e) = std::fs::create_dir_all(&run_dir) {
        eprintln!("rehearse: {}: {e}", run_dir.display());
        return EXIT_FAILED;
    }
    let (host, vars, opts) = match prepare(&run_dir, &given).await {
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
