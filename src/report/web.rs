//! The web layer in the Markdown report, and the route table of
//! `explore routes`.
//!
//! The report starts here because a newcomer does: the applications and
//! what runs around every request, the routes grouped by the router that
//! declares them, what each route depends on and how it is authenticated,
//! then the websockets, the request and response models and the settings.

use std::fmt::Write;

use super::Report;
use super::cell;
use crate::graph::fastapi::models::ModelRole;
use crate::graph::fastapi::{
    App, DependencyKind, DependencyUse, Route, RouteKind, WebMap, sockets::SocketBehaviour,
};
use crate::graph::values::StrValue;

/// The name after `module:`, for compact tables.
fn short(reference: &str) -> &str {
    reference.rsplit(':').next().unwrap_or(reference)
}

/// `GET, POST`, `WS` or `MOUNT`.
pub fn method_label(r: &Route) -> String {
    match r.kind {
        RouteKind::Websocket => "WS".into(),
        RouteKind::Mount if r.unresolved_include => "INCLUDE".into(),
        RouteKind::Mount => "MOUNT".into(),
        RouteKind::Http => r.methods.join(", "),
    }
}

fn auth_label(r: &Route) -> String {
    if r.auth.is_empty() {
        return if r.injection {
            "none found".into()
        } else {
            "n/a".into()
        };
    }
    // Two instances of the same scheme (an API key in a header or in the
    // query, twice) read the same to a person: name each kind once.
    let mut labels: Vec<String> = Vec::new();
    for a in &r.auth {
        let label = if let Some(status) = a.scheme.strip_prefix("custom check ") {
            // A hand-written check: name the dependency that makes it.
            format!("custom check in {} {status}", short(&a.instance))
        } else if a.scopes.is_empty() {
            a.scheme.clone()
        } else {
            format!("{} ({})", a.scheme, a.scopes.join(" "))
        };
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.join(", ")
}

fn deps_label(uses: &[DependencyUse]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for u in uses {
        let n = short(&u.target);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn write_sections(report: &Report, out: &mut String) {
    let web = &report.web;
    if web.apps.is_empty() && web.routes.is_empty() {
        return;
    }
    apps_section(web, out);
    routes_section(web, out);
    dependencies_section(web, out);
    websockets_section(web, out);
    models_section(web, out);
    settings_section(web, out);
}

fn apps_section(web: &WebMap, out: &mut String) {
    out.push_str("## Applications\n\n");
    for app in &web.apps {
        app_section(app, out);
    }
}

fn app_section(app: &App, out: &mut String) {
    let kind = match app.kind {
        crate::graph::fastapi::AppKind::Fastapi => "FastAPI",
        crate::graph::fastapi::AppKind::Starlette => "Starlette",
    };
    let _ = writeln!(
        out,
        "### `{}` ({kind}, `{}:{}`)\n",
        app.object, app.file, app.line
    );
    if let Some(f) = &app.factory {
        let _ = writeln!(out, "Built by the factory `{f}`.\n");
    }
    if !app.mounted_in.is_empty() {
        let _ = writeln!(out, "Mounted at {}.\n", app.mounted_in.join(", "));
    }
    let _ = writeln!(
        out,
        "{}.\n",
        super::counted(app.route_count, "route", "routes")
    );
    if !app.routers.is_empty() {
        out.push_str("```mermaid\nflowchart LR\n");
        let _ = writeln!(out, "    app[\"{}\"]", short(&app.object).replace('"', "'"));
        for (i, inc) in app.routers.iter().enumerate() {
            let label = if inc.prefix.is_empty() {
                inc.method.clone()
            } else {
                inc.prefix.clone()
            };
            let _ = writeln!(
                out,
                "    app -- \"{}\" --> r{i}[\"{}\"]",
                label.replace('"', "'"),
                inc.target.replace('"', "'")
            );
        }
        out.push_str("```\n\n");
    }
    if let Some(l) = &app.lifespan {
        let _ = writeln!(
            out,
            "**Lifespan** `{}` (`{}:{}`): on startup {}; on shutdown {}.\n",
            l.handler,
            l.file,
            l.line,
            phase(&l.startup, &l.startup_sets),
            phase(&l.shutdown, &l.shutdown_sets)
        );
    }
    if !app.events.is_empty() {
        out.push_str("**Event handlers**\n\n| event | handler | declared |\n|---|---|---|\n");
        for e in &app.events {
            let on = e
                .router
                .as_ref()
                .map(|r| format!(" on router `{r}`"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | `{}` at `{}:{}`{on} |",
                e.event, e.handler, e.form, e.file, e.line
            );
        }
        out.push('\n');
    }
    if !app.middleware.is_empty() {
        out.push_str(
            "**Middleware**, in the order a request passes through (the last added is outermost):\n\n\
             | # | middleware | kind | options | declared |\n|---:|---|---|---|---|\n",
        );
        let mut ms: Vec<_> = app.middleware.iter().collect();
        ms.sort_by_key(|m| m.request_order);
        for m in ms {
            let kind = serde_json::to_value(m.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | {kind} | {} | `{}:{}` ({}) |",
                m.request_order,
                m.target,
                cell(&m.options.join(", ")),
                m.file,
                m.line,
                m.form
            );
        }
        out.push('\n');
    }
    if !app.exception_handlers.is_empty() {
        out.push_str(
            "**Exception handlers**\n\n| exception | handler | declared |\n|---|---|---|\n",
        );
        for h in &app.exception_handlers {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | `{}:{}` |",
                h.exception, h.handler, h.file, h.line
            );
        }
        out.push('\n');
    }
}

/// One side of a lifespan's `yield`: the calls, then what it sets.
fn phase(calls_made: &[String], sets: &[String]) -> String {
    match (calls_made.is_empty(), sets.is_empty()) {
        (_, true) => calls(calls_made),
        (true, false) => format!("sets {}", calls(sets)),
        (false, false) => format!("{}, and sets {}", calls(calls_made), calls(sets)),
    }
}

fn calls(list: &[String]) -> String {
    if list.is_empty() {
        "nothing".into()
    } else {
        list.iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn routes_section(web: &WebMap, out: &mut String) {
    if web.routes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Routes\n\n{}, grouped by the router that declares them. Paths are full: every prefix from the \
         application down is applied. `auth` is what the dependency tree authenticates with.\n",
        super::counted(web.routes.len(), "route", "routes")
    );
    let mut groups: Vec<(&str, Vec<&Route>)> = Vec::new();
    for r in &web.routes {
        match groups.iter_mut().find(|(k, _)| *k == r.router) {
            Some((_, v)) => v.push(r),
            None => groups.push((&r.router, vec![r])),
        }
    }
    for (router, routes) in groups {
        let file = routes.first().map_or("", |r| r.file.as_str());
        let _ = writeln!(
            out,
            "### `{router}` (`{file}`)\n\n| method | path | handler | auth | dependencies |\n|---|---|---|---|---|"
        );
        for r in routes {
            let mut notes = Vec::new();
            if r.conditional {
                notes.push("conditional".to_string());
            }
            if !r.dynamic.is_empty() {
                notes.push(format!("dynamic: {}", r.dynamic.join("; ")));
            }
            if let Some(m) = &r.mounts {
                notes.push(m.clone());
            }
            let note = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            let handler = match (&r.handler, &r.handler_at) {
                (Some(h), Some(at)) => format!("`{}` `{at}`", short(h)),
                (Some(h), None) => format!("`{h}`"),
                _ => format!("`{}:{}`", r.file, r.line),
            };
            let _ = writeln!(
                out,
                "| {} | `{}`{} | {handler} | {} | {} |",
                method_label(r),
                cell(&r.path),
                cell(&note),
                cell(&auth_label(r)),
                deps_label(&r.dependencies)
            );
        }
        out.push('\n');
    }
}

fn dependencies_section(web: &WebMap, out: &mut String) {
    if web.dependencies.is_empty() {
        return;
    }
    out.push_str(
        "## Dependencies\n\nEvery `Depends(...)`/`Security(...)` target reached from a route, with what it needs and \
         the routes that use it. A generator runs its setup before the endpoint and its teardown after the response.\n\n\
         | dependency | kind | provides | depends on | used by |\n|---|---|---|---|---|\n",
    );
    let mut deps: Vec<_> = web.dependencies.iter().collect();
    deps.sort_by(|a, b| {
        b.used_by
            .len()
            .cmp(&a.used_by.len())
            .then(a.target.cmp(&b.target))
    });
    for d in deps {
        let kind = match d.kind {
            DependencyKind::Generator => format!(
                "generator (setup {}; teardown {})",
                calls(&d.setup),
                calls(&d.teardown)
            ),
            DependencyKind::SecurityScheme => {
                format!("security: {}", d.scheme.as_deref().unwrap_or("?"))
            }
            DependencyKind::Unresolved => {
                format!("unresolved: {}", d.reason.as_deref().unwrap_or(""))
            }
            k => serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default(),
        };
        let at = match (&d.file, d.line) {
            (Some(f), Some(l)) => format!(" `{f}:{l}`"),
            _ => String::new(),
        };
        let used = if d.used_by.len() > 6 {
            format!(
                "{} routes: {}, ...",
                d.used_by.len(),
                d.used_by[..5]
                    .iter()
                    .map(|u| format!("`{u}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            d.used_by
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}`{at} | {} | {} | {} | {} |",
            d.target,
            cell(&kind),
            d.provides
                .as_deref()
                .map(|p| format!("`{}`", cell(p)))
                .unwrap_or_default(),
            deps_label(&d.depends_on),
            cell(&used)
        );
    }
    out.push('\n');
}

fn websockets_section(web: &WebMap, out: &mut String) {
    let sockets: Vec<&Route> = web
        .routes
        .iter()
        .filter(|r| r.kind == RouteKind::Websocket)
        .collect();
    if sockets.is_empty() && web.connection_managers.is_empty() {
        return;
    }
    out.push_str("## Websockets\n\n");
    for r in sockets {
        let _ = writeln!(
            out,
            "### `{}` -> `{}`\n",
            r.path,
            r.handler.as_deref().unwrap_or("?")
        );
        if let Some(ws) = &r.websocket {
            socket_lines(r, ws, out);
        }
        out.push('\n');
    }
    if !web.connection_managers.is_empty() {
        out.push_str("Connection managers: ");
        let names: Vec<String> = web
            .connection_managers
            .iter()
            .map(|m| format!("`{}` (`{}:{}`)", m.class, m.file, m.line))
            .collect();
        out.push_str(&names.join(", "));
        out.push_str("\n\n");
    }
}

/// The behaviour of one websocket handler, as sentences a person reads:
/// the conversation, then what it dispatches on, then how it polls.
fn socket_lines(r: &Route, ws: &SocketBehaviour, out: &mut String) {
    let file = &r.file;
    let lines = |v: &[u32]| {
        v.iter()
            .map(|l| format!("`{file}:{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let where_ = |line: u32, loop_line: Option<u32>, in_function: &Option<String>| {
        let mut s = format!("`{file}:{line}`");
        if let Some(l) = loop_line {
            let _ = write!(s, ", in the loop at line {l}");
        }
        if let Some(f) = in_function {
            let _ = write!(s, ", in `{}`", short(f));
        }
        s
    };
    if let Some(p) = &ws.param {
        let _ = writeln!(out, "- The socket is the parameter `{p}`.");
    }
    if !ws.accept.is_empty() {
        let _ = writeln!(out, "- Accepts the connection at {}.", lines(&ws.accept));
    }
    for rc in &ws.receives {
        let _ = writeln!(
            out,
            "- Receives with `{}()` at {}.",
            rc.method,
            where_(rc.line, rc.loop_line, &rc.in_function)
        );
    }
    for sd in &ws.sends {
        let what = match (&sd.model, &sd.payload) {
            (Some(m), _) => format!(" a `{}`", short(m)),
            (None, Some(p)) => format!(" `{}`", cell(p)),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "- Sends{what} with `{}()` at {}.",
            sd.method,
            where_(sd.line, sd.loop_line, &sd.in_function)
        );
    }
    if !ws.actions.is_empty() {
        let values: Vec<String> = ws
            .actions
            .iter()
            .map(|a| {
                let v = match (&a.value, &a.enum_class, &a.member) {
                    (Some(v), Some(e), Some(m)) => format!("`{v}` (`{}.{m}`)", short(e)),
                    (Some(v), _, _) => format!("`{v}`"),
                    (None, Some(e), Some(m)) => format!("`{}.{m}`", short(e)),
                    _ => "?".to_string(),
                };
                format!("{v} (line {})", a.line)
            })
            .collect();
        let on = ws
            .actions
            .first()
            .and_then(|a| a.field.as_deref())
            .map_or_else(|| "the message".to_string(), |f| format!("the field `{f}`"));
        let _ = writeln!(out, "- Dispatches on {on}: {}.", values.join(", "));
    }
    for p in &ws.polls {
        let every = match (&p.interval, &p.interval_expr) {
            (Some(v), expr) => {
                let text = match v {
                    StrValue::Known { value, note } => match note {
                        Some(n) => format!("{value} s ({n})"),
                        None => format!("{value} s"),
                    },
                    StrValue::Pattern { value } => format!("`{value}`"),
                    StrValue::Dynamic { .. } => {
                        format!("`{}`", expr.as_deref().unwrap_or("?"))
                    }
                };
                format!(" every {text}")
            }
            (None, Some(e)) => format!(" every `{e}`"),
            (None, None) => String::new(),
        };
        let kind = if p.forever { "forever" } else { "in a loop" };
        let _ = writeln!(
            out,
            "- Polls {kind}{every}: the loop at `{file}:{}` sleeps at line {}.",
            p.loop_line, p.line
        );
    }
    for h in &ws.helpers {
        let target = h
            .target
            .as_deref()
            .map(|t| format!(" (`{t}`)"))
            .unwrap_or_default();
        let does: Vec<String> = h
            .uses
            .iter()
            .map(|u| {
                let what = match u.method.as_str() {
                    "accept" => "accepts it".to_string(),
                    "close" => "closes it".to_string(),
                    m if m.starts_with("send") => format!("sends with `{m}()`"),
                    m => format!("receives with `{m}()`"),
                };
                let mut at = format!("{what} at `{}:{}`", u.file, u.line);
                if let Some(l) = u.loop_line {
                    let _ = write!(at, " in the loop at line {l}");
                }
                if h.target.as_deref() != Some(u.function.as_str()) {
                    let _ = write!(at, " (in `{}`)", short(&u.function));
                }
                at
            })
            .collect();
        let does = if does.is_empty() {
            String::new()
        } else {
            format!(", which {}", does.join(", "))
        };
        let _ = writeln!(
            out,
            "- Hands the socket to `{}`{target} at line {}{does}.",
            h.call, h.line
        );
    }
    if !ws.close.is_empty() {
        let _ = writeln!(out, "- Closes it at {}.", lines(&ws.close));
    }
}

fn models_section(web: &WebMap, out: &mut String) {
    if web.models.is_empty() {
        return;
    }
    out.push_str("## Models (DTOs)\n\n| model | defined | fields | used |\n|---|---|---|---|\n");
    for m in &web.models {
        let fields = m
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let used = m
            .used
            .iter()
            .map(|u| {
                let role = match u.role {
                    ModelRole::Body => "body of",
                    ModelRole::Response => "response of",
                    ModelRole::WebsocketMessage => "sent on",
                };
                format!("{role} `{}`", u.route)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| `{}` | `{}:{}` | {} | {} |",
            m.class,
            m.file,
            m.line,
            cell(&fields),
            cell(&used)
        );
    }
    out.push('\n');
}

fn settings_section(web: &WebMap, out: &mut String) {
    if web.settings.is_empty() {
        return;
    }
    out.push_str("## Settings\n\n");
    for s in &web.settings {
        let _ = writeln!(out, "### `{}` (`{}:{}`)\n", s.class, s.file, s.line);
        out.push_str("| field | type | default | environment variable |\n|---|---|---|---|\n");
        for f in &s.fields {
            let default = f
                .field
                .default
                .clone()
                .or_else(|| f.field.default_factory.as_ref().map(|d| format!("{d}()")))
                .unwrap_or_else(|| "(required)".into());
            let mut env: Vec<String> = f.env.iter().map(|e| format!("`{e}`")).collect();
            if let Some(d) = &f.env_dynamic {
                env.push(format!("({d})"));
            }
            if let Some(n) = &f.env_note {
                env.push(format!("({n})"));
            }
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                f.field.name,
                cell(&f.field.annotation),
                cell(&default),
                cell(&env.join(" or "))
            );
        }
        out.push('\n');
    }
}

/// The plain-text route table of `explore routes`, for a terminal.
pub fn route_table(routes: &[&Route]) -> String {
    let rows: Vec<[String; 5]> = routes
        .iter()
        .map(|r| {
            let mut path = r.path.clone();
            if r.conditional {
                path.push_str(" (conditional)");
            }
            if r.app.is_none() {
                path.push_str(" (no app)");
            }
            [
                method_label(r),
                path,
                r.handler
                    .clone()
                    .or_else(|| r.mounts.clone())
                    .unwrap_or_default(),
                auth_label(r),
                format!("{}:{}", r.file, r.line),
            ]
        })
        .collect();
    let header = ["METHOD", "PATH", "HANDLER", "AUTH", "DECLARED"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 5], out: &mut String| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header, &mut out);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]], &mut out);
    }
    let _ = writeln!(out, "\n{}", super::counted(rows.len(), "route", "routes"));
    let unattached = routes.iter().filter(|r| r.app.is_none()).count();
    if unattached > 0 {
        let _ = writeln!(
            out,
            "{unattached} marked (no app): declared on routers that no application includes"
        );
    }
    if routes.iter().any(|r| r.path.contains("{?}")) {
        out.push_str("{?} marks a part of a path known only at run time\n");
    }
    out
}
