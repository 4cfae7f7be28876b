//! The staged rollout: staging, tests, UAT, production prep, the balancer (the runbook's own
//! `rollout-split` and `rollout-stats` helpers, installed under the test's /usr/local and run
//! against its /etc/nginx and access log), the canary, the quick rollback, then 5%, 25% and
//! 50% each held while probed (25% aborts on an alert first: its on_failure sends every client
//! back to blue, and the stage is shifted and held again), 100%, validation, two sign-offs and
//! the monitoring window.
//! The balancer's traffic is lines the test appends to the rollout log, as nginx would.

use std::io::Write as _;
use std::path::Path;

use crate::shortened;
use crate::tmux::wait_file;
use crate::walk::{T, Walk, count, write_files};

const SITE: &str = "server {\n    listen 443 ssl;\n    server_name app.test;\n\
    access_log /var/log/nginx/rollout.log rollout;\n\
    location / {\n        proxy_pass http://$rollout_pool;\n    }\n}\n";

/// `n` requests to `pool`, `age` seconds ago, in nginx's `rollout` log format.
fn traffic(root: &Path, pool: &str, n: usize, age: u64, status: u16) {
    let log = root.join("var/log/nginx/rollout.log");
    std::fs::create_dir_all(log.parent().expect("dir")).expect("mkdir");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log");
    for i in 0..n {
        writeln!(f, "{}.{i:03} {pool} {status} 0.050", now - age).expect("append");
    }
}

#[test]
fn staged_rollout_holds_each_stage_to_a_proven_gate() {
    // Replaced: each hold (2h, 4h, 8h probed every 1m) -> 2s probed every 1s; the `until`
    // polls every 15s / 20s -> 1s; the gate's window, 48h probed every 5m -> 3s every 1s.
    let text = shortened(
        "staged-rollout.toml",
        &[
            ("for = \"2h\"", "for = \"2s\""),
            ("for = \"4h\"", "for = \"2s\""),
            ("for = \"8h\"", "for = \"2s\""),
            ("every = \"1m\"", "every = \"1s\""),
            ("every = \"15s\"", "every = \"1s\""),
            ("every = \"20s\"", "every = \"1s\""),
            ("duration = \"48h\"", "duration = \"3s\""),
            ("every = \"5m\"", "every = \"1s\""),
        ],
    );
    let mut w = Walk::start(
        "rollout",
        &text,
        &[
            ("staging_api_url", "https://api.staging.app.test"),
            ("staging_web_url", "https://staging.app.test"),
            ("prod_domain", "app.test"),
            ("blue_upstream", "blue.internal:8000"),
            ("green_upstream", "green.internal:8000"),
        ],
        &[
            ("WALK_A_RECORD", "192.0.2.30"),
            (
                "REHEARSE_STAGING_DATABASE_URL",
                "postgres://app@staging-db/app",
            ),
            ("REHEARSE_PROD_DATABASE_URL", "postgres://app@prod-db/app"),
        ],
    );
    // The project's checkout, where the local commands run.
    write_files(
        &w.work,
        &[("frontend/package.json", "{\"name\": \"frontend\"}\n")],
    );
    w.step("staging-db", &[]);
    w.step("staging-deploy", &[]);
    w.step("automated-tests", &[]);
    for id in ["manual-tests", "uat"] {
        w.goto(id);
        w.tick_rest(id);
    }
    w.step("prod-prep", &[]);
    w.tick("prod-prep", &["integrity"]);
    // The production server block routes through the split and logs the pool; blue has
    // taken requests in the last minute (50 s ago, so they age out before 100%).
    write_files(&w.root, &[("etc/nginx/sites-enabled/app.test", SITE)]);
    traffic(&w.root, "blue", 40, 50, 200);
    w.step("balancer", &[]);
    w.step("rollback-ready", &[]);
    w.tick("rollback-ready", &["comms", "on-call"]);
    // Green's first requests, 61 s ago: within the canary's 2 minutes, outside the minute
    // the quick rollback looks at.
    traffic(&w.root, "green", 30, 61, 200);
    w.step("canary", &[]);
    w.step("quick-rollback", &[]);
    w.tick("quick-rollback", &["investigated"]);
    let split = w.root.join("etc/nginx/conf.d/rollout-split.conf");
    let read = |p: &Path| std::fs::read_to_string(p).expect("split");
    w.step("traffic-5", &[]);
    assert!(read(&split).contains("    5%  green;"), "{}", read(&split));
    assert_eq!(w.hold("traffic-5"), "passed");

    // At 25% green starts failing: the first probe says ALERT, the hold aborts, and the
    // step's on_failure sends every client back to blue.
    w.step("traffic-25", &[]);
    traffic(&w.root, "green", 30, 0, 500);
    assert_eq!(w.hold("traffic-25"), "aborted");
    let j = w.t.wait_for("the abort shown", T, |s| s.contains("✗"));
    assert!(!j.is_empty());
    let journal = w.journal();
    assert!(
        journal.lines().any(|l| l.contains(r#""kind":"probe""#)
            && l.contains(r#""step":"traffic-25""#)
            && l.contains(r#""passed":false"#)),
        "{journal}"
    );
    wait_file(&w.journal, "the on_failure all-to-blue", T, |j| {
        j.contains(r#""kind":"command_finished","step":"traffic-25","command":"all-to-blue""#)
    });
    assert!(
        w.output("traffic-25", "all-to-blue")
            .contains("green now takes 0% of clients")
    );
    assert!(read(&split).contains("    *   blue;"), "{}", read(&split));
    // Fixed, and the log rotated. Holding again must not measure blue alone: Enter offers to
    // shift to 25% again first (with a reason), and only then holds a new window.
    let log = w.root.join("var/log/nginx/rollout.log");
    std::fs::rename(&log, log.with_extension("log.1")).expect("rotate");
    w.goto("traffic-25");
    w.t.keys(&["Enter"]);
    w.t.wait_text("Every command of `traffic-25` has passed", T);
    w.t.text("green fixed (connection pool size), shifting to 25% again");
    w.t.keys(&["Enter"]);
    w.t.wait_text("Confirm command", T);
    let n = count(&w.journal, "command_finished");
    w.t.keys(&["y"]);
    wait_file(&w.journal, "shift-25 again", T, |j| {
        j.matches(r#""kind":"command_finished""#).count() > n
    });
    assert!(read(&split).contains("    25%  green;"), "{}", read(&split));
    assert_eq!(w.hold("traffic-25"), "passed");

    w.step("traffic-50", &[]);
    assert!(read(&split).contains("    50%  green;"), "{}", read(&split));
    assert_eq!(w.hold("traffic-50"), "passed");
    w.step("traffic-100", &[]);
    let conf = std::fs::read_to_string(&split).expect("split");
    assert!(conf.contains("    *   green;"), "{conf}");
    w.step("post-validation", &[]);
    w.goto("success-criteria");
    w.tick_rest("success-criteria");
    w.sign("traffic-100", "all traffic on green, blue kept warm");
    w.switch_to("bob");
    w.sign("quick-rollback", "the drill sent every client back to blue");
    w.switch_to("ana");

    let j = w.journal();
    assert!(
        j.contains(r#""kind":"host_key","target":"lb","host":"127.0.0.1""#),
        "{j}"
    );
    let probes = j
        .lines()
        .filter(|l| l.contains(r#""kind":"probe""#) && l.contains(r#""step":"traffic-"#))
        .count();
    assert!(probes >= 6, "each hold probed at least twice: {probes}");
    w.open_the_gate_and_verify();
}
