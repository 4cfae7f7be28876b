//! Figures 3 and 4, observed from outside as a person would see them: the TUI runs in a tmux
//! pane, keys go in with `send-keys`, and "on screen" means in `capture-pane`'s text.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Ctx;
use crate::measure::{Stat, ms, percentile, vm_kib};
use crate::report::{Row, Section};
use crate::tmux::{KEY_DEADLINE, POLL, Tmux};

const FLOOD_BODY: &str = "BODY-FLOOD-STEP";
const OTHER_BODY: &str = "BODY-OTHER-STEP";
const OUTCOME: &str = "passed (exit 0";

fn tui_runbook(ctx: &Ctx, bytes: u64, rate: u64, end_file: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let text = format!(
        "format = 1\nid = \"bench-tui\"\ntitle = \"rehearse TUI benchmark\"\ndefault_timeout = \"30m\"\n\n\
         [[steps]]\nid = \"flood\"\ntitle = \"Flood the screen\"\ntarget = \"local\"\nlevel = \"must\"\nbody = \"{FLOOD_BODY}\"\n\n\
         [[steps.commands]]\nname = \"flood\"\nrun = \"'{}' flood --bytes {bytes} --rate {rate} --end-file '{}'\"\n\n\
         [[steps]]\nid = \"other\"\ntitle = \"Another step\"\ntarget = \"local\"\nlevel = \"must\"\nbody = \"{OTHER_BODY}\"\n\n\
         [[steps.commands]]\nname = \"noop\"\nrun = \"true\"\n",
        exe.display(),
        end_file.display()
    );
    let path = ctx.path(&format!("bench-tui-{rate}.toml"));
    std::fs::write(&path, text).expect("write the TUI runbook");
    path
}

fn tui_argv(ctx: &Ctx, rb: &Path) -> Vec<String> {
    vec![
        ctx.rehearse.display().to_string(),
        "--state-dir".into(),
        ctx.path("state").display().to_string(),
        "--operator".into(),
        "bench".into(),
        rb.display().to_string(),
    ]
}

fn config_env(ctx: &Ctx) -> Vec<String> {
    vec![format!(
        "REHEARSE_CONFIG_DIR={}",
        ctx.path("config").display()
    )]
}

