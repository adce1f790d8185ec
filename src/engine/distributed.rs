//! Running on an Apache DataFusion Ballista cluster (build feature
//! `distributed`). The session keeps every setting of [`super::build_session`]
//! and gains Ballista's query planner: each query is sent to the scheduler and
//! its results stream back. What executors read must be on storage they can
//! reach; the plan turns `materialize: memory` into `parquet` for this. The
//! session also loses the functions executors lack, so that steps calling
//! them fail when planned ([`forget_functions_executors_lack`]), and keeps
//! each step's jobs, so that a step given up on, or a run stopped by a
//! signal, has them cancelled ([`Sent`]).

use std::sync::{Arc, Mutex};

use datafusion::execution::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};

#[cfg(feature = "distributed")]
pub async fn connect(url: &str, state: SessionState) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    let unreachable = |why: String| {
        Error::config(format!(
            "cannot reach the Ballista scheduler `{url}`: {why}; check that it runs and the address"
        ))
    };
    let ctx = if url == crate::plan::STANDALONE {
        SessionContext::standalone_with_state(state).await
    } else {
        reach(url).await.map_err(unreachable)?;
        SessionContext::remote_with_state(url, state).await
    };
    let ctx = ctx.map_err(|e| unreachable(crate::error::with_causes(&e)))?;
    // Ballista's planner, wrapped to keep the queries each step sends.
    let state = ctx.state();
    let planner = Arc::new(jobs::Keeping(state.query_planner().clone()));
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_query_planner(planner)
        .build();
    let ctx = SessionContext::new_with_state(state);
    forget_functions_executors_lack(&ctx);
    Ok(ctx)
}

/// Opens and closes a connection to the scheduler. Ballista connects only
/// when the first query is sent; without this, a wrong address or a
/// scheduler that is down shows up as a transport error in every step.
#[cfg(feature = "distributed")]
async fn reach(url: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host().ok_or("the URL names no host")?;
    // Ballista's default scheduler port, as its own client assumes.
    let address = format!("{host}:{}", parsed.port().unwrap_or(50050));
    let wait = std::time::Duration::from_secs(10);
    match tokio::time::timeout(wait, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!("{address}: no answer within {} s", wait.as_secs())),
    }
}

/// The prefix of Ballista's own settings in `engine.options`.
pub const OPTION_PREFIX: &str = "ballista.";

/// Ballista's session defaults, on which the engine's settings go, with its
/// adaptive planner off (`ballista.planner.adaptive.enabled: true` in
/// `engine.options` turns it back on), and its client asking the scheduler
/// for each job's status (`ballista.client.pull: false` turns that off).
///
/// Ballista 55's adaptive planner, on by default, returned wrong answers and
/// hung on UNION ALL: each branch of a UNION ALL that ends in one partition
/// (a window over all rows, an ORDER BY) came back two or three times when
/// the executor was busy with other steps, and an ORDER BY over a UNION ALL
/// failed its plan check on the scheduler, which then waited forever. Its
/// static planner answers both right (`tests/distributed.rs`).
///
/// Asking for the status (pull) instead of having it pushed is how the
/// client learns a job's id as soon as the job is accepted; pushed, the id
/// comes with the scheduler's first report of progress, when a task ends, so
/// a step given up on or a run stopped by a signal could not cancel a job
/// whose tasks had not yet ended ([`Sent::cancel`]). Asking costs up to
/// 50 ms a query: 2 s of a 40 s bundled run on `--engine standalone` with
/// 1,000 customers, little beside the seconds a query takes on a cluster.
#[cfg(feature = "distributed")]
pub fn session_config() -> SessionConfig {
    use ballista::prelude::SessionConfigExt;
    SessionConfig::new_with_ballista()
        .with_ballista_adaptive_query_planner(false)
        .set_bool("ballista.client.pull", true)
}

#[cfg(not(feature = "distributed"))]
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
}

/// Checks `key: value` of `engine.options` against the settings the engine
/// knows: DataFusion's, and Ballista's in a build with Ballista. Without it,
/// a `ballista.` key is taken unchecked: it applies only on a cluster, which
/// that build refuses to run on anyway.
pub fn check_option(key: &str, value: &str) -> std::result::Result<(), String> {
    if !cfg!(feature = "distributed") && key.starts_with(OPTION_PREFIX) {
        return Ok(());
    }
    let mut probe = session_config();
    probe
        .options_mut()
        .set(key, value)
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
}

#[cfg(not(feature = "distributed"))]
pub async fn connect(url: &str, _state: SessionState) -> Result<SessionContext> {
    Err(Error::config(format!(
        "engine `{url}`: this build of loyalty cannot run on Ballista: build it with `cargo build --release --features distributed`"
    )))
}

