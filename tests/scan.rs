//! The scan, the module graph and the report, run on the fixtures the way a
//! user runs them.

mod common;

use std::fs;

use common::{edge, edges, explore, fixture, report_json, select};
use serde_json::Value;

#[test]
fn relative_imports_resolve_at_every_depth() {
    let r = report_json(&fixture("imports/relative"), &[]);
    let e = edges(&r);
    for expected in [
        edge("pkg/a.py", 1, "pkg/util.py", "first_party", "top_level"),
        edge("pkg/a.py", 2, "pkg/__init__.py", "first_party", "top_level"),
        edge("pkg/a.py", 3, "pkg/sub/b.py", "first_party", "top_level"),
        edge("pkg/a.py", 4, "pkg/sub/b.py", "first_party", "top_level"),
        edge("pkg/sub/b.py", 1, "pkg/util.py", "first_party", "top_level"),
        edge(
            "pkg/sub/b.py",
            2,
            "pkg/sub/deeper/c.py",
            "first_party",
            "top_level",
        ),
        edge(
            "pkg/sub/b.py",
            3,
            "pkg/sub/names.py",
            "first_party",
            "top_level",
        ),
        edge(
            "pkg/sub/deeper/c.py",
            1,
            "pkg/util.py",
            "first_party",
            "top_level",
        ),
        edge(
            "pkg/sub/deeper/c.py",
            2,
            "pkg/util.py",
            "first_party",
            "top_level",
        ),
        edge(
            "pkg/sub/deeper/c.py",
            3,
            "pkg/sub/names.py",
            "first_party",
            "top_level",
        ),
    ] {
        assert!(e.contains(&expected), "missing {expected:?} in {e:#?}");
    }
    assert_eq!(r["summary"]["unresolved_imports"], 1);
}

#[test]
fn relative_import_above_top_package_is_unresolved() {
    let r = report_json(&fixture("imports/relative"), &[]);
    let unresolved = select(&r["imports"], "resolution", "unresolved");
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0]["from"], "pkg/sub/deeper/c.py");
    assert_eq!(unresolved[0]["line"], 4);
    assert!(unresolved[0]["to"].is_null());
    assert!(
        unresolved[0]["reason"]
            .as_str()
            .unwrap()
            .contains("above the top-level package")
    );
}

