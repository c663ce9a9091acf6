//! Flows: what each route and each task ends up doing, and the Redis keys
//! that tie them together.
//!
//! A route's flow starts at its endpoint and its dependencies; a task's at
//! its function. Following calls ([`CallGraph`]) gives the functions each
//! one runs, and with them the work it enqueues and the Redis commands it
//! issues. A key written in one flow and read in another is a coupling:
//! the worker that writes `analysis:{}:progress` and the websocket that
//! polls it never call each other, and only the key shows they belong
//! together.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use super::Program;
use super::calls::{CallGraph, Def};
use super::celery::CeleryMap;
use super::fastapi::{DependencyKind, RouteKind, WebMap};
use super::redis::{Access, RedisMap};
use super::services::ServicesMap;
use crate::graph::fastapi::route_label;
use crate::scan::facts::ScopeKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Route,
    /// A lifespan function or startup/shutdown handler: runs in the web
    /// process, outside any request (often starting background loops).
    Lifecycle,
    Task,
}

impl EntryKind {
    /// Whether it runs in a Celery worker rather than the web process.
    fn in_worker(self) -> bool {
        self == EntryKind::Task
    }
}

/// What one route or task runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Flow {
    /// `GET /path` (or `WS /path`) for a route, the registered name for a
    /// task, `lifespan module:qualname` or `startup module:qualname` for
    /// the application's lifecycle.
    pub entry: String,
    pub kind: EntryKind,
    /// The endpoint or task function, `module:qualname`.
    pub function: String,
    /// First-party functions it reaches, in the order found, with the
    /// call that first leads to each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<FlowCall>,
    /// Work it sends to workers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enqueues: Vec<FlowSend>,
    /// Redis commands it issues.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redis: Vec<FlowRedis>,
    /// Analytics events it tracks (`file:line` of each in `services.events`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<FlowEvent>,
    /// Outgoing HTTP requests it makes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<FlowHttp>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlowEvent {
    /// The event name (text; `{}` for run-time parts).
    pub event: String,
    pub package: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlowHttp {
    pub method: String,
    /// The URL (text; `{}` for run-time parts).
    pub url: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlowCall {
    pub function: String,
    pub depth: u32,
    /// `file:line` of the call that leads to it.
    pub called_at: String,
    /// When the function is handed to another call that runs it rather
    /// than called directly: that call, as written
    /// (`background_tasks.add_task`, `run_in_threadpool`, `partial`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlowSend {
    /// The task's registered name (text; `{}` for run-time parts).
    pub task: String,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub function: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlowRedis {
    pub command: String,
    pub access: Access,
    /// Key patterns or channels; `{}` marks run-time parts.
    pub keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub file: String,
    pub line: u32,
}

/// A key or channel and the flows on each side of it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Coupling {
    pub key: String,
    /// `key` or `channel`.
    pub kind: String,
    /// Entries (routes, lifecycle hooks and tasks) that write or publish it.
    pub written_by: Vec<String>,
    /// Entries that read or subscribe to it.
    pub read_by: Vec<String>,
    /// Written in a worker and read in the web process (by a route or a
    /// lifecycle hook), or the other way round.
    pub crosses_processes: bool,
}

/// Every flow, and the couplings between them.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Flows {
    pub flows: Vec<Flow>,
    pub couplings: Vec<Coupling>,
}

/// `(file, scope)` of a `module:qualname` reference. Two roots can hold
/// modules of the same name (`backend/main.py` and `worker/main.py` are
/// both `main`): `at`, the path (or `path:line`) the reference was found
/// at, picks the right one.
fn def_of(program: &Program, reference: &str, at: Option<&str>) -> Option<Def> {
    let (module, qual) = reference.split_once(':')?;
    let hinted = at
        .map(|a| {
            a.rsplit_once(':')
                .filter(|(_, l)| l.parse::<u32>().is_ok())
                .map_or(a, |(p, _)| p)
        })
        .and_then(|p| program.file(p))
        .filter(|&f| {
            program.files[f]
                .module
                .as_ref()
                .is_some_and(|m| m.name == module)
        });
    let file = match hinted {
        Some(f) => f,
        None => *program.module_index.get(module)?,
    };
    let facts = program.files[file].facts.as_ref()?;
    let last = qual.rsplit('.').next()?;
    facts
        .scopes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == last && s.kind != ScopeKind::Module)
        .map(|(i, _)| i as u32)
        .find(|&i| program.python_qualname(file, i) == qual)
        .map(|i| (file, i))
}

