//! The house's shape, checked: the engine never imports the UI, the arrows between top-level
//! modules run one way, and there are no import circles. Read from the source text, so a new
//! `use` that breaks the shape fails here with the file that did it.
#![allow(clippy::expect_used)] // a test states its expectations

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The engine and what sits beside it without a screen.
const ENGINE: &[&str] = &[
    "runbook", "exec", "journal", "gate", "runner", "session", "secret", "report", "server",
];
/// The terminal front end.
const FRONT: &[&str] = &["app", "ui", "tui", "action", "keymap", "theme"];
/// Crates that draw or read the terminal.
const TERMINAL_CRATES: &[&str] = &[
    "ratatui",
    "crossterm",
    "ratatui_textarea",
    "tui_term",
    "vt100",
];

/// Arrows that must not exist (from, to), besides engine -> front end.
const FORBIDDEN: &[(&str, &str)] = &[
    ("app", "ui"),
    ("app", "tui"),
    ("app", "cli"),
    ("ui", "tui"),
    ("ui", "cli"),
    ("tui", "cli"),
    ("action", "app"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to: `src/runner/open.rs` -> `runner`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Top-level modules a file names through `crate::`, including `use crate::{a, b::c}`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Module -> the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The import graph, and each (file, terminal crate) use.
fn graph() -> (Graph, Vec<(PathBuf, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut g = Graph::new();
    let mut terminal_uses = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        let text = std::fs::read_to_string(f).expect("read");
        for r in crate_refs(&text) {
            if r != m && modules.contains(&r) {
                g.entry(m.clone()).or_default().insert(r);
            }
        }
        for c in TERMINAL_CRATES {
            if text.contains(&format!("{c}::")) || text.contains(&format!("use {c}")) {
                terminal_uses.push((f.clone(), (*c).to_string()));
            }
        }
    }
    (g, terminal_uses)
}

#[test]
fn the_engine_never_imports_the_ui_or_the_terminal() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (g, terminal_uses) = graph();
    let mut bad = Vec::new();
    for m in ENGINE {
        for to in g.get(*m).into_iter().flatten() {
            if FRONT.contains(&to.as_str()) || to == "cli" {
                bad.push(format!("{m} imports {to}"));
            }
        }
    }
    for (f, c) in &terminal_uses {
        if ENGINE.contains(&module_of(&src, f).as_str()) {
            bad.push(format!("{} uses {c}", f.display()));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    // Control: the scan does see imports (the UI uses ratatui, the TUI the app).
    assert!(
        terminal_uses
            .iter()
            .any(|(f, _)| module_of(&src, f) == "ui")
    );
    assert!(g["tui"].contains("app"), "{g:?}");
}

#[test]
fn arrows_run_one_way() {
    let (g, _) = graph();
    let bad: Vec<String> = FORBIDDEN
        .iter()
        .filter(|(from, to)| g.get(*from).is_some_and(|s| s.contains(*to)))
        .map(|(from, to)| format!("{from} imports {to}"))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}\ngraph: {g:#?}");
}

#[test]
fn no_import_circles() {
    let (g, _) = graph();
    // Depth-first search for a back edge; report the circle it closes.
    fn visit(
        n: &str,
        g: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut circle = path[i..].to_vec();
            circle.push(n.to_string());
            return Some(circle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, &g, &mut Vec::new(), &mut done) {
            panic!("import circle: {}\ngraph: {g:#?}", c.join(" -> "));
        }
    }
}

#[test]
fn the_scanner_reads_grouped_imports() {
    let refs = crate_refs("use crate::{app::App, ui};\nlet x = crate::gate::evaluate();");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["app", "gate", "ui"]);
}
