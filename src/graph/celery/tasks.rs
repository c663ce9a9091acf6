//! Tasks, named as Celery names them, and the queue each lands on.
//!
//! A task is a function decorated with `@app.task` or `@shared_task`
//! (called or not), or with a project decorator that hands the function
//! to one of them, or a `Task` subclass registered with
//! `app.register_task(...)`. Its registered name is the explicit `name=`
//! (or a class's `name` attribute), else the module's dotted path and the
//! function's own name; in a module run as a script, Celery uses the app's
//! main name instead of `__main__`. Its queue is its own `queue=` (or its
//! base class's), else the first matching `task_routes` entry, else the
//! app's default queue.

use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, Keyword, ParamKind, ScopeKind, Stmt};

use super::apps::{AppInfo, app_of, glob_match};
use super::{Task, TaskOption};

pub struct TaskInfo {
    pub file: usize,
    /// The function or class scope.
    pub scope: u32,
    pub app: Option<usize>,
    pub task: Task,
    /// `queue=` folded where it is written, and the base class it comes
    /// from when inherited.
    queue: Option<(StrValue, Option<String>)>,
    /// Other functions (file, scope) whose names are bound to this task: those
    /// decorated by a project decorator that registers this inner function.
    pub bound: Vec<(usize, u32)>,
}

const SHARED: [&str; 5] = [
    "celery.shared_task",
    "celery.app.shared_task",
    "celery.task",
    "celery.task.task",
    "celery.decorators.task",
];

const TASK_CLASSES: [&str; 3] = ["celery.Task", "celery.app.task.Task", "celery.task.Task"];

/// Options that a base class's body may set for its tasks.
const CLASS_OPTIONS: [&str; 14] = [
    "queue",
    "autoretry_for",
    "max_retries",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "retry_kwargs",
    "default_retry_delay",
    "rate_limit",
    "time_limit",
    "soft_time_limit",
    "acks_late",
    "ignore_result",
    "serializer",
];

pub fn find(program: &Program, apps: &[AppInfo]) -> Vec<TaskInfo> {
    let mut out = Vec::new();
    let mut bound: Vec<((usize, u32), (usize, u32))> = Vec::new();
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let outer = sc.parent.unwrap_or(0);
            if sc.kind == ScopeKind::Function {
                for dec in &sc.decorators {
                    let (callee, call) = match dec {
                        Expr::Call(c) => (&c.func, Some(c.as_ref())),
                        other => (other, None),
                    };
                    if !matches!(callee, Expr::Name(_) | Expr::Attr(..)) {
                        continue;
                    }
                    let Some(maker) = task_maker(program, apps, file, outer, callee, 0) else {
                        // A project decorator that makes the task itself.
                        if let Some(made) = decorated_by(program, apps, file, outer, dec) {
                            match made.registers {
                                Registers::Itself => out.push(function_task(
                                    program,
                                    apps,
                                    file,
                                    si as u32,
                                    &made.maker,
                                    made.options,
                                )),
                                Registers::Inner(f, s) => bound.push(((f, s), (file, si as u32))),
                            }
                            break;
                        }
                        continue;
                    };
                    let mut task = function_task(program, apps, file, si as u32, &maker, call);
                    // Decorators below the task decorator run first; one that
                    // returns its own inner function hands Celery that name.
                    let below = &sc.decorators
                        [sc.decorators.iter().position(|d| d == dec).unwrap_or(0) + 1..];
                    if call.and_then(|c| c.kwarg("name")).is_none()
                        && let Some((df, inner)) = renamed_by(program, file, outer, below)
                    {
                        let (name, alt) = automatic_name(program, apps, df, maker.app, &inner);
                        task.task.name = StrValue::known(name);
                        task.task.alternative_name = alt;
                        task.task.options.push(TaskOption {
                            name: "__name__".into(),
                            value: format!(
                                "{inner} (set by a decorator that does not use functools.wraps)"
                            ),
                            inherited_from: None,
                        });
                    }
                    out.push(task);
                    break;
                }
            }
            // `ping = app.task(ping_impl)`, `shared_task(bind=True)(fetch)`.
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                let (maker_expr, options) = match &call.func {
                    Expr::Call(inner) => (&inner.func, Some(inner.as_ref())),
                    other => (other, None),
                };
                if !matches!(maker_expr, Expr::Name(_) | Expr::Attr(..)) {
                    continue;
                }
                let Some(target) = call.args.first() else {
                    continue;
                };
                let Target::Def {
                    file: ff,
                    scope: fs,
                } = program.resolve(file, si as u32, target)
                else {
                    continue;
                };
                if program
                    .scope(ff, fs)
                    .is_none_or(|f| f.kind != ScopeKind::Function)
                    || out.iter().any(|t: &TaskInfo| (t.file, t.scope) == (ff, fs))
                    || (ff == file && copies_name_of_param(program, ff, fs, si as u32))
                {
                    continue;
                }
                let Some(maker) = task_maker(program, apps, file, si as u32, maker_expr, 0) else {
                    continue;
                };
                let options =
                    options.or((options.is_none() && call.args.len() == 1).then_some(&**call));
                out.push(function_task(program, apps, ff, fs, &maker, options));
            }
        }
    }
    // Functions decorated by a project decorator that registers its own
    // inner function (no `functools.wraps`): they are bound to that task.
    for (inner, decorated) in bound {
        if let Some(t) = out.iter_mut().find(|t| (t.file, t.scope) == inner) {
            t.bound.push(decorated);
        }
    }
    out.extend(registered_classes(program, apps));
    if out.iter().any(|t| t.task.not_importable.is_some()) {
        let at = loads_by_path(program);
        for t in &mut out {
            if t.task.not_importable.is_none() {
                continue;
            }
            // `cd periodic-tasks && celery -A myapp worker`: a worker
            // started in the folder of the task's own app imports the
            // folder's modules by their bare names.
            let folder = |f: usize| crate::graph::layout::parent(&program.files[f].path);
            let app_beside = t
                .app
                .and_then(|a| apps.get(a))
                .is_some_and(|a| folder(a.file) == folder(t.file));
            t.task.not_importable = if app_beside {
                None
            } else {
                unimportable(program, t.file, at.as_deref())
            };
        }
    }
    for t in &mut out {
        let (queue, from) = queue_of(apps, t);
        t.task.queue = queue;
        t.task.queue_from = from;
    }
    out.sort_by(|a, b| (&a.task.file, a.task.line).cmp(&(&b.task.file, b.task.line)));
    out.dedup_by(|a, b| (a.file, a.scope) == (b.file, b.scope));
    out
}

