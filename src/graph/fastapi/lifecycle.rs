//! What runs around the routes: lifespan and event handlers, middleware
//! in the order a request meets it, and exception handlers.
//!
//! Starlette keeps the constructor's `middleware=[...]` list and inserts
//! every `add_middleware` (and `@app.middleware("http")`) at its front, so
//! the last one added is the outermost: it sees the request first and the
//! response last. `request_order` follows that rule.

use super::deps::{Resolver, around, method, split_at_yield};
use super::objects::{ObjKind, Objects, RegKind};
use super::routes::AppWalk;
use super::{App, AppKind, EventHandler, ExceptionHandler, Lifespan, Middleware, MiddlewareKind};
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ScopeKind, Stmt};

pub fn app(program: &Program, objects: &Objects, deps: &mut Resolver, walk: &AppWalk) -> App {
    let o = &objects.objects[walk.obj];
    let factory = (o.scope != 0)
        .then(|| program.scope(o.file, o.scope))
        .flatten()
        .filter(|sc| sc.kind == ScopeKind::Function)
        .map(|_| program.def_ref(o.file, o.scope));
    let mut events = Vec::new();
    for (key, event) in [("on_startup", "startup"), ("on_shutdown", "shutdown")] {
        let (vf, vs, value) = keyword_value(program, o.file, o.scope, o.call.kwarg(key));
        if let Some(items) = value.and_then(Expr::elements) {
            for item in items {
                events.push(EventHandler {
                    event: event.into(),
                    handler: reference(program, vf, vs, item),
                    form: key.into(),
                    file: program.files[o.file].path.clone(),
                    line: o.call.line,
                    router: None,
                });
            }
        }
    }
    // Router event handlers run with the application that includes them.
    for &obj in std::iter::once(&walk.obj).chain(walk.routers.iter().filter(|&&r| r != walk.obj)) {
        let on_router = (obj != walk.obj).then(|| objects.reference(program, obj));
        for reg in objects.on(obj).filter(|r| r.kind == RegKind::Event) {
            let event = reg
                .call
                .arg(0, "event_type")
                .map(|e| {
                    program
                        .eval_str(reg.file, reg.scope, e)
                        .text()
                        .map_or_else(|| render_expr(e), str::to_string)
                })
                .unwrap_or_default();
            let handler = match (reg.decorated, &reg.applied) {
                (Some(s), _) => program.def_ref(reg.file, s),
                (None, Some(f)) => reference(program, reg.file, reg.scope, f),
                (None, None) => reg
                    .call
                    .arg(1, "func")
                    .map(|f| reference(program, reg.file, reg.scope, f))
                    .unwrap_or_default(),
            };
            events.push(EventHandler {
                event,
                handler,
                form: reg.method.clone(),
                file: program.files[reg.file].path.clone(),
                line: reg.line,
                router: on_router.clone(),
            });
        }
    }

    App {
        object: objects.reference(program, walk.obj),
        kind: if o.kind == ObjKind::FastApi {
            AppKind::Fastapi
        } else {
            AppKind::Starlette
        },
        file: program.files[o.file].path.clone(),
        line: o.line,
        served_as: factory
            .as_ref()
            .map(|_| served_as(program, o.file, o.scope))
            .unwrap_or_default(),
        factory,
        title: o.call.kwarg("title").and_then(|t| {
            program
                .eval_str(o.file, o.scope, t)
                .text()
                .map(str::to_string)
        }),
        mounted_in: walk.mounted_in.clone(),
        routers: walk.inclusions.clone(),
        route_count: walk.route_count,
        lifespan: o
            .call
            .kwarg("lifespan")
            .and_then(|l| lifespan(program, o.file, o.scope, l)),
        events,
        middleware: middleware(program, objects, walk.obj),
        exception_handlers: exception_handlers(program, objects, walk.obj),
        dependencies: if o.kind == ObjKind::FastApi {
            deps.list(
                o.file,
                o.scope,
                o.call.kwarg("dependencies"),
                super::DeclaredOn::App,
            )
        } else {
            Vec::new()
        },
    }
}

