//! Dependency injection: what each parameter of an endpoint or dependency
//! asks FastAPI for, resolved across modules into one tree per route.
//!
//! A parameter is a dependency when its default is `Depends(...)` or
//! `Security(...)`, or its annotation is `Annotated[T, Depends(...)]`,
//! directly or through an alias such as `CurrentUser = Annotated[User,
//! Depends(get_current_user)]` defined in another module. `Depends()` with
//! no argument means the annotation's class. Other parameters are request
//! parameters: path, query, header, cookie, body, form or file.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::objects::{Objects, RegKind};
use super::{
    Auth, DeclaredOn, Dependency, DependencyKind, DependencyUse, ParamSource, Parameter, Route,
};
use crate::graph::calls::{called_function, last_name};
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ParamKind, ScopeKind, Stmt};

/// The markers FastAPI reads from a parameter default or `Annotated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Depends,
    Security,
    Source(ParamSource),
}

fn marker(qualified: &str) -> Option<Marker> {
    if !qualified.starts_with("fastapi.") {
        return None;
    }
    Some(match qualified.rsplit('.').next()? {
        "Depends" => Marker::Depends,
        "Security" => Marker::Security,
        "Path" => Marker::Source(ParamSource::Path),
        "Query" => Marker::Source(ParamSource::Query),
        "Header" => Marker::Source(ParamSource::Header),
        "Cookie" => Marker::Source(ParamSource::Cookie),
        "Body" => Marker::Source(ParamSource::Body),
        "Form" => Marker::Source(ParamSource::Form),
        "File" | "UploadFile" => Marker::Source(ParamSource::File),
        _ => return None,
    })
}

/// Annotations FastAPI fills itself, which are not request parameters.
const INJECTED: [&str; 7] = [
    "Request",
    "WebSocket",
    "HTTPConnection",
    "Response",
    "BackgroundTasks",
    "SecurityScopes",
    "UploadFile",
];

/// The scheme classes of `fastapi.security`.
pub const SCHEMES: [&str; 12] = [
    "OAuth2PasswordBearer",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2",
    "HTTPBearer",
    "HTTPBasic",
    "HTTPDigest",
    "HTTPBase",
    "APIKeyHeader",
    "APIKeyQuery",
    "APIKeyCookie",
    "APIKeyBase",
    "OpenIdConnect",
];

const MAX_DEPTH: u32 = 16;

/// A name or expression together with where it is evaluated.
#[derive(Clone, Copy)]
struct At<'p> {
    file: usize,
    scope: u32,
    expr: &'p Expr,
}

/// Builds dependency definitions once each and answers per-route queries.
pub struct Resolver<'p> {
    program: &'p Program,
    defs: BTreeMap<String, Dependency>,
    in_progress: HashSet<String>,
    /// First-party exception classes that an exception handler answers
    /// with 401 or 403.
    handled: HashMap<(usize, u32), u16>,
}

impl<'p> Resolver<'p> {
    pub fn new(program: &'p Program, objects: &Objects) -> Self {
        Resolver {
            program,
            defs: BTreeMap::new(),
            in_progress: HashSet::new(),
            handled: auth_error_handlers(program, objects),
        }
    }

    /// The uses in a `dependencies=[Depends(a), Security(b)]` list.
    pub fn list(
        &mut self,
        file: usize,
        scope: u32,
        list: Option<&Expr>,
        declared_on: DeclaredOn,
    ) -> Vec<DependencyUse> {
        let Some(list) = list else {
            return Vec::new();
        };
        let Some(items) = list.elements() else {
            return vec![self.unresolved_use(
                file,
                list,
                declared_on,
                None,
                "the dependency list is computed at run time",
                0,
            )];
        };
        let mut out = Vec::new();
        for item in items {
            match item {
                Expr::Call(c) if self.marker_of(file, scope, &c.func).is_some() => {
                    if let Some(u) = self.use_of(file, scope, c, None, declared_on, None, 0) {
                        out.push(u);
                    }
                }
                other => out.push(self.unresolved_use(
                    file,
                    other,
                    declared_on,
                    None,
                    "not a `Depends(...)` call",
                    0,
                )),
            }
        }
        out
    }

    /// Dependencies and request parameters of the function at `(file,
    /// scope)`. `path_params` are the names in the route path.
    pub fn params(
        &mut self,
        file: usize,
        scope: u32,
        path_params: &[String],
    ) -> (Vec<DependencyUse>, Vec<Parameter>) {
        self.params_at(file, scope, path_params, 0)
    }