/// The function name Celery sees when `decorators` (top to bottom, all
/// applied before the task decorator) wrap the function: the inner
/// function a first-party decorator returns when it does not copy the
/// name with `functools.wraps`, with the file it is defined in.
fn renamed_by(
    program: &Program,
    file: usize,
    scope: u32,
    decorators: &[Expr],
) -> Option<(usize, String)> {
    for dec in decorators {
        // `@retry(3)`: the factory returns the decorator.
        let (target, factory) = match dec {
            Expr::Call(c) => (&c.func, true),
            other => (other, false),
        };
        let Target::Def { file: f, scope: s } = program.resolve(file, scope, target) else {
            continue;
        };
        let mut current = (f, s);
        if factory {
            match returned_function(program, f, s) {
                Some(d) => current = (f, d),
                None => continue,
            }
        }
        let Some(inner) = returned_function(program, current.0, current.1) else {
            continue;
        };
        let isc = program.scope(current.0, inner)?;
        let copies = isc
            .decorators
            .iter()
            .any(|d| matches!(d, Expr::Call(c) if c.func.dotted().is_some_and(|n| n == "wraps" || n.ends_with(".wraps"))));
        if !copies {
            return Some((current.0, isc.name.to_string()));
        }
    }
    None
}

/// The nested function a function returns by name (`return wrapper`).
fn returned_function(program: &Program, file: usize, scope: u32) -> Option<u32> {
    let sc = program.scope(file, scope)?;
    let facts = program.files[file].facts.as_ref()?;
    sc.stmts.iter().find_map(|st| match st {
        Stmt::Return {
            value: Some(Expr::Name(n)),
            ..
        } => facts
            .scopes
            .iter()
            .position(|x| x.parent == Some(scope) && x.kind == ScopeKind::Function && x.name == n)
            .map(|i| i as u32),
        _ => None,
    })
}

