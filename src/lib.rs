//! `explore` maps an unfamiliar Python backend from its routes down.
//!
//! The pipeline: [`scan`] finds files and extracts per-file facts (a pure
//! function of each file's bytes), [`queue`] decides who runs that step,
//! [`graph`] links the facts into a whole program and runs the analyses,
//! and [`report`] renders one model as Markdown, JSON, DOT or Mermaid.
//! [`cli`] is the command line on top.

pub mod cli;
pub mod graph;
pub mod queue;
pub mod report;
pub mod scan;

use std::path::Path;

use graph::Program;
use queue::{Executor, Limits};
use scan::{DiscoverOptions, SkippedDir};

/// Everything a run needs to know, free of any command-line types.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub discover: DiscoverOptions,
    pub limits: Limits,
    /// Import roots given by the user; detected when empty.
    pub roots: Vec<String>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            discover: DiscoverOptions::default(),
            limits: Limits {
                max_file_size: 4 * 1024 * 1024,
            },
            roots: Vec::new(),
        }
    }
}

/// A linked program plus what the walk passed over.
pub struct Analysis {
    pub program: Program,
    pub skipped_dirs: Vec<SkippedDir>,
}

/// Scans `root`, analyses every file with `executor` and links the result.
/// `on_found` learns the file count once the walk is done; `tick` is called
/// once per analysed file.
pub fn analyze(
    root: &Path,
    config: &ScanConfig,
    executor: &dyn Executor,
    on_found: &dyn Fn(usize),
    tick: &(dyn Fn() + Sync),
) -> Result<Analysis, ignore::Error> {
    let start = std::time::Instant::now();
    let found = scan::discover(root, &config.discover)?;
    timing("discover", start);
    on_found(found.files.len());
    let start = std::time::Instant::now();
    let outcomes = executor.analyze(&found.files, config.limits, tick);
    timing("analyse files", start);
    let start = std::time::Instant::now();
    let entries = found
        .files
        .iter()
        .map(|f| f.rel.clone())
        .zip(outcomes)
        .collect();
    let program = Program::link(entries, &config.roots);
    timing("link", start);
    Ok(Analysis {
        program,
        skipped_dirs: found.skipped_dirs,
    })
}

/// Prints how long a phase took, and the peak memory so far, when
/// `EXPLORE_TIMINGS` is set: a tool for profiling, not part of the interface.
pub fn timing(phase: &str, since: std::time::Instant) {
    if std::env::var_os("EXPLORE_TIMINGS").is_some() {
        let peak = peak_rss_kib().map_or(String::new(), |k| {
            format!(" (peak RSS so far {:.1} MiB)", k as f64 / 1024.0)
        });
        eprintln!(
            "explore: {phase}: {:.3} s{peak}",
            since.elapsed().as_secs_f64()
        );
    }
}

/// `VmHWM` from `/proc/self/status`, where there is one (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
