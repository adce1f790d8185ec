//! End-to-end runs of real pipelines through the `loyalty` binary, checked
//! against values worked out by hand or computed independently from the
//! input Parquet.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// Orders worked by hand for the bundled pipeline, as of 2026-06-30 with
/// `churn_days` 90 (a customer is active when their last completed order is
/// after 2026-04-01).
fn hand_fixture(data: &Path) {
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2, 3, 4]),
    );
    let orders = orders_batch(&[
        (1, 1, "2026-01-10 10:00:00", 100.0, "completed"),
        (2, 1, "2026-06-01 09:00:00", 50.0, "completed"),
        (3, 1, "2026-06-05 12:00:00", -20.0, "returned"), // a refund: counted
        (4, 2, "2026-02-01 08:00:00", 80.0, "completed"),
        (5, 2, "2026-03-01 08:00:00", 30.0, "cancelled"), // counts nothing
        (6, 3, "2026-07-01 00:00:01", 500.0, "completed"), // after as_of: ignored
        (7, 3, "2026-06-30 23:59:59", 40.0, "completed"), // on as_of: counted
        (8, 4, "2026-05-01 10:00:00", 25.0, "cancelled"), // never bought
    ]);
    write_parquet(&data.join("orders/part-0.parquet"), &orders);
}

fn run_bundled(tmp: &Path, extra: &[&str]) -> std::process::Output {
    let (data, out) = (tmp.join("data"), tmp.join("out"));
    run_pipeline(tmp, &bundled_pipeline(), "2026-06-30", &data, &out, extra)
}

#[test]
fn bundled_pipeline_on_hand_worked_orders() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &[]);
    assert_exit(&o, 0);
    let out = tmp.path().join("out");

    let mut co = read_parquet(&out.join("tables/customer_orders"));
    co = vec![arrow::compute::concat_batches(&co[0].schema(), &co).unwrap()];
    let ids = col_i64(&co, "customer_id");
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        by_id.insert(id.unwrap(), i);
    }
    assert_eq!(by_id.len(), 3, "customer 4 only cancelled: no row");
    let orders = col_i64(&co, "orders");
    let revenue = col_f64(&co, "monetary");
    let first = col_str(&co, "first_order_date");
    let last = col_str(&co, "last_order_date");
    let expect = [
        (1, 2, 130.0, "2026-01-10", "2026-06-01"),
        (2, 1, 80.0, "2026-02-01", "2026-02-01"),
        (3, 1, 40.0, "2026-06-30", "2026-06-30"),
    ];
    for (id, n, rev, f, l) in expect {
        let i = by_id[&id];
        assert_eq!(orders[i], Some(n), "orders of customer {id}");
        assert_eq!(revenue[i], Some(rev), "revenue of customer {id}");
        assert_eq!(first[i].as_deref(), Some(f), "first order of customer {id}");
        assert_eq!(last[i].as_deref(), Some(l), "last order of customer {id}");
    }

    let h = read_parquet(&out.join("tables/headline"));
    assert_eq!(col_i64(&h, "customers"), [Some(3)]);
    assert_eq!(col_i64(&h, "active_customers"), [Some(2)]);
    assert_eq!(col_i64(&h, "churned_customers"), [Some(1)]);
    assert_eq!(col_i64(&h, "orders"), [Some(4)]);
    assert_eq!(col_f64(&h, "revenue"), [Some(250.0)]);

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("As of 30 Jun 2026"), "{report}");
    assert!(report.contains("| Active customers | 2 |"), "{report}");

    let results = read_json(&out.join("run_results.json"));
    assert_eq!(results["status"], "success");
    assert_eq!(results["params"]["as_of"], "2026-06-30");
    assert_eq!(step_result(&results, "customer_orders")["rows"], 3);
    assert_eq!(step_result(&results, "headline")["status"], "success");
    // Optional sources the fixture lacks are reported absent, not errors.
    let absent: Vec<&str> = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "absent")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(absent, ["surveys", "complaints"]);
    let artifacts = results["artifacts"].as_array().unwrap();
    // 21 outputs, less the 6 whose steps read the absent surveys or
    // complaints; 3 reports; the Markdown report's 9 charts (not the two
    // survey charts).
    assert_eq!(artifacts.len(), 27);
    let co_artifact = artifacts
        .iter()
        .find(|a| a["source"] == "customer_orders")
        .unwrap();
    assert_eq!(co_artifact["rows"], 3);
    assert_eq!(co_artifact["format"], "parquet");
    assert!(
        co_artifact["path"]
            .as_str()
            .unwrap()
            .ends_with("tables/customer_orders/part-0.parquet")
    );
    // Nothing is left in staging or scratch.
    assert!(!out.join("_staging").exists());
    assert!(!out.join("_scratch").exists());
}

#[test]
fn generated_data_matches_sums_computed_from_the_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 400, 7);

    // Independently: per customer, completed orders and non-cancelled revenue.
    let orders = read_parquet(&data.join("orders"));
    let cust = col_i64(&orders, "customer_id");
    let amount = col_f64(&orders, "amount");
    let status = col_str(&orders, "status");
    let mut expected: HashMap<i64, (i64, f64)> = HashMap::new();
    for i in 0..cust.len() {
        let e = expected.entry(cust[i].unwrap()).or_default();
        match status[i].as_deref().unwrap() {
            "completed" => {
                e.0 += 1;
                e.1 += amount[i].unwrap();
            }
            "returned" => e.1 += amount[i].unwrap(),
            _ => {}
        }
    }
    expected.retain(|_, (n, _)| *n > 0);

    let o = run_bundled(tmp.path(), &[]);
    assert_exit(&o, 0);
    let co = read_parquet(&tmp.path().join("out/tables/customer_orders"));
    assert_eq!(rows(&co), expected.len());
    let ids = col_i64(&co, "customer_id");
    let n = col_i64(&co, "orders");
    let rev = col_f64(&co, "monetary");
    for i in 0..ids.len() {
        let (en, erev) = expected[&ids[i].unwrap()];
        assert_eq!(n[i], Some(en));
        assert!(
            (rev[i].unwrap() - erev).abs() < 1e-6,
            "{} vs {erev}",
            rev[i].unwrap()
        );
    }
    let total: f64 = expected.values().map(|v| v.1).sum();
    let h = read_parquet(&tmp.path().join("out/tables/headline"));
    assert!((col_f64(&h, "revenue")[0].unwrap() - total).abs() < 1e-3);
}

/// The lifecycle trend reaches back lifecycle_trend_dates + 1 periods of
/// churn_days: at the params' largest (13 dates of 3650 days, to 1886) the
/// bundled pipeline still plans, and a churn_days past its bound is refused
/// as a param, before the trend's dates would fall before 1677, where
/// timestamps end.
#[test]
fn the_lifecycle_trend_plans_at_the_params_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hand_fixture(&data);
    let validate = |churn_days: &str| {
        let churn_days = format!("churn_days={churn_days}");
        let extra = [
            "--param",
            &churn_days,
            "--param",
            "lifecycle_trend_dates=13",
        ];
        validate_pipeline(tmp.path(), &bundled_pipeline(), "2026-06-30", &data, &extra)
    };
    assert_exit(&validate("3650"), 0);
    assert_says(
        &validate("3651"),
        2,
        &["param `churn_days`: `3651` is out of its bounds: give a value from 1 to 3650"],
    );
}

#[test]
fn select_runs_only_the_named_steps_and_what_they_need() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &["--select", "customer_orders"]);
    assert_exit(&o, 0);
    let out = tmp.path().join("out");
    let results = read_json(&out.join("run_results.json"));
    assert_eq!(step_result(&results, "orders_asof")["status"], "success");
    assert_eq!(
        step_result(&results, "customer_orders")["status"],
        "success"
    );
    assert_eq!(step_result(&results, "headline")["status"], "skipped");
    // The summary line says how many of the steps ran: customer_orders and
    // the customer_summary and orders_asof it reads.
    let all = results["steps"].as_array().unwrap().len();
    let said = format!("3 of {all} steps ran, {} skipped in", all - 3);
    assert!(stdout(&o).contains(&said), "{}", stdout(&o));
    assert!(out.join("tables/customer_orders/part-0.parquet").exists());
    assert!(!out.join("tables/headline").exists());
    assert!(
        !out.join("report.md").exists(),
        "a partial run writes no report"
    );
}

/// A step with errors holds back only itself and the steps reading it from a
/// `--select` run that does not need them: the selected steps run and are
/// written, the others are skipped with why. A run that needs one, and a
/// whole run, stop before anything runs, with its errors.
#[test]
fn select_runs_beside_a_step_with_errors_it_does_not_need() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hand_fixture(&data);
    let pipeline = bundle_with_a_broken_step(tmp.path());
    let run = |out: &str, extra: &[&str]| {
        let out = tmp.path().join(out);
        (
            run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &out, extra),
            out,
        )
    };

    let (o, out) = run("out", &["--select", "customer_orders"]);
    assert_says(
        &o,
        0,
        &[
            "step has errors, so it is left out of this run",
            "cohort_activity",
        ],
    );
    // The fixture's customers 1 to 3: customer 4 only cancelled.
    let rows: usize = (read_parquet(&out.join("tables/customer_orders")).iter())
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 3);
    let results = read_json(&out.join("run_results.json"));
    assert_eq!(results["status"], "success");
    let activity = step_result(&results, "cohort_activity");
    assert_eq!(activity["status"], "skipped");
    assert_eq!(
        activity["message"],
        "has errors: `loyalty validate` says which"
    );
    let retention = step_result(&results, "cohort_retention");
    assert_eq!(
        retention["message"],
        "reads step `cohort_activity`, which has errors: `loyalty validate` says which"
    );

    let syntax = "cohort_activity.sql:1:1): SQL syntax error";
    let held = "step `cohort_retention`: not checked, because step `cohort_activity` has errors";
    for extra in [&["--select", "cohort_retention"][..], &[]] {
        let (o, out) = run("out-2", extra);
        assert_says(&o, 2, &[syntax]);
        assert!(!out.exists(), "nothing may be written");
        if !extra.is_empty() {
            assert_says(&o, 2, &[held]);
        }
    }
}

