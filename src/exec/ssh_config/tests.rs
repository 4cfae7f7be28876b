#![allow(clippy::unwrap_used)]

use super::parse::{parse_duration, tokenize};
use super::pattern::wildmatch;
use super::*;

fn parse(text: &str) -> SshConfig {
    SshConfig::parse(text, Path::new("/cfg/config"), Path::new("/home/me"))
        .unwrap()
        .with_local_user("me")
}

fn parse_err(text: &str) -> String {
    SshConfig::parse(text, Path::new("/cfg/config"), Path::new("/home/me"))
        .unwrap_err()
        .to_string()
}

const SAMPLE: &str = r#"
# global defaults first
ConnectTimeout 10

Host web-* !web-legacy
User deploy
Port 2222
IdentityFile ~/.ssh/web_%h_%p

Host web-legacy
User legacy

Host db?
HostName %h.internal.example.com
User dba

Host *
User fallback
Port 22
IdentityFile ~/.ssh/id_ed25519
ServerAliveInterval 1m30s
ServerAliveCountMax 3
"#;

#[test]
fn aliases_and_patterns() {
    let cfg = parse(SAMPLE);
    let web = cfg.resolve("web-1");
    assert_eq!(web.user.as_deref(), Some("deploy"));
    assert_eq!(web.port, Some(2222));
    assert_eq!(web.host_name, None);
    assert_eq!(web.connect_timeout, Some(Duration::from_secs(10)));
    assert_eq!(web.server_alive_interval, Some(Duration::from_secs(90)));
    assert_eq!(web.server_alive_count_max, Some(3));

    let db = cfg.resolve("db1");
    assert_eq!(db.host_name.as_deref(), Some("db1.internal.example.com"));
    assert_eq!(db.user.as_deref(), Some("dba"));
    assert_eq!(db.port, Some(22));
    // `?` matches exactly one character.
    assert_eq!(cfg.resolve("db12").user.as_deref(), Some("fallback"));

    let other = cfg.resolve("elsewhere");
    assert_eq!(other.user.as_deref(), Some("fallback"));
    assert_eq!(
        other.identity_files,
        vec![PathBuf::from("/home/me/.ssh/id_ed25519")]
    );
}

#[test]
fn host_lines_match_case_sensitively_match_host_does_not() {
    // As OpenSSH: `Host` compares the name as typed, `Match host`/`originalhost` fold case,
    // and the host name itself is lowercased.
    let cfg = parse("Host Web-*\n  User deploy\nMatch originalhost web-2\n  Port 2\n");
    assert_eq!(cfg.resolve("Web-1").user.as_deref(), Some("deploy"));
    assert_eq!(cfg.resolve("WEB-1").user.as_deref(), None);
    assert_eq!(cfg.resolve("WEB-2").port, Some(2));
    let cfg = parse("Host x\n  HostName DB.Example\nMatch host db.example\n  User dba\n");
    let x = cfg.resolve("x");
    assert_eq!(x.host_name.as_deref(), Some("db.example"));
    assert_eq!(x.user.as_deref(), Some("dba"));
}

#[test]
fn negation_excludes_block() {
    let cfg = parse(SAMPLE);
    let legacy = cfg.resolve("web-legacy");
    assert_eq!(legacy.user.as_deref(), Some("legacy"));
    assert_eq!(legacy.port, Some(22));
    // A negated pattern alone never selects a block.
    let cfg = parse("Host !foo\n  User x\n");
    assert_eq!(cfg.resolve("bar").user, None);
}

#[test]
fn first_value_wins() {
    let cfg = parse("User a\nUser b\nHost h\n  User c\n  Port 1\nHost *\n  Port 2\n");
    let h = cfg.resolve("h");
    assert_eq!(h.user.as_deref(), Some("a"));
    assert_eq!(h.port, Some(1));
}