/// Removes from `ctx` the functions that Ballista's released executors do
/// not have, so that a step calling one fails when it is planned, naming the
/// step, instead of on the cluster with "task could not be prepared or was
/// rejected by executor". They have DataFusion's built-in functions except
/// the array functions (`range`, `array_*`, `make_array`, …), and none of
/// the functions loyalty adds to the local engine (`count_repeats`).
#[cfg(feature = "distributed")]
pub fn forget_functions_executors_lack(ctx: &SessionContext) {
    let executors = ballista_core::registry::BallistaFunctionRegistry::default();
    let state = ctx.state();
    for name in lacking(
        state.scalar_functions().values().map(|f| f.name()),
        &executors.scalar_functions,
    ) {
        ctx.deregister_udf(&name);
    }
    for name in lacking(
        state.aggregate_functions().values().map(|f| f.name()),
        &executors.aggregate_functions,
    ) {
        ctx.deregister_udaf(&name);
    }
    for name in lacking(
        state.window_functions().values().map(|f| f.name()),
        &executors.window_functions,
    ) {
        ctx.deregister_udwf(&name);
    }
}

/// The names in `ours` that `theirs` does not have, each once. By each
/// function's own name: deregistering an alias would drop the function.
#[cfg(feature = "distributed")]
fn lacking<'a, F>(
    ours: impl Iterator<Item = &'a str>,
    theirs: &std::collections::HashMap<String, F>,
) -> std::collections::BTreeSet<String> {
    ours.filter(|name| !theirs.contains_key(*name))
        .map(str::to_string)
        .collect()
}

/// Advice to add to an error about an unknown function, for a pipeline that
/// runs on a Ballista cluster.
pub fn function_hint(on_cluster: bool, message: &str) -> &'static str {
    if on_cluster && message.contains("Invalid function") {
        "; Ballista's executors do not have DataFusion's array functions (`range`, `array_*`, \
         `make_array`, …) nor loyalty's `count_repeats`: write the step without them"
    } else {
        ""
    }
}

/// Whether `ctx` sends its queries to a Ballista cluster.
pub fn on_cluster(ctx: &SessionContext) -> bool {
    #[cfg(feature = "distributed")]
    {
        ctx.copied_config()
            .options()
            .extensions
            .get::<ballista_core::config::BallistaConfig>()
            .is_some()
    }
    #[cfg(not(feature = "distributed"))]
    {
        let _ = ctx;
        false
    }
}

#[cfg(not(feature = "distributed"))]
pub fn forget_functions_executors_lack(ctx: &SessionContext) {
    ctx.deregister_udaf(super::repeats::NAME);
}

/// The queries a step (or an output's write) sent to the cluster, kept so
/// that when the step is given up on (`engine.step_timeout`), or the run is
/// stopped by a signal, their jobs can be cancelled. Ballista 55's client
/// stops waiting when its query is dropped, but leaves the job running on
/// the cluster, where it holds executors' task slots that later steps, and
/// later runs, wait for.
#[derive(Clone, Default)]
pub struct Sent(Arc<Mutex<Vec<Arc<dyn ExecutionPlan>>>>);

tokio::task_local! {
    /// The queries of the step this task runs.
    static SENT: Sent;
}

/// The [`Sent`] of every step running now, so that a run stopped by a
/// signal can cancel their jobs ([`cancel_running`]).
static RUNNING: Mutex<Vec<Sent>> = Mutex::new(Vec::new());

impl Sent {
    /// A new list, among those [`cancel_running`] cancels until
    /// [`Self::finished`] is called.
    pub fn started() -> Sent {
        let sent = Sent::default();
        if let Ok(mut running) = RUNNING.lock() {
            running.push(sent.clone());
        }
        sent
    }

    /// Leaves the running ones: the step ended, or its jobs were cancelled.
    pub fn finished(&self) {
        if let Ok(mut running) = RUNNING.lock() {
            running.retain(|s| !Arc::ptr_eq(&s.0, &self.0));
        }
    }

    /// Whether this task keeps its queries already (it runs within a
    /// [`Self::keep`]).
    pub fn kept() -> bool {
        SENT.try_with(|_| ()).is_ok()
    }

    /// Runs `work`, keeping the queries it sends to a cluster.
    pub async fn keep<F: std::future::Future>(&self, work: F) -> F::Output {
        SENT.scope(self.clone(), work).await
    }

    /// Cancels the jobs of the kept queries that are still queued or running
    /// on the scheduler, and says what was done, for the error of a step
    /// given up on ("" when nothing was sent to a cluster).
    pub async fn cancel(&self) -> String {
        let sent: Vec<_> = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        if sent.is_empty() {
            return String::new();
        }
        #[cfg(feature = "distributed")]
        {
            jobs::cancel(&sent).await
        }
        #[cfg(not(feature = "distributed"))]
        String::new()
    }
}

