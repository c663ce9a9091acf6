//! Walking each application down to its routes.
//!
//! A route's full path is the composition of every prefix between the
//! application and the declaration: `mount` paths, `include_router`
//! prefixes at each level, the router's own `APIRouter(prefix=...)`, then
//! the path in the decorator. The walk follows registrations in source
//! order, so a router included twice yields its routes twice, each under
//! its own prefix, and carries the tags, dependencies and conditions of
//! every level down to each route.

use std::collections::{HashMap, HashSet};

use super::deps::Resolver;
use super::objects::{ObjId, ObjKind, Objects, RegKind, Registration};
use super::{DeclaredOn, DependencyUse, Inclusion, Route, RouteKind, sockets};
use crate::graph::unroll::{self, Bindings};
use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ScopeKind};

/// The applications (roots of the walk) and every route found.
pub struct Walked {
    pub apps: Vec<AppWalk>,
    pub routes: Vec<Route>,
}

pub struct AppWalk {
    pub obj: ObjId,
    pub mounted_in: Vec<String>,
    pub inclusions: Vec<Inclusion>,
    pub route_count: usize,
    /// Routers reached from this application, for their event handlers.
    pub routers: Vec<ObjId>,
}

/// What a level of the walk hands down to the next.
#[derive(Clone, Default)]
struct Frame {
    app: Option<String>,
    prefix: String,
    deps: Vec<DependencyUse>,
    tags: Vec<String>,
    conditional: bool,
    via: Vec<String>,
    dynamic: Vec<String>,
    notes: Vec<String>,
    stack: Vec<ObjId>,
}

const MAX_NESTING: usize = 32;

struct Walker<'a, 'p> {
    program: &'p Program,
    objects: &'a Objects,
    deps: &'a mut Resolver<'p>,
    routes: Vec<Route>,
    reached: HashSet<ObjId>,
    /// Routers reached from the application being walked.
    current: Vec<ObjId>,
    /// Routes found under each object (an application mounted in another
    /// counts the routes below its mount).
    counts: HashMap<ObjId, usize>,
}

