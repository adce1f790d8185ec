//! Groupings with many groups, run bucket by bucket on the local engine.
//!
//! DataFusion 55 groups each partition's rows in one hash table, with each
//! aggregate's per-group state in arrays of its own. Grouping 10M orders by
//! 478k customers, those arrays (23 for `customer_orders`' 13 filtered
//! aggregates) outgrow the processor's caches, and every row's update waits
//! on memory; on two cores, the partitions running at once share the cache.
//! DuckDB splits a grouping's rows by their keys' hash bits and groups each
//! part on its own, so each part's table stays small.
//!
//! [`BucketedGroupings`] does the same to every grouping that emits final
//! values from rows partitioned by its keys. Within each partition, rows are
//! sent by their keys' hash to one of [`BUCKETS`] groupings (DataFusion's own
//! operator, unchanged), a chunk of rows at a time, so a chunk's updates fall
//! into a table a thirty-second of the size. A group's rows all land in one
//! bucket, so each bucket's groups are whole, and the buckets' outputs
//! together are the grouping's.
//!
//! A grouping DataFusion plans in two stages (a partial one per partition,
//! its states repartitioned by key, a final one) can become one stage over
//! the rows repartitioned by key ([`one_stage`]): with many groups the
//! partial stage gives up and passes each row on as states, which are wider
//! than the row and would all be copied into buckets. But where the partial
//! stage does reduce the rows (few groups; orders written customer by
//! customer), two stages move far fewer rows. [`AdaptiveGroupingExec`]
//! chooses when it runs, from every input partition's first rows.
//!
//! A partition's first [`BUCKET_FROM_ROWS`] rows decide: if that is all there
//! is, or they hold fewer than [`MANY_GROUPS`] keys, or come by key (most
//! rows in the group of the row before), the partition is grouped in one
//! table as before: the cache serves those without buckets. The rows
//! waiting in chunks are counted against the memory pool; when it has no
//! room, every bucket takes what it has. The engine leaves the rule out under
//! `engine.memory_limit`, where 32 groupings a partition would each spill on
//! a thirty-second of the pool's share.
//!
//! At 500k customers (10M orders), steps run one at a time,
//! `customer_orders` took 1.45–1.67 s before, 0.93–1.06 s in buckets; whole
//! runs 5.13–5.33 s before, 4.65–4.74 s now; on the same orders written
//! customer by customer 3.74–3.78 s before, 3.75–3.81 s now
//! (bench/RESULTS.md, session 30).

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::distribution_requirements::InputDistributionRequirements;
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, Partitioning, PlanProperties,
};
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};

/// Groupings per partition. A power of two: the bucket is the hash's top bits.
/// 32 rather than 16 since 2M customers' tables outgrew the caches: at 2M
/// customers (39M orders) whole runs took 22.8–23.5 s against 24.0–25.1 s
/// with 16; at 100k and 500k the same time (bench/RESULTS.md, session 45).
/// 64 was slower at 500k.
pub const BUCKETS: usize = 32;
/// Rows a bucket collects before its grouping takes them.
const CHUNK_ROWS: usize = 16 * 1024;
/// Rows of a partition grouped in one table, without buckets.
pub const BUCKET_FROM_ROWS: usize = 128 * 1024;
/// Keys among a partition's first rows from which it is grouped in buckets.
const MANY_GROUPS: usize = 16 * 1024;
/// The buckets' hash: seeded apart from the repartitioning's, whose hash
/// decided the partition (and so is alike for all of a partition's rows).
const SEED: u64 = 0x6c6f_7961_6c74_7921;

/// The physical optimizer rule: wraps each grouping it applies to in an
/// [`AdaptiveGroupingExec`] where DataFusion planned two stages, else in a
/// [`BucketedAggregateExec`]. Registered on the local engine only (a cluster
/// cannot ship the operator).
#[derive(Debug, Default)]
pub struct BucketedGroupings;

