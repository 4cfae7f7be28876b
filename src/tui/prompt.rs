//! Questions from the engine to the person at the terminal (host keys, passphrases), and the
//! variables asked for before a run opens. Questions travel to the app as actions; answers come
//! back through the effects the app emits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::terminal::Term;
use crate::action::{Action, Internal};
use crate::exec::{HostKeyQuestion, Prompter, TrustDecision};
use crate::runbook::Runbook;
use crate::secret::SecretString;
use crate::theme::Theme;

pub enum Pending {
    HostKey(oneshot::Sender<TrustDecision>),
    Secret(oneshot::Sender<Option<SecretString>>),
}

/// Asks through the app. The action channel is unbounded: one message per question, and the
/// executor asking waits for its answer, so it cannot flood.
#[derive(Clone)]
pub struct TuiPrompter {
    tx: mpsc::UnboundedSender<Action>,
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next: Arc<AtomicU64>,
}

impl TuiPrompter {
    pub fn new(tx: mpsc::UnboundedSender<Action>) -> TuiPrompter {
        TuiPrompter {
            tx,
            pending: Arc::default(),
            next: Arc::default(),
        }
    }

    fn ask(&self, pending: Pending, action: impl FnOnce(u64) -> Action) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, pending);
        }
        let _ = self.tx.send(action(id));
    }

    /// The question `id`, taken out to be answered.
    pub fn take(&self, id: u64) -> Option<Pending> {
        self.pending.lock().ok().and_then(|mut p| p.remove(&id))
    }
}

impl Prompter for TuiPrompter {
    fn host_key(&self, q: HostKeyQuestion) -> BoxFuture<'static, TrustDecision> {
        let (tx, rx) = oneshot::channel();
        self.ask(Pending::HostKey(tx), |id| {
            Action::Internal(Internal::HostKey(id, q))
        });
        Box::pin(async move { rx.await.unwrap_or(TrustDecision::Refuse) })
    }

    fn secret(&self, prompt: String) -> BoxFuture<'static, Option<SecretString>> {
        let (tx, rx) = oneshot::channel();
        self.ask(Pending::Secret(tx), |id| {
            Action::Internal(Internal::Secret(id, prompt))
        });
        Box::pin(async move { rx.await.ok().flatten() })
    }
}

/// Ask for each variable without a value in a dialog (masked when secret). `None`: the
/// operator quit.
pub async fn ask_vars(
    terminal: &mut Term,
    theme: &Theme,
    rb: &Runbook,
    missing: &[String],
) -> Option<Vec<(String, String)>> {
    use crate::app::dialog::{Dialog, DialogResult, masked, text_area};
    let mut events = EventStream::new();
    let mut out = Vec::new();
    for name in missing {
        let def = rb.vars.iter().find(|v| &v.name == name)?;
        let input = if def.secret {
            masked("")
        } else {
            text_area("")
        };
        let mut d = Dialog::Var {
            name: name.clone(),
            description: def.description.clone(),
            secret: def.secret,
            input,
            error: None,
        };
        loop {
            terminal
                .draw(|f| {
                    let area = f.area();
                    f.render_widget(
                        ratatui::widgets::Paragraph::new(format!(" {} — variables", rb.title))
                            .style(theme.title),
                        area,
                    );
                    f.render_widget(crate::ui::DialogView { dialog: &d, theme }, area);
                })
                .ok()?;
            match events.next().await {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => match d.key(k) {
                    DialogResult::Text(v) => {
                        out.push((name.clone(), v));
                        break;
                    }
                    DialogResult::Cancelled => return None,
                    _ => {}
                },
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    }
    Some(out)
}
