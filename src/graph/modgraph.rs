//! The first-party module graph: fan-in, fan-out and import cycles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

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

/// Distinct (from, to) first-party edges with the first line and the
/// strongest kind seen (top-level beats the others).
pub type EdgeMap = BTreeMap<(Arc<str>, Arc<str>), (u32, ImportKind)>;

#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Per file path: distinct first-party modules importing it.
    pub fan_in: BTreeMap<String, usize>,
    /// Per file path: distinct first-party modules it imports.
    pub fan_out: BTreeMap<String, usize>,
    pub cycles: Vec<Cycle>,
    pub edges: EdgeMap,
}

pub fn build(program: &Program) -> ModuleGraph {
    let mut edges = EdgeMap::new();
    for e in &program.imports {
        let (Resolution::FirstParty, Some(to)) = (e.resolution, &e.to) else {
            continue;
        };
        // A module importing itself (`from pkg import x` inside
        // `pkg/__init__.py`) is no edge: it cannot close a cycle or add to
        // fan-in. The DOT output leaves it out the same way.
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
        if let (Some(&a), Some(&b)) = (index.get(&**from), index.get(&**to)) {
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

    // Cycles are strongly connected components of the imports that run:
    // a `TYPE_CHECKING` import never executes, so it closes no cycle.
    let mut runtime: DiGraph<&str, ()> = DiGraph::new();
    for path in index.keys() {
        runtime.add_node(path);
    }
    let node_of: BTreeMap<&str, NodeIndex> =
        runtime.node_indices().map(|n| (runtime[n], n)).collect();
    for ((from, to), (_, kind)) in &edges {
        if *kind == ImportKind::TypeChecking {
            continue;
        }
        if let (Some(&a), Some(&b)) = (node_of.get(&**from), node_of.get(&**to)) {
            runtime.add_edge(a, b, ());
        }
    }
    let mut cycles = Vec::new();
    for scc in tarjan_scc(&runtime) {
        if scc.len() < 2 {
            continue;
        }
        let mut modules: Vec<String> = scc.iter().map(|n| runtime[*n].to_string()).collect();
        modules.sort();
        let members: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
        // Prefer a loop made only of imports that run at import time: that
        // is the one that breaks module loading.
        let eager = shortest_loop(&edges, &members, |k| k == ImportKind::TopLevel);
        let (path, import_time) = match eager {
            Some(path) => (path, true),
            None => (
                shortest_loop(&edges, &members, |k| k != ImportKind::TypeChecking)
                    .unwrap_or_default(),
                false,
            ),
        };
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

/// The shortest loop through the component using only edges whose kind
/// passes `allowed`, tried from each member in order, by breadth-first
/// search over sorted edges (so the answer is stable).
fn shortest_loop(
    edges: &EdgeMap,
    members: &BTreeSet<&str>,
    allowed: impl Fn(ImportKind) -> bool,
) -> Option<Vec<CycleEdge>> {
    let mut adj: BTreeMap<&str, Vec<(&str, u32, ImportKind)>> = BTreeMap::new();
    for ((f, t), (line, kind)) in edges {
        if allowed(*kind) && members.contains(&**f) && members.contains(&**t) {
            adj.entry(&**f).or_default().push((&**t, *line, *kind));
        }
    }
    let mut best: Option<Vec<CycleEdge>> = None;
    for &start in members {
        if let Some(path) = loop_from(&adj, start)
            && best.as_ref().is_none_or(|b| path.len() < b.len())
        {
            best = Some(path);
        }
        // A two-module loop is as short as loops get.
        if best.as_ref().is_some_and(|b| b.len() == 2) {
            break;
        }
    }
    best
}

fn loop_from(
    adj: &BTreeMap<&str, Vec<(&str, u32, ImportKind)>>,
    start: &str,
) -> Option<Vec<CycleEdge>> {
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
    let (last, line, kind) = closing?;
    let mut path = vec![CycleEdge {
        from: last.into(),
        to: start.into(),
        line,
        kind,
    }];
    let mut cur = last;
    while cur != start {
        let &(p, line, kind) = prev.get(cur)?;
        path.push(CycleEdge {
            from: p.into(),
            to: cur.into(),
            line,
            kind,
        });
        cur = p;
    }
    path.reverse();
    Some(path)
}