impl PhysicalOptimizerRule for BucketedGroupings {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if !node.downcast_ref::<AggregateExec>().is_some_and(applies) {
                return Ok(Transformed::no(node));
            }
            let wrapped: Arc<dyn ExecutionPlan> = match AdaptiveGroupingExec::try_new(node.clone())?
            {
                Some(adaptive) => Arc::new(adaptive),
                None => Arc::new(BucketedAggregateExec::new(node)?),
            };
            Ok(Transformed::yes(wrapped))
        })
        .data()
    }

    fn name(&self) -> &str {
        "bucketed_groupings"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A grouping in two stages, a partial one per input partition and a final
/// one over the partial states repartitioned by key, as one stage over the
/// input rows repartitioned by key. With many groups the partial stage stops
/// grouping after its first rows and passes each row on as states, which for
/// `customer_orders` are 16 columns where the row had 12 (1.7 GB at 500k
/// customers against 0.45 GB of rows), to be repartitioned and split into
/// buckets.
fn one_stage(agg: &AggregateExec) -> Result<Option<AggregateExec>> {
    if *agg.mode() != AggregateMode::FinalPartitioned {
        return Ok(None);
    }
    let Some(repartition) = agg.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let (Partitioning::Hash(_, n), false) =
        (repartition.partitioning(), repartition.preserve_order())
    else {
        return Ok(None);
    };
    let Some(partial) = repartition.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if *partial.mode() != AggregateMode::Partial
        || !partial.group_expr().is_single()
        || partial.limit_options().is_some()
        || *partial.input_order_mode() != InputOrderMode::Linear
    {
        return Ok(None);
    }
    let rows = RepartitionExec::try_new(
        partial.input().clone(),
        Partitioning::Hash(partial.group_expr().input_exprs(), *n),
    )?;
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        partial.group_expr().clone(),
        partial.aggr_expr().to_vec(),
        partial.filter_expr().to_vec(),
        Arc::new(rows),
        partial.input_schema(),
    )?;
    Ok((single.schema() == agg.schema()).then_some(single))
}

/// Whether a grouping can run bucket by bucket: it emits final values (so
/// each bucket's groups are whole), groups by plain keys (no grouping sets),
/// needs its input in no order, and has no limit or filter that its own
/// output feeds back to.
fn applies(agg: &AggregateExec) -> bool {
    matches!(
        agg.mode(),
        AggregateMode::Final
            | AggregateMode::FinalPartitioned
            | AggregateMode::Single
            | AggregateMode::SinglePartitioned
    ) && agg.group_expr().is_single()
        && !agg.group_expr().expr().is_empty()
        && agg.limit_options().is_none()
        && agg.dynamic_expressions_produced().is_empty()
        && *agg.input_order_mode() == InputOrderMode::Linear
        && agg.required_input_ordering().iter().all(Option::is_none)
}

/// A grouping run in [`BUCKETS`] groupings per partition. Its plan
/// properties, statistics and display are the grouping's.
#[derive(Debug)]
pub struct BucketedAggregateExec {
    /// The `AggregateExec`, whose copies group the buckets.
    grouping: Arc<dyn ExecutionPlan>,
    /// Its group keys, evaluated on its input's rows.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The copies run so far: their metrics are this operator's.
    runs: Arc<Mutex<Vec<Arc<dyn ExecutionPlan>>>>,
    metrics: ExecutionPlanMetricsSet,
}

impl BucketedAggregateExec {
    fn new(grouping: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let Some(agg) = grouping.downcast_ref::<AggregateExec>() else {
            return internal_err!("BucketedAggregateExec wraps an AggregateExec");
        };
        Ok(Self {
            keys: bucket_keys(agg.group_expr().input_exprs()),
            grouping,
            runs: Arc::default(),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        self.grouping.children()[0]
    }
}

/// The keys a row's bucket is found by: the group keys that are columns
/// of the input, where there are any. A group's rows share all its keys, so
/// any of them keep a group in one bucket; a column is hashed without being
/// computed (`customer_months` groups by customer and
/// `date_trunc('month', order_ts)`).
fn bucket_keys(keys: Vec<Arc<dyn PhysicalExpr>>) -> Vec<Arc<dyn PhysicalExpr>> {
    let columns: Vec<_> = keys
        .iter()
        .filter(|key| key.downcast_ref::<Column>().is_some())
        .cloned()
        .collect();
    if columns.is_empty() { keys } else { columns }
}

impl DisplayAs for BucketedAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "BucketedAggregateExec: buckets={BUCKETS}, ")?;
        self.grouping.fmt_as(t, f)
    }
}

impl ExecutionPlan for BucketedAggregateExec {
    fn name(&self) -> &str {
        "BucketedAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.grouping.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.grouping.input_distribution_requirements()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.grouping.benefits_from_input_partitioning()
    }