    fn params_at(
        &mut self,
        file: usize,
        scope: u32,
        path_params: &[String],
        depth: u32,
    ) -> (Vec<DependencyUse>, Vec<Parameter>) {
        let program = self.program;
        let mut uses = Vec::new();
        let mut params = Vec::new();
        let Some(sc) = program.scope(file, scope) else {
            return (uses, params);
        };
        let outer = sc.parent.unwrap_or(0);
        let is_method = sc
            .parent
            .and_then(|p| program.scope(file, p))
            .is_some_and(|p| p.kind == ScopeKind::Class);
        for (i, p) in sc.params.iter().enumerate() {
            if is_method && i == 0 {
                continue;
            }
            if matches!(p.kind, ParamKind::VarArgs | ParamKind::VarKeywords) {
                continue;
            }
            let (base, meta) = match &p.annotation {
                Some(a) => self.unwrap_annotated(file, outer, a),
                None => (None, Vec::new()),
            };
            // The default wins over `Annotated` metadata, as in FastAPI.
            let mut candidates: Vec<At> = Vec::new();
            if let Some(d) = &p.default {
                candidates.push(At {
                    file,
                    scope: outer,
                    expr: d,
                });
            }
            candidates.extend(meta);
            let found = candidates.into_iter().find_map(|at| match at.expr {
                Expr::Call(c) => self
                    .marker_of(at.file, at.scope, &c.func)
                    .map(|m| (at, c.clone(), m)),
                _ => None,
            });
            match found {
                Some((at, call, Marker::Depends | Marker::Security)) => {
                    let class = base.filter(|_| call.arg(0, "dependency").is_none());
                    if let Some(u) = self.use_of(
                        at.file,
                        at.scope,
                        &call,
                        class,
                        DeclaredOn::Parameter,
                        Some(&p.name),
                        depth,
                    ) {
                        uses.push(u);
                    }
                }
                Some((_, call, Marker::Source(source))) => {
                    let default = call.arg(0, "default").map(render_expr);
                    params.push(self.parameter(&p.name, source, base, default));
                }
                None => {
                    let ann = base;
                    if ann.is_some_and(|a| self.is_injected(a)) {
                        continue;
                    }
                    let model = ann.and_then(|a| self.model_of(a));
                    let source = if path_params.iter().any(|n| n == p.name) {
                        ParamSource::Path
                    } else if model.is_some() {
                        ParamSource::Body
                    } else {
                        ParamSource::Query
                    };
                    let default = p.default.as_ref().map(render_expr);
                    params.push(self.parameter(&p.name, source, ann, default));
                }
            }
        }
        (uses, params)
    }

    fn parameter(
        &self,
        name: &str,
        source: ParamSource,
        ann: Option<At>,
        default: Option<String>,
    ) -> Parameter {
        Parameter {
            name: name.to_string(),
            source,
            annotation: ann.map(|a| render_expr(a.expr)),
            model: ann.and_then(|a| self.model_of(a)),
            default,
        }
    }

    /// `Annotated[T, m1, m2]`, written inline or through an alias: `T` and
    /// the metadata, each where it is evaluated.
    fn unwrap_annotated(
        &self,
        file: usize,
        scope: u32,
        ann: &'p Expr,
    ) -> (Option<At<'p>>, Vec<At<'p>>) {
        let mut at = At {
            file,
            scope,
            expr: ann,
        };
        for _ in 0..MAX_DEPTH {
            match at.expr {
                Expr::Subscript(base, items) if self.is_annotated(at.file, at.scope, base) => {
                    let Some((first, rest)) = items.split_first() else {
                        return (None, Vec::new());
                    };
                    let meta = rest
                        .iter()
                        .map(|m| At {
                            file: at.file,
                            scope: at.scope,
                            expr: m,
                        })
                        .collect();
                    return (
                        Some(At {
                            file: at.file,
                            scope: at.scope,
                            expr: first,
                        }),
                        meta,
                    );
                }
                Expr::Name(_) | Expr::Attr(..) => {
                    match self.program.resolve(at.file, at.scope, at.expr) {
                        Target::Value {
                            file: f,
                            scope: s,
                            value: v @ Expr::Subscript(..),
                            ..
                        } => {
                            at = At {
                                file: f,
                                scope: s,
                                expr: v,
                            };
                        }
                        _ => return (Some(at), Vec::new()),
                    }
                }
                _ => return (Some(at), Vec::new()),
            }
        }
        (Some(at), Vec::new())
    }