#[test]
fn names_reexported_through_package_init_are_traced_to_their_definition() {
    let r = report_json(&fixture("imports/reexport"), &[]);
    let from_app = select(&r["imports"], "from", "app.py");
    assert_eq!(from_app.len(), 3);
    for e in &from_app {
        assert_eq!(e["to"], "pkg/__init__.py");
    }
    let service = &from_app[0]["reexported"];
    assert_eq!(service[0]["name"], "Service");
    assert_eq!(service[0]["path"], "pkg/impl.py");
    assert_eq!(service[0]["line"], 10);
    // Through the star import, bounded by `__all__`.
    let star: Vec<(&str, u64)> = from_app[1]["reexported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(star, [("make_client", 19), ("DEFAULT_TIMEOUT", 7)]);
}

#[test]
fn namespace_packages_resolve_without_init_files() {
    let r = report_json(&fixture("imports/namespace"), &[]);
    let e = edges(&r);
    assert!(e.contains(&edge(
        "consumer.py",
        1,
        "ns/plugins/alpha.py",
        "first_party",
        "top_level"
    )));
    assert!(e.contains(&edge(
        "consumer.py",
        2,
        "ns/plugins/beta.py",
        "first_party",
        "top_level"
    )));
    assert!(e.contains(&edge(
        "ns/plugins/beta.py",
        1,
        "ns/plugins/alpha.py",
        "first_party",
        "top_level"
    )));
    let modules: Vec<&str> = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(modules.contains(&"ns.plugins.alpha"), "{modules:?}");
}

#[test]
fn src_layout_names_modules_from_src() {
    let r = report_json(&fixture("imports/src_layout"), &["--include-tests"]);
    let core = select(&r["files"], "path", "src/mylib/core.py");
    assert_eq!(core[0]["module"], "mylib.core");
    let e = edges(&r);
    assert!(e.contains(&edge(
        "tests/test_core.py",
        3,
        "src/mylib/core.py",
        "first_party",
        "top_level"
    )));
    assert!(e.contains(&edge(
        "tests/test_core.py",
        1,
        "pytest",
        "third_party",
        "top_level"
    )));
    assert!(r["roots"].as_array().unwrap().contains(&Value::from("src")));
}

#[test]
fn test_code_is_listed_as_skipped_unless_asked_for() {
    let r = report_json(&fixture("imports/src_layout"), &[]);
    let test = select(&r["files"], "path", "tests/test_core.py");
    assert_eq!(test[0]["status"], "skipped");
    assert_eq!(
        test[0]["reason"],
        "test code (pass --include-tests to analyse it)"
    );
    assert!(!edges(&r).iter().any(|e| e.0 == "tests/test_core.py"));
    let with = report_json(&fixture("imports/src_layout"), &["--include-tests"]);
    assert_eq!(
        select(&with["files"], "path", "tests/test_core.py")[0]["status"],
        "analyzed"
    );
}

#[test]
fn several_roots_are_detected_side_by_side() {
    let r = report_json(&fixture("imports/multi_root"), &[]);
    assert_eq!(r["roots"], serde_json::json!(["backend", "worker"]));
    let e = edges(&r);
    assert!(e.contains(&edge(
        "backend/app/main.py",
        3,
        "backend/app/services/billing.py",
        "first_party",
        "top_level"
    )));
    assert!(e.contains(&edge(
        "worker/jobs/run.py",
        3,
        "worker/jobs/helpers.py",
        "first_party",
        "top_level"
    )));
}

#[test]
fn user_roots_replace_detected_ones() {
    // With the repository top as the only root, `from app.services import
    // billing` no longer finds `backend/app/...`.
    let r = report_json(&fixture("imports/multi_root"), &["--root", "."]);
    assert_eq!(r["roots"], serde_json::json!(["."]));
    let main = select(&r["files"], "path", "backend/app/main.py");
    assert_eq!(main[0]["module"], "backend.app.main");
    let e = edges(&r);
    assert!(
        !e.iter()
            .any(|x| x.0 == "backend/app/main.py" && x.3 == "first_party"),
        "{e:#?}"
    );
}

#[test]
fn every_import_kind_is_classified() {
    let r = report_json(&fixture("imports/kinds"), &[]);
    let e: Vec<_> = edges(&r)
        .into_iter()
        .filter(|x| x.0 == "service.py")
        .collect();
    assert_eq!(
        e,
        [
            edge("service.py", 1, "os", "stdlib", "top_level"),
            edge("service.py", 2, "json", "stdlib", "top_level"),
            edge("service.py", 3, "typing", "stdlib", "top_level"),
            edge("service.py", 5, "requests", "third_party", "top_level"),
            edge(
                "service.py",
                6,
                "sqlalchemy.orm",
                "third_party",
                "top_level"
            ),
            edge("service.py", 8, "pkg/models.py", "first_party", "top_level"),
            edge("service.py", 9, "pkg.missing", "unresolved", "top_level"),
            edge(
                "service.py",
                12,
                "pkg/models.py",
                "first_party",
                "type_checking"
            ),
            edge("service.py", 15, "ujson", "third_party", "try_except"),
            edge("service.py", 17, "json", "stdlib", "try_except"),
            edge("service.py", 29, "csv", "stdlib", "function"),
            edge("service.py", 30, "pkg/models.py", "first_party", "function"),
        ]
    );
    let packages: Vec<&str> = r["third_party"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package"].as_str().unwrap())
        .collect();
    assert_eq!(packages, ["requests", "sqlalchemy", "ujson"]);
}

#[test]
fn cycles_are_reported_with_the_lines_that_close_them() {
    let r = report_json(&fixture("imports/cycle"), &[]);
    let cycles = r["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 2);
    assert_eq!(
        cycles[0]["modules"],
        serde_json::json!(["loop/a.py", "loop/b.py", "loop/c.py"])
    );
    assert_eq!(cycles[0]["import_time"], true);
    let path: Vec<(&str, &str, u64)> = cycles[0]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        path,
        [
            ("loop/a.py", "loop/b.py", 1),
            ("loop/b.py", "loop/c.py", 1),
            ("loop/c.py", "loop/a.py", 1)
        ]
    );
    // x <-> y is closed by a function-level import: not an import-time cycle.
    assert_eq!(cycles[1]["modules"], serde_json::json!(["x.py", "y.py"]));
    assert_eq!(cycles[1]["import_time"], false);
}

#[test]
fn fan_in_and_fan_out_count_distinct_modules() {
    let r = report_json(&fixture("imports/relative"), &[]);
    let util = select(&r["modules"], "path", "pkg/util.py");
    assert_eq!(util[0]["fan_in"], 3);
    assert_eq!(util[0]["fan_out"], 0);
    let a = select(&r["modules"], "path", "pkg/a.py");
    assert_eq!(a[0]["fan_out"], 3);
}

#[test]
fn hostile_files_are_reported_not_fatal() {
    let r = report_json(&fixture("bad_input"), &[]);
    let status = |p: &str| select(&r["files"], "path", p)[0].clone();
    assert_eq!(status("nul.py")["status"], "skipped");
    assert!(status("nul.py")["reason"].as_str().unwrap().contains("NUL"));
    assert_eq!(status("latin1.py")["status"], "analyzed");
    assert!(
        status("latin1.py")["reason"]
            .as_str()
            .unwrap()
            .contains("latin-1")
    );
    assert_eq!(status("broken.py")["status"], "analyzed");
    let diags = select(&r["diagnostics"], "path", "broken.py");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0]["line"], 8);
    // Facts around the error still come out.
    let e = edges(&r);
    assert!(e.contains(&edge("broken.py", 1, "os", "stdlib", "top_level")));
    assert!(e.contains(&edge("broken.py", 13, "json", "stdlib", "function")));
    let defs: Vec<&str> = select(&r["modules"], "path", "broken.py")[0]["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        defs.contains(&"ok") && defs.contains(&"also_ok"),
        "{defs:?}"
    );
}