    /// Buckets are emitted one after another, not in the input's order.
    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.grouping.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.grouping.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let grouping = self.grouping.clone().replace_children(children, options)?;
        Ok(Arc::new(Self::new(grouping)?))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input().execute(partition, context.clone())?;
        let reservation = MemoryConsumer::new(format!("BucketedAggregateExec[{partition}]"))
            .register(context.memory_pool());
        let split = Split {
            grouping: self.grouping.clone(),
            keys: self.keys.clone(),
            schema: self.input().schema(),
            context,
            runs: self.runs.clone(),
            elapsed: MetricBuilder::new(&self.metrics).elapsed_compute(partition),
            reservation,
        };
        let output = stream::once(split.run(input)).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            output,
        )))
    }

    /// This operator's time splitting rows into buckets, with the metrics of
    /// the groupings it ran (their rows, time, memory and spills).
    fn metrics(&self) -> Option<MetricsSet> {
        let mut all = self.metrics.clone_inner();
        for run in self.runs.lock().expect("runs").iter() {
            for metric in run.metrics().iter().flat_map(MetricsSet::iter) {
                all.push(metric.clone());
            }
        }
        Some(all)
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.grouping.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.grouping.statistics_from_inputs(input_stats, args)
    }
}

/// The hash of each row's `keys`.
fn hash(keys: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch, hashes: &mut Vec<u64>) -> Result<()> {
    let keys = keys
        .iter()
        .map(|key| key.evaluate(batch)?.into_array(batch.num_rows()))
        .collect::<Result<Vec<ArrayRef>>>()?;
    hashes.clear();
    hashes.resize(batch.num_rows(), 0);
    create_hashes(&keys, &RandomState::with_seed(SEED), hashes)?;
    Ok(())
}

/// Whether rows like `held` are better grouped in one table, judged by
/// their `keys` (by their hashes): fewer than [`MANY_GROUPS`] of them (a
/// small table stays in the cache), or rows that come by key (orders written
/// customer by customer), where most rows update the group the row before
/// did, which the cache serves without buckets.
fn one_table(keys: &[Arc<dyn PhysicalExpr>], held: &[RecordBatch]) -> Result<bool> {
    let mut seen = std::collections::HashSet::new();
    let (mut rows, mut changes, mut last, mut hashes) = (0, 0, None, vec![]);
    for batch in held {
        hash(keys, batch, &mut hashes)?;
        for &h in &hashes {
            changes += usize::from(last != Some(h));
            last = Some(h);
        }
        rows += hashes.len();
        seen.extend(hashes.iter().copied());
    }
    Ok(seen.len() < MANY_GROUPS || 2 * changes < rows)
}

fn recompute() -> ReplaceChildrenOptions {
    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute)
}

/// One partition's run: its rows split into buckets, each grouped by a copy
/// of the grouping.
struct Split {
    grouping: Arc<dyn ExecutionPlan>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    context: Arc<TaskContext>,
    runs: Arc<Mutex<Vec<Arc<dyn ExecutionPlan>>>>,
    elapsed: datafusion::physical_plan::metrics::Time,
    /// The rows waiting in buckets' chunks.
    reservation: MemoryReservation,
}

type Output = BoxStream<'static, Result<RecordBatch>>;

impl Split {
    async fn run(mut self, mut input: SendableRecordBatchStream) -> Result<Output> {
        let mut held = vec![];
        let mut rows = 0;
        while rows < BUCKET_FROM_ROWS {
            let Some(batch) = input.next().await.transpose()? else {
                // Few rows: one grouping, as without buckets.
                let mut one = self.bucket()?;
                one.send(held)?;
                return Ok(one.finish());
            };
            rows += batch.num_rows();
            held.push(batch);
        }
        let timer = self.elapsed.timer();
        let one = one_table(&self.keys, &held)?;
        timer.done();
        if one {
            let mut one = self.bucket()?;
            one.send(held)?;
            while let Some(batch) = input.next().await.transpose()? {
                one.send([batch])?;
            }
            return Ok(one.finish());
        }
        let mut buckets: Vec<Bucket> = vec![];
        let mut chunks: Vec<Chunk> = (0..BUCKETS).map(|_| Chunk::default()).collect();
        let mut rows_of: Vec<Vec<u32>> = vec![vec![]; BUCKETS];
        let mut hashes = vec![];
        let mut pending = held.into_iter();
        loop {
            let batch = match pending.next() {
                Some(batch) => batch,
                None => match input.next().await.transpose()? {
                    Some(batch) => batch,
                    None => break,
                },
            };
            // The batch's rows in bucket order, in one copy; each bucket's
            // rows are then a slice of it.
            let timer = self.elapsed.timer();
            self.split(&batch, &mut hashes, &mut rows_of)?;
            let order = UInt32Array::from_iter_values(rows_of.iter().flatten().copied());
            let sorted = take_record_batch(&batch, &order)?;
            let bytes = sorted.get_array_memory_size();
            timer.done();
            let mut offset = 0;
            for (k, rows) in rows_of.iter_mut().enumerate() {
                let n = rows.len();
                rows.clear();
                if n == 0 {
                    continue;
                }
                let part = sorted.slice(offset, n);
                offset += n;
                let part_bytes = bytes * n / batch.num_rows();
                chunks[k].push(part, part_bytes);
                if self.reservation.try_grow(part_bytes).is_err() {
                    // No room for rows waiting: every bucket takes its chunk.
                    for (k, chunk) in chunks.iter_mut().enumerate() {
                        self.send(&mut buckets, k, chunk)?;
                    }
                } else if chunks[k].rows >= CHUNK_ROWS {
                    self.send(&mut buckets, k, &mut chunks[k])?;
                }
            }
        }
        for (k, chunk) in chunks.iter_mut().enumerate() {
            self.send(&mut buckets, k, chunk)?;
        }
        let outputs: Vec<Output> = buckets.into_iter().map(Bucket::finish).collect();
        Ok(stream::iter(outputs).flatten().boxed())
    }

