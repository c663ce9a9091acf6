#!/usr/bin/env python3
"""Compare explore's route inventory with a framework's own route list.

    explore PATH --format json -q > explore.json
    VENV/bin/python bench/routes/framework_routes.py ... > framework.json
    python3 bench/routes/compare.py explore.json framework.json [--app MODULE:ATTR]

`framework.json` may also be a hand-made reference in the same format
({"routes": [{"methods": [...], "path": ..., "kind": ..., "handler": ...}]}).

Routes are compared as (method, full path, handler) tuples; a route with
several methods counts once per method.  Websockets use the method "WS" and
mounts "MOUNT" (mounts compare on path only: handler "-").  By default only
explore routes attributed to --app (or to any application, when --app is not
given) are counted; --all also counts routes explore found on routers it could
not attach to an application.  Standard library only.
"""
import argparse
import json
import re
import sys


def tuples(routes, kinds, no_path=False):
    out = {}
    for r in routes:
        kind = r.get("kind", "http")
        if kind not in kinds:
            continue
        path = "*" if no_path else r.get("path", "")
        if kind == "websocket":
            keys = [("WS", path, r.get("handler") or "-")]
        elif kind == "mount":
            keys = [("MOUNT", path, "-")]
        else:
            methods = r.get("methods") or ["ANY"]
            keys = [(m.upper(), path, r.get("handler") or "-") for m in methods]
        for k in keys:
            out.setdefault(k, r)
    return out


def wildcard(path):
    """A regex for an explore path whose `{?}` parts are unknown."""
    parts = path.split("{?}")
    return re.compile("^" + ".*".join(re.escape(p) for p in parts) + "$")


def describe(r):
    bits = []
    if r.get("file"):
        bits.append(f"{r['file']}:{r.get('line', '?')}")
    if r.get("conditional"):
        bits.append("conditional")
    for reason in r.get("dynamic") or ():
        bits.append(f"dynamic: {reason}")
    return ("  [" + "; ".join(bits) + "]") if bits else ""


def first_party(name, handler):
    top = handler.split(":")[0].split(".")[0]
    return name.split(":")[0].split(".")[0] == top


