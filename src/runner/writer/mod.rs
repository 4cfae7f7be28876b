//! The one ordered journal writer of a process.
//!
//! Every append goes through one task with a FIFO queue, so lines land in the order they were
//! produced, whoever produced them (a key press, a command's start and end, a probe). The task
//! redacts each event (failing closed), appends it with fsync, signs what must be signed under
//! the same file lock, and only then tells the listener: what the UI shows as recorded is on
//! disk. The same task follows the lines other processes append to the run, so the listener
//! sees the file's order, never two interleaved streams. On the same tick it reads the output
//! other processes' running commands spool ([`super::follow`]), so their output is shown live
//! and always before the line that ends them.
//!
//! Channels:
//! - the queue is unbounded: its producers are people and command lifecycles (a key press, a
//!   command's start and end), never output, so it grows by human speed at most;
//! - the listener channel is bounded and the writer awaits room: back-pressure slows the writer,
//!   never drops a line. Its consumer (the TUI loop, the headless printer) drains it without ever
//!   sending into it, so the wait cannot deadlock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

mod claim;

use super::claims::Claims;
use super::follow::Follower;
use super::presence::{self, Roster};
use super::{RunnerError, RunnerEvent};
use crate::journal::sign::SigningKey;
use crate::journal::state::RunState;
use crate::journal::{Appended, Entry, Event, Journal, JournalError};
use crate::secret::Redactor;

/// How often the writer looks for lines other processes appended.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Departures of dead instances recorded per follow tick, at most.
const DEPARTURES_PER_TICK: usize = 8;

/// Where a run's record of events that never reached the journal is left for the next session.
pub const UNRECORDED_FILE: &str = "unrecorded";

enum Job {
    Append {
        event: Box<Event>,
        ack: Option<oneshot::Sender<Result<Entry, RunnerError>>>,
    },
    Signers(BTreeMap<String, Option<SigningKey>>),
    Acting(String),
    Shutdown,
}

/// The answer to one queued event, for a caller that must not wait for it in place.
pub type Ack = oneshot::Receiver<Result<Entry, RunnerError>>;

/// A handle on the writer: clone it freely; every clone feeds the same ordered queue.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
}

impl Recorder {
    /// Append `event` and wait until it is on disk (and signed, for the kinds that are).
    pub async fn record(&self, event: Event) -> Result<Entry, RunnerError> {
        let (ack, rx) = oneshot::channel();
        self.enqueue(event, Some(ack))?;
        rx.await.map_err(|_| RunnerError::WriterGone)?
    }

    /// Queue `event` without waiting. It is shown as recorded when the writer says so on the
    /// listener channel; a failure is reported there too.
    pub fn submit(&self, event: Event) -> Result<(), RunnerError> {
        self.enqueue(event, None)
    }

    fn enqueue(
        &self,
        event: Event,
        ack: Option<oneshot::Sender<Result<Entry, RunnerError>>>,
    ) -> Result<(), RunnerError> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let event = Box::new(event);
        self.tx.send(Job::Append { event, ack }).map_err(|_| {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            RunnerError::WriterGone
        })
    }

    /// Queue `event` now (its place in the order is taken here) and get its answer later: for
    /// a signed line that may be refused, where the refusal must reach the person.
    pub fn submit_acked(&self, event: Event) -> Result<Ack, RunnerError> {
        let (ack, rx) = oneshot::channel();
        self.enqueue(event, Some(ack))?;
        Ok(rx)
    }

    /// The other operators of this process (pairing at one keyboard) and their keys: a signed
    /// line is signed with the key of the operator it names, and refused when that operator
    /// has none, never signed with someone else's. Applies to events queued after this.
    pub fn set_signers(&self, signers: BTreeMap<String, Option<SigningKey>>) {
        let _ = self.tx.send(Job::Signers(signers));
    }

    /// Who is at this process's keys from now on (pairing at one keyboard): the lines the
    /// engine writes in the session operator's name (a command's start, a watch's start) are
    /// written in theirs. Ordered with the events queued around it.
    pub fn set_acting(&self, name: String) {
        let _ = self.tx.send(Job::Acting(name));
    }

    /// Events queued but not yet written.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