    /// Each row's bucket, as lists of row numbers.
    fn split(
        &self,
        batch: &RecordBatch,
        hashes: &mut Vec<u64>,
        rows_of: &mut [Vec<u32>],
    ) -> Result<()> {
        hash(&self.keys, batch, hashes)?;
        let shift = 64 - BUCKETS.trailing_zeros();
        for (row, hash) in hashes.iter().enumerate() {
            rows_of[(hash >> shift) as usize].push(row as u32);
        }
        Ok(())
    }

    /// Hands bucket `k` its waiting rows, starting its grouping if need be.
    fn send(&mut self, buckets: &mut Vec<Bucket>, k: usize, chunk: &mut Chunk) -> Result<()> {
        if chunk.rows == 0 {
            return Ok(());
        }
        while buckets.len() <= k {
            buckets.push(Bucket::idle());
        }
        if buckets[k].is_idle() {
            buckets[k] = self.bucket()?;
        }
        let timer = self.elapsed.timer();
        let batch = chunk.take(&self.schema)?;
        timer.done();
        self.reservation
            .shrink(std::mem::take(&mut chunk.bytes).min(self.reservation.size()));
        buckets[k].send([batch])
    }

    /// A copy of the grouping, fed through a channel.
    fn bucket(&self) -> Result<Bucket> {
        let (sender, receiver) = mpsc::unbounded();
        let source = Handed::single(self.schema.clone());
        source.hand(
            0,
            RecordBatchStreamAdapter::new(self.schema.clone(), receiver),
        );
        let source = Arc::new(source);
        let grouping = self
            .grouping
            .clone()
            .replace_children(vec![source], recompute())?;
        let output = grouping.execute(0, self.context.clone())?;
        self.runs.lock().expect("runs").push(grouping);
        Ok(Bucket {
            sender: Some(sender),
            output: Some(output),
            done: vec![],
        })
    }
}

/// The rows waiting for one bucket.
#[derive(Default)]
struct Chunk {
    parts: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
}

impl Chunk {
    fn push(&mut self, part: RecordBatch, bytes: usize) {
        self.rows += part.num_rows();
        self.bytes += bytes;
        self.parts.push(part);
    }

    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        self.rows = 0;
        let parts = std::mem::take(&mut self.parts);
        match parts.len() {
            1 => Ok(parts.into_iter().next().expect("one part")),
            _ => Ok(concat_batches(schema, &parts)?),
        }
    }
}

/// One bucket's grouping: the channel its rows go in by, and its output.
struct Bucket {
    sender: Option<mpsc::UnboundedSender<Result<RecordBatch>>>,
    output: Option<SendableRecordBatchStream>,
    /// What it emitted while rows were still coming.
    done: Vec<RecordBatch>,
}

impl Bucket {
    fn idle() -> Self {
        Bucket {
            sender: None,
            output: None,
            done: vec![],
        }
    }

    fn is_idle(&self) -> bool {
        self.output.is_none()
    }

