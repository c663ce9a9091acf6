//! Every place that sends work to a worker, periodic tasks added in code,
//! and signal handlers.
//!
//! A task object is reached through imports and aliases; its methods
//! `delay`, `apply_async` and the signature constructors `s`, `si`,
//! `signature` (and `map`, `starmap`, `chunks`) enqueue or prepare it.
//! `send_task("name")` and `signature("name")` name a task by its
//! registered name, which is looked up among the tasks found. A
//! `functools.partial` over `task.apply_async` counts at each call of the
//! partial. Signatures passed to `chain`, `group` or `chord`, or joined
//! with `|`, are marked with the canvas they belong to.

use std::collections::HashMap;
use std::sync::Arc;

use crate::graph::calls::argument;
use crate::graph::values::StrValue;
use crate::graph::wrappers::{Wrappers, param_passed};
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{BinOp, Call, Expr, FPart, ScopeKind, Stmt};

use super::apps::{AppInfo, app_of, schedule_text};
use super::tasks::TaskInfo;
use super::{BeatEntry, Enqueue, SignalHandler};

const TASK_METHODS: [&str; 9] = [
    "delay",
    "apply_async",
    "s",
    "si",
    "signature",
    "subtask",
    "map",
    "starmap",
    "chunks",
];

const APP_SIGNALS: [&str; 4] = [
    "on_after_configure",
    "on_after_finalize",
    "on_configure",
    "on_after_fork",
];

type Found = (Vec<Enqueue>, Vec<BeatEntry>, Vec<SignalHandler>);

