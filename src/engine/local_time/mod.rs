//! Zoned timestamps read as the business's wall-clock times (the pipeline's
//! `timezone`).
//!
//! A zone's offset from UTC changes at a few instants (daylight saving, a
//! new standard time). [`Clock`] finds those changes over a column's data
//! once, from its first and last instants (Parquet's statistics), so that a
//! value is converted by adding the offset of the interval it falls in.
//!
//! - On the local engine a zoned source is read through [`ClockTable`]
//!   (`table.rs`): its timestamps are converted after the scan, and the
//!   filters steps put on them are widened into filters on the stored
//!   instants, so that Parquet's statistics still skip row groups
//!   (`order_ts >= as_of - 30 days`) and answer `IS NULL`.
//! - A Ballista cluster's executors know neither, so there the source is a
//!   view ([`local_time_sql`], `cluster.rs`) that adds the same offsets to
//!   the stored number, chosen by comparisons with the instants of the
//!   changes, in SQL of DataFusion's own functions. An optimizer rule on
//!   the client ([`WidenConverted`]) adds the widened bounds to the filters
//!   before the plan is sent.
//!
//! This file holds what both share: the clock, and how a bound on
//! wall-clock times is widened onto the stored instants.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use chrono::{DateTime, Offset, TimeZone};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, Operator};
use datafusion::prelude::SessionContext;

use super::step_sql_options;

mod cluster;
mod table;

pub use cluster::{WidenConverted, local_time_sql};
pub use table::ClockTable;

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

    /// Whether the table covers second `t`.
    fn covers(&self, t: i64) -> bool {
        self.changes
            .first()
            .is_some_and(|&(from, _)| (from..=self.until).contains(&t))
    }

    /// The offset at second `t`: from the table where it covers `t`.
    fn offset_at(&self, t: i64) -> std::result::Result<i64, String> {
        if !self.covers(t) {
            return self.offset_of(t);
        }
        let i = self.changes.partition_point(|&(start, _)| start <= t);
        Ok(self.changes[i - 1].1)
    }

    /// The one offset of instants `first..=last` (seconds since the epoch)
    /// where the table covers them and no change falls between.
    fn offset_over(&self, first: i64, last: i64) -> Option<i64> {
        if !(self.covers(first) && self.covers(last)) {
            return None;
        }
        let i = self.changes.partition_point(|&(start, _)| start <= first);
        let next = self.changes.get(i).map(|&(start, _)| start);
        next.is_none_or(|n| last < n).then(|| self.changes[i - 1].1)
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

    /// Of values from instant `first` to instant `last` (`per_second` units
    /// a second), whether `first` also reads the earliest time on this
    /// clock, and whether `last` reads the latest. Where the clocks went
    /// back between them, a value just before the change reads later than
    /// one just after it, for as long as the change took back; and a value
    /// outside the table is not known to be in order with the others.
    fn reads_in_order(&self, first: i64, last: i64, per_second: i64) -> (bool, bool) {
        let in_table = |v: i64| self.covers(v.div_euclid(per_second));
        if !(in_table(first) && in_table(last)) {
            return (false, false);
        }
        let (Ok(first_local), Ok(last_local)) =
            (self.local(first, per_second), self.local(last, per_second))
        else {
            return (false, false);
        };
        let ps = i128::from(per_second);
        let (mut earliest, mut latest) = (true, true);
        for w in self.changes.windows(2) {
            let [(_, before), (at, after)] =
                [w[0], w[1]].map(|(a, b)| (i128::from(a), i128::from(b)));
            let at_value = at * ps;
            // The last value before the change reads one unit less than
            // `at + before`; the first from it reads `at + after`.
            if at_value <= i128::from(last) {
                latest &= (at + before) * ps - 1 <= i128::from(last_local);
            }
            if at_value > i128::from(first) {
                earliest &= i128::from(first_local) <= (at + after) * ps;
            }
        }
        (earliest, latest)
    }
}

