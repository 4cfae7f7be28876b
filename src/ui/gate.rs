//! The gate: each requirement with ✓/✗ and why, and the monitoring window's progress.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Widget};

use super::{block, fit};
use crate::app::{App, Pane};
use crate::theme::Theme;

pub struct Gate<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for Gate<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Gate { app, theme } = self;
        let v = &app.verdict;
        let name = if app.runbook.gate.title.is_empty() {
            "Gate".to_string()
        } else {
            app.runbook.gate.title.clone()
        };
        // OPEN is what the work says; PROVEN is whether trusted, sealed evidence says it too.
        let mut badges = vec![if v.open {
            Span::styled(" OPEN ", theme.ok)
        } else {
            Span::styled(" SHUT ", theme.failed)
        }];
        if v.open {
            badges.push(if app.proven.proven_open() {
                Span::styled("PROVEN ", theme.ok)
            } else {
                Span::styled("NOT PROVEN ", theme.failed)
            });
        }
        let badge_w: usize = badges.iter().map(|b| b.content.chars().count()).sum();
        let w = usize::from(area.width).saturating_sub(4 + badge_w);
        let title = Line::from(
            std::iter::once(Span::styled(format!(" {} ", fit(&name, w)), theme.title))
                .chain(badges)
                .collect::<Vec<_>>(),
        );
        let b = block(title, app.focus == Pane::Gate, theme);
        let inner = b.inner(area);
        b.render(area, buf);
        let w = usize::from(inner.width);
        let p = &app.proven;
        let evidence = crate::gate::Requirement {
            name: "evidence",
            met: p.proven_open() || (p.anchored && p.sealed_upto.is_some()),
            detail: evidence_detail(app),
        };
        // Sign-offs count only when signed by a trusted key (so, without a trust anchor, none
        // do): show the proven count, never the claimed one.
        let signoffs = p
            .verdict
            .requirements
            .iter()
            .find(|r| r.name == "sign-offs")
            .cloned()
            .map(|mut r| {
                r.detail.push_str(&signer_keys(app));
                r
            });
        let shown: Vec<crate::gate::Requirement> = std::iter::once(evidence)
            .chain(
                v.requirements
                    .iter()
                    // The monitoring requirement is drawn as the gauge below.
                    .filter(|r| v.monitor.is_none() || r.name != "monitoring")
                    .map(|r| match (&signoffs, r.name) {
                        (Some(s), "sign-offs") => s.clone(),
                        _ => r.clone(),
                    }),
            )
            .collect();
        let room = usize::from(inner.height.saturating_sub(u16::from(v.monitor.is_some())));
        // Whole reasons when they fit (the compact layout's gate is tall), else one line each.
        let wrapped: Vec<Vec<String>> = shown
            .iter()
            .map(|r| {
                crate::app::view::wrap(&format!("{}: {}", r.name, r.detail), w.saturating_sub(2))
            })
            .collect();
        let whole = wrapped.iter().map(Vec::len).sum::<usize>() <= room;
        let mut lines: Vec<Line> = Vec::new();
        for (r, rows) in shown.iter().zip(&wrapped) {
            let (g, style) = if r.met {
                ("✓", theme.ok)
            } else {
                ("✗", theme.failed)
            };
            if whole {
                for (i, row) in rows.iter().enumerate() {
                    let lead = if i == 0 { g } else { " " };
                    lines.push(Line::from(vec![
                        Span::styled(format!("{lead} "), style),
                        Span::styled(row.clone(), if i == 0 { style } else { theme.text }),
                    ]));
                }
            } else {
                lines.push(Line::from(vec![
                    Span::styled(format!("{g} {}: ", r.name), style),
                    Span::styled(
                        fit(&r.detail, w.saturating_sub(r.name.len() + 4)),
                        theme.text,
                    ),
                ]));
            }
        }
        // A failed window says why the gate is shut and what reopens it.
        if let Some(m) = &v.monitor {
            let over =
                m.failed > m.max_failures || (m.max_in_a_row > 0 && m.in_a_row >= m.max_in_a_row);
            if over {
                let why = m.last_failure.clone().unwrap_or_default();
                // First, where it cannot be cut off: it is what the operator must do next.
                lines.insert(0, Line::styled(
                    fit(
                        &format!(
                            "window failed: fix the cause, then `rehearse ack RUN_DIR --reason …` restarts it ({} failed, max {}{})",
                            m.failed,
                            m.max_failures,
                            if why.is_empty() { String::new() } else { format!("; last: {why}") }
                        ),
                        w,
                    ),
                    theme.failed,
                ));
            }
        }
        if v.requirements.is_empty() {
            lines.push(Line::styled(
                "this runbook's gate has no requirements",
                theme.muted,
            ));
        }
        let text_rows = u16::try_from(lines.len()).unwrap_or(u16::MAX);
        let text_h = inner.height.saturating_sub(u16::from(v.monitor.is_some()));
        Paragraph::new(lines).render(
            Rect {
                height: text_h,
                ..inner
            },
            buf,
        );
        if let Some(m) = &v.monitor
            && inner.height > 0
        {
            let met = v
                .requirements
                .iter()
                .any(|r| r.name == "monitoring" && r.met);
            let label = format!(
                "{} monitoring {} / {} · {} passed, {} failed (max {})",
                if met { "✓" } else { "✗" },
                humantime::format_duration(std::time::Duration::from_secs(m.watched.as_secs())),
                humantime::format_duration(m.total),
                m.passed,
                m.failed,
                m.max_failures
            );
            let y = inner.y + text_rows.min(inner.height - 1);
            Gauge::default()
                .gauge_style(theme.gauge)
                .ratio(m.fraction())
                .label(fit(&label, w))
                .render(
                    Rect {
                        y,
                        height: 1,
                        ..inner
                    },
                    buf,
                );
        }
    }
}

/// What is sealed, what is not, and against which trust anchor.
fn evidence_detail(app: &App) -> String {
    let p = &app.proven;
    let sealed = match p.sealed_upto {
        Some(n) => format!("sealed through line {}", n + 1),
        None => "nothing sealed yet".to_string(),
    };
    let trust = match &app.trust {
        Some(t) => format!("trusting {}", t.origin),
        None => "no trust anchor (allowed_signers in the config dir): nothing can be proven here"
            .to_string(),
    };
    format!(
        "{sealed}; {} line(s) after it unsealed (sign-offs, the gate opening and quitting seal); {trust}",
        p.tail_len
    )
}

/// Which trusted keys have signed off (one per key), and whose signatures do not count.
fn signer_keys(app: &App) -> String {
    use crate::evidence::seal::SigStatus;
    let mut trusted: Vec<String> = Vec::new();
    let mut not_counted: Vec<String> = Vec::new();
    for l in app.proven.signed.iter().filter(|l| l.kind == "signoff") {
        let key = l
            .key
            .as_deref()
            .map(|k| k.chars().take(15).collect::<String>() + "…")
            .unwrap_or_default();
        let who = format!("{} {key}", l.operator).trim().to_string();
        let list = if l.status == SigStatus::Trusted {
            &mut trusted
        } else {
            &mut not_counted
        };
        if !list.contains(&who) {
            list.push(who);
        }
    }
    let mut out = String::new();
    if !trusted.is_empty() {
        out.push_str(&format!("; signed by {}", trusted.join(", ")));
    }
    if !not_counted.is_empty() {
        out.push_str(&format!("; not counted: {}", not_counted.join(", ")));
    }
    out
}
