//! Helpers shared by the end-to-end tests: run the real binary, write and
//! read Parquet independently of the code under test.
#![allow(dead_code)]

pub mod moto;
pub mod servers;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root (where `pipelines/` is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Set by `tests/mutants/run.py`, which changes a file of `sql/` or
/// `report_templates/` and runs test binaries built before the change: a
/// [`bundle_copy`] then takes those folders' files from the repository, so
/// that the change reaches it without rebuilding loyalty's compiled-in copy.
pub const BUNDLE_FROM_REPO: &str = "LOYALTY_TEST_BUNDLE_FROM_REPO";

/// A copy of the bundled pipeline, SQL and templates under `dir/bundle`, to
/// edit; returns the pipeline file. With [`BUNDLE_FROM_REPO`] set, the SQL
/// and templates are the repository's files as they are now.
pub fn bundle_copy(dir: &Path) -> PathBuf {
    let root = dir.join("bundle");
    let pipeline = loyalty::bundle::extract(&root)
        .expect("extract the bundled pipeline")
        .pipeline;
    if std::env::var_os(BUNDLE_FROM_REPO).is_some() {
        for folder in ["sql", "report_templates"] {
            for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
                let from = entry.unwrap().path();
                std::fs::copy(&from, root.join(folder).join(from.file_name().unwrap())).unwrap();
            }
        }
    }
    pipeline
}

/// A copy of the bundled pipeline in which step `cohort_activity`, which
/// `cohort_retention` reads, does not parse (`cohort_activity.sql:1:1): SQL
/// syntax error`): a step being written.
pub fn bundle_with_a_broken_step(dir: &Path) -> PathBuf {
    let pipeline = bundle_copy(dir);
    let sql = pipeline
        .parent()
        .unwrap()
        .join("../sql/cohort_activity.sql");
    std::fs::write(&sql, "SELEC cohort_month FROM customer_months\n").unwrap();
    pipeline
}

pub fn bundled_pipeline() -> PathBuf {
    repo().join("pipelines/customer_loyalty.yaml")
}

/// Runs `loyalty` with `args` in `cwd`; stdin closed, no terminal.
pub fn loyalty(cwd: &Path, args: &[&str]) -> Output {
    loyalty_logging(cwd, args, None)
}

/// `loyalty`, with `LOYALTY_LOG` set to `log_filter` where given.
pub fn loyalty_logging(cwd: &Path, args: &[&str], log_filter: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("LOYALTY_LOG")
        .env_remove("LOYALTY_DATA_ROOT")
        .env_remove("LOYALTY_OUT_ROOT");
    if let Some(filter) = log_filter {
        command.env("LOYALTY_LOG", filter);
    }
    command.output().expect("run the loyalty binary")
}

/// Leaves out of `cmd`'s environment every variable of this process whose
/// name starts with `prefix` (`AZURE_`, `GOOGLE_`), so that the store a test
/// runs against is configured only by the variables it sets afterwards.
pub fn without_env_starting<'a>(cmd: &'a mut Command, prefix: &str) -> &'a mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with(prefix) {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Generates sample data for `customers` customers ending 2026-06-30 into `dir`.
pub fn sample_data(cwd: &Path, dir: &Path, customers: u32, seed: u32) {
    let (n, s) = (customers.to_string(), seed.to_string());
    let o = loyalty(
        cwd,
        &[
            "sample",
            "--out",
            dir.to_str().unwrap(),
            "--customers",
            &n,
            "--seed",
            &s,
            "--end-date",
            "2026-06-30",
        ],
    );
    assert_exit(&o, 0);
}

/// Runs `loyalty run PIPELINE --as-of AS_OF --param data_root=DATA
/// --param out_root=OUT EXTRA…` in `cwd`.
pub fn run_pipeline(
    cwd: &Path,
    pipeline: &Path,
    as_of: &str,
    data: &Path,
    out: &Path,
    extra: &[&str],
) -> Output {
    run_pipeline_logging(cwd, pipeline, as_of, data, out, extra, None)
}

