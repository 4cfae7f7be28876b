//! The benchmark suite of issue 17, run by `scripts/bench` (which sets up sshd, the user and
//! the pinned host key, then calls this with their paths). Each figure runs as alternating
//! pairs against its peer and lands in BENCHMARKS.md.
//!
//! `rehearse-bench flood --bytes N [--rate B/s] [--end-file F]` is the output generator the TUI
//! figure runs as its command; `rehearse-bench micro` times the log fold and the redactor
//! in-process (see micro.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod flood;
mod journal;
mod measure;
mod micro;
mod report;
mod short;
mod stream;
mod tmux;
mod tui;
mod tui_stream;

use std::path::PathBuf;
use std::process::Command;

/// Everything the figures share: the tools under test and where they may write.
pub struct Ctx {
    pub rehearse: PathBuf,
    pub work: PathBuf,
    pub ssh_config: PathBuf,
    pub alias: String,
    pub signing_key: PathBuf,
    pub pairs: usize,
    pub quick: bool,
    /// Figure 3's producer speeds to run (`paced`, `unpaced`); empty: both.
    pub flood_speeds: Vec<String>,
}

impl Ctx {
    /// `rehearse` with its state, config and keys kept inside the work dir, never the user's.
    pub fn rehearse(&self) -> Command {
        let mut c = Command::new(&self.rehearse);
        c.env("REHEARSE_CONFIG_DIR", self.work.join("config"))
            .env_remove("SSH_AUTH_SOCK")
            .arg("--state-dir")
            .arg(self.work.join("state"))
            .args(["--operator", "bench", "--signing-key"])
            .arg(&self.signing_key)
            .arg("--ssh-config")
            .arg(&self.ssh_config);
        c
    }

    /// The same invocation as a shell line, for BENCHMARKS.md.
    pub fn rehearse_line(&self) -> String {
        format!(
            "REHEARSE_CONFIG_DIR=$W/config {} --state-dir $W/state --operator bench --signing-key $W/client_key --ssh-config $W/ssh_config",
            self.rehearse.display()
        )
    }

    pub fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.env_remove("SSH_AUTH_SOCK")
            .arg("-F")
            .arg(&self.ssh_config);
        c
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }
}

struct Args {
    ctx: Ctx,
    out: PathBuf,
    only: Vec<usize>,
    no_tui_stream: bool,
    invocation: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: rehearse-bench --rehearse BIN --work DIR --ssh-config FILE --alias HOST \
         --signing-key FILE --out FILE [--pairs N] [--quick] [--only 1,2,...] [--no-tui-stream] [--flood paced,unpaced] [--invocation TEXT]\n\
         \x20      rehearse-bench flood --bytes N [--rate BYTES_PER_S] [--end-file FILE]"
    );
    std::process::exit(2)
}

fn parse(mut it: impl Iterator<Item = String>) -> Args {
    let get = |k: &str, v: Option<String>| v.unwrap_or_else(|| panic!("{k} needs a value"));
    let (mut rehearse, mut work, mut cfg, mut alias, mut key, mut out) =
        (None, None, None, None, None, None);
    let (mut pairs, mut quick, mut only, mut invocation) = (None, false, Vec::new(), None);
    let mut no_tui_stream = false;
    let mut flood_speeds = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rehearse" => rehearse = Some(get(&a, it.next())),
            "--work" => work = Some(get(&a, it.next())),
            "--ssh-config" => cfg = Some(get(&a, it.next())),
            "--alias" => alias = Some(get(&a, it.next())),
            "--signing-key" => key = Some(get(&a, it.next())),
            "--out" => out = Some(get(&a, it.next())),
            "--pairs" => pairs = get(&a, it.next()).parse().ok(),
            "--invocation" => invocation = Some(get(&a, it.next())),
            "--only" => {
                only = get(&a, it.next())
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect();
            }
            "--quick" => quick = true,
            "--flood" => {
                flood_speeds = get(&a, it.next())
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .collect();
            }
            "--no-tui-stream" => no_tui_stream = true,
            // `cargo bench` appends this to every bench binary's arguments.
            "--bench" => {}
            _ => usage(),
        }
    }
    let (Some(rehearse), Some(work), Some(cfg), Some(alias), Some(key), Some(out)) =
        (rehearse, work, cfg, alias, key, out)
    else {
        usage()
    };
    Args {
        ctx: Ctx {
            rehearse: rehearse.into(),
            work: work.into(),
            ssh_config: cfg.into(),
            alias,
            signing_key: key.into(),
            pairs: pairs.unwrap_or(if quick { 2 } else { 5 }),
            quick,
            flood_speeds,
        },
        out: out.into(),
        only,
        no_tui_stream,
        invocation: invocation.unwrap_or_else(|| "rehearse-bench".into()),
    }
}

fn main() {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("flood") {
        argv.next();
        std::process::exit(flood::main(argv));
    }
    if argv.peek().map(String::as_str) == Some("micro") {
        argv.next();
        std::process::exit(micro::main(argv));
    }
    let args = parse(argv);
    let ctx = &args.ctx;
    std::fs::create_dir_all(ctx.path("config")).expect("work dir");
    let want = |n: usize| args.only.is_empty() || args.only.contains(&n);
    let mut sections = Vec::new();
    let mut big_run = None;
    let t = tmux::Tmux::start();
    if want(1) {
        let (section, run) = stream::figure(ctx, (!args.no_tui_stream).then_some(&t));
        sections.push(section);
        big_run = run;
    }
    if want(2) {
        sections.push(short::figure(ctx));
    }
    if want(3) {
        sections.push(tui::flood_figure(ctx, &t));
    }
    if want(4) {
        sections.push(tui::first_frame_figure(ctx, &t));
    }
    if want(5) {
        let big_run = big_run.unwrap_or_else(|| stream::big_run(ctx));
        sections.push(journal::figure(ctx, &big_run));
    }
    let text = report::write(&sections, &args.invocation, ctx.pairs);
    std::fs::write(&args.out, text).expect("write BENCHMARKS.md");
    eprintln!("rehearse-bench: wrote {}", args.out.display());
}
