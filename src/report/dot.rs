//! The module graph in Graphviz DOT, one node per first-party file.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::Report;
use crate::graph::Resolution;
use crate::scan::facts::ImportKind;

pub fn write(report: &Report) -> String {
    let mut out = String::from(
        "digraph modules {\n    rankdir=LR;\n    node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for m in &report.modules {
        let _ = writeln!(out, "    {:?} [label={:?}];", m.path, m.name);
    }
    let mut seen = BTreeSet::new();
    for e in &report.imports {
        let (Resolution::FirstParty, Some(to)) = (e.resolution, &e.to) else {
            continue;
        };
        // A module importing itself (`from pkg import x` in `pkg/__init__.py`)
        // is no edge of the module graph: the summary's `first_party_edges`
        // leaves it out too, and the import is still listed in the report.
        if *to == e.from || !seen.insert((&e.from, to)) {
            continue;
        }
        let style = match e.kind {
            ImportKind::TopLevel => "",
            ImportKind::TypeChecking => " [style=dotted]",
            ImportKind::Function | ImportKind::TryExcept => " [style=dashed]",
        };
        let _ = writeln!(out, "    {:?} -> {:?}{style};", e.from, to);
    }
    out.push_str("}\n");
    out
}
