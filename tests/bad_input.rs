//! Bad input, each case a clear error (or, where the input is legal, the
//! right result), the documented exit code, and nothing published.

mod common;

use std::path::{Path, PathBuf};
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
    write_parquet(
        &zoned.path().join("data/orders/part-0.parquet"),
        &in_utc(&batch, "order_ts"),
    );
    assert_exit(&run_bundled(zoned.path()), 0);
    for table in [
        "customer_orders",
        "rfm_scores",
        "cohort_retention",
        "headline",
    ] {
        assert_same_table(
            &read_parquet(&naive.path().join("out/tables").join(table)),
            &read_parquet(&zoned.path().join("out/tables").join(table)),
            table,
        );
    }
}

/// Runs `pipeline` as of 2026-06-30 on `data` into `dir/out`, asserts that
/// it succeeded, and returns the output folder.
fn succeeded(dir: &Path, pipeline: &Path, data: &Path, out: &str) -> PathBuf {
    let out = dir.join(out);
    assert_exit(
        &run_pipeline(dir, pipeline, "2026-06-30", data, &out, &[]),
        0,
    );
    out
}

/// The batch with its timestamp column `column` marked as UTC instants (the
/// same numbers, now with a time zone).
fn in_utc(batch: &RecordBatch, column: &str) -> RecordBatch {
    let zoned = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap()
        .clone()
        .with_timezone("UTC");
    with_column(batch, column, Arc::new(zoned))
}

/// The batch with column `column` replaced by `values` (of any type).
fn with_column(batch: &RecordBatch, column: &str, values: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let (i, field) = schema.column_with_name(column).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new(column, values.data_type().clone(), field.is_nullable());
    let mut columns = batch.columns().to_vec();
    columns[i] = values;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Four orders at instants in UTC, worked by hand on Shanghai's clock below.
const UTC_ORDERS: [(i64, i64, &str, f64, &str); 4] = [
    (1, 1, "2026-05-31 20:00:00", 10.0, "completed"),
    (2, 2, "2026-06-30 17:00:00", 20.0, "completed"),
    (3, 3, "2026-06-30 15:00:00", 30.0, "completed"),
    (4, 2, "2026-03-10 02:00:00", 5.0, "completed"),
];

/// Output table `name` of a run that wrote to `out`.
fn table(out: &Path, name: &str) -> Vec<RecordBatch> {
    read_parquet(&out.join("tables").join(name))
}

/// The headline's orders and revenue.
fn headline(out: &Path) -> (Option<i64>, Option<f64>) {
    let h = table(out, "headline");
    (col_i64(&h, "orders")[0], col_f64(&h, "revenue")[0])
}

/// Customers 1 to 3 and `orders`, written under `data`; returns `data`.
fn three_customers_with(data: &Path, orders: &RecordBatch) -> PathBuf {
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2, 3]),
    );
    write_parquet(&data.join("orders/part-0.parquet"), orders);
    data.to_path_buf()
}

