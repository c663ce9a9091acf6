//! Mermaid diagrams, which GitHub and GitLab render inline in Markdown.
//!
//! A graph of hundreds of modules is unreadable, so the module graph is
//! collapsed to packages: the largest packages are opened up into their
//! children while the node count fits [`MAX_NODES`], and only the
//! [`MAX_EDGES`] heaviest edges are drawn, each labelled with the number of
//! imports it stands for.

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::graph::Resolution;

pub const MAX_NODES: usize = 40;
pub const MAX_EDGES: usize = 80;

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
            Some((*module_of.get(&*e.from)?, *module_of.get(to)?))
        })
        .collect();
    if report.modules.is_empty() {
        return None;
    }
    let groups = choose_groups(report.modules.iter().map(|m| m.name.as_str()));
    let group_of = |module: &str| -> String {
        // The longest chosen group that is `module` or a package above it.
        let mut cur = module;
        loop {
            if groups.contains(cur) {
                return cur.to_string();
            }
            match cur.rfind('.') {
                Some(i) => cur = &cur[..i],
                None => return cur.to_string(),
            }
        }
    };
    let nodes: BTreeSet<String> = report.modules.iter().map(|m| group_of(&m.name)).collect();
    let mut weights: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (a, b) in pairs {
        let (a, b) = (group_of(a), group_of(b));
        if a != b {
            *weights.entry((a, b)).or_default() += 1;
        }
    }
    // Keep the heaviest edges so the picture stays readable.
    let mut ranked: Vec<_> = weights.into_iter().collect();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let omitted = ranked.len().saturating_sub(MAX_EDGES);
    ranked.truncate(MAX_EDGES);
    ranked.sort();
    let edges = ranked;
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
    if omitted > 0 {
        out.push_str(&format!("    %% {omitted} lighter edges omitted\n"));
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

/// The groups to draw: start from top-level names and keep splitting the
/// group holding the most modules into its children while the node count
/// stays within [`MAX_NODES`], so a large package is shown in detail and
/// small ones stay whole.
fn choose_groups<'a>(modules: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let modules: Vec<&str> = modules.collect();
    let children = |group: &str| -> BTreeSet<String> {
        let prefix = format!("{group}.");
        modules
            .iter()
            .filter_map(|m| m.strip_prefix(&prefix))
            .map(|rest| format!("{prefix}{}", rest.split('.').next().unwrap_or(rest)))
            .collect()
    };
    let size = |group: &str| {
        let prefix = format!("{group}.");
        modules
            .iter()
            .filter(|m| **m == group || m.starts_with(&prefix))
            .count()
    };
    let mut groups: BTreeSet<String> = modules
        .iter()
        .map(|m| m.split('.').next().unwrap_or(m).to_string())
        .collect();
    // Groups already split, or too big to split within the limit.
    let mut unsplittable = BTreeSet::new();
    while let Some(biggest) = groups
        .iter()
        .filter(|g| !unsplittable.contains(*g))
        .max_by_key(|g| (size(g), std::cmp::Reverse((*g).clone())))
        .cloned()
    {
        let kids = children(&biggest);
        // The group itself stays as a node when it is a module too.
        let extra = kids.len() + usize::from(modules.contains(&biggest.as_str())) - 1;
        if kids.is_empty() || groups.len() + extra > MAX_NODES {
            unsplittable.insert(biggest);
            continue;
        }
        if !modules.contains(&biggest.as_str()) {
            groups.remove(&biggest);
        }
        groups.extend(kids);
        // Split once: what remains of it is the module itself.
        unsplittable.insert(biggest);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_that_is_also_a_module_is_split_once() {
        let groups = choose_groups(["loop", "loop.a", "loop.b", "x"].into_iter());
        let got: Vec<&str> = groups.iter().map(String::as_str).collect();
        assert_eq!(got, ["loop", "loop.a", "loop.b", "x"]);
    }

    #[test]
    fn the_biggest_package_is_opened_first_and_the_limit_holds() {
        let mut names: Vec<String> = (0..30).map(|i| format!("big.sub{i}.m")).collect();
        names.extend((0..30).map(|i| format!("big.sub0.leaf{i}")));
        names.push("small.one".into());
        let groups = choose_groups(names.iter().map(String::as_str));
        assert!(groups.len() <= MAX_NODES);
        // Too big to open within the limit, so it stays one node.
        assert!(groups.contains("big.sub0"));
        // A package of one module is shown as that module.
        assert!(groups.contains("big.sub1.m"));
        assert!(groups.contains("small.one"));
        assert!(!groups.contains("big"));
    }
}
