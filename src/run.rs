//! A whole run, in one direction: plan → session and sources → steps →
//! outputs and reports (staged) → publish → `run_results.json`. Also
//! `validate`, which plans every step against the sources' schemas without
//! executing anything.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use datafusion::prelude::SessionContext;
use minijinja::Value;
use object_store::{ObjectStoreExt, PutPayload};
use url::Url;

use crate::checks::{self, CheckPlan};
use crate::engine::{
    SourceResult, StepResult, StepStatus, build_session, register_each_source, register_sources,
    run_steps,
    write::{OutputJob, WrittenOutput},
};
use crate::error::{Error, Result};
use crate::manifest::{self, Artifact, ArtifactKind, RunResults};
use crate::params::map_value;
use crate::plan::Plan;
use crate::progress::Observer;
use crate::publish::Stager;
use crate::report;
use crate::storage::{redact, remove_folder, storage_err, store_for};

/// Runs a plan end to end. `run_results.json` is written under the output
/// root whatever happens once the run has started; outputs and reports are
/// published only when every step succeeded.
pub async fn run(plan: &Plan, observer: &dyn Observer) -> Result<RunResults> {
    // Only a `--select` runs with steps at fault: those it does not need.
    for held in &plan.held_back {
        tracing::warn!(
            step = held.name.as_str(),
            "step {}, so it is left out of this run: `loyalty validate` says which",
            held.reason()
        );
    }
    let started = Utc::now();
    let t0 = Instant::now();
    let run_id = run_id(started);
    // Templates and translations are read before anything runs: one that
    // cannot be parsed stops the run now (exit 2), not after every step.
    let step_names: Vec<String> = plan.steps.iter().map(|s| s.name.clone()).collect();
    let reports = (plan.reports.iter())
        .map(|rep| report::prepare(rep, &plan.params, &step_names))
        .collect::<Result<Vec<_>>>()?;
    let ctx = build_session(&plan.engine).await?;
    remove_stale_runs(&plan.output_root);
    let scratch_root = scratch_url(&plan.output_root, &run_id);

    let mut results = RunResults {
        pipeline: plan.name.clone(),
        pipeline_file: plan.pipeline_path.display().to_string(),
        run_id: run_id.clone(),
        status: "error",
        params: plan.params.to_json(),
        timezone: plan.timezone.as_ref().map(|tz| tz.as_str().to_string()),
        started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        finished_at: String::new(),
        elapsed_seconds: 0.0,
        peak_rss_bytes: None,
        sources: Vec::new(),
        steps: Vec::new(),
        artifacts: Vec::new(),
        checks: Vec::new(),
        error: None,
    };

    // A signal stops the run until everything is staged; publishing is not
    // interrupted, so that the outputs are never a mix of old and new.
    let mut stager = Stager::new(&ctx, &plan.output_root, &run_id);
    let staged = tokio::select! {
        staged = execute(plan, &reports, &ctx, &scratch_root, observer, &mut results, &mut stager) => staged,
        signal = interrupted() => Err(Error::Interrupted { signal, said: String::new() }),
    };
    let outcome = match staged {
        Ok(()) => stager.publish().await,
        Err(e) => {
            let e = match e {
                Error::Interrupted { signal, .. } => Error::Interrupted {
                    signal,
                    said: cancel_jobs().await,
                },
                e => e,
            };
            // Whatever was staged, registered or still being written.
            stager.discard().await;
            Err(e)
        }
    };
    remove_folder(&ctx, &scratch_root).await;

    results.finished_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    results.elapsed_seconds = t0.elapsed().as_secs_f64();
    results.peak_rss_bytes = manifest::peak_rss_bytes();
    match &outcome {
        Ok(()) => results.status = "success",
        Err(e) => results.error = Some(e.to_string()),
    }
    let written = write_manifest(&ctx, &plan.output_root, &results).await;
    outcome?;
    written?;
    Ok(results)
}

