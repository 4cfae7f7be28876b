//! Figure 1: stream 1 GB of output to the on-disk log, headless `rehearse run` against
//! `ssh host cmd > file`, through the same sshd.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::Ctx;
use crate::measure::{self, Stat};
use crate::report::{Row, Section};
use crate::tmux::Tmux;

/// The runbook the SSH figures run: one target (the ssh_config alias), a streaming step and
/// the short-command steps.
pub fn ssh_runbook(ctx: &Ctx) -> PathBuf {
    let mut text = format!(
        "format = 1\nid = \"bench-ssh\"\ntitle = \"rehearse benchmarks over SSH\"\n\
         default_timeout = \"30m\"\n\n[vars.alias]\ndefault = \"{}\"\n\n[vars.bytes]\n\
         default = \"1000\"\n\n[targets.host]\nalias = \"{{{{alias}}}}\"\n\n\
         [[steps]]\nid = \"stream\"\ntitle = \"Stream output\"\ntarget = \"host\"\nlevel = \"must\"\n\n\
         [[steps.commands]]\nname = \"stream\"\nrun = \"head -c {{{{bytes}}}} /dev/zero\"\n",
        ctx.alias
    );
    for n in crate::short::COUNTS {
        text.push_str(&format!(
            "\n[[steps]]\nid = \"short{n}\"\ntitle = \"{n} short commands\"\ntarget = \"host\"\nlevel = \"must\"\n"
        ));
        for i in 1..=n {
            text.push_str(&format!(
                "\n[[steps.commands]]\nname = \"t{i}\"\nrun = \"true\"\n"
            ));
        }
    }
    let path = ctx.path("bench-ssh.toml");
    std::fs::write(&path, text).expect("write the SSH runbook");
    path
}

/// The run directory `rehearse run` names on its last stderr line (`run: DIR`).
pub fn run_dir_from(stderr_file: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(stderr_file).ok()?;
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("run: "))
        .map(PathBuf::from)
}

