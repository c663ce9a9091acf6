//! Shared state in the Markdown report: Redis.
//!
//! Processes that never call each other meet in Redis: a worker writes a
//! key, a websocket polls it. This section shows those meeting points as
//! a picture first (who writes, which key, who reads), then every key and
//! channel with its writers and readers, then where the clients come from.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Report, cell, code};
use crate::graph::flows::Coupling;
use crate::graph::redis::{Access, ClientKind, KeyKind, KeyUse, RedisKey, RedisMap};

/// Keys shown in the table before it says how many more there are.
const MAX_KEYS: usize = 60;

pub fn write_section(report: &Report, out: &mut String) {
    let r = &report.redis;
    if r.clients.is_empty() && r.operations.is_empty() {
        return;
    }
    out.push_str("## Shared state (Redis)\n\n");
    let commands = r
        .operations
        .iter()
        .filter(|op| op.access != Access::Other)
        .count();
    let _ = writeln!(
        out,
        "{} on {}. Keys are patterns: `{{}}` marks a \
         part known only at run time, so `f\"job:{{job_id}}\"` reads `job:{{}}`.\n",
        super::counted(commands, "Redis command", "Redis commands"),
        super::counted(r.keys.len(), "key or channel", "keys and channels")
    );
    couplings(&report.flows.couplings, out);
    keys(r, &queues(report), out);
    clients(r, out);
}

/// The keys that tie a route to a task, as a picture and a list.
fn couplings(list: &[Coupling], out: &mut String) {
    let crossing: Vec<&Coupling> = list.iter().filter(|c| c.crosses_processes).collect();
    if crossing.is_empty() {
        return;
    }
    out.push_str("### Keys that tie the web process to the workers\n\n");
    out.push_str(
        "Written on one side and read on the other; nothing else connects these routes and \
         tasks, since neither calls the other.\n\n",
    );
    out.push_str("```mermaid\nflowchart LR\n");
    let mut next = 0;
    let mut id = |name: &str, out: &mut String, ids: &mut BTreeMap<String, String>| -> String {
        if let Some(i) = ids.get(name) {
            return i.clone();
        }
        let i = format!("e{next}");
        next += 1;
        let _ = writeln!(out, "    {i}[\"{}\"]", mermaid_text(name));
        ids.insert(name.to_string(), i.clone());
        i
    };
    let mut entry_ids: BTreeMap<String, String> = BTreeMap::new();
    for (k, c) in crossing.iter().enumerate() {
        let key_id = format!("k{k}");
        let shape = if c.kind == "channel" {
            format!("{key_id}>\"{} (channel)\"]", mermaid_text(&c.key))
        } else {
            format!("{key_id}[(\"{}\")]", mermaid_text(&c.key))
        };
        let _ = writeln!(out, "    {shape}");
        for w in &c.written_by {
            let e = id(w, out, &mut entry_ids);
            let _ = writeln!(out, "    {e} -- writes --> {key_id}");
        }
        for r in &c.read_by {
            let e = id(r, out, &mut entry_ids);
            let _ = writeln!(out, "    {key_id} -- read by --> {e}");
        }
    }
    out.push_str("```\n\n");
    for c in crossing {
        let _ = writeln!(
            out,
            "- `{}` ({}): written by {}; read by {}",
            c.key,
            c.kind,
            entry_list(&c.written_by),
            entry_list(&c.read_by)
        );
    }
    out.push('\n');
}

fn entry_list(entries: &[String]) -> String {
    if entries.is_empty() {
        return "nothing reached from a route or task".into();
    }
    entries
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Celery queue names: the Redis broker keeps each queue in a list of
/// that name, so code that measures a queue reads such a key.
fn queues(report: &Report) -> Vec<&str> {
    let c = &report.celery;
    let mut q: Vec<&str> = c
        .tasks
        .iter()
        .map(|t| t.queue.as_str())
        .chain(c.celery_apps.iter().map(|a| a.default_queue.as_str()))
        .chain(
            c.celery_apps
                .iter()
                .flat_map(|a| a.task_routes.iter().filter_map(|r| r.queue.as_deref())),
        )
        .filter(|q| !q.contains('{'))
        .collect();
    q.sort_unstable();
    q.dedup();
    q
}

fn keys(r: &RedisMap, queues: &[&str], out: &mut String) {
    if r.keys.is_empty() {
        return;
    }
    out.push_str("### Keys and channels\n\n");
    out.push_str("| key | kind | written by | read by | notes |\n|---|---|---|---|---|\n");
    for k in r.keys.iter().take(MAX_KEYS) {
        let kind = match k.kind {
            KeyKind::Key => "key",
            KeyKind::Channel => "channel",
        };
        let writers: Vec<&KeyUse> = k.writers.iter().chain(&k.publishers).collect();
        let readers: Vec<&KeyUse> = k.readers.iter().chain(&k.subscribers).collect();
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} | {} | {} |",
            cell(&k.key),
            uses(&writers),
            uses(&readers),
            cell(&key_notes(k, &r.keys, queues))
        );
    }
    if r.keys.len() > MAX_KEYS {
        let _ = writeln!(
            out,
            "\n…and {} more keys (see `redis.keys` in the JSON report).",
            r.keys.len() - MAX_KEYS
        );
    }
    let dynamic = r
        .operations
        .iter()
        .filter(|op| op.keys.iter().any(|k| k.key.text().is_none()))
        .count();
    if dynamic > 0 {
        let _ = writeln!(
            out,
            "\n{dynamic} commands use a key that cannot be read statically (a parameter, or a \
             value computed at run time); `redis.operations` in the JSON report lists each with \
             the reason."
        );
    }
    out.push('\n');
}

