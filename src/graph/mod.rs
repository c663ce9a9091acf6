//! Linking: the only step that looks at more than one file.
//!
//! [`Program::link`] takes every file's outcome and decides module names,
//! resolves imports into edges, and builds the indexes name resolution
//! needs. The analyses (module graph, and the framework maps) read a
//! [`Program`] and never touch the file system.

pub mod calls;
pub mod celery;
pub mod fastapi;
pub mod flows;
pub mod layout;
pub mod modgraph;
pub mod redis;
pub mod resolve;
pub mod services;
pub mod symbols;
pub mod tables;
pub mod unroll;
pub mod values;
pub mod wrappers;

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::scan::facts::{Expr, FileFacts, Stmt};
use crate::scan::{Outcome, Status};

pub use layout::{Layout, ModuleName};
pub use resolve::{ImportEdge, Resolution};
pub use symbols::Target;

/// One file, as the scan left it.
#[derive(Debug)]
pub struct FileRecord {
    /// Relative to the analysed root, `/`-separated.
    pub path: String,
    pub status: Status,
    pub reason: Option<String>,
    pub facts: Option<FileFacts>,
    pub module: Option<ModuleName>,
}

/// Every file with its facts, linked.
#[derive(Debug)]
pub struct Program {
    /// Sorted by path.
    pub files: Vec<FileRecord>,
    pub layout: Layout,
    /// Every import statement's resolution, sorted by (from, line, to).
    pub imports: Vec<ImportEdge>,
    pub path_index: HashMap<String, usize>,
    /// Dotted module name to file; where two files share a name (two roots
    /// with the same package), the first path wins.
    pub module_index: HashMap<String, usize>,
    /// Top-level names of namespace packages (folders without
    /// `__init__.py` that hold modules).
    pub namespace_tops: HashSet<String>,
    /// Per file, where each name is bound in each scope; built the first
    /// time a name is looked up in the file.
    bindings: Vec<std::sync::OnceLock<symbols::Bindings>>,
    /// `<anything>.state.<attr> = value` assignments by attribute, as
    /// `(file, scope, statement)`: built on first use.
    state_attrs: std::sync::OnceLock<StateIndex>,
}

/// Attribute name to `(file, scope, statement)` of its assignments.
type StateIndex = HashMap<String, Vec<(usize, u32, usize)>>;

impl Program {
    /// Links `(path, outcome)` pairs, given in any order.
    pub fn link(mut entries: Vec<(String, Outcome)>, user_roots: &[String]) -> Program {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let paths: Vec<String> = entries.iter().map(|(p, _)| p.clone()).collect();
        let mut entry_dirs: HashSet<String> = entries
            .iter()
            .filter(|(p, o)| {
                (p == "manage.py" || p.ends_with("/manage.py"))
                    && o.facts.as_ref().is_some_and(sets_django_settings)
            })
            .map(|(p, _)| layout::parent(p).to_string())
            .collect();
        let mut portions = HashSet::new();
        let mut layout = Layout::detect(&paths, user_roots, &entry_dirs, &portions);
        if user_roots.is_empty() {
            let imported = entries
                .iter()
                .filter_map(|(_, o)| o.facts.as_ref())
                .flat_map(|f| f.imports.iter())
                .filter(|i| i.level == 0)
                .map(|i| i.module.as_str());
            portions = layout.namespace_portions(imported);
            if !portions.is_empty() {
                layout = Layout::detect(&paths, user_roots, &entry_dirs, &portions);
            }
            let inferred = inferred_roots(&layout, &entries);
            if !inferred.is_empty() {
                entry_dirs.extend(inferred);
                layout = Layout::detect(&paths, user_roots, &entry_dirs, &portions);
            }
        }
        let mut files = Vec::with_capacity(entries.len());
        for (path, outcome) in entries {
            let module = layout.modules.get(&path).cloned();
            files.push(FileRecord {
                path,
                status: outcome.status,
                reason: outcome.reason,
                facts: outcome.facts,
                module,
            });
        }
        let path_index: HashMap<String, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let mut module_index = HashMap::new();
        let mut namespace_tops = HashSet::new();
        for (i, f) in files.iter().enumerate() {
            if let Some(m) = &f.module {
                module_index.entry(m.name.clone()).or_insert(i);
                if m.name.contains('.') {
                    let top = m.name.split('.').next().unwrap_or("");
                    let top_dir = layout::join(&m.root, top);
                    if layout.module_file(&top_dir, "").is_none() {
                        namespace_tops.insert(top.to_string());
                    }
                }
            }
        }
        let shared: resolve::SharedPaths = files
            .iter()
            .map(|f| (f.path.as_str(), std::sync::Arc::from(f.path.as_str())))
            .collect();
        // Each file's imports resolve on their own: in parallel, collected
        // in file order, then sorted (stably) as before.
        let mut imports: Vec<ImportEdge> = files
            .par_iter()
            .flat_map_iter(|f| {
                let mut edges = Vec::new();
                if let Some(facts) = &f.facts {
                    resolve::resolve_file(&layout, &shared, &f.path, &facts.imports, &mut edges);
                }
                edges
            })
            .collect();
        imports.par_sort_by(|a, b| {
            (&a.from, a.line, &a.to, &a.module).cmp(&(&b.from, b.line, &b.to, &b.module))
        });
        let mut program = Program {
            files,
            layout,
            imports,
            path_index,
            module_index,
            namespace_tops,
            bindings: Vec::new(),
            state_attrs: std::sync::OnceLock::new(),
        };
        program
            .bindings
            .resize_with(program.files.len(), Default::default);
        program.trace_reexports();
        program
    }

