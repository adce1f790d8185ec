//! Data checks declared in pipelines: error-level failures stop what depends
//! on them and publish nothing; warnings are recorded and reported; every
//! check is in run_results.json with its failing-row count and a sample.

mod common;

use std::path::Path;

use common::*;

fn check<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {results}"))
}

/// Customers 1-3 and the given orders, as of 2026-06-30, through the bundled pipeline.
fn run_with_orders(tmp: &Path, orders: &[(i64, i64, &str, f64, &str)]) -> std::process::Output {
    let data = tmp.join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2, 3]),
    );
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(orders));
    run_bundled(tmp)
}

/// `FILE:LINE` of `line` in the bundled pipeline file, found by searching
/// the file.
fn bundled_line_of(line: &str) -> String {
    let pipeline = bundled_pipeline();
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let number = 1 + text.lines().position(|l| l == line).unwrap();
    format!("{}:{number}", pipeline.display())
}

const GOOD: [(i64, i64, &str, f64, &str); 3] = [
    (1, 1, "2026-06-01 10:00:00", 10.0, "completed"),
    (2, 2, "2026-06-10 10:00:00", 20.0, "completed"),
    (3, 3, "2026-06-29 10:00:00", 30.0, "completed"),
];

#[test]
fn a_duplicate_order_id_fails_the_run_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut orders = GOOD.to_vec();
    orders.push((2, 3, "2026-06-12 10:00:00", 5.0, "completed"));
    let o = run_with_orders(tmp.path(), &orders);
    // The error says where the check is, to mend or to read: its list item
    // in the bundled pipeline file.
    assert_says(
        &o,
        1,
        &[&format!(
            "error: check `orders.unique(order_id)` on `orders` found 1 failing row \
             (the check is at {}:9)",
            bundled_line_of("      - unique: [order_id]")
        )],
    );
    let out = tmp.path().join("out");
    let r = read_json(&out.join("run_results.json"));
    assert_eq!(r["status"], "error");
    let c = check(&r, "orders.unique(order_id)");
    assert_eq!(
        (c["status"].as_str(), c["failing_rows"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(c["sample"][0]["order_id"], 2);
    assert_eq!(c["sample"][0]["duplicates"], 2);
    // Passing checks are recorded too, with 0 failing rows.
    let ok = check(
        &r,
        "orders.not_null(order_id, customer_id, order_ts, amount)",
    );
    assert_eq!(
        (ok["status"].as_str(), ok["failing_rows"].as_u64()),
        (Some("pass"), Some(0))
    );
    // Every step reading orders was skipped, naming the check.
    assert_eq!(step_result(&r, "orders_asof")["status"], "skipped");
    assert_eq!(
        step_result(&r, "orders_asof")["message"],
        "source `orders` failed check `orders.unique(order_id)`"
    );
    assert_eq!(step_result(&r, "rfm_scores")["status"], "skipped");
    assert!(r["artifacts"].as_array().unwrap().is_empty());
    assert!(!out.join("report.html").exists() && !out.join("tables").exists());
}

/// A NaN or infinite amount (a float column from a broken export) stops
/// the run at the check, naming the customers it reaches, instead of failing
/// five steps with "Cannot cast to Decimal128(38, 6). Overflowing on NaN".
#[test]
fn an_amount_that_is_not_a_number_fails_the_check_naming_the_customers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut orders = GOOD.to_vec();
    // Customer 1: NaN and +inf; customer 3: a refund of -inf; customer 2
    // clean; a cancelled order's amount counts nowhere, so it is no matter.
    orders.push((4, 1, "2026-06-02 10:00:00", f64::NAN, "completed"));
    orders.push((5, 1, "2026-06-03 10:00:00", f64::INFINITY, "completed"));
    orders.push((6, 3, "2026-06-04 10:00:00", f64::NEG_INFINITY, "returned"));
    orders.push((7, 2, "2026-06-05 10:00:00", f64::NAN, "cancelled"));
    let o = run_with_orders(tmp.path(), &orders);
    assert_says(
        &o,
        1,
        &[&format!(
            "check `customer_orders.amounts_are_numbers` on `customer_orders` found 2 failing \
             rows (the check is at {}:9)",
            bundled_line_of("      - name: customer_orders.amounts_are_numbers")
        )],
    );
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let c = check(&r, "customer_orders.amounts_are_numbers");
    let mut ids: Vec<i64> = (c["sample"].as_array().unwrap().iter())
        .map(|row| row["customer_id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 3]);
    assert_eq!(step_result(&r, "headline")["status"], "skipped");

    // The good orders alone pass it.
    let tmp = tempfile::tempdir().unwrap();
    assert_exit(&run_with_orders(tmp.path(), &GOOD), 0);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert_eq!(
        check(&r, "customer_orders.amounts_are_numbers")["status"],
        "pass"
    );
}

#[test]
fn a_null_customer_id_is_named_with_a_sample_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(&GOOD));
    // customers with a NULL id
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("customer_id", arrow::datatypes::DataType::Int64, true),
    ]));
    let ids = arrow::array::Int64Array::from(vec![Some(1), None, Some(2), Some(3)]);
    let batch = arrow::array::RecordBatch::try_new(schema, vec![std::sync::Arc::new(ids)]).unwrap();
    write_parquet(&data.join("customers/part-0.parquet"), &batch);
    let o = run_bundled(tmp.path());
    assert_exit(&o, 1);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let c = check(&r, "customers.not_null(customer_id)");
    assert_eq!(c["failing_rows"], 1);
    assert!(c["sample"][0]["customer_id"].is_null());
}

