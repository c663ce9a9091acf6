//! Application and router objects, and every call that registers something
//! on one.
//!
//! An object is the value of one assignment whose right side builds a
//! `FastAPI`, `Starlette`, `APIRouter` or Starlette `Router` (or an instance
//! of a first-party subclass of one). Registrations are the decorators and
//! method calls on an expression that resolves to such an object: route
//! decorators, `include_router`, `mount`, `add_middleware` and the rest.
//! Resolution goes through imports, aliases, package re-exports, factory
//! functions that return the object, and `for` loops over literal lists.

use std::collections::HashMap;
use std::sync::Arc;

use crate::graph::{Program, Target};
use crate::scan::facts::{Call, Context, Expr, ScopeKind, Stmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    FastApi,
    Starlette,
    ApiRouter,
    StarletteRouter,
}

impl ObjKind {
    pub fn is_app(self) -> bool {
        matches!(self, ObjKind::FastApi | ObjKind::Starlette)
    }

    /// Routes declared on it go through FastAPI's dependency injection.
    pub fn is_fastapi(self) -> bool {
        matches!(self, ObjKind::FastApi | ObjKind::ApiRouter)
    }
}

/// Where an object is built: the assignment `name = Constructor(...)`.
#[derive(Debug, Clone)]
pub struct Object {
    pub file: usize,
    pub scope: u32,
    pub line: u32,
    pub name: String,
    pub kind: ObjKind,
    pub call: Arc<Call>,
    pub conditional: bool,
}

pub type ObjId = usize;

/// What a registration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    /// `@x.get(...)`, `@x.api_route(...)`, `x.add_api_route(...)`,
    /// `x.add_route(...)` and the websocket forms.
    Route,
    IncludeRouter,
    Mount,
    AddMiddleware,
    /// `@x.middleware("http")`.
    MiddlewareDecorator,
    ExceptionHandler,
    /// `@x.on_event(...)`, `x.add_event_handler(...)`.
    Event,
}

/// One decorator or call on an object.
#[derive(Debug, Clone)]
pub struct Registration {
    pub obj: ObjId,
    pub kind: RegKind,
    /// The method name: `get`, `include_router`, `add_api_route`, ...
    pub method: String,
    pub call: Arc<Call>,
    pub file: usize,
    /// The scope the call or decorated definition is in.
    pub scope: u32,
    pub line: u32,
    /// The decorated function, for decorator registrations.
    pub decorated: Option<u32>,
    /// A decorator applied by hand, `router.post("/x")(handler)`: the
    /// function it is applied to.
    pub applied: Option<Expr>,
    pub conditional: bool,
    /// Where the call sits; the default for decorators.
    pub ctx: Context,
}

pub const HTTP_METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "options", "head", "trace",
];

fn reg_kind(method: &str, decorator: bool) -> Option<RegKind> {
    Some(match method {
        m if HTTP_METHODS.contains(&m) && decorator => RegKind::Route,
        "api_route" | "websocket" | "route" | "websocket_route" if decorator => RegKind::Route,
        "add_api_route" | "add_api_websocket_route" | "add_route" | "add_websocket_route"
            if !decorator =>
        {
            RegKind::Route
        }
        "include_router" if !decorator => RegKind::IncludeRouter,
        "mount" | "frontend" if !decorator => RegKind::Mount,
        "add_middleware" if !decorator => RegKind::AddMiddleware,
        "middleware" if decorator => RegKind::MiddlewareDecorator,
        "exception_handler" if decorator => RegKind::ExceptionHandler,
        "add_exception_handler" if !decorator => RegKind::ExceptionHandler,
        "on_event" if decorator => RegKind::Event,
        "add_event_handler" if !decorator => RegKind::Event,
        _ => return None,
    })
}

/// The kind of object a constructor builds, from its qualified name.
fn constructor_kind(qualified: &str) -> Option<ObjKind> {
    Some(match qualified {
        "fastapi.FastAPI" | "fastapi.applications.FastAPI" => ObjKind::FastApi,
        "starlette.applications.Starlette" => ObjKind::Starlette,
        "fastapi.APIRouter" | "fastapi.routing.APIRouter" => ObjKind::ApiRouter,
        "starlette.routing.Router" => ObjKind::StarletteRouter,
        _ => return None,
    })
}

const FASTAPI_BASES: [&str; 2] = ["fastapi.FastAPI", "fastapi.applications.FastAPI"];
const STARLETTE_BASES: [&str; 1] = ["starlette.applications.Starlette"];
const ROUTER_BASES: [&str; 2] = ["fastapi.APIRouter", "fastapi.routing.APIRouter"];
const STARLETTE_ROUTER_BASES: [&str; 1] = ["starlette.routing.Router"];

