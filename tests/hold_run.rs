//! Holds through the real binary on the operator's machine (`local`): a hold that passes when
//! its time is up, one that aborts on its criterion (and runs `on_failure`), and one killed
//! with -9 mid-window that a second process completes, the unwatched time recorded as a gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rehearse::journal::event::HoldOutcome;
use rehearse::journal::state::{RunState, StepStatus};
use rehearse::journal::{Event, read_entries};
use rehearse::runbook::Runbook;

const RUNBOOK: &str = r#"
format = 2
id = "holds"
title = "Holds"

[vars.stage]
default = "25"
choices = ["25", "50", "100"]

[[steps]]
id = "stage"
title = "Shift traffic and hold"
level = "must"
target = "local"

[[steps.commands]]
name = "shift"
run = "echo {{stage}} > weight; echo shifted >> shifts"

[steps.hold]
for = "1s"
every = "100ms"
probe = { run = "echo rate=0.2; cat weight", expect = { stdout = '^{{stage}}$' } }
abort_if = { failed = 2, stdout = 'rate=([1-9]|[0-9]{2,})\.' }

[[steps]]
id = "errors"
title = "A stage whose 5xx rate is too high"
level = "must"
target = "local"

[[steps.commands]]
name = "shift"
run = "echo shifted > errors-shifted"

[steps.hold]
for = "1h"
every = "100ms"
probe = { run = "n=$(cat polls 2>/dev/null || echo 0); n=$((n+1)); echo $n > polls; if [ $n -ge 3 ]; then echo rate=4.5; else echo rate=0.1; fi" }
abort_if = { stdout = 'rate=([1-9]|[0-9]{2,})\.' }

[[steps.on_failure]]
name = "back"
run = "echo rolled-back > rolled-back"

[[steps]]
id = "long"
title = "A longer hold"
level = "must"
target = "local"

[[steps.commands]]
name = "shift"
run = "echo shifted >> long-shifts"

[steps.hold]
for = "3s"
every = "100ms"
probe = { run = "true" }
abort_if = { failed = 1 }

[[steps]]
id = "broken-probe"
title = "A hold whose probe cannot be rendered"
level = "optional"
target = "local"

[[steps.commands]]
name = "shift"
run = "echo shifted"

[[steps.commands]]
name = "maybe"
run = "echo r1"
when = "var.stage == '100'"
capture = { name = "never", regex = '(r\d)' }

[steps.hold]
for = "1s"
every = "100ms"
probe = { run = "echo {{never}}" }
abort_if = { failed = 1 }
"#;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("holds.toml"), RUNBOOK).unwrap();
    let run = dir.path().join("run");
    (dir, run)
}

fn command(dir: &Path, run: &Path, step: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.current_dir(dir)
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env("REHEARSE_CONFIG_DIR", dir.join("cfg"))
        .env("SSH_AUTH_SOCK", "")
        .env("HOME", dir)
        .args(["run", "holds.toml", "--step", step, "--run"])
        .arg(run)
        .stdin(Stdio::null());
    c
}

