//! Laravel staging beside production on one server (two logins, `admin` and `app`, both on the
//! demo host): database, sanitized copy, vhost, TLS, the feature branch checked out with real
//! git, .env, migrations, flags, health; then the rollback to the commit `checkout` captured
//! as `previous`, forward to the captured `release`, two sign-offs and the monitoring window.

use crate::shortened;
use crate::walk::{Walk, git, write_files};

const ENV_STAGING: &str = "APP_NAME=App\nAPP_ENV=staging\nAPP_KEY=\nAPP_DEBUG=false\n\
APP_URL=https://staging.shop.test\nDB_DATABASE=app_staging\nDB_USERNAME=app_staging\n\
DB_PASSWORD=\nCACHE_PREFIX=app_staging_\nREDIS_PREFIX=app_staging_\n\
SESSION_COOKIE=app_staging_session\nSESSION_DOMAIN=staging.shop.test\nMAIL_MAILER=log\n\
FEATURE_CUSTOMER_PORTAL=false\n";

const ENV_PRODUCTION: &str = "APP_ENV=production\nCACHE_PREFIX=app_production_\n\
REDIS_PREFIX=app_production_\nSESSION_COOKIE=app_session\nSESSION_DOMAIN=shop.test\n\
FEATURE_CUSTOMER_PORTAL=false\n";

#[test]
fn laravel_rolls_back_to_the_captured_commit_and_forward() {
    // Replaced: the gate's monitoring window, 1h probed every 5m -> 3s probed every 1s.
    let text = shortened(
        "laravel-staging.toml",
        &[
            ("duration = \"1h\"", "duration = \"3s\""),
            ("every = \"5m\"", "every = \"1s\""),
        ],
    );
    let mut w = Walk::start(
        "laravel",
        &text,
        &[
            ("domain", "staging.shop.test"),
            ("prod_domain", "shop.test"),
            ("acme_email", "ops@shop.test"),
            ("repo_url", "{dir}/repo.git"),
            ("app_path", "{dir}/srv/app-staging"),
            ("prod_app_path", "{dir}/srv/app"),
            ("backup_dir", "{dir}/root/var/backups/app-staging"),
        ],
        &[
            ("WALK_A_RECORD", "192.0.2.20"),
            ("REHEARSE_STAGING_DB_PASSWORD", "walk-staging-db-pw"),
            ("REHEARSE_STAGING_TEST_PASSWORD", "walk-test-login-pw"),
        ],
    );
    // The team's repository: staging already serves the branch's first commit; a second one
    // is pushed, which `checkout` fetches.
    let top = w.dir.path().to_path_buf();
    let (src, repo, staging) = (
        top.join("src"),
        top.join("repo.git"),
        top.join("srv/app-staging"),
    );
    std::fs::create_dir_all(&src).expect("src");
    git(&top, &["init", "-q", "--bare", "repo.git"]);
    git(&src, &["init", "-q", "-b", "feature/customer-portal"]);
    write_files(
        &src,
        &[
            (".env.staging", ENV_STAGING),
            (
                "database/migrations/2024_01_01_000000_create_users_table.php",
                "<?php\n",
            ),
            ("storage/logs/.gitkeep", ""),
            ("bootstrap/cache/.gitkeep", ""),
            ("public/index.php", "<?php\n"),
        ],
    );
    git(&src, &["add", "."]);
    git(&src, &["commit", "-qm", "portal: skeleton"]);
    let repo_s = repo.display().to_string();
    git(&src, &["push", "-q", &repo_s, "feature/customer-portal"]);
    let staging_s = staging.display().to_string();
    git(
        &top,
        &[
            "clone",
            "-q",
            "--branch",
            "feature/customer-portal",
            &repo_s,
            &staging_s,
        ],
    );
    let first = git(&src, &["rev-parse", "HEAD"]);
    write_files(
        &src,
        &[(
            "database/migrations/2024_06_01_000000_create_portal_table.php",
            "<?php\n",
        )],
    );
    git(&src, &["add", "."]);
    git(&src, &["commit", "-qm", "portal: appointments"]);
    git(&src, &["push", "-q", &repo_s, "feature/customer-portal"]);
    let second = git(&src, &["rev-parse", "HEAD"]);
    write_files(&top.join("srv/app"), &[(".env", ENV_PRODUCTION)]);

    w.step("preflight", &[]);
    w.tick("preflight", &["host-key"]);
    w.step("database", &[]);
    w.step("db-sync", &[]);
    w.tick("db-sync", &["app-data"]);
    w.step("vhost", &[]);
    w.step("tls", &[]);
    w.step("checkout", &[]);
    let j = w.journal();
    for (name, value) in [("previous", &first), ("release", &second)] {
        assert!(
            j.lines()
                .any(|l| l.contains(r#""kind":"captured","step":"checkout""#)
                    && l.contains(&format!(r#""name":"{name}","value":"{value}""#))),
            "{name} = {value} not captured:\n{j}"
        );
    }
    w.step("env", &[]);
    w.tick("env", &["sessions", "mail"]);
    w.step("init", &[]);
    w.step("flags", &[]);
    w.step("health", &[]);
    w.tick("health", &["login", "qa"]);
    // The rollback checks out the commit `checkout` captured as `previous`.
    w.step("rollback", &[]);
    w.tick("rollback", &["schema-compatible"]);
    assert_eq!(git(&staging, &["rev-parse", "HEAD"]), first);
    let j = w.journal();
    let rolled = j
        .lines()
        .find(|l| l.contains(r#""kind":"command_started","step":"rollback","command":"checkout""#))
        .expect("the rollback's checkout");
    assert!(
        // A plain value needs no quotes: the captured hash as it is.
        rolled.contains(&format!("git checkout --detach {first} ")),
        "{rolled}"
    );
    w.step("forward", &[]);
    assert_eq!(git(&staging, &["rev-parse", "HEAD"]), second);
    w.sign("forward", "back on the branch head after the rollback");
    w.switch_to("bob");
    w.sign("rollback", "the previous commit served staging");
    w.switch_to("ana");

    w.open_the_gate_and_verify();
}