#[test]
fn identity_files_accumulate_and_expand() {
    let cfg = parse(SAMPLE);
    let web = cfg.resolve("web-1");
    assert_eq!(
        web.identity_files,
        vec![
            PathBuf::from("/home/me/.ssh/web_web-1_2222"),
            PathBuf::from("/home/me/.ssh/id_ed25519"),
        ]
    );
    let cfg = parse(
        "Host a\n  HostName real.example\n  IdentityFile %d/k_%r_%u_%n_%h_%%\n  IdentityFile ~/x\n  IdentityFile ~/x\n",
    );
    assert_eq!(
        cfg.resolve("a").identity_files,
        vec![
            PathBuf::from("/home/me/k_me_me_a_real.example_%"),
            PathBuf::from("/home/me/x"),
        ]
    );
    let cfg = parse("Host a\n  User root\n  IdentityFile /keys/%r@%h:%p\n");
    assert_eq!(
        cfg.resolve("a").identity_files,
        vec![PathBuf::from("/keys/root@a:22")]
    );
}

#[test]
fn identity_agent_values() {
    let cfg = parse(
        "Host a\n  IdentityAgent none\nHost b\n  IdentityAgent SSH_AUTH_SOCK\nHost c\n  IdentityAgent ~/.ssh/agent-%h.sock\n",
    );
    assert_eq!(cfg.resolve("a").identity_agent, Some(IdentityAgent::Off));
    assert_eq!(cfg.resolve("b").identity_agent, Some(IdentityAgent::Env));
    assert_eq!(
        cfg.resolve("c").identity_agent,
        Some(IdentityAgent::Socket(PathBuf::from(
            "/home/me/.ssh/agent-c.sock"
        )))
    );
    assert_eq!(cfg.resolve("d").identity_agent, None);
}

#[test]
fn known_hosts_files() {
    let cfg = parse(
        "Host a\n  UserKnownHostsFile ~/.ssh/kh_%h /etc/kh\nHost b\n  UserKnownHostsFile none\nHost *\n  UserKnownHostsFile /ignored\n",
    );
    assert_eq!(
        cfg.resolve("a").user_known_hosts_files,
        vec![
            PathBuf::from("/home/me/.ssh/kh_a"),
            PathBuf::from("/etc/kh")
        ]
    );
    assert!(cfg.resolve("b").user_known_hosts_files.is_empty());
    assert_eq!(
        cfg.resolve("c").user_known_hosts_files,
        vec![PathBuf::from("/ignored")]
    );
    assert_eq!(
        parse("").resolve("c").user_known_hosts_files,
        vec![
            PathBuf::from("/home/me/.ssh/known_hosts"),
            PathBuf::from("/home/me/.ssh/known_hosts2"),
        ]
    );
}

#[test]
fn equals_syntax_quotes_and_comments() {
    let cfg = parse(
        "HOST=a\nhostname=a.example\nPort = 2200\nUser =bob # trailing comment\nIdentityFile \"~/my keys/id\"\nIdentitiesOnly=yes\nStrictHostKeyChecking accept-new\n",
    );
    let a = cfg.resolve("a");
    assert_eq!(a.host_name.as_deref(), Some("a.example"));
    assert_eq!(a.port, Some(2200));
    assert_eq!(a.user.as_deref(), Some("bob"));
    assert_eq!(a.identity_files, vec![PathBuf::from("/home/me/my keys/id")]);
    assert_eq!(a.identities_only, Some(true));
    assert_eq!(
        a.strict_host_key_checking,
        Some(StrictHostKeyChecking::AcceptNew)
    );
}

