//! Gate evidence anyone can verify: signatures that ssh-keygen accepts, tampering found and
//! named, secrets kept out of every file, and nothing acknowledged lost to kill -9.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rehearse::journal::{self, Event};

#[path = "support/evidence.rs"]
mod ev;
use ev::{BIN, CANARY, copy_dir, keygen};

fn rehearse(args: &[&str]) -> std::process::Output {
    ev::rehearse(&home(), args)
}

/// One isolated HOME/config for the whole binary: no machine config, agent or keys leak in.
fn home() -> PathBuf {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("home"))
        .path()
        .to_path_buf()
}

fn make_run(dir: &Path, key: Option<&Path>) -> PathBuf {
    ev::make_run(dir, key)
}

fn export(run: &Path, out: &Path, key: &Path) {
    ev::export(&home(), run, out, key, "html");
}

/// (intact, stdout): intact means nothing broken, with or without a trust anchor.
fn verify(path: &Path) -> (bool, String) {
    let v = ev::verify_with(&home(), path, None);
    (v.intact(), v.out)
}

#[test]
fn signatures_verify_with_ssh_keygen_and_a_tampered_signoff_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = keygen(dir.path(), "ana_key");
    let run = make_run(dir.path(), Some(&key));
    let bundle = dir.path().join("bundle");
    export(&run, &bundle, &key);
    let (ok, out) = verify(&bundle);
    assert!(ok, "{out}");
    assert!(out.contains("1 signatures valid"), "{out}");

    let journal = std::fs::read_to_string(bundle.join("journal.jsonl")).expect("journal");
    let lines: Vec<&str> = journal.lines().collect();
    let (so_i, so) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(r#""kind":"signoff""#))
        .expect("signoff line");
    let sig_line: serde_json::Value =
        serde_json::from_str(lines[so_i + 1]).expect("signature line");
    assert_eq!(sig_line["kind"], "signature");
    assert_eq!(sig_line["signs_seq"], so_i as u64);
    std::fs::write(dir.path().join("line"), so.as_bytes()).expect("write line");
    std::fs::write(
        dir.path().join("sig"),
        sig_line["signature"].as_str().expect("sig"),
    )
    .expect("write sig");
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    std::fs::write(dir.path().join("allowed"), format!("ana {pubkey}")).expect("allowed");
    let ssh_verify = |line: &Path| {
        Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-n",
                "rehearse-signoff@v1",
                "-I",
                "ana",
                "-f",
            ])
            .arg(dir.path().join("allowed"))
            .arg("-s")
            .arg(dir.path().join("sig"))
            .stdin(std::fs::File::open(line).expect("line"))
            .output()
            .expect("ssh-keygen -Y verify")
    };
    let o = ssh_verify(&dir.path().join("line"));
    assert!(
        o.status.success(),
        "ssh-keygen: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("Good \"rehearse-signoff@v1\" signature for ana")
    );

    // The bundle's allowed_signers names the recorded key; rehearse verify accepts it too.
    let o = rehearse(&[
        "verify",
        &bundle.display().to_string(),
        "--allowed-signers",
        &dir.path().join("allowed").display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let wrong = keygen(dir.path(), "eve_key");
    std::fs::write(
        dir.path().join("eve_allowed"),
        format!(
            "ana {}",
            std::fs::read_to_string(wrong.with_extension("pub")).expect("pub")
        ),
    )
    .expect("w");
    let o = rehearse(&[
        "verify",
        &bundle.display().to_string(),
        "--allowed-signers",
        &dir.path().join("eve_allowed").display().to_string(),
    ]);
    // A key the reviewer does not trust for ana: intact, but nothing counts and nothing is sealed.
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("signoff line") && stdout.contains("key not allowed for this name"),
        "{stdout}"
    );
    assert!(stdout.contains("gate: NOT PROVEN"), "{stdout}");

    // Tamper with the sign-off's note: both ssh-keygen and rehearse refuse.
    let tampered = so.replace("checked", "chocked");
    std::fs::write(dir.path().join("line2"), tampered.as_bytes()).expect("w");
    assert!(!ssh_verify(&dir.path().join("line2")).status.success());
    let mut j2: Vec<String> = lines.iter().map(|s| (*s).to_string()).collect();
    j2[so_i] = tampered;
    std::fs::write(run.join("journal.jsonl"), j2.join("\n") + "\n").expect("w");
    let (ok, out) = verify(&run);
    assert!(!ok);
    assert!(
        out.starts_with(&format!("FAILED: journal.jsonl:{}: prev is", so_i + 2)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "journal.jsonl:{}: signature of this signoff by ana",
            so_i + 1
        )),
        "{out}"
    );
}

