//! Running one rendered command: its output streamed to the spool (redacted, hashed beside the
//! write) and to the listener within the screen's display budget, its end judged, its host key
//! recorded on a new connection.

use super::*;

impl Runner {
    /// Execute a rendered command, streaming its redacted output to the listener and the
    /// spool, and recording the host key of any new connection.
    pub(super) async fn execute(
        &self,
        step_id: &str,
        cmd: &Command,
        spool_id: u64,
        command: crate::runbook::Rendered,
        cancel: Cancel,
    ) -> Result<Executed, RunnerError> {
        let begun = Instant::now();
        keep_freed_memory();
        let io_err = |e: std::io::Error| RunnerError::Output {
            path: self.run_dir.join("outputs"),
            source: e,
        };
        let mut spool = OutputSpool::create(&self.run_dir, spool_id).map_err(io_err)?;
        let Some(exec) = self.executors.get(&cmd.target).cloned() else {
            return Err(RunnerError::UnknownTarget(cmd.target.clone()));
        };
        let pty = cmd.pty.then(|| {
            self.pty_size
                .lock()
                .map(|s| *s)
                .unwrap_or(PtySize { cols: 80, rows: 24 })
        });
        let req = ExecRequest {
            command: command.value,
            input: command.input,
            pty,
            timeout: cmd.timeout,
            grace: STOP_GRACE,
        };
        let (etx, mut erx) = mpsc::channel::<ExecEvent>(64);
        let run = exec.run(req, etx, cancel);
        tokio::pin!(run);
        let mut run_done = false;
        let mut reds = [
            StreamRedactor::new(self.redactor.clone()),
            StreamRedactor::new(self.redactor.clone()),
        ];
        let mut caps: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let secretless = self.redactor.is_empty();
        let mut last_flush = Instant::now();
        let mut end: Option<ExecEvent> = None;
        loop {
            let ev = tokio::select! {
                () = &mut run, if !run_done => { run_done = true; continue; }
                ev = erx.recv() => ev,
            };
            let Some(ev) = ev else { break };
            match ev {
                ExecEvent::Connected(seen) => {
                    self.record(Event::HostKey {
                        target: cmd.target.clone(),
                        host: seen.host,
                        port: seen.port,
                        algorithm: seen.algorithm,
                        fingerprint: seen.fingerprint,
                        trust: seen.trust.as_str().to_string(),
                    })
                    .await?;
                }
                ExecEvent::Started => {}
                ExecEvent::Stdout(b) | ExecEvent::Stderr(b) if b.is_empty() => {}
                ExecEvent::Stdout(b) => {
                    let clean = redact(secretless, &mut reds[0], b);
                    self.emit(
                        &mut spool,
                        spool_id,
                        step_id,
                        cmd,
                        false,
                        clean,
                        &mut caps[0],
                    )
                    .await
                    .map_err(io_err)?;
                }
                ExecEvent::Stderr(b) => {
                    let clean = redact(secretless, &mut reds[1], b);
                    self.emit(
                        &mut spool,
                        spool_id,
                        step_id,
                        cmd,
                        true,
                        clean,
                        &mut caps[1],
                    )
                    .await
                    .map_err(io_err)?;
                }
                terminal => end = Some(terminal),
            }
            if last_flush.elapsed() > Duration::from_millis(500) {
                spool.flush().map_err(io_err)?;
                last_flush = Instant::now();
            }
        }
        for (i, red) in reds.iter_mut().enumerate() {
            let rest = Bytes::from(red.finish());
            self.emit(
                &mut spool,
                spool_id,
                step_id,
                cmd,
                i == 1,
                rest,
                &mut caps[i],
            )
            .await
            .map_err(io_err)?;
        }
        self.flush_skipped(spool_id, step_id).await;
        let (sha256, len) = spool.finish().map_err(io_err)?;
        let end = end.unwrap_or(ExecEvent::ConnectionLost {
            reason: "the executor ended without a result".into(),
        });
        if let ExecEvent::Failed(e) = &end {
            self.record(Event::ConnectFailed {
                target: cmd.target.clone(),
                error: e.message.clone(),
            })
            .await?;
        }
        let (exit_status, signal) = match &end {
            ExecEvent::Finished(x) => (x.status, x.signal.clone()),
            ExecEvent::TimedOut { exit: Some(x), .. }
            | ExecEvent::Cancelled { exit: Some(x), .. } => (x.status, x.signal.clone()),
            _ => (None, None),
        };
        let [stdout, stderr] = caps;
        Ok(Executed {
            end,
            sha256,
            len,
            stdout,
            stderr,
            exit_status,
            signal,
            duration_ms: u64::try_from(begun.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn emit(
        &self,
        spool: &mut OutputSpool,
        started_seq: u64,
        step: &str,
        cmd: &Command,
        stderr: bool,
        bytes: Bytes,
        cap: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        spool.write_shared(bytes.clone())?;
        let room = EXPECT_CAPTURE.saturating_sub(cap.len());
        cap.extend_from_slice(&bytes[..room.min(bytes.len())]);
        if let Some(budget) = self.display.get() {
            if !budget.take(bytes.len()) {
                self.skipped
                    .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            self.flush_skipped(started_seq, step).await;
        }
        let _ = self
            .tx
            .send(RunnerEvent::Output {
                started_seq,
                step: step.to_string(),
                command: cmd.name.clone(),
                stderr,
                bytes,
            })
            .await;
        Ok(())
    }

    /// Limit the output in flight to a screen (the TUI); headless listeners get everything.
    pub fn set_display_budget(&self, budget: display::DisplayBudget) {
        let _ = self.display.set(budget);
    }

    /// Tell the screen how much it did not get since it last did.
    async fn flush_skipped(&self, started_seq: u64, step: &str) {
        let n = self.skipped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            let _ = self
                .tx
                .send(RunnerEvent::Skipped {
                    started_seq,
                    step: step.to_string(),
                    bytes: n,
                })
                .await;
        }
    }
}

/// A chunk with its secrets redacted; with no secrets to find it passes as it came, uncopied.
fn redact(secretless: bool, red: &mut StreamRedactor, chunk: Bytes) -> Bytes {
    if secretless {
        chunk
    } else {
        Bytes::from(red.push(&chunk))
    }
}

/// Streaming allocates a chunk per SSH packet on one thread and frees it on another. glibc
/// gives the freed memory back to the kernel as soon as more than 128 KiB is free at the top of
/// a heap, so the next chunks fault in fresh, zeroed pages: 115,000 page faults per GB streamed,
/// more than the cipher cost. Freeing one block that glibc had to `mmap` raises that threshold
/// for good (its documented dynamic threshold, mallopt(3): to twice the block's size), so a few
/// MiB stay with the process instead. Elsewhere this is one allocation and nothing more.
fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(4 << 20))));
}

pub(super) struct Executed {
    pub(super) end: ExecEvent,
    pub(super) sha256: String,
    pub(super) len: u64,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    pub(super) exit_status: Option<u32>,
    pub(super) signal: Option<String>,
    pub(super) duration_ms: u64,
}
