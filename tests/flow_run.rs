//! The execution model through the real binary on the operator's machine (`local`): order
//! refused then waived, a captured value used by a later command and by the rollback, a choice
//! selecting its path's steps, retries and `until` polling, `on_failure`, `env`/`cwd`/`stdin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rehearse::journal::state::{RunState, StepStatus};
use rehearse::journal::{Event, read_entries};
use rehearse::runbook;

const RUNBOOK: &str = r#"
format = 2
id = "flow"
title = "Flow"

[vars.label]
default = "v1"

[[steps]]
id = "deploy"
title = "Deploy"
level = "must"
target = "local"

[[steps.commands]]
name = "previous"
run = "cat current 2>/dev/null || echo r0"
capture = { name = "previous", regex = '^(r\d+)$' }

[[steps.commands]]
name = "deploy"
run = "echo 'deployed release: r7; tail'; echo r7 > current"
capture = { name = "release", regex = 'release: (r\d+);' }

[[steps.commands]]
name = "check"
run = "cat current"
expect = { stdout = '^{{release}}$', stdout_not = 'r0' }

[[steps]]
id = "rollback"
title = "Rollback"
level = "must"
target = "local"
after = ["deploy"]

[[steps.commands]]
name = "back"
run = "printf '%s\n' {{previous}} > current; cat current"
expect = { stdout = '^{{previous}}$' }

[[steps]]
id = "path"
title = "Which path"
level = "must"
after = ["rollback"]
choice = { options = [{ id = "A", title = "A" }, { id = "B", title = "B" }] }

[[steps]]
id = "only-a"
title = "Path A"
level = "must"
target = "local"
when = "choice.path == 'A'"

[[steps.commands]]
name = "a"
run = "echo a"

[[steps]]
id = "only-b"
title = "Path B"
level = "must"
target = "local"
when = "choice.path == 'B'"

[[steps.commands]]
name = "b"
run = "echo b"

[[steps]]
id = "poll"
title = "Poll"
level = "should"
target = "local"

[[steps.commands]]
name = "flaky"
run = "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]"
retries = 3
retry_delay = "100ms"

[[steps.commands]]
name = "wait"
run = "m=$(cat m 2>/dev/null || echo 0); m=$((m+1)); echo $m > m; if [ $m -ge 3 ]; then echo ready; else echo starting; fi"
until = { stdout = '^ready$', every = "200ms", within = "10s" }

[[steps.commands]]
name = "opts"
run = "pwd; echo \"$LABEL\"; cat"
cwd = "sub"
env = { LABEL = "{{label}} with 'quotes' $(x)" }
stdin = "from stdin {{label}}"
expect = { stdout = "sub\nv1 with 'quotes' \\$\\(x\\)\nfrom stdin v1" }

[[steps]]
id = "broken"
title = "Broken"
level = "optional"
target = "local"

[[steps.commands]]
name = "fail"
run = "exit 3"
retries = 1

[[steps.on_failure]]
name = "rescue"
run = "echo rescued > rescued"
"#;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.toml"), RUNBOOK).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let run = dir.path().join("run");
    (dir, run)
}

fn rehearse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .current_dir(dir)
        .env("REHEARSE_STATE_DIR", dir.join("state"))
        .env("REHEARSE_CONFIG_DIR", dir.join("cfg"))
        .env("SSH_AUTH_SOCK", "")
        .env("HOME", dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn step(dir: &Path, run: &Path, id: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "flow.toml", "--step", id, "--run"];
    args.push(run.to_str().unwrap());
    args.extend(extra);
    rehearse(dir, &args)
}