const MAX_DEPTH: u32 = 12;

/// Every object and registration of a program.
pub struct Objects {
    pub objects: Vec<Object>,
    pub registrations: Vec<Registration>,
    by_site: HashMap<(usize, u32, u32), ObjId>,
    /// Calls by the last name of their callee, for parameter binding.
    calls: CallIndex,
}

/// A call with where it is: `(file, scope, call, context)`.
type CallSite = (usize, u32, Arc<Call>, Context);
type CallIndex = std::cell::OnceCell<HashMap<String, Vec<CallSite>>>;

impl Objects {
    pub fn find(program: &Program) -> Objects {
        let candidates = constructor_names(program);
        let mut objects = Vec::new();
        for (file, _, facts) in program.analyzed() {
            for (si, sc) in facts.scopes.iter().enumerate() {
                for st in &sc.stmts {
                    let Stmt::Assign {
                        line,
                        targets,
                        value: Some(Expr::Call(call)),
                        ctx,
                        ..
                    } = st
                    else {
                        continue;
                    };
                    let Some(name) = targets.iter().find_map(|t| match t {
                        Expr::Name(n) => Some(n.to_string()),
                        _ => None,
                    }) else {
                        continue;
                    };
                    let last = call
                        .func
                        .dotted()
                        .and_then(|d| d.rsplit('.').next().map(str::to_string));
                    if !last.is_some_and(|l| candidates.contains(&l)) {
                        continue;
                    }
                    let Some(kind) = object_kind(program, file, si as u32, &call.func) else {
                        continue;
                    };
                    objects.push(Object {
                        file,
                        scope: si as u32,
                        line: *line,
                        name,
                        kind,
                        call: call.clone(),
                        conditional: ctx.conditional || sc.conditional,
                    });
                }
            }
        }
        let by_site = objects
            .iter()
            .enumerate()
            .map(|(i, o)| ((o.file, o.scope, o.line), i))
            .collect();
        let mut found = Objects {
            objects,
            registrations: Vec::new(),
            by_site,
            calls: CallIndex::new(),
        };
        if !found.objects.is_empty() {
            found.registrations = found.registrations_in(program);
        }
        found
    }

    fn registrations_in(&self, program: &Program) -> Vec<Registration> {
        let mut regs = Vec::new();
        for (file, _, facts) in program.analyzed() {
            for (si, sc) in facts.scopes.iter().enumerate() {
                let si = si as u32;
                // Decorators are evaluated in the scope around the definition.
                let outer = sc.parent.unwrap_or(0);
                for dec in &sc.decorators {
                    let Expr::Call(call) = dec else { continue };
                    let Expr::Attr(base, method) = &call.func else {
                        continue;
                    };
                    let Some(kind) = reg_kind(method, true) else {
                        continue;
                    };
                    for obj in self.objects_of(program, file, outer, base, None) {
                        regs.push(Registration {
                            obj,
                            kind,
                            method: method.to_string(),
                            call: call.clone(),
                            file,
                            scope: outer,
                            line: call.line,
                            decorated: Some(si),
                            applied: None,
                            conditional: sc.conditional,
                            ctx: Context::default(),
                        });
                    }
                }
                for st in &sc.stmts {
                    let Stmt::Call { call, ctx, .. } = st else {
                        continue;
                    };
                    // `handler = router.post("/x")(handler)`.
                    if let Expr::Call(inner) = &call.func
                        && let Expr::Attr(base, method) = &inner.func
                        && let Some(kind) = reg_kind(method, true)
                        && let Some(target) = call.args.first()
                    {
                        for obj in self.objects_of(program, file, si, base, Some(ctx)) {
                            regs.push(Registration {
                                obj,
                                kind,
                                method: method.to_string(),
                                call: inner.clone(),
                                file,
                                scope: si,
                                line: call.line,
                                decorated: None,
                                applied: Some(target.clone()),
                                conditional: ctx.conditional
                                    || (sc.kind != ScopeKind::Module && sc.conditional),
                                ctx: *ctx,
                            });
                        }
                        continue;
                    }
                    let Expr::Attr(base, method) = &call.func else {
                        continue;
                    };
                    let Some(kind) = reg_kind(method, false) else {
                        continue;
                    };
                    for obj in self.objects_of(program, file, si, base, Some(ctx)) {
                        regs.push(Registration {
                            obj,
                            kind,
                            method: method.to_string(),
                            call: call.clone(),
                            file,
                            scope: si,
                            line: call.line,
                            decorated: None,
                            applied: None,
                            conditional: ctx.conditional
                                || (sc.kind != ScopeKind::Module && sc.conditional),
                            ctx: *ctx,
                        });
                    }
                }
            }
        }
        regs.sort_by(|a, b| {
            (&program.files[a.file].path, a.line, a.obj).cmp(&(
                &program.files[b.file].path,
                b.line,
                b.obj,
            ))
        });
        regs
    }