#[test]
fn modern_syntax_parses_without_diagnostics() {
    let r = report_json(&fixture("bad_input"), &[]);
    assert!(select(&r["diagnostics"], "path", "modern.py").is_empty());
    let defs: Vec<(&str, u64)> = select(&r["modules"], "path", "modern.py")[0]["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    assert!(
        defs.contains(&("first", 4)) && defs.contains(&("Box", 8)),
        "{defs:?}"
    );
    let e = edges(&r);
    assert!(e.iter().any(|x| x.0 == "modern.py" && x.1 == 38), "{e:#?}");
}

#[test]
fn deeply_nested_expressions_do_not_overflow_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = String::from("import os\nx = ");
    src.push_str(&"(".repeat(10_000));
    src.push('1');
    src.push_str(&")".repeat(10_000));
    src.push_str("\ny = ");
    src.push_str(&"f(".repeat(5_000));
    src.push_str(&")".repeat(5_000));
    src.push_str("\ndef g():\n    import json\n");
    fs::write(dir.path().join("deep.py"), src).unwrap();
    let r = report_json(dir.path(), &[]);
    assert_eq!(r["files"][0]["status"], "analyzed");
    let e = edges(&r);
    assert!(e.contains(&edge("deep.py", 1, "os", "stdlib", "top_level")));
    assert!(e.contains(&edge("deep.py", 5, "json", "stdlib", "function")));
}

#[test]
fn unreadable_and_oversized_files_are_listed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.py"), "x = 1\n".repeat(100)).unwrap();
    fs::write(dir.path().join("small.py"), "import big\n").unwrap();
    let r = report_json(dir.path(), &["--max-file-size", "100"]);
    let big = select(&r["files"], "path", "big.py");
    assert_eq!(big[0]["status"], "skipped");
    assert!(
        big[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--max-file-size")
    );
    // An import of a skipped file still resolves to it.
    assert!(edges(&r).contains(&edge("small.py", 1, "big.py", "first_party", "top_level")));
}

#[test]
fn excluded_files_are_skipped_not_dropped() {
    let r = report_json(&fixture("imports/src_layout"), &["--exclude", "tests/**"]);
    let t = select(&r["files"], "path", "tests/test_core.py");
    assert_eq!(t[0]["status"], "skipped");
    assert!(t[0]["reason"].as_str().unwrap().contains("--exclude"));
}