pub fn find(program: &Program, apps: &[AppInfo], tasks: &mut [TaskInfo]) -> Found {
    let mut enqueues = Vec::new();
    let mut beat = Vec::new();
    let mut signals = Vec::new();
    let by_def: HashMap<(usize, u32), usize> = tasks
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            std::iter::once((t.file, t.scope))
                .chain(t.bound.iter().copied())
                .map(move |d| (d, i))
        })
        .collect();
    let by_name: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.task.name.as_known()?.to_string(), i)))
        .collect();
    let task_of = |file: usize, scope: u32, expr: &Expr| -> Option<usize> {
        expr.dotted()?;
        match program.resolve(file, scope, expr) {
            Target::Def { file: f, scope: s } => by_def.get(&(f, s)).copied(),
            _ => None,
        }
    };
    let wrappers = Wrappers::new(program);
    let mut direct: Vec<(usize, String)> = Vec::new();
    for (file, record, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            let canvas = canvas_members(program, file, si, &sc.stmts);
            let function = scope_ref(program, file, si);
            let from_task = by_def.get(&(file, si)).copied();
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                let site = Site {
                    file,
                    function: &function,
                    from_task,
                    canvas: canvas.get(&Arc::as_ptr(call)).copied(),
                };
                match &call.func {
                    Expr::Attr(base, method) if TASK_METHODS.contains(&method.as_str()) => {
                        let choices = if task_of(file, si, base).is_none() {
                            chosen_among(program, &task_of, file, si, base)
                        } else {
                            Vec::new()
                        };
                        if let Some(t) = task_of(file, si, base) {
                            enqueues.push(site.by_task(program, tasks, t, method, call, None));
                        } else if !choices.is_empty() {
                            // `{"sms": send_sms, "mail": send_mail}[kind].delay(...)`:
                            // each task it may be is a possible target.
                            for &t in &choices {
                                let mut e = site.by_task(program, tasks, t, method, call, None);
                                e.reason = Some(format!(
                                    "one of {} tasks, chosen at run time by `{}`",
                                    choices.len(),
                                    render_expr(base)
                                ));
                                enqueues.push(e);
                            }
                        } else if matches!(method.as_str(), "delay" | "apply_async")
                            && let Some(name) =
                                signature_value(program, &task_of, tasks, file, si, base)
                        {
                            // `sig = signature("name"); sig.apply_async(queue=...)`.
                            enqueues
                                .push(site.by_name(program, tasks, &by_name, name, method, call));
                        } else if let Some(passed) =
                            passed_in(program, &wrappers, &task_of, file, si, base)
                        {
                            // `def later(task, *args): task.delay(*args)`:
                            // the enqueue happens where a task is handed in.
                            for (cf, cs, line, t) in passed {
                                let mut e = site.by_task(program, tasks, t, method, call, None);
                                e.via = Some(format!("{function} at {}:{}", e.file, e.line));
                                e.file = program.files[cf].path.clone();
                                e.line = line;
                                e.function = scope_ref(program, cf, cs);
                                e.from_task = by_def
                                    .get(&(cf, cs))
                                    .and_then(|&t| tasks[t].task.name.as_known())
                                    .map(str::to_string);
                                e.canvas = None;
                                enqueues.push(e);
                            }
                        } else if matches!(method.as_str(), "signature" | "subtask")
                            && !outside_celery(program, file, si, base)
                            && let Some(n) = call.args.first().filter(|a| is_stringish(a))
                        {
                            let name = program.eval_str(file, si, n);
                            enqueues
                                .push(site.by_name(program, tasks, &by_name, name, method, call));
                        }
                    }
                    Expr::Attr(_, method) if method == "send_task" => {
                        let name = call.arg(0, "name").map_or_else(
                            || StrValue::Dynamic {
                                reason: "no task name given".into(),
                            },
                            |n| program.eval_str(file, si, n),
                        );
                        enqueues.push(site.by_name(program, tasks, &by_name, name, method, call));
                    }
                    Expr::Attr(base, method) if method == "add_periodic_task" => {
                        let _ = base;
                        if let Some(b) = periodic(program, tasks, &by_name, file, si, call) {
                            beat.push(b);
                        }
                    }
                    Expr::Attr(_, method) if method == "connect" => {
                        if let Some(signal) = signal_name(program, apps, file, si, &call.func)
                            && let Some(h) = call.arg(0, "receiver")
                        {
                            signals.push(SignalHandler {
                                signal,
                                handler: reference(program, file, si, h),
                                file: record.path.clone(),
                                line: call.line,
                            });
                        }
                    }
                    func @ (Expr::Name(_) | Expr::Attr(..)) => {
                        // `signature("name")` from celery, a partial over
                        // `task.apply_async`, or a direct call of a task.
                        let q = program.qualify(file, si, func);
                        if q.as_deref().is_some_and(|q| {
                            matches!(
                                q,
                                "celery.signature" | "celery.canvas.signature" | "celery.subtask"
                            )
                        }) {
                            if let Some(n) = call.arg(0, "varies") {
                                let name = if is_stringish(n) {
                                    program.eval_str(file, si, n)
                                } else {
                                    match task_of(file, si, n) {
                                        Some(t) => tasks[t].task.name.clone(),
                                        None => StrValue::Dynamic {
                                            reason: format!(
                                                "`{}` is not a known task",
                                                render_expr(n)
                                            ),
                                        },
                                    }
                                };
                                enqueues.push(site.by_name(
                                    program,
                                    tasks,
                                    &by_name,
                                    name,
                                    "signature",
                                    call,
                                ));
                            }
                        } else if let Some((t, method, partial)) =
                            through_partial(program, &task_of, file, si, func)
                        {
                            enqueues.push(site.by_task(
                                program,
                                tasks,
                                t,
                                &method,
                                call,
                                Some(partial),
                            ));
                        } else if let Some(t) = task_of(file, si, func)
                            && !is_class_task(program, &tasks[t])
                        {
                            // Calling a class-based task's class builds the
                            // task object (`app.register_task(Cls())`); it
                            // does not run it.
                            direct.push((t, format!("{}:{}", record.path, call.line)));
                        }
                    }
                    _ => {}
                }
            }
            // `@task_failure.connect`, `@app.on_after_configure.connect`.
            if sc.kind == ScopeKind::Function {
                let outer = sc.parent.unwrap_or(0);
                for dec in &sc.decorators {
                    let func = match dec {
                        Expr::Call(c) => &c.func,
                        other => other,
                    };
                    if matches!(func, Expr::Attr(_, m) if m == "connect")
                        && let Some(signal) = signal_name(program, apps, file, outer, func)
                    {
                        signals.push(SignalHandler {
                            signal,
                            handler: program.def_ref(file, si),
                            file: record.path.clone(),
                            line: sc.line,
                        });
                    }
                }
            }
        }
    }
    let by_function: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.task.function.as_str(), i))
        .collect();
    // (task, `file:line` of a send to it) and (sending task, name sent).
    let mut sent_to: Vec<(usize, String)> = Vec::new();
    let mut sends_from: Vec<(usize, String)> = Vec::new();
    for e in &enqueues {
        let Some(name) = e.task.as_known() else {
            continue;
        };
        let target = match &e.task_function {
            Some(f) => by_function.get(f.as_str()).copied(),
            None => by_name.get(name).copied(),
        };
        if let Some(t) = target {
            sent_to.push((t, format!("{}:{}", e.file, e.line)));
        }
        if let Some(from) = &e.from_task
            && let Some(&t) = by_name.get(from.as_str())
        {
            sends_from.push((t, name.to_string()));
        }
    }
    for (t, at) in sent_to {
        tasks[t].task.enqueued_at.push(at);
    }
    for (t, name) in sends_from {
        if !tasks[t].task.enqueues.contains(&name) {
            tasks[t].task.enqueues.push(name);
        }
    }
    for (t, at) in direct {
        tasks[t].task.direct_calls.push(at);
    }
    (enqueues, beat, signals)
}