#[test]
fn warnings_are_recorded_and_reported_but_the_run_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut orders = GOOD.to_vec();
    orders.push((4, 1, "2026-06-15 10:00:00", 7.0, "refunded")); // not an accepted status
    orders.push((5, 99, "2026-06-16 10:00:00", 8.0, "completed")); // no such customer
    let o = run_with_orders(tmp.path(), &orders);
    assert_exit(&o, 0);
    let out = tmp.path().join("out");
    let r = read_json(&out.join("run_results.json"));
    assert_eq!(r["status"], "success");
    let c = check(&r, "orders.accepted_values(status)");
    assert_eq!(
        (
            c["status"].as_str(),
            c["severity"].as_str(),
            c["failing_rows"].as_u64()
        ),
        (Some("fail"), Some("warn"), Some(1))
    );
    assert_eq!(c["sample"][0]["status"], "refunded");
    let c = check(
        &r,
        "orders.relationships(customer_id → customers.customer_id)",
    );
    assert_eq!(c["failing_rows"], 1);
    assert_eq!(c["sample"][0]["customer_id"], 99);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| orders.accepted_values(status) | warning | failed | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| orders.unique(order_id) | error | passed | 0 |"),
        "{md}"
    );
}

#[test]
fn freshness_row_count_and_step_checks() {
    // With `order_ts` declared a timestamp, freshness takes its newest value
    // as it is (from Parquet statistics, no scan); without, it casts first.
    for contract in ["", "    columns: { order_ts: timestamp }\n"] {
        freshness_row_count_and_step_checks_with(contract);
    }
}