/// A step whose SQL names a column its input lacks is found only planning
/// against the data: a `--select` run that does not need it plans it as
/// well, and says so in a warning, once (not for the steps reading it), and
/// goes on; the whole run stops at it.
#[test]
fn select_warns_of_a_step_it_leaves_out_that_does_not_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hand_fixture(&data);
    let pipeline = bundle_copy(tmp.path());
    let sql = pipeline
        .parent()
        .unwrap()
        .join("../sql/customer_history.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(
        &sql,
        text.replacen("MAX(before_last_day_ts)", "MAX(before_last_dy_ts)", 1),
    )
    .unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("MAX(before_last_day_ts)"))
        .unwrap()
        + 1;
    let out = tmp.path().join("out");
    let o = run_pipeline(
        tmp.path(),
        &pipeline,
        "2026-06-30",
        &data,
        &out,
        &["--select", "customer_orders"],
    );
    assert_says(
        &o,
        0,
        &[
            "WARN step `customer_history`: Schema error: No field named before_last_dy_ts",
            &format!("sql/customer_history.sql:{line}:"),
            "(a step `--select` leaves out: this run goes on without it; a whole run would stop)",
        ],
    );
    // lifecycle_stages and churn_summary read it: not warned of again.
    assert_eq!(stderr(&o).matches("WARN").count(), 1, "{}", stderr(&o));
    assert_eq!(
        read_json(&out.join("run_results.json"))["status"],
        "success"
    );
    let o = run_pipeline(
        tmp.path(),
        &pipeline,
        "2026-06-30",
        &data,
        &tmp.path().join("out-2"),
        &[],
    );
    assert_says(
        &o,
        2,
        &["step `customer_history`: Schema error: No field named before_last_dy_ts"],
    );
}

#[test]
fn a_wrong_param_type_or_a_value_out_of_bounds_is_refused_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &["--as-of", "2026-13-01"]);
    assert_says(&o, 2, &["`2026-13-01` is not a valid date"]);
    assert!(!tmp.path().join("out").exists(), "nothing may be written");

    let o = run_bundled(tmp.path(), &["--param", "churn_days=ninety"]);
    assert_says(&o, 2, &["param `churn_days`: `ninety` is not a valid int"]);

    // The bundled pipeline bounds its windows: no churn after 0 days.
    let o = run_bundled(tmp.path(), &["--param", "churn_days=0"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o)
            .contains("param `churn_days`: `0` is out of its bounds: give a value from 1 to 3650"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("out").exists(), "nothing may be written");

    // A default of the wrong type, or outside its bounds, is the file's
    // mistake: named at its line. The same value given with --param is not.
    let p = pipeline_file(
        tmp.path(),
        "name: t
params:
  n: { type: int, default: many }
  days: { type: int, default: 0, min: 1 }
sources:
  orders: data/orders/
steps:
  a:
    sql: SELECT {{ n }} AS n, {{ days }} AS days
",
    );
    let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("p.yaml:3:3: param `n`: `many` is not a valid int"),
        "{err}"
    );
    assert!(
        err.contains("p.yaml:4:3: param `days`: `0` is out of its bounds"),
        "{err}"
    );
    let o = loyalty(
        tmp.path(),
        &[
            "validate",
            p.to_str().unwrap(),
            "--param",
            "n=lots",
            "--param",
            "days=2",
        ],
    );
    assert_says(&o, 2, &["  - param `n`: `lots` is not a valid int"]);
}

/// A view that no step, check, output or report reads is never computed,
/// so its errors would not show either: `run` and `validate` say so, naming
/// it and its place. Steps read by an output or by another step, and steps
/// with checks of their own, are computed and not named.
#[test]
fn a_step_read_by_nothing_is_named_as_not_computed() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: unread
sources:
  orders: data/orders/
steps:
  written:
    sql: SELECT customer_id FROM orders
  read_by_step:
    sql: SELECT customer_id FROM orders
  checked:
    sql: SELECT * FROM read_by_step
    checks:
      - not_null: [customer_id]
  forgotten:
    sql: SELECT CAST(CAST(customer_id AS VARCHAR) || 'x' AS INT) AS n FROM orders
output_root: out
outputs:
  - step: written
    path: written.csv
    format: csv
",
    );
    // `forgotten:`, the file's 13th line.
    let said = format!(
        "step read by nothing, so not computed: add it to `outputs`, or see its rows with `loyalty show` step=\"forgotten\" at=\"{}:13:3\"",
        p.display()
    );
    for command in ["validate", "run"] {
        let o = loyalty(
            tmp.path(),
            &[command, p.to_str().unwrap(), "--as-of", "2026-06-30"],
        );
        assert_says(&o, 0, &[&said]);
        assert_eq!(
            stderr(&o).matches("read by nothing").count(),
            1,
            "{}",
            stderr(&o)
        );
    }
    // run_results.json says so of that step alone.
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let messages: Vec<(&str, &serde_json::Value)> = (r["steps"].as_array().unwrap().iter())
        .map(|s| (s["name"].as_str().unwrap(), &s["message"]))
        .collect();
    let none = serde_json::Value::Null;
    let not_computed = serde_json::json!("read by no step, output or report: not computed");
    assert_eq!(
        messages,
        [
            ("written", &none),
            ("read_by_step", &none),
            ("checked", &none),
            ("forgotten", &not_computed),
        ]
    );
}

#[test]
fn validate_with_a_source_missing_still_plans_the_steps_that_do_not_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: one_source_missing
sources:
  orders: data/orders/
  customers: data/nowhere/
  surveys: { url: data/no_surveys/, optional: true }
steps:
  a:
    sql: SELECT customer_id, amont FROM orders
  b:
    sql: SELECT customer_id FROM customers
  c:
    sql: SELECT customer_id FROM surveys
",
    );
    let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    // The missing source, the step reading it, and the typo in `a`, which is
    // planned against the orders that are there; `c` will be skipped, as an
    // absent optional source's readers are, which is no problem.
    assert!(
        err.contains("2 problems found") && err.contains("1 step not checked because of them"),
        "{err}"
    );
    assert!(
        err.contains("source `customers`: no Parquet files at"),
        "{err}"
    );
    assert!(
        err.contains("step `b`: not checked, because source `customers` is unusable (see above)"),
        "{err}"
    );
    assert!(err.contains("amont"), "{err}");
    assert!(!err.contains("step `c`"), "{err}");
}

#[test]
fn validate_reports_every_problem_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    // validate refuses the pipeline: its problems, as printed.
    let refused = |yaml: &str| -> String {
        let p = pipeline_file(tmp.path(), yaml);
        let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
        assert_exit(&o, 2);
        stderr(&o)
    };
    let err = refused(
        "name: broken
sources:
  orders: data/orders/
  customers: data/customers/
steps:
  a:
    sql: SELECT customer_id, amount FROM ordrs
  b:
    sql: SELECT customer_id, no_such_column FROM orders
  c:
    sql: SELECT * FROM b
  d:
    sql: SELECT * FROM e
  e:
    sql: SELECT * FROM d
",
    );
    assert!(
        err.contains(
            "p.yaml:6:3: step `a` (inline SQL) reads unknown table `ordrs`; did you mean `orders`?"
        ),
        "{err}"
    );
    assert!(err.contains("cycle: `d` → `e` → `d`"), "{err}");

    // A mixed-case name, which SQL would read in lower case.
    let err = refused(
        "name: upper
sources:
  orders: data/orders/
steps:
  BigSpenders:
    sql: SELECT customer_id FROM orders
",
    );
    assert!(
        err.contains(
            "p.yaml:5:3: step name `BigSpenders` is not a plain SQL name: SQL reads names in lower case, so use lower-case letters, digits and `_`, e.g. `bigspenders`"
        ),
        "{err}"
    );

    // Two outputs, or an output and a report, in one place: the second would
    // overwrite the first.
    std::fs::write(tmp.path().join("r.md.j2"), "x").unwrap();
    let err = refused(
        "name: twice
sources:
  orders: data/orders/
steps:
  a:
    sql: SELECT customer_id FROM orders
outputs:
  - step: a
    path: a.parquet
  - step: a
    path: a.parquet
reports:
  - template: r.md.j2
    path: a.parquet
",
    );
    assert!(
        err.contains("p.yaml:7:1: output 2 writes `file://")
            && err.contains("/a.parquet`, as output 1 does: give each its own path"),
        "{err}"
    );
    assert!(
        err.contains("report `a.parquet` writes `file://")
            && err.contains("/a.parquet`, as output 1 does"),
        "{err}"
    );

    // Nor where the run writes its own run_results.json (which replaced
    // such an output without a word), or inside the folders runs clear.
    let err = refused(
        "name: own
sources:
  orders: data/orders/
steps:
  a:
    sql: SELECT customer_id FROM orders
outputs:
  - { step: a, path: run_results.json, format: csv }
  - { step: a, path: _staging/a.csv, format: csv }
reports:
  - template: r.md.j2
    path: _scratch/r.md
",
    );
    assert!(
        err.contains("output 1 writes `file://")
            && err.contains("/run_results.json`, where the run writes its own run_results.json"),
        "{err}"
    );
    assert!(
        err.contains("output 2 writes `file://")
            && err.contains("/_staging/a.csv`, inside `_staging/`"),
        "{err}"
    );
    assert!(
        err.contains("report `_scratch/r.md` writes `file://")
            && err.contains("inside `_scratch/`"),
        "{err}"
    );

    // Fix the plan-level errors: the schema-level ones are all reported.
    let schema_broken = "name: broken
