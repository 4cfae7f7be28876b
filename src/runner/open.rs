//! Creating a run, or resuming one: a torn tail kept aside, commands whose process died
//! finished as interrupted, a `resumed` line for the new session.

use super::*;

/// What opening a run found.
pub struct Opened {
    pub runner: Arc<Runner>,
    pub entries: Vec<Entry>,
    pub torn: Option<TornTail>,
    pub resumed: bool,
}

pub fn new_run_dir(runs: &Path, runbook_id: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let base = runs.join(format!("{runbook_id}-{}", stamp.trim_end_matches('Z')));
    let mut dir = base.clone();
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = PathBuf::from(format!("{}-{n}", base.display()));
    }
    dir
}

fn git_commit(path: &Path) -> Option<String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out = std::process::Command::new("git")
        .args(["-C"])
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Runner {
    /// Create a run (or resume the one in `run_dir` if it holds a journal).
    pub fn open(
        runbook: Arc<Runbook>,
        vars: Vars,
        executors: BTreeMap<String, Arc<dyn Executor>>,
        operator: Operator,
        run_dir: PathBuf,
        tx: mpsc::Sender<RunnerEvent>,
    ) -> Result<Opened, JournalError> {
        let redactor = Redactor::new(&vars.secret_values());
        let (journal, entries, torn, resumed) =
            if run_dir.join(crate::journal::JOURNAL_FILE).exists() {
                let (mut j, mut entries, torn) = Journal::open(&run_dir)?;
                let state = RunState::from_entries(&entries);
                if !state.runbook_id.is_empty() && state.runbook_id != runbook.id {
                    return Err(JournalError::Corrupt {
                        path: run_dir.clone(),
                        line: 1,
                        message: format!(
                            "this run is of runbook `{}`, not `{}`",
                            state.runbook_id, runbook.id
                        ),
                    });
                }
                // Commands whose process died with them: finish them as interrupted, keeping the
                // output that reached the disk.
                for (seq, r) in &state.running {
                    if r.session
                        .as_deref()
                        .is_none_or(crate::session::paths::session_is_dead)
                    {
                        let (sha, len) = outputs::recover_partial(&run_dir, *seq).map_err(|e| {
                            JournalError::Io {
                                path: run_dir.clone(),
                                source: e,
                            }
                        })?;
                        let a = j.append(Event::CommandFinished {
                            step: r.step.clone(),
                            command: r.command.clone(),
                            started_seq: *seq,
                            exit_status: None,
                            signal: None,
                            duration_ms: 0,
                            output_sha256: sha,
                            output_bytes: len,
                            outcome: Outcome::Interrupted,
                            reason: Some("the session running it ended before it finished".into()),
                        })?;
                        entries.extend(a.foreign);
                        entries.push(a.entry);
                    }
                }
                let a = j.append(Event::Resumed {
                    operator: operator.name.clone(),
                    operator_key: operator.key_openssh(),
                })?;
                entries.extend(a.foreign);
                entries.push(a.entry);
                (j, entries, torn, true)
            } else {
                let secret_vars = runbook
                    .vars
                    .iter()
                    .filter(|v| v.secret)
                    .map(|v| v.name.clone())
                    .collect();
                let (j, first) = Journal::create(
                    &run_dir,
                    Event::RunStarted {
                        runbook_id: runbook.id.clone(),
                        runbook_title: runbook.title.clone(),
                        runbook_path: runbook.source.path.display().to_string(),
                        runbook_sha256: runbook.source.sha256.clone(),
                        runbook_git_commit: git_commit(&runbook.source.path),
                        operator: operator.name.clone(),
                        operator_key: operator.key_openssh(),
                        vars: vars.public_values(),
                        secret_vars,
                        rehearse_version: env!("CARGO_PKG_VERSION").to_string(),
                    },
                )?;
                // Keep the runbook beside its journal, so the run can be exported and checked
                // without the original file.
                let _ = std::fs::write(run_dir.join("runbook.toml"), &runbook.source.text);
                (j, vec![first.entry], None, false)
            };
        let runner = Arc::new(Runner {
            runbook,
            vars,
            redactor,
            journal: Arc::new(Mutex::new(journal)),
            run_dir,
            executors,
            operator,
            tx,
            pty_size: Mutex::new(PtySize { cols: 80, rows: 24 }),
            probe_counter: std::sync::atomic::AtomicU64::new(0),
        });
        Ok(Opened {
            runner,
            entries,
            torn,
            resumed,
        })
    }
}