pub fn build(
    program: &Program,
    web: &WebMap,
    celery: &CeleryMap,
    redis: &RedisMap,
    services: &ServicesMap,
) -> Flows {
    let mut graph = CallGraph::new(program);
    let mut roots: Vec<(String, EntryKind, String, Vec<Def>)> = Vec::new();
    let deps: HashMap<&str, (DependencyKind, Option<&str>)> = web
        .dependencies
        .iter()
        .map(|d| (d.target.as_str(), (d.kind, d.file.as_deref())))
        .collect();
    for r in &web.routes {
        let Some(handler) = r.handler.as_deref() else {
            continue;
        };
        let Some(def) = def_of(program, handler, r.handler_at.as_deref()) else {
            continue;
        };
        let mut defs = vec![def];
        // Dependencies run on every request to the route.
        for d in &r.all_dependencies {
            let (kind, at) = deps.get(d.as_str()).copied().unzip();
            let at = at.flatten();
            let found = match kind {
                Some(DependencyKind::Function | DependencyKind::Generator) => {
                    def_of(program, d, at)
                }
                Some(DependencyKind::CallableInstance) => {
                    def_of(program, d, at).and_then(|(f, s)| program.method_def(f, s, "__call__"))
                }
                _ => None,
            };
            defs.extend(found);
        }
        let label = route_label(r);
        if r.kind != RouteKind::Mount {
            roots.push((label, EntryKind::Route, handler.to_string(), defs));
        }
    }
    for app in &web.apps {
        let hooks = app
            .lifespan
            .iter()
            .map(|l| ("lifespan", l.handler.as_str(), Some(l.file.as_str())))
            .chain(
                app.events
                    .iter()
                    .map(|e| (e.event.as_str(), e.handler.as_str(), None)),
            );
        for (what, handler, at) in hooks {
            let Some(def) = def_of(program, handler, at) else {
                continue;
            };
            let label = format!("{what} {handler}");
            if !roots.iter().any(|r| r.0 == label) {
                roots.push((label, EntryKind::Lifecycle, handler.to_string(), vec![def]));
            }
        }
    }
    for t in &celery.tasks {
        let Some(name) = t.name.text() else { continue };
        let Some((f, s)) = def_of(program, &t.function, Some(&t.file)) else {
            continue;
        };
        // A class task runs its `run` method.
        let def = match program.scope(f, s).map(|sc| sc.kind) {
            Some(ScopeKind::Class) => match program.method_def(f, s, "run") {
                Some(m) => m,
                None => continue,
            },
            _ => (f, s),
        };
        roots.push((
            name.to_string(),
            EntryKind::Task,
            t.function.clone(),
            vec![def],
        ));
    }
    graph.runs_elsewhere(
        roots
            .iter()
            .filter(|r| r.1 == EntryKind::Task)
            .flat_map(|r| r.3.iter().copied()),
    );

    // What each function does, keyed by (file, `module:qualname`): two
    // roots may hold modules of the same name.
    let index = |items: Vec<(&'_ str, &'_ str)>| -> BTreeMap<(String, String), Vec<usize>> {
        let mut m: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, (file, function)) in items.into_iter().enumerate() {
            m.entry((file.to_string(), function.to_string()))
                .or_default()
                .push(i);
        }
        m
    };
    let sends_by_fn = index(
        celery
            .enqueues
            .iter()
            .map(|e| (e.file.as_str(), e.function.as_str()))
            .collect(),
    );
    let ops_by_fn = index(
        redis
            .operations
            .iter()
            .map(|op| (op.file.as_str(), op.function.as_deref().unwrap_or("")))
            .collect(),
    );
    let events_by_fn = index(
        services
            .events
            .iter()
            .map(|e| (e.file.as_str(), e.function.as_str()))
            .collect(),
    );
    let http_by_fn = index(
        services
            .http_calls
            .iter()
            .map(|h| (h.file.as_str(), h.function.as_str()))
            .collect(),
    );

    let mut flows = Vec::new();
    // Which entries reach each function: the basis of the couplings.
    let mut entries_of: HashMap<(String, String), BTreeSet<(EntryKind, String)>> = HashMap::new();
    for (entry, kind, function, defs) in roots {
        let mut calls = Vec::new();
        let mut reached: Vec<(String, String)> = Vec::new();
        for root in defs {
            for r in graph.reach(root) {
                let name = program.def_ref(r.def.0, r.def.1);
                let key = (program.files[r.def.0].path.clone(), name.clone());
                if reached.contains(&key) {
                    continue;
                }
                if let Some(((vf, _), line)) = r.via {
                    calls.push(FlowCall {
                        function: name.clone(),
                        depth: r.depth,
                        called_at: format!("{}:{line}", program.files[vf].path),
                        passed_to: r.passed_to.clone(),
                    });
                } else if name != function {
                    calls.push(FlowCall {
                        function: name.clone(),
                        depth: 0,
                        called_at: String::new(),
                        passed_to: None,
                    });
                }
                reached.push(key);
            }
        }
        calls.retain(|c| !c.called_at.is_empty() || c.depth > 0);
        let mut enqueues = Vec::new();
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let mut http = Vec::new();
        for f in &reached {
            for &i in events_by_fn.get(f).into_iter().flatten() {
                let e = &services.events[i];
                events.push(FlowEvent {
                    event: e.event.text().unwrap_or("{}").to_string(),
                    package: e.package.clone(),
                    file: e.file.clone(),
                    line: e.line,
                });
            }
            for &i in http_by_fn.get(f).into_iter().flatten() {
                let h = &services.http_calls[i];
                http.push(FlowHttp {
                    method: h.method.clone(),
                    url: h.url.text().unwrap_or("{}").to_string(),
                    file: h.file.clone(),
                    line: h.line,
                });
            }
            entries_of
                .entry(f.clone())
                .or_default()
                .insert((kind, entry.clone()));
            for &i in sends_by_fn.get(f).into_iter().flatten() {
                let e = &celery.enqueues[i];
                enqueues.push(FlowSend {
                    task: e.task.text().unwrap_or("{}").to_string(),
                    method: e.method.clone(),
                    queue: e.queue.clone(),
                    function: e.function.clone(),
                    file: e.file.clone(),
                    line: e.line,
                });
            }
            for &i in ops_by_fn.get(f).into_iter().flatten() {
                let op = &redis.operations[i];
                // Connection housekeeping (`close`, `ping`, `execute`) says
                // nothing about what the flow stores.
                if op.access == Access::Other {
                    continue;
                }
                // A key an object was given where this flow does not build
                // that object belongs to other flows.
                let keys: Vec<String> = op
                    .keys
                    .iter()
                    .filter(|k| match (&k.given_in_file, &k.given_in) {
                        (Some(gf), Some(g)) => reached.contains(&(gf.clone(), g.clone())),
                        _ => true,
                    })
                    .map(|k| k.key.text().unwrap_or("{}").to_string())
                    .collect();
                if keys.is_empty() && !op.keys.is_empty() {
                    continue;
                }
                ops.push(FlowRedis {
                    command: op.command.clone(),
                    access: op.access,
                    keys,
                    function: op.function.clone(),
                    file: op.file.clone(),
                    line: op.line,
                });
            }
        }
        flows.push(Flow {
            entry,
            kind,
            function,
            calls,
            enqueues,
            redis: ops,
            events,
            http,
        });
    }

    let mut couplings = Vec::new();
    for k in &redis.keys {
        let side = |uses: &[&super::redis::KeyUse]| -> BTreeSet<(EntryKind, String)> {
            let mut out = BTreeSet::new();
            for u in uses {
                let Some(f) = u.function.as_deref() else {
                    continue;
                };
                let Some(entries) = entries_of.get(&(u.file.clone(), f.to_string())) else {
                    continue;
                };
                // Only the entries that also build the object given the key.
                let given = match (&u.given_in_file, &u.given_in) {
                    (Some(gf), Some(g)) => entries_of.get(&(gf.clone(), g.clone())),
                    _ => None,
                };
                match (given, &u.given_in) {
                    (Some(g), _) => out.extend(entries.intersection(g).cloned()),
                    (None, Some(_)) => {}
                    (None, None) => out.extend(entries.iter().cloned()),
                }
            }
            out
        };
        // A glob (`psubscribe("scores.*")`, `scan_iter("job:*")`) stands
        // for the keys it matches: its users count on each of them.
        if k.glob && !k.matches.is_empty() {
            continue;
        }
        // `{}:{}` says nothing about which keys meet: two such patterns
        // are as likely different keys as the same one.
        if !has_literal_text(&k.key) {
            continue;
        }
        let globs: Vec<&super::redis::RedisKey> = redis
            .keys
            .iter()
            .filter(|g| g.glob && g.kind == k.kind && g.matches.contains(&k.key))
            .collect();
        let writers: Vec<&super::redis::KeyUse> = std::iter::once(k)
            .chain(globs.iter().copied())
            .flat_map(|x| x.writers.iter().chain(&x.publishers))
            .collect();
        let readers: Vec<&super::redis::KeyUse> = std::iter::once(k)
            .chain(globs.iter().copied())
            .flat_map(|x| x.readers.iter().chain(&x.subscribers))
            .collect();
        let (w, r) = (side(&writers), side(&readers));
        if w.is_empty() && r.is_empty() {
            continue;
        }
        let kinds = |s: &BTreeSet<(EntryKind, String)>| -> BTreeSet<EntryKind> {
            s.iter().map(|(k, _)| *k).collect()
        };
        let (wk, rk) = (kinds(&w), kinds(&r));
        let worker = |k: &BTreeSet<EntryKind>| k.iter().any(|k| k.in_worker());
        let web = |k: &BTreeSet<EntryKind>| k.iter().any(|k| !k.in_worker());
        let crosses = (worker(&wk) && web(&rk)) || (web(&wk) && worker(&rk));
        couplings.push(Coupling {
            key: k.key.clone(),
            kind: match k.kind {
                super::redis::KeyKind::Key => "key".into(),
                super::redis::KeyKind::Channel => "channel".into(),
            },
            written_by: w.into_iter().map(|(_, e)| e).collect(),
            read_by: r.into_iter().map(|(_, e)| e).collect(),
            crosses_processes: crosses,
        });
    }
    Flows { flows, couplings }
}

/// Whether a key pattern has a letter or digit outside its run-time parts.
fn has_literal_text(key: &str) -> bool {
    key.replace("{}", "").chars().any(char::is_alphanumeric)
}
