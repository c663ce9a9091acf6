//! Background work, end to end: Celery apps, task names and queues,
//! enqueue sites, beat and signals, asserted exactly on the fixtures.

mod common;

use common::{explore, fixture, line_after, markdown, report_json, row, task_table};
use serde_json::Value;

fn text(v: &Value) -> String {
    v["value"].as_str().map_or_else(
        || format!("<{}>", v["kind"].as_str().unwrap_or("?")),
        str::to_string,
    )
}

/// `(name, function, queue, form)` of every task.
fn tasks(report: &Value) -> Vec<(String, String, String, String)> {
    report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                text(&t["name"]),
                t["function"].as_str().unwrap().to_string(),
                t["queue"].as_str().unwrap().to_string(),
                t["form"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn t(name: &str, function: &str, queue: &str, form: &str) -> (String, String, String, String) {
    (name.into(), function.into(), queue.into(), form.into())
}

/// `(line, method, task, function)` of every enqueue site in `file`.
fn sends(report: &Value, file: &str) -> Vec<(u64, String, String, String)> {
    report["enqueues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"] == file)
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["method"].as_str().unwrap().to_string(),
                text(&e["task"]),
                e["function"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn s(line: u64, method: &str, task: &str, function: &str) -> (u64, String, String, String) {
    (line, method.into(), task.into(), function.into())
}

fn enqueue<'a>(report: &'a Value, file: &str, line: u64, method: &str) -> &'a Value {
    report["enqueues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == file && e["line"] == line && e["method"] == method)
        .unwrap_or_else(|| panic!("no enqueue {file}:{line} .{method}"))
}

fn task<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"]["value"] == name)
        .unwrap_or_else(|| panic!("no task {name}"))
}

#[test]
fn every_task_form_gets_the_name_celery_registers() {
    let report = report_json(&fixture("celery_forms"), &[]);
    assert_eq!(
        tasks(&report),
        [
            t(
                "proj.billing.tasks.charge_card",
                "proj.billing.tasks:charge_card",
                "default",
                "app.task"
            ),
            t(
                "proj.billing.tasks.refund",
                "proj.billing.tasks:refund",
                "default",
                "app.task"
            ),
            t(
                "billing.invoice",
                "proj.billing.tasks:generate_invoice",
                "default",
                "app.task"
            ),
            t(
                "proj.billing.tasks.sync_ledger",
                "proj.billing.tasks:sync_ledger",
                "billing",
                "shared_task"
            ),
            t(
                "billing.reconcile",
                "proj.billing.tasks:ReconcileAccounts",
                "default",
                "register_task"
            ),
            t(
                "proj.billing.tasks.ExpireTrials",
                "proj.billing.tasks:ExpireTrials",
                "default",
                "register_task"
            ),
            t(
                "proj.celery.ping",
                "proj.celery:ping",
                "default",
                "app.task"
            ),
            t(
                "mail.send_raw",
                "proj.mail.tasks:send_raw",
                "default",
                "app.task"
            ),
            t(
                "proj.mail.tasks.send_welcome",
                "proj.mail.tasks:send_welcome",
                "mail",
                "shared_task"
            ),
            t(
                "proj.mail.tasks.send_digest",
                "proj.mail.tasks:send_digest",
                "mail",
                "shared_task"
            ),
            t(
                "proj.mail.tasks.handle_bounce",
                "proj.mail.tasks:make_bounce_handler.<locals>.handle_bounce",
                "mail",
                "shared_task"
            ),
            t("direct.add", "proj.run_direct:add", "celery", "app.task"),
        ]
    );
    // A module run as a script names its tasks after the app's main name.
    assert_eq!(
        task(&report, "direct.add")["alternative_name"],
        "proj.run_direct.add"
    );
    // Options inherited from `base=` are marked as such.
    let ledger = task(&report, "proj.billing.tasks.sync_ledger");
    let inherited: Vec<(&str, &str)> = ledger["options"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| Some((o["name"].as_str()?, o["inherited_from"].as_str()?)))
        .collect();
    assert_eq!(
        inherited,
        [
            ("autoretry_for", "proj.billing.tasks:BaseTaskWithRetry"),
            ("retry_kwargs", "proj.billing.tasks:BaseTaskWithRetry"),
            ("retry_backoff", "proj.billing.tasks:BaseTaskWithRetry"),
        ]
    );
    assert_eq!(
        task(&report, "proj.mail.tasks.send_welcome")["queue_from"],
        "the `task_routes` entry `proj.mail.*` (proj/celery.py:7)"
    );
    // A direct call runs in the same process: not an enqueue.
    assert_eq!(
        task(&report, "mail.send_raw")["direct_calls"],
        serde_json::json!(["proj/mail/tasks.py:21"])
    );
    // `app.register_task(ReconcileAccounts())` builds the task object; it
    // does not run the task.
    for class_task in ["billing.reconcile", "proj.billing.tasks.ExpireTrials"] {
        assert_eq!(
            task(&report, class_task)["direct_calls"],
            Value::Null,
            "{class_task}"
        );
    }
}

#[test]
fn apps_are_configured_from_every_source() {
    let report = report_json(&fixture("celery_forms"), &[]);
    let apps = report["celery_apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    let app = &apps[0];
    assert_eq!(app["object"], "proj.celery:app");
    assert_eq!(app["main"], "proj");
    assert_eq!(app["default_queue"], "default");
    assert_eq!(app["config_from"][0]["path"], "proj/celeryconfig.py");
    assert_eq!(app["broker"]["value"]["kind"], "dynamic");
    assert_eq!(
        app["broker"]["value"]["reason"],
        "environment variable BROKER_URL"
    );
    assert_eq!(app["broker"]["file"], "proj/celeryconfig.py");
    assert_eq!(
        app["autodiscover"],
        serde_json::json!(["proj.billing", "proj.mail"])
    );
    // Each package's `tasks` module, or the one `related_name=` names; a
    // package named twice is listed once.
    assert_eq!(
        app["autodiscover_modules"],
        serde_json::json!([
            "proj.billing.tasks",
            "proj.mail.tasks",
            "proj.billing.audits"
        ])
    );
    assert_eq!(app["autodiscover_dynamic"], Value::Null);
    assert_eq!(app["task_routes"][0]["pattern"], "proj.mail.*");
    assert_eq!(app["task_routes"][0]["queue"], "mail");
    assert_eq!(apps[1]["object"], "proj.run_direct:app");
    assert_eq!(apps[1]["main"], "direct");
}

#[test]
fn every_enqueue_form_is_linked_to_its_task() {
    let report = report_json(&fixture("celery_forms"), &[]);
    let w = "proj.workflows";
    assert_eq!(
        sends(&report, "proj/workflows.py"),
        [
            s(
                17,
                "delay",
                "proj.mail.tasks.send_welcome",
                &format!("{w}:on_signup")
            ),
            s(
                18,
                "apply_async",
                "proj.billing.tasks.charge_card",
                &format!("{w}:on_signup")
            ),
            s(
                19,
                "apply_async",
                "billing.invoice",
                &format!("{w}:on_signup")
            ),
            s(
                23,
                "s",
                "proj.billing.tasks.refund",
                &format!("{w}:refund_and_notify")
            ),
            s(23, "si", "mail.send_raw", &format!("{w}:refund_and_notify")),
            s(
                29,
                "s",
                "proj.billing.tasks.charge_card",
                &format!("{w}:bill_customer")
            ),
            s(30, "si", "billing.invoice", &format!("{w}:bill_customer")),
            s(
                35,
                "signature",
                "proj.billing.tasks.sync_ledger",
                &format!("{w}:sync_accounts")
            ),
            s(
                36,
                "si",
                "proj.mail.tasks.send_digest",
                &format!("{w}:sync_accounts")
            ),
            s(
                40,
                "s",
                "proj.mail.tasks.send_digest",
                &format!("{w}:send_digests")
            ),
            s(44, "signature", "mail.send_raw", &format!("{w}:resend_raw")),
            s(
                45,
                "apply_async",
                "mail.send_raw",
                &format!("{w}:resend_raw")
            ),
            s(
                49,
                "send_task",
                "proj.mail.tasks.send_welcome",
                &format!("{w}:welcome_by_name")
            ),
            s(
                53,
                "send_task",
                "billing.invoice",
                &format!("{w}:invoice_by_name")
            ),
            s(
                57,
                "send_task",
                "other_service.tasks.ingest",
                &format!("{w}:forward_to_ingest")
            ),
            s(61, "send_task", "proj.{}.run", &format!("{w}:run_kind")),
        ]
    );
    let f = "proj/workflows.py";
    assert_eq!(enqueue(&report, f, 18, "apply_async")["queue"], "billing");
    assert_eq!(
        enqueue(&report, f, 18, "apply_async")["options"],
        serde_json::json!(["countdown=10"])
    );
    assert_eq!(enqueue(&report, f, 45, "apply_async")["queue"], "mail");
    assert_eq!(enqueue(&report, f, 23, "s")["canvas"], "chain");
    assert_eq!(enqueue(&report, f, 29, "s")["canvas"], "chain");
    assert_eq!(enqueue(&report, f, 36, "si")["canvas"], "chord");
    assert_eq!(enqueue(&report, f, 40, "s")["canvas"], "group");
    let ingest = enqueue(&report, f, 57, "send_task");
    assert_eq!(ingest["task_found"], false);
    assert_eq!(
        ingest["reason"],
        "no task named `other_service.tasks.ingest` is defined in the analysed code"
    );
    let dynamic = enqueue(&report, f, 61, "send_task");
    assert_eq!(dynamic["task"]["kind"], "pattern");
    assert_eq!(dynamic["task_found"], false);
    assert_eq!(
        task(&report, "billing.invoice")["enqueued_at"],
        serde_json::json!([
            "proj/workflows.py:19",
            "proj/workflows.py:30",
            "proj/workflows.py:53"
        ])
    );
}

#[test]
fn beat_entries_and_periodic_tasks_are_listed() {
    let report = report_json(&fixture("celery_forms"), &[]);
    let beat: Vec<(String, String, String, String)> = report["beat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                text(&b["task"]),
                b["schedule"].as_str().unwrap().to_string(),
                b["form"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (
            "hourly-invoices",
            "billing.invoice",
            "timedelta(hours=1)",
            "beat_schedule",
        ),
        (
            "weekly-digest",
            "proj.mail.tasks.send_digest",
            "crontab(hour=3, minute=30, day_of_week=\"mon\")",
            "beat_schedule",
        ),
        (
            "ping every minute",
            "proj.celery.ping",
            "every 60.0 s",
            "add_periodic_task",
        ),
        (
            "daily digest",
            "proj.mail.tasks.send_digest",
            "crontab(hour=7, minute=0)",
            "add_periodic_task",
        ),
    ];
    assert_eq!(
        beat,
        want.map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()))
            .to_vec()
    );
    assert_eq!(report["beat"][1]["args"], "(\"weekly\",)");
    assert_eq!(report["signals"][0]["signal"], "on_after_configure");
    assert_eq!(
        report["signals"][0]["handler"],
        "proj.celery:setup_periodic"
    );
}

#[test]
fn the_backend_service_layer_enqueues_the_worker_tasks() {
    let report = report_json(&fixture("backend"), &[]);
    assert_eq!(
        tasks(&report),
        [
            t(
                "tasks.analysis.analyze_file",
                "tasks.analysis:analyze_file",
                "default",
                "app.task"
            ),
            t(
                "tasks.analysis.summarize",
                "tasks.analysis:summarize",
                "default",
                "app.task"
            ),
            t(
                "tasks.maintenance.purge_expired",
                "tasks.maintenance:purge_expired",
                "maintenance",
                "app.task"
            ),
            t(
                "tasks.maintenance.refresh_stats",
                "tasks.maintenance:refresh_stats",
                "default",
                "app.task"
            ),
            t(
                "tasks.maintenance.reindex",
                "tasks.maintenance:ReindexTask",
                "default",
                "register_task"
            ),
            t(
                "tasks.repositories.clone_repository",
                "tasks.repositories:clone_repository",
                "repos",
                "shared_task"
            ),
            t(
                "tasks.repositories.analyze_repository",
                "tasks.repositories:analyze_repository",
                "repos",
                "shared_task"
            ),
        ]
    );
    let a = "server.actions.analysis";
    assert_eq!(
        sends(&report, "server/actions/analysis.py"),
        [
            s(
                41,
                "apply_async",
                "tasks.analysis.analyze_file",
                &format!("{a}:submit_file_analysis")
            ),
            s(
                43,
                "delay",
                "tasks.analysis.analyze_file",
                &format!("{a}:submit_file_analysis")
            ),
            s(
                55,
                "apply_async",
                "tasks.repositories.analyze_repository",
                &format!("{a}:submit_repository")
            ),
            s(
                66,
                "s",
                "tasks.repositories.clone_repository",
                &format!("{a}:clone_and_analyze")
            ),
            s(
                66,
                "s",
                "tasks.repositories.analyze_repository",
                &format!("{a}:clone_and_analyze")
            ),
            s(
                71,
                "s",
                "tasks.analysis.summarize",
                &format!("{a}:summarize_many")
            ),
            s(
                92,
                "send_task",
                "tasks.maintenance.purge_expired",
                &format!("{a}:cancel_analysis")
            ),
        ]
    );
    // `functools.partial(analyze_file.apply_async, queue="priority")`.
    let partial = enqueue(&report, "server/actions/analysis.py", 41, "apply_async");
    assert_eq!(partial["queue"], "priority");
    assert_eq!(partial["via"], "server/actions/analysis.py:22");
    // A task that enqueues another.
    let chained = enqueue(&report, "tasks/analysis.py", 51, "delay");
    assert_eq!(chained["from_task"], "tasks.analysis.analyze_file");
    assert_eq!(
        task(&report, "tasks.analysis.analyze_file")["enqueues"],
        serde_json::json!(["tasks.analysis.summarize"])
    );
    let app = &report["celery_apps"][0];
    assert_eq!(app["broker"]["value"]["value"], "redis://localhost:6379/1");
    assert_eq!(
        app["broker"]["value"]["note"],
        "default of `Settings.broker_url`; the environment may override it"
    );
    let signals: Vec<&str> = report["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signal"].as_str().unwrap())
        .collect();
    assert_eq!(signals, ["task_failure", "worker_process_init"]);
}

