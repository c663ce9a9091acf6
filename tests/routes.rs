//! The web layer, end to end: routes with full paths, dependency trees,
//! security, lifecycle and middleware, asserted exactly on the fixtures.

mod common;

use common::{explore, fixture, report_json};
use serde_json::Value;

/// `(methods joined by ",", or the kind for websockets and mounts; path; handler)`.
fn route_rows(report: &Value) -> Vec<(String, String, String)> {
    report["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            let methods: Vec<&str> = r["methods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            let m = if methods.is_empty() {
                r["kind"].as_str().unwrap().to_string()
            } else {
                methods.join(",")
            };
            (
                m,
                r["path"].as_str().unwrap().to_string(),
                r["handler"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn row(m: &str, p: &str, h: &str) -> (String, String, String) {
    (m.into(), p.into(), h.into())
}

fn route<'a>(report: &'a Value, method: &str, path: &str) -> &'a Value {
    report["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["path"] == path
                && (r["methods"].as_array().unwrap().iter().any(|m| m == method)
                    || r["kind"] == method)
        })
        .unwrap_or_else(|| panic!("no route {method} {path}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn dependency<'a>(report: &'a Value, target: &str) -> &'a Value {
    report["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["target"] == target)
        .unwrap_or_else(|| panic!("no dependency {target}"))
}

fn schemes(r: &Value) -> Vec<String> {
    let mut s: Vec<String> = r["auth"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["scheme"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    s.sort();
    s
}

#[test]
fn every_declaration_form_yields_its_route_with_the_full_path() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let expected = vec![
        row("GET", "/ping", "app.main:ping"),
        row("POST", "/echo", "app.main:echo"),
        row("PUT", "/things/{thing_id}", "app.main:replace_thing"),
        row("PATCH", "/things/{thing_id}", "app.main:update_thing"),
        row("DELETE", "/things/{thing_id}", "app.main:delete_thing"),
        row("OPTIONS", "/things", "app.main:things_options"),
        row("HEAD", "/things", "app.main:things_head"),
        row("TRACE", "/trace", "app.main:trace_request"),
        row("GET", "/plain", "app.main:plain_page"),
        row("GET", "/v1/items/", "app.routers.items:list_items"),
        row("POST", "/v1/items/", "app.routers.items:create_item"),
        row(
            "GET,PUT",
            "/v1/items/{item_id}",
            "app.routers.items:item_detail",
        ),
        row(
            "GET",
            "/v1/items/{item_id}/stock",
            "app.routers.items:item_stock",
        ),
        row("GET", "/v2/items/", "app.routers.items:list_items"),
        row("POST", "/v2/items/", "app.routers.items:create_item"),
        row(
            "GET,PUT",
            "/v2/items/{item_id}",
            "app.routers.items:item_detail",
        ),
        row(
            "GET",
            "/v2/items/{item_id}/stock",
            "app.routers.items:item_stock",
        ),
        row("GET", "/api/users/me", "app.routers.users:read_me"),
        row("GET", "/api/users/basic", "app.routers.users:basic_login"),
        row("GET", "/api/users/by-key", "app.routers.users:by_query_key"),
        row("GET", "/api/users/cookie", "app.routers.users:by_cookie"),
        row("GET", "/api/users/oidc", "app.routers.users:by_oidc"),
        row("GET", "/api/users/scoped", "app.routers.users:scoped"),
        row(
            "DELETE",
            "/api/users/{user_id}",
            "app.routers.users:delete_user",
        ),
        row("GET", "/reports/summary", "app.routers.reports:summary"),
        row("websocket", "/reports/live", "app.routers.reports:live"),
        row(
            "POST",
            "/reports/export",
            "app.routers.reports:export_report",
        ),
        row(
            "websocket",
            "/reports/stream",
            "app.routers.reports:stream_report",
        ),
        row("GET", "{?}/metrics", "app.routers.internal:metrics"),
        row(
            "GET",
            "/billing/invoices",
            "app.routers.billing:list_invoices",
        ),
        row("GET", "/audit/events", "app.routers.audit:list_events"),
        row("GET", "/debug/routes", "app.main:debug_routes"),
        row("GET", "/legacy/", "app.legacy:home"),
        row("websocket", "/legacy/ws", "app.legacy:feed"),
        row("GET", "/legacy/admin/users", "app.legacy:list_users"),
        row("GET", "/admin-api/stats", "app.admin_app:stats"),
    ];
    assert_eq!(route_rows(&report), expected);
}

#[test]
fn routes_carry_where_they_are_declared_and_how_they_are_reached() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let r = route(&report, "GET", "/debug/routes");
    assert_eq!(r["conditional"], true);
    assert_eq!(r["file"], "app/main.py");
    assert_eq!(r["line"], 84);
    assert_eq!(r["handler_at"], "app/main.py:85");
    assert_eq!(r["is_async"], true);

    let metrics = route(&report, "GET", "{?}/metrics");
    assert_eq!(
        strings(&metrics["dynamic"]),
        ["include prefix at app/main.py:77: environment variable PREFIX"]
    );
    assert!(metrics.get("conditional").is_none());

    // One router included twice: each inclusion has its own call site.
    assert_eq!(
        strings(&route(&report, "GET", "/v1/items/")["included_via"]),
        ["app/main.py:73"]
    );
    assert_eq!(
        strings(&route(&report, "GET", "/v2/items/")["included_via"]),
        ["app/main.py:74"]
    );
    let created = route(&report, "POST", "/v1/items/");
    assert_eq!(created["status_code"], "201");
    assert_eq!(strings(&created["tags"]), ["items"]);
    assert_eq!(created["name"], "create_item");
    assert_eq!(created["router"], "app.routers.items:router");

    // Starlette routes and `add_route` get no dependency injection.
    for (m, p) in [
        ("GET", "/plain"),
        ("GET", "/legacy/"),
        ("websocket", "/legacy/ws"),
    ] {
        assert_eq!(route(&report, m, p)["injection"], false, "{m} {p}");
    }
    assert_eq!(route(&report, "GET", "/ping")["injection"], true);
    // A subclass of APIRouter is a router.
    assert_eq!(
        route(&report, "GET", "/reports/summary")["router"],
        "app.routers.reports:router"
    );
}

#[test]
fn dependencies_come_from_every_level_in_fastapi_order() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let r = route(&report, "DELETE", "/api/users/{user_id}");
    let got: Vec<(String, String)> = r["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["declared_on"].as_str().unwrap().to_string(),
                d["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("app", "app.deps:verify_client_version"),
        ("include", "app.deps:require_api_key"),
        ("router", "app.deps:get_active_account"),
        ("route", "app.deps:admin_only"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    assert_eq!(
        strings(&r["all_dependencies"]),
        [
            "app.deps:verify_client_version",
            "app.deps:require_api_key",
            "app.deps:api_key_header",
            "app.deps:get_active_account",
            "app.deps:get_current_user",
            "app.deps:decode_bearer",
            "app.deps:bearer_scheme",
            "app.deps:admin_only",
        ]
    );
    assert_eq!(
        dependency(&report, "app.deps:admin_only")["kind"],
        "callable_instance"
    );
    assert_eq!(
        strings(
            &dependency(&report, "app.deps:admin_only")["depends_on"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["target"].clone())
                .collect::<Value>()
        ),
        ["app.deps:get_current_user"]
    );
}

#[test]
fn annotated_aliases_class_dependencies_and_generators_are_resolved() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let r = route(&report, "GET", "/v1/items/");
    let params: Vec<(String, String)> = r["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["declared_on"] == "parameter")
        .map(|d| {
            (
                d["parameter"].as_str().unwrap().to_string(),
                d["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // `DbSession` is an `Annotated` alias in another module; `Depends()`
    // takes the class from the annotation.
    assert_eq!(
        params,
        [
            ("db".to_string(), "app.deps:get_db".to_string()),
            ("pagination".to_string(), "app.deps:Pagination".to_string()),
        ]
    );
    let get_db = dependency(&report, "app.deps:get_db");
    assert_eq!(get_db["kind"], "generator");
    assert_eq!(get_db["provides"], "FakeSession");
    assert_eq!(strings(&get_db["setup"]), ["FakeSession()"]);
    assert_eq!(strings(&get_db["teardown"]), ["session.close()"]);
    // Leaving a `with` block around the `yield` is teardown too.
    let get_conn = dependency(&report, "app.deps:get_conn");
    assert_eq!(strings(&get_conn["setup"]), ["pool.connection()"]);
    assert_eq!(
        strings(&get_conn["teardown"]),
        ["with pool.connection(): __exit__()"]
    );
    let get_ledger = dependency(&report, "app.deps:get_ledger");
    assert_eq!(
        strings(&get_ledger["setup"]),
        ["StockLedger()", "pool.connection()"]
    );
    assert_eq!(get_ledger["teardown"], Value::Null);
    // A bare `Iterator` annotation says nothing of the value: the yielded
    // call does. A method's return annotation names what it hands out.
    assert_eq!(get_ledger["provides"], "StockLedger");
    assert_eq!(get_conn["provides"], "FakeSession");
    let get_client = dependency(&report, "app.deps:get_client");
    assert_eq!(
        strings(&get_client["teardown"]),
        ["async with StockClient(): __aexit__()"]
    );
    let pagination = dependency(&report, "app.deps:Pagination");
    assert_eq!(pagination["kind"], "class");
    let p: Vec<&str> = pagination["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(p, ["skip", "limit"]);

    // An inline `Annotated[dict, Depends(...)]` and a Pydantic body.
    let created = route(&report, "POST", "/v1/items/");
    let body = created["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "item")
        .unwrap();
    assert_eq!(body["source"], "body");
    assert_eq!(body["model"], "app.routers.items:ItemIn");
    assert!(strings(&created["all_dependencies"]).contains(&"app.deps:get_current_user".into()));
    let detail = route(&report, "GET", "/v1/items/{item_id}");
    assert_eq!(detail["parameters"][0]["name"], "item_id");
    assert_eq!(detail["parameters"][0]["source"], "path");
}

#[test]
fn every_security_scheme_is_found_in_the_route_trees() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let cases = [
        ("/api/users/me", vec!["APIKeyHeader", "HTTPBearer"]),
        (
            "/api/users/basic",
            vec!["APIKeyHeader", "HTTPBasic", "HTTPBearer"],
        ),
        (
            "/api/users/by-key",
            vec!["APIKeyHeader", "APIKeyQuery", "HTTPBearer"],
        ),
        (
            "/api/users/cookie",
            vec!["APIKeyCookie", "APIKeyHeader", "HTTPBearer"],
        ),
        (
            "/api/users/oidc",
            vec!["APIKeyHeader", "HTTPBearer", "OpenIdConnect"],
        ),
        (
            "/api/users/scoped",
            vec!["APIKeyHeader", "HTTPBearer", "OAuth2PasswordBearer"],
        ),
    ];
    for (path, want) in cases {
        assert_eq!(schemes(route(&report, "GET", path)), want, "{path}");
    }
    assert_eq!(
        schemes(route(&report, "POST", "/v1/items/")),
        ["HTTPBearer"]
    );
    assert!(schemes(route(&report, "GET", "/ping")).is_empty());
    let scoped = route(&report, "GET", "/api/users/scoped")["auth"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["scheme"] == "OAuth2PasswordBearer")
        .unwrap()
        .clone();
    assert_eq!(scoped["instance"], "app.deps:oauth2_scheme");
    assert_eq!(strings(&scoped["scopes"]), ["users:read"]);
}

#[test]
fn each_dependency_lists_the_routes_that_use_it() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let used = strings(&dependency(&report, "app.deps:get_current_user")["used_by"]);
    assert_eq!(
        used,
        [
            "POST /v1/items/",
            "POST /v2/items/",
            "GET /api/users/me",
            "GET /api/users/basic",
            "GET /api/users/by-key",
            "GET /api/users/cookie",
            "GET /api/users/oidc",
            "GET /api/users/scoped",
            "DELETE /api/users/{user_id}",
        ]
    );
    let scheme = dependency(&report, "app.deps:bearer_scheme");
    assert_eq!(scheme["kind"], "security_scheme");
    assert_eq!(scheme["scheme"], "HTTPBearer");
}

#[test]
fn lifecycle_events_and_middleware_order_are_reported() {
    let report = report_json(&fixture("fastapi_forms"), &[]);
    let apps = report["apps"].as_array().unwrap();
    let objects: Vec<&str> = apps.iter().map(|a| a["object"].as_str().unwrap()).collect();
    assert_eq!(
        objects,
        [
            "app.main:app",
            "app.admin_app:admin",
            "app.legacy:starlette_app"
        ]
    );
    let main = &apps[0];
    let events: Vec<(String, String, String)> = main["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["handler"].as_str().unwrap().into(),
                e["form"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                "startup".into(),
                "app.main:warm_cache".into(),
                "on_event".into()
            ),
            (
                "shutdown".into(),
                "app.main:flush_cache".into(),
                "add_event_handler".into()
            ),
        ]
    );
    let admin = &apps[1];
    assert_eq!(strings(&admin["mounted_in"]), ["app/main.py:90"]);
    assert_eq!(admin["events"][0]["handler"], "app.admin_app:open_admin_db");
    assert_eq!(admin["events"][0]["form"], "on_startup");
    assert_eq!(
        admin["events"][1]["handler"],
        "app.admin_app:close_admin_db"
    );
    // `exception_handlers=handlers` and `on_startup=startup_hooks`: names
    // bound to the dict and the list are followed to them.
    let handlers: Vec<(&str, &str)> = admin["exception_handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["exception"].as_str().unwrap(),
                h["handler"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        handlers,
        [
            ("app.admin_app:AdminLocked", "app.admin_app:locked"),
            ("404", "app.admin_app:locked")
        ]
    );

    let mw: Vec<(String, String, u64)> = main["middleware"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["target"].as_str().unwrap().into(),
                m["kind"].as_str().unwrap().into(),
                m["request_order"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mw,
        [
            (
                "fastapi.middleware.trustedhost.TrustedHostMiddleware".into(),
                "external".into(),
                2
            ),
            ("app.middleware:TimingMiddleware".into(), "asgi".into(), 1),
        ]
    );
}

#[test]
fn the_backend_is_mapped_from_its_factory_down() {
    let report = report_json(&fixture("backend"), &[]);
    let expected = vec![
        row(
            "POST",
            "/api/v1/analysis/files",
            "server.routes.analysis:submit_file",
        ),
        row(
            "GET",
            "/api/v1/analysis/{analysis_id}",
            "server.routes.analysis:read_status",
        ),
        row(
            "DELETE",
            "/api/v1/analysis/{analysis_id}",
            "server.routes.analysis:delete_analysis",
        ),
        row(
            "GET,HEAD",
            "/api/v1/analysis/{analysis_id}/report",
            "server.routes.analysis:download_report",
        ),
        row(
            "POST",
            "/api/v1/repositories",
            "server.routes.repositories:submit_repository",
        ),
        row(
            "GET",
            "/api/v1/repositories/",
            "server.routes.repositories:get_repositories",
        ),
        row(
            "POST",
            "/api/v1/repositories/{repo_id}/refresh",
            "server.routes.repositories:refresh_repository",
        ),
        row(
            "POST",
            "/api/v1/repositories/webhooks/github",
            "server.routes.repositories:github_webhook",
        ),
        row(
            "POST",
            "/api/v1/session/token",
            "server.routes.session:login",
        ),
        row("GET", "/api/v1/session/me", "server.routes.session:read_me"),
        row(
            "POST",
            "/api/v1/session/logout",
            "server.routes.session:logout",
        ),
        row(
            "websocket",
            "/ws/analysis/{analysis_id}",
            "server.routes.websocket:analysis_progress",
        ),
        row(
            "websocket",
            "/ws/session",
            "server.routes.websocket:session_socket",
        ),
        row("mount", "/static", ""),
        row("GET", "/health", "server.app:create_app.<locals>.health"),
    ];
    assert_eq!(route_rows(&report), expected);
    assert_eq!(
        route(&report, "mount", "/static")["mounts"],
        "static files from `\"static\"`"
    );
    assert_eq!(
        route(&report, "POST", "/api/v1/repositories/webhooks/github")["conditional"],
        true
    );

    let app = &report["apps"][0];
    assert_eq!(app["object"], "server.app:create_app.<locals>.app");
    assert_eq!(app["factory"], "server.app:create_app");
    assert_eq!(strings(&app["served_as"]), ["server.app:app"]);
    assert_eq!(app["lifespan"]["handler"], "server.app:lifespan");
    assert_eq!(
        strings(&app["lifespan"]["startup"]),
        [
            "get_redis()",
            "init_analytics()",
            "asyncio.create_task()",
            "relay_analysis_events()"
        ]
    );
    assert_eq!(
        strings(&app["lifespan"]["shutdown"]),
        [
            "relay.cancel()",
            "contextlib.suppress()",
            "app.state.redis.close()"
        ]
    );
    // What startup leaves on the application; locals are not listed.
    assert_eq!(
        strings(&app["lifespan"]["startup_sets"]),
        ["app.state.redis"]
    );
    assert_eq!(app["lifespan"]["shutdown_sets"], Value::Null);
    // Declared CORS, GZip, RequestId, then the decorator; a request meets
    // them in the reverse order.
    let order: Vec<(String, u64)> = app["middleware"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["target"].as_str().unwrap().into(),
                m["request_order"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("fastapi.middleware.cors.CORSMiddleware".into(), 4),
            ("fastapi.middleware.gzip.GZipMiddleware".into(), 3),
            ("server.middleware:RequestIdMiddleware".into(), 2),
            ("server.app:create_app.<locals>.add_timing_header".into(), 1),
        ]
    );
    assert_eq!(app["middleware"][2]["kind"], "base_http");
    assert_eq!(app["middleware"][3]["kind"], "function");
    let handlers: Vec<(String, String)> = app["exception_handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["exception"].as_str().unwrap().into(),
                h["handler"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        handlers,
        [
            (
                "server.errors:AnalysisNotFound".into(),
                "server.errors:analysis_not_found_handler".into()
            ),
            (
                "fastapi.exceptions.RequestValidationError".into(),
                "server.app:create_app.<locals>.validation_error_handler".into()
            ),
        ]
    );
}

#[test]
fn the_backend_dependency_trees_and_auth() {
    let report = report_json(&fixture("backend"), &[]);
    let submit = route(&report, "POST", "/api/v1/analysis/files");
    assert_eq!(
        strings(&submit["all_dependencies"]),
        [
            "server.dependencies:get_current_user",
            "server.dependencies:oauth2_scheme",
            "server.utils.redis:get_redis",
            "server.dependencies:get_db",
        ]
    );
    assert_eq!(submit["response_model"], "AnalysisTicket");
    assert_eq!(submit["status_code"], "202");
    assert_eq!(
        strings(
            &route(&report, "POST", "/api/v1/session/logout")["auth"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["instance"].clone())
                .collect::<Value>()
        ),
        ["server.dependencies:oauth2_scheme"]
    );
    let repo = route(&report, "POST", "/api/v1/repositories");
    assert_eq!(strings(&repo["auth"][0]["scopes"]), ["repos:write"]);
    assert!(schemes(route(&report, "POST", "/api/v1/session/token")).is_empty());
    let db = dependency(&report, "server.dependencies:get_db");
    assert_eq!(db["kind"], "generator");
    assert_eq!(db["provides"], "DbSession");
    assert_eq!(
        strings(&dependency(&report, "server.utils.redis:get_redis")["used_by"]).len(),
        12
    );
    assert_eq!(
        strings(&route(&report, "POST", "/api/v1/analysis/files")["notes"]),
        [
            "include prefix at server/app.py:60 `/api/v1` is the default of `Settings.api_prefix`; the environment may override it"
        ]
    );
}

#[test]
fn what_depends_on_run_time_is_marked_not_guessed() {
    let report = report_json(&fixture("fastapi_dynamic"), &[]);
    assert_eq!(
        route_rows(&report),
        [
            row("mount", "/auth{?}", ""),
            row("mount", "{?}", ""),
            row(
                "GET",
                "/api/{?}/",
                "svc.routers:make_crud_router.<locals>.list_all"
            ),
            row(
                "GET",
                "/api/{?}/{item_id}",
                "svc.routers:make_crud_router.<locals>.get_one"
            ),
            row("GET", "/extras/partial", "svc.extras:with_partial"),
            row("GET", "/extras/lambda", "svc.extras:with_lambda"),
            row("GET", "/orphan/lost", "svc.routers:lost"),
        ]
    );
    assert_eq!(
        strings(&route(&report, "mount", "/auth{?}")["dynamic"]),
        [
            "included router: the router is built by `fastapi_users.FastAPIUsers(...).get_auth_router(...)`, outside the analysed code"
        ]
    );
    assert_eq!(
        strings(&route(&report, "mount", "{?}")["dynamic"]),
        [
            "included router: `router` runs over `load_plugin_routers()` (line 16), computed at run time"
        ]
    );
    assert_eq!(
        strings(&route(&report, "GET", "/api/{?}/")["dynamic"]),
        ["router prefix `f\"/{name}\"` has parts only known at run time"]
    );
    let orphan = route(&report, "GET", "/orphan/lost");
    assert!(orphan.get("app").is_none());
    assert_eq!(
        strings(&orphan["dynamic"]),
        ["router `svc.routers:orphan` is not included in any application"]
    );
    assert_eq!(
        strings(&route(&report, "GET", "/extras/partial")["all_dependencies"]),
        ["tenancy.auth.require_tenant", "svc.extras:paginate"]
    );
    assert_eq!(
        dependency(&report, "tenancy.auth.require_tenant")["kind"],
        "external"
    );
    let lambda = dependency(&report, "lambda ...");
    assert_eq!(lambda["kind"], "unresolved");
    assert_eq!(lambda["reason"], "a lambda");
    assert_eq!(strings(&report["apps"][0]["served_as"]), ["svc.main:api"]);
}

#[test]
fn routes_command_filters_by_method_and_path_prefix() {
    let out = explore()
        .args(["routes"])
        .arg(fixture("fastapi_forms"))
        .args([
            "--method",
            "get",
            "--method",
            "WS",
            "--path-prefix",
            "/reports",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("METHOD"));
    assert!(lines[1].starts_with("GET     /reports/summary"), "{text}");
    assert!(lines[2].starts_with("WS      /reports/live"), "{text}");
    assert!(lines[3].starts_with("WS      /reports/stream"), "{text}");
    assert_eq!(lines[5], "3 routes");

    let out = explore()
        .args(["routes"])
        .arg(fixture("backend"))
        .args(["--format", "json", "--method", "post"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let paths: Vec<&str> = doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/analysis/files",
            "/api/v1/repositories",
            "/api/v1/repositories/{repo_id}/refresh",
            "/api/v1/repositories/webhooks/github",
            "/api/v1/session/token",
            "/api/v1/session/logout",
        ]
    );
}

#[test]
fn routes_command_rejects_a_missing_folder() {
    let out = explore()
        .args(["routes", "/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn markdown_report_opens_with_applications_and_route_tables() {
    let out = explore()
        .arg(fixture("backend"))
        .arg("-q")
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    let apps = md.find("## Applications").expect("applications section");
    let routes = md.find("## Routes").expect("routes section");
    let layout = md.find("## Layout").expect("layout section");
    assert!(apps < routes && routes < layout);
    assert!(md.contains(
        "| POST | `/api/v1/repositories` | `submit_repository` `server/routes/repositories.py:24` | OAuth2PasswordBearer (repos:write) | `get_current_user`, `get_redis` |"
    ));
    assert!(md.contains("| 1 | `server.app:create_app.<locals>.add_timing_header` | function |"));
    assert!(md.contains("app -- \"/api/v1\" --> r0[\"server.routes:api_router\"]"));
    assert!(md.contains(
        "on startup `get_redis()`, `init_analytics()`, `asyncio.create_task()`, `relay_analysis_events()`, and sets `app.state.redis`; on shutdown"
    ));
    // The session socket is accepted inside the connection manager.
    assert!(md.contains(
        "- Hands the socket to `manager.connect` (`server.utils.connections:ConnectionManager.connect`) at line 43, which accepts it at `server/utils/connections.py:12`."
    ));
}

#[test]
fn routes_registered_through_calls_are_found() {
    let report = report_json(&fixture("fastapi_indirect"), &[]);
    assert_eq!(
        route_rows(&report),
        [
            row("GET", "/api/runs", "site.runs:list_runs"),
            row("POST", "/api/runs/{run_id}/cancel", "site.runs:cancel_run"),
            row("POST", "/auth/register", "site.signup:register_user"),
            row("GET", "/admin/stats", "site.main:admin_stats"),
            row("mount", "/", ""),
            row("GET", "/plugins/audit/log", "site.plugins:audit_log"),
            row("GET", "/plugins/billing/usage", "site.plugins:usage"),
        ]
    );
    let register = route(&report, "POST", "/auth/register");
    assert_eq!(register["conditional"], true);
    assert_eq!(register["line"], 13);
    assert_eq!(
        strings(&route(&report, "GET", "/plugins/audit/log")["included_via"]),
        ["site/plugins.py:20"]
    );
    let checker = dependency(&report, "site.auth:PermissionChecker");
    assert_eq!(checker["kind"], "callable_instance");
    assert_eq!(strings(&checker["used_by"]), ["GET /admin/stats"]);
}

#[test]
fn loops_over_literal_collections_register_one_router_per_pass() {
    let report = report_json(&fixture("fastapi_loops"), &[]);
    assert_eq!(
        route_rows(&report),
        vec![
            row("GET", "/areas/invoices", "gateway.areas:list_invoices"),
            row("GET", "/areas/parcels", "gateway.areas:list_parcels"),
            row("GET", "/api/v1/invoices", "gateway.areas:list_invoices"),
            row("GET", "/api/v2/parcels", "gateway.areas:list_parcels"),
            row("GET", "/tools/metrics/health", "gateway.tools:health"),
            row("GET", "/tools/docs/index", "gateway.tools:docs_index"),
            row("mount", "{?}", ""),
            row(
                "GET",
                "/teams/{team_id}/widgets",
                "gateway.main:list_widgets"
            ),
        ]
    );
    // The list filled at run time is not unrolled: the inclusion is kept,
    // marked, and may not happen at all.
    let extra = &report["routes"][6];
    assert_eq!(extra["unresolved_include"], true);
    assert_eq!(extra["conditional"], true);
    assert!(!extra["dynamic"].as_array().unwrap().is_empty());
    // Mounted applications are not applications of their own.
    let apps: Vec<(String, u64, Vec<String>)> = report["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["object"].as_str().unwrap().to_string(),
                a["route_count"].as_u64().unwrap(),
                strings(&a["mounted_in"]),
            )
        })
        .collect();
    assert_eq!(
        apps,
        vec![
            ("gateway.main:app".to_string(), 8, vec![]),
            (
                "gateway.tools:metrics".to_string(),
                1,
                vec!["gateway/main.py:19".to_string()]
            ),
            (
                "gateway.tools:docs".to_string(),
                1,
                vec!["gateway/main.py:19".to_string()]
            ),
        ]
    );
    assert_eq!(
        strings(&route(&report, "GET", "/areas/invoices")["tags"]),
        vec!["billing"]
    );
}

#[test]
fn doubled_braces_in_an_f_string_path_are_one_brace() {
    let report = report_json(&fixture("fastapi_loops"), &[]);
    let r = route(&report, "GET", "/teams/{team_id}/widgets");
    let params: Vec<(String, String)> = r["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        params,
        vec![
            ("team_id".to_string(), "path".to_string()),
            ("page".to_string(), "query".to_string()),
        ]
    );
}

#[test]
fn route_table_marks_unresolved_inclusions_and_run_time_parts() {
    let out = explore()
        .args(["routes", "--quiet"])
        .arg(fixture("fastapi_loops"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let include = text
        .lines()
        .find(|l| l.starts_with("INCLUDE "))
        .expect("the unresolved inclusion has a row");
    let cells: Vec<&str> = include
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        vec![
            "INCLUDE",
            "{?} (conditional)",
            "the routes of `router`",
            "none found",
            "gateway/main.py:22"
        ]
    );
    assert!(text.contains("{?} marks a part of a path known only at run time"));
}

#[test]
fn models_are_linked_to_the_routes_that_take_return_or_send_them() {
    let report = report_json(&fixture("backend"), &[]);
    let uses = |class: &str| -> Vec<(String, String, String)> {
        report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["class"] == class)
            .unwrap_or_else(|| panic!("no model {class}"))["used"]
            .as_array()
            .map(|u| {
                u.iter()
                    .map(|x| {
                        (
                            x["role"].as_str().unwrap().to_string(),
                            x["route"].as_str().unwrap().to_string(),
                            x["at"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let u = |r: &str, route: &str, at: &str| (r.to_string(), route.to_string(), at.to_string());
    assert_eq!(
        uses("server.models.analysis:FileAnalysisRequest"),
        vec![u(
            "body",
            "POST /api/v1/analysis/files",
            "server/routes/analysis.py:14"
        )]
    );
    assert_eq!(
        uses("server.models.analysis:AnalysisTicket"),
        vec![
            u(
                "response",
                "POST /api/v1/analysis/files",
                "server/routes/analysis.py:14"
            ),
            u(
                "response",
                "POST /api/v1/repositories",
                "server/routes/repositories.py:23"
            ),
        ]
    );
    // `response_model=list[RepositoryOut]`: the class inside the generic.
    assert_eq!(
        uses("server.models.analysis:RepositoryOut"),
        vec![u(
            "response",
            "GET /api/v1/repositories/",
            "server/routes/repositories.py:35"
        )]
    );
    assert_eq!(
        uses("server.models.analysis:ProgressMessage"),
        vec![u(
            "websocket_message",
            "WS /ws/analysis/{analysis_id}",
            "server/routes/websocket.py:31"
        )]
    );
    assert!(uses("server.models.session:User").is_empty());
}

#[test]
fn hand_written_checks_and_fastapi_users_count_as_authentication() {
    let report = report_json(&fixture("auth_checks"), &[]);
    let auth: Vec<(String, Vec<String>)> = report["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["auth"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                format!(
                                    "{} {}",
                                    x["scheme"].as_str().unwrap(),
                                    x["instance"].as_str().unwrap()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect();
    let row = |p: &str, a: &[&str]| (p.to_string(), a.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        auth,
        vec![
            row(
                "/me",
                &["FastAPIUsers.current_user portal.users:current_active_user"]
            ),
            row(
                "/admin/reindex",
                &["custom check (raises 401) portal.users:require_admin_token"]
            ),
            row(
                "/articles/{article_id}",
                &["custom check (raises 403) portal.users:editors_only"]
            ),
            // A 422 for a bad page number is validation, not authentication.
            row("/articles", &[]),
            // The 401 is raised by a helper the dependency calls, and bound
            // to a module-level name first.
            row(
                "/reading-list",
                &["custom check (raises 401) portal.users:current_reader"]
            ),
            // Bound to a local name, then raised.
            row(
                "/staff/report",
                &["custom check (raises 403) portal.users:staff_only"]
            ),
            // Project subclasses of `HTTPException`: the status passed to
            // `super().__init__`, or the nearest `status_code` of the chain.
            row(
                "/billing",
                &[
                    "custom check (raises 401) portal.users:signed_in",
                    "custom check (raises 403) portal.users:paid_plan"
                ]
            ),
            // A 400 from the same family is not authentication.
            row("/search", &[]),
            // Raised in a method of a module-level instance.
            row(
                "/export",
                &["custom check (raises 401) portal.users:api_client"]
            ),
            // A plain exception the application's handler answers with 401;
            // another answered with 429 is no authentication.
            row(
                "/inbox",
                &["custom check (raises 401) portal.users:fresh_session"]
            ),
            row("/uploads", &[]),
        ]
    );
    let deps = report["dependencies"].as_array().unwrap();
    let admin = deps
        .iter()
        .find(|d| d["target"] == "portal.users:require_admin_token")
        .unwrap();
    assert_eq!(admin["rejects_with"], 401);
    // The human table names the dependency that makes each check.
    let out = explore()
        .args(["routes"])
        .arg(fixture("auth_checks"))
        .args(["--path-prefix", "/billing"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(
            "custom check in signed_in (raises 401), custom check in paid_plan (raises 403)"
        ),
        "{table}"
    );
}
