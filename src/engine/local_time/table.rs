use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, Statistics};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_datafusion_err};
use datafusion::config::ConfigOptions;
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{
    Between, BinaryExpr, ColumnarValue, Expr, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, TableProviderFilterPushDown, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{
    CardinalityEffect, ChildrenPropertiesMode, ReplaceChildrenOptions,
};
use datafusion::physical_plan::expressions::Column as ColumnExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterDescription, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use datafusion::prelude::SessionContext;

use super::{
    Clock, at_least, at_most, compared, implied, nanoseconds, per_second, spans, timestamp, uncast,
};

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
        let values = values.as_primitive::<T>();
        // A batch within one offset (most, where the data are written in
        // time order) adds it to every value; the others look each up.
        let seconds = |v: Option<i64>| v.map(|v| v.div_euclid(per_second));
        let (first, last) = (seconds(min(values)), seconds(max(values)));
        if let (Some(first), Some(last)) = (first, last)
            && let Some(offset) = self.clock.offset_over(first, last)
        {
            // Within the table (1900 to 2100), no sum overflows.
            let offset = offset * per_second;
            return Ok(Arc::new(values.unary::<_, T>(|v| v + offset)));
        }
        let local: PrimitiveArray<T> = values.try_unary(|v| self.clock.local(v, per_second))?;
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
    /// Its clock, and the function that reads a value on it.
    clock: Arc<Clock>,
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
        let spans = spans(ctx, name, instants).await;
        for f in stored.fields() {
            let (unit, span) = match (f.data_type(), spans.get(f.name().as_str())) {
                (DataType::Timestamp(unit, _), Some(span)) => (*unit, *span),
                _ => {
                    fields.push(f.clone());
                    continue;
                }
            };
            let clock = Clock::new(zone, span)?;
            tracing::debug!(
                table = name,
                column = f.name(),
                zone,
                offsets = clock.changes.len(),
                "zoned timestamps read as the zone's clock"
            );
            let clock = Arc::new(clock);
            let function = ScalarUDF::from(LocalClock {
                clock: clock.clone(),
                signature: Signature::any(1, Volatility::Immutable),
            });
            zoned.insert(
                f.name().clone(),
                Zoned {
                    clock,
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
        let mut clocks = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let expr: Arc<dyn PhysicalExpr> = match self.zoned.get(f.name()) {
                Some(z) => {
                    clocks.push((i, z.clock.clone()));
                    state.create_physical_expr(
                        Expr::ScalarFunction(ScalarFunction::new_udf(
                            z.function.clone(),
                            vec![Expr::Column(datafusion::common::Column::new_unqualified(
                                f.name(),
                            ))],
                        )),
                        &df_schema,
                    )?
                }
                None => Arc::new(ColumnExpr::new(f.name(), i)),
            };
            exprs.push((expr, f.name().clone()));
        }
        let projection = Arc::new(ProjectionExec::try_new(exprs, scan)?);
        Ok(Arc::new(ClockExec { projection, clocks }))
    }
}

/// The scan of a [`ClockTable`]: the projection that converts its zoned
/// columns, which also gives their statistics. A zoned column's first and
/// last stored instants, read on the clock, are its earliest and latest
/// times unless the clocks went back just before the last or just after
/// the first ([`Clock::reads_in_order`]). So `MAX(order_ts)` (the
/// `freshness` check) is answered from Parquet's statistics, without
/// reading the column, as on a source without a zone.
#[derive(Debug)]
struct ClockExec {
    projection: Arc<dyn ExecutionPlan>,
    /// The zoned columns' positions (in the projection's input and output
    /// alike) and clocks.
    clocks: Vec<(usize, Arc<Clock>)>,
}

impl ClockExec {
    /// Column statistics of a zoned column, from `stored`'s, the stored
    /// instants'.
    fn on_clock(clock: &Clock, stored: &ColumnStatistics) -> ColumnStatistics {
        let unit_and_value = |p: &Precision<ScalarValue>| match p.get_value()? {
            ScalarValue::TimestampSecond(Some(v), _) => Some((TimeUnit::Second, *v)),
            ScalarValue::TimestampMillisecond(Some(v), _) => Some((TimeUnit::Millisecond, *v)),
            ScalarValue::TimestampMicrosecond(Some(v), _) => Some((TimeUnit::Microsecond, *v)),
            ScalarValue::TimestampNanosecond(Some(v), _) => Some((TimeUnit::Nanosecond, *v)),
            _ => None,
        };
        let mut local = ColumnStatistics {
            null_count: stored.null_count,
            byte_size: stored.byte_size,
            ..ColumnStatistics::new_unknown()
        };
        let (Some((unit, first)), Some((_, last))) = (
            unit_and_value(&stored.min_value),
            unit_and_value(&stored.max_value),
        ) else {
            return local;
        };
        let ps = per_second(unit);
        let exact =
            stored.min_value.is_exact() == Some(true) && stored.max_value.is_exact() == Some(true);
        let (earliest, latest) = clock.reads_in_order(first, last, ps);
        let value = |v: i64| timestamp(unit, v, None);
        if let Ok(v) = clock.local(first, ps)
            && exact
            && earliest
        {
            local.min_value = Precision::Exact(value(v));
        }
        if let Ok(v) = clock.local(last, ps)
            && exact
            && latest
        {
            local.max_value = Precision::Exact(value(v));
        }
        local
    }

    fn wrapping(&self, projection: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        Arc::new(ClockExec {
            projection,
            clocks: self.clocks.clone(),
        })
    }
}

impl DisplayAs for ClockExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "ClockExec: ")?;
        self.projection.fmt_as(t, f)
    }
}

