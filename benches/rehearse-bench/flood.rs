//! The flood the TUI figure runs as its command: numbered lines of mixed ANSI (16 and 256
//! colours, bold, underline, resets) to stdout, either as fast as the pipe takes them or paced
//! to a byte rate. At the end it writes the wall-clock time (ns since the epoch) to a file, so
//! the bench can time "command ended" to "outcome on screen" from outside.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes written between two pacing checks.
const CHUNK: u64 = 64 * 1024;

pub fn main(mut args: impl Iterator<Item = String>) -> i32 {
    let (mut bytes, mut rate, mut end_file) = (0u64, 0u64, None);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--bytes" => bytes = v.parse().unwrap_or(0),
            "--rate" => rate = v.parse().unwrap_or(0),
            "--end-file" => end_file = Some(v),
            _ => {
                eprintln!("flood: unknown argument {a}");
                return 2;
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(CHUNK as usize, stdout.lock());
    let start = Instant::now();
    let (mut written, mut next_check, mut seq) = (0u64, CHUNK, 0u64);
    let mut line = String::with_capacity(160);
    while written < bytes {
        line.clear();
        let c = seq % 8;
        let c256 = seq % 256;
        line.push_str(&format!(
            "\x1b[3{c}m{seq:>9}\x1b[0m \x1b[1mbuild\x1b[22m step {c} \x1b[38;5;{c256}mcolour {c256:>3}\x1b[39m \
             \x1b[4munderlined\x1b[24m plain text to fill the line {seq:x}\x1b[0m\n"
        ));
        let take = usize::try_from((bytes - written).min(line.len() as u64)).unwrap_or(0);
        if out.write_all(&line.as_bytes()[..take]).is_err() {
            return 1;
        }
        written += take as u64;
        seq += 1;
        if rate > 0 && written >= next_check {
            next_check += CHUNK;
            // The workload's own pacing: hold the producer to `rate` bytes a second.
            #[allow(clippy::cast_precision_loss)]
            let due = Duration::from_secs_f64(written as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                let _ = out.flush();
                std::thread::sleep(ahead);
            }
        }
    }
    if out.flush().is_err() {
        return 1;
    }
    if let Some(f) = end_file {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let _ = std::fs::write(f, now.to_string());
    }
    0
}