struct Site<'a> {
    file: usize,
    function: &'a str,
    from_task: Option<usize>,
    canvas: Option<&'static str>,
}

impl Site<'_> {
    /// A site whose task is known by name (or not known at all).
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        program: &Program,
        tasks: &[TaskInfo],
        task: StrValue,
        found: bool,
        method: &str,
        call: &Call,
        reason: Option<String>,
    ) -> Enqueue {
        let queue = call.kwarg("queue").map(|q| {
            program
                .eval_str(self.file, 0, q)
                .text()
                .map_or_else(|| render_expr(q), str::to_string)
        });
        let options = call
            .kwargs
            .iter()
            .filter_map(|k| {
                let n = k.name.as_deref()?;
                (!matches!(n, "args" | "kwargs" | "queue" | "name"))
                    .then(|| format!("{n}={}", render_expr(&k.value)))
            })
            .collect();
        Enqueue {
            task,
            task_found: found,
            task_function: None,
            method: method.to_string(),
            function: self.function.to_string(),
            file: program.files[self.file].path.clone(),
            line: call.line,
            queue,
            options,
            canvas: self.canvas.map(str::to_string),
            via: None,
            from_task: self
                .from_task
                .and_then(|t| tasks[t].task.name.as_known().map(str::to_string)),
            reason,
        }
    }

    fn by_task(
        &self,
        program: &Program,
        tasks: &[TaskInfo],
        t: usize,
        method: &str,
        call: &Call,
        partial: Option<Partial>,
    ) -> Enqueue {
        let name = tasks[t].task.name.clone();
        let mut e = self.entry(program, tasks, name, true, method, call, None);
        e.task_function = Some(tasks[t].task.function.clone());
        if let Some(p) = partial {
            if e.queue.is_none() {
                e.queue = p.queue;
            }
            e.options.extend(p.options);
            e.via = Some(p.at);
        }
        e
    }

    #[allow(clippy::too_many_arguments)]
    fn by_name(
        &self,
        program: &Program,
        tasks: &[TaskInfo],
        by_name: &HashMap<String, usize>,
        name: StrValue,
        method: &str,
        call: &Call,
    ) -> Enqueue {
        let found = name.as_known().is_some_and(|n| by_name.contains_key(n));
        let reason = match &name {
            StrValue::Known { value, .. } if !found => Some(format!(
                "no task named `{value}` is defined in the analysed code"
            )),
            StrValue::Pattern { value } => Some(format!("the name `{value}` is built at run time")),
            StrValue::Dynamic { reason } => Some(reason.clone()),
            _ => None,
        };
        // By name, the task is known only when one task has that name.
        let mut named = tasks
            .iter()
            .filter(|t| found && t.task.name.as_known().is_some() && t.task.name == name);
        let task_function = match (named.next(), named.next()) {
            (Some(t), None) => Some(t.task.function.clone()),
            _ => None,
        };
        let mut e = self.entry(program, tasks, name, found, method, call, reason);
        e.task_function = task_function;
        e
    }
}