fn step(dir: &Path, run: &Path, id: &str) -> Output {
    command(dir, run, id).output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn state(run: &Path) -> RunState {
    RunState::from_entries(&read_entries(run).unwrap_or_default())
}

fn runbook(run: &Path) -> Runbook {
    rehearse::report::run_runbook(run).unwrap()
}

fn hold_ends(run: &Path, id: &str) -> Vec<HoldOutcome> {
    state(run)
        .step(id)
        .map(|r| r.hold_ends.iter().map(|e| e.1).collect())
        .unwrap_or_default()
}

#[test]
fn a_hold_passes_when_its_time_is_up_with_every_probe_recorded() {
    let (d, run) = setup();
    let o = step(d.path(), &run, "stage");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("hold passed"), "{}", err(&o));
    let rb = runbook(&run);
    let st = state(&run);
    let s = rb.step("stage").unwrap();
    assert_eq!(st.step_status(s), StepStatus::Passed);
    let p = st.hold_progress(s).unwrap();
    assert!(p.watched >= Duration::from_secs(1), "{p:?}");
    // (No assertion that there is no gap: on a loaded machine a 100 ms probe can take longer
    // than its allowance, and that stretch is rightly not counted.)
    assert_eq!(p.failed, 0, "{p:?}");
    // Every probe is its own line naming the step, with its output's digest.
    let probes: Vec<_> = read_entries(&run)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Probe {
                step: Some(step),
                output_sha256,
                passed,
                ..
            } => Some((step, output_sha256, passed)),
            _ => None,
        })
        .collect();
    assert!(probes.len() >= 10, "{probes:?}");
    assert!(
        probes
            .iter()
            .all(|p| p.0 == "stage" && p.2 && p.1.len() == 64)
    );
    assert_eq!(hold_ends(&run, "stage"), [HoldOutcome::Passed]);
    // The gate's monitoring window does not count a hold's probes.
    assert!(st.probes.is_empty());
    // The evidence verifies, hold probes' outputs included.
    let v = rehearse::evidence::verify::verify(&run, None);
    assert!(v.ok(), "{:?}", v.problems);
    // The report lists the hold, how it went, and every probe it recorded.
    // Nothing here is signed, so nothing counts as sealed, and the report says both.
    let report = rehearse::report::build(&run, None).unwrap();
    let row = report.steps.iter().find(|s| s.id == "stage").unwrap();
    let hold = row.model.hold.as_ref().unwrap();
    let at = p.completed_at.unwrap() + 1;
    assert_eq!(
        hold.verdict,
        format!(
            "not started: the step's commands have not all passed as sealed; \
             passed at line {at} as recorded after the seal (not counted)"
        )
    );
    assert_eq!((hold.window.as_str(), hold.every.as_str()), ("1s", "100ms"));
    assert_eq!(hold.probes.len(), probes.len());
    assert!(hold.probes.iter().all(|p| p.passed && !p.sealed));
    assert_eq!(hold.sessions.len(), 2, "{:?}", hold.sessions);
    let md = rehearse::report::to_markdown(&report);
    assert_eq!(
        md.matches("\n  - Probe line ").count(),
        probes.len(),
        "{md}"
    );
    assert!(md.contains("- Hold for 1s, a probe every 100ms: "), "{md}");
}

#[test]
fn a_hold_aborts_on_its_criterion_and_runs_on_failure() {
    let (d, run) = setup();
    let o = step(d.path(), &run, "errors");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("hold ABORTED: stdout matched"),
        "{}",
        err(&o)
    );
    let rb = runbook(&run);
    let st = state(&run);
    let s = rb.step("errors").unwrap();
    assert_eq!(st.step_status(s), StepStatus::Failed);
    let p = st.hold_progress(s).unwrap();
    // Two probes under 1%, then the third over it: aborted there, long before the hour.
    assert_eq!((p.passed, p.failed), (2, 1), "{p:?}");
    assert!(p.aborted.as_ref().unwrap().1.contains("stdout matched"));
    assert_eq!(hold_ends(&run, "errors"), [HoldOutcome::Aborted]);
    let report = rehearse::report::build(&run, None).unwrap();
    let row = report.steps.iter().find(|s| s.id == "errors").unwrap();
    let hold = row.model.hold.as_ref().unwrap();
    let at = p.aborted.as_ref().unwrap().0;
    assert!(
        hold.verdict
            .contains(&format!("ABORTED at line {}: stdout matched", at + 1)),
        "{}",
        hold.verdict
    );
    assert_eq!((hold.passed, hold.failed), (2, 1));
    let last = hold.probes.last().unwrap();
    assert_eq!(last.seq, at);
    assert!(!last.passed && last.abort.as_deref().unwrap().starts_with("stdout matched"));
    let md = rehearse::report::to_markdown(&report);
    assert!(md.contains("FAILED — abort: stdout matched"), "{md}");
    assert_eq!(
        std::fs::read_to_string(d.path().join("rolled-back")).unwrap(),
        "rolled-back\n"
    );
    // Control: the honest stage, probing the same way, passes (see the test above) and its
    // abort criterion never fired on `rate=0.2`.
    let o = step(d.path(), &run, "stage");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}

fn probes_of(run: &Path, id: &str) -> usize {
    state(run).step(id).map_or(0, |r| r.hold_probes.len())
}

/// A process holding `long` in the background, once it has recorded `probes` probes.
fn holding(dir: &Path, run: &Path, probes: usize) -> Child {
    let child = command(dir, run, "long")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(Duration::from_secs(20), "probes of the first hold", || {
        probes_of(run, "long") >= probes
    });
    child
}

fn kill_9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL on Unix: no chance to record anything.
    child.wait().unwrap();
}

