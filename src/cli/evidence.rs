//! `export` and `verify`: the evidence a run leaves behind.

use std::path::Path;

use super::*;
use crate::report;
use crate::runbook::Runbook;

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

pub fn export_cmd(
    run_dir: &Path,
    format: Format,
    output: Option<&Path>,
    given: &[(String, String)],
) -> i32 {
    let rb = match report::run_runbook(run_dir) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
        }
    };
    let redactor = known_secrets(&rb, given);
    let is_file = output.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| ["md", "json", "html"].contains(&e.to_string_lossy().as_ref()))
    });
    if let (Some(dir), false) = (output, is_file) {
        return match report::write_bundle(run_dir, dir, format.ext(), &redactor) {
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
    let (report, _) = match report::build(run_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return EXIT_USAGE;
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

pub fn verify_cmd(path: &Path, allowed: Option<&Path>) -> i32 {
    let signers = match allowed.map(std::fs::read_to_string).transpose() {
        Ok(t) => t.map(|t| crate::journal::sign::AllowedSigners::parse(&t)),
        Err(e) => {
            eprintln!("rehearse: allowed signers: {e}");
            return EXIT_USAGE;
        }
    };
    let r = crate::journal::verify::verify(path, signers.as_ref());
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if let Some(first) = r.problems.first() {
        println!("FAILED: {first}");
        for p in r.problems.iter().skip(1) {
            println!("also: {p}");
        }
        return EXIT_FAILED;
    }
    println!(
        "ok: {} lines chained, {} outputs match their digests, {} SHA256SUMS entries, {} signatures valid",
        r.lines, r.outputs, r.sums, r.signatures
    );
    0
}