#[test]
fn any_tampering_is_found_and_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = keygen(dir.path(), "k");
    let run = make_run(dir.path(), Some(&key));
    let bundle = dir.path().join("bundle");
    export(&run, &bundle, &key);
    assert!(verify(&bundle).0);
    let journal = std::fs::read(bundle.join("journal.jsonl")).expect("journal");
    let n_lines = journal.iter().filter(|&&b| b == b'\n').count();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            journal
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .take(n_lines)
        .collect();

    // One byte of every line, in turn.
    for (i, &start) in starts.iter().enumerate() {
        let case = dir.path().join(format!("byte{i}"));
        copy_dir(&bundle, &case);
        let mut j = journal.clone();
        let at = start + 10;
        j[at] = if j[at] == b'7' { b'8' } else { b'7' };
        std::fs::write(case.join("journal.jsonl"), &j).expect("w");
        let (ok, out) = verify(&case);
        assert!(!ok, "line {} changed but verify passed", i + 1);
        assert!(out.starts_with("FAILED: "), "{out}");
        assert!(
            out.contains("journal.jsonl:") || out.contains("MANIFEST:"),
            "{out}"
        );
    }

    let lines: Vec<&[u8]> = journal
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let write_lines = |name: &str, ls: &[&[u8]]| {
        let case = dir.path().join(name);
        copy_dir(&bundle, &case);
        let mut out = Vec::new();
        for l in ls {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        std::fs::write(case.join("journal.jsonl"), out).expect("w");
        // Without the manifest and report (a plain run directory), the chain alone must catch it.
        for f in ["MANIFEST", "MANIFEST.sig", "report.html"] {
            std::fs::remove_file(case.join(f)).expect("rm");
        }
        verify(&case)
    };
    let mut dropped = lines.clone();
    dropped.remove(2);
    let (ok, out) = write_lines("drop", &dropped);
    assert!(!ok);
    assert!(
        out.starts_with("FAILED: journal.jsonl:3: seq is 3, expected 2"),
        "{out}"
    );

    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    let (ok, out) = write_lines("swap", &swapped);
    assert!(!ok);
    assert!(
        out.starts_with("FAILED: journal.jsonl:2: seq is 2, expected 1"),
        "{out}"
    );

    // An altered output file.
    let case = dir.path().join("output");
    copy_dir(&bundle, &case);
    let out_dir = case.join("outputs");
    let victim = std::fs::read_dir(&out_dir)
        .expect("outputs")
        .next()
        .expect("one output")
        .expect("entry")
        .path();
    let mut b = std::fs::read(&victim).expect("read");
    b.push(b'!');
    std::fs::write(&victim, b).expect("w");
    let (ok, out) = verify(&case);
    assert!(!ok);
    let name = victim
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        out.contains(&format!("outputs/{name}: content hashes to")),
        "{out}"
    );
}