/// The task a name bound to one signature stands for: `sig =
/// task.s(...)` or `sig = signature("name", ...)`.
fn signature_value(
    program: &Program,
    task_of: &dyn Fn(usize, u32, &Expr) -> Option<usize>,
    tasks: &[TaskInfo],
    file: usize,
    scope: u32,
    expr: &Expr,
) -> Option<StrValue> {
    let Expr::Name(_) = expr else { return None };
    let Target::Value {
        file: f,
        scope: s,
        value: Expr::Call(c),
        ..
    } = program.resolve(file, scope, expr)
    else {
        return None;
    };
    match &c.func {
        Expr::Attr(task, m) if matches!(m.as_str(), "s" | "si" | "signature") => {
            if let Some(t) = task_of(f, s, task) {
                return Some(tasks[t].task.name.clone());
            }
            c.args
                .first()
                .filter(|a| is_stringish(a))
                .map(|a| program.eval_str(f, s, a))
        }
        func => {
            let q = program.qualify(f, s, func)?;
            matches!(q.as_str(), "celery.signature" | "celery.canvas.signature")
                .then(|| c.args.first().filter(|a| is_stringish(a)))
                .flatten()
                .map(|a| program.eval_str(f, s, a))
        }
    }
}

/// `inspect.signature(f)` and other modules' `signature`: a receiver
/// that is a module or object from outside Celery.
fn outside_celery(program: &Program, file: usize, scope: u32, base: &Expr) -> bool {
    matches!(program.resolve(file, scope, base),
        Target::External(q) if q.split('.').next() != Some("celery"))
}