    /// Sends rows and lets the grouping take them now, while they are in
    /// the cache.
    fn send(&mut self, batches: impl IntoIterator<Item = RecordBatch>) -> Result<()> {
        let (Some(sender), Some(output)) = (&self.sender, &mut self.output) else {
            return internal_err!("a bucket's grouping was sent rows after its end");
        };
        // The grouping ends early only on an error, which it returns below.
        for batch in batches {
            let _ = sender.unbounded_send(Ok(batch));
        }
        while let Some(next) = output.next().now_or_never() {
            match next {
                Some(batch) => self.done.push(batch?),
                None => {
                    return Err(DataFusionError::Internal(
                        "a bucket's grouping ended before its rows did".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ends the bucket's rows: what it emitted, then the rest of its output.
    fn finish(mut self) -> Output {
        drop(self.sender.take());
        let done = stream::iter(self.done.into_iter().map(Ok));
        match self.output {
            Some(output) => done.chain(output).boxed(),
            None => done.boxed(),
        }
    }
}

/// A two-stage grouping that chooses, when it runs, between its two stages
/// as DataFusion planned them and one stage in buckets ([`one_stage`]), by
/// its input partitions' first [`BUCKET_FROM_ROWS`] rows ([`sample_all`]).
/// Orders in time order go one stage in buckets; orders written customer by
/// customer, which the partial stage reduces twentyfold, and groupings with
/// few groups keep the two stages, which then repartition states of far
/// fewer rows than the input's.
#[derive(Debug)]
pub struct AdaptiveGroupingExec {
    /// The final grouping over its repartition and partial grouping, over
    /// the input: the plan as DataFusion made it.
    planned: Arc<dyn ExecutionPlan>,
    /// The same over `tap`, and the one-stage grouping in buckets over it.
    two: Arc<dyn ExecutionPlan>,
    one: Arc<dyn ExecutionPlan>,
    /// Their input, and the leaf it is handed to them by.
    input: Arc<dyn ExecutionPlan>,
    tap: Arc<Handed>,
    /// The partial grouping's keys, on the input's rows.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Whether one stage (or two), once every input partition's first rows
    /// have been read: the first partition to run starts the reading.
    choice: Arc<std::sync::OnceLock<Choice>>,
    chosen: Arc<std::sync::OnceLock<bool>>,
}

type Choice = futures::future::Shared<BoxFuture<'static, Result<bool, Arc<DataFusionError>>>>;

impl AdaptiveGroupingExec {
    /// For a final grouping over a hash repartition of a partial one that
    /// can run as one stage in buckets.
    fn try_new(planned: Arc<dyn ExecutionPlan>) -> Result<Option<Self>> {
        let Some(agg) = planned.downcast_ref::<AggregateExec>() else {
            return Ok(None);
        };
        let Some(single) = one_stage(agg)?.filter(applies) else {
            return Ok(None);
        };
        let repartition = agg.input();
        let partial = repartition.children()[0];
        let Some(partial_agg) = partial.downcast_ref::<AggregateExec>() else {
            return Ok(None);
        };
        let input = partial.children()[0].clone();
        let tap = Arc::new(Handed::new(input.properties().clone()));
        let leaf = tap.clone() as Arc<dyn ExecutionPlan>;
        let partial = partial
            .clone()
            .replace_children(vec![leaf.clone()], recompute())?;
        let repartition = repartition
            .clone()
            .replace_children(vec![partial], recompute())?;
        let two = planned
            .clone()
            .replace_children(vec![repartition], recompute())?;
        let single = Arc::new(single) as Arc<dyn ExecutionPlan>;
        let repartition = single.children()[0]
            .clone()
            .replace_children(vec![leaf], recompute())?;
        let single = single.replace_children(vec![repartition], recompute())?;
        let one = Arc::new(BucketedAggregateExec::new(single)?) as Arc<dyn ExecutionPlan>;
        Ok(Some(Self {
            keys: bucket_keys(partial_agg.group_expr().input_exprs()),
            planned,
            two,
            one,
            input,
            tap,
            choice: Arc::default(),
            chosen: Arc::default(),
        }))
    }
}

impl DisplayAs for AdaptiveGroupingExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match self.chosen.get() {
            None => write!(f, "AdaptiveGroupingExec: two stages or one in buckets, ")?,
            Some(false) => write!(f, "AdaptiveGroupingExec: ran in two stages, ")?,
            Some(true) => write!(
                f,
                "AdaptiveGroupingExec: ran in one stage in buckets={BUCKETS}, "
            )?,
        }
        self.planned.fmt_as(t, f)
    }
}

impl ExecutionPlan for AdaptiveGroupingExec {
    fn name(&self) -> &str {
        "AdaptiveGroupingExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.two.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.planned.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let repartition = self.planned.children()[0];
        let partial = repartition.children()[0]
            .clone()
            .replace_children(children, recompute())?;
        let repartition = repartition
            .clone()
            .replace_children(vec![partial], recompute())?;
        let planned = self
            .planned
            .clone()
            .replace_children(vec![repartition], recompute())?;
        match Self::try_new(planned.clone())? {
            Some(adaptive) => Ok(Arc::new(adaptive)),
            None => Ok(planned),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (input, tap) = (self.input.clone(), self.tap.clone());
        let keys = self.keys.clone();
        let chosen = self.chosen.clone();
        let choice = self
            .choice
            .get_or_init(|| {
                let context = context.clone();
                async move {
                    let one_stage = sample_all(input, tap, context, keys).await?;
                    let _ = chosen.set(one_stage);
                    Ok(one_stage)
                }
                .map_err(Arc::new)
                .boxed()
                .shared()
            })
            .clone();
        let (one, two) = (self.one.clone(), self.two.clone());
        let run = async move {
            let one_stage = choice.await.map_err(DataFusionError::Shared)?;
            if one_stage {
                one.execute(partition, context)
            } else {
                two.execute(partition, context)
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream::once(run).try_flatten(),
        )))
    }

    /// The metrics of the grouping that ran.
    fn metrics(&self) -> Option<MetricsSet> {
        match self.chosen.get() {
            Some(true) => self.one.metrics(),
            _ => self.two.metrics(),
        }
    }
}

/// Reads every partition of `input` at once (an input may need all its
/// partitions read for any to go on: a join's shared build side), up to its
/// first [`BUCKET_FROM_ROWS`] rows: whether to group in one stage in
/// buckets, which most partitions whose first rows [`one_table`] would split
/// must say. Each partition is handed to `tap` with the rows read.
async fn sample_all(
    input: Arc<dyn ExecutionPlan>,
    tap: Arc<Handed>,
    context: Arc<TaskContext>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
) -> Result<bool> {
    let partitions = input.properties().partitioning.partition_count();
    let samples: Vec<_> = (0..partitions)
        .map(|partition| {
            let stream = input.execute(partition, context.clone());
            let keys = keys.clone();
            SpawnedTask::spawn(async move { sample(stream?, &keys).await })
        })
        .collect();
    let mut split = 0;
    for (partition, task) in samples.into_iter().enumerate() {
        let (one_stage, rest) = task
            .join()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        split += usize::from(one_stage);
        tap.hand(
            partition,
            RecordBatchStreamAdapter::new(input.schema(), rest),
        );
    }
    Ok(2 * split > partitions)
}

/// A partition's first rows: whether they would be split into buckets, and
/// the partition's stream with them put back in front.
async fn sample(
    mut stream: SendableRecordBatchStream,
    keys: &[Arc<dyn PhysicalExpr>],
) -> Result<(bool, BoxStream<'static, Result<RecordBatch>>)> {
    let (mut held, mut rows) = (vec![], 0);
    while rows < BUCKET_FROM_ROWS {
        let Some(batch) = stream.next().await.transpose()? else {
            break;
        };
        rows += batch.num_rows();
        held.push(batch);
    }
    let split = rows >= BUCKET_FROM_ROWS && !one_table(keys, &held)?;
    let rest = stream::iter(held.into_iter().map(Ok)).chain(stream).boxed();
    Ok((split, rest))
}

/// A leaf whose partitions' streams are handed to it before it runs: a
/// bucket's chunks, sent through a channel, or an input whose first rows
/// were read to choose a plan. It does not spend tokio's budget, as
/// DataFusion's sources do, so a bucket's grouping polled once after each
/// chunk takes it then.
struct Handed {
    properties: Arc<PlanProperties>,
    streams: Mutex<Vec<(usize, SendableRecordBatchStream)>>,
}

impl Handed {
    fn new(properties: Arc<PlanProperties>) -> Self {
        Self {
            properties,
            streams: Mutex::default(),
        }
    }

    /// One partition of rows of the schema given.
    fn single(schema: SchemaRef) -> Self {
        Self::new(Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )))
    }

    fn hand(&self, partition: usize, stream: impl RecordBatchStream + Send + 'static) {
        let mut streams = self.streams.lock().expect("streams");
        streams.push((partition, Box::pin(stream)));
    }
}

impl fmt::Debug for Handed {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Handed")
    }
}

impl DisplayAs for Handed {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Handed")
    }
}