pub fn walk<'p>(program: &'p Program, objects: &Objects, deps: &mut Resolver<'p>) -> Walked {
    // An application mounted in another is walked from its parent.
    let mut mounted: Vec<(ObjId, String)> = Vec::new();
    for reg in &objects.registrations {
        if reg.kind == RegKind::Mount
            && reg.method == "mount"
            && let Some(app) = reg.call.arg(1, "app")
        {
            let passes = unroll::loop_bindings(program, reg.file, reg.scope, &reg.ctx)
                .unwrap_or_else(|| vec![Bindings::new()]);
            for b in &passes {
                let (f, sc, target) = unroll::resolve_bound(b, reg.file, reg.scope, app);
                let ctx = ((f, sc) == (reg.file, reg.scope)).then_some(&reg.ctx);
                for child in objects.objects_of(program, f, sc, target, ctx) {
                    mounted.push((child, at(program, reg.file, reg.line)));
                }
            }
        }
    }
    for (i, o) in objects.objects.iter().enumerate() {
        for (file, scope, line, app) in starlette_mounts(program, o.file, o.scope, &o.call) {
            for child in objects.objects_of(program, file, scope, app, None) {
                if child != i {
                    mounted.push((child, at(program, file, line)));
                }
            }
        }
    }
    let mut roots: Vec<ObjId> = (0..objects.objects.len())
        .filter(|&i| objects.objects[i].kind.is_app() && !mounted.iter().any(|(c, _)| *c == i))
        .collect();
    roots.sort_by(|&a, &b| {
        let (oa, ob) = (&objects.objects[a], &objects.objects[b]);
        (&program.files[oa.file].path, oa.line).cmp(&(&program.files[ob.file].path, ob.line))
    });
    let mut w = Walker {
        program,
        objects,
        deps,
        routes: Vec::new(),
        reached: HashSet::new(),
        current: Vec::new(),
        counts: HashMap::new(),
    };
    let mut apps = Vec::new();
    for root in roots {
        let first = w.routes.len();
        w.current.clear();
        let app_ref = objects.reference(program, root);
        let o = &objects.objects[root];
        let frame = Frame {
            app: Some(app_ref),
            deps: if o.kind == ObjKind::FastApi {
                w.deps.list(
                    o.file,
                    o.scope,
                    o.call.kwarg("dependencies"),
                    DeclaredOn::App,
                )
            } else {
                Vec::new()
            },
            conditional: o.conditional,
            ..Frame::default()
        };
        w.object(root, &frame);
        apps.push(AppWalk {
            obj: root,
            mounted_in: mounted
                .iter()
                .filter(|(c, _)| *c == root)
                .map(|(_, at)| at.clone())
                .collect(),
            inclusions: inclusions(program, objects, root),
            route_count: w.routes.len() - first,
            routers: w.current.clone(),
        });
    }
    // Mounted applications are listed too, after the roots.
    let mut mounted_apps: Vec<ObjId> = mounted.iter().map(|(c, _)| *c).collect();
    mounted_apps.sort_unstable();
    mounted_apps.dedup();
    for m in mounted_apps {
        if !objects.objects[m].kind.is_app() {
            continue;
        }
        apps.push(AppWalk {
            obj: m,
            mounted_in: mounted
                .iter()
                .filter(|(c, _)| *c == m)
                .map(|(_, at)| at.clone())
                .collect(),
            inclusions: inclusions(program, objects, m),
            route_count: w.counts.get(&m).copied().unwrap_or(0),
            routers: Vec::new(),
        });
    }
    // Routers no application includes still have routes; list them, marked.
    for i in 0..objects.objects.len() {
        if w.reached.contains(&i) || objects.objects[i].kind.is_app() {
            continue;
        }
        // Only routers that declare routes themselves: a router that is
        // included by another unincluded router is reached through it.
        let includes_only = !objects.on(i).any(|r| r.kind == RegKind::Route);
        if includes_only && objects.objects[i].call.kwarg("routes").is_none() {
            continue;
        }
        let name = objects.reference(program, i);
        let frame = Frame {
            dynamic: vec![format!(
                "router `{name}` is not included in any application"
            )],
            ..Frame::default()
        };
        w.object(i, &frame);
    }
    Walked {
        apps,
        routes: w.routes,
    }
}

/// The direct `include_router` and `mount` calls on an object.
fn inclusions(program: &Program, objects: &Objects, obj: ObjId) -> Vec<Inclusion> {
    let mut out = Vec::new();
    for reg in objects.on(obj) {
        let (child, prefix) = match reg.kind {
            RegKind::IncludeRouter => (reg.call.arg(0, "router"), reg.call.kwarg("prefix")),
            RegKind::Mount if reg.method == "mount" => {
                (reg.call.arg(1, "app"), reg.call.arg(0, "path"))
            }
            _ => continue,
        };
        let Some(child) = child else { continue };
        let passes = unroll::loop_bindings(program, reg.file, reg.scope, &reg.ctx)
            .unwrap_or_else(|| vec![Bindings::new()]);
        for b in &passes {
            let (cf, cs, target) = unroll::resolve_bound(b, reg.file, reg.scope, child);
            let ctx = ((cf, cs) == (reg.file, reg.scope)).then_some(&reg.ctx);
            let targets = objects.objects_of(program, cf, cs, target, ctx);
            let prefix = prefix.map_or_else(String::new, |p| {
                let p = unroll::with_strings(program, p, b);
                piece(&program.eval_str(reg.file, reg.scope, &p))
            });
            let names: Vec<String> = if targets.is_empty() {
                vec![render_expr(child)]
            } else {
                targets
                    .iter()
                    .map(|t| objects.reference(program, *t))
                    .collect()
            };
            for target in names {
                out.push(Inclusion {
                    target,
                    prefix: prefix.clone(),
                    method: reg.method.clone(),
                    file: program.files[reg.file].path.clone(),
                    line: reg.line,
                    conditional: reg.conditional,
                });
            }
        }
    }
    out
}