fn state(run: &Path) -> RunState {
    RunState::from_entries(&read_entries(run).unwrap())
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn order_is_refused_with_exit_6_then_waived_with_a_recorded_reason() {
    let (d, run) = setup();
    let dir = d.path();
    // Start the run with a harmless step, then try the rollback before the deploy.
    let o = step(dir, &run, "poll", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = step(dir, &run, "rollback", &[]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("`rollback` comes after `deploy`, not done yet"),
        "{}",
        err(&o)
    );
    assert!(!dir.join("current").exists(), "nothing ran");
    // Control: with a reason it runs, and the reason is in the journal.
    let o = step(
        dir,
        &run,
        "rollback",
        &["--waive-order", "dry rehearsal of the rollback alone"],
    );
    // `previous` was never captured, so the command fails to render, but it was allowed to run.
    assert!(!err(&o).contains("comes after"), "{}", err(&o));
    let entries = read_entries(&run).unwrap();
    let w = entries
        .iter()
        .find_map(|e| match &e.event {
            Event::OrderWaiver {
                step,
                blocked_by,
                reason,
                ..
            } => Some((step.clone(), blocked_by.clone(), reason.clone())),
            _ => None,
        })
        .expect("an order_waiver line");
    assert_eq!(
        w,
        (
            "rollback".into(),
            vec!["deploy".into()],
            "dry rehearsal of the rollback alone".into()
        )
    );
    // An empty reason is refused.
    let o = step(dir, &run, "deploy", &["--waive-order", "  "]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

#[test]
fn a_capture_feeds_a_later_command_and_the_rollback() {
    let (d, run) = setup();
    let dir = d.path();
    std::fs::write(dir.join("current"), "r5\n").unwrap();
    let o = step(dir, &run, "deploy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = state(&run);
    assert_eq!(s.captures["previous"].value, "r5");
    assert_eq!(s.captures["release"].value, "r7");
    // The check's expectation used the captured value.
    let o = step(dir, &run, "rollback", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("current")).unwrap(),
        "r5\n"
    );
    // The rollback's journal line shows the value it returned to.
    let s = state(&run);
    let back = s.last_run("rollback", "back").unwrap();
    assert!(back.run.contains("r5"), "{}", back.run);
    // The report lists each captured value under its step, with the line that recorded it.
    let report = rehearse::report::build(&run, None).unwrap();
    let md = rehearse::report::to_markdown(&report);
    for (name, command, value) in [("previous", "previous", "r5"), ("release", "deploy", "r7")] {
        let line = format!(
            "- Captured `{name}` = `{value}` from {command} (line {})",
            s.captures[name].seq + 1
        );
        assert!(md.contains(&line), "{line}\n{md}");
    }
}

#[test]
fn a_hostile_captured_value_stays_text_in_the_report() {
    let (d, run) = setup();
    let dir = d.path();
    // The attack: a release name that is markup, captured by a runbook that accepts it.
    let text = RUNBOOK
        .replace(
            "echo 'deployed release: r7; tail'; echo r7 > current",
            "echo 'deployed release: <img src=x onerror=alert(1)>## Gate: OPEN; tail'; echo r7 > current",
        )
        .replace(r"regex = 'release: (r\d+);'", r"regex = 'release: ([^;]+);'")
        .replace("expect = { stdout = '^{{release}}$', stdout_not = 'r0' }", "");
    std::fs::write(dir.join("flow.toml"), text).unwrap();
    let o = step(dir, &run, "deploy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        state(&run).captures["release"].value,
        "<img src=x onerror=alert(1)>## Gate: OPEN"
    );
    let report = rehearse::report::build(&run, None).unwrap();
    let html = rehearse::report::to_html(&report);
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("<code>&lt;img src=x onerror=alert(1)&gt;## Gate: OPEN</code>"),
        "{html}"
    );
    let md = rehearse::report::to_markdown(&report);
    // Every `<` of the value is escaped, so the tag renders as text (the command's output
    // excerpt shows it too, inside a code fence).
    assert!(
        md.contains("- Captured `release` = `<img src=x onerror=alert(1)>## Gate: OPEN` from"),
        "{md}"
    );
    assert!(!md.lines().any(|l| l.starts_with("## Gate: OPEN")), "{md}");
    // Control: the honest capture beside it reads as it is.
    assert!(
        md.contains("- Captured `previous` = `r0` from previous"),
        "{md}"
    );
}

#[test]
fn a_hostile_capture_is_refused_and_fails_the_command() {
    let (d, run) = setup();
    let dir = d.path();
    // A value with a newline never becomes a capture.
    let text = RUNBOOK.replace(
        r#"run = "cat current 2>/dev/null || echo r0""#,
        r#"run = "printf 'r1\\033[2J\\n'""#,
    );
    let text = text.replace(r"regex = '^(r\d+)$'", r"regex = '(r1\S*)'");
    std::fs::write(dir.join("flow.toml"), text).unwrap();
    let o = step(dir, &run, "deploy", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("control character"), "{}", err(&o));
    assert!(state(&run).captures.is_empty());
}

#[test]
fn a_choice_selects_its_paths_steps_and_skips_the_others() {
    let (d, _run) = setup();
    let dir = d.path();
    let rb = runbook::load(&dir.join("flow.toml")).unwrap();
    let entries = |e: Vec<Event>| {
        e.into_iter()
            .enumerate()
            .map(|(i, ev)| rehearse::journal::Entry {
                seq: i as u64,
                ts: "2026-01-01T00:00:00Z".into(),
                prev: String::new(),
                event: ev,
            })
            .collect::<Vec<_>>()
    };
    let before = RunState::from_entries(&entries(vec![]));
    let a = rb.step("only-a").unwrap();
    let b = rb.step("only-b").unwrap();
    // Undecided: neither runs (they wait for the choice), neither is skipped.
    assert_eq!(before.step_status(a), StepStatus::Pending);
    assert_eq!(before.blocked_by(&rb, a), vec!["path".to_string()]);
    let chose = RunState::from_entries(&entries(vec![Event::Choice {
        step: "path".into(),
        option: "A".into(),
        reason: "traffic is low".into(),
        operator: "ann".into(),
    }]));
    assert_eq!(chose.step_status(b), StepStatus::Skipped);
    assert_eq!(chose.step_status(a), StepStatus::Pending);
    let gate = rehearse::gate::evaluate(&rb, &chose);
    let steps = &gate.requirements[0].detail;
    assert!(steps.contains("only-a (pending)"), "{steps}");
    assert!(!steps.contains("only-b"), "{steps}");
}

#[test]
fn retries_until_and_on_failure_record_every_attempt() {
    let (d, run) = setup();
    let dir = d.path();
    let o = step(dir, &run, "poll", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = state(&run);
    let runs = &s.step("poll").unwrap().runs;
    let count = |n: &str| runs.iter().filter(|r| r.command == n).count();
    assert_eq!(count("flaky"), 3, "two failures, then a pass");
    assert_eq!(count("wait"), 3, "polled until ready");
    assert_eq!(count("opts"), 1);
    assert_eq!(
        s.step_status(
            runbook::load(&dir.join("flow.toml"))
                .unwrap()
                .step("poll")
                .unwrap()
        ),
        StepStatus::Passed
    );
    let o = step(dir, &run, "broken", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let s = state(&run);
    let runs = &s.step("broken").unwrap().runs;
    assert_eq!(runs.iter().filter(|r| r.command == "fail").count(), 2);
    assert_eq!(runs.iter().filter(|r| r.command == "rescue").count(), 1);
    assert!(dir.join("rescued").exists());
}

#[test]
fn a_condition_on_a_variable_no_command_uses_still_decides() {
    // The variable appears only in `when`: a run binds it anyway, so the condition is known
    // (false) and the command is skipped; before, it was left unbound, unknown, and ran.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flow.toml"),
        r#"
format = 2
id = "cond"
title = "Cond"

[vars.stage]
default = "25"

[[steps]]
id = "s"
title = "S"
level = "must"
target = "local"

[[steps.commands]]
name = "only-at-100"
run = "touch ran"
when = "var.stage == '100'"
"#,
    )
    .unwrap();
    let run = dir.path().join("run");
    let o = step(dir.path(), &run, "s", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("skipped: `var.stage == '100'` is false"),
        "{}",
        err(&o)
    );
    assert!(!dir.path().join("ran").exists());
    // Control: at 100 it runs.
    let run2 = dir.path().join("run2");
    let o = step(dir.path(), &run2, "s", &["--var", "stage=100"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(dir.path().join("ran").exists());
}
