#!/usr/bin/env python3
"""Compare explore's first-party import edges with ruff's import graph.

Both sides are reduced to a set of (from, to) pairs of files, relative to the
corpus root and '/'-separated:

* explore: `explore ROOT --format json` -> `.imports[]` entries whose
  `resolution` is "first_party" (their `to` is set); several lines importing
  the same file count once.
* ruff: `ruff analyze graph` -> {file: [files it imports]}. ruff prints paths
  relative to its working directory when they are below it, absolute otherwise;
  --ruff-cwd says which directory that was.

ruff records, for `import a.b.c`, only a/b/c.py (not a/__init__.py nor
a/b/__init__.py), and for `from a.b import c` only a/b/c.py when c is a
submodule, else a/b/__init__.py; it drops relative imports made by a file
whose folder has no __init__.py (a namespace package). Python does execute every parent package's
__init__.py, so a tool may legitimately record those too; the "parents
expanded" comparison adds, on both sides, an edge to the __init__.py of every
package above each target, which makes the two conventions agree.

Every pair found by one tool only is written to --diff-out, grouped by a
guessed reason found by reading the importing file with Python's `ast`.
Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections import defaultdict


def norm(path: str, base: str, root: str) -> str | None:
    """Path relative to root with '/' separators, or None if outside root."""
    full = path if os.path.isabs(path) else os.path.join(base, path)
    rel = os.path.relpath(os.path.normpath(full), root)
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    return rel.replace(os.sep, "/")


def load_explore(path: str, root: str) -> tuple[set, dict]:
    """(edges, {(from, to): [lines]}) from explore's JSON report."""
    with open(path, encoding="utf-8") as fh:
        report = json.load(fh)
    edges, lines = set(), defaultdict(list)
    for imp in report.get("imports", []):
        if imp.get("resolution") != "first_party" or not imp.get("to"):
            continue
        src, dst = norm(imp["from"], root, root), norm(imp["to"], root, root)
        if src is None or dst is None:
            continue
        edges.add((src, dst))
        if imp.get("line") is not None:
            lines[(src, dst)].append(imp["line"])
    return edges, lines


def load_ruff(path: str, cwd: str, root: str) -> tuple[set, int]:
    """(edges, number of edges leaving the corpus) from ruff's JSON map."""
    with open(path, encoding="utf-8") as fh:
        graph = json.load(fh)
    edges, outside = set(), 0
    for src, targets in graph.items():
        src_rel = norm(src, cwd, root)
        for dst in targets:
            dst_rel = norm(dst, cwd, root)
            if src_rel is None or dst_rel is None:
                outside += 1
            else:
                edges.add((src_rel, dst_rel))
    return edges, outside


def module_of(rel: str) -> str:
    """Dotted module name of a file relative to the corpus root."""
    stem = rel.rsplit(".", 1)[0]
    parts = stem.split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parent_inits(target: str, files: set) -> list[str]:
    """__init__.py (or .pyi) files of the packages above target, that exist."""
    parts = target.split("/")[:-1]
    if target.rsplit("/", 1)[-1].startswith("__init__."):
        parts = parts[:-1]  # a package's own __init__ is the target itself
    found = []
    for depth in range(1, len(parts) + 1):
        for name in ("__init__.py", "__init__.pyi"):
            candidate = "/".join(parts[:depth] + [name])
            if candidate in files:
                found.append(candidate)
    return found


def expand_parents(edges: set, files: set) -> set:
    out = set(edges)
    for src, dst in edges:
        for init in parent_inits(dst, files):
            if init != src:
                out.add((src, init))
    return out


class ImportRecord:
    def __init__(self, line, names, bases, context, level=0):
        self.line = line  # first line of the statement
        self.level = level  # dots of a relative import
        self.names = names  # fully qualified names it may load as modules
        self.bases = bases  # `from X import ...`: X; `import X`: empty
        self.context = context


