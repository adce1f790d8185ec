//! The engine: the one place a DataFusion session is configured
//! ([`build_session`]), and running a plan's steps in dependency order,
//! independent steps concurrently; the sources are registered by
//! [`sources`].

pub mod buckets;
pub mod contract;
pub mod distributed;
pub mod local_time;
pub mod pool;
pub mod repeats;
pub mod sources;
pub mod unordered;
pub mod write;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

// Tasks that are aborted when dropped: an interrupted run stops its steps.
use datafusion::common::runtime::SpawnedTask;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use url::Url;

use crate::checks::{self, CheckResult};
use crate::error::{Error, Result, with_causes};
use crate::plan::{EngineConfig, EngineKind, OutputPlan, Plan, StepPlan};
use crate::progress::Observer;
use crate::spec::Materialize;
use crate::storage::{ensure_store, redact};
use pool::ActiveFairPool;
use sources::{SourceError, register_source};
pub use sources::{SourceResult, register_each_source, register_sources};
use write::{OutputJob, WrittenOutput};

/// The rows of a sort's partition, up to this size, are sorted as one batch
/// on the local engine without a memory limit. DataFusion's default (1 MB)
/// sorts each 8k-row batch and merges the hundreds of runs: with it
/// `rfm_scores_all` (six sorts of 1.9M customers at L) took 2.7 s, in one
/// batch each 1.9–2.1 s (at 500k customers 0.60–0.81 s, now 0.40–0.43 s;
/// bench/RESULTS.md, session 31). Under a memory limit DataFusion's
/// default stays: the rows are held twice while they are joined into one
/// batch, and the pool would not know. 256 MiB also keeps a text column's
/// joined offsets (32-bit, up to 2 GiB) from overflowing.
const SORT_IN_PLACE_BYTES: usize = 256 * 1024 * 1024;

/// Builds the DataFusion session every command uses: local, or a client of a
/// Ballista cluster with the same configuration.
pub async fn build_session(cfg: &EngineConfig) -> Result<SessionContext> {
    let base = match &cfg.kind {
        EngineKind::Local => local_config(),
        // Ballista's own defaults: it turns off what its executors cannot
        // yet do (view types across its IPC, hash joins that cannot spill).
        EngineKind::Ballista { .. } => distributed::session_config(),
    };
    let mut config = base
        .with_information_schema(false)
        // Object stores are built on first use from these settings.
        .with_extension(Arc::new(cfg.storage.clone()));
    // Errors on a step's SQL say where in it they are (a column misspelt,
    // a function unknown): the line is named in the step's file.
    config.options_mut().sql_parser.collect_spans = true;
    if let Some(n) = cfg.target_partitions {
        config = config.with_target_partitions(n);
    }
    // Two departures from DataFusion's ways are for the local engine
    // without a memory limit only: sorts in one batch (here) and groupings
    // in buckets (below); each says why not under a limit.
    let unlimited_local = cfg.memory_limit.is_none() && !cfg.kind.is_distributed();
    if let Some(limit) = cfg.memory_limit {
        // Each sort keeps this much back for merging its spill files (10 MB
        // by default); under a small pool that alone would exhaust it.
        config.options_mut().execution.sort_spill_reservation_bytes =
            (limit / 16).min(10 * 1024 * 1024);
    }
    if unlimited_local {
        config.options_mut().execution.sort_in_place_threshold_bytes = SORT_IN_PLACE_BYTES;
    }
    for (key, value) in &cfg.options {
        if key.starts_with(distributed::OPTION_PREFIX) && !cfg.kind.is_distributed() {
            // Ballista's settings, for when the same file runs on a cluster.
            continue;
        }
        config
            .options_mut()
            .set(key, value)
            .map_err(|e| Error::config(format!("`engine.options.{key}`: {e}")))?;
    }
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = cfg.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(ActiveFairPool::new(limit)));
    }
    if let Some(dir) = &cfg.spill_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::config(format!(
                "cannot create spill directory `{}`: {e}",
                dir.display()
            ))
        })?;
        runtime = runtime.with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
        );
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| Error::config(format!("cannot set up the query engine: {e}")))?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    match &cfg.kind {
        EngineKind::Local => {
            // Groupings with many groups run bucket by bucket (a cluster
            // cannot ship that operator). Not under a memory limit: the pool
            // would be shared by `buckets::BUCKETS` times the groupings,
            // each spilling on that fraction of its share.
            let state = if unlimited_local {
                SessionStateBuilder::new_from_existing(state)
                    .with_physical_optimizer_rule(Arc::new(buckets::BucketedGroupings))
                    .build()
            } else {
                state
            };
            let ctx = SessionContext::new_with_state(state);
            ctx.register_udaf(repeats::udaf());
            Ok(ctx)
        }
        EngineKind::Ballista { url } => {
            // Filters on a zoned source's converted timestamps, widened onto
            // the stored instants before the plan is sent (see `local_time`).
            let widen = Arc::new(local_time::WidenConverted::default());
            let state = SessionStateBuilder::new_from_existing(state)
                .with_optimizer_rule(widen.clone())
                .build();
            let ctx = distributed::connect(url, state).await?;
            ctx.state_ref().write().config_mut().set_extension(widen);
            Ok(ctx)
        }
    }
}