def compare_deps(both, ex, fw):
    """Dependencies of matched routes, first-party names only (same top package as the handler)."""
    checked, differing = 0, []
    for k in sorted(both):
        e, f = ex[k], fw[k]
        if "dependencies" not in f or k[0] in ("WS", "MOUNT"):
            continue
        checked += 1
        es = {d for d in e.get("all_dependencies", []) if ":" in d and first_party(d, k[2])}
        fs = {d for d in f["dependencies"] if first_party(d, k[2])}
        if es != fs:
            differing.append((k, sorted(fs - es), sorted(es - fs)))
    print(f"\ndependencies: {checked - len(differing)}/{checked} matched routes agree on first-party dependencies")
    for k, missing, extra in differing:
        print(f"  {k[0]:7} {k[1]}  {k[2]}")
        if missing:
            print(f"      framework only: {', '.join(missing)}")
        if extra:
            print(f"      explore only:   {', '.join(extra)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("explore_json")
    ap.add_argument("framework_json")
    ap.add_argument("--app", help="only explore routes whose `app` is this MODULE:ATTR")
    ap.add_argument("--all", action="store_true",
                    help="also count explore routes not attached to any application")
    ap.add_argument("--kinds", default="http,websocket,mount",
                    help="comma-separated kinds to compare (default http,websocket,mount)")
    ap.add_argument("--no-path", action="store_true",
                    help="compare on (method, handler) only, e.g. against decorator_routes.py")
    ap.add_argument("--deps", action="store_true",
                    help="for matched HTTP routes, also compare first-party dependency sets "
                         "(explore's all_dependencies vs the framework's dependant tree)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    kinds = set(args.kinds.split(","))

    with open(args.explore_json) as f:
        explore = json.load(f)
    with open(args.framework_json) as f:
        framework = json.load(f)

    ex_routes = []
    unattached = []
    for r in explore.get("routes", []):
        app = r.get("app")
        if args.app and app not in (args.app, None):
            continue
        if app is None and not args.all:
            unattached.append(r)
            continue
        ex_routes.append(r)

    ex = tuples(ex_routes, kinds, args.no_path)
    fw = tuples(framework.get("routes", []), kinds, args.no_path)
    both = ex.keys() & fw.keys()
    only_ex = sorted(ex.keys() - fw.keys())
    only_fw = sorted(fw.keys() - ex.keys())
    precision = len(both) / len(ex) if ex else 1.0
    recall = len(both) / len(fw) if fw else 1.0

    # Hints for each miss: the same (method, path) with another handler, or a
    # `{?}` explore path that would cover it.
    by_mp_ex = {}
    for k in ex:
        by_mp_ex.setdefault(k[:2], []).append(k)
    by_mp_fw = {}
    for k in fw:
        by_mp_fw.setdefault(k[:2], []).append(k)
    fuzzy = [(k, wildcard(k[1])) for k in ex if "{?}" in k[1] and ex[k].get("dynamic")]
    mounts = [(k, re.compile("^" + ".*".join(re.escape(p) for p in k[1].rstrip("/").split("{?}"))
                             + ("" if k[1].endswith("{?}") else "(/|$)")))
              for k in ex if k[0] == "MOUNT" and ex[k].get("dynamic")]

    def covered(k):
        """An explore entry that stands for this route without naming it."""
        for ek, rx in fuzzy:
            if (ek[0] == k[0] or ek[0] == "MOUNT") and rx.match(k[1]):
                return ek
        for ek, rx in mounts:
            if k[0] != "MOUNT" and rx.match(k[1]):
                return ek
        return None

    def hint_fw(k):
        if args.no_path:
            return ""
        if k[:2] in by_mp_ex:
            return "  <- explore has this method+path with handler " + ", ".join(x[2] for x in by_mp_ex[k[:2]])
        ek = covered(k)
        if ek is not None:
            return f"  <- covered by explore's {ek[0]} {ek[1]}"
        same_handler = [x for x in ex if x[2] == k[2] and k[2] != "-"]
        if same_handler:
            return "  <- explore has this handler at " + ", ".join(f"{x[0]} {x[1]}" for x in same_handler)
        return ""

    def hint_ex(k):
        if args.no_path:
            return ""
        if k[:2] in by_mp_fw:
            return "  <- framework has this method+path with handler " + ", ".join(x[2] for x in by_mp_fw[k[:2]])
        same_handler = [x for x in fw if x[2] == k[2] and k[2] != "-"]
        if same_handler:
            return "  <- framework has this handler at " + ", ".join(f"{x[0]} {x[1]}" for x in same_handler)
        return ""

    if args.json:
        json.dump({"precision": precision, "recall": recall, "matched": len(both),
                   "explore": len(ex), "framework": len(fw),
                   "only_explore": [list(k) for k in only_ex],
                   "only_framework": [list(k) for k in only_fw]}, sys.stdout, indent=1)
        print()
        return

    print(f"explore tuples:   {len(ex)}")
    print(f"framework tuples: {len(fw)}")
    print(f"matched:          {len(both)}")
    print(f"precision:        {precision:.3f}")
    print(f"recall:           {recall:.3f}")
    if not args.no_path:
        n = sum(1 for k in only_fw if covered(k) is not None)
        if n:
            print(f"recall counting the {n} miss(es) covered by an unresolved explore mount or `{{?}}` path: "
                  f"{(len(both) + n) / len(fw):.3f}")
    if unattached:
        print(f"(explore also lists {len(unattached)} route(s) on routers it attached to no application; --all counts them)")
    if args.deps:
        compare_deps(both, ex, fw)
    print(f"\nonly in the framework's list (explore missed): {len(only_fw)}")
    for k in only_fw:
        print(f"  {k[0]:7} {k[1]}  {k[2]}{hint_fw(k)}")
    print(f"\nonly in explore's list (extra or wrong): {len(only_ex)}")
    for k in only_ex:
        print(f"  {k[0]:7} {k[1]}  {k[2]}{describe(ex[k])}{hint_ex(k)}")


if __name__ == "__main__":
    main()
