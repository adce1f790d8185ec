//! What reading zoned timestamps as a zone's wall-clock times costs: on a
//! Ballista cluster, where a source's view converts them in SQL
//! (`engine::local_time::local_time_sql`), and on the local engine, where
//! the source is read through `ClockTable`; against DataFusion's
//! `to_local_time` and against reading them as they are.
//!
//!     cargo run --release --example clock_sql [ZONE] [YEARS] [MILLIONS]
//!
//! Defaults: Europe/Berlin, 2 years of instants, 10 million values, in two
//! partitions (the machine's two cores), in time order. Prints the median
//! of 5 reads of each, and checks that the SQL reads every value as
//! `to_local_time` does (the local table's reading is tested in the crate).

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use loyalty::engine::local_time;

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let zone = args.first().map_or("Europe/Berlin", String::as_str);
    let years: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let millions: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);

    // Instants evenly spread over the years up to 2026-07-01 UTC.
    let (n, until) = (millions * 1_000_000, 1_782_864_000_000_000i64);
    let step = years * 365 * 86_400_000_000 / n;
    let batches: Vec<RecordBatch> = (0..n)
        .step_by(8192)
        .map(|first| {
            let values = (first..(first + 8192).min(n)).map(|i| until - (n - i) * step);
            let ts = TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC");
            RecordBatch::try_from_iter([("ts", Arc::new(ts) as _)])
        })
        .collect::<Result<_, _>>()?;
    let half = batches.len() / 2;
    let partitions = vec![batches[..half].to_vec(), batches[half..].to_vec()];
    let ctx = SessionContext::new();
    let table = MemTable::try_new(batches[0].schema(), partitions)?;
    let table = Arc::new(table);
    ctx.register_table("raw", table.clone())?;
    let clock = local_time::ClockTable::new(&ctx, "raw", table, zone, &["ts"])
        .await
        .map_err(datafusion::error::DataFusionError::Plan)?;
    ctx.register_table("clock", Arc::new(clock))?;

    let stored = batches[0].schema().field(0).data_type().clone();
    let span = local_time::spans(&ctx, "raw", &["ts"]).await["ts"];
    let ours = local_time::local_time_sql("ts", &stored, zone, span);
    let theirs = format!("to_local_time(ts AT TIME ZONE '{zone}')");
    let bare = "arrow_cast(ts, 'Timestamp(Microsecond, None)')".to_string();
    println!(
        "{zone}, {years} years, {n} values; loyalty's SQL: {} comparisons of the column",
        ours.matches("CASE WHEN").count()
    );

    let differ = format!(
        "SELECT count(*) FROM raw WHERE {ours} IS DISTINCT FROM arrow_cast({theirs}, '{}')",
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None)
    );
    let batches = ctx.sql(&differ).await?.collect().await?;
    let differ = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
    println!("values read otherwise than by to_local_time:\n{differ}");

    for (name, e, table) in [
        ("loyalty's SQL", ours.as_str(), "raw"),
        ("local table", "ts", "clock"),
        ("to_local_time", &theirs, "raw"),
        ("as stored", &bare, "raw"),
    ] {
        let sql = format!("SELECT MIN(t), MAX(t), COUNT(t) FROM (SELECT {e} AS t FROM {table})");
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            ctx.sql(&sql).await?.collect().await?;
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:14} {:.3} s (median of 5; {:.3}–{:.3})",
            times[2], times[0], times[4]
        );
    }
    Ok(())
}
