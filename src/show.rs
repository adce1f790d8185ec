//! `loyalty show`: the first rows of a step, a source or a query of the
//! pipeline's tables, for an analyst writing a step to look at what it gives.
//! Only the steps the query reads are computed, without their data checks;
//! nothing is written: no outputs, reports or `run_results.json`. Without a
//! table, the tables there are to query, with their columns (`list`).

use std::collections::HashSet;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::StreamExt;

use crate::engine::{StepStatus, build_session, register_sources, run_steps, step_sql_options};
use crate::error::{Error, Result, suggest};
use crate::plan::{Plan, StepPlan};
use crate::progress::Observer;
use crate::storage::remove_folder;
use crate::text::code_list;

/// What to show.
#[derive(Debug, Clone)]
pub enum Query {
    /// A step or a source, by name.
    Table(String),
    /// A query of the pipeline's steps and sources, a template rendered
    /// with its params as its steps are.
    Sql(String),
    /// The same, in a file (a step's SQL before it is a step), importing
    /// from the file's folder.
    SqlFile(std::path::PathBuf),
}

/// What `show` runs: a step, or a query given as one would be, to be
/// planned, placed in its file and named in errors as a step's SQL is.
struct Target {
    query: StepPlan,
    /// Whether it is a step of the pipeline (named in errors as `step `x``).
    step: bool,
}

/// The first rows of what a query gives, and how many it gives in all.
#[derive(Debug)]
pub struct Shown {
    pub schema: SchemaRef,
    /// At most the limit's rows.
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
}

