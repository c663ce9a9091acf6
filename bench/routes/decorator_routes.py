#!/usr/bin/env python3
"""An independent, deliberately naive route list from route decorators.

For projects whose application cannot be imported, this walks the Python
files under ROOT with the standard library's `ast` and lists every function
decorated with `<anything>.get/post/put/patch/delete/options/head/trace(...)`,
`.api_route(..., methods=[...])`, `.websocket(...)` / `.api_websocket_route`
/ `.websocket_route`, or `.route(...)`.  It does not follow include_router or
mount prefixes, so `path` is the decorator's own path literal (or "{?}").
Compare with `compare.py --no-path`, which matches on (method, handler).

    python3 bench/routes/decorator_routes.py ROOT [--exclude-dir tests ...] > decorators.json
"""
import argparse
import ast
import json
import os
import sys

VERBS = {"get", "post", "put", "patch", "delete", "options", "head", "trace"}
WS = {"websocket", "api_websocket_route", "websocket_route"}


def literal(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return "{?}"


def module_name(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] == "__init__":
        rel = rel[:-1]
    return ".".join(rel)


class Visitor(ast.NodeVisitor):
    def __init__(self, module, file, out):
        self.module, self.file, self.out, self.stack = module, file, out, []

    def visit_ClassDef(self, node):
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_FunctionDef(self, node):
        qual = ".".join(self.stack + [node.name])
        for dec in node.decorator_list:
            if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute)):
                continue
            attr = dec.func.attr
            path = literal(dec.args[0]) if dec.args else None
            for kw in dec.keywords:
                if kw.arg == "path":
                    path = literal(kw.value)
            if path is None:
                path = ""
            methods, kind = None, "http"
            if attr in VERBS:
                methods = [attr.upper()]
            elif attr in ("api_route", "route"):
                methods = ["GET"]
                for kw in dec.keywords:
                    if kw.arg == "methods" and isinstance(kw.value, (ast.List, ast.Tuple, ast.Set)):
                        methods = [literal(e).upper() for e in kw.value.elts]
            elif attr in WS:
                methods, kind = [], "websocket"
            else:
                continue
            self.out.append({"methods": methods, "path": path, "kind": kind,
                             "handler": f"{self.module}:{qual}",
                             "file": self.file, "line": dec.lineno})
        self.stack.append(node.name)
        self.stack.append("<locals>")
        self.generic_visit(node)
        self.stack.pop()
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="import root to walk")
    ap.add_argument("--exclude-dir", action="append", default=[], metavar="NAME",
                    help="folder name to skip anywhere (repeatable)")
    args = ap.parse_args()
    skip = set(args.exclude_dir) | {".git", ".venv", "venv", "node_modules", "__pycache__"}
    out = []
    for dirpath, dirnames, filenames in os.walk(args.root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                tree = ast.parse(open(path, encoding="utf-8").read(), path)
            except (SyntaxError, UnicodeDecodeError) as e:
                print(f"skipped {path}: {e}", file=sys.stderr)
                continue
            Visitor(module_name(args.root, path), os.path.relpath(path, args.root), out).visit(tree)
    json.dump({"routes": out}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
