//! Evidence bundles: a verified run's report, journal, runbook and outputs, bound by a
//! `MANIFEST` of every file (SHA-256 and size) that the exporter signs (`MANIFEST.sig`, SSHSIG
//! namespace `rehearse-manifest@v1`). A bundle verifies only if no file is missing, extra or
//! changed, and every report in it is still exactly what the journal says.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::{build, to_html, to_json, to_markdown};
use crate::evidence::verify::{Problem, RUNBOOK_FILE};
use crate::journal::allowed_signers::AllowedSigners;
use crate::journal::sign::{self, SigningKey};
use crate::journal::{JOURNAL_FILE, outputs, sha256_hex};

pub const MANIFEST: &str = "MANIFEST";
pub const MANIFEST_SIG: &str = "MANIFEST.sig";
pub const MANIFEST_NAMESPACE: &str = "rehearse-manifest@v1";
/// The exporter's trust anchor, kept so the report can be regenerated exactly; informational
/// to a reviewer, who brings their own.
pub const EXPORTER_TRUST: &str = "exporter_allowed_signers";
const HEADER: &str = "rehearse-manifest v1 signer=";
const REPORTS: [&str; 3] = ["report.md", "report.json", "report.html"];

#[derive(Debug)]
pub struct Bundle {
    pub files: Vec<String>,
}

fn exporter_trust(bytes: &[u8]) -> Result<AllowedSigners, String> {
    let text = String::from_utf8_lossy(bytes);
    AllowedSigners::parse(
        &text,
        Path::new(EXPORTER_TRUST),
        format!(
            "the exporter's allowed_signers (sha256 {})",
            sha256_hex(bytes)
        ),
    )
    .map_err(|e| e.to_string())
}

fn render(format: &str, r: &super::Report) -> String {
    match format {
        "json" => to_json(r),
        "html" => to_html(r),
        _ => to_markdown(r),
    }
}

/// Export a verified run to `out` (which must not exist or be empty). `trust_file` is the
/// exporter's trust anchor, if any. Refuses, writing nothing, if the run does not verify or a
/// file would contain a secret `redactor` knows.
pub async fn write_bundle(
    run_dir: &Path,
    out: &Path,
    format: &str,
    redactor: &crate::secret::Redactor,
    trust_file: Option<&[u8]>,
    signer: (&str, &SigningKey),
) -> Result<Bundle, String> {
    let trust = trust_file.map(exporter_trust).transpose()?;
    let report = build(run_dir, trust.as_ref()).map_err(|e| format!("refusing to export: {e}"))?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        format!("report.{format}"),
        render(format, &report).into_bytes(),
    );
    for name in [JOURNAL_FILE, RUNBOOK_FILE] {
        let b = std::fs::read(run_dir.join(name))
            .map_err(|e| format!("{}: {e}", run_dir.join(name).display()))?;
        files.insert(name.to_string(), b);
    }
    let entries = crate::journal::read_entries(run_dir).map_err(|e| e.to_string())?;
    for e in &entries {
        if let crate::journal::Event::CommandFinished { output_sha256, .. }
        | crate::journal::Event::Probe { output_sha256, .. } = &e.event
        {
            let p = outputs::checked_output_path(run_dir, output_sha256)
                .map_err(|err| format!("{JOURNAL_FILE}:{}: {err}", e.seq + 1))?;
            let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.insert(format!("{}/{output_sha256}", outputs::OUTPUTS_DIR), b);
        }
    }
    let informational = super::allowed_signers(&entries);
    if !informational.is_empty() {
        files.insert("allowed_signers".into(), informational.into_bytes());
    }
    if let Some(t) = trust_file {
        files.insert(EXPORTER_TRUST.into(), t.to_vec());
    }
    for (name, bytes) in &files {
        if let Some(which) = redactor.find_leak(bytes) {
            return Err(format!(
                "refusing to export: {name} contains the value of {which}; nothing was written"
            ));
        }
    }
    let (name, key) = signer;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "cannot sign the manifest as {name:?}: use a name without spaces"
        ));
    }
    let mut manifest = format!("{HEADER}{name}\n");
    for (path, bytes) in &files {
        manifest.push_str(&format!("{}  {}  {path}\n", sha256_hex(bytes), bytes.len()));
    }
    let sig = key
        .sign_in(MANIFEST_NAMESPACE, manifest.as_bytes())
        .await
        .map_err(|e| format!("cannot sign the manifest: {e}"))?;
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{}: not empty; a bundle is written to a new or empty directory",
            out.display()
        ));
    }
    std::fs::create_dir_all(out.join(outputs::OUTPUTS_DIR))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    files.insert(MANIFEST.into(), manifest.into_bytes());
    files.insert(MANIFEST_SIG.into(), sig.into_bytes());
    for (name, bytes) in &files {
        std::fs::write(out.join(name), bytes)
            .map_err(|e| format!("{}: {e}", out.join(name).display()))?;
    }
    Ok(Bundle {
        files: files.into_keys().collect(),
    })
}

fn is_bundle(dir: &Path) -> bool {
    [MANIFEST, MANIFEST_SIG, "SHA256SUMS"]
        .iter()
        .chain(REPORTS.iter())
        .any(|n| dir.join(n).exists())
}

