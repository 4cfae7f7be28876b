//! The printable report: one self-contained HTML file, no scripts, no external resources.

use std::fmt::Write as _;

use super::text::{esc, esc_pre};
use super::{Report, model};
use crate::evidence::seal::SignedLine;

fn signed_line(s: &SignedLine) -> String {
    format!(
        "<b>{}</b> at {} (line {}, over head <code>{}</code>), key <code>{}</code>: {}{}",
        esc(&s.operator),
        esc(&s.ts),
        s.seq + 1,
        esc(&s.over_head),
        esc(s.key.as_deref().unwrap_or("none")),
        s.status.label(),
        s.note
            .as_ref()
            .map(|n| format!(" — {}", esc(n)))
            .unwrap_or_default()
    )
}

fn tail(sealed: bool) -> &'static str {
    if sealed {
        ""
    } else {
        " <i>(unsealed tail: not counted)</i>"
    }
}

/// One self-contained HTML file a person can print: no scripts, no external resources.
pub fn to_html(r: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} — run report</title>\n<style>\n\
         body{{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}}\n\
         h1{{font-size:1.5rem}} h2{{border-bottom:1px solid #ccc;margin-top:2rem}} h3{{margin-bottom:.3rem}}\n\
         code,pre{{font:12px/1.35 ui-monospace,monospace}} pre{{background:#f5f5f5;padding:.5rem;white-space:pre-wrap;word-break:break-all}}\n\
         .ok{{color:#1a7f37}} .bad{{color:#cf222e;font-weight:bold}} table{{border-collapse:collapse;width:100%}}\n\
         td,th{{border:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}}\n\
         @media print{{pre{{max-height:none}} h2{{break-after:avoid}}}}\n</style></head><body>\n",
        t = esc(&r.runbook_title)
    );
    let _ = writeln!(s, "<h1>{} — run report</h1>", esc(&r.runbook_title));
    let _ = writeln!(
        s,
        "<table><tr><th>Runbook</th><td><code>{}</code> sha256 <code>{}</code></td></tr>",
        esc(&r.runbook_id),
        esc(&r.runbook_sha256)
    );
    if let Some(c) = &r.runbook_git_commit {
        let _ = writeln!(
            s,
            "<tr><th>Git commit</th><td><code>{}</code></td></tr>",
            esc(c)
        );
    }
    if let Some(w) = &r.redirected {
        let _ = writeln!(
            s,
            "<tr><th>Rehearsal</th><td class=\"bad\"><b>{}</b></td></tr>",
            esc(&super::rehearsal_text(w))
        );
    }
    let _ = writeln!(
        s,
        "<tr><th>Started</th><td>{}</td></tr><tr><th>Last entry</th><td>{}</td></tr>",
        esc(&r.started),
        esc(&r.last_entry)
    );
    let _ = writeln!(
        s,
        "<tr><th>Operators</th><td>{}</td></tr>",
        esc(&r.operators.join(", "))
    );
    for (k, v) in &r.vars {
        let _ = writeln!(
            s,
            "<tr><th>Variable <code>{}</code></th><td><code>{}</code></td></tr>",
            esc(k),
            esc(v)
        );
    }
    for k in &r.secret_vars {
        let _ = writeln!(
            s,
            "<tr><th>Variable <code>{}</code></th><td>secret, not shown</td></tr>",
            esc(k)
        );
    }
    let _ = writeln!(
        s,
        "<tr><th>Journal</th><td>{} lines, head <code>{}</code>; lines 1–{} sealed by a trusted signature, {} after them unsealed</td></tr>\n<tr><th>Trust anchor</th><td>{}</td></tr></table>",
        r.journal_lines,
        esc(&r.journal_head),
        r.sealed_lines,
        r.unsealed_tail,
        esc(&r.trust)
    );
    let _ = writeln!(
        s,
        "<h2>Gate: <span class=\"{}\">{}</span></h2><ul>",
        if r.gate_open { "ok" } else { "bad" },
        esc(&r.gate_verdict)
    );
    for g in &r.gate {
        let _ = writeln!(
            s,
            "<li class=\"{}\">{} <b>{}</b>: {}</li>",
            if g.met { "ok" } else { "bad" },
            if g.met { "✓" } else { "✗" },
            esc(&g.name),
            esc(&g.detail)
        );
    }
    match &r.gate_opened {
        Some(o) => {
            let _ = writeln!(s, "<li>Opened by {}</li>", signed_line(o));
        }
        None => {
            let _ = writeln!(s, "<li>No signed gate opening in the sealed lines</li>");
        }
    }
    if let Some(m) = &r.monitoring {
        let _ = writeln!(
            s,
            "</ul><h2>Monitoring</h2><p>Window {}, watched {}</p><ul>",
            esc(&m.window),
            esc(&m.watched)
        );
        for g in &m.gaps {
            let _ = writeln!(s, "<li class=\"bad\">Gap: {}</li>", esc(g));
        }
        for p in &m.probes {
            let _ = writeln!(s, "<li>{}</li>", model::probe_text(p, &esc, tail(false)));
        }
    }
    let _ = writeln!(
        s,
        "</ul><h2>Host keys</h2><table><tr><th>Target</th><th>Host</th><th>Fingerprint</th><th>Trust</th></tr>"
    );
    for h in &r.host_keys {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}:{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&h.target),
            esc(&h.host),
            h.port,
            esc(&h.fingerprint),
            esc(&h.trust)
        );
    }
    let _ = writeln!(s, "</table><h2>Steps</h2>");
    for st in &r.steps {
        let page = st.page.map(|p| format!(" · page {p}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "<h3>{} <code>{}</code> — {} [{}{page}]</h3>",
            esc(&st.title),
            esc(&st.id),
            esc(&st.status),
            st.level.label()
        );
        if !st.commands.is_empty() {
            let _ = writeln!(
                s,
                "<table><tr><th>Command</th><th>By, at</th><th>Outcome</th><th>Exit</th><th>ms</th><th>Output</th></tr>"
            );
            for c in &st.commands {
                let exit = c.exit_status.map_or_else(
                    || c.signal.clone().map_or("-".into(), |x| format!("SIG{x}")),
                    |e| e.to_string(),
                );
                let _ = writeln!(
                    s,
                    "<tr><td><b>{}</b> on {} (host key <code>{}</code>){}</td><td>{}, {}</td><td class=\"{}\">{}{}</td><td>{exit}</td><td>{}</td><td><code>{}</code> ({} bytes)</td></tr>\n<tr><td colspan=\"6\">Ran: <pre>{}</pre></td></tr>",
                    esc(&c.name),
                    esc(&c.target),
                    esc(c.host_key.as_deref().unwrap_or("local")),
                    tail(c.sealed),
                    esc(&c.operator),
                    esc(&c.ts),
                    if c.outcome == "passed" { "ok" } else { "bad" },
                    esc(&c.outcome),
                    c.reason
                        .as_ref()
                        .map(|x| format!(": {}", esc(x)))
                        .unwrap_or_default(),
                    c.duration_ms,
                    esc(&c.output_sha256),
                    c.output_bytes,
                    esc_pre(&c.run)
                );
                if !c.excerpt.trim().is_empty() {
                    let _ = writeln!(
                        s,
                        "<tr><td colspan=\"6\"><pre>{}</pre></td></tr>",
                        esc_pre(c.excerpt.trim_end())
                    );
                }
            }
            let _ = writeln!(s, "</table>");
        }
        let _ = writeln!(s, "<ul>");
        let items = model::items(
            &st.model,
            &esc,
            &|v| format!("<code>{}</code>", esc(v)),
            tail(false),
        );
        // An item followed by deeper ones holds them in a list of its own.
        for (n, i) in items.iter().enumerate() {
            let next = items.get(n + 1).map_or(0, |x| x.depth);
            let _ = write!(s, "<li>{}", i.text);
            if next > i.depth {
                let _ = writeln!(s, "<ul>");
            } else {
                let _ = writeln!(s, "</li>");
                for _ in next..i.depth {
                    let _ = writeln!(s, "</ul></li>");
                }
            }
        }
        for c in &st.checklist {
            let by =
                c.by.as_ref()
                    .filter(|_| c.checked)
                    .map(|b| format!(" ({})", esc(b)))
                    .unwrap_or_default();
            let _ = writeln!(
                s,
                "<li>{} {}{by}</li>",
                if c.checked { "☑" } else { "☐" },
                esc(&c.text)
            );
        }
        for n in &st.notes {
            let _ = writeln!(
                s,
                "<li>Note by {} at {}: {}{}</li>",
                esc(&n.operator),
                esc(&n.ts),
                esc(&n.text),
                tail(n.sealed)
            );
        }
        for w in &st.waivers {
            let _ = writeln!(s, "<li>Waived by {}</li>", esc(w));
        }
        for so in &st.signoffs {
            let _ = writeln!(s, "<li>Signed off by {}</li>", signed_line(so));
        }
        let _ = writeln!(s, "</ul>");
    }
    let _ = writeln!(
        s,
        "<p>Check this evidence with <code>rehearse verify</code>, or by hand: the MANIFEST and its signature and <code>ssh-keygen -Y verify</code> (see docs/journal.md).</p></body></html>"
    );
    s
}