/// Module-level `name = factory(...)` assignments anywhere in the program.
fn served_as(program: &Program, factory_file: usize, factory_scope: u32) -> Vec<String> {
    let Some(name) = program
        .scope(factory_file, factory_scope)
        .map(|sc| sc.name.as_str())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (file, record, facts) in program.analyzed() {
        let Some(module) = facts.scopes.first() else {
            continue;
        };
        for st in &module.stmts {
            let Stmt::Assign {
                targets,
                value: Some(Expr::Call(c)),
                ..
            } = st
            else {
                continue;
            };
            // A cheap name check before resolving.
            if c.func
                .dotted()
                .is_none_or(|d| d.rsplit('.').next() != Some(name))
            {
                continue;
            }
            if program.resolve(file, 0, &c.func)
                != (Target::Def {
                    file: factory_file,
                    scope: factory_scope,
                })
            {
                continue;
            }
            let module_name = record.module.as_ref().map_or("", |m| m.name.as_str());
            for t in targets {
                if let Expr::Name(n) = t {
                    out.push(format!("{module_name}:{n}"));
                }
            }
        }
    }
    out
}

/// `module:qualname` of a first-party function, or the dotted or source
/// text of anything else.
fn reference(program: &Program, file: usize, scope: u32, expr: &Expr) -> String {
    match program.resolve(file, scope, expr) {
        Target::Def { file: f, scope: s } => program.def_ref(f, s),
        Target::External(p) => p,
        _ => render_expr(expr),
    }
}

fn lifespan(program: &Program, file: usize, scope: u32, expr: &Expr) -> Option<Lifespan> {
    let Target::Def { file: f, scope: s } = program.resolve(file, scope, expr) else {
        return Some(Lifespan {
            handler: render_expr(expr),
            file: program.files[file].path.clone(),
            line: 0,
            startup: Vec::new(),
            shutdown: Vec::new(),
            startup_sets: Vec::new(),
            shutdown_sets: Vec::new(),
        });
    };
    let sc = program.scope(f, s)?;
    let ((startup, shutdown), (startup_sets, shutdown_sets)) = match sc.yields.first() {
        Some(&y) => (around(sc, y), sets_around(sc, y)),
        None => Default::default(),
    };
    Some(Lifespan {
        handler: program.def_ref(f, s),
        file: program.files[f].path.clone(),
        line: sc.line,
        startup,
        shutdown,
        startup_sets,
        shutdown_sets,
    })
}

/// The attributes and items a function assigns before and after the line
/// of its `yield`. Plain names are left out: in a function they are
/// locals, gone when it returns.
fn sets_around(sc: &crate::scan::facts::Scope, yield_line: u32) -> (Vec<String>, Vec<String>) {
    split_at_yield(sc, yield_line, |st| {
        let Stmt::Assign { line, targets, .. } = st else {
            return Vec::new();
        };
        targets
            .iter()
            .filter(|t| matches!(t, Expr::Attr(..) | Expr::Subscript(..)))
            .map(|t| (*line, render_expr(t)))
            .collect()
    })
}

/// A constructor keyword's value, with the file and scope it is written in:
/// the expression itself, or what the name it is given as was set to
/// (`middleware = [...]` then `FastAPI(middleware=middleware)`).
fn keyword_value<'p>(
    program: &'p Program,
    file: usize,
    scope: u32,
    value: Option<&'p Expr>,
) -> (usize, u32, Option<&'p Expr>) {
    if let Some(e @ Expr::Name(_)) = value
        && let Target::Value {
            file: f,
            scope: s,
            value: v,
            ..
        } = program.resolve(file, scope, e)
    {
        return (f, s, Some(v));
    }
    (file, scope, value)
}

