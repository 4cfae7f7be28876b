//! Reports of a run for the people who read them: Markdown and JSON, built from the journal
//! and the runbook kept beside it.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

mod html;
pub use html::to_html;

use crate::gate;
use crate::journal::state::RunState;
use crate::journal::{Entry, JournalError, outputs, read_entries};
use crate::runbook::{self, Runbook};

#[derive(Debug, Serialize)]
pub struct Report {
    pub runbook_id: String,
    pub runbook_title: String,
    pub runbook_sha256: String,
    pub runbook_git_commit: Option<String>,
    pub started: String,
    pub last_entry: String,
    pub operators: Vec<String>,
    pub host_keys: Vec<HostKeyRow>,
    pub steps: Vec<StepRow>,
    pub gate_open: bool,
    pub gate: Vec<GateRow>,
    pub journal_lines: usize,
}

#[derive(Debug, Serialize)]
pub struct HostKeyRow {
    pub target: String,
    pub host: String,
    pub port: u16,
    pub fingerprint: String,
    pub trust: String,
}

#[derive(Debug, Serialize)]
pub struct StepRow {
    pub id: String,
    pub title: String,
    pub level: runbook::Level,
    pub page: Option<u32>,
    pub status: String,
    pub commands: Vec<CommandRow>,
    pub checklist: Vec<CheckRow>,
    pub notes: Vec<String>,
    pub waivers: Vec<String>,
    pub signoffs: Vec<SignoffRow>,
}

#[derive(Debug, Serialize)]
pub struct CommandRow {
    pub name: String,
    pub target: String,
    pub run: String,
    pub ts: String,
    pub operator: String,
    pub outcome: String,
    pub exit_status: Option<u32>,
    pub signal: Option<String>,
    pub duration_ms: u64,
    pub output_sha256: String,
    pub output_bytes: u64,
    pub reason: Option<String>,
    pub excerpt: String,
}

