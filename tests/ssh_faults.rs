//! Faults on purpose, against a real OpenSSH sshd: each must end in a clear message with
//! nothing lost. The messages asserted here are the ones the user sees (the executor's, and
//! the runner's reason built from them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Sshd, SshdOptions, req, run, spawn};
use rehearse::exec::{
    Cancel, ConnectErrorKind, ExecEvent, ExecRequest, Executor, ExitInfo, StopStage,
};
use rehearse::journal::Outcome;
use rehearse::runner::{Operator, Runner, RunnerEvent};
use tokio::sync::mpsc;

fn failed(r: &common::Ran, kind: ConnectErrorKind) -> String {
    match &r.end {
        ExecEvent::Failed(e) if e.kind == kind => e.message.clone(),
        other => panic!("expected a {kind:?} failure, got {other:?}"),
    }
}

/// Log lines sshd writes when a client gets as far as authenticating.
fn auth_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            [
                "userauth",
                "Accepted",
                "Failed",
                "Invalid user",
                "Postponed",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_killed_mid_command_keeps_the_output_and_reconnects_after() {
    let mut sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let mut running = spawn(
        exec.clone(),
        req("for i in $(seq 1 100); do echo line$i; sleep 0.2; done"),
    );
    running.wait_stdout("line1\n").await;
    tokio::task::block_in_place(|| sshd.kill());
    let r = running.finish().await;
    assert_eq!(
        r.end,
        ExecEvent::ConnectionLost {
            reason: format!(
                "connection to root@127.0.0.1:{} lost while the command was running",
                sshd.port
            )
        }
    );
    assert!(r.out().starts_with("line1\n"), "{:?}", r.out());
    assert!(!r.out().contains("line100"));
    assert!(!exec.connected());

    // While sshd is down, the next command fails to connect, clearly.
    let r = run(&exec, "echo nope").await;
    let msg = failed(&r, ConnectErrorKind::Unreachable);
    assert_eq!(
        msg,
        format!(
            "cannot reach root@127.0.0.1:{}: Connection refused (os error 111)",
            sshd.port
        )
    );

    tokio::task::block_in_place(|| sshd.restart());
    let r = run(&exec, "echo back").await;
    assert_eq!(r.out(), "back\n");
    assert_eq!(
        r.end,
        ExecEvent::Finished(ExitInfo {
            status: Some(0),
            signal: None
        })
    );
    assert_eq!(
        r.connected.len(),
        1,
        "a new connection, with its host key checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_within_the_connect_timeout() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut p = client.params();
    p.port = free;
    p.connect_timeout = Duration::from_secs(2);
    let t = Instant::now();
    let r = run(&Client::executor_for(p.clone()), "echo nope").await;
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(
        failed(&r, ConnectErrorKind::Unreachable),
        format!("cannot reach root@127.0.0.1:{free}: Connection refused (os error 111)")
    );

    // A port that accepts TCP but never speaks SSH: the connect timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    p.port = silent.local_addr().unwrap().port();
    let t = Instant::now();
    let r = run(&Client::executor_for(p.clone()), "echo nope").await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(
        failed(&r, ConnectErrorKind::Unreachable),
        format!(
            "connecting to root@127.0.0.1:{} timed out after 2s (TCP connected, but no SSH handshake)",
            p.port
        )
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_or_wrong_user_names_the_methods() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);

    let stranger = client.home.join(".ssh/id_stranger");
    common::keygen(&stranger, "ed25519", "");
    let mut p = client.params();
    p.identities = vec![rehearse::exec::ssh::Identity::File(stranger.clone())];
    let r = run(&Client::executor_for(p), "echo nope").await;
    assert_eq!(
        failed(&r, ConnectErrorKind::Auth),
        format!(
            "authentication failed for root@127.0.0.1:{}: tried publickey ({}); the server accepts publickey",
            sshd.port,
            stranger.display()
        )
    );

    let mut p = client.params();
    p.user = "nosuchuser".into();
    let r = run(&Client::executor_for(p), "echo nope").await;
    assert_eq!(
        failed(&r, ConnectErrorKind::Auth),
        format!(
            "authentication failed for nosuchuser@127.0.0.1:{}: tried publickey ({}); the server accepts publickey",
            sshd.port,
            client.key.display()
        )
    );
    sshd.wait_log(DEADLINE, "sshd to log the invalid user", |l| {
        l.contains("Invalid user nosuchuser")
    });

    // Password auth offered by the server, no password given: said so.
    let sshd = Sshd::start_with(SshdOptions {
        password: true,
        ..SshdOptions::default()
    });
    let client = Client::new(&sshd);
    let mut p = client.params();
    p.identities = vec![rehearse::exec::ssh::Identity::File(stranger.clone())];
    let r = run(&Client::executor_for(p), "echo nope").await;
    assert_eq!(
        failed(&r, ConnectErrorKind::Auth),
        format!(
            "authentication failed for root@127.0.0.1:{}: tried publickey ({}); the server accepts publickey,password (no password given)",
            sshd.port,
            stranger.display()
        )
    );
}

/// Connect with `known_hosts` as given, expect a host-key refusal, and check that sshd saw no
/// authentication attempt on that connection.
async fn refused_before_auth(sshd: &Sshd, client: &Client, known_hosts: &str) -> String {
    fs::write(&client.known_hosts, known_hosts).unwrap();
    let offset = sshd.log_len();
    let marker = client.dir.path().join("ran");
    let r = run(&client.executor(), &format!("touch {}", marker.display())).await;
    let msg = failed(&r, ConnectErrorKind::HostKey);
    assert!(!r.started && r.stdout.is_empty() && r.connected.is_empty());
    assert!(!marker.exists(), "the command ran");
    // sshd logs the end of the connection; only then is its log for it complete.
    sshd.wait_log(DEADLINE, "sshd to log the closed connection", |_| {
        let since = sshd.log_since(offset);
        since.contains("[preauth]")
            && (since.contains("Connection closed")
                || since.contains("Disconnected")
                || since.contains("Connection reset"))
    });
    let since = sshd.log_since(offset);
    assert!(
        auth_lines(&since).is_empty(),
        "sshd saw an authentication attempt:\n{since}"
    );
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_is_refused_before_authentication() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let impostor = client.dir.path().join("impostor");
    common::keygen(&impostor, "ed25519", "");
    let line = format!(
        "[127.0.0.1]:{} {}\n",
        sshd.port,
        common::pub_line(&impostor)
    );
    let msg = refused_before_auth(&sshd, &client, &line).await;
    let (offered, known) = (sshd.fingerprint("ed25519"), common::fingerprint(&impostor));
    assert_eq!(
        msg,
        format!(
            "HOST KEY CHANGED for [127.0.0.1]:{port}: the host offered ssh-ed25519 {offered}, but known_hosts holds ssh-ed25519 {known} ({kh}:1). Refusing before authentication; nothing was sent. If the change is expected, remove the old entry (ssh-keygen -R '[127.0.0.1]:{port}') and connect again.",
            port = sshd.port,
            kh = client.known_hosts.display(),
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_host_offering_another_algorithm_is_refused() {
    // The host was known by its ed25519 key; now it only offers an ECDSA one.
    let sshd = Sshd::start_with(SshdOptions {
        host_keys: vec!["ecdsa"],
        ..SshdOptions::default()
    });
    let client = Client::new(&sshd);
    let msg = refused_before_auth(&sshd, &client, &sshd.known_hosts_line("ed25519")).await;
    let (offered, known) = (sshd.fingerprint("ecdsa"), sshd.fingerprint("ed25519"));
    assert!(
        msg.starts_with(&format!(
            "HOST KEY CHANGED for [127.0.0.1]:{}: the host offered ecdsa-sha2-nistp256 {offered}, but known_hosts holds ssh-ed25519 {known} (",
            sshd.port
        )),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_host_key_is_refused() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let text = format!(
        "{}@revoked * {}\n",
        sshd.known_hosts_line("ed25519"),
        common::pub_line(&sshd.host_key("ed25519"))
    );
    let msg = refused_before_auth(&sshd, &client, &text).await;
    assert_eq!(
        msg,
        format!(
            "host key ssh-ed25519 {} for [127.0.0.1]:{} is marked @revoked in {}:2; refusing",
            sshd.fingerprint("ed25519"),
            sshd.port,
            client.known_hosts.display()
        )
    );
}

/// The largest resident set seen while `f` runs, sampled every 5 ms from another thread.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(common::rss_bytes()));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(common::rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

const BIG: u64 = 100_000_000;
const MIB: f64 = 1024.0 * 1024.0;

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:.1} MiB/s ({:.2} s)",
        bytes as f64 / MIB / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

const BIG_RUNBOOK: &str = r#"
format = 1
id = "big"
title = "big output"

[targets.staging]
host = "127.0.0.1"

[[steps]]
id = "big"
title = "100 MB"
level = "must"
target = "staging"

[[steps.commands]]
name = "zeros"
run = "head -c 100000000 /dev/zero"
timeout = "10m"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_stream_in_bounded_memory_and_land_on_disk() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    assert_eq!(run(&exec, "echo warm").await.out(), "warm\n");

    // Through the executor: count the bytes, keep none.
    let baseline = common::rss_bytes();
    let sampler = RssSampler::start();
    let (tx, mut rx) = mpsc::channel(64);
    let e = exec.clone();
    let t = Instant::now();
    let task = tokio::spawn(async move {
        e.run(
            ExecRequest {
                timeout: Duration::from_secs(600),
                ..req("head -c 100000000 /dev/zero")
            },
            tx,
            Cancel::default(),
        )
        .await;
    });
    let (mut n, mut nonzero, mut end) = (0u64, false, None);
    while let Some(ev) = rx.recv().await {
        match ev {
            ExecEvent::Stdout(b) => {
                n += b.len() as u64;
                nonzero |= b.iter().any(|&x| x != 0);
            }
            ExecEvent::Stderr(b) => panic!("stderr: {}", String::from_utf8_lossy(&b)),
            ev if ev.is_terminal() => end = Some(ev),
            _ => {}
        }
    }
    let took_exec = t.elapsed();
    task.await.unwrap();
    let peak_exec = sampler.finish();
    assert_eq!(n, BIG);
    assert!(!nonzero);
    assert_eq!(
        end,
        Some(ExecEvent::Finished(ExitInfo {
            status: Some(0),
            signal: None
        }))
    );

    // Through the runner, with a journal: the full output on disk under its digest.
    let dir = tempfile::tempdir().unwrap();
    let rb_path = dir.path().join("big.toml");
    fs::write(&rb_path, BIG_RUNBOOK).unwrap();
    let rb = Arc::new(rehearse::runbook::load(&rb_path).unwrap());
    let vars = rb.resolve_vars(&[]).unwrap().0;
    let mut execs: BTreeMap<String, Arc<dyn Executor>> = BTreeMap::new();
    execs.insert("staging".into(), exec.clone());
    let run_dir = dir.path().join("run");
    let (tx, mut rx) = mpsc::channel(1024);
    let opened = Runner::open(
        rb,
        vars,
        execs,
        Operator {
            name: "tester".into(),
            key: None,
        },
        run_dir.clone(),
        tx,
    )
    .unwrap();
    let runner = opened.runner;
    let drain = tokio::spawn(async move {
        let mut shown = 0u64;
        while let Some(ev) = rx.recv().await {
            if let RunnerEvent::Output { bytes, .. } = ev {
                shown += bytes.len() as u64;
            }
        }
        shown
    });
    let sampler = RssSampler::start();
    let t = Instant::now();
    let result = runner
        .run_command("big", 0, Cancel::default())
        .await
        .unwrap();
    let took_runner = t.elapsed();
    let peak_runner = sampler.finish();
    drop(runner);
    assert_eq!(drain.await.unwrap(), BIG, "every byte reached the listener");
    assert_eq!(result.outcome, Outcome::Passed, "{:?}", result.reason);
    let journal = fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    let finished: serde_json::Value = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["kind"] == "command_finished")
        .unwrap();
    assert_eq!(finished["output_bytes"], BIG);
    let sha = finished["output_sha256"].as_str().unwrap();
    let file = run_dir.join("outputs").join(sha);
    assert_eq!(fs::metadata(&file).unwrap().len(), BIG);
    let sum = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next(),
        Some(sha)
    );

    // OpenSSH's client on the same sshd, for comparison.
    let t = Instant::now();
    let mut child = client
        .ssh()
        .arg("head -c 100000000 /dev/zero")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let counted = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += k as u64,
            }
        }
    })
    .await
    .unwrap();
    assert!(child.wait().unwrap().success());
    let took_ssh = t.elapsed();
    assert_eq!(counted, BIG);

    eprintln!(
        "100 MB: executor {}; runner+journal {}; OpenSSH ssh {}",
        rate(BIG, took_exec),
        rate(BIG, took_runner),
        rate(BIG, took_ssh)
    );
    eprintln!(
        "resident memory: baseline {:.0} MiB, peak through the executor {:.0} MiB, through the runner {:.0} MiB",
        baseline as f64 / MIB,
        peak_exec as f64 / MIB,
        peak_runner as f64 / MIB
    );
    // Holding the output would add at least 100 MB (95 MiB). The bound leaves room for the
    // channel window, the bounded queues, the runner's 8 MiB capture for `expect` and the
    // allocator, and for the other tests of this binary running at the same time.
    let bound = baseline + 64 * 1024 * 1024;
    assert!(peak_exec < bound, "executor peak {peak_exec} >= {bound}");
    assert!(peak_runner < bound, "runner peak {peak_runner} >= {bound}");
}