    /// The objects `expr` (seen in `scope` of `file`) may stand for. `ctx`
    /// is the context of the statement using `expr`, so that a loop
    /// variable can be traced to the literal list it runs over.
    pub fn objects_of(
        &self,
        program: &Program,
        file: usize,
        scope: u32,
        expr: &Expr,
        ctx: Option<&Context>,
    ) -> Vec<ObjId> {
        let mut out = Vec::new();
        self.collect(program, file, scope, expr, ctx, 0, &mut out);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        program: &Program,
        file: usize,
        scope: u32,
        expr: &Expr,
        ctx: Option<&Context>,
        depth: u32,
        out: &mut Vec<ObjId>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        // `app.include_router(build_router())`.
        if let Expr::Call(c) = expr {
            self.returned(program, file, scope, &c.func, depth + 1, out);
            return;
        }
        match program.resolve(file, scope, expr) {
            Target::Value {
                file: f,
                scope: s,
                line,
                value,
            } => {
                if let Some(&id) = self.by_site.get(&(f, s, line)) {
                    push_unique(out, id);
                    return;
                }
                match value {
                    Expr::Name(_) | Expr::Attr(..) => {
                        self.collect(program, f, s, value, None, depth + 1, out);
                    }
                    Expr::Call(c) => self.returned(program, f, s, &c.func, depth + 1, out),
                    _ => {}
                }
            }
            Target::Unknown => {
                let Expr::Name(n) = expr else { return };
                // `def install(api): api.include_router(...)`, called as
                // `install(app)`: the objects passed at every call site.
                if let Some((fscope, index)) = parameter_of(program, file, scope, n) {
                    for (cf, cs, call, cctx) in self.calls_of(program, file, fscope) {
                        let arg = call
                            .args
                            .get(index)
                            .filter(|a| !matches!(a, Expr::Starred(_)))
                            .or_else(|| call.kwarg(n));
                        if let Some(arg) = arg {
                            self.collect(program, cf, cs, arg, Some(&cctx), depth + 1, out);
                        }
                    }
                    return;
                }
                // `for r in (a.router, b.router): app.include_router(r)`.
                let Some(ctx) = ctx else { return };
                let Some(loop_line) = ctx.loop_line() else {
                    return;
                };
                let Some(sc) = program.scope(file, scope) else {
                    return;
                };
                for st in &sc.stmts {
                    if let Stmt::For {
                        line, target, iter, ..
                    } = st
                        && let Expr::Name(t) = &**target
                        && *line == loop_line
                        && t == n
                        && let Some(items) = literal_items(program, file, scope, iter)
                    {
                        for item in items {
                            let mut inner = Vec::new();
                            self.collect(program, file, scope, item, None, depth + 1, &mut inner);
                            for id in inner {
                                push_unique(out, id);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Objects returned by the first-party function `func` (a factory such
    /// as `create_app()` or `build_router()`).
    fn returned(
        &self,
        program: &Program,
        file: usize,
        scope: u32,
        func: &Expr,
        depth: u32,
        out: &mut Vec<ObjId>,
    ) {
        let Target::Def { file: f, scope: s } = program.resolve(file, scope, func) else {
            return;
        };
        let Some(sc) = program.scope(f, s) else {
            return;
        };
        if sc.kind != ScopeKind::Function {
            return;
        }
        for st in &sc.stmts {
            if let Stmt::Return { value: Some(v), .. } = st {
                self.collect(program, f, s, v, None, depth + 1, out);
            }
        }
    }

    /// Every call of the function at `(file, scope)`, with where it is:
    /// `(file, scope, call, context)`. The index of calls by callee name is
    /// built on first use, since most programs never need it.
    fn calls_of(&self, program: &Program, file: usize, scope: u32) -> Vec<CallSite> {
        let Some(name) = program.scope(file, scope).map(|s| s.name.to_string()) else {
            return Vec::new();
        };
        let index = self.calls.get_or_init(|| {
            let mut index: HashMap<String, Vec<CallSite>> = HashMap::new();
            for (f, _, facts) in program.analyzed() {
                for (si, sc) in facts.scopes.iter().enumerate() {
                    for st in &sc.stmts {
                        if let Stmt::Call { call, ctx, .. } = st
                            && let Some(d) = call.func.dotted()
                        {
                            let last = d.rsplit('.').next().unwrap_or(&d).to_string();
                            index
                                .entry(last)
                                .or_default()
                                .push((f, si as u32, call.clone(), *ctx));
                        }
                    }
                }
            }
            index
        });
        index
            .get(&name)
            .map(|calls| {
                calls
                    .iter()
                    .filter(|(f, s, c, _)| {
                        program.resolve(*f, *s, &c.func) == (Target::Def { file, scope })
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Registrations on `obj`, in source order.
    pub fn on(&self, obj: ObjId) -> impl Iterator<Item = &Registration> {
        self.registrations.iter().filter(move |r| r.obj == obj)
    }

    /// `module:name` of an object; `module:factory.name` inside a function.
    pub fn reference(&self, program: &Program, obj: ObjId) -> String {
        let o = &self.objects[obj];
        let module = program.files[o.file]
            .module
            .as_ref()
            .map_or("", |m| m.name.as_str());
        match program.scope(o.file, o.scope) {
            Some(sc) if o.scope != 0 => {
                let outer = if sc.kind == ScopeKind::Function {
                    ".<locals>"
                } else {
                    ""
                };
                format!(
                    "{module}:{}{outer}.{}",
                    program.python_qualname(o.file, o.scope),
                    o.name
                )
            }
            _ => format!("{module}:{}", o.name),
        }
    }
}

/// The elements of a literal list or tuple, directly or through a name
/// bound to one.
fn literal_items<'p>(
    program: &'p Program,
    file: usize,
    scope: u32,
    iter: &'p Expr,
) -> Option<&'p [Expr]> {
    if let Some(items) = iter.elements() {
        return Some(items);
    }
    match program.resolve(file, scope, iter) {
        Target::Value { value, .. } => value.elements(),
        _ => None,
    }
}

/// When `name` is a parameter of the function `scope` (or of a function
/// around it): that function's scope and the parameter's position.
fn parameter_of(program: &Program, file: usize, scope: u32, name: &str) -> Option<(u32, usize)> {
    let mut cur = Some(scope);
    while let Some(s) = cur {
        let sc = program.scope(file, s)?;
        if sc.kind == ScopeKind::Function
            && let Some(i) = sc.params.iter().position(|p| p.name == name)
        {
            // A method's first parameter is bound by the call itself.
            let is_method = sc
                .parent
                .and_then(|p| program.scope(file, p))
                .is_some_and(|p| p.kind == ScopeKind::Class);
            return Some((s, if is_method { i.checked_sub(1)? } else { i }));
        }
        cur = sc.parent;
    }
    None
}

fn push_unique(out: &mut Vec<ObjId>, id: ObjId) {
    if !out.contains(&id) {
        out.push(id);
    }
}

/// Class names that may build an object: the framework's own, and every
/// first-party class that has one of them, by name, among its ancestors.
/// A cheap filter by name, so that only plausible constructors are resolved.
fn constructor_names(program: &Program) -> std::collections::HashSet<String> {
    let mut names: std::collections::HashSet<String> =
        ["FastAPI", "Starlette", "APIRouter", "Router"]
            .into_iter()
            .map(String::from)
            .collect();
    let classes: Vec<(&str, Vec<String>)> = program
        .analyzed()
        .flat_map(|(_, _, facts)| facts.scopes.iter())
        .filter(|sc| sc.kind == ScopeKind::Class && !sc.bases.is_empty())
        .map(|sc| {
            let bases = sc
                .bases
                .iter()
                .filter_map(|b| match b {
                    Expr::Subscript(inner, _) => inner.dotted(),
                    other => other.dotted(),
                })
                .filter_map(|d| d.rsplit('.').next().map(str::to_string))
                .collect();
            (sc.name.as_str(), bases)
        })
        .collect();
    loop {
        let before = names.len();
        for (name, bases) in &classes {
            if !names.contains(*name) && bases.iter().any(|b| names.contains(b)) {
                names.insert(name.to_string());
            }
        }
        if names.len() == before {
            return names;
        }
    }
}

/// What kind of object calling `func` builds, if any.
fn object_kind(program: &Program, file: usize, scope: u32, func: &Expr) -> Option<ObjKind> {
    // Only names and attribute chains can be constructors; skip the rest
    // before resolving anything.
    func.dotted()?;
    match program.resolve(file, scope, func) {
        Target::External(path) => constructor_kind(&path),
        Target::Def { file: f, scope: s } => {
            let sc = program.scope(f, s)?;
            if sc.kind != ScopeKind::Class || sc.bases.is_empty() {
                return None;
            }
            [
                (&FASTAPI_BASES[..], ObjKind::FastApi),
                (&STARLETTE_BASES[..], ObjKind::Starlette),
                (&ROUTER_BASES[..], ObjKind::ApiRouter),
                (&STARLETTE_ROUTER_BASES[..], ObjKind::StarletteRouter),
            ]
            .into_iter()
            .find(|(bases, _)| program.class_extends(f, s, bases))
            .map(|(_, kind)| kind)
        }
        _ => None,
    }
}