/// The tasks an expression may be when it is chosen at run time: a value
/// of a dict of tasks (`TASKS[kind]`, `TASKS.get(kind)`), or a name the
/// function binds to different tasks on different branches.
fn chosen_among(
    program: &Program,
    task_of: &dyn Fn(usize, u32, &Expr) -> Option<usize>,
    file: usize,
    scope: u32,
    base: &Expr,
) -> Vec<usize> {
    let mut out = Vec::new();
    let mut push = |t: usize| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    let from_dict = |d: &Expr, push: &mut dyn FnMut(usize)| {
        let (f, sc, dict) = match d {
            Expr::Dict(_) => (file, scope, d),
            Expr::Name(_) | Expr::Attr(..) => match program.resolve(file, scope, d) {
                Target::Value {
                    file: f,
                    scope: s,
                    value,
                    ..
                } => (f, s, value),
                _ => return,
            },
            _ => return,
        };
        if let Expr::Dict(pairs) = dict {
            for (_, v) in pairs {
                if let Some(t) = task_of(f, sc, v) {
                    push(t);
                }
            }
        }
    };
    let pick = |e: &Expr, push: &mut dyn FnMut(usize)| match e {
        Expr::Subscript(d, _) => from_dict(d, push),
        Expr::Call(c) => {
            if let Expr::Attr(d, m) = &c.func
                && m == "get"
            {
                from_dict(d, push);
            }
        }
        _ => {}
    };
    match base {
        Expr::Subscript(..) | Expr::Call(_) => pick(base, &mut push),
        Expr::Name(n) => {
            // Every assignment to the name in this function: branches of
            // an `if`, or one lookup in a dict of tasks.
            if let Some(sc) = program.scope(file, scope) {
                for st in &sc.stmts {
                    if let Stmt::Assign {
                        targets,
                        value: Some(v),
                        ..
                    } = st
                        && targets.iter().any(|t| matches!(t, Expr::Name(x) if x == n))
                    {
                        match task_of(file, scope, v) {
                            Some(t) => push(t),
                            None => pick(v, &mut push),
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// `module:qualname` of a scope; `module:<module>` for the module itself.
fn scope_ref(program: &Program, file: usize, scope: u32) -> String {
    if scope == 0 {
        let m = program.files[file]
            .module
            .as_ref()
            .map_or("", |m| m.name.as_str());
        format!("{m}:<module>")
    } else {
        program.def_ref(file, scope)
    }
}

/// The tasks handed in for `base` when it is a bare parameter of the
/// enclosing function: `(file, scope, line, task)` of each call of that
/// function that passes a known task for it.
fn passed_in(
    program: &Program,
    wrappers: &Wrappers,
    task_of: &dyn Fn(usize, u32, &Expr) -> Option<usize>,
    file: usize,
    scope: u32,
    base: &Expr,
) -> Option<Vec<(usize, u32, u32, usize)>> {
    let (fs, index) = param_passed(program, file, scope, base)?;
    let params = &program.scope(file, fs)?.params;
    let found: Vec<(usize, u32, u32, usize)> = wrappers
        .callers(file, fs)
        .iter()
        .filter_map(|(cf, cs, call, skip)| {
            let arg = argument(call, params, index, *skip)?;
            Some((*cf, *cs, call.line, task_of(*cf, *cs, arg)?))
        })
        .collect();
    (!found.is_empty()).then_some(found)
}

fn is_stringish(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Str(_) | Expr::FStr(_) | Expr::Name(_) | Expr::Attr(..) | Expr::BinOp(..)
    )
}

struct Partial {
    queue: Option<String>,
    options: Vec<String>,
    at: String,
}

/// `enqueue = partial(task.apply_async, queue="x")`, called as
/// `enqueue(...)`: the task, the method and the partial's keywords.
fn through_partial(
    program: &Program,
    task_of: &dyn Fn(usize, u32, &Expr) -> Option<usize>,
    file: usize,
    scope: u32,
    func: &Expr,
) -> Option<(usize, String, Partial)> {
    let Target::Value {
        file: f,
        scope: s,
        line,
        value: Expr::Call(p),
    } = program.resolve(file, scope, func)
    else {
        return None;
    };
    if program.qualify(f, s, &p.func).as_deref() != Some("functools.partial") {
        return None;
    }
    let Some(Expr::Attr(task, method)) = p.args.first() else {
        return None;
    };
    if !TASK_METHODS.contains(&method.as_str()) {
        return None;
    }
    let t = task_of(f, s, task)?;
    let queue = p.kwarg("queue").map(|q| match q {
        Expr::Str(s) => s.to_string(),
        other => render_expr(other),
    });
    let options = p
        .kwargs
        .iter()
        .filter_map(|k| {
            let n = k.name.as_deref()?;
            (n != "queue").then(|| format!("{n}={}", render_expr(&k.value)))
        })
        .collect();
    Some((
        t,
        method.to_string(),
        Partial {
            queue,
            options,
            at: format!("{}:{line}", program.files[f].path),
        },
    ))
}

/// The signal a `.connect` belongs to: `celery.signals.X`, or an app's
/// own `on_after_configure` and friends.
fn signal_name(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
    func: &Expr,
) -> Option<String> {
    let Expr::Attr(signal, _) = func else {
        return None;
    };
    if let Some(q) = program.qualify(file, scope, signal)
        && let Some(name) = q.strip_prefix("celery.signals.")
    {
        return Some(name.to_string());
    }
    if let Expr::Attr(app, name) = signal.as_ref()
        && APP_SIGNALS.contains(&name.as_str())
        && app_of(program, apps, file, scope, app, 0).is_some()
    {
        return Some(name.to_string());
    }
    None
}

fn reference(program: &Program, file: usize, scope: u32, expr: &Expr) -> String {
    match program.resolve(file, scope, expr) {
        Target::Def { file: f, scope: s } => program.def_ref(f, s),
        Target::External(p) => p,
        _ => render_expr(expr),
    }
}

/// `sender.add_periodic_task(schedule, sig, name=...)`.
fn periodic(
    program: &Program,
    tasks: &[TaskInfo],
    by_name: &HashMap<String, usize>,
    file: usize,
    scope: u32,
    call: &Call,
) -> Option<BeatEntry> {
    let schedule = call.arg(0, "schedule")?;
    let sig = call.arg(1, "sig")?;
    let task = match sig {
        Expr::Call(c) => match &c.func {
            Expr::Attr(base, m) if matches!(m.as_str(), "s" | "si" | "signature") => {
                match program.resolve(file, scope, base) {
                    Target::Def { file: f, scope: s } => tasks
                        .iter()
                        .find(|t| t.file == f && t.scope == s)
                        .map(|t| t.task.name.clone()),
                    _ => None,
                }
                .or_else(|| {
                    c.args
                        .first()
                        .filter(|a| is_stringish(a))
                        .map(|a| program.eval_str(file, scope, a))
                })
            }
            _ => None,
        },
        _ => None,
    }
    .unwrap_or_else(|| StrValue::Dynamic {
        reason: format!("`{}` is not a known task signature", render_expr(sig)),
    });
    let args = match sig {
        Expr::Call(c) => c.kwarg("args").map(render_expr).or_else(|| {
            (!c.args.is_empty() && !is_stringish(&c.args[0])).then(|| render_expr(sig))
        }),
        _ => None,
    };
    Some(BeatEntry {
        name: call
            .kwarg("name")
            .and_then(|n| {
                program
                    .eval_str(file, scope, n)
                    .as_known()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| render_expr(sig)),
        task_found: task.as_known().is_some_and(|n| by_name.contains_key(n)),
        task,
        schedule: schedule_text(schedule),
        args,
        form: "add_periodic_task".into(),
        file: program.files[file].path.clone(),
        line: call.line,
    })
}

/// Signature calls that belong to a canvas, by identity, with the canvas
/// kind: arguments of `chain`/`group`/`chord` and the sides of `|`.
fn canvas_members(
    program: &Program,
    file: usize,
    scope: u32,
    stmts: &[Stmt],
) -> HashMap<*const Call, &'static str> {
    let mut out = HashMap::new();
    let mut visit = |e: &Expr| {
        walk(e, &mut |x| match x {
            Expr::Call(c) => {
                let kind = canvas_kind(program, file, scope, &c.func).or_else(|| match &c.func {
                    // `chord(header)(body)`: the body.
                    Expr::Call(inner)
                        if canvas_kind(program, file, scope, &inner.func) == Some("chord") =>
                    {
                        Some("chord")
                    }
                    _ => None,
                });
                if let Some(kind) = kind {
                    for a in c.args.iter().chain(c.kwargs.iter().map(|k| &k.value)) {
                        walk(a, &mut |y| {
                            if let Expr::Call(sig) = y {
                                out.entry(Arc::as_ptr(sig)).or_insert(kind);
                            }
                        });
                    }
                }
            }
            Expr::BinOp(l, BinOp::BitOr, r) => {
                for side in [l, r] {
                    walk(side, &mut |y| {
                        if let Expr::Call(sig) = y
                            && matches!(&sig.func, Expr::Attr(_, m) if TASK_METHODS.contains(&m.as_str()))
                        {
                            out.entry(Arc::as_ptr(sig)).or_insert("chain");
                        }
                    });
                }
            }
            _ => {}
        });
    };
    for st in stmts {
        match st {
            Stmt::Assign { value: Some(v), .. } | Stmt::Return { value: Some(v), .. } => visit(v),
            Stmt::Call { call, .. } => visit(&Expr::Call(call.clone())),
            _ => {}
        }
    }
    out
}

fn canvas_kind(program: &Program, file: usize, scope: u32, func: &Expr) -> Option<&'static str> {
    let last = last_dotted_name(func)?;
    if !matches!(last, "chain" | "group" | "chord" | "chunks") {
        return None;
    }
    let q = program.qualify(file, scope, func)?;
    if !q.starts_with("celery") {
        return None;
    }
    Some(match last {
        "chain" => "chain",
        "group" => "group",
        "chord" => "chord",
        _ => "chunks",
    })
}

/// The last name of a dotted chain (`celery.chain` gives `chain`), without
/// building the whole path: this runs for every call in the program.
fn last_dotted_name(e: &Expr) -> Option<&str> {
    fn is_dotted(e: &Expr) -> bool {
        match e {
            Expr::Name(_) => true,
            Expr::Attr(base, _) => is_dotted(base),
            _ => false,
        }
    }
    match e {
        Expr::Name(n) => Some(n),
        Expr::Attr(base, attr) => is_dotted(base).then_some(attr.as_str()),
        _ => None,
    }
}

/// Calls `f` on `e` and every expression inside it.
fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Attr(b, _)
        | Expr::Starred(b)
        | Expr::DoubleStarred(b)
        | Expr::Await(b)
        | Expr::Comprehension(b) => {
            walk(b, f);
        }
        Expr::Call(c) => {
            walk(&c.func, f);
            for a in &c.args {
                walk(a, f);
            }
            for k in &c.kwargs {
                walk(&k.value, f);
            }
        }
        Expr::List(v) | Expr::Tuple(v) | Expr::Set(v) => {
            for x in v {
                walk(x, f);
            }
        }
        Expr::Dict(pairs) => {
            for (k, v) in pairs {
                walk(k, f);
                walk(v, f);
            }
        }
        Expr::Subscript(b, items) => {
            walk(b, f);
            for x in items {
                walk(x, f);
            }
        }
        Expr::BinOp(l, _, r) => {
            walk(l, f);
            walk(r, f);
        }
        Expr::FStr(parts) => {
            for p in parts {
                if let FPart::Hole(h) = p {
                    walk(h, f);
                }
            }
        }
        _ => {}
    }
}

/// Whether a task is a `Task` subclass rather than a decorated function.
fn is_class_task(program: &Program, task: &TaskInfo) -> bool {
    program
        .scope(task.file, task.scope)
        .is_some_and(|s| s.kind == ScopeKind::Class)
}
