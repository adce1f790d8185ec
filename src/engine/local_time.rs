//! Zoned timestamps read as the business's wall-clock times (the pipeline's
//! `timezone`).
//!
//! A zone's offset from UTC changes at a few instants (daylight saving, a
//! new standard time). [`Clock`] finds those changes over a column's data
//! once, from its first and last instants (Parquet's statistics), so that a
//! value is converted by adding the offset of the interval it falls in.
//!
//! - On the local engine a zoned source is read through [`ClockTable`]: its
//!   timestamps are converted after the scan, and the filters steps put on
//!   them are widened into filters on the stored instants, so that Parquet's
//!   statistics still skip row groups (`order_ts >= as_of - 30 days`) and
//!   answer `IS NULL`.
//! - A Ballista cluster's executors know neither, so there the source is a
//!   view ([`local_time_sql`]) that adds the same offsets to the stored
//!   number, chosen by comparisons with the instants of the changes, in SQL
//!   of DataFusion's own functions. An optimizer rule on the client
//!   ([`WidenConverted`]) adds the widened bounds to the filters before the
//!   plan is sent.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use async_trait::async_trait;
use chrono::{DateTime, Offset, TimeZone};
use datafusion::arrow::array::{ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_datafusion_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{
    Between, BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TableProviderFilterPushDown,
    Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::expressions::Column as ColumnExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::SessionContext;

use super::step_sql_options;

/// How far a bound on wall-clock times is widened into a bound on the
/// stored instants: every zone's offset from UTC is under a day, and a
/// second day covers a bound on the times' dates (`CAST(ts AS DATE) <= D`
/// keeps times before D + 1 day) and the rounding of a cast between time
/// units.
const WIDEN_SECONDS: i128 = 2 * 86_400;

/// Where the offset table stops: before 1900 zones kept their local mean
/// time, after 2100 they have no rules; values outside are converted one by
/// one, as `to_local_time` does.
const TABLE_FROM: i64 = -2_208_988_800; // 1900-01-01
const TABLE_UNTIL: i64 = 4_102_444_800; // 2100-01-01

/// How often the zone's offset is sampled to find where it changes (then
/// found to the second between two samples): hourly, so that only an
/// offset that held for less than an hour would be missed. Two centuries
/// of samples, the most a column's table covers, took 0.05 s (Berlin, 267
/// changes; two years, 5 changes: 0.5 ms).
const SAMPLE_SECONDS: i64 = 3600;

/// A zone's offsets over a span of instants.
#[derive(Debug)]
pub struct Clock {
    zone: String,
    tz: Tz,
    /// From which second (since the epoch) which offset (seconds) holds,
    /// in order; covers `from..=until`.
    changes: Vec<(i64, i64)>,
    until: i64,
}

impl Clock {
    /// The clock of `zone` over `span` (first and last instants, seconds
    /// since the epoch); without a span, every value is converted alone.
    pub fn new(zone: &str, span: Option<(i64, i64)>) -> std::result::Result<Self, String> {
        let tz: Tz = zone
            .parse()
            .map_err(|e| format!("`{zone}` is not a time zone: {e}"))?;
        let mut clock = Clock {
            zone: zone.to_string(),
            tz,
            changes: Vec::new(),
            until: i64::MIN,
        };
        let Some((first, last)) = span else {
            return Ok(clock);
        };
        let (first, last) = (first.max(TABLE_FROM), last.min(TABLE_UNTIL));
        if first > last {
            return Ok(clock);
        }
        let offset = |t: i64| clock.offset_of(t);
        let mut changes = vec![(first, offset(first)?)];
        let mut t = first;
        while t < last {
            let next = t.saturating_add(SAMPLE_SECONDS).min(last);
            let now = changes.last().map(|c| c.1).unwrap_or_default();
            if offset(next)? != now {
                // The first second of the new offset, between t and next.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset(mid)? == now {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                changes.push((hi, offset(hi)?));
                // Changes closer together than a sample are not looked for.
                t = hi;
                continue;
            }
            t = next;
        }
        clock.changes = changes;
        clock.until = last;
        Ok(clock)
    }

    /// The zone's offset at second `t`, looked up in the zone's rules.
    fn offset_of(&self, t: i64) -> std::result::Result<i64, String> {
        let utc = DateTime::from_timestamp(t, 0)
            .ok_or_else(|| format!("{t} s since 1970 is out of range"))?
            .naive_utc();
        Ok(self
            .tz
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc() as i64)
    }

    /// The offset at second `t`: from the table where it covers `t`.
    fn offset_at(&self, t: i64) -> std::result::Result<i64, String> {
        match self.changes.first() {
            Some(&(from, _)) if (from..=self.until).contains(&t) => {
                let i = self.changes.partition_point(|&(start, _)| start <= t);
                Ok(self.changes[i - 1].1)
            }
            _ => self.offset_of(t),
        }
    }

    /// Value `v` of a timestamp with `per_second` units a second, read on
    /// this clock.
    fn local(&self, v: i64, per_second: i64) -> std::result::Result<i64, ArrowError> {
        let offset = self
            .offset_at(v.div_euclid(per_second))
            .map_err(|e| ArrowError::ComputeError(format!("time zone `{}`: {e}", self.zone)))?;
        offset
            .checked_mul(per_second)
            .and_then(|o| v.checked_add(o))
            .ok_or_else(|| {
                ArrowError::ComputeError(format!(
                    "time zone `{}`: {v} is out of range on its clock",
                    self.zone
                ))
            })
    }
}

/// The first and last instants of column `col` of table `table`, in seconds
/// since the epoch (Parquet's statistics answer this without reading the
/// rows); `None` for a column without values or a query that fails.
async fn span(ctx: &SessionContext, table: &str, column: &str) -> Option<(i64, i64)> {
    let col = quote(column);
    let sql = format!(
        "SELECT CAST(to_unixtime(MIN({col})) AS BIGINT), CAST(to_unixtime(MAX({col})) AS BIGINT) FROM {}",
        quote(table)
    );
    let batches = ctx
        .sql_with_options(&sql, step_sql_options())
        .await
        .ok()?
        .collect()
        .await
        .ok()?;
    let batch = batches.first()?;
    let value = |i: usize| match ScalarValue::try_from_array(batch.column(i), 0).ok()? {
        ScalarValue::Int64(v) => v,
        _ => None,
    };
    Some((value(0)?, value(1)?))
}

/// SQL that reads `column` of table `table` (UTC instants, stored as
/// `stored`: a timestamp with a time zone, or without one where its source
/// says it holds UTC) as wall-clock times in `zone`: for a source's view on
/// a Ballista cluster, whose executors have only DataFusion's own functions.
///
/// The zone's offsets over the column's data ([`Clock`]) are added to the
/// stored number, chosen by comparing the column with the instants where
/// they change, halving the list at each step: a few comparisons a value,
/// where `to_local_time` looks each value up in the zone's rules (10M values
/// over two years of Berlin: 0.02 s against 0.24 s, `cargo run --release
/// --example clock_sql`). Values outside the table
/// (before 1900, after 2100), and a column whose first and last instants
/// cannot be read, go to `to_local_time`.
pub async fn local_time_sql(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    stored: &DataType,
    zone: &str,
) -> String {
    let DataType::Timestamp(unit, stored_zone) = stored else {
        return quote(column);
    };
    let (unit, col) = (*unit, quote(column));
    let naive_type = format!("Timestamp({unit:?}, None)");
    let slow = format!(
        "arrow_cast(to_local_time({col}{} AT TIME ZONE '{}'), '{naive_type}')",
        if stored_zone.is_none() {
            " AT TIME ZONE 'UTC'"
        } else {
            ""
        },
        zone.replace('\'', "''")
    );
    let span = span(ctx, table, column).await;
    let clock = Clock::new(zone, span)
        .ok()
        .filter(|c| !c.changes.is_empty());
    tracing::debug!(
        table,
        column,
        zone,
        offsets = clock.as_ref().map(|c| c.changes.len()),
        "zoned timestamps read as the zone's clock"
    );
    let Some(clock) = clock else {
        return slow;
    };
    let ps = per_second(unit);
    // The stored type's literal of second `s`, to compare the column with
    // as it is (a cast of the column would be repeated in every comparison).
    let stored_type = match stored_zone {
        Some(z) => format!("Timestamp({unit:?}, Some(\"{}\"))", z.replace('\'', "''")),
        None => naive_type.clone(),
    };
    let at = |s: i64| format!("arrow_cast({}, '{stored_type}')", s * ps);
    fn offsets(changes: &[(i64, i64)], ps: i64, at: &dyn Fn(i64) -> String, col: &str) -> String {
        match changes {
            [(_, offset)] => (offset * ps).to_string(),
            _ => {
                let (before, after) = changes.split_at(changes.len() / 2);
                format!(
                    "CASE WHEN {col} < {} THEN {} ELSE {} END",
                    at(after[0].0),
                    offsets(before, ps, at, col),
                    offsets(after, ps, at, col)
                )
            }
        }
    }
    let fast = format!(
        "arrow_cast(arrow_cast({col}, 'Int64') + {}, '{naive_type}')",
        offsets(&clock.changes, ps, &at, &col)
    );
    let (from, until) = (clock.changes[0].0, clock.until);
    if span == Some((from, until)) {
        fast
    } else {
        format!(
            "CASE WHEN {col} >= {} AND {col} < {} THEN {fast} ELSE {slow} END",
            at(from),
            at(until + 1)
        )
    }
}

pub fn quote(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// The nanoseconds in one `unit`.
fn nanoseconds_in(unit: TimeUnit) -> i128 {
    (1_000_000_000 / per_second(unit)) as i128
}

/// Warns where a source's timestamps without a time zone are stored as
/// INT96 (read from the first file's footer), the legacy type Spark and Hive
/// write by default and fill with UTC: read as written, they would count by
/// UTC's clock although the pipeline names a zone.
pub async fn warn_of_int96(
    ctx: &SessionContext,
    name: &str,
    schema: &arrow::datatypes::SchemaRef,
    store: &dyn object_store::ObjectStore,
    file: &object_store::ObjectMeta,
) {
    use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
    use parquet::basic::Type;
    let naive: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Timestamp(_, None)))
        .map(|f| f.name().as_str())
        .collect();
    if naive.is_empty() {
        return;
    }
    // The footer read when the schema was inferred, from DataFusion's cache.
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    let Ok(metadata) = DFParquetMetadata::new(store, file)
        .with_file_metadata_cache(Some(cache))
        .fetch_metadata()
        .await
    else {
        return;
    };
    let int96: Vec<&str> = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .filter(|c| c.physical_type() == Type::INT96 && naive.contains(&c.name()))
        .map(|c| c.name())
        .collect();
    let (is, it) = match int96.len() {
        0 => return,
        1 => ("is", "it is"),
        _ => ("are", "they are"),
    };
    tracing::warn!(
        "source `{name}`: {} {is} stored as INT96, the type Spark and Hive write timestamps \
         in by default, usually in UTC; {it} read as written, as the business's clock. \
         Say `naive_timestamps: utc` on the source if UTC, `naive_timestamps: local` if \
         local times (either silences this)",
        crate::text::code_list(&int96)
    );
}

/// A zoned timestamp read on a [`Clock`]: the same unit, no zone.
#[derive(Debug)]
struct LocalClock {
    clock: Arc<Clock>,
    signature: Signature,
}

impl PartialEq for LocalClock {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.clock, &other.clock)
    }
}