#[derive(Default)]
struct Pass {
    idle: Vec<f64>,
    keys: Vec<f64>,
    still_ms: f64,
    /// When the longest still stretch began, in ms after Enter.
    still_at_ms: f64,
    /// From Enter to the first change on screen.
    first_ms: f64,
    outcome_ms: f64,
    peak_kib: u64,
    after_kib: u64,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// One run of the flood step. With `keys`, j/k go in back to back the whole time and each is
/// timed; without, the screen is sampled to find the longest stretch it stood still and when
/// the outcome appeared.
fn pass(ctx: &Ctx, t: &Tmux, session: &str, rb: &Path, end_file: &Path, keys: bool) -> Pass {
    let _ = std::fs::remove_file(end_file);
    t.spawn(session, &config_env(ctx), &tui_argv(ctx, rb));
    t.wait(session, Duration::from_secs(30), |s| s.contains(FLOOD_BODY))
        .expect("the TUI's first frame");
    let pid = t.pane_pid(session);
    let mut p = Pass::default();
    if keys {
        for _ in 0..10 {
            p.idle.push(t.key(session, "j", OTHER_BODY));
            p.idle.push(t.key(session, "k", FLOOD_BODY));
        }
    }
    t.run(&["send-keys", "-t", session, "Enter"]);
    let enter = Instant::now();
    let deadline = enter + Duration::from_secs(300);
    let (mut last, mut last_change) = (t.capture(session), enter);
    while Instant::now() < deadline {
        if keys {
            p.keys.push(t.key(session, "j", OTHER_BODY));
            p.keys.push(t.key(session, "k", FLOOD_BODY));
            if end_file.exists() && t.capture(session).contains(OUTCOME) {
                break;
            }
            continue;
        }
        let screen = t.capture(session);
        let seen = Instant::now();
        if screen != last {
            // From Enter on: a screen that shows nothing of the run at first is still too.
            if ms(seen - last_change) > p.still_ms {
                p.still_ms = ms(seen - last_change);
                p.still_at_ms = ms(last_change - enter);
            }
            if last_change == enter {
                p.first_ms = ms(seen - enter);
            }
            last_change = seen;
            last = screen;
        }
        if last.contains(OUTCOME) {
            let ended: u128 = std::fs::read_to_string(end_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .expect("the flood wrote its end time before its outcome showed");
            #[allow(clippy::cast_precision_loss)]
            let late = now_ns().saturating_sub(ended) as f64 / 1e6;
            p.outcome_ms = late;
            break;
        }
        std::thread::sleep(POLL);
    }
    p.peak_kib = vm_kib(pid, "VmHWM:").unwrap_or(0);
    p.after_kib = vm_kib(pid, "VmRSS:").unwrap_or(0);
    t.kill(session);
    p
}

#[allow(clippy::cast_precision_loss)]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub fn flood_figure(ctx: &Ctx, t: &Tmux) -> Section {
    let bytes: u64 = if ctx.quick { 20_000_000 } else { 200_000_000 };
    let reps = if ctx.quick { 1 } else { 3 };
    let end_file = ctx.path("flood.end");
    let mut rows = Vec::new();
    for (label, rate) in [("paced 25 MiB/s", 25 * 1024 * 1024), ("unpaced", 0u64)] {
        let speed = label.split(' ').next().unwrap_or(label);
        if !ctx.flood_speeds.is_empty() && !ctx.flood_speeds.iter().any(|s| s == speed) {
            continue;
        }
        let rb = tui_runbook(ctx, bytes, rate, &end_file);
        let (mut p99, mut idle99, mut peak, mut after, mut still, mut outcome) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut first, mut n_keys) = (vec![], 0);
        for rep in 0..reps {
            let k = pass(
                ctx,
                t,
                &format!("flood-k-{rate}-{rep}"),
                &rb,
                &end_file,
                true,
            );
            let s = pass(
                ctx,
                t,
                &format!("flood-s-{rate}-{rep}"),
                &rb,
                &end_file,
                false,
            );
            eprintln!(
                "figure 3, {label}, round {}: key p99 {:.0} ms (idle {:.0}, {} keys), first change +{:.0} ms, still {:.0} ms from +{:.0} ms, outcome +{:.0} ms, RSS peak {:.0}/{:.0} MiB",
                rep + 1,
                percentile(&k.keys, 99.0),
                percentile(&k.idle, 99.0),
                k.keys.len(),
                s.first_ms,
                s.still_ms,
                s.still_at_ms,
                s.outcome_ms,
                mib(k.peak_kib),
                mib(s.peak_kib)
            );
            p99.push(percentile(&k.keys, 99.0));
            idle99.push(percentile(&k.idle, 99.0));
            peak.push(mib(k.peak_kib.max(s.peak_kib)));
            after.push(mib(s.after_kib));
            still.push(s.still_ms);
            first.push(s.first_ms);
            n_keys += k.keys.len();
            outcome.push(s.outcome_ms);
        }
        let m = |v: &Vec<f64>| Stat::of(v).median;
        let worst_peak = Stat::of(&peak).max;
        rows.push(
            Row::new(
                format!("TUI flood {label}: key-to-frame p99 ({n_keys} keys in all)"),
                "ms",
                Stat::of(&p99),
            )
            .peer("same keys, idle", Stat::of(&idle99))
            .target("≤ 50 ms", m(&p99) <= 50.0),
        );
        rows.push(
            Row::new(
                format!("TUI flood {label}: peak RSS"),
                "MiB",
                Stat::of(&peak),
            )
            .target("≤ 100 MB (95 MiB)", worst_peak * 1024.0 * 1024.0 <= 100e6),
        );
        rows.push(Row::new(
            format!("TUI flood {label}: RSS once the outcome shows"),
            "MiB",
            Stat::of(&after),
        ));
        rows.push(Row::new(
            format!("TUI flood {label}: Enter → first change on screen"),
            "ms",
            Stat::of(&first),
        ));
        rows.push(
            Row::new(
                format!("TUI flood {label}: longest still screen while busy"),
                "ms",
                Stat::of(&still),
            )
            .target("≤ 250 ms", m(&still) <= 250.0),
        );
        rows.push(
            Row::new(
                format!("TUI flood {label}: command end → outcome on screen"),
                "ms",
                Stat::of(&outcome),
            )
            .target("≤ 1000 ms", m(&outcome) <= 1000.0),
        );
    }
    Section {
        number: 3,
        title: format!("The TUI under a flood of {} MB of ANSI output", bytes / 1_000_000),
        how: format!(
            "rehearse's TUI runs in a 120×40 tmux pane on a two-step local runbook. The first step's \
             command is `rehearse-bench flood`, which prints numbered lines of mixed ANSI (16 and \
             256 colours, bold, underline) — paced at 25 MiB/s, or as fast as the pipe takes \
             them — and writes the wall-clock time to a file as it ends. Each round has two \
             passes. Keys pass: `j` and `k` go in back to back, each moving the selection \
             between the two steps, which changes a visible cell (the step body `{FLOOD_BODY}` \
             / `{OTHER_BODY}` in the detail pane); key-to-frame is the time from `tmux \
             send-keys` to the first `capture-pane` holding the new body (polled every {} ms; a \
             key unanswered in {} s counts as {} s). The same keys before the run started give \
             the idle p99: the instrument's own floor. Screen pass: no keys; `capture-pane` \
             is sampled every {} ms from Enter until `{OUTCOME}` shows; the longest stretch \
             between Enter or a change and the next change is the still screen, and the outcome's delay is \
             the time of that capture minus the flood's end time. Peak RSS is VmHWM of the \
             rehearse process (/proc/PID/status) when the outcome shows (the larger of the two \
             passes); RSS after is VmRSS then. {reps} rounds per producer speed.",
            POLL.as_millis(),
            KEY_DEADLINE.as_secs(),
            KEY_DEADLINE.as_secs(),
            POLL.as_millis(),
        ),
        commands: vec![
            format!(
                "tmux -L sock -f /dev/null new-session -d -s S -x 120 -y 40 -e REHEARSE_CONFIG_DIR=$W/config -- {} --state-dir $W/state --operator bench $W/bench-tui-RATE.toml",
                ctx.rehearse.display()
            ),
            "tmux -L sock send-keys -t S Enter; tmux -L sock send-keys -t S j; tmux -L sock capture-pane -p -t S".into(),
        ],
        rows,
    }
}

