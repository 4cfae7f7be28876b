//! A real OpenSSH `sshd` on 127.0.0.1 for the executor tests: throwaway host keys, a free port,
//! `LogLevel DEBUG` into a file the tests read, and a client side (a temp HOME with a key pair,
//! `known_hosts` and `.ssh/config`). Nothing here sleeps and hopes: every wait polls a
//! condition against a deadline. A missing sshd or ssh-keygen fails the test, never skips it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rehearse::exec::ssh::{Identity, SshExecutor, SshParams};
use rehearse::exec::ssh_config::StrictHostKeyChecking;
use rehearse::exec::{
    Cancel, ExecEvent, ExecRequest, Executor, Headless, HostKeySeen, Prompter, PtySize,
};
use rehearse::secret::SecretString;
use tokio::sync::mpsc;

pub const SSHD: &str = "/usr/sbin/sshd";
/// Long enough for a loaded CI machine; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Fail (never skip) when a tool the tests need is missing.
pub fn require_openssh() {
    let missing: Vec<&str> = [SSHD, "ssh-keygen", "ssh", "ssh-agent", "ssh-add"]
        .into_iter()
        .filter(|t| {
            if t.starts_with('/') {
                !Path::new(t).exists()
            } else {
                Command::new("sh")
                    .args(["-c", &format!("command -v {t}")])
                    .stdout(Stdio::null())
                    .status()
                    .map_or(true, |s| !s.success())
            }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these tests need OpenSSH, and {missing:?} are missing: run `apt-get install -y openssh-server openssh-client`"
    );
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ssh-keygen -t TYPE -N PASSPHRASE -f PATH`, with few KDF rounds so debug builds stay quick.
pub fn keygen(path: &Path, kind: &str, passphrase: &str) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(pub_path(path));
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-a", "2", "-C", "rehearse-test", "-N"])
            .arg(passphrase)
            .arg("-f")
            .arg(path),
    );
}

pub fn pub_path(private: &Path) -> PathBuf {
    let mut p = private.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// `ALGORITHM BASE64` of a public key file, without its comment.
pub fn pub_line(private: &Path) -> String {
    let text = fs::read_to_string(pub_path(private)).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `SHA256:...` as `ssh-keygen -l` prints it: the reference the tests compare against.
pub fn fingerprint(private: &Path) -> String {
    let out = run_ok(
        Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(pub_path(private)),
    );
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// Poll `cond` until it holds or `within` passes.
pub fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every process below `root` in the process tree (sshd's per-connection children call
/// setsid, so a process group would not reach them).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// The command names (`comm`) of every process below `root`.
pub fn descendant_names(root: u32) -> Vec<String> {
    descendants(root)
        .into_iter()
        .filter(|&p| alive(p))
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; it counts as gone.
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

fn sigkill(pids: &[u32]) {
    for &pid in pids {
        if let Ok(p) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[derive(Debug, Clone)]
pub struct SshdOptions {
    /// Host key types served, from `ed25519` and `ecdsa` (both are always generated).
    pub host_keys: Vec<&'static str>,
    pub password: bool,
    pub extra: Vec<String>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            host_keys: vec!["ed25519"],
            password: false,
            extra: Vec::new(),
        }
    }
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub log: PathBuf,
    pub authorized_keys: PathBuf,
    pub options: SshdOptions,
    config: PathBuf,
    child: Option<Child>,
}

enum Start {
    Ready,
    PortTaken,
}

impl Sshd {
    pub fn start() -> Sshd {
        Self::start_with(SshdOptions::default())
    }

    pub fn start_with(options: SshdOptions) -> Sshd {
        require_openssh();
        fs::create_dir_all("/run/sshd")
            .expect("mkdir -p /run/sshd (sshd's privilege separation directory)");
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "ecdsa"] {
            keygen(&dir.path().join(format!("ssh_host_{kind}_key")), kind, "");
        }
        let authorized_keys = dir.path().join("authorized_keys");
        fs::write(&authorized_keys, "").unwrap();
        let mut sshd = Sshd {
            log: dir.path().join("sshd.log"),
            config: dir.path().join("sshd_config"),
            authorized_keys,
            port: 0,
            options,
            child: None,
            dir,
        };
        for _ in 0..20 {
            // The port is free now; another process may take it before sshd binds: then retry.
            sshd.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            if let Start::Ready = sshd.spawn() {
                return sshd;
            }
        }
        panic!("sshd could not bind a free port in 20 tries");
    }

    pub fn host_key(&self, kind: &str) -> PathBuf {
        self.dir.path().join(format!("ssh_host_{kind}_key"))
    }

    /// The `known_hosts` line for this server's key of `kind`.
    pub fn known_hosts_line(&self, kind: &str) -> String {
        format!(
            "[127.0.0.1]:{} {}\n",
            self.port,
            pub_line(&self.host_key(kind))
        )
    }

    pub fn fingerprint(&self, kind: &str) -> String {
        fingerprint(&self.host_key(kind))
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let mut c = format!(
            "Port {port}\nListenAddress 127.0.0.1\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
             UsePAM no\nStrictModes no\nPermitRootLogin yes\nPubkeyAuthentication yes\n\
             PasswordAuthentication {pw}\nKbdInteractiveAuthentication no\nLogLevel DEBUG\n\
             AllowTcpForwarding yes\nClientAliveInterval 0\nMaxStartups 50\n",
            port = self.port,
            pid = d.join("sshd.pid").display(),
            ak = self.authorized_keys.display(),
            pw = if self.options.password { "yes" } else { "no" },
        );
        for kind in &self.options.host_keys {
            c.push_str(&format!("HostKey {}\n", self.host_key(kind).display()));
        }
        for line in &self.options.extra {
            c.push_str(line);
            c.push('\n');
        }
        fs::write(&self.config, c).unwrap();
    }

    fn spawn(&mut self) -> Start {
        self.write_config();
        let stderr = fs::File::create(self.dir.path().join("sshd.stderr")).unwrap();
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .arg("-E")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start /usr/sbin/sshd (apt-get install -y openssh-server)");
        self.child = Some(child);
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                let why = format!(
                    "{}{}",
                    self.log_text(),
                    fs::read_to_string(self.dir.path().join("sshd.stderr")).unwrap_or_default()
                );
                if why.contains("Address already in use") {
                    return Start::PortTaken;
                }
                panic!("sshd exited ({status}) before listening:\n{why}");
            }
            // sshd logs this right after listen(); the connect confirms it from the outside.
            if self.log_text().contains(&listening)
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Start::Ready;
            }
            assert!(
                Instant::now() < end,
                "sshd did not start listening within 20 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL sshd and everything it started (connections and their shells), and wait
    /// until they are gone.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        sigkill(&pids);
        let _ = child.wait();
        wait_until(Duration::from_secs(20), "sshd's processes to die", || {
            pids.iter().all(|&p| !alive(p))
        });
    }

    /// Kill the per-connection processes only: the server closes every connection, and the
    /// listener keeps accepting new ones.
    pub fn kill_connections(&self) {
        let Some(pid) = self.pid() else { return };
        let pids = descendants(pid);
        sigkill(&pids);
        wait_until(Duration::from_secs(20), "sshd's connections to die", || {
            pids.iter().all(|&p| !alive(p))
        });
    }

    /// Start again on the same port with the same keys (after `kill`).
    pub fn restart(&mut self) {
        self.kill();
        for _ in 0..50 {
            if let Start::Ready = self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("sshd could not bind port {} again", self.port);
    }

    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn log_len(&self) -> usize {
        fs::metadata(&self.log).map_or(0, |m| m.len() as usize)
    }

    /// The log written after `offset` (from `log_len`).
    pub fn log_since(&self, offset: usize) -> String {
        let b = fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(b.get(offset..).unwrap_or_default()).into_owned()
    }

    pub fn wait_log(&self, within: Duration, what: &str, cond: impl Fn(&str) -> bool) {
        wait_until(within, what, || cond(&self.log_text()));
    }

    pub fn authorize(&self, private: &Path) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.authorized_keys)
            .unwrap();
        writeln!(f, "{}", pub_line(private)).unwrap();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut pids = descendants(child.id());
            pids.push(child.id());
            sigkill(&pids);
            let _ = child.wait();
        }
    }
}

/// The operator's side: a temp HOME with `.ssh/{id_ed25519,known_hosts,config}`.
pub struct Client {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub config: PathBuf,
    pub port: u16,
}

/// The `Host` alias the client config defines for the test sshd.
pub const ALIAS: &str = "sshd-test";

impl Client {
    /// A client whose key the server accepts and whose known_hosts holds the server's ed25519
    /// key.
    pub fn new(sshd: &Sshd) -> Client {
        let c = Self::untrusted(sshd);
        sshd.authorize(&c.key);
        fs::write(&c.known_hosts, sshd.known_hosts_line("ed25519")).unwrap();
        c
    }

    /// A client with a key pair and a config, but not authorized and knowing no host key.
    pub fn untrusted(sshd: &Sshd) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        let key = ssh.join("id_ed25519");
        keygen(&key, "ed25519", "");
        let known_hosts = ssh.join("known_hosts");
        fs::write(&known_hosts, "").unwrap();
        let config = ssh.join("config");
        // Absolute paths: OpenSSH's `ssh` takes `~` from the password database, not $HOME.
        fs::write(
            &config,
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  \
                 StrictHostKeyChecking yes\n  IdentityAgent none\n  BatchMode yes\n",
                port = sshd.port,
                key = key.display(),
                kh = known_hosts.display(),
            ),
        )
        .unwrap();
        Client {
            dir,
            home,
            key,
            known_hosts,
            config,
            port: sshd.port,
        }
    }

    pub fn params(&self) -> SshParams {
        SshParams {
            target: "test".into(),
            host: "127.0.0.1".into(),
            port: self.port,
            user: "root".into(),
            known_hosts: vec![self.known_hosts.clone()],
            strict: StrictHostKeyChecking::Ask,
            pinned: None,
            identities: vec![Identity::File(self.key.clone())],
            identities_only: true,
            use_agent: false,
            agent: None,
            jumps: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            keepalive: None,
            keepalive_max: 3,
        }
    }

    pub fn executor(&self) -> Arc<SshExecutor> {
        Self::executor_for(self.params())
    }

    pub fn executor_for(params: SshParams) -> Arc<SshExecutor> {
        Arc::new(SshExecutor::new(
            params,
            Arc::new(Headless {
                accept_new_host_key: false,
            }),
        ))
    }

    /// `rehearse` with HOME pointed at this client's home and no agent.
    pub fn rehearse(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
        c.env("HOME", &self.home)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("REHEARSE_STATE_DIR")
            .env("USER", "root");
        c
    }

    /// OpenSSH's own client with this config, for comparisons.
    pub fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg(&self.config)
            .arg(ALIAS)
            .env_remove("SSH_AUTH_SOCK");
        c
    }
}

pub fn req(command: &str) -> ExecRequest {
    ExecRequest {
        command: SecretString::new(command),
        input: None,
        pty: None,
        timeout: DEADLINE,
        grace: Duration::from_secs(1),
    }
}

pub fn pty_req(command: &str, cols: u16, rows: u16) -> ExecRequest {
    ExecRequest {
        pty: Some(PtySize { cols, rows }),
        ..req(command)
    }
}

/// Everything one command produced.
#[derive(Debug)]
pub struct Ran {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub connected: Vec<HostKeySeen>,
    pub started: bool,
    pub end: ExecEvent,
    /// Events after the terminal one: must stay empty.
    pub after_end: usize,
}

impl Ran {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A command running in its own task; the test reads its events as they come.
pub struct Running {
    pub rx: mpsc::Receiver<ExecEvent>,
    pub cancel: Cancel,
    task: tokio::task::JoinHandle<()>,
    ran: Ran,
    ended: bool,
}

pub fn spawn(exec: Arc<dyn Executor>, req: ExecRequest) -> Running {
    let (tx, rx) = mpsc::channel(64);
    let cancel = Cancel::default();
    let c = cancel.clone();
    let task = tokio::spawn(async move { exec.run(req, tx, c).await });
    Running {
        rx,
        cancel,
        task,
        ran: Ran {
            stdout: Vec::new(),
            stderr: Vec::new(),
            connected: Vec::new(),
            started: false,
            end: ExecEvent::Started,
            after_end: 0,
        },
        ended: false,
    }
}

impl Running {
    fn take(&mut self, ev: ExecEvent) {
        if self.ended {
            self.ran.after_end += 1;
            return;
        }
        match ev {
            ExecEvent::Connected(s) => self.ran.connected.push(s),
            ExecEvent::Started => self.ran.started = true,
            ExecEvent::Stdout(b) => self.ran.stdout.extend_from_slice(&b),
            ExecEvent::Stderr(b) => self.ran.stderr.extend_from_slice(&b),
            end => {
                self.ran.end = end;
                self.ended = true;
            }
        }
    }

    /// Read events until stdout contains `needle`; panics if the command ends first.
    pub async fn wait_stdout(&mut self, needle: &str) {
        let end = tokio::time::Instant::now() + DEADLINE;
        while !String::from_utf8_lossy(&self.ran.stdout).contains(needle) {
            assert!(
                !self.ended,
                "ended before printing {needle:?}: {:?}",
                self.ran
            );
            let ev = tokio::time::timeout_at(end, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} within {DEADLINE:?}: {:?}", self.ran));
            match ev {
                Some(ev) => self.take(ev),
                None => panic!("channel closed before {needle:?}: {:?}", self.ran),
            }
        }
    }

    pub fn stdout(&self) -> String {
        self.ran.out()
    }

    /// Read until the channel closes, and return everything.
    pub async fn finish(mut self) -> Ran {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(end, self.rx.recv()).await {
                Ok(Some(ev)) => self.take(ev),
                Ok(None) => break,
                Err(_) => panic!("command did not end within {DEADLINE:?}: {:?}", self.ran),
            }
        }
        let _ = self.task.await;
        assert!(self.ended, "no terminal event: {:?}", self.ran);
        self.ran
    }
}

pub async fn run(exec: &Arc<SshExecutor>, command: &str) -> Ran {
    spawn(exec.clone(), req(command)).finish().await
}

pub async fn run_req(exec: Arc<dyn Executor>, req: ExecRequest) -> Ran {
    spawn(exec, req).finish().await
}

/// A prompter that answers every secret question with one passphrase, counting the questions.
pub struct Answers {
    pub secret: Option<String>,
    pub asked: std::sync::Mutex<Vec<String>>,
}

impl Answers {
    pub fn new(secret: Option<&str>) -> Arc<Answers> {
        Arc::new(Answers {
            secret: secret.map(str::to_string),
            asked: std::sync::Mutex::default(),
        })
    }
}

impl Prompter for Answers {
    fn host_key(
        &self,
        _q: rehearse::exec::HostKeyQuestion,
    ) -> futures::future::BoxFuture<'static, rehearse::exec::TrustDecision> {
        Box::pin(async { rehearse::exec::TrustDecision::Refuse })
    }
    fn secret(&self, prompt: String) -> futures::future::BoxFuture<'static, Option<SecretString>> {
        self.asked.lock().unwrap().push(prompt);
        let s = self.secret.clone().map(SecretString::new);
        Box::pin(async move { s })
    }
}

/// Resident memory of this process, in bytes.
pub fn rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