impl ExecutionPlan for Handed {
    fn name(&self) -> &str {
        "Handed"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut streams = self.streams.lock().expect("streams");
        match streams.iter().position(|(p, _)| *p == partition) {
            Some(i) => Ok(streams.swap_remove(i).1),
            None => internal_err!("partition {partition} was not handed over, or was read twice"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use datafusion::arrow::array::{Array, AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A session as the local engine's without a memory limit, with 4
    /// partitions.
    fn session() -> SessionContext {
        let config = super::super::local_config().with_target_partitions(4);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(BucketedGroupings))
            .build();
        SessionContext::new_with_state(state)
    }

    /// `rows` rows in 4 partitions of batches of 8192: key by `keys`, value
    /// `i`, and a text `s` that is a number but for row `bad`.
    fn table(ctx: &SessionContext, rows: i64, keys: Keys, bad: Option<i64>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let batches: Vec<RecordBatch> = (0..rows)
            .step_by(8192)
            .map(|first| {
                let range = first..(first + 8192).min(rows);
                let k = StringArray::from_iter_values(range.clone().map(|i| key(i, keys)));
                let v = Int64Array::from_iter_values(range.clone());
                let s = StringArray::from_iter_values(range.map(|i| {
                    if Some(i) == bad {
                        "x".to_string()
                    } else {
                        i.to_string()
                    }
                }));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(v), Arc::new(s)])
                    .unwrap()
            })
            .collect();
        let mut partitions = vec![vec![]; 4];
        for (i, batch) in batches.into_iter().enumerate() {
            partitions[i % 4].push(batch);
        }
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
    }

    /// How rows are keyed.
    #[derive(Clone, Copy)]
    enum Keys {
        /// Row `i` has key `i * 7919 % n`: each key's rows spread over the
        /// whole input, as orders in time order are over customers.
        Scattered(i64),
        /// Row `i` has key `i / n`: each key's `n` rows one after another,
        /// as orders written customer by customer.
        InRuns(i64),
    }

    fn key(i: i64, keys: Keys) -> String {
        match keys {
            Keys::Scattered(n) => format!("c{}", i * 7919 % n),
            Keys::InRuns(n) => format!("c{}", i / n),
        }
    }

    /// Each key's count, sum, and largest value divisible by 3, added up
    /// row by row.
    fn by_hand(rows: i64, keys: Keys) -> BTreeMap<String, (i64, i64, Option<i64>)> {
        let mut expected: BTreeMap<String, (i64, i64, Option<i64>)> = BTreeMap::new();
        for i in 0..rows {
            let e = expected.entry(key(i, keys)).or_default();
            e.0 += 1;
            e.1 += i;
            if i % 3 == 0 {
                e.2 = e.2.max(Some(i));
            }
        }
        expected
    }

    const QUERY: &str = "SELECT k, COUNT(*) AS n, SUM(v) AS total, \
        MAX(v) FILTER (WHERE v % 3 = 0) AS largest FROM t GROUP BY k";

    /// How a query's grouping ran.
    #[derive(Debug, PartialEq)]
    enum Ran {
        /// As DataFusion planned it: a partial grouping, a final one.
        TwoStages,
        /// One stage, in this many groupings (one a partition: no buckets).
        OneStage(usize),
    }

    /// Runs `sql`; returns its rows by key, and how its grouping ran.
    async fn grouped(
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<(BTreeMap<String, (i64, i64, Option<i64>)>, Option<Ran>)> {
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let batches = collect(plan.clone(), ctx.task_ctx()).await?;
        let mut runs = None;
        plan.apply(|node| {
            if let Some(a) = node.downcast_ref::<AdaptiveGroupingExec>() {
                runs = Some(match a.chosen.get() {
                    Some(true) => {
                        let b = a.one.downcast_ref::<BucketedAggregateExec>().unwrap();
                        Ran::OneStage(b.runs.lock().unwrap().len())
                    }
                    _ => Ran::TwoStages,
                });
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let mut out = BTreeMap::new();
        for b in &batches {
            let k = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
            let k = k.as_string::<i32>();
            let n = b.column(1).as_primitive::<Int64Type>();
            let total = b.column(2).as_primitive::<Int64Type>();
            let top = b.column(3).as_primitive::<Int64Type>();
            for r in 0..b.num_rows() {
                let top = top.is_valid(r).then(|| top.value(r));
                let row = (n.value(r), total.value(r), top);
                assert!(
                    out.insert(k.value(r).to_string(), row).is_none(),
                    "a key twice"
                );
            }
        }
        Ok((out, runs))
    }

    #[tokio::test]
    async fn many_groups_are_grouped_in_buckets_to_the_same_totals() {
        // 600k rows, 150k a partition; 200k keys, 50k a partition, so a partition's
        // first 128k rows hold over 16k of them.
        let ctx = session();
        table(&ctx, 600_000, Keys::Scattered(200_000), None);
        let (out, runs) = grouped(&ctx, QUERY).await.unwrap();
        assert_eq!(out, by_hand(600_000, Keys::Scattered(200_000)));
        // 4 partitions of BUCKETS buckets each.
        assert_eq!(runs, Some(Ran::OneStage(4 * BUCKETS)));
    }

    #[tokio::test]
    async fn few_keys_runs_of_a_key_and_few_rows_are_grouped_in_one_table() {
        let ctx = session();
        table(&ctx, 600_000, Keys::Scattered(1000), None);
        let (out, runs) = grouped(&ctx, QUERY).await.unwrap();
        assert_eq!(out, by_hand(600_000, Keys::Scattered(1000)));
        assert_eq!(runs, Some(Ran::TwoStages));

        // 200k keys, but each key's 3 rows in a run.
        let ctx = session();
        table(&ctx, 600_000, Keys::InRuns(3), None);
        let (out, runs) = grouped(&ctx, QUERY).await.unwrap();
        assert_eq!(out, by_hand(600_000, Keys::InRuns(3)));
        assert_eq!(runs, Some(Ran::TwoStages));

        let ctx = session();
        table(&ctx, 20_000, Keys::Scattered(20_000), None);
        let (out, runs) = grouped(&ctx, QUERY).await.unwrap();
        assert_eq!(out, by_hand(20_000, Keys::Scattered(20_000)));
        assert_eq!(runs, Some(Ran::TwoStages));
    }

    #[tokio::test]
    async fn a_computed_key_is_grouped_on_with_the_column_bucketing_the_rows() {
        // Keys (k, v % 2): a key's 3 rows (i, i + 200k, i + 400k) have one
        // parity, so 200k groups of 3 rows; buckets are found by k alone.
        let ctx = session();
        table(&ctx, 600_000, Keys::Scattered(200_000), None);
        let sql = "SELECT k || '/' || CAST(parity AS VARCHAR) AS k, n, total, largest FROM \
            (SELECT k, v % 2 AS parity, COUNT(*) AS n, SUM(v) AS total, \
             MAX(v) FILTER (WHERE v % 3 = 0) AS largest FROM t GROUP BY k, v % 2)";
        let (out, runs) = grouped(&ctx, sql).await.unwrap();
        let mut expected: BTreeMap<String, (i64, i64, Option<i64>)> = BTreeMap::new();
        for i in 0..600_000 {
            let e = expected
                .entry(format!("{}/{}", key(i, Keys::Scattered(200_000)), i % 2))
                .or_default();
            e.0 += 1;
            e.1 += i;
            if i % 3 == 0 {
                e.2 = e.2.max(Some(i));
            }
        }
        assert_eq!(out, expected);
        assert_eq!(runs, Some(Ran::OneStage(4 * BUCKETS)));
    }

    #[tokio::test]
    async fn a_grouping_over_a_join_reads_all_its_partitions_to_choose() {
        // A join that builds one table for all partitions, whose partitions
        // each wait for all of them to have read the build side (DataFusion's
        // dynamic filter): a grouping that read one partition's first rows
        // alone would wait forever.
        let ctx = session();
        table(&ctx, 600_000, Keys::Scattered(200_000), None);
        let sql = "SELECT t.k, COUNT(*) AS n, SUM(v) AS total, \
            MAX(v) FILTER (WHERE v % 3 = 0) AS largest \
            FROM t JOIN (SELECT DISTINCT k FROM t) d ON d.k = t.k GROUP BY t.k";
        let ran = tokio::time::timeout(std::time::Duration::from_secs(120), grouped(&ctx, sql));
        let (out, runs) = ran.await.expect("no deadlock").unwrap();
        assert_eq!(out, by_hand(600_000, Keys::Scattered(200_000)));
        assert_eq!(runs, Some(Ran::OneStage(4 * BUCKETS)));
    }

    #[tokio::test]
    async fn an_error_in_a_bucket_is_the_querys_error() {
        let ctx = session();
        table(&ctx, 600_000, Keys::Scattered(200_000), Some(512_345));
        let sql = "SELECT k, COUNT(*) AS n, SUM(CAST(s AS BIGINT)) AS total, \
            MAX(v) AS largest FROM t GROUP BY k";
        let err = grouped(&ctx, sql).await.unwrap_err().to_string();
        assert!(err.contains("'x'"), "{err}");
    }

    #[tokio::test]
    async fn the_plan_shows_the_grouping_and_how_it_ran() {
        let ctx = session();
        table(&ctx, 1000, Keys::Scattered(10), None);
        let plan = ctx
            .sql(QUERY)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = |plan: &Arc<dyn ExecutionPlan>| {
            datafusion::physical_plan::displayable(plan.as_ref())
                .indent(false)
                .to_string()
        };
        let before = shown(&plan);
        assert!(
            before.contains("AdaptiveGroupingExec: two stages or one in buckets, AggregateExec: mode=FinalPartitioned, gby=[k@0 as k]"),
            "{before}"
        );
        // Its input is the partial grouping's: the table.
        assert!(!before.contains("mode=Partial"), "{before}");
        collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        let after = shown(&plan);
        assert!(
            after.contains("AdaptiveGroupingExec: ran in two stages, "),
            "{after}"
        );
    }
}