/// `timezone: Asia/Shanghai` reads zoned timestamps as Shanghai's wall-clock
/// times (UTC + 8 h). Worked by hand, as of 2026-06-30:
///   order 1, customer 1, 2026-05-31 20:00 UTC = 06-01 04:00 in Shanghai;
///   order 2, customer 2, 2026-06-30 17:00 UTC = 07-01 01:00: after as_of;
///   order 3, customer 3, 2026-06-30 15:00 UTC = 06-30 23:00;
///   order 4, customer 2, 2026-03-10 02:00 UTC = 03-10 10:00.
/// In Shanghai: 3 orders, $45, customer 1 first bought on 1 June, customer
/// 2 last on 10 March, one order after as_of. By UTC (no `timezone`): 4
/// orders, $65, 31 May, 30 June, none after. The same orders written
/// without a zone, as Shanghai's clock reads them, give the same tables.
#[test]
fn a_pipeline_time_zone_counts_zoned_timestamps_by_its_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let shanghai = [
        (1, 1, "2026-06-01 04:00:00", 10.0, "completed"),
        (2, 2, "2026-07-01 01:00:00", 20.0, "completed"),
        (3, 3, "2026-06-30 23:00:00", 30.0, "completed"),
        (4, 2, "2026-03-10 10:00:00", 5.0, "completed"),
    ];
    let write =
        |dir: &str, orders: RecordBatch| three_customers_with(&tmp.path().join(dir), &orders);
    let zoned = write("zoned", in_utc(&orders_batch(&UTC_ORDERS), "order_ts"));
    let local = write("local", orders_batch(&shanghai));
    let in_zone = bundle_copy(tmp.path());
    let yaml = std::fs::read_to_string(&in_zone).unwrap();
    std::fs::write(&in_zone, format!("{yaml}\ntimezone: Asia/Shanghai\n")).unwrap();
    let by_zone = succeeded(tmp.path(), &in_zone, &zoned, "out-zone");
    let by_utc = succeeded(tmp.path(), &bundled_pipeline(), &zoned, "out-utc");
    let by_clock = succeeded(tmp.path(), &bundled_pipeline(), &local, "out-clock");

    assert_eq!(headline(&by_zone), (Some(3), Some(45.0)));
    assert_eq!(headline(&by_utc), (Some(4), Some(65.0)));
    let dates = |out: &Path, column: &str| {
        let t = table(out, "customer_orders");
        let ids = col_i64(&t, "customer_id");
        let mut v: Vec<(i64, String)> = ids
            .iter()
            .zip(col_str(&t, column))
            .map(|(id, d)| (id.unwrap(), d.unwrap()))
            .collect();
        v.sort();
        v
    };
    let days = |v: [(i64, &str); 3]| v.map(|(i, d)| (i, d.to_string())).to_vec();
    assert_eq!(
        dates(&by_zone, "first_order_date"),
        days([(1, "2026-06-01"), (2, "2026-03-10"), (3, "2026-06-30")])
    );
    assert_eq!(
        dates(&by_zone, "last_order_date"),
        days([(1, "2026-06-01"), (2, "2026-03-10"), (3, "2026-06-30")])
    );
    assert_eq!(
        dates(&by_utc, "first_order_date"),
        days([(1, "2026-05-31"), (2, "2026-03-10"), (3, "2026-06-30")])
    );
    assert_eq!(
        dates(&by_utc, "last_order_date"),
        days([(1, "2026-05-31"), (2, "2026-06-30"), (3, "2026-06-30")])
    );
    for name in ["customer_orders", "cohort_retention", "headline"] {
        assert_same_table(&table(&by_clock, name), &table(&by_zone, name), name);
    }
    let results = read_json(&by_zone.join("run_results.json"));
    assert_eq!(results["timezone"], "Asia/Shanghai");
    // Which columns were read on the zone's clock, per source.
    let converted = |out: &Path| {
        let results = read_json(&out.join("run_results.json"));
        results["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["name"].to_string(), s["local_time_columns"].to_string()))
            .collect::<Vec<_>>()
    };
    // The optional surveys and complaints are absent.
    let named = |orders: &str| {
        [
            ("customers", "null"),
            ("orders", orders),
            ("surveys", "null"),
            ("complaints", "null"),
        ]
        .map(|(a, b)| (format!("\"{a}\""), b.to_string()))
        .to_vec()
    };
    assert_eq!(converted(&by_zone), named("[\"order_ts\"]"));
    assert_eq!(converted(&by_utc), named("null"));
    let report = |out: &Path| std::fs::read_to_string(out.join("report.md")).unwrap();
    let md = report(&by_zone);
    assert!(md.contains("As of 30 Jun 2026 (Asia/Shanghai)"), "{md}");
    assert!(
        md.contains("1 order row dated after the run date was ignored."),
        "{md}"
    );
    let md = report(&by_utc);
    assert!(!md.contains("Asia/Shanghai"), "{md}");
    assert!(
        md.contains("No order row is dated after the run date."),
        "{md}"
    );

    // A zone that is not one stops the run before anything is read.
    std::fs::write(&in_zone, format!("{yaml}\ntimezone: Asia/Shangai\n")).unwrap();
    let o = run_pipeline(
        tmp.path(),
        &in_zone,
        "2026-06-30",
        &zoned,
        &tmp.path().join("x"),
        &[],
    );
    assert_exit(&o, 2);
    // Located at its key, the file's last line.
    let line = yaml.lines().count() + 2;
    assert!(
        stderr(&o).contains(&format!("customer_loyalty.yaml:{line}:1: timezone: `Asia/Shangai` is not a time zone: write an IANA name such as `Asia/Shanghai`")),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("x").exists());
}

