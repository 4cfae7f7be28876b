//! Timing a child process: wall time, CPU (user + sys) and peak RSS, read from the kernel's
//! own accounting rather than estimated.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Linux reports `/proc` times in USER_HZ, which the ABI fixes at 100 on every architecture
/// rehearse targets.
const USER_HZ: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// User + system time of the child and every descendant it waited for.
    pub cpu: Duration,
    /// Highest VmHWM seen while the child ran, in KiB (0 unless asked for).
    pub peak_rss_kib: u64,
    pub status: ExitStatus,
}

/// Fields of `/proc/PID/stat` (1-based, as `man 5 proc` numbers them) summed, in seconds.
fn stat_seconds(path: &str, fields: &[usize]) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after `(comm)`, which may hold spaces: state is field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let values: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .iter()
        .filter_map(|n| values.get(n - 3).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    Duration::from_secs_f64(ticks / USER_HZ)
}

/// CPU time of this process's waited-for children so far (`cutime + cstime`). The difference
/// around one `wait` is that child's own CPU: the same figure `wait4`'s rusage and
/// `/usr/bin/time` give, at 10 ms resolution.
fn children_cpu() -> Duration {
    stat_seconds("/proc/self/stat", &[16, 17])
}

/// CPU time (`utime + stime`, every thread) a live process has used so far.
pub fn process_cpu(pid: u32) -> Duration {
    stat_seconds(&format!("/proc/{pid}/stat"), &[14, 15])
}

/// `VmHWM` (peak resident set) of `pid` in KiB, or `None` once the process is gone.
pub fn vm_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Run `cmd` to its end. With `watch_rss`, a second thread samples VmHWM every 5 ms; VmHWM
/// only grows, so the last sample before exit misses at most a peak reached in the final 5 ms.
pub fn run(cmd: &mut Command, watch_rss: bool) -> std::io::Result<Measured> {
    cmd.stdin(Stdio::null());
    let before = children_cpu();
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    let status = std::thread::scope(|s| {
        if watch_rss {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    if let Some(kib) = vm_kib(pid, "VmHWM:") {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
        }
        let status = child.wait();
        done.store(true, Ordering::Relaxed);
        status
    })?;
    let wall = start.elapsed();
    Ok(Measured {
        wall,
        cpu: children_cpu().saturating_sub(before),
        peak_rss_kib: peak.load(Ordering::Relaxed),
        status,
    })
}

/// Median, minimum and maximum of a series (in whatever unit it was collected).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(values: &[f64]) -> Stat {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len().is_multiple_of(2) {
            f64::midpoint(v[mid - 1], v[mid])
        } else {
            v[mid]
        };
        Stat {
            median,
            min: v[0],
            max: v[v.len() - 1],
            n: v.len(),
        }
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of a series.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    // Nearest rank: ceil(p/100 * n), 1-based; the cast is of a small positive whole number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