#[test]
fn a_secret_reaches_no_file_no_export_and_no_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = make_run(dir.path(), None);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(CANARY)
    };
    let scan = |root: &Path| {
        for e in walk(root) {
            let b = std::fs::read(&e).expect("read");
            let s = String::from_utf8_lossy(&b);
            assert!(
                !s.contains(CANARY) && !s.contains(&b64),
                "secret in {}:\n{s}",
                e.display()
            );
        }
    };
    scan(&run);
    let out = std::fs::read_to_string(
        run.join("outputs").join(
            std::fs::read_to_string(run.join("journal.jsonl"))
                .expect("j")
                .lines()
                .find_map(|l| {
                    l.contains("command_finished").then(|| {
                        serde_json::from_str::<serde_json::Value>(l).expect("json")["output_sha256"]
                            .as_str()
                            .unwrap_or("")
                            .to_string()
                    })
                })
                .expect("finished"),
        ),
    )
    .expect("output");
    assert!(
        out.contains("pw=[secret:pw]") && out.contains("[secret:pw]\n"),
        "{out}"
    );
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).expect("j");
    assert!(
        journal.contains("checked (pw was [secret:pw])"),
        "{journal}"
    );

    let bundle = dir.path().join("bundle");
    let key = keygen(dir.path(), "exporter");
    export(&run, &bundle, &key);
    scan(&bundle);
    // The app log of the export (and of anything else in this state dir) is clean too.
    let state = dir.path().join("state");
    let o = ev::cmd(&home())
        .args(["export"])
        .arg(&run)
        .args(["--format", "md"])
        .env("REHEARSE_STATE_DIR", &state)
        .env("REHEARSE_LOG", "trace")
        .output()
        .expect("export");
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains(CANARY));
    scan(&state);

    // If a secret did get into a file, export refuses and writes nothing.
    let victim = walk(&run.join("outputs"))
        .into_iter()
        .next()
        .expect("an output");
    std::fs::write(&victim, format!("leak {CANARY}\n")).expect("w");
    let refused = dir.path().join("refused");
    let o = rehearse(&[
        "export",
        &run.display().to_string(),
        "-o",
        &refused.display().to_string(),
        "--signing-key",
        &key.display().to_string(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refusing to export"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!refused.exists());
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A runbook of many quick local commands: every command means two journal lines.
fn busy_runbook(dir: &Path) -> PathBuf {
    let mut t = String::from(
        "id = \"busy\"\ntitle = \"Busy\"\n[[steps]]\nid = \"s\"\ntitle = \"S\"\nlevel = \"must\"\ntarget = \"local\"\n",
    );
    for i in 0..400 {
        t.push_str(&format!(
            "[[steps.commands]]\nname = \"c{i}\"\nrun = \"echo {i}\"\n"
        ));
    }
    let p = dir.join("busy.toml");
    std::fs::write(&p, t).expect("write");
    p
}

#[test]
fn kill_9_in_a_loop_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = busy_runbook(dir.path());
    let run = dir.path().join("run");
    let state = dir.path().join("state");
    let mut acked_total = 0;
    for round in 0..6u64 {
        let mut child = Command::new(BIN)
            .args(["run"])
            .arg(&rb)
            .args(["--step", "s", "--run"])
            .arg(&run)
            .env("REHEARSE_STATE_DIR", &state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Creating a run is its own race (the writer's to make atomic); this test is about
        // appends, so wait for the first line before choosing the moment to kill.
        let started = Instant::now() + Duration::from_secs(20);
        while Instant::now() < started
            && child.try_wait().expect("wait").is_none()
            && !std::fs::read(run.join("journal.jsonl")).is_ok_and(|b| b.contains(&b'\n'))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Let it append for a while (a different moment each round), then kill -9.
        let deadline = Instant::now() + Duration::from_millis(80 + round * 37);
        while Instant::now() < deadline && child.try_wait().expect("wait").is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // `run` prints a command's start only after its command_started line is on disk.
        let acked: Vec<String> = stderr
            .lines()
            .filter_map(|l| {
                l.strip_prefix("── s/")
                    .and_then(|r| r.split(' ').next())
                    .map(str::to_string)
            })
            .collect();
        acked_total += acked.len();
        // Reopening reports a torn tail (if any) and finishes the killed command as interrupted.
        let (_, entries, _torn) = journal::Journal::open(&run).expect("reopen");
        for name in &acked {
            assert!(
                entries.iter().any(
                    |e| matches!(&e.event, Event::CommandStarted { command, .. } if command == name)
                ),
                "round {round}: {name} was acknowledged but is not in the journal"
            );
        }
        let (ok, report) = verify(&run);
        assert!(ok, "round {round}: {report}");
    }
    assert!(acked_total > 0, "the runs never got going");
    // A resumed run records what the crashes interrupted.
    let o = Command::new(BIN)
        .args(["run"])
        .arg(&rb)
        .args(["--step", "s", "--run"])
        .arg(&run)
        .env("REHEARSE_STATE_DIR", &state)
        .output()
        .expect("final run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = std::fs::read_to_string(run.join("journal.jsonl")).expect("j");
    assert!(
        j.contains(r#""outcome":"interrupted""#),
        "no interrupted command recorded"
    );
    assert!(verify(&run).0);
}
