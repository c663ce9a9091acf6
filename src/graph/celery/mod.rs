//! Celery, read without importing it: applications and their
//! configuration, tasks with the names Celery registers them under and
//! the queues they land on, every place that sends work to a worker, beat
//! schedules and signal handlers.
//!
//! [`apps`] finds the `Celery(...)` objects and reads their configuration
//! from the constructor, `conf.update(...)`, `conf.x = ...` and
//! `config_from_object` modules; [`tasks`] finds the tasks and computes
//! their names and queues; [`enqueue`] finds `.delay`, `.apply_async`,
//! signatures, canvases and `send_task`, and links each to its task.

mod apps;
mod enqueue;
mod tasks;

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::Program;
use crate::graph::values::StrValue;

/// Everything known about the background work of a program.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct CeleryMap {
    pub celery_apps: Vec<CeleryApp>,
    pub tasks: Vec<Task>,
    /// Every call that sends work to a worker.
    pub enqueues: Vec<Enqueue>,
    pub beat: Vec<BeatEntry>,
    pub signals: Vec<SignalHandler>,
}

/// A `Celery(...)` instance.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CeleryApp {
    /// `module:name`.
    pub object: String,
    pub file: String,
    pub line: u32,
    /// The first argument: the prefix of task names in a module run as
    /// `__main__`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<Setting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_backend: Option<Setting>,
    /// `config_from_object(...)` targets: the module file when first-party.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_from: Vec<ConfigSource>,
    /// Every configuration key set, in the order seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigKey>,
    /// `include=[...]` modules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
    /// Packages named in `autodiscover_tasks([...])`, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub autodiscover: Vec<String>,
    /// The modules those calls have Celery import: each package's `tasks`
    /// submodule, or the one `related_name=` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub autodiscover_modules: Vec<String>,
    /// `autodiscover_tasks` calls whose packages are not a literal list:
    /// which modules they import instead (of Django's installed apps when
    /// no packages are given, or of the packages an expression gives at
    /// run time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub autodiscover_dynamic: Vec<String>,
    /// `task_routes` entries, in matching order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_routes: Vec<TaskRoute>,
    /// `task_default_queue`, or Celery's default `celery`; `{?}` for parts
    /// known only at run time.
    pub default_queue: String,
    /// Where the default queue comes from, when it is set but not known
    /// outright: the reason it is dynamic, or the assumption it rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_queue_note: Option<String>,
}

impl CeleryApp {
    /// An app as it is before any configuration is read: Celery's defaults.
    pub(crate) fn unconfigured(
        object: String,
        file: String,
        line: u32,
        main: Option<String>,
    ) -> Self {
        CeleryApp {
            object,
            file,
            line,
            main,
            broker: None,
            result_backend: None,
            config_from: Vec::new(),
            config: Vec::new(),
            includes: Vec::new(),
            autodiscover: Vec::new(),
            autodiscover_modules: Vec::new(),
            autodiscover_dynamic: Vec::new(),
            task_routes: Vec::new(),
            default_queue: "celery".into(),
            default_queue_note: None,
        }
    }
}

/// A configuration value: its text or where it comes from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Setting {
    pub value: StrValue,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConfigSource {
    /// As written: `"proj.celeryconfig"`, `"django.conf:settings"`.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The first-party file it names, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConfigKey {
    /// Celery's lower-case setting name (`broker_url`, `task_routes`).
    pub key: String,
    /// The value as written.
    pub value: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskRoute {
    /// A task name or glob (`proj.mail.*`), or a description of a router
    /// that cannot be read statically.
    pub pattern: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub file: String,
    pub line: u32,
}

/// A task, under the name Celery registers it with.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Task {
    pub name: StrValue,
    /// The function (or class) as `module:qualname`.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// `app.task`, `shared_task` or `register_task`.
    pub form: String,
    /// The project's own decorator that makes it a task, when it is not
    /// `app.task` or `shared_task` itself (`module:qualname`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The app it is declared on; absent for `shared_task`, which every
    /// app gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub queue: String,
    /// Why the queue is what it is: `queue=`, a `task_routes` entry, or
    /// the default.
    pub queue_from: String,
    /// Options given to the decorator, or inherited from `base=` and the
    /// class body, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<TaskOption>,
    /// Another name the same task has in another way of running it (a
    /// module run as a script gets the app's main name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative_name: Option<String>,
    /// Enqueue sites that target it (`file:line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enqueued_at: Vec<String>,
    /// Tasks it enqueues itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enqueues: Vec<String>,
    /// Places that call the task function directly, in the same process.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub direct_calls: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
    /// Why no import statement can reach its module, when none can (a
    /// folder like `docs-snippets` or `.lint` is not a Python package):
    /// then only code that loads the file by path registers the task, and
    /// the reason says whether the analysed code does that anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_importable: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskOption {
    pub name: String,
    pub value: String,
    /// Set when the option comes from the task's base class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
}

/// One call that sends work to a worker.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Enqueue {
    /// The registered name of the target task; dynamic when built at run
    /// time.
    pub task: StrValue,
    /// Whether a task of that name is defined in the analysed code.
    pub task_found: bool,
    /// The target task's function as `module:qualname`, when the call
    /// leads to one task: two tasks of separate apps may share a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_function: Option<String>,
    /// `delay`, `apply_async`, `s`, `si`, `signature`, `send_task`, ...
    pub method: String,
    /// The enclosing function as `module:qualname`; `module:<module>` at
    /// module level.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// `queue=` given at the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Other options given at the call (`countdown=10`, `eta=...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `chain`, `group`, `chord` (or `chain` for the `|` operator) when the
    /// signature is part of a canvas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canvas: Option<String>,
    /// What the call goes through: a `functools.partial` (`file:line`),
    /// or the helper a task is handed to (`module:qualname at
    /// file:line` of the helper's own `.delay`), in which case `file`,
    /// `line` and `function` are where the task is handed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The enclosing function is itself a task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BeatEntry {
    /// The schedule entry's name.
    pub name: String,
    pub task: StrValue,
    pub task_found: bool,
    /// `crontab(minute=0, hour="*/6")`, `every 300.0 s`, `timedelta(hours=1)`.
    pub schedule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// `beat_schedule` or `add_periodic_task`.
    pub form: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SignalHandler {
    /// `task_failure`, `worker_process_init`, `on_after_configure`, ...
    pub signal: String,
    pub handler: String,
    pub file: String,
    pub line: u32,
}

/// Maps the Celery side of `program`.
pub fn analyze(program: &Program) -> CeleryMap {
    let apps = apps::find(program);
    let mut tasks = tasks::find(program, &apps);
    let (enqueues, periodic, signals) = enqueue::find(program, &apps, &mut tasks);
    let mut beat = apps::beat(program, &apps, &tasks);
    beat.extend(periodic);
    CeleryMap {
        celery_apps: apps.iter().map(|a| a.entry.clone()).collect(),
        tasks: tasks.into_iter().map(|t| t.task).collect(),
        enqueues,
        beat,
        signals,
    }
}
