//! Reports of a run for the people who read them: Markdown, JSON and HTML, built only from a
//! journal that `verify` has checked, with the gate as the sealed, trusted part proves it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub mod bundle;
mod html;
mod markdown;
pub mod model;
pub mod text;
pub use bundle::{Bundle, check_bundle, write_bundle};
pub use html::to_html;
pub use markdown::to_markdown;

use crate::evidence::seal::{SealedView, SignedLine};
use crate::evidence::verify::{self, RUNBOOK_FILE};
use crate::journal::allowed_signers::AllowedSigners;
use crate::journal::{Entry, Event, outputs, sha256_hex};
use crate::runbook::{self, Runbook};

#[derive(Debug, Serialize)]
pub struct Report {
    pub runbook_id: String,
    pub runbook_title: String,
    pub runbook_sha256: String,
    /// The runbook kept with the run hashes to `runbook_sha256` (reports are only built then).
    pub runbook_matches: bool,
    pub runbook_git_commit: Option<String>,
    /// Every SSH target ran here instead of where the runbook says (a demo rehearsal).
    pub redirected: Option<String>,
    pub started: String,
    pub last_entry: String,
    pub operators: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub secret_vars: Vec<String>,
    pub host_keys: Vec<HostKeyRow>,
    pub steps: Vec<StepRow>,
    /// `OPEN` only when trusted, sealed evidence opens it.
    pub gate_verdict: String,
    pub gate_open: bool,
    pub gate: Vec<GateRow>,
    pub gate_opened: Option<SignedLine>,
    pub trust: String,
    pub monitoring: Option<MonitorRow>,
    pub journal_lines: usize,
    pub journal_head: String,
    /// Lines 1..=sealed_lines are covered by a trusted signature.
    pub sealed_lines: usize,
    pub unsealed_tail: usize,
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
    /// As the sealed part tells it.
    pub status: String,
    pub commands: Vec<CommandRow>,
    pub checklist: Vec<CheckRow>,
    pub notes: Vec<NoteRow>,
    pub waivers: Vec<String>,
    pub signoffs: Vec<SignedLine>,
    /// The choice, order waivers, captures and hold.
    #[serde(flatten)]
    pub model: model::ModelRows,
}

#[derive(Debug, Serialize)]
pub struct CommandRow {
    pub name: String,
    pub target: String,
    pub host_key: Option<String>,
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
    pub sealed: bool,
}

#[derive(Debug, Serialize)]
pub struct NoteRow {
    pub seq: u64,
    pub ts: String,
    pub operator: String,
    pub text: String,
    pub sealed: bool,
}