#[test]
fn a_hold_killed_with_9_resumes_the_same_window_and_records_the_gap() {
    let (d, run) = setup();
    let mut first = holding(d.path(), &run, 5);
    kill_9(&mut first);
    let before = probes_of(&run, "long");
    // Let more than twice the interval pass unwatched after the last probe, so the time
    // between the two processes is a gap whatever the machine's speed.
    let last_ts = state(&run).step("long").unwrap().hold_probes[before - 1]
        .ts
        .clone();
    let last = humantime::parse_rfc3339(&last_ts).unwrap();
    common::wait_until(Duration::from_secs(10), "an unwatched stretch", || {
        last.elapsed().unwrap_or_default() > Duration::from_millis(500)
    });
    let o = step(d.path(), &run, "long");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("resuming its hold"), "{}", err(&o));
    let rb = runbook(&run);
    let st = state(&run);
    let s = rb.step("long").unwrap();
    assert_eq!(st.step_status(s), StepStatus::Passed);
    let rec = st.step("long").unwrap();
    // The same window: the shift ran once, no restart, the first process's probes count.
    assert_eq!(
        std::fs::read_to_string(d.path().join("long-shifts")).unwrap(),
        "shifted\n"
    );
    assert_eq!(rec.hold_starts.len(), 2);
    assert!(
        rec.hold_starts.iter().all(|s| !s.2),
        "{:?}",
        rec.hold_starts
    );
    let p = st.hold_progress(s).unwrap();
    assert_eq!(p.from, rec.runs.last().map(|r| r.finished_seq));
    // The stretch between the two processes is a gap (a loaded machine may add others, from
    // probes slower than their allowance).
    let kill_gap = p
        .gaps
        .iter()
        .find(|g| g.0 == last_ts)
        .expect("the kill's gap");
    assert!(kill_gap.1 > Duration::from_millis(200), "{p:?}");
    assert!(p.watched >= Duration::from_secs(3), "{p:?}");
    let counted = rec
        .hold_probes
        .iter()
        .filter(|x| x.seq <= p.completed_at.unwrap())
        .count();
    assert!(counted > before, "both processes' probes count");
    // The dead process's claim on the step was ended for it, as stopped, naming it.
    assert_eq!(
        hold_ends(&run, "long"),
        [HoldOutcome::Stopped, HoldOutcome::Passed]
    );
    let stopped = &rec.hold_ends[0].2;
    assert!(
        stopped.contains(&format!(":{}) ended", first.id())),
        "{stopped}"
    );
    let ended = &rec.hold_ends[1].2;
    let gaps = format!("{} unwatched gap(s) not counted", p.gaps.len());
    assert!(ended.contains(&gaps), "{ended}");
}

#[test]
fn a_second_process_cannot_hold_a_step_another_live_process_holds() {
    let (d, run) = setup();
    let mut first = holding(d.path(), &run, 2);
    // The attack: a second operator (or a second pane) starts the same hold.
    let o = step(d.path(), &run, "long");
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    assert!(
        err(&o).contains("`long` is being run by") && err(&o).contains("its hold"),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains(&format!(":{}", first.id())),
        "names the holder: {}",
        err(&o)
    );
    let rec = state(&run).step("long").unwrap().clone();
    assert_eq!(rec.hold_starts.len(), 1, "the refused hold wrote no start");
    // Control: the first process's hold goes on to pass, alone.
    let status = first.wait().unwrap();
    assert!(status.success());
    assert_eq!(hold_ends(&run, "long"), [HoldOutcome::Passed]);
    // Once it ended, the step is free again: a second run finds the hold done.
    let o = step(d.path(), &run, "long");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}

#[test]
fn a_hold_that_fails_ends_its_claim_instead_of_keeping_the_step() {
    let (d, run) = setup();
    // The probe needs a value that was never captured: the hold starts, then cannot probe.
    let o = step(d.path(), &run, "broken-probe");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("never"), "{}", err(&o));
    let rec = state(&run).step("broken-probe").unwrap().clone();
    assert_eq!(rec.hold_starts.len(), 1);
    // The claim is ended by the process that failed, naming the error, not left to whoever
    // notices the process is gone.
    assert_eq!(hold_ends(&run, "broken-probe"), [HoldOutcome::Stopped]);
    assert!(
        rec.hold_ends[0].2.starts_with("stopped by an error:"),
        "{:?}",
        rec.hold_ends
    );
    let claims = rehearse::runner::claims::Claims::from_entries(&read_entries(&run).unwrap());
    assert!(claims.holder("broken-probe").is_none());
}