/// The local engine's settings beyond DataFusion's defaults.
fn local_config() -> SessionConfig {
    // Two partitions per core (DataFusion's default is one): smaller hash
    // tables per partition, and a core that finishes its share early picks up
    // another. The bundled pipeline at 500k customers on 2 cores: 3.27 s
    // against 3.36 s (8 runs each); 8 partitions were no faster than 4.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = SessionConfig::new().with_target_partitions(2 * cores);
    // A join whose smaller side is a per-customer table of up to 32 MiB
    // builds one hash table that every partition probes, rather than
    // repartitioning the orders on the join key: the orders stream straight
    // from the scan. (DataFusion's defaults switch at 1 MB / 128k rows.)
    // Larger, one table probed from every partition costs more than moving
    // the orders: `customer_months`' join on 1.9M customers' bounds (44 MB)
    // took 6.29–6.54 s with one table, 5.68–5.94 s repartitioned
    // (bench/RESULTS.md, session 32); at 500k customers (11 MB) one table.
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.hash_join_single_partition_threshold = 32 * 1024 * 1024;
    optimizer.hash_join_single_partition_threshold_rows = 4_000_000;
    // A partial aggregation that keeps more than 30% of its input rows (orders
    // grouped per customer and month, say) is dropped after its first 100k
    // rows: the final aggregation would redo nearly all of its work.
    // DataFusion's default gives up only above 80%.
    config
        .options_mut()
        .execution
        .skip_partial_aggregation_probe_ratio_threshold = 0.3;
    config
}

