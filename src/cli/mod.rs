//! The command line: argument parsing, progress, output and exit codes.
//! No analysis happens here; arguments become a [`ScanConfig`] and the
//! library does the rest.

mod args;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

pub use args::{Cli, Command, Format, RoutesArgs, RoutesFormat, ScanArgs, TasksArgs};

use crate::queue::Local;
use crate::report::Report;
use crate::{Analysis, ScanConfig, analyze};

/// Exit statuses, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The report was written.
    Success = 0,
    /// Bad arguments, or a path that does not exist or is not a folder.
    BadInput = 2,
    /// The report could not be written (disk full, permission denied).
    OutputError = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Success
            };
            let _ = err.print();
            return code.into();
        }
    };
    run(cli).into()
}

fn run(cli: Cli) -> Exit {
    let (scan, format, output) = match cli.command {
        Some(Command::Report(r)) => (r.scan, r.format, r.output),
        Some(Command::Routes(r)) => return routes(&r),
        Some(Command::Tasks(t)) => return tasks(&t),
        Some(Command::Schema) => return emit(&crate::report::json_schema(), None),
        Some(Command::Facts { file }) => return dump_facts(&file),
        None => (cli.report.scan, cli.report.format, cli.report.output),
    };
    let Some(path) = scan.path.clone() else {
        eprintln!("explore: error: no folder given (try `explore .`)");
        return Exit::BadInput;
    };
    let analysis = match run_scan(&path, &scan) {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let start = std::time::Instant::now();
    let mut program = analysis.program;
    let report = Report::build(
        &path.display().to_string(),
        &mut program,
        analysis.skipped_dirs,
    );
    crate::timing("build the report", start);
    // The process ends once the report is out, and the operating system
    // takes its memory back at once: freeing millions of small facts one
    // by one first would only cost time.
    std::mem::forget(program);
    let start = std::time::Instant::now();
    let exit = match format {
        // Streamed: the JSON (25 MB on a large codebase) is never held
        // whole in memory.
        Format::Json => write_to(output.as_deref(), |out| {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            out.write_all(b"\n")
        }),
        Format::Markdown => emit(&crate::report::markdown::write(&report), output.as_deref()),
        Format::Dot => emit(&crate::report::dot::write(&report), output.as_deref()),
        Format::Mermaid => emit(
            &crate::report::mermaid::package_graph(&report)
                .unwrap_or_else(|| "flowchart LR\n".into()),
            output.as_deref(),
        ),
    };
    crate::timing("render and write the report", start);
    std::mem::forget(report);
    exit
}

/// `explore routes`: the route table, filtered.
fn routes(args: &RoutesArgs) -> Exit {
    let Some(path) = args.scan.path.clone() else {
        eprintln!("explore: error: no folder given (try `explore routes .`)");
        return Exit::BadInput;
    };
    let analysis = match run_scan(&path, &args.scan) {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let web = crate::graph::fastapi::analyze(&analysis.program);
    let methods: Vec<String> = args.method.iter().map(|m| m.to_ascii_uppercase()).collect();
    let selected: Vec<&crate::graph::fastapi::Route> = web
        .routes
        .iter()
        .filter(|r| {
            methods.is_empty()
                || methods.iter().any(|m| match r.kind {
                    crate::graph::fastapi::RouteKind::Websocket => m == "WS" || m == "WEBSOCKET",
                    crate::graph::fastapi::RouteKind::Mount => m == "MOUNT",
                    crate::graph::fastapi::RouteKind::Http => r.methods.contains(m),
                })
        })
        .filter(|r| {
            args.path_prefix
                .as_deref()
                .is_none_or(|p| r.path.starts_with(p))
        })
        .collect();
    let text = match args.format {
        RoutesFormat::Text => crate::report::web::route_table(&selected),
        RoutesFormat::Json => {
            let doc = serde_json::json!({
                "schema_version": crate::report::SCHEMA_VERSION,
                "tool": {"name": "explore", "version": env!("CARGO_PKG_VERSION")},
                "routes": selected,
            });
            let mut s = serde_json::to_string_pretty(&doc).expect("the routes serialise");
            s.push('\n');
            s
        }
    };
    emit(&text, args.output.as_deref())
}

/// `explore tasks`: tasks with their queues and enqueue sites.
fn tasks(args: &TasksArgs) -> Exit {
    let Some(path) = args.scan.path.clone() else {
        eprintln!("explore: error: no folder given (try `explore tasks .`)");
        return Exit::BadInput;
    };
    let analysis = match run_scan(&path, &args.scan) {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let mut map = crate::graph::celery::analyze(&analysis.program);
    if !args.queue.is_empty() {
        map.tasks.retain(|t| args.queue.contains(&t.queue));
        let names: Vec<String> = map
            .tasks
            .iter()
            .filter_map(|t| t.name.as_known().map(str::to_string))
            .collect();
        map.enqueues.retain(|e| {
            e.task
                .as_known()
                .is_some_and(|n| names.iter().any(|x| x == n))
        });
    }
    let text = match args.format {
        RoutesFormat::Text => crate::report::tasks::task_table(&map),
        RoutesFormat::Json => {
            let doc = serde_json::json!({
                "schema_version": crate::report::SCHEMA_VERSION,
                "tool": {"name": "explore", "version": env!("CARGO_PKG_VERSION")},
                "celery_apps": map.celery_apps,
                "tasks": map.tasks,
                "enqueues": map.enqueues,
                "beat": map.beat,
                "signals": map.signals,
            });
            let mut s = serde_json::to_string_pretty(&doc).expect("the tasks serialise");
            s.push('\n');
            s
        }
    };
    emit(&text, args.output.as_deref())
}

/// Validates the path, then scans it with a progress bar when stderr is a
/// terminal.
fn run_scan(path: &Path, scan: &ScanArgs) -> Result<Analysis, Exit> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            eprintln!("explore: error: {} is not a folder", path.display());
            return Err(Exit::BadInput);
        }
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no such folder".to_string()
            } else {
                e.to_string()
            };
            eprintln!("explore: error: {}: {why}", path.display());
            return Err(Exit::BadInput);
        }
    }
    let config = ScanConfig::from(scan);
    let show = !scan.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_message("finding Python files");
    let on_found = |n: usize| {
        bar.set_length(n as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} analysing {pos}/{len} files {wide_bar} {elapsed}",
            )
            .expect("the template is valid"),
        );
    };
    let tick = || bar.inc(1);
    // The global pool, so that the analyses after the scan keep to
    // `--threads` too. It can only be set once per process; a second scan
    // in the same process keeps the first setting.
    let workers = worker_count(scan.threads);
    share_malloc_arenas(workers);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build_global();
    let result = analyze(path, &config, &Local, &on_found, &tick);
    bar.finish_and_clear();
    result.map_err(|e| {
        eprintln!("explore: error: {}", one_line(&e.to_string()));
        Exit::BadInput
    })
}