class ImportCollector(ast.NodeVisitor):
    """Collects every import statement of a file with the block it sits in."""

    def __init__(self, package: list[str]):
        self.package = package
        self.stack: list[str] = []
        self.records: list[ImportRecord] = []
        self.strings: list[tuple[int, str]] = []

    def context(self) -> str:
        for kind in ("TYPE_CHECKING block", "try/except", "function body", "if/else"):
            if kind in self.stack:
                return kind
        return "module level"

    def visit_If(self, node):
        test = ast.unparse(node.test)
        kind = "TYPE_CHECKING block" if "TYPE_CHECKING" in test else "if/else"
        self.stack.append(kind)
        for child in node.body:
            self.visit(child)
        self.stack.pop()
        # `else` of `if TYPE_CHECKING` runs at run time: call it plain if/else
        self.stack.append("if/else")
        for child in node.orelse:
            self.visit(child)
        self.stack.pop()
        self.visit(node.test)

    def _block(self, kind, node):
        self.stack.append(kind)
        self.generic_visit(node)
        self.stack.pop()

    def visit_Try(self, node):
        self._block("try/except", node)

    visit_TryStar = visit_Try

    def visit_FunctionDef(self, node):
        self._block("function body", node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):
        names = [alias.name for alias in node.names]
        self.records.append(ImportRecord(node.lineno, names, [], self.context()))

    def visit_ImportFrom(self, node):
        if node.level:
            if node.level - 1 > len(self.package):
                return
            head = self.package[: len(self.package) - (node.level - 1)]
            base = ".".join(head + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if not base:
            return
        names = [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        record = ImportRecord(node.lineno, names, [base], self.context(), node.level)
        self.records.append(record)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and "." in node.value and " " not in node.value:
            self.strings.append((node.lineno, node.value))


class SourceIndex:
    """Parses importing files on demand and explains one edge at a time."""

    def __init__(self, root: str, files: set):
        self.root = root
        self.files = files
        self.cache: dict[str, tuple[ImportCollector | None, list[str]]] = {}

    def load(self, rel: str):
        if rel not in self.cache:
            path = os.path.join(self.root, rel)
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                tree = ast.parse(text)
            except (OSError, SyntaxError, ValueError):
                self.cache[rel] = (None, [])
                return self.cache[rel]
            package = module_of(rel).split(".")
            if not rel.rsplit("/", 1)[-1].startswith("__init__."):
                package = package[:-1]
            collector = ImportCollector(package)
            collector.visit(tree)
            self.cache[rel] = (collector, text.splitlines())
        return self.cache[rel]

    def is_module(self, dotted: str) -> bool:
        path = dotted.replace(".", "/")
        return any(
            path + tail in self.files for tail in (".py", ".pyi", "/__init__.py", "/__init__.pyi")
        )

    def source_line(self, rel: str, line: int | None) -> str:
        _, lines = self.load(rel)
        if line and 0 < line <= len(lines):
            return lines[line - 1].strip()
        return ""

    def explain(self, src: str, dst: str, other: set) -> tuple[str, int | None]:
        """(reason, line) for an edge found by one tool only."""
        if src == dst:
            return "self edge (a module importing from its own package)", None
        stem = dst.rsplit(".", 1)[0]
        twin = stem + (".py" if dst.endswith(".pyi") else ".pyi")
        if (src, twin) in other:
            return "the other tool picked the .py/.pyi twin of this target", None
        collector, _ = self.load(src)
        if collector is None:
            return "importing file does not parse with this Python's ast", None
        target = module_of(dst)
        is_init = dst.rsplit("/", 1)[-1].startswith("__init__.")
        best = None  # (rank, reason, record)
        for rec in collector.records:
            full = rec.names + rec.bases
            if target in rec.names:
                candidate = (0, "direct import of the module", rec)
            elif target in rec.bases:
                if is_init and any(self.is_module(n) for n in rec.names):
                    why = "`from pkg import submodule`: edge to the package __init__ too"
                else:
                    why = "`from module import name`: edge to the module itself"
                candidate = (1, why, rec)
            elif any(n.startswith(target + ".") for n in full):
                candidate = (2, "implicit parent package __init__ of an imported submodule", rec)
            else:
                continue
            if best is None or candidate[0] < best[0]:
                best = candidate
        if best is not None:
            _, why, rec = best
            folder = src.rsplit("/", 1)[0] if "/" in src else ""
            if rec.level and not self.is_module(folder.replace("/", ".")):
                why = "relative import in a folder without __init__.py (namespace package)"
            return f"{why} [{rec.context}]", rec.line
        for line, text in collector.strings:
            if text == target or text.startswith(target + "."):
                return "string import (dotted module name in a string literal)", line
        return "no import statement in the file names this target", None


def compare(name, explore, ruff, lines, index, diff_out):
    both, only_e, only_r = explore & ruff, explore - ruff, ruff - explore
    union = explore | ruff
    agreement = len(both) / len(union) if union else 1.0
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for side, pairs, other in (("explore-only", only_e, ruff), ("ruff-only", only_r, explore)):
        for src, dst in sorted(pairs):
            reason, line = index.explain(src, dst, other)
            if side == "explore-only" and lines.get((src, dst)):
                line = min(lines[(src, dst)])
            text = index.source_line(src, line)
            where = f"  line {line}: {text}" if line else ""
            groups[(side, reason)].append(f"  {src} -> {dst}{where}")
    if diff_out:
        with open(diff_out, "w", encoding="utf-8") as fh:
            fh.write(f"# {name}: edges found by one tool only, grouped by guessed reason\n")
            for (side, reason), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
                fh.write(f"\n## {side}: {reason} ({len(rows)})\n")
                fh.write("\n".join(rows) + "\n")
    return both, only_e, only_r, agreement, groups


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="corpus root that explore analysed")
    ap.add_argument("--explore", required=True, help="explore --format json output")
    ap.add_argument("--ruff", required=True, help="ruff analyze graph output")
    ap.add_argument("--ruff-cwd", help="directory ruff ran in (default: --root)")
    ap.add_argument("--name", default="corpus")
    ap.add_argument("--diff-out", help="file for the differing pairs (strict comparison)")
    ap.add_argument("--target", type=float, default=0.99)
    args = ap.parse_args()

    root = os.path.abspath(args.root)
    cwd = os.path.abspath(args.ruff_cwd or root)
    explore, lines = load_explore(args.explore, root)
    ruff, outside = load_ruff(args.ruff, cwd, root)
    files = set()
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n.endswith((".py", ".pyi")):
                files.add(os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/"))
    index = SourceIndex(root, files)

    print(f"{args.name}: first-party file-to-file edges, explore vs ruff")
    if outside:
        print(f"  ({outside} ruff edges leave the corpus root and are ignored)")
    results = {}
    for label, e, r, out in (
        ("strict", explore, ruff, args.diff_out),
        ("parents expanded", expand_parents(explore, files), expand_parents(ruff, files), None),
    ):
        both, only_e, only_r, agreement, groups = compare(args.name, e, r, lines, index, out)
        results[label] = agreement
        verdict = "met" if agreement >= args.target else "MISSED"
        print(
            f"  {label:17} explore {len(e):6}  ruff {len(r):6}  agreed {len(both):6}"
            f"  explore-only {len(only_e):5}  ruff-only {len(only_r):5}"
            f"  agreement {agreement:7.2%} (target >= {args.target:.0%}: {verdict})"
        )
        if label == "strict" and groups:
            for (side, reason), rows in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:12]:
                print(f"      {len(rows):5}  {side:12}  {reason}")
    if args.diff_out:
        print(f"  differing pairs (strict): {args.diff_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