impl Eq for LocalClock {}

impl std::hash::Hash for LocalClock {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.clock).hash(state);
    }
}

impl LocalClock {
    fn shift<T: ArrowTimestampType>(&self, values: &ArrayRef, unit: TimeUnit) -> Result<ArrayRef> {
        let per_second = per_second(unit);
        let local: PrimitiveArray<T> = values
            .as_primitive::<T>()
            .try_unary(|v| self.clock.local(v, per_second))?;
        Ok(Arc::new(local))
    }

    fn convert(&self, values: &ArrayRef) -> Result<ArrayRef> {
        match values.data_type() {
            DataType::Timestamp(unit @ TimeUnit::Second, _) => {
                self.shift::<TimestampSecondType>(values, *unit)
            }
            DataType::Timestamp(unit @ TimeUnit::Millisecond, _) => {
                self.shift::<TimestampMillisecondType>(values, *unit)
            }
            DataType::Timestamp(unit @ TimeUnit::Microsecond, _) => {
                self.shift::<TimestampMicrosecondType>(values, *unit)
            }
            DataType::Timestamp(unit @ TimeUnit::Nanosecond, _) => {
                self.shift::<TimestampNanosecondType>(values, *unit)
            }
            other => Err(exec_datafusion_err!(
                "local_clock reads timestamps, not {other}"
            )),
        }
    }
}