    /// Fills [`ImportEdge::reexported`]: for each name a first-party
    /// `from` import takes, the file that defines it when that is not the
    /// file imported.
    fn trace_reexports(&mut self) {
        // Lookups only read the program: one import per task, in parallel.
        let found: Vec<(usize, resolve::Origin)> = self
            .imports
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, e)| self.reexports_of(i, e))
            .collect();
        for (i, origin) in found {
            self.imports[i].reexported.push(origin);
        }
    }

    /// The origins of the names the import edge `e` (number `i`) takes.
    fn reexports_of(&self, i: usize, e: &ImportEdge) -> Vec<(usize, resolve::Origin)> {
        let mut found = Vec::new();
        let (Resolution::FirstParty, Some(to)) = (e.resolution, &e.to) else {
            return found;
        };
        let Some(to_idx) = self.file(to) else {
            return found;
        };
        for name in &e.names {
            let (file, line) = match self.lookup_module(to_idx, name, 0) {
                Target::Def { file, scope } => match self.scope(file, scope) {
                    Some(s) => (file, s.line),
                    None => continue,
                },
                Target::Value { file, line, .. } => (file, line),
                _ => continue,
            };
            if file != to_idx {
                let path = self.files[file].path.as_str().into();
                found.push((
                    i,
                    resolve::Origin {
                        name: name.clone(),
                        path,
                        line,
                    },
                ));
            }
        }
        found
    }

    /// The values stored as `X.state.<attr>` anywhere in the program:
    /// Starlette's `app.state` (and `request.state`) is a bag that a
    /// lifespan or startup handler fills and handlers read back as
    /// `request.app.state.<attr>`. Which object `X` is does not matter
    /// here: every assignment to that attribute is a candidate.
    pub fn state_values(&self, attr: &str) -> Vec<(usize, u32, &Expr)> {
        let index = self.state_attrs.get_or_init(|| {
            let mut index = StateIndex::new();
            for (fi, f) in self.files.iter().enumerate() {
                let Some(facts) = &f.facts else { continue };
                for (si, sc) in facts.scopes.iter().enumerate() {
                    for (ti, st) in sc.stmts.iter().enumerate() {
                        let Stmt::Assign {
                            targets,
                            value: Some(_),
                            augmented: false,
                            ..
                        } = st
                        else {
                            continue;
                        };
                        for t in targets {
                            if let Expr::Attr(base, name) = t
                                && matches!(&**base, Expr::Attr(_, s) if s == "state")
                            {
                                index
                                    .entry(name.to_string())
                                    .or_default()
                                    .push((fi, si as u32, ti));
                            }
                        }
                    }
                }
            }
            index
        });
        let Some(sites) = index.get(attr) else {
            return Vec::new();
        };
        sites
            .iter()
            .filter_map(|&(fi, si, ti)| {
                let st = self.files[fi].facts.as_ref()?.scopes[si as usize]
                    .stmts
                    .get(ti)?;
                match st {
                    Stmt::Assign { value: Some(v), .. } => Some((fi, si, v)),
                    _ => None,
                }
            })
            .collect()
    }

    /// Links in-memory sources, `(path, text)`, as if they had been scanned:
    /// for tests and tools that have code but no folder.
    pub fn from_sources(sources: &[(&str, &str)]) -> Program {
        let mut parser = crate::scan::python_parser();
        let entries = sources
            .iter()
            .map(|(path, text)| {
                let outcome = crate::scan::analyze_bytes(&mut parser, text.as_bytes());
                (path.to_string(), outcome)
            })
            .collect();
        Program::link(entries, &[])
    }

    /// Index of the file at `path`.
    pub fn file(&self, path: &str) -> Option<usize> {
        self.path_index.get(path).copied()
    }

    /// Files that were analysed, with their facts.
    pub fn analyzed(&self) -> impl Iterator<Item = (usize, &FileRecord, &FileFacts)> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.facts.as_ref().map(|facts| (i, f, facts)))
    }
}