/// The first and last instants of each of `columns` of table `table`, in
/// seconds since the epoch, by column, in one query (Parquet's statistics
/// answer it without reading the rows); `None` for a column without values,
/// and for all where the query fails.
pub async fn spans<'c>(
    ctx: &SessionContext,
    table: &str,
    columns: &[&'c str],
) -> HashMap<&'c str, Option<(i64, i64)>> {
    let unknown = columns.iter().map(|&c| (c, None)).collect();
    if columns.is_empty() {
        return unknown;
    }
    let seconds = |f: &str, c: &str| format!("CAST(to_unixtime({f}({})) AS BIGINT)", quote(c));
    let sql = format!(
        "SELECT {} FROM {}",
        columns
            .iter()
            .map(|c| format!("{}, {}", seconds("MIN", c), seconds("MAX", c)))
            .collect::<Vec<_>>()
            .join(", "),
        quote(table)
    );
    let read = async {
        ctx.sql_with_options(&sql, step_sql_options())
            .await?
            .collect()
            .await
    };
    let Some(batch) = read.await.ok().and_then(|b| b.into_iter().next()) else {
        return unknown;
    };
    let value = |i: usize| match ScalarValue::try_from_array(batch.column(i), 0).ok()? {
        ScalarValue::Int64(v) => v,
        _ => None,
    };
    columns
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, value(2 * i).zip(value(2 * i + 1))))
        .collect()
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
    Some(Expr::Literal(timestamp(*unit, v, zone.clone()), None))
}