#[test]
fn virtualenvs_and_gitignored_files_are_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join(".venv/lib")).unwrap();
    fs::write(p.join(".venv/lib/dep.py"), "x = 1\n").unwrap();
    fs::create_dir_all(p.join("env/lib")).unwrap();
    fs::write(p.join("env/pyvenv.cfg"), "home = /usr\n").unwrap();
    fs::write(p.join("env/lib/dep.py"), "x = 1\n").unwrap();
    fs::create_dir_all(p.join("build")).unwrap();
    fs::write(p.join("build/gen.py"), "x = 1\n").unwrap();
    fs::write(p.join(".gitignore"), "build/\n").unwrap();
    fs::write(p.join("app.py"), "import os\n").unwrap();
    let r = report_json(p, &[]);
    let paths: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["app.py"]);
    assert_eq!(r["skipped_dirs"][0]["path"], "env");
    assert_eq!(r["skipped_dirs"][0]["reason"], "virtualenv");
    let all = report_json(p, &["--no-ignore"]);
    assert_eq!(all["summary"]["files"], 4);
}

#[test]
fn empty_folder_gives_an_empty_valid_report() {
    let dir = tempfile::tempdir().unwrap();
    let r = report_json(dir.path(), &[]);
    assert_eq!(r["summary"]["files"], 0);
    assert_eq!(r["files"], serde_json::json!([]));
    validate(&r);
    let md = explore().arg(dir.path()).output().unwrap();
    assert!(md.status.success());
    assert!(String::from_utf8_lossy(&md.stdout).contains("No Python modules"));
}

