//! Mermaid diagrams, which GitHub and GitLab render inline in Markdown.
//!
//! A graph of hundreds of modules is unreadable, so the module graph is
//! collapsed to packages: the deepest package level whose node count still
//! fits [`MAX_NODES`], with the number of imports on each edge.

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::graph::Resolution;

pub const MAX_NODES: usize = 40;

/// Package-level import graph as a Mermaid `flowchart`.
pub fn package_graph(report: &Report) -> Option<String> {
    let module_of: BTreeMap<&str, &str> = report
        .modules
        .iter()
        .map(|m| (m.path.as_str(), m.name.as_str()))
        .collect();
    let pairs: Vec<(&str, &str)> = report
        .imports
        .iter()
        .filter(|e| e.resolution == Resolution::FirstParty)
        .filter_map(|e| {
            let to = e.to.as_deref()?;
            Some((*module_of.get(e.from.as_str())?, *module_of.get(to)?))
        })
        .collect();
    if report.modules.is_empty() {
        return None;
    }
    let max_depth = report
        .modules
        .iter()
        .map(|m| m.name.split('.').count())
        .max()
        .unwrap_or(1);
    let mut depth = 1;
    for d in 1..=max_depth {
        let nodes: BTreeSet<String> = report
            .modules
            .iter()
            .map(|m| collapse(&m.name, d))
            .collect();
        if nodes.len() > MAX_NODES {
            break;
        }
        depth = d;
    }
    let nodes: BTreeSet<String> = report
        .modules
        .iter()
        .map(|m| collapse(&m.name, depth))
        .collect();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (a, b) in pairs {
        let (a, b) = (collapse(a, depth), collapse(b, depth));
        if a != b {
            *edges.entry((a, b)).or_default() += 1;
        }
    }
    let ids: BTreeMap<&String, String> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n, format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for (name, id) in &ids {
        let label = if name.is_empty() {
            "(top level)"
        } else {
            name.as_str()
        };
        out.push_str(&format!("    {id}[\"{}\"]\n", label.replace('"', "'")));
    }
    for ((a, b), n) in &edges {
        let label = if *n == 1 {
            String::new()
        } else {
            format!("|{n}|")
        };
        out.push_str(&format!("    {} -->{label} {}\n", ids[a], ids[b]));
    }
    Some(out)
}

/// `a.b.c.d` at depth 2 is `a.b`.
fn collapse(module: &str, depth: usize) -> String {
    module.split('.').take(depth).collect::<Vec<_>>().join(".")
}