/// Timestamps written without a time zone but holding UTC (Spark's and
/// Hive's INT96, exports that drop the zone): `naive_timestamps: utc` on the
/// source reads them as the instants they are. The UTC orders of the test
/// above, written without a zone, in `Asia/Shanghai`: with it, the zoned
/// orders' tables (3 orders, $45, customer 1's first order on 1 June);
/// without it they are taken as Shanghai's clock already (4 orders, $65,
/// 31 May).
#[test]
fn naive_timestamps_that_hold_utc_are_read_as_instants() {
    let tmp = tempfile::tempdir().unwrap();
    let write =
        |dir: &str, orders: RecordBatch| three_customers_with(&tmp.path().join(dir), &orders);
    let zoned = write("zoned", in_utc(&orders_batch(&UTC_ORDERS), "order_ts"));
    let naive = write("naive", orders_batch(&UTC_ORDERS));
    let pipeline = bundle_copy(tmp.path());
    let yaml = format!(
        "{}\ntimezone: Asia/Shanghai\n",
        std::fs::read_to_string(&pipeline).unwrap()
    );
    std::fs::write(&pipeline, &yaml).unwrap();
    let by_zone = succeeded(tmp.path(), &pipeline, &zoned, "out-zoned");
    let as_written = succeeded(tmp.path(), &pipeline, &naive, "out-written");
    let declared = yaml.replace("  orders:\n", "  orders:\n    naive_timestamps: utc\n");
    assert_ne!(declared, yaml);
    std::fs::write(&pipeline, &declared).unwrap();
    let as_utc = succeeded(tmp.path(), &pipeline, &naive, "out-utc");

    assert_eq!(headline(&as_utc), (Some(3), Some(45.0)));
    assert_eq!(headline(&as_written), (Some(4), Some(65.0)));
    let first = |out: &Path| {
        let t = table(out, "customer_orders");
        let firsts = col_str(&t, "first_order_date");
        col_i64(&t, "customer_id")
            .into_iter()
            .zip(firsts)
            .find(|(id, _)| *id == Some(1))
            .and_then(|(_, d)| d)
    };
    assert_eq!(first(&as_utc).as_deref(), Some("2026-06-01"));
    assert_eq!(first(&as_written).as_deref(), Some("2026-05-31"));
    for name in ["customer_orders", "cohort_retention", "headline"] {
        assert_same_table(&table(&as_utc, name), &table(&by_zone, name), name);
    }
}

/// `orders` as Spark writes it by default: `order_ts` as INT96 (nanoseconds
/// of the day and a Julian day, here of the UTC instants), with the parquet
/// crate's column writers (its Arrow writer has no INT96).
fn write_int96_orders(path: &Path, rows: &[(i64, i64, &str, f64, &str)]) {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type, Int96, Int96Type};
    use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
    /// The row group's next column, of physical type `T`.
    fn column<T: parquet::data_type::DataType>(
        group: &mut SerializedRowGroupWriter<'_, std::fs::File>,
        values: &[T::T],
    ) {
        let mut c = group.next_column().unwrap().unwrap();
        c.typed::<T>().write_batch(values, None, None).unwrap();
        c.close().unwrap();
    }
    let schema = parquet::schema::parser::parse_message_type(
        "message spark_schema {
            required int64 order_id;
            required int64 customer_id;
            required int96 order_ts;
            required double amount;
            required binary status (STRING);
        }",
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Default::default()).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let times: Vec<Int96> = rows
        .iter()
        .map(|r| {
            let t = chrono::NaiveDateTime::parse_from_str(r.2, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp();
            let nanos = t.rem_euclid(86_400) as u64 * 1_000_000_000;
            let mut v = Int96::new();
            v.set_data(
                nanos as u32,
                (nanos >> 32) as u32,
                (t.div_euclid(86_400) + 2_440_588) as u32,
            );
            v
        })
        .collect();
    column::<Int64Type>(&mut group, &rows.iter().map(|r| r.0).collect::<Vec<_>>());
    column::<Int64Type>(&mut group, &rows.iter().map(|r| r.1).collect::<Vec<_>>());
    column::<Int96Type>(&mut group, &times);
    column::<DoubleType>(&mut group, &rows.iter().map(|r| r.3).collect::<Vec<_>>());
    column::<ByteArrayType>(
        &mut group,
        &rows
            .iter()
            .map(|r| ByteArray::from(r.4))
            .collect::<Vec<_>>(),
    );
    group.close().unwrap();
    writer.close().unwrap();
}