fn freshness_row_count_and_step_checks_with(contract: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(&GOOD));
    let p = pipeline_file(
        tmp.path(),
        &"name: t
sources:
  orders:
    url: data/orders/
{contract}    checks:
      - freshness: { column: order_ts, max_age: 2d }
        severity: warn
      - row_count: { min: 1, max: 3 }
output_root: out
steps:
  totals:
    sql: SELECT customer_id, SUM(amount) AS revenue FROM orders GROUP BY customer_id
    materialize: memory
    checks:
      - name: totals.no_small_customers
        sql: SELECT * FROM totals WHERE revenue < {{ 15 }}
  downstream:
    sql: SELECT COUNT(*) AS n FROM totals
  independent:
    sql: SELECT COUNT(*) AS n FROM orders
"
        .replace("{contract}", contract),
    );
    // The newest order is 2026-06-29 10:00; as of 06-30 it is 1.6 days old.
    let run = |as_of: &str| loyalty(tmp.path(), &["run", p.to_str().unwrap(), "--as-of", as_of]);
    let o = run("2026-06-30");
    assert_exit(&o, 1);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert_eq!(check(&r, "orders.freshness(order_ts)")["status"], "pass");
    assert_eq!(check(&r, "orders.row_count")["status"], "pass");
    let c = check(&r, "totals.no_small_customers");
    assert_eq!(
        (c["status"].as_str(), c["failing_rows"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(step_result(&r, "totals")["status"], "error");
    assert_eq!(step_result(&r, "downstream")["status"], "skipped");
    assert_eq!(step_result(&r, "independent")["status"], "success");
    assert!(
        stderr(&o).contains("totals.no_small_customers"),
        "{}",
        stderr(&o)
    );

    // Three days later the same data is stale: a warning.
    let o = run("2026-07-03");
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let c = check(&r, "orders.freshness(order_ts)");
    assert_eq!(
        (c["status"].as_str(), c["severity"].as_str()),
        (Some("fail"), Some("warn"))
    );
    assert_eq!(c["sample"][0]["newest"], "2026-06-29T10:00:00");
    assert_exit(&o, 1); // the step check still fails
}

#[test]
fn a_malformed_check_is_a_configuration_error() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders:
    url: data/orders/
    checks:
      - not_null: [a]
        unique: [a]
      - relationships: { column: a, to: nowhere, field: b }
",
    );
    let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    // Each at its item in the list.
    assert!(
        err.contains("p.yaml:6:9: check 1 on `orders`: a check has one kind"),
        "{err}"
    );
    assert!(
        err.contains("p.yaml:8:9: check `orders.relationships(a → nowhere.b)` on source `orders` reads `nowhere`, which is not a source"),
        "{err}"
    );
}

#[test]
fn the_input_contract_reports_every_problem_before_any_step() {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // customers without customer_id; orders without order_ts and with amount as text.
    let customers = arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let orders = arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("customer_id", DataType::Int64, false),
            Field::new("amount", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(StringArray::from(vec!["12.50"])),
        ],
    )
    .unwrap();
    write_parquet(&data.join("customers/part-0.parquet"), &customers);
    write_parquet(&data.join("orders/part-0.parquet"), &orders);
    let o = run_bundled(tmp.path());
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("3 problems with the sources"), "{err}");
    assert!(err.contains("source `customers`: required column `customer_id` is missing: expected an id (string or integer) (found: `id`);"), "{err}");
    assert!(
        err.contains(
            "source `orders`: required column `order_ts` is missing: expected a timestamp or date"
        ),
        "{err}"
    );
    // (DataFusion reads Parquet strings as Utf8View.)
    assert!(
        err.contains("source `orders`: column `amount` is Utf8View, expected a number; write it with that type, or declare it as `string` and cast it in a staging SQL step"),
        "{err}"
    );
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert!(r["steps"].as_array().unwrap().is_empty(), "no step ran");
}

/// Ids of one name must be of one kind across the sources: text customer
/// ids against integer ones in the orders would fail inside a step, as a
/// cast error naming no table. The run stops before any step, naming the
/// column and the sources of each kind; `validate` lists the same problem.
#[test]
fn an_id_that_is_text_in_one_source_and_an_integer_in_another_is_named() {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let customers = arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "customer_id",
            DataType::Utf8,
            false,
        )])),
        vec![Arc::new(StringArray::from(vec!["1", "2", "3"])) as ArrayRef],
    )
    .unwrap();
    write_parquet(&data.join("customers/part-0.parquet"), &customers);
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(&GOOD));
    let problem = "column `customer_id` is text in `customers` but an integer in `orders`: the steps join these tables on it, so it must be of one kind in all of them; write it with one type, or cast it in a staging SQL step";

    let o = run_bundled(tmp.path());
    assert_says(&o, 1, &[problem]);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert!(r["steps"].as_array().unwrap().is_empty(), "no step ran");
    assert!(!tmp.path().join("out/report.html").exists());

    let o = validate_pipeline(tmp.path(), &bundled_pipeline(), "2026-06-30", &data, &[]);
    assert_says(&o, 2, &[problem]);
}

