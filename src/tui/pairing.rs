//! Setting up pairing for one instance: the operators who may be at its keys and their keys,
//! observer mode, and this instance's presence on the run (a locked file, and `joined` /
//! `left` lines).

use std::collections::BTreeMap;

use crate::app::{App, OperatorView};
use crate::journal::Event;
use crate::journal::sign::SigningKey;
use crate::runner::Runner;
use crate::runner::presence::{self, Here};
use crate::session::Teammate;

/// `ALGO SHA256:… (origin)`: how a key is named on screen.
pub fn describe(k: &SigningKey) -> String {
    format!(
        "{} {} ({})",
        k.public.algorithm().as_str(),
        k.fingerprint(),
        k.origin
    )
}

/// Tell the app who may be at the keys and the writer which key signs for whom; take this
/// instance's place on the run and record that it joined.
pub fn join(app: &mut App, runner: &Runner, team: &[Teammate], observe: bool) -> Option<Here> {
    app.observer = observe;
    app.operators = team
        .iter()
        .map(|t| OperatorView {
            name: t.operator.name.clone(),
            key: t.operator.key.as_ref().map(describe),
            missing: t.missing.clone(),
        })
        .collect();
    let others: BTreeMap<String, Option<SigningKey>> = team
        .iter()
        .skip(1)
        .map(|t| (t.operator.name.clone(), t.operator.key.clone()))
        .collect();
    if !observe && !others.is_empty() {
        runner.recorder().set_signers(others);
    }
    let here = match presence::announce(runner.run_dir(), &app.session) {
        Ok(h) => Some(h),
        Err(e) => {
            app.message = Some(format!("presence: {e}; others will not see this instance"));
            None
        }
    };
    if here.is_some() {
        let _ = runner.submit(Event::Joined {
            operator: app.operator.clone(),
            session: app.session.clone(),
            mode: if observe { "observer" } else { "operator" }.into(),
        });
    }
    here
}

/// Record that this instance leaves (queued before the writer drains), then free its place.
pub fn leave(app: &App, runner: &Runner, here: Option<&Here>) {
    if here.is_some() {
        let _ = runner.submit(Event::Left {
            operator: app.operator.clone(),
            session: app.session.clone(),
            reason: "quit".into(),
        });
    }
}