/// Spark and Hive write timestamps as INT96 by default, filled with UTC,
/// and Parquet then says nothing of a zone. With a pipeline `timezone` and
/// no word from the source, they are read as written (UTC days: 4 orders,
/// $65) and the run warns, naming the column; `naive_timestamps: utc` reads
/// them as instants (Shanghai's days: 3 orders, $45, as the zoned orders
/// above) without a warning.
#[test]
fn int96_timestamps_are_named_until_their_source_says_what_they_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2, 3]),
    );
    write_int96_orders(&data.join("orders/part-0.parquet"), &UTC_ORDERS);
    let pipeline = bundle_copy(tmp.path());
    let yaml = format!(
        "{}\ntimezone: Asia/Shanghai\n",
        std::fs::read_to_string(&pipeline).unwrap()
    );
    let run = |yaml: &str, out: &str| {
        std::fs::write(&pipeline, yaml).unwrap();
        let out = tmp.path().join(out);
        let o = run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &out, &[]);
        assert_exit(&o, 0);
        (stderr(&o), out)
    };
    let (log, as_written) = run(&yaml, "out-written");
    assert!(
        log.contains("source `orders`: `order_ts` is stored as INT96")
            && log.contains("`naive_timestamps: utc`"),
        "{log}"
    );
    assert_eq!(headline(&as_written), (Some(4), Some(65.0)));
    let (log, as_utc) = run(
        &yaml.replace("  orders:\n", "  orders:\n    naive_timestamps: utc\n"),
        "out-utc",
    );
    assert!(!log.contains("INT96"), "{log}");
    assert_eq!(headline(&as_utc), (Some(3), Some(45.0)));
    let (log, _) = run(
        &yaml.replace("  orders:\n", "  orders:\n    naive_timestamps: local\n"),
        "out-local",
    );
    assert!(!log.contains("INT96"), "{log}");
}

/// Shanghai kept daylight saving time until 1991: its clock read UTC + 9
/// in the summer of 1990. An order at 15:30 UTC on 1 July 1990 was placed at
/// 00:30 on 2 July there, and at 23:30 on 1 July at a fixed `+08:00`. Data
/// that reaches back to then is converted instant by instant; data since
/// 1991 by the zone's one offset (the test above); a fixed offset always so.
#[test]
fn a_time_zone_that_changed_its_offset_is_followed_instant_by_instant() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(&[1, 2]),
    );
    let orders = orders_batch(&[
        (1, 1, "1990-07-01 15:30:00", 10.0, "completed"),
        (2, 2, "2026-06-30 15:00:00", 20.0, "completed"),
    ]);
    write_parquet(
        &data.join("orders/part-0.parquet"),
        &in_utc(&orders, "order_ts"),
    );
    let pipeline = bundle_copy(tmp.path());
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    let first_orders = |zone: &str| {
        std::fs::write(&pipeline, format!("{yaml}\ntimezone: \"{zone}\"\n")).unwrap();
        let out = succeeded(tmp.path(), &pipeline, &data, &format!("out-{zone}"));
        let t = read_parquet(&out.join("tables/customer_orders"));
        let mut v: Vec<(i64, String)> = col_i64(&t, "customer_id")
            .into_iter()
            .zip(col_str(&t, "first_order_date"))
            .map(|(id, d)| (id.unwrap(), d.unwrap()))
            .collect();
        v.sort();
        v
    };
    let days = |a: &str, b: &str| vec![(1, a.to_string()), (2, b.to_string())];
    assert_eq!(
        first_orders("Asia/Shanghai"),
        days("1990-07-02", "2026-06-30")
    );
    assert_eq!(first_orders("+08:00"), days("1990-07-01", "2026-06-30"));
}

