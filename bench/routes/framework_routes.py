#!/usr/bin/env python3
"""Print a FastAPI/Starlette application's own route list as JSON.

Run this with the Python of a throwaway virtualenv that has the application's
dependencies installed; the script itself uses only the standard library until
it imports the application.

    VENV/bin/python bench/routes/framework_routes.py REPO_DIR MODULE:ATTR \
        [--root IMPORT_ROOT] [--cwd DIR] [--env KEY=VALUE ...]

Output: {"app": ..., "routes": [...], "excluded": [...]} where each route is
    {"methods": [...], "path": "/full/path", "kind": "http|websocket|mount",
     "handler": "module:qualname"}

Conventions:
  * Starlette's `Route` adds HEAD whenever GET is among its methods; FastAPI's
    `APIRoute` does not.  HEAD is therefore dropped from plain Starlette `Route`
    objects that also list GET (a HEAD written explicitly next to GET on such a
    route is indistinguishable and is dropped too).  APIRoute methods are kept
    as declared.
  * A Starlette `Route` whose endpoint is a class (HTTPEndpoint) has no method
    list; its methods are the HTTP verbs the class defines.
  * Mounts are walked: a Mount (or Host) whose app has `.routes` contributes its
    routes with the mount path prefixed, and is not listed itself; a Mount of an
    opaque ASGI app (StaticFiles, WSGIMiddleware, ...) is listed as kind "mount"
    with an empty method list and the mounted object's type as handler.
    Middleware wrapped around a sub-application is unwrapped.
  * HTTP routes built by FastAPI also carry "dependencies": every callable in
    the route's dependant tree (router/app-level ones and sub-dependencies
    included) as `module:qualname`; a class instance used as a dependency
    (OAuth2PasswordBearer(...), a callable object) is named by its class.
  * FastAPI's automatic documentation routes (openapi_url, docs_url, its
    oauth2 redirect, redoc_url) of the application and of every mounted
    sub-application are excluded; they are listed under "excluded".
"""
import argparse
import importlib
import inspect
import json
import os
import sys

HTTP_VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def qualified(obj):
    """`module:qualname` of an endpoint, unwrapping partials and bound methods."""
    import functools

    while isinstance(obj, functools.partial):
        obj = obj.func
    obj = getattr(obj, "__func__", obj)
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module is None or qualname is None:
        cls = type(obj)
        return f"{cls.__module__}:{cls.__qualname__}"
    return f"{module}:{qualname}"


GLOBALS = {}


def index_globals(root):
    """Map id(obj) -> `module:name` for module-level objects of the project's own modules."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not os.path.abspath(path).startswith(root + os.sep):
            continue
        for attr, value in list(vars(module).items()):
            if not (inspect.isfunction(value) or inspect.isclass(value) or inspect.ismodule(value)):
                GLOBALS.setdefault(id(value), f"{name}:{attr}")


def dependency_name(call):
    if not (inspect.isfunction(call) or inspect.isclass(call) or inspect.ismethod(call)):
        if id(call) in GLOBALS:
            return GLOBALS[id(call)]
    return qualified(call)


def dependency_calls(route):
    """Every dependency callable in an APIRoute's dependant tree (sub-dependencies too)."""
    seen, out, stack = set(), set(), [getattr(route, "dependant", None)]
    while stack:
        dep = stack.pop()
        if dep is None or id(dep) in seen:
            continue
        seen.add(id(dep))
        for sub in getattr(dep, "dependencies", ()) or ():
            call = getattr(sub, "call", None)
            if call is not None:
                out.add(dependency_name(call))
            stack.append(sub)
    return sorted(out)


def is_docs_endpoint(endpoint):
    ep = getattr(endpoint, "__func__", endpoint)
    return getattr(ep, "__module__", "") == "fastapi.applications" and ".<locals>." in getattr(
        ep, "__qualname__", ""
    )


def unwrap_app(app):
    """Follow `.app` through middleware wrappers down to something with routes."""
    seen = set()
    while app is not None and id(app) not in seen:
        seen.add(id(app))
        if hasattr(app, "routes"):
            return app
        app = getattr(app, "app", None)
    return None


def join(prefix, path):
    """Starlette stores Mount("/") as "", so "" means the root here."""
    if not prefix:
        return path
    return prefix.rstrip("/") + path if path else prefix


def shown(path):
    return path or "/"