/// A warning-level check whose query fails as it runs is recorded as an
/// error with the reason, and the log says why, not "0 failing rows".
#[test]
fn a_warning_check_that_cannot_run_logs_why() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(&GOOD));
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders:
    url: data/orders/
    checks:
      - name: orders.status_is_a_number
        sql: SELECT * FROM orders WHERE CAST(status AS BIGINT) > 0
        severity: warn
output_root: out
steps:
  n:
    sql: SELECT COUNT(*) AS n FROM orders
",
    );
    let o = loyalty(
        tmp.path(),
        &["run", p.to_str().unwrap(), "--as-of", "2026-06-30"],
    );
    assert_exit(&o, 0);
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("orders.status_is_a_number"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("check could not run"), "{line}");
    assert!(line.contains("Cannot cast string 'completed'"), "{line}");
    // The check's list item: line 6, after `      - `.
    assert!(
        line.contains(&format!("at=\"{}:6:9\"", p.display())),
        "{line}"
    );
    assert!(!line.contains("failing_rows"), "{line}");
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let c = check(&r, "orders.status_is_a_number");
    assert_eq!(c["status"], "error");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("could not run: Arrow error: Cast error"),
        "{c}"
    );
}

/// A folder with the good orders under `data/orders/` and `yaml` as
/// `p.yaml`, for a test to run `loyalty` in.
fn with_good_orders(yaml: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_parquet(
        &tmp.path().join("data/orders/part-0.parquet"),
        &orders_batch(&GOOD),
    );
    pipeline_file(tmp.path(), yaml);
    tmp
}

#[test]
fn validate_plans_every_check_against_its_table() {
    let tmp = with_good_orders(
        "name: t
output_root: out
sources:
  orders:
    url: data/orders/
    checks:
      - not_null: [order_idd]
steps:
  totals:
    sql: SELECT customer_id, SUM(amount) AS revenue FROM orders GROUP BY customer_id
    checks:
      - name: big
        sql: SELECT * FROM totals WHERE revenu > 100
",
    );
    // Each check named with its place in the file; a query written in the
    // file, with the place in it marked (line 13, after 8 spaces and
    // `sql: SELECT * FROM totals WHERE `, 40 characters: column 41).
    let not_null = "check `orders.not_null(order_idd)` on `orders` (p.yaml:7:9): Schema error: No field named order_idd";
    let big = "check `big` on `totals`: Schema error: No field named revenu. Did you mean 'totals.revenue'?\n    \
        Valid fields are totals.customer_id, totals.revenue. (the check's SQL is at p.yaml:13:41)\n        \
        13 | SELECT * FROM totals WHERE revenu > 100\n           \
        |                            ^^^^^^";
    let o = loyalty(tmp.path(), &["validate", "p.yaml"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains(not_null) && err.contains(big), "{err}");
    // A run finds them before anything computes.
    let o = loyalty(tmp.path(), &["run", "p.yaml"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains(not_null) && err.contains(big), "{err}");
    assert_no_step_ran(&tmp.path().join("out"));
}

#[test]
fn a_check_that_does_not_parse_is_placed_in_the_pipeline_file() {
    let tmp = with_good_orders(
        "name: t
sources:
  orders:
    url: data/orders/
    checks:
      - not_null: [order_id]
        unique: [order_id]
steps:
  totals:
    sql: SELECT customer_id, SUM(amount) AS revenue FROM orders GROUP BY customer_id
    checks:
      - name: big
        sql: |
          SELECT * FROM totals
          WHERE revenue > > 100
",
    );
    let o = loyalty(tmp.path(), &["validate", "p.yaml"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    // Counted by hand: the items' texts start in column 9; the second `>`
    // is in column 27 of line 15 (10 spaces and `WHERE revenue > `).
    assert!(
        err.contains("p.yaml:6:9: check 1 on `orders`: a check has one kind, this one has `not_null`, `unique`"),
        "{err}"
    );
    assert!(
        err.contains(
            "p.yaml:12:9: check `big` on `totals`: SQL syntax error: Expected: an expression, found: > \
             (the check's SQL is at p.yaml:15:27)\n        15 | WHERE revenue > > 100\n           |                 ^"
        ),
        "{err}"
    );
}

#[test]
fn unique_finds_the_same_repeats_whatever_the_column_type() {
    // `unique` on one integer column is asked of count_repeats first; on any
    // other type it runs its GROUP BY at once. Both report the repeated
    // values, NULL among them as GROUP BY groups it.
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let batch = arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new("big", DataType::Int64, false),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "a", "c", "a"])) as ArrayRef,
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(2),
                None,
                Some(3),
            ])),
            // Equal in their lower 32 bits only: no repeat.
            Arc::new(Int64Array::from(vec![
                7,
                7 + (1 << 32),
                7 + (2 << 32),
                -7,
                8,
            ])),
        ],
    )
    .unwrap();
    write_parquet(&tmp.path().join("data/t/part-0.parquet"), &batch);
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  t:
    url: data/t/
    checks:
      - unique: [code]
        severity: warn
      - unique: [n]
        severity: warn
      - unique: [big]