fn middleware(program: &Program, objects: &Objects, obj: usize) -> Vec<Middleware> {
    let o = &objects.objects[obj];
    let mut listed = Vec::new();
    let (vf, vs, value) = keyword_value(program, o.file, o.scope, o.call.kwarg("middleware"));
    if let Some(items) = value.and_then(Expr::elements) {
        for item in items {
            let Expr::Call(c) = item else { continue };
            // `Middleware(Class, **options)`.
            let Some(class) = c.arg(0, "cls") else {
                continue;
            };
            listed.push(entry(
                program,
                vf,
                vs,
                class,
                c,
                1,
                "constructor",
                c.line,
                false,
            ));
        }
    }
    let mut added = Vec::new();
    for reg in objects.on(obj) {
        match reg.kind {
            RegKind::AddMiddleware => {
                if let Some(class) = reg.call.arg(0, "middleware_class") {
                    added.push(entry(
                        program,
                        reg.file,
                        reg.scope,
                        class,
                        &reg.call,
                        1,
                        "add_middleware",
                        reg.line,
                        reg.conditional,
                    ));
                }
            }
            RegKind::MiddlewareDecorator => {
                if let Some(s) = reg.decorated {
                    added.push(Middleware {
                        target: program.def_ref(reg.file, s),
                        kind: MiddlewareKind::Function,
                        options: reg.call.args.iter().map(render_expr).collect(),
                        form: "middleware_decorator".into(),
                        file: program.files[reg.file].path.clone(),
                        line: reg.line,
                        request_order: 0,
                        conditional: reg.conditional,
                    });
                }
            }
            _ => {}
        }
    }
    // A request meets the last added first, then the earlier ones, then the
    // constructor's list in its own order.
    let n = added.len();
    for (i, m) in added.iter_mut().enumerate() {
        m.request_order = n - i;
    }
    for (i, m) in listed.iter_mut().enumerate() {
        m.request_order = n + i + 1;
    }
    listed.extend(added);
    listed
}

#[allow(clippy::too_many_arguments)]
fn entry(
    program: &Program,
    file: usize,
    scope: u32,
    class: &Expr,
    call: &Call,
    skip: usize,
    form: &str,
    line: u32,
    conditional: bool,
) -> Middleware {
    let mut options: Vec<String> = call.args.iter().skip(skip).map(render_expr).collect();
    options.extend(call.kwargs.iter().map(|k| match &k.name {
        Some(n) => format!("{n}={}", render_expr(&k.value)),
        None => format!("**{}", render_expr(&k.value)),
    }));
    let (target, kind) = match program.resolve(file, scope, class) {
        Target::Def { file: f, scope: s } => {
            let kind = if program.class_extends(
                f,
                s,
                &[
                    "starlette.middleware.base.BaseHTTPMiddleware",
                    "fastapi.middleware.base.BaseHTTPMiddleware",
                ],
            ) {
                MiddlewareKind::BaseHttp
            } else if method(program, f, s, "__call__").is_some() {
                MiddlewareKind::Asgi
            } else {
                MiddlewareKind::Unresolved
            };
            (program.def_ref(f, s), kind)
        }
        Target::External(p) => (p, MiddlewareKind::External),
        _ => (render_expr(class), MiddlewareKind::Unresolved),
    };
    Middleware {
        target,
        kind,
        options,
        form: form.into(),
        file: program.files[file].path.clone(),
        line,
        request_order: 0,
        conditional,
    }
}

fn exception_handlers(program: &Program, objects: &Objects, obj: usize) -> Vec<ExceptionHandler> {
    let o = &objects.objects[obj];
    let mut out = Vec::new();
    let (vf, vs, value) =
        keyword_value(program, o.file, o.scope, o.call.kwarg("exception_handlers"));
    if let Some(Expr::Dict(pairs)) = value {
        for (k, v) in pairs {
            out.push(ExceptionHandler {
                exception: reference(program, vf, vs, k),
                handler: reference(program, vf, vs, v),
                file: program.files[o.file].path.clone(),
                line: o.call.line,
            });
        }
    }
    for reg in objects
        .on(obj)
        .filter(|r| r.kind == RegKind::ExceptionHandler)
    {
        let Some(exc) = reg.call.arg(0, "exc_class_or_status_code") else {
            continue;
        };
        let handler = match (reg.decorated, &reg.applied) {
            (Some(s), _) => program.def_ref(reg.file, s),
            (None, Some(h)) => reference(program, reg.file, reg.scope, h),
            (None, None) => reg
                .call
                .arg(1, "handler")
                .map(|h| reference(program, reg.file, reg.scope, h))
                .unwrap_or_default(),
        };
        out.push(ExceptionHandler {
            exception: reference(program, reg.file, reg.scope, exc),
            handler,
            file: program.files[reg.file].path.clone(),
            line: reg.line,
        });
    }
    out
}