#[test]
fn a_missing_sql_file_and_a_syntax_error_name_step_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    std::fs::create_dir_all(tmp.path().join("sql")).unwrap();
    // The `{%- set %}` line renders as nothing, so the SQL DataFusion reads
    // has one line less than the file.
    std::fs::write(
        tmp.path().join("sql/broken.sql"),
        "-- per customer\n{%- set n = 1 %}\nSELECT customer_id,\n  SUM(amount) AS\nFROM orders GROUP BY {{ n }} +\n",
    )
    .unwrap();
    let p = pipeline_file(
        tmp.path(),
        "name: t
sources:
  orders: data/orders/
steps:
  gone:
    sql_file: sql/nowhere.sql
  broken:
    sql_file: sql/broken.sql
",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("p.yaml:6:5: step `gone`: cannot read SQL file"),
        "{err}"
    );
    assert!(err.contains("sql/nowhere.sql"), "{err}");
    // `AS FROM` takes FROM for the alias; then `orders` (the fifth line's
    // column 6) cannot follow. `{{ n }}` changed that line: it is shown as
    // rendered, the place marked under it.
    let broken = format!(
        "p.yaml:7:3: step `broken` ({}/sql/broken.sql:5): SQL syntax error: Expected: end of statement, found: orders\n\
         \x20       5 | FROM orders GROUP BY 1 +  (as rendered)\n\
         \x20         |      ^^^^^^\n",
        tmp.path().display()
    );
    assert!(err.contains(&broken), "{err}");
}

/// `loyalty validate PIPELINE` on the data under `dir/data`.
fn validate_on_data(dir: &Path, pipeline: &Path) -> std::process::Output {
    let data = format!("data_root={}", dir.join("data").display());
    loyalty(
        dir,
        &["validate", pipeline.to_str().unwrap(), "--param", &data],
    )
}

/// `loyalty COMMAND PIPELINE` as of 2026-06-30 on `good_data(dir)`, writing
/// under `dir/out`.
fn on_good_data(dir: &Path, command: &str, pipeline: &Path) -> std::process::Output {
    let (data, out) = (
        format!("data_root={}", dir.join("data").display()),
        format!("out_root={}", dir.join("out").display()),
    );
    let pipeline = pipeline.to_str().unwrap();
    let args = [command, pipeline, "--as-of", "2026-06-30", "--param", &data];
    loyalty(dir, &[&args[..], &["--param", &out]].concat())
}