impl Shown {
    pub fn shown_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The problems of `name`, where it is a step held back for them.
fn held_back(plan: &Plan, name: &str) -> Option<Error> {
    (plan.held_back_problems(name)).map(|problems| Error::Invalid(problems.to_vec()))
}

/// Computes the steps `query` reads and then the query, keeping its first
/// `limit` rows (all where `None`).
pub async fn show(
    plan: Plan,
    query: &Query,
    limit: Option<usize>,
    observer: &dyn Observer,
) -> Result<Shown> {
    let mut plan = plan;
    let target = target(&plan, query)?;
    let reads = target.reads(&plan)?;
    plan.narrow_to(&reads);
    // A look at the rows, not a run: the checks are the run's to make.
    for step in &mut plan.steps {
        step.checks.clear();
    }

    let ctx = build_session(&plan.engine).await?;
    let registered = register_sources(&ctx, &plan).await?;
    let absent = crate::run::absent_reasons(&registered);
    let mut planned = crate::run::plan_steps(&ctx, &plan, &registered).await;
    // A step that would be skipped is named, with the absent source behind
    // it: the step shown, where it reads that source or a skipped step, or
    // else the skipped step a query reads.
    let is_absent = |s: &String| absent.iter().any(|(a, _)| a == s);
    let skipped = match target.step {
        true => (reads.iter())
            .any(|r| is_absent(r) || planned.skipped.contains(r))
            .then_some(&target.query),
        false => (reads.iter().find(|r| planned.skipped.contains(r))).and_then(|r| plan.step(r)),
    };
    if let Some(step) = skipped {
        // The plan is narrowed to what is shown: its steps are those behind.
        let source = (std::iter::once(step).chain(&plan.steps))
            .flat_map(|s| &s.reads_sources)
            .find(|s| is_absent(s))
            .map(|s| format!(" (optional source `{s}` is absent)"))
            .unwrap_or_default();
        return Err(Error::Run(format!(
            "step `{}` would be skipped{source}: there are no rows to show",
            step.name
        )));
    }
    if let Some((_, why)) = absent.iter().find(|(name, _)| reads.contains(name)) {
        return Err(Error::Run(format!("{why}: there are no rows to show")));
    }
    if planned.problems.is_empty()
        && let Err(e) = crate::engine::plan_query(&ctx, &target.query.sql).await
    {
        planned.problems.push(target.sql_error(&e));
    }
    if !planned.problems.is_empty() {
        return Err(Error::Invalid(planned.problems));
    }
    crate::run::forget_planned(&ctx, &plan);

    // Steps a cluster reads travel as Parquet under the output root: what
    // `show` puts there goes, and so does the root where it made it.
    let made_root = (plan.output_root.to_file_path().ok()).filter(|root| !root.exists());
    let run_id = format!("show-{}", crate::run::run_id(chrono::Utc::now()));
    let scratch = crate::run::scratch_url(&plan.output_root, &run_id);
    let keep: HashSet<String> = reads.iter().cloned().collect();
    let outcome = run_steps(&ctx, &plan, &absent, &scratch, &[], &keep, observer).await;
    let shown = match outcome
        .steps
        .iter()
        .find(|s| s.status != StepStatus::Success && plan.step(&s.name).is_some())
    {
        Some(s) => Err(Error::Run(match s.status {
            StepStatus::Error => s.message.clone().unwrap_or_default(),
            _ => format!(
                "step `{}` was skipped: {}; there are no rows to show",
                s.name,
                s.message.as_deref().unwrap_or_default()
            ),
        })),
        None => first_rows(&ctx, &target, limit, &plan).await,
    };
    remove_folder(&ctx, &scratch).await;
    if let Some(root) = made_root {
        // Only folders left empty: nothing of anyone else's.
        let _ = std::fs::remove_dir(root.join("_scratch"));
        let _ = std::fs::remove_dir(&root);
    }
    shown
}

/// A table `show` can show, and its columns, or why it has none to show.
#[derive(Debug)]
pub struct Listed {
    /// `source` or `step`.
    pub kind: &'static str,
    pub name: String,
    pub columns: std::result::Result<SchemaRef, String>,
}

/// The pipeline's sources and steps with their columns, as planning finds
/// them against the data, as `validate` plans: nothing is computed.
pub async fn list(plan: &Plan) -> Result<Vec<Listed>> {
    let (ctx, sources, planned) = crate::run::plan_against_data(plan).await?;
    let mut listed = Vec::new();
    for source in &plan.sources {
        let status = (sources.registered.iter()).find(|r| r.name == source.name);
        let columns = match status.map(|r| r.status) {
            Some("absent") => Err("an optional source with no files".to_string()),
            Some(_) => columns_of(&ctx, &source.name).await,
            None => Err("cannot be read: `loyalty validate` says why".to_string()),
        };
        listed.push(Listed {
            kind: "source",
            name: source.name.clone(),
            columns,
        });
    }
    for step in &plan.steps {
        let columns = if planned.failed.contains_key(&step.name) {
            Err("does not plan: `loyalty validate` says why".to_string())
        } else if planned.skipped.contains(&step.name) {
            Err("would be skipped: it reads an optional source with no files".to_string())
        } else {
            columns_of(&ctx, &step.name).await
        };
        listed.push(Listed {
            kind: "step",
            name: step.name.clone(),
            columns,
        });
    }
    // Those held back for errors, after the steps that plan.
    listed.extend(plan.held_back.iter().map(held_back_listed));
    Ok(listed)
}

fn held_back_listed(held: &crate::plan::HeldBack) -> Listed {
    Listed {
        kind: "step",
        name: held.name.clone(),
        columns: Err(held.note()),
    }
}

/// The columns of a table registered in `ctx`.
async fn columns_of(
    ctx: &datafusion::prelude::SessionContext,
    name: &str,
) -> std::result::Result<SchemaRef, String> {
    match ctx.table(name).await {
        Ok(df) => Ok(df.schema().inner().clone()),
        Err(e) => Err(e.to_string()),
    }
}

/// The step to show, or the query given as a step of no name.
fn target(plan: &Plan, query: &Query) -> Result<Target> {
    let (template, origin, dir) = match query {
        Query::Table(name) => {
            if let Some(step) = plan.step(name) {
                return Ok(Target {
                    query: step.clone(),
                    step: true,
                });
            }
            if let Some(problems) = held_back(plan, name) {
                return Err(problems);
            }
            if plan.sources.iter().any(|s| &s.name == name) {
                let sql = format!("SELECT * FROM \"{name}\"");
                (sql, "the source".to_string(), None)
            } else {
                return Err(not_a_table(plan, name));
            }
        }
        Query::Sql(sql) => (sql.clone(), "--sql".to_string(), None),
        Query::SqlFile(path) => {
            let template = std::fs::read_to_string(path).map_err(|e| Error::Config {
                message: format!("--sql-file: cannot read `{}`: {e}", path.display()),
            })?;
            let shown = crate::storage::normalize(path).display().to_string();
            (template, shown, path.parent().map(|d| d.to_path_buf()))
        }
    };
    let sql = plan
        .render_sql(&template, dir.as_deref())
        .map_err(|e| Error::Config {
            message: format!("{origin}: {e}"),
        })?;
    Ok(Target {
        query: StepPlan {
            name: String::new(),
            sql,
            template,
            written: None,
            at: origin.clone(),
            origin,
            materialize: Default::default(),
            depends_on: Vec::new(),
            reads_sources: Vec::new(),
            checks: Vec::new(),
        },
        step: false,
    })
}

/// `name` is no step or source: the nearest name, or them all.
fn not_a_table(plan: &Plan, name: &str) -> Error {
    let steps = plan.steps.iter().map(|s| s.name.as_str());
    let sources = plan.sources.iter().map(|s| s.name.as_str());
    let hint = suggest(name, steps.clone().chain(sources.clone()))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| {
            format!(
                "; its sources are {}, its steps {}",
                code_list(sources),
                code_list(steps)
            )
        });
    Error::Config {
        message: format!(
            "`{name}` is neither a step nor a source of `{}`{hint}",
            plan.pipeline_path.display()
        ),
    }
}