    fn is_annotated(&self, file: usize, scope: u32, base: &Expr) -> bool {
        self.program
            .qualify(file, scope, base)
            .is_some_and(|q| q == "typing.Annotated" || q == "typing_extensions.Annotated")
    }

    fn marker_of(&self, file: usize, scope: u32, func: &Expr) -> Option<Marker> {
        func.dotted()?;
        marker(&self.program.qualify(file, scope, func)?)
    }

    fn is_injected(&self, ann: At) -> bool {
        let expr = match ann.expr {
            Expr::Subscript(b, _) => b.as_ref(),
            e => e,
        };
        self.program
            .qualify(ann.file, ann.scope, expr)
            .is_some_and(|q| {
                (q.starts_with("fastapi.") || q.starts_with("starlette."))
                    && q.rsplit('.').next().is_some_and(|l| INJECTED.contains(&l))
            })
    }

    /// The first-party Pydantic model an annotation names (`Item`,
    /// `list[Item]`, `Item | None`), as `module:qualname`.
    fn model_of(&self, ann: At) -> Option<String> {
        let inner = match ann.expr {
            Expr::Subscript(_, items) => items.first()?,
            Expr::BinOp(l, _, _) => l.as_ref(),
            e => e,
        };
        let Target::Def { file, scope } = self.program.resolve(ann.file, ann.scope, inner) else {
            return None;
        };
        let sc = self.program.scope(file, scope)?;
        let is_model = sc.kind == ScopeKind::Class
            && self.program.class_extends(
                file,
                scope,
                &[
                    "pydantic.BaseModel",
                    "pydantic.main.BaseModel",
                    "sqlmodel.SQLModel",
                ],
            );
        is_model.then(|| self.program.def_ref(file, scope))
    }