impl ScalarUDFImpl for LocalClock {
    fn name(&self) -> &str {
        "local_clock"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Timestamp(unit, _)] => Ok(DataType::Timestamp(*unit, None)),
            _ => Err(exec_datafusion_err!("local_clock reads one timestamp")),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let [arg] = args.arg_fields else {
            return Err(exec_datafusion_err!("local_clock reads one timestamp"));
        };
        let ty = self.return_type(&[arg.data_type().clone()])?;
        Ok(Arc::new(Field::new(self.name(), ty, arg.is_nullable())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(exec_datafusion_err!("local_clock reads one timestamp"));
        };
        Ok(match arg {
            ColumnarValue::Array(values) => ColumnarValue::Array(self.convert(values)?),
            ColumnarValue::Scalar(v) => {
                let local = self.convert(&v.to_array()?)?;
                ColumnarValue::Scalar(ScalarValue::try_from_array(&local, 0)?)
            }
        })
    }
}

/// A zoned column of a [`ClockTable`].
#[derive(Debug)]
struct Zoned {
    function: Arc<ScalarUDF>,
    /// The stored type: a timestamp with its zone.
    stored: DataType,
}

/// A source whose zoned timestamps are read as wall-clock times in the
/// pipeline's zone, converted after the scan; filters on them reach the
/// scan widened into filters on the stored instants.
#[derive(Debug)]
pub struct ClockTable {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    zoned: HashMap<String, Zoned>,
}

impl ClockTable {
    /// `inner`, registered in `ctx` as `name`, its timestamp columns
    /// `instants` (UTC instants, with a time zone or without) read on the
    /// clock of `zone`.
    pub async fn new(
        ctx: &SessionContext,
        name: &str,
        inner: Arc<dyn TableProvider>,
        zone: &str,
        instants: &[&str],
    ) -> std::result::Result<Self, String> {
        let stored = inner.schema();
        let mut fields = Vec::new();
        let mut zoned = HashMap::new();
        for f in stored.fields() {
            let unit = match f.data_type() {
                DataType::Timestamp(unit, _) if instants.contains(&f.name().as_str()) => *unit,
                _ => {
                    fields.push(f.clone());
                    continue;
                }
            };
            let span = span(ctx, name, f.name()).await;
            let clock = Clock::new(zone, span)?;
            tracing::debug!(
                table = name,
                column = f.name(),
                zone,
                offsets = clock.changes.len(),
                "zoned timestamps read as the zone's clock"
            );
            let function = ScalarUDF::from(LocalClock {
                clock: Arc::new(clock),
                signature: Signature::any(1, Volatility::Immutable),
            });
            zoned.insert(
                f.name().clone(),
                Zoned {
                    function: Arc::new(function),
                    stored: f.data_type().clone(),
                },
            );
            fields.push(Arc::new(
                f.as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(unit, None)),
            ));
        }
        Ok(ClockTable {
            inner,
            schema: Arc::new(Schema::new_with_metadata(fields, stored.metadata().clone())),
            zoned,
        })
    }

    /// `filter`, which reads a zoned column, as a filter on the stored
    /// instants that keeps every row it keeps (it may keep more): widened
    /// where it bounds the column, `None` where it does not or reads no
    /// zoned column.
    fn on_stored(&self, filter: &Expr) -> Option<Expr> {
        if !self.reads_zoned(filter) {
            return None;
        }
        match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => match (self.on_stored(left), self.on_stored(right)) {
                (Some(l), Some(r)) => Some(l.and(r)),
                (one, None) | (None, one) => one,
            },
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => Some(self.either(left)?.or(self.either(right)?)),
            Expr::IsNull(e) => Some(self.zoned_column(e)?.0.is_null()),
            Expr::IsNotNull(e) => Some(self.zoned_column(e)?.0.is_not_null()),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let ((column, stored), op, bound) = compared(
                    left,
                    *op,
                    right,
                    |e| self.zoned_column(e),
                    |_, e| nanoseconds(e),
                )?;
                implied(column, stored, op, bound)
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => {
                let (column, stored) = self.zoned_column(expr)?;
                Some(
                    at_least(column.clone(), stored, nanoseconds(low)?)?.and(at_most(
                        column,
                        stored,
                        nanoseconds(high)?,
                    )?),
                )
            }
            _ => None,
        }
    }

    /// A side of an `OR`: itself where it reads no zoned column.
    fn either(&self, e: &Expr) -> Option<Expr> {
        if !self.reads_zoned(e) {
            return Some(e.clone());
        }
        self.on_stored(e)
    }

    /// Whether `e` reads a converted column.
    fn reads_zoned(&self, e: &Expr) -> bool {
        e.column_refs()
            .iter()
            .any(|c| self.zoned.contains_key(&c.name))
    }

    /// A zoned column as steps see it (bare, or cast to another timestamp
    /// unit or to its date, which keep the order): the stored column and
    /// its type.
    fn zoned_column(&self, e: &Expr) -> Option<(Expr, &DataType)> {
        let e = uncast(e);
        match e {
            Expr::Column(c) => self
                .zoned
                .get(&c.name)
                .map(|z| (Expr::Column(c.clone()), &z.stored)),
            _ => None,
        }
    }
}

/// `e` without its casts to timestamps without a zone or to dates: casts
/// that keep the order of wall-clock times (a date is at most a day before
/// its times).
fn uncast(e: &Expr) -> &Expr {
    let keeps_order = |t: &DataType| {
        matches!(
            t,
            DataType::Timestamp(_, None) | DataType::Date32 | DataType::Date64
        )
    };
    match e {
        Expr::Cast(c) if keeps_order(c.field.data_type()) => uncast(&c.expr),
        Expr::TryCast(c) if keeps_order(c.field.data_type()) => uncast(&c.expr),
        e => e,
    }
}

