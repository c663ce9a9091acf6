//! `Celery(...)` applications and their configuration.
//!
//! Configuration reaches an app in several ways, all read here: the
//! constructor (`broker=`, `backend=`, `include=`), `app.conf.update(...)`,
//! `app.conf.key = value`, `app.conf["key"] = value`, and
//! `app.config_from_object(...)` naming a first-party module, class or
//! instance of a class (with a `namespace`, only `NAMESPACE_`-prefixed
//! names count, which is how Django projects configure Celery). A program
//! with no `Celery(...)` that configures `celery.current_app` gets that as
//! its app. Old upper-case names such as
//! `CELERYBEAT_SCHEDULE` are mapped to the lower-case ones.

use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ScopeKind, Stmt};

use super::tasks::TaskInfo;
use super::{BeatEntry, CeleryApp, ConfigKey, ConfigSource, Setting, TaskRoute};

/// An app, where it is built, and the raw configuration values the task
/// and beat analyses need.
pub struct AppInfo {
    pub file: usize,
    pub scope: u32,
    pub line: u32,
    pub entry: CeleryApp,
    /// `beat_schedule` values: file, scope and line where they are set.
    beat: Vec<(usize, u32, u32, Expr)>,
}

const CELERY_CLASSES: [&str; 3] = [
    "celery.Celery",
    "celery.app.Celery",
    "celery.app.base.Celery",
];

const MAX_DEPTH: u32 = 12;

/// Every Celery app of the program, with its configuration.
pub fn find(program: &Program) -> Vec<AppInfo> {
    let mut apps = Vec::new();
    for (file, record, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            for st in &sc.stmts {
                let Stmt::Assign {
                    line,
                    targets,
                    value: Some(Expr::Call(call)),
                    ..
                } = st
                else {
                    continue;
                };
                let Some(name) = targets.iter().find_map(|t| match t {
                    Expr::Name(n) => Some(n.clone()),
                    _ => None,
                }) else {
                    continue;
                };
                if !is_celery_constructor(program, file, si as u32, &call.func) {
                    continue;
                }
                let module = record.module.as_ref().map_or("", |m| m.name.as_str());
                let object = if si == 0 {
                    format!("{module}:{name}")
                } else {
                    let outer = if sc.kind == ScopeKind::Function {
                        ".<locals>"
                    } else {
                        ""
                    };
                    format!(
                        "{module}:{}{outer}.{name}",
                        program.python_qualname(file, si as u32)
                    )
                };
                let main = call.arg(0, "main").and_then(|m| {
                    program
                        .eval_str(file, si as u32, m)
                        .as_known()
                        .map(String::from)
                });
                let mut entry = CeleryApp::unconfigured(object, record.path.clone(), *line, main);
                for k in &call.kwargs {
                    if let Some(key) = &k.name {
                        entry.config.push(ConfigKey {
                            key: constructor_key(key).to_string(),
                            value: render_expr(&k.value),
                            file: record.path.clone(),
                            line: *line,
                        });
                    }
                }
                apps.push(AppInfo {
                    file,
                    scope: si as u32,
                    line: *line,
                    entry,
                    beat: Vec::new(),
                });
            }
        }
    }
    if apps.is_empty()
        && let Some(site) = configured_current_app(program)
    {
        apps.push(site);
    }
    if apps.is_empty() {
        return apps;
    }
    configure(program, &mut apps);
    apps
}

/// `celery.current_app` under the paths it is imported from.
const CURRENT_APP: [&str; 3] = [
    "celery.current_app",
    "celery._state.current_app",
    "celery.app.current_app",
];

/// The object name given to `celery.current_app` when it stands in for an
/// app.
const CURRENT_APP_OBJECT: &str = "celery:current_app";

/// Whether `expr` is `celery.current_app`, directly or through local
/// aliases (`worker = current_app`).
fn is_current_app<'p>(program: &'p Program, file: usize, scope: u32, expr: &'p Expr) -> bool {
    let (mut file, mut scope, mut expr) = (file, scope, expr);
    for _ in 0..MAX_DEPTH {
        match program.resolve(file, scope, expr) {
            Target::External(p) => return CURRENT_APP.contains(&p.as_str()),
            Target::Value {
                file: f,
                scope: s,
                value: v @ (Expr::Name(_) | Expr::Attr(..)),
                ..
            } => (file, scope, expr) = (f, s, v),
            _ => return false,
        }
    }
    false
}

