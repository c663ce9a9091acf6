//! Helpers shared by the integration tests: run the built binary the way a
//! user would and read its JSON.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

pub fn explore() -> Command {
    Command::cargo_bin("explore").expect("the explore binary is built")
}

/// `explore PATH --format json` with extra arguments; panics unless it
/// exits 0 with valid JSON on stdout.
pub fn report_json(path: &Path, extra: &[&str]) -> Value {
    let out = explore()
        .arg(path)
        .args(["--format", "json", "--quiet"])
        .args(extra)
        .output()
        .expect("explore runs");
    assert!(
        out.status.success(),
        "explore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// What `explore ARGS...` prints on stdout; panics unless it exits 0.
pub fn stdout_of(args: &[&std::ffi::OsStr]) -> String {
    let out = explore().args(args).output().expect("explore runs");
    assert!(
        out.status.success(),
        "explore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The Markdown report of a fixture.
pub fn markdown(fixture_name: &str) -> String {
    let path = fixture(fixture_name);
    stdout_of(&[path.as_os_str(), "--quiet".as_ref()])
}

/// `explore tasks` on a fixture, as a person reads it.
pub fn task_table(fixture_name: &str) -> String {
    let path = fixture(fixture_name);
    stdout_of(&["tasks".as_ref(), path.as_os_str()])
}

/// The first line of `text` that starts with `prefix`; panics if none does.
pub fn row<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
}

/// The line after the first one that starts with `prefix`.
pub fn line_after<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let mut lines = text.lines();
    lines.find(|l| l.starts_with(prefix))?;
    lines.next()
}

/// The entries of `array` whose `key` equals `value`.
pub fn select<'a>(array: &'a Value, key: &str, value: &str) -> Vec<&'a Value> {
    array
        .as_array()
        .expect("an array")
        .iter()
        .filter(|v| v[key] == value)
        .collect()
}

/// `(from, line, to-or-module, resolution, kind)` of every import.
pub fn edges(report: &Value) -> Vec<(String, u64, String, String, String)> {
    report["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap_or_default().to_string(),
                e["line"].as_u64().unwrap_or_default(),
                e["to"]
                    .as_str()
                    .or(e["module"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                e["resolution"].as_str().unwrap_or_default().to_string(),
                e["kind"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn edge(
    from: &str,
    line: u64,
    to: &str,
    resolution: &str,
    kind: &str,
) -> (String, u64, String, String, String) {
    (from.into(), line, to.into(), resolution.into(), kind.into())
}
