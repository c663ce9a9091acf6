//! Walking a repository for Python files.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use ignore::overrides::OverrideBuilder;

/// How to walk.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Do not honour `.gitignore`, `.ignore` and the built-in directory
    /// skips (virtualenvs, `node_modules`, caches).
    pub no_ignore: bool,
    /// Globs, relative to the root, whose files are reported as skipped.
    pub exclude: Vec<String>,
    pub follow_links: bool,
    /// Analyse test code too; by default it is reported as skipped.
    pub include_tests: bool,
}

/// A Python file found by the walk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the analysed root, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    /// Why the file is listed as skipped instead of read: it matched
    /// `--exclude`, is test code, or is a symbolic link that is not
    /// followed or leads nowhere.
    pub excluded: Option<String>,
}

/// A directory the walk did not enter, and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema, PartialEq)]
pub struct SkippedDir {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<SourceFile>,
    pub skipped_dirs: Vec<SkippedDir>,
}

/// Directory names never worth analysing: environments, caches, vendored
/// JavaScript. Their files are not part of the project's own code.
const SKIP_DIRS: &[(&str, &str)] = &[
    (".venv", "virtualenv"),
    ("venv", "virtualenv"),
    ("site-packages", "installed packages"),
    ("node_modules", "JavaScript dependencies"),
    ("__pycache__", "bytecode cache"),
    (".tox", "tox environments"),
    (".nox", "nox environments"),
    (".mypy_cache", "mypy cache"),
    (".pytest_cache", "pytest cache"),
];

pub fn discover(root: &Path, opts: &DiscoverOptions) -> Result<Discovered, ignore::Error> {
    let mut overrides = OverrideBuilder::new(root);
    for glob in &opts.exclude {
        overrides.add(glob)?;
    }
    let excludes = overrides.build()?;

    let skipped = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let no_ignore = opts.no_ignore;
    let root_buf = root.to_path_buf();
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(!no_ignore)
        .hidden(!no_ignore)
        .follow_links(opts.follow_links)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b));
    let skipped_ref = std::sync::Arc::clone(&skipped);
    builder.filter_entry(move |entry| {
        if no_ignore || !entry.file_type().is_some_and(|t| t.is_dir()) || entry.depth() == 0 {
            return true;
        }
        let name = entry.file_name().to_string_lossy();
        let reason = SKIP_DIRS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r)
            // A `.gitignore` rule such as `!.lint/` lets a hidden folder
            // back in; it is still tooling, not the project's code.
            .or_else(|| name.starts_with('.').then_some("hidden folder"))
            .or_else(|| {
                entry
                    .path()
                    .join("pyvenv.cfg")
                    .is_file()
                    .then_some("virtualenv")
            });
        match reason {
            Some(reason) => {
                let rel = relative(&root_buf, entry.path());
                skipped_ref
                    .lock()
                    .expect("no panics while holding the lock")
                    .push(SkippedDir {
                        path: rel,
                        reason: reason.to_string(),
                    });
                false
            }
            None => true,
        }
    });

    let mut files = Vec::new();
    let mut unentered = Vec::new();
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            // Unreadable folders and broken links: the walk goes on, and
            // what could not be entered or read is reported.
            Err(err) => {
                let (path, reason) = walk_error(&err);
                let path = path.unwrap_or_else(|| root.to_path_buf());
                let rel = relative(root, &path);
                if is_python(&path) && !path.is_dir() {
                    files.push(SourceFile {
                        rel,
                        abs: path,
                        excluded: Some(reason),
                    });
                } else {
                    unentered.push(SkippedDir {
                        path: if rel.is_empty() { ".".into() } else { rel },
                        reason,
                    });
                }
                continue;
            }
        };
        let path = entry.path();
        // Without `--follow-links` the walk does not look behind links:
        // they are listed, so a linked module or folder is not lost
        // without a word.
        if entry.path_is_symlink() && entry.file_type().is_some_and(|t| t.is_symlink()) {
            let target = std::fs::metadata(path);
            let rel = relative(root, path);
            match target {
                Ok(meta) if meta.is_dir() => unentered.push(SkippedDir {
                    path: rel,
                    reason: "symbolic link to a folder, not followed (--follow-links follows it)"
                        .into(),
                }),
                Ok(_) if is_python(path) => files.push(SourceFile {
                    rel,
                    abs: path.to_path_buf(),
                    excluded: Some(
                        "symbolic link, not followed (--follow-links follows it)".into(),
                    ),
                }),
                Err(_) if is_python(path) => files.push(SourceFile {
                    rel,
                    abs: path.to_path_buf(),
                    excluded: Some("broken symbolic link: its target does not exist".into()),
                }),
                _ => {}
            }
            continue;
        }
        if !entry.file_type().is_some_and(|t| t.is_file()) || !is_python(path) {
            continue;
        }
        let rel = relative(root, path);
        let excluded = excluded_by(&excludes, root, path).or_else(|| {
            (!opts.include_tests && is_test_code(&rel))
                .then(|| "test code (pass --include-tests to analyse it)".to_string())
        });
        files.push(SourceFile {
            rel,
            abs: path.to_path_buf(),
            excluded,
        });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut skipped_dirs =
        std::mem::take(&mut *skipped.lock().expect("no panics while holding the lock"));
    skipped_dirs.extend(unentered);
    skipped_dirs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Discovered {
        files,
        skipped_dirs,
    })
}