/// Everything but the statistics, and whether sorts may move under it,
/// is the projection's.
impl ExecutionPlan for ClockExec {
    fn name(&self) -> &str {
        "ClockExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.projection.properties()
    }

    /// Not the projection's: a sort on the conversion's output may not be
    /// moved under it as the projection would, by mapping its columns (the
    /// optimizer would sort by the stored instants instead). The
    /// projection's properties still give its output order.
    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.projection.benefits_from_input_partitioning()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.projection.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.projection.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projection = self
            .projection
            .clone()
            .replace_children(children, options)?;
        Ok(self.wrapping(projection))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.projection.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.projection.metrics()
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.projection.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let mut stats = self
            .projection
            .statistics_from_inputs(input_stats, args)?
            .as_ref()
            .clone();
        let Some(stored) = input_stats.first() else {
            return Ok(Arc::new(stats));
        };
        for (i, clock) in &self.clocks {
            if let (Some(out), Some(stored)) = (
                stats.column_statistics.get_mut(*i),
                stored.column_statistics.get(*i),
            ) {
                *out = Self::on_clock(clock, stored);
            }
        }
        Ok(Arc::new(stats))
    }

    fn supports_limit_pushdown(&self) -> bool {
        self.projection.supports_limit_pushdown()
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.projection.cardinality_effect()
    }

    fn gather_filters_for_pushdown(
        &self,
        phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        self.projection
            .gather_filters_for_pushdown(phase, parent_filters, config)
    }

    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let mut propagation =
            self.projection
                .handle_child_pushdown_result(phase, child_pushdown_result, config)?;
        propagation.updated_node = propagation.updated_node.map(|p| self.wrapping(p));
        Ok(propagation)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

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

    /// The newest and oldest wall-clock times come from Parquet's
    /// statistics, without reading the column, where the stored instants'
    /// first and last read them; where the clocks went back by them, they
    /// are read from the data. Berlin went back at 01:00 UTC on 26 October
    /// 2025, from 03:00 to 02:00.
    #[tokio::test]
    async fn the_newest_and_oldest_times_come_from_statistics_where_they_can() {
        let us = |s: &str| Some(at(s) * 1_000_000);
        let extremes = "SELECT MIN(ts) AS oldest, MAX(ts) AS newest FROM clock";
        for (instants, oldest, newest, from_statistics) in [
            (
                vec![
                    us("2025-03-01 12:00"),
                    None,
                    us("2025-08-01 09:15"),
                    us("2025-06-01 00:00"),
                ],
                "2025-03-01T13:00:00",
                "2025-08-01T11:15:00",
                true,
            ),
            // The last (01:30 UTC, 02:30 there) is not the latest: 00:45 UTC
            // read 02:45.
            (
                vec![
                    us("2025-10-25 12:00"),
                    us("2025-10-26 00:45"),
                    us("2025-10-26 01:30"),
                ],
                "2025-10-25T14:00:00",
                "2025-10-26T02:45:00",
                false,
            ),
            // The first (00:30 UTC, 02:30 there) is not the earliest: 01:10
            // UTC read 02:10.
            (
                vec![
                    us("2025-10-26 00:30"),
                    us("2025-10-26 01:10"),
                    us("2025-11-01 00:00"),
                ],
                "2025-10-26T02:10:00",
                "2025-11-01T01:00:00",
                false,
            ),
        ] {
            let dir = parquet_of(instants, 1024);
            let ctx = SessionContext::new();
            ctx.register_parquet("stored", dir.path().to_str().unwrap(), Default::default())
                .await
                .unwrap();
            let stored = ctx.table_provider("stored").await.unwrap();
            clock_over(&ctx, stored, "Europe/Berlin").await;
            let label = format!("{oldest} .. {newest}");
            assert_eq!(
                rows(&ctx, extremes).await[3],
                format!("| {oldest} | {newest} |"),
                "{label}"
            );
            let plan = rows(&ctx, &format!("EXPLAIN {extremes}")).await.join("\n");
            assert_eq!(
                !plan.contains("DataSourceExec"),
                from_statistics,
                "{label}: {plan}"
            );
            // The view of DataFusion's own conversion agrees, and so do a
            // sort on the times with a limit (sorted on the clock, not by
            // the stored instants) and a limit alone.
            ctx.sql("CREATE VIEW by_view AS SELECT to_local_time(ts AT TIME ZONE 'Europe/Berlin') AS ts FROM raw")
                .await
                .unwrap();
            for sql in [
                extremes,
                "SELECT ts FROM clock ORDER BY ts DESC LIMIT 2",
                "SELECT ts FROM clock ORDER BY ts LIMIT 2",
                "SELECT count(*) FROM (SELECT ts FROM clock LIMIT 2)",
            ] {
                assert_eq!(
                    rows(&ctx, sql).await,
                    rows(&ctx, &sql.replace("clock", "by_view")).await,
                    "{label}: {sql}"
                );
            }
        }
    }
}