/// The bundled pipeline's copy with `churn_summary.sql` changed by `edit`.
fn bundled_with_churn_summary(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let pipeline = bundle_copy(dir);
    let sql = dir.join("bundle/sql/churn_summary.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&sql, edit(&text)).unwrap();
    pipeline
}

#[test]
fn a_misspelt_column_is_named_at_its_file_line_before_any_step_computes() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    // A column of customer_status misspelt in the last of the file's
    // three reads of it: found before any step computes, at its place.
    let pipeline = bundled_with_churn_summary(tmp.path(), |sql| {
        let at = sql.rfind("st.churned").unwrap();
        format!("{}st.churnd{}", &sql[..at], &sql[at + "st.churned".len()..])
    });
    let text = std::fs::read_to_string(tmp.path().join("bundle/sql/churn_summary.sql")).unwrap();
    let (line, text_line) = (text.lines().enumerate())
        .find(|(_, l)| l.contains("st.churnd"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .unwrap();
    let column = text_line.find("st.churnd").unwrap() + 1;
    let run = |command: &str| on_good_data(tmp.path(), command, &pipeline);
    let expected = format!(
        "(SQL from {}/bundle/sql/churn_summary.sql:{line}:{column})\n\
         \x20       {line} | {text_line}\n\
         \x20       {} | {}^^^^^^^^^\n",
        tmp.path().display(),
        " ".repeat(line.to_string().len()),
        " ".repeat(column - 1),
    );
    for command in ["validate", "run"] {
        let o = run(command);
        assert_exit(&o, 2);
        let err = stderr(&o);
        assert!(err.contains("error: 1 problem found:\n  - step `churn_summary`: Schema error: No field named st.churnd. Did you mean 'st.churned'?"), "{command}: {err}");
        assert!(
            err.contains(&expected),
            "{command}: {err}\nexpected: {expected}"
        );
    }
    // The run stopped before its first check or step.
    let o = run("run");
    assert!(!stderr(&o).contains("step started"), "{}", stderr(&o));
    assert_no_step_ran(&tmp.path().join("out"));
    assert_nothing_published(&tmp.path().join("out"));
}

/// A literal that is no date is an error of the SQL, found as DataFusion
/// works out the constant expressions it plans: `validate` finds it, and a
/// run stops at it before its first check or step, not once the steps
/// before it have computed.
#[test]
fn a_literal_that_is_no_date_is_found_before_any_step_computes() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let pipeline = bundled_with_churn_summary(tmp.path(), |sql| {
        let from = "    FROM customer_status st\n";
        sql.replacen(
            from,
            &format!("{from}    WHERE st.last_order_date >= '2026-13-01'\n"),
            1,
        )
    });
    // DataFusion gives such an error no place: it is the literal quoted.
    let text = std::fs::read_to_string(tmp.path().join("bundle/sql/churn_summary.sql")).unwrap();
    let (line, written) = (text.lines().enumerate())
        .find(|(_, l)| l.contains("'2026-13-01'"))
        .unwrap();
    let column = written.find("'2026-13-01'").unwrap() + 1;
    let place = format!("bundle/sql/churn_summary.sql:{}:{column})", line + 1);
    let marked = format!("{}{}", " ".repeat(column - 1), "^".repeat(12));
    for command in ["validate", "run"] {
        let o = on_good_data(tmp.path(), command, &pipeline);
        assert_says(
            &o,
            2,
            &[
                "error: 1 problem found:\n  - step `churn_summary`: \
                 a constant expression cannot be worked out\n",
                "Cannot cast string '2026-13-01' to value of Date32 type",
                &place,
                written,
                &marked,
            ],
        );
        assert!(!stderr(&o).contains("step started"), "{}", stderr(&o));
    }
    assert_no_step_ran(&tmp.path().join("out"));
    assert_nothing_published(&tmp.path().join("out"));
}

#[test]
fn a_step_with_a_syntax_error_is_not_called_unknown_by_the_reports() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let pipeline =
        bundled_with_churn_summary(tmp.path(), |sql| sql.replacen("GROUP BY", "GROUP BYY", 1));
    let o = validate_on_data(tmp.path(), &pipeline);
    assert_exit(&o, 2);
    let err = stderr(&o);
    // One problem: the reports read `churn_summary`, which is a step. The
    // parser gives up on GROUP BY at its first word.
    let text = std::fs::read_to_string(tmp.path().join("bundle/sql/churn_summary.sql")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("GROUP BYY"))
        .unwrap()
        + 1;
    assert!(err.starts_with("error: 1 problem found:\n  - "), "{err}");
    let expected = format!(
        "sql/churn_summary.sql:{line}:1): SQL syntax error: Expected: end of statement, found: GROUP\n"
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!err.contains("is not a step"), "{err}");
}

#[test]
fn an_unsupported_url_scheme_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline_file(
        tmp.path(),
        "name: t\nsources:\n  orders: ftp://host/orders/\nsteps:\n  a:\n    sql: SELECT * FROM orders\n",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(
        &o,
        2,
        &["p.yaml:3:3: source `orders`: unsupported URL scheme `ftp://`"],
    );
}

#[test]
fn an_output_path_cannot_climb_out_of_the_output_root() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let p = pipeline_file(
        tmp.path(),
        "name: t\nsources:\n  orders: data/orders/\noutput_root: out\nsteps:\n  a:\n    sql: SELECT * FROM orders\noutputs:\n  - { step: a, path: ../../escaped.csv, format: csv }\n",
    );
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_says(
        &o,
        2,
        &["`../../escaped.csv` climbs out of the output root"],
    );
    assert!(!tmp.path().parent().unwrap().join("escaped.csv").exists());
}

/// Sources may be read over http(s); outputs are not written there
/// (object_store's HTTP store uploads a file in one request and races on
/// WebDAV folders): refused with the plan, before anything is read, and
/// without the URL's credentials.
#[test]
fn an_output_root_on_a_web_server_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let p = pipeline_file(
        tmp.path(),
        "name: t\nsources:\n  orders: data/orders/\noutput_root: https://user:secret@127.0.0.1:9/out\nsteps:\n  a:\n    sql: SELECT * FROM orders\n",
    );
    for command in ["validate", "run"] {
        let o = loyalty(tmp.path(), &[command, p.to_str().unwrap()]);
        assert_says(
            &o,
            2,
            &[
                "p.yaml:4:1: `output_root`: `https://user:***@127.0.0.1:9/out/` is a web server: \
               sources may be read over http(s), but outputs are written to local disk, \
               `s3://`, `gs://` or `az://`",
            ],
        );
        assert!(!stderr(&o).contains("secret"), "{}", stderr(&o));
    }
}

