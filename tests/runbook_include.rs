//! `include` of shared step files: the honest case loads with the shared steps first, and the
//! document a run keeps is self-contained (it loads alone, to the same digest). The refusals
//! (cycles, missing files, errors inside an included file) are in tests/invalid_runbooks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rehearse::runbook;

#[test]
fn shared_steps_come_first_and_the_run_keeps_one_self_contained_document() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shared/more")).unwrap();
    std::fs::write(
        dir.path().join("main.toml"),
        r#"format = 2
id = "main"
title = "Main"
include = ["shared/health.toml"]

[[steps]]
id = "deploy"
title = "Deploy"
level = "must"
target = "local"
after = ["health"]

[[steps.commands]]
name = "go"
run = "echo go"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("shared/health.toml"),
        r#"include = ["more/disk.toml"]

[[steps]]
id = "health"
title = "Health"
level = "must"
target = "local"
after = ["disk"]

[[steps.commands]]
name = "ping"
run = "echo ok"
expect = { stdout = '^ok$' }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("shared/more/disk.toml"),
        r#"[[steps]]
id = "disk"
title = "Disk"
level = "should"
target = "local"

[[steps.commands]]
name = "df"
run = "df -h ."
"#,
    )
    .unwrap();
    let rb = runbook::load(&dir.path().join("main.toml")).unwrap();
    let ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["disk", "health", "deploy"]);
    assert!(!rb.source.text.contains("include ="), "{}", rb.source.text);
    assert!(
        rb.source
            .text
            .starts_with("# composed by rehearse from this runbook and the steps it includes: shared/more/disk.toml, shared/health.toml\n"),
        "{}",
        rb.source.text
    );
    // The copy a run keeps loads on its own, to the same steps and the same digest.
    let copy = dir.path().join("copy/runbook.toml");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&copy, &rb.source.text).unwrap();
    let again = runbook::load(&copy).unwrap();
    let ids2: Vec<&str> = again.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ids2);
    assert_eq!(rb.source.sha256, again.source.sha256);
    // A change in a shared file changes the runbook's digest: a run notices it.
    std::fs::write(
        dir.path().join("shared/more/disk.toml"),
        std::fs::read_to_string(dir.path().join("shared/more/disk.toml"))
            .unwrap()
            .replace("df -h .", "df -h /"),
    )
    .unwrap();
    let changed = runbook::load(&dir.path().join("main.toml")).unwrap();
    assert_ne!(changed.source.sha256, rb.source.sha256);
}