/// Cancels the jobs of every step running now (see [`Sent::cancel`]).
pub async fn cancel_running() -> String {
    let running: Vec<Sent> = RUNNING
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default();
    let mut said = String::new();
    for sent in running {
        said.push_str(&sent.cancel().await);
    }
    said
}

#[cfg(feature = "distributed")]
mod jobs {
    use std::sync::Arc;
    use std::time::Duration;

    use ballista_core::execution_plans::DistributedQueryExec;
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    use ballista_core::serde::protobuf::{CancelJobParams, GetJobStatusParams, job_status};
    use datafusion::catalog::Session;
    use datafusion::execution::context::QueryPlanner;
    use datafusion::logical_expr::LogicalPlan;
    use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
    use datafusion_proto::protobuf::LogicalPlanNode;

    use super::SENT;

    type Query = DistributedQueryExec<LogicalPlanNode>;

    /// Ballista's query planner, keeping each query it makes for the cluster
    /// in the running step's [`super::Sent`].
    #[derive(Debug)]
    pub struct Keeping(pub Arc<dyn QueryPlanner + Send + Sync>);

    #[async_trait::async_trait]
    impl QueryPlanner for Keeping {
        async fn create_physical_plan(
            &self,
            logical_plan: &LogicalPlan,
            session: &dyn Session,
        ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
            let plan = self.0.create_physical_plan(logical_plan, session).await?;
            if plan.is::<Query>() {
                // Kept within `engine::within`, which every step, check,
                // row count and output runs in.
                let _ = SENT.try_with(|sent| {
                    if let Ok(mut sent) = sent.0.lock() {
                        sent.push(plan.clone());
                    }
                });
            }
            Ok(plan)
        }
    }

    /// Cancels each query's job that the scheduler still lists as waiting or
    /// running; one that ended is left alone.
    pub async fn cancel(sent: &[Arc<dyn ExecutionPlan>]) -> String {
        let mut said = Vec::new();
        for plan in sent {
            let Some(query) = plan.downcast_ref::<Query>() else {
                continue;
            };
            let Some(job) = query.job_id().map(|id| id.to_string()) else {
                // Not accepted by the scheduler (yet): no job to name.
                continue;
            };
            let Some(url) = scheduler_url(plan.as_ref()) else {
                said.push(format!(
                    "its Ballista job `{job}` may still run (loyalty could not tell which \
                     scheduler it went to): cancel it on the scheduler"
                ));
                continue;
            };
            let wait = Duration::from_secs(10);
            match tokio::time::timeout(wait, cancel_job(&url, &job)).await {
                Ok(Ok(true)) => said.push(format!("its Ballista job `{job}` was cancelled")),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => said.push(format!(
                    "cancelling its Ballista job `{job}` failed ({e}): cancel it on the scheduler"
                )),
                Err(_) => said.push(format!(
                    "the scheduler did not answer within {} s when its Ballista job `{job}` was \
                     cancelled: cancel it on the scheduler",
                    wait.as_secs()
                )),
            }
        }
        said.iter().map(|s| format!("; {s}")).collect()
    }

    /// Cancels `job` if it is still queued or running; true when it was.
    async fn cancel_job(url: &str, job: &str) -> Result<bool, String> {
        let mut scheduler = SchedulerGrpcClient::connect(url.to_string())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = scheduler
            .get_job_status(GetJobStatusParams {
                job_id: job.to_string(),
            })
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner()
            .status
            .and_then(|s| s.status);
        let unfinished = matches!(
            status,
            None | Some(job_status::Status::Queued(_)) | Some(job_status::Status::Running(_))
        );
        if unfinished {
            scheduler
                .cancel_job(CancelJobParams {
                    job_id: job.to_string(),
                })
                .await
                .map_err(|e| e.message().to_string())?;
        }
        Ok(unfinished)
    }

    /// The scheduler a query was sent to, as its plan shows it
    /// (`scheduler_url=http://host:port`): Ballista keeps it private, and the
    /// in-process cluster of `--engine standalone` picks a free port.
    fn scheduler_url(plan: &dyn ExecutionPlan) -> Option<String> {
        struct Tree<'a>(&'a dyn ExecutionPlan);
        impl std::fmt::Display for Tree<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt_as(DisplayFormatType::TreeRender, f)
            }
        }
        Tree(plan)
            .to_string()
            .lines()
            .find_map(|line| line.strip_prefix("scheduler_url="))
            .map(str::to_string)
    }
}