fn is_python(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "py" || e == "pyi")
}

/// The path a walk error is about, if it names one, and the reason in
/// words for the report.
fn walk_error(err: &ignore::Error) -> (Option<PathBuf>, String) {
    match err {
        ignore::Error::WithPath { path, err } => {
            let (inner, reason) = walk_error(err);
            (inner.or_else(|| Some(path.clone())), reason)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err)
        }
        ignore::Error::Partial(errs) => match errs.first() {
            Some(first) => walk_error(first),
            None => (None, err.to_string()),
        },
        ignore::Error::Loop { child, .. } => (
            Some(child.clone()),
            "symbolic link loop: it leads back to a folder above it".into(),
        ),
        ignore::Error::Io(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::PermissionDenied => "cannot read: permission denied".into(),
                std::io::ErrorKind::NotFound => {
                    "broken symbolic link: its target does not exist".into()
                }
                _ => format!("cannot read: {e}"),
            };
            (None, reason)
        }
        other => (None, other.to_string()),
    }
}

/// Whether a file is test code by the conventions pytest and unittest
/// projects follow: under a `tests`, `test` or `testing` folder, or named
/// `test_*.py`, `*_test.py`, `tests.py` or `conftest.py`.
pub fn is_test_code(rel: &str) -> bool {
    let (dirs, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let stem = file
        .strip_suffix(".py")
        .or_else(|| file.strip_suffix(".pyi"))
        .unwrap_or(file);
    dirs.split('/')
        .any(|d| matches!(d, "tests" | "test" | "testing"))
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || matches!(stem, "tests" | "conftest")
}

/// `path` relative to `root`, `/`-separated.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Which `--exclude` glob, if any, covers `path` or one of its folders.
fn excluded_by(excludes: &ignore::overrides::Override, root: &Path, path: &Path) -> Option<String> {
    if excludes.is_empty() {
        return None;
    }
    let mut cur = Some(path);
    let mut is_dir = false;
    while let Some(p) = cur {
        if p == root {
            break;
        }
        if excludes.matched(p, is_dir).is_whitelist() {
            return Some("excluded by --exclude".to_string());
        }
        cur = p.parent();
        is_dir = true;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::is_test_code;

    #[test]
    fn test_code_is_recognised_by_folder_and_file_name() {
        for test in [
            "tests/test_api.py",
            "app/tests/factories.py",
            "test/helpers.py",
            "pkg/testing/fixtures.py",
            "app/test_views.py",
            "app/views_test.py",
            "app/tests.py",
            "conftest.py",
        ] {
            assert!(is_test_code(test), "{test}");
        }
        for code in [
            "app/views.py",
            "app/testimonials.py",
            "contest/rules.py",
            "app/latest.py",
            "attestation/service.py",
        ] {
            assert!(!is_test_code(code), "{code}");
        }
    }
}