impl Target {
    /// The steps and sources the query reads, each one of the pipeline's.
    fn reads(&self, plan: &Plan) -> Result<Vec<String>> {
        if self.step {
            return Ok([self.query.depends_on.as_slice(), &self.query.reads_sources].concat());
        }
        let reads = crate::plan::referenced_tables(&self.query.sql)
            .map_err(|e| Error::Invalid(vec![self.query.sql_text().explain(&e.message, e.at)]))?;
        if let Some(problems) = reads.iter().find_map(|t| held_back(plan, t)) {
            return Err(problems);
        }
        // In the pipeline's order, so that a tie suggests the same name each time.
        let names: Vec<&str> = (plan.sources.iter().map(|s| s.name.as_str()))
            .chain(plan.steps.iter().map(|s| s.name.as_str()))
            .collect();
        let unknown: Vec<String> = (reads.iter())
            .filter(|t| !names.contains(&t.as_str()))
            .map(|t| {
                let hint = suggest(t, names.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                format!(
                    "{} reads `{t}`, which is neither a step nor a source of this pipeline{hint}",
                    self.query.origin
                )
            })
            .collect();
        match unknown.is_empty() {
            true => Ok(reads),
            false => Err(Error::Invalid(unknown)),
        }
    }

    /// A query that does not plan or run, placed in its file or in `--sql`.
    fn sql_error(&self, e: &datafusion::error::DataFusionError) -> String {
        let placed = self.query.sql_error(e, "");
        match self.step {
            true => format!("step `{}`: {placed}", self.query.name),
            false => placed,
        }
    }
}

/// Runs the query, keeping its first `limit` rows and counting them all.
async fn first_rows(
    ctx: &datafusion::prelude::SessionContext,
    target: &Target,
    limit: Option<usize>,
    plan: &Plan,
) -> Result<Shown> {
    let fail = |e: &datafusion::error::DataFusionError| Error::Run(target.sql_error(e));
    let work = async {
        let df = ctx
            .sql_with_options(&target.query.sql, step_sql_options())
            .await
            .map_err(|e| fail(&e))?;
        let schema = df.schema().inner().clone();
        let mut stream = df.execute_stream().await.map_err(|e| fail(&e))?;
        let (mut batches, mut kept, mut rows) = (Vec::new(), 0usize, 0u64);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| fail(&e))?;
            rows += batch.num_rows() as u64;
            let room = limit.map_or(batch.num_rows(), |l| l.saturating_sub(kept));
            if room > 0 {
                let take = room.min(batch.num_rows());
                batches.push(batch.slice(0, take));
                kept += take;
            }
        }
        Ok(Shown {
            schema,
            batches,
            rows,
        })
    };
    crate::engine::within(plan.engine.step_timeout, work)
        .await
        .unwrap_or_else(|late| Err(Error::Run(format!("the query {late}"))))
}