/// `run_pipeline`, with `LOYALTY_LOG` set to `log_filter` where given.
pub fn run_pipeline_logging(
    cwd: &Path,
    pipeline: &Path,
    as_of: &str,
    data: &Path,
    out: &Path,
    extra: &[&str],
    log_filter: Option<&str>,
) -> Output {
    let out_arg = format!("out_root={}", out.display());
    let mut params = vec!["--param", &out_arg];
    params.extend_from_slice(extra);
    pipeline_command(cwd, "run", pipeline, as_of, data, &params, log_filter)
}

/// Runs `loyalty validate PIPELINE --as-of AS_OF --param data_root=DATA
/// EXTRA…` in `cwd`: `run_pipeline`'s check, which writes nothing.
pub fn validate_pipeline(
    cwd: &Path,
    pipeline: &Path,
    as_of: &str,
    data: &Path,
    extra: &[&str],
) -> Output {
    validate_pipeline_logging(cwd, pipeline, as_of, data, extra, None)
}

/// `validate_pipeline`, with `LOYALTY_LOG` set to `log_filter` where given.
pub fn validate_pipeline_logging(
    cwd: &Path,
    pipeline: &Path,
    as_of: &str,
    data: &Path,
    extra: &[&str],
    log_filter: Option<&str>,
) -> Output {
    pipeline_command(cwd, "validate", pipeline, as_of, data, extra, log_filter)
}

/// `loyalty COMMAND PIPELINE --as-of AS_OF --param data_root=DATA EXTRA…`
/// in `cwd`, with `LOYALTY_LOG` set to `log_filter` where given.
fn pipeline_command(
    cwd: &Path,
    command: &str,
    pipeline: &Path,
    as_of: &str,
    data: &Path,
    extra: &[&str],
    log_filter: Option<&str>,
) -> Output {
    let data_arg = format!("data_root={}", data.display());
    let mut args = vec![
        command,
        pipeline.to_str().unwrap(),
        "--as-of",
        as_of,
        "--param",
        &data_arg,
    ];
    args.extend_from_slice(extra);
    loyalty_logging(cwd, &args, log_filter)
}

/// `loyalty show` of query `sql` on the bundled pipeline as of 2026-06-30
/// over the tables under `dir/data`, every row as CSV: for the steps no
/// output writes.
pub fn show_bundled_csv(dir: &Path, sql: &str) -> String {
    let data = format!("data_root={}", dir.join("data").display());
    let pipeline = bundled_pipeline();
    let o = loyalty(
        dir,
        &[
            "show",
            pipeline.to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--param",
            &data,
            "--sql",
            sql,
            "--format",
            "csv",
            "--limit",
            "all",
        ],
    );
    assert_exit(&o, 0);
    stdout(&o)
}

/// Runs the bundled pipeline as of 2026-06-30 on `dir/data` into `dir/out`.
pub fn run_bundled(dir: &Path) -> Output {
    run_pipeline(
        dir,
        &bundled_pipeline(),
        "2026-06-30",
        &dir.join("data"),
        &dir.join("out"),
        &[],
    )
}

/// A small pipeline for one test, `p.yaml` in `dir` (with `data/` and
/// `out/` beside it, as the test puts them).
pub fn pipeline_file(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("p.yaml");
    std::fs::write(&p, yaml).unwrap();
    p
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the exit code and that stderr says each of `said`, showing
/// stderr when it does not.
pub fn assert_says(o: &Output, code: i32, said: &[&str]) {
    assert_exit(o, code);
    let err = stderr(o);
    for s in said {
        assert!(err.contains(s), "no {s:?} in:\n{err}");
    }
}

/// Asserts the exit code, showing the output when it differs.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    write_parquet_with(path, batch, None);
}