def flatten(routes):
    """Yield (declared route, effective route, path within this router).

    The declared route gives the kind; the effective one (prefixed, merged
    with the including router's options) gives path, methods and endpoint.

    FastAPI releases that keep included routers as `_IncludedRouter` branches
    (instead of copying their routes into the parent) expose the effective,
    prefixed routes through `fastapi.routing.iter_route_contexts`; older
    releases hold plain copied routes.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        iter_route_contexts = None
    if iter_route_contexts is None:
        for route in routes:
            yield route, route, getattr(route, "path", "")
        return
    for ctx in iter_route_contexts(routes):
        yield ctx.original_route, ctx._effective_route, ctx.path or ""


def low_priority(router):
    """Frontend routes (`app.frontend(...)`), matched only after all others."""
    out = []
    for group in getattr(router, "_low_priority_routes", None) or ():
        out.extend(getattr(group, "routes", None) or [group])
    try:  # included routers' frontend routes, already prefixed
        from fastapi.routing import _IncludedRouter
    except ImportError:
        return out
    for route in getattr(router, "routes", ()):
        if isinstance(route, _IncludedRouter):
            for ctx in route.effective_low_priority_routes():
                out.extend(getattr(ctx.original_route, "routes", None) or [ctx.original_route])
    return out


def walk(routes, prefix, out, excluded, router=None):
    from starlette.routing import Host, Mount, Route, WebSocketRoute

    for declared, route, path in flatten(routes):
        full = join(prefix, path)
        if isinstance(declared, (Mount, Host)):
            inner = unwrap_app(route.app) if route.app is not None else None
            # A Mount built with routes=[...] holds a Router; sub-apps hold theirs.
            if inner is not None:
                walk(inner.routes, full if isinstance(declared, Mount) else prefix, out, excluded,
                     getattr(inner, "router", inner))
            else:
                out.append(
                    {"methods": [], "path": shown(full), "kind": "mount",
                     "handler": qualified(type(route.app))}
                )
            continue
        if isinstance(declared, WebSocketRoute) or type(declared).__name__ == "APIWebSocketRoute":
            out.append({"methods": [], "path": shown(full), "kind": "websocket",
                        "handler": qualified(route.endpoint)})
            continue
        if isinstance(declared, Route):
            endpoint = route.endpoint
            if is_docs_endpoint(endpoint):
                excluded.append(full)
                continue
            methods = set(route.methods or ())
            if not methods and inspect.isclass(endpoint):
                methods = {m for m in HTTP_VERBS if hasattr(endpoint, m.lower())}
            if type(declared).__name__ != "APIRoute" and "GET" in methods:
                methods.discard("HEAD")
            item = {"methods": sorted(methods), "path": shown(full), "kind": "http",
                    "handler": qualified(endpoint)}
            if hasattr(route, "dependant") or hasattr(declared, "dependant"):
                item["dependencies"] = dependency_calls(route if hasattr(route, "dependant") else declared)
            out.append(item)
            continue
        if type(declared).__name__ == "_FrontendRoute":
            out.append({"methods": [], "path": shown(full), "kind": "mount",
                        "handler": qualified(type(route.app))})
            continue
        # Anything else (custom BaseRoute): report what we can.
        out.append({"methods": sorted(getattr(route, "methods", None) or ()), "path": shown(full),
                    "kind": type(declared).__name__, "handler": qualified(getattr(route, "endpoint", route))})
    if router is not None:
        for route in low_priority(router):
            out.append({"methods": [], "path": shown(join(prefix, getattr(route, "path", ""))),
                        "kind": "mount", "handler": qualified(type(getattr(route, "app", route)))})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", help="repository (or project) directory")
    ap.add_argument("app", help="MODULE:ATTR of the application, e.g. app.main:app")
    ap.add_argument("--root", default=".", help="import root relative to REPO (default .)")
    ap.add_argument("--cwd", default=None, help="working directory while importing (default: the import root)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment variable to set before importing (repeatable)")
    ap.add_argument("--call", action="store_true", help="ATTR is a factory: call it with no arguments")
    args = ap.parse_args()

    root = os.path.abspath(os.path.join(args.repo, args.root))
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    os.chdir(os.path.abspath(args.cwd) if args.cwd else root)
    sys.path.insert(0, root)

    module_name, _, attr = args.app.partition(":")
    module = importlib.import_module(module_name)
    app = module
    for part in attr.split("."):
        app = getattr(app, part)
    if args.call:
        app = app()
    target = unwrap_app(app)
    if target is None:
        sys.exit(f"{args.app} has no .routes")

    index_globals(os.path.abspath(args.repo))
    out, excluded = [], []
    walk(target.routes, "", out, excluded, getattr(target, "router", target))
    json.dump({"app": args.app, "routes": out, "excluded": excluded}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
