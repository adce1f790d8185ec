//! Bad input, each case a clear error (or, where the input is legal, the
//! right result), the documented exit code, and nothing published.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use common::*;

fn good_data(tmp: &Path) {
    let data = tmp.join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2]),
    );
    write_parquet(
        &data.join("orders/part-0.parquet"),
        &orders_batch(&[
            (1, 1, "2026-06-01 10:00:00", 10.0, "completed"),
            (2, 2, "2026-06-02 23:30:00", 20.0, "completed"),
        ]),
    );
}

fn assert_nothing_published(out: &Path) {
    assert!(!out.join("tables").exists() && !out.join("report.html").exists());
}

#[test]
fn a_truncated_parquet_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let orders = tmp.path().join("data/orders");
    let bytes = std::fs::read(orders.join("part-0.parquet")).unwrap();
    std::fs::write(orders.join("part-1.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let o = run_bundled(tmp.path());
    assert_exit(&o, 1);
    let err = stderr(&o);
    // Named by its full URL, as the source's location is.
    let file = format!(
        "file://{}/data/orders/part-1.parquet` is not readable Parquet",
        tmp.path().display()
    );
    assert!(err.contains(&file), "{err}");
    assert!(err.contains("truncated or corrupt"), "{err}");
    assert_nothing_published(&tmp.path().join("out"));
}

#[test]
fn files_with_conflicting_schemas_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new(
            "order_ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("amount", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![3])) as ArrayRef,
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(TimestampMicrosecondArray::from(vec![ts(
                "2026-06-03 10:00:00",
            )])),
            Arc::new(StringArray::from(vec!["9.99"])),
            Arc::new(StringArray::from(vec!["completed"])),
        ],
    )
    .unwrap();
    write_parquet(&tmp.path().join("data/orders/part-1.parquet"), &batch);
    let o = run_bundled(tmp.path());
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("files disagree on column `amount`"), "{err}");
    let orders = format!("file://{}/data/orders", tmp.path().display());
    assert!(
        err.contains(&format!("{orders}/part-0.parquet` has Float64"))
            && err.contains(&format!("{orders}/part-1.parquet` has Utf8")),
        "{err}"
    );
}

#[test]
fn an_empty_source_is_allowed_and_the_report_says_no_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[]),
    );
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(&[]));
    let o = run_bundled(tmp.path());
    assert_exit(&o, 0);
    let out = tmp.path().join("out");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("No data for this section: there are no completed orders up to the run date."),
        "{md}"
    );
    assert_eq!(
        col_i64(&read_parquet(&out.join("tables/headline")), "customers"),
        [Some(0)]
    );
    assert_eq!(rows(&read_parquet(&out.join("tables/rfm_scores"))), 0);
}