fn stopped(r: &common::Ran) -> (bool, StopStage, Option<ExitInfo>) {
    match &r.end {
        ExecEvent::TimedOut { stage, exit } => (true, *stage, exit.clone()),
        ExecEvent::Cancelled { stage, exit } => (false, *stage, exit.clone()),
        other => panic!("not stopped: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_never_ends_is_stopped_by_its_timeout() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let timed = |cmd: &str| ExecRequest {
        timeout: Duration::from_secs(1),
        grace: Duration::from_secs(1),
        ..req(cmd)
    };
    let t = Instant::now();
    let int = spawn(exec.clone(), timed("sleep 1000"));
    let term = spawn(
        exec.clone(),
        timed("trap '' INT; while :; do sleep 0.1; done"),
    );
    let close = spawn(
        exec.clone(),
        timed("trap '' INT TERM; while :; do sleep 0.1; done"),
    );
    let (int, term, close) = (
        int.finish().await,
        term.finish().await,
        close.finish().await,
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    let sig = |s: &str| {
        Some(ExitInfo {
            status: None,
            signal: Some(s.into()),
        })
    };
    assert_eq!(stopped(&int), (true, StopStage::Interrupt, sig("INT")));
    assert_eq!(stopped(&term), (true, StopStage::Terminate, sig("TERM")));
    // Ignoring both: KILL to the whole group, then the channel is closed.
    assert_eq!(stopped(&close), (true, StopStage::Closed, sig("KILL")));
    assert_eq!(
        StopStage::Closed.to_string(),
        "killed (SIGKILL) and the channel closed after SIGINT and SIGTERM were ignored"
    );
    // The connection survives all three.
    assert_eq!(run(&exec, "echo still-here").await.out(), "still-here\n");

    // The signals went to each command's whole process group: no `sleep` is left behind.
    let sshd_pid = sshd.pid().unwrap();
    tokio::task::block_in_place(|| {
        common::wait_until(
            Duration::from_secs(20),
            "the stopped commands to be gone",
            || {
                !common::descendant_names(sshd_pid)
                    .iter()
                    .any(|n| n == "sleep")
            },
        );
    });
    // A pipeline, too, and not only its first process.
    let r = spawn(exec.clone(), timed("sleep 1000 | sleep 1001 | cat"))
        .finish()
        .await;
    assert_eq!(stopped(&r).1, StopStage::Interrupt);
    tokio::task::block_in_place(|| {
        common::wait_until(Duration::from_secs(20), "the pipeline to be gone", || {
            let names = common::descendant_names(sshd_pid);
            !names.iter().any(|n| n == "sleep" || n == "cat")
        });
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_sends_int_first_and_says_which_stage_ended_it() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let mut running = spawn(
        exec.clone(),
        req("trap 'echo got INT; exit 130' INT; echo ready; while :; do sleep 0.1; done"),
    );
    running.wait_stdout("ready\n").await;
    running.cancel.cancel();
    let r = running.finish().await;
    assert_eq!(r.out(), "ready\ngot INT\n");
    assert_eq!(
        stopped(&r),
        (
            false,
            StopStage::Interrupt,
            Some(ExitInfo {
                status: Some(130),
                signal: None
            })
        )
    );
    assert_eq!(StopStage::Interrupt.to_string(), "stopped by SIGINT");

    // Ignoring INT: TERM after the grace period ends it.
    let mut running = spawn(
        exec.clone(),
        ExecRequest {
            // Long enough that a loaded machine still runs the INT trap inside it.
            grace: Duration::from_millis(2000),
            ..req(
                "trap 'echo ignored INT' INT; trap 'echo got TERM; exit 143' TERM; echo ready; while :; do sleep 0.1; done",
            )
        },
    );
    running.wait_stdout("ready\n").await;
    running.cancel.cancel();
    let r = running.finish().await;
    assert_eq!(r.out(), "ready\nignored INT\ngot TERM\n");
    assert_eq!(
        stopped(&r),
        (
            false,
            StopStage::Terminate,
            Some(ExitInfo {
                status: Some(143),
                signal: None
            })
        )
    );
}
