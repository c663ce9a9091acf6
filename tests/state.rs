//! Shared state and outside services, end to end: Redis clients, commands
//! and the keys that tie workers to the web process; SDK clients,
//! analytics events and HTTP calls; and what each route and task reaches.

mod common;

use common::{explore, fixture, markdown, report_json, row, select};
use serde_json::Value;

fn text(v: &Value) -> String {
    v["value"].as_str().map_or_else(
        || format!("<dynamic: {}>", v["reason"].as_str().unwrap_or("?")),
        str::to_string,
    )
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Four strings and a list: one row of an expected table.
type Row = (String, String, String, String, Vec<String>);

/// `(file:line, function, command, access, keys)` of every Redis command.
fn operations(report: &Value) -> Vec<Row> {
    report["redis"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}:{}", o["file"].as_str().unwrap(), o["line"]),
                o["function"].as_str().unwrap_or("<module>").to_string(),
                o["command"].as_str().unwrap().to_string(),
                o["access"].as_str().unwrap().to_string(),
                o["keys"]
                    .as_array()
                    .map(|ks| ks.iter().map(|k| text(&k["key"])).collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn op(at: &str, function: &str, command: &str, access: &str, keys: &[&str]) -> Row {
    (
        at.into(),
        function.into(),
        command.into(),
        access.into(),
        keys.iter().map(|k| k.to_string()).collect(),
    )
}

/// `(key, kind, written_by, read_by, crosses_processes)`.
type Coupling = (String, String, Vec<String>, Vec<String>, bool);

/// Every coupling of the report.
fn couplings(report: &Value) -> Vec<Coupling> {
    report["couplings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                strs(&c["written_by"]),
                strs(&c["read_by"]),
                c["crosses_processes"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn flow<'a>(report: &'a Value, entry: &str) -> &'a Value {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entry"] == entry)
        .unwrap_or_else(|| panic!("no flow {entry}"))
}

#[test]
fn redis_clients_are_found_under_any_import_form_with_who_hands_them_out() {
    let report = report_json(&fixture("redis_forms"), &[]);
    let clients: Vec<(String, String, String, String)> = report["redis"]["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!("{}:{}", c["file"].as_str().unwrap(), c["line"]),
                c["kind"].as_str().unwrap().to_string(),
                c["constructor"].as_str().unwrap().to_string(),
                c["function"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let c = |a: &str, k: &str, ctor: &str, f: &str| (a.into(), k.into(), ctor.into(), f.into());
    assert_eq!(
        clients,
        vec![
            c(
                "cachesvc/clients.py:15",
                "client",
                "redis.Redis.from_url",
                "cachesvc.clients:get_client"
            ),
            c(
                "cachesvc/clients.py:19",
                "client",
                "redis.asyncio.Redis",
                "cachesvc.clients:get_async_client"
            ),
            c(
                "cachesvc/clients.py:28",
                "sentinel",
                "redis.sentinel.Sentinel",
                "-"
            ),
            c(
                "cachesvc/clients.py:30",
                "cluster",
                "redis.cluster.RedisCluster",
                "-"
            ),
        ]
    );
    let first = &report["redis"]["clients"][0];
    assert_eq!(first["url"]["value"], "redis://cache:6379/0");
    assert!(
        first["url"]["note"]
            .as_str()
            .unwrap()
            .contains("CacheSettings.redis_url")
    );
    let second = &report["redis"]["clients"][1];
    assert_eq!(second["is_async"], true);
    // `int(os.getenv("ASYNC_CACHE_PORT", 6380))`: the number default, noted
    // as one the environment may override; `str(...)` of a text default.
    assert_eq!(second["port"]["value"], "6380");
    assert!(
        second["port"]["note"]
            .as_str()
            .unwrap()
            .contains("ASYNC_CACHE_PORT")
    );
    assert_eq!(second["db"]["value"], "3");
    let providers: Vec<(String, String)> = report["redis"]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["function"].as_str().unwrap().to_string(),
                p["client"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        providers,
        vec![
            (
                "cachesvc.clients:get_client".to_string(),
                "cachesvc/clients.py:15".to_string()
            ),
            (
                "cachesvc.clients:get_async_client".to_string(),
                "cachesvc/clients.py:19".to_string()
            ),
        ]
    );
}

#[test]
fn every_key_building_form_folds_into_a_pattern() {
    let report = report_json(&fixture("redis_forms"), &[]);
    let ops = operations(&report);
    let expected = vec![
        op(
            "cachesvc/api.py:24",
            "cachesvc.api:job_progress",
            "hgetall",
            "read",
            &["job:{}:progress"],
        ),
        op(
            "cachesvc/api.py:31",
            "cachesvc.api:scores",
            "psubscribe",
            "subscribe",
            &["scores.*"],
        ),
        op(
            "cachesvc/api.py:32",
            "cachesvc.api:scores",
            // Receiving on the pub/sub object: the channels it subscribed to.
            "listen",
            "subscribe",
            &["scores.*"],
        ),
        op(
            "cachesvc/clients.py:23",
            "cachesvc.clients:get_async_client",
            "aclose",
            "other",
            &[],
        ),
        op(
            "cachesvc/store.py:20",
            "cachesvc.store:JobStore.create",
            "hset",
            "write",
            &["jobs:{}"],
        ),
        op(
            "cachesvc/store.py:21",
            "cachesvc.store:JobStore.create",
            "lpush",
            "write",
            &["jobs:pending"],
        ),
        op(
            "cachesvc/store.py:25",
            "cachesvc.store:JobStore.finish",
            "expire",
            "write",
            &["jobs:{}"],
        ),
        op(
            "cachesvc/store.py:25",
            "cachesvc.store:JobStore.finish",
            "hset",
            "write",
            &["jobs:{}"],
        ),
        op(
            "cachesvc/store.py:26",
            "cachesvc.store:JobStore.finish",
            "xadd",
            "write",
            &["jobs:{}:log"],
        ),
        op(
            "cachesvc/store.py:27",
            "cachesvc.store:JobStore.finish",
            "execute",
            "other",
            &[],
        ),
        op(
            "cachesvc/store.py:30",
            "cachesvc.store:JobStore.next_job",
            "brpop",
            "consume",
            &["jobs:pending"],
        ),
        op(
            "cachesvc/store.py:33",
            "cachesvc.store:JobStore.remember_sessions",
            "mset",
            "write",
            &["session:{}"],
        ),
        op(
            "cachesvc/store.py:34",
            "cachesvc.store:JobStore.remember_sessions",
            "mset",
            "write",
            &["session:admin", "sessions:updated"],
        ),
        op(
            "cachesvc/store.py:42",
            "cachesvc.store:Limiter.hit",
            "incr",
            "write",
            &["rate:{}:minute"],
        ),
        op(
            "cachesvc/store.py:43",
            "cachesvc.store:Limiter.hit",
            "expire",
            "write",
            &["rate:{}:minute"],
        ),
        // A lock's key passed to its methods is the one each caller names:
        // through `set`, a one-key script and a one-key `delete`.
        op(
            "cachesvc/store.py:73",
            "cachesvc.store:nightly_cleanup",
            "set",
            "write",
            &["locks:cleanup"],
        ),
        op(
            "cachesvc/store.py:74",
            "cachesvc.store:nightly_cleanup",
            "eval",
            "write",
            &["locks:cleanup"],
        ),
        op(
            "cachesvc/store.py:76",
            "cachesvc.store:nightly_cleanup",
            "delete",
            "write",
            &["locks:cleanup"],
        ),
        op(
            "cachesvc/worker.py:12",
            "cachesvc.worker:run_job",
            "hset",
            "write",
            &["job:{}:progress"],
        ),
        op(
            "cachesvc/worker.py:13",
            "cachesvc.worker:run_job",
            "zincrby",
            "write",
            &["leaderboard:{}"],
        ),
        op(
            "cachesvc/worker.py:14",
            "cachesvc.worker:run_job",
            "publish",
            "publish",
            &["scores.{}"],
        ),
        op(
            "cachesvc/worker.py:20",
            "cachesvc.worker:warm_cache",
            "get",
            "read",
            &["leaderboard:{}"],
        ),
    ];
    assert_eq!(ops, expected);
    let pipelined: Vec<u64> = report["redis"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["via_pipeline"] == true)
        .map(|o| o["line"].as_u64().unwrap())
        .collect();
    assert_eq!(pipelined, vec![25, 25, 26, 27]);
    // The script may read the key too: it is listed among the readers.
    let lock = select(&report["redis"]["keys"], "key", "locks:cleanup")[0];
    let uses = |list: &str| -> Vec<String> {
        lock[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                format!(
                    "{}:{} {}",
                    u["file"].as_str().unwrap(),
                    u["line"],
                    u["command"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        uses("writers"),
        [
            "cachesvc/store.py:73 set",
            "cachesvc/store.py:74 eval",
            "cachesvc/store.py:76 delete"
        ]
    );
    assert_eq!(uses("readers"), ["cachesvc/store.py:74 eval"]);
    let glob = report["redis"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "scores.*")
        .unwrap();
    assert_eq!(glob["glob"], true);
    assert_eq!(strs(&glob["matches"]), vec!["scores.{}"]);
}

#[test]
fn keys_shared_by_a_worker_and_the_web_process_are_couplings() {
    let report = report_json(&fixture("redis_forms"), &[]);
    let crossing: Vec<_> = couplings(&report).into_iter().filter(|c| c.4).collect();
    assert_eq!(
        crossing,
        vec![
            (
                "job:{}:progress".to_string(),
                "key".to_string(),
                vec!["cachesvc.worker.run_job".to_string()],
                vec!["GET /jobs/{job_id}/progress".to_string()],
                true
            ),
            (
                "scores.{}".to_string(),
                "channel".to_string(),
                vec!["cachesvc.worker.run_job".to_string()],
                vec!["WS /jobs/scores".to_string()],
                true
            ),
        ]
    );
    // Methods called on a fresh instance are followed into.
    let submit = flow(&report, "POST /jobs/{job_id}");
    let mut keys: Vec<String> = submit["redis"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| strs(&r["keys"]))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys, vec!["jobs:pending", "jobs:{}", "rate:{}:minute"]);
}

#[test]
fn the_backend_worker_writes_the_progress_key_the_websocket_polls() {
    let report = report_json(&fixture("backend"), &[]);
    let key = select(&report["redis"]["keys"], "key", "analysis:{}:progress")[0];
    let sites = |list: &str| -> Vec<String> {
        key[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                format!(
                    "{}:{} {} {}",
                    u["file"].as_str().unwrap(),
                    u["line"],
                    u["function"].as_str().unwrap(),
                    u["command"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        sites("writers"),
        vec![
            "server/actions/analysis.py:39 server.actions.analysis:submit_file_analysis hset",
            "server/actions/analysis.py:54 server.actions.analysis:submit_repository hset",
            "server/actions/analysis.py:91 server.actions.analysis:cancel_analysis delete",
            "tasks/analysis.py:34 tasks.analysis:analyze_file hset",
            "tasks/analysis.py:42 tasks.analysis:analyze_file hset",
            "tasks/analysis.py:43 tasks.analysis:analyze_file expire",
            "tasks/repositories.py:35 tasks.repositories:analyze_repository hset",
        ]
    );
    assert_eq!(
        sites("readers"),
        vec![
            "server/actions/analysis.py:76 server.actions.analysis:get_status hgetall",
            "server/actions/analysis.py:89 server.actions.analysis:cancel_analysis exists",
            "server/routes/websocket.py:29 server.routes.websocket:analysis_progress hgetall",
            "tasks/analysis.py:57 tasks.analysis:summarize hgetall",
        ]
    );
    let all = couplings(&report);
    let progress = all.iter().find(|c| c.0 == "analysis:{}:progress").unwrap();
    assert!(progress.4);
    assert!(
        progress
            .2
            .contains(&"tasks.analysis.analyze_file".to_string())
    );
    assert!(
        progress
            .3
            .contains(&"WS /ws/analysis/{analysis_id}".to_string())
    );
    // The channel the worker publishes on is read by a loop the lifespan
    // starts: the web process, outside any request.
    let events = all.iter().find(|c| c.0 == "analysis-events").unwrap();
    assert_eq!(
        (events.1.as_str(), &events.2, &events.3, events.4),
        (
            "channel",
            &vec!["tasks.analysis.analyze_file".to_string()],
            &vec!["lifespan server.app:lifespan".to_string()],
            true
        )
    );
}

#[test]
fn a_route_flow_goes_through_the_service_layer_to_tasks_keys_and_events() {
    let report = report_json(&fixture("backend"), &[]);
    let f = flow(&report, "POST /api/v1/analysis/files");
    assert_eq!(f["kind"], "route");
    assert_eq!(f["function"], "server.routes.analysis:submit_file");
    let calls: Vec<String> = f["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(calls[0], "server.actions.analysis:submit_file_analysis");
    let sends: Vec<(String, String)> = f["enqueues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["task"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sends,
        vec![
            (
                "tasks.analysis.analyze_file".to_string(),
                "apply_async".to_string()
            ),
            (
                "tasks.analysis.analyze_file".to_string(),
                "delay".to_string()
            ),
        ]
    );
    let events: Vec<&str> = f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["analysis_submitted"]);
    // The dependency get_current_user reads the session key on every request.
    let reads: Vec<String> = f["redis"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["access"] == "read")
        .flat_map(|r| strs(&r["keys"]))
        .collect();
    assert_eq!(reads, vec!["session:{}"]);
    let repo = flow(&report, "POST /api/v1/repositories");
    assert_eq!(repo["http"][0]["url"], "https://api.github.com/repos/{}/{}");
}

/// `(event, package, file:line, via)` of every analytics event tracked in
/// `file`.
fn events(report: &Value, file: &str) -> Vec<(String, String, String, Vec<String>)> {
    report["services"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"] == file)
        .map(|e| {
            (
                text(&e["event"]),
                e["package"].as_str().unwrap().to_string(),
                format!("{}:{}", e["file"].as_str().unwrap(), e["line"]),
                strs(&e["via"]),
            )
        })
        .collect()
}

#[test]
fn analytics_events_are_read_where_they_are_written_through_wrappers() {
    let report = report_json(&fixture("services_forms"), &[]);
    let track = "shop.telemetry:track at shop/telemetry.py:21".to_string();
    let e = |name: &str, pkg: &str, at: &str, via: &[&String]| {
        (
            name.to_string(),
            pkg.to_string(),
            at.to_string(),
            via.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        )
    };
    let audit = "shop.telemetry:audit at shop/telemetry.py:25".to_string();
    let emit = "shop.telemetry:Telemetry.emit at shop/telemetry.py:33".to_string();
    assert_eq!(
        events(&report, "shop/orders.py"),
        vec![
            e("order_placed", "mixpanel", "shop/orders.py:8", &[&track]),
            e("checkout_completed", "posthog", "shop/orders.py:9", &[]),
            e("order_shipped", "posthog", "shop/orders.py:10", &[]),
            e("order_{}", "mixpanel", "shop/orders.py:11", &[&emit]),
            e("Order Placed", "amplitude", "shop/orders.py:12", &[]),
            e("Order Completed", "segment", "shop/orders.py:13", &[]),
            e(
                "order_cancelled",
                "mixpanel",
                "shop/orders.py:18",
                &[&track]
            ),
            e(
                "inventory_synced",
                "mixpanel",
                "shop/orders.py:22",
                &[&audit, &track]
            ),
            e(
                "<dynamic: parameter `name` of `shop.orders:forward`, which nothing in the analysed code calls>",
                "mixpanel",
                "shop/orders.py:26",
                &[&track]
            ),
        ]
    );
    let list: Vec<&Value> = report["services"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"] == "shop/orders.py")
        .collect();
    assert_eq!(strs(&list[0]["properties"]), vec!["total", "currency"]);
    assert_eq!(list[1]["subject"], "user.id");
    assert_eq!(strs(&list[2]["properties"]), vec!["carrier"]);
    assert_eq!(strs(&list[7]["properties"]), vec!["count"]);
    assert_eq!(list[7]["subject"], "\"system\"");
}

#[test]
fn http_calls_name_method_and_url_through_clients_base_urls_and_wrappers() {
    let report = report_json(&fixture("services_forms"), &[]);
    let calls: Vec<(String, String, String, String, Vec<String>)> =
        report["services"]["http_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["method"].as_str().unwrap().to_string(),
                    text(&h["url"]),
                    h["client"].as_str().unwrap().to_string(),
                    format!("{}:{}", h["file"].as_str().unwrap(), h["line"]),
                    strs(&h["via"]),
                )
            })
            .collect();
    let h = |m: &str, u: &str, c: &str, at: &str, via: &[&str]| {
        (
            m.to_string(),
            u.to_string(),
            c.to_string(),
            at.to_string(),
            via.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        )
    };
    let call = "shop.partners:ShippingClient._call at shop/partners.py:26";
    assert_eq!(
        calls,
        vec![
            h(
                "POST",
                "https://api.stripe.com/v1/charges",
                "requests",
                "shop/partners.py:14",
                &[]
            ),
            h(
                "GET",
                "https://api.exchangerate.example/latest",
                "requests",
                "shop/partners.py:18",
                &[]
            ),
            h(
                "POST",
                "https://shipping.example.com/api/labels/{}",
                "httpx",
                "shop/partners.py:29",
                &[call]
            ),
            h(
                "GET",
                "https://shipping.example.com/api/tracking/{}",
                "httpx",
                "shop/partners.py:32",
                &[call]
            ),
            h(
                "POST",
                "https://partner.example.org/hooks/orders",
                "aiohttp",
                "shop/partners.py:42",
                &["shop.partners:notify_webhook at shop/partners.py:37"]
            ),
            h(
                "GET",
                "http://legacy.internal:8080/feed.xml",
                "urllib",
                "shop/partners.py:46",
                &[]
            ),
            // A name bound more than once says what each binding holds.
            h(
                "GET",
                "<dynamic: `image_url` holds one of 2 values, none known here: \
                 `requests.get(image_url).content` is only known at run time; `image_url` from \
                 the caller or a loop>",
                "requests",
                "shop/partners.py:52",
                &[]
            ),
            h(
                "GET",
                "<dynamic: `url` holds one of several values: `https://status.example.com/eu`, \
                 `https://status.example.com/us`>",
                "requests",
                "shop/partners.py:60",
                &[]
            ),
            h(
                "GET",
                "<dynamic: `url or else \"\"` holds one of several values: an empty string, or \
                 `url` is only known at run time>",
                "requests",
                "shop/partners.py:64",
                &[]
            ),
        ]
    );
    assert_eq!(
        report["services"]["http_calls"][0]["host"],
        "https://api.stripe.com"
    );
}

#[test]
fn sdk_clients_are_listed_with_the_functions_that_use_them() {
    let report = report_json(&fixture("services_forms"), &[]);
    let clients: Vec<(String, String, String, String, Vec<String>)> =
        report["services"]["sdk_clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    format!("{}:{}", c["file"].as_str().unwrap(), c["line"]),
                    c["category"].as_str().unwrap().to_string(),
                    c["constructor"].as_str().unwrap().to_string(),
                    c["form"].as_str().unwrap().to_string(),
                    strs(&c["used_by"]),
                )
            })
            .collect();
    let c = |at: &str, cat: &str, ctor: &str, form: &str, users: &[&str]| {
        (
            at.to_string(),
            cat.to_string(),
            ctor.to_string(),
            form.to_string(),
            users.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        clients,
        vec![
            c(
                "shop/assistant.py:6",
                "cloud",
                "boto3.client",
                "call",
                &["shop.assistant:archive"]
            ),
            c(
                "shop/assistant.py:7",
                "llm",
                "openai.OpenAI",
                "call",
                &["shop.assistant:summarise"]
            ),
            c(
                "shop/partners.py:10",
                "http-client",
                "requests.Session",
                "call",
                &["shop.partners:charge"]
            ),
            c(
                "shop/partners.py:23",
                "http-client",
                "httpx.Client",
                "call",
                &["shop.partners:ShippingClient._call"]
            ),
            c(
                "shop/partners.py:36",
                "http-client",
                "aiohttp.ClientSession",
                "call",
                &["shop.partners:notify_webhook"]
            ),
            c(
                "shop/telemetry.py:12",
                "analytics",
                "posthog.project_api_key",
                "assignment",
                &[]
            ),
            c(
                "shop/telemetry.py:13",
                "analytics",
                "analytics.write_key",
                "assignment",
                &[]
            ),
            c(
                "shop/telemetry.py:15",
                "analytics",
                "mixpanel.Mixpanel",
                "call",
                &["shop.telemetry:track"]
            ),
            c(
                "shop/telemetry.py:16",
                "analytics",
                "amplitude.Amplitude",
                "call",
                &["shop.orders:place_order"]
            ),
            c(
                "shop/telemetry.py:17",
                "monitoring",
                "sentry_sdk.init",
                "call",
                &[]
            ),
            c(
                "shop/telemetry.py:30",
                "analytics",
                "mixpanel.Mixpanel",
                "call",
                &["shop.telemetry:Telemetry.emit"]
            ),
        ]
    );
}

#[test]
fn markdown_report_shows_shared_state_flows_and_outside_services() {
    let out = explore()
        .arg(fixture("backend"))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    for heading in [
        "## What each route and task does",
        "## Shared state (Redis)",
        "### Keys that tie the web process to the workers",
        "## Outside services",
        "### Analytics events",
        "### HTTP calls to other services",
    ] {
        assert!(md.contains(heading), "missing {heading}");
    }
    assert!(md.contains("    e0[\"tasks.analysis.analyze_file\"]\n    e0 -- writes --> k0\n"));
    assert!(md.contains(
        "| `analysis_completed` | mixpanel | `analyze_file` `tasks/analysis.py:50` | analysis_id, findings | `server.utils.analytics:track_event` |"
    ));
    assert!(md.contains(
        "| GET | `https://api.github.com/repos/{}/{}` | httpx | `fetch_repository_metadata` `server/actions/repositories.py:16` |  |"
    ));
}

#[test]
fn flows_follow_each_file_when_two_roots_share_a_module_name() {
    let report = report_json(&fixture("two_services"), &[]);
    let flows: Vec<(String, Vec<String>)> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap().to_string(),
                f["redis"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        format!(
                            "{}:{} {}",
                            r["file"].as_str().unwrap(),
                            r["line"],
                            r["command"].as_str().unwrap()
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        flows,
        vec![
            (
                "main:status".to_string(),
                vec!["admin/main.py:10 set".to_string()]
            ),
            (
                "main:status".to_string(),
                vec!["api/main.py:10 get".to_string()]
            ),
        ]
    );
}

#[test]
fn a_key_that_is_a_celery_queue_is_named_as_one_and_django_views_are_declared_out_of_scope() {
    let md = markdown("django_celery");
    assert!(md.contains(
        "The code also uses `django`: routes and views of frameworks other than FastAPI and \
         Starlette are not mapped"
    ));
    assert!(md.contains(
        "| `emails` | key |  | `queue_depth` (shop/views.py:16 llen) | a Celery queue: the \
         broker pushes each task sent to it onto this list, and workers take them off |"
    ));
}

#[test]
fn django_redis_connections_are_clients_of_a_named_cache() {
    let report = report_json(&fixture("django_celery"), &[]);
    let clients: Vec<(String, String, String)> = report["redis"]["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!("{}:{}", c["file"].as_str().unwrap(), c["line"]),
                c["constructor"].as_str().unwrap().to_string(),
                c["cache_alias"]["value"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string(),
            )
        })
        .collect();
    let c = |a: &str, ctor: &str, alias: &str| (a.to_string(), ctor.to_string(), alias.to_string());
    assert_eq!(
        clients,
        vec![
            c(
                "shop/tasks.py:7",
                "django_redis.get_redis_connection",
                "default"
            ),
            c("shop/views.py:7", "redis.Redis.from_url", "-"),
            c(
                "shop/views.py:20",
                "django_redis.get_redis_connection",
                "default"
            ),
        ]
    );
    let ops = operations(&report);
    assert!(ops.contains(&op(
        "shop/tasks.py:8",
        "shop.tasks:send_receipt",
        "set",
        "write",
        &["receipt:{}:lock"]
    )));
    assert!(ops.contains(&op(
        "shop/views.py:20",
        "shop.views:receipt_pending",
        "exists",
        "read",
        &["receipt:{}:lock"]
    )));
    let md = markdown("django_celery");
    assert!(md.contains(
        "| `shop/tasks.py:7` | client | `django_redis.get_redis_connection` | Django cache \
         `default` of `CACHES` | `conn` in `send_receipt` |"
    ));
}

#[test]
fn keys_read_only_through_a_glob_say_so() {
    let md = markdown("backend");
    let summary = row(&md, "| `analysis:{}:summary` |");
    assert!(
        summary.ends_with("| read through the glob `analysis:*` |"),
        "{summary}"
    );
}

#[test]
fn routes_and_tasks_that_reach_nothing_are_counted_not_dropped() {
    let md = markdown("backend");
    let report = report_json(&fixture("backend"), &[]);
    let quiet = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            ["enqueues", "redis", "events", "http"]
                .iter()
                .all(|k| f[*k].as_array().is_none_or(|a| a.is_empty()))
        })
        .count();
    assert!(quiet > 0);
    assert!(md.contains(&format!(
        "{quiet} more routes and tasks reach no task, Redis key, event or outside call"
    )));
}

#[test]
fn events_chosen_by_branch_or_loop_and_sent_through_task_wrappers_are_all_found() {
    let report = report_json(&fixture("services_forms"), &[]);
    let got: Vec<(String, u64, Vec<String>)> = report["services"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"] == "shop/checkout.py")
        .map(|e| {
            (
                text(&e["event"]),
                e["line"].as_u64().unwrap(),
                strs(&e["properties"]),
            )
        })
        .collect();
    let e = |name: &str, line: u64, props: &[&str]| {
        (
            name.to_string(),
            line,
            props.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        got,
        vec![
            e("payment_failed", 16, &["source", "amount"]),
            e("payment_succeeded", 16, &["source", "amount"]),
            e("cart_closed", 18, &["source"]),
            e("session_closed", 18, &["source"]),
            e("receipt_sent", 19, &[]),
            e("refund_queued", 20, &[]),
        ]
    );
}

#[test]
fn flows_follow_inheritance_factories_properties_providers_and_key_helpers() {
    let report = report_json(&fixture("flow_forms"), &[]);
    let reached = |entry: &str| -> (Vec<String>, Vec<String>, Vec<String>) {
        let f = flow(&report, entry);
        let list = |k: &str, fmt: &dyn Fn(&Value) -> String| -> Vec<String> {
            f[k].as_array()
                .map(|a| a.iter().map(fmt).collect())
                .unwrap_or_default()
        };
        (
            list("redis", &|r| {
                format!(
                    "{} {} @{}:{}",
                    r["command"].as_str().unwrap(),
                    strs(&r["keys"]).join(","),
                    r["file"].as_str().unwrap(),
                    r["line"]
                )
            }),
            list("enqueues", &|e| e["task"].as_str().unwrap().to_string()),
            list("http", &|h| {
                format!(
                    "{} {}",
                    h["method"].as_str().unwrap(),
                    h["url"].as_str().unwrap()
                )
            }),
        )
    };
    let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        reached("POST /feed/{user_id}"),
        (
            v(&["lpush feed:{} @feeds/feeds.py:11"]),
            v(&[]),
            v(&["POST https://push.example.com/users/{}"])
        )
    );
    assert_eq!(
        reached("GET /ring"),
        (v(&["llen ring:events @feeds/store.py:42"]), v(&[]), v(&[]))
    );
    assert_eq!(
        reached("POST /docs/{doc_id}"),
        (v(&[]), v(&["feeds.api.render"]), v(&[]))
    );
    assert_eq!(
        reached("feeds.api.bump_unread"),
        (
            v(&["incr feed:{}:unread @feeds/feeds.py:15"]),
            v(&[]),
            v(&[])
        )
    );
    assert_eq!(
        reached("feeds.api.warm"),
        (
            v(&[
                "set cache:none,cache:{} @feeds/feeds.py:32",
                "eval hits:{} @feeds/feeds.py:33",
                "mget seen:{} @feeds/feeds.py:34",
            ]),
            v(&[]),
            v(&[])
        )
    );
    // The operation placed at the call that writes the key names the
    // helper it goes through.
    let op = report["redis"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["file"] == "feeds/feeds.py" && o["line"] == 11)
        .unwrap();
    assert_eq!(
        strs(&op["via"]),
        vec!["feeds.store:BaseFeed.push at feeds/store.py:25"]
    );
    // The Protocol's stub is not a place the flow goes.
    let docs = flow(&report, "POST /docs/{doc_id}");
    let calls: Vec<&str> = docs["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"].as_str().unwrap())
        .collect();
    assert_eq!(calls, vec!["feeds.api:CeleryQueue.submit"]);
}

#[test]
fn a_queue_built_with_its_client_and_key_couples_the_route_to_the_worker() {
    let report = report_json(&fixture("flow_forms"), &[]);
    let jobs = couplings(&report)
        .into_iter()
        .find(|c| c.0 == "jobs:{}")
        .expect("the jobs key couples");
    assert_eq!(
        jobs,
        (
            "jobs:{}".to_string(),
            "key".to_string(),
            vec!["POST /jobs/{kind}".to_string()],
            vec!["feeds.api.drain".to_string()],
            true
        )
    );
    // The client comes from what the constructor's callers pass.
    let ops: Vec<(u64, String)> = report["redis"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["file"] == "feeds/jobs.py")
        .map(|o| {
            (
                o["line"].as_u64().unwrap(),
                o["client"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (12, "feeds/jobs.py:3".to_string()),
            (15, "feeds/jobs.py:3".to_string())
        ]
    );
}

#[test]
fn clients_made_in_several_places_are_one_row_of_the_report() {
    let md = markdown("services_forms");
    assert!(md.contains(
        "| `mixpanel` | analytics | `mixpanel.Mixpanel(...)` | `shop/telemetry.py:15`, \
         `shop/telemetry.py:30` | `mp`, `self.client` | `Telemetry.emit`, `track` |"
    ));
    // A data class of an LLM package is not a client.
    assert!(!md.contains("PromptTemplate"));
}

#[test]
fn clients_and_services_kept_on_app_state_are_followed_from_every_handler() {
    let report = report_json(&fixture("app_state"), &[]);
    assert_eq!(
        operations(&report),
        vec![
            op(
                "stateapp/billing.py:6",
                "stateapp.billing:Billing.charge",
                "lpush",
                "write",
                &["invoices:{}"]
            ),
            op(
                "stateapp/main.py:18",
                "stateapp.main:lifespan",
                "aclose",
                "other",
                &[]
            ),
            op(
                "stateapp/main.py:30",
                "stateapp.main:visit",
                "incr",
                "write",
                &["visits:{}"]
            ),
            op(
                "stateapp/main.py:37",
                "stateapp.main:visits",
                "get",
                "read",
                &["visits:{}"]
            ),
            op(
                "stateapp/main.py:48",
                "stateapp.main:live",
                "get",
                "read",
                &["visits:{}"]
            ),
        ]
    );
    // Every command reaches the client the lifespan made, and the
    // dependency that reads it off the request is a provider of it.
    for o in report["redis"]["operations"].as_array().unwrap() {
        assert_eq!(o["client"], "stateapp/main.py:14", "{o}");
    }
    assert_eq!(report["redis"]["clients"][0]["variable"], "app.state.redis");
    assert_eq!(
        report["redis"]["providers"][0]["function"],
        "stateapp.main:get_cache"
    );
    let sdk = &report["services"]["sdk_clients"][0];
    assert_eq!(sdk["constructor"], "posthog.Posthog");
    assert_eq!(strs(&sdk["used_by"]), vec!["stateapp.main:visit"]);
    let event = &report["services"]["events"][0];
    assert_eq!(event["event"]["value"], "page visited");
    assert_eq!(event["function"], "stateapp.main:visit");
    // The service object on the state bag is a call into the service layer.
    let invoice = flow(&report, "POST /invoices/{customer}");
    assert_eq!(
        invoice["calls"][0]["function"],
        "stateapp.billing:Billing.charge"
    );
    assert_eq!(invoice["redis"][0]["keys"][0], "invoices:{}");
}

#[test]
fn functions_handed_to_runners_and_tasks_handed_to_helpers_are_followed() {
    let report = report_json(&fixture("flow_forms"), &[]);
    let digest = flow(&report, "POST /digest/{user_id}");
    let calls: Vec<(String, String, String)> = digest["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["depth"] == 1)
        .map(|c| {
            (
                c["function"].as_str().unwrap().to_string(),
                c["called_at"].as_str().unwrap().to_string(),
                c["passed_to"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let c = |f: &str, at: &str, p: &str| (f.to_string(), at.to_string(), p.to_string());
    assert_eq!(
        calls,
        vec![
            c("feeds.api:later", "feeds/api.py:82", "-"),
            c(
                "feeds.api:send_digest",
                "feeds/api.py:80",
                "background.add_task"
            ),
            c("feeds.store:save", "feeds/api.py:81", "partial"),
        ]
    );
    // The key the partial will write is read where the partial is made;
    // what the background task writes is part of the route's work.
    let writes: Vec<(String, String)> = digest["redis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["keys"][0].as_str().unwrap().to_string(),
                r["function"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        writes,
        vec![
            ("digest:{}".to_string(), "feeds.api:digest".to_string()),
            (
                "feed:{}".to_string(),
                "feeds.feeds:NewsFeed.publish".to_string()
            ),
        ]
    );
    // A task handed to a helper that enqueues it is enqueued where it is
    // handed in, and the task's own body is not part of the route's work.
    let sends: Vec<(String, String, u64, String)> = report["enqueues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["via"].is_string())
        .map(|e| {
            (
                e["task"]["value"].as_str().unwrap().to_string(),
                e["function"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap(),
                e["via"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sends,
        vec![(
            "feeds.api.render".to_string(),
            "feeds.api:digest".to_string(),
            82,
            "feeds.api:later at feeds/api.py:75".to_string()
        )]
    );
    assert_eq!(digest["enqueues"][0]["task"], "feeds.api.render");
    assert!(
        !digest["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["function"] == "feeds.api:render")
    );
    let md = markdown("flow_forms");
    assert!(
        md.contains("`send_digest` (through `add_task`), `save` (through `partial`)"),
        "{md}"
    );
}

#[test]
fn handlers_picked_from_a_dict_are_followed() {
    let report = report_json(&fixture("flow_forms"), &[]);
    let socket = flow(&report, "WS /ws/{user_id}");
    let calls: Vec<(&str, &str)> = socket["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["function"].as_str().unwrap(),
                c["passed_to"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    // `handler = ACTIONS.get(...)` then `handler(...)`: every value of the
    // table may run, and what they reach is the socket's work.
    assert!(
        calls.contains(&("feeds.api:on_follow", "ACTIONS")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&("feeds.api:on_mute", "ACTIONS")),
        "{calls:?}"
    );
    let keys: Vec<&str> = socket["redis"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["keys"].as_array().unwrap())
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.contains(&"follows:{}"), "{keys:?}");
    assert!(keys.contains(&"muted:{}"), "{keys:?}");
}

#[test]
fn a_poller_receiving_on_a_module_level_subscription_is_tied_to_the_publisher() {
    let report = report_json(&fixture("pubsub_poller"), &[]);
    let got = operations(&report);
    assert!(got.contains(&op(
        "relay/web.py:18",
        "relay.web:pump",
        "get_message",
        "subscribe",
        &["progress"]
    )));
    let coupled: Vec<Coupling> = couplings(&report);
    let c = |key: &str, kind: &str, w: &[&str], r: &[&str], crosses: bool| -> Coupling {
        (
            key.to_string(),
            kind.to_string(),
            w.iter().map(|s| s.to_string()).collect(),
            r.iter().map(|s| s.to_string()).collect(),
            crosses,
        )
    };
    // One `Queue` class, two factories giving it different keys: each
    // flow keeps the keys of the queues it builds.
    assert_eq!(
        coupled,
        vec![
            c("audit:{}", "key", &["relay.worker.audit"], &[], false),
            // `Scoped("items")` in the worker, `Scoped("users")` in the web
            // process: one class, two scopes, two keys that tie nothing.
            c("items:{}", "key", &["relay.worker.crunch"], &[], false),
            c(
                "orders:{}",
                "key",
                &["POST /orders/{order_id}"],
                &["GET /orders/{order_id}"],
                false
            ),
            c(
                "progress",
                "channel",
                &["relay.worker.crunch"],
                &["startup relay.web:start"],
                true
            ),
            c("users:{}", "key", &[], &["POST /crunch/{item}"], false),
        ]
    );
    let given: Vec<(String, String)> = report["redis"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["command"] == "rpush")
        .flat_map(|o| o["keys"].as_array().unwrap().iter())
        .map(|k| {
            (
                text(&k["key"]),
                k["given_in"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        given,
        vec![
            (
                "orders:{}".to_string(),
                "relay.queues:orders_queue".to_string()
            ),
            (
                "audit:{}".to_string(),
                "relay.queues:audit_queue".to_string()
            ),
        ]
    );
    assert_eq!(
        flow(&report, "relay.worker.audit")["redis"][0]["keys"],
        serde_json::json!(["audit:{}"])
    );
    // `f"{self.scope}:{key}"` with the scope given to the constructor folds
    // once per place the class is built, not to a `{}:{}` that would name
    // no key.
    let keys: Vec<&str> = report["redis"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"items:{}") && keys.contains(&"users:{}"),
        "{keys:?}"
    );
    // Keys built from nothing but parameters are `{}:{}`: written by the
    // worker and read by the route, yet no coupling (the list above).
    assert!(keys.contains(&"{}:{}"), "{keys:?}");
}

#[test]
fn redis_and_services_lists_are_present_when_empty_so_jq_can_iterate_them() {
    let report = report_json(&fixture("imports"), &[]);
    for list in ["clients", "providers", "operations", "keys", "builders"] {
        assert_eq!(report["redis"][list], serde_json::json!([]), "redis.{list}");
    }
    for list in ["sdk_clients", "events"] {
        assert_eq!(
            report["services"][list],
            serde_json::json!([]),
            "services.{list}"
        );
    }
}
