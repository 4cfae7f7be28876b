//! A corpus of invalid runbooks (tests/invalid_runbooks/*.toml): each must be refused with its
//! exact `file:line:column: message`, kept as a snapshot per file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use rehearse::runbook;

#[test]
fn every_invalid_runbook_names_its_place_and_problem() {
    let dir = Path::new("tests/invalid_runbooks");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus is missing");
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let errors = match runbook::load(&path) {
            Ok(_) => panic!("{} loaded, but it is invalid", path.display()),
            Err(e) => e.to_string(),
        };
        insta::assert_snapshot!(name, errors);
    }
}