/// What Celery registers when a project decorator makes the task.
enum Registers {
    /// The decorated function itself, under its own name: it is handed to
    /// the task maker as is, or through an inner function that copies its
    /// name with `functools.wraps`.
    Itself,
    /// The decorator's inner function (file, scope), which keeps its own
    /// name because nothing copies the decorated function's name onto it.
    Inner(usize, u32),
}

/// A project decorator that makes a task of the function it decorates.
struct Made<'p> {
    maker: Maker,
    /// Options given where the decorator is used, when it passes them on.
    options: Option<&'p Call>,
    registers: Registers,
}

/// Whether `dec` (a decorator seen in `scope` of `file`) is a project
/// decorator whose body hands the decorated function to a task maker and
/// returns the task: `def deco(func): return shared_task(**opts)(func)`
/// used as `@deco`, a factory returning such a function used as
/// `@factory(...)`, or a class whose `__call__(self, func)` does it, used
/// as `@Class(...)`.
fn decorated_by<'p>(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
    dec: &'p Expr,
) -> Option<Made<'p>> {
    let (target, used) = match dec {
        Expr::Call(c) => (&c.func, Some(c.as_ref())),
        other => (other, None),
    };
    let Target::Def { file: f, scope: s } = program.resolve(file, scope, target) else {
        return None;
    };
    let sc = program.scope(f, s)?;
    let body = match (sc.kind, used) {
        (ScopeKind::Function, None) => s,
        (ScopeKind::Function, Some(_)) => returned_function(program, f, s)?,
        (ScopeKind::Class, Some(_)) => child_function(program, f, s, "__call__")?,
        _ => return None,
    };
    let (mut maker, forwards, registers) = decorator_body(program, apps, f, body)?;
    maker.via = Some(program.def_ref(f, s));
    Some(Made {
        maker,
        options: used.filter(|_| forwards),
        registers,
    })
}

/// The function named `name` defined directly in scope `parent`.
fn child_function(program: &Program, file: usize, parent: u32, name: &str) -> Option<u32> {
    let facts = program.files[file].facts.as_ref()?;
    facts
        .scopes
        .iter()
        .position(|x| x.parent == Some(parent) && x.kind == ScopeKind::Function && x.name == name)
        .map(|i| i as u32)
}

/// The parameter a decorator body receives the decorated function in: the
/// first one, after `self` in a method.
fn decorated_param(program: &Program, file: usize, scope: u32) -> Option<&str> {
    let sc = program.scope(file, scope)?;
    let in_class = sc
        .parent
        .and_then(|p| program.scope(file, p))
        .is_some_and(|p| p.kind == ScopeKind::Class);
    sc.params
        .iter()
        .filter(|p| p.kind == ParamKind::Normal)
        .nth(usize::from(in_class))
        .map(|p| p.name.as_str())
}

/// Whether function `inner` is defined in function `outer` and decorated
/// with `functools.wraps(p)`, `p` being the function `outer` decorates:
/// a template whose name Celery never sees, since every use copies the
/// decorated function's name onto it.
fn copies_name_of_param(program: &Program, file: usize, inner: u32, outer: u32) -> bool {
    let Some(isc) = program.scope(file, inner) else {
        return false;
    };
    if isc.parent != Some(outer) {
        return false;
    }
    let Some(param) = decorated_param(program, file, outer) else {
        return false;
    };
    isc.decorators.iter().any(|d| {
        matches!(d, Expr::Call(c)
            if c.func.dotted().is_some_and(|n| n == "wraps" || n.ends_with(".wraps"))
                && matches!(c.args.first(), Some(Expr::Name(n)) if n == param))
    })
}