/// The size of the worker pool: `--threads` when given and not 0, else
/// what rayon would choose (`RAYON_NUM_THREADS`, else one per core).
fn worker_count(requested: Option<usize>) -> usize {
    requested
        .filter(|&n| n > 0)
        .or_else(|| {
            std::env::var("RAYON_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n: &usize| n > 0)
        })
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// glibc's malloc gives each thread that allocates an arena of its own, up
/// to eight per core. The main thread links the program and lays out the
/// report after the workers are done; in an arena of its own, it cannot
/// reuse the room freed syntax trees left in the workers' arenas. Capping
/// the arenas at the number of workers makes it share one: on Home
/// Assistant's 6,454 files, 8 MiB less at the peak and no slower.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn share_malloc_arenas(workers: usize) {
    let arenas = libc::c_int::try_from(workers.max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only changes a setting of the allocator, which
    // glibc makes safe to call at any time; it is called before the worker
    // threads start, so they all see it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn share_malloc_arenas(_workers: usize) {}

fn dump_facts(file: &Path) -> Exit {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("explore: error: {}: {e}", file.display());
            return Exit::BadInput;
        }
    };
    let outcome = crate::scan::analyze_bytes(&mut crate::scan::python_parser(), &bytes);
    let mut text = serde_json::to_string_pretty(&outcome).expect("facts serialise");
    text.push('\n');
    emit(&text, None)
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// Writes the report to `output` or stdout. A closed pipe (`explore . |
/// head`) is not an error.
fn emit(text: &str, output: Option<&Path>) -> Exit {
    write_to(output, |out| out.write_all(text.as_bytes()))
}

/// Runs `write` on a buffered `output` file or stdout, then flushes it.
/// A closed pipe (`explore . | head`) is not an error.
fn write_to(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Exit {
    let result = match output {
        Some(path) => std::fs::File::create(path)
            .and_then(|file| {
                let mut out = std::io::BufWriter::new(file);
                write(&mut out)?;
                out.flush()
            })
            .map_err(|e| (path.display().to_string(), e)),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out)
                .and_then(|()| out.flush())
                .map_err(|e| ("stdout".to_string(), e))
        }
    };
    match result {
        Ok(()) => Exit::Success,
        Err((_, e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        Err((target, e)) => {
            eprintln!("explore: error: cannot write {target}: {e}");
            Exit::OutputError
        }
    }
}

#[cfg(test)]
mod tests {
    use super::worker_count;

    #[test]
    fn threads_flag_sets_the_pool_size() {
        assert_eq!(worker_count(Some(3)), 3);
        assert_eq!(worker_count(Some(1)), 1);
    }

    #[test]
    fn zero_or_no_flag_falls_back_to_a_positive_default() {
        assert!(worker_count(Some(0)) >= 1);
        assert_eq!(worker_count(Some(0)), worker_count(None));
    }
}
