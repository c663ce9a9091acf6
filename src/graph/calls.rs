//! Which first-party functions a function reaches through its calls.
//!
//! The flow of a request goes from the route's endpoint into the service
//! layer and on to the places that enqueue work or touch Redis; a task's
//! flow goes from its function to its Redis keys. [`CallGraph::reach`]
//! answers "what does this function end up running?" by following calls
//! that resolve statically: plain and imported functions, module
//! attributes (`actions.submit(...)`), methods of classes instantiated in
//! the code (`manager = Manager(); manager.connect(...)`), methods of
//! parameters annotated with a first-party class, and `self.method()`.
//! Callees are resolved only for functions a walk reaches, so a program
//! without routes or tasks pays nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Program, Target};
use crate::scan::facts::{Call, Expr, Param, Scope, ScopeKind, Stmt};

/// A function or method, by file and scope index.
pub type Def = (usize, u32);

/// A function the walk reached.
#[derive(Debug, Clone)]
pub struct Reached {
    pub def: Def,
    /// Calls between the root and it; 0 for the root itself.
    pub depth: u32,
    /// The function that calls it on the way, and the line of that call.
    pub via: Option<(Def, u32)>,
    /// Set when the function is not called there but handed to another
    /// call that runs it: `background_tasks.add_task(send_mail, ...)`,
    /// `run_in_threadpool(parse, ...)`, `partial(handler, ...)`.
    pub passed_to: Option<String>,
}

/// One edge of the call graph.
#[derive(Debug, Clone)]
struct Callee {
    def: Def,
    line: u32,
    passed_to: Option<String>,
}

/// How far a walk goes: deep enough for route -> service -> repository ->
/// client helper chains, bounded so one walk stays cheap.
const MAX_DEPTH: u32 = 8;
const MAX_REACHED: usize = 400;

pub struct CallGraph<'p> {
    program: &'p Program,
    callees: HashMap<Def, Vec<Callee>>,
    /// Functions that run in another process when handed over (Celery
    /// tasks): passing one along is not running it here.
    elsewhere: HashSet<Def>,
}

impl<'p> CallGraph<'p> {
    pub fn new(program: &'p Program) -> Self {
        CallGraph {
            program,
            callees: HashMap::new(),
            elsewhere: HashSet::new(),
        }
    }

    /// Marks functions that another process runs, so that handing one to a
    /// call (`send_later(cleanup_task, ...)`) is not taken as running it.
    pub fn runs_elsewhere(&mut self, defs: impl IntoIterator<Item = Def>) {
        self.elsewhere.extend(defs);
        self.callees.clear();
    }

    /// Every function reached from `root`, breadth first, each once.
    pub fn reach(&mut self, root: Def) -> Vec<Reached> {
        let mut out = vec![Reached {
            def: root,
            depth: 0,
            via: None,
            passed_to: None,
        }];
        let mut seen: HashSet<Def> = HashSet::from([root]);
        let mut queue = VecDeque::from([(root, 0)]);
        while let Some((def, depth)) = queue.pop_front() {
            if depth >= MAX_DEPTH || out.len() >= MAX_REACHED {
                continue;
            }
            let callees = self.callees_of(def).to_vec();
            for c in callees {
                if seen.insert(c.def) {
                    out.push(Reached {
                        def: c.def,
                        depth: depth + 1,
                        via: Some((def, c.line)),
                        passed_to: c.passed_to,
                    });
                    queue.push_back((c.def, depth + 1));
                }
            }
        }
        out
    }

    fn callees_of(&mut self, def: Def) -> &[Callee] {
        if !self.callees.contains_key(&def) {
            let found = self.resolve_callees(def);
            self.callees.insert(def, found);
        }
        &self.callees[&def]
    }