sources:
  orders: data/orders/
steps:
  a:
    sql: SELECT customer_id, amont FROM orders
  b:
    sql: SELECT customer_id, no_such_column FROM orders
  c:
    sql: SELECT * FROM b
  d:
    sql: SELECT * FROM c
";
    let err = refused(schema_broken);
    assert!(
        err.contains("2 problems found") && err.contains("2 steps not checked because of them"),
        "{err}"
    );
    assert!(
        err.contains(
            "step `d`: not checked, because it reads step `b` (through `c`), which has errors"
        ),
        "{err}"
    );
    assert!(
        err.contains("step `a`: Schema error: No field named amont"),
        "{err}"
    );
    // The column is named where the pipeline file has it: line 8, after
    // the 9 columns of `    sql: ` and `SELECT customer_id, `.
    assert!(
        err.contains("No field named no_such_column")
            && err.contains(
                "/p.yaml:8:30)\n        8 | SELECT customer_id, no_such_column FROM orders\n"
            ),
        "{err}"
    );
    assert!(
        err.contains("step `c`: not checked, because step `b` has errors"),
        "{err}"
    );

    // Problems of outputs and reports do not stop the steps from being
    // planned against the data: both kinds come in one list.
    let err = refused(&format!(
        "{schema_broken}outputs:
  - step: bb
    path: b.parquet
reports:
  - template: missing.md.j2
    path: report.md
"
    ));
    assert!(
        err.contains("4 problems found") && err.contains("2 steps not checked because of them"),
        "{err}"
    );
    assert!(
        err.contains(
            "p.yaml:13:1: output 1 writes step `bb`, which does not exist; did you mean `b`?"
        ),
        "{err}"
    );
    assert!(err.contains("missing.md.j2` does not exist"), "{err}");
    assert!(
        err.contains("amont") && err.contains("no_such_column"),
        "{err}"
    );
    assert!(
        err.contains("step `c`: not checked, because step `b` has errors"),
        "{err}"
    );

    // A step the file gets wrong holds back only itself and its readers:
    // the other steps are still planned against the data.
    // The same pipeline with a syntax error in `a`, which `c` now reads.
    let err = refused(
        &schema_broken
            .replace(
                "SELECT customer_id, amont FROM orders",
                "SELEC customer_id FROM orders",
            )
            .replace("SELECT * FROM b", "SELECT * FROM a"),
    );
    assert!(
        err.contains("2 problems found") && err.contains("2 steps not checked because of them"),
        "{err}"
    );
    assert!(
        err.contains(
            "step `d`: not checked, because it reads step `a` (through `c`), which has errors"
        ),
        "{err}"
    );
    assert!(
        err.contains("p.yaml:5:3: step `a` (")
            && err.contains(
                "/p.yaml:6:10): SQL syntax error: Expected: an SQL statement, found: SELEC\n"
            ),
        "{err}"
    );
    assert!(
        err.contains("step `c`: not checked, because step `a` has errors"),
        "{err}"
    );
    assert!(
        err.contains("step `b`: Schema error: No field named no_such_column"),
        "{err}"
    );

    let o = loyalty(
        tmp.path(),
        &[
            "validate",
            bundled_pipeline().to_str().unwrap(),
            "--param",
            &format!("data_root={}", tmp.path().join("data").display()),
        ],
    );
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("valid (4 sources, 37 steps, 21 outputs, 3 reports)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn validate_show_sql_lists_every_query_rendered_with_the_params() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let yaml = "name: t
params:
  min_amount: { type: int, default: 10 }
sources:
  orders:
    url: data/orders/
    checks:
      - unique: [order_id]
      - accepted_values: { column: status, values: [completed, cancelled] }
        severity: warn
output_root: out
steps:
  big:
    sql: SELECT order_id FROM orders WHERE amount >= {{ min_amount }} AND order_ts < {{ as_of }}
    checks:
      - not_null: [order_id]
";
    let p = pipeline_file(tmp.path(), yaml);
    let o = loyalty(
        tmp.path(),
        &[
            "validate",
            p.to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--param",
            "min_amount=50",
            "--show-sql",
        ],
    );
    assert_exit(&o, 0);
    let out = stdout(&o);
    // Source checks first, then each step followed by its checks; every
    // query ends with a line holding only `;`.
    let blocks: Vec<&str> = out
        .split("\n;\n")
        .filter(|b| b.starts_with("-- "))
        .collect();
    assert_eq!(
        blocks,
        [
            "-- check orders.unique(order_id) on orders (error)\n\
             -- asked first (the query runs when it is not 0): \
             SELECT count_repeats(\"order_id\") AS repeats FROM \"orders\"\n\
             SELECT \"order_id\", COUNT(*) AS duplicates FROM \"orders\" GROUP BY \"order_id\" HAVING COUNT(*) > 1",
            "-- check orders.accepted_values(status) on orders (warn)\n\
             SELECT * FROM \"orders\" WHERE \"status\" IS NOT NULL AND \"status\" NOT IN ('completed', 'cancelled')",
            "-- step big (inline SQL)\n\
             SELECT order_id FROM orders WHERE amount >= 50 AND order_ts < DATE '2026-06-30'",
            "-- check big.not_null(order_id) on big (error)\n\
             SELECT * FROM \"big\" WHERE \"order_id\" IS NULL",
        ],
        "{out}"
    );
    assert!(
        out.ends_with("valid (1 source, 1 step, 0 outputs, 0 reports)\n"),
        "{out}"
    );

    // A reader that stops early (`… | head -1`) is no panic: the command
    // ends as it would have.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args([
            "validate",
            p.to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--show-sql",
        ])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 0);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn a_failed_step_publishes_nothing_and_keeps_the_previous_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let yaml = "name: t
params:
  fail: { type: bool, default: false }
sources:
  orders: data/orders/
output_root: out
steps:
  totals:
    sql: SELECT customer_id, SUM(amount) AS revenue FROM orders GROUP BY customer_id
    materialize: memory
  checked:
    sql: SELECT customer_id, CASE WHEN {{ fail }} AND revenue > 0 THEN CAST(CONCAT('x', CAST(customer_id AS VARCHAR)) AS INT) ELSE 1 END AS ok FROM totals
outputs:
  - step: totals
    path: totals/
  - step: checked
    path: checked.csv
    format: csv
  - step: totals
    path: file://ELSEWHERE/totals.csv
    format: csv