#[test]
fn missing_path_is_a_one_line_error_with_exit_code_2() {
    let out = explore().arg("/definitely/not/here").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no such folder"));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_file_path_is_rejected_with_exit_code_2() {
    let out = explore()
        .arg(fixture("imports/kinds/service.py"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"));
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let out = explore().args([".", "--format", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let run = |threads: &str| {
        explore()
            .arg(fixture("backend"))
            .args(["--format", "json", "--quiet", "-j", threads])
            .output()
            .unwrap()
            .stdout
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
}

#[test]
fn output_file_option_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.md");
    let out = explore()
        .arg(fixture("imports/cycle"))
        .args(["-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let text = fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("## Import cycles"));
    assert!(text.contains("`loop/c.py:1` imports `loop/a.py`"));
}

#[test]
fn unwritable_output_exits_with_code_3() {
    let out = explore()
        .arg(fixture("imports/cycle"))
        .args(["-o", "/definitely/not/here/report.md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn markdown_report_has_a_package_diagram_and_third_party_groups() {
    let out = explore().arg(fixture("backend")).output().unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("```mermaid\nflowchart LR"));
    assert!(md.contains("### task-queue"));
    assert!(md.contains("[`celery`]("));
    assert!(md.contains("| `server.utils.settings` | `server/utils/settings.py` |"));
}

#[test]
fn dot_output_lists_first_party_edges() {
    let out = explore()
        .arg(fixture("imports/cycle"))
        .args(["--format", "dot"])
        .output()
        .unwrap();
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph modules {"));
    assert!(dot.contains("\"loop/a.py\" -> \"loop/b.py\";"));
    assert!(dot.contains("\"y.py\" -> \"x.py\" [style=dashed];"));
}

fn validate(report: &Value) {
    let schema: Value =
        serde_json::from_str(&fs::read_to_string(fixture("../schema/report.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn reports_on_every_fixture_validate_against_the_published_schema() {
    for f in [
        "backend",
        "bad_input",
        "imports/kinds",
        "imports/cycle",
        "imports/reexport",
        "imports/service_root",
        "imports/django_root",
        "fastapi_forms",
        "celery_forms",
        "redis_forms",
        "services_forms",
        "fastapi_loops",
        "celery_wrappers",
        "celery_decorators",
        "celery_current_app",
        "celery_enum_names",
        "two_services",
        "django_celery",
        "flow_forms",
        "fastapi_dynamic",
        "fastapi_indirect",
        "app_state",
        "pubsub_poller",
        "auth_checks",
    ] {
        validate(&report_json(&fixture(f), &[]));
    }
}

#[test]
fn published_schema_matches_the_report_types() {
    let out = explore().arg("schema").output().unwrap();
    let committed = fs::read_to_string(fixture("../schema/report.schema.json")).unwrap();
    let generated = String::from_utf8(out.stdout).unwrap();
    // Name the first line that differs rather than print both schemas.
    let first_difference = generated
        .lines()
        .zip(committed.lines())
        .position(|(a, b)| a != b)
        .or_else(|| (generated.lines().count() != committed.lines().count()).then_some(0));
    assert!(
        first_difference.is_none(),
        "schema/report.schema.json is stale from line {}: run `cargo run -- schema > schema/report.schema.json`",
        first_difference.map_or(0, |i| i + 1)
    );
}

#[test]
fn a_namespace_folder_inside_a_package_is_named_through_the_package() {
    let report = report_json(&fixture("imports/nested_namespace"), &[]);
    assert_eq!(report["roots"], serde_json::json!(["."]));
    let modules: Vec<(String, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["module"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("app/__init__.py", "app"),
        ("app/core.py", "app.core"),
        ("app/feedback/helpers.py", "app.feedback.helpers"),
        ("app/feedback/incident/__init__.py", "app.feedback.incident"),
        (
            "app/feedback/incident/views.py",
            "app.feedback.incident.views",
        ),
    ];
    assert_eq!(
        modules,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    let e = edges(&report);
    assert!(e.contains(&edge(
        "app/feedback/incident/views.py",
        3,
        "app/feedback/helpers.py",
        "first_party",
        "top_level"
    )));
}

/// Asserts that each file is named as the module given beside it.
fn assert_named(r: &Value, expected: &[(&str, &str)]) {
    let names = module_names(r);
    for (path, module) in expected {
        assert!(
            names.contains(&(path.to_string(), module.to_string())),
            "{path} should be {module}: {names:?}"
        );
    }
}

/// `(path, module)` of every analysed file.
fn module_names(report: &Value) -> Vec<(String, String)> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "analyzed")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["module"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_service_folder_its_code_imports_from_is_a_root_despite_a_stray_init() {
    let r = report_json(&fixture("imports/service_root"), &[]);
    assert_eq!(r["roots"], serde_json::json!([".", "api", "worker"]));
    assert_named(
        &r,
        &[
            ("worker/__init__.py", "worker"),
            ("worker/common/db.py", "common.db"),
            ("worker/jobs/tasks.py", "jobs.tasks"),
            ("worker/run.py", "run"),
            ("api/app/main.py", "app.main"),
        ],
    );
    let e = edges(&r);
    assert!(e.contains(&edge(
        "worker/jobs/tasks.py",
        1,
        "worker/common/db.py",
        "first_party",
        "top_level"
    )));
    assert!(e.contains(&edge(
        "worker/run.py",
        1,
        "worker/jobs/tasks.py",
        "first_party",
        "top_level"
    )));
    assert_eq!(r["summary"]["unresolved_imports"], 0);
}

#[test]
fn a_django_projects_manage_py_folder_is_a_root_but_any_manage_py_is_not() {
    let r = report_json(&fixture("imports/django_root"), &[]);
    assert_eq!(r["roots"], serde_json::json!([".", "svc/backend"]));
    assert_named(
        &r,
        &[
            ("svc/backend/orders/models.py", "orders.models"),
            ("svc/backend/conf/settings.py", "conf.settings"),
            ("svc/backend/manage.py", "manage"),
            ("svc/backend/__init__.py", "svc.backend"),
            // A manage.py that does not set DJANGO_SETTINGS_MODULE is a module
            // of its package like any other.
            ("toolkit/manage.py", "toolkit.manage"),
            ("toolkit/cli/main.py", "toolkit.cli.main"),
        ],
    );
    assert!(edges(&r).contains(&edge(
        "svc/backend/orders/models.py",
        1,
        "svc/backend/conf/settings.py",
        "first_party",
        "top_level"
    )));
}

/// `(module, resolution, to-or-package)` of the imports of one file.
fn imports_of(report: &Value, from: &str) -> Vec<(String, String, String)> {
    select(&report["imports"], "from", from)
        .into_iter()
        .map(|e| {
            (
                e["module"].as_str().unwrap().to_string(),
                e["resolution"].as_str().unwrap().to_string(),
                e["to"]
                    .as_str()
                    .or(e["package"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn triple(module: &str, resolution: &str, to: &str) -> (String, String, String) {
    (module.into(), resolution.into(), to.into())
}

#[test]
fn a_module_inside_a_package_does_not_import_itself_by_its_bare_name() {
    let r = report_json(&fixture("imports/self_shadow"), &[]);
    // `import yaml` in `app/helpers/yaml.py` is PyYAML: Python 3 looks it up
    // on `sys.path`, where only the root is, not the file's own folder.
    assert_eq!(
        imports_of(&r, "app/helpers/yaml.py"),
        [triple("yaml", "third_party", "yaml")]
    );
    // A module of that name at the root is what the import finds.
    assert_eq!(
        imports_of(&r, "app/helpers/settings.py"),
        [triple("settings", "first_party", "settings.py")]
    );
    // A script outside any package still finds its neighbours, as
    // `python scripts/nightly.py` would.
    assert_eq!(
        imports_of(&r, "scripts/nightly.py"),
        [triple("job_steps", "first_party", "scripts/job_steps.py")]
    );
    // So does one in a folder without `__init__.py` below a package: it is
    // run from there, not imported as part of `app`.
    assert_eq!(
        imports_of(&r, "app/tools/export.py"),
        [
            triple("csv", "stdlib", "csv"),
            triple("formats", "first_party", "app/tools/formats.py")
        ]
    );
    // A `docker/` folder of scripts without `__init__.py` is a namespace
    // portion, which the installed `docker` package wins over: what is
    // imported from it is not below the folder.
    assert_eq!(
        imports_of(&r, "app/runner.py"),
        [
            triple("docker.errors", "third_party", "docker"),
            triple("docker", "third_party", "docker")
        ]
    );
    assert_eq!(r["summary"]["unresolved_imports"], 0);
}

#[test]
fn dot_output_and_summary_agree_that_a_self_import_is_no_edge() {
    let r = report_json(&fixture("imports/self_shadow"), &[]);
    // The import is still listed in the report...
    assert!(edges(&r).contains(&edge(
        "app/main.py",
        5,
        "app/main.py",
        "first_party",
        "function"
    )));
    // ...but neither the summary nor the DOT graph count it as an edge.
    let out = explore()
        .arg(fixture("imports/self_shadow"))
        .args(["--format", "dot", "--quiet"])
        .output()
        .unwrap();
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(!dot.contains("\"app/main.py\" -> \"app/main.py\""), "{dot}");
    let arrows = dot.lines().filter(|l| l.contains(" -> ")).count();
    assert_eq!(
        arrows as u64,
        r["summary"]["first_party_edges"].as_u64().unwrap()
    );
    assert_eq!(arrows, 4, "{dot}");
}

#[test]
fn src_folders_holding_pep420_namespace_portions_are_the_roots() {
    let r = report_json(&fixture("imports/namespace_pep420"), &[]);
    assert_eq!(
        r["roots"],
        serde_json::json!([
            "libs/audit/src",
            "libs/ledger/src",
            "svc",
            "tools/src/runner"
        ])
    );
    assert_named(
        &r,
        &[
            (
                "libs/ledger/src/acme/ledger/entries.py",
                "acme.ledger.entries",
            ),
            ("libs/audit/src/acme/audit/__init__.py", "acme.audit"),
            ("libs/audit/src/acme/audit/trail.py", "acme.audit.trail"),
            // A folder in `src/` that the code does not name is no namespace:
            // its packages keep their own top-level names.
            ("tools/src/runner/job/steps.py", "job.steps"),
        ],
    );
    assert_eq!(
        imports_of(&r, "svc/main.py"),
        [
            triple(
                "acme.ledger.entries",
                "first_party",
                "libs/ledger/src/acme/ledger/entries.py"
            ),
            triple(
                "acme.audit.trail",
                "first_party",
                "libs/audit/src/acme/audit/trail.py"
            ),
        ]
    );
    assert_eq!(
        imports_of(&r, "libs/ledger/src/acme/ledger/entries.py"),
        [triple(
            "acme.audit.trail",
            "first_party",
            "libs/audit/src/acme/audit/trail.py"
        )]
    );
    assert_eq!(r["summary"]["unresolved_imports"], 0);
}

#[test]
fn a_namespace_split_with_pkgutil_is_named_from_every_portion() {
    let r = report_json(&fixture("imports/namespace_pkgutil"), &[]);
    assert_eq!(
        r["roots"],
        serde_json::json!(["libs/billing/src", "libs/core/src", "plugins", "svc"])
    );
    assert_named(
        &r,
        &[
            ("libs/core/src/acme/__init__.py", "acme"),
            ("libs/core/src/acme/core/clock.py", "acme.core.clock"),
            (
                "libs/billing/src/acme/billing/invoices.py",
                "acme.billing.invoices",
            ),
            // Not in a `src/` folder, but `acme` is the namespace another
            // distribution declares with `pkgutil.extend_path`.
            ("plugins/acme/reports/pdf.py", "acme.reports.pdf"),
        ],
    );
    assert_eq!(
        imports_of(&r, "svc/main.py"),
        [
            triple(
                "acme.billing.invoices",
                "first_party",
                "libs/billing/src/acme/billing/invoices.py"
            ),
            triple(
                "acme.reports.pdf",
                "first_party",
                "plugins/acme/reports/pdf.py"
            ),
        ]
    );
    assert_eq!(
        imports_of(&r, "plugins/acme/reports/pdf.py"),
        [triple(
            "acme.billing.invoices",
            "first_party",
            "libs/billing/src/acme/billing/invoices.py"
        )]
    );
    assert_eq!(r["summary"]["unresolved_imports"], 0);
}

#[cfg(unix)]
#[test]
fn symbolic_links_not_followed_are_listed_as_skipped() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join("app")).unwrap();
    fs::create_dir_all(p.join("shared")).unwrap();
    fs::write(p.join("real.py"), "x = 1\n").unwrap();
    fs::write(p.join("shared/tool.py"), "y = 2\n").unwrap();
    symlink("../real.py", p.join("app/linked.py")).unwrap();
    symlink("../shared", p.join("app/lib")).unwrap();
    symlink(p.join("nowhere.py"), p.join("app/dangling.py")).unwrap();

    let status = |r: &Value, path: &str| {
        let f = select(&r["files"], "path", path);
        assert_eq!(f.len(), 1, "{path} is listed once: {:#?}", r["files"]);
        (
            f[0]["status"].as_str().unwrap().to_string(),
            f[0]["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    let r = report_json(p, &[]);
    let (s, reason) = status(&r, "app/linked.py");
    assert_eq!(s, "skipped");
    assert!(reason.contains("symbolic link"), "{reason}");
    assert!(reason.contains("--follow-links"), "{reason}");
    let (s, reason) = status(&r, "app/dangling.py");
    assert_eq!(s, "skipped");
    assert!(reason.contains("broken symbolic link"), "{reason}");
    let lib = select(&r["skipped_dirs"], "path", "app/lib");
    assert_eq!(lib.len(), 1, "{:#?}", r["skipped_dirs"]);
    assert!(
        lib[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--follow-links")
    );
    assert_eq!(r["summary"]["files"], 4);
    validate(&r);

    // Followed, the links are read; the one that leads nowhere is still
    // listed, with the reason.
    let r = report_json(p, &["--follow-links"]);
    assert_eq!(status(&r, "app/linked.py").0, "analyzed");
    assert_eq!(status(&r, "app/lib/tool.py").0, "analyzed");
    let (s, reason) = status(&r, "app/dangling.py");
    assert_eq!(s, "skipped");
    assert!(reason.contains("broken symbolic link"), "{reason}");
    validate(&r);
}

/// Runs `explore` with `args`, expects a usage error (exit 2, nothing on
/// stdout, one `error:` line) and returns that line.
fn usage_error(args: &[&str]) -> String {
    let out = explore().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_string()
}

#[test]
fn thread_counts_above_the_limit_are_a_usage_error() {
    let cycle = fixture("imports/cycle");
    let error = usage_error(&[cycle.to_str().unwrap(), "--quiet", "-j", "100000"]);
    assert!(error.contains("100000"), "{error}");
    assert!(error.contains("1024"), "{error}");
    let ok = explore()
        .arg(fixture("imports/cycle"))
        .args(["--quiet", "--format", "json", "-j", "1024"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn an_unknown_route_method_is_a_usage_error() {
    let backend = fixture("backend");
    let error = usage_error(&[
        "routes",
        backend.to_str().unwrap(),
        "--quiet",
        "--method",
        "FOO",
    ]);
    assert!(error.contains("FOO"), "{error}");
    assert!(error.contains("not an HTTP method"), "{error}");
    for method in ["get", "POST", "ws", "websocket", "mount"] {
        let ok = explore()
            .args(["routes"])
            .arg(fixture("backend"))
            .args(["--quiet", "--method", method])
            .output()
            .unwrap();
        assert_eq!(ok.status.code(), Some(0), "{method}");
    }
}
