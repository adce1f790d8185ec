//! The sample-data generator: realistic customers, orders, surveys and
//! complaints with relationships planted for the analyses to find.
//!
//! Deterministic: every customer draws from its own ChaCha stream of the seed,
//! so the same seed and end date give the same bytes. Streaming: customers are
//! generated and written in chunks, so memory does not grow with the size.
//!
//! Orders come out as an order system appends them: in time order, with
//! `order_id` counting up in that order. Customers are generated one after
//! another, so each chunk's orders are first set aside in a file per calendar
//! month (under `orders/.months/`); at the end each month is read back, sorted
//! by time and appended. Memory grows with the largest month, not the size.
//! (Data sorted by customer would flatter every per-customer grouping: a
//! benchmark on it measured the layout, not the work.)
//!
//! What is planted (and what the analyses should find):
//! - heavy-tailed spend: order value and frequency are log-normal per
//!   customer, so the top 20% of customers bring roughly 60–80% of revenue;
//! - first purchases spread evenly over the two years before the end date;
//! - seasonality: more orders in late November and December, a mild yearly wave;
//! - churn driven by a latent satisfaction level (1–5) at yearly rates close
//!   to Kotler's figures (level 1–2 lose ~80%, 3 ~30%, 4 ~10%, 5 ~2%);
//! - complaints, more often from dissatisfied customers; resolved fast they
//!   cut churn, left unresolved they raise it;
//! - survey answers (CSAT, NPS, four dimension scores) from ~35% of customers,
//!   noisy reflections of the latent level.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Array,
    Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_arrays};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};

use crate::engine::write::writer_properties;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub out: PathBuf,
    pub customers: u64,
    pub seed: u64,
    /// The last day of data; nothing is dated after it.
    pub end_date: NaiveDate,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleSummary {
    pub customers: u64,
    pub orders: u64,
    pub surveys: u64,
    pub complaints: u64,
}

/// Customers generated and written per chunk.
const CHUNK: u64 = 5_000;
/// Days of history before the end date in which first purchases fall.
const HISTORY_DAYS: i64 = 730;
/// Yearly churn probability by latent satisfaction level 1..=5 (Kotler).
const YEARLY_CHURN: [f64; 5] = [0.85, 0.80, 0.30, 0.10, 0.02];
/// Share of customers at latent satisfaction level 1..=5.
const LEVEL_SHARE: [f64; 5] = [0.06, 0.10, 0.19, 0.35, 0.30];
/// Chance of a complaint by latent level.
const COMPLAINT_RATE: [f64; 5] = [0.45, 0.35, 0.15, 0.06, 0.03];
const REGIONS: [&str; 5] = ["North", "South", "East", "West", "Central"];
const CHANNELS: [&str; 4] = ["web", "app", "store", "phone"];

pub fn generate(opts: &SampleOptions) -> Result<SampleSummary> {
    if opts.customers == 0 {
        return Err(Error::config("`--customers` must be at least 1"));
    }
    let mut w = Writers::create(&opts.out)?;
    let mut ids = Ids::default();
    let mut summary = SampleSummary::default();
    let mut start = 0;
    while start < opts.customers {
        let end = (start + CHUNK).min(opts.customers);
        let mut chunk = Chunk::default();
        for i in start..end {
            gen_customer(opts, i, &mut ids, &mut chunk);
        }
        summary.customers += end - start;
        summary.orders += chunk.orders.len() as u64;
        summary.surveys += chunk.surveys.len() as u64;
        summary.complaints += chunk.complaints.len() as u64;
        w.write(&chunk)?;
        start = end;
    }
    w.finish()?;
    Ok(summary)
}

#[derive(Default)]
struct Ids {
    order: i64,
    survey: i64,
    complaint: i64,
}

struct CustomerRow {
    id: i64,
    signup: NaiveDate,
    region: &'static str,
    channel: &'static str,
    member: bool,
}

struct OrderRow {
    id: i64,
    customer: i64,
    ts: NaiveDateTime,
    amount: f64,
    margin: f64,
    status: &'static str,
    quantity: i32,
}

struct SurveyRow {
    id: i64,
    customer: i64,
    ts: NaiveDateTime,
    csat: i32,
    nps: Option<i32>,
    dims: [i32; 4],
}

struct ComplaintRow {
    id: i64,
    customer: i64,
    opened: NaiveDateTime,
    resolved: Option<NaiveDateTime>,
    resolution: Option<&'static str>,
}

