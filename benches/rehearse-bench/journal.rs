//! Figure 5: the journal. A sign-off appended through the library's ordered writer (fsync'd and
//! signed before `record` returns), export + verify of a 10,000-event run, and the memory
//! `verify` needs for a run holding a 1 GB output.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use rehearse::exec::{Headless, Prompter};
use rehearse::journal::Event;
use rehearse::runner::Runner;
use rehearse::session::{Session, SessionOptions};

use crate::Ctx;
use crate::measure::{self, Stat, ms};
use crate::report::{Row, Section};

const EVENTS: usize = 10_000;

fn runbook(ctx: &Ctx) -> PathBuf {
    let text = "format = 1\nid = \"bench-journal\"\ntitle = \"rehearse journal benchmark\"\n\n\
                [[steps]]\nid = \"s\"\ntitle = \"A step\"\ntarget = \"local\"\nlevel = \"must\"\n\n\
                [[steps.commands]]\nname = \"c\"\nrun = \"true\"\n\n\
                [[steps.checklist]]\nid = \"item\"\ntext = \"An item\"\n";
    let path = ctx.path("bench-journal.toml");
    std::fs::write(&path, text).expect("write the journal runbook");
    path
}

async fn open(ctx: &Ctx, run_dir: &Path) -> Arc<Runner> {
    let rb = rehearse::runbook::load(&runbook(ctx)).expect("journal runbook loads");
    let opts = SessionOptions {
        operator: Some("bench".into()),
        state_dir: Some(ctx.path("state")),
        signing_key: Some(ctx.signing_key.clone()),
        ..Default::default()
    };
    let prompter: Arc<dyn Prompter> = Arc::new(Headless {
        accept_new_host_key: false,
    });
    let session = Session::build(rb, &[], &opts, &prompter)
        .await
        .expect("session");
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    // The listener side (the TUI in real use): drained so the writer never waits on it.
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    session
        .open_run(Some(run_dir.to_path_buf()), tx)
        .expect("open run")
        .runner
}

fn signoff(i: usize) -> Event {
    Event::Signoff {
        step: "s".into(),
        operator: "bench".into(),
        note: format!("sign-off {i}: checked by hand"),
        key_fingerprint: None,
    }
}

/// Median time of `record(signoff)`: queue, sign with the SSH key, write, fsync, and the
/// signature's line after it.
async fn signoffs(ctx: &Ctx, n: usize) -> Vec<f64> {
    let runner = open(ctx, &ctx.path("signoff-run")).await;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        runner.record(signoff(i)).await.expect("sign-off recorded");
        times.push(ms(start.elapsed()));
    }
    runner
        .close(std::time::Duration::from_secs(30))
        .await
        .expect("writer closes");
    times
}

/// A run of 10,000 events: notes, ticks and every 100th a signed sign-off.
async fn big_run(ctx: &Ctx, dir: &Path) {
    let runner = open(ctx, dir).await;
    for i in 1..EVENTS {
        let ev = match i % 100 {
            0 => signoff(i),
            n if n % 2 == 0 => Event::CheckToggled {
                step: "s".into(),
                item: "item".into(),
                checked: n % 4 == 0,
                operator: "bench".into(),
                proposed_by: None,
            },
            _ => Event::Note {
                step: "s".into(),
                text: format!("note {i}: the quick brown fox checked the disk and the DNS"),
                operator: "bench".into(),
            },
        };
        runner.submit(ev).expect("queued");
    }
    runner
        .close(std::time::Duration::from_secs(600))
        .await
        .expect("writer drains");
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path.join("journal.jsonl")).map_or(0, |t| t.lines().count())
}

fn timed(cmd: &mut Command, what: &str) -> f64 {
    let m = measure::run(cmd.stdout(Stdio::null()), false).expect(what);
    assert!(m.status.success(), "{what}: {}", m.status);
    ms(m.wall)
}

