//! Pairing: who is at this instance's keys (one of the run's operators, switched with a key),
//! whether this instance only observes, and who else has the run open, folded from the
//! journal's `joined` and `left` lines.

use super::scrollback::LineKind;
use super::{App, Effect};
use crate::journal::{Entry, Event};

/// One of the people who may be at the keys, and the key their lines are signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorView {
    pub name: String,
    /// `ALGO SHA256:… (origin)`, or `None`.
    pub key: Option<String>,
    /// Why there is no key, for an operator whose sign-offs are refused without one. `None`
    /// with no key: the session's own operator, whose sign-offs are recorded unsigned.
    pub missing: Option<String>,
}

/// An instance that has the run open.
#[derive(Debug, Clone, PartialEq)]
pub struct Present {
    pub session: String,
    pub operator: String,
    /// `operator` or `observer`.
    pub mode: String,
    /// When it joined (the journal's timestamp).
    pub since: String,
}

/// Every instance on the run, in the order they joined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    pub here: Vec<Present>,
}

impl Presence {
    pub fn apply(&mut self, e: &Entry) {
        match &e.event {
            Event::Joined {
                operator,
                session,
                mode,
            } => {
                self.here.retain(|p| &p.session != session);
                self.here.push(Present {
                    session: session.clone(),
                    operator: operator.clone(),
                    mode: mode.clone(),
                    since: e.ts.clone(),
                });
            }
            Event::Left { session, .. } => self.here.retain(|p| &p.session != session),
            _ => {}
        }
    }

    /// The others, as the status bar names them: `bob`, `lead (observer)`.
    pub fn others(&self, me: &str) -> Vec<String> {
        self.here
            .iter()
            .filter(|p| p.session != me)
            .map(|p| {
                if p.mode == "operator" {
                    p.operator.clone()
                } else {
                    format!("{} ({})", p.operator, p.mode)
                }
            })
            .collect()
    }
}

impl App {
    pub fn acting(&self) -> Option<&OperatorView> {
        self.operators.iter().find(|o| o.name == self.operator)
    }

    /// The next operator is at the keys: what is recorded from now on is theirs.
    pub(super) fn switch_operator(&mut self) -> Vec<Effect> {
        if self.operators.len() < 2 {
            self.message = Some(format!(
                "only {} is at this run's keys (start with --operators a,b to pair)",
                self.operator
            ));
            return Vec::new();
        }
        let i = self
            .operators
            .iter()
            .position(|o| o.name == self.operator)
            .map_or(0, |i| (i + 1) % self.operators.len());
        let next = self.operators[i].clone();
        self.operator.clone_from(&next.name);
        self.signing_key.clone_from(&next.key);
        self.message = Some(match (&next.key, &next.missing) {
            (Some(k), _) => format!("{} is at the keys (signs with {k})", next.name),
            (None, Some(why)) => format!("{} is at the keys; cannot sign: {why}", next.name),
            (None, None) => format!("{} is at the keys (no signing key)", next.name),
        });
        vec![Effect::Acting(next.name)]
    }

    /// A sign-off for the operator at the keys, if they can sign: one whose key is missing is
    /// refused here (and by the writer), never signed with someone else's key.
    pub(super) fn signoff_refusal(&self) -> Option<String> {
        let o = self.acting()?;
        let why = o.missing.as_ref()?;
        Some(format!(
            "REFUSED: {} cannot sign off: {why}. Nobody signs with someone else's key: switch (o) to an operator with a key, or give {} one and reopen",
            o.name, o.name
        ))
    }

    /// The detail view's list of who has the run open, in which mode, since when; and who may
    /// be at this instance's keys.
    pub(super) fn presence_lines(&self, lines: &mut Vec<(LineKind, String)>) {
        if self.presence.here.is_empty() && self.operators.len() < 2 {
            return;
        }
        lines.push((LineKind::Info, String::new()));
        lines.push((LineKind::Header, "Who has the run open".into()));
        for p in &self.presence.here {
            let me = if p.session == self.session {
                " (this instance)"
            } else {
                ""
            };
            lines.push((
                LineKind::Info,
                format!(
                    "{} · {} · since {} · {}{me}",
                    p.operator,
                    p.mode,
                    p.since.get(11..19).unwrap_or(&p.since),
                    p.session
                ),
            ));
        }
        if self.operators.len() > 1 {
            lines.push((
                LineKind::Header,
                "At this instance's keys (o switches)".into(),
            ));
            for o in &self.operators {
                let mark = if o.name == self.operator { "⌨" } else { " " };
                let key = o
                    .key
                    .clone()
                    .or_else(|| o.missing.clone())
                    .unwrap_or_else(|| "no signing key: recorded unsigned".into());
                lines.push((LineKind::Info, format!("{mark} {}: {key}", o.name)));
            }
        }
    }

    /// Who signs, with which key, as the sign-off dialog says it.
    pub(super) fn signer_line(&self) -> Option<String> {
        self.signing_key
            .as_ref()
            .map(|k| format!("{}'s key {k}", self.operator))
    }
}