/// A wall-clock timestamp or date literal in nanoseconds.
fn nanoseconds(e: &Expr) -> Option<i128> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    const DAY: i128 = 86_400 * 1_000_000_000;
    Some(match v {
        ScalarValue::TimestampSecond(Some(v), None) => *v as i128 * 1_000_000_000,
        ScalarValue::TimestampMillisecond(Some(v), None) => *v as i128 * 1_000_000,
        ScalarValue::TimestampMicrosecond(Some(v), None) => *v as i128 * 1_000,
        ScalarValue::TimestampNanosecond(Some(v), None) => *v as i128,
        ScalarValue::Date32(Some(days)) => *days as i128 * DAY,
        ScalarValue::Date64(Some(ms)) => *ms as i128 * 1_000_000,
        _ => return None,
    })
}

/// A literal of the stored type `stored` at `ns` nanoseconds, rounded down
/// (`up`: up) to its unit.
fn stored_literal(stored: &DataType, ns: i128, up: bool) -> Option<Expr> {
    let DataType::Timestamp(unit, zone) = stored else {
        return None;
    };
    let step = nanoseconds_in(*unit);
    let v = i64::try_from(if up {
        ns.div_euclid(step) + i128::from(ns.rem_euclid(step) != 0)
    } else {
        ns.div_euclid(step)
    })
    .ok()?;
    let zone = zone.clone();
    let value = match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(v), zone),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(v), zone),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), zone),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), zone),
    };
    Some(Expr::Literal(value, None))
}

/// `left op right` as `(side, op, bound)` where one side is what `find`
/// recognizes and the other a wall-clock literal, as `read` reads it for
/// that side (in nanoseconds; `op` turned round where the literal is on the
/// left).
fn compared<T>(
    left: &Expr,
    op: Operator,
    right: &Expr,
    find: impl Fn(&Expr) -> Option<T>,
    read: impl Fn(&T, &Expr) -> Option<i128>,
) -> Option<(T, Operator, i128)> {
    if let Some(side) = find(left)
        && let Some(bound) = read(&side, right)
    {
        return Some((side, op, bound));
    }
    let side = find(right)?;
    let bound = read(&side, left)?;
    Some((side, op.swap()?, bound))
}

/// The bound on the stored instants of `column` that `wall-clock time op
/// bound` implies, where `op` compares.
fn implied(column: Expr, stored: &DataType, op: Operator, bound: i128) -> Option<Expr> {
    match op {
        Operator::Lt | Operator::LtEq => at_most(column, stored, bound),
        Operator::Gt | Operator::GtEq => at_least(column, stored, bound),
        Operator::Eq => {
            Some(at_least(column.clone(), stored, bound)?.and(at_most(column, stored, bound)?))
        }
        _ => None,
    }
}

/// Stored instants whose wall-clock time may be at most `bound`.
fn at_most(column: Expr, stored: &DataType, bound: i128) -> Option<Expr> {
    let widened = bound + WIDEN_SECONDS * 1_000_000_000;
    Some(column.lt_eq(stored_literal(stored, widened, true)?))
}

/// Stored instants whose wall-clock time may be at least `bound`.
fn at_least(column: Expr, stored: &DataType, bound: i128) -> Option<Expr> {
    let widened = bound - WIDEN_SECONDS * 1_000_000_000;
    Some(column.gt_eq(stored_literal(stored, widened, false)?))
}

#[async_trait]
impl TableProvider for ClockTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used to skip what cannot match; applied again above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // DataFusion pushes the filters steps put on the scan's output into
        // the Parquet scan below (for its statistics), except those on
        // converted columns: a filter on the stored instants, right above the
        // scan, is pushed in their place. The others reach the listing too,
        // which skips the files of partitions (`year=2026/`) they rule out.
        let stored = conjunction(filters.iter().filter_map(|f| self.on_stored(f)));
        let plain: Vec<Expr> = filters
            .iter()
            .filter(|f| !self.reads_zoned(f))
            .cloned()
            .collect();
        let limit = if stored.is_some() { None } else { limit };
        let mut scan = self.inner.scan(state, projection, &plain, limit).await?;
        if let Some(predicate) = stored {
            let df_schema = DFSchema::try_from(scan.schema().as_ref().clone())?;
            match state.create_physical_expr(predicate, &df_schema) {
                Ok(predicate) => scan = Arc::new(FilterExec::try_new(predicate, scan)?),
                Err(e) => tracing::debug!(error = %e, "no filter on stored instants"),
            }
        }
        let schema = scan.schema();
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let expr: Arc<dyn PhysicalExpr> = match self.zoned.get(f.name()) {
                Some(z) => state.create_physical_expr(
                    Expr::ScalarFunction(ScalarFunction::new_udf(
                        z.function.clone(),
                        vec![Expr::Column(datafusion::common::Column::new_unqualified(
                            f.name(),
                        ))],
                    )),
                    &df_schema,
                )?,
                None => Arc::new(ColumnExpr::new(f.name(), i)),
            };
            exprs.push((expr, f.name().clone()));
        }
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}

/// For a Ballista cluster, where a zoned source is a view that converts
/// its timestamps ([`local_time_sql`]): an optimizer rule, run by the
/// client before the plan is sent, that adds to a filter bounding a
/// converted column the same bound widened onto the stored instants, as
/// [`ClockTable`] does on the local engine, so that the executors' Parquet
/// scans can skip row groups by their statistics.
#[derive(Debug, Default)]
pub struct WidenConverted {
    conversions: std::sync::Mutex<Vec<Conversion>>,
}

/// A converted column, as the rule recognizes it in a filter.
#[derive(Debug, Clone)]
struct Conversion {
    /// The conversion as the optimizer leaves it.
    expr: Expr,
    /// Where the conversion ends in a cast of a number to a timestamp
    /// without a zone (the offsets added to the stored number): that
    /// number, and the nanoseconds in one of it. The optimizer compares the
    /// number with an integer instead of the cast with a timestamp.
    number: Option<(Expr, i128)>,
    /// The stored column and its type.
    column: Expr,
    stored: DataType,
}