#[derive(Default)]
struct Chunk {
    customers: Vec<CustomerRow>,
    orders: Vec<OrderRow>,
    surveys: Vec<SurveyRow>,
    complaints: Vec<ComplaintRow>,
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T], weights: &[f64]) -> T {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items.iter().zip(weights) {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    *items.last().expect("non-empty choices")
}

fn at(day: NaiveDate, seconds: u32) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::seconds(seconds as i64)
}

/// Relative order intensity on a day: a mild yearly wave and the year-end peak.
fn season(day: NaiveDate) -> f64 {
    let doy = day.ordinal() as f64;
    let wave = 1.0 + 0.2 * ((doy - 80.0) / 365.0 * std::f64::consts::TAU).sin();
    let peak = match (day.month(), day.day()) {
        (11, d) if d >= 20 => 1.6,
        (12, _) => 1.5,
        _ => 1.0,
    };
    wave * peak
}
const SEASON_MAX: f64 = 1.2 * 1.6;

fn gen_customer(opts: &SampleOptions, index: u64, ids: &mut Ids, out: &mut Chunk) {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(index);
    let id = index as i64 + 1;
    let end = opts.end_date;

    let first = end - Duration::days(rng.random_range(0..HISTORY_DAYS));
    let signup = first - Duration::days(rng.random_range(0..30));
    let member = rng.random_bool(0.4);
    out.customers.push(CustomerRow {
        id,
        signup,
        region: pick(&mut rng, &REGIONS, &[0.25, 0.2, 0.2, 0.2, 0.15]),
        channel: pick(&mut rng, &CHANNELS, &[0.45, 0.3, 0.2, 0.05]),
        member,
    });
    // 4% sign up and never buy.
    if rng.random_bool(0.04) {
        return;
    }

    let level = pick(&mut rng, &[1usize, 2, 3, 4, 5], &LEVEL_SHARE);
    let mut yearly_churn = YEARLY_CHURN[level - 1];
    if member {
        yearly_churn *= 0.95;
    }

    // A complaint, and how it was handled, moves churn.
    let complaint = if rng.random_bool(COMPLAINT_RATE[level - 1]) {
        let outcome = pick(&mut rng, &["fast", "slow", "open"], &[0.55, 0.25, 0.20]);
        yearly_churn = match outcome {
            "fast" => yearly_churn * 0.5,
            "slow" => yearly_churn * 0.85,
            _ => (yearly_churn * 1.5 + 0.2).min(0.97),
        };
        Some(outcome)
    } else {
        None
    };

    let rate = -(1.0 - yearly_churn).ln() / 365.0;
    let lifetime_days = Exp::new(rate).expect("positive rate").sample(&mut rng);
    let last_active = if lifetime_days >= (end - first).num_days() as f64 {
        end
    } else {
        first + Duration::days(lifetime_days as i64)
    };
    let active_days = (last_active - first).num_days().max(0);

    // Orders: the first purchase, then a thinned Poisson process.
    let per_day = LogNormal::new((1.08f64 / 30.0).ln() + 0.06 * level as f64, 0.7)
        .expect("valid lognormal")
        .sample(&mut rng);
    let basket = LogNormal::new(55f64.ln(), 0.8)
        .expect("valid lognormal")
        .sample(&mut rng);
    let margin_rate = rng.random_range(0.15..0.45);
    let mut order_days = vec![first];
    let mut t = 0.0;
    let gap = Exp::new(per_day * SEASON_MAX).expect("positive rate");
    loop {
        t += gap.sample(&mut rng);
        if t > active_days as f64 {
            break;
        }
        let day = first + Duration::days(t as i64);
        if rng.random::<f64>() < season(day) / SEASON_MAX {
            order_days.push(day);
        }
    }
    for day in order_days {
        ids.order += 1;
        let amount = (basket * LogNormal::new(0.0, 0.35).expect("valid").sample(&mut rng) * 100.0)
            .round()
            / 100.0;
        let status = pick(
            &mut rng,
            &["completed", "cancelled", "returned"],
            &[0.93, 0.05, 0.02],
        );
        let ts = at(day, rng.random_range(8 * 3600..22 * 3600));
        out.orders.push(OrderRow {
            id: ids.order,
            customer: id,
            ts,
            amount,
            margin: (amount * margin_rate * 100.0).round() / 100.0,
            status,
            quantity: 1 + Poisson::new(0.8).expect("valid").sample(&mut rng) as i32,
        });
        // A returned order is refunded a few days later: a negative amount.
        if status == "returned" {
            let refund_day = (day + Duration::days(rng.random_range(3..15))).min(end);
            ids.order += 1;
            out.orders.push(OrderRow {
                id: ids.order,
                customer: id,
                ts: at(refund_day, rng.random_range(8 * 3600..22 * 3600)),
                amount: -amount,
                margin: -(amount * margin_rate * 100.0).round() / 100.0,
                status: "returned",
                quantity: 0,
            });
        }
    }

    if let Some(outcome) = complaint {
        ids.complaint += 1;
        let day = first + Duration::days(rng.random_range(0..=active_days));
        let opened = at(day, rng.random_range(0..86_400));
        let hours = match outcome {
            "fast" => Some(rng.random_range(1..48)),
            "slow" => Some(rng.random_range(48..480)),
            _ => None,
        };
        let resolved = hours
            .map(|h| opened + Duration::hours(h))
            .filter(|r| r.date() <= end);
        out.complaints.push(ComplaintRow {
            id: ids.complaint,
            customer: id,
            opened,
            resolved,
            resolution: resolved.map(|_| {
                pick(
                    &mut rng,
                    &["refund", "replacement", "apology", "repair"],
                    &[0.35, 0.25, 0.25, 0.15],
                )
            }),
        });
    }

    let survey_chance = if complaint.is_some() { 0.45 } else { 0.35 };
    if rng.random_bool(survey_chance) {
        let answers = pick(&mut rng, &[1, 2, 3], &[0.6, 0.3, 0.1]);
        for _ in 0..answers {
            ids.survey += 1;
            let day = first + Duration::days(rng.random_range(0..=active_days));
            let noise = pick(&mut rng, &[-1i32, 0, 1], &[0.15, 0.7, 0.15]);
            let csat = (level as i32 + noise).clamp(1, 5);
            let nps = match csat {
                5 => rng.random_range(8..=10),
                4 => rng.random_range(6..=9),
                3 => rng.random_range(4..=7),
                2 => rng.random_range(1..=5),
                _ => rng.random_range(0..=3),
            };
            let mut dims = [0; 4];
            for d in &mut dims {
                *d = (csat + pick(&mut rng, &[-1i32, 0, 1], &[0.2, 0.6, 0.2])).clamp(1, 5);
            }
            out.surveys.push(SurveyRow {
                id: ids.survey,
                customer: id,
                ts: at(day, rng.random_range(0..86_400)),
                csat,
                nps: (!rng.random_bool(0.1)).then_some(nps),
                dims,
            });
        }
    }
}