/// Figure 4: from spawning `rehearse demo` in a pane to the first capture showing "Steps",
/// beside a shell that prints "Steps" at once (what tmux itself costs).
pub fn first_frame_figure(ctx: &Ctx, t: &Tmux) -> Section {
    let env = vec![
        format!("REHEARSE_STATE_DIR={}", ctx.path("demo-state").display()),
        format!("REHEARSE_CONFIG_DIR={}", ctx.path("config").display()),
    ];
    let demo = vec![ctx.rehearse.display().to_string(), "demo".into()];
    let floor: Vec<String> = ["sh", "-c", "echo Steps; exec cat"]
        .map(String::from)
        .to_vec();
    let (mut ours, mut base) = (vec![], vec![]);
    let first = |name: &str, argv: &[String]| {
        let start = Instant::now();
        t.spawn(name, &env, argv);
        let seen = t
            .wait(name, Duration::from_secs(30), |s| s.contains("Steps"))
            .expect("a first frame within 30 s");
        t.kill(name);
        ms(seen - start)
    };
    for i in 0..ctx.pairs * 2 {
        ours.push(first(&format!("demo-{i}"), &demo));
        base.push(first(&format!("floor-{i}"), &floor));
    }
    eprintln!(
        "figure 4: demo first frame median {:.0} ms, tmux floor {:.0} ms",
        Stat::of(&ours).median,
        Stat::of(&base).median
    );
    let median = Stat::of(&ours).median;
    Section {
        number: 4,
        title: "Start to first frame of `rehearse demo`".into(),
        how: format!(
            "Time from `tmux new-session -d` spawning `rehearse demo` in an 80-column pane to the \
             first `capture-pane` (polled every {} ms) that shows `Steps`, alternating with \
             `sh -c 'echo Steps; exec cat'` spawned the same way: the peer column is the \
             instrument's floor (tmux and its client processes), included in both.",
            POLL.as_millis()
        ),
        commands: vec![format!(
            "tmux -L sock -f /dev/null new-session -d -s D -x 120 -y 40 -e REHEARSE_STATE_DIR=$W/demo-state -- {} demo; tmux -L sock capture-pane -p -t D",
            ctx.rehearse.display()
        )],
        rows: vec![
            Row::new("start to first frame of the demo", "ms", Stat::of(&ours))
                .peer("tmux floor (`echo Steps`)", Stat::of(&base))
                .target("≤ 50 ms", median <= 50.0),
        ],
    }
}