/// Whether a module sets `DJANGO_SETTINGS_MODULE` (Django's `manage.py`
/// does, with `os.environ.setdefault`).
fn sets_django_settings(facts: &FileFacts) -> bool {
    facts.scopes.iter().any(|sc| {
        sc.stmts.iter().any(|st| {
            matches!(st, crate::scan::facts::Stmt::Call { call, .. }
                if call.args.first().and_then(crate::scan::facts::Expr::as_str)
                    == Some("DJANGO_SETTINGS_MODULE"))
        })
    })
}

/// Folders that the code below them treats as being on `sys.path`: it
/// imports their children by absolute name (`from queue_backend import
/// ...` in `workers/callback/tasks.py` with `workers/queue_backend/`),
/// while those names resolve from no detected root and are no known
/// third-party package. A service deployed from its own folder next to
/// others is the usual case; `workers/__init__.py` makes it look like a
/// package of the repository instead. Such a folder counts as a root when
/// more of these imports point into it than imports name it through the
/// package it otherwise belongs to, and none of its code imports
/// relatively up to it or beyond.
fn inferred_roots(layout: &Layout, entries: &[(String, Outcome)]) -> HashSet<String> {
    let resolves = |top: &str| {
        layout
            .roots
            .iter()
            .any(|r| layout.module_file(r, top).is_some() || layout.is_namespace_dir(r, top))
    };
    // Imports that only resolve from an ancestor folder, per folder.
    let mut votes: HashMap<String, usize> = HashMap::new();
    for (path, outcome) in entries {
        let Some(facts) = &outcome.facts else {
            continue;
        };
        for imp in facts.imports.iter().filter(|i| i.level == 0) {
            let top = imp.module.split('.').next().unwrap_or("");
            if top.is_empty()
                || tables::is_stdlib(top)
                || resolves(top)
                || tables::package_info(&tables::package_key(&imp.module)).is_some()
            {
                continue;
            }
            let mut d = layout::parent(path);
            while !d.is_empty() {
                if layout.module_file(d, top).is_some() || layout.is_namespace_dir(d, top) {
                    *votes.entry(d.to_string()).or_default() += 1;
                    break;
                }
                d = layout::parent(d);
            }
        }
    }
    votes.retain(|d, n| *n >= 2 && !layout.roots.contains(d));
    if votes.is_empty() {
        return HashSet::new();
    }
    // Imports from inside each folder that treat it as part of a package:
    // absolute ones through its package name, and relative ones that reach
    // the folder itself or above it (those would fail if it were a root).
    let mut through_package: HashMap<&str, usize> = HashMap::new();
    let mut climbs_out: HashSet<&str> = HashSet::new();
    for (path, outcome) in entries {
        let (Some(facts), Some(me)) = (&outcome.facts, layout.modules.get(path)) else {
            continue;
        };
        let own_top = me.name.split('.').next().unwrap_or("");
        let dir = layout::parent(path);
        for d in votes.keys() {
            if !path.starts_with(&format!("{d}/")) {
                continue;
            }
            for imp in &facts.imports {
                if imp.level == 0 {
                    if imp.module.split('.').next() == Some(own_top) {
                        *through_package.entry(d.as_str()).or_default() += 1;
                    }
                    continue;
                }
                let mut target = dir;
                for _ in 1..imp.level {
                    target = layout::parent(target);
                }
                if target == d || !target.starts_with(&format!("{d}/")) {
                    climbs_out.insert(d.as_str());
                }
            }
        }
    }
    votes
        .iter()
        .filter(|(d, _)| !climbs_out.contains(d.as_str()))
        .filter(|(d, n)| **n > through_package.get(d.as_str()).copied().unwrap_or(0))
        .map(|(d, _)| d.clone())
        .collect()
}