/// What steps may do: queries only. No DDL (`CREATE EXTERNAL TABLE` on an
/// arbitrary path), no DML (`COPY … TO`), no `SET`.
pub fn step_sql_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans a step's, a check's or `show`'s query before anything runs: its
/// logical plan, then that plan optimized, which is where DataFusion works
/// out constant expressions. So a literal that is no date
/// (`order_ts >= '2026-13-01'`) is an error of the SQL found by `validate`
/// and before a run's first step, not a failure of the step once the steps
/// before it have computed. (An error only evaluating would raise, such as
/// `1 / 0`, DataFusion leaves to run time, where the row may never come.)
pub async fn plan_query(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<datafusion::prelude::DataFrame> {
    use datafusion::error::DataFusionError;
    let df = ctx.sql_with_options(sql, step_sql_options()).await?;
    // Said as what it is to the one who wrote the SQL, not as the rule.
    let constants = "Optimizer rule 'simplify_expressions' failed";
    (ctx.state().optimize(df.logical_plan())).map_err(|e| match e {
        DataFusionError::Context(rule, cause) if rule == constants => {
            DataFusionError::Context("a constant expression cannot be worked out".into(), cause)
        }
        other => other,
    })?;
    Ok(df)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Success,
    Error,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: String,
    pub status: StepStatus,
    pub materialize: Materialize,
    /// Rows produced, where the step was computed (views are computed by
    /// the steps and outputs that read them).
    pub rows: Option<u64>,
    pub elapsed_seconds: f64,
    pub message: Option<String>,
}

impl StepResult {
    pub(crate) fn of(
        step: &StepPlan,
        status: StepStatus,
        rows: Option<u64>,
        message: Option<String>,
    ) -> Self {
        StepResult {
            name: step.name.clone(),
            status,
            materialize: step.materialize,
            rows,
            elapsed_seconds: 0.0,
            message,
        }
    }

    fn skipped(step: &StepPlan, reason: String) -> Self {
        Self::of(step, StepStatus::Skipped, None, Some(reason))
    }
}

/// Runs the plan's steps. Independent steps run concurrently; a step whose
/// input failed, or reads a source in `unusable_sources` (source → why), is
/// skipped. A step's checks run as soon as it is computed; an error-level
/// failure fails the step. A step's outputs (`outputs`) are written to
/// staging as soon as it has succeeded, while later steps run; writing counts
/// against `max_parallel_steps` like a step, and a failure there fails the
/// step. A step's table is dropped once nothing left to run reads it (no
/// step or step check still to run, no output still to write) unless it is
/// in `keep` (the tables the reports read), so that
/// later steps find its memory. Returns one result per step, in plan order,
/// whatever happened.
pub async fn run_steps(
    ctx: &SessionContext,
    plan: &Plan,
    unusable_sources: &[(String, String)],
    scratch_root: &Url,
    outputs: &[OutputJob],
    keep: &HashSet<String>,
    observer: &dyn Observer,
) -> StepsOutcome {
    /// What one task of the run gave.
    enum Done {
        Step(Box<StepPlan>, Result<StepOutcome, String>),
        Output(String, Result<WrittenOutput, String>),
    }
    type StepOutcome = (Result<Option<u64>>, Vec<CheckResult>, f64);

    let mut results: HashMap<String, StepResult> = HashMap::new();
    let mut check_results: Vec<CheckResult> = Vec::new();
    let mut written: Vec<WrittenOutput> = Vec::new();
    for step in &plan.deselected {
        results.insert(
            step.name.clone(),
            StepResult::skipped(step, "not selected by `--select`".into()),
        );
    }
    // Steps at fault, left out of a run that does not need them.
    let held_back = (plan.held_back.iter()).map(|h| StepResult {
        name: h.name.clone(),
        status: StepStatus::Skipped,
        materialize: h.materialize,
        rows: None,
        elapsed_seconds: 0.0,
        message: Some(h.note()),
    });
    let profile = plan.engine.profile;
    let limit = plan.engine.step_timeout;
    let mut started: Vec<bool> = vec![false; plan.steps.len()];
    // Outputs of steps that succeeded, waiting for a free slot.
    let mut pending_outputs: VecDeque<OutputJob> = VecDeque::new();
    let mut releaser = Releaser::new(plan, outputs, keep);
    let mut running = FuturesUnordered::new();
    loop {
        // Outputs of finished steps start first, so that the last step is
        // not followed by a queue of writes.
        while running.len() < plan.engine.max_parallel_steps
            && let Some(job) = pending_outputs.pop_front()
        {
            let ctx = ctx.clone();
            let step = job.output.step.clone();
            let task = SpawnedTask::spawn(async move {
                within(limit, write::write_output(&ctx, &job, profile))
                    .await
                    .unwrap_or_else(|late| Err(write::output_failed(&job.output, late)))
            });
            running.push(
                async move {
                    let done = match task.await {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(e) => Err(format!(
                            "step `{step}` stopped abnormally writing its output: {e}"
                        )),
                    };
                    Done::Output(step, done)
                }
                .boxed(),
            );
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if started[i] {
                continue;
            }
            if running.len() >= plan.engine.max_parallel_steps {
                break;
            }
            let blocked = step.depends_on.iter().find_map(|d| match results.get(d) {
                Some(r) if r.status != StepStatus::Success => Some(format!(
                    "upstream step `{d}` {}",
                    if r.status == StepStatus::Error {
                        "failed"
                    } else {
                        "was skipped"
                    }
                )),
                _ => None,
            });
            let absent = step.reads_sources.iter().find_map(|s| {
                unusable_sources
                    .iter()
                    .find(|(name, _)| name == s)
                    .map(|(_, why)| why.clone())
            });
            if let Some(reason) = blocked.or(absent) {
                started[i] = true;
                observer.step_skipped(&step.name, &reason);
                results.insert(step.name.clone(), StepResult::skipped(step, reason));
                continue;
            }
            let ready = step.depends_on.iter().all(|d| {
                results
                    .get(d)
                    .is_some_and(|r| r.status == StepStatus::Success)
            });
            if ready {
                started[i] = true;
                observer.step_started(&step.name);
                let ctx = ctx.clone();
                let step = step.clone();
                let scratch = scratch_root.clone();
                let for_task = step.clone();
                let step_outputs: Vec<OutputPlan> = outputs
                    .iter()
                    .filter(|job| job.output.step == step.name)
                    .map(|job| job.output.clone())
                    .collect();
                let task = SpawnedTask::spawn(async move {
                    let t0 = Instant::now();
                    let computed = within(limit, async {
                        let outcome =
                            run_step(&ctx, &for_task, &step_outputs, &scratch, profile).await;
                        let checks = match &outcome {
                            // The step's own limit covers its checks.
                            Ok(_) => checks::run_all(&ctx, &for_task.checks, 1, None).await,
                            Err(_) => Vec::new(),
                        };
                        (outcome, checks)
                    })
                    .await;
                    let (outcome, checks) = computed.unwrap_or_else(|late| {
                        let e = Error::Step {
                            step: for_task.name.clone(),
                            message: late,
                        };
                        (Err(e), Vec::new())
                    });
                    (outcome, checks, t0.elapsed().as_secs_f64())
                });
                running.push(
                    async move {
                        // A panic is a bug; the step still gets a result.
                        let done = task.await.map_err(|e| format!("stopped abnormally: {e}"));
                        Done::Step(Box::new(step), done)
                    }
                    .boxed(),
                );
            }
        }
        releaser.release(ctx, &results, &written);
        let Some(done) = running.next().await else {
            break;
        };
        let (step, joined) = match done {
            Done::Step(step, joined) => (*step, joined),
            Done::Output(_, Ok(w)) => {
                written.push(w);
                continue;
            }
            Done::Output(step, Err(message)) => {
                // The step is failed after the fact; steps that read it may
                // already have run, but the run fails and nothing is published.
                if let Some(r) = results.get_mut(&step) {
                    r.status = StepStatus::Error;
                    r.rows = None;
                    r.message = Some(message);
                    observer.step_finished(r);
                }
                continue;
            }
        };
        let (outcome, checks, elapsed) = joined.unwrap_or_else(|message| {
            let e = Error::Step {
                step: step.name.clone(),
                message,
            };
            (Err(e), Vec::new(), 0.0)
        });
        let blocking: Vec<&CheckResult> = checks.iter().filter(|c| c.blocks()).collect();
        let outcome = match outcome {
            Ok(_) if !blocking.is_empty() => Err(Error::Step {
                step: step.name.clone(),
                message: blocking
                    .iter()
                    .map(|c| c.placed_message())
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            other => other,
        };
        check_results.extend(checks);
        let result = StepResult {
            elapsed_seconds: elapsed,
            ..match outcome {
                Ok(rows) => {
                    pending_outputs.extend(
                        outputs
                            .iter()
                            .filter(|j| j.output.step == step.name)
                            .cloned(),
                    );
                    StepResult::of(&step, StepStatus::Success, rows, None)
                }
                Err(e) => StepResult::of(&step, StepStatus::Error, None, Some(e.to_string())),
            }
        };
        observer.step_finished(&result);
        results.insert(step.name.clone(), result);
    }
    let mut ordered: Vec<StepResult> = plan
        .steps
        .iter()
        .filter_map(|s| results.remove(&s.name))
        .collect();
    ordered.extend(
        plan.deselected
            .iter()
            .filter_map(|step| results.remove(&step.name)),
    );
    ordered.extend(held_back);
    written.sort_by_key(|w| w.index);
    StepsOutcome {
        steps: ordered,
        checks: check_results,
        written,
    }
}

/// Drops the tables of finished steps that nothing left to run reads, so
/// that the memory of a large intermediate (the customers' months at L hold
/// 0.7 GB) is there for the steps after its last reader. A view keeps the
/// tables it reads alive itself (its plan holds them), so dropping a name
/// never breaks a reader that is already planned.
struct Releaser<'a> {
    plan: &'a Plan,
    outputs: &'a [OutputJob],
    keep: &'a HashSet<String>,
    /// For each step, the steps whose SQL or checks read it.
    readers: HashMap<&'a str, Vec<&'a str>>,
    released: HashSet<&'a str>,
}

impl<'a> Releaser<'a> {
    fn new(plan: &'a Plan, outputs: &'a [OutputJob], keep: &'a HashSet<String>) -> Self {
        let mut readers: HashMap<&str, Vec<&str>> = HashMap::new();
        for step in &plan.steps {
            let check_reads = step.checks.iter().flat_map(|c| c.reads.iter());
            for table in step.depends_on.iter().chain(check_reads) {
                readers
                    .entry(table.as_str())
                    .or_default()
                    .push(step.name.as_str());
            }
        }
        Self {
            plan,
            outputs,
            keep,
            readers,
            released: HashSet::new(),
        }
    }

    fn release(
        &mut self,
        ctx: &SessionContext,
        results: &HashMap<String, StepResult>,
        written: &[WrittenOutput],
    ) {
        for step in &self.plan.steps {
            let name = step.name.as_str();
            if self.released.contains(name) || self.keep.contains(name) {
                continue;
            }
            let succeeded = results
                .get(name)
                .is_some_and(|r| r.status == StepStatus::Success);
            // An output that failed fails its step, which is then kept: so
            // an output of a step that succeeded is written or still to come.
            let still_read = self
                .outputs
                .iter()
                .any(|j| j.output.step == name && !written.iter().any(|w| w.index == j.index))
                || self
                    .readers
                    .get(name)
                    .is_some_and(|r| r.iter().any(|s| !results.contains_key(*s)));
            if succeeded && !still_read {
                match ctx.deregister_table(name) {
                    Ok(_) => tracing::debug!(step = name, "table dropped, nothing left reads it"),
                    Err(e) => tracing::debug!(step = name, "table not dropped: {e}"),
                }
                self.released.insert(name);
            }
        }
    }
}

/// What running the steps gave: a result per step and per check, and the
/// outputs written to staging (in plan order).
#[derive(Debug, Clone)]
pub struct StepsOutcome {
    pub steps: Vec<StepResult>,
    pub checks: Vec<CheckResult>,
    pub written: Vec<WrittenOutput>,
}

/// Runs `work` within `limit` (`engine.step_timeout`; no limit when `None`).
/// Work that does not finish in time is dropped, which stops its queries
/// (on a Ballista cluster, their jobs are cancelled), and the error says so.
/// The queries it sends to a cluster are kept meanwhile, for a run stopped
/// by a signal to cancel ([`distributed::cancel_running`]).
pub async fn within<T>(
    limit: Option<std::time::Duration>,
    work: impl std::future::Future<Output = T>,
) -> std::result::Result<T, String> {
    if limit.is_none() && distributed::Sent::kept() {
        // A step's own checks: their queries are the step's.
        return Ok(work.await);
    }
    let sent = distributed::Sent::started();
    let done = match limit {
        None => Ok(sent.keep(work).await),
        Some(limit) => match tokio::time::timeout(limit, sent.keep(work)).await {
            Ok(done) => Ok(done),
            Err(_) => Err(format!(
                "did not finish within {limit:?} (`engine.step_timeout`){}; raise the limit if \
                 the data grew, or on a Ballista cluster look in the scheduler's log for a job \
                 that stalled",
                sent.cancel().await
            )),
        },
    };
    sent.finished();
    done
}

/// Logs a computed plan with each operator's metrics (rows, time, spills),
/// for `--profile`.
pub fn log_profile(what: &str, plan: &dyn datafusion::physical_plan::ExecutionPlan) {
    let shown = datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan)
        .indent(false)
        .to_string();
    tracing::info!("profile of `{what}`:\n{shown}");
}

/// Advice to add to an error that ran out of the memory pool.
pub fn memory_hint(message: &str) -> &'static str {
    if message.contains("Resources exhausted") {
        "; the query needs more memory than `engine.memory_limit` allows: raise the limit, or give `engine.spill_dir` more room"
    } else {
        ""
    }
}

