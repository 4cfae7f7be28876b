//! Figure 1: stream 1 GB of output to the on-disk log, headless `rehearse run` against
//! `ssh host cmd > file`, through the same sshd.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::Ctx;
use crate::measure::{self, Stat};
use crate::report::{Row, Section};

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

/// Runs the figure; returns its section and the last rehearse run (a 1 GB output, for the
/// verify figure).
pub fn figure(ctx: &Ctx) -> (Section, Option<PathBuf>) {
    let bytes: u64 = if ctx.quick {
        100_000_000
    } else {
        1_000_000_000
    };
    let rb = ssh_runbook(ctx);
    let (mut ours_tp, mut ours_cpu, mut peer_tp, mut peer_cpu) = (vec![], vec![], vec![], vec![]);
    let (mut tp_ratio, mut cpu_ratio) = (vec![], vec![]);
    let mut kept = None;
    let err = ctx.path("stream.stderr");
    let peer_out = ctx.path("peer.out");
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / 1e6;
    for pair in 0..ctx.pairs {
        let (a, run_dir) = rehearse_stream(ctx, &rb, bytes, &err);
        if let Some(old) = kept.replace(run_dir) {
            let _ = std::fs::remove_dir_all(old);
        }

        let mut cmd = ctx.ssh();
        cmd.arg(&ctx.alias)
            .arg(format!("head -c {bytes} /dev/zero"))
            .stdout(File::create(&peer_out).expect("peer output file"));
        let b = measure::run(&mut cmd, false).expect("spawn ssh");
        let got = std::fs::metadata(&peer_out).map_or(0, |m| m.len());
        assert!(
            b.status.success() && got == bytes,
            "ssh failed ({}), wrote {got} bytes",
            b.status
        );
        let _ = std::fs::remove_file(&peer_out);

        let (ta, tb) = (mb / a.wall.as_secs_f64(), mb / b.wall.as_secs_f64());
        let (ca, cb) = (a.cpu.as_secs_f64(), b.cpu.as_secs_f64());
        eprintln!(
            "figure 1, pair {}: rehearse {ta:.0} MB/s cpu {ca:.2}s | ssh {tb:.0} MB/s cpu {cb:.2}s",
            pair + 1
        );
        ours_tp.push(ta);
        peer_tp.push(tb);
        ours_cpu.push(ca);
        peer_cpu.push(cb);
        tp_ratio.push(ta / tb);
        cpu_ratio.push(ca / cb.max(0.01));
    }
    let tp = Stat::of(&tp_ratio).median;
    let cpu = Stat::of(&cpu_ratio).median;
    let size = if ctx.quick { "100 MB" } else { "1 GB" };
    let rows = vec![
        Row::new(
            format!("stream {size} headless: throughput"),
            "MB/s",
            Stat::of(&ours_tp),
        )
        .peer("`ssh h cmd > file`", Stat::of(&peer_tp))
        .ratio(tp, "of ssh's")
        .target("≥ 1.0×", tp >= 1.0),
        Row::new(
            format!("stream {size} headless: CPU user+sys"),
            "s",
            Stat::of(&ours_cpu),
        )
        .peer("`ssh h cmd > file`", Stat::of(&peer_cpu))
        .ratio(cpu, "of ssh's")
        .target("≤ 1.5×", cpu <= 1.5),
    ];
    let line = ctx.rehearse_line();
    let section = Section {
        number: 1,
        title: format!("Stream {size} of output to the on-disk log (headless)"),
        how: format!(
            "The remote command is `head -c {bytes} /dev/zero` on the benchmark user's `/bin/sh`. \
             rehearse runs it as a one-command step (`rehearse run`, stdout to /dev/null; the \
             output lands redacted in `outputs/<sha256>` and the journal as it does for a user); \
             the peer is `ssh` writing the same bytes to a file. Throughput is bytes / wall time \
             of the whole process (connect, authenticate, stream, journal, exit). CPU is user + \
             sys of the client process and its children, from the kernel's accounting of waited \
             children (`cutime + cstime` in /proc/self/stat, what `wait4` and `/usr/bin/time` \
             report); sshd's side is the same for both and not counted. Each run's stored size \
             is checked. Ratios are medians of the per-pair ratios. Both clients negotiate their \
             default cipher with the same sshd. The TUI variant is not measured yet."
        ),
        commands: vec![
            format!("{line} run $W/bench-ssh.toml --step stream --var bytes={bytes} > /dev/null"),
            format!(
                "ssh -F $W/ssh_config {} 'head -c {bytes} /dev/zero' > $W/peer.out",
                ctx.alias
            ),
        ],
        rows,
    };
    (section, kept)
}