/// [`write_parquet`] with the writer's properties (a declared sort order, say).
pub fn write_parquet_with(
    path: &Path,
    batch: &RecordBatch,
    props: Option<parquet::file::properties::WriterProperties>,
) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), props).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Waits until something listens on `port` of 127.0.0.1 (at most a minute):
/// a server started in the background.
pub fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    // A connection to a local port nobody listens on can still succeed:
    // when the kernel picks that same port as the connection's own (ports
    // handed out for connections and for `free_port` come from one range),
    // the socket connects to itself. That is not the server, and it holds
    // the port the server is about to take.
    let listening = || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok_and(|s| s.local_addr().is_ok_and(|a| a.port() != port))
    };
    while !listening() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what} did not listen on port {port} within a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A port on 127.0.0.1 that nobody listens on: bound, then let go. Never
/// the same one twice in a test binary, whose tests start their servers side
/// by side.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Every file under `dir`, in its subfolders too.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// Every batch of every `.parquet` file under `dir` (or the file itself).
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let mut files = vec![];
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    files
        .iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// A column of every batch as i64 (nulls as None).
pub fn col_i64(batches: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let c =
                arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Int64).unwrap();
            let a = c.as_any().downcast_ref::<Int64Array>().unwrap().clone();
            a.iter().collect::<Vec<_>>()
        })
        .collect()
}

pub fn col_f64(batches: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            let c =
                arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Float64).unwrap();
            let a = c.as_any().downcast_ref::<Float64Array>().unwrap().clone();
            a.iter().collect::<Vec<_>>()
        })
        .collect()
}

pub fn col_str(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
            let a = c.as_any().downcast_ref::<StringArray>().unwrap().clone();
            a.iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>()
        })
        .collect()
}

/// The row of a summary's overall figures: the one whose `scope` is `all`.
pub fn overall_row(batches: &[RecordBatch]) -> usize {
    col_str(batches, "scope")
        .iter()
        .position(|s| s.as_deref() == Some("all"))
        .expect("a row with scope `all`")
}

/// Microseconds since the epoch for `YYYY-MM-DD HH:MM:SS`.
pub fn ts(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// An `orders` table from `(order_id, customer_id, order_ts, amount, status)`.
pub fn orders_batch(rows: &[(i64, i64, &str, f64, &str)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new(
            "order_ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("amount", DataType::Float64, false),
        Field::new("status", DataType::Utf8, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            rows.iter().map(|r| ts(r.2)),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.3))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4))),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

/// A `customers` table with just `customer_id`.
pub fn customers_batch(ids: &[i64]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "customer_id",
        DataType::Int64,
        false,
    )]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids.to_vec()))]).unwrap()
}

/// The run that wrote `out/run_results.json` failed before any step.
pub fn assert_no_step_ran(out: &Path) {
    let results = read_json(&out.join("run_results.json"));
    assert_eq!(results["status"], "error", "{results}");
    assert_eq!(
        results["steps"].as_array().map(Vec::len),
        Some(0),
        "{results}"
    );
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The entry of `run_results.json` for a step.
pub fn step_result<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step `{name}` in run_results.json"))
}

/// A minimal HTTP file server on 127.0.0.1 for tests: HEAD and GET (with a
/// `Range: bytes=a-b` header) of the files under `root`. Runs on a thread
/// until the process ends; returns the base URL.
pub fn serve_files(root: &Path) -> String {
    serve(root, Serving::Ranges)
}

/// A plain HTTP file server, as Python's `http.server` is: no WebDAV (a
/// `PROPFIND` to list a folder gets 501 and a page of HTML), and a `Range`
/// header is ignored (the whole file comes back, 200).
pub fn serve_files_plainly(root: &Path) -> String {
    serve(root, Serving::Plainly)
}

/// [`serve_files`], but a read that stops short of a file's end is never
/// answered: a Parquet file's footer (its last bytes) can be read, so its
/// schema is known, but reading its data stalls for good.
pub fn serve_files_stalling_data_reads(root: &Path) -> String {
    serve(root, Serving::StallingDataReads)
}