#[derive(Debug, Serialize)]
pub struct CheckRow {
    pub id: String,
    pub text: String,
    pub checked: bool,
    pub by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SignoffRow {
    pub seq: u64,
    pub ts: String,
    pub operator: String,
    pub note: String,
    pub key_fingerprint: Option<String>,
    pub signed: bool,
}

#[derive(Debug, Serialize)]
pub struct GateRow {
    pub met: bool,
    pub name: String,
    pub detail: String,
}

const EXCERPT_BYTES: u64 = 2048;

/// The runbook a run was made with: the copy kept in the run directory.
pub fn run_runbook(run_dir: &Path) -> Result<Runbook, String> {
    let path = run_dir.join("runbook.toml");
    runbook::load(&path).map_err(|e| e.to_string())
}

pub fn build(run_dir: &Path) -> Result<(Report, Vec<Entry>), JournalError> {
    let entries = read_entries(run_dir)?;
    let rb = run_runbook(run_dir).map_err(|message| JournalError::Corrupt {
        path: run_dir.join("runbook.toml"),
        line: 1,
        message,
    })?;
    let state = RunState::from_entries(&entries);
    let verdict = gate::evaluate(&rb, &state);
    let git = entries.iter().find_map(|e| match &e.event {
        crate::journal::Event::RunStarted {
            runbook_git_commit, ..
        } => runbook_git_commit.clone(),
        _ => None,
    });
    let steps = rb
        .steps
        .iter()
        .map(|s| {
            let rec = state.step(&s.id);
            StepRow {
                id: s.id.clone(),
                title: s.title.clone(),
                level: s.level,
                page: s.page,
                status: state.step_status(s).label().to_string(),
                commands: rec
                    .map(|r| {
                        r.runs
                            .iter()
                            .map(|c| CommandRow {
                                name: c.command.clone(),
                                target: c.target.clone(),
                                run: c.run.clone(),
                                ts: c.ts.clone(),
                                operator: c.operator.clone(),
                                outcome: c.outcome.label().to_string(),
                                exit_status: c.exit_status,
                                signal: c.signal.clone(),
                                duration_ms: c.duration_ms,
                                output_sha256: c.output_sha256.clone(),
                                output_bytes: c.output_bytes,
                                reason: c.reason.clone(),
                                excerpt: outputs::read_tail(
                                    run_dir,
                                    &c.output_sha256,
                                    EXCERPT_BYTES,
                                )
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                                .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                checklist: s
                    .checklist
                    .iter()
                    .map(|c| {
                        let rec = rec.and_then(|r| r.checks.get(&c.id));
                        CheckRow {
                            id: c.id.clone(),
                            text: c.text.clone(),
                            checked: rec.is_some_and(|r| r.checked),
                            by: rec.map(|r| r.operator.clone()),
                        }
                    })
                    .collect(),
                notes: rec
                    .map(|r| {
                        r.notes
                            .iter()
                            .map(|n| format!("{} ({}): {}", n.operator, n.ts, n.text))
                            .collect()
                    })
                    .unwrap_or_default(),
                waivers: rec
                    .map(|r| {
                        r.waivers
                            .iter()
                            .map(|w| {
                                format!(
                                    "{}{}: {}",
                                    w.operator,
                                    w.item
                                        .as_ref()
                                        .map(|i| format!(" [{i}]"))
                                        .unwrap_or_default(),
                                    w.reason
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                signoffs: rec
                    .map(|r| {
                        r.signoffs
                            .iter()
                            .map(|s| SignoffRow {
                                seq: s.seq,
                                ts: s.ts.clone(),
                                operator: s.operator.clone(),
                                note: s.note.clone(),
                                key_fingerprint: s.key_fingerprint.clone(),
                                signed: s.signature.is_some(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let report = Report {
        runbook_id: rb.id.clone(),
        runbook_title: rb.title.clone(),
        runbook_sha256: state.runbook_sha256.clone(),
        runbook_git_commit: git,
        started: state.started_ts.clone(),
        last_entry: state.last_ts.clone(),
        operators: state.operators.clone(),
        host_keys: state
            .host_keys
            .iter()
            .map(|h| HostKeyRow {
                target: h.target.clone(),
                host: h.host.clone(),
                port: h.port,
                fingerprint: h.fingerprint.clone(),
                trust: h.trust.clone(),
            })
            .collect(),
        steps,
        gate_open: verdict.open,
        gate: verdict
            .requirements
            .iter()
            .map(|r| GateRow {
                met: r.met,
                name: r.name.to_string(),
                detail: r.detail.clone(),
            })
            .collect(),
        journal_lines: entries.len(),
    };
    Ok((report, entries))
}

pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}

fn fence(text: &str) -> String {
    let mut ticks = "```".to_string();
    while text.contains(&ticks) {
        ticks.push('`');
    }
    format!("{ticks}text\n{}\n{ticks}\n", text.trim_end())
}

pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} — run report\n", r.runbook_title);
    let _ = writeln!(
        s,
        "- Runbook: `{}` (sha256 `{}`)",
        r.runbook_id, r.runbook_sha256
    );
    if let Some(c) = &r.runbook_git_commit {
        let _ = writeln!(s, "- Git commit: `{c}`");
    }
    let _ = writeln!(s, "- Started: {}; last entry: {}", r.started, r.last_entry);
    let _ = writeln!(s, "- Operators: {}", r.operators.join(", "));
    let _ = writeln!(s, "- Journal: {} lines\n", r.journal_lines);
    let _ = writeln!(
        s,
        "## Gate: {}\n",
        if r.gate_open { "OPEN" } else { "SHUT" }
    );
    for g in &r.gate {
        let _ = writeln!(
            s,
            "- {} **{}**: {}",
            if g.met { "✓" } else { "✗" },
            g.name,
            g.detail
        );
    }
    let _ = writeln!(s, "\n## Host keys\n");
    if r.host_keys.is_empty() {
        let _ = writeln!(s, "No connections were made.");
    }
    for h in &r.host_keys {
        let _ = writeln!(
            s,
            "- `{}` {}:{} `{}` ({})",
            h.target, h.host, h.port, h.fingerprint, h.trust
        );
    }
    let _ = writeln!(s, "\n## Steps\n");
    for st in &r.steps {
        let page = st.page.map(|p| format!(" · p.{p}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "### {} `{}` — {} [{}{page}]\n",
            st.title,
            st.id,
            st.status,
            st.level.label()
        );
        for c in &st.commands {
            let exit = c.exit_status.map_or_else(
                || c.signal.clone().map_or("-".into(), |x| format!("SIG{x}")),
                |e| e.to_string(),
            );
            let _ = writeln!(
                s,
                "- **{}** on `{}` by {} at {}: **{}** (exit {exit}, {} ms, {} bytes, output `{}`){}",
                c.name,
                c.target,
                c.operator,
                c.ts,
                c.outcome,
                c.duration_ms,
                c.output_bytes,
                c.output_sha256,
                c.reason
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            );
            if !c.excerpt.trim().is_empty() {
                let _ = writeln!(s, "\n{}", fence(&c.excerpt));
            }
        }
        for c in &st.checklist {
            let _ = writeln!(
                s,
                "- [{}] {}{}",
                if c.checked { "x" } else { " " },
                c.text,
                c.by.as_ref()
                    .filter(|_| c.checked)
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default()
            );
        }
        for n in &st.notes {
            let _ = writeln!(s, "- Note: {n}");
        }
        for w in &st.waivers {
            let _ = writeln!(s, "- Waived by {w}");
        }
        for so in &st.signoffs {
            let _ = writeln!(
                s,
                "- Signed off by **{}** at {} (line {}){}: {}",
                so.operator,
                so.ts,
                so.seq,
                if so.signed {
                    ", signature attached"
                } else {
                    ""
                },
                so.note
            );
        }
        let _ = writeln!(s);
    }
    s
}

/// What a bundle holds, for the caller's message.
#[derive(Debug)]
pub struct Bundle {
    pub files: Vec<String>,
}

/// Write an evidence bundle: the report, the journal, the runbook, the outputs it refers to,
/// `allowed_signers` for the keys the journal names, and `SHA256SUMS` over all of them.
/// Refuses (writing nothing) if any file would contain a secret `redactor` knows.
pub fn write_bundle(
    run_dir: &Path,
    out: &Path,
    format: &str,
    redactor: &crate::secret::Redactor,
) -> Result<Bundle, String> {
    let (report, entries) = build(run_dir).map_err(|e| e.to_string())?;
    let report_text = match format {
        "json" => to_json(&report),
        "html" => to_html(&report),
        _ => to_markdown(&report),
    };
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        format!("report.{}", if format == "md" { "md" } else { format }),
        report_text.into_bytes(),
    )];
    for name in [crate::journal::JOURNAL_FILE, "runbook.toml"] {
        let b = std::fs::read(run_dir.join(name))
            .map_err(|e| format!("{}: {e}", run_dir.join(name).display()))?;
        files.push((name.to_string(), b));
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &entries {
        if let crate::journal::Event::CommandFinished { output_sha256, .. }
        | crate::journal::Event::Probe { output_sha256, .. } = &e.event
            && seen.insert(output_sha256.clone())
        {
            let p = outputs::output_path(run_dir, output_sha256);
            let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.push((format!("{}/{output_sha256}", outputs::OUTPUTS_DIR), b));
        }
    }
    let signers = allowed_signers(&entries);
    if !signers.is_empty() {
        files.push(("allowed_signers".into(), signers.into_bytes()));
    }
    for (name, bytes) in &files {
        if let Some(which) = redactor.find_leak(bytes) {
            return Err(format!(
                "refusing to export: {name} contains the value of {which}; nothing was written"
            ));
        }
    }
    let sums: String = files
        .iter()
        .map(|(n, b)| format!("{}  {n}\n", crate::journal::sha256_hex(b)))
        .collect();
    std::fs::create_dir_all(out.join(outputs::OUTPUTS_DIR))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, bytes) in &files {
        std::fs::write(out.join(name), bytes)
            .map_err(|e| format!("{}: {e}", out.join(name).display()))?;
    }
    std::fs::write(out.join(crate::journal::verify::SUMS_FILE), sums).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = files.into_iter().map(|(n, _)| n).collect();
    names.push(crate::journal::verify::SUMS_FILE.into());
    Ok(Bundle { files: names })
}

/// `NAME algo base64` for each operator whose key the journal records. A reviewer should
/// compare these keys with ones they trust rather than take the bundle's word for them.
pub fn allowed_signers(entries: &[Entry]) -> String {
    let mut out = std::collections::BTreeSet::new();
    for e in entries {
        if let crate::journal::Event::RunStarted {
            operator,
            operator_key: Some(k),
            ..
        }
        | crate::journal::Event::Resumed {
            operator,
            operator_key: Some(k),
        } = &e.event
        {
            out.insert(format!(
                "{operator} namespaces=\"{}\" {k}",
                crate::journal::sign::NAMESPACE
            ));
        }
    }
    out.into_iter().map(|l| l + "\n").collect()
}
