//! Secrets off the command line, and stdin closed, against a real OpenSSH sshd on 127.0.0.1.
//! While a command that uses a secret waits, `ps -eo args` on the sshd side (the same machine)
//! must not show the secret, while a public value of the same command does show (the
//! control). Run with the login shell bash (root's) and with /bin/sh (dash) parsing the
//! command. Commands that read stdin end at once, over SSH and locally.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Sshd, SshdOptions, wait_until};

const RUNBOOK: &str = r#"
format = 2
id = "secrets-it"
title = "Secrets on stdin"
default_timeout = "60s"

[vars.port]
default = "22"

[vars.dir]
description = "A directory for the command's files"

[vars.shown]
description = "A public value: it may appear in the process list"

[vars.token]
secret = true
env = "IT_TOKEN"

[targets.box]
host = "127.0.0.1"
port = "{{port}}"
user = "root"

[[steps]]
id = "wait"
title = "Use a secret, then wait"
level = "must"
target = "box"

[[steps.commands]]
name = "hold"
run = '''
printf '%s' "{{token}}" > '{{dir}}/seen' && printf '%s|%s' '{{token}}' {{token}} > '{{dir}}/seen2'
cat <<EOF > '{{dir}}/seen3'
{{token}}
EOF
touch '{{dir}}/ready'
while [ ! -e '{{dir}}/release' ]; do sleep 0.05; done
echo "done {{shown}}"'''

[[steps]]
id = "stdin"
title = "Commands that read stdin"
level = "must"
target = "box"

[[steps.commands]]
name = "cat"
run = 'cat; echo "cat ended"'
timeout = "20s"

[[steps.commands]]
name = "read"
run = 'if read -r line; then echo "read: $line"; else echo "read: EOF"; fi'
timeout = "20s"

[[steps.commands]]
name = "local-cat"
target = "local"
run = 'cat; echo "local cat ended"'
timeout = "20s"

[[steps.commands]]
name = "secret-then-cat"
run = 'v="{{token}}"; cat; echo "after secret, cat ended (${#v} bytes)"'
timeout = "20s"
"#;

const SECRET: &str = "s3cr3t-Zq7 'quote\" $(touch /x) `y` \\ end";
const SHOWN: &str = "public-marker-4711";

struct Setup {
    sshd: Sshd,
    client: Client,
    runbook: PathBuf,
    dir: PathBuf,
}

fn setup(options: SshdOptions) -> Setup {
    let sshd = Sshd::start_with(options);
    let client = Client::new(&sshd);
    fs::write(&client.config, "").unwrap();
    let runbook = client.dir.path().join("secrets.toml");
    fs::write(&runbook, RUNBOOK).unwrap();
    let dir = client.dir.path().join("files");
    fs::create_dir_all(&dir).unwrap();
    Setup {
        sshd,
        client,
        runbook,
        dir,
    }
}

impl Setup {
    fn command(&self, step: &str) -> Command {
        let mut c = self.client.rehearse();
        // The secret comes from the environment: on rehearse's own command line, `ps` would
        // show it on this machine for reasons that have nothing to do with the host.
        c.env("IT_TOKEN", SECRET)
            .arg("run")
            .arg(&self.runbook)
            .arg("--step")
            .arg(step)
            .arg("--state-dir")
            .arg(self.client.dir.path().join("state"))
            .arg("--run")
            .arg(self.client.dir.path().join(format!("run-{step}")))
            .arg("--var")
            .arg(format!("port={}", self.sshd.port))
            .arg("--var")
            .arg(format!("dir={}", self.dir.display()))
            .arg("--var")
            .arg(format!("shown={SHOWN}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

fn process_list() -> String {
    let out = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        out.status.success(),
        "ps -eo args failed (apt-get install -y procps)"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn secret_stays_out_of_the_process_list(options: SshdOptions) {
    let s = setup(options);
    let child = s.command("wait").spawn().unwrap();
    let ready = s.dir.join("ready");
    wait_until(DEADLINE, "the command to start waiting", || ready.exists());
    let ps = process_list();
    // The control: the command line of the waiting command is in the list, public value and all.
    assert!(
        ps.contains("__rehearse_s1") && ps.contains(&format!("{}/release", s.dir.display())),
        "the waiting command should be in the process list:\n{ps}"
    );
    assert!(
        !ps.contains("s3cr3t-Zq7"),
        "the secret is in the process list:\n{ps}"
    );
    fs::write(s.dir.join("release"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("done {SHOWN}")), "{stdout}");
    // The secret reached the command intact, in double quotes, single quotes, bare and in a
    // here-document.
    assert_eq!(fs::read_to_string(s.dir.join("seen")).unwrap(), SECRET);
    assert_eq!(
        fs::read_to_string(s.dir.join("seen2")).unwrap(),
        format!("{SECRET}|{SECRET}")
    );
    assert_eq!(
        fs::read_to_string(s.dir.join("seen3")).unwrap(),
        format!("{SECRET}\n")
    );
    assert!(!PathBuf::from("/x").exists(), "the secret ran as shell");
    let journal = fs::read_to_string(s.client.dir.path().join("run-wait/journal.jsonl")).unwrap();
    assert!(!journal.contains("s3cr3t-Zq7"), "{journal}");
    assert!(journal.contains("[secret:token]"), "{journal}");
}

#[test]
fn a_secret_never_shows_in_the_hosts_process_list_with_bash() {
    secret_stays_out_of_the_process_list(SshdOptions::default());
}

#[test]
fn a_secret_never_shows_in_the_hosts_process_list_with_sh() {
    // dash parses the command, as with a /bin/sh login shell.
    assert!(
        fs::read_link("/bin/sh").is_ok_and(|l| l.to_string_lossy().contains("dash"))
            || fs::metadata("/bin/dash").is_ok(),
        "this test needs dash as a POSIX sh: apt-get install -y dash"
    );
    secret_stays_out_of_the_process_list(SshdOptions {
        extra: vec!["ForceCommand /bin/dash -c \"$SSH_ORIGINAL_COMMAND\"".into()],
        ..SshdOptions::default()
    });
}

#[test]
fn commands_that_read_stdin_end_at_once() {
    let s = setup(SshdOptions::default());
    let t = Instant::now();
    let out = s.command("stdin").output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for line in [
        "cat ended\n",
        "read: EOF\n",
        "local cat ended\n",
        &format!("after secret, cat ended ({} bytes)\n", SECRET.len()),
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    // Each command has a 20 s timeout: ending well within one proves EOF came at once.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}
