//! `include = ["shared/steps.toml"]`: files of shared `[[steps]]`, found relative to the file
//! that names them, which may include others in turn. Their steps come before the includer's
//! own; every problem in them is reported at the included file's own `line:column`. A run keeps
//! one self-contained document (see [`compose`]), so its digest covers the included steps and
//! the copy beside the journal loads without the shared files.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::raw::{RawRunbook, RawStep, RawStepsFile, S};
use super::validate::Ctx;
use super::{Diagnostic, LoadError, Source};

/// Read every included file into `cx.files` and put their steps in front of `raw.steps`.
/// Returns the files whose steps were taken, in step order (empty: nothing was included).
pub(super) fn expand(cx: &mut Ctx<'_>, raw: &mut RawRunbook) -> Vec<usize> {
    if raw.include.is_empty() {
        return Vec::new();
    }
    let main = cx.source.path.clone();
    let mut stack = vec![canonical(&main)];
    let mut steps = Vec::new();
    let mut origins = Vec::new();
    let mut order = Vec::new();
    let includes = std::mem::take(&mut raw.include);
    walk(
        cx,
        &main,
        &includes,
        &mut stack,
        &mut steps,
        &mut origins,
        &mut order,
    );
    raw.include = includes;
    origins.extend(std::iter::repeat_n(None, raw.steps.len()));
    steps.append(&mut raw.steps);
    raw.steps = steps;
    cx.origins = origins;
    order
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Include each of `names` (written in `from`, spans into the file `cx` points at now).
fn walk(
    cx: &mut Ctx<'_>,
    from: &Path,
    names: &[S<String>],
    stack: &mut Vec<PathBuf>,
    steps: &mut Vec<RawStep>,
    origins: &mut Vec<Option<usize>>,
    order: &mut Vec<usize>,
) {
    let here = cx.current_file();
    for name in names {
        cx.set_file(here);
        if Path::new(name.get_ref()).is_absolute() {
            cx.error(
                name.span(),
                format!(
                    "`{}`: an include is a path relative to the file that names it",
                    name.get_ref()
                ),
            );
            continue;
        }
        let path = from
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(name.get_ref());
        let key = canonical(&path);
        if let Some(at) = stack.iter().position(|p| *p == key) {
            let cycle: Vec<String> = stack[at..]
                .iter()
                .chain(std::iter::once(&key))
                .map(|p| short(p))
                .collect();
            cx.error(
                name.span(),
                format!("include cycle: {}", cycle.join(" -> ")),
            );
            continue;
        }
        if cx.files.iter().any(|f| canonical(&f.path) == key) {
            cx.error(
                name.span(),
                format!("`{}` is already included", name.get_ref()),
            );
            continue;
        }
        let text = match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                cx.error(
                    name.span(),
                    format!("cannot include `{}`: not UTF-8", path.display()),
                );
                continue;
            }
            Err(e) => {
                cx.error(
                    name.span(),
                    format!("cannot include `{}`: {e}", path.display()),
                );
                continue;
            }
        };
        let index = cx.files.len();
        cx.files.push(Source {
            path: path.clone(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            text,
        });
        cx.set_file(Some(index));
        let file: RawStepsFile = match toml::from_str(&cx.files[index].text) {
            Ok(f) => f,
            Err(e) => {
                let at = e.span().map_or(0, |s| s.start);
                cx.error(at..at, e.message().trim().replace('\n', " "));
                continue;
            }
        };
        stack.push(key);
        walk(cx, &path, &file.include, stack, steps, origins, order);
        stack.pop();
        origins.extend(std::iter::repeat_n(Some(index), file.steps.len()));
        steps.extend(file.steps);
        order.push(index);
    }
    cx.set_file(here);
}

fn short(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

/// The runbook as one document: its own tables without `include`, the included steps in front
/// of its own. This is what a run records and keeps beside its journal.
pub(super) fn compose(cx: &Ctx<'_>, order: &[usize]) -> Result<Source, LoadError> {
    let fail = |message: String| {
        LoadError(vec![Diagnostic {
            path: cx.source.path.clone(),
            line: 1,
            column: 1,
            message,
        }])
    };
    let mut doc: toml::Table =
        toml::from_str(&cx.source.text).map_err(|e| fail(e.message().to_string()))?;
    doc.remove("include");
    let mut steps = Vec::new();
    for &i in order {
        let f = &cx.files[i];
        let mut t: toml::Table = toml::from_str(&f.text).map_err(|e| fail(e.to_string()))?;
        if let Some(toml::Value::Array(a)) = t.remove("steps") {
            steps.extend(a);
        }
    }
    if let Some(toml::Value::Array(own)) = doc.remove("steps") {
        steps.extend(own);
    }
    doc.insert("steps".into(), toml::Value::Array(steps));
    // Named relative to the runbook, so the digest does not depend on where it lies.
    let base = cx.source.path.parent().unwrap_or_else(|| Path::new(""));
    let names: Vec<String> = order
        .iter()
        .map(|&i| {
            let p = &cx.files[i].path;
            p.strip_prefix(base).unwrap_or(p).display().to_string()
        })
        .collect();
    let body = toml::to_string(&doc).map_err(|e| fail(e.to_string()))?;
    let text = format!(
        "# composed by rehearse from this runbook and the steps it includes: {}\n{body}",
        names.join(", ")
    );
    Ok(Source {
        path: cx.source.path.clone(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        text,
    })
}
