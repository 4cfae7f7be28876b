//! What a closed dialog asks for: the effects of each answer.

use super::*;

impl App {
    pub(super) fn dialog_result(&mut self, d: Dialog, r: DialogResult) -> Vec<Effect> {
        let op = self.operator.clone();
        match (d, r) {
            (d, DialogResult::Open) => {
                self.dialog = Some(d);
                Vec::new()
            }
            (Dialog::HostKey { id, .. }, DialogResult::HostKey(decision)) => {
                vec![Effect::AnswerHostKey { id, decision }]
            }
            (Dialog::HostKey { id, .. }, DialogResult::Cancelled) => vec![Effect::AnswerHostKey {
                id,
                decision: TrustDecision::Refuse,
            }],
            (Dialog::Secret { id, .. }, DialogResult::Cancelled) => {
                vec![Effect::AnswerSecret { id, secret: None }]
            }
            (Dialog::Secret { id, .. }, DialogResult::Text(s)) => vec![Effect::AnswerSecret {
                id,
                secret: Some(SecretString::new(s)),
            }],
            (
                Dialog::Confirm {
                    step,
                    index,
                    command,
                    ..
                },
                DialogResult::Confirmed,
            ) => self.start(&step, index, &command),
            (
                Dialog::Rerun {
                    step,
                    commands,
                    selected,
                    ..
                },
                DialogResult::Text(reason),
            ) => {
                let command = commands.get(selected).cloned().unwrap_or_default();
                let mut fx = vec![Effect::Record(Event::Note {
                    step: step.clone(),
                    text: format!("running `{command}` again: {reason}"),
                    operator: op,
                })];
                if let Some(st) = self.runbook.step(&step).cloned() {
                    fx.extend(self.confirm_or_start(&st, selected));
                }
                fx
            }
            (Dialog::Quit, DialogResult::Confirmed) => {
                self.quit = true;
                vec![Effect::Cancel, Effect::Quit]
            }
            (Dialog::ProposeTick { step, item, by, .. }, DialogResult::Confirmed) => {
                vec![Effect::Record(Event::CheckToggled {
                    step,
                    item,
                    checked: true,
                    operator: op,
                    proposed_by: Some(by),
                })]
            }
            (Dialog::SignOff { step, .. }, DialogResult::Text(note)) => {
                vec![Effect::Record(Event::Signoff {
                    step,
                    operator: op,
                    note,
                    key_fingerprint: None,
                })]
            }
            (Dialog::Choice { step, .. }, DialogResult::Chosen(option, reason)) => {
                vec![Effect::Record(Event::Choice {
                    step,
                    option,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Waive { step, item, .. }, DialogResult::Text(reason))
                if item.as_deref() == Some(ORDER_WAIVER) =>
            {
                let blocked_by = self
                    .runbook
                    .step(&step)
                    .map(|s| self.state.unmet_after(&self.runbook, s))
                    .unwrap_or_default();
                vec![Effect::Record(Event::OrderWaiver {
                    step,
                    blocked_by,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Waive { step, item, .. }, DialogResult::Text(reason)) => {
                vec![Effect::Record(Event::Waiver {
                    step,
                    item,
                    reason,
                    operator: op,
                })]
            }
            (Dialog::Note { step, .. }, DialogResult::Text(text)) if !text.is_empty() => {
                vec![Effect::Record(Event::Note {
                    step,
                    text,
                    operator: op,
                })]
            }
            (Dialog::Search { .. }, DialogResult::Text(q)) => {
                self.search = (!q.is_empty()).then_some(q);
                self.search_hit = None;
                self.search_step(true);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