";
    // One output outside the output root, staged beside its target.
    let elsewhere = tmp.path().join("elsewhere");
    let yaml = yaml.replace("ELSEWHERE", &elsewhere.display().to_string());
    let p = pipeline_file(tmp.path(), &yaml);
    let in_elsewhere = || {
        let mut names: Vec<String> = std::fs::read_dir(&elsewhere)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(
        in_elsewhere(),
        ["totals.csv"],
        "published, nothing staged left"
    );
    let elsewhere_before = std::fs::read(elsewhere.join("totals.csv")).unwrap();
    let totals = tmp.path().join("out/totals/part-0.parquet");
    let before = std::fs::read(&totals).unwrap();
    let csv_before = std::fs::read_to_string(tmp.path().join("out/checked.csv")).unwrap();
    assert_eq!(
        csv_before.lines().count(),
        5,
        "header and four customers:\n{csv_before}"
    );

    let o = loyalty(
        tmp.path(),
        &["run", p.to_str().unwrap(), "--param", "fail=true"],
    );
    assert_exit(&o, 1);
    // `checked` is a view: its query runs as its output is written, and
    // fails there. The error says so, and where its SQL is, rather than
    // that the file could not be written.
    assert!(
        stderr(&o).contains("step `checked` failed: computing its rows for output `")
            && stderr(&o).contains("Cannot cast string 'x")
            && stderr(&o).contains("(the step's SQL is at ")
            && stderr(&o).contains("p.yaml:11:3)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(&totals).unwrap(),
        before,
        "previous output intact"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/checked.csv")).unwrap(),
        csv_before
    );
    let results = read_json(&tmp.path().join("out/run_results.json"));
    assert_eq!(results["status"], "error");
    assert_eq!(step_result(&results, "totals")["status"], "success");
    assert_eq!(step_result(&results, "checked")["status"], "error");
    assert!(results["artifacts"].as_array().unwrap().is_empty());
    assert!(!tmp.path().join("out/_staging").exists());
    assert_eq!(in_elsewhere(), ["totals.csv"], "nothing staged left beside");
    assert_eq!(
        std::fs::read(elsewhere.join("totals.csv")).unwrap(),
        elsewhere_before
    );
}

#[test]
fn absent_optional_source_skips_the_steps_that_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
  surveys: { url: data/surveys/, optional: true }
output_root: out
steps:
  n_orders:
    sql: SELECT COUNT(*) AS n FROM orders
  n_surveys:
    sql: SELECT COUNT(*) AS n FROM surveys
  survey_share:
    sql: SELECT s.n * 1.0 / o.n AS share FROM n_surveys s, n_orders o
outputs:
  - { step: n_orders, path: n_orders.csv, format: csv }
  - { step: survey_share, path: share.csv, format: csv }
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    let results = read_json(&tmp.path().join("out/run_results.json"));
    assert_eq!(step_result(&results, "n_surveys")["status"], "skipped");
    assert_eq!(
        step_result(&results, "n_surveys")["message"],
        "optional source `surveys` is absent"
    );
    assert_eq!(step_result(&results, "survey_share")["status"], "skipped");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/n_orders.csv")).unwrap(),
        "n\n8\n"
    );
    assert!(!tmp.path().join("out/share.csv").exists());

    // A missing required source is an error naming it, exit 1.
    let p = pipeline_file(
        tmp.path(),
        "name: t\nsources:\n  orders: data/nowhere/\nsteps:\n  a:\n    sql: SELECT * FROM orders\n",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(&o, 1, &["source `orders`: no Parquet files at `file://"]);

    // Where the location comes from a param, the error says which to set.
    let p = pipeline_file(
        tmp.path(),
        "name: t\nparams:\n  data_root: { type: string, default: nowhere }\nsources:\n  orders: \"{{ data_root }}/orders/\"\nsteps:\n  a:\n    sql: SELECT * FROM orders\n",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(
        &o,
        1,
        &[
            "nowhere/orders/`; check the path (it comes from param `data_root`: `--param data_root=…`), or mark the source `optional: true`",
        ],
    );

    // A location typed from where the command runs is still taken from the
    // pipeline file's folder: where it names something from here, the error
    // (or, for an optional source read as absent, a warning) says so.
    let nested = tmp.path().join("pipelines/p.yaml");
    std::fs::create_dir_all(nested.parent().unwrap()).unwrap();
    std::fs::write(
        &nested,
        "name: t
params:
  data_root: { type: string }
sources:
  orders: \"{{ data_root }}/orders/\"
  customers: { url: \"{{ data_root }}/customers/*.parquet\", optional: true }
steps:
  a:
    sql: SELECT * FROM orders
",
    )
    .unwrap();
    let run_nested = |data_root: &str| {
        let param = format!("data_root={data_root}");
        loyalty(
            tmp.path(),
            &["run", nested.to_str().unwrap(), "--param", &param],
        )
    };
    let o = run_nested("data");
    assert_exit(&o, 1);
    let err = stderr(&o);
    let from_here = |table: &str| {
        format!(
            "It is there from the current directory (`{}`), but a relative location is taken from the pipeline file's folder: give it from there, or as an absolute path",
            tmp.path().join("data").join(table).display()
        )
    };
    let orders = format!(
        "source `orders`: no Parquet files at `file://{}/`; check the path (it comes from param `data_root`: `--param data_root=…`), or mark the source `optional: true`. {}",
        tmp.path().join("pipelines/data/orders").display(),
        from_here("orders")
    );
    assert!(err.contains(&orders), "{err}");
    let customers = format!(
        "WARN source `customers`: no Parquet files at `file://{}/*.parquet`, so it is read as absent. {}",
        tmp.path().join("pipelines/data/customers").display(),
        from_here("customers")
    );
    assert!(err.contains(&customers), "{err}");
    // From the pipeline file's folder it runs, and nothing is said.
    let o = run_nested("../data");
    assert_exit(&o, 0);
    assert!(!stderr(&o).contains("current directory"), "{}", stderr(&o));
}

#[test]
fn sources_may_be_files_globs_or_hive_partitioned_trees() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let a = orders_batch(&[(1, 1, "2025-03-01 10:00:00", 10.0, "completed")]);
    let b = orders_batch(&[(2, 2, "2026-03-01 10:00:00", 32.5, "completed")]);
    write_parquet(&d.join("hive/year=2025/part-0.parquet"), &a);
    write_parquet(&d.join("hive/year=2026/part-0.parquet"), &b);
    write_parquet(&d.join("flat/a.parquet"), &a);
    write_parquet(&d.join("flat/b.parquet"), &b);
    std::fs::write(d.join("flat/notes.txt"), "not parquet").unwrap();
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  hive: data/hive/
  glob: data/flat/b*.parquet
  one: data/flat/a.parquet
  dir: data/flat/
output_root: out
steps:
  summary:
    sql: |
      SELECT
        (SELECT SUM(amount) FROM hive WHERE year = '2026') AS hive_2026,
        (SELECT COUNT(*) FROM hive) AS hive_rows,
        (SELECT SUM(amount) FROM glob) AS glob_sum,
        (SELECT SUM(amount) FROM one) AS one_sum,
        (SELECT SUM(amount) FROM dir) AS dir_sum
outputs:
  - { step: summary, path: summary.csv, format: csv }
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/summary.csv")).unwrap(),
        "hive_2026,hive_rows,glob_sum,one_sum,dir_sum\n32.5,2,32.5,10.0,42.5\n"
    );
}

#[test]
fn each_materialization_gives_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let mut outputs = vec![];
    for m in ["view", "memory", "parquet"] {
        let p = pipeline_file(
            tmp.path(),
            &format!(
                "name: t
sources:
  orders: data/orders/
output_root: out-{m}
steps:
  per_customer:
    sql: SELECT customer_id, SUM(amount) AS revenue, COUNT(*) AS n FROM orders GROUP BY customer_id
    materialize: {m}
  ranked:
    sql: SELECT customer_id, revenue, n, RANK() OVER (ORDER BY revenue DESC) AS r FROM per_customer ORDER BY customer_id
outputs:
  - {{ step: ranked, path: ranked.csv, format: csv }}
"
            ),
        );
        let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
        assert_exit(&o, 0);
        outputs
            .push(std::fs::read_to_string(tmp.path().join(format!("out-{m}/ranked.csv"))).unwrap());
        let results = read_json(&tmp.path().join(format!("out-{m}/run_results.json")));
        if m != "view" {
            assert_eq!(step_result(&results, "per_customer")["rows"], 4);
        }
        assert!(!tmp.path().join(format!("out-{m}/_scratch")).exists());
    }
    assert_eq!(
        outputs[0],
        "customer_id,revenue,n,r\n1,130.0,3,2\n2,110.0,2,3\n3,540.0,2,1\n4,25.0,1,4\n"
    );
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn a_step_mixing_text_literals_and_varchar_materializes_each_way() {
    // DataFusion 55 plans a UNION of a text literal column and a VARCHAR as
    // Utf8 and runs it as Utf8View: a step kept in memory must hold the
    // batches as they come (it failed with "Mismatch between schema and
    // batches" when the table took the planned schema).
    let tmp = tempfile::tempdir().unwrap();
    for m in ["view", "memory", "parquet"] {
        let p = pipeline_file(
            tmp.path(),
            &format!(
                "name: t
output_root: out-{m}
steps:
  labels:
    sql: >
      SELECT t.k, t.label FROM (VALUES (1, 'one'), (2, 'two')) AS t(k, label)
      UNION ALL SELECT CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR)
    materialize: {m}
  counted:
    sql: SELECT COUNT(label) AS labelled, COUNT(*) AS n, MAX(label) AS last FROM labels
outputs:
  - {{ step: counted, path: counted.csv, format: csv }}
"
            ),
        );
        let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
        assert_exit(&o, 0);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(format!("out-{m}/counted.csv"))).unwrap(),
            "labelled,n,last\n2,3,two\n",
            "{m}"
        );
    }
}

#[test]
fn outputs_are_written_in_their_sort_by_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    hand_fixture(&data);
    // A second file, so the step's rows come from more than one partition.
    write_parquet(
        &data.join("orders/part-1.parquet"),
        &orders_batch(&[
            (9, 6, "2026-03-03 10:00:00", 60.0, "completed"),
            (10, 5, "2026-03-04 10:00:00", 60.0, "completed"),
        ]),
    );
    let yaml = "name: t
sources:
  orders: data/orders/
output_root: out
steps:
  per_customer:
    sql: >
      SELECT customer_id, SUM(amount) AS revenue, COUNT(*) AS n,
        CASE WHEN customer_id = 4 THEN NULL ELSE SUM(amount) END AS rev_or_null
      FROM orders GROUP BY customer_id
outputs:
  - { step: per_customer, path: by_n/, sort_by: [n desc, revenue, customer_id] }
  - { step: per_customer, path: by_rev.csv, format: csv, sort_by: [rev_or_null DESC, customer_id desc] }
  - { step: per_customer, path: nulls_last.csv, format: csv, sort_by: [rev_or_null, customer_id] }