/// Why the router an `include_router` names is not known.
fn unknown_router(program: &Program, reg: &Registration, child: &Expr) -> String {
    if let Some(origin) = external_origin(program, reg.file, reg.scope, child, 0) {
        return format!("the router is built by `{origin}`, outside the analysed code");
    }
    if let Expr::Name(n) = child
        && let Some(loop_line) = reg.ctx.loop_line()
        && let Some(sc) = program.scope(reg.file, reg.scope)
    {
        for st in &sc.stmts {
            if let crate::scan::facts::Stmt::For {
                line, target, iter, ..
            } = st
                && *line == loop_line
                && matches!(&**target, Expr::Name(t) if t == n)
            {
                return format!(
                    "`{n}` runs over `{}` (line {line}), computed at run time",
                    render_expr(iter)
                );
            }
        }
    }
    format!("`{}` cannot be resolved statically", render_expr(child))
}

/// The outside-the-code origin of an expression, when its root is
/// external: `users.get_auth_router(None)` with `users = FastAPIUsers(...)`
/// reads `fastapi_users.FastAPIUsers(...).get_auth_router(...)`.
fn external_origin(
    program: &Program,
    file: usize,
    scope: u32,
    expr: &Expr,
    depth: u32,
) -> Option<String> {
    if depth > 8 {
        return None;
    }
    match expr {
        Expr::Call(c) => {
            external_origin(program, file, scope, &c.func, depth + 1).map(|o| format!("{o}(...)"))
        }
        Expr::Attr(base, attr) => match program.resolve(file, scope, expr) {
            Target::External(p) => Some(p),
            _ => external_origin(program, file, scope, base, depth + 1)
                .map(|o| format!("{o}.{attr}")),
        },
        Expr::Name(_) => match program.resolve(file, scope, expr) {
            Target::External(p) => Some(p),
            Target::Value {
                file: f,
                scope: s,
                value,
                ..
            } => external_origin(program, f, s, value, depth + 1),
            _ => None,
        },
        _ => None,
    }
}

/// `file:line`.
pub fn at(program: &Program, file: usize, line: u32) -> String {
    format!("{}:{line}", program.files[file].path)
}

/// The text of a folded string; a part only known at run time reads `{?}`
/// (not `{}`, which would read as a path parameter).
fn piece(v: &StrValue) -> String {
    match v {
        StrValue::Known { value, .. } => value.clone(),
        StrValue::Pattern { value } => value.replace("{}", "{?}"),
        StrValue::Dynamic { .. } => "{?}".to_string(),
    }
}

/// Why part of a folded string is not known, if it is not.
fn unknown_part(what: &str, expr: &Expr, v: &StrValue) -> Option<String> {
    match v {
        StrValue::Known { .. } => None,
        StrValue::Pattern { .. } => Some(format!(
            "{what} `{}` has parts only known at run time",
            render_expr(expr)
        )),
        StrValue::Dynamic { reason } => Some(format!("{what}: {reason}")),
    }
}

/// The assumption a known value rests on, if any.
fn assumption(what: &str, v: &StrValue) -> Option<String> {
    match v {
        StrValue::Known {
            value,
            note: Some(note),
        } => Some(format!("{what} `{value}` is the {note}")),
        _ => None,
    }
}

/// `Mount(path, app=X)` entries of a constructor's `routes=[...]`, at any
/// depth: `(file, scope, line, app expression)`.
fn starlette_mounts<'c>(
    program: &Program,
    file: usize,
    scope: u32,
    call: &'c Call,
) -> Vec<(usize, u32, u32, &'c Expr)> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = call
        .kwarg("routes")
        .and_then(Expr::elements)
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    while let Some(item) = stack.pop() {
        let Expr::Call(c) = item else { continue };
        if routing_class(program, file, scope, &c.func).as_deref() != Some("Mount") {
            continue;
        }
        if let Some(app) = c.arg(1, "app") {
            out.push((file, scope, c.line, app));
        }
        if let Some(inner) = c.kwarg("routes").and_then(Expr::elements) {
            stack.extend(inner.iter());
        }
    }
    out
}

