//! Name resolution across modules.
//!
//! Framework analyses ask one question over and over: "what is this name
//! here?" — is `router` the `APIRouter()` assigned in this module, the one
//! imported under an alias from a package `__init__`, or `fastapi.APIRouter`
//! itself? [`Program::resolve`] answers it by following local assignments,
//! imports, re-exports and star imports, statically and without guessing:
//! what it cannot follow is [`Target::Unknown`].

use crate::scan::facts::{Expr, Import, Scope, ScopeKind, Stmt};

use super::Program;

/// Where names are bound in one file: for each scope and name, the
/// definitions, assignments and imports that may bind it, so that looking
/// a name up does not scan every scope, statement and import of the file.
/// Entries are keyed by a hash of (scope, name): a lookup gets a superset
/// of the bindings in source order, and checks each one.
#[derive(Debug, Default)]
pub struct Bindings {
    /// Sorted by key; entries with the same key stay in insertion order.
    entries: Vec<(u64, Binding)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// A class or function: its scope index.
    Def(u32),
    /// An assignment: its index among the scope's statements.
    Assign(u32),
    /// An import: its index among the file's imports.
    Import(u32),
}

impl Bindings {
    fn of(scopes: &[Scope], imports: &[Import]) -> Bindings {
        let mut entries = Vec::new();
        for (i, s) in scopes.iter().enumerate() {
            if let Some(parent) = s.parent {
                entries.push((key(parent, &s.name), Binding::Def(i as u32)));
            }
        }
        for (si, s) in scopes.iter().enumerate() {
            for (i, st) in s.stmts.iter().enumerate() {
                if let Stmt::Assign {
                    targets,
                    value: Some(_),
                    augmented: false,
                    ..
                } = st
                {
                    let first = entries.len();
                    for t in targets {
                        if let Expr::Name(n) = t {
                            let entry = (key(si as u32, n), Binding::Assign(i as u32));
                            if !entries[first..].contains(&entry) {
                                entries.push(entry);
                            }
                        }
                    }
                }
            }
        }
        for (i, imp) in imports.iter().enumerate() {
            let first = entries.len();
            let mut add = |name: &str| {
                let entry = (key(imp.scope, name), Binding::Import(i as u32));
                if !entries[first..].contains(&entry) {
                    entries.push(entry);
                }
            };
            if !imp.from {
                match &imp.alias {
                    Some(alias) => add(alias),
                    None => add(imp.module.split('.').next().unwrap_or("")),
                }
            } else {
                imp.names.iter().for_each(|n| add(n.bound()));
            }
        }
        entries.sort_by_key(|e| e.0);
        Bindings { entries }
    }

    fn candidates(&self, scope: u32, name: &str) -> impl Iterator<Item = Binding> + '_ {
        let k = key(scope, name);
        let start = self.entries.partition_point(|e| e.0 < k);
        self.entries[start..]
            .iter()
            .take_while(move |e| e.0 == k)
            .map(|e| e.1)
    }
}