";
    let p = pipeline_file(tmp.path(), yaml);
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);

    // Per customer (by hand): 1: 3 orders, 130; 2: 2, 110; 3: 2, 540;
    // 4: 1, 25 (rev_or_null NULL); 5: 1, 60; 6: 1, 60.
    let file = tmp.path().join("out/by_n/part-0.parquet");
    let batches = read_parquet(&file);
    assert_eq!(
        col_i64(&batches, "customer_id"),
        [1, 2, 3, 4, 5, 6].map(Some).to_vec()
    );
    // The file declares its order: n (column 2) descending with NULLs
    // first, then revenue (1) and customer_id (0) ascending, NULLs last.
    let meta = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let declared: Vec<(i32, bool, bool)> = meta
        .metadata()
        .row_group(0)
        .sorting_columns()
        .expect("sorting_columns are written")
        .iter()
        .map(|c| (c.column_idx, c.descending, c.nulls_first))
        .collect();
    assert_eq!(
        declared,
        [(2, true, true), (1, false, false), (0, false, false)]
    );

    // run_results.json gives each output's size as written.
    let results = read_json(&tmp.path().join("out/run_results.json"));
    let artifacts = results["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 3);
    for a in artifacts {
        let path = a["path"].as_str().unwrap().strip_prefix("file://").unwrap();
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(a["bytes"].as_u64(), Some(size), "{a}");
    }

    // The customer ids of a CSV output, in file order.
    let ids = |file: &str| -> Vec<String> {
        let csv = std::fs::read_to_string(tmp.path().join("out").join(file)).unwrap();
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("by_rev.csv"), ["4", "3", "1", "2", "6", "5"]);
    assert_eq!(ids("nulls_last.csv"), ["5", "6", "2", "1", "3", "4"]);

    // A key that is not a column, or one named twice, is found by validate.
    let refused = |from: &str, to: &str| -> String {
        let p = pipeline_file(tmp.path(), &yaml.replace(from, to));
        let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
        assert_exit(&o, 2);
        stderr(&o)
    };
    let err = refused("[n desc, revenue, customer_id]", "[n desc, revenu]");
    assert!(
        err.contains("of step `per_customer`: sort_by: `revenu` is not one of the step's columns; did you mean `revenue`? they are customer_id, revenue, n, rev_or_null"),
        "{err}"
    );
    let err = refused("[rev_or_null, customer_id]", "[n, n desc]");
    assert!(
        err.contains("p.yaml:11:1: output 3 of step `per_customer`: sort_by names `n` twice"),
        "{err}"
    );
}

#[test]
fn a_wrong_sort_by_key_stops_its_step_before_it_computes() {
    // The step would fail while computing (a division by zero on every row):
    // a run that named that failure would have computed the step before
    // writing its output. It names the sort_by key instead.
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
steps:
  per_customer:
    sql: SELECT customer_id, 1 / (COUNT(*) - COUNT(*)) AS boom FROM orders GROUP BY customer_id
    materialize: memory
output_root: out
outputs:
  - { step: per_customer, path: per_customer.csv, sort_by: [custmer_id] }
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    // Found as the steps are planned, before any computes: as `validate`
    // finds it.
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("error: 1 problem found:\n  - output `")
            && err.contains("per_customer.csv` of step `per_customer`: sort_by: `custmer_id` is not one of the step's columns; did you mean `customer_id`?"),
        "{err}"
    );
    assert!(!err.contains("step started"), "{err}");
    assert!(!err.contains("Divide by zero"), "{err}");
    assert!(!tmp.path().join("out/per_customer.csv").exists());
    // With the key right, the step is computed and fails as it must.
    let p = pipeline_file(
        tmp.path(),
        &std::fs::read_to_string(&p)
            .unwrap()
            .replace("custmer_id", "customer_id"),
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(&o, 1, &["Divide by zero"]);
    // Where to fix it: the step's inline SQL in the pipeline file.
    assert!(
        stderr(&o).contains("(the step's SQL is at ") && stderr(&o).contains("p.yaml:5:3)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn steps_may_not_run_ddl_or_dml() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
steps:
  sneaky:
    sql: COPY (SELECT * FROM orders) TO 'stolen.csv'
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(
        &o,
        2,
        &["p.yaml:5:3: step `sneaky` (inline SQL): the SQL must be a query"],
    );
    assert!(!tmp.path().join("stolen.csv").exists());
}

#[test]
fn string_params_reach_sql_only_as_quoted_literals() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
params:
  status: { type: string, default: completed }
sources:
  orders: data/orders/
output_root: out
steps:
  n:
    sql: SELECT COUNT(*) AS n FROM orders WHERE status = {{ status }}
outputs:
  - { step: n, path: n.csv, format: csv }
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/n.csv")).unwrap(),
        "n\n5\n"
    );
    let o = loyalty(
        tmp.path(),
        &["run", p.to_str().unwrap(), "--param", "status=x' OR '1'='1"],
    );
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/n.csv")).unwrap(),
        "n\n0\n"
    );
}

#[test]
fn env_variables_fill_source_urls() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: ${TEST_DATA_DIR}/orders/
output_root: ${TEST_OUT_DIR:-out}
steps:
  n:
    sql: SELECT COUNT(*) AS n FROM orders
outputs:
  - { step: n, path: n.csv, format: csv }
",
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["run", p.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("TEST_DATA_DIR", tmp.path().join("data"))
        .env_remove("TEST_OUT_DIR")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/n.csv")).unwrap(),
        "n\n8\n"
    );

    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(
        &o,
        2,
        &["p.yaml:3:11: sources.orders: environment variable `TEST_DATA_DIR` is not set"],
    );
}

#[test]
fn json_logs_are_one_json_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &["--log-format", "json"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "step finished"
                && l["fields"]["step"] == "customer_orders")
    );
}

#[test]
fn sample_is_deterministic_for_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let generate = |dir: &str, seed: &str| {
        let o = loyalty(
            tmp.path(),
            &[
                "sample",
                "--out",
                dir,
                "--customers",
                "300",
                "--seed",
                seed,
                "--end-date",
                "2026-01-31",
            ],
        );
        assert_exit(&o, 0);
    };
    generate("a", "1");
    generate("b", "1");
    generate("c", "2");
    for table in ["customers", "orders", "surveys", "complaints"] {
        let a = std::fs::read(tmp.path().join(format!("a/{table}/part-0.parquet"))).unwrap();
        let b = std::fs::read(tmp.path().join(format!("b/{table}/part-0.parquet"))).unwrap();
        let c = std::fs::read(tmp.path().join(format!("c/{table}/part-0.parquet"))).unwrap();
        assert_eq!(a, b, "{table}: same seed, same bytes");
        assert_ne!(a, c, "{table}: another seed, other data");
    }
    // Nothing is dated after the end date.
    let orders = read_parquet(&tmp.path().join("a/orders"));
    let latest = orders
        .iter()
        .map(|b| {
            let c = b.column_by_name("order_ts").unwrap();
            arrow::compute::max(
                c.as_any()
                    .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                    .unwrap(),
            )
            .unwrap()
        })
        .max()
        .unwrap();
    assert!(latest < ts("2026-02-01 00:00:00"));
}

#[test]
fn sample_orders_come_in_time_order_with_ids_counting_up() {
    // As an order system appends them: a benchmark on orders sorted by
    // customer would measure that layout, not the work.
    let tmp = tempfile::tempdir().unwrap();
    let o = loyalty(
        tmp.path(),
        &[
            "sample",
            "--out",
            "d",
            "--customers",
            "400",
            "--end-date",
            "2026-01-31",
        ],
    );
    assert_exit(&o, 0);
    let written: usize = stdout(&o)
        .split(", ")
        .find_map(|part| part.strip_suffix(" orders"))
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no order count in {}", stdout(&o)));
    let orders_dir = tmp.path().join("d/orders");
    assert_eq!(
        files_under(&orders_dir),
        vec![orders_dir.join("part-0.parquet")],
        "the monthly files are gone"
    );
    let orders = read_parquet(&orders_dir);
    let ids = col_i64(&orders, "order_id");
    let times = col_i64(&orders, "order_ts");
    let customers: std::collections::BTreeSet<_> =
        col_i64(&orders, "customer_id").into_iter().collect();
    assert_eq!(ids.len(), written, "every order generated is written once");
    assert_eq!(ids, (1..=written as i64).map(Some).collect::<Vec<_>>());
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "orders in time order"
    );
    assert!(
        customers.len() > 300,
        "orders of many customers: {}",
        customers.len()
    );
}