#[test]
fn malformed_yaml_and_unknown_keys_exit_2_with_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline_file(tmp.path(), "name: t\nsteps:\n  a:\n   sql: x\n  b: : :\n");
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
    let text_orders = with_column(&timestamps, "order_ts", as_text);
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
    assert_says(
        &o,
        1,
        &["column `order_ts` is Utf8View, expected a timestamp or date"],
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
    let run = |data: &Path, out: &str| succeeded(tmp.path(), &bundled_pipeline(), data, out);
    let (by_number, by_text) = (run(&numbers, "out-numbers"), run(&text, "out-text"));

    let mut tables: Vec<_> = std::fs::read_dir(by_number.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    tables.sort();
    assert_eq!(tables.len(), 21, "{tables:?}");
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
    let Some(numbers) = batch.column_by_name("customer_id") else {
        return batch.clone();
    };
    let numbers = arrow::compute::cast(numbers, &DataType::Int64).unwrap();
    let numbers = numbers.as_any().downcast_ref::<Int64Array>().unwrap();
    let ids: StringArray = numbers
        .iter()
        .map(|n| n.map(|n| format!("C{n:07}")))
        .collect();
    with_column(batch, "customer_id", Arc::new(ids))
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
    assert_says(
        &o,
        1,
        &[
            "source `customers`: optional column `loyalty_member` is Utf8View, expected a boolean (`optional_columns` says BOOLEAN); write it with that type, or cast it in a staging SQL step",
        ],
    );
    let r = read_json(&tmp.path().join("out/run_results.json"));
    assert!(r["steps"].as_array().unwrap().is_empty(), "no step ran");
}

/// Survey answers written as float64 (what pandas writes for an integer
/// column with gaps): the CSAT, and the scores declared INT, are read as
/// numbers, and the satisfaction tables come out as from the same answers
/// written as integers.
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
            float("csat"),
            float("nps"),
            float("product_quality"),
            float("service_quality"),
            float("price"),
            float("communication"),
        ],
        &floats,
    );
    let run = |data: &Path, out: &str| succeeded(tmp.path(), &bundled_pipeline(), data, out);
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

#[test]
fn a_folder_given_as_the_pipeline_file_names_the_pipelines_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    bundle_copy(tmp.path());
    let o = loyalty(tmp.path(), &["validate", "bundle"]);
    assert_exit(&o, 2);
    assert_eq!(
        stderr(&o),
        "error: cannot read pipeline file `bundle`: Is a directory (os error 21); \
         it is a folder: name a pipeline file in it, such as \
         `bundle/pipelines/customer_loyalty.yaml`\n"
    );
    // A folder with no pipeline in it, or no such path: the path is wrong.
    for path in ["bundle/sql", "nowhere.yaml"] {
        let o = loyalty(tmp.path(), &["validate", path]);
        assert_exit(&o, 2);
        assert!(stderr(&o).ends_with("; check the path\n"), "{}", stderr(&o));
    }
    // A URL: pipeline files are local, their data need not be.
    let o = loyalty(
        tmp.path(),
        &["run", "s3://crm/pipelines/customer_loyalty.yaml"],
    );
    assert_says(
        &o,
        2,
        &[
            "cannot read pipeline file `s3://crm/pipelines/customer_loyalty.yaml`: ",
            "; a pipeline file is read from local disk, with the SQL files and templates it \
           names: copy them here (its data may stay on the store)\n",
        ],
    );
}

#[test]
fn a_misspelt_param_in_a_sql_template_is_named_with_the_param_meant() {
    let tmp = tempfile::tempdir().unwrap();
    good_data(tmp.path());
    let pipeline = bundled_with_churn_summary(tmp.path(), |sql| {
        sql.replacen("{{ churn_days | days }}", "{{ churn_dayz | days }}", 1)
    });
    let text = std::fs::read_to_string(tmp.path().join("bundle/sql/churn_summary.sql")).unwrap();
    let line = text.lines().position(|l| l.contains("churn_dayz")).unwrap() + 1;
    let o = validate_on_data(tmp.path(), &pipeline);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "sql/churn_summary.sql): template error at line {line}: undefined value"
        )) && err.contains(
            "; `churn_dayz` is not a param of this pipeline; did you mean `churn_days`?\n"
        ),
        "{err}"
    );
}

