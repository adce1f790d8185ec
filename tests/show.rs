//! `loyalty show`: a step's, a source's or a query's rows, on the hand-made
//! fixture of `tests/fixtures/analyses` (as of 2026-06-30), with the rows
//! worked out by hand from its CSV files.

mod common;

use common::*;

/// `loyalty show` on the bundled pipeline over the fixture, writing (if it
/// wrote anything) under `out`.
fn show(dir: &std::path::Path, data: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (data_arg, out_arg) = (
        format!("data_root={}", data.display()),
        format!("out_root={}", dir.join("out").display()),
    );
    let pipeline = bundled_pipeline();
    let mut all = vec!["show", pipeline.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--as-of",
        "2026-06-30",
        "--param",
        &data_arg,
        "--param",
        &out_arg,
    ]);
    loyalty(dir, &all)
}

fn fixture(with_feedback: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, with_feedback);
    (tmp, data)
}

#[test]
fn a_query_of_the_steps_prints_its_rows_and_writes_nothing() {
    let (tmp, data) = fixture(true);
    let o = show(
        tmp.path(),
        &data,
        &[
            "--sql",
            "SELECT customer_id, last_order_date, days_since_last_order, churned \
             FROM customer_status WHERE churned OR customer_id = 10 ORDER BY customer_id",
            "--format",
            "csv",
        ],
    );
    assert_exit(&o, 0);
    // Churned: more than 90 days since the last completed order. Customer
    // 3's was 15 Mar 2026 (107 days before), 6's 1 Aug 2025 (333 days; the
    // order of 1 Sep 2025 was cancelled); 10's, 1 Apr 2026, is exactly 90.
    assert_eq!(
        stdout(&o),
        "customer_id,last_order_date,days_since_last_order,churned\n\
         3,2026-03-15,107,true\n\
         6,2025-08-01,333,true\n\
         10,2026-04-01,90,false\n"
    );
    assert!(stderr(&o).contains("the query: 3 rows"), "{}", stderr(&o));
    // A look, not a run: no outputs, reports or run_results.json.
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_query_is_a_template_rendered_with_the_params() {
    let (tmp, data) = fixture(true);
    let recent = "SELECT COUNT(*) AS n FROM orders_asof \
        WHERE order_ts >= CAST({{ as_of }} - {{ churn_days | days }} AS TIMESTAMP)";
    // Orders from 1 Apr 2026 (90 days before 30 Jun) up to the run date:
    // 2, 3, 10, 11, 12, 13, 14, 19, 21, 22, 25, 26, 27 (17 is after it).
    let o = show(tmp.path(), &data, &["--sql", recent, "--format", "csv"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "n\n13\n");
    // From 1 May (60 days): less 10 (5 Apr) and 22 (1 Apr).
    let o = show(
        tmp.path(),
        &data,
        &[
            "--sql",
            recent,
            "--format",
            "csv",
            "--param",
            "churn_days=60",
            "--memory-limit",
            "256MiB",
        ],
    );
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "n\n11\n");
}

#[test]
fn a_sql_file_is_shown_before_it_is_a_step_importing_from_its_folder() {
    let (tmp, data) = fixture(true);
    let sql = tmp.path().join("sql");
    std::fs::create_dir(&sql).unwrap();
    std::fs::write(
        sql.join("_recent.sql"),
        "{% macro recent(days) %}order_ts >= CAST({{ as_of }} - {{ days | days }} AS TIMESTAMP){% endmacro %}",
    )
    .unwrap();
    let query = "{%- from \"_recent.sql\" import recent %}\nSELECT COUNT(*) AS n\nFROM orders_asof\nWHERE {{ recent(churn_days) }}\n";
    std::fs::write(sql.join("recent.sql"), query).unwrap();
    // The same 13 orders from 1 Apr 2026 as the query above.
    let o = show(
        tmp.path(),
        &data,
        &["--sql-file", "sql/recent.sql", "--format", "csv"],
    );
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "n\n13\n");
    assert!(
        stderr(&o).contains("the query in sql/recent.sql: 1 row"),
        "{}",
        stderr(&o)
    );
    // A misspelt column is placed in the file: its line 4, column 7.
    let misspelt = query.replace(
        "FROM orders_asof\nWHERE",
        "FROM orders_asof o\nWHERE o.amont > 0\n  AND",
    );
    std::fs::write(sql.join("recent.sql"), misspelt).unwrap();
    let o = show(tmp.path(), &data, &["--sql-file", "sql/recent.sql"]);
    assert_says(
        &o,
        2,
        &[
            "No field named o.amont",
            "(SQL from sql/recent.sql:4:7)\n        4 | WHERE o.amont > 0\n          |       ^^^^^^^",
        ],
    );
}