#[test]
fn a_sort_order_declared_by_a_source_does_not_steer_its_groupings() {
    // Orders whose file declares them sorted by order_ts (Parquet
    // `sorting_columns`), as some writers do. DataFusion 55 would take that
    // order and group per customer and month with an order-preserving plan,
    // 2.6 times slower on 10M orders; loyalty reads sources as unordered.
    let tmp = tempfile::tempdir().unwrap();
    let batch = orders_batch(&[
        (1, 7, "2026-01-03 10:00:00", 10.0, "completed"),
        (2, 8, "2026-01-20 10:00:00", 5.0, "completed"),
        (3, 7, "2026-02-01 09:00:00", 2.5, "completed"),
        (4, 7, "2026-02-11 09:00:00", 1.0, "completed"),
    ]);
    let declared = parquet::file::properties::WriterProperties::builder()
        .set_sorting_columns(Some(vec![parquet::file::metadata::SortingColumn {
            column_idx: 2,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    write_parquet_with(
        &tmp.path().join("data/orders/part-0.parquet"),
        &batch,
        Some(declared),
    );
    let p = pipeline_file(
        tmp.path(),
        "name: declared_order
sources:
  orders: data/orders/
output_root: out
steps:
  monthly:
    sql: >
      SELECT customer_id, CAST(date_trunc('month', order_ts) AS DATE) AS month,
        COUNT(*) AS orders, SUM(amount) AS amount
      FROM orders GROUP BY customer_id, date_trunc('month', order_ts)
outputs:
  - step: monthly
    path: monthly/
    sort_by: [customer_id, month]
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap(), "--profile"]);
    assert_exit(&o, 0);
    let log = stderr(&o);
    assert!(log.contains("AggregateExec"), "the plan is logged: {log}");
    assert!(
        !log.contains("preserve_order=true") && !log.contains("ordering_mode="),
        "an order-preserving grouping: {log}"
    );
    let got = read_parquet(&tmp.path().join("out/monthly"));
    assert_eq!(col_i64(&got, "customer_id"), [Some(7), Some(7), Some(8)]);
    assert_eq!(col_i64(&got, "orders"), [Some(1), Some(2), Some(1)]);
    assert_eq!(col_f64(&got, "amount"), [Some(10.0), Some(3.5), Some(5.0)]);
}

#[test]
fn demo_runs_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let run_demo = || {
        let o = loyalty(
            tmp.path(),
            &["demo", "--customers", "300", "--end-date", "2026-06-30"],
        );
        assert_exit(&o, 0);
        o
    };
    let o = run_demo();
    let demo = tmp.path().join("demo");
    assert!(demo.join("pipelines/customer_loyalty.yaml").exists());
    assert!(demo.join("sql/customer_orders.sql").exists());
    assert!(demo.join("output/report.md").exists());
    let results = read_json(&demo.join("output/run_results.json"));
    assert_eq!(results["status"], "success");
    assert_eq!(results["params"]["as_of"], "2026-06-30");
    assert!(stdout(&o).contains("report"), "{}", stdout(&o));

    // The command it prints to run the edited copy works as printed: the
    // copy reads the data beside it and writes the outputs there, without
    // `--param`s.
    let printed_command = |o: &std::process::Output, verb: &str| -> Vec<String> {
        let said = stdout(o);
        let command = said
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("loyalty {verb} ")))
            .unwrap_or_else(|| panic!("no `loyalty {verb}` in: {said}"))
            .to_owned();
        std::iter::once(verb.to_owned())
            .chain(command.split_whitespace().map(str::to_owned))
            .collect()
    };
    let printed = |o: &std::process::Output| printed_command(o, "run");
    let rerun = |args: &[String]| {
        std::fs::remove_dir_all(demo.join("output")).unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_exit(&loyalty(tmp.path(), &args), 0);
        assert!(demo.join("output/report.md").exists());
    };
    let args = printed(&o);
    assert_eq!(
        args,
        [
            "run",
            "demo/pipelines/customer_loyalty.yaml",
            "--as-of",
            "2026-06-30"
        ]
    );
    rerun(&args);
    // And so does the one to look at a step's rows.
    let args = printed_command(&o, "show");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let shown = loyalty(tmp.path(), &args);
    assert_exit(&shown, 0);
    assert!(
        stdout(&shown).contains("| segment_order | segment ")
            && stdout(&shown).contains("| Champions "),
        "{}",
        stdout(&shown)
    );

    // Run again, the demo keeps a file edited since, and says so.
    let edited = demo.join("sql/headline.sql");
    let beside = demo.join("sql/headline.sql.bundled");
    let text = std::fs::read_to_string(&edited).unwrap() + "-- my change\n";
    std::fs::write(&edited, &text).unwrap();
    let o = run_demo();
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    assert!(
        stdout(&o).contains("kept 1 file you changed (delete it to get the bundled one back):")
            && stdout(&o).contains("headline.sql"),
        "{}",
        stdout(&o)
    );
    assert!(
        !beside.exists(),
        "the edit started from this version's file: nothing to merge"
    );

    // A file as an older loyalty wrote it, unchanged since (its contents
    // are those the record of what was written holds), is brought up to
    // this version; the edited one is still kept.
    let record_path = demo.join(".loyalty-bundle.json");
    // As if the edit had started from an older version's headline.sql.
    let record_headline_from_an_older_version = || {
        let mut record = read_json(&record_path);
        record["sql/headline.sql"] = fnv1a_hex(b"-- an older headline\nSELECT 1\n").into();
        std::fs::write(&record_path, record.to_string()).unwrap();
    };
    let mut record = read_json(&record_path);
    let older = "-- numbers as an older version had them\nSELECT 1 AS n\n";
    std::fs::write(demo.join("sql/numbers.sql"), older).unwrap();
    record["sql/numbers.sql"] = fnv1a_hex(older.as_bytes()).into();
    std::fs::write(&record_path, record.to_string()).unwrap();
    let o = run_demo();
    assert_eq!(
        std::fs::read_to_string(demo.join("sql/numbers.sql")).unwrap(),
        std::fs::read_to_string(repo().join("sql/numbers.sql")).unwrap()
    );
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    assert!(
        stdout(&o).contains("updated 1 file an earlier version wrote")
            && stdout(&o).contains("kept 1 file you changed"),
        "{}",
        stdout(&o)
    );

    // The edited file started from an older version's, and this version
    // bundles another: the user's is kept, this version's written beside it
    // to merge from (an edited pipeline file kept through an upgrade may
    // lack a step the updated SQL reads).
    record_headline_from_an_older_version();
    let o = run_demo();
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(&beside).unwrap(),
        std::fs::read_to_string(repo().join("sql/headline.sql")).unwrap()
    );
    assert!(
        stdout(&o).contains("beside yours as ")
            && stdout(&o).contains("headline.sql.bundled; merge your changes into it"),
        "{}",
        stdout(&o)
    );

    // Taking the bundled version (deleting the edit) also takes away the
    // copy beside it.
    std::fs::remove_file(&edited).unwrap();
    run_demo();
    assert_eq!(
        std::fs::read_to_string(&edited).unwrap(),
        std::fs::read_to_string(repo().join("sql/headline.sql")).unwrap()
    );
    assert!(!beside.exists());

    // Edited again after another upgrade: the copy beside it is written
    // once. Merged into the edit and deleted, it is not written again.
    std::fs::write(&edited, &text).unwrap();
    record_headline_from_an_older_version();
    run_demo();
    assert!(beside.exists());
    std::fs::remove_file(&beside).unwrap();
    let o = run_demo();
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    assert!(
        !beside.exists() && !stdout(&o).contains(".bundled"),
        "merged already: {}",
        stdout(&o)
    );

    // A pipeline file of the user's own may name other folders: the
    // command printed then names the demo's.
    let pipeline = demo.join("pipelines/customer_loyalty.yaml");
    let own = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("../data}", "../elsewhere}");
    std::fs::write(&pipeline, own).unwrap();
    let o = run_demo();
    let args = printed(&o);
    assert!(
        args.contains(&"--param".to_owned()) && args.iter().any(|a| a.starts_with("data_root=")),
        "{args:?}"
    );
    rerun(&args);
}

/// FNV-1a (64 bits, hex), written out from its definition.
fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 14695981039346656037;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    format!("{h:016x}")
}

#[test]
fn a_source_may_be_read_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let base = serve_files(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        &format!(
            "name: t
sources:
  orders: {base}/orders/part-0.parquet
output_root: out
steps:
  n:
    sql: SELECT COUNT(*) AS n, SUM(amount) AS total FROM orders
outputs:
  - {{ step: n, path: n.csv, format: csv }}
"
        ),
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    // 8 rows: 100 + 50 - 20 + 80 + 30 + 500 + 40 + 25.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/n.csv")).unwrap(),
        "n,total\n8,805.0\n"
    );

    // A plain server (Python's http.server) lists no folder and answers no
    // range request: each is said as such, not as a corrupt file, and the
    // server's HTML page stays out of the message.
    let plain = serve_files_plainly(&tmp.path().join("data"));
    let original = std::fs::read_to_string(&p).unwrap();
    for (location, said) in [
        (
            format!("{plain}/orders/"),
            "501 Not Implemented): over HTTP a folder can be listed only by a WebDAV server",
        ),
        (
            format!("{plain}/orders/part-0.parquet"),
            "the server does not answer HTTP range requests, which reading Parquet needs",
        ),
    ] {
        let text = original.replace(&format!("{base}/orders/part-0.parquet"), &location);
        let q = pipeline_file(tmp.path(), &text);
        let o = loyalty(tmp.path(), &["run", q.to_str().unwrap()]);
        assert_exit(&o, 1);
        let err = stderr(&o);
        assert!(err.contains(said), "{err}");
        assert!(!err.contains("corrupt") && !err.contains("<html>"), "{err}");
    }
}

#[test]
fn a_query_over_the_memory_limit_names_the_step_and_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 2000, 42);
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
output_root: out
engine:
  memory_limit: 256KiB
steps:
  pairs:
    sql: SELECT a.customer_id, COUNT(*) AS n FROM orders a JOIN orders b ON a.customer_id = b.customer_id GROUP BY a.customer_id
    materialize: memory
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("step `pairs` failed"), "{err}");
    assert!(err.contains("raise the limit"), "{err}");
}

/// Two steps over the `customers` of [`stalling_customers`]: `quick`, with
/// an output, and `stalled`, which waits for rows that never come.
const QUICK_AND_STALLED: &str = "steps:
  quick:
    sql: SELECT 1 AS n
  stalled:
    sql: SELECT SUM(customer_id) AS total FROM customers
    materialize: memory
outputs:
  - step: quick
    path: quick.csv
    format: csv
";