/// FNV-1a over the scope index and the name.
fn key(scope: u32, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scope.to_le_bytes().iter().chain(name.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether `st` is a plain assignment with a value that binds `name`.
fn assigns(st: &Stmt, name: &str) -> bool {
    matches!(st, Stmt::Assign { targets, value: Some(_), augmented: false, .. }
        if targets.iter().any(|t| matches!(t, Expr::Name(n) if n == name)))
}

/// What a name or attribute chain refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target<'p> {
    /// A first-party module.
    Module(usize),
    /// A function or class defined in first-party code.
    Def {
        file: usize,
        scope: u32,
    },
    /// A name bound by assignment; `value` is evaluated in `scope` of `file`.
    Value {
        file: usize,
        scope: u32,
        line: u32,
        value: &'p Expr,
    },
    /// Something outside the analysed code, by its dotted path
    /// (`fastapi.APIRouter`, `redis.asyncio.Redis`).
    External(String),
    Unknown,
}

const MAX_HOPS: u32 = 24;

impl Program {
    pub fn scope(&self, file: usize, scope: u32) -> Option<&Scope> {
        self.files[file].facts.as_ref()?.scopes.get(scope as usize)
    }

    /// Resolves a name or attribute chain seen in `scope` of `file`.
    pub fn resolve<'p>(&'p self, file: usize, scope: u32, expr: &Expr) -> Target<'p> {
        self.resolve_hops(file, scope, expr, 0)
    }

    fn resolve_hops<'p>(&'p self, file: usize, scope: u32, expr: &Expr, hops: u32) -> Target<'p> {
        if hops > MAX_HOPS {
            return Target::Unknown;
        }
        match expr {
            Expr::Name(name) => self.lookup_in_scope(file, scope, name, hops + 1),
            Expr::Attr(base, attr) => {
                let base = self.resolve_hops(file, scope, base, hops + 1);
                self.member(base, attr, hops + 1)
            }
            _ => Target::Unknown,
        }
    }

    /// `target.attr`.
    pub fn member<'p>(&'p self, target: Target<'p>, attr: &str, hops: u32) -> Target<'p> {
        match target {
            Target::Module(f) => self.lookup_module(f, attr, hops + 1),
            Target::External(path) => Target::External(format!("{path}.{attr}")),
            Target::Def { file, scope } => {
                let Some(s) = self.scope(file, scope) else {
                    return Target::Unknown;
                };
                if s.kind != ScopeKind::Class {
                    return Target::Unknown;
                }
                self.binding_in(file, scope, attr, u32::MAX, hops + 1)
                    .unwrap_or(Target::Unknown)
            }
            Target::Value {
                file, scope, value, ..
            } => {
                // Follow aliases (`r = router`) but not computed values.
                if matches!(value, Expr::Name(_) | Expr::Attr(..)) {
                    let inner = self.resolve_hops(file, scope, value, hops + 1);
                    self.member(inner, attr, hops + 1)
                } else {
                    Target::Unknown
                }
            }
            Target::Unknown => Target::Unknown,
        }
    }

    /// A name as seen from `scope`: the scope itself, enclosing functions,
    /// then the module (class bodies are not enclosing scopes in Python).
    fn lookup_in_scope<'p>(&'p self, file: usize, scope: u32, name: &str, hops: u32) -> Target<'p> {
        let mut cur = Some(scope);
        let mut first = true;
        while let Some(s) = cur {
            let Some(sc) = self.scope(file, s) else { break };
            if s == 0 {
                break;
            }
            if (first || sc.kind == ScopeKind::Function)
                && let Some(t) = self.binding_in(file, s, name, u32::MAX, hops)
            {
                return t;
            }
            // A function's parameters shadow outer names; their values are
            // not known statically.
            if sc.kind == ScopeKind::Function && sc.params.iter().any(|p| p.name == name) {
                return Target::Unknown;
            }
            first = false;
            cur = sc.parent;
        }
        self.lookup_module(file, name, hops)
    }

    /// A module-level name of `file`, following imports and re-exports.
    pub fn lookup_module<'p>(&'p self, file: usize, name: &str, hops: u32) -> Target<'p> {
        if hops > MAX_HOPS {
            return Target::Unknown;
        }
        if let Some(t) = self.binding_in(file, 0, name, u32::MAX, hops) {
            return t;
        }
        // `from m import *` re-exports every public name of `m`.
        if let Some(facts) = &self.files[file].facts {
            for imp in facts.imports.iter().filter(|i| i.star && i.scope == 0) {
                match self.import_target(file, imp, None, hops + 1) {
                    Target::Module(m) if self.star_exports(m, name) => {
                        let t = self.lookup_module(m, name, hops + 1);
                        if t != Target::Unknown {
                            return t;
                        }
                    }
                    Target::External(path) => return Target::External(format!("{path}.{name}")),
                    _ => {}
                }
            }
        }
        // A submodule of a package: `pkg.sub` where `sub` is not bound in
        // `pkg/__init__.py`.
        if let Some(m) = self.files[file].module.as_ref().filter(|m| m.is_package) {
            let dotted = if m.name.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", m.name)
            };
            if let Some(&f) = self.module_index.get(&dotted) {
                return Target::Module(f);
            }
        }
        Target::Unknown
    }

    /// Whether `from m import *` brings `name`: listed in `m.__all__`, or
    /// public (no leading underscore) when `m` has no `__all__`.
    fn star_exports(&self, m: usize, name: &str) -> bool {
        match self.files[m].facts.as_ref().and_then(|f| f.all.as_ref()) {
            Some(all) => all.iter().any(|n| n == name),
            None => !name.starts_with('_'),
        }
    }

    /// The binding of `name` directly in `scope` (definitions, assignments,
    /// imports), the first in source order before line `before`.
    fn binding_in<'p>(
        &'p self,
        file: usize,
        scope: u32,
        name: &str,
        before: u32,
        hops: u32,
    ) -> Option<Target<'p>> {
        let facts = self.files[file].facts.as_ref()?;
        let mut best: Option<(u32, Target<'p>)> = None;
        let mut offer = |line: u32, t: Target<'p>| {
            if line < before && best.as_ref().is_none_or(|(l, _)| line < *l) {
                best = Some((line, t));
            }
        };
        let bindings =
            self.bindings[file].get_or_init(|| Bindings::of(&facts.scopes, &facts.imports));
        // Candidates come definitions first, then assignments, then
        // imports, each in source order: ties on a line go to the first.
        for binding in bindings.candidates(scope, name) {
            match binding {
                Binding::Def(i) => {
                    let s = &facts.scopes[i as usize];
                    if s.parent == Some(scope) && s.name == name && s.kind != ScopeKind::Module {
                        offer(s.line, Target::Def { file, scope: i });
                    }
                }
                Binding::Assign(i) => {
                    // A colliding key may name a statement of another scope.
                    let stmts = facts
                        .scopes
                        .get(scope as usize)
                        .map_or(&[][..], |s| &s.stmts);
                    if let Some(
                        st @ Stmt::Assign {
                            line,
                            value: Some(value),
                            ..
                        },
                    ) = stmts.get(i as usize)
                        && assigns(st, name)
                    {
                        offer(
                            *line,
                            Target::Value {
                                file,
                                scope,
                                line: *line,
                                value,
                            },
                        );
                    }
                }
                Binding::Import(i) => {
                    let imp = &facts.imports[i as usize];
                    if imp.scope == scope
                        && let Some(t) = self.import_binding(file, imp, name, hops)
                    {
                        offer(imp.line, t);
                    }
                }
            }
        }
        best.map(|(_, t)| t)
    }

    /// What `imp` binds `name` to, if it binds it at all.
    fn import_binding<'p>(
        &'p self,
        file: usize,
        imp: &Import,
        name: &str,
        hops: u32,
    ) -> Option<Target<'p>> {
        if !imp.from {
            return match &imp.alias {
                Some(alias) if alias == name => Some(self.import_target(file, imp, None, hops + 1)),
                None if imp.module.split('.').next() == Some(name) => {
                    let top = Import {
                        module: name.into(),
                        ..imp.clone()
                    };
                    Some(self.import_target(file, &top, None, hops + 1))
                }
                _ => None,
            };
        }
        let n = imp.names.iter().find(|n| n.bound() == name)?;
        Some(self.import_target(file, imp, Some(&n.name), hops + 1))
    }

    /// The module `imp` names, or the name `member` in it.
    fn import_target<'p>(
        &'p self,
        file: usize,
        imp: &Import,
        member: Option<&str>,
        hops: u32,
    ) -> Target<'p> {
        let Some(dotted) = self.absolute_module(file, imp) else {
            return Target::Unknown;
        };
        let module_file = self.module_file_for(file, &dotted);
        match (module_file, member) {
            (Some(m), None) => Target::Module(m),
            (Some(m), Some(name)) => {
                let sub = format!("{dotted}.{name}");
                let t = self.lookup_module(m, name, hops + 1);
                if t == Target::Unknown
                    && let Some(s) = self.module_file_for(file, &sub)
                {
                    return Target::Module(s);
                }
                t
            }
            (None, None) => {
                if self.is_first_party_name(&dotted) {
                    Target::Unknown
                } else {
                    Target::External(dotted)
                }
            }
            (None, Some(name)) => {
                let sub = format!("{dotted}.{name}");
                if let Some(s) = self.module_file_for(file, &sub) {
                    Target::Module(s)
                } else if self.is_first_party_name(&dotted) {
                    Target::Unknown
                } else {
                    Target::External(sub)
                }
            }
        }
    }

    /// The absolute dotted module an import names.
    pub fn absolute_module(&self, file: usize, imp: &Import) -> Option<String> {
        if imp.level == 0 {
            return Some(imp.module.to_string());
        }
        let me = self.files[file].module.as_ref()?;
        let mut package: Vec<&str> = if me.name.is_empty() {
            Vec::new()
        } else {
            me.name.split('.').collect()
        };
        if !me.is_package {
            package.pop();
        }
        let up = imp.level as usize - 1;
        if up > package.len() {
            return None;
        }
        package.truncate(package.len() - up);
        if !imp.module.is_empty() {
            package.push(&imp.module);
        }
        Some(package.join("."))
    }

    /// The first-party file of a dotted module as seen from `file`: its own
    /// root first, then any module of that name.
    pub fn module_file_for(&self, file: usize, dotted: &str) -> Option<usize> {
        let me = self.files[file].module.as_ref();
        if let Some(me) = me
            && let Some(path) = self.layout.module_file(&me.root, dotted)
        {
            return self.path_index.get(&path).copied();
        }
        self.module_index.get(dotted).copied()
    }

    fn is_first_party_name(&self, dotted: &str) -> bool {
        let top = dotted.split('.').next().unwrap_or("");
        self.module_index.contains_key(top) || self.namespace_tops.contains(top)
    }

    /// `module:qualname` of a definition, the form every function reference
    /// in the report uses. The qualname is Python's `__qualname__`: a
    /// definition inside a function reads `outer.<locals>.inner`.
    pub fn def_ref(&self, file: usize, scope: u32) -> String {
        let module = self.files[file]
            .module
            .as_ref()
            .map_or("", |m| m.name.as_str());
        format!("{module}:{}", self.python_qualname(file, scope))
    }

    /// The method `name` defined directly in the class at `(file, class)`.
    pub fn method(&self, file: usize, class: u32, name: &str) -> Option<u32> {
        let facts = self.files[file].facts.as_ref()?;
        facts
            .scopes
            .iter()
            .position(|s| {
                s.parent == Some(class) && s.name == name && s.kind == ScopeKind::Function
            })
            .map(|i| i as u32)
    }

    /// A class and its first-party base classes, nearest first (depth
    /// first, left to right: Python's method resolution order for the
    /// usual single-inheritance and mixin hierarchies).
    pub fn class_chain(&self, file: usize, class: u32) -> Vec<(usize, u32)> {
        let mut out: Vec<(usize, u32)> = Vec::new();
        let mut stack = vec![(file, class)];
        while let Some((f, s)) = stack.pop() {
            if out.contains(&(f, s)) || out.len() > 32 {
                continue;
            }
            let Some(sc) = self.scope(f, s) else { continue };
            if sc.kind != ScopeKind::Class {
                continue;
            }
            out.push((f, s));
            let parent = sc.parent.unwrap_or(0);
            for base in sc.bases.iter().rev() {
                let base = match base {
                    Expr::Subscript(b, _) => b.as_ref(),
                    b => b,
                };
                if let Target::Def { file, scope } = self.resolve(f, parent, base) {
                    stack.push((file, scope));
                }
            }
        }
        out
    }

    /// The method `name` of the class at `(file, class)`, defined there or
    /// inherited from a first-party base class.
    pub fn method_def(&self, file: usize, class: u32, name: &str) -> Option<(usize, u32)> {
        self.class_chain(file, class)
            .into_iter()
            .find_map(|(f, c)| self.method(f, c, name).map(|m| (f, m)))
    }

    /// Python's `__qualname__` of the definition at `(file, scope)`.
    pub fn python_qualname(&self, file: usize, scope: u32) -> String {
        let mut parts: Vec<&str> = Vec::new();
        let mut cur = Some(scope);
        let mut first = true;
        while let Some(s) = cur {
            let Some(sc) = self.scope(file, s) else { break };
            if sc.kind == ScopeKind::Module {
                break;
            }
            if !first && sc.kind == ScopeKind::Function {
                parts.push("<locals>");
            }
            parts.push(&sc.name);
            first = false;
            cur = sc.parent;
        }
        parts.reverse();
        parts.join(".")
    }

    /// The dotted path of what `expr` refers to, for matching against known
    /// framework names: `fastapi.APIRouter`, or `pkg.mod.name` for
    /// first-party definitions.
    pub fn qualify(&self, file: usize, scope: u32, expr: &Expr) -> Option<String> {
        match self.resolve(file, scope, expr) {
            Target::External(p) => Some(p),
            Target::Def { file: f, scope: s } => {
                let module = self.files[f].module.as_ref()?;
                let qual = &self.scope(f, s)?.qualname;
                Some(if module.name.is_empty() {
                    qual.to_string()
                } else {
                    format!("{}.{qual}", module.name)
                })
            }
            Target::Module(f) => self.files[f].module.as_ref().map(|m| m.name.clone()),
            _ => None,
        }
    }

    /// Whether the class defined at `(file, scope)` has `external` (a dotted
    /// path such as `pydantic.BaseModel`) among its ancestors, following
    /// first-party base classes across modules.
    pub fn class_extends(&self, file: usize, scope: u32, external: &[&str]) -> bool {
        let mut stack = vec![(file, scope)];
        let mut seen = Vec::new();
        while let Some((f, s)) = stack.pop() {
            if seen.contains(&(f, s)) || seen.len() > 64 {
                continue;
            }
            seen.push((f, s));
            let Some(sc) = self.scope(f, s) else { continue };
            let parent = sc.parent.unwrap_or(0);
            for base in &sc.bases {
                let base = match base {
                    Expr::Subscript(b, _) => b.as_ref(),
                    b => b,
                };
                match self.resolve(f, parent, base) {
                    Target::External(p) if external.iter().any(|e| *e == p) => return true,
                    Target::Def { file, scope } => stack.push((file, scope)),
                    _ => {}
                }
            }
        }
        false
    }
}