/// Whether a query ends in an ORDER BY (possibly under a projection or a
/// limit): its rows then have an order that readers rely on.
fn declares_order(plan: &datafusion::logical_expr::LogicalPlan) -> bool {
    use datafusion::logical_expr::LogicalPlan;
    match plan {
        LogicalPlan::Sort(_) => true,
        LogicalPlan::Projection(p) => declares_order(&p.input),
        LogicalPlan::Limit(l) => declares_order(&l.input),
        _ => false,
    }
}

/// Plans one step and keeps its result as the step asks. Returns the row
/// count where the step was computed. The `sort_by` of its `outputs` is
/// checked against the planned columns first, so that a wrong key stops the
/// step before it computes anything.
async fn run_step(
    ctx: &SessionContext,
    step: &StepPlan,
    outputs: &[OutputPlan],
    scratch_root: &Url,
    profile: bool,
) -> Result<Option<u64>> {
    let hints = |message: &str| {
        format!(
            "{}{}",
            memory_hint(message),
            distributed::function_hint(distributed::on_cluster(ctx), message),
        )
    };
    let fail_with = |message: String| Error::Step {
        step: step.name.clone(),
        message: format!("{message}{} ({})", hints(&message), step.sql_source()),
    };
    let fail = |e: &(dyn std::error::Error + 'static)| fail_with(with_causes(e));
    let df =
        (ctx.sql_with_options(&step.sql, step_sql_options()).await).map_err(|e| Error::Step {
            step: step.name.clone(),
            message: step.sql_error(&e, &hints(&e.to_string())),
        })?;
    for out in outputs {
        write::check_sort_by(&df, out)
            .map_err(|m| fail_with(format!("output `{}`: {m}", redact(out.url.as_str()))))?;
    }
    match step.materialize {
        Materialize::View => {
            ctx.register_table(step.name.as_str(), df.into_view())
                .map_err(|e| fail(&e))?;
            Ok(None)
        }
        Materialize::Memory => {
            let physical = df.create_physical_plan().await.map_err(|e| fail(&e))?;
            // The batches' own schema: where the logical plan's differs (a
            // UNION of a text literal and a VARCHAR is Utf8 there, Utf8View
            // once executed), the batches are what the table holds.
            let schema = physical.schema();
            let partitions =
                datafusion::physical_plan::collect_partitioned(physical.clone(), ctx.task_ctx())
                    .await
                    .map_err(|e| fail(&e))?;
            if profile {
                log_profile(&step.name, physical.as_ref());
            }
            tracing::debug!(
                step = step.name.as_str(),
                partitions = partitions.len(),
                "materialized in memory"
            );
            let rows = partitions
                .iter()
                .flatten()
                .map(|b| b.num_rows() as u64)
                .sum();
            let table = MemTable::try_new(schema, partitions).map_err(|e| fail(&e))?;
            ctx.register_table(step.name.as_str(), Arc::new(table))
                .map_err(|e| fail(&e))?;
            Ok(Some(rows))
        }
        Materialize::Parquet => {
            let dir = scratch_root
                .join(&format!("{}/", step.name))
                .map_err(|e| fail(&e))?;
            ensure_store(ctx, &dir)?;
            let rows = if declares_order(df.logical_plan()) {
                // A step with an ORDER BY is written as one file, in order,
                // from the result stream: written in parallel (by partition,
                // or by Ballista's executors) its order would be lost.
                let file = dir.join("part-0.parquet").map_err(|e| fail(&e))?;
                let (store, path) = crate::storage::store_for(ctx, &file)?;
                let stream = df.execute_stream().await.map_err(|e| fail(&e))?;
                write::write_stream(
                    stream,
                    store,
                    &path,
                    crate::spec::OutputFormat::Parquet,
                    &[],
                )
                .await
                .map_err(|e| fail_with(e.into_message()))?
                .rows
            } else {
                let written = df
                    .write_parquet(dir.as_str(), DataFrameWriteOptions::new(), None)
                    .await
                    .map_err(|e| fail(&e))?;
                write::count_from_write_result(&written)
            };
            // Files this run wrote, declaring no order: DataFusion's own
            // Parquet format, which a cluster can ship.
            register_source(ctx, &step.name, &dir, &[], None, false)
                .await
                .map_err(|e| match e {
                    SourceError::NoFiles => Error::Storage {
                        url: redact(dir.as_str()),
                        message: format!("step `{}` wrote no Parquet files", step.name),
                    },
                    SourceError::NoBucket(message)
                    | SourceError::NoStore(message)
                    | SourceError::Other(message) => Error::Storage {
                        url: redact(dir.as_str()),
                        message,
                    },
                })?;
            Ok(Some(rows))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sort_in_place_bytes(cfg: EngineConfig) -> usize {
        let ctx = build_session(&cfg).await.expect("session");
        ctx.copied_config()
            .options()
            .execution
            .sort_in_place_threshold_bytes
    }

    #[tokio::test]
    async fn sorts_run_in_one_batch_only_on_the_local_engine_without_a_memory_limit() {
        let datafusion = SessionConfig::new()
            .options()
            .execution
            .sort_in_place_threshold_bytes;
        assert_eq!(
            datafusion,
            1024 * 1024,
            "DataFusion's default, which we depart from"
        );
        assert_eq!(
            sort_in_place_bytes(EngineConfig::default()).await,
            256 * 1024 * 1024
        );
        // Under a limit the pool must see what a sort holds: DataFusion's way.
        let limited = EngineConfig {
            memory_limit: Some(64 * 1024 * 1024),
            ..EngineConfig::default()
        };
        assert_eq!(sort_in_place_bytes(limited).await, datafusion);
        // The pipeline's `engine.options` have the last word.
        let chosen = EngineConfig {
            options: vec![(
                "datafusion.execution.sort_in_place_threshold_bytes".into(),
                "4096".into(),
            )],
            ..EngineConfig::default()
        };
        assert_eq!(sort_in_place_bytes(chosen).await, 4096);
    }
}