/// The four Parquet files, written chunk by chunk and renamed into place at
/// the end; orders by way of their monthly files.
struct Writers {
    tables: Vec<(PathBuf, PathBuf, ArrowWriter<File>, SchemaRef)>,
    months: MonthFiles,
}

/// Orders set aside by calendar month, as generated (by customer).
struct MonthFiles {
    dir: PathBuf,
    schema: SchemaRef,
    files: BTreeMap<(i32, u32), (PathBuf, ArrowWriter<File>)>,
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

impl Writers {
    fn create(out: &Path) -> Result<Self> {
        let schemas: [(&str, Vec<Field>); 4] = [
            (
                "customers",
                vec![
                    Field::new("customer_id", DataType::Int64, false),
                    Field::new("signup_date", DataType::Date32, true),
                    Field::new("region", DataType::Utf8, true),
                    Field::new("channel", DataType::Utf8, true),
                    Field::new("loyalty_member", DataType::Boolean, true),
                ],
            ),
            (
                "orders",
                vec![
                    Field::new("order_id", DataType::Int64, false),
                    Field::new("customer_id", DataType::Int64, false),
                    Field::new("order_ts", ts_type(), false),
                    Field::new("amount", DataType::Float64, false),
                    Field::new("margin", DataType::Float64, true),
                    Field::new("status", DataType::Utf8, false),
                    Field::new("quantity", DataType::Int32, true),
                ],
            ),
            (
                "surveys",
                vec![
                    Field::new("response_id", DataType::Int64, false),
                    Field::new("customer_id", DataType::Int64, false),
                    Field::new("survey_ts", ts_type(), false),
                    Field::new("csat", DataType::Int32, false),
                    Field::new("nps", DataType::Int32, true),
                    Field::new("product_quality", DataType::Int32, true),
                    Field::new("service_quality", DataType::Int32, true),
                    Field::new("price", DataType::Int32, true),
                    Field::new("communication", DataType::Int32, true),
                ],
            ),
            (
                "complaints",
                vec![
                    Field::new("complaint_id", DataType::Int64, false),
                    Field::new("customer_id", DataType::Int64, false),
                    Field::new("opened_ts", ts_type(), false),
                    Field::new("resolved_ts", ts_type(), true),
                    Field::new("resolution", DataType::Utf8, true),
                ],
            ),
        ];
        let mut tables = Vec::new();
        for (name, fields) in schemas {
            let dir = out.join(name);
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            let final_path = dir.join("part-0.parquet");
            let tmp = dir.join(".part-0.parquet.tmp");
            let schema = Arc::new(Schema::new(fields));
            let writer = parquet_writer(&tmp, &schema)?;
            tables.push((tmp, final_path, writer, schema));
        }
        let months = MonthFiles {
            dir: out.join("orders").join(".months"),
            schema: tables[ORDERS].3.clone(),
            files: BTreeMap::new(),
        };
        std::fs::create_dir_all(&months.dir).map_err(|e| io_err(&months.dir, e))?;
        Ok(Writers { tables, months })
    }

