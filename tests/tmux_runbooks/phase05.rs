//! Phase 5 on a throwaway host: preflight to forward in order, the launch path chosen (B) and
//! the other two paths skipped, two operators' sign-offs, and the monitoring window to a
//! proven gate.

use crate::shortened;
use crate::walk::{T, Walk, git, write_files};

#[test]
fn phase_05_walks_to_a_proven_gate() {
    // Replaced: the gate's monitoring window, 24h probed every 5m -> 3s probed every 1s.
    let text = shortened(
        "phase-05-staging.toml",
        &[
            ("duration = \"24h\"", "duration = \"3s\""),
            ("every = \"5m\"", "every = \"1s\""),
        ],
    );
    let mut w = Walk::start(
        "phase05",
        &text,
        &[
            ("domain", "staging.shop.test"),
            ("acme_email", "ops@shop.test"),
        ],
        &[
            ("WALK_A_RECORD", "192.0.2.10"),
            ("REHEARSE_DB_PASSWORD", "walk-staging-pw"),
        ],
    );
    // The operator's checkout, where `dep` runs and schema parity is read from.
    write_files(
        &w.work,
        &[
            (
                "database/migrations/0001_01_01_000000_create_users_table.php",
                "<?php\n",
            ),
            (
                "database/migrations/2024_05_01_000000_create_orders_table.php",
                "<?php\n",
            ),
        ],
    );
    git(&w.work, &["init", "-q"]);
    git(&w.work, &["add", "."]);
    git(&w.work, &["commit", "-qm", "the app"]);
    w.step("preflight", &[]);
    w.tick("preflight", &["host-key"]);
    w.step("env", &[]);
    w.step("dns-tls", &[]);
    w.step("release", &[]);
    w.step("installer", &[]);
    w.tick("installer", &["wizard"]);
    w.step("schedule-schema", &[]);
    w.step("rollback", &[]);
    w.tick("rollback", &["schema-compatible"]);
    w.step("forward", &[]);
    w.sign("forward", "rolled back and forward on the throwaway host");
    w.switch_to("bob");
    w.sign("rollback", "previous release served after the rollback");
    w.switch_to("ana");
    w.step("sync", &[]);
    w.step("audit", &[]);
    w.choose("launch-path", 1, "hardening before production");
    // The step list marks a skipped step `–`: A and C are, B is open.
    w.t.wait_for("paths A and C skipped, B open", T, |s| {
        s.contains("– Path A") && s.contains("– Path C") && s.contains("· Path B")
    });
    w.goto("path-b");
    w.tick_rest("path-b");

    let j = w.journal();
    // Every SSH command ran on the demo host, its key pinned.
    assert!(
        j.contains(r#""kind":"host_key","target":"staging","host":"127.0.0.1""#)
            && j.contains(r#""trust":"pinned""#),
        "{j}"
    );
    assert!(
        j.contains(r#""kind":"choice","step":"launch-path","option":"B""#),
        "{j}"
    );
    // The rollback really went back: Deployer marked the abandoned release, and the site's
    // vhost went to the test's /etc, not the machine's.
    assert!(
        w.run
            .join("demo-host/srv/shop/releases/2/BAD_RELEASE")
            .exists()
    );
    assert!(
        w.root
            .join("etc/nginx/sites-enabled/staging.shop.test")
            .exists()
    );

    w.open_the_gate_and_verify();
}
