//! Figure 2: many short commands (`true`) in one step on one target, against OpenSSH with
//! ControlMaster multiplexing and against one plain `ssh` per command.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::measure::{self, Stat, ms};
use crate::report::{Row, Section};

pub const COUNTS: [usize; 2] = [20, 100];

fn ok(cmd: &mut Command, what: &str) {
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what}: {status}");
}

/// A master connection, `n` commands through it, and the master's exit: the whole cost a user
/// pays, and (second) the time of the `n` commands alone.
fn control_master(ctx: &Ctx, n: usize) -> (Duration, Duration) {
    let sock = ctx.path("cm.sock");
    let path = format!("ControlPath={}", sock.display());
    let start = Instant::now();
    // -f returns once the master is authenticated; ControlPersist keeps it up in the background.
    ok(
        ctx.ssh()
            .args([
                "-o",
                "ControlMaster=yes",
                "-o",
                &path,
                "-o",
                "ControlPersist=yes",
            ])
            .args(["-f", "-N", &ctx.alias]),
        "ssh ControlMaster",
    );
    let first = Instant::now();
    for _ in 0..n {
        ok(
            ctx.ssh().args(["-o", &path, &ctx.alias, "true"]),
            "ssh through the master",
        );
    }
    let commands = first.elapsed();
    ok(
        ctx.ssh()
            .args(["-o", &path, "-O", "exit", &ctx.alias])
            .stderr(Stdio::null()),
        "ssh -O exit",
    );
    (start.elapsed(), commands)
}

fn plain(ctx: &Ctx, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        ok(ctx.ssh().args([&ctx.alias, "true"]), "plain ssh");
    }
    start.elapsed()
}

pub fn figure(ctx: &Ctx) -> Section {
    let rb = crate::stream::ssh_runbook(ctx);
    let err = ctx.path("short.stderr");
    let mut rows = Vec::new();
    let mut ours_median = Vec::new();
    for n in COUNTS {
        let (mut ours, mut cm, mut cm_cmds, mut pl) = (vec![], vec![], vec![], vec![]);
        let (mut cm_ratio, mut pl_ratio) = (vec![], vec![]);
        for pair in 0..ctx.pairs {
            let mut cmd = ctx.rehearse();
            cmd.arg("run")
                .arg(&rb)
                .args(["--step", &format!("short{n}")])
                .stdout(Stdio::null())
                .stderr(File::create(&err).expect("stderr file"));
            let a = measure::run(&mut cmd, false).expect("spawn rehearse");
            assert!(
                a.status.success(),
                "rehearse run short{n}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            if let Some(d) = crate::stream::run_dir_from(&err) {
                let _ = std::fs::remove_dir_all(d);
            }
            let (b, b_cmds) = control_master(ctx, n);
            let c = plain(ctx, n);
            let (a, b, b_cmds, c) = (ms(a.wall), ms(b), ms(b_cmds), ms(c));
            eprintln!(
                "figure 2, {n} commands, round {}: rehearse {a:.0} ms | ControlMaster {b:.0} ms | plain ssh {c:.0} ms",
                pair + 1
            );
            ours.push(a);
            cm.push(b);
            cm_cmds.push(b_cmds);
            pl.push(c);
            cm_ratio.push(b / a);
            pl_ratio.push(c / a);
        }
        let (r_cm, r_pl) = (Stat::of(&cm_ratio).median, Stat::of(&pl_ratio).median);
        ours_median.push(Stat::of(&ours).median);
        rows.push(
            Row::new(
                format!("{n} × `true` in one step, whole run"),
                "ms",
                Stat::of(&ours),
            )
            .peer("ControlMaster (master up + commands + exit)", Stat::of(&cm))
            .ratio(r_cm, "faster than ControlMaster")
            .target("≥ 1.5×", r_cm >= 1.5),
        );
        rows.push(
            Row::new(format!("{n} × `true`, same runs"), "ms", Stat::of(&ours))
                .peer("plain ssh per command", Stat::of(&pl))
                .ratio(r_pl, "faster than plain ssh")
                .target("≥ 25×", r_pl >= 25.0),
        );
        #[allow(clippy::cast_precision_loss)]
        let per: Vec<f64> = cm_cmds.iter().map(|t| t / n as f64).collect();
        rows.push(
            Row::new(
                format!("{n} × `true`: per command"),
                "ms",
                #[allow(clippy::cast_precision_loss)]
                Stat::of(&ours.iter().map(|t| t / n as f64).collect::<Vec<_>>()),
            )
            .peer("ControlMaster, master already up", Stat::of(&per)),
        );
    }
    if let [m20, m100] = ours_median[..] {
        #[allow(clippy::cast_precision_loss)]
        let slope = (m100 - m20) / (COUNTS[1] - COUNTS[0]) as f64;
        rows.push(Row::new(
            "marginal cost of one more command (slope 20 → 100, medians)",
            "ms",
            Stat::of(&[slope]),
        ));
    }
    Section {
        number: 2,
        title: "Short commands on one target".into(),
        how: "A step of 20 (then 100) commands `true` on the SSH target, run by `rehearse run`: \
              one process, one connection, one channel per command, a `command_started` and a \
              `command_finished` line per command in the journal. Peers, alternating with it: \
              OpenSSH ControlMaster (start a master with `-f -N`, run the commands through it \
              one after the other, `-O exit`; the whole wall time, since rehearse's figure \
              includes its own connection) and one plain `ssh host true` per command. Ratios are \
              medians of per-round ratios (peer time / rehearse time)."
            .into(),
        commands: vec![
            format!(
                "{} run $W/bench-ssh.toml --step short20 > /dev/null",
                ctx.rehearse_line()
            ),
            format!(
                "ssh -F $W/ssh_config -o ControlMaster=yes -o ControlPath=$W/cm.sock -o ControlPersist=yes -f -N {a}; \
                 for i in $(seq 20); do ssh -F $W/ssh_config -o ControlPath=$W/cm.sock {a} true; done; \
                 ssh -F $W/ssh_config -o ControlPath=$W/cm.sock -O exit {a}",
                a = ctx.alias
            ),
            format!(
                "for i in $(seq 20); do ssh -F $W/ssh_config {} true; done",
                ctx.alias
            ),
        ],
        rows,
    }
}
