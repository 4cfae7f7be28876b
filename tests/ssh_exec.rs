//! The SSH executor against a real OpenSSH sshd on 127.0.0.1: streams, exit statuses and
//! signals, connection reuse and reconnection, PTYs, ~/.ssh/config aliases, hashed known_hosts,
//! ProxyJump, encrypted keys, the agent; and the local executor with the same events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Answers, Client, Sshd, pty_req, run, run_req, spawn, wait_until};
use rehearse::exec::local::LocalExecutor;
use rehearse::exec::ssh::{Identity, SshExecutor};
use rehearse::exec::target::{self, TargetOptions};
use rehearse::exec::{ConnectErrorKind, ExecEvent, Executor, ExitInfo, PtySize, Trust};

fn finished(status: u32) -> ExecEvent {
    ExecEvent::Finished(ExitInfo {
        status: Some(status),
        signal: None,
    })
}

fn accepted(sshd: &Sshd) -> usize {
    sshd.log_text()
        .matches("Accepted publickey for root")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_arrive_separately_with_the_exit_status() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let r = run(&exec, "echo out-1; echo err-1 >&2; echo out-2; exit 7").await;
    assert_eq!(r.out(), "out-1\nout-2\n");
    assert_eq!(r.err(), "err-1\n");
    assert_eq!(r.end, finished(7));
    assert!(r.started);
    assert_eq!(r.after_end, 0);
    assert_eq!(r.connected.len(), 1);
    let seen = &r.connected[0];
    assert_eq!(seen.trust, Trust::Known);
    assert_eq!(seen.fingerprint, sshd.fingerprint("ed25519"));
    assert_eq!(seen.algorithm, "ssh-ed25519");
    assert_eq!((seen.host.as_str(), seen.port), ("127.0.0.1", sshd.port));

    // The command reaches the shell as written: its errors name line 1, `$0` is the shell.
    let r = run(&exec, "no-such-command-xyz; echo \"$0\"").await;
    assert_eq!(r.out(), "bash\n");
    assert_eq!(
        r.err(),
        "bash: line 1: no-such-command-xyz: command not found\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_signal_is_recorded() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let r = run(&exec, "echo before; kill -TERM $$; echo never").await;
    assert_eq!(r.out(), "before\n");
    assert_eq!(
        r.end,
        ExecEvent::Finished(ExitInfo {
            status: None,
            signal: Some("TERM".into()),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_after_the_exit_status_is_kept() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    // The shell exits at once (sshd sends exit-status then); the background writer still holds
    // stdout, so its lines arrive after the status.
    let r = run(
        &exec,
        "(sleep 0.5; echo late-1; echo late-err >&2; sleep 0.2; echo late-2) & echo early; exit 3",
    )
    .await;
    assert_eq!(r.out(), "early\nlate-1\nlate-2\n");
    assert_eq!(r.err(), "late-err\n");
    assert_eq!(r.end, finished(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_many_commands() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    assert!(!exec.connected());
    for i in 0..4 {
        let r = run(&exec, &format!("echo {i}")).await;
        assert_eq!(r.out(), format!("{i}\n"));
        assert_eq!(r.connected.len(), usize::from(i == 0), "command {i}");
        assert!(exec.connected());
    }
    // Commands at the same time share it too.
    let a = spawn(exec.clone(), common::req("sleep 0.3; echo a"));
    let b = spawn(exec.clone(), common::req("sleep 0.3; echo b"));
    let (a, b) = (a.finish().await, b.finish().await);
    assert_eq!((a.out(), b.out()), ("a\n".to_string(), "b\n".to_string()));
    let log = sshd.log_text();
    assert_eq!(accepted(&sshd), 1, "one authentication:\n{log}");
    assert_eq!(
        log.matches("Connection from 127.0.0.1").count(),
        2,
        "the readiness probe and one connection:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_closes_the_connection() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    assert_eq!(run(&exec, "echo one").await.out(), "one\n");
    sshd.kill_connections();
    // The executor notices the close on its own...
    wait_until(Duration::from_secs(20), "the executor to notice", || {
        !exec.connected()
    });
    // ...and the next command opens a new connection, reporting its host key again.
    let r = run(&exec, "echo two").await;
    assert_eq!(r.out(), "two\n");
    assert_eq!(r.end, finished(0));
    assert_eq!(r.connected.len(), 1);
    assert_eq!(accepted(&sshd), 2);
    assert!(exec.connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_gives_a_terminal_and_follows_resizes() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let exec = client.executor();
    let r = run_req(
        exec.clone(),
        pty_req(
            "[ -t 1 ] && echo is-a-tty; tty; stty size; echo $TERM",
            100,
            30,
        ),
    )
    .await;
    let out = r.out();
    assert!(out.contains("is-a-tty\r\n"), "{out:?}");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(out.contains("30 100\r\n"), "{out:?}");
    assert!(out.contains("xterm-256color"), "{out:?}");
    assert_eq!(r.end, finished(0));

    // Without a PTY, no terminal.
    let r = run(&exec, "[ -t 1 ] && echo tty || echo no-tty").await;
    assert_eq!(r.out(), "no-tty\n");

    let mut running = spawn(
        exec.clone(),
        pty_req(
            "echo start $(stty size); while [ \"$(stty size)\" = '30 100' ]; do sleep 0.05; done; echo now $(stty size)",
            100,
            30,
        ),
    );
    running.wait_stdout("start 30 100").await;
    exec.resize(PtySize {
        cols: 120,
        rows: 40,
    });
    let r = running.finish().await;
    assert!(r.out().contains("now 40 120"), "{:?}", r.out());
    assert_eq!(r.end, finished(0));
}

fn runbook(text: &str, dir: &std::path::Path) -> rehearse::runbook::Runbook {
    let path = dir.join("rb.toml");
    fs::write(&path, text).unwrap();
    rehearse::runbook::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

const ALIAS_RUNBOOK: &str = r#"
format = 1
id = "alias-test"
title = "alias"

[targets.web]
alias = "sshd-test"

[targets.jumped]
alias = "via-jump"

[[steps]]
id = "s"
title = "s"
level = "must"
target = "web"

[[steps.commands]]
name = "c"
run = "echo hi"
"#;

fn options(client: &Client) -> TargetOptions {
    TargetOptions {
        ssh_config: Some(client.config.clone()),
        home: Some(client.home.clone()),
        no_agent: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_config_alias_resolves_host_port_user_and_identity() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    // The key is not under a default name: only the config's IdentityFile finds it.
    let key = client.home.join("keys/deploy_key");
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    fs::rename(&client.key, &key).unwrap();
    fs::rename(common::pub_path(&client.key), common::pub_path(&key)).unwrap();
    let config = fs::read_to_string(&client.config)
        .unwrap()
        .replace(&client.key.display().to_string(), "~/keys/deploy_key");
    fs::write(&client.config, config).unwrap();

    let rb = runbook(ALIAS_RUNBOOK, client.dir.path());
    let vars = rb.resolve_vars(&[]).unwrap().0;
    let p = target::ssh_params(&rb, "web", &vars, &options(&client)).unwrap();
    assert_eq!(
        (p.host.as_str(), p.port, p.user.as_str()),
        ("127.0.0.1", sshd.port, "root")
    );
    assert!(
        matches!(&p.identities[..], [Identity::File(f)] if *f == key),
        "{:?}",
        p.identities
    );
    assert_eq!(p.known_hosts, vec![client.known_hosts.clone()]);
    let exec = Client::executor_for(p);
    let r = run(&exec, "echo via-alias; whoami").await;
    assert_eq!(r.out(), "via-alias\nroot\n");
    assert_eq!(r.connected[0].trust, Trust::Known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_known_hosts_entry_is_accepted() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let out = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&client.known_hosts)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = fs::read_to_string(&client.known_hosts).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let r = run(&client.executor(), "echo hashed-ok").await;
    assert_eq!(r.out(), "hashed-ok\n");
    assert_eq!(r.connected[0].trust, Trust::Known);
}

fn jump_config(client: &Client, port: u16, final_host: &str) {
    let mut c = fs::read_to_string(&client.config).unwrap();
    c.push_str(&format!(
        "Host via-jump\n  HostName {final_host}\n  Port {port}\n  User root\n  \
         ProxyJump root@127.0.0.1:{port}\n  UserKnownHostsFile {kh}\n  IdentityFile {key}\n",
        kh = client.known_hosts.display(),
        key = client.key.display(),
    ));
    fs::write(&client.config, c).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_checks_the_host_key_at_every_hop() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    // The jump is 127.0.0.1; the final hop is `localhost`, which the jump host resolves, so the
    // two hops are looked up under different names in known_hosts.
    jump_config(&client, sshd.port, "localhost");
    let rb = runbook(ALIAS_RUNBOOK, client.dir.path());
    let vars = rb.resolve_vars(&[]).unwrap().0;
    let params = || target::ssh_params(&rb, "jumped", &vars, &options(&client)).unwrap();
    let p = params();
    assert_eq!(p.jumps.len(), 1);
    assert_eq!(
        (p.jumps[0].host.as_str(), p.jumps[0].port),
        ("127.0.0.1", sshd.port)
    );

    // Only the jump host is known: the final hop is refused.
    let r = run(&Client::executor_for(p), "echo should-not-run").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert_eq!(e.kind, ConnectErrorKind::HostKey);
    assert!(
        e.message.starts_with(&format!(
            "unknown host key for [localhost]:{}: ssh-ed25519 {}",
            sshd.port,
            sshd.fingerprint("ed25519")
        )),
        "{}",
        e.message
    );
    assert!(r.stdout.is_empty());

    // Both known: two host keys checked, two authentications, one command.
    let both = format!(
        "{}[localhost]:{} {}\n",
        sshd.known_hosts_line("ed25519"),
        sshd.port,
        common::pub_line(&sshd.host_key("ed25519"))
    );
    fs::write(&client.known_hosts, &both).unwrap();
    let before = accepted(&sshd);
    let r = run(&Client::executor_for(params()), "echo through-the-jump").await;
    assert_eq!(r.out(), "through-the-jump\n", "{r:?}");
    let hops: Vec<_> = r
        .connected
        .iter()
        .map(|s| (s.host.as_str(), s.trust, s.fingerprint.as_str()))
        .collect();
    let fp = sshd.fingerprint("ed25519");
    assert_eq!(
        hops,
        vec![
            ("127.0.0.1", Trust::Known, fp.as_str()),
            ("localhost", Trust::Known, fp.as_str())
        ]
    );
    assert_eq!(accepted(&sshd) - before, 2);
    assert!(
        sshd.log_text().contains("direct-tcpip"),
        "the final hop went through the jump"
    );

    // A wrong key for the jump host: refused at the first hop.
    let other = client.dir.path().join("other_key");
    common::keygen(&other, "ed25519", "");
    fs::write(
        &client.known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n[localhost]:{} {}\n",
            sshd.port,
            common::pub_line(&other),
            sshd.port,
            common::pub_line(&sshd.host_key("ed25519"))
        ),
    )
    .unwrap();
    let r = run(&Client::executor_for(params()), "echo should-not-run").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert_eq!(e.kind, ConnectErrorKind::HostKey);
    assert!(
        e.message
            .starts_with(&format!("HOST KEY CHANGED for [127.0.0.1]:{}", sshd.port)),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_asks_for_its_passphrase() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let key = client.home.join(".ssh/id_locked");
    common::keygen(&key, "ed25519", "correct horse");
    sshd.authorize(&key);
    let mut p = client.params();
    p.identities = vec![Identity::File(key.clone())];

    let answers = Answers::new(Some("correct horse"));
    let exec = Arc::new(SshExecutor::new(p.clone(), answers.clone()));
    let r = run(&exec, "echo unlocked").await;
    assert_eq!(r.out(), "unlocked\n", "{r:?}");
    let asked = answers.asked.lock().unwrap().clone();
    assert_eq!(asked, vec![format!("Passphrase for {}", key.display())]);

    let wrong = Answers::new(Some("battery staple"));
    let exec = Arc::new(SshExecutor::new(p.clone(), wrong.clone()));
    let r = run(&exec, "echo never").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert_eq!(e.kind, ConnectErrorKind::Auth);
    assert_eq!(
        e.message,
        format!("wrong passphrase for {} (3 tries)", key.display())
    );
    assert_eq!(wrong.asked.lock().unwrap().len(), 3);

    // Declining to answer skips the key, and the failure says what was (not) tried.
    let exec = Arc::new(SshExecutor::new(p, Answers::new(None)));
    let r = run(&exec, "echo never").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert_eq!(e.kind, ConnectErrorKind::Auth);
    assert!(
        e.message.contains("the server accepts publickey"),
        "{}",
        e.message
    );
}

struct Agent(Child, tempfile::TempDir);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_authenticates() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    // -D: stay in the foreground, so the test owns (and ends) the agent process.
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent(child, dir);
    wait_until(Duration::from_secs(20), "the agent's socket", || {
        sock.exists()
    });
    let key = agent.1.path().join("agent_key");
    common::keygen(&key, "ed25519", "");
    sshd.authorize(&key);
    let added = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    // The key exists only in the agent from here on.
    fs::remove_file(&key).unwrap();

    let mut p = client.params();
    p.identities.clear();
    p.identities_only = false;
    p.use_agent = true;
    p.agent = Some(sock.clone());
    let r = run(&Client::executor_for(p.clone()), "echo agent-ok").await;
    assert_eq!(r.out(), "agent-ok\n", "{r:?}");
    let fp = common::fingerprint(&key);
    assert!(
        sshd.log_text()
            .contains("Accepted publickey for root from 127.0.0.1"),
        "{}",
        sshd.log_text()
    );
    assert!(
        sshd.log_text().contains(&fp),
        "the agent's key {fp} was the one accepted"
    );

    // IdentitiesOnly with no identity file: the agent's key is not offered, and the error
    // says why.
    p.identities_only = true;
    let r = run(&Client::executor_for(p.clone()), "echo never").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert_eq!(e.kind, ConnectErrorKind::Auth);
    assert!(e.message.contains("IdentitiesOnly"), "{}", e.message);

    // An agent socket that does not answer is named in the failure.
    p.identities_only = false;
    p.agent = Some(agent.1.path().join("gone.sock"));
    let r = run(&Client::executor_for(p), "echo never").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert!(
        e.message.ends_with(&format!(
            "tried nothing (no usable key, no agent key); the server accepts publickey (agent {}: No such file or directory (os error 2))",
            agent.1.path().join("gone.sock").display()
        )),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_target_runs_with_the_same_events() {
    let exec: Arc<dyn Executor> = Arc::new(LocalExecutor::default());
    let r = run_req(exec.clone(), common::req("echo out; echo err >&2; exit 3")).await;
    assert_eq!(r.out(), "out\n");
    assert_eq!(r.err(), "err\n");
    assert_eq!(r.end, finished(3));
    assert!(r.started && r.connected.is_empty());
    let r = run_req(
        exec.clone(),
        common::req("(sleep 0.3; echo late) & echo early"),
    )
    .await;
    assert_eq!(r.out(), "early\nlate\n");
    let r = run_req(exec, common::req("kill -TERM $$")).await;
    assert_eq!(
        r.end,
        ExecEvent::Finished(ExitInfo {
            status: None,
            signal: Some("TERM".into())
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_host_is_driven_the_same_way() {
    // russh's server side, as `rehearse demo` runs it: exact output, and a cancel that stops the
    // whole loop with INT.
    let dir = tempfile::tempdir().unwrap();
    let host = rehearse::server::DemoHost::start(dir.path()).await.unwrap();
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    let mut p = client.params();
    p.port = host.addr.port();
    p.user = rehearse::server::DEMO_USER.into();
    p.pinned = Some(host.host_key.clone());
    p.identities = vec![Identity::Key(host.client_key.clone())];
    let exec = Client::executor_for(p);
    let r = run(&exec, "echo out; echo err >&2; exit 2").await;
    assert_eq!(
        (r.out(), r.err()),
        ("out\n".to_string(), "err\n".to_string())
    );
    assert_eq!(r.end, finished(2));
    assert_eq!(r.connected[0].trust, Trust::Pinned);
    let mut running = spawn(
        exec.clone(),
        common::req(
            "i=1; while [ \"$i\" -le 30 ]; do echo \"page $i\"; i=$((i + 1)); sleep 1; done",
        ),
    );
    running.wait_stdout("page 1\n").await;
    running.cancel.cancel();
    let r = running.finish().await;
    assert_eq!(r.out(), "page 1\n");
    assert!(
        matches!(&r.end, ExecEvent::Cancelled { stage: rehearse::exec::StopStage::Interrupt, exit: Some(x) } if x.signal.as_deref() == Some("INT")),
        "{:?}",
        r.end
    );
    host.stop();
}

/// Answers the host-key question like a person who takes `delay` to read the fingerprint.
struct SlowPerson {
    delay: Duration,
    decision: rehearse::exec::TrustDecision,
    asked: std::sync::Mutex<Vec<rehearse::exec::HostKeyQuestion>>,
}

impl rehearse::exec::Prompter for SlowPerson {
    fn host_key(
        &self,
        q: rehearse::exec::HostKeyQuestion,
    ) -> futures::future::BoxFuture<'static, rehearse::exec::TrustDecision> {
        self.asked.lock().unwrap().push(q);
        let (delay, d) = (self.delay, self.decision);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            d
        })
    }
    fn secret(
        &self,
        _prompt: String,
    ) -> futures::future::BoxFuture<'static, Option<rehearse::secret::SecretString>> {
        Box::pin(async { None })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_asked_about_and_reading_time_is_not_a_timeout() {
    let sshd = Sshd::start();
    let client = Client::new(&sshd);
    fs::write(&client.known_hosts, "").unwrap();
    let mut p = client.params();
    p.connect_timeout = Duration::from_secs(1);
    let person = Arc::new(SlowPerson {
        delay: Duration::from_millis(2500),
        decision: rehearse::exec::TrustDecision::AcceptOnce,
        asked: std::sync::Mutex::default(),
    });
    let exec = Arc::new(SshExecutor::new(p.clone(), person.clone()));
    let r = run(&exec, "echo trusted-once").await;
    assert_eq!(r.out(), "trusted-once\n", "{r:?}");
    assert_eq!(r.connected[0].trust, Trust::AcceptedOnce);
    let asked = person.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].algorithm.as_str(), asked[0].fingerprint.clone()),
        ("ssh-ed25519", sshd.fingerprint("ed25519"))
    );
    assert_eq!(asked[0].known_hosts.as_ref(), Some(&client.known_hosts));
    assert_eq!(
        fs::read_to_string(&client.known_hosts).unwrap(),
        "",
        "once: not saved"
    );

    // StrictHostKeyChecking accept-new: saved without a question; yes: refused.
    p.strict = rehearse::exec::ssh_config::StrictHostKeyChecking::Yes;
    let r = run(&Client::executor_for(p.clone()), "echo never").await;
    let ExecEvent::Failed(e) = &r.end else {
        panic!("{r:?}")
    };
    assert!(
        e.message.contains("(StrictHostKeyChecking yes); refusing"),
        "{}",
        e.message
    );
    p.strict = rehearse::exec::ssh_config::StrictHostKeyChecking::AcceptNew;
    let r = run(&Client::executor_for(p), "echo saved").await;
    assert_eq!(r.connected[0].trust, Trust::AcceptedSaved);
    assert_eq!(
        fs::read_to_string(&client.known_hosts).unwrap(),
        sshd.known_hosts_line("ed25519")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_algorithm_known_for_the_host_is_asked_for_first() {
    // The host has both keys; known_hosts only holds its ECDSA one (an older client saved it).
    // As OpenSSH does, the client asks for the known algorithm instead of calling it a change.
    let sshd = Sshd::start_with(common::SshdOptions {
        host_keys: vec!["ed25519", "ecdsa"],
        ..common::SshdOptions::default()
    });
    let client = Client::new(&sshd);
    fs::write(&client.known_hosts, sshd.known_hosts_line("ecdsa")).unwrap();
    let r = run(&client.executor(), "echo via-ecdsa").await;
    assert_eq!(r.out(), "via-ecdsa\n", "{r:?}");
    let seen = &r.connected[0];
    assert_eq!(seen.algorithm, "ecdsa-sha2-nistp256");
    assert_eq!(seen.fingerprint, sshd.fingerprint("ecdsa"));
    assert_eq!(seen.trust, Trust::Known);
}
