#![allow(clippy::unwrap_used)]

use super::*;
use russh::keys::{Algorithm, EcdsaCurve, PrivateKey};
use std::process::Command;

fn ed25519() -> PublicKey {
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .unwrap()
        .public_key()
        .clone()
}

fn ecdsa() -> PublicKey {
    let alg = Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    };
    PrivateKey::random(&mut rand::rng(), alg)
        .unwrap()
        .public_key()
        .clone()
}

fn openssh(key: &PublicKey) -> String {
    let mut bare = key.clone();
    bare.set_comment("");
    bare.to_openssh().unwrap()
}

fn kh(text: &str) -> KnownHosts {
    KnownHosts::parse(text, Path::new("/kh"))
}

fn known(line: usize) -> HostKeyStatus {
    HostKeyStatus::Known {
        file: PathBuf::from("/kh"),
        line,
    }
}

#[test]
fn plain_match_and_unknown_host() {
    let key = ed25519();
    let k = kh(&format!(
        "# comment\n\nexample.com,10.0.0.1 {} some comment\n",
        openssh(&key)
    ));
    assert!(k.warnings().is_empty());
    assert_eq!(k.check("example.com", 22, &key), known(3));
    assert_eq!(k.check("EXAMPLE.com", 22, &key), known(3));
    assert_eq!(k.check("10.0.0.1", 22, &key), known(3));
    assert_eq!(k.check("other.com", 22, &key), HostKeyStatus::Unknown);
    assert_eq!(k.check("example.com", 2222, &key), HostKeyStatus::Unknown);
}

#[test]
fn bracketed_port_entries() {
    let key = ed25519();
    let k = kh(&format!("[example.com]:2222 {}\n", openssh(&key)));
    assert_eq!(k.check("example.com", 2222, &key), known(1));
    assert_eq!(k.check("example.com", 22, &key), HostKeyStatus::Unknown);
    assert_eq!(k.check("example.com", 2223, &key), HostKeyStatus::Unknown);
    // Port 22 is never written in brackets, and not looked up that way.
    let k = kh(&format!("[example.com]:22 {}\n", openssh(&key)));
    assert_eq!(k.check("example.com", 22, &key), HostKeyStatus::Unknown);
}

#[test]
fn wildcards_and_negation() {
    let key = ed25519();
    let k = kh(&format!(
        "*.example.com,!bad.example.com,db?.corp {}\n",
        openssh(&key)
    ));
    assert_eq!(k.check("web.example.com", 22, &key), known(1));
    assert_eq!(k.check("db1.corp", 22, &key), known(1));
    assert_eq!(k.check("db12.corp", 22, &key), HostKeyStatus::Unknown);
    assert_eq!(k.check("bad.example.com", 22, &key), HostKeyStatus::Unknown);
    assert_eq!(k.check("example.com", 22, &key), HostKeyStatus::Unknown);
    let k = kh(&format!("[*.example.com]:* {}\n", openssh(&key)));
    assert_eq!(k.check("a.example.com", 2222, &key), known(1));
    assert_eq!(k.check("a.example.com", 22, &key), HostKeyStatus::Unknown);
}

#[test]
fn tabs_repeated_spaces_and_crlf() {
    let key = ed25519();
    let text = openssh(&key);
    let (alg, data) = text.split_once(' ').unwrap();
    let k = kh(&format!(
        "  host1 \t  {alg}\t\t{data}   trailing comment\r\nhost2 {alg} {data}\r\n"
    ));
    assert!(k.warnings().is_empty(), "{:?}", k.warnings());
    assert_eq!(k.check("host1", 22, &key), known(1));
    assert_eq!(k.check("host2", 22, &key), known(2));
}

#[test]
fn changed_key_lists_known_keys() {
    let (old, new) = (ed25519(), ed25519());
    let k = kh(&format!(
        "other {}\nhost {}\n",
        openssh(&new),
        openssh(&old)
    ));
    let HostKeyStatus::Changed { known } = k.check("host", 22, &new) else {
        panic!("expected Changed");
    };
    assert_eq!(
        known,
        vec![KnownKey {
            file: PathBuf::from("/kh"),
            line: 2,
            algorithm: "ssh-ed25519".into(),
            fingerprint: old.fingerprint(HashAlg::Sha256).to_string(),
        }]
    );
    assert!(known[0].fingerprint.starts_with("SHA256:"));
}