/// A program that builds no `Celery(...)` but configures `celery.current_app`
/// (`current_app.config_from_object(...)`, `current_app.conf.update(...)`,
/// `current_app.conf.key = ...`) configures the app a worker creates: it is
/// listed as `celery:current_app`, placed at the first such configuration.
fn configured_current_app(program: &Program) -> Option<AppInfo> {
    for (file, record, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            for st in &sc.stmts {
                let (line, app) = match st {
                    Stmt::Call { call, .. } => match &call.func {
                        Expr::Attr(base, m) if m == "config_from_object" => (call.line, &**base),
                        Expr::Attr(base, m) if m == "update" => match &**base {
                            Expr::Attr(app, c) if c == "conf" => (call.line, &**app),
                            _ => continue,
                        },
                        _ => continue,
                    },
                    Stmt::Assign { line, targets, .. } => {
                        let Some(app) = targets.iter().find_map(|t| match t {
                            Expr::Attr(conf, _) => match &**conf {
                                Expr::Attr(app, c) if c == "conf" => Some(&**app),
                                _ => None,
                            },
                            _ => None,
                        }) else {
                            continue;
                        };
                        (*line, app)
                    }
                    _ => continue,
                };
                if !is_current_app(program, file, si, app) {
                    continue;
                }
                return Some(AppInfo {
                    file,
                    scope: si,
                    line,
                    entry: CeleryApp::unconfigured(
                        CURRENT_APP_OBJECT.into(),
                        record.path.clone(),
                        line,
                        None,
                    ),
                    beat: Vec::new(),
                });
            }
        }
    }
    None
}

/// Constructor keywords under their setting names.
fn constructor_key(key: &str) -> &str {
    match key {
        "broker" => "broker_url",
        "backend" => "result_backend",
        "include" => "include",
        other => other,
    }
}

fn is_celery_constructor(program: &Program, file: usize, scope: u32, func: &Expr) -> bool {
    let Some(dotted) = func.dotted() else {
        return false;
    };
    if !dotted.ends_with("Celery") && !dotted.chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    match program.resolve(file, scope, func) {
        // A Celery subclass from a library (`NotifyCelery`) builds an app too.
        Target::External(p) => {
            CELERY_CLASSES.contains(&p.as_str())
                || (p.starts_with("celery.") && p.ends_with(".Celery"))
                || (!p.starts_with("celery.")
                    && p.rsplit('.').next().is_some_and(|l| l.ends_with("Celery")))
        }
        Target::Def { file: f, scope: s } => {
            program
                .scope(f, s)
                .is_some_and(|sc| sc.kind == ScopeKind::Class)
                && program.class_extends(f, s, &CELERY_CLASSES)
        }
        _ => false,
    }
}