/// Peak RSS of `rehearse verify` on a run holding one big output, beside `sha256sum` of it.
fn verify_rss(ctx: &Ctx, run: &Path) -> Row {
    let output = std::fs::read_dir(run.join("outputs"))
        .into_iter()
        .flatten()
        .flatten()
        .max_by_key(|e| e.metadata().map_or(0, |m| m.len()))
        .map(|e| e.path())
        .expect("the 1 GB output");
    let (mut ours, mut peer) = (vec![], vec![]);
    for _ in 0..ctx.pairs {
        let a = measure::run(
            ctx.rehearse()
                .arg("verify")
                .arg(run)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            true,
        )
        .expect("rehearse verify");
        assert!(a.status.success(), "verify of the big run: {}", a.status);
        let b = measure::run(
            Command::new("sha256sum").arg(&output).stdout(Stdio::null()),
            true,
        )
        .expect("sha256sum");
        #[allow(clippy::cast_precision_loss)]
        {
            ours.push(a.peak_rss_kib as f64 / 1024.0);
            peer.push(b.peak_rss_kib as f64 / 1024.0);
        }
    }
    let worst = Stat::of(&ours).max;
    Row::new(
        "verify RSS, run with the 1 GB output of figure 1",
        "MiB",
        Stat::of(&ours),
    )
    .peer("`sha256sum` of the output", Stat::of(&peer))
    .target("≤ 64 MiB", worst <= 64.0)
}

pub fn figure(ctx: &Ctx, big_output_run: &Path) -> Section {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let n_sign = if ctx.quick { 10 } else { 50 };
    let sign = rt.block_on(signoffs(ctx, n_sign));
    let run = ctx.path("events-run");
    rt.block_on(big_run(ctx, &run));
    eprintln!("figure 5: {} journal lines written", lines(&run));
    let bundle = ctx.path("bundle");
    let err = ctx.path("journal.stderr");
    let (mut export, mut verify, mut both) = (vec![], vec![], vec![]);
    for _ in 0..ctx.pairs {
        let _ = std::fs::remove_dir_all(&bundle);
        let e = timed(
            ctx.rehearse()
                .arg("export")
                .arg(&run)
                .args(["--format", "json", "-o"])
                .arg(&bundle)
                .stderr(File::create(&err).expect("stderr file")),
            "rehearse export",
        );
        let v = timed(
            ctx.rehearse()
                .arg("verify")
                .arg(&bundle)
                .stderr(File::create(&err).expect("stderr file")),
            "rehearse verify",
        );
        export.push(e);
        verify.push(v);
        both.push(e + v);
    }
    let sign_median = Stat::of(&sign).median;
    let both_median = Stat::of(&both).median;
    let mut rows = vec![
        Row::new("sign-off append (signed, fsync'd)", "ms", Stat::of(&sign))
            .target("median ≤ 5 ms", sign_median <= 5.0),
        Row::new(
            format!("export of a {EVENTS}-event run"),
            "ms",
            Stat::of(&export),
        ),
        Row::new("verify of its bundle", "ms", Stat::of(&verify)),
        Row::new("export + verify", "ms", Stat::of(&both)).target("≤ 500 ms", both_median <= 500.0),
    ];
    let mut commands = vec![format!(
        "{l} export $W/events-run --format json -o $W/bundle; {l} verify $W/bundle",
        l = ctx.rehearse_line()
    )];
    rows.push(verify_rss(ctx, big_output_run));
    commands.push(format!(
        "{} verify $W/state/runs/bench-ssh-…; sha256sum $W/state/runs/bench-ssh-…/outputs/<sha256>",
        ctx.rehearse_line()
    ));
    Section {
        number: 5,
        title: "The journal: sign-off, export and verify".into(),
        how: format!(
            "Sign-off: the bench opens a run through the library (`Session::build`, \
             `open_run`) with an ed25519 signing key and times {n_sign} `Runner::record(Signoff)` \
             calls one after the other: each returns once the sign-off and its SSHSIG \
             signature line are written and fsync'd. Export + verify: a run of {EVENTS} events \
             (notes, ticks, a signed sign-off every 100) built the same way, then `rehearse \
             export RUN --format json -o DIR` and `rehearse verify DIR` timed as processes. \
             Verify RSS: peak VmHWM (sampled every 5 ms) of `rehearse verify` on the run of \
             figure 1, beside `sha256sum` of its output."
        ),
        commands,
        rows,
    }
}
