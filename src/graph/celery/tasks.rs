//! Tasks, named as Celery names them, and the queue each lands on.
//!
//! A task is a function decorated with `@app.task` or `@shared_task`
//! (called or not), or a `Task` subclass registered with
//! `app.register_task(...)`. Its registered name is the explicit `name=`
//! (or a class's `name` attribute), else the module's dotted path and the
//! function's own name; in a module run as a script, Celery uses the app's
//! main name instead of `__main__`. Its queue is its own `queue=` (or its
//! base class's), else the first matching `task_routes` entry, else the
//! app's default queue.

use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ScopeKind, Stmt};

use super::apps::{AppInfo, app_of, glob_match};
use super::{Task, TaskOption};

pub struct TaskInfo {
    pub file: usize,
    /// The function or class scope.
    pub scope: u32,
    pub app: Option<usize>,
    pub task: Task,
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
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            if sc.kind != ScopeKind::Function || sc.decorators.is_empty() {
                continue;
            }
            let outer = sc.parent.unwrap_or(0);
            for dec in &sc.decorators {
                let (callee, call) = match dec {
                    Expr::Call(c) => (&c.func, Some(c.as_ref())),
                    other => (other, None),
                };
                let Some(last) = callee.dotted() else {
                    continue;
                };
                let last = last.rsplit('.').next().unwrap_or("");
                if last != "task" && last != "shared_task" {
                    continue;
                }
                let (app, form) = match callee {
                    Expr::Attr(base, attr) if attr == "task" => {
                        match app_of(program, apps, file, outer, base, 0) {
                            Some(a) => (Some(a), "app.task"),
                            None if is_shared(program, file, outer, callee) => {
                                (None, "shared_task")
                            }
                            None => continue,
                        }
                    }
                    _ if is_shared(program, file, outer, callee) => (None, "shared_task"),
                    _ => continue,
                };
                out.push(function_task(
                    program, apps, file, si as u32, app, form, call,
                ));
                break;
            }
        }
    }
    out.extend(registered_classes(program, apps));
    for t in &mut out {
        let (queue, from) = queue_of(apps, t);
        t.task.queue = queue;
        t.task.queue_from = from;
    }
    out.sort_by(|a, b| (&a.task.file, a.task.line).cmp(&(&b.task.file, b.task.line)));
    out
}

fn is_shared(program: &Program, file: usize, scope: u32, callee: &Expr) -> bool {
    program
        .qualify(file, scope, callee)
        .is_some_and(|q| SHARED.contains(&q.as_str()))
}

fn module_name(program: &Program, file: usize) -> String {
    program.files[file]
        .module
        .as_ref()
        .map_or_else(String::new, |m| m.name.clone())
}

/// Whether the module has an `if __name__ == "__main__":` block.
fn runs_as_script(program: &Program, file: usize) -> bool {
    program.scope(file, 0).is_some_and(|sc| {
        sc.stmts.iter().any(|st| {
            matches!(st, Stmt::Compare { left: Expr::Name(n), right: Expr::Str(s), .. }
                if n == "__name__" && s == "__main__")
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
    app: Option<usize>,
    form: &str,
    call: Option<&Call>,
) -> TaskInfo {
    let sc = program.scope(file, scope);
    let outer = sc.and_then(|s| s.parent).unwrap_or(0);
    let fname = sc.map_or("", |s| s.name.as_str());
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
                        name: k.name.clone()?,
                        value: render_expr(&k.value),
                        inherited_from: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(base) = call.and_then(|c| c.kwarg("base"))
        && let Target::Def {
            file: bf,
            scope: bs,
        } = program.resolve(file, outer, base)
    {
        inherit(program, bf, bs, &mut options);
    }
    TaskInfo {
        file,
        scope,
        app,
        task: Task {
            name,
            function: program.def_ref(file, scope),
            file: program.files[file].path.clone(),
            line: sc.map_or(0, |s| s.line),
            form: form.to_string(),
            app: app.map(|a| apps[a].entry.object.clone()),
            queue: String::new(),
            queue_from: String::new(),
            options,
            alternative_name,
            enqueued_at: Vec::new(),
            enqueues: Vec::new(),
            direct_calls: Vec::new(),
            conditional: sc.is_some_and(|s| s.conditional),
        },
    }
}

/// Adds the options a task class body (and its first-party bases) sets,
/// unless given already.
fn inherit(program: &Program, file: usize, class: u32, options: &mut Vec<TaskOption>) {
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
                    && !options.iter().any(|o| &o.name == n)
                {
                    options.push(TaskOption {
                        name: n.clone(),
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
                inherit(program, cf, cs, &mut options);
                for o in &mut options {
                    if o.inherited_from.as_deref() == Some(program.def_ref(cf, cs).as_str()) {
                        o.inherited_from = None;
                    }
                }
                out.push(TaskInfo {
                    file: cf,
                    scope: cs,
                    app: Some(app),
                    task: Task {
                        name,
                        function: program.def_ref(cf, cs),
                        file: program.files[cf].path.clone(),
                        line: class.line,
                        form: "register_task".into(),
                        app: Some(apps[app].entry.object.clone()),
                        queue: String::new(),
                        queue_from: String::new(),
                        options,
                        alternative_name,
                        enqueued_at: Vec::new(),
                        enqueues: Vec::new(),
                        direct_calls: Vec::new(),
                        conditional: class.conditional,
                    },
                });
            }
        }
    }
    out
}

/// The queue a task lands on, and why.
fn queue_of(apps: &[AppInfo], t: &TaskInfo) -> (String, String) {
    if let Some(q) = t.task.options.iter().find(|o| o.name == "queue") {
        let queue = q.value.trim_matches('"').to_string();
        let from = match &q.inherited_from {
            Some(base) => format!("`queue=` of the base class `{base}`"),
            None => "`queue=`".to_string(),
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
