//! The report: one model, several writers.
//!
//! [`Report`] is the JSON schema (`schema/report.schema.json` describes it
//! for other programs); the Markdown, DOT and Mermaid writers render the
//! same value, so what a person reads and what a program reads cannot
//! drift apart. Every list is sorted by path and line, so the same input
//! gives byte-identical output whatever the thread count.

pub mod dot;
pub mod flows;
pub mod markdown;
pub mod mermaid;
pub mod services;
pub mod state;
pub mod tasks;
pub mod web;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::celery::{self, CeleryMap};
use crate::graph::fastapi::{self, WebMap};
use crate::graph::flows::Flows;
use crate::graph::modgraph::{self, Cycle};
use crate::graph::redis::{self, RedisMap};
use crate::graph::services::{self as outside, ServicesMap};
use crate::graph::tables;
use crate::graph::{ImportEdge, Program, Resolution};
use crate::scan::facts::{ScopeKind, Severity};
use crate::scan::{SkippedDir, Status};

/// Bumped on every change to the JSON shape that could break a reader:
/// a removed or renamed field, or a changed meaning. New fields do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `explore` found in one folder: files, modules and imports,
/// the web layer, background work, shared state, outside services and the
/// flows between them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// The analysed folder as given on the command line.
    pub root: String,
    pub summary: Summary,
    /// Import roots (folders on `sys.path`), `.` for the analysed folder.
    pub roots: Vec<String>,
    pub files: Vec<FileEntry>,
    /// Folders the scan did not enter, with the reason.
    pub skipped_dirs: Vec<SkippedDir>,
    pub modules: Vec<ModuleEntry>,
    pub imports: Vec<ImportEdge>,
    pub third_party: Vec<ThirdParty>,
    pub cycles: Vec<Cycle>,
    pub diagnostics: Vec<DiagnosticEntry>,
    /// The web layer: applications, routes, dependencies, models, settings.
    #[serde(flatten)]
    pub web: WebMap,
    /// Background work: Celery apps, tasks, enqueue sites, beat, signals.
    #[serde(flatten)]
    pub celery: CeleryMap,
    /// Shared state: Redis clients, every command, and the index of keys
    /// and channels with who writes and who reads each.
    pub redis: RedisMap,
    /// Outside services: SDK clients, analytics events, HTTP calls.
    pub services: ServicesMap,
    /// What each route and task runs, and the keys that couple them.
    #[serde(flatten)]
    pub flows: Flows,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Summary {
    pub files: usize,
    pub analyzed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub lines: u64,
    pub modules: usize,
    pub first_party_edges: usize,
    pub stdlib_modules: usize,
    pub third_party_packages: usize,
    pub unresolved_imports: usize,
    pub cycles: usize,
    pub diagnostics: usize,
    pub apps: usize,
    pub routes: usize,
    pub celery_apps: usize,
    pub tasks: usize,
    pub enqueue_sites: usize,
    pub redis_clients: usize,
    pub redis_operations: usize,
    pub redis_keys: usize,
    /// Keys or channels written in a worker and read in the web process,
    /// or the other way round.
    pub cross_process_keys: usize,
    pub analytics_events: usize,
    pub http_calls: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileEntry {
    pub path: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ModuleEntry {
    pub name: String,
    pub path: String,
    pub is_package: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    pub fan_in: usize,
    pub fan_out: usize,
    pub definitions: Vec<Definition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Definition {
    pub name: String,
    /// `function`, `async_function` or `class`.
    pub kind: &'static str,
    pub line: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decorators: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ThirdParty {
    /// The import name it is grouped under (`sentry_sdk`, `google.cloud.storage`).
    pub package: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    /// What it is for, from the shipped catalogue; `other` when unknown.
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// Files importing it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DiagnosticEntry {
    pub path: String,
    pub line: u32,
    pub severity: Severity,
    pub message: String,
}

impl Report {
    /// Runs every analysis over `program` and gathers the results. The
    /// program's import list moves into the report rather than being
    /// copied (it is the longest list of both); the rest of the program is
    /// left as it was.
    pub fn build(root: &str, program: &mut Program, skipped_dirs: Vec<SkippedDir>) -> Report {
        let mut report = Report::gather(root, program, skipped_dirs);
        report.imports = std::mem::take(&mut program.imports);
        report
    }

    /// Everything but the import list, which is left empty.
    fn gather(root: &str, program: &Program, skipped_dirs: Vec<SkippedDir>) -> Report {
        // The analyses read the program and nothing else, so they run side
        // by side; the report waits for the slowest.
        let (graph, (web, celery, redis, services)) = rayon::join(
            || timed("module graph", || modgraph::build(program)),
            || {
                let ((web, celery), (redis, services)) = rayon::join(
                    || {
                        rayon::join(
                            || timed("web layer", || fastapi::analyze(program)),
                            || timed("celery", || celery::analyze(program)),
                        )
                    },
                    || {
                        rayon::join(
                            || timed("redis", || redis::redis_map(program)),
                            || timed("outside services", || outside::services_map(program)),
                        )
                    },
                );
                (web, celery, redis, services)
            },
        );
        let start = std::time::Instant::now();
        let mut summary = Summary::default();
        let mut files = Vec::new();
        let mut modules = Vec::new();
        let mut diagnostics = Vec::new();
        for f in &program.files {
            summary.files += 1;
            match f.status {
                Status::Analyzed => summary.analyzed += 1,
                Status::Skipped => summary.skipped += 1,
                Status::Failed => summary.failed += 1,
            }
            let lines = f.facts.as_ref().map(|x| x.lines);
            summary.lines += u64::from(lines.unwrap_or(0));
            files.push(FileEntry {
                path: f.path.clone(),
                status: f.status,
                reason: f.reason.clone(),
                module: f.module.as_ref().map(|m| m.name.clone()),
                lines,
            });
            let (Some(facts), Some(m)) = (&f.facts, &f.module) else {
                continue;
            };
            for d in &facts.diagnostics {
                diagnostics.push(DiagnosticEntry {
                    path: f.path.clone(),
                    line: d.line,
                    severity: d.severity,
                    message: d.message.clone(),
                });
            }
            let definitions = facts
                .scopes
                .iter()
                .filter(|s| s.parent == Some(0))
                .map(|s| Definition {
                    name: s.name.to_string(),
                    kind: match (s.kind, s.is_async) {
                        (ScopeKind::Class, _) => "class",
                        (_, true) => "async_function",
                        _ => "function",
                    },
                    line: s.line,
                    bases: s.bases.iter().map(render_expr).collect(),
                    decorators: s.decorators.iter().map(render_expr).collect(),
                    conditional: s.conditional,
                })
                .collect();
            modules.push(ModuleEntry {
                name: m.name.clone(),
                path: f.path.clone(),
                is_package: m.is_package,
                doc: facts.doc.clone(),
                fan_in: graph.fan_in.get(&f.path).copied().unwrap_or(0),
                fan_out: graph.fan_out.get(&f.path).copied().unwrap_or(0),
                definitions,
                all: facts.all.clone(),
            });
        }

        let mut third: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stdlib = std::collections::BTreeSet::new();
        for e in &program.imports {
            match e.resolution {
                Resolution::ThirdParty => {
                    let users = third
                        .entry(e.package.as_deref().unwrap_or_default().to_string())
                        .or_default();
                    if users.last().map(String::as_str) != Some(&*e.from) {
                        users.push(e.from.to_string());
                    }
                }
                Resolution::Stdlib => {
                    stdlib.insert(e.package.as_deref().unwrap_or_default().to_string());
                }
                Resolution::Unresolved => summary.unresolved_imports += 1,
                Resolution::FirstParty => {}
            }
        }
        let third_party: Vec<ThirdParty> = third
            .into_iter()
            .map(|(package, mut used_by)| {
                used_by.sort();
                used_by.dedup();
                let info = tables::package_info(&package);
                ThirdParty {
                    distribution: info.map(|i| i.distribution.to_string()),
                    category: info.map_or("other", |i| i.category).to_string(),
                    description: info.map(|i| i.description.to_string()),
                    docs: info.map(|i| i.docs.to_string()),
                    package,
                    used_by,
                }
            })
            .collect();

        summary.modules = modules.len();
        summary.first_party_edges = graph.edges.len();
        summary.stdlib_modules = stdlib.len();
        summary.third_party_packages = third_party.len();
        summary.cycles = graph.cycles.len();
        summary.diagnostics = diagnostics.len();
        crate::timing("files, modules and imports", start);
        summary.apps = web.apps.len();
        summary.routes = web.routes.len();
        summary.celery_apps = celery.celery_apps.len();
        summary.tasks = celery.tasks.len();
        summary.enqueue_sites = celery.enqueues.len();
        summary.redis_clients = redis.clients.len();
        summary.redis_operations = redis.operations.len();
        summary.redis_keys = redis.keys.len();
        summary.analytics_events = services.events.len();
        summary.http_calls = services.http_calls.len();
        let flows = timed("flows", || {
            crate::graph::flows::build(program, &web, &celery, &redis, &services)
        });
        summary.cross_process_keys = flows
            .couplings
            .iter()
            .filter(|c| c.crosses_processes)
            .count();

        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "explore",
                version: env!("CARGO_PKG_VERSION"),
            },
            root: root.to_string(),
            summary,
            roots: program
                .layout
                .roots
                .iter()
                .map(|r| {
                    if r.is_empty() {
                        ".".to_string()
                    } else {
                        r.clone()
                    }
                })
                .collect(),
            files,
            skipped_dirs,
            modules,
            imports: Vec::new(),
            third_party,
            cycles: graph.cycles,
            diagnostics,
            web,
            celery,
            redis,
            services,
            flows,
        }
    }
}

/// A folded value for Markdown: its text as code (`{}` for run-time
/// parts), or, when it is not known at all, the reason in plain words, so
/// that a reason quoting code never nests inside a code span.
pub(crate) fn code(v: &crate::graph::values::StrValue) -> String {
    use crate::graph::values::StrValue;
    match v {
        StrValue::Known { value, .. } | StrValue::Pattern { value } => {
            if value.contains('`') {
                format!("`` {value} ``")
            } else {
                format!("`{value}`")
            }
        }
        StrValue::Dynamic { reason } => format!("(known at run time: {reason})"),
    }
}

/// Runs `f`, reporting its time as `phase` under `EXPLORE_TIMINGS`.
fn timed<T>(phase: &str, f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    crate::timing(phase, start);
    out
}

/// Text safe inside a Markdown table cell.
/// `1 route`, `3 routes`.
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The JSON Schema of [`Report`], as published in `schema/report.schema.json`.
pub fn json_schema() -> String {
    // Describe what the writer emits: fields skipped when empty are optional.
    let generator = schemars::generate::SchemaSettings::default()
        .for_serialize()
        .into_generator();
    let schema = generator.into_root_schema_for::<Report>();
    let mut s = serde_json::to_string_pretty(&schema).expect("the schema serialises");
    s.push('\n');
    s
}

/// Source-like text of an expression, for display.
pub fn render_expr(e: &crate::scan::facts::Expr) -> String {
    use crate::scan::facts::{Expr, FPart};
    match e {
        Expr::Name(n) => n.to_string(),
        Expr::Attr(b, a) => format!("{}.{a}", render_expr(b)),
        Expr::Str(s) => format!("{s:?}"),
        Expr::FStr(parts) => {
            let inner: String = parts
                .iter()
                .map(|p| match p {
                    FPart::Lit(l) => l.to_string(),
                    FPart::Hole(h) => format!("{{{}}}", render_expr(h)),
                })
                .collect();
            format!("f{inner:?}")
        }
        Expr::Num(n) => n.to_string(),
        Expr::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Expr::None => "None".into(),
        Expr::Call(c) => {
            let mut args: Vec<String> = c.args.iter().map(render_expr).collect();
            args.extend(c.kwargs.iter().map(|k| match &k.name {
                Some(n) => format!("{n}={}", render_expr(&k.value)),
                None => format!("**{}", render_expr(&k.value)),
            }));
            format!("{}({})", render_expr(&c.func), args.join(", "))
        }
        Expr::List(v) => format!(
            "[{}]",
            v.iter().map(render_expr).collect::<Vec<_>>().join(", ")
        ),
        // A one-element tuple keeps its comma: `("weekly",)`.
        Expr::Tuple(v) if v.len() == 1 => format!("({},)", render_expr(&v[0])),
        Expr::Tuple(v) => format!(
            "({})",
            v.iter().map(render_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Set(v) => format!(
            "{{{}}}",
            v.iter().map(render_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Dict(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| match k {
                    Expr::DoubleStarred(inner) => format!("**{}", render_expr(inner)),
                    _ => format!("{}: {}", render_expr(k), render_expr(v)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Subscript(b, s) => {
            format!(
                "{}[{}]",
                render_expr(b),
                s.iter().map(render_expr).collect::<Vec<_>>().join(", ")
            )
        }
        Expr::BinOp(l, op, r) => {
            let op = match op {
                crate::scan::facts::BinOp::Add => "+",
                crate::scan::facts::BinOp::Mod => "%",
                crate::scan::facts::BinOp::BitOr => "|",
                crate::scan::facts::BinOp::Other => "?",
            };
            format!("{} {op} {}", render_expr(l), render_expr(r))
        }
        Expr::Starred(x) => format!("*{}", render_expr(x)),
        Expr::DoubleStarred(x) => format!("**{}", render_expr(x)),
        Expr::Await(x) => format!("await {}", render_expr(x)),
        Expr::Comprehension(x) => format!("({} for ...)", render_expr(x)),
        Expr::Lambda => "lambda ...".into(),
        Expr::OneOf(v) => match v.as_slice() {
            [a, b] => format!("{} or else {}", render_expr(a), render_expr(b)),
            _ => v.iter().map(render_expr).collect::<Vec<_>>().join(" | "),
        },
        Expr::Other(k) => format!("<{k}>"),
    }
}