    fn write(&mut self, chunk: &Chunk) -> Result<()> {
        let batches = [
            (CUSTOMERS, customers_batch(&chunk.customers)),
            (SURVEYS, surveys_batch(&chunk.surveys)),
            (COMPLAINTS, complaints_batch(&chunk.complaints)),
        ];
        for (table, columns) in batches {
            let (tmp, _, writer, schema) = &mut self.tables[table];
            let batch = RecordBatch::try_new(schema.clone(), columns)
                .expect("sample columns match their schema");
            writer.write(&batch).map_err(|e| io_err(tmp, e))?;
        }
        self.months.write(&chunk.orders)
    }

    fn finish(mut self) -> Result<()> {
        let (tmp, _, writer, _) = &mut self.tables[ORDERS];
        self.months.append_sorted(tmp, writer)?;
        for (tmp, final_path, writer, _) in self.tables {
            writer.close().map_err(|e| io_err(&tmp, e))?;
            std::fs::rename(&tmp, &final_path).map_err(|e| io_err(&final_path, e))?;
        }
        Ok(())
    }
}

/// Where each table's writer is in `Writers::tables`.
const CUSTOMERS: usize = 0;
const ORDERS: usize = 1;
const SURVEYS: usize = 2;
const COMPLAINTS: usize = 3;

/// The orders file does not declare its order (Parquet `sorting_columns`), as
/// most writers do not. A Ballista cluster would plan order-preserving
/// groupings on a declared order (the local engine ignores it, see
/// `engine::unordered`).
fn parquet_writer(path: &Path, schema: &SchemaRef) -> Result<ArrowWriter<File>> {
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(schema, &[])))
        .map_err(|e| io_err(path, e))
}

