//! A sealed bundle is bound: change any byte of any file in it and `verify` fails.
#![allow(clippy::expect_used)] // a test states its expectations

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rehearse::journal::allowed_signers::AllowedSigners;

#[path = "support/evidence.rs"]
mod ev;

struct Fixture {
    _tmp: tempfile::TempDir,
    bundle: PathBuf,
    files: Vec<(String, usize)>,
    trust: AllowedSigners,
}

fn files(root: &Path) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = std::fs::metadata(&p).expect("meta").len() as usize;
                let rel = p
                    .strip_prefix(root)
                    .expect("rel")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, len));
            }
        }
    }
    out.sort();
    out
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        let key = ev::keygen(dir, "ana_key");
        let run = ev::make_run(dir, Some(&key));
        let bundle = dir.join("bundle");
        let home = dir.join("home");
        ev::export(&home, &run, &bundle, &key, "md");
        let anchor = ev::allowed(dir, "trusted", &[("ana", &key)]);
        let trust = AllowedSigners::load(&anchor, "test").expect("anchor");
        let files = files(&bundle);
        assert!(files.len() >= 7, "{files:?}");
        Fixture {
            _tmp: tmp,
            bundle,
            files,
            trust,
        }
    })
}

#[test]
fn control_the_untouched_bundle_verifies() {
    let f = fixture();
    let r = rehearse::report::verify_path(&f.bundle, Some(&f.trust));
    assert!(r.ok(), "{:?}", r.problems);
    assert!(r.sealed.as_ref().is_some_and(|v| v.proven_open()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn any_changed_byte_in_any_file_fails(which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let f = fixture();
        let (name, len) = &f.files[which.index(f.files.len())];
        prop_assume!(*len > 0);
        let case = tempfile::tempdir().expect("case");
        ev::copy_dir(&f.bundle, case.path());
        let path = case.path().join(name);
        let mut bytes = std::fs::read(&path).expect("read");
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        std::fs::write(&path, &bytes).expect("write");
        let r = rehearse::report::verify_path(case.path(), Some(&f.trust));
        prop_assert!(!r.ok(), "{name} byte {i} ^ {xor:#x} changed, but verify passed");
    }
}