/// The same instants with a UTC time zone and without one give the same figures.
#[test]
fn timestamps_with_and_without_time_zone_give_the_same_figures() {
    let naive = tempfile::tempdir().unwrap();
    good_data(naive.path());
    assert_exit(&run_bundled(naive.path()), 0);

    let zoned = tempfile::tempdir().unwrap();
    good_data(zoned.path());
    let batch = read_parquet(&zoned.path().join("data/orders"))[0].clone();
    let ts_col = batch
        .column_by_name("order_ts")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap()
        .clone()
        .with_timezone("UTC");
    let schema = Arc::new(Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| {
                if f.name() == "order_ts" {
                    Field::new("order_ts", ts_col.data_type().clone(), false)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            if f.name() == "order_ts" {
                Arc::new(ts_col.clone()) as ArrayRef
            } else {
                c.clone()
            }
        })
        .collect();
    write_parquet(
        &zoned.path().join("data/orders/part-0.parquet"),
        &RecordBatch::try_new(schema, cols).unwrap(),
    );
    assert_exit(&run_bundled(zoned.path()), 0);
    for table in [
        "customer_orders",
        "rfm_scores",
        "cohort_retention",
        "headline",
    ] {
        let a = arrow::util::pretty::pretty_format_batches(&read_parquet(
            &naive.path().join("out/tables").join(table),
        ))
        .unwrap()
        .to_string();
        let b = arrow::util::pretty::pretty_format_batches(&read_parquet(
            &zoned.path().join("out/tables").join(table),
        ))
        .unwrap()
        .to_string();
        let sorted = |s: &str| {
            let mut l: Vec<String> = s.lines().map(str::to_string).collect();
            l.sort();
            l
        };
        assert_eq!(sorted(&a), sorted(&b), "{table}");
    }
}

#[test]
fn a_missing_sql_file_and_a_syntax_error_name_step_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    std::fs::create_dir_all(tmp.path().join("sql")).unwrap();
    std::fs::write(
        tmp.path().join("sql/broken.sql"),
        "SELECT customer_id,\n  SUM(amount) AS\nFROM orders GROUP BY 1 +\n",
    )
    .unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: t
sources:
  orders: data/orders/
steps:
  gone:
    sql_file: sql/nowhere.sql
  broken:
    sql_file: sql/broken.sql
",
    )
    .unwrap();
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("p.yaml:6:5: step `gone`: cannot read SQL file"),
        "{err}"
    );
    assert!(err.contains("sql/nowhere.sql"), "{err}");
    assert!(err.contains("step `broken` ("), "{err}");
    assert!(err.contains("sql/broken.sql): SQL syntax error"), "{err}");
    assert!(err.contains("Line: 3"), "{err}");
}

#[test]
fn an_unsupported_url_scheme_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(&p, "name: t\nsources:\n  orders: ftp://host/orders/\nsteps:\n  a:\n    sql: SELECT * FROM orders\n").unwrap();
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("p.yaml:3:3: source `orders`: unsupported URL scheme `ftp://`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_output_path_cannot_climb_out_of_the_output_root() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: t\nsources:\n  orders: data/orders/\noutput_root: out\nsteps:\n  a:\n    sql: SELECT * FROM orders\noutputs:\n  - { step: a, path: ../../escaped.csv, format: csv }\n",
    )
    .unwrap();
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("`../../escaped.csv` climbs out of the output root"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().parent().unwrap().join("escaped.csv").exists());
}

#[test]
fn malformed_yaml_and_unknown_keys_exit_2_with_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(&p, "name: t\nsteps:\n  a:\n   sql: x\n  b: : :\n").unwrap();
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:5:6: mapping values are not allowed",
            p.display()
        )),
        "{err}"
    );

    std::fs::write(&p, "name: t\nsteps:\n  a:\n    sqll: SELECT 1\n").unwrap();
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("p.yaml:4:5: steps.a: unknown key `sqll`; did you mean `sql`?"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn an_output_root_that_cannot_be_written_stops_the_run_before_any_step() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    // A folder under a file: no one can create it, root included.
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    let o = run_pipeline(
        tmp.path(),
        &bundled_pipeline(),
        "2026-06-30",
        &tmp.path().join("data"),
        &file.join("out"),
        &["--log-format", "json"],
    );
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("a_file/out/`: cannot write under the output root:")
            && err.contains("check `output_root` (and the params it is written with)"),
        "{err}"
    );
    // Found before any check or step ran.
    assert!(
        !err.contains("step started") && !err.contains("check passed"),
        "{err}"
    );
}

