//! In-process micro-benchmarks of the two per-byte hot paths, needing no sshd:
//! the fold of output into the live log (`LogBuffer::push_bytes`: line split, ANSI parse,
//! capped scrollback) and the streaming redactor with three secrets.
//!
//! `rehearse-bench micro [--mb N] [--rounds R]` prints one line per round and figure. To
//! compare two builds, run their binaries alternately (A B A B) in one shell session.

use std::hint::black_box;
use std::time::Instant;

use rehearse::app::scrollback::LogBuffer;
use rehearse::secret::{Redactor, SecretString, StreamRedactor};

/// What a reader hands the executor at a time.
const CHUNK: usize = 64 * 1024;

pub fn main(mut args: impl Iterator<Item = String>) -> i32 {
    let (mut mb, mut rounds) = (200usize, 3usize);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), v) {
            ("--mb", Some(v)) => mb = v,
            ("--rounds", Some(v)) => rounds = v,
            _ => {
                eprintln!("micro: usage: rehearse-bench micro [--mb N] [--rounds R]");
                return 2;
            }
        }
    }
    let (data, lines) = mixed_ansi(mb * 1_000_000);
    for round in 1..=rounds {
        fold(round, &data, lines);
        redact(round, &data);
    }
    0
}

/// The flood figure's line shape (16 and 256 colours, bold, underline, resets), with a tab, a
/// progress-bar `\r`, an OSC title and a cursor move now and then, and a secret every 1000 lines.
fn mixed_ansi(bytes: usize) -> (Vec<u8>, u64) {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes + 256);
    let mut seq = 0u64;
    while s.len() < bytes {
        let (c, c256) = (seq % 8, seq % 256);
        let _ = write!(
            s,
            "\x1b[3{c}m{seq:>9}\x1b[0m \x1b[1mbuild\x1b[22m step {c}\t\x1b[38;5;{c256}mcolour {c256:>3}\x1b[39m \
             \x1b[4munderlined\x1b[24m plain text to fill the line {seq:x}\x1b[0m"
        );
        match seq % 100 {
            0 => s.push_str(" 10%\r 50%\r100%"),
            1 => s.push_str("\x1b]0;title\x07\x1b[2K\x1b[1G done"),
            _ => {}
        }
        if seq % 1000 == 7 {
            s.push_str(" token=canary-s3cret-0001");
        }
        s.push('\n');
        seq += 1;
    }
    (s.into_bytes(), seq)
}

#[allow(clippy::cast_precision_loss)]
fn fold(round: usize, data: &[u8], lines: u64) {
    let mut log = LogBuffer::default();
    let t = Instant::now();
    for c in data.chunks(CHUNK) {
        log.push_bytes(black_box(c), false);
    }
    let s = t.elapsed().as_secs_f64();
    black_box(log.len());
    println!(
        "round {round} fold:   {:.0} MB {lines} lines in {s:.3} s = {:.0} lines/s, {:.1} MB/s",
        data.len() as f64 / 1e6,
        lines as f64 / s,
        data.len() as f64 / 1e6 / s
    );
}

#[allow(clippy::cast_precision_loss)]
fn redact(round: usize, data: &[u8]) {
    let secrets: Vec<(String, SecretString)> = [
        ("db", "canary-s3cret-0001"),
        ("api", "tok_9f8e7d6c5b4a"),
        ("ssh", "correct horse battery staple"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), SecretString::new(v)))
    .collect();
    let mut s = StreamRedactor::new(Redactor::new(&secrets));
    let mut out = 0usize;
    let t = Instant::now();
    for c in data.chunks(CHUNK) {
        out += s.push(black_box(c)).len();
    }
    out += s.finish().len();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "round {round} redact: {:.0} MB, 3 secrets, {out} bytes out in {secs:.3} s = {:.1} MB/s",
        data.len() as f64 / 1e6,
        data.len() as f64 / 1e6 / secs
    );
}
