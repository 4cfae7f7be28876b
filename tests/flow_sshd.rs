//! The execution model over a real OpenSSH sshd on 127.0.0.1: `retries` and `until` polling
//! reconnect nothing and record every attempt, a value captured on the host feeds the rollback
//! run on the host, and a hold probes the host until its time is up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{Client, Sshd};
use rehearse::journal::state::{RunState, StepStatus};
use rehearse::journal::{Event, read_entries};

const RUNBOOK: &str = r#"
format = 2
id = "flow-sshd"
title = "Flow over sshd"
default_timeout = "1m"

[vars.port]
default = "22"

[vars.work]
default = "/nonexistent"
description = "A directory on the host (the same machine here) the commands keep state in"

[targets.host]
host = "127.0.0.1"
port = "{{port}}"
user = "root"

[[steps]]
id = "poll"
title = "Retries and polling"
level = "must"
target = "host"

[[steps.commands]]
name = "flaky"
run = 'cd {{work}} && n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo "attempt $n"; [ $n -ge 3 ]'
retries = 4
retry_delay = "100ms"

[[steps.commands]]
name = "wait"
run = 'cd {{work}} && m=$(cat m 2>/dev/null || echo 0); m=$((m+1)); echo $m > m; if [ $m -ge 3 ]; then echo ready; else echo starting; fi'
until = { stdout = '^ready$', every = "200ms", within = "20s" }

[[steps]]
id = "deploy"
title = "Deploy, remembering the release before"
level = "must"
target = "host"
after = ["poll"]

[[steps.commands]]
name = "previous"
run = 'cat {{work}}/current'
capture = { name = "previous", regex = '^(r\d+)$' }

[[steps.commands]]
name = "release"
run = 'echo r8 > {{work}}/current; echo "now r8"'

[[steps]]
id = "rollback"
title = "Back to the captured release"
level = "must"
target = "host"
after = ["deploy"]

[[steps.commands]]
name = "back"
run = 'printf "%s\n" {{previous}} > {{work}}/current; cat {{work}}/current'
expect = { stdout = '^{{previous}}$' }

[[steps]]
id = "watch"
title = "Hold, probing the host"
level = "must"
target = "host"
after = ["rollback"]

[[steps.commands]]
name = "mark"
run = 'echo holding > {{work}}/hold'

[steps.hold]
for = "1s"
every = "100ms"
probe = { run = 'cat {{work}}/hold', expect = { stdout = '^holding$' } }
abort_if = { in_a_row = 2 }

[[steps]]
id = "broken"
title = "A failing step with a rescue"
level = "optional"
target = "host"

[[steps.commands]]
name = "fail"
run = 'exit 7'
retries = 1

[[steps.on_failure]]
name = "rescue"
run = 'echo rescued > {{work}}/rescued'
"#;

struct Setup {
    sshd: Sshd,
    client: Client,
    runbook: PathBuf,
    work: PathBuf,
    run_dir: PathBuf,
}

fn setup() -> Setup {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let runbook = client.dir.path().join("flow-sshd.toml");
    fs::write(&runbook, RUNBOOK).unwrap();
    // The target alone says where to go: no alias settings for 127.0.0.1.
    fs::write(&client.config, "").unwrap();
    let work = client.dir.path().join("work");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("current"), "r5\n").unwrap();
    let run_dir = client.dir.path().join("run");
    Setup {
        sshd,
        client,
        runbook,
        work,
        run_dir,
    }
}

impl Setup {
    fn run(&self, step: &str) -> Output {
        self.client
            .rehearse()
            .arg("run")
            .arg(&self.runbook)
            .args(["--step", step, "--var"])
            .arg(format!("port={}", self.sshd.port))
            .arg("--var")
            .arg(format!("work={}", self.work.display()))
            .arg("--state-dir")
            .arg(self.client.dir.path().join("state"))
            .arg("--run")
            .arg(&self.run_dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn state(&self) -> RunState {
        RunState::from_entries(&read_entries(&self.run_dir).unwrap())
    }

    fn runs_of(&self, step: &str, command: &str) -> usize {
        let s = self.state();
        s.step(step).map_or(0, |r| {
            r.runs.iter().filter(|c| c.command == command).count()
        })
    }
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap()
}

#[test]
fn retries_until_a_capture_and_a_hold_run_over_a_real_sshd() {
    let s = setup();
    let rb = rehearse::report::run_runbook;

    // Retries: two failures, then a pass; `until`: polled until the host says ready.
    let o = s.run("poll");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(s.runs_of("poll", "flaky"), 3, "two failures, then a pass");
    assert_eq!(s.runs_of("poll", "wait"), 3, "polled until ready");
    assert_eq!(read(&s.work.join("n")), "3\n");
    let host_keys = s.state().host_keys.len();
    assert_eq!(host_keys, 1, "one connection for every attempt");

    // The release before is captured on the host and the rollback returns to it.
    let o = s.run("deploy");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(s.state().captures["previous"].value, "r5");
    assert_eq!(read(&s.work.join("current")), "r8\n");
    let o = s.run("rollback");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(read(&s.work.join("current")), "r5\n");
    let st = s.state();
    assert!(st.last_run("rollback", "back").unwrap().run.contains("r5"));

    // A hold whose probes run on the host, every one recorded.
    let o = s.run("watch");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let book = rb(&s.run_dir).unwrap();
    let st = s.state();
    let step = book.step("watch").unwrap();
    assert_eq!(st.step_status(step), StepStatus::Passed);
    let probes = read_entries(&s.run_dir)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.event, Event::Probe { step: Some(x), passed: true, .. } if x == "watch"))
        .count();
    assert!(probes >= 5, "{probes} probes");

    // Retries exhausted: the step fails and its rescue runs on the host.
    let o = s.run("broken");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(s.runs_of("broken", "fail"), 2);
    assert_eq!(s.runs_of("broken", "rescue"), 1);
    assert_eq!(read(&s.work.join("rescued")), "rescued\n");

    // And the whole run verifies.
    let v = rehearse::evidence::verify::verify(&s.run_dir, None);
    assert!(v.ok(), "{:?}", v.problems);
}