    /// The first-party functions `def` calls, in its own body and in
    /// functions nested in it (closures it may run), then those it hands
    /// to another call as an argument: a function passed along is taken
    /// to run, since that is what callbacks, thread pools and background
    /// task queues are given functions for.
    fn resolve_callees(&self, (file, scope): Def) -> Vec<Callee> {
        let program = self.program;
        let Some(facts) = program.files[file].facts.as_ref() else {
            return Vec::new();
        };
        let mut scopes = vec![scope];
        for (i, s) in facts.scopes.iter().enumerate() {
            if s.kind == ScopeKind::Function && s.parent.is_some_and(|p| scopes.contains(&p)) {
                scopes.push(i as u32);
            }
        }
        let mut out: Vec<Callee> = Vec::new();
        let mut passed: Vec<Callee> = Vec::new();
        for &s in &scopes {
            let Some(sc) = facts.scopes.get(s as usize) else {
                continue;
            };
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                for (callee, table) in self.table_callees(file, s, &call.func) {
                    if callee != (file, scope)
                        && !self.elsewhere.contains(&callee)
                        && !passed.iter().any(|c| c.def == callee)
                    {
                        passed.push(Callee {
                            def: callee,
                            line: call.line,
                            passed_to: Some(table),
                        });
                    }
                }
                if !matches!(call.func, Expr::Name(_) | Expr::Attr(..)) {
                    continue;
                }
                if let Some(callee) = self.callee(file, s, &call.func)
                    && callee != (file, scope)
                    && !out.iter().any(|c| c.def == callee)
                {
                    out.push(Callee {
                        def: callee,
                        line: call.line,
                        passed_to: None,
                    });
                }
                let values = call.args.iter().chain(call.kwargs.iter().map(|k| &k.value));
                for arg in values {
                    if let Some(callee) = self.function_value(file, s, arg)
                        && callee != (file, scope)
                        && !self.elsewhere.contains(&callee)
                        && !passed.iter().any(|c| c.def == callee)
                    {
                        passed.push(Callee {
                            def: callee,
                            line: call.line,
                            passed_to: Some(runner_name(&call.func)),
                        });
                    }
                }
            }
        }
        for c in passed {
            if !out.iter().any(|o| o.def == c.def) {
                out.push(c);
            }
        }
        out
    }

    /// The functions a call may run when it picks its callee from a dict
    /// of handlers: `HANDLERS[action](msg)`, `HANDLERS.get(action)(msg)`,
    /// or a name bound to either (`handler = HANDLERS[action]`), where
    /// `HANDLERS` is a dict literal whose values name first-party
    /// functions. Each comes with the table's name.
    fn table_callees(&self, file: usize, scope: u32, func: &Expr) -> Vec<(Def, String)> {
        let (mut file, mut scope, mut func) = (file, scope, func);
        if let Expr::Name(_) = func
            && let Target::Value {
                file: f,
                scope: s,
                value: v @ (Expr::Subscript(..) | Expr::Call(_)),
                ..
            } = self.program.resolve(file, scope, func)
        {
            (file, scope, func) = (f, s, v);
        }
        let table = match func {
            Expr::Subscript(base, _) => &**base,
            Expr::Call(c) => match &c.func {
                Expr::Attr(base, m) if m == "get" => &**base,
                _ => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        if !matches!(table, Expr::Name(_) | Expr::Attr(..)) {
            return Vec::new();
        }
        let Target::Value {
            file: tf,
            scope: ts,
            value: Expr::Dict(pairs),
            ..
        } = self.program.resolve(file, scope, table)
        else {
            return Vec::new();
        };
        let name = runner_name(table);
        let mut out: Vec<(Def, String)> = Vec::new();
        for (_, handler) in pairs {
            if let Some(def) = self.function_value(tf, ts, handler)
                && !out.iter().any(|(d, _)| *d == def)
            {
                out.push((def, name.clone()));
            }
        }
        out
    }

    /// The first-party function (not class) an argument names:
    /// `send_mail`, `tasks.cleanup`, `self.on_done`.
    fn function_value(&self, file: usize, scope: u32, arg: &Expr) -> Option<Def> {
        if !matches!(arg, Expr::Name(_) | Expr::Attr(..)) {
            return None;
        }
        let def = self.callee(file, scope, arg)?;
        let is_function = |d: Def| {
            self.program
                .scope(d.0, d.1)
                .is_some_and(|sc| sc.kind == ScopeKind::Function)
        };
        // `len(message.text)` reads a property; it hands over no function.
        if matches!(arg, Expr::Attr(..))
            && self
                .program
                .scope(def.0, def.1)
                .is_some_and(|sc| sc.decorators.iter().any(is_attribute_like))
        {
            return None;
        }
        // `callee` turns a class into its `__init__`; a class handed over
        // is not a function run.
        match self.program.resolve(file, scope, arg) {
            Target::Def { file: f, scope: s } if !is_function((f, s)) => None,
            _ => Some(def),
        }
    }

    fn callee(&self, file: usize, scope: u32, func: &Expr) -> Option<Def> {
        let program = self.program;
        match program.resolve(file, scope, func) {
            Target::Def { file: f, scope: s } => {
                let sc = program.scope(f, s)?;
                match sc.kind {
                    ScopeKind::Function => Some((f, s)),
                    // Building an instance runs `__init__`.
                    ScopeKind::Class => program.method_def(f, s, "__init__"),
                    ScopeKind::Module => None,
                }
            }
            _ => {
                let Expr::Attr(base, method) = func else {
                    return None;
                };
                let (cf, cs) = instance_class(program, file, scope, base)?;
                program.method_def(cf, cs, method)
            }
        }
    }
}

/// A decorator that turns a method into something read as an attribute:
/// `property`, `cached_property`, SQLAlchemy's `hybrid_property` and
/// `declared_attr`, Pydantic's `computed_field`.
fn is_attribute_like(decorator: &Expr) -> bool {
    let func = match decorator {
        Expr::Call(c) => &c.func,
        d => d,
    };
    last_name(func).is_some_and(|n| {
        n.ends_with("property") || n == "declared_attr" || n == "computed_field" || n == "setter"
    })
}

/// How a call that is handed a function is written, for the report:
/// `background_tasks.add_task`, or `(...).then` when what it is called on
/// is itself computed.
fn runner_name(func: &Expr) -> String {
    match (func.dotted(), func) {
        (Some(d), _) => d,
        (None, Expr::Attr(_, m)) => format!("(...).{m}"),
        (None, _) => "a computed callable".to_string(),
    }
}

/// The first-party class an expression is an instance of, when that is
/// visible: `self` in a method, a parameter or annotated name, `Class(...)`
/// itself, a name bound to one, what a first-party function returns (its
/// return annotation, else its `return` values), `self.attr` assigned in
/// the class or a base class, and a `@property` of a known class.
pub fn instance_class(program: &Program, file: usize, scope: u32, base: &Expr) -> Option<Def> {
    instance_class_at(program, file, scope, base, 0)
}

/// How many steps (names, returns, attributes) an instance is followed.
const MAX_INSTANCE_DEPTH: u32 = 8;

fn is_class(program: &Program, f: usize, s: u32) -> bool {
    program
        .scope(f, s)
        .is_some_and(|sc| sc.kind == ScopeKind::Class)
}

fn instance_class_at(
    program: &Program,
    file: usize,
    scope: u32,
    base: &Expr,
    depth: u32,
) -> Option<Def> {
    if depth > MAX_INSTANCE_DEPTH {
        return None;
    }
    let d = depth + 1;
    match base {
        Expr::Name(n) => {
            let sc = program.scope(file, scope)?;
            if sc.kind == ScopeKind::Function
                && let Some(p) = sc.params.iter().position(|p| p.name == n)
            {
                let outer = sc.parent.unwrap_or(0);
                if p == 0 && (n == "self" || n == "cls") && is_class(program, file, outer) {
                    return Some((file, outer));
                }
                let param = &sc.params[p];
                // `q: Queue = Depends(get_queue)`: what the dependency
                // hands out says more than the annotation (often a
                // Protocol).
                let provider = param.default.as_ref().and_then(depends_target).or_else(|| {
                    match &param.annotation {
                        Some(Expr::Subscript(_, items)) => {
                            items.iter().skip(1).find_map(depends_target)
                        }
                        _ => None,
                    }
                });
                if let Some(dep) = provider
                    && let Some(c) = returned_class(program, file, outer, dep, d)
                {
                    return Some(c);
                }
                return annotation_class(program, file, outer, param.annotation.as_ref()?, d);
            }
            // `q: JobQueue = make()`: the annotation says what it is.
            let annotated = sc.stmts.iter().find_map(|st| match st {
                Stmt::Assign {
                    targets,
                    annotation: Some(a),
                    ..
                } if targets.iter().any(|t| matches!(t, Expr::Name(x) if x == n)) => Some(a),
                _ => None,
            });
            if let Some(a) = annotated
                && let Some(c) = annotation_class(program, file, scope, a, d)
            {
                return Some(c);
            }
        }
        // `Store().save(...)`, `queue_for(kind).put(...)`.
        Expr::Call(c) => return returned_class(program, file, scope, &c.func, d),
        Expr::Attr(inner, attr) => {
            if let Some(found) = self_attr_values(program, file, scope, inner, attr)
                .into_iter()
                .find_map(|(f, s, v)| instance_class_at(program, f, s, v, d))
            {
                return Some(found);
            }
            // `self.conn` where `conn` is a `@property` of the class.
            if let Some((cf, cs)) = instance_class_at(program, file, scope, inner, d)
                && let Some((mf, ms)) = program.method_def(cf, cs, attr)
                && program.scope(mf, ms).is_some_and(|m| {
                    m.decorators
                        .iter()
                        .any(|dec| dec.dotted().is_some_and(|x| x.ends_with("property")))
                })
            {
                return function_returns(program, mf, ms, d);
            }
        }
        _ => {}
    }
    match program.resolve(file, scope, base) {
        Target::Value {
            file: f,
            scope: s,
            value,
            ..
        } => instance_class_at(program, f, s, value, d),
        _ => None,
    }
}

/// The class a call of `func` makes: the class itself, or what a
/// first-party function returns.
fn returned_class(
    program: &Program,
    file: usize,
    scope: u32,
    func: &Expr,
    depth: u32,
) -> Option<Def> {
    match program.resolve(file, scope, func) {
        Target::Def { file: f, scope: s } if is_class(program, f, s) => Some((f, s)),
        Target::Def { file: f, scope: s } => function_returns(program, f, s, depth),
        _ => {
            // `self.build()`, `service.make()`: a method of a known class.
            let Expr::Attr(inner, m) = func else {
                return None;
            };
            let (cf, cs) = instance_class_at(program, file, scope, inner, depth + 1)?;
            let (mf, ms) = program.method_def(cf, cs, m)?;
            function_returns(program, mf, ms, depth + 1)
        }
    }
}

/// The first-party class the function at `(file, scope)` returns: its
/// return annotation, else the first `return` value whose class is known.
fn function_returns(program: &Program, file: usize, scope: u32, depth: u32) -> Option<Def> {
    if depth > MAX_INSTANCE_DEPTH {
        return None;
    }
    let sc = program.scope(file, scope)?;
    if sc.kind != ScopeKind::Function {
        return None;
    }
    if let Some(r) = &sc.returns
        && let Some(c) = annotation_class(program, file, sc.parent.unwrap_or(0), r, depth + 1)
    {
        return Some(c);
    }
    sc.stmts.iter().find_map(|st| match st {
        Stmt::Return { value: Some(v), .. } => {
            instance_class_at(program, file, scope, v, depth + 1)
        }
        _ => None,
    })
}

/// The callable of `Depends(f)` or `Security(f)`.
fn depends_target(e: &Expr) -> Option<&Expr> {
    let Expr::Call(c) = e else { return None };
    let last = last_name(&c.func)?;
    if last != "Depends" && last != "Security" {
        return None;
    }
    c.arg(0, "dependency")
}

/// The first-party class an annotation names: `Queue`, `"Queue"`,
/// `Optional[Queue]`, `Queue | None`.
fn annotation_class(
    program: &Program,
    file: usize,
    scope: u32,
    ann: &Expr,
    depth: u32,
) -> Option<Def> {
    if depth > MAX_INSTANCE_DEPTH {
        return None;
    }
    match ann {
        // A Protocol says nothing about which class will be there.
        Expr::Name(_) | Expr::Attr(..) => match program.resolve(file, scope, ann) {
            Target::Def { file: f, scope: s }
                if is_class(program, f, s)
                    && !program.class_extends(
                        f,
                        s,
                        &["typing.Protocol", "typing_extensions.Protocol"],
                    ) =>
            {
                Some((f, s))
            }
            _ => None,
        },
        Expr::Str(text) => {
            let e = text
                .split('.')
                .try_fold(None::<Expr>, |acc, part| {
                    let ok =
                        !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_');
                    ok.then(|| {
                        Some(match acc {
                            None => Expr::Name(part.into()),
                            Some(b) => Expr::Attr(Box::new(b), part.into()),
                        })
                    })
                })
                .flatten()?;
            annotation_class(program, file, scope, &e, depth + 1)
        }
        Expr::Subscript(b, items) => {
            let outer = b.dotted().unwrap_or_default();
            if outer.ends_with("Optional")
                || outer.ends_with("Annotated")
                || outer.ends_with("Union")
            {
                items
                    .iter()
                    .find_map(|i| annotation_class(program, file, scope, i, depth + 1))
            } else {
                None
            }
        }
        Expr::BinOp(l, crate::scan::facts::BinOp::BitOr, r) => {
            annotation_class(program, file, scope, l, depth + 1)
                .or_else(|| annotation_class(program, file, scope, r, depth + 1))
        }
        _ => None,
    }
}

/// The first-party function a call of `func` (seen in `scope` of `file`)
/// goes to, and how many leading parameters the call does not pass: one
/// for a method called on an instance (`self`) and for a class called to
/// build one (its `__init__`), none otherwise.
pub fn called_function(
    program: &Program,
    file: usize,
    scope: u32,
    func: &Expr,
) -> Option<(usize, u32, usize)> {
    if let Target::Def { file: f, scope: s } = program.resolve(file, scope, func) {
        let sc = program.scope(f, s)?;
        // `Queue(client, name)` runs `Queue.__init__(self, client, name)`.
        if sc.kind == ScopeKind::Class {
            let (mf, ms) = program.method_def(f, s, "__init__")?;
            return Some((mf, ms, 1));
        }
        let is_method = program
            .scope(f, sc.parent?)
            .is_some_and(|p| p.kind == ScopeKind::Class);
        let skip = usize::from(is_method && matches!(func, Expr::Attr(..)) && !is_static(sc));
        return (sc.kind == ScopeKind::Function).then_some((f, s, skip));
    }
    let Expr::Attr(base, m) = func else {
        return None;
    };
    // `service.run(x)` on an instance of a first-party class.
    if let Some((cf, cs)) = instance_class(program, file, scope, base)
        && let Some((mf, method)) = program.method_def(cf, cs, m)
    {
        let msc = program.scope(mf, method)?;
        return Some((mf, method, usize::from(!is_static(msc))));
    }
    // `self.helper(x)` inside a method of the same class.
    let Expr::Name(me) = &**base else {
        return None;
    };
    let sc = program.scope(file, scope)?;
    if sc.params.first().map(|p| &p.name) != Some(me) {
        return None;
    }
    let class = sc.parent?;
    let (mf, method) = program.method_def(file, class, m)?;
    let msc = program.scope(mf, method)?;
    Some((mf, method, usize::from(!is_static(msc))))
}

/// The expression a call passes for parameter `index` of `params`, when
/// the call leaves out the first `skip` parameters: the positional
/// argument in that place (before any `*args`), else the keyword argument
/// of that name.
pub fn argument<'c>(
    call: &'c Call,
    params: &[Param],
    index: usize,
    skip: usize,
) -> Option<&'c Expr> {
    let name = &params.get(index)?.name;
    let position = index.checked_sub(skip);
    let positional = position.and_then(|i| {
        let before_star = call
            .args
            .iter()
            .position(|a| matches!(a, Expr::Starred(_)))
            .unwrap_or(call.args.len());
        (i < before_star).then(|| &call.args[i])
    });
    positional.or_else(|| call.kwarg(name))
}