#[test]
fn different_algorithm_is_changed() {
    let (ec, ed) = (ecdsa(), ed25519());
    let k = kh(&format!("host {}\n", openssh(&ec)));
    match k.check("host", 22, &ed) {
        HostKeyStatus::Changed { known } => {
            assert_eq!(known.len(), 1);
            assert_eq!(known[0].algorithm, "ecdsa-sha2-nistp256");
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    // With both keys listed, the matching one is found.
    let k = kh(&format!("host {}\nhost {}\n", openssh(&ec), openssh(&ed)));
    assert_eq!(k.check("host", 22, &ed), known(2));
}

#[test]
fn revoked_wins_regardless_of_host() {
    let key = ed25519();
    let line = openssh(&key);
    let k = kh(&format!("host {line}\n@revoked unrelated.example {line}\n"));
    assert_eq!(
        k.check("host", 22, &key),
        HostKeyStatus::Revoked {
            file: PathBuf::from("/kh"),
            line: 2
        }
    );
    assert_eq!(
        k.check("never-seen", 22, &key),
        HostKeyStatus::Revoked {
            file: PathBuf::from("/kh"),
            line: 2
        }
    );
    assert_eq!(
        k.check("host", 22, &ed25519()),
        HostKeyStatus::Changed {
            known: vec![KnownKey {
                file: PathBuf::from("/kh"),
                line: 1,
                algorithm: "ssh-ed25519".into(),
                fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            }]
        }
    );
}

#[test]
fn known_algorithms_in_file_order_without_revoked_keys() {
    let (ec, ed, gone) = (ecdsa(), ed25519(), ed25519());
    let k = kh(&format!(
        "host {}\nother {}\nhost {}\n[host]:2222 {}\nhost {}\n@revoked * {}\n",
        openssh(&ec),
        openssh(&ed),
        openssh(&ec),
        openssh(&ed),
        openssh(&gone),
        openssh(&gone)
    ));
    assert_eq!(k.known_algorithms("HOST", 22), vec![ec.algorithm()]);
    assert_eq!(k.known_algorithms("host", 2222), vec![ed.algorithm()]);
    assert!(k.known_algorithms("nowhere", 22).is_empty());
}

#[test]
fn cert_authority_lines_are_ignored_for_plain_keys() {
    let key = ed25519();
    let k = kh(&format!(
        "@cert-authority *.example.com {}\n",
        openssh(&key)
    ));
    assert!(k.warnings().is_empty());
    assert_eq!(k.len(), 1);
    assert_eq!(k.check("a.example.com", 22, &key), HostKeyStatus::Unknown);
}

#[test]
fn comment_is_ignored_when_comparing() {
    let key = ed25519();
    let mut with_comment = key.clone();
    with_comment.set_comment("root@server");
    let k = kh(&format!("host {}\n", with_comment.to_openssh().unwrap()));
    assert_eq!(k.check("host", 22, &key), known(1));
}

#[test]
fn malformed_lines_are_skipped_with_warnings() {
    let key = ed25519();
    let good = openssh(&key);
    let text = format!(
        "host-only\n@bogus host {good}\nhost ssh-ed25519 !!notbase64!!\nhost ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n|1|c2FsdA==|aGFzaA== {good}\n|2|x|y {good}\nhost 2048 65537 12345\n@revoked\nfine {good}\n"
    );
    let k = kh(&text);
    let lines: Vec<usize> = k.warnings().iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(
        k.warnings()[1]
            .to_string()
            .starts_with("/kh:2: unknown marker @bogus")
    );
    assert_eq!(k.len(), 1);
    assert_eq!(k.check("fine", 22, &key), known(9));
}

fn have_ssh_keygen() -> bool {
    Command::new("ssh-keygen").arg("-?").output().is_ok()
}

#[test]
fn hashed_entries_from_ssh_keygen() {
    if !have_ssh_keygen() {
        eprintln!("ssh-keygen not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    let (a, b) = (ed25519(), ecdsa());
    fs::write(
        &path,
        format!(
            "example.com {}\n[example.com]:2222 {}\n",
            openssh(&a),
            openssh(&b)
        ),
    )
    .unwrap();
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.lines().all(|l| l.starts_with("|1|")), "{text}");

    let k = KnownHosts::load(std::slice::from_ref(&path)).unwrap();
    assert!(k.warnings().is_empty(), "{:?}", k.warnings());
    let at = |line| HostKeyStatus::Known {
        file: path.clone(),
        line,
    };
    assert_eq!(k.check("example.com", 22, &a), at(1));
    assert_eq!(k.check("Example.COM", 22, &a), at(1));
    assert_eq!(k.check("example.com", 2222, &b), at(2));
    assert_eq!(k.check("example.org", 22, &a), HostKeyStatus::Unknown);
    assert!(matches!(
        k.check("example.com", 22, &b),
        HostKeyStatus::Changed { .. }
    ));
}

#[test]
fn append_then_check_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/.ssh/known_hosts");
    let (a, b) = (ed25519(), ecdsa());
    append_known_host(&path, "Host.Example", 22, &a).unwrap();
    append_known_host(&path, "host.example", 2222, &b).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!(
            "host.example {}\n[host.example]:2222 {}\n",
            openssh(&a),
            openssh(&b)
        )
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&path), 0o600);
    }
    let k = KnownHosts::load(&[path.clone(), dir.path().join("missing")]).unwrap();
    assert_eq!(
        k.check("host.example", 22, &a),
        HostKeyStatus::Known {
            file: path.clone(),
            line: 1
        }
    );
    assert_eq!(
        k.check("host.example", 2222, &b),
        HostKeyStatus::Known {
            file: path.clone(),
            line: 2
        }
    );

    if have_ssh_keygen() {
        for name in ["host.example", "[host.example]:2222"] {
            let found = Command::new("ssh-keygen")
                .arg("-F")
                .arg(name)
                .arg("-f")
                .arg(&path)
                .output()
                .unwrap();
            assert!(found.status.success(), "ssh-keygen -F {name}: {found:?}");
        }
    }
}