/// The app `expr` (seen in `scope` of `file`) stands for: through
/// aliases, imports and factory functions that return an app.
pub fn app_of(
    program: &Program,
    apps: &[AppInfo],
    file: usize,
    scope: u32,
    expr: &Expr,
    depth: u32,
) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    match program.resolve(file, scope, expr) {
        Target::External(p) if CURRENT_APP.contains(&p.as_str()) => apps
            .iter()
            .position(|a| a.entry.object == CURRENT_APP_OBJECT),
        Target::Value {
            file: f,
            scope: s,
            line,
            value,
        } => {
            if let Some(i) = apps
                .iter()
                .position(|a| a.file == f && a.scope == s && a.line == line)
            {
                return Some(i);
            }
            match value {
                Expr::Name(_) | Expr::Attr(..) => app_of(program, apps, f, s, value, depth + 1),
                Expr::Call(c) => {
                    let Target::Def {
                        file: df,
                        scope: ds,
                    } = program.resolve(f, s, &c.func)
                    else {
                        return None;
                    };
                    let sc = program.scope(df, ds)?;
                    sc.stmts.iter().find_map(|st| match st {
                        Stmt::Return { value: Some(v), .. } => {
                            app_of(program, apps, df, ds, v, depth + 1)
                        }
                        _ => None,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Reads every configuration call and assignment on each app.
fn configure(program: &Program, apps: &mut [AppInfo]) {
    // Collected first, applied after, so that `app_of` can borrow `apps`.
    let mut found: Vec<(usize, Found)> = Vec::new();
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            for st in &sc.stmts {
                match st {
                    Stmt::Call { call, .. } => {
                        let Expr::Attr(base, method) = &call.func else {
                            continue;
                        };
                        let on_conf = matches!(base.as_ref(), Expr::Attr(_, c) if c == "conf");
                        let app_expr = match (method.as_str(), base.as_ref()) {
                            ("update", Expr::Attr(app, _)) if on_conf => app.as_ref(),
                            ("config_from_object" | "autodiscover_tasks", app) => app,
                            _ => continue,
                        };
                        if let Some(a) = app_of(program, apps, file, si, app_expr, 0) {
                            found
                                .push((a, Found::Call(file, si, call.clone(), method.to_string())));
                        }
                    }
                    Stmt::Assign {
                        line,
                        targets,
                        value: Some(value),
                        ..
                    } => {
                        for t in targets {
                            let (conf, key) = match t {
                                Expr::Attr(conf, key) => (conf.as_ref(), key.to_string()),
                                Expr::Subscript(conf, keys) => {
                                    match keys.first().and_then(Expr::as_str) {
                                        Some(k) => (conf.as_ref(), k.to_string()),
                                        None => continue,
                                    }
                                }
                                _ => continue,
                            };
                            let Expr::Attr(app, c) = conf else { continue };
                            if c != "conf" {
                                continue;
                            }
                            if let Some(a) = app_of(program, apps, file, si, app, 0) {
                                found.push((a, Found::Key(file, si, *line, key, value.clone())));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found.sort_by(|a, b| {
        let (fa, la) = a.1.site();
        let (fb, lb) = b.1.site();
        (&program.files[fa].path, la).cmp(&(&program.files[fb].path, lb))
    });
    for (a, f) in found {
        match f {
            Found::Key(file, scope, line, key, value) => {
                set_key(program, &mut apps[a], file, scope, line, &key, &value);
            }
            Found::Call(file, scope, call, method) => match method.as_str() {
                "update" => {
                    for k in &call.kwargs {
                        if let Some(key) = &k.name {
                            set_key(program, &mut apps[a], file, scope, call.line, key, &k.value);
                        }
                    }
                    match call.args.first() {
                        Some(Expr::Dict(pairs)) => {
                            for (k, v) in pairs {
                                if let Some(key) = k.as_str() {
                                    set_key(program, &mut apps[a], file, scope, call.line, key, v);
                                }
                            }
                        }
                        // `conf.update({k: v for k in ...})`, `conf.update(cfg)`.
                        Some(other) => apps[a].entry.config_from.push(ConfigSource {
                            target: match other {
                                Expr::Name(n) => format!("conf.update({n})"),
                                _ => "conf.update(...)".into(),
                            },
                            namespace: None,
                            path: None,
                            reason: Some(
                                "a mapping built at run time: which keys it sets is not known here"
                                    .into(),
                            ),
                            file: program.files[file].path.clone(),
                            line: call.line,
                        }),
                        None => {}
                    }
                }
                "config_from_object" => {
                    config_from_object(program, &mut apps[a], file, scope, &call)
                }
                _ => {
                    let packages = call.arg(0, "packages");
                    let names = packages
                        .and_then(Expr::elements)
                        .map(|items| strings(program, file, scope, items))
                        .unwrap_or_default();
                    // Celery imports `<package>.<related_name>`, `tasks` by default.
                    let related = call
                        .arg(1, "related_name")
                        .and_then(|r| {
                            program
                                .eval_str(file, scope, r)
                                .as_known()
                                .map(str::to_string)
                        })
                        .unwrap_or_else(|| "tasks".to_string());
                    let entry = &mut apps[a].entry;
                    if names.is_empty() {
                        let of = packages.map_or_else(
                            || "the installed apps (no packages given)".to_string(),
                            |p| format!("the packages `{}` gives at run time", render_expr(p)),
                        );
                        let what = format!("the `{related}` modules of {of}");
                        if !entry.autodiscover_dynamic.contains(&what) {
                            entry.autodiscover_dynamic.push(what);
                        }
                    } else {
                        for name in names {
                            let module = format!("{name}.{related}");
                            if !entry.autodiscover_modules.contains(&module) {
                                entry.autodiscover_modules.push(module);
                            }
                            if !entry.autodiscover.contains(&name) {
                                entry.autodiscover.push(name);
                            }
                        }
                    }
                }
            },
        }
    }
    // The constructor's own keywords count too, and go first.
    for app in apps.iter_mut() {
        if app.entry.object == CURRENT_APP_OBJECT {
            continue;
        }
        let Some(call) = constructor(program, app) else {
            continue;
        };
        let (file, scope) = (app.file, app.scope);
        let kwargs: Vec<(String, Expr)> = call
            .kwargs
            .iter()
            .filter_map(|k| Some((k.name.as_ref()?.to_string(), k.value.clone())))
            .collect();
        for (key, value) in kwargs.iter().rev() {
            apply(
                program,
                app,
                file,
                scope,
                app.line,
                constructor_key(key),
                value,
                true,
            );
        }
    }
}

enum Found {
    Key(usize, u32, u32, String, Expr),
    Call(usize, u32, std::sync::Arc<Call>, String),
}

impl Found {
    fn site(&self) -> (usize, u32) {
        match self {
            Found::Key(f, _, l, _, _) => (*f, *l),
            Found::Call(f, _, c, _) => (*f, c.line),
        }
    }
}

fn constructor<'p>(program: &'p Program, app: &AppInfo) -> Option<&'p Call> {
    let sc = program.scope(app.file, app.scope)?;
    sc.stmts.iter().find_map(|st| match st {
        Stmt::Assign {
            line,
            value: Some(Expr::Call(c)),
            ..
        } if *line == app.line => Some(c.as_ref()),
        _ => None,
    })
}

fn strings(program: &Program, file: usize, scope: u32, items: &[Expr]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            program
                .eval_str(file, scope, i)
                .text()
                .map_or_else(|| render_expr(i), str::to_string)
        })
        .collect()
}

/// Old and namespaced setting names under Celery's lower-case ones.
fn setting_name(raw: &str, namespace: Option<&str>) -> Option<String> {
    let name = match namespace {
        Some(ns) => raw.strip_prefix(ns)?.strip_prefix('_')?.to_string(),
        None => raw.to_string(),
    };
    let mapped = match name.as_str() {
        "BROKER_URL" | "CELERY_BROKER_URL" => "broker_url",
        "CELERY_RESULT_BACKEND" | "RESULT_BACKEND" => "result_backend",
        "CELERY_DEFAULT_QUEUE" | "TASK_DEFAULT_QUEUE" | "CELERY_TASK_DEFAULT_QUEUE" => {
            "task_default_queue"
        }
        "CELERY_ROUTES" | "TASK_ROUTES" | "CELERY_TASK_ROUTES" => "task_routes",
        "CELERYBEAT_SCHEDULE" | "BEAT_SCHEDULE" | "CELERY_BEAT_SCHEDULE" => "beat_schedule",
        "CELERY_IMPORTS" | "IMPORTS" => "imports",
        "CELERY_INCLUDE" | "INCLUDE" => "include",
        other if namespace.is_some() => return Some(other.to_ascii_lowercase()),
        other
            if other
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()) =>
        {
            other
        }
        _ => return None,
    };
    Some(mapped.to_string())
}

fn config_from_object(program: &Program, app: &mut AppInfo, file: usize, scope: u32, call: &Call) {
    let Some(obj) = call.arg(0, "obj") else {
        return;
    };
    let namespace = call.kwarg("namespace").and_then(|n| {
        program
            .eval_str(file, scope, n)
            .as_known()
            .map(str::to_string)
    });
    let mut source = ConfigSource {
        target: render_expr(obj),
        namespace: namespace.clone(),
        path: None,
        reason: None,
        file: program.files[file].path.clone(),
        line: call.line,
    };
    // The object: a dotted module path (optionally `module:attr`), or a
    // name bound to a module or class.
    let target: Option<(usize, u32)> = match program.eval_str(file, scope, obj) {
        StrValue::Known { value, .. } => {
            let (module, attr) = match value.split_once(':') {
                Some((m, a)) => (m.to_string(), Some(a.to_string())),
                None => (value.clone(), None),
            };
            if module == "django.conf" {
                source.reason = Some(
                    "Django settings: the module DJANGO_SETTINGS_MODULE names at run time; \
                     first-party settings modules defining the namespaced names are read"
                        .into(),
                );
                app.entry.config_from.push(source);
                django_settings(program, app, namespace.as_deref());
                return;
            }
            // Without `:`, Celery first imports the whole path as a module,
            // then falls back to an attribute of its parent module
            // (`"proj.config.Settings"`).
            let (module, attr) = match (program.module_file_for(file, &module), attr) {
                (None, None) => match module.rsplit_once('.') {
                    Some((m, a)) if program.module_file_for(file, m).is_some() => {
                        (m.to_string(), Some(a.to_string()))
                    }
                    _ => (module, None),
                },
                (_, attr) => (module, attr),
            };
            match program.module_file_for(file, &module) {
                Some(m) => match attr {
                    None => Some((m, 0)),
                    Some(a) => settings_holder(program, program.lookup_module(m, &a, 0)),
                },
                None => {
                    source.reason = Some(format!("`{module}` is not in the analysed code"));
                    None
                }
            }
        }
        _ => match settings_holder(program, program.resolve(file, scope, obj)) {
            Some(held) => Some(held),
            None => {
                let reason = "the configuration object is only known at run time";
                source.reason = Some(reason.into());
                // Whatever it sets is unknown, the default queue included.
                app.entry.default_queue = "{?}".into();
                app.entry.default_queue_note = Some(format!(
                    "`config_from_object({})` at {}:{} may set it, and {reason}",
                    render_expr(obj),
                    source.file,
                    source.line
                ));
                None
            }
        },
    };
    if let Some((f, s)) = target {
        source.path = Some(program.files[f].path.clone());
        app.entry.config_from.push(source);
        read_settings(program, app, f, s, namespace.as_deref());
    } else {
        app.entry.config_from.push(source);
    }
}

/// The module or class body whose names `target` reads as settings: a
/// module, a class, or an instance of a first-party class (whose class
/// attributes are what the instance shows).
fn settings_holder(program: &Program, target: Target) -> Option<(usize, u32)> {
    match target {
        Target::Module(m) => Some((m, 0)),
        Target::Def { file: f, scope: s } => Some((f, s)),
        Target::Value {
            file: f,
            scope: s,
            value: Expr::Call(c),
            ..
        } => match program.resolve(f, s, &c.func) {
            Target::Def {
                file: cf,
                scope: cs,
            } if program
                .scope(cf, cs)
                .is_some_and(|sc| sc.kind == ScopeKind::Class) =>
            {
                Some((cf, cs))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Settings modules of a Django project that define names under the
/// namespace: the only statically visible stand-in for
/// `django.conf:settings`.
fn django_settings(program: &Program, app: &mut AppInfo, namespace: Option<&str>) {
    let prefix = namespace.map(|n| format!("{n}_"));
    for (f, record, facts) in program.analyzed() {
        let Some(m) = &record.module else { continue };
        let is_settings = m.name.rsplit('.').next() == Some("settings")
            || m.name.split('.').any(|p| p == "settings");
        if !is_settings {
            continue;
        }
        let defines = facts.scopes.first().is_some_and(|sc| {
            sc.stmts.iter().any(|st| {
                match st {
                Stmt::Assign { targets, .. } => targets.iter().any(|t| {
                    matches!(t, Expr::Name(n) if prefix.as_deref().is_none_or(|p| n.starts_with(p)))
                }),
                _ => false,
            }
            })
        });
        if defines {
            if let Some(last) = app.entry.config_from.last_mut()
                && last.path.is_none()
            {
                last.path = Some(record.path.clone());
            }
            read_settings(program, app, f, 0, namespace);
        }
    }
}

/// The settings a module or class body assigns. A class shows the
/// attributes of its first-party bases too, its own last so that they win.
fn read_settings(
    program: &Program,
    app: &mut AppInfo,
    file: usize,
    scope: u32,
    namespace: Option<&str>,
) {
    let is_class = program
        .scope(file, scope)
        .is_some_and(|sc| sc.kind == ScopeKind::Class);
    if is_class {
        for (f, s) in program.class_chain(file, scope).into_iter().rev() {
            read_body(program, app, f, s, namespace);
        }
    } else {
        read_body(program, app, file, scope, namespace);
    }
}

fn read_body(
    program: &Program,
    app: &mut AppInfo,
    file: usize,
    scope: u32,
    namespace: Option<&str>,
) {
    let Some(sc) = program.scope(file, scope) else {
        return;
    };
    let stmts: Vec<(u32, String, Expr)> = sc
        .stmts
        .iter()
        .filter_map(|st| match st {
            Stmt::Assign {
                line,
                targets,
                value: Some(v),
                augmented: false,
                ..
            } => targets.iter().find_map(|t| match t {
                Expr::Name(n) => Some((*line, n.to_string(), v.clone())),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    for (line, raw, value) in stmts {
        if let Some(key) = setting_name(&raw, namespace) {
            set_key(program, app, file, scope, line, &key, &value);
        }
    }
}

fn set_key(
    program: &Program,
    app: &mut AppInfo,
    file: usize,
    scope: u32,
    line: u32,
    key: &str,
    value: &Expr,
) {
    apply(program, app, file, scope, line, key, value, false);
}

/// Records one setting and fills the typed fields it affects.
#[allow(clippy::too_many_arguments)]
fn apply(
    program: &Program,
    app: &mut AppInfo,
    file: usize,
    scope: u32,
    line: u32,
    key: &str,
    value: &Expr,
    from_constructor: bool,
) {
    let path = program.files[file].path.clone();
    if !from_constructor {
        app.entry.config.push(ConfigKey {
            key: key.to_string(),
            value: render_expr(value),
            file: path.clone(),
            line,
        });
    }
    let setting = || Setting {
        value: program.eval_str(file, scope, value),
        file: path.clone(),
        line,
    };
    match key {
        // The constructor's keywords win over configuration modules,
        // as in Celery.
        "broker_url" if from_constructor || app.entry.broker.is_none() => {
            app.entry.broker = Some(setting());
        }
        "result_backend" if from_constructor || app.entry.result_backend.is_none() => {
            app.entry.result_backend = Some(setting());
        }
        "task_default_queue" => {
            let (queue, note) = match program.eval_str(file, scope, value) {
                StrValue::Known { value, note } => (value, note),
                StrValue::Pattern { value } => (
                    value.replace("{}", "{?}"),
                    Some("partly known only at run time".to_string()),
                ),
                StrValue::Dynamic { reason } => ("{?}".to_string(), Some(reason)),
            };
            app.entry.default_queue = queue;
            app.entry.default_queue_note = note;
        }
        "include" | "imports" => {
            if let Some(items) = resolved_elements(program, file, scope, value) {
                let (f, s, items) = items;
                for name in strings(program, f, s, items) {
                    if !app.entry.includes.contains(&name) {
                        app.entry.includes.push(name);
                    }
                }
            }
        }
        "task_routes" => app
            .entry
            .task_routes
            .extend(routes(program, file, scope, line, value)),
        "beat_schedule" => app.beat.push((file, scope, line, value.clone())),
        _ => {}
    }
}

/// The elements of a literal list, following a name to its value.
fn resolved_elements<'p>(
    program: &'p Program,
    file: usize,
    scope: u32,
    value: &'p Expr,
) -> Option<(usize, u32, &'p [Expr])> {
    if let Some(items) = value.elements() {
        return Some((file, scope, items));
    }
    match program.resolve(file, scope, value) {
        Target::Value {
            file: f,
            scope: s,
            value: v,
            ..
        } => v.elements().map(|items| (f, s, items)),
        _ => None,
    }
}

/// `task_routes` in its forms: a dict of names or globs to a queue (or to
/// `{"queue": ...}`), a list of such dicts, or something computed.
fn routes(program: &Program, file: usize, scope: u32, line: u32, value: &Expr) -> Vec<TaskRoute> {
    let path = program.files[file].path.clone();
    let (f, s, value) = match value {
        Expr::Name(_) | Expr::Attr(..) => match program.resolve(file, scope, value) {
            Target::Value {
                file: f,
                scope: s,
                value: v,
                ..
            } => (f, s, v),
            _ => (file, scope, value),
        },
        v => (file, scope, v),
    };
    match value {
        Expr::Dict(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                let pattern = program
                    .eval_str(f, s, k)
                    .text()
                    .map_or_else(|| render_expr(k), str::to_string);
                let queue = match v {
                    Expr::Dict(opts) => opts.iter().find_map(|(ok, ov)| {
                        (ok.as_str() == Some("queue"))
                            .then(|| program.eval_str(f, s, ov).text().map(str::to_string))
                            .flatten()
                    }),
                    other => program.eval_str(f, s, other).as_known().map(str::to_string),
                };
                TaskRoute {
                    pattern,
                    queue,
                    file: path.clone(),
                    line,
                }
            })
            .collect(),
        Expr::List(items) | Expr::Tuple(items) => items
            .iter()
            .flat_map(|i| routes(program, f, s, line, i))
            .collect(),
        other => vec![TaskRoute {
            pattern: format!("a router computed at run time: `{}`", render_expr(other)),
            queue: None,
            file: path,
            line,
        }],
    }
}

/// Celery's glob match for `task_routes` keys: `*` any run, `?` one char.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Every `beat_schedule` entry of every app.
pub fn beat(program: &Program, apps: &[AppInfo], tasks: &[TaskInfo]) -> Vec<BeatEntry> {
    let mut out = Vec::new();
    for app in apps {
        for (file, scope, set_at, value) in &app.beat {
            // Dict entries keep no line of their own: an entry is placed at
            // the line its schedule is assigned.
            let (f, s, at, value) = match value {
                Expr::Name(_) | Expr::Attr(..) => match program.resolve(*file, *scope, value) {
                    Target::Value {
                        file: f,
                        scope: s,
                        line,
                        value: v,
                    } => (f, s, line, v.clone()),
                    _ => (*file, *scope, *set_at, value.clone()),
                },
                v => (*file, *scope, *set_at, v.clone()),
            };
            let Expr::Dict(pairs) = &value else {
                out.push(BeatEntry {
                    name: render_expr(&value),
                    task: StrValue::Dynamic {
                        reason: "the schedule is computed at run time".into(),
                    },
                    task_found: false,
                    schedule: String::new(),
                    args: None,
                    form: "beat_schedule".into(),
                    file: program.files[f].path.clone(),
                    line: at,
                });
                continue;
            };
            beat_entries(program, tasks, (f, s, at), pairs, &mut out, 0);
        }
    }
    out
}

/// The entries of one `beat_schedule` dict written at `(file, scope)`,
/// placed at line `at`; `**other` merges another dict's entries, followed
/// to where that dict is written.
fn beat_entries(
    program: &Program,
    tasks: &[TaskInfo],
    (f, s, at): (usize, u32, u32),
    pairs: &[(Expr, Expr)],
    out: &mut Vec<BeatEntry>,
    depth: u32,
) {
    for (k, v) in pairs {
        if let Expr::DoubleStarred(inner) = k {
            let merged = match program.resolve(f, s, inner) {
                Target::Value {
                    file,
                    scope,
                    line,
                    value: Expr::Dict(more),
                } if depth < 8 => Some((file, scope, line, more)),
                _ => None,
            };
            match merged {
                Some((mf, ms, ml, more)) => {
                    beat_entries(program, tasks, (mf, ms, ml), more, out, depth + 1);
                }
                None => out.push(BeatEntry {
                    name: render_expr(k),
                    task: StrValue::Dynamic {
                        reason: format!(
                            "entries merged from `{}`, which is computed at run time",
                            render_expr(inner)
                        ),
                    },
                    task_found: false,
                    schedule: String::new(),
                    args: None,
                    form: "beat_schedule".into(),
                    file: program.files[f].path.clone(),
                    line: at,
                }),
            }
            continue;
        }
        let name = program
            .eval_str(f, s, k)
            .text()
            .map_or_else(|| render_expr(k), str::to_string);
        let field = |key: &str| -> Option<&Expr> {
            match v {
                Expr::Dict(opts) => opts
                    .iter()
                    .find(|(ok, _)| ok.as_str() == Some(key))
                    .map(|(_, ov)| ov),
                Expr::Call(c) => c.kwarg(key),
                _ => None,
            }
        };
        let task = field("task").map_or_else(
            || StrValue::Dynamic {
                reason: "no `task` key".into(),
            },
            |t| program.eval_str(f, s, t),
        );
        out.push(BeatEntry {
            task_found: task
                .as_known()
                .is_some_and(|n| tasks.iter().any(|t| t.task.name.as_known() == Some(n))),
            name,
            task,
            schedule: field("schedule").map_or_else(String::new, schedule_text),
            args: field("args").map(render_expr),
            form: "beat_schedule".into(),
            file: program.files[f].path.clone(),
            line: at,
        });
    }
}

/// `every 300.0 s` for a number of seconds, else the expression.
pub fn schedule_text(e: &Expr) -> String {
    match e {
        Expr::Num(n) => format!("every {n} s"),
        other => render_expr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn task_route_globs_match_like_fnmatch() {
        assert!(glob_match("proj.mail.*", "proj.mail.tasks.send"));
        assert!(!glob_match("proj.mail.*", "mail.send_raw"));
        assert!(glob_match("tasks.?ing", "tasks.ping"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("exact.name", "exact.name"));
        assert!(!glob_match("exact.name", "exact.names"));
    }
}