#[test]
fn tasks_command_lists_sends_per_task_and_filters_by_queue() {
    let out = explore()
        .args(["tasks"])
        .arg(fixture("backend"))
        .args(["--queue", "repos"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("tasks.repositories.clone_repository  [queue repos]"),
        "{text}"
    );
    assert!(
        lines[1].contains(".s            server/actions/analysis.py:66"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("tasks.repositories.analyze_repository  [queue repos]"),
        "{text}"
    );
    assert_eq!(*lines.last().unwrap(), "2 tasks, 3 enqueue sites");

    // A task only beat runs says so, instead of "not enqueued".
    let out = explore()
        .args(["tasks"])
        .arg(fixture("backend"))
        .args(["--queue", "default"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let at = text
        .lines()
        .position(|l| l.starts_with("tasks.maintenance.refresh_stats "))
        .expect("refresh_stats is listed");
    assert_eq!(
        text.lines().nth(at + 1),
        Some("    beat         server/utils/celery_app.py:22  `refresh-stats` every 300.0 s")
    );

    let out = explore()
        .args(["tasks"])
        .arg(fixture("celery_forms"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 12);
    assert_eq!(doc["enqueues"].as_array().unwrap().len(), 18);

    // A task function called as a plain function runs in the caller's
    // process; the table says where, next to the real sends.
    assert_eq!(
        line_after(&task_table("celery_forms"), "mail.send_raw "),
        Some("    called directly  proj/mail/tasks.py:21  (runs in the caller's process)")
    );
}

#[test]
fn markdown_report_has_a_background_work_section() {
    let out = explore()
        .arg(fixture("backend"))
        .arg("-q")
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("## Background work"));
    assert!(md.contains("#### queue `repos`"));
    assert!(md.contains(
        "| `server/actions/analysis.py:41` | `server.actions.analysis:submit_file_analysis` | `tasks.analysis.analyze_file` | `.apply_async` | queue `priority`; through the partial at `server/actions/analysis.py:22` |"
    ));
    assert!(md.contains("- `tasks.analysis.analyze_file` -> `tasks.analysis.summarize`"));

    let md = markdown("celery_forms");
    assert!(md.contains(
        "| `mail.send_raw` | `proj.mail.tasks:send_raw` `proj/mail/tasks.py:12` |  | proj/workflows.py:23, proj/workflows.py:44, proj/workflows.py:45; called directly, in the caller's process, at proj/mail/tasks.py:21 |"
    ), "{md}");
}

#[test]
fn tasks_made_through_aliases_wrappers_and_calls_get_celerys_names() {
    let report = report_json(&fixture("celery_wrappers"), &[]);
    assert_eq!(
        tasks(&report),
        vec![
            t(
                "depot.jobs.sweep",
                "depot.jobs:sweep",
                "depot",
                "shared_task"
            ),
            t("depot.stack", "depot.jobs:stack", "depot", "app.task"),
            t("tidy_up", "depot.jobs:tidy", "depot", "shared_task"),
            t(
                "depot.jobs.count_crates",
                "depot.jobs:count_crates",
                "priority",
                "shared_task"
            ),
            t(
                "depot.jobs.load_pallets",
                "depot.jobs:load_pallets",
                "bulk-lane",
                "app.task"
            ),
            t(
                "depot.jobs.slow_audit",
                "depot.jobs:slow_audit",
                "depot.slow",
                "app.task"
            ),
            t("depot.jobs.inner", "depot.jobs:paint", "depot", "app.task"),
            t(
                "depot.jobs.plain_count",
                "depot.jobs:plain_count",
                "depot",
                "app.task"
            ),
            // Below a folder that is no Python identifier, the module is
            // named as a worker started inside that folder imports it.
            t(
                "sample.demo",
                "docs-examples.sample:demo",
                "depot",
                "shared_task"
            ),
            t(
                "worker.resize",
                "second-worker.worker:resize",
                "celery",
                "app.task"
            ),
            t(
                "worker.resize",
                "standalone-worker.worker:resize",
                "celery",
                "app.task"
            ),
        ]
    );
    let tidy = task(&report, "tidy_up");
    assert_eq!(tidy["via"], "depot.jobs:worker_task");
    let options: Vec<String> = tidy["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}={}",
                o["name"].as_str().unwrap(),
                o["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(options, vec!["name=\"tidy_up\"", "acks_late=True"]);
    assert!(
        task(&report, "sample.demo")["not_importable"]
            .as_str()
            .unwrap()
            .contains("`docs-examples` is not a Python identifier")
    );
    // A task beside its own app is reached by a worker started in that
    // folder, whatever the folder is called.
    let resizers: Vec<&Value> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"]["value"] == "worker.resize")
        .collect();
    assert_eq!(resizers.len(), 2);
    assert!(resizers.iter().all(|t| t["not_importable"].is_null()));
    // Two tasks share a registered name: a send goes to the one the call
    // resolves to, and only that one lists it.
    let send = enqueue(&report, "second-worker/worker.py", 13, "delay");
    assert_eq!(send["task_function"], "second-worker.worker:resize");
    let listed: Vec<(&str, &Value)> = resizers
        .iter()
        .map(|t| (t["function"].as_str().unwrap(), &t["enqueued_at"]))
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                "second-worker.worker:resize",
                &serde_json::json!(["second-worker/worker.py:13"])
            ),
            ("standalone-worker.worker:resize", &Value::Null),
        ]
    );
    assert_eq!(
        line_after(
            &task_table("celery_wrappers"),
            "worker.resize  [queue celery]  standalone-worker.worker:resize"
        ),
        Some("    not enqueued in this code")
    );
    assert!(task(&report, "depot.jobs.sweep")["not_importable"].is_null());
    let app = &report["celery_apps"][0];
    assert_eq!(app["default_queue"], "depot");
    assert!(
        app["default_queue_note"]
            .as_str()
            .unwrap()
            .contains("DEPOT_QUEUE")
    );
}

#[test]
fn test_code_and_hidden_tooling_folders_define_no_tasks() {
    let report = report_json(&fixture("celery_wrappers"), &[]);
    let test = common::select(&report["files"], "path", "tests/test_jobs.py");
    assert_eq!(test[0]["status"], "skipped");
    assert_eq!(
        report["skipped_dirs"],
        serde_json::json!([{"path": ".lint", "reason": "hidden folder"}])
    );
    let with = report_json(&fixture("celery_wrappers"), &["--include-tests"]);
    assert!(tasks(&with).iter().any(|t| t.0 == "probe.fake"));
}

#[test]
fn a_task_chosen_at_run_time_is_sent_to_each_candidate() {
    let report = report_json(&fixture("celery_wrappers"), &[]);
    let sites = sends(&report, "depot/jobs.py");
    assert_eq!(
        sites,
        vec![
            s(74, "delay", "depot.jobs.sweep", "depot.jobs:dispatch"),
            s(74, "delay", "depot.stack", "depot.jobs:dispatch"),
            s(
                82,
                "apply_async",
                "depot.jobs.count_crates",
                "depot.jobs:dispatch_if"
            ),
            s(82, "apply_async", "tidy_up", "depot.jobs:dispatch_if"),
        ]
    );
    let e = enqueue(&report, "depot/jobs.py", 74, "delay");
    assert_eq!(
        e["reason"],
        "one of 2 tasks, chosen at run time by `handler`"
    );
    assert_eq!(
        enqueue(&report, "depot/jobs.py", 82, "apply_async")["queue"],
        "overflow"
    );
}

#[test]
fn beat_entries_merged_from_another_dict_are_followed() {
    let report = report_json(&fixture("celery_wrappers"), &[]);
    let beat: Vec<(String, String, String, u64)> = report["beat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                text(&b["task"]),
                b["file"].as_str().unwrap().to_string(),
                b["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        beat,
        vec![
            (
                "hourly-sweep".to_string(),
                "depot.jobs.sweep".to_string(),
                "depot/app.py".to_string(),
                13
            ),
            (
                "nightly-stack".to_string(),
                "depot.stack".to_string(),
                "depot/schedules.py".to_string(),
                3
            ),
        ]
    );
}

#[test]
fn project_decorators_that_make_tasks_register_the_decorated_function() {
    let report = report_json(&fixture("celery_decorators"), &[]);
    assert_eq!(
        tasks(&report),
        vec![
            t(
                "relay.decorators.runner",
                "relay.decorators:bare_task.__call__.<locals>.runner",
                "relay-default",
                "shared_task"
            ),
            t(
                "relay.jobs.notify",
                "relay.jobs:notify",
                "relay-default",
                "shared_task"
            ),
            t(
                "relay.jobs.mirror",
                "relay.jobs:mirror",
                "side-bound",
                "app.task"
            ),
            t(
                "relay.jobs.process_notification",
                "relay.jobs:process_notification",
                "guarded",
                "shared_task"
            ),
        ]
    );
    // `def deco(func): return shared_task(**opts)(func)` inside a factory:
    // the options given at use reach the task.
    let notify = task(&report, "relay.jobs.notify");
    assert_eq!(notify["via"], "relay.decorators:with_retries");
    assert_eq!(
        notify["options"],
        serde_json::json!([{"name": "max_retries", "value": "3"}])
    );
    // `def on_side(func): return side.task(bind=True, queue=...)(func)`.
    let mirror = task(&report, "relay.jobs.mirror");
    assert_eq!(mirror["via"], "relay.decorators:on_side");
    assert_eq!(mirror["app"], "relay.side:side");
    // A class whose `__call__` registers an inner function that copies the
    // decorated function's name with `functools.wraps`.
    let guarded = task(&report, "relay.jobs.process_notification");
    assert_eq!(guarded["via"], "relay.decorators:guarded_task");
    assert_eq!(guarded["line"], 15);
    assert_eq!(
        guarded["options"],
        serde_json::json!([
            {"name": "max_retries", "value": "5"},
            {"name": "queue", "value": "\"guarded\""}
        ])
    );
    // Without `wraps`, the inner function keeps its own name, and the
    // decorated function is bound to that task.
    assert_eq!(
        task(&report, "relay.decorators.runner")["enqueued_at"],
        serde_json::json!(["relay/web.py:8"])
    );
    assert_eq!(
        sends(&report, "relay/web.py"),
        vec![
            s(5, "delay", "relay.jobs.notify", "relay.web:handle"),
            s(6, "apply_async", "relay.jobs.mirror", "relay.web:handle"),
            s(
                7,
                "delay",
                "relay.jobs.process_notification",
                "relay.web:handle"
            ),
            s(8, "delay", "relay.decorators.runner", "relay.web:handle"),
        ]
    );
    assert!(
        report["enqueues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["task_found"] == true)
    );
}

#[test]
fn configuration_objects_are_read_through_instances_and_class_paths() {
    let report = report_json(&fixture("celery_decorators"), &[]);
    let apps = report["celery_apps"].as_array().unwrap();
    assert_eq!(apps.len(), 3);
    // `config_from_object(settings, namespace="CELERY")`, `settings =
    // Settings()`: the class attributes, its base's included, with the
    // prefix stripped.
    let relay = &apps[0];
    assert_eq!(relay["object"], "relay.app:relay");
    assert_eq!(relay["default_queue"], "relay-default");
    assert_eq!(relay["broker"]["value"]["value"], "redis://broker:6379/0");
    assert_eq!(relay["broker"]["file"], "relay/config.py");
    assert_eq!(relay["broker"]["line"], 2);
    assert_eq!(
        relay["result_backend"]["value"]["value"],
        "redis://broker:6379/1"
    );
    assert_eq!(relay["config_from"][0]["path"], "relay/config.py");
    assert!(
        relay["config"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["key"] != "unrelated")
    );
    // `"relay.config.SideSettings"`: a module path and a class in it.
    let side = &apps[1];
    assert_eq!(side["object"], "relay.side:side");
    assert_eq!(side["default_queue"], "side-default");
    assert_eq!(side["config_from"][0]["path"], "relay/config.py");
    // An object chosen at run time: the default queue is not Celery's.
    let vague = &apps[2];
    assert_eq!(vague["object"], "relay.vague:vague");
    assert_eq!(vague["default_queue"], "{?}");
    assert_eq!(
        vague["default_queue_note"],
        "`config_from_object(chosen)` at relay/vague.py:6 may set it, and the \
         configuration object is only known at run time"
    );
    assert_eq!(
        vague["config_from"][0]["reason"],
        "the configuration object is only known at run time"
    );
}

#[test]
fn a_configured_current_app_stands_for_the_app() {
    let report = report_json(&fixture("celery_current_app"), &[]);
    let apps = report["celery_apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["object"], "celery:current_app");
    assert_eq!(apps[0]["file"], "svc/worker.py");
    assert_eq!(apps[0]["line"], 8);
    assert_eq!(apps[0]["config_from"][0]["namespace"], "CELERY");
    // `settings = get_settings()` picks its class at run time: the default
    // queue is unknown rather than Celery's `celery`.
    assert_eq!(apps[0]["default_queue"], "{?}");
    assert_eq!(
        tasks(&report),
        vec![
            t("svc.tasks.ping", "svc.tasks:ping", "{?}", "shared_task"),
            t("svc.tasks.pong", "svc.tasks:pong", "replies", "app.task"),
        ]
    );
    assert_eq!(task(&report, "svc.tasks.pong")["app"], "celery:current_app");
    assert_eq!(
        sends(&report, "svc/tasks.py"),
        vec![
            s(15, "delay", "svc.tasks.ping", "svc.tasks:kick"),
            s(16, "delay", "svc.tasks.pong", "svc.tasks:kick"),
        ]
    );
}

#[test]
fn str_of_an_enum_member_is_its_value_only_when_the_class_says_so() {
    let report = report_json(&fixture("celery_enum_names"), &[]);
    assert_eq!(
        tasks(&report),
        vec![
            t("reindex", "jobs.tasks:reindex", "celery", "app.task"),
            t(
                "<dynamic>",
                "jobs.tasks:reindex_by_str",
                "celery",
                "app.task"
            ),
            t("export", "jobs.tasks:export", "celery", "app.task"),
            t("purge", "jobs.tasks:purge", "celery", "app.task"),
        ]
    );
    assert_eq!(
        report["tasks"][1]["name"]["reason"],
        "`str(Plain.REINDEX)` is the member's name with its class, not its value \
         (`Enum.__str__`)"
    );
}

#[test]
fn autodiscovery_without_a_package_list_says_what_it_searches() {
    // Django's `app.autodiscover_tasks()`: the installed apps, which are
    // settings, not packages named here.
    let report = report_json(&fixture("django_celery"), &[]);
    let app = &report["celery_apps"][0];
    assert_eq!(app["autodiscover"], Value::Null);
    assert_eq!(
        app["autodiscover_dynamic"],
        serde_json::json!(["the `tasks` modules of the installed apps (no packages given)"])
    );
    let md = markdown("django_celery");
    assert!(
        md.contains(
            "Task modules of `shop.celery:app`: the `tasks` modules of the installed apps (no \
             packages given) (autodiscovered)."
        ),
        "{md}"
    );
}

#[test]
fn a_configuration_mapping_built_at_run_time_is_a_source_not_read() {
    // `app.conf.update({... for name, value in os.environ.items() ...})`:
    // any key may be set there, so the broker is not "not set".
    let report = report_json(&fixture("celery_wrappers"), &[]);
    let app = report["celery_apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["object"] == "depot.app:app")
        .expect("the depot app is found");
    assert_eq!(
        app["config_from"],
        serde_json::json!([{
            "target": "conf.update(...)",
            "reason": "a mapping built at run time: which keys it sets is not known here",
            "file": "depot/app.py",
            "line": 19
        }])
    );
    assert_eq!(app["broker"], Value::Null);
    assert_eq!(
        row(&markdown("celery_wrappers"), "| `depot.app:app` |"),
        "| `depot.app:app` | `depot/app.py:8` | not in the configuration read here | not in \
         the configuration read here | `depot` | conf.update(...) (a mapping built at run time: \
         which keys it sets is not known here) |"
    );
}