#[test]
fn tokenizer_edge_cases() {
    assert_eq!(
        tokenize(r#"a "b c" d"e f"g 'h i' j\ k \"l"#).unwrap(),
        vec!["a", "b c", "de fg", "h i", "j k", "\"l"]
    );
    assert_eq!(tokenize("\"\"").unwrap(), vec![""]);
    assert_eq!(tokenize("  # all comment").unwrap(), Vec::<String>::new());
    assert_eq!(tokenize("a#b").unwrap(), vec!["a#b"]);
}

#[test]
fn strict_host_key_checking_values() {
    for (v, want) in [
        ("yes", StrictHostKeyChecking::Yes),
        ("no", StrictHostKeyChecking::No),
        ("off", StrictHostKeyChecking::No),
        ("ask", StrictHostKeyChecking::Ask),
        ("Accept-New", StrictHostKeyChecking::AcceptNew),
    ] {
        let cfg = parse(&format!("StrictHostKeyChecking {v}\n"));
        assert_eq!(cfg.resolve("x").strict_host_key_checking, Some(want), "{v}");
    }
}

#[test]
fn proxy_jump_lists_and_none() {
    let cfg = parse(
        "Host a\n  ProxyJump alice@bastion:2022,jump2,[fe80::1]:23,ssh://bob@j3\nHost b\n  ProxyJump none\nHost *\n  ProxyJump default\n",
    );
    assert_eq!(
        cfg.resolve("a").proxy_jump,
        Some(vec![
            JumpHost {
                user: Some("alice".into()),
                host: "bastion".into(),
                port: Some(2022)
            },
            JumpHost {
                user: None,
                host: "jump2".into(),
                port: None
            },
            JumpHost {
                user: None,
                host: "fe80::1".into(),
                port: Some(23)
            },
            JumpHost {
                user: Some("bob".into()),
                host: "j3".into(),
                port: None
            },
        ])
    );
    assert_eq!(cfg.resolve("b").proxy_jump, Some(vec![]));
    assert_eq!(
        cfg.resolve("c").proxy_jump,
        Some(vec![JumpHost {
            user: None,
            host: "default".into(),
            port: None
        }])
    );
    assert_eq!(parse("").resolve("c").proxy_jump, None);
}

#[test]
fn match_blocks() {
    let cfg = parse(
        "Host short\n  HostName short.prod.example\nMatch host *.prod.example\n  User prod\nMatch originalhost other\n  User orig\nMatch exec \"true\"\n  Port 1\nMatch !host nothing localuser me\n  Port 2\nMatch all\n  IdentitiesOnly yes\n",
    );
    let s = cfg.resolve("short");
    assert_eq!(s.user.as_deref(), Some("prod"));
    assert_eq!(
        s.port,
        Some(2),
        "exec never matches, so the negated host block applies"
    );
    assert_eq!(s.identities_only, Some(true));
    assert_eq!(cfg.resolve("other").user.as_deref(), Some("orig"));
    assert_eq!(
        parse_err("Match all host x\n"),
        "/cfg/config:1: 'Match all' cannot be combined with other criteria"
    );
    assert_eq!(
        parse_err("Match bogus x\n"),
        "/cfg/config:1: unknown Match criterion 'bogus'"
    );
    assert_eq!(
        parse_err("Match host\n"),
        "/cfg/config:1: missing argument for Match host"
    );
}

#[test]
fn match_host_pattern_lists() {
    let cfg = parse("Match host a*,!ab\n  User x\n");
    assert_eq!(cfg.resolve("ac").user.as_deref(), Some("x"));
    assert_eq!(cfg.resolve("ab").user, None);
}

#[test]
fn errors_name_file_and_line() {
    assert_eq!(
        parse_err("Host a\n  Port 99999\n"),
        "/cfg/config:2: invalid port '99999'"
    );
    assert_eq!(parse_err("\n\nPort 0\n"), "/cfg/config:3: invalid port '0'");
    assert_eq!(
        parse_err("User \"bob\n"),
        "/cfg/config:1: unterminated quote"
    );
    assert_eq!(
        parse_err("Host a\n\n  ConnectTimeout 10x\n"),
        "/cfg/config:3: invalid ConnectTimeout time value '10x'"
    );
    assert_eq!(
        parse_err("Host\n"),
        "/cfg/config:1: missing argument for Host"
    );
    assert_eq!(
        parse_err("User\n"),
        "/cfg/config:1: missing argument for User"
    );
    assert_eq!(
        parse_err("User a b\n"),
        "/cfg/config:1: garbage at end of line: 'b'"
    );
    assert_eq!(
        parse_err("IdentityFile ~/.ssh/%C\n"),
        "/cfg/config:1: unsupported token %C in IdentityFile"
    );
    assert_eq!(
        parse_err("ProxyJump a:b\n"),
        "/cfg/config:1: invalid port 'b'"
    );
    assert_eq!(
        parse_err("IdentitiesOnly maybe\n"),
        "/cfg/config:1: invalid IdentitiesOnly value 'maybe' (expected yes or no)"
    );
    // Values are checked even in blocks that would not match.
    assert!(parse_err("Host never\n  Port x\n").starts_with("/cfg/config:2:"));
}

#[test]
fn unknown_keywords_ignored_and_crlf() {
    let cfg = parse("ForwardAgent yes\r\nHost a\r\n  SomeFutureOption whatever\r\n  User u\r\n");
    assert_eq!(cfg.resolve("a").user.as_deref(), Some("u"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("T", "0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("T", "1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("T", "1m30"), Ok(Duration::from_secs(90)));
    assert_eq!(
        parse_duration("T", "2W1D"),
        Ok(Duration::from_secs(2 * 604_800 + 86_400))
    );
    assert!(parse_duration("T", "").is_err());
    assert!(parse_duration("T", "m").is_err());
    assert!(parse_duration("T", "-5").is_err());
}

#[test]
fn wildcard_matcher() {
    assert!(wildmatch("*", ""));
    assert!(wildmatch("a*b*c", "aXXbYYc"));
    assert!(wildmatch("*.example.com", "a.b.example.com"));
    assert!(!wildmatch("*.example.com", "example.com"));
    assert!(wildmatch("h?st", "host"));
    assert!(!wildmatch("h?st", "hst"));
    assert!(wildmatch("**a", "bba"));
    // Brackets are literal to OpenSSH: known_hosts writes `[host]:port`.
    assert!(wildmatch("[h*]:2222", "[host]:2222"));
    assert!(!wildmatch("[ab]", "a"));
    assert!(wildmatch("a/*", "a/b/c"));
    assert!(wildmatch("*", ".hidden"));
    assert!(match_list(["*.example", "!bad.example"], "ok.example"));
    assert!(!match_list(["*.example", "!bad.example"], "bad.example"));
    assert!(!match_list(["!bad.example"], "ok.example"));
}

fn hops(cfg: &SshConfig, alias: &str) -> Vec<String> {
    let chain = cfg.jump_chain(alias).unwrap();
    chain
        .iter()
        .map(|h| {
            let host = h.config.host_name.clone().unwrap_or(h.jump.host.clone());
            let user = h.jump.user.clone().or(h.config.user.clone());
            let port = h.jump.port.or(h.config.port).unwrap_or(22);
            format!("{}@{host}:{port}", user.unwrap_or_default())
        })
        .collect()
}

#[test]
fn a_jump_hosts_own_proxy_jump_is_followed() {
    let cfg = parse(
        "Host t\n  ProxyJump j2\nHost j2\n  HostName 10.0.0.2\n  ProxyJump u@j1:2201\nHost j1\n  HostName 10.0.0.1\n  User ops\n  Port 2200\n",
    );
    assert_eq!(hops(&cfg, "t"), ["u@10.0.0.1:2201", "@10.0.0.2:22"]);
    assert!(cfg.jump_chain("j1").unwrap().is_empty());
}

#[test]
fn a_listed_chain_overrides_the_last_hops_own_proxy_jump() {
    // `ProxyJump a,b` runs `ssh -J a b`: b's own ProxyJump is not used, a's is.
    let cfg = parse(
        "Host t\n  ProxyJump a,b\nHost b\n  ProxyJump ignored\nHost a\n  ProxyJump first\nHost c\n  ProxyJump none\n",
    );
    assert_eq!(hops(&cfg, "t"), ["@first:22", "@a:22", "@b:22"]);
    assert!(cfg.jump_chain("c").unwrap().is_empty());
}

#[test]
fn jump_loops_are_refused() {
    let cfg = parse("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost self\n  ProxyJump self\n");
    let err = cfg.jump_chain("a").unwrap_err().to_string();
    assert_eq!(err, "ProxyJump for a: the jump hosts loop: b <- a <- b");
    let err = cfg.jump_chain("self").unwrap_err().to_string();
    assert!(err.contains("loop: self <- self"), "{err}");
    // The same host twice in a listed chain is a path, not a loop.
    let cfg = parse("Host t\n  ProxyJump j,k,j\n");
    assert_eq!(hops(&cfg, "t"), ["@j:22", "@k:22", "@j:22"]);
    let long: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    let cfg = parse(&format!("Host t\n  ProxyJump {}\n", long.join(",")));
    let err = cfg.jump_chain("t").unwrap_err().to_string();
    assert!(err.contains("more than 16 jump hosts"), "{err}");
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
}

#[test]
fn include_glob_relative_to_dot_ssh() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    write(&ssh.join("conf.d/20-b.conf"), "Host b\n  User from-b\n");
    write(
        &ssh.join("conf.d/10-a.conf"),
        "Host a b\n  User from-a\n  Port 1000\n",
    );
    write(&ssh.join("conf.d/.hidden.conf"), "Host *\n  User hidden\n");
    write(&ssh.join("conf.d/skip.txt"), "Host *\n  User txt\n");
    write(
        &ssh.join("config"),
        "Include conf.d/*.conf\nHost *\n  User default\n",
    );
    let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
    assert_eq!(cfg.resolve("a").user.as_deref(), Some("from-a"));
    // 10-a.conf comes first in lexical order, so it wins for b too.
    assert_eq!(cfg.resolve("b").user.as_deref(), Some("from-a"));
    assert_eq!(cfg.resolve("c").user.as_deref(), Some("default"));
}

#[test]
fn include_absolute_tilde_and_missing() {
    let home = tempfile::tempdir().unwrap();
    write(&home.path().join("extra/inc"), "Port 2345\n");
    let cfg = SshConfig::parse(
        "Include ~/extra/inc /nonexistent/*.conf ~/.ssh/missing\n",
        &home.path().join(".ssh/config"),
        home.path(),
    )
    .unwrap();
    assert_eq!(cfg.resolve("x").port, Some(2345));
}

#[test]
fn include_inside_host_block_is_conditional() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    // The included file's preamble inherits the enclosing block's state;
    // its own Host blocks only apply when that block matches too.
    write(&ssh.join("prod"), "User prod-user\nHost *\n  Port 2200\n");
    write(
        &ssh.join("config"),
        "Host prod-*\n  Include prod\n  IdentitiesOnly yes\nHost *\n  User generic\n",
    );
    let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
    let p = cfg.resolve("prod-1");
    assert_eq!(p.user.as_deref(), Some("prod-user"));
    assert_eq!(p.port, Some(2200));
    assert_eq!(
        p.identities_only,
        Some(true),
        "enclosing block resumes after Include"
    );
    let other = cfg.resolve("dev-1");
    assert_eq!(other.user.as_deref(), Some("generic"));
    assert_eq!(other.port, None);
    assert_eq!(other.identities_only, None);
}

#[test]
fn include_errors() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    write(&ssh.join("loop_a"), "Include loop_b\n");
    write(&ssh.join("loop_b"), "\nInclude loop_a\n");
    write(&ssh.join("config"), "Include loop_a\n");
    let err = SshConfig::load_with_home(&ssh.join("config"), home.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}:2: Include loop", ssh.join("loop_b").display())),
        "{err}"
    );

    for i in 0..20 {
        write(
            &ssh.join(format!("deep{i}")),
            &format!("Include deep{}\n", i + 1),
        );
    }
    write(&ssh.join("deep20"), "Port 1\n");
    let err = SshConfig::parse("Include deep0\n", &ssh.join("top"), home.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Include nested more than 16 levels deep"),
        "{err}"
    );

    write(&ssh.join("bad"), "Host x\n  Port nope\n");
    let err = SshConfig::parse("Include bad\n", &ssh.join("top"), home.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("{}:2: invalid port 'nope'", ssh.join("bad").display())
    );
}

#[test]
fn missing_file_is_empty_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SshConfig::load_with_home(&dir.path().join("nope"), dir.path()).unwrap();
    let h = cfg.resolve("x");
    assert_eq!(h.user, None);
    assert!(h.identity_files.is_empty());
}
