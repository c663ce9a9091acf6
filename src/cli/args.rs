//! Command-line arguments. Doc comments here become `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ScanConfig;
use crate::queue::Limits;
use crate::scan::DiscoverOptions;

const EXIT_CODES: &str = "\
Exit codes:
  0  the report was written (also when stdout is closed early, as with `| head`)
  2  bad arguments, or PATH does not exist or is not a folder
  3  the report could not be written

A file that cannot be read or parsed never stops the run: it is listed in the
report as skipped or failed, with the reason.";

/// Map an unfamiliar Python backend: modules, imports, routes, tasks.
///
/// `explore PATH` walks the folder, parses every Python file (without running
/// any of it) and writes a report: Markdown for people by default, JSON for
/// programs with `--format json`.
#[derive(Debug, Parser)]
#[command(name = "explore", version, args_conflicts_with_subcommands = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The full report (the same as `explore PATH`).
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// The route table: every route with its full path, handler and auth.
    #[command(after_help = EXIT_CODES)]
    Routes(RoutesArgs),
    /// Celery tasks with their queues and every place that enqueues them.
    #[command(after_help = EXIT_CODES)]
    Tasks(TasksArgs),
    /// Print the JSON Schema of `--format json` output.
    Schema,
    /// Print the facts extracted from one Python file, as JSON (for
    /// debugging the extractor).
    #[command(hide = true)]
    Facts {
        /// The Python file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RoutesArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = RoutesFormat::Text)]
    pub format: RoutesFormat,
    /// Write the table to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only routes answering METHOD: an HTTP method (GET, POST, PUT, PATCH,
    /// DELETE, OPTIONS, HEAD, TRACE, CONNECT), `ws` or `websocket` for
    /// websockets, `mount` for mounts; case-insensitive. Repeatable.
    #[arg(long, value_name = "METHOD", value_parser = route_method)]
    pub method: Vec<String>,
    /// Only routes whose full path starts with PREFIX.
    #[arg(long, value_name = "PREFIX")]
    pub path_prefix: Option<String>,
}

/// The most worker threads `-j` accepts. The scan is bound by the cores it
/// runs on; far more threads than that only cost memory (each has its own
/// stack), and a mistyped huge number could exhaust the machine.
pub const MAX_THREADS: u64 = 1024;

/// What `--method` accepts, upper-cased: a route filter naming anything
/// else would silently match nothing.
fn route_method(value: &str) -> Result<String, String> {
    const KNOWN: &[&str] = &[
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "HEAD",
        "TRACE",
        "CONNECT",
        "WS",
        "WEBSOCKET",
        "MOUNT",
    ];
    let upper = value.to_ascii_uppercase();
    if KNOWN.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(format!(
            "not an HTTP method, `ws`/`websocket` or `mount` (one of {})",
            KNOWN.join(", ")
        ))
    }
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = RoutesFormat::Text)]
    pub format: RoutesFormat,
    /// Write the table to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only tasks on QUEUE (and the sends that target them). Repeatable.
    #[arg(long, value_name = "QUEUE")]
    pub queue: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoutesFormat {
    /// An aligned table for the terminal.
    Text,
    /// One object with `schema_version`, `tool` and the selected entries,
    /// each as in the full report.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable walkthrough with Mermaid diagrams.
    Markdown,
    /// One JSON object; its schema is `schema/report.schema.json`.
    Json,
    /// The module graph for Graphviz.
    Dot,
    /// The package graph as a Mermaid flowchart.
    Mermaid,
}

/// What to scan and how.
#[derive(Debug, Args, Clone)]
pub struct ScanArgs {
    /// The folder to analyse.
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Also scan files that .gitignore/.ignore exclude, hidden folders, and
    /// virtualenvs, node_modules and caches.
    #[arg(long)]
    pub no_ignore: bool,
    /// Report files matching GLOB (relative to PATH) as skipped instead of
    /// analysing them. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Analyse test code too (folders named tests, test or testing, and
    /// files named test_*.py, *_test.py, tests.py, conftest.py). By default
    /// it is listed as skipped: its apps, routes and tasks are not the
    /// service's.
    #[arg(long)]
    pub include_tests: bool,
    /// An import root (a folder on sys.path), relative to PATH. Repeatable;
    /// replaces the detected roots.
    #[arg(long, value_name = "DIR")]
    pub root: Vec<String>,
    /// Files larger than this many bytes are skipped.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_file_size: u64,
    /// Follow symbolic links.
    #[arg(long)]
    pub follow_links: bool,
    /// Worker threads, at most 1024 (default, or 0: one per core).
    #[arg(long, short = 'j', value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_THREADS))]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl From<&ScanArgs> for ScanConfig {
    fn from(a: &ScanArgs) -> ScanConfig {
        ScanConfig {
            discover: DiscoverOptions {
                no_ignore: a.no_ignore,
                exclude: a.exclude.clone(),
                follow_links: a.follow_links,
                include_tests: a.include_tests,
            },
            limits: Limits {
                max_file_size: a.max_file_size,
            },
            roots: a.root.clone(),
        }
    }
}
