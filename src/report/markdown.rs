//! The Markdown report. Every value from the journal goes through `text::md` (one line,
//! structure escaped) or `text::fence` (excerpts), so operator text stays text.

use std::fmt::Write as _;

use super::text::{code_span, fence, md};
use super::{Report, model};
use crate::evidence::seal::SignedLine;

fn signed_line(s: &SignedLine) -> String {
    format!(
        "**{}** at {} (line {}, over head `{}`), key `{}`: {}{}",
        md(&s.operator),
        md(&s.ts),
        s.seq + 1,
        md(&s.over_head),
        md(s.key.as_deref().unwrap_or("none")),
        s.status.label(),
        s.note
            .as_ref()
            .map(|n| format!(" — {}", md(n)))
            .unwrap_or_default()
    )
}

fn seal_mark(sealed: bool) -> &'static str {
    if sealed {
        ""
    } else {
        " *(unsealed tail: not counted)*"
    }
}

pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} — run report\n", md(&r.runbook_title));
    let _ = writeln!(
        s,
        "- Runbook: `{}` sha256 `{}` ({})",
        md(&r.runbook_id),
        md(&r.runbook_sha256),
        if r.runbook_matches {
            "matches the runbook kept with the run"
        } else {
            "DOES NOT MATCH"
        }
    );
    if let Some(c) = &r.runbook_git_commit {
        let _ = writeln!(s, "- Git commit: `{}`", md(c));
    }
    if let Some(w) = &r.redirected {
        let _ = writeln!(s, "- **{}**", md(&super::rehearsal_text(w)));
    }
    let _ = writeln!(
        s,
        "- Started: {}; last entry: {}",
        md(&r.started),
        md(&r.last_entry)
    );
    let ops: Vec<String> = r.operators.iter().map(|o| md(o)).collect();
    let _ = writeln!(s, "- Operators: {}", ops.join(", "));
    for (k, v) in &r.vars {
        let _ = writeln!(s, "- Variable {} = {}", code_span(k), code_span(v));
    }
    for k in &r.secret_vars {
        let _ = writeln!(s, "- Variable {}: secret, not shown", code_span(k));
    }
    let _ = writeln!(
        s,
        "- Journal: {} lines, head `{}`; lines 1–{} sealed by a trusted signature, {} after them unsealed",
        r.journal_lines, r.journal_head, r.sealed_lines, r.unsealed_tail
    );
    let _ = writeln!(s, "- Trust anchor: {}\n", md(&r.trust));
    let _ = writeln!(s, "## Gate: {}\n", r.gate_verdict);
    for g in &r.gate {
        let _ = writeln!(
            s,
            "- {} **{}**: {}",
            if g.met { "✓" } else { "✗" },
            md(&g.name),
            md(&g.detail)
        );
    }
    match &r.gate_opened {
        Some(o) => {
            let _ = writeln!(s, "- Opened by {}", signed_line(o));
        }
        None => {
            let _ = writeln!(s, "- No signed gate opening in the sealed lines");
        }
    }
    if let Some(m) = &r.monitoring {
        let _ = writeln!(
            s,
            "\n## Monitoring\n\n- Window {}, watched {}",
            md(&m.window),
            md(&m.watched)
        );
        for g in &m.gaps {
            let _ = writeln!(s, "- Gap: {}", md(g));
        }
        for p in &m.probes {
            let _ = writeln!(s, "- {}", model::probe_text(p, &md, seal_mark(false)));
        }
    }
    let _ = writeln!(s, "\n## Host keys\n");
    if r.host_keys.is_empty() {
        let _ = writeln!(s, "No connections were made.");
    }
    for h in &r.host_keys {
        let _ = writeln!(
            s,
            "- `{}` {}:{} `{}` ({})",
            md(&h.target),
            md(&h.host),
            h.port,
            md(&h.fingerprint),
            md(&h.trust)
        );
    }
    let _ = writeln!(s, "\n## Steps\n");
    for st in &r.steps {
        let page = st.page.map(|p| format!(" · p.{p}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "### {} `{}` — {} [{}{page}]\n",
            md(&st.title),
            md(&st.id),
            st.status,
            st.level.label()
        );
        for c in &st.commands {
            let exit = c.exit_status.map_or_else(
                || c.signal.clone().map_or("-".into(), |x| format!("SIG{x}")),
                |e| e.to_string(),
            );
            let _ = writeln!(
                s,
                "- **{}** on `{}` by {} at {}: **{}** (exit {}, {} ms, {} bytes, output `{}`, host key `{}`){}{}",
                md(&c.name),
                md(&c.target),
                md(&c.operator),
                md(&c.ts),
                c.outcome,
                md(&exit),
                c.duration_ms,
                c.output_bytes,
                md(&c.output_sha256),
                md(c.host_key.as_deref().unwrap_or("local")),
                c.reason
                    .as_ref()
                    .map(|r| format!(" — {}", md(r)))
                    .unwrap_or_default(),
                seal_mark(c.sealed)
            );
            let _ = writeln!(s, "\n  Ran:\n\n{}", fence(&c.run));
            if !c.excerpt.trim().is_empty() {
                let _ = writeln!(s, "  Output (last lines):\n\n{}", fence(&c.excerpt));
            }
        }
        for i in model::items(&st.model, &md, &code_span, seal_mark(false)) {
            let _ = writeln!(s, "{}- {}", "  ".repeat(usize::from(i.depth)), i.text);
        }
        for c in &st.checklist {
            let _ = writeln!(
                s,
                "- \\[{}\\] {}{}",
                if c.checked { "x" } else { " " },
                md(&c.text),
                c.by.as_ref()
                    .filter(|_| c.checked)
                    .map(|b| format!(" ({})", md(b)))
                    .unwrap_or_default()
            );
        }
        for n in &st.notes {
            let _ = writeln!(
                s,
                "- Note by {} at {}: {}{}",
                md(&n.operator),
                md(&n.ts),
                md(&n.text),
                seal_mark(n.sealed)
            );
        }
        for w in &st.waivers {
            let _ = writeln!(s, "- Waived by {}", md(w));
        }
        for so in &st.signoffs {
            let _ = writeln!(s, "- Signed off by {}", signed_line(so));
        }
        let _ = writeln!(s);
    }
    s
}