/// Cancels the jobs that the steps of a run stopped by a signal sent to a
/// cluster, within 10 s (the steps' tasks were dropped with the run, which
/// aborts them); says what was done, for the run's error.
async fn cancel_jobs() -> String {
    let wait = std::time::Duration::from_secs(10);
    tokio::time::timeout(wait, crate::engine::distributed::cancel_running())
        .await
        .unwrap_or_else(|_| {
            "; the scheduler did not answer within 10 s: cancel the run's jobs there".to_string()
        })
}

/// Waits for `SIGINT` or `SIGTERM` (an Airflow task stopped, Ctrl-C).
async fn interrupted() -> crate::error::Signal {
    use crate::error::Signal;
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for SIGINT and SIGTERM: a signal will stop the run abruptly");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => Signal::Interrupt,
        _ = terminate.recv() => Signal::Terminate,
    }
}

/// Runs the sources, checks and steps, and stages every artifact with
/// `stager`, ready to publish. On an error the caller discards the run.
async fn execute(
    plan: &Plan,
    reports: &[report::PreparedReport],
    ctx: &SessionContext,
    scratch_root: &Url,
    observer: &dyn Observer,
    results: &mut RunResults,
    stager: &mut Stager,
) -> Result<()> {
    let unread = warn_unread(plan, reports.iter());
    results.sources = register_sources(ctx, plan).await?;
    // Before any check or step: a root the run cannot write to stops it now.
    stager.check_writable().await?;
    // And so does a step or a check whose SQL does not plan (a misspelt
    // column), or a column a report reads that its table lacks: each would
    // otherwise stop the run once the steps before it had run, publishing
    // nothing.
    let t = Instant::now();
    let mut planned = plan_steps(ctx, plan, &results.sources).await;
    for problem in plan_left_out(ctx, plan, &results.sources, &planned).await {
        tracing::warn!(
            "{problem}\n(a step `--select` leaves out: this run goes on without it; a whole run would stop)"
        );
    }
    let planning = t.elapsed().as_secs_f64();
    let mut problems = std::mem::take(&mut planned.problems);
    problems.extend(plan_checks(ctx, plan, &results.sources, &planned).await);
    problems.extend(
        report_columns(
            ctx,
            plan,
            &results.sources,
            &planned,
            plan.reports.iter().zip(reports),
        )
        .await,
    );
    tracing::debug!(
        planning_s = format!("{planning:.3}"),
        rendering_s = format!("{:.3}", t.elapsed().as_secs_f64() - planning),
        "the steps planned and the reports' columns checked"
    );
    forget_planned(ctx, plan);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let absent = absent_sources(&results.sources);
    // Source checks first; a source failing an error-level check is not read.
    let source_checks: Vec<CheckPlan> = plan
        .sources
        .iter()
        .filter(|s| !absent.contains(&s.name))
        .flat_map(|s| s.checks.iter().cloned())
        .collect();
    let source_results = checks::run_all(
        ctx,
        &source_checks,
        plan.engine.parallelism(ctx),
        plan.engine.step_timeout,
    )
    .await;
    let mut unusable = absent_reasons(&results.sources);
    for r in source_results.iter().filter(|r| r.blocks()) {
        unusable.push((
            r.table.clone(),
            format!("source `{}` failed check `{}`", r.table, r.name),
        ));
    }
    // Each output is written to staging as soon as its step has succeeded;
    // everything staged is published at the end, or discarded.
    let jobs = plan
        .outputs
        .iter()
        .enumerate()
        .map(|(index, out)| {
            let staging = stager.staging_url(&out.url);
            let (store, path) = store_for(ctx, &staging)?;
            let sql_source = (plan.steps.iter())
                .find(|s| s.name == out.step)
                .map(|s| s.sql_source())
                .unwrap_or_default();
            Ok(OutputJob {
                index,
                output: out.clone(),
                staging,
                store,
                path,
                sql_source,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The tables the reports read stay registered for them; the others are
    // dropped once no step reads them.
    let keep: HashSet<String> = reports.iter().flat_map(|r| r.tables.clone()).collect();
    let outcome = run_steps(ctx, plan, &unusable, scratch_root, &jobs, &keep, observer).await;
    tracing::debug!(
        outputs = outcome.written.len(),
        "steps done, outputs written"
    );
    // Every file that was written goes to the stager, to be published if
    // nothing failed.
    for w in &outcome.written {
        stager.add(&w.staging, &plan.outputs[w.index].url)?;
    }
    results.steps = outcome.steps;
    for step in (results.steps.iter_mut()).filter(|s| unread.iter().any(|u| u.name == s.name)) {
        step.message = Some(NOT_COMPUTED.to_string());
    }
    // Step checks finish in whatever order the steps do; list them in plan
    // order so the manifest and reports do not change from run to run.
    let mut step_checks = outcome.checks;
    step_checks.sort_by_key(|c| plan.steps.iter().position(|s| s.name == c.table));
    results.checks = source_results;
    results.checks.extend(step_checks);
    if let Some(failed) = results
        .checks
        .iter()
        .find(|c| c.blocks() && c.table_is_source(plan))
    {
        return Err(Error::Run(failed.placed_message()));
    }
    if let Some(failed) = results.steps.iter().find(|s| s.status == StepStatus::Error) {
        let count = results
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Error)
            .count();
        let message = failed.message.clone().unwrap_or_default();
        return Err(if count == 1 {
            Error::Run(message)
        } else {
            Error::Run(format!("{message} (and {} more failed steps)", count - 1))
        });
    }

    results.artifacts =
        stage_artifacts(plan, reports, ctx, results, &outcome.written, stager).await?;
    tracing::debug!("artifacts staged");
    Ok(())
}

/// What planning the steps found.
pub(crate) struct PlannedSteps {
    pub problems: Vec<String>,
    /// Steps that could not be planned, each with the step at the root of it.
    pub failed: HashMap<String, String>,
    /// Steps that will be skipped at run time (an optional source is absent).
    pub skipped: Vec<String>,
}

/// Plans the steps against the sources, in order, each registered in `ctx`
/// as a view under its name, so that the steps after it plan against its
/// columns, and checks the outputs' sort keys against them; what could not
/// be planned, and why, is kept apart.
pub(crate) async fn plan_steps(
    ctx: &SessionContext,
    plan: &Plan,
    sources: &[SourceResult],
) -> PlannedSteps {
    let mut planner = Planner::new(ctx, plan, sources);
    let mut problems = Vec::new();
    for step in &plan.steps {
        problems.extend(planner.plan(step).await);
    }
    let Planner {
        failed, skipped, ..
    } = planner;
    // Every output's sort keys are columns of its step.
    for out in plan.outputs.iter().filter(|o| !o.sort_by.is_empty()) {
        if failed.contains_key(&out.step) || skipped.contains(&out.step) {
            continue;
        }
        if let Ok(df) = ctx.table(out.step.as_str()).await
            && let Err(e) = crate::engine::write::sorted_for_output(df, out)
        {
            problems.push(format!(
                "output `{}` of step `{}`: {e}",
                crate::storage::redact(out.url.as_str()),
                out.step
            ));
        }
    }
    PlannedSteps {
        problems,
        failed,
        skipped,
    }
}

/// The problems of the steps a `--select` leaves out, planned after the
/// steps it runs (which [`plan_steps`] registered) as a whole run would
/// plan them: said as warnings, so that a step at fault beside the selected
/// ones is known before the nightly run finds it: each step at fault, not
/// the steps reading it. None are looked for where the selected steps have
/// problems of their own.
async fn plan_left_out(
    ctx: &SessionContext,
    plan: &Plan,
    sources: &[SourceResult],
    planned: &PlannedSteps,
) -> Vec<String> {
    if !planned.problems.is_empty() {
        return Vec::new();
    }
    let mut planner = Planner {
        failed: planned.failed.clone(),
        skipped: planned.skipped.clone(),
        ..Planner::new(ctx, plan, sources)
    };
    let mut problems = Vec::new();
    for step in &plan.deselected {
        let problem = planner.plan(step).await;
        // The step at fault, not each step reading it.
        if planner.failed.get(&step.name) == Some(&step.name) {
            problems.extend(problem);
        }
    }
    problems
}

/// Steps planned one after another, each against the columns of those
/// before it, keeping the ones that failed (each with the step at the root
/// of it) or will be skipped, which a step reading one joins.
struct Planner<'a> {
    ctx: &'a SessionContext,
    plan: &'a Plan,
    sources: &'a [SourceResult],
    absent: Vec<String>,
    failed: HashMap<String, String>,
    skipped: Vec<String>,
}

impl<'a> Planner<'a> {
    fn new(ctx: &'a SessionContext, plan: &'a Plan, sources: &'a [SourceResult]) -> Self {
        Planner {
            ctx,
            plan,
            sources,
            absent: absent_sources(sources),
            failed: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    /// Plans `step`, registering its columns under its name; returns its
    /// problem, if it has one.
    async fn plan(&mut self, step: &crate::plan::StepPlan) -> Option<String> {
        if let Some(problem) = crate::plan::hold_back(step, &mut self.failed) {
            return Some(problem);
        }
        if step.reads_sources.iter().any(|s| self.absent.contains(s))
            || step.depends_on.iter().any(|d| self.skipped.contains(d))
        {
            // It will be skipped at run time; nothing to plan against.
            self.skipped.push(step.name.clone());
            return None;
        }
        let unregistered =
            (step.reads_sources.iter()).find(|s| !self.sources.iter().any(|r| &r.name == *s));
        if let Some(src) = unregistered {
            self.failed.insert(step.name.clone(), step.name.clone());
            return Some(format!(
                "step `{}`{}source `{src}` is unusable (see above)",
                step.name,
                crate::error::NOT_CHECKED
            ));
        }
        match crate::engine::plan_query(self.ctx, &step.sql).await {
            Ok(df) => {
                // What the steps reading it plan against: its columns. (As a
                // view, each would be planned and optimized again inside
                // every step that reads it.)
                let columns =
                    datafusion::datasource::empty::EmptyTable::new(df.schema().inner().clone());
                (self
                    .ctx
                    .register_table(step.name.as_str(), std::sync::Arc::new(columns)))
                .err()
                .map(|e| format!("step `{}`: {e}", step.name))
            }
            Err(e) => {
                let hint = crate::engine::distributed::function_hint(
                    self.plan.engine.kind.is_distributed(),
                    &e.to_string(),
                );
                // Found before anything ran: the step does not plan, nor
                // has it failed.
                self.failed.insert(step.name.clone(), step.name.clone());
                Some(format!(
                    "step `{}`: {}",
                    step.name,
                    step.sql_error(&e, hint)
                ))
            }
        }
    }
}

/// The checks whose queries do not plan against their tables (registered
/// by [`plan_steps`]): a misspelt column, say. Checks of absent sources and
/// of steps that will not run are left out.
async fn plan_checks(
    ctx: &SessionContext,
    plan: &Plan,
    sources: &[SourceResult],
    planned: &PlannedSteps,
) -> Vec<String> {
    let (failed, skipped) = (&planned.failed, &planned.skipped);
    let registered =
        |name: &str| (sources.iter()).any(|r| r.name == name && r.status == "registered");
    let checks = (plan.sources.iter())
        .filter(|s| registered(&s.name))
        .flat_map(|s| s.checks.iter())
        .chain(
            (plan.steps.iter())
                .filter(|s| !failed.contains_key(&s.name) && !skipped.contains(&s.name))
                .flat_map(|s| s.checks.iter()),
        );
    let mut problems = Vec::new();
    for check in checks {
        if let Err(e) = crate::engine::plan_query(ctx, &check.sql).await {
            problems.push(check.sql_error(&crate::plan::SqlProblem::in_sql(&e, &check.sql)));
        }
    }
    problems
}

/// The columns the reports' templates read that their tables lack, found by
/// rendering each report on made-up rows shaped as the planned steps'
/// columns ([`report::columns`]).
async fn report_columns(
    ctx: &SessionContext,
    plan: &Plan,
    sources: &[SourceResult],
    planned: &PlannedSteps,
    reports: impl IntoIterator<Item = (&crate::plan::ReportPlan, &report::PreparedReport)>,
) -> Vec<String> {
    // What a report sees of the run: every step that will run as succeeded.
    let steps: Vec<StepResult> = plan
        .steps
        .iter()
        .filter(|s| !planned.skipped.contains(&s.name))
        .map(|s| StepResult::of(s, StepStatus::Success, Some(1), None))
        .collect();
    let mut problems = Vec::new();
    let mut warned = Vec::new();
    for (rep, prepared) in reports {
        let mut schemas = Vec::new();
        for table in &prepared.tables {
            if planned.failed.contains_key(table) || planned.skipped.contains(table) {
                continue;
            }
            if let Ok(df) = ctx.table(table.as_str()).await {
                schemas.push((table.as_str(), df.schema().as_arrow().clone()));
            }
        }
        let context = vec![
            ("params".to_string(), plan.params.display_context()),
            ("run".to_string(), run_metadata(plan, sources, &steps, &[])),
        ];
        let found = report::columns::missing_columns(
            &prepared.env,
            rep.template_name(),
            context,
            &schemas,
            plan.as_of(),
        );
        // The charts of made-up rows are not the report's.
        prepared.charts.take();
        // Reports often share a template (one per language): once each.
        for problem in found.problems {
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
        if let Some(stopped) = found.stopped.filter(|s| !warned.contains(s)) {
            tracing::warn!("{stopped}");
            warned.push(stopped);
        }
    }
    problems
}

fn absent_sources(sources: &[SourceResult]) -> Vec<String> {
    sources
        .iter()
        .filter(|s| s.status == "absent")
        .map(|s| s.name.clone())
        .collect()
}

/// The optional sources that are absent, each with why the steps that read
/// it are skipped ([`run_steps`]' unusable sources).
pub(crate) fn absent_reasons(sources: &[SourceResult]) -> Vec<(String, String)> {
    (absent_sources(sources).into_iter())
        .map(|s| {
            let why = format!("optional source `{s}` is absent");
            (s, why)
        })
        .collect()
}

/// Drops the views [`plan_steps`] registered: the steps register their own
/// tables as they run.
pub(crate) fn forget_planned(ctx: &SessionContext, plan: &Plan) {
    for step in plan.steps.iter().chain(&plan.deselected) {
        let _ = ctx.deregister_table(step.name.as_str());
    }
}

/// A run's id: when it started, and this process's id after the last `-`,
/// by which a later run tells whether it still runs ([`remove_stale_runs`]).
pub(crate) fn run_id(started: chrono::DateTime<Utc>) -> String {
    format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// Where run `run_id` keeps the steps it writes as Parquet, under the output
/// root; removed when it ends.
pub(crate) fn scratch_url(output_root: &Url, run_id: &str) -> Url {
    output_root
        .join(&format!("_scratch/{run_id}/"))
        .expect("scratch URL under the output root")
}

/// Lists the outputs written to staging and writes every report there;
/// returns what will be published.
async fn stage_artifacts(
    plan: &Plan,
    reports: &[report::PreparedReport],
    ctx: &SessionContext,
    results: &RunResults,
    written: &[WrittenOutput],
    stager: &mut Stager,
) -> Result<Vec<Artifact>> {
    let (sources, steps, checks) = (&results.sources, &results.steps, &results.checks);
    let mut artifacts = Vec::new();
    for (index, out) in plan.outputs.iter().enumerate() {
        let Some(w) = written.iter().find(|w| w.index == index) else {
            tracing::warn!(
                step = out.step.as_str(),
                "output not written: the step was skipped"
            );
            continue;
        };
        artifacts.push(Artifact {
            kind: ArtifactKind::Output,
            source: out.step.clone(),
            path: redact(out.url.as_str()),
            format: Artifact::format_of(out.format),
            rows: Some(w.written.rows),
            bytes: Some(w.written.bytes),
        });
    }

    let succeeded = |table: &String| {
        steps
            .iter()
            .any(|s| &s.name == table && s.status == StepStatus::Success)
    };
    for (rep, prepared) in plan.reports.iter().zip(reports) {
        let (env, charts) = (&prepared.env, &prepared.charts);
        let name = rep.template_name();
        let mut context: Vec<(String, Value)> = vec![
            ("params".into(), plan.params.display_context()),
            ("run".into(), run_metadata(plan, sources, steps, checks)),
        ];
        // A skipped step's table is undefined: templates test `is defined`.
        for table in prepared.tables.iter().filter(|t| succeeded(t)) {
            let rows = collect_for_report(ctx, table, name).await?;
            context.push((table.clone(), Value::from(rows)));
        }
        let text = report::render(env, name, map_value(context))?;
        tracing::debug!(report = name, "report rendered");
        let text = crate::secrets::scrub(&text).into_owned();
        let bytes = stager.put(&rep.url, text.into_bytes()).await?;
        artifacts.push(Artifact {
            kind: ArtifactKind::Report,
            source: name.to_string(),
            path: redact(rep.url.as_str()),
            format: rep.format().to_string(),
            rows: None,
            bytes: Some(bytes),
        });
        for (relative, svg) in charts.take() {
            let url = rep
                .url
                .join(&relative)
                .map_err(|e| Error::Run(format!("chart path `{relative}`: {e}")))?;
            let svg = crate::secrets::scrub(&svg).into_owned();
            let bytes = stager.put(&url, svg.into_bytes()).await?;
            artifacts.push(Artifact {
                kind: ArtifactKind::Report,
                source: name.to_string(),
                path: redact(url.as_str()),
                format: "svg".into(),
                rows: None,
                bytes: Some(bytes),
            });
        }
    }
    Ok(artifacts)
}

/// What a report knows of the run. No wall-clock time: the same data and
/// `as_of` give the same report.
fn run_metadata(
    plan: &Plan,
    sources: &[SourceResult],
    steps: &[StepResult],
    checks: &[checks::CheckResult],
) -> Value {
    let sources: Vec<Value> = sources
        .iter()
        .map(|s| {
            minijinja::context! {
                name => s.name.clone(),
                status => s.status,
                files => s.files,
                rows => s.rows,
            }
        })
        .collect();
    let steps: Vec<Value> = steps
        .iter()
        .map(|s| {
            minijinja::context! {
                name => s.name.clone(),
                status => format!("{:?}", s.status).to_lowercase(),
                rows => s.rows,
                message => s.message.clone(),
            }
        })
        .collect();
    minijinja::context! {
        pipeline => plan.name.clone(),
        description => plan.description.clone(),
        as_of => plan.as_of().format("%Y-%m-%d").to_string(),
        timezone => plan.timezone.as_ref().map(|tz| tz.as_str().to_string()),
        sources => sources,
        steps => steps,
        checks => Value::from(minijinja::value::Serde(checks.to_vec())),
    }
}

async fn collect_for_report(
    ctx: &SessionContext,
    table: &str,
    template: &str,
) -> Result<Vec<Value>> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::Run(format!("report `{template}`: reading table `{table}`: {e}"))
    };
    let batches = ctx
        .table(table)
        .await
        .map_err(|e| fail(&e))?
        .limit(0, Some(report::MAX_REPORT_ROWS + 1))
        .map_err(|e| fail(&e))?
        .collect()
        .await
        .map_err(|e| fail(&e))?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > report::MAX_REPORT_ROWS {
        return Err(Error::Run(format!(
            "report `{template}` uses table `{table}`, which has more than {} rows; a report takes summaries: aggregate it in a step and use that",
            report::MAX_REPORT_ROWS
        )));
    }
    report::rows_of(&batches).map_err(|e| fail(&e))
}

async fn write_manifest(ctx: &SessionContext, root: &Url, results: &RunResults) -> Result<()> {
    let url = root
        .join(manifest::FILE_NAME)
        .expect("manifest URL under the output root");
    let (store, path) = store_for(ctx, &url)?;
    store
        .put(
            &path,
            PutPayload::from(
                crate::secrets::scrub(&results.to_json())
                    .into_owned()
                    .into_bytes(),
            ),
        )
        .await
        .map_err(|e| storage_err(&url, &e))?;
    Ok(())
}

/// Removes the staging and scratch folders of earlier runs on this machine
/// that are no longer running (killed or crashed), under a local output
/// root. Their published outputs were never touched; this only tidies.
fn remove_stale_runs(output_root: &Url) {
    let Ok(root) = output_root.to_file_path() else {
        return;
    };
    // Run ids end in `-<pid>`.
    let alive = |run_id: &str| {
        run_id
            .rsplit_once('-')
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    };
    crate::publish::roll_forward(&root, alive);
    for dir in ["_staging", "_scratch"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !alive(&name) {
                tracing::info!(folder = %entry.path().display(), "removing what an interrupted run left");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let _ = std::fs::remove_dir(root.join(dir));
    }
}

/// What `run_results.json` says of a step that nothing reads.
const NOT_COMPUTED: &str = "read by no step, output or report: not computed";

/// The steps nothing reads (`Plan::unread_steps`, with `reports`' tables),
/// each warned of: a run does not compute it, so neither its rows nor its
/// errors would show.
fn warn_unread<'a, 'p>(
    plan: &'p Plan,
    reports: impl Iterator<Item = &'a report::PreparedReport>,
) -> Vec<&'p crate::plan::StepPlan> {
    let tables: Vec<String> = reports.flat_map(|r| r.tables.iter().cloned()).collect();
    let unread = plan.unread_steps(&tables);
    for step in &unread {
        tracing::warn!(
            step = step.name.as_str(),
            at = step.at.as_str(),
            "step read by nothing, so not computed: add it to `outputs`, or see its rows with `loyalty show`"
        );
    }
    unread
}

/// The sources as `register_each_source` found them: those it registered
/// (or found absent), and the problems of the others.
pub(crate) struct SourcesFound {
    pub registered: Vec<SourceResult>,
    pub problems: Vec<String>,
}

/// A session that plans the pipeline against its data without running it
/// (`validate`, `show`'s listing): on the local engine, since planning
/// needs no cluster, without the functions a cluster's executors lack; each
/// source that can be read registered, and the steps planned.
pub(crate) async fn plan_against_data(
    plan: &Plan,
) -> Result<(SessionContext, SourcesFound, PlannedSteps)> {
    let local = crate::plan::EngineConfig {
        kind: crate::plan::EngineKind::Local,
        ..plan.engine.clone()
    };
    let ctx = build_session(&local).await?;
    if plan.engine.kind.is_distributed() {
        // What the cluster's executors do not have, steps may not call.
        crate::engine::distributed::forget_functions_executors_lack(&ctx);
    }
    let (registered, problems) = register_each_source(&ctx, plan).await;
    let planned = plan_steps(&ctx, plan, &registered).await;
    Ok((
        ctx,
        SourcesFound {
            registered,
            problems,
        },
        planned,
    ))
}

/// Checks a pipeline without running it: every param, URL and SQL template;
/// every step planned against the real sources' schemas; every report
/// template parsed. Returns every problem found.
pub async fn validate(plan: &Plan) -> Result<Vec<String>> {
    let (ctx, found, mut planned) = plan_against_data(plan).await?;
    let (sources, mut problems) = (found.registered, found.problems);
    problems.append(&mut planned.problems);
    problems.extend(plan_checks(&ctx, plan, &sources, &planned).await);
    // A step held back for its errors is still a step the reports may read.
    let step_names: Vec<String> = (plan.steps.iter().map(|s| s.name.clone()))
        .chain(plan.held_back.iter().map(|h| h.name.clone()))
        .collect();
    let mut prepared = Vec::new();
    let mut report_problems = Vec::new();
    for rep in &plan.reports {
        match report::prepare(rep, &plan.params, &step_names) {
            Ok(p) => prepared.push((rep, p)),
            Err(e) => report_problems.push(e.to_string()),
        }
    }
    warn_unread(plan, prepared.iter().map(|(_, p)| p));
    let prepared = prepared.iter().map(|(rep, p)| (*rep, p));
    report_problems.extend(report_columns(&ctx, plan, &sources, &planned, prepared).await);
    // Reports sharing a folder share its translations and partials, and
    // often a template: each problem is listed once.
    for problem in report_problems {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    Ok(problems)
}