/// A manifest path must be relative and plain: no `..`, no root, no odd bytes.
fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The bundle half of `verify`: the manifest, its signature, the file set, the reports.
/// Returns problems and notes; nothing for a plain run directory.
pub fn check_bundle(dir: &Path, trust: Option<&AllowedSigners>) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut problem = |place: &str, message: String| {
        problems.push(Problem {
            place: place.to_string(),
            message,
        });
    };
    if !is_bundle(dir) {
        return (problems, notes);
    }
    let Ok(manifest) = std::fs::read(dir.join(MANIFEST)) else {
        problem(
            MANIFEST,
            "missing: a bundle without a signed manifest proves nothing".into(),
        );
        return (problems, notes);
    };
    let manifest_text = String::from_utf8_lossy(&manifest).into_owned();
    let mut lines = manifest_text.lines();
    let signer = lines
        .next()
        .and_then(|l| l.strip_prefix(HEADER))
        .unwrap_or_default()
        .to_string();
    if signer.is_empty() {
        problem(&format!("{MANIFEST}:1"), format!("expected `{HEADER}NAME`"));
    }
    match std::fs::read(dir.join(MANIFEST_SIG)) {
        Err(e) => problem(MANIFEST_SIG, format!("missing: {e}")),
        Ok(sig) => match check_manifest_sig(&sig, &manifest) {
            Err(e) => problem(MANIFEST_SIG, e),
            Ok(key) => {
                let fp = key.fingerprint(russh::keys::HashAlg::Sha256);
                match trust {
                    Some(t)
                        if t.allows(&signer, MANIFEST_NAMESPACE, &key, std::time::SystemTime::now()) => {}
                    Some(t) => notes.push(format!(
                        "{MANIFEST_SIG}: signed by {signer} with {fp}, which {} does not allow for {MANIFEST_NAMESPACE}",
                        t.origin
                    )),
                    None => notes.push(format!(
                        "{MANIFEST_SIG}: valid signature by {signer} with {fp}, untrusted (no trust anchor)"
                    )),
                }
            }
        },
    }
    let mut listed = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let place = format!("{MANIFEST}:{}", i + 2);
        let mut parts = line.splitn(3, "  ");
        let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            problem(&place, "expected `<sha256>  <size>  <path>`".into());
            continue;
        };
        if !safe_path(path) || [MANIFEST, MANIFEST_SIG].contains(&path) {
            problem(&place, format!("refusing path {path:?}"));
            continue;
        }
        listed.insert(path.to_string(), ());
        match std::fs::symlink_metadata(dir.join(path)) {
            Ok(m) if m.file_type().is_file() => {}
            Ok(_) => {
                problem(&place, format!("{path} is not a regular file"));
                continue;
            }
            Err(e) => {
                problem(&place, format!("{path} is missing: {e}"));
                continue;
            }
        }
        match crate::evidence::verify::hash_file(&dir.join(path)) {
            Err(e) => problem(&place, format!("{path}: {e}")),
            Ok((got, len)) => {
                if got != sha || size.parse::<u64>().ok() != Some(len) {
                    problem(
                        &place,
                        format!("{path} was changed: the manifest says {size} bytes, sha256 {sha}"),
                    );
                }
            }
        }
    }
    for f in walk(dir) {
        if f != MANIFEST && f != MANIFEST_SIG && !listed.contains_key(&f) {
            problem(&f, "not in the MANIFEST: an extra file".into());
        }
    }
    check_reports(dir, &mut problem);
    (problems, notes)
}

/// The signature must verify and be in its canonical armor, so no byte of it can change.
fn check_manifest_sig(sig: &[u8], manifest: &[u8]) -> Result<russh::keys::PublicKey, String> {
    let text = std::str::from_utf8(sig).map_err(|_| "not UTF-8".to_string())?;
    let key = sign::verify_in(MANIFEST_NAMESPACE, text, manifest)?;
    let canonical = russh::keys::ssh_key::SshSig::from_pem(sig)
        .and_then(|s| s.to_pem(russh::keys::ssh_key::LineEnding::LF))
        .map_err(|e| e.to_string())?;
    if canonical.as_bytes() != sig {
        return Err("the armor was altered".into());
    }
    Ok(key)
}

fn check_reports(dir: &Path, problem: &mut impl FnMut(&str, String)) {
    let present: Vec<&str> = REPORTS
        .iter()
        .copied()
        .filter(|r| dir.join(r).exists())
        .collect();
    if present.is_empty() {
        return;
    }
    let trust = match std::fs::read(dir.join(EXPORTER_TRUST)) {
        Ok(b) => match exporter_trust(&b) {
            Ok(t) => Some(t),
            Err(e) => return problem(EXPORTER_TRUST, e),
        },
        Err(_) => None,
    };
    let report = match build(dir, trust.as_ref()) {
        Ok(r) => r,
        Err(e) => return problem(present[0], format!("cannot be regenerated: {e}")),
    };
    for name in present {
        let format = name.trim_start_matches("report.");
        let want = render(format, &report);
        if std::fs::read(dir.join(name)).ok().as_deref() != Some(want.as_bytes()) {
            problem(
                name,
                "does not match the report regenerated from the journal".into(),
            );
        }
    }
}

/// Every file under `root`, as `/`-separated relative paths (directories descended, symlinks
/// listed as files so they are refused as extra).
fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}