/// `customers.parquet` holding `ids`, served from `dir/www` by
/// [`serve_files_stalling_data_reads`]; returns its URL. Its schema can be
/// read, its rows never: whatever reads them waits for good.
pub fn stalling_customers(dir: &Path, ids: &[i64]) -> String {
    write_parquet(&dir.join("www/customers.parquet"), &customers_batch(ids));
    let base = serve_files_stalling_data_reads(&dir.join("www"));
    format!("{base}/customers.parquet")
}

/// The file the server of [`stalling_customers`] writes beside what it
/// serves when a read of data begins to stall.
const STALLED: &str = ".stalled";

/// Waits (at most a minute) until a read of [`stalling_customers`]'s file
/// under `dir` has begun to stall, then forgets it for the next wait.
pub fn wait_for_stalled_read(dir: &Path) {
    let marker = dir.join("www").join(STALLED);
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no read of the stalling file began"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::remove_file(marker).unwrap();
}

/// Forgets a stalled read of [`stalling_customers`]'s file under `dir`
/// seen before (the next [`wait_for_stalled_read`] waits for a new one).
pub fn forget_stalled_reads(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("www").join(STALLED));
}

/// Sends `signal` (`TERM`, `INT`) to `child`, as a scheduler stopping a task does.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

#[derive(Clone, Copy, PartialEq)]
enum Serving {
    Ranges,
    StallingDataReads,
    Plainly,
}

