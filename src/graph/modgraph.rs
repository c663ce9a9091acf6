//! The first-party module graph: fan-in, fan-out and import cycles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Program, Resolution};
use crate::scan::facts::ImportKind;

/// One import line inside a cycle.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct CycleEdge {
    pub from: String,
    pub to: String,
    pub line: u32,
    pub kind: ImportKind,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Cycle {
    /// Files of the strongly connected component, sorted.
    pub modules: Vec<String>,
    /// One concrete loop through the component, starting at its first
    /// module: each import line that closes it.
    pub path: Vec<CycleEdge>,
    /// Every edge on `path` runs when the module is imported: the kind of
    /// cycle that fails at import time. A loop broken by a function-level
    /// or `TYPE_CHECKING` import is reported with this set to false.
    pub import_time: bool,
}

#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Per file path: distinct first-party modules importing it.
    pub fan_in: BTreeMap<String, usize>,
    /// Per file path: distinct first-party modules it imports.
    pub fan_out: BTreeMap<String, usize>,
    pub cycles: Vec<Cycle>,
    /// Distinct (from, to) first-party edges with the first line and the
    /// strongest kind seen (top-level beats the others).
    pub edges: BTreeMap<(String, String), (u32, ImportKind)>,
}

pub fn build(program: &Program) -> ModuleGraph {
    let mut edges: BTreeMap<(String, String), (u32, ImportKind)> = BTreeMap::new();
    for e in &program.imports {
        let (Resolution::FirstParty, Some(to)) = (e.resolution, &e.to) else {
            continue;
        };
        if *to == e.from {
            continue;
        }
        let entry = edges
            .entry((e.from.clone(), to.clone()))
            .or_insert((e.line, e.kind));
        if e.kind == ImportKind::TopLevel && entry.1 != ImportKind::TopLevel {
            *entry = (e.line, e.kind);
        }
    }

    let mut graph: DiGraph<&str, (u32, ImportKind)> = DiGraph::new();
    let mut index: BTreeMap<&str, NodeIndex> = BTreeMap::new();
    for f in program.files.iter().filter(|f| f.facts.is_some()) {
        index.insert(&f.path, graph.add_node(&f.path));
    }
    for ((from, to), w) in &edges {
        if let (Some(&a), Some(&b)) = (index.get(from.as_str()), index.get(to.as_str())) {
            graph.add_edge(a, b, *w);
        }
    }

    let mut fan_in = BTreeMap::new();
    let mut fan_out = BTreeMap::new();
    for (path, &n) in &index {
        let ins: BTreeSet<_> = graph
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .collect();
        let outs: BTreeSet<_> = graph
            .neighbors_directed(n, petgraph::Direction::Outgoing)
            .collect();
        fan_in.insert(path.to_string(), ins.len());
        fan_out.insert(path.to_string(), outs.len());
    }

    let mut cycles = Vec::new();
    for scc in tarjan_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        let mut modules: Vec<String> = scc.iter().map(|n| graph[*n].to_string()).collect();
        modules.sort();
        let members: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
        let path = shortest_loop(&edges, &members, &modules[0]);
        let import_time = path.iter().all(|e| e.kind == ImportKind::TopLevel);
        cycles.push(Cycle {
            modules,
            path,
            import_time,
        });
    }
    cycles.sort_by(|a, b| a.modules.cmp(&b.modules));
    ModuleGraph {
        fan_in,
        fan_out,
        cycles,
        edges,
    }
}

/// The shortest loop from `start` back to itself inside the component,
/// by breadth-first search over sorted edges (so the answer is stable).
fn shortest_loop(
    edges: &BTreeMap<(String, String), (u32, ImportKind)>,
    members: &BTreeSet<&str>,
    start: &str,
) -> Vec<CycleEdge> {
    let mut adj: BTreeMap<&str, Vec<(&str, u32, ImportKind)>> = BTreeMap::new();
    for ((f, t), (line, kind)) in edges {
        if members.contains(f.as_str()) && members.contains(t.as_str()) {
            adj.entry(f).or_default().push((t, *line, *kind));
        }
    }
    let mut prev: BTreeMap<&str, (&str, u32, ImportKind)> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    let mut closing = None;
    'bfs: while let Some(cur) = queue.pop_front() {
        for &(next, line, kind) in adj.get(cur).map(Vec::as_slice).unwrap_or(&[]) {
            if next == start {
                closing = Some((cur, line, kind));
                break 'bfs;
            }
            if !prev.contains_key(next) {
                prev.insert(next, (cur, line, kind));
                queue.push_back(next);
            }
        }
    }
    let Some((last, line, kind)) = closing else {
        return Vec::new();
    };
    let mut path = vec![CycleEdge {
        from: last.into(),
        to: start.into(),
        line,
        kind,
    }];
    let mut cur = last;
    while cur != start {
        let Some(&(p, line, kind)) = prev.get(cur) else {
            break;
        };
        path.push(CycleEdge {
            from: p.into(),
            to: cur.into(),
            line,
            kind,
        });
        cur = p;
    }
    path.reverse();
    path
}
