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

/// The runbook as the run started with it, kept beside the journal.
pub const RUNBOOK_COPY: &str = "runbook.toml";

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
    // A bundled runbook has no file, so no repository: asking git about the working directory
    // would record someone else's commit (and costs a process spawn at start-up).
    if !path.is_file() {
        return None;
    }
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
    /// Create a run in `run_dir`, or join the one already there (a restart, a second operator,
    /// or another process that created it a moment before us).
    pub fn open(
        runbook: Arc<Runbook>,
        vars: Vars,
        executors: BTreeMap<String, Arc<dyn Executor>>,
        operator: Operator,
        run_dir: PathBuf,
        tx: mpsc::Sender<RunnerEvent>,
    ) -> Result<Opened, RunnerError> {
        let redactor = Redactor::new(&vars.secret_values());
        let created = if run_dir.join(crate::journal::JOURNAL_FILE).exists() {
            None
        } else {
            create(&runbook, &vars, &operator, &run_dir, &redactor)?
        };
        let (journal, entries, torn, resumed) = match created {
            Some((j, first)) => (j, vec![first], None, false),
            None => {
                let (j, entries, torn) = resume(&runbook, &operator, &run_dir)?;
                (j, entries, torn, true)
            }
        };
        let writer = Writer::start(
            journal,
            &entries,
            redactor.clone(),
            (Some(operator.name.clone()), operator.key.clone()),
            tx.clone(),
        );
        let runner = Arc::new(Runner {
            runbook,
            vars,
            redactor,
            writer,
            run_dir,
            executors,
            operator,
            tx,
            pty_size: Mutex::new(PtySize { cols: 80, rows: 24 }),
            probe_counter: std::sync::atomic::AtomicU64::new(0),
            display: std::sync::OnceLock::new(),
            skipped: std::sync::atomic::AtomicU64::new(0),
        });
        Ok(Opened {
            runner,
            entries,
            torn,
            resumed,
        })
    }
}

/// A new run: `None` if another process created it first (then join it).
fn create(
    runbook: &Runbook,
    vars: &Vars,
    operator: &Operator,
    run_dir: &Path,
    redactor: &Redactor,
) -> Result<Option<(Journal, Entry)>, RunnerError> {
    let secret_vars = runbook
        .vars
        .iter()
        .filter(|v| v.secret)
        .map(|v| v.name.clone())
        .collect();
    let first = writer::redact_event(
        redactor,
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
            redirected: runbook.redirected.clone(),
        },
    )?;
    // The runbook is kept beside its journal (written before the journal appears), so the run
    // can be exported and checked without the original file.
    let extra: [(&str, &[u8]); 1] = [(RUNBOOK_COPY, runbook.source.text.as_bytes())];
    match Journal::create(run_dir, first, &extra) {
        Ok((j, first)) => Ok(Some((j, first.entry))),
        Err(JournalError::Exists(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Join an existing run: same runbook (id and digest), commands whose process died finished as
/// interrupted, a lost tail of the last session recorded, then a `resumed` line.
fn resume(
    runbook: &Runbook,
    operator: &Operator,
    run_dir: &Path,
) -> Result<(Journal, Vec<Entry>, Option<TornTail>), RunnerError> {
    let (mut j, mut entries, torn) = Journal::open(run_dir)?;
    let state = RunState::from_entries(&entries);
    if !state.runbook_id.is_empty() && state.runbook_id != runbook.id {
        return Err(RunnerError::OtherRunbook {
            run_dir: run_dir.to_path_buf(),
            recorded: state.runbook_id.clone(),
            given: runbook.id.clone(),
        });
    }
    if state.redirected != runbook.redirected {
        return Err(RunnerError::Redirected {
            run_dir: run_dir.to_path_buf(),
            recorded: state.redirected.clone(),
            given: runbook.redirected.clone(),
        });
    }
    if !state.runbook_sha256.is_empty() && state.runbook_sha256 != runbook.source.sha256 {
        return Err(RunnerError::ChangedRunbook {
            run_dir: run_dir.to_path_buf(),
            recorded: state.runbook_sha256.clone(),
            given: runbook.source.sha256.clone(),
        });
    }
    let stale = super::claims::Claims::from_entries(&entries).stale();
    let mut append = |j: &mut Journal, ev: Event| -> Result<(), RunnerError> {
        let a = j.append(ev)?;
        entries.extend(a.foreign);
        entries.push(a.entry);
        Ok(())
    };
    // Commands whose process died with them: finish them as interrupted, keeping the output
    // that reached the disk.
    for claim in stale {
        let finish = claim
            .interrupted(run_dir)
            .map_err(|e| RunnerError::Output {
                path: run_dir.to_path_buf(),
                source: e,
            })?;
        append(&mut j, finish)?;
    }
    // A previous session that quit before its writer drained left a count behind.
    let marker = run_dir.join(writer::UNRECORDED_FILE);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let count = text.trim().parse().unwrap_or(0);
        append(&mut j, Event::Unrecorded { count })?;
        let _ = std::fs::remove_file(&marker);
    }
    append(
        &mut j,
        Event::Resumed {
            operator: operator.name.clone(),
            operator_key: operator.key_openssh(),
        },
    )?;
    Ok((j, entries, torn))
}