/// README's input contract: orders whose `order_ts` is text are read through
/// a staging step named `orders` that casts it, in a copy of the pipeline
/// edited as README says. The tables come out as from the same orders
/// written with real timestamps.
#[test]
fn text_timestamps_are_read_through_the_documented_staging_step() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = [
        (1, 1, "2026-06-01 10:00:00", 10.0, "completed"),
        (2, 2, "2026-06-02 23:30:00", 20.0, "completed"),
        (3, 1, "2026-04-15 08:00:00", 5.5, "returned"),
    ];
    good_data(tmp.path());
    write_parquet(
        &tmp.path().join("data/orders/part-0.parquet"),
        &orders_batch(&rows),
    );
    let text = tmp.path().join("text");
    write_parquet(
        &text.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2]),
    );
    let timestamps = orders_batch(&rows);
    let as_text = arrow::compute::cast(timestamps.column(2), &DataType::Utf8).unwrap();
    let mut columns = timestamps.columns().to_vec();
    columns[2] = as_text;
    let mut fields: Vec<Field> = timestamps
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[2] = Field::new("order_ts", DataType::Utf8, false);
    let text_orders = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    write_parquet(&text.join("orders/part-0.parquet"), &text_orders);

    // Unchanged, the pipeline refuses the text column.
    let o = run_pipeline(
        tmp.path(),
        &bundled_pipeline(),
        "2026-06-30",
        &text,
        &tmp.path().join("refused"),
        &[],
    );
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("column `order_ts` is Utf8View, expected a timestamp or date"),
        "{}",
        stderr(&o)
    );

    // The copy, edited as README says.
    let pipeline = bundle_copy(tmp.path());
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let step = readme
        .split_once("```yaml\nsteps:\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(step, _)| step)
        .expect("README shows the staging step");
    let staged = yaml
        .replacen("  orders:\n    url:", "  raw_orders:\n    url:", 1)
        .replacen("      order_ts: timestamp", "      order_ts: string", 1)
        .replacen("\nsteps:\n", &format!("\nsteps:\n{step}"), 1);
    assert!(staged.contains("raw_orders:") && staged.contains("FROM raw_orders"));
    std::fs::write(&pipeline, staged).unwrap();
    let o = run_pipeline(
        tmp.path(),
        &pipeline,
        "2026-06-30",
        &text,
        &tmp.path().join("staged"),
        &[],
    );
    assert_exit(&o, 0);
    assert_exit(&run_bundled(tmp.path()), 0);
    for table in [
        "customer_orders",
        "rfm_scores",
        "cohort_retention",
        "headline",
    ] {
        let path = format!("tables/{table}");
        assert_same_table(
            &read_parquet(&tmp.path().join("staged").join(&path)),
            &read_parquet(&tmp.path().join("out").join(&path)),
            table,
        );
    }
}

/// The input contract allows text customer ids. The same sample data with
/// every id written as text (`C` and the number in 7 digits, so that ties
/// broken by customer_id fall the same way) gives every output table with
/// the same rows, their ids as text, and the same report.
#[test]
fn text_customer_ids_give_the_same_tables_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let numbers = tmp.path().join("numbers");
    sample_data(tmp.path(), &numbers, 600, 5);
    let text = tmp.path().join("text");
    for table in ["customers", "orders", "surveys", "complaints"] {
        let batches: Vec<RecordBatch> = read_parquet(&numbers.join(table))
            .iter()
            .map(ids_as_text)
            .collect();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let id = batch.column_by_name("customer_id").unwrap();
        assert_eq!(id.data_type(), &DataType::Utf8, "{table}");
        write_parquet(&text.join(table).join("part-0.parquet"), &batch);
    }
    let run = |data: &Path, out: &str| {
        let out = tmp.path().join(out);
        let o = run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            "2026-06-30",
            data,
            &out,
            &[],
        );
        assert_exit(&o, 0);
        out
    };
    let (by_number, by_text) = (run(&numbers, "out-numbers"), run(&text, "out-text"));

    let mut tables: Vec<_> = std::fs::read_dir(by_number.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    tables.sort();
    assert_eq!(tables.len(), 19, "{tables:?}");
    let mut with_ids = 0;
    for table in &tables {
        let expected: Vec<RecordBatch> = read_parquet(&by_number.join("tables").join(table))
            .iter()
            .map(ids_as_text)
            .collect();
        let got = read_parquet(&by_text.join("tables").join(table));
        if got[0].schema().column_with_name("customer_id").is_some() {
            with_ids += 1;
        }
        assert!(rows(&got) > 0, "{table:?} is empty");
        assert_same_table(&expected, &got, &table.to_string_lossy());
    }
    assert!(with_ids >= 4, "only {with_ids} tables have customer ids");

    // The report, but for the two paths it lists among the run's params.
    let report = |out: &Path, data: &Path| {
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .replace(&data.display().to_string(), "DATA")
            .replace(&out.display().to_string(), "OUT")
    };
    assert_eq!(report(&by_number, &numbers), report(&by_text, &text));
}

