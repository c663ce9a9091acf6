//! Outside services in the Markdown report.
//!
//! What the code talks to beyond its own process: every third-party
//! package grouped by what it is for (with a line on what it is and where
//! to read up on it), where SDK clients are made and who uses them, the
//! analytics events tracked, and the HTTP calls made.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::code;
use super::tasks::shown;
use super::{Report, cell};
use crate::graph::services::{ServicesMap, SetupForm};

/// Rows an events or HTTP table shows before it says how many more.
const MAX_ROWS: usize = 80;

pub fn write_section(report: &Report, out: &mut String) {
    let s = &report.services;
    if report.third_party.is_empty()
        && s.sdk_clients.is_empty()
        && s.events.is_empty()
        && s.http_calls.is_empty()
    {
        return;
    }
    out.push_str("## Outside services\n\n");
    clients(s, out);
    events(s, out);
    http(s, out);
    packages(report, out);
}

fn clients(s: &ServicesMap, out: &mut String) {
    if s.sdk_clients.is_empty() {
        return;
    }
    out.push_str("### Clients of outside services\n\nWhere each is created or configured, and the functions that use it.\n\n");
    out.push_str("| package | category | created | as | used by |\n|---|---|---|---|---|\n");
    for c in &s.sdk_clients {
        let bound = c
            .variable
            .as_deref()
            .map(|v| format!("`{v}`"))
            .unwrap_or_default();
        let users: Vec<String> = c
            .used_by
            .iter()
            .take(6)
            .map(|u| format!("`{}`", u.rsplit(':').next().unwrap_or(u)))
            .collect();
        let more = if c.used_by.len() > 6 {
            format!(" and {} more", c.used_by.len() - 6)
        } else {
            String::new()
        };
        let made = match c.form {
            SetupForm::Call => format!("{}({})", c.constructor, c.arguments),
            SetupForm::Assignment => format!("{} = {}", c.constructor, c.arguments),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` `{}:{}` | {bound} | {}{more} |",
            c.package,
            c.category,
            cell(&made),
            c.file,
            c.line,
            users.join(", ")
        );
    }
    out.push('\n');
}

fn events(s: &ServicesMap, out: &mut String) {
    if s.events.is_empty() {
        return;
    }
    out.push_str("### Analytics events\n\n");
    // One row per event name, with every place that tracks it.
    let mut by_name: BTreeMap<String, Vec<&crate::graph::services::AnalyticsEvent>> =
        BTreeMap::new();
    for e in &s.events {
        by_name.entry(shown(&e.event)).or_default().push(e);
    }
    let _ = writeln!(
        out,
        "{} distinct events tracked at {} places.\n",
        by_name.len(),
        s.events.len()
    );
    out.push_str("| event | SDK | tracked in | properties | through |\n|---|---|---|---|---|\n");
    for sites in by_name.values().take(MAX_ROWS) {
        let packages: Vec<&str> = {
            let mut p: Vec<&str> = sites.iter().map(|e| e.package.as_str()).collect();
            p.dedup();
            p
        };
        let places: Vec<String> = sites
            .iter()
            .map(|e| {
                format!(
                    "`{}` `{}:{}`",
                    e.function.rsplit(':').next().unwrap_or(&e.function),
                    e.file,
                    e.line
                )
            })
            .collect();
        let mut props: Vec<&str> = sites
            .iter()
            .flat_map(|e| e.properties.iter().map(String::as_str))
            .collect();
        props.sort_unstable();
        props.dedup();
        let through = sites
            .iter()
            .find(|e| !e.via.is_empty())
            .and_then(|e| e.via.first())
            .map(|v| format!("`{}`", v.split(" at ").next().unwrap_or(v)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {through} |",
            cell(&code(&sites[0].event)),
            packages.join(", "),
            places.join("<br>"),
            cell(&props.join(", "))
        );
    }
    if by_name.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n…and {} more events (see `services.events` in the JSON report).",
            by_name.len() - MAX_ROWS
        );
    }
    out.push('\n');
}

fn http(s: &ServicesMap, out: &mut String) {
    if s.http_calls.is_empty() {
        return;
    }
    out.push_str("### HTTP calls to other services\n\n");
    let mut hosts: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &s.http_calls {
        *hosts
            .entry(h.host.as_deref().unwrap_or("(host known at run time)"))
            .or_default() += 1;
    }
    let list: Vec<String> = hosts.iter().map(|(h, n)| format!("`{h}` ({n})")).collect();
    let _ = writeln!(out, "Hosts: {}.\n", list.join(", "));
    out.push_str("| method | URL | client | in | through |\n|---|---|---|---|---|\n");
    for h in s.http_calls.iter().take(MAX_ROWS) {
        let through = h
            .via
            .first()
            .map(|v| format!("`{}`", v.split(" at ").next().unwrap_or(v)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` `{}:{}` | {through} |",
            h.method,
            cell(&code(&h.url)),
            h.client,
            h.function.rsplit(':').next().unwrap_or(&h.function),
            h.file,
            h.line
        );
    }
    if s.http_calls.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n…and {} more calls (see `services.http_calls` in the JSON report).",
            s.http_calls.len() - MAX_ROWS
        );
    }
    out.push('\n');
}

fn packages(report: &Report, out: &mut String) {
    if report.third_party.is_empty() {
        return;
    }
    out.push_str("### Third-party packages\n\nGrouped by what they are for. `used by` lists the importing modules.\n\n");
    let mut by_cat: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for p in &report.third_party {
        by_cat.entry(p.category.as_str()).or_default().push(p);
    }
    for (cat, pkgs) in by_cat {
        let _ = writeln!(
            out,
            "#### {cat}\n\n| package | what it is | used by |\n|---|---|---|"
        );
        for p in pkgs {
            let name = match &p.docs {
                Some(d) => format!("[`{}`]({d})", p.package),
                None => format!("`{}`", p.package),
            };
            let users: Vec<String> = p.used_by.iter().take(5).map(|u| format!("`{u}`")).collect();
            let more = if p.used_by.len() > 5 {
                format!(" and {} more", p.used_by.len() - 5)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {}{more} |",
                cell(p.description.as_deref().unwrap_or("")),
                users.join(", ")
            );
        }
        out.push('\n');
    }
}