fn largest_output(run_dir: &Path) -> u64 {
    std::fs::read_dir(run_dir.join("outputs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// `rehearse run` of the streaming step; the run directory it wrote, checked complete.
fn rehearse_stream(ctx: &Ctx, rb: &Path, bytes: u64, err: &Path) -> (measure::Measured, PathBuf) {
    let mut cmd = ctx.rehearse();
    cmd.arg("run")
        .arg(rb)
        .args(["--step", "stream", "--var"])
        .arg(format!("bytes={bytes}"))
        .stdout(Stdio::null())
        .stderr(File::create(err).expect("stderr file"));
    let m = measure::run(&mut cmd, false).expect("spawn rehearse");
    let run_dir = run_dir_from(err);
    let stored = run_dir.as_deref().map_or(0, largest_output);
    assert!(
        m.status.success() && stored == bytes,
        "rehearse run failed ({}), stored {stored} of {bytes} bytes: {}",
        m.status,
        std::fs::read_to_string(err).unwrap_or_default()
    );
    (m, run_dir.expect("run dir"))
}

/// One run holding a 1 GB output (100 MB with --quick), for figure 5 when figure 1 is skipped.
pub fn big_run(ctx: &Ctx) -> PathBuf {
    let bytes: u64 = if ctx.quick {
        100_000_000
    } else {
        1_000_000_000
    };
    rehearse_stream(ctx, &ssh_runbook(ctx), bytes, &ctx.path("stream.stderr")).1
}

/// Throughput and CPU of one contender, and its per-round ratios to the peer's.
#[derive(Default)]
struct Series {
    tp: Vec<f64>,
    cpu: Vec<f64>,
    tp_ratio: Vec<f64>,
    cpu_ratio: Vec<f64>,
}

impl Series {
    fn push(&mut self, mb: f64, wall: Duration, cpu: Duration, peer: (f64, f64)) -> (f64, f64) {
        let (tp, cpu) = (mb / wall.as_secs_f64(), cpu.as_secs_f64());
        self.tp.push(tp);
        self.cpu.push(cpu);
        self.tp_ratio.push(tp / peer.0);
        self.cpu_ratio.push(cpu / peer.1.max(0.01));
        (tp, cpu)
    }

    fn rows(&self, what: &str, peer: &Series) -> [Row; 2] {
        let tp = Stat::of(&self.tp_ratio).median;
        let cpu = Stat::of(&self.cpu_ratio).median;
        [
            Row::new(format!("{what}: throughput"), "MB/s", Stat::of(&self.tp))
                .peer("`ssh h cmd > file`", Stat::of(&peer.tp))
                .ratio(tp, "of ssh's")
                .target("≥ 1.0×", tp >= 1.0),
            Row::new(format!("{what}: CPU user+sys"), "s", Stat::of(&self.cpu))
                .peer("`ssh h cmd > file`", Stat::of(&peer.cpu))
                .ratio(cpu, "of ssh's")
                .target("≤ 1.5×", cpu <= 1.5),
        ]
    }
}

/// `ssh host 'head -c N /dev/zero' > file`, checked complete: (MB/s, CPU seconds).
fn peer(ctx: &Ctx, bytes: u64, mb: f64) -> (f64, f64) {
    let out = ctx.path("peer.out");
    let mut cmd = ctx.ssh();
    cmd.arg(&ctx.alias)
        .arg(format!("head -c {bytes} /dev/zero"))
        .stdout(File::create(&out).expect("peer output file"));
    let m = measure::run(&mut cmd, false).expect("spawn ssh");
    let got = std::fs::metadata(&out).map_or(0, |m| m.len());
    assert!(
        m.status.success() && got == bytes,
        "ssh failed ({}), wrote {got} bytes",
        m.status
    );
    let _ = std::fs::remove_file(&out);
    (mb / m.wall.as_secs_f64(), m.cpu.as_secs_f64())
}

/// Runs the figure (headless, ssh, and the TUI when there is a tmux, in turn each round);
/// returns its section and the last headless run (a 1 GB output, for the verify figure).
pub fn figure(ctx: &Ctx, tmux: Option<&Tmux>) -> (Section, Option<PathBuf>) {
    let bytes: u64 = if ctx.quick {
        100_000_000
    } else {
        1_000_000_000
    };
    let rb = ssh_runbook(ctx);
    let (mut headless, mut tui, mut ssh) =
        (Series::default(), Series::default(), Series::default());
    let mut kept = None;
    let err = ctx.path("stream.stderr");
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / 1e6;
    for round in 0..ctx.pairs {
        let (a, run_dir) = rehearse_stream(ctx, &rb, bytes, &err);
        if let Some(old) = kept.replace(run_dir) {
            let _ = std::fs::remove_dir_all(old);
        }
        let p = peer(ctx, bytes, mb);
        ssh.tp.push(p.0);
        ssh.cpu.push(p.1);
        let (ta, ca) = headless.push(mb, a.wall, a.cpu, p);
        let mut line = format!(
            "figure 1, round {}: rehearse {ta:.0} MB/s cpu {ca:.2}s | ssh {:.0} MB/s cpu {:.2}s",
            round + 1,
            p.0,
            p.1
        );
        if let Some(t) = tmux {
            let c = crate::tui_stream::run(ctx, t, &rb, bytes, round);
            let (tc, cc) = tui.push(mb, c.wall, c.cpu, p);
            line.push_str(&format!(" | TUI {tc:.0} MB/s cpu {cc:.2}s"));
        }
        eprintln!("{line}");
    }
    let size = if ctx.quick { "100 MB" } else { "1 GB" };
    let mut rows: Vec<Row> = headless
        .rows(&format!("stream {size} headless"), &ssh)
        .into();
    if tmux.is_some() {
        rows.extend(tui.rows(&format!("stream {size} in the TUI"), &ssh));
    }
    let line = ctx.rehearse_line();
    let section = Section {
        number: 1,
        title: format!("Stream {size} of output to the on-disk log"),
        how: format!(
            "The remote command is `head -c {bytes} /dev/zero` on the benchmark user's `/bin/sh`. \
             rehearse runs it as a one-command step; the output lands redacted in \
             `outputs/<sha256>` and the journal as it does for a user. Headless: `rehearse run` \
             with stdout to /dev/null, timed as a whole process (start, connect, authenticate, \
             stream, journal, exit). TUI: the same step run with Enter in a 120×40 tmux pane, \
             timed from `send-keys Enter` to the first capture (every 20 ms) showing \
             `passed (exit 0`. The peer is `ssh` writing the same bytes to a file. CPU is user \
             + sys: for `rehearse run` and `ssh`, of the process and its waited-for children \
             from the kernel's accounting (`cutime + cstime` in /proc/self/stat around the \
             wait, what `wait4` and `/usr/bin/time` report); for the TUI, the process's own \
             `utime + stime` from Enter to the outcome. sshd's side is the same for all and not \
             counted. Each run's stored size is checked. The three run in turn each round; \
             ratios are medians of the per-round ratios. Both clients negotiate their default \
             cipher with the same sshd."
        ),
        commands: vec![
            format!("{line} run $W/bench-ssh.toml --step stream --var bytes={bytes} > /dev/null"),
            format!(
                "ssh -F $W/ssh_config {} 'head -c {bytes} /dev/zero' > $W/peer.out",
                ctx.alias
            ),
            format!(
                "tmux -L sock -f /dev/null new-session -d -s S -x 120 -y 40 -- {line} --run $W/tui-run --var bytes={bytes} $W/bench-ssh.toml; tmux -L sock send-keys -t S Enter"
            ),
        ],
        rows,
    };
    (section, kept)
}