/// The writer task and its queue.
pub struct Writer {
    recorder: Recorder,
    /// The run as every line this writer has seen tells it (ours on acknowledgement, others'
    /// as followed): what order, conditions and holds are decided on, without re-reading the
    /// journal file for each command.
    state: Arc<std::sync::Mutex<RunState>>,
    join: std::sync::Mutex<Option<JoinHandle<()>>>,
    run_dir: PathBuf,
}

struct Task {
    journal: Option<Journal>,
    state: Arc<std::sync::Mutex<RunState>>,
    /// Who this process acts for: named on the gate lines it writes.
    operator: Option<String>,
    /// Who runs which step, from every line this writer has seen (ours and others').
    claims: Arc<std::sync::Mutex<Claims>>,
    redactor: Redactor,
    key: Option<SigningKey>,
    /// Other operators at this process's keys, and their own keys (`None`: not available).
    others: BTreeMap<String, Option<SigningKey>>,
    /// Who is at the keys, when it is not `operator`.
    acting: Option<String>,
    listener: mpsc::Sender<RunnerEvent>,
    pending: Arc<AtomicUsize>,
    run_dir: PathBuf,
    /// Other processes' running commands whose output is read as it is spooled.
    follower: Follower,
    /// Who joined the run and has not left: checked for instances that died.
    roster: Roster,
}

impl Writer {
    /// Start the writer for an open journal whose lines so far are `seen`. Must be called
    /// inside a tokio runtime.
    pub fn start(
        journal: Journal,
        seen: &[Entry],
        redactor: Redactor,
        signer: (Option<String>, Option<SigningKey>),
        listener: mpsc::Sender<RunnerEvent>,
    ) -> Writer {
        let (operator, key) = signer;
        let run_dir = journal.dir().to_path_buf();
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(std::sync::Mutex::new(RunState::from_entries(seen)));
        let task = Task {
            journal: Some(journal),
            state: state.clone(),
            operator,
            claims: Arc::new(std::sync::Mutex::new(Claims::from_entries(seen))),
            redactor,
            key,
            others: BTreeMap::new(),
            acting: None,
            listener,
            pending: pending.clone(),
            run_dir: run_dir.clone(),
            follower: Follower::new(super::process::session_id(), seen),
            roster: Roster::new(super::process::session_id(), seen),
        };
        let join = tokio::spawn(task.run(rx));
        Writer {
            recorder: Recorder { tx, pending },
            state,
            join: std::sync::Mutex::new(Some(join)),
            run_dir,
        }
    }