/// A decorator body that returns `maker(...)(x)`, directly or through a
/// local name: the maker, whether the maker call passes on `*args` or
/// `**kwargs` (so the options given at use reach it), and what `x` makes
/// Celery register.
fn decorator_body(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
) -> Option<(Maker, bool, Registers)> {
    let sc = program.scope(file, scope)?;
    let param = decorated_param(program, file, scope)?;
    let local = |name: &str| {
        sc.stmts.iter().find_map(|st| match st {
            Stmt::Assign {
                targets,
                value: Some(Expr::Call(c)),
                ..
            } if targets
                .iter()
                .any(|t| matches!(t, Expr::Name(n) if n == name)) =>
            {
                Some(c.as_ref())
            }
            _ => None,
        })
    };
    let made = sc.stmts.iter().find_map(|st| match st {
        Stmt::Return {
            value: Some(Expr::Call(c)),
            ..
        } => Some(c.as_ref()),
        Stmt::Return {
            value: Some(Expr::Name(n)),
            ..
        } => local(n),
        _ => None,
    })?;
    let [Expr::Name(handed)] = &made.args[..] else {
        return None;
    };
    let (maker_expr, maker_call) = match &made.func {
        Expr::Call(inner) => (&inner.func, Some(inner.as_ref())),
        other => (other, None),
    };
    if !matches!(maker_expr, Expr::Name(_) | Expr::Attr(..)) {
        return None;
    }
    let inner = task_maker(program, apps, file, scope, maker_expr, 1)?;
    let forwards = maker_call.is_some_and(|c| {
        c.args
            .iter()
            .chain(c.kwargs.iter().map(|k| &k.value))
            .any(|a| matches!(a, Expr::Starred(_) | Expr::DoubleStarred(_)))
            || c.kwargs.iter().any(|k| k.name.is_none())
    });
    let mut preset: Vec<Keyword> = maker_call
        .map(|c| {
            c.kwargs
                .iter()
                .filter(|k| k.name.is_some())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    preset.extend(inner.preset);
    let registers = if handed == param {
        Registers::Itself
    } else {
        let nested = child_function(program, file, scope, handed)?;
        if copies_name_of_param(program, file, nested, scope) {
            Registers::Itself
        } else {
            Registers::Inner(file, nested)
        }
    };
    Some((
        Maker {
            app: inner.app,
            form: inner.form,
            preset,
            via: None,
        },
        forwards,
        registers,
    ))
}

/// What turns a function into a task.
struct Maker {
    app: Option<usize>,
    form: &'static str,
    /// Options a first-party wrapper fixes (`def job(**kw): return
    /// shared_task(bind=True, **kw)`), overridden by those given at use.
    preset: Vec<Keyword>,
    /// The first-party wrapper, `module:qualname`.
    via: Option<String>,
}

/// Whether `callee` (seen in `scope` of `file`) makes tasks: `app.task`,
/// `shared_task` under any import name, a name bound to either
/// (`job = app.task`), or a first-party function that returns a call of
/// one, passing its arguments through (`def job(*a, **kw): return
/// shared_task(*a, **kw)`).
fn task_maker(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
    callee: &Expr,
    depth: u32,
) -> Option<Maker> {
    if depth > 8 {
        return None;
    }
    if let Expr::Attr(base, attr) = callee
        && attr == "task"
        && let Some(a) = app_of(program, apps, file, scope, base, 0)
    {
        return Some(Maker {
            app: Some(a),
            form: "app.task",
            preset: Vec::new(),
            via: None,
        });
    }
    match program.resolve(file, scope, callee) {
        Target::External(q) if SHARED.contains(&q.as_str()) => Some(Maker {
            app: None,
            form: "shared_task",
            preset: Vec::new(),
            via: None,
        }),
        Target::Value {
            file: f,
            scope: s,
            value: v @ (Expr::Name(_) | Expr::Attr(..)),
            ..
        } => task_maker(program, apps, f, s, v, depth + 1),
        Target::Def { file: f, scope: s } => {
            let sc = program.scope(f, s)?;
            if sc.kind != ScopeKind::Function {
                return None;
            }
            let forwards = |c: &Call| {
                c.args.iter().chain(c.kwargs.iter().map(|k| &k.value)).any(|a| {
                    matches!(a, Expr::Starred(x) | Expr::DoubleStarred(x)
                        if matches!(&**x, Expr::Name(n)
                            if sc.params.iter().any(|p| p.name == n
                                && matches!(p.kind, ParamKind::VarArgs | ParamKind::VarKeywords))))
                }) || c.kwargs.iter().any(|k| {
                    k.name.is_none()
                        && matches!(&k.value, Expr::Name(n)
                            if sc.params.iter().any(|p| p.name == n && p.kind == ParamKind::VarKeywords))
                })
            };
            sc.stmts.iter().find_map(|st| {
                let Stmt::Return {
                    value: Some(Expr::Call(c)),
                    ..
                } = st
                else {
                    return None;
                };
                if !forwards(c) {
                    return None;
                }
                let inner = task_maker(program, apps, f, s, &c.func, depth + 1)?;
                let mut preset: Vec<Keyword> = c
                    .kwargs
                    .iter()
                    .filter(|k| k.name.is_some())
                    .cloned()
                    .collect();
                preset.extend(inner.preset);
                Some(Maker {
                    app: inner.app,
                    form: inner.form,
                    preset,
                    via: Some(program.def_ref(f, s)),
                })
            })
        }
        _ => None,
    }
}

/// Why the module of `file` cannot be imported by name, if it cannot.
fn unimportable(program: &Program, file: usize, loads_by_path: Option<&str>) -> Option<String> {
    let module = program.files[file].module.as_ref()?;
    let bad = module.name.split('.').find(|part| !is_identifier(part))?;
    let path = &program.files[file].path;
    Some(match loads_by_path {
        Some(at) => format!(
            "`{bad}` is not a Python identifier, so no import statement reaches `{path}`; \
             the code loads modules from file paths at {at}, which may register it under \
             another module name"
        ),
        None => format!(
            "`{bad}` is not a Python identifier, so no import statement reaches `{path}`, \
             and the analysed code loads no module from a file path: no worker registers it"
        ),
    })
}

/// The first place the program loads a module from a file path
/// (`importlib.util.spec_from_file_location`, `SourceFileLoader`,
/// `runpy.run_path`), as `file:line`.
fn loads_by_path(program: &Program) -> Option<String> {
    const LOADERS: [&str; 4] = [
        "importlib.util.spec_from_file_location",
        "importlib.machinery.SourceFileLoader",
        "runpy.run_path",
        "imp.load_source",
    ];
    for (file, rec, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            for st in &sc.stmts {
                if let Stmt::Call { call, .. } = st
                    && matches!(
                        call.func
                            .dotted()
                            .as_deref()
                            .and_then(|d| d.rsplit('.').next()),
                        Some(
                            "spec_from_file_location"
                                | "SourceFileLoader"
                                | "run_path"
                                | "load_source"
                        )
                    )
                    && program
                        .qualify(file, si as u32, &call.func)
                        .is_some_and(|q| LOADERS.contains(&q.as_str()))
                {
                    return Some(format!("{}:{}", rec.path, call.line));
                }
            }
        }
    }
    None
}

/// The name a worker imports the module under. Below a folder whose name
/// is no Python identifier (`standalone-worker/worker.py`), only a worker
/// started inside it reaches the module, by the part of the name after
/// that folder (`worker`).
fn module_name(program: &Program, file: usize) -> String {
    let Some(m) = program.files[file].module.as_ref() else {
        return String::new();
    };
    let parts: Vec<&str> = m.name.split('.').collect();
    match parts.iter().rposition(|p| !is_identifier(p)) {
        Some(bad) if bad + 1 < parts.len() => parts[bad + 1..].join("."),
        _ => m.name.clone(),
    }
}

fn is_identifier(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with(|c: char| c.is_ascii_digit())
        && part.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether the module has an `if __name__ == "__main__":` block.
fn runs_as_script(program: &Program, file: usize) -> bool {
    program.scope(file, 0).is_some_and(|sc| {
        sc.stmts.iter().any(|st| {
            matches!(st, Stmt::Compare { left: Expr::Name(n), right, .. }
                if n == "__name__" && matches!(&**right, Expr::Str(s) if s == "__main__"))
        })
    })
}

/// The automatic name, and the other one a module run as a script gets.
fn automatic_name(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    app: Option<usize>,
    name: &str,
) -> (String, Option<String>) {
    let module = module_name(program, file);
    let imported = if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}.{name}")
    };
    let main = app
        .filter(|&a| apps[a].file == file)
        .and_then(|a| apps[a].entry.main.clone());
    match main {
        Some(main) if runs_as_script(program, file) => (format!("{main}.{name}"), Some(imported)),
        _ => (imported, None),
    }
}

