//! BENCHMARKS.md: one table of every figure, then how each was measured and the exact commands.

use std::fmt::Write as _;
use std::process::Command;

use crate::measure::Stat;

/// One measured quantity, beside its peer when it has one.
pub struct Row {
    pub what: String,
    pub unit: &'static str,
    pub ours: Stat,
    pub peer: Option<(String, Stat)>,
    /// The ratio as the target reads it (e.g. our throughput / the peer's), with its meaning.
    pub ratio: Option<(f64, &'static str)>,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(what: impl Into<String>, unit: &'static str, ours: Stat) -> Row {
        Row {
            what: what.into(),
            unit,
            ours,
            peer: None,
            ratio: None,
            target: String::new(),
            met: None,
        }
    }

    pub fn peer(mut self, label: impl Into<String>, stat: Stat) -> Row {
        self.peer = Some((label.into(), stat));
        self
    }

    pub fn ratio(mut self, value: f64, meaning: &'static str) -> Row {
        self.ratio = Some((value, meaning));
        self
    }

    /// The issue's target and whether the median meets it.
    pub fn target(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

pub struct Section {
    /// The figure's number in the issue's table.
    pub number: usize,
    pub title: String,
    pub how: String,
    pub commands: Vec<String>,
    pub rows: Vec<Row>,
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn stat(s: &Stat, unit: &str) -> String {
    if s.n == 0 {
        return "–".into();
    }
    if s.n == 1 {
        return format!("{} {unit}", num(s.median));
    }
    format!(
        "**{}** {unit} ({}–{}, n={})",
        num(s.median),
        num(s.min),
        num(s.max),
        s.n
    )
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_string()
        })
        .unwrap_or_else(|e| format!("({cmd}: {e})"))
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(str::to_string))
        .unwrap_or_default();
    format!(
        "- CPUs: {cpus} × {model}\n- kernel: Linux {}\n- memory: {}\n- OpenSSH: {}\n- tmux: {}\n- rehearse: {} ({})\n",
        kernel.trim(),
        mem.trim_start_matches("MemTotal:").trim(),
        sh("ssh", &["-V"]),
        sh("tmux", &["-V"]),
        env!("CARGO_PKG_VERSION"),
        sh("git", &["rev-parse", "--short", "HEAD"]),
    )
}

pub fn write(sections: &[Section], invocation: &str, pairs: usize) -> String {
    let mut out = String::new();
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let _ = write!(
        out,
        "# Benchmarks\n\n\
         Written by `{invocation}` on {date}. Every figure is the median of alternating runs \
         (A B A B …, {pairs} of each unless said) against its peer on the same sshd in the same \
         run, with the minimum and maximum in brackets. This machine is shared: other \
         developers were building and testing on its cores during the run, so single runs are \
         noisy; compare medians and ratios, not absolute figures from another day. How each \
         figure is taken, and where the time goes where a target is missed, is in \
         [docs/benchmarks.md](docs/benchmarks.md).\n\n## Machine\n\n{}\n## Figures\n\n\
         | # | what | rehearse | peer | ratio | target | met |\n|---|---|---|---|---|---|---|\n",
        machine()
    );
    for s in sections {
        for r in &s.rows {
            let peer = r.peer.as_ref().map_or_else(
                || "–".to_string(),
                |(label, st)| format!("{label}: {}", stat(st, r.unit)),
            );
            let ratio = r
                .ratio
                .map_or_else(|| "–".into(), |(v, m)| format!("{}× {m}", num(v)));
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {peer} | {ratio} | {} | {met} |",
                s.number,
                r.what,
                stat(&r.ours, r.unit),
                if r.target.is_empty() {
                    "–"
                } else {
                    &r.target
                },
            );
        }
    }
    for s in sections {
        let _ = write!(out, "\n## {}. {}\n\n{}\n", s.number, s.title, s.how);
        if !s.commands.is_empty() {
            out.push_str("\n```sh\n");
            for c in &s.commands {
                out.push_str(c);
                out.push('\n');
            }
            out.push_str("```\n");
        }
    }
    out
}