fn key_notes(k: &RedisKey, all: &[RedisKey], queues: &[&str]) -> String {
    let mut notes = Vec::new();
    if k.glob {
        if k.matches.is_empty() {
            notes.push("a glob; matches no key written here".to_string());
        } else {
            let m: Vec<String> = k.matches.iter().map(|m| format!("`{m}`")).collect();
            notes.push(format!("a glob matching {}", m.join(", ")));
        }
    }
    let queue = queues.contains(&k.key.as_str());
    if queue {
        notes.push(
            "a Celery queue: the broker pushes each task sent to it onto this list, and \
             workers take them off"
                .into(),
        );
    }
    // Globs that match this key count as its readers and writers too.
    let through = |f: fn(&RedisKey) -> bool| -> Vec<&str> {
        all.iter()
            .filter(|g| g.glob && g.kind == k.kind && g.matches.contains(&k.key) && f(g))
            .map(|g| g.key.as_str())
            .collect()
    };
    if !k.glob && !queue && k.writers.is_empty() && k.publishers.is_empty() {
        let globs = through(|g| !g.writers.is_empty() || !g.publishers.is_empty());
        if globs.is_empty() {
            notes.push("never written here".into());
        } else {
            notes.push(format!("written through the glob `{}`", globs.join("`, `")));
        }
    }
    if !k.glob && k.readers.is_empty() && k.subscribers.is_empty() {
        let globs = through(|g| !g.readers.is_empty() || !g.subscribers.is_empty());
        if globs.is_empty() {
            notes.push("never read here".into());
        } else {
            notes.push(format!("read through the glob `{}`", globs.join("`, `")));
        }
    }
    notes.join("; ")
}

/// `fn` (`file:line` `command`), one per function.
fn uses(list: &[&KeyUse]) -> String {
    let mut by_fn: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for u in list {
        let f = u.function.as_deref().unwrap_or("<module>");
        by_fn
            .entry(f)
            .or_default()
            .push(format!("{}:{} {}", u.file, u.line, u.command));
    }
    by_fn
        .iter()
        .map(|(f, sites)| {
            let name = f.rsplit(':').next().unwrap_or(f);
            format!("`{name}` ({})", sites.join(", "))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn clients(r: &RedisMap, out: &mut String) {
    if r.clients.is_empty() {
        return;
    }
    out.push_str(
        "### Clients\n\n| where | kind | made by | server | bound to |\n|---|---|---|---|---|\n",
    );
    for c in &r.clients {
        let kind = match (c.kind, c.is_async) {
            (ClientKind::Client, true) => "client (asyncio)",
            (ClientKind::Client, false) => "client",
            (ClientKind::Cluster, _) => "cluster",
            (ClientKind::Pool, _) => "connection pool",
            (ClientKind::Sentinel, _) => "sentinel",
        };
        let mut server = Vec::new();
        if let Some(u) = &c.url {
            server.push(format!("url {}", value(u)));
        }
        if let Some(h) = &c.host {
            server.push(format!("host {}", value(h)));
        }
        if let Some(p) = &c.port {
            server.push(format!("port {}", value(p)));
        }
        if let Some(d) = &c.db {
            server.push(format!("db {}", value(d)));
        }
        if let Some(p) = &c.pool {
            server.push(format!("pool at `{p}`"));
        }
        if let Some(a) = &c.cache_alias {
            server.push(format!("Django cache {} of `CACHES`", value(a)));
        }
        let bound = match (&c.variable, &c.function) {
            (Some(v), Some(f)) => format!("`{v}` in `{}`", f.rsplit(':').next().unwrap_or(f)),
            (Some(v), None) => format!("`{v}`"),
            (None, Some(f)) => format!("in `{}`", f.rsplit(':').next().unwrap_or(f)),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "| `{}:{}` | {kind} | `{}` | {} | {bound} |",
            c.file,
            c.line,
            c.constructor,
            cell(&server.join(", "))
        );
    }
    out.push('\n');
    if !r.providers.is_empty() {
        out.push_str("Functions that hand out a client (dependencies and helpers):\n\n");
        for p in &r.providers {
            let from = p
                .client
                .as_deref()
                .map(|c| format!(", the one made at `{c}`"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}` (`{}:{}`){from}{}",
                p.function,
                p.file,
                p.line,
                if p.async_client { " (asyncio)" } else { "" }
            );
        }
        out.push('\n');
    }
}

fn value(v: &crate::graph::values::StrValue) -> String {
    match v {
        crate::graph::values::StrValue::Known {
            note: Some(note), ..
        } => format!("{} ({note})", code(v)),
        _ => code(v),
    }
}