pub fn is_static(sc: &Scope) -> bool {
    sc.decorators
        .iter()
        .any(|d| d.dotted().is_some_and(|n| n.ends_with("staticmethod")))
}

/// The function parameter `name` is, looking out from `scope` the way
/// Python does (a class body does not enclose its methods).
pub fn param_of<'a>(
    program: &'a Program,
    file: usize,
    scope: u32,
    name: &str,
) -> Option<(u32, &'a Param)> {
    let mut cur = Some(scope);
    while let Some(s) = cur {
        if s == 0 {
            break;
        }
        let sc = program.scope(file, s)?;
        if sc.kind == ScopeKind::Function
            && let Some(param) = sc.params.iter().find(|x| x.name == name)
        {
            return Some((s, param));
        }
        cur = sc.parent;
    }
    None
}

/// The last name of a called expression: `get` for `client.get`.
pub fn last_name(func: &Expr) -> Option<&str> {
    match func {
        Expr::Name(n) => Some(n),
        Expr::Attr(_, a) => Some(a),
        _ => None,
    }
}

/// The name an assignment in `stmts` binds the value of `call` to
/// (`client = Client()`, `async with Client() as client`).
pub fn bound_name(stmts: &[Stmt], call: &Call) -> Option<String> {
    stmts.iter().find_map(|st| {
        let Stmt::Assign {
            line,
            targets,
            value: Some(v),
            ..
        } = st
        else {
            return None;
        };
        if *line > call.line {
            return None;
        }
        let v = match v {
            Expr::Await(e) => e,
            e => e,
        };
        match v {
            Expr::Call(c) if **c == *call => targets.first().and_then(Expr::dotted),
            _ => None,
        }
    })
}