/// `sample --out` takes a local folder, a `file://` URL or an object store's
/// folder; `demo --out` a local folder. Where the URL names something they
/// cannot write to, they say so before generating anything, and leave no
/// folder named after the scheme (`s3:/…`) where the command ran.
#[test]
fn sample_and_demo_refuse_an_out_they_cannot_write_to() {
    let tmp = tempfile::tempdir().unwrap();
    let small = ["--customers", "20", "--end-date", "2026-06-30"];
    let with = |verb: &str, out: &str| {
        loyalty(
            tmp.path(),
            &[&[verb, "--out", out][..], &small[..]].concat(),
        )
    };
    assert_says(
        &with("sample", "https://example.com/data"),
        2,
        &[
            "`--out https://example.com/data`: sample data is written to a local folder, `s3://`, `gs://` or `az://`",
        ],
    );
    assert_says(
        &with("sample", "ftp://host/data"),
        2,
        &[
            "`--out ftp://host/data`: sample data is written to a local folder, `s3://`, `gs://` or `az://`",
        ],
    );
    assert_says(
        &with("sample", "s3://"),
        2,
        &[
            "`--out s3://`: ",
            "; name the bucket in the URL: `s3://bucket/prefix/`",
        ],
    );
    assert_says(
        &with("demo", "s3://crm/demo"),
        2,
        &[
            "`--out s3://crm/demo`: the demo writes a pipeline to edit and runs it here, \
           so it takes a local folder; to put sample data on an object store, run \
           `loyalty sample --out s3://crm/demo`",
        ],
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // A file:// URL is a local folder.
    let url = url::Url::from_directory_path(tmp.path().join("data")).unwrap();
    let o = with("sample", url.as_str());
    assert_exit(&o, 0);
    assert!(tmp.path().join("data/orders/part-0.parquet").exists());
}

/// Credentials that cannot be read (a GCS service account file that is not
/// there) stop the run before any request. The four sources on that store
/// fail alike, so the error says it once, naming each source and its
/// location once, the file the environment names, and where to look.
#[test]
fn a_credentials_file_that_is_not_there_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing-key.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args([
        "run",
        bundled_pipeline().to_str().unwrap(),
        "--as-of",
        "2026-06-30",
    ])
    .args(["--param", "data_root=gs://crm/data"])
    .args([
        "--param",
        &format!("out_root={}", tmp.path().join("out").display()),
    ])
    .current_dir(tmp.path());
    let o = without_env_starting(&mut cmd, "GOOGLE_")
        .env("GOOGLE_SERVICE_ACCOUNT", &missing)
        .output()
        .unwrap();
    assert_says(
        &o,
        1,
        &[&format!(
            "error: sources `customers` at `gs://crm/data/customers/`, `orders` at \
             `gs://crm/data/orders/`, `surveys` at `gs://crm/data/surveys/`, `complaints` at \
             `gs://crm/data/complaints/`: Generic GCS error: GCP credential error: Unable to \
             open service account file from {}: No such file or directory (os error 2); check \
             the variables that give GCS its credentials where loyalty runs (README, \
             **Locations**",
            missing.display()
        )],
    );
    let err = stderr(&o);
    assert!(!err.contains("storage error at"), "{err}");
    assert_eq!(err.matches("Unable to open").count(), 1, "{err}");
    assert_nothing_published(&tmp.path().join("out"));
}

/// An Azure URL with no account anywhere (`az://container/…` and no
/// `AZURE_STORAGE_ACCOUNT_NAME`) is refused before anything is generated,
/// saying which variable gives the account.
#[test]
fn an_azure_store_without_an_account_names_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args(["sample", "--out", "az://crm/data", "--customers", "20"])
        .current_dir(tmp.path());
    let o = without_env_starting(&mut cmd, "AZURE_").output().unwrap();
    assert_says(
        &o,
        2,
        &[
            "`--out az://crm/data`: Generic MicrosoftAzure error: Account must be specified; \
           set `AZURE_STORAGE_ACCOUNT_NAME` (and the account's credentials) where loyalty runs",
        ],
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