    /// A snapshot of the run's state (every line told so far, in file order).
    pub fn state(&self) -> Result<RunState, RunnerError> {
        self.state
            .lock()
            .map(|s| s.clone())
            .map_err(|_| RunnerError::WriterGone)
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Write everything queued so far, then stop. Events queued after this call are refused.
    /// If the queue cannot be drained within `deadline`, what is left is counted in
    /// `RUN_DIR/unrecorded` so the next session records that it was lost, and the error says so.
    pub async fn close(&self, deadline: Duration) -> Result<(), RunnerError> {
        let _ = self.recorder.tx.send(Job::Shutdown);
        let join = self.join.lock().ok().and_then(|mut j| j.take());
        let Some(join) = join else { return Ok(()) };
        if tokio::time::timeout(deadline, join).await.is_ok() {
            return Ok(());
        }
        let left = self.recorder.pending();
        let _ = std::fs::write(self.run_dir.join(UNRECORDED_FILE), format!("{left}\n"));
        Err(RunnerError::Undrained {
            left,
            waited: deadline,
        })
    }
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut follow = tokio::time::interval(FOLLOW_EVERY);
        follow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                job = rx.recv() => match job {
                    Some(Job::Append { event, ack }) => {
                        let result = self.append(*event).await;
                        self.pending.fetch_sub(1, Ordering::SeqCst);
                        // A refusal (someone else runs the step) is an answer, not a broken
                        // journal: it goes back to the asker only.
                        if let Err(e) = &result
                            && !matches!(e, RunnerError::Held { .. } | RunnerError::NoKey { .. })
                        {
                            let _ = self.listener.send(RunnerEvent::JournalFailed(e.to_string())).await;
                        }
                        if let Some(ack) = ack {
                            let _ = ack.send(result);
                        }
                    }
                    Some(Job::Signers(s)) => self.others = s,
                    Some(Job::Acting(name)) => self.acting = Some(name),
                    Some(Job::Shutdown) | None => break,
                },
                _ = follow.tick() => {
                    if let Err(e) = self.follow().await {
                        let _ = self.listener.send(RunnerEvent::JournalFailed(format!("cannot follow the journal: {e}"))).await;
                    }
                }
            }
        }
    }

    /// Run blocking journal I/O off the async threads, keeping ownership of the journal here.
    async fn with_journal<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Journal) -> Result<T, RunnerError> + Send + 'static,
    ) -> Result<T, RunnerError> {
        let mut journal = self.journal.take().ok_or(RunnerError::WriterGone)?;
        let (journal, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut journal);
            (journal, r)
        })
        .await
        .map_err(|_| RunnerError::WriterGone)?;
        self.journal = Some(journal);
        result
    }

    async fn append(&mut self, event: Event) -> Result<Entry, RunnerError> {
        let mut event = redact_event(&self.redactor, event)?;
        if let (
            Some(acting),
            Event::CommandStarted { operator, .. } | Event::WatchStarted { operator },
        ) = (&self.acting, &mut event)
            && Some(operator.as_str()) == self.operator.as_deref()
        {
            operator.clone_from(acting);
        }
        if let Event::CommandStarted { step, .. } | Event::HoldStarted { step, .. } = &event {
            let step = step.clone();
            return self.claim(event, step).await;
        }
        if let Event::Gate { operator, .. } = &mut event
            && operator.is_none()
        {
            operator.clone_from(&self.operator);
        }
        let signer = if signed_kind(&event) {
            self.signer_for(&event)?
        } else {
            None
        };
        if let Event::Signoff {
            key_fingerprint, ..
        } = &mut event
        {
            *key_fingerprint = signer.as_ref().map(SigningKey::fingerprint);
        }
        let handle = tokio::runtime::Handle::current();
        let (first, second, sign_error) = self
            .with_journal(move |j| {
                let mut sign_error = None;
                let (first, second) = j
                    .append_then(event, |a: &Appended| {
                        let key = signer.as_ref()?;
                        match handle.block_on(key.sign(a.line.as_bytes())) {
                            Ok(signature) => Some(Event::Signature {
                                signs_seq: a.entry.seq,
                                key_fingerprint: key.fingerprint(),
                                signature,
                            }),
                            Err(e) => {
                                sign_error = Some(e);
                                None
                            }
                        }
                    })
                    .map_err(RunnerError::Journal)?;
                Ok((first, second, sign_error))
            })
            .await?;
        for e in first.foreign {
            self.tell(RunnerEvent::Recorded(Box::new(e))).await;
        }
        self.tell(RunnerEvent::Recorded(Box::new(first.entry.clone())))
            .await;
        if let Some(s) = second {
            self.tell(RunnerEvent::Recorded(Box::new(s.entry))).await;
        }
        if let Some(e) = sign_error {
            return Err(RunnerError::Signing(e));
        }
        Ok(first.entry)
    }

    /// The key a signed line is signed with: that of the operator it names. The session's
    /// operator without a key records unsigned (and says so); another operator without one is
    /// refused, so no one's line is ever signed with someone else's key.
    fn signer_for(&self, event: &Event) -> Result<Option<SigningKey>, RunnerError> {
        let name = event.signer_name();
        if name.is_none() || name == self.operator.as_deref() {
            return Ok(self.key.clone());
        }
        let name = name.unwrap_or_default();
        match self.others.get(name) {
            Some(Some(k)) => Ok(Some(k.clone())),
            _ => Err(RunnerError::NoKey {
                operator: name.to_string(),
            }),
        }
    }

    async fn follow(&mut self) -> Result<(), RunnerError> {
        let new = self
            .with_journal(|j| j.poll().map_err(RunnerError::Journal))
            .await?;
        for e in new {
            self.tell(RunnerEvent::Recorded(Box::new(e))).await;
        }
        for out in self.follower.poll(&self.run_dir) {
            let _ = self.listener.send(out).await;
        }
        self.reap().await?;
        self.depart_gone().await
    }

    /// Record the departure of instances that died (their presence lock is free). Re-checked
    /// under the journal lock against the lines appended meanwhile, so however many instances
    /// notice at once, the departure is recorded once.
    async fn depart_gone(&mut self) -> Result<(), RunnerError> {
        // A few per tick: a journal full of made-up `joined` lines cannot stall the writer.
        for left in self
            .roster
            .gone(&self.run_dir)
            .into_iter()
            .take(DEPARTURES_PER_TICK)
        {
            let Event::Left { session, .. } = &left else {
                continue;
            };
            let session = session.clone();
            let guarded = self
                .with_journal(move |j| {
                    let run_dir = j.dir().to_path_buf();
                    j.append_guarded(left, |foreign| {
                        presence::still_gone(&run_dir, &session, foreign)
                            .then(Vec::new)
                            .ok_or(())
                    })
                    .map_err(RunnerError::Journal)
                })
                .await?;
            for e in guarded.foreign {
                self.tell(RunnerEvent::Recorded(Box::new(e))).await;
            }
            for a in guarded.appended.unwrap_or_default() {
                if let Event::Left { session, .. } = &a.entry.event {
                    presence::clear(&self.run_dir, session);
                }
                self.tell(RunnerEvent::Recorded(Box::new(a.entry))).await;
            }
        }
        Ok(())
    }

    async fn tell(&mut self, ev: RunnerEvent) {
        if let RunnerEvent::Recorded(e) = &ev {
            // Each line is told exactly once, in file order: fold it into the state here.
            if let Ok(mut s) = self.state.lock() {
                s.apply(e);
            }
            if let Ok(mut c) = self.claims.lock() {
                c.observe(e);
            }
            self.roster.observe(e);
            // The rest of a followed command's output goes before the line that ends it.
            for out in self.follower.on_line(&self.run_dir, e) {
                let _ = self.listener.send(out).await;
            }
        }
        // The listener going away (headless printer done, UI closed) is not an error: the
        // line is on disk either way.
        let _ = self.listener.send(ev).await;
    }
}

/// The kinds whose line is signed (the signature line follows it under the same lock).
fn signed_kind(event: &Event) -> bool {
    event.is_signed_kind()
}

/// Replace every secret value in every string of the event. Fails closed: an event that cannot
/// be redacted is not written.
pub fn redact_event(redactor: &Redactor, event: Event) -> Result<Event, RunnerError> {
    if redactor.is_empty() {
        return Ok(event);
    }
    let mut value =
        serde_json::to_value(&event).map_err(|e| RunnerError::Redaction(e.to_string()))?;
    redact_value(redactor, &mut value);
    serde_json::from_value(value).map_err(|e| {
        RunnerError::Redaction(format!(
            "the redacted {} event no longer parses ({e}); it was not written",
            event.kind()
        ))
    })
}

fn redact_value(redactor: &Redactor, v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let red = redactor.redact_str(s);
            if red != *s {
                *s = red;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_value(redactor, x)),
        Value::Object(o) => o.values_mut().for_each(|x| redact_value(redactor, x)),
        _ => {}
    }
}

impl From<JournalError> for RunnerError {
    fn from(e: JournalError) -> Self {
        RunnerError::Journal(e)
    }
}