/// What `self.attr` may hold, where `base` is the first parameter of the
/// method `scope` of `file`: values assigned to `attr` in the class body
/// and `self.attr = value` in any method, of the class or of a first-party
/// base class, each with the file and scope it is written in. For
/// `<x>.state.attr` (Starlette's state bag), every `*.state.attr = value`
/// in the program.
pub fn self_attr_values<'p>(
    program: &'p Program,
    file: usize,
    scope: u32,
    base: &Expr,
    attr: &str,
) -> Vec<(usize, u32, &'p Expr)> {
    let mut out = Vec::new();
    if matches!(base, Expr::Attr(_, s) if s == "state") {
        return program.state_values(attr);
    }
    let Expr::Name(me) = base else { return out };
    let Some(sc) = program.scope(file, scope) else {
        return out;
    };
    if sc.kind != ScopeKind::Function || sc.params.first().map(|p| &p.name) != Some(me) {
        return out;
    }
    let Some(class) = sc.parent else { return out };
    for (cf, cs) in program.class_chain(file, class) {
        let Some(facts) = program.files[cf].facts.as_ref() else {
            continue;
        };
        for (si, s) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            let owner = if si == cs {
                None
            } else if s.parent == Some(cs) && s.kind == ScopeKind::Function {
                match s.params.first() {
                    Some(p) => Some(p.name.as_str()),
                    None => continue,
                }
            } else {
                continue;
            };
            for st in &s.stmts {
                let Stmt::Assign {
                    targets,
                    value: Some(v),
                    augmented: false,
                    ..
                } = st
                else {
                    continue;
                };
                let hit = targets.iter().any(|t| match (t, owner) {
                    (Expr::Name(n), None) => n == attr,
                    (Expr::Attr(b, a), Some(me)) => {
                        a == attr && matches!(&**b, Expr::Name(n) if n == me)
                    }
                    _ => false,
                });
                if hit {
                    out.push((cf, si, v));
                }
            }
        }
    }
    out
}