fn serve(root: &Path, serving: Serving) -> String {
    let stall_data_reads = serving == Serving::StallingDataReads;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut range: Option<(u64, Option<u64>)> = None;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        let lower = h.to_ascii_lowercase();
                        if let Some(r) = lower.strip_prefix("range: bytes=") {
                            let (a, b) = r.trim().split_once('-').unwrap();
                            range = Some((a.parse().unwrap(), b.parse().ok()));
                        }
                    }
                    let mut parts = request.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts
                        .next()
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_string();
                    if serving == Serving::Plainly {
                        // No ranges, and no listing of folders.
                        range = None;
                        if method == "PROPFIND" {
                            let page = "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1>\n<p>Unsupported method ('PROPFIND').</p></body></html>\n";
                            let response = format!(
                                "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
                                page.len()
                            );
                            if stream.write_all(response.as_bytes()).is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                    let body = std::fs::read(root.join(&path));
                    let response = match body {
                        Err(_) => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        Ok(body) => {
                            let len = body.len() as u64;
                            let (status, slice, extra) = match range {
                                Some((a, b)) => {
                                    let end = b.unwrap_or(len - 1).min(len - 1);
                                    if stall_data_reads && end < len - 1 {
                                        // Seen by `wait_for_stalled_read`.
                                        let _ = std::fs::write(root.join(STALLED), "");
                                        std::thread::sleep(std::time::Duration::from_secs(3600));
                                        return;
                                    }
                                    (
                                        "206 Partial Content",
                                        body[a as usize..=end as usize].to_vec(),
                                        format!("Content-Range: bytes {a}-{end}/{len}\r\n"),
                                    )
                                }
                                None => ("200 OK", body, String::new()),
                            };
                            let ranges = if serving == Serving::Plainly {
                                ""
                            } else {
                                "Accept-Ranges: bytes\r\n"
                            };
                            let mut head = format!(
                                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}{ranges}Last-Modified: Mon, 23 Nov 2026 10:00:00 GMT\r\nETag: \"fixed\"\r\n\r\n",
                                slice.len()
                            )
                            .into_bytes();
                            if method != "HEAD" {
                                head.extend_from_slice(&slice);
                            }
                            head
                        }
                    };
                    if stream.write_all(&response).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// Converts a fixture CSV to Parquet with the given schema.
pub fn csv_to_parquet(name: &str, fields: Vec<Field>, out: &Path) {
    let src = repo().join(format!("tests/fixtures/analyses/{name}.csv"));
    csv_text_to_parquet(name, fields, File::open(src).unwrap(), out);
}

/// Writes CSV `text` (with a header) as table `name`'s one Parquet file
/// under `out`, with the given schema.
pub fn csv_text_to_parquet(name: &str, fields: Vec<Field>, text: impl std::io::Read, out: &Path) {
    let schema = Arc::new(Schema::new(fields));
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(text)
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    // A header alone is a table of no rows.
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    write_parquet(&out.join(format!("{name}/part-0.parquet")), &batch);
}

/// CSV `text` (with a header) with the values of `columns` (0-based) left
/// blank in the rows for which `blank` holds, as where the data has no
/// such values.
pub fn with_blanks(
    text: &str,
    columns: std::ops::Range<usize>,
    blank: impl Fn(&str) -> bool,
) -> String {
    map_cells(text, |line, column, cell| {
        if columns.contains(&column) && blank(line) {
            String::new()
        } else {
            cell.to_string()
        }
    })
}

/// CSV `text` (with a header) with each cell of the rows below the header
/// replaced by `cell(line, column, value)`: the row's whole line, the
/// 0-based column and the cell's text.
pub fn map_cells(text: &str, cell: impl Fn(&str, usize, &str) -> String) -> String {
    (text.lines().enumerate())
        .map(|(row, line)| {
            let cells: Vec<String> = (line.split(',').enumerate())
                .map(|(column, value)| match row {
                    0 => value.to_string(),
                    _ => cell(line, column, value),
                })
                .collect();
            cells.join(",") + "\n"
        })
        .collect()
}

/// The columns of the fixture's `surveys` (tests/fixtures/analyses/surveys.csv).
pub fn survey_fields() -> Vec<Field> {
    let small = |n: &str| Field::new(n, DataType::Int32, true);
    vec![
        Field::new("response_id", DataType::Int64, true),
        Field::new("customer_id", DataType::Int64, true),
        Field::new("survey_ts", ts_type(), false),
        small("csat"),
        small("nps"),
        small("product_quality"),
        small("service_quality"),
        small("price"),
        small("communication"),
    ]
}

/// The hand-made fixture of tests/fixtures/analyses as Parquet under `data`
/// (surveys and complaints only `with_feedback`).
pub fn analyses_fixture(data: &Path, with_feedback: bool) {
    let tables: &[&str] = if with_feedback {
        &FIXTURE_TABLES
    } else {
        &FIXTURE_TABLES[..2]
    };
    for name in tables {
        csv_to_parquet(name, fixture_fields(name), data);
    }
}

/// The tables of tests/fixtures/analyses.
pub const FIXTURE_TABLES: [&str; 4] = ["customers", "orders", "surveys", "complaints"];

/// The columns of a table of tests/fixtures/analyses, as
/// [`analyses_fixture`] writes them.
pub fn fixture_fields(name: &str) -> Vec<Field> {
    let int = |n: &str| Field::new(n, DataType::Int64, true);
    match name {
        "customers" => vec![
            int("customer_id"),
            Field::new("region", DataType::Utf8, true),
            Field::new("loyalty_member", DataType::Boolean, true),
        ],
        "orders" => vec![
            int("order_id"),
            int("customer_id"),
            Field::new("order_ts", ts_type(), false),
            Field::new("amount", DataType::Float64, false),
            Field::new("margin", DataType::Float64, true),
            Field::new("status", DataType::Utf8, true),
        ],
        "surveys" => survey_fields(),
        "complaints" => vec![
            int("complaint_id"),
            int("customer_id"),
            Field::new("opened_ts", ts_type(), false),
            Field::new("resolved_ts", ts_type(), true),
            Field::new("resolution", DataType::Utf8, true),
        ],
        _ => panic!("no fixture table {name}"),
    }
}

/// The whole fixture of tests/fixtures/analyses under `data`, with each
/// column `retype` gives a type for written as that type, each of its values
/// first rewritten by the function given with it (blanks stay blank): the
/// same data as a warehouse of other column types would hand over.
pub fn analyses_fixture_retyped(
    data: &Path,
    retype: impl Fn(&str) -> Option<(DataType, fn(&str) -> String)>,
) {
    for name in FIXTURE_TABLES {
        let fields = fixture_fields(name);
        let retyped: Vec<_> = fields.iter().map(|f| retype(f.name())).collect();
        let fields = (fields.iter().zip(&retyped))
            .map(|(f, r)| match r {
                Some((ty, _)) => Field::new(f.name(), ty.clone(), true),
                None => f.clone(),
            })
            .collect();
        let text =
            std::fs::read_to_string(repo().join(format!("tests/fixtures/analyses/{name}.csv")))
                .unwrap();
        let text = map_cells(&text, |_, column, value| match &retyped[column] {
            Some((_, rewrite)) if !value.is_empty() => rewrite(value),
            _ => value.to_string(),
        });
        csv_text_to_parquet(name, fields, text.as_bytes(), data);
    }
}

/// One cell of a table: floats kept as numbers, to compare with a tolerance;
/// everything else as its display text.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Float(Option<f64>),
    Text(String),
}

