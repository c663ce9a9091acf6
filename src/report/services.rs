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
use crate::graph::services::{SdkClient, ServicesMap, SetupForm};

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
    out.push_str("### Clients of outside services\n\nWhere each is created or configured, and the functions that use it. A client made in many places (`async with httpx.AsyncClient() as client` in each function) is one row, with the first places.\n\n");
    out.push_str(
        "| package | category | made by | where | as | used by |\n|---|---|---|---|---|---|\n",
    );
    // One row per way of making a client.
    let mut rows: BTreeMap<(&str, &str, SetupForm), Vec<&SdkClient>> = BTreeMap::new();
    for c in &s.sdk_clients {
        rows.entry((c.package.as_str(), c.constructor.as_str(), c.form))
            .or_default()
            .push(c);
    }
    for ((package, constructor, form), list) in rows {
        let first = list[0];
        let made = match (form, list.len()) {
            (SetupForm::Call, 1) => format!(
                "`{}`",
                cell(&clip(&format!("{constructor}({})", first.arguments)))
            ),
            (SetupForm::Call, _) => format!("`{constructor}(...)`"),
            (SetupForm::Assignment, _) => {
                format!(
                    "`{}`",
                    cell(&clip(&format!("{constructor} = {}", first.arguments)))
                )
            }
        };
        let mut places: Vec<String> = list
            .iter()
            .take(3)
            .map(|c| format!("`{}:{}`", c.file, c.line))
            .collect();
        if list.len() > 3 {
            places.push(format!("{} more", list.len() - 3));
        }
        let mut vars: Vec<&str> = list.iter().filter_map(|c| c.variable.as_deref()).collect();
        vars.sort_unstable();
        vars.dedup();
        let mut users: Vec<&str> = list
            .iter()
            .flat_map(|c| c.used_by.iter())
            .map(|u| u.rsplit(':').next().unwrap_or(u))
            .collect();
        users.sort_unstable();
        users.dedup();
        let more = users.len().saturating_sub(6);
        let mut shown: Vec<String> = users.iter().take(6).map(|u| format!("`{u}`")).collect();
        if more > 0 {
            shown.push(format!("{more} more"));
        }
        let _ = writeln!(
            out,
            "| `{package}` | {} | {made} | {} | {} | {} |",
            first.category,
            places.join(", "),
            vars.iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            shown.join(", ")
        );
    }
    out.push('\n');
}

/// Long argument lists shortened for a table cell.
fn clip(s: &str) -> String {
    const MAX: usize = 100;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX).collect();
    format!("{cut}…")
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
        "{} tracked at {}.\n",
        super::counted(by_name.len(), "distinct event", "distinct events"),
        super::counted(s.events.len(), "place", "places")
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