/// The batch with its integer `customer_id` (if any) as text: `C` and the
/// number in 7 digits.
fn ids_as_text(batch: &RecordBatch) -> RecordBatch {
    let schema = batch.schema();
    let Some((i, field)) = schema.column_with_name("customer_id") else {
        return batch.clone();
    };
    let numbers = arrow::compute::cast(batch.column(i), &DataType::Int64).unwrap();
    let numbers = numbers.as_any().downcast_ref::<Int64Array>().unwrap();
    let ids: StringArray = numbers
        .iter()
        .map(|n| n.map(|n| format!("C{n:07}")))
        .collect();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("customer_id", DataType::Utf8, field.is_nullable());
    let mut columns = batch.columns().to_vec();
    columns[i] = Arc::new(ids);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// A present optional column is held to the kind of its declared type:
/// `loyalty_member` written as text ("true"/"false") stops the run before any
/// step, naming source, column, type found and type declared, where it
/// failed inside `loyalty_programme` as a type error naming no column.
#[test]
fn an_optional_column_of_another_kind_is_named_before_any_step() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, false);
    csv_to_parquet(
        "customers",
        vec![
            Field::new("customer_id", DataType::Int64, true),
            Field::new("region", DataType::Utf8, true),
            Field::new("loyalty_member", DataType::Utf8, true),
        ],
        &data,
    );
    let o = run_bundled(tmp.path());
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("source `customers`: optional column `loyalty_member` is Utf8View, expected a boolean (`optional_columns` says BOOLEAN); write it with that type, or cast it in a staging SQL step"),
        "{}",
        stderr(&o)
    );
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert!(r["steps"].as_array().unwrap().is_empty(), "no step ran");
}

/// Survey scores declared INT but written as float64 (what pandas writes
/// for an integer column with gaps) are read as numbers: the satisfaction
/// tables come out as from the same answers written as integers.
#[test]
fn float_scores_where_integers_are_declared_give_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (ints, floats) = (tmp.path().join("ints"), tmp.path().join("floats"));
    analyses_fixture(&ints, true);
    analyses_fixture(&floats, true);
    let float = |n: &str| Field::new(n, DataType::Float64, true);
    csv_to_parquet(
        "surveys",
        vec![
            Field::new("response_id", DataType::Int64, true),
            Field::new("customer_id", DataType::Int64, true),
            Field::new("survey_ts", ts_type(), false),
            Field::new("csat", DataType::Int32, true),
            float("nps"),
            float("product_quality"),
            float("service_quality"),
            float("price"),
            float("communication"),
        ],
        &floats,
    );
    let run = |data: &Path, out: &str| {
        let out = tmp.path().join(out);
        let o = run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            "2026-06-30",
            data,
            &out,
            &[],
        );
        assert_exit(&o, 0);
        out
    };
    let (a, b) = (run(&ints, "out-ints"), run(&floats, "out-floats"));
    for table in [
        "satisfaction_index",
        "satisfaction_by_segment",
        "satisfaction_funnel",
        "churn_by_satisfaction",
        "headline",
    ] {
        let path = format!("tables/{table}");
        let got = read_parquet(&b.join(&path));
        assert!(rows(&got) > 0, "{table} is empty");
        assert_same_table(&read_parquet(&a.join(&path)), &got, table);
    }
}