/// `Route`, `WebSocketRoute`, `Mount`, `Host`, `APIRoute` or
/// `APIWebSocketRoute` when `func` names one of Starlette's or FastAPI's
/// route classes.
fn routing_class(program: &Program, file: usize, scope: u32, func: &Expr) -> Option<String> {
    func.dotted()?;
    let q = program.qualify(file, scope, func)?;
    if !(q.starts_with("starlette.") || q.starts_with("fastapi.")) {
        return None;
    }
    let last = q.rsplit('.').next()?;
    matches!(
        last,
        "Route" | "WebSocketRoute" | "Mount" | "Host" | "APIRoute" | "APIWebSocketRoute"
    )
    .then(|| last.to_string())
}

/// `{name}` and `{name:converter}` parameters of a path.
fn path_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let name = inner.split(':').next().unwrap_or("");
        if !name.is_empty() && name != "?" {
            out.push(name.to_string());
        }
        rest = &rest[open + close + 1..];
    }
    out
}

impl<'p> Walker<'_, 'p> {
    /// Records a route found with `stack` the objects walked down to it.
    fn add(&mut self, stack: &[ObjId], route: Route) {
        for obj in stack {
            *self.counts.entry(*obj).or_default() += 1;
        }
        self.routes.push(route);
    }

    fn object(&mut self, obj: ObjId, frame: &Frame) {
        if frame.stack.contains(&obj) || frame.stack.len() > MAX_NESTING {
            return;
        }
        self.reached.insert(obj);
        if !self.current.contains(&obj) {
            self.current.push(obj);
        }
        let program = self.program;
        let o = &self.objects.objects[obj];
        let mut f = frame.clone();
        f.stack.push(obj);
        if o.kind == ObjKind::ApiRouter {
            if let Some(p) = o.call.kwarg("prefix") {
                let v = program.eval_str(o.file, o.scope, p);
                f.dynamic.extend(unknown_part("router prefix", p, &v));
                f.notes.extend(assumption("router prefix", &v));
                f.prefix.push_str(&piece(&v));
            }
            f.tags
                .extend(self.strings(o.file, o.scope, o.call.kwarg("tags")));
            let own = self.deps.list(
                o.file,
                o.scope,
                o.call.kwarg("dependencies"),
                DeclaredOn::Router,
            );
            f.deps.extend(own);
        }
        let router = self.objects.reference(program, obj);
        if let Some(list) = o.call.kwarg("routes") {
            let (file, scope) = (o.file, o.scope);
            self.route_list(file, scope, list, &f, &router, o.kind.is_fastapi());
        }
        let regs: Vec<Registration> = self.objects.on(obj).cloned().collect();
        for reg in &regs {
            match reg.kind {
                RegKind::Route => self.declared(reg, &f, &router, o.kind.is_fastapi()),
                RegKind::IncludeRouter => self.include(reg, &f),
                RegKind::Mount => self.mount(reg, &f, &router),
                _ => {}
            }
        }
    }

    fn strings(&self, file: usize, scope: u32, list: Option<&Expr>) -> Vec<String> {
        list.and_then(Expr::elements)
            .map(|items| {
                items
                    .iter()
                    .map(|t| piece(&self.program.eval_str(file, scope, t)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `include_router`, once per pass when it runs in a loop over a
    /// literal collection.
    fn include(&mut self, reg: &Registration, frame: &Frame) {
        match unroll::loop_bindings(self.program, reg.file, reg.scope, &reg.ctx) {
            Some(passes) => {
                for b in &passes {
                    self.include_pass(reg, frame, b);
                }
            }
            None => {
                // A loop over something known only at run time may run any
                // number of times, none included.
                let mut f = frame.clone();
                f.conditional |= reg.ctx.loop_line().is_some();
                self.include_pass(reg, &f, &Bindings::new());
            }
        }
    }

    fn include_pass(&mut self, reg: &Registration, frame: &Frame, b: &Bindings) {
        let program = self.program;
        let Some(child) = reg.call.arg(0, "router") else {
            return;
        };
        let mut f = frame.clone();
        f.via.push(at(program, reg.file, reg.line));
        f.conditional |= reg.conditional;
        if let Some(p) = reg.call.kwarg("prefix") {
            let p = &unroll::with_strings(program, p, b);
            let v = program.eval_str(reg.file, reg.scope, p);
            let what = format!("include prefix at {}", at(program, reg.file, reg.line));
            f.dynamic.extend(unknown_part(&what, p, &v));
            f.notes.extend(assumption(&what, &v));
            f.prefix.push_str(&piece(&v));
        }
        f.tags
            .extend(self.strings(reg.file, reg.scope, reg.call.kwarg("tags")));
        let own = self.deps.list(
            reg.file,
            reg.scope,
            reg.call.kwarg("dependencies"),
            DeclaredOn::Include,
        );
        f.deps.extend(own);
        let (cf, cs, target) = unroll::resolve_bound(b, reg.file, reg.scope, child);
        let ctx = (cf, cs) == (reg.file, reg.scope);
        let children = self
            .objects
            .objects_of(program, cf, cs, target, ctx.then_some(&reg.ctx));
        if children.is_empty() {
            let reason = unknown_router(program, reg, child);
            let entry = mount_entry(
                program,
                &f,
                (reg.file, reg.line),
                format!("{}{{?}}", f.prefix),
                format!("the routes of `{}`", render_expr(child)),
            );
            self.add(
                &f.stack,
                Route {
                    router: render_expr(child),
                    tags: f.tags.clone(),
                    injection: true,
                    unresolved_include: true,
                    dynamic: [
                        f.dynamic.clone(),
                        vec![format!("included router: {reason}")],
                    ]
                    .concat(),
                    ..entry
                },
            );
            return;
        }
        for c in children {
            self.object(c, &f);
        }
    }

    fn mount(&mut self, reg: &Registration, frame: &Frame, router: &str) {
        let program = self.program;
        if reg.method == "frontend" {
            return self.frontend(reg, frame, router);
        }
        let (Some(path), Some(app)) = (reg.call.arg(0, "path"), reg.call.arg(1, "app")) else {
            return;
        };
        let passes = unroll::loop_bindings(program, reg.file, reg.scope, &reg.ctx)
            .unwrap_or_else(|| vec![Bindings::new()]);
        for b in &passes {
            let v = program.eval_str(reg.file, reg.scope, &unroll::with_strings(program, path, b));
            self.mount_at(
                reg.file,
                reg.line,
                &v,
                unroll::resolve_bound(b, reg.file, reg.scope, app),
                frame,
                router,
                reg.conditional,
            );
        }
    }

    /// `app.frontend("/", directory="dist")`: FastAPI's built-in mount of
    /// a single-page frontend's static files.
    fn frontend(&mut self, reg: &Registration, frame: &Frame, router: &str) {
        let program = self.program;
        let path = reg.call.arg(0, "path").map_or_else(
            || StrValue::known("/"),
            |p| program.eval_str(reg.file, reg.scope, p),
        );
        let dir = reg
            .call
            .arg(1, "directory")
            .map(|d| format!(" from `{}`", render_expr(d)))
            .unwrap_or_default();
        let mut f = frame.clone();
        f.conditional |= reg.conditional;
        let prefix = format!("{}{}", frame.prefix, piece(&path));
        let entry = mount_entry(
            program,
            &f,
            (reg.file, reg.line),
            prefix,
            format!("frontend static files{dir}"),
        );
        self.add(
            &f.stack,
            Route {
                router: router.to_string(),
                ..entry
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    /// A mount at `path` of the application `app`, which is written in
    /// the given file and scope; the mount call itself is at `file:line`.
    fn mount_at(
        &mut self,
        file: usize,
        line: u32,
        path: &StrValue,
        (app_file, app_scope, app): (usize, u32, &Expr),
        frame: &Frame,
        router: &str,
        conditional: bool,
    ) {
        let program = self.program;
        let mut f = Frame {
            app: frame.app.clone(),
            // Starlette strips a mount path's trailing slash: `mount("/")`
            // adds nothing to the paths below it.
            prefix: format!("{}{}", frame.prefix, piece(path).trim_end_matches('/')),
            conditional: frame.conditional || conditional,
            via: [frame.via.clone(), vec![at(program, file, line)]].concat(),
            dynamic: frame.dynamic.clone(),
            notes: frame.notes.clone(),
            stack: frame.stack.clone(),
            ..Frame::default()
        };
        match path {
            StrValue::Dynamic { reason } => f.dynamic.push(format!("mount path: {reason}")),
            StrValue::Pattern { value } => f.dynamic.push(format!(
                "mount path `{}` has parts only known at run time",
                value.replace("{}", "{?}")
            )),
            StrValue::Known { .. } => {}
        }
        let children = self
            .objects
            .objects_of(program, app_file, app_scope, app, None);
        if !children.is_empty() {
            for c in children {
                let o = &self.objects.objects[c];
                let mut inner = f.clone();
                if o.kind == ObjKind::FastApi {
                    inner.deps = self.deps.list(
                        o.file,
                        o.scope,
                        o.call.kwarg("dependencies"),
                        DeclaredOn::App,
                    );
                }
                self.object(c, &inner);
            }
            return;
        }
        let what = match app {
            Expr::Call(c) => match program.qualify(app_file, app_scope, &c.func) {
                Some(q) if q.ends_with("StaticFiles") => {
                    let dir = c
                        .kwarg("directory")
                        .map(|d| format!(" from `{}`", render_expr(d)))
                        .unwrap_or_default();
                    format!("static files{dir}")
                }
                Some(q) => format!("`{q}`"),
                None => format!("`{}`", render_expr(app)),
            },
            other => match program.qualify(app_file, app_scope, other) {
                Some(q) => format!("`{q}`"),
                None => format!("`{}`", render_expr(other)),
            },
        };
        let path = if f.prefix.is_empty() {
            "/".to_string()
        } else {
            f.prefix.clone()
        };
        let entry = mount_entry(program, &f, (file, line), path, what);
        self.add(
            &f.stack,
            Route {
                router: router.to_string(),
                included_via: frame.via.clone(),
                ..entry
            },
        );
    }

    /// Starlette-style `routes=[Route(...), WebSocketRoute(...), Mount(...)]`.
    fn route_list(
        &mut self,
        file: usize,
        scope: u32,
        list: &Expr,
        frame: &Frame,
        router: &str,
        fastapi: bool,
    ) {
        let program = self.program;
        let Some(items) = list.elements() else {
            return;
        };
        for item in items {
            let Expr::Call(c) = item else { continue };
            let Some(class) = routing_class(program, file, scope, &c.func) else {
                continue;
            };
            match class.as_str() {
                "Mount" => {
                    let path = c
                        .arg(0, "path")
                        .map_or_else(|| StrValue::known(""), |p| program.eval_str(file, scope, p));
                    if let Some(app) = c.arg(1, "app") {
                        self.mount_at(
                            file,
                            c.line,
                            &path,
                            (file, scope, app),
                            frame,
                            router,
                            false,
                        );
                    } else if let Some(inner) = c.kwarg("routes") {
                        let mut f = frame.clone();
                        f.prefix.push_str(&piece(&path));
                        f.via.push(at(program, file, c.line));
                        self.route_list(file, scope, inner, &f, router, false);
                    }
                }
                "Host" => {}
                kind => {
                    let ws = matches!(kind, "WebSocketRoute" | "APIWebSocketRoute");
                    let injection = fastapi && kind.starts_with("API");
                    self.route(
                        RouteSite {
                            file,
                            scope,
                            line: c.line,
                            call: c,
                            endpoint: c.arg(1, "endpoint"),
                            decorated: None,
                            ws,
                            methods: None,
                            conditional: false,
                        },
                        frame,
                        router,
                        injection,
                    );
                }
            }
        }
    }

    /// A route decorator or `add_*route` call.
    fn declared(&mut self, reg: &Registration, frame: &Frame, router: &str, fastapi: bool) {
        let m = reg.method.as_str();
        let ws = matches!(
            m,
            "websocket" | "websocket_route" | "add_api_websocket_route" | "add_websocket_route"
        );
        // `add_route`, `@route` and `add_websocket_route` are Starlette's:
        // no dependency injection, even on a FastAPI app.
        let starlette_form = matches!(
            m,
            "add_route" | "route" | "websocket_route" | "add_websocket_route"
        );
        let methods = super::objects::HTTP_METHODS
            .contains(&m)
            .then(|| vec![m.to_ascii_uppercase()]);
        let endpoint = if reg.decorated.is_some() {
            None
        } else if let Some(applied) = &reg.applied {
            Some(applied)
        } else {
            reg.call.arg(
                1,
                if m == "add_route" {
                    "route"
                } else {
                    "endpoint"
                },
            )
        };
        self.route(
            RouteSite {
                file: reg.file,
                scope: reg.scope,
                line: reg.line,
                call: &reg.call,
                endpoint,
                decorated: reg.decorated,
                ws,
                methods,
                conditional: reg.conditional,
            },
            frame,
            router,
            fastapi && !starlette_form,
        );
    }

    fn route(&mut self, site: RouteSite, frame: &Frame, router: &str, injection: bool) {
        let program = self.program;
        let call = site.call;
        let mut dynamic = frame.dynamic.clone();
        let path_expr = call.arg(0, "path");
        let path_v = path_expr.map_or_else(
            || StrValue::known(""),
            |p| program.eval_str(site.file, site.scope, p),
        );
        if let Some(p) = path_expr {
            dynamic.extend(unknown_part("route path", p, &path_v));
        }
        let mut notes = frame.notes.clone();
        notes.extend(assumption("route path", &path_v));
        let path = format!("{}{}", frame.prefix, piece(&path_v));
        let methods = if site.ws {
            Vec::new()
        } else {
            site.methods.unwrap_or_else(|| {
                let listed = self.strings(site.file, site.scope, call.kwarg("methods"));
                if listed.is_empty() {
                    vec!["GET".to_string()]
                } else {
                    listed.iter().map(|m| m.to_ascii_uppercase()).collect()
                }
            })
        };
        // The endpoint: the decorated function, or the function passed.
        let handler_def = match (site.decorated, site.endpoint) {
            (Some(s), _) => Some((site.file, s)),
            (None, Some(e)) => match program.resolve(site.file, site.scope, e) {
                Target::Def { file, scope } => Some((file, scope)),
                _ => {
                    dynamic.push(format!("endpoint `{}` cannot be resolved", render_expr(e)));
                    None
                }
            },
            (None, None) => None,
        };
        let handler_scope = handler_def.and_then(|(f, s)| {
            program
                .scope(f, s)
                .filter(|sc| sc.kind == ScopeKind::Function)
                .map(|sc| (f, s, sc))
        });
        let mut deps = Vec::new();
        let mut parameters = Vec::new();
        if injection {
            deps.extend(frame.deps.iter().cloned());
            deps.extend(self.deps.list(
                site.file,
                site.scope,
                call.kwarg("dependencies"),
                DeclaredOn::Route,
            ));
            if let Some((f, s, _)) = handler_scope {
                let (uses, params) = self.deps.params(f, s, &path_params(&path));
                deps.extend(uses);
                parameters = params;
            }
        }
        let all_dependencies = self.deps.closure(&deps);
        let auth = self.deps.auth(&deps);
        let mut tags = frame.tags.clone();
        tags.extend(self.strings(site.file, site.scope, call.kwarg("tags")));
        let name = call
            .kwarg("name")
            .and_then(|n| {
                program
                    .eval_str(site.file, site.scope, n)
                    .as_known()
                    .map(str::to_string)
            })
            .or_else(|| handler_scope.map(|(_, _, sc)| sc.name.to_string()));
        // FastAPI takes the return annotation when the decorator names no
        // `response_model`.
        let response_models = match call.kwarg("response_model") {
            Some(m) => classes_in(program, site.file, site.scope, m),
            None => handler_scope
                .and_then(|(f, _, sc)| {
                    sc.returns
                        .as_ref()
                        .map(|r| classes_in(program, f, sc.parent.unwrap_or(0), r))
                })
                .unwrap_or_default(),
        };
        let websocket = match (site.ws, handler_scope) {
            (true, Some((f, s, _))) => Some(sockets::socket_behaviour(program, f, s)),
            _ => None,
        };
        self.add(
            &frame.stack,
            Route {
                methods,
                path,
                kind: if site.ws {
                    RouteKind::Websocket
                } else {
                    RouteKind::Http
                },
                app: frame.app.clone(),
                router: router.to_string(),
                handler: handler_def.map(|(f, s)| program.def_ref(f, s)),
                handler_at: handler_scope.map(|(f, _, sc)| at(program, f, sc.line)),
                file: program.files[site.file].path.clone(),
                line: site.line,
                is_async: handler_scope.is_some_and(|(_, _, sc)| sc.is_async),
                name,
                tags,
                status_code: call.kwarg("status_code").map(render_expr),
                response_model: call.kwarg("response_model").map(render_expr),
                response_models,
                parameters,
                dependencies: deps,
                all_dependencies,
                auth,
                injection,
                conditional: frame.conditional || site.conditional,
                included_via: frame.via.clone(),
                mounts: None,
                unresolved_include: false,
                websocket,
                dynamic,
                notes,
            },
        );
    }
}

/// A `mount` entry of the route list, declared at `(file, line)`: what
/// stands below `path` with no routes of its own to list (static files,
/// an outside application, a router that cannot be resolved).
fn mount_entry(
    program: &Program,
    f: &Frame,
    (file, line): (usize, u32),
    path: String,
    mounts: String,
) -> Route {
    Route {
        methods: Vec::new(),
        path,
        kind: RouteKind::Mount,
        app: f.app.clone(),
        router: String::new(),
        handler: None,
        handler_at: None,
        file: program.files[file].path.clone(),
        line,
        is_async: false,
        name: None,
        tags: Vec::new(),
        status_code: None,
        response_model: None,
        response_models: Vec::new(),
        parameters: Vec::new(),
        dependencies: Vec::new(),
        all_dependencies: Vec::new(),
        auth: Vec::new(),
        injection: false,
        conditional: f.conditional,
        included_via: f.via.clone(),
        mounts: Some(mounts),
        unresolved_include: false,
        websocket: None,
        dynamic: f.dynamic.clone(),
        notes: f.notes.clone(),
    }
}

/// The first-party classes an annotation names, looking inside generics
/// and unions (`list[Item]`, `Item | None`, `Optional[Page[Item]]`).
fn classes_in(program: &Program, file: usize, scope: u32, e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if out.len() > 16 {
            break;
        }
        match e {
            Expr::Name(_) | Expr::Attr(..) => {
                if let Target::Def { file: f, scope: s } = program.resolve(file, scope, e)
                    && program
                        .scope(f, s)
                        .is_some_and(|sc| sc.kind == ScopeKind::Class)
                {
                    let r = program.def_ref(f, s);
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
            }
            Expr::Subscript(base, items) => {
                stack.extend(items.iter().rev());
                stack.push(base);
            }
            Expr::BinOp(l, _, r) => {
                stack.push(r);
                stack.push(l);
            }
            Expr::Tuple(items) | Expr::List(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    out
}

struct RouteSite<'c> {
    file: usize,
    scope: u32,
    line: u32,
    call: &'c Call,
    endpoint: Option<&'c Expr>,
    decorated: Option<u32>,
    ws: bool,
    methods: Option<Vec<String>>,
    conditional: bool,
}

#[cfg(test)]
mod tests {
    use super::path_params;

    #[test]
    fn path_parameters_include_converters() {
        assert_eq!(
            path_params("/a/{org}/files/{path:path}/{?}"),
            ["org".to_string(), "path".to_string()]
        );
    }
}
