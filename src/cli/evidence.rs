//! `export` and `verify`: the evidence a run leaves behind, judged against trust from outside it.

use std::path::Path;

use super::*;
use crate::report;
use crate::runbook::Runbook;

/// Evidence intact, but nothing outside it says whose keys signed it: the gate is not proven.
pub const EXIT_UNTRUSTED: i32 = 4;
/// An intact run whose SSH targets were redirected (`rehearse demo`): not evidence of a deploy.
pub const EXIT_REHEARSAL: i32 = 7;

/// Secret values known to this process for a run: `--var`s and the environment variables the
/// runbook names for its secret variables.
fn known_secrets(rb: &Runbook, given: &[(String, String)]) -> crate::secret::Redactor {
    let mut secrets = Vec::new();
    for v in rb.vars.iter().filter(|v| v.secret) {
        let value = given
            .iter()
            .rev()
            .find(|(n, _)| n == &v.name)
            .map(|(_, x)| x.clone())
            .or_else(|| v.env.as_ref().and_then(|e| std::env::var(e).ok()));
        match value {
            Some(x) => secrets.push((v.name.clone(), crate::secret::SecretString::new(x))),
            None => eprintln!(
                "rehearse: cannot scan for secret `{}`: no value given (--var {}=... or ${})",
                v.name,
                v.name,
                v.env.as_deref().unwrap_or("ENV")
            ),
        }
    }
    crate::secret::Redactor::new(&secrets)
}

pub async fn export_cmd(
    run_dir: &Path,
    format: Format,
    output: Option<&Path>,
    given: &[(String, String)],
    global: &Global,
) -> i32 {
    let rb = match report::run_runbook(run_dir) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_FAILED;
        }
    };
    let anchor = match trust_anchor(None) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rehearse: trust anchor: {e}");
            return EXIT_USAGE;
        }
    };
    let redactor = known_secrets(&rb, given);
    let is_file = output.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| ["md", "json", "html"].contains(&e.to_string_lossy().as_ref()))
    });
    if let (Some(dir), false) = (output, is_file) {
        let op = match operator(global).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("rehearse: {e}");
                return EXIT_USAGE;
            }
        };
        let Some(key) = op.key.as_ref() else {
            eprintln!(
                "rehearse: a bundle's MANIFEST is signed by the exporter: give --signing-key FILE, \
                 set signing_key in the config, or load a key into ssh-agent"
            );
            return EXIT_USAGE;
        };
        let trust_bytes = anchor.as_ref().map(|(_, b)| b.as_slice());
        return match report::write_bundle(
            run_dir,
            dir,
            format.ext(),
            &redactor,
            trust_bytes,
            (&op.name, key),
        )
        .await
        {
            Ok(b) => {
                eprintln!(
                    "wrote {} files to {} (check with: rehearse verify {})",
                    b.files.len(),
                    dir.display(),
                    dir.display()
                );
                0
            }
            Err(e) => {
                eprintln!("rehearse: {e}");
                EXIT_FAILED
            }
        };
    }
    let report = match report::build(run_dir, anchor.as_ref().map(|(t, _)| t)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rehearse: refusing to export: {e}");
            return EXIT_FAILED;
        }
    };
    let text = match format {
        Format::Md => report::to_markdown(&report),
        Format::Json => report::to_json(&report),
        Format::Html => report::to_html(&report),
    };
    if let Some(which) = redactor.find_leak(text.as_bytes()) {
        eprintln!("rehearse: refusing to export: the report contains the value of {which}");
        return EXIT_FAILED;
    }
    match output {
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("rehearse: {}: {e}", p.display());
                return EXIT_FAILED;
            }
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    0
}

/// Exit 0: intact, and the trust anchor was applied (the gate line says OPEN or SHUT);
/// 1: something is broken (the first broken place is named); 2: usage; 4: intact, but no trust
/// anchor, so every signature is untrusted and the gate is not proven.
pub fn verify_cmd(path: &Path, allowed: Option<&Path>, allow_rehearsal: bool) -> i32 {
    let anchor = match trust_anchor(allowed) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rehearse: allowed signers: {e}");
            return EXIT_USAGE;
        }
    };
    let trust = anchor.as_ref().map(|(t, _)| t);
    let r = report::verify_path(path, trust);
    for n in &r.notes {
        eprintln!("note: {}", report::text::visible(n, false));
    }
    if let Some(first) = r.problems.first() {
        println!(
            "FAILED: {}",
            report::text::visible(&first.to_string(), false)
        );
        for p in r.problems.iter().skip(1) {
            println!("also: {}", report::text::visible(&p.to_string(), false));
        }
        return EXIT_FAILED;
    }
    let Some(view) = &r.sealed else {
        println!("FAILED: nothing to verify");
        return EXIT_FAILED;
    };
    println!(
        "ok: {} lines chained, {} outputs match their digests, {} signatures valid",
        r.lines, r.outputs, r.signatures
    );
    for s in &view.signed {
        println!(
            "{} line {} by {}: {}",
            s.kind,
            s.seq + 1,
            report::text::visible(&s.operator, false),
            s.status.label()
        );
    }
    match view.sealed_upto {
        Some(n) => println!(
            "sealed: lines 1-{} (head of the journal {}); unsealed tail: {} lines, not counted",
            n + 1,
            view.head,
            view.tail_len
        ),
        None => println!(
            "sealed: nothing; unsealed tail: {} lines, not counted",
            view.tail_len
        ),
    }
    println!("gate: {}", view.label());
    for req in &view.verdict.requirements {
        println!(
            "  {} {}: {}",
            if req.met { "✓" } else { "✗" },
            req.name,
            report::text::visible(&req.detail, false)
        );
    }
    if trust.is_none() {
        return EXIT_UNTRUSTED;
    }
    let rehearsal = r.entries.first().and_then(|e| match &e.event {
        crate::journal::Event::RunStarted { redirected, .. } => redirected.clone(),
        _ => None,
    });
    if let Some(to) = rehearsal
        && !allow_rehearsal
    {
        println!(
            "REHEARSAL: every SSH target ran on {}; intact, but not evidence about any real host \
             (--allow-rehearsal exits 0)",
            report::text::visible(&to, false)
        );
        return EXIT_REHEARSAL;
    }
    0
}