/// Timestamp `v` of `unit`, in `zone` (`None`: wall-clock) as a scalar.
fn timestamp(unit: TimeUnit, v: i64, zone: Option<Arc<str>>) -> ScalarValue {
    match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(v), zone),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(v), zone),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), zone),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), zone),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
    use datafusion::catalog::TableProvider;
    use datafusion::datasource::MemTable;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    pub(super) fn at(s: &str) -> i64 {
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
        // One offset between two changes; none across one or outside the table.
        assert_eq!(
            clock.offset_over(at("2025-03-30 01:00"), at("2025-10-26 01:00") - 1),
            Some(7200)
        );
        assert_eq!(
            clock.offset_over(at("2025-01-01 00:00"), at("2025-03-30 01:00") - 1),
            Some(3600)
        );
        assert_eq!(
            clock.offset_over(at("2025-03-30 01:00") - 1, at("2025-03-30 01:00")),
            None
        );
        assert_eq!(
            clock.offset_over(at("2026-03-29 01:00"), at("2026-06-30 00:00")),
            Some(7200)
        );
        assert_eq!(
            clock.offset_over(at("2026-03-29 01:00"), at("2026-06-30 00:00") + 1),
            None
        );
        assert_eq!(
            clock.offset_over(at("2024-12-31 23:59"), at("2025-01-01 01:00")),
            None
        );
        // Either side of a change, inside the table and outside it.
        assert_eq!(clock.offset_at(at("2025-03-30 01:00") - 1), Ok(3600));
        assert_eq!(clock.offset_at(at("2025-03-30 01:00")), Ok(7200));
        assert_eq!(clock.offset_at(at("2027-01-01 00:00")), Ok(3600));
        assert_eq!(clock.offset_at(at("2024-07-01 00:00")), Ok(7200));
    }

    /// The first and last instants read the earliest and latest times
    /// unless the clocks went back within their shift of them. Berlin went
    /// back at 01:00 UTC on 26 October 2025, from 03:00 to 02:00: 00:45
    /// UTC read 02:45 and 01:30 UTC read 02:30.
    #[test]
    fn the_first_and_last_instants_read_the_earliest_and_latest_times_unless_the_clocks_went_back_by_them()
     {
        let clock = Clock::new(
            "Europe/Berlin",
            Some((at("2025-01-01 00:00"), at("2026-06-30 00:00"))),
        )
        .unwrap();
        let (us, s) = (1_000_000, 1);
        let in_order = |first: &str, last: &str, ps: i64| {
            clock.reads_in_order(at(first) * ps, at(last) * ps, ps)
        };
        // Months from any change back, and either side of the change forward.
        assert_eq!(
            in_order("2025-01-01 00:00", "2026-06-30 00:00", us),
            (true, true)
        );
        assert_eq!(
            in_order("2025-03-30 00:30", "2025-03-30 01:30", us),
            (true, true)
        );
        // The last within the hour after the change back: an earlier value
        // read later (00:45 UTC, 02:45 against 02:30).
        assert_eq!(
            in_order("2025-01-01 00:00", "2025-10-26 01:30", us),
            (true, false)
        );
        // From an hour after the change (03:00), the last reads latest again;
        // a second before, it does to the second, but not to the microsecond.
        assert_eq!(
            in_order("2025-01-01 00:00", "2025-10-26 02:00", us),
            (true, true)
        );
        let second_before = (at("2025-10-26 02:00") - 1) * us;
        let (_, latest) = clock.reads_in_order(at("2025-01-01 00:00") * us, second_before, us);
        assert!(!latest);
        let (_, latest) =
            clock.reads_in_order(at("2025-01-01 00:00"), at("2025-10-26 02:00") - 1, s);
        assert!(latest);
        // The first within the hour before the change back: a later value
        // read earlier (01:10 UTC, 02:10 against 02:30).
        assert_eq!(
            in_order("2025-10-26 00:30", "2026-06-30 00:00", us),
            (false, true)
        );
        // From an hour before (02:00, what 01:00 UTC reads), it reads earliest.
        assert_eq!(
            in_order("2025-10-26 00:00", "2026-06-30 00:00", us),
            (true, true)
        );
        // Outside the clock's table nothing is known.
        assert_eq!(
            in_order("2024-12-31 00:00", "2026-06-30 00:00", us),
            (false, false)
        );
        assert_eq!(
            in_order("2025-01-01 00:00", "2026-07-01 00:00", us),
            (false, false)
        );
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

    /// Registers `batch` as `raw` and `ClockTable` over it, in `zone`, as
    /// `clock`.
    pub(super) async fn clock_over(ctx: &SessionContext, raw: Arc<dyn TableProvider>, zone: &str) {
        ctx.register_table("raw", raw.clone()).unwrap();
        let clock = ClockTable::new(ctx, "raw", raw, zone, &["ts"])
            .await
            .unwrap();
        ctx.register_table("clock", Arc::new(clock)).unwrap();
    }

    /// The cluster view's SQL for column `ts` of table `raw`, stored as
    /// `stored`, read in `zone`.
    pub(super) async fn view_sql(ctx: &SessionContext, stored: &DataType, zone: &str) -> String {
        let span = spans(ctx, "raw", &["ts"]).await["ts"];
        local_time_sql("ts", stored, zone, span)
    }

    pub(super) async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        text.lines().map(str::to_string).collect()
    }

    /// Fails naming the first line that differs, not printing both tables.
    pub(super) fn assert_same(ours: &[String], theirs: &[String], label: &str) {
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

    pub(super) fn instants(ts: Vec<Option<i64>>) -> RecordBatch {
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
            let batch = instants(ts.clone());
            let ctx = SessionContext::new();
            let raw = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]]).unwrap();
            clock_over(&ctx, Arc::new(raw), zone).await;
            let ours = rows(&ctx, "SELECT id, ts FROM clock ORDER BY id").await;
            let read = |e: &str| format!("SELECT id, {e} AS ts FROM raw ORDER BY id");
            let local = format!("to_local_time(ts AT TIME ZONE '{zone}')");
            let theirs = rows(&ctx, &read(&local)).await;
            assert_same(&ours, &theirs, zone);
            // In time order, in batches of 97: most within one offset,
            // converted by adding it, some across a change.
            ts.sort();
            let sorted = instants(ts);
            let batches: Vec<RecordBatch> = (0..sorted.num_rows())
                .step_by(97)
                .map(|i| sorted.slice(i, 97.min(sorted.num_rows() - i)))
                .collect();
            let in_order = SessionContext::new();
            let raw = MemTable::try_new(sorted.schema(), vec![batches]).unwrap();
            clock_over(&in_order, Arc::new(raw), zone).await;
            assert_same(
                &rows(&in_order, "SELECT id, ts FROM clock ORDER BY id").await,
                &rows(&in_order, &read(&local)).await,
                &format!("{zone}, in time order"),
            );
            // The SQL a Ballista cluster's view reads them with: the same.
            let stored = batch.schema().field(1).data_type().clone();
            let sql = view_sql(&ctx, &stored, zone).await;
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
            let sql = view_sql(&ctx, naive.schema().field(1).data_type(), zone).await;
            assert_same(
                &rows(&ctx, &read(&sql)).await,
                &theirs,
                &format!("{zone}, naive: {sql}"),
            );
        }
    }

    /// An order every 47 minutes from 1 July 2024 (UTC), 200 to a row
    /// group, every 97th without a time, in a folder of one Parquet file.
    pub(super) fn every_47_minutes() -> tempfile::TempDir {
        let start = at("2024-07-01 00:00");
        let ts: Vec<Option<i64>> = (0..22_000i64)
            .map(|i| (i % 97 != 5).then_some((start + i * 47 * 60) * 1_000_000))
            .collect();
        parquet_of(ts, 200)
    }

    /// Instants (UTC, microseconds), `group` to a row group, in a folder of
    /// one Parquet file.
    pub(super) fn parquet_of(ts: Vec<Option<i64>>, group: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let batch = instants(ts);
        let file = std::fs::File::create(dir.path().join("t.parquet")).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        dir
    }

    /// How many of how many row groups a query's Parquet scan read.
    pub(super) async fn row_groups_read(ctx: &SessionContext, sql: &str) -> (u32, u32) {
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
}