impl MonthFiles {
    /// Sets a chunk's orders aside, each in its calendar month's file.
    fn write(&mut self, orders: &[OrderRow]) -> Result<()> {
        let mut by_month: BTreeMap<(i32, u32), Vec<&OrderRow>> = BTreeMap::new();
        for o in orders {
            by_month
                .entry((o.ts.year(), o.ts.month()))
                .or_default()
                .push(o);
        }
        for (month, rows) in by_month {
            let (path, writer) = match self.files.entry(month) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let path = self
                        .dir
                        .join(format!("{:04}-{:02}.parquet", month.0, month.1));
                    let writer = parquet_writer(&path, &self.schema)?;
                    e.insert((path, writer))
                }
            };
            let batch = RecordBatch::try_new(self.schema.clone(), orders_batch(&rows))
                .expect("sample columns match their schema");
            writer.write(&batch).map_err(|e| io_err(path, e))?;
        }
        Ok(())
    }

    /// Appends the months in order to `out`, each sorted by order_ts (then
    /// customer and the order generated first), with order_id renumbered 1, 2,
    /// ... in that order. Removes the monthly files.
    fn append_sorted(self, out_path: &Path, out: &mut ArrowWriter<File>) -> Result<()> {
        let mut next_id = 1i64;
        for (_, (path, writer)) in self.files {
            writer.close().map_err(|e| io_err(&path, e))?;
            let read_err = |e: &dyn std::fmt::Display| io_err(&path, e);
            let file = File::open(&path).map_err(|e| read_err(&e))?;
            let batches = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .map_err(|e| read_err(&e))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| read_err(&e))?;
            let month = concat_batches(&self.schema, &batches).map_err(|e| read_err(&e))?;
            let key = |name: &str| SortColumn {
                values: month.column_by_name(name).expect("orders column").clone(),
                options: None,
            };
            let order = lexsort_to_indices(
                &[key("order_ts"), key("customer_id"), key("order_id")],
                None,
            )
            .map_err(|e| read_err(&e))?;
            let n = month.num_rows() as i64;
            let mut columns =
                take_arrays(month.columns(), &order, None).map_err(|e| read_err(&e))?;
            let id = self.schema.index_of("order_id").expect("orders column");
            columns[id] = Arc::new(Int64Array::from_iter_values(next_id..next_id + n));
            next_id += n;
            let sorted = RecordBatch::try_new(self.schema.clone(), columns)
                .expect("sample columns match their schema");
            out.write(&sorted).map_err(|e| io_err(out_path, e))?;
            std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
        }
        std::fs::remove_dir(&self.dir).map_err(|e| io_err(&self.dir, e))
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Run(format!("writing sample data `{}`: {e}", path.display()))
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn customers_batch(rows: &[CustomerRow]) -> Vec<ArrayRef> {
    let mut id = Int64Builder::new();
    let mut signup = Date32Builder::new();
    let mut region = StringBuilder::new();
    let mut channel = StringBuilder::new();
    let mut member = BooleanBuilder::new();
    for r in rows {
        id.append_value(r.id);
        signup.append_value(days_since_epoch(r.signup));
        region.append_value(r.region);
        channel.append_value(r.channel);
        member.append_value(r.member);
    }
    vec![
        Arc::new(id.finish()),
        Arc::new(signup.finish()),
        Arc::new(region.finish()),
        Arc::new(channel.finish()),
        Arc::new(member.finish()),
    ]
}

fn orders_batch(rows: &[&OrderRow]) -> Vec<ArrayRef> {
    let mut id = Int64Builder::new();
    let mut customer = Int64Builder::new();
    let mut ts = TimestampMicrosecondBuilder::new();
    let mut amount = Float64Builder::new();
    let mut margin = Float64Builder::new();
    let mut status = StringBuilder::new();
    let mut quantity = Int32Builder::new();
    for r in rows {
        id.append_value(r.id);
        customer.append_value(r.customer);
        ts.append_value(micros(r.ts));
        amount.append_value(r.amount);
        margin.append_value(r.margin);
        status.append_value(r.status);
        quantity.append_value(r.quantity);
    }
    vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(ts.finish()),
        Arc::new(amount.finish()),
        Arc::new(margin.finish()),
        Arc::new(status.finish()),
        Arc::new(quantity.finish()),
    ]
}

fn surveys_batch(rows: &[SurveyRow]) -> Vec<ArrayRef> {
    let mut id = Int64Builder::new();
    let mut customer = Int64Builder::new();
    let mut ts = TimestampMicrosecondBuilder::new();
    let mut csat = Int32Builder::new();
    let mut nps = Int32Builder::new();
    let mut dims: [Int32Builder; 4] = std::array::from_fn(|_| Int32Builder::new());
    for r in rows {
        id.append_value(r.id);
        customer.append_value(r.customer);
        ts.append_value(micros(r.ts));
        csat.append_value(r.csat);
        nps.append_option(r.nps);
        for (b, v) in dims.iter_mut().zip(r.dims) {
            b.append_value(v);
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(ts.finish()),
        Arc::new(csat.finish()),
        Arc::new(nps.finish()),
    ];
    cols.extend(dims.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols
}

fn complaints_batch(rows: &[ComplaintRow]) -> Vec<ArrayRef> {
    let mut id = Int64Builder::new();
    let mut customer = Int64Builder::new();
    let mut opened = TimestampMicrosecondBuilder::new();
    let mut resolved = TimestampMicrosecondBuilder::new();
    let mut resolution = StringBuilder::new();
    for r in rows {
        id.append_value(r.id);
        customer.append_value(r.customer);
        opened.append_value(micros(r.opened));
        resolved.append_option(r.resolved.map(micros));
        resolution.append_option(r.resolution);
    }
    vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(opened.finish()),
        Arc::new(resolved.finish()),
        Arc::new(resolution.finish()),
    ]
}