impl WidenConverted {
    /// Registers the conversions of `view`'s columns (a zoned source's view
    /// over table `stored`): each as the optimizer writes it.
    pub async fn learn(
        &self,
        ctx: &SessionContext,
        stored: &str,
        columns: &[(String, String, DataType)],
    ) -> Result<()> {
        for (column, sql, stored_type) in columns {
            let plan = ctx
                .sql_with_options(
                    &format!("SELECT {sql} FROM {}", quote(stored)),
                    step_sql_options(),
                )
                .await?
                .into_optimized_plan()?;
            let LogicalPlan::Projection(p) = plan else {
                continue;
            };
            let Some(expr) = p.expr.first() else { continue };
            let expr = expr.clone().unalias();
            let Some(raw) = expr
                .column_refs()
                .into_iter()
                .find(|c| &c.name == column)
                .cloned()
            else {
                continue;
            };
            let number = match &expr {
                Expr::Cast(c) => match (c.expr.as_ref(), c.field.data_type()) {
                    (number, DataType::Timestamp(unit, None)) => {
                        Some((number.clone(), nanoseconds_in(*unit)))
                    }
                    _ => None,
                },
                _ => None,
            };
            self.conversions
                .lock()
                .expect("not poisoned")
                .push(Conversion {
                    expr,
                    number,
                    column: Expr::Column(raw),
                    stored: stored_type.clone(),
                });
        }
        Ok(())
    }

    /// The widened bound for conjunct `e`, where it bounds a conversion by
    /// a literal.
    fn widened(&self, e: &Expr) -> Option<Expr> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
            return None;
        };
        let conversions = self.conversions.lock().expect("not poisoned");
        let find = |side: &Expr| {
            conversions.iter().find_map(|c| match &c.number {
                Some((number, scale)) if number == side => Some((c, Some(*scale))),
                // The conversion, or a cast of it to a timestamp or date.
                _ => (uncast(&c.expr) == uncast(side)).then_some((c, None)),
            })
        };
        let ((c, _), op, bound) = compared(left, *op, right, find, |(_, scale), e| match scale {
            // The number of the conversion, against an integer literal.
            Some(scale) => match e {
                Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v as i128 * scale),
                _ => None,
            },
            None => nanoseconds(e),
        })?;
        implied(c.column.clone(), &c.stored, op, bound)
    }

    /// The widened bounds `conjuncts` imply, but those `held` already: one
    /// conjunction, or `None` where none is new.
    fn bounds<'e>(
        &self,
        conjuncts: impl Iterator<Item = &'e Expr>,
        held: impl Fn(&Expr) -> bool,
    ) -> Option<Expr> {
        let mut added: Vec<Expr> = Vec::new();
        for w in conjuncts.filter_map(|c| self.widened(c)) {
            if !held(&w) && !added.contains(&w) {
                added.push(w);
            }
        }
        let more = conjunction(added)?;
        tracing::debug!(added = %more, "bounds on converted timestamps widened");
        Some(more)
    }
}

impl datafusion::optimizer::OptimizerRule for WidenConverted {
    fn name(&self) -> &str {
        "loyalty_widen_converted_timestamps"
    }

    fn apply_order(&self) -> Option<datafusion::optimizer::ApplyOrder> {
        Some(datafusion::optimizer::ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn datafusion::optimizer::OptimizerConfig,
    ) -> Result<datafusion::common::tree_node::Transformed<LogicalPlan>> {
        use datafusion::common::tree_node::Transformed;
        use datafusion::logical_expr::utils::split_conjunction;
        use datafusion::logical_expr::{Filter, Projection};
        use datafusion::optimizer::push_down_filter::replace_cols_by_name;
        let LogicalPlan::Filter(filter) = plan else {
            return Ok(Transformed::no(plan));
        };
        let conjuncts: Vec<&Expr> = split_conjunction(&filter.predicate);
        if let Some(more) = self.bounds(conjuncts.iter().copied(), |w| conjuncts.contains(&w)) {
            let predicate = filter.predicate.clone().and(more);
            return Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
                predicate,
                filter.input,
            )?)));
        }
        // A conversion bounded twice (`ts > a AND ts < b`) is computed once
        // by a projection below, which the optimizer adds (its common
        // subexpressions): the bounds on the stored column go under it.
        let LogicalPlan::Projection(projection) = filter.input.as_ref() else {
            return Ok(Transformed::no(LogicalPlan::Filter(filter)));
        };
        let computed: HashMap<String, Expr> = projection
            .schema
            .iter()
            .zip(&projection.expr)
            .map(|((qualifier, field), e)| {
                let name = datafusion::common::Column::new(qualifier.cloned(), field.name());
                (name.flat_name(), e.clone().unalias())
            })
            .collect();
        let read = conjuncts
            .iter()
            .map(|c| replace_cols_by_name((*c).clone(), &computed))
            .collect::<Result<Vec<Expr>>>()?;
        let Some(more) = self.bounds(read.iter(), |w| holds(&projection.input, w)) else {
            return Ok(Transformed::no(LogicalPlan::Filter(filter)));
        };
        let under = LogicalPlan::Filter(Filter::try_new(more, projection.input.clone())?);
        let projection = Projection::try_new_with_schema(
            projection.expr.clone(),
            Arc::new(under),
            projection.schema.clone(),
        )?;
        Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
            filter.predicate,
            Arc::new(LogicalPlan::Projection(projection)),
        )?)))
    }
}