#[derive(Debug, Serialize)]
pub struct CheckRow {
    pub id: String,
    pub text: String,
    pub checked: bool,
    pub by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GateRow {
    pub met: bool,
    pub name: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct MonitorRow {
    pub window: String,
    pub watched: String,
    pub probes: Vec<ProbeRow>,
    pub gaps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProbeRow {
    pub seq: u64,
    pub ts: String,
    pub passed: bool,
    pub reason: Option<String>,
    /// A hold's abort criterion this probe met.
    pub abort: Option<String>,
    pub sealed: bool,
}

impl ProbeRow {
    fn of(p: &crate::journal::state::ProbeRecord, view: &SealedView) -> ProbeRow {
        ProbeRow {
            seq: p.seq,
            ts: p.ts.clone(),
            passed: p.passed,
            reason: p.reason.clone(),
            abort: p.abort.clone(),
            sealed: view.is_sealed(p.seq),
        }
    }
}

const EXCERPT_BYTES: u64 = 2048;

/// The runbook a run was made with: the copy kept in the run directory, and only if it hashes
/// to the `runbook_sha256` the run started with.
pub fn run_runbook(run_dir: &Path) -> Result<Runbook, String> {
    let path = run_dir.join(RUNBOOK_FILE);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let first = crate::journal::read_entries(run_dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next();
    let Some(Entry {
        event: Event::RunStarted { runbook_sha256, .. },
        ..
    }) = first
    else {
        return Err(format!(
            "{}: the journal does not start with run_started",
            run_dir.display()
        ));
    };
    let got = sha256_hex(&bytes);
    if got != runbook_sha256 {
        return Err(format!(
            "{}: hashes to {got}, but the run started with runbook_sha256 {runbook_sha256}",
            path.display()
        ));
    }
    runbook::parse_bytes(&bytes, &path).map_err(|e| e.to_string())
}

/// Verify the run, then build its report. A run that does not verify gets no report: the
/// error names every broken place.
pub fn build(run_dir: &Path, trust: Option<&AllowedSigners>) -> Result<Report, String> {
    let v = verify::verify(run_dir, trust);
    if !v.ok() {
        let places: Vec<String> = v.problems.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{} does not verify: {}",
            run_dir.display(),
            places.join("; ")
        ));
    }
    match (&v.sealed, &v.runbook) {
        (Some(view), Some(rb)) => Ok(from_view(run_dir, rb, &v.entries, view, trust)),
        _ => Err(format!("{}: nothing to report", run_dir.display())),
    }
}

fn from_view(
    run_dir: &Path,
    rb: &Runbook,
    entries: &[Entry],
    view: &SealedView,
    trust: Option<&AllowedSigners>,
) -> Report {
    let all = crate::journal::state::RunState::from_entries(entries);
    let sealed_state = &view.state;
    let (vars, secret_vars, git) = entries
        .first()
        .and_then(|e| match &e.event {
            Event::RunStarted {
                vars,
                secret_vars,
                runbook_git_commit,
                ..
            } => Some((
                vars.clone(),
                secret_vars.clone(),
                runbook_git_commit.clone(),
            )),
            _ => None,
        })
        .unwrap_or_default();
    let host_key_for = |target: &str, before: u64| {
        all.host_keys
            .iter()
            .rev()
            .find(|h| h.target == target && h.seq < before)
            .map(|h| h.fingerprint.clone())
    };
    let steps = rb
        .steps
        .iter()
        .map(|s| {
            let rec = all.step(&s.id);
            StepRow {
                id: s.id.clone(),
                title: s.title.clone(),
                level: s.level,
                page: s.page,
                status: sealed_state.step_status(s).label().to_string(),
                commands: rec.map_or_else(Vec::new, |r| {
                    r.runs
                        .iter()
                        .map(|c| CommandRow {
                            name: c.command.clone(),
                            target: c.target.clone(),
                            host_key: host_key_for(&c.target, c.finished_seq),
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
                            excerpt: outputs::read_tail(run_dir, &c.output_sha256, EXCERPT_BYTES)
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                                .unwrap_or_default(),
                            sealed: view.is_sealed(c.finished_seq),
                        })
                        .collect()
                }),
                checklist: s
                    .checklist
                    .iter()
                    .map(|c| {
                        let rec = sealed_state.step(&s.id).and_then(|r| r.checks.get(&c.id));
                        CheckRow {
                            id: c.id.clone(),
                            text: c.text.clone(),
                            checked: rec.is_some_and(|r| r.checked),
                            by: rec.map(|r| r.operator.clone()),
                        }
                    })
                    .collect(),
                notes: rec.map_or_else(Vec::new, |r| {
                    r.notes
                        .iter()
                        .map(|n| NoteRow {
                            seq: n.seq,
                            ts: n.ts.clone(),
                            operator: n.operator.clone(),
                            text: n.text.clone(),
                            sealed: view.is_sealed(n.seq),
                        })
                        .collect()
                }),
                waivers: rec.map_or_else(Vec::new, |r| {
                    r.waivers.iter().map(model::waiver_text).collect()
                }),
                signoffs: view
                    .signed
                    .iter()
                    .filter(|x| x.step.as_deref() == Some(s.id.as_str()))
                    .cloned()
                    .collect(),
                model: model::rows(s, &all, view),
            }
        })
        .collect();
    let monitoring = view.verdict.monitor.as_ref().map(|m| MonitorRow {
        window: humantime::format_duration(m.total).to_string(),
        watched: humantime::format_duration(std::time::Duration::from_secs(m.watched.as_secs()))
            .to_string(),
        probes: all.probes.iter().map(|p| ProbeRow::of(p, view)).collect(),
        gaps: m.gaps.iter().map(model::gap_text).collect(),
    });
    let sealed_lines = view
        .sealed_upto
        .map_or(0, |n| usize::try_from(n).unwrap_or(0) + 1);
    Report {
        runbook_id: rb.id.clone(),
        runbook_title: rb.title.clone(),
        runbook_sha256: all.runbook_sha256.clone(),
        runbook_matches: true,
        runbook_git_commit: git,
        redirected: all.redirected.clone(),
        started: all.started_ts.clone(),
        last_entry: all.last_ts.clone(),
        operators: all.operators.clone(),
        vars,
        secret_vars,
        host_keys: all
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
        gate_verdict: view.label().to_string(),
        gate_open: view.proven_open(),
        gate: view
            .verdict
            .requirements
            .iter()
            .map(|r| GateRow {
                met: r.met,
                name: r.name.to_string(),
                detail: r.detail.clone(),
            })
            .collect(),
        gate_opened: view.opened.clone(),
        trust: trust.map_or_else(
            || "none: signatures are valid but untrusted".to_string(),
            |t| t.origin.clone(),
        ),
        monitoring,
        journal_lines: entries.len(),
        journal_head: view.head.clone(),
        sealed_lines,
        unsealed_tail: view.tail_len,
    }
}

/// Everything `verify` checks: the journal half, and for a bundle its manifest and reports.
pub fn verify_path(path: &Path, trust: Option<&AllowedSigners>) -> verify::Report {
    let mut r = verify::verify(path, trust);
    let (problems, notes) = check_bundle(path, trust);
    r.problems.extend(problems);
    r.notes.extend(notes);
    r
}

/// What a reader must know first about a run whose targets were redirected.
pub(crate) fn rehearsal_text(to: &str) -> String {
    format!(
        "Rehearsal: every SSH target ran on {to}, not on the hosts the runbook names. This run is \
         evidence about the runbook, not about any real host."
    )
}

pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

/// `NAME namespaces="..." algo base64` for each operator whose key the journal records: the
/// bundle's informational `allowed_signers`. A reviewer compares these with keys they trust.
pub fn allowed_signers(entries: &[Entry]) -> String {
    let mut out = std::collections::BTreeSet::new();
    for e in entries {
        if let Event::RunStarted {
            operator,
            operator_key: Some(k),
            ..
        }
        | Event::Resumed {
            operator,
            operator_key: Some(k),
        } = &e.event
        {
            // Names and keys from the journal are data: only plain ones make a line.
            let plain = |s: &str| {
                !s.is_empty()
                    && !s
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
            };
            if plain(operator) && k.split(' ').count() == 2 && !k.chars().any(char::is_control) {
                out.insert(format!(
                    "{operator} namespaces=\"{}\" {k}",
                    crate::journal::sign::NAMESPACE
                ));
            }
        }
    }
    out.into_iter().map(|l| l + "\n").collect()
}