    /// A use from `Depends(dep)`/`Security(dep, scopes=...)`. `class` is the
    /// annotation, for `Depends()` with no argument.
    #[allow(clippy::too_many_arguments)]
    fn use_of(
        &mut self,
        file: usize,
        scope: u32,
        call: &Call,
        class: Option<At>,
        declared_on: DeclaredOn,
        parameter: Option<&str>,
        depth: u32,
    ) -> Option<DependencyUse> {
        let scopes = call
            .kwarg("scopes")
            .and_then(Expr::elements)
            .map(|items| {
                items
                    .iter()
                    .map(|s| {
                        self.program
                            .eval_str(file, scope, s)
                            .text()
                            .map_or_else(|| render_expr(s), str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let no_cache = matches!(call.kwarg("use_cache"), Some(Expr::Bool(false)));
        let target = match call.arg(0, "dependency") {
            Some(dep) => self.define(file, scope, dep, depth + 1),
            None => match class {
                Some(at) => self.define(at.file, at.scope, at.expr, depth + 1),
                None => {
                    return Some(self.unresolved_use(
                        file,
                        &Expr::Call(std::sync::Arc::new(call.clone())),
                        declared_on,
                        parameter,
                        "`Depends()` without a dependency or a class annotation",
                        call.line,
                    ));
                }
            },
        };
        Some(DependencyUse {
            target,
            declared_on,
            parameter: parameter.map(str::to_string),
            scopes,
            no_cache,
            file: self.program.files[file].path.clone(),
            line: call.line,
        })
    }

    fn unresolved_use(
        &mut self,
        file: usize,
        expr: &Expr,
        declared_on: DeclaredOn,
        parameter: Option<&str>,
        reason: &str,
        line: u32,
    ) -> DependencyUse {
        let target = render_expr(expr);
        self.defs
            .entry(target.clone())
            .or_insert_with(|| blank(&target, DependencyKind::Unresolved, Some(reason)));
        DependencyUse {
            target,
            declared_on,
            parameter: parameter.map(str::to_string),
            scopes: Vec::new(),
            no_cache: false,
            file: self.program.files[file].path.clone(),
            line,
        }
    }

    /// Resolves the dependency `expr` names and records its definition;
    /// returns its reference.
    fn define(&mut self, file: usize, scope: u32, expr: &Expr, depth: u32) -> String {
        let program = self.program;
        if depth > MAX_DEPTH {
            return self.record_unresolved(expr, "too deeply nested");
        }
        if let Expr::Lambda = expr {
            return self.record_unresolved(expr, "a lambda");
        }
        if let Expr::Call(c) = expr {
            return self.define_call(file, scope, expr, c, depth);
        }
        match program.resolve(file, scope, expr) {
            Target::Def { file: f, scope: s } => self.define_def(f, s, depth),
            Target::Value {
                file: f,
                scope: s,
                value,
                ..
            } => match value {
                Expr::Name(_) | Expr::Attr(..) => self.define(f, s, value, depth + 1),
                Expr::Call(c) => {
                    let name = expr
                        .dotted()
                        .and_then(|d| d.rsplit('.').next().map(str::to_string))
                        .unwrap_or_default();
                    let module = program.files[f]
                        .module
                        .as_ref()
                        .map_or("", |m| m.name.as_str());
                    let target = format!("{module}:{name}");
                    self.define_instance(f, s, &target, c, depth)
                }
                _ => self.record_unresolved(expr, "not a function, class or instance"),
            },
            Target::External(path) => {
                self.defs
                    .entry(path.clone())
                    .or_insert_with(|| blank(&path, DependencyKind::External, None));
                path
            }
            Target::Module(_) => self.record_unresolved(expr, "names a module"),
            Target::Unknown => self.record_unresolved(expr, "only known at run time"),
        }
    }

    /// `Depends(make_checker("admin"))` or `Depends(partial(f, ...))`.
    fn define_call(
        &mut self,
        file: usize,
        scope: u32,
        expr: &Expr,
        c: &Call,
        depth: u32,
    ) -> String {
        let program = self.program;
        if program
            .qualify(file, scope, &c.func)
            .is_some_and(|q| q == "functools.partial")
            && let Some(f) = c.args.first()
        {
            return self.define(file, scope, f, depth + 1);
        }
        match program.resolve(file, scope, &c.func) {
            Target::Def { file: f, scope: s }
                if program
                    .scope(f, s)
                    .is_some_and(|sc| sc.kind == ScopeKind::Class) =>
            {
                // `Depends(Checker([...]))`: one dependency per class, named
                // after it; FastAPI calls each instance's `__call__`.
                let target = program.def_ref(f, s);
                self.define_instance(file, scope, &target, c, depth)
            }
            Target::Def { file: f, scope: s } => {
                // A factory: follow what it returns (usually a closure).
                let returned = program.scope(f, s).and_then(|sc| {
                    sc.stmts.iter().find_map(|st| match st {
                        Stmt::Return { value: Some(v), .. } => Some(v),
                        _ => None,
                    })
                });
                match returned {
                    Some(v @ (Expr::Name(_) | Expr::Attr(..))) => self.define(f, s, v, depth + 1),
                    _ => self.record_unresolved(expr, "built at run time by a call"),
                }
            }
            _ => self.record_unresolved(expr, "built at run time by a call"),
        }
    }

    fn record_unresolved(&mut self, expr: &Expr, reason: &str) -> String {
        let target = render_expr(expr);
        self.defs
            .entry(target.clone())
            .or_insert_with(|| blank(&target, DependencyKind::Unresolved, Some(reason)));
        target
    }

    /// A function or class used as a dependency.
    fn define_def(&mut self, f: usize, s: u32, depth: u32) -> String {
        let program = self.program;
        let target = program.def_ref(f, s);
        if self.defs.contains_key(&target) || self.in_progress.contains(&target) {
            return target;
        }
        let Some(sc) = program.scope(f, s) else {
            return self.record_unresolved(&Expr::Name(target.into()), "no definition");
        };
        self.in_progress.insert(target.clone());
        let mut def = blank(&target, DependencyKind::Function, None);
        def.file = Some(program.files[f].path.clone());
        def.line = Some(sc.line);
        if sc.kind == ScopeKind::Class {
            def.kind = DependencyKind::Class;
            def.provides = Some(sc.name.to_string());
            if let Some(init) = method(program, f, s, "__init__") {
                let (uses, params) = self.params_at(f, init, &[], depth + 1);
                def.depends_on = uses;
                def.parameters = params;
            }
        } else {
            def.is_async = sc.is_async;
            def.provides = sc
                .returns
                .as_ref()
                .and_then(|r| provided(r, !sc.yields.is_empty()));
            if let Some(&yield_line) = sc.yields.first() {
                def.kind = DependencyKind::Generator;
                let (setup, teardown) = around(sc, yield_line);
                def.setup = setup;
                def.teardown = teardown;
                if def.provides.is_none() {
                    def.provides = sc.yielded.first().map(|y| yielded(program, f, s, y));
                }
            }
            def.rejects_with = rejects_with(program, &self.handled, f, s, 0);
            let (uses, params) = self.params_at(f, s, &[], depth + 1);
            def.depends_on = uses;
            def.parameters = params;
        }
        self.in_progress.remove(&target);
        self.defs.insert(target.clone(), def);
        target
    }

    /// `name = SomeClass(...)` used as a dependency: a security scheme, or
    /// a callable instance whose `__call__` FastAPI invokes.
    fn define_instance(
        &mut self,
        file: usize,
        scope: u32,
        target: &str,
        c: &Call,
        depth: u32,
    ) -> String {
        let program = self.program;
        let target = target.to_string();
        if self.defs.contains_key(&target) || self.in_progress.contains(&target) {
            return target;
        }
        let mut def = blank(&target, DependencyKind::Unresolved, None);
        def.file = Some(program.files[file].path.clone());
        def.line = Some(c.line);
        match program.resolve(file, scope, &c.func) {
            Target::External(path) if path.starts_with("fastapi.security") => {
                def.kind = DependencyKind::SecurityScheme;
                def.scheme = path.rsplit('.').next().map(str::to_string);
            }
            Target::External(path) => {
                def.kind = DependencyKind::External;
                def.reason = Some(format!("an instance of `{path}`"));
            }
            // fastapi-users: `current_user = users.current_user(active=True)`
            // is the dependency that authenticates the request.
            _ if matches!(&c.func, Expr::Attr(_, m) if m == "current_user") => {
                def.kind = DependencyKind::SecurityScheme;
                def.scheme = Some("FastAPIUsers.current_user".into());
            }
            Target::Def { file: f, scope: s } => {
                let scheme_bases: Vec<String> = SCHEMES
                    .iter()
                    .flat_map(|n| [format!("fastapi.security.{n}")])
                    .collect();
                let bases: Vec<&str> = scheme_bases.iter().map(String::as_str).collect();
                if program.class_extends(f, s, &bases) {
                    def.kind = DependencyKind::SecurityScheme;
                    def.scheme = program.scope(f, s).map(|sc| sc.name.to_string());
                } else if let Some(call) = method(program, f, s, "__call__") {
                    self.in_progress.insert(target.clone());
                    def.kind = DependencyKind::CallableInstance;
                    def.is_async = program.scope(f, call).is_some_and(|sc| sc.is_async);
                    def.provides = program
                        .scope(f, call)
                        .and_then(|sc| sc.returns.as_ref())
                        .and_then(|r| provided(r, false));
                    def.rejects_with = rejects_with(program, &self.handled, f, call, 0);
                    let (uses, params) = self.params_at(f, call, &[], depth + 1);
                    def.depends_on = uses;
                    def.parameters = params;
                    self.in_progress.remove(&target);
                } else {
                    def.reason = Some(format!(
                        "an instance of `{}`, which has no `__call__`",
                        program.def_ref(f, s)
                    ));
                }
            }
            _ => def.reason = Some("built by a call that cannot be resolved".into()),
        }
        self.defs.insert(target.clone(), def);
        target
    }

    /// Every dependency reachable from `uses`, depth first, each once.
    pub fn closure(&self, uses: &[DependencyUse]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<&str> = uses.iter().rev().map(|u| u.target.as_str()).collect();
        while let Some(t) = stack.pop() {
            if out.iter().any(|o| o == t) {
                continue;
            }
            out.push(t.to_string());
            if let Some(d) = self.defs.get(t) {
                stack.extend(d.depends_on.iter().rev().map(|u| u.target.as_str()));
            }
        }
        out
    }

    /// The security schemes below `uses`, with the scopes required on the
    /// way down; where there is none, the dependencies that reject the
    /// request with 401 or 403 themselves (a token check written by hand).
    /// Beside a scheme, such a check is the scheme's own validation and is
    /// not listed.
    pub fn auth(&self, uses: &[DependencyUse]) -> Vec<Auth> {
        let mut out: Vec<Auth> = Vec::new();
        let mut checks: Vec<Auth> = Vec::new();
        let mut stack: Vec<(&str, Vec<String>, u32)> = uses
            .iter()
            .rev()
            .map(|u| (u.target.as_str(), u.scopes.clone(), 0))
            .collect();
        while let Some((t, scopes, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                continue;
            }
            let Some(d) = self.defs.get(t) else { continue };
            if let Some(code) = d.rejects_with
                && !checks.iter().any(|a: &Auth| a.instance == t)
            {
                checks.push(Auth {
                    scheme: format!("custom check (raises {code})"),
                    instance: t.to_string(),
                    scopes: scopes.clone(),
                });
            }
            if d.kind == DependencyKind::SecurityScheme {
                let scheme = d.scheme.clone().unwrap_or_default();
                match out.iter_mut().find(|a| a.instance == t) {
                    Some(a) => {
                        for s in scopes {
                            if !a.scopes.contains(&s) {
                                a.scopes.push(s);
                            }
                        }
                    }
                    None => out.push(Auth {
                        scheme,
                        instance: t.to_string(),
                        scopes,
                    }),
                }
                continue;
            }
            for u in d.depends_on.iter().rev() {
                let mut s = scopes.clone();
                for x in &u.scopes {
                    if !s.contains(x) {
                        s.push(x.clone());
                    }
                }
                stack.push((u.target.as_str(), s, depth + 1));
            }
        }
        if out.is_empty() { checks } else { out }
    }

    /// The definitions, each with the routes that reach it.
    pub fn finish(mut self, routes: &[Route], _apps: &[super::App]) -> Vec<Dependency> {
        for r in routes {
            let label = route_label(r);
            for t in &r.all_dependencies {
                if let Some(d) = self.defs.get_mut(t)
                    && !d.used_by.contains(&label)
                {
                    d.used_by.push(label.clone());
                }
            }
        }
        self.defs.into_values().collect()
    }
}

/// `GET /path`, `WS /path` or `MOUNT /path`.
pub fn route_label(r: &Route) -> String {
    let method = match r.kind {
        super::RouteKind::Websocket => "WS".to_string(),
        super::RouteKind::Mount => "MOUNT".to_string(),
        super::RouteKind::Http => r.methods.join(","),
    };
    format!("{method} {}", r.path)
}

/// The status of an `HTTPException(401)` or `(403)` that function `scope`
/// raises: built in the `raise` itself, or bound to a name first
/// (`credentials_exception = HTTPException(...)` then `raise
/// credentials_exception`), in its own body or in a first-party function
/// or method it calls (`verify_token(token)`, `verifier.check(token)`), up
/// to a few calls deep.
fn rejects_with(
    program: &Program,
    handled: &HashMap<(usize, u32), u16>,
    file: usize,
    scope: u32,
    depth: u32,
) -> Option<u16> {
    let sc = program.scope(file, scope)?;
    let own = sc.stmts.iter().find_map(|st| match st {
        Stmt::Raise { value: Some(v), .. } => match v {
            Expr::Call(c) => http_rejection(program, handled, file, scope, c),
            name @ (Expr::Name(_) | Expr::Attr(..)) => match program.resolve(file, scope, name) {
                Target::Value {
                    file: f,
                    scope: s,
                    value: Expr::Call(c),
                    ..
                } => http_rejection(program, handled, f, s, c),
                // `raise NotAuthenticated`: the class itself.
                Target::Def { file: f, scope: s } => class_rejection(program, handled, f, s),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    });
    if own.is_some() || depth >= 3 {
        return own;
    }
    sc.stmts.iter().find_map(|st| {
        let Stmt::Call { call, .. } = st else {
            return None;
        };
        // Functions, methods of visible instances (`verifier.check(token)`)
        // and constructors alike.
        let (f, s, _) = called_function(program, file, scope, &call.func)?;
        if (f, s) == (file, scope) {
            return None;
        }
        rejects_with(program, handled, f, s, depth + 1)
    })
}

/// 401 or 403 when `c` builds an `HTTPException` with that status
/// (`status.HTTP_401_UNAUTHORIZED` and `HTTP_403_FORBIDDEN` count too), or
/// an instance of a first-party subclass that sets it.
fn http_rejection(
    program: &Program,
    handled: &HashMap<(usize, u32), u16>,
    file: usize,
    scope: u32,
    c: &Call,
) -> Option<u16> {
    if last_name(&c.func).is_some_and(|n| n.ends_with("HTTPException")) {
        return auth_status(c.arg(0, "status_code")?);
    }
    match program.resolve(file, scope, &c.func) {
        Target::Def { file: f, scope: s } => class_rejection(program, handled, f, s),
        _ => None,
    }
}

/// 401 or 403 for raising the first-party class at `(file, class)`: an
/// `HTTPException` subclass fixing that status, or an exception that an
/// exception handler (of it or a base class) answers with it.
fn class_rejection(
    program: &Program,
    handled: &HashMap<(usize, u32), u16>,
    file: usize,
    class: u32,
) -> Option<u16> {
    subclass_rejection(program, file, class).or_else(|| {
        program
            .class_chain(file, class)
            .iter()
            .find_map(|c| handled.get(c).copied())
    })
}

/// First-party exception classes whose handler, registered on an
/// application (`@app.exception_handler(E)`, `add_exception_handler(E, h)`),
/// returns a response with status 401 or 403.
fn auth_error_handlers(program: &Program, objects: &Objects) -> HashMap<(usize, u32), u16> {
    let mut out = HashMap::new();
    for reg in objects
        .registrations
        .iter()
        .filter(|r| r.kind == RegKind::ExceptionHandler)
    {
        let Some(exc) = reg.call.arg(0, "exc_class_or_status_code") else {
            continue;
        };
        let handler = match (reg.decorated, &reg.applied) {
            (Some(s), _) => Some((reg.file, s)),
            (None, applied) => match applied.as_ref().or(reg.call.arg(1, "handler")) {
                Some(h) => match program.resolve(reg.file, reg.scope, h) {
                    Target::Def { file, scope } => Some((file, scope)),
                    _ => None,
                },
                None => None,
            },
        };
        if let Some((hf, hs)) = handler
            && let Some(code) = response_status(program, hf, hs)
            && let Target::Def { file, scope } = program.resolve(reg.file, reg.scope, exc)
        {
            out.insert((file, scope), code);
        }
    }
    out
}

/// 401 or 403 when function `scope` returns a response built with that
/// status (`JSONResponse(status_code=401, ...)`, or the status as the
/// second positional argument).
fn response_status(program: &Program, file: usize, scope: u32) -> Option<u16> {
    let sc = program.scope(file, scope)?;
    if sc.kind != ScopeKind::Function {
        return None;
    }
    sc.stmts.iter().find_map(|st| match st {
        Stmt::Return {
            value: Some(Expr::Call(c)),
            ..
        } => auth_status(c.kwarg("status_code").or_else(|| c.args.get(1))?),
        _ => None,
    })
}

/// 401 or 403 when the class at `(file, class)` subclasses `HTTPException`
/// and fixes that status: `status_code = 401` in a class body of its
/// chain, or `super().__init__(status_code=403, ...)` (or
/// `HTTPException.__init__(self, 403)`) in an `__init__`.
fn subclass_rejection(program: &Program, file: usize, class: u32) -> Option<u16> {
    const HTTP_EXCEPTIONS: [&str; 3] = [
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "starlette.exceptions.HTTPException",
    ];
    if !program.class_extends(file, class, &HTTP_EXCEPTIONS) {
        return None;
    }
    for (f, s) in program.class_chain(file, class) {
        let sc = program.scope(f, s)?;
        // The nearest class that sets `status_code` decides.
        for st in &sc.stmts {
            if let Stmt::Assign {
                targets,
                value: Some(v),
                ..
            } = st
                && targets
                    .iter()
                    .any(|t| matches!(t, Expr::Name(n) if n == "status_code"))
            {
                return auth_status(v);
            }
        }
        let Some(init) = method(program, f, s, "__init__") else {
            continue;
        };
        let init_scope = program.scope(f, init)?;
        for st in &init_scope.stmts {
            let Stmt::Call { call, .. } = st else {
                continue;
            };
            if !matches!(&call.func, Expr::Attr(_, m) if m == "__init__") {
                continue;
            }
            let status = call.kwarg("status_code").or_else(|| {
                call.args
                    .iter()
                    .find(|a| !matches!(a, Expr::Name(n) if n == "self"))
            });
            if let Some(code) = status.and_then(auth_status) {
                return Some(code);
            }
        }
    }
    None
}

/// 401 or 403 when `e` is that status, as a number or a `status.` name.
fn auth_status(e: &Expr) -> Option<u16> {
    match e {
        Expr::Num(n) if n == "401" || n == "403" => n.parse().ok(),
        e => {
            let dotted = e.dotted()?;
            if dotted.ends_with("HTTP_401_UNAUTHORIZED") {
                Some(401)
            } else if dotted.ends_with("HTTP_403_FORBIDDEN") {
                Some(403)
            } else {
                None
            }
        }
    }
}

fn blank(target: &str, kind: DependencyKind, reason: Option<&str>) -> Dependency {
    Dependency {
        target: target.to_string(),
        kind,
        file: None,
        line: None,
        is_async: false,
        provides: None,
        setup: Vec::new(),
        teardown: Vec::new(),
        scheme: None,
        rejects_with: None,
        depends_on: Vec::new(),
        parameters: Vec::new(),
        reason: reason.map(str::to_string),
        used_by: Vec::new(),
    }
}

/// The method `name` defined directly in the class at `(file, class)`.
pub fn method(program: &Program, file: usize, class: u32, name: &str) -> Option<u32> {
    program.method(file, class, name)
}

/// What a return annotation provides: for a generator, the first type
/// argument of `Iterator[T]`, `Generator[T, ...]` and their async forms,
/// and nothing for a bare `Generator`, which says nothing of the value.
fn provided(ret: &Expr, generator: bool) -> Option<String> {
    let is_iterator = |e: &Expr| {
        e.dotted().is_some_and(|b| {
            let last = b.rsplit('.').next().unwrap_or("");
            matches!(
                last,
                "Iterator" | "Generator" | "AsyncIterator" | "AsyncGenerator" | "Iterable"
            )
        })
    };
    if generator {
        match ret {
            Expr::Subscript(base, items) if is_iterator(base) => {
                return items.first().map(render_expr);
            }
            bare if is_iterator(bare) => return None,
            _ => {}
        }
    }
    Some(render_expr(ret))
}

/// A yielded value, described: `db` assigned from `DbSession()` reads
/// `DbSession`.
fn yielded(program: &Program, file: usize, scope: u32, y: &Expr) -> String {
    // What a call makes: what the function or method says it returns
    // (`pool.connection()`); a class is its own answer.
    let made_by = |c: &Call| {
        let returns = crate::graph::calls::called_function(program, file, scope, &c.func)
            .and_then(|(f, s, _)| program.scope(f, s))
            .filter(|callee| callee.name != "__init__")
            .and_then(|callee| callee.returns.as_ref());
        returns.map_or_else(|| render_expr(&c.func), render_expr)
    };
    match y {
        Expr::Call(c) => return made_by(c),
        Expr::Name(n) => {
            let assigned = program.scope(file, scope).and_then(|sc| {
                sc.stmts.iter().find_map(|st| match st {
                    Stmt::Assign {
                        targets,
                        value: Some(Expr::Call(c)),
                        ..
                    } if targets.iter().any(|t| matches!(t, Expr::Name(x) if x == n)) => Some(c),
                    _ => None,
                })
            });
            if let Some(c) = assigned {
                return made_by(c);
            }
        }
        _ => {}
    }
    render_expr(y)
}

/// The calls of a generator before its `yield` and after it. A `with`
/// block around the `yield` is left after it: its context manager's exit
/// is part of the teardown (`with Session(): __exit__()`).
pub fn around(sc: &crate::scan::facts::Scope, yield_line: u32) -> (Vec<String>, Vec<String>) {
    split_at_yield(sc, yield_line, |st| match st {
        Stmt::Call { call, awaited, .. } if call.func.dotted().is_some() => {
            let text = format!(
                "{}{}()",
                if *awaited { "await " } else { "" },
                render_expr(&call.func)
            );
            vec![(call.line, text)]
        }
        Stmt::With {
            line,
            end_line,
            value,
            is_async,
            ..
        } if *line < yield_line && yield_line <= *end_line => {
            let manager = match value {
                Expr::Call(c) => format!("{}()", render_expr(&c.func)),
                other => render_expr(other),
            };
            let text = if *is_async {
                format!("async with {manager}: __aexit__()")
            } else {
                format!("with {manager}: __exit__()")
            };
            // Left after the yield, even when the block ends on its line.
            vec![((*end_line).max(yield_line + 1), text)]
        }
        _ => Vec::new(),
    })
}

/// What `texts` reads off each statement of a generator, as `(line,
/// text)`, split into what comes up to the line of its `yield` (the value
/// yielded is computed before it) and what comes after; each text once, in
/// order.
pub fn split_at_yield(
    sc: &crate::scan::facts::Scope,
    yield_line: u32,
    texts: impl Fn(&Stmt) -> Vec<(u32, String)>,
) -> (Vec<String>, Vec<String>) {
    let mut before: Vec<String> = Vec::new();
    let mut after: Vec<String> = Vec::new();
    for (line, text) in sc.stmts.iter().flat_map(texts) {
        let side = if line <= yield_line {
            &mut before
        } else {
            &mut after
        };
        if !side.contains(&text) {
            side.push(text);
        }
    }
    (before, after)
}