fn function_task(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
    maker: &Maker,
    call: Option<&Call>,
) -> TaskInfo {
    let app = maker.app;
    let sc = program.scope(file, scope);
    let outer = sc.and_then(|s| s.parent).unwrap_or(0);
    let fname = sc.map_or("", |s| s.name.as_str());
    // Options given at use, then those a wrapper fixes.
    let merged: Option<Call> = match (call, maker.preset.is_empty()) {
        (c, true) => c.cloned(),
        (c, false) => {
            let mut m = c.cloned().unwrap_or(Call {
                line: 0,
                func: Expr::None,
                args: Box::default(),
                kwargs: Box::default(),
            });
            let mut kwargs = m.kwargs.into_vec();
            for k in &maker.preset {
                if !kwargs
                    .iter()
                    .any(|have| have.name.is_some() && have.name == k.name)
                {
                    kwargs.push(k.clone());
                }
            }
            m.kwargs = kwargs.into_boxed_slice();
            Some(m)
        }
    };
    let call = merged.as_ref();
    let explicit = call.and_then(|c| c.kwarg("name"));
    let (name, alternative_name) = match explicit {
        Some(n) => (program.eval_str(file, outer, n), None),
        None => {
            let (n, alt) = automatic_name(program, apps, file, app, fname);
            (StrValue::known(n), alt)
        }
    };
    let mut options: Vec<TaskOption> = call
        .map(|c| {
            c.kwargs
                .iter()
                .filter_map(|k| {
                    Some(TaskOption {
                        name: k.name.as_ref()?.to_string(),
                        value: render_expr(&k.value),
                        inherited_from: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut queue = call
        .and_then(|c| c.kwarg("queue"))
        .map(|q| (program.eval_str(file, outer, q), None));
    if let Some(base) = call.and_then(|c| c.kwarg("base"))
        && let Target::Def {
            file: bf,
            scope: bs,
        } = program.resolve(file, outer, base)
    {
        let inherited = inherit(program, bf, bs, &mut options);
        queue = queue.or(inherited);
    }
    TaskInfo {
        file,
        scope,
        app,
        queue,
        bound: Vec::new(),
        task: Task {
            name,
            function: program.def_ref(file, scope),
            file: program.files[file].path.clone(),
            line: sc.map_or(0, |s| s.line),
            form: maker.form.to_string(),
            via: maker.via.clone(),
            app: app.map(|a| apps[a].entry.object.clone()),
            queue: String::new(),
            queue_from: String::new(),
            options,
            alternative_name,
            enqueued_at: Vec::new(),
            enqueues: Vec::new(),
            direct_calls: Vec::new(),
            conditional: sc.is_some_and(|s| s.conditional),
            not_importable: unimportable(program, file, None),
        },
    }
}

/// Adds the options a task class body (and its first-party bases) sets,
/// unless given already; returns the `queue` it sets, folded, with the
/// class that sets it.
fn inherit(
    program: &Program,
    file: usize,
    class: u32,
    options: &mut Vec<TaskOption>,
) -> Option<(StrValue, Option<String>)> {
    let mut queue = None;
    let mut stack = vec![(file, class)];
    let mut seen = 0;
    while let Some((f, s)) = stack.pop() {
        seen += 1;
        if seen > 16 {
            break;
        }
        let Some(sc) = program.scope(f, s) else {
            continue;
        };
        if sc.kind != ScopeKind::Class {
            continue;
        }
        let origin = program.def_ref(f, s);
        for st in &sc.stmts {
            let Stmt::Assign {
                targets,
                value: Some(v),
                ..
            } = st
            else {
                continue;
            };
            for t in targets {
                if let Expr::Name(n) = t
                    && CLASS_OPTIONS.contains(&n.as_str())
                    && !options.iter().any(|o| o.name == n)
                {
                    if n == "queue" {
                        queue = Some((program.eval_str(f, s, v), Some(origin.clone())));
                    }
                    options.push(TaskOption {
                        name: n.to_string(),
                        value: render_expr(v),
                        inherited_from: Some(origin.clone()),
                    });
                }
            }
        }
        let parent = sc.parent.unwrap_or(0);
        for b in &sc.bases {
            if let Target::Def {
                file: bf,
                scope: bs,
            } = program.resolve(f, parent, b)
            {
                stack.push((bf, bs));
            }
        }
    }
    queue
}

/// `Task` subclasses registered with `app.register_task(Cls())` or
/// `app.tasks.register(Cls())`.
fn registered_classes(program: &Program, apps: &[AppInfo]) -> Vec<TaskInfo> {
    let mut out: Vec<TaskInfo> = Vec::new();
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                let Expr::Attr(base, method) = &call.func else {
                    continue;
                };
                let app_expr = match (method.as_str(), base.as_ref()) {
                    ("register_task", app) => app,
                    ("register", Expr::Attr(app, t)) if t == "tasks" => app.as_ref(),
                    _ => continue,
                };
                let Some(app) = app_of(program, apps, file, si as u32, app_expr, 0) else {
                    continue;
                };
                let Some(arg) = call.args.first() else {
                    continue;
                };
                let class_expr = match arg {
                    Expr::Call(c) => &c.func,
                    other => other,
                };
                let Target::Def {
                    file: cf,
                    scope: cs,
                } = program.resolve(file, si as u32, class_expr)
                else {
                    continue;
                };
                if out.iter().any(|t| t.file == cf && t.scope == cs) {
                    continue;
                }
                let Some(class) = program.scope(cf, cs) else {
                    continue;
                };
                if class.kind != ScopeKind::Class || !program.class_extends(cf, cs, &TASK_CLASSES) {
                    continue;
                }
                let name_attr = class.stmts.iter().find_map(|st| match st {
                    Stmt::Assign {
                        targets,
                        value: Some(v),
                        ..
                    } if targets
                        .iter()
                        .any(|t| matches!(t, Expr::Name(n) if n == "name")) =>
                    {
                        Some(v)
                    }
                    _ => None,
                });
                let (name, alternative_name) = match name_attr {
                    Some(v) => (program.eval_str(cf, cs, v), None),
                    None => {
                        let (n, alt) = automatic_name(program, apps, cf, Some(app), &class.name);
                        (StrValue::known(n), alt)
                    }
                };
                let mut options = Vec::new();
                let own = program.def_ref(cf, cs);
                let mut queue = inherit(program, cf, cs, &mut options);
                for o in &mut options {
                    if o.inherited_from.as_deref() == Some(own.as_str()) {
                        o.inherited_from = None;
                    }
                }
                if let Some((_, from)) = &mut queue
                    && from.as_deref() == Some(own.as_str())
                {
                    *from = None;
                }
                out.push(TaskInfo {
                    file: cf,
                    scope: cs,
                    app: Some(app),
                    queue,
                    bound: Vec::new(),
                    task: Task {
                        name,
                        function: program.def_ref(cf, cs),
                        file: program.files[cf].path.clone(),
                        line: class.line,
                        form: "register_task".into(),
                        via: None,
                        app: Some(apps[app].entry.object.clone()),
                        queue: String::new(),
                        queue_from: String::new(),
                        options,
                        alternative_name,
                        enqueued_at: Vec::new(),
                        enqueues: Vec::new(),
                        direct_calls: Vec::new(),
                        conditional: class.conditional,
                        not_importable: unimportable(program, cf, None),
                    },
                });
            }
        }
    }
    out
}

/// The queue a task lands on, and why.
fn queue_of(apps: &[AppInfo], t: &TaskInfo) -> (String, String) {
    if let Some((value, inherited)) = &t.queue {
        let mut from = match inherited {
            Some(base) => format!("`queue=` of the base class `{base}`"),
            None => "`queue=`".to_string(),
        };
        let queue = match value {
            StrValue::Known { value, note } => {
                if let Some(note) = note {
                    from = format!("{from} ({note})");
                }
                value.clone()
            }
            StrValue::Pattern { value } => {
                from = format!("{from}, partly known only at run time");
                value.replace("{}", "{?}")
            }
            StrValue::Dynamic { reason } => {
                from = format!("{from}, known only at run time: {reason}");
                "{?}".to_string()
            }
        };
        return (queue, from);
    }
    // A shared task joins every app; the first one is the usual single app.
    let candidates: Vec<usize> = match t.app {
        Some(a) => vec![a],
        None => (0..apps.len()).collect(),
    };
    let Some(name) = t.task.name.as_known() else {
        let queue = candidates.first().map_or("celery".to_string(), |&a| {
            apps[a].entry.default_queue.clone()
        });
        return (queue, "the default queue (the task name is dynamic)".into());
    };
    for &a in &candidates {
        for route in &apps[a].entry.task_routes {
            if let Some(q) = &route.queue
                && glob_match(&route.pattern, name)
            {
                return (
                    q.clone(),
                    format!(
                        "the `task_routes` entry `{}` ({}:{})",
                        route.pattern, route.file, route.line
                    ),
                );
            }
        }
    }
    match candidates.first() {
        Some(&a) => (
            apps[a].entry.default_queue.clone(),
            format!("the default queue of `{}`", apps[a].entry.object),
        ),
        None => ("celery".into(), "Celery's default queue".into()),
    }
}
