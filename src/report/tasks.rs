//! Background work in the Markdown report, and the task table of
//! `explore tasks`.
//!
//! A newcomer wants to know what runs outside the request: which Celery
//! apps exist and where their broker comes from, which tasks land on which
//! queue, what is scheduled, and, for each task, every place that sends it
//! to a worker.

use std::fmt::Write;

use super::Report;
use super::{cell, code};
use crate::graph::celery::{CeleryMap, Enqueue, Task};
use crate::graph::values::StrValue;

/// A folded string for display: the text, or `<dynamic: reason>`.
pub fn shown(v: &StrValue) -> String {
    match v {
        StrValue::Known { value, .. } | StrValue::Pattern { value } => value.clone(),
        StrValue::Dynamic { reason } => format!("<dynamic: {reason}>"),
    }
}

pub fn write_section(report: &Report, out: &mut String) {
    let c = &report.celery;
    if c.celery_apps.is_empty() && c.tasks.is_empty() && c.enqueues.is_empty() {
        return;
    }
    out.push_str("## Background work\n\n");
    apps(c, out);
    tasks_by_queue(c, out);
    beat(c, out);
    enqueues(c, out);
    signals(c, out);
}

fn apps(c: &CeleryMap, out: &mut String) {
    if c.celery_apps.is_empty() {
        return;
    }
    out.push_str("### Celery apps\n\n| app | defined | broker | result backend | default queue | configured from |\n|---|---|---|---|---|---|\n");
    for a in &c.celery_apps {
        // A source whose contents were not read may set anything.
        let unread = a.config_from.iter().any(|s| s.path.is_none());
        let setting = |s: &Option<crate::graph::celery::Setting>| {
            s.as_ref().map_or_else(
                || {
                    if unread {
                        "not in the configuration read here".to_string()
                    } else {
                        "not set".to_string()
                    }
                },
                |s| {
                    let note = match &s.value {
                        StrValue::Known { note: Some(n), .. } => format!(" ({n})"),
                        _ => String::new(),
                    };
                    format!("{}{note} `{}:{}`", code(&s.value), s.file, s.line)
                },
            )
        };
        let from: Vec<String> = a
            .config_from
            .iter()
            .map(|s| match (&s.path, &s.reason) {
                (Some(p), _) => format!("`{p}`"),
                (None, Some(r)) => format!("{} ({r})", s.target),
                _ => s.target.clone(),
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | `{}:{}` | {} | {} | `{}` | {} |",
            a.object,
            a.file,
            a.line,
            cell(&setting(&a.broker)),
            cell(&setting(&a.result_backend)),
            a.default_queue,
            cell(&from.join(", "))
        );
    }
    out.push('\n');
    for a in &c.celery_apps {
        if !a.task_routes.is_empty() {
            let _ = writeln!(out, "Routes of `{}`, first match wins:\n", a.object);
            for r in &a.task_routes {
                let _ = writeln!(
                    out,
                    "- `{}` -> queue `{}` (`{}:{}`)",
                    r.pattern,
                    r.queue.as_deref().unwrap_or("?"),
                    r.file,
                    r.line
                );
            }
            out.push('\n');
        }
        if !a.includes.is_empty()
            || !a.autodiscover_modules.is_empty()
            || !a.autodiscover_dynamic.is_empty()
        {
            let mut mods: Vec<String> = a.includes.iter().map(|m| format!("`{m}`")).collect();
            mods.extend(
                a.autodiscover_modules
                    .iter()
                    .map(|m| format!("`{m}` (autodiscovered)")),
            );
            mods.extend(
                a.autodiscover_dynamic
                    .iter()
                    .map(|what| format!("{what} (autodiscovered)")),
            );
            let _ = writeln!(
                out,
                "Task modules of `{}`: {}.\n",
                a.object,
                mods.join(", ")
            );
        }
    }
}

fn tasks_by_queue(c: &CeleryMap, out: &mut String) {
    if c.tasks.is_empty() {
        return;
    }
    let mut queues: Vec<&str> = c.tasks.iter().map(|t| t.queue.as_str()).collect();
    queues.sort_unstable();
    queues.dedup();
    let _ = writeln!(
        out,
        "### Tasks by queue\n\n{} on {}.\n",
        super::counted(c.tasks.len(), "task", "tasks"),
        super::counted(queues.len(), "queue", "queues")
    );
    for q in queues {
        let _ = writeln!(
            out,
            "#### queue `{q}`\n\n| task | function | options | enqueued from |\n|---|---|---|---|"
        );
        for t in c.tasks.iter().filter(|t| t.queue == q) {
            let options: Vec<String> = t
                .options
                .iter()
                .filter(|o| o.name != "name")
                .map(|o| format!("{}={}", o.name, o.value))
                .collect();
            let mut from: Vec<String> = t.enqueued_at.clone();
            from.extend(
                c.beat
                    .iter()
                    .filter(|b| {
                        b.task.as_known().is_some() && b.task.as_known() == t.name.as_known()
                    })
                    .map(|b| format!("beat `{}` ({})", b.name, b.schedule)),
            );
            let mut from = if from.is_empty() {
                "never, in this code".to_string()
            } else {
                from.join(", ")
            };
            if !t.direct_calls.is_empty() {
                let _ = write!(
                    from,
                    "; called directly, in the caller's process, at {}",
                    t.direct_calls.join(", ")
                );
            }
            let never = t
                .not_importable
                .as_deref()
                .map(|r| format!(" (not importable: {r})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {}{} | `{}` `{}:{}` | {} | {} |",
                cell(&code(&t.name)),
                cell(&never),
                t.function,
                t.file,
                t.line,
                cell(&options.join(", ")),
                cell(&from)
            );
        }
        out.push('\n');
    }
}

fn beat(c: &CeleryMap, out: &mut String) {
    if c.beat.is_empty() {
        return;
    }
    out.push_str("### Scheduled (beat)\n\n| entry | task | schedule | args | declared |\n|---|---|---|---|---|\n");
    for b in &c.beat {
        let task = if b.task_found {
            code(&b.task)
        } else {
            format!("{} (not defined here)", code(&b.task))
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | `{}:{}` ({}) |",
            cell(&b.name),
            cell(&task),
            cell(&b.schedule),
            b.args
                .as_deref()
                .map(|a| format!("`{}`", cell(a)))
                .unwrap_or_default(),
            b.file,
            b.line,
            b.form
        );
    }
    out.push('\n');
}

fn enqueue_row(e: &Enqueue) -> String {
    let mut notes = Vec::new();
    if let Some(q) = &e.queue {
        notes.push(format!("queue `{q}`"));
    }
    if let Some(cv) = &e.canvas {
        notes.push(format!("in a {cv}"));
    }
    if let Some(v) = &e.via {
        notes.push(format!("through the partial at `{v}`"));
    }
    if let Some(r) = &e.reason {
        notes.push(r.clone());
    }
    notes.extend(e.options.iter().map(|o| format!("`{o}`")));
    format!(
        "| `{}:{}` | `{}` | {} | `.{}` | {} |",
        e.file,
        e.line,
        e.function,
        cell(&code(&e.task)),
        e.method,
        cell(&notes.join("; "))
    )
}

fn enqueues(c: &CeleryMap, out: &mut String) {
    if c.enqueues.is_empty() {
        return;
    }
    out.push_str("### Where work is sent to workers\n\n| where | from | task | how | notes |\n|---|---|---|---|---|\n");
    for e in &c.enqueues {
        out.push_str(&enqueue_row(e));
        out.push('\n');
    }
    out.push('\n');
    // A task that sends work itself is a hidden second hop.
    let chained: Vec<&Task> = c.tasks.iter().filter(|t| !t.enqueues.is_empty()).collect();
    if !chained.is_empty() {
        out.push_str("Tasks that enqueue other tasks:\n\n");
        for t in chained {
            let _ = writeln!(
                out,
                "- `{}` -> {}",
                shown(&t.name),
                t.enqueues
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out.push('\n');
    }
}

fn signals(c: &CeleryMap, out: &mut String) {
    if c.signals.is_empty() {
        return;
    }
    out.push_str("### Signal handlers\n\n| signal | handler | declared |\n|---|---|---|\n");
    for s in &c.signals {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | `{}:{}` |",
            s.signal, s.handler, s.file, s.line
        );
    }
    out.push('\n');
}

/// The plain-text task table of `explore tasks`: each task with its queue
/// and where it is enqueued, then the sends whose task is not defined here.
pub fn task_table(c: &CeleryMap) -> String {
    let mut out = String::new();
    for t in &c.tasks {
        let _ = writeln!(
            out,
            "{}  [queue {}]  {}  {}:{}{}",
            shown(&t.name),
            t.queue,
            t.function,
            t.file,
            t.line,
            t.not_importable
                .as_deref()
                .map(|r| format!("  (not importable: {r})"))
                .unwrap_or_default()
        );
        let sites: Vec<&Enqueue> = c
            .enqueues
            .iter()
            .filter(|e| match &e.task_function {
                Some(f) => *f == t.function,
                None => e.task_found && e.task.as_known() == t.name.as_known(),
            })
            .collect();
        let scheduled: Vec<&crate::graph::celery::BeatEntry> = c
            .beat
            .iter()
            .filter(|b| b.task.as_known().is_some() && b.task.as_known() == t.name.as_known())
            .collect();
        for b in &scheduled {
            let _ = writeln!(
                out,
                "    beat         {}:{}  `{}` {}",
                b.file, b.line, b.name, b.schedule
            );
        }
        if sites.is_empty() && scheduled.is_empty() {
            out.push_str("    not enqueued in this code\n");
        }
        for at in &t.direct_calls {
            let _ = writeln!(
                out,
                "    called directly  {at}  (runs in the caller's process)"
            );
        }
        for e in sites {
            let q = e
                .queue
                .as_deref()
                .map(|q| format!(" queue={q}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    .{:<12} {}:{}  in {}{q}",
                e.method, e.file, e.line, e.function
            );
        }
    }
    let unknown: Vec<&Enqueue> = c.enqueues.iter().filter(|e| !e.task_found).collect();
    if !unknown.is_empty() {
        out.push_str("\nsent to tasks not defined here:\n");
        for e in unknown {
            let _ = writeln!(
                out,
                "    {}  .{} {}:{}  in {}  ({})",
                shown(&e.task),
                e.method,
                e.file,
                e.line,
                e.function,
                e.reason.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{}, {}",
        super::counted(c.tasks.len(), "task", "tasks"),
        super::counted(c.enqueues.len(), "enqueue site", "enqueue sites")
    );
    out
}