/// The column names and every row, sorted (per-customer tables have no
/// declared order).
fn table_rows(batches: &[RecordBatch]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for batch in batches {
        names = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        for r in 0..batch.num_rows() {
            let row = batch
                .columns()
                .iter()
                .map(|col| match col.data_type() {
                    DataType::Float64 => {
                        let a = col.as_primitive::<Float64Type>();
                        Cell::Float(a.is_valid(r).then(|| a.value(r)))
                    }
                    _ => Cell::Text(
                        ArrayFormatter::try_new(col.as_ref(), &options)
                            .unwrap()
                            .value(r)
                            .to_string(),
                    ),
                })
                .collect::<Vec<_>>();
            rows.push(row);
        }
    }
    let key = |row: &Vec<Cell>| {
        row.iter()
            .map(|c| match c {
                Cell::Text(t) => t.clone(),
                Cell::Float(f) => format!("{:.4e}", f.unwrap_or(f64::NAN)),
            })
            .collect::<Vec<_>>()
    };
    rows.sort_by_key(key);
    (names, rows)
}

fn same_cell(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Float(Some(x)), Cell::Float(Some(y))) => {
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

/// Asserts two tables hold the same rows, in any order, floats equal to a
/// relative 1e-9: a parallel engine adds float sums up in whatever order the
/// partitions arrive, so the last bits may differ from run to run.
pub fn assert_same_table(a: &[RecordBatch], b: &[RecordBatch], what: &str) {
    let (names_a, rows_a) = table_rows(a);
    let (names_b, rows_b) = table_rows(b);
    assert_eq!(names_a, names_b, "{what}: columns");
    assert_eq!(rows_a.len(), rows_b.len(), "{what}: row count");
    for (x, y) in rows_a.iter().zip(&rows_b) {
        assert!(
            x.iter().zip(y).all(|(p, q)| same_cell(p, q)),
            "{what}: {x:?} vs {y:?}"
        );
    }
}

/// Each of the bundled pipeline's 21 output tables under `out` but those
/// named in `except` has the rows of the one under `expected`.
pub fn assert_same_outputs(expected: &Path, out: &Path, on: &str, except: &[&str]) {
    let tables: Vec<_> = std::fs::read_dir(expected.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(tables.len(), 21, "every output table of the pipeline");
    for table in tables.iter().filter(|t| !except.contains(&t.as_str())) {
        let dir = |root: &Path| root.join("tables").join(table);
        let expected_rows = read_parquet(&dir(expected));
        assert!(rows(&expected_rows) > 0, "{table} has rows");
        assert_same_table(
            &expected_rows,
            &read_parquet(&dir(out)),
            &format!("{table} on {on}"),
        );
    }
}