#[test]
fn a_step_past_step_timeout_fails_naming_the_step_and_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let customers = stalling_customers(tmp.path(), &[1, 2, 3]);
    let pipeline = |checks: &str| {
        pipeline_file(
            tmp.path(),
            &format!(
                "name: t
output_root: out
sources:
  customers:
    url: {customers}
    checks: [{checks}]
engine:
  step_timeout: 1s
{QUICK_AND_STALLED}"
            ),
        )
    };
    let run = |p: &Path| {
        let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
        assert_exit(&o, 1);
        assert!(
            !tmp.path().join("out/quick.csv").exists(),
            "nothing published"
        );
        let results = read_json(&tmp.path().join("out/run_results.json"));
        assert_eq!(results["status"], "error");
        assert_eq!(step_result(&results, "quick")["status"], "success");
        (stderr(&o), results)
    };

    let (err, results) = run(&pipeline(""));
    assert!(
        err.contains(
            "step `stalled` failed: did not finish within 1s (`engine.step_timeout`); raise the limit"
        ),
        "{err}"
    );
    assert_eq!(step_result(&results, "stalled")["status"], "error");

    // A source check that stalls fails the same way, and the step that
    // reads the source is skipped. (`unique` reads the rows; `not_null` would
    // be answered from the footer's statistics.)
    let (err, results) = run(&pipeline("unique: [customer_id]"));
    assert!(
        err.contains(
            "on `customers` could not run: did not finish within 1s (`engine.step_timeout`)"
        ),
        "{err}"
    );
    assert_eq!(step_result(&results, "stalled")["status"], "skipped");
}

/// SIGTERM (an Airflow task stopped) or SIGINT (Ctrl-C) stops a run: it
/// exits with 128 + the signal's number, publishes nothing, leaves nothing
/// staged, and run_results.json says why.
#[test]
fn a_signal_stops_a_run_publishing_nothing() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let tmp = tempfile::tempdir().unwrap();
    // A step whose rows never come keeps the run going until the signal.
    let customers = stalling_customers(tmp.path(), &[1, 2, 3]);
    // One output outside the output root, staged beside its target.
    let elsewhere = tmp.path().join("elsewhere");
    let p = pipeline_file(
        tmp.path(),
        &format!(
            "name: t
output_root: out
sources:
  customers: {customers}
{QUICK_AND_STALLED}  - step: quick
    path: file://{}/quick.csv
    format: csv
",
            elsewhere.display()
        ),
    );
    let out = tmp.path().join("out");
    let staged_elsewhere = || {
        std::fs::read_dir(&elsewhere).map_or(Vec::new(), |d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
    };
    let wait_for = |what: &str, done: &mut dyn FnMut() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(60), "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .args(["run", p.to_str().unwrap()])
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The run is under way once `quick`'s outputs are staged: both
        // written in full (a run's staging folder exists from its start).
        let staged_in = |dir: &Path, prefix: &str| {
            std::fs::read_dir(dir).is_ok_and(|d| {
                d.flatten().any(|e| {
                    e.file_name().to_string_lossy().starts_with(prefix)
                        && e.path().join("quick.csv").is_file()
                })
            })
        };
        wait_for("quick's outputs staged", &mut || {
            staged_in(&out.join("_staging"), "") && staged_in(&elsewhere, "_staging_")
        });
        send_signal(&child, signal);
        wait_for("the run to stop", &mut || {
            child.try_wait().unwrap().is_some()
        });
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "SIG{signal}: {}", stderr(&o));
        let said = format!("interrupted by SIG{signal}: the run stopped and published nothing");
        assert!(stderr(&o).contains(&said), "{}", stderr(&o));
        let results = read_json(&out.join("run_results.json"));
        assert_eq!(results["status"], "error");
        assert!(
            results["error"].as_str().unwrap().contains(&said),
            "{results}"
        );
        assert!(!out.join("quick.csv").exists(), "nothing published");
        assert!(!out.join("_staging").exists(), "nothing left staged");
        assert_eq!(staged_elsewhere(), Vec::<String>::new(), "nor beside");
    }
}

/// A run whose stdout and stderr readers have gone (`loyalty run … 2>&1 |
/// head -1`, a log collector that died) still runs to the end and publishes:
/// its results are in its files. A failing run still exits with its code.
/// (Writing a log line to a closed stderr used to panic, exit 101, mid-run,
/// leaving the run staged and no run_results.json.)
#[test]
fn a_run_whose_log_reader_has_gone_still_completes() {
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let out = tmp.path().join("out");
    let run = |data: &str, log_format: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .current_dir(tmp.path())
            .env_remove("LOYALTY_LOG")
            .args(["--log-format", log_format, "run"])
            .arg(bundled_pipeline())
            .args(["--as-of", "2026-06-30", "--param"])
            .arg(format!("data_root={}", tmp.path().join(data).display()))
            .arg("--param")
            .arg(format!("out_root={}", out.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Both readers gone before the first line is written.
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().unwrap().code()
    };
    for log_format in ["text", "json"] {
        let _ = std::fs::remove_dir_all(&out);
        assert_eq!(
            run("data", log_format),
            Some(0),
            "--log-format {log_format}"
        );
        let results = read_json(&out.join("run_results.json"));
        assert_eq!(results["status"], "success", "{results}");
        assert!(out.join("report.md").is_file());
        assert_eq!(rows(&read_parquet(&out.join("tables/customer_orders"))), 3);
        assert!(!out.join("_staging").exists(), "nothing left staged");

        // A source that is not there: the run's own exit code, not a panic's.
        assert_eq!(
            run("nowhere", log_format),
            Some(1),
            "--log-format {log_format}"
        );
        let results = read_json(&out.join("run_results.json"));
        assert_eq!(results["status"], "error", "{results}");
    }
}

/// Every file under `dir` (but staging and scratch) with its bytes.
fn published_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| (p.strip_prefix(dir).unwrap().display().to_string(), p))
        .filter(|(rel, _)| !rel.starts_with("_staging") && !rel.starts_with("_scratch"))
        .map(|(rel, p)| (rel, std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn a_run_killed_midway_leaves_the_previous_outputs_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 3000, 42);
    let out = tmp.path().join("out");
    assert_exit(&run_bundled(tmp.path(), &[]), 0);
    let before = published_files(&out);
    let tables_before = published_files(&out.join("tables"));

    // Run again over the same outputs and SIGKILL it while it stages them.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args([
            "run",
            bundled_pipeline().to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--param",
            &format!("data_root={}", data.display()),
            "--param",
            &format!("out_root={}", out.display()),
        ])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staging = out.join("_staging");
    let started = std::time::Instant::now();
    while !staging.exists() && started.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(staging.exists(), "the run was killed while staging");

    // Everything published before is there, byte for byte, and nothing else.
    assert!(published_files(&out) == before, "published files changed");
    for f in before.keys().filter(|f| f.ends_with(".parquet")) {
        assert!(
            rows(&read_parquet(&out.join(f))) > 0 || f.contains("headline"),
            "{f} unreadable"
        );
    }

    // A re-run completes, tidies the killed run's staging, and gives the same tables.
    assert_exit(&run_bundled(tmp.path(), &[]), 0);
    assert!(!staging.exists(), "the killed run's staging was removed");
    let tables_after = published_files(&out.join("tables"));
    assert_eq!(
        tables_after.keys().collect::<Vec<_>>(),
        tables_before.keys().collect::<Vec<_>>()
    );
    for name in tables_before.keys() {
        let copy = tmp.path().join("before.parquet");
        std::fs::write(&copy, &tables_before[name]).unwrap();
        assert_same_table(
            &read_parquet(&out.join("tables").join(name)),
            &read_parquet(&copy),
            name,
        );
    }
    for report in ["report.html", "report.md", "report.zh-CN.html"] {
        assert!(
            std::fs::read(out.join(report)).unwrap() == before[report],
            "{report}"
        );
    }
}

#[test]
fn run_results_record_the_peak_memory() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    assert_exit(&run_bundled(tmp.path(), &[]), 0);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let rss = r["peak_rss_bytes"].as_u64().expect("measured on Linux");
    // More than an empty process, less than this machine.
    assert!(rss > 10 << 20 && rss < 24 << 30, "{rss}");
}

#[test]
fn profile_logs_each_computed_plan_with_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &["--profile"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(err.contains("profile of `customer_orders`:"), "{err}");
    assert!(err.contains("profile of `output of rfm_scores`:"), "{err}");
    assert!(err.contains("metrics=[output_rows="), "{err}");
}

#[test]
fn a_publication_interrupted_midway_is_completed_by_the_next_run() {
    // What a run killed while moving its files into place leaves: a journal
    // of the moves, and staged files not yet moved.
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let out = tmp.path().join("out");
    let dead = "20260630T000000.000Z-0"; // pid 0 is never a running process
    let staged = out.join(format!("_staging/{dead}/other.csv"));
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, "new\n").unwrap();
    std::fs::write(out.join("other.csv"), "old\n").unwrap();
    let journal = serde_json::json!([[
        staged.display().to_string(),
        out.join("other.csv").display().to_string()
    ]]);
    std::fs::write(
        out.join(format!("_staging/{dead}.publishing")),
        journal.to_string(),
    )
    .unwrap();

    let p = pipeline_file(
        tmp.path(),
        "name: t\nsources:\n  orders: data/orders/\noutput_root: out\nsteps:\n  n:\n    sql: SELECT COUNT(*) AS n FROM orders\noutputs:\n  - { step: n, path: n.csv, format: csv }\n",
    );
    assert_exit(&loyalty(tmp.path(), &["run", p.to_str().unwrap()]), 0);
    assert_eq!(
        std::fs::read_to_string(out.join("other.csv")).unwrap(),
        "new\n",
        "rolled forward"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("n.csv")).unwrap(),
        "n\n8\n"
    );
    assert!(!out.join("_staging").exists(), "journal and staging tidied");
}

