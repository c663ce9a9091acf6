//! What each route and task does, in the Markdown report.
//!
//! The tour a newcomer takes by hand: from a route into the service
//! layer, to the tasks it sends to workers, the Redis keys it writes and
//! reads, the events it tracks and the services it calls; then the same
//! for each task. Only routes and tasks that reach at least one of those
//! are listed.

use std::fmt::Write;

use super::{Report, cell};
use crate::graph::flows::{EntryKind, Flow};
use crate::graph::redis::Access;

/// Functions listed in the "runs" cell before it says how many more.
const MAX_CALLS: usize = 6;

pub fn write_section(report: &Report, out: &mut String) {
    let flows = &report.flows.flows;
    let busy = |f: &&Flow| {
        !(f.enqueues.is_empty() && f.redis.is_empty() && f.events.is_empty() && f.http.is_empty())
    };
    let routes: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.kind != EntryKind::Task)
        .filter(busy)
        .collect();
    let tasks: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.kind == EntryKind::Task)
        .filter(busy)
        .collect();
    if routes.is_empty() && tasks.is_empty() {
        return;
    }
    out.push_str("## What each route and task does\n\n");
    out.push_str(
        "Followed from the endpoint (and its dependencies) or the task function through every \
         first-party call that resolves statically. `runs` lists the functions reached, \
         nearest first; `{}` in a key or event marks a part known only at run time.\n\n",
    );
    let quiet = flows.len() - routes.len() - tasks.len();
    if quiet > 0 {
        let _ = writeln!(
            out,
            "{quiet} more routes and tasks reach no task, Redis key, event or outside call \
             through calls that resolve statically, and are not listed (`flows` in the JSON \
             report has each).\n"
        );
    }
    if !routes.is_empty() {
        out.push_str("### Routes and application lifecycle\n\n");
        table(&routes, out);
    }
    if !tasks.is_empty() {
        out.push_str("### Tasks\n\n");
        table(&tasks, out);
    }
}

/// A key or event text for a table: `{}` alone says nothing, so it reads
/// as words.
fn text(t: &str) -> String {
    if t == "{}" {
        "(built at run time)".to_string()
    } else {
        format!("`{}`", cell(t))
    }
}

fn table(flows: &[&Flow], out: &mut String) {
    out.push_str("| entry | runs | enqueues | Redis writes | Redis reads | events | HTTP |\n|---|---|---|---|---|---|---|\n");
    for f in flows {
        // Short names, unless two functions reached share one.
        let short = |c: &str| c.rsplit(':').next().unwrap_or(c).to_string();
        let mut calls: Vec<String> = Vec::new();
        for c in &f.calls {
            let clash = f
                .calls
                .iter()
                .any(|o| o.function != c.function && short(&o.function) == short(&c.function));
            let name = if clash {
                format!("`{}`", c.function)
            } else {
                format!("`{}`", short(&c.function))
            };
            // A function handed to a runner says which one.
            let name = match &c.passed_to {
                Some(p) => format!("{name} (through `{}`)", p.rsplit('.').next().unwrap_or(p)),
                None => name,
            };
            if !calls.contains(&name) {
                calls.push(name);
            }
        }
        let more = calls.len().saturating_sub(MAX_CALLS);
        let mut runs: Vec<String> = calls.iter().take(MAX_CALLS).cloned().collect();
        if more > 0 {
            runs.push(format!("{more} more"));
        }
        let mut sends: Vec<String> = f
            .enqueues
            .iter()
            .map(|e| {
                let queue = e
                    .queue
                    .as_deref()
                    .map(|q| format!(" → `{q}`"))
                    .unwrap_or_default();
                format!("`{}` (.{}{queue})", e.task, e.method)
            })
            .collect();
        sends.dedup();
        let keys = |pred: &dyn Fn(Access) -> bool| -> String {
            let mut v: Vec<String> = f
                .redis
                .iter()
                .filter(|r| pred(r.access))
                .flat_map(|r| {
                    r.keys
                        .iter()
                        .map(move |k| format!("{} ({})", text(k), r.command))
                })
                .collect();
            v.sort();
            v.dedup();
            v.join("<br>")
        };
        let writes = keys(&|a| matches!(a, Access::Write | Access::Publish));
        let reads = keys(&|a| matches!(a, Access::Read | Access::Consume | Access::Subscribe));
        let mut events: Vec<String> = f.events.iter().map(|e| text(&e.event)).collect();
        events.sort();
        events.dedup();
        let mut http: Vec<String> = f
            .http
            .iter()
            .map(|h| format!("{} {}", h.method, text(&h.url)))
            .collect();
        http.dedup();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {writes} | {reads} | {} | {} |",
            cell(&f.entry),
            runs.join(", "),
            sends.join("<br>"),
            events.join(", "),
            http.join("<br>")
        );
    }
    out.push('\n');
}