/// Whether `plan` already keeps only rows where `e` holds: a filter, or a
/// scan given it, at its top.
fn holds(plan: &LogicalPlan, e: &Expr) -> bool {
    use datafusion::logical_expr::utils::split_conjunction;
    match plan {
        LogicalPlan::Filter(f) => {
            split_conjunction(&f.predicate).contains(&e) || holds(&f.input, e)
        }
        LogicalPlan::TableScan(t) => t.filters.contains(e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
            .timestamp()
    }

    /// The one offset of the span, where the zone keeps one over it.
    fn constant(zone: &str, first: &str, last: &str) -> Option<i64> {
        match Clock::new(zone, Some((at(first), at(last))))
            .unwrap()
            .changes[..]
        {
            [(_, offset)] => Some(offset),
            _ => None,
        }
    }

    #[test]
    fn an_offset_is_constant_only_where_the_zone_never_changed_it() {
        // Shanghai has kept +8 since its last daylight saving ended in 1991.
        assert_eq!(
            constant("Asia/Shanghai", "2010-01-01 00:00", "2026-06-30 00:00"),
            Some(8 * 3600)
        );
        // 1990's summer was +9 there.
        assert_eq!(
            constant("Asia/Shanghai", "1990-01-01 00:00", "2026-06-30 00:00"),
            None
        );
        // Berlin changes twice a year; within one winter it does not.
        assert_eq!(
            constant("Europe/Berlin", "2025-01-01 00:00", "2025-12-31 00:00"),
            None
        );
        assert_eq!(
            constant("Europe/Berlin", "2025-11-01 00:00", "2026-02-01 00:00"),
            Some(3600)
        );
        // A change on the last instant is seen.
        assert_eq!(
            constant("Europe/Berlin", "2026-03-01 00:00", "2026-03-29 01:00"),
            None
        );
        assert_eq!(
            constant("-05:30", "1970-01-01 00:00", "2100-01-01 00:00"),
            Some(-5 * 3600 - 1800)
        );
    }

    /// The changes found are the zone's published ones, to the second:
    /// Berlin's clocks go forward at 01:00 UTC on the last Sunday of March
    /// and back at 01:00 UTC on the last Sunday of October.
    #[test]
    fn the_changes_are_found_to_the_second() {
        let clock = Clock::new(
            "Europe/Berlin",
            Some((at("2025-01-01 00:00"), at("2026-06-30 00:00"))),
        )
        .unwrap();
        assert_eq!(
            clock.changes,
            vec![
                (at("2025-01-01 00:00"), 3600),
                (at("2025-03-30 01:00"), 7200),
                (at("2025-10-26 01:00"), 3600),
                (at("2026-03-29 01:00"), 7200),
            ]
        );
        // Either side of a change, inside the table and outside it.
        assert_eq!(clock.offset_at(at("2025-03-30 01:00") - 1), Ok(3600));
        assert_eq!(clock.offset_at(at("2025-03-30 01:00")), Ok(7200));
        assert_eq!(clock.offset_at(at("2027-01-01 00:00")), Ok(3600));
        assert_eq!(clock.offset_at(at("2024-07-01 00:00")), Ok(7200));
    }

    /// A wall-clock bound becomes a looser bound on the stored instants:
    /// `order_ts < 2026-07-01 00:00` (local) keeps every instant up to two
    /// days later; `>=` every instant from two days earlier.
    #[test]
    fn bounds_on_wall_clock_times_are_widened_onto_stored_instants() {
        let stored = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let bound = at("2026-07-01 00:00") as i128 * 1_000_000_000;
        let us = |s: &str| {
            Expr::Literal(
                ScalarValue::TimestampMicrosecond(Some(at(s) * 1_000_000), Some("UTC".into())),
                None,
            )
        };
        let c = || Expr::Column(datafusion::common::Column::new_unqualified("order_ts"));
        assert_eq!(
            at_most(c(), &stored, bound),
            Some(c().lt_eq(us("2026-07-03 00:00")))
        );
        assert_eq!(
            at_least(c(), &stored, bound),
            Some(c().gt_eq(us("2026-06-29 00:00")))
        );
        // Rounded outwards into a coarser unit.
        let seconds = DataType::Timestamp(TimeUnit::Second, Some("+08:00".into()));
        let s = |v: i64| {
            Expr::Literal(
                ScalarValue::TimestampSecond(Some(v), Some("+08:00".into())),
                None,
            )
        };
        let odd = bound + 1;
        assert_eq!(
            at_most(c(), &seconds, odd),
            Some(c().lt_eq(s(at("2026-07-03 00:00") + 1)))
        );
        assert_eq!(
            at_least(c(), &seconds, odd),
            Some(c().gt_eq(s(at("2026-06-29 00:00"))))
        );
    }

    use datafusion::arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
    use datafusion::datasource::MemTable;
    use rand::{Rng, SeedableRng};

    /// Registers `batch` as `raw` and `ClockTable` over it, in `zone`, as
    /// `clock`.
    async fn clock_over(ctx: &SessionContext, raw: Arc<dyn TableProvider>, zone: &str) {
        ctx.register_table("raw", raw.clone()).unwrap();
        let clock = ClockTable::new(ctx, "raw", raw, zone, &["ts"])
            .await
            .unwrap();
        ctx.register_table("clock", Arc::new(clock)).unwrap();
    }

    async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        text.lines().map(str::to_string).collect()
    }

    /// Fails naming the first line that differs, not printing both tables.
    fn assert_same(ours: &[String], theirs: &[String], label: &str) {
        if let Some(i) = (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i)) {
            panic!(
                "{label}: {} lines against {}; line {i}: {:?} against {:?}",
                ours.len(),
                theirs.len(),
                ours.get(i),
                theirs.get(i)
            );
        }
    }

    fn instants(ts: Vec<Option<i64>>) -> RecordBatch {
        let ids = Int64Array::from_iter_values(0..ts.len() as i64);
        let ts = TimestampMicrosecondArray::from(ts).with_timezone("UTC");
        RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as ArrayRef),
            ("ts", Arc::new(ts) as ArrayRef),
        ])
        .unwrap()
    }

    /// Read through [`ClockTable`], zoned timestamps are what DataFusion's
    /// `to_local_time` makes of them, instant by instant: random instants
    /// from 1965 to 2045, each second either side of every change of
    /// offset, instants before 1900 and after 2100 (converted one by one),
    /// and NULL. Zones with daylight saving north and south, a half-hour
    /// one (Lord Howe), quarter-hour offsets (Kathmandu), one that skipped a
    /// day (Apia, 2011), one that gave daylight saving up (São Paulo, 2019)
    /// and fixed offsets.
    #[tokio::test]
    async fn reads_the_clock_as_to_local_time_does() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
        for zone in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "Pacific/Apia",
            "America/Sao_Paulo",
            "Asia/Shanghai",
            "+08:00",
            "-03:30",
        ] {
            let (from, until) = (at("1965-01-01 00:00"), at("2045-01-01 00:00"));
            let mut ts: Vec<Option<i64>> = (0..20_000)
                .map(|_| {
                    Some(rng.random_range(from..until) * 1_000_000 + rng.random_range(0..1_000_000))
                })
                .collect();
            for (start, _) in Clock::new(zone, Some((from, until))).unwrap().changes {
                ts.extend([start - 1, start, start + 1].map(|s| Some(s * 1_000_000)));
            }
            ts.extend(
                [at("1850-06-01 12:00"), at("2150-06-01 12:00")].map(|s| Some(s * 1_000_000)),
            );
            ts.extend([from, until].map(|s| Some(s * 1_000_000)));
            ts.push(None);
            let batch = instants(ts);
            let ctx = SessionContext::new();
            let raw = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]]).unwrap();
            clock_over(&ctx, Arc::new(raw), zone).await;
            let ours = rows(&ctx, "SELECT id, ts FROM clock ORDER BY id").await;
            let read = |e: &str| format!("SELECT id, {e} AS ts FROM raw ORDER BY id");
            let theirs = rows(
                &ctx,
                &read(&format!("to_local_time(ts AT TIME ZONE '{zone}')")),
            )
            .await;
            assert_same(&ours, &theirs, zone);
            // The SQL a Ballista cluster's view reads them with: the same.
            let stored = batch.schema().field(1).data_type().clone();
            let sql = local_time_sql(&ctx, "raw", "ts", &stored, zone).await;
            assert_same(
                &rows(&ctx, &read(&sql)).await,
                &theirs,
                &format!("{zone}: {sql}"),
            );
            // Timestamps without a zone that hold UTC, the same.
            let naive = arrow::compute::cast(
                batch.column(1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .unwrap();
            let naive =
                RecordBatch::try_from_iter([("id", batch.column(0).clone()), ("ts", naive)])
                    .unwrap();
            let ctx = SessionContext::new();
            ctx.register_batch("raw", naive.clone()).unwrap();
            let sql =
                local_time_sql(&ctx, "raw", "ts", naive.schema().field(1).data_type(), zone).await;
            assert_same(
                &rows(&ctx, &read(&sql)).await,
                &theirs,
                &format!("{zone}, naive: {sql}"),
            );
        }
    }

    /// An order every 47 minutes from 1 July 2024 (UTC), 200 to a row
    /// group, every 97th without a time, in a folder of one Parquet file.
    fn every_47_minutes() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let start = at("2024-07-01 00:00");
        let ts: Vec<Option<i64>> = (0..22_000i64)
            .map(|i| (i % 97 != 5).then_some((start + i * 47 * 60) * 1_000_000))
            .collect();
        let batch = instants(ts);
        let file = std::fs::File::create(dir.path().join("t.parquet")).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(200))
            .build();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        dir
    }

    /// How many of how many row groups a query's Parquet scan read.
    async fn row_groups_read(ctx: &SessionContext, sql: &str) -> (u32, u32) {
        let plan = rows(ctx, &format!("EXPLAIN ANALYZE {sql}"))
            .await
            .join("\n");
        let pruned = plan
            .split("row_groups_pruned_statistics=")
            .nth(1)
            .and_then(|s| s.split(" matched").next())
            .unwrap_or_else(|| panic!("{plan}"));
        let (total, matched) = pruned.split_once(" total → ").unwrap();
        (matched.parse().unwrap(), total.parse().unwrap())
    }

    /// Filters on wall-clock times keep the rows they keep through a view
    /// that converts with `to_local_time`, and still skip Parquet row
    /// groups by their statistics. An order every 47 minutes in Berlin over
    /// two years, 200 to a row group, some without a time; bounds at the
    /// changes of offset (02:30 on 30 March 2025 never happened there, 02:30
    /// on 26 October 2025 happened twice).
    #[tokio::test]
    async fn filters_on_wall_clock_times_keep_their_rows_and_skip_row_groups() {
        let dir = every_47_minutes();
        let ctx = SessionContext::new();
        ctx.register_parquet("stored", dir.path().to_str().unwrap(), Default::default())
            .await
            .unwrap();
        let stored = ctx.table_provider("stored").await.unwrap();
        clock_over(&ctx, stored, "Europe/Berlin").await;
        ctx.sql("CREATE VIEW by_view AS SELECT id, to_local_time(ts AT TIME ZONE 'Europe/Berlin') AS ts FROM raw")
            .await
            .unwrap();
        for filter in [
            "ts < TIMESTAMP '2025-03-30 02:30:00'",
            "ts >= TIMESTAMP '2025-03-30 02:30:00'",
            "ts <= TIMESTAMP '2025-10-26 02:30:00'",
            "ts > TIMESTAMP '2025-10-26 02:30:00'",
            "TIMESTAMP '2025-10-26 02:00:00' < ts",
            // 01:03 UTC, after 00:16 UTC (02:16 there)
            "ts = TIMESTAMP '2025-10-26 02:03:00'",
            "ts BETWEEN TIMESTAMP '2025-10-26 01:00:00' AND TIMESTAMP '2025-10-26 03:00:00'",
            "ts >= CAST(DATE '2026-06-01' AS TIMESTAMP)",
            "ts IS NULL",
            "ts IS NOT NULL AND id % 3 = 0",
            "ts < TIMESTAMP '2024-08-01 00:00:00' OR id % 1000 = 0",
            "ts < TIMESTAMP '2024-08-01 00:00:00' OR ts > TIMESTAMP '2026-06-01 00:00:00'",
            "NOT (ts < TIMESTAMP '2026-01-01 00:00:00')",
            "date_trunc('month', ts) = TIMESTAMP '2025-10-01 00:00:00'",
            // Dates: 26 October 2025 began at 22:00 UTC the day before.
            "CAST(ts AS DATE) = DATE '2025-10-26'",
            "CAST(ts AS DATE) <= DATE '2024-07-10'",
            "CAST(ts AS DATE) > DATE '2026-06-10'",
        ] {
            let q = |t: &str| format!("SELECT id, ts FROM {t} WHERE {filter} ORDER BY id");
            let (ours, theirs) = (
                rows(&ctx, &q("clock")).await,
                rows(&ctx, &q("by_view")).await,
            );
            // A header of 3 lines and a last one, then rows.
            assert!(ours.len() > 4, "{filter}: no rows");
            assert_same(&ours, &theirs, filter);
        }
        // The last month's orders are in its last few row groups: the others
        // are skipped.
        let (read, total) = row_groups_read(
            &ctx,
            "SELECT count(*) FROM clock WHERE ts >= TIMESTAMP '2026-06-01 00:00:00'",
        )
        .await;
        assert_eq!(total, 110);
        assert!(read <= 6, "{read} row groups read");
    }

    /// A filter on a partition column (`part=b/`) still keeps the listing
    /// from the other partitions' files, and counts what it should: 3 rows
    /// in `part=b`, 2 of them from 1 July on Berlin's clock (the third,
    /// 23:30 UTC on 30 June, is 01:30 on 1 July there).
    #[tokio::test]
    async fn a_filter_on_a_partition_column_skips_the_other_partitions_files() {
        let dir = tempfile::tempdir().unwrap();
        let us = |s: &str| Some(at(s) * 1_000_000);
        for (part, ts) in [
            ("a", vec![us("2026-07-02 10:00")]),
            (
                "b",
                vec![
                    us("2026-06-29 12:00"),
                    us("2026-06-30 23:30"),
                    us("2026-07-03 08:00"),
                ],
            ),
        ] {
            let batch = instants(ts);
            std::fs::create_dir_all(dir.path().join(format!("part={part}"))).unwrap();
            let file =
                std::fs::File::create(dir.path().join(format!("part={part}/f.parquet"))).unwrap();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
        let ctx = SessionContext::new();
        let options = datafusion::prelude::ParquetReadOptions::default()
            .table_partition_cols(vec![("part".to_string(), DataType::Utf8)]);
        ctx.register_parquet("stored", dir.path().to_str().unwrap(), options)
            .await
            .unwrap();
        let stored = ctx.table_provider("stored").await.unwrap();
        clock_over(&ctx, stored, "Europe/Berlin").await;
        let count = "SELECT count(*) AS n FROM clock WHERE part = 'b' AND ts >= TIMESTAMP '2026-07-01 00:00:00'";
        assert_eq!(rows(&ctx, count).await[3], "| 2 |");
        let plan = rows(&ctx, &format!("EXPLAIN {count}")).await.join("\n");
        assert!(
            plan.contains("part=b") && !plan.contains("part=a"),
            "{plan}"
        );
    }

    /// On a Ballista cluster the zone's view converts (`to_local_time`), and
    /// [`WidenConverted`] adds to a filter on a converted column its bound
    /// on the stored instants: the same rows, and the scan skips row groups
    /// as [`ClockTable`]'s does. Here on a local session with the rule.
    #[tokio::test]
    async fn on_a_cluster_bounds_on_converted_times_are_widened_too() {
        let dir = every_47_minutes();
        let ctx = SessionContext::new();
        let widen = Arc::new(WidenConverted::default());
        ctx.add_optimizer_rule(widen.clone());
        ctx.register_parquet("raw", dir.path().to_str().unwrap(), Default::default())
            .await
            .unwrap();
        let unit = TimeUnit::Microsecond;
        let stored = DataType::Timestamp(unit, Some("UTC".into()));
        let sql = local_time_sql(&ctx, "raw", "ts", &stored, "Europe/Berlin").await;
        // Two years of Berlin: five offsets, chosen in two or three comparisons.
        assert_eq!(sql.matches("CASE WHEN").count(), 4, "{sql}");
        assert!(!sql.contains("to_local_time"), "{sql}");
        // A fixed offset is added to the stored number, and reads as
        // `to_local_time` does.
        let fixed = local_time_sql(&ctx, "raw", "ts", &stored, "+08:00").await;
        assert_eq!(
            fixed,
            "arrow_cast(arrow_cast(\"ts\", 'Int64') + 28800000000, 'Timestamp(Microsecond, None)')"
        );
        let read = |e: &str| format!("SELECT id, {e} AS ts FROM raw ORDER BY id");
        assert_same(
            &rows(&ctx, &read(&fixed)).await,
            &rows(&ctx, &read("to_local_time(ts AT TIME ZONE '+08:00')")).await,
            "+08:00",
        );
        for (view, sql) in [("berlin", &sql), ("fixed", &fixed)] {
            ctx.sql(&format!(
                "CREATE VIEW {view} AS SELECT id, {sql} AS ts FROM raw"
            ))
            .await
            .unwrap();
            widen
                .learn(&ctx, "raw", &[("ts".into(), sql.clone(), stored.clone())])
                .await
                .unwrap();
        }
        for view in ["berlin", "fixed"] {
            for filter in [
                "ts >= TIMESTAMP '2026-06-01 00:00:00'",
                "ts < TIMESTAMP '2025-03-30 02:30:00' AND ts > TIMESTAMP '2025-03-01 00:00:00'",
                "TIMESTAMP '2025-10-26 02:00:00' <= ts AND ts <= TIMESTAMP '2025-10-26 03:00:00'",
                "CAST(ts AS DATE) > DATE '2026-06-10'",
                "CAST(ts AS DATE) <= DATE '2024-07-10'",
            ] {
                let label = format!("{view}: {filter}");
                let q = format!("SELECT id, ts FROM {view} WHERE {filter} ORDER BY id");
                let count = format!("SELECT count(*) FROM {view} WHERE {filter}");
                let ours = rows(&ctx, &q).await;
                let (read, total) = row_groups_read(&ctx, &count).await;
                // The same query with the rule's conversions forgotten.
                let learned = std::mem::take(&mut *widen.conversions.lock().unwrap());
                let theirs = rows(&ctx, &q).await;
                let without = row_groups_read(&ctx, &count).await;
                *widen.conversions.lock().unwrap() = learned;
                assert!(ours.len() > 4, "{label}: no rows");
                assert_same(&ours, &theirs, &label);
                // A month and the four days of widening: 6.5 days a group.
                assert_eq!(total, 110);
                assert!(read <= 7, "{label}: {read} row groups read");
                assert_eq!(without, (110, 110), "{label}");
            }
        }
    }
}