#[test]
fn the_bundled_pipeline_reads_its_data_root_from_the_environment() {
    // `data_root` defaults to ${LOYALTY_DATA_ROOT:-../demo/data}.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["validate", bundled_pipeline().to_str().unwrap()])
        .args(["--as-of", "2026-06-30"])
        .env("LOYALTY_DATA_ROOT", &data)
        .env_remove("LOYALTY_LOG")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("valid (4 sources"), "{}", stdout(&o));
}

#[test]
fn a_step_table_is_dropped_once_nothing_left_reads_it_and_every_reader_still_gets_it() {
    // `per_customer` is read by a view (`big_spenders`), by a step and the
    // check of the step listed last, and by its own output; `totals` by the
    // report; `last` by its two outputs, written one after the other. One
    // step or output at a time, in this order.
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
output_root: out
engine: { max_parallel_steps: 1 }
steps:
  per_customer:
    sql: SELECT customer_id, SUM(amount) AS revenue FROM orders WHERE status <> 'cancelled' GROUP BY customer_id
    materialize: memory
  big_spenders:
    sql: SELECT customer_id FROM per_customer WHERE revenue >= 100
  totals:
    sql: SELECT SUM(revenue) AS revenue, COUNT(*) AS customers FROM per_customer
    materialize: memory
  last:
    sql: SELECT COUNT(*) AS n FROM big_spenders
    materialize: memory
    checks:
      - name: last.matches
        sql: SELECT * FROM last WHERE n <> (SELECT COUNT(*) FROM per_customer WHERE revenue >= 100)
outputs:
  - { step: per_customer, path: per_customer.csv, format: csv, sort_by: [customer_id] }
  - { step: last, path: last.csv, format: csv }
  - { step: last, path: last_again.csv, format: csv }
reports:
  - template: r.md.j2
    path: r.md
",
    );
    std::fs::write(
        tmp.path().join("r.md.j2"),
        "{% for t in totals %}{{ t.revenue }} from {{ t.customers }}{% endfor %}",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["run", p.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("LOYALTY_LOG", "loyalty=debug")
        .output()
        .unwrap();
    assert_exit(&o, 0);

    // By hand: customer 1 100 + 50 - 20, customer 2 80 (its 30 cancelled),
    // customer 3 500 + 40; customer 4 only cancelled. Two spent 100 or more.
    let out = tmp.path().join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("per_customer.csv")).unwrap(),
        "customer_id,revenue\n1,130.0\n2,80.0\n3,540.0\n"
    );
    for file in ["last.csv", "last_again.csv"] {
        assert_eq!(std::fs::read_to_string(out.join(file)).unwrap(), "n\n2\n");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("r.md")).unwrap(),
        "750.0 from 3"
    );
    let results = read_json(&out.join("run_results.json"));
    let check = results["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "last.matches")
        .expect("the check ran");
    assert_eq!(check["status"], "pass", "{check}");

    // Dropped after the last reader, never the report's table.
    let log = stderr(&o);
    let at = |needle: &str| {
        log.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle} in\n{log}"))
    };
    let dropped = |step: &str| format!("table dropped, nothing left reads it step=\"{step}\"");
    assert!(at(&dropped("per_customer")) > at("step finished step=\"last\""));
    assert!(at(&dropped("big_spenders")) > at("step finished step=\"last\""));
    assert!(at(&dropped("last")) > at("output written step=\"last\""));
    assert!(!log.contains(&dropped("totals")), "{log}");
}

/// With a `timezone`, every step reads zoned timestamps as the zone's
/// wall-clock times. The sample's data with its timestamps stored as UTC
/// instants, run in Berlin, gives the tables of the same data written as
/// Berlin's clock reads those instants (looked up one by one in chrono's
/// rules), run without a zone: the data's two years hold five offsets. All
/// 21 tables but `complaint_recovery`, whose durations count the time that
/// passed in the zone, and the clock's difference without one.
#[test]
fn zoned_timestamps_in_the_pipeline_zone_give_the_tables_of_their_wall_clock_times() {
    use arrow::array::timezone::Tz;
    use arrow::array::{Array, ArrayRef, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use chrono::{Offset, TimeZone};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let sample = tmp.path().join("sample");
    sample_data(tmp.path(), &sample, 2_000, 5);
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let on_clock = |us: i64| {
        let utc = chrono::DateTime::from_timestamp_micros(us)
            .unwrap()
            .naive_utc();
        us + berlin
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc() as i64
            * 1_000_000
    };
    let (zoned, local) = (tmp.path().join("zoned"), tmp.path().join("local"));
    let mut converted = Vec::new();
    for file in files_under(&sample) {
        let relative = file.strip_prefix(&sample).unwrap();
        for (root, zone) in [(&zoned, true), (&local, false)] {
            let batches: Vec<RecordBatch> = read_parquet(&file)
                .iter()
                .map(|batch| {
                    let schema = batch.schema();
                    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = schema
                        .fields()
                        .iter()
                        .zip(batch.columns())
                        .map(|(f, c)| match f.data_type() {
                            DataType::Timestamp(TimeUnit::Microsecond, None) => {
                                converted.push(f.name().clone());
                                let c = c
                                    .as_any()
                                    .downcast_ref::<TimestampMicrosecondArray>()
                                    .unwrap();
                                let c: ArrayRef = if zone {
                                    Arc::new(c.clone().with_timezone("UTC"))
                                } else {
                                    Arc::new(
                                        c.unary::<_, arrow::datatypes::TimestampMicrosecondType>(
                                            on_clock,
                                        ),
                                    )
                                };
                                (f.as_ref().clone().with_data_type(c.data_type().clone()), c)
                            }
                            DataType::Timestamp(..) => {
                                panic!("{}: microseconds expected", f.name())
                            }
                            _ => (f.as_ref().clone(), c.clone()),
                        })
                        .unzip();
                    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
                })
                .collect();
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            write_parquet(&path, &batch);
        }
    }
    converted.sort();
    converted.dedup();
    for column in ["order_ts", "survey_ts", "opened_ts", "resolved_ts"] {
        assert!(
            converted.iter().any(|c| c == column),
            "{column} in {converted:?}"
        );
    }

    let in_zone = bundle_copy(tmp.path());
    let yaml = std::fs::read_to_string(&in_zone).unwrap();
    std::fs::write(&in_zone, format!("{yaml}\ntimezone: Europe/Berlin\n")).unwrap();
    let (by_zone, by_clock) = (tmp.path().join("out-zone"), tmp.path().join("out-clock"));
    let o = run_pipeline(tmp.path(), &in_zone, "2026-06-30", &zoned, &by_zone, &[]);
    assert_exit(&o, 0);
    let o = run_pipeline(
        tmp.path(),
        &bundled_pipeline(),
        "2026-06-30",
        &local,
        &by_clock,
        &[],
    );
    assert_exit(&o, 0);
    assert_same_outputs(
        &by_clock,
        &by_zone,
        "Berlin's clock",
        &["complaint_recovery"],
    );
}

#[test]
fn groupings_run_in_buckets_on_the_local_engine_but_not_under_a_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    hand_fixture(&tmp.path().join("data"));
    let o = run_bundled(tmp.path(), &["--profile"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    // The hand fixture's few orders: the two stages DataFusion planned,
    // chosen when the grouping ran.
    assert!(
        err.contains("AdaptiveGroupingExec: ran in two stages, AggregateExec: mode=FinalPartitioned, gby=[customer_id@"),
        "{err}"
    );
    // Under a limit, the pool is not split sixteen ways: DataFusion's own
    // two-stage groupings.
    let o = run_bundled(tmp.path(), &["--profile", "--memory-limit", "256MiB"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(!err.contains("BucketedAggregateExec"), "{err}");
    assert!(!err.contains("AdaptiveGroupingExec"), "{err}");
    assert!(
        err.contains("AggregateExec: mode=FinalPartitioned"),
        "{err}"
    );
}

/// A nightly job run again for the same date on the same data (a retry, a
/// backfill repeated) writes the same bytes: the per-customer tables are
/// written by customer_id, not in the order the engine's partitions finish
/// (on 1,000 customers and more, two runs wrote `customer_orders` and
/// `lifecycle_stages` in different orders before), so a checksum of the
/// outputs tells a changed table from a rerun.
#[test]
fn a_run_again_on_the_same_data_writes_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 3_000, 3);
    let written = |out: &Path| -> Vec<(String, Vec<u8>)> {
        let o = run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            "2026-06-30",
            &data,
            out,
            &[],
        );
        assert_exit(&o, 0);
        let mut files: Vec<_> = files_under(out)
            .into_iter()
            .filter(|p| !p.ends_with("run_results.json"))
            .map(|p| {
                let key = p.strip_prefix(out).unwrap().display().to_string();
                (key, std::fs::read(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    // One output root for both (the reports name it), emptied in between.
    let out = tmp.path().join("out");
    let first = written(&out);
    std::fs::remove_dir_all(&out).unwrap();
    let second = written(&out);
    assert!(
        first
            .iter()
            .filter(|(k, _)| k.starts_with("tables/"))
            .count()
            >= 20
    );
    assert_eq!(first.len(), second.len());
    for ((key, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{key} differs between the two runs");
    }
}