#[test]
fn append_keeps_existing_lines_and_adds_missing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    fs::write(&path, "# keep me\nold ssh-ed25519 AAAA-not-even-valid").unwrap();
    let key = ed25519();
    append_known_host(&path, "new", 22, &key).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!(
            "# keep me\nold ssh-ed25519 AAAA-not-even-valid\nnew {}\n",
            openssh(&key)
        )
    );
    let k = KnownHosts::load(std::slice::from_ref(&path)).unwrap();
    assert_eq!(k.warnings().len(), 1);
    assert_eq!(
        k.check("new", 22, &key),
        HostKeyStatus::Known {
            file: path,
            line: 3
        }
    );
}

#[test]
fn append_rejects_hosts_that_would_change_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    let key = ed25519();
    for host in [
        "", "a b", "a,b", "*.x", "!x", "@revoked", "|1|x", "[x]", "#x", "a\nb",
    ] {
        assert!(
            matches!(
                append_known_host(&path, host, 22, &key),
                Err(KnownHostsError::InvalidHost { .. })
            ),
            "{host:?}"
        );
    }
    assert!(!path.exists());
    append_known_host(&path, "fe80::1", 2222, &key).unwrap();
    let k = KnownHosts::load(&[path]).unwrap();
    assert!(matches!(
        k.check("fe80::1", 2222, &key),
        HostKeyStatus::Known { .. }
    ));
}

#[test]
fn unreadable_file_is_an_error_missing_is_not() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        KnownHosts::load(&[dir.path().join("nope")])
            .unwrap()
            .is_empty()
    );
    // A directory cannot be read as a file.
    assert!(matches!(
        KnownHosts::load(&[dir.path().to_path_buf()]),
        Err(KnownHostsError::Io { .. })
    ));
}

#[test]
fn host_patterns() {
    assert_eq!(host_pattern_for("h", 22), "h");
    assert_eq!(host_pattern_for("h", 2222), "[h]:2222");
    assert_eq!(host_pattern_for("::1", 830), "[::1]:830");
}