#[test]
fn a_limit_keeps_the_first_rows_and_counts_them_all() {
    let (tmp, data) = fixture(true);
    // The orders up to the run date: 27 in the file, less 17 (2 Jul 2026).
    let o = show(
        tmp.path(),
        &data,
        &["orders_asof", "--limit", "all", "--format", "json"],
    );
    assert_exit(&o, 0);
    let ids: Vec<i64> = stdout(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["order_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=27).filter(|i| *i != 17).collect::<Vec<i64>>());
    assert!(
        stderr(&o).contains("`orders_asof`: 26 rows"),
        "{}",
        stderr(&o)
    );

    // For an orchestrator (`--log-format json`) stderr is JSON lines only,
    // the count among them.
    let o = show(
        tmp.path(),
        &data,
        &["orders_asof", "--limit", "2", "--log-format", "json"],
    );
    assert_exit(&o, 0);
    let logs: Vec<serde_json::Value> = (stderr(&o).lines())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let shown = logs
        .iter()
        .find(|l| l["fields"]["message"] == "shown")
        .unwrap();
    assert_eq!(
        (
            shown["fields"]["rows"].as_u64(),
            shown["fields"]["shown"].as_u64()
        ),
        (Some(26), Some(2))
    );

    let o = show(tmp.path(), &data, &["orders", "--limit", "2"]);
    assert_exit(&o, 0);
    // The fixture's first two orders, each column's SQL type under its
    // name, numbers to the right; the contract's optional `quantity`, which
    // the fixture does not have, is NULL.
    assert_eq!(
        stdout(&o),
        "\
+----------+-------------+---------------------+--------+--------+-----------+----------+
| order_id | customer_id | order_ts            | amount | margin | status    | quantity |
|   BIGINT |      BIGINT | TIMESTAMP           | DOUBLE | DOUBLE | VARCHAR   |      INT |
+==========+=============+=====================+========+========+===========+==========+
|        1 |           1 | 2025-01-15T10:00:00 |  100.0 |   30.0 | completed |     NULL |
|        2 |           1 | 2026-06-20T10:00:00 |  200.0 |   60.0 | completed |     NULL |
+----------+-------------+---------------------+--------+--------+-----------+----------+
"
    );
    assert!(
        stderr(&o).contains("`orders`: the first 2 of 27 rows (--limit all shows every one)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn what_cannot_be_shown_is_said_with_where_to_look() {
    let (tmp, data) = fixture(false);
    let o = show(tmp.path(), &data, &["custmer_status"]);
    assert_says(
        &o,
        2,
        &[
            "`custmer_status` is neither a step nor a source of",
            "did you mean `customer_status`?",
        ],
    );
    // A name like none of them: they are listed.
    let o = show(tmp.path(), &data, &["regions"]);
    assert_says(
        &o,
        2,
        &["its sources are `customers`, `orders`, `surveys`, `complaints`, its steps `numbers`, "],
    );
    // A misspelt column, at its line and column in the query.
    let o = show(
        tmp.path(),
        &data,
        &[
            "--sql",
            "SELECT customer_id,\n  churnd FROM customer_status",
        ],
    );
    assert_says(
        &o,
        2,
        &[
            "No field named churnd",
            "(SQL from --sql:2:3)\n        2 |   churnd FROM customer_status\n          |   ^^^^^^",
        ],
    );
    let o = show(
        tmp.path(),
        &data,
        &["--sql", "SELECT * FROM custmer_status"],
    );
    assert_says(
        &o,
        2,
        &[
            "--sql reads `custmer_status`, which is neither a step nor a source of this pipeline; did you mean `customer_status`?",
        ],
    );
    // No surveys in this fixture: a step reading them, itself or through
    // other steps (latest_survey, survey_answers), has no rows to show, and
    // is named with the source; a query reading such a step names that
    // step; the source has none.
    for (shown, said) in [
        (
            &["survey_answers"][..],
            "step `survey_answers` would be skipped (optional source `surveys` is absent): \
             there are no rows to show",
        ),
        (
            &["retention_priority"],
            "step `retention_priority` would be skipped (optional source `surveys` is absent): \
             there are no rows to show",
        ),
        (
            &[
                "--sql",
                "SELECT * FROM customer_status JOIN latest_survey USING (customer_id)",
            ],
            "step `latest_survey` would be skipped (optional source `surveys` is absent): \
             there are no rows to show",
        ),
        (
            &["surveys"],
            "error: optional source `surveys` is absent: there are no rows to show",
        ),
    ] {
        assert_says(&show(tmp.path(), &data, shown), 1, &[said]);
    }
    let o = show(tmp.path(), &data, &["orders", "--memory-limit", "lots"]);
    assert_says(&o, 2, &["`lots` is not a size"]);
    let o = show(tmp.path(), &data, &["orders", "--limit", "some"]);
    assert_says(&o, 2, &["`some` is not a number of rows"]);
    assert!(!tmp.path().join("out").exists());
}

/// A NULL is spelt out, where an empty cell would read as an empty text;
/// `--format records` prints a row at a time, a column a line, as `show`
/// does by default where a table is wider than the terminal.
#[test]
fn nulls_are_spelt_out_and_records_print_a_row_at_a_time() {
    let (tmp, data) = fixture(false);
    // Customers 9 and 10 are in Central; 10's membership is not known.
    let query = "SELECT customer_id, region, loyalty_member FROM customers \
        WHERE customer_id IN (9, 10) ORDER BY customer_id";
    let o = show(tmp.path(), &data, &["--sql", query]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "\
+-------------+---------+----------------+
| customer_id | region  | loyalty_member |
|      BIGINT | VARCHAR | BOOLEAN        |
+=============+=========+================+
|           9 | Central | false          |
|          10 | Central | NULL           |
+-------------+---------+----------------+
"
    );
    let o = show(tmp.path(), &data, &["--sql", query, "--format", "records"]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "\
-[ row 1 ]--------------
customer_id    | 9
region         | Central
loyalty_member | false
-[ row 2 ]--------------
customer_id    | 10
region         | Central
loyalty_member | NULL
"
    );
}

/// A step skipped for an absent optional source names that source, the one
/// behind it, where the query reads steps behind different ones.
#[test]
fn a_skipped_step_names_the_absent_source_behind_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  a: { url: data/a/, optional: true }
  b: { url: data/b/, optional: true }
output_root: out
steps:
  z_from_a:
    sql: SELECT * FROM a
  from_b:
    sql: SELECT * FROM b
",
    );
    let o = loyalty(
        tmp.path(),
        &[
            "show",
            p.to_str().unwrap(),
            "--sql",
            "SELECT * FROM from_b CROSS JOIN z_from_a",
        ],
    );
    assert_says(
        &o,
        1,
        &[
            "step `from_b` would be skipped (optional source `b` is absent): there are no rows to show",
        ],
    );
}

/// Without a table, `show` lists the sources and steps with their columns,
/// as planning finds them (the sources' columns as the contract gives them),
/// and says why one has none: nothing is computed or written.
#[test]
fn without_a_table_the_sources_and_steps_are_listed_with_their_columns() {
    let (tmp, data) = fixture(false);
    let o = show(tmp.path(), &data, &[]);
    assert_exit(&o, 0);
    let listing = stdout(&o);
    // Names are padded to the longest, `customer_lifetime_value` (23).
    let line = |name: &str, columns: &str| format!("\n  {name:23}  {columns}\n");
    for expected in [
        line(
            "orders",
            "order_id BIGINT, customer_id BIGINT, order_ts TIMESTAMP, amount DOUBLE, \
             margin DOUBLE, status VARCHAR, quantity INT",
        ),
        line("surveys", "(an optional source with no files)"),
        line(
            "contribution_curve",
            "customer_share DOUBLE, cumulative_share DOUBLE",
        ),
        line(
            "satisfaction_funnel",
            "(would be skipped: it reads an optional source with no files)",
        ),
    ] {
        assert!(listing.contains(&expected), "{expected}\nnot in\n{listing}");
    }
    assert!(listing.starts_with("sources\n  customers "), "{listing}");
    assert!(listing.contains("\nsteps\n  numbers "), "{listing}");

    // For tools, a row per column, or a note.
    let o = show(tmp.path(), &data, &["--format", "csv"]);
    assert_exit(&o, 0);
    let csv = stdout(&o);
    assert!(csv.starts_with("kind,table,column,type,note\n"), "{csv}");
    assert!(
        csv.contains(
            "\nstep,contribution_curve,customer_share,DOUBLE,\n\
             step,contribution_curve,cumulative_share,DOUBLE,\n"
        ) && csv.contains("\nsource,surveys,,,an optional source with no files\n"),
        "{csv}"
    );
    assert!(!tmp.path().join("out").exists());
}

/// `show` writes nothing, so a report or an output set up ahead of what it
/// needs (a template still to be written, a step still to be added) does not
/// stop it; `validate` still says what is wrong with them.
#[test]
fn outputs_and_reports_set_up_wrongly_do_not_stop_a_look_at_rows() {
    let (tmp, data) = fixture(false);
    let pipeline = bundle_copy(tmp.path());
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let text = text
        .replacen(
            "template: ../report_templates/report.md.j2",
            "template: ../report_templates/regions.md.j2",
            1,
        )
        .replacen(
            "outputs:\n",
            "outputs:\n  - step: churn_by_region\n    path: tables/churn_by_region/\n",
            1,
        );
    std::fs::write(&pipeline, text).unwrap();
    let data_root = format!("data_root={}", data.display());
    let args = |command: &'static str| {
        vec![
            command.to_string(),
            pipeline.display().to_string(),
            "--as-of".into(),
            "2026-06-30".into(),
            "--param".into(),
            data_root.clone(),
        ]
    };
    let mut show = args("show");
    show.extend(
        [
            "--sql",
            "SELECT COUNT(*) AS n FROM orders_asof",
            "--format",
            "csv",
        ]
        .map(String::from),
    );
    let show: Vec<&str> = show.iter().map(String::as_str).collect();
    let o = loyalty(tmp.path(), &show);
    assert_exit(&o, 0);
    // The fixture's 27 orders, less order 17, after the run date.
    assert_eq!(stdout(&o), "n\n26\n");
    let validate = args("validate");
    let validate: Vec<&str> = validate.iter().map(String::as_str).collect();
    let o = loyalty(tmp.path(), &validate);
    assert_says(&o, 2, &["regions.md.j2` does not exist", "churn_by_region"]);
}

/// A step being written that does not parse holds back only itself and the
/// steps that read it: the others can still be looked at, the listing says
/// which have errors, and showing one of those tells its errors, as
/// `validate` would. A problem that is not a step's still stops `show`.
#[test]
fn a_step_with_errors_stops_only_a_look_at_what_reads_it() {
    let (tmp, data) = fixture(false);
    let pipeline = bundle_with_a_broken_step(tmp.path());
    let data_root = format!("data_root={}", data.display());
    let show = |args: &[&str]| {
        let mut all = vec!["show", pipeline.to_str().unwrap(), "--as-of", "2026-06-30"];
        all.extend_from_slice(&["--param", &data_root]);
        all.extend_from_slice(args);
        loyalty(tmp.path(), &all)
    };
    let count = "SELECT COUNT(*) AS n FROM orders_asof";
    let o = show(&["--sql", count, "--format", "csv"]);
    assert_exit(&o, 0);
    // The fixture's 27 orders, less order 17, after the run date.
    assert_eq!(stdout(&o), "n\n26\n");

    let syntax = "cohort_activity.sql:1:1): SQL syntax error";
    let o = show(&["cohort_activity"]);
    assert_says(&o, 2, &[syntax]);
    let held = "step `cohort_retention`: not checked, because step `cohort_activity` has errors";
    let o = show(&["cohort_retention"]);
    assert_says(&o, 2, &[held, syntax]);
    let o = show(&["--sql", "SELECT * FROM cohort_retention"]);
    assert_says(&o, 2, &[held, syntax]);

    let o = show(&[]);
    assert_exit(&o, 0);
    let listing = stdout(&o);
    for expected in [
        "\n  cohort_activity          (has errors: `loyalty validate` says which)\n",
        "\n  cohort_retention         (reads step `cohort_activity`, which has errors: \
         `loyalty validate` says which)\n",
    ] {
        assert!(listing.contains(expected), "{expected}\nnot in\n{listing}");
    }
    assert!(listing.contains("\n  customer_months "), "{listing}");

    // An engine setting at fault is not a step's: nothing runs without it.
    let o = show(&["--sql", count, "--memory-limit", "lots"]);
    assert_says(&o, 2, &["lots"]);
}
