use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan};
use datafusion::prelude::SessionContext;

use super::{Clock, compared, implied, nanoseconds, nanoseconds_in, per_second, quote, uncast};
use crate::engine::step_sql_options;

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
///
/// `span`: the column's first and last instants ([`super::spans`]).
pub fn local_time_sql(
    column: &str,
    stored: &DataType,
    zone: &str,
    span: Option<(i64, i64)>,
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
    let clock = Clock::new(zone, span)
        .ok()
        .filter(|c| !c.changes.is_empty());
    tracing::debug!(
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
    use super::super::tests::*;
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

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
        let sql = view_sql(&ctx, &stored, "Europe/Berlin").await;
        // Two years of Berlin: five offsets, chosen in two or three comparisons.
        assert_eq!(sql.matches("CASE WHEN").count(), 4, "{sql}");
        assert!(!sql.contains("to_local_time"), "{sql}");
        // A fixed offset is added to the stored number, and reads as
        // `to_local_time` does.
        let fixed = view_sql(&ctx, &stored, "+08:00").await;
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