output_root: out
steps:
  all:
    sql: SELECT * FROM t
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 0);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    let code = check(&r, "t.unique(code)");
    assert_eq!(
        (code["status"].as_str(), code["failing_rows"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(code["sample"][0]["code"], "a");
    assert_eq!(code["sample"][0]["duplicates"], 3);
    let n = check(&r, "t.unique(n)");
    assert_eq!(
        (n["status"].as_str(), n["failing_rows"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(n["sample"][0]["n"], serde_json::Value::Null);
    assert_eq!(n["sample"][0]["duplicates"], 2);
    let big = check(&r, "t.unique(big)");
    assert_eq!(
        (big["status"].as_str(), big["failing_rows"].as_u64()),
        (Some("pass"), Some(0))
    );
}

/// The bundled pipeline's checks on surveys and complaints count answers off
/// their scales and complaints resolved before they were opened: the
/// analyses leave such answers out, and the checks say how many there were.
#[test]
fn answers_off_their_scales_and_complaints_resolved_before_opening_are_counted() {
    use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    let schema_of = |table: &str| read_parquet(&data.join(table))[0].schema();
    let at = |s: &str| Arc::new(TimestampMicrosecondArray::from(vec![ts(s); 3])) as ArrayRef;
    let small = |v: Vec<Option<i32>>| Arc::new(Int32Array::from(v)) as ArrayRef;
    // 900: no CSAT; 901: CSAT 7; 902: a price score of 6.
    let surveys = RecordBatch::try_new(
        schema_of("surveys"),
        vec![
            Arc::new(Int64Array::from(vec![900, 901, 902])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            at("2026-06-20 09:00:00"),
            small(vec![None, Some(7), Some(3)]),
            small(vec![Some(5); 3]),
            small(vec![Some(3); 3]),
            small(vec![Some(3); 3]),
            small(vec![Some(3), Some(3), Some(6)]),
            small(vec![Some(3); 3]),
        ],
    )
    .unwrap();
    write_parquet(&data.join("surveys/part-1.parquet"), &surveys);
    let complaints = RecordBatch::try_new(
        schema_of("complaints"),
        vec![
            Arc::new(Int64Array::from(vec![900])),
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(TimestampMicrosecondArray::from(vec![ts(
                "2026-06-10 10:00:00",
            )])),
            Arc::new(TimestampMicrosecondArray::from(vec![ts(
                "2026-06-09 10:00:00",
            )])),
            Arc::new(arrow::array::StringArray::from(vec![Some("refund")])),
        ],
    )
    .unwrap();
    write_parquet(&data.join("complaints/part-1.parquet"), &complaints);
    let o = run_bundled(tmp.path());
    assert_exit(&o, 0);
    let r = read_json(&tmp.path().join("out/run_results.json"));
    for (name, failing, id) in [
        ("surveys.not_null(csat)", 1, ("response_id", 900)),
        ("surveys.accepted_values(csat)", 1, ("response_id", 901)),
        ("surveys.scores_in_1_5", 1, ("response_id", 902)),
        ("complaints.resolved_after_opened", 1, ("complaint_id", 900)),
    ] {
        let c = check(&r, name);
        assert_eq!(
            (c["severity"].as_str(), c["failing_rows"].as_u64()),
            (Some("warn"), Some(failing)),
            "{name}: {c}"
        );
        assert_eq!(c["sample"][0][id.0], id.1, "{name}: {c}");
    }
}
