//! The validated plan: a [`LoadedSpec`] with every param typed, every URL
//! resolved, every SQL step rendered and parsed, and the steps ordered by the
//! tables they read. Nothing downstream reads the raw YAML again.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use url::Url;

use crate::checks::CheckPlan;
use crate::error::{Error, Result, suggest};
use crate::params::{Params, describe_template_error, render_text, sql_environment};
use crate::spec::{
    ColumnKind, EngineKindSpec, LoadedSpec, Materialize, OutputFormat, ParamSpec, ParamType,
};
use crate::storage::{has_scheme, join_under, resolve_url};

/// Names report templates use for run data, so no step may take them.
pub const RESERVED_NAMES: &[&str] = &["params", "run"];

/// What the command line adds to a pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--param key=value` (and `--as-of`, as `as_of=…`), last one wins.
    pub params: Vec<(String, String)>,
    /// `--select`: run only these steps and the steps they need.
    pub select: Vec<String>,
    /// `--profile`: log each computed plan with its metrics.
    pub profile: bool,
    /// `--memory-limit`: replaces `engine.memory_limit`.
    pub memory_limit: Option<String>,
    /// `--engine`: `local`, `df://host:port` or `standalone`; replaces
    /// `engine.kind` and `engine.url`.
    pub engine: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub pipeline_path: PathBuf,
    pub params: Params,
    pub sources: Vec<SourcePlan>,
    /// In an order where every step comes after the steps it reads.
    pub steps: Vec<StepPlan>,
    pub output_root: Url,
    pub outputs: Vec<OutputPlan>,
    pub reports: Vec<ReportPlan>,
    pub engine: EngineConfig,
    /// Steps left out by `--select` (reported as skipped).
    pub deselected: Vec<StepPlan>,
}

#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub name: String,
    pub url: Url,
    pub optional: bool,
    /// Column name → SQL type, read as NULL where the data lacks them.
    pub optional_columns: Vec<(String, String)>,
    /// Required columns and their kinds (the input contract).
    pub columns: Vec<(String, crate::spec::ColumnKind)>,
    pub checks: Vec<CheckPlan>,
}

#[derive(Debug, Clone)]
pub struct StepPlan {
    pub name: String,
    /// The rendered SQL.
    pub sql: String,
    /// Where the SQL came from, for errors: a file path or `inline`.
    pub origin: String,
    pub materialize: Materialize,
    /// Steps this one reads.
    pub depends_on: Vec<String>,
    /// Sources this one reads.
    pub reads_sources: Vec<String>,
    /// Checks on the step's result, run as soon as it is computed.
    pub checks: Vec<CheckPlan>,
}

#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub step: String,
    /// The file written (a directory path gets `part-0.<ext>` appended).
    pub url: Url,
    pub format: OutputFormat,
    /// The columns the file is sorted by, first key first.
    pub sort_by: Vec<SortKey>,
}

/// One key of an output's `sort_by`. Ascending puts NULLs last and
/// descending puts them first, as SQL's ORDER BY does by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

impl SortKey {
    /// Reads `name`, `name asc` or `name desc` (either case); a name may
    /// contain spaces.
    pub fn parse(text: &str) -> std::result::Result<SortKey, String> {
        let text = text.trim();
        let (column, descending) = match text.rsplit_once(char::is_whitespace) {
            Some((name, dir)) if dir.eq_ignore_ascii_case("desc") => (name.trim_end(), true),
            Some((name, dir)) if dir.eq_ignore_ascii_case("asc") => (name.trim_end(), false),
            _ => (text, false),
        };
        if column.is_empty() {
            return Err(format!(
                "`{text}` names no column: write `name`, `name asc` or `name desc`"
            ));
        }
        Ok(SortKey {
            column: column.to_string(),
            descending,
        })
    }

    pub fn nulls_first(&self) -> bool {
        self.descending
    }
}

#[derive(Debug, Clone)]
pub struct ReportPlan {
    pub template: PathBuf,
    pub url: Url,
    pub locale: crate::report::Locale,
}

impl ReportPlan {
    /// The template's file name, as the template environment knows it.
    pub fn template_name(&self) -> &str {
        self.template
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    /// The folder the template (and its partials and translations) is in.
    pub fn template_dir(&self) -> &std::path::Path {
        self.template.parent().unwrap_or(std::path::Path::new("."))
    }

    /// `html`, `md`, …: the report's format, from the template name.
    pub fn format(&self) -> &str {
        self.template_name()
            .trim_end_matches(".j2")
            .rsplit('.')
            .next()
            .unwrap_or("txt")
    }
}

/// Object-store retries and timeouts, every default worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    pub max_retries: usize,
    pub retry_timeout: std::time::Duration,
    pub timeout: std::time::Duration,
    pub connect_timeout: std::time::Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(30),
            connect_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// Splits `2.5GiB` into the number and the (trimmed) unit, or None where it
/// does not start with a number.
fn number_and_unit(raw: &str) -> Option<(f64, &str)> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `2d`.
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = number_and_unit(raw).ok_or_else(|| {
        format!("`{raw}` is not a duration: write e.g. `30s`, `500ms`, `2m` or `2d`")
    })?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{raw}`: use ms, s, m, h or d"
            ));
        }
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Where queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineKind {
    /// DataFusion in this process.
    Local,
    /// A Ballista cluster: a scheduler URL (`df://host:port`), or
    /// [`STANDALONE`] for a scheduler and an executor in this process.
    Ballista { url: String },
}

/// `engine.url` / `--engine` for Ballista's in-process cluster.
pub const STANDALONE: &str = "standalone";

impl EngineKind {
    /// Parses `--engine`: `local`, `standalone`, or a `df://` scheduler URL.
    pub fn from_flag(raw: &str) -> Result<Self, String> {
        match raw {
            "local" => Ok(EngineKind::Local),
            _ => Self::ballista(raw).map_err(|_| {
                format!(
                    "`--engine {raw}`: use `local`, a Ballista scheduler `df://host:50050`, or `{STANDALONE}`"
                )
            }),
        }
    }

    fn ballista(url: &str) -> Result<Self, String> {
        let scheduler = url.strip_prefix("df://").unwrap_or_default();
        if url == STANDALONE || scheduler.split(':').next().is_some_and(|h| !h.is_empty()) {
            Ok(EngineKind::Ballista {
                url: url.to_string(),
            })
        } else {
            Err(format!(
                "`{url}` is not a Ballista scheduler: write `df://host:50050`, or `{STANDALONE}`"
            ))
        }
    }

    pub fn is_distributed(&self) -> bool {
        matches!(self, EngineKind::Ballista { .. })
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub kind: EngineKind,
    pub target_partitions: Option<usize>,
    pub memory_limit: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    /// At least 1.
    pub max_parallel_steps: usize,
    /// `engine.step_timeout`: the longest a step (query and checks), a
    /// source check or an output's write may take.
    pub step_timeout: Option<std::time::Duration>,
    pub storage: StorageConfig,
    /// Log each computed plan with its metrics.
    pub profile: bool,
    /// `engine.options`: DataFusion configuration keys and values.
    pub options: Vec<(String, String)>,
}

impl EngineConfig {
    /// How many source checks run at once: the step parallelism, but no more
    /// than the query parallelism (they are CPU work).
    pub fn parallelism(&self, ctx: &datafusion::prelude::SessionContext) -> usize {
        self.max_parallel_steps
            .min(ctx.copied_config().target_partitions())
            .max(1)
    }
}

impl Plan {
    pub fn step(&self, name: &str) -> Option<&StepPlan> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every query a run makes, as it would run them with these params: the
    /// source checks, then each step followed by its checks. Each query has a
    /// `--` header line naming it and ends with a line holding only `;`
    /// (`loyalty validate --show-sql`).
    pub fn sql_listing(&self) -> String {
        let check = |c: &CheckPlan| {
            let severity = match c.severity {
                crate::spec::Severity::Error => "error",
                crate::spec::Severity::Warn => "warn",
            };
            // A probe is asked first where the engine has its function; the
            // query below then runs only when the probe finds something.
            let probe = match (&c.probe, &self.engine.kind) {
                (Some(p), EngineKind::Local) => {
                    format!("-- asked first (the query runs when it is not 0): {p}\n")
                }
                _ => String::new(),
            };
            format!(
                "-- check {} on {} ({severity})\n{probe}{}\n;\n",
                c.name,
                c.table,
                c.sql.trim()
            )
        };
        let mut out: String = self
            .sources
            .iter()
            .flat_map(|s| &s.checks)
            .map(check)
            .collect();
        for step in &self.steps {
            out.push_str(&format!(
                "-- step {} ({})\n{}\n;\n",
                step.name,
                step.origin,
                step.sql.trim()
            ));
            out.extend(step.checks.iter().map(check));
        }
        out
    }

    pub fn as_of(&self) -> NaiveDate {
        self.params.as_of()
    }

    /// Builds the plan, collecting every problem instead of stopping at the first.
    pub fn build(loaded: &LoadedSpec, overrides: &Overrides, today: NaiveDate) -> Result<Plan> {
        match Self::build_checked(loaded, overrides, today) {
            (Some(plan), errors) if errors.is_empty() => Ok(plan),
            (_, errors) => Err(Error::Invalid(errors)),
        }
    }

    /// Every problem of the pipeline file, and a plan without the outputs,
    /// reports or engine settings at fault when its params, sources and steps
    /// are sound: `validate` then goes on to plan those steps against the
    /// data, and reports what it finds there too.
    pub fn build_checked(
        loaded: &LoadedSpec,
        overrides: &Overrides,
        today: NaiveDate,
    ) -> (Option<Plan>, Vec<String>) {
        let spec = &loaded.spec;
        let base = loaded.base_dir();
        let mut errors: Vec<String> = Vec::new();

        // Params: `as_of` always exists and is a date.
        let mut param_specs = spec.params.clone();
        match param_specs.get("as_of") {
            Some(p) if p.kind != ParamType::Date => errors.push(format!(
                "{}: param `as_of` must have `type: date`, not `{}`",
                loaded.locate(&["params", "as_of"]),
                p.kind
            )),
            Some(_) => {}
            None => {
                param_specs.insert(
                    "as_of".into(),
                    ParamSpec {
                        kind: ParamType::Date,
                        default: None,
                        description: Some("the run date".into()),
                        min: None,
                        max: None,
                    },
                );
            }
        }
        let params = match Params::resolve(&param_specs, &overrides.params, today) {
            Ok(p) => p,
            // Nothing else can be rendered without params: stop here.
            Err(errs) => return (None, errs),
        };

        let as_of = params.as_of();
        let context = params.template_context();
        let render_check = |sql: &str| -> Result<String, String> {
            sql_environment(&base)
                .render_str(sql, context.clone())
                .map_err(|e| format!("template error at {}", describe_template_error(&e)))
        };
        let mut compile_checks =
            |table: &str, specs: &[crate::spec::CheckSpec], temporal: &[&str], keys: &[&str]| {
                let mut out = Vec::new();
                for (i, c) in specs.iter().enumerate() {
                    match crate::checks::compile(table, c, as_of, temporal, &render_check) {
                        Ok(plan) => out.push(plan),
                        Err(e) => errors.push(format!(
                            "{}: check {} on `{table}`: {e}",
                            loaded.locate(keys),
                            i + 1
                        )),
                    }
                }
                out
            };
        let mut source_checks = Vec::new();
        for (name, src) in &spec.sources {
            // The contract is checked before any check runs.
            let temporal: Vec<&str> = src
                .columns
                .iter()
                .filter(|(_, k)| matches!(k, ColumnKind::Timestamp | ColumnKind::Date))
                .map(|(c, _)| c.as_str())
                .collect();
            source_checks.push(compile_checks(
                name,
                &src.checks,
                &temporal,
                &["sources", name, "checks"],
            ));
        }
        let mut step_checks: HashMap<String, Vec<CheckPlan>> = HashMap::new();
        for (name, step) in &spec.steps {
            step_checks.insert(
                name.clone(),
                compile_checks(name, &step.checks, &[], &["steps", name, "checks"]),
            );
        }

        let locate_err = |errors: &mut Vec<String>, keys: &[&str], msg: String| {
            errors.push(format!("{}: {msg}", loaded.locate(keys)));
        };

        // Sources.
        let mut sources = Vec::new();
        for ((name, src), checks) in spec.sources.iter().zip(source_checks) {
            let url =
                render_text(src.url.as_str(), &params).and_then(|raw| resolve_url(&raw, &base));
            match url {
                Ok(url) => sources.push(SourcePlan {
                    name: name.clone(),
                    url,
                    optional: src.optional,
                    optional_columns: src
                        .optional_columns
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    columns: src.columns.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                    checks,
                }),
                Err(e) => locate_err(
                    &mut errors,
                    &["sources", name],
                    format!("source `{name}`: {e}"),
                ),
            }
        }

        // Output root.
        let output_root = render_text(spec.output_root.as_str(), &params)
            .and_then(|raw| {
                let raw = if raw.ends_with('/') {
                    raw
                } else {
                    format!("{raw}/")
                };
                resolve_url(&raw, &base)
            })
            .map_err(|e| locate_err(&mut errors, &["output_root"], format!("`output_root`: {e}")))
            .ok();

        // Params, sources, the output root and checks are what planning any
        // step against the data needs.
        let mut sound = errors.is_empty();

        // Steps: render, parse, find the tables each reads.
        let mut steps: Vec<StepPlan> = Vec::new();
        for (name, step) in &spec.steps {
            if RESERVED_NAMES.contains(&name.as_str()) {
                locate_err(
                    &mut errors,
                    &["steps", name],
                    format!(
                        "step name `{name}` is reserved (reports use it for run data): rename the step"
                    ),
                );
                continue;
            }
            if spec.sources.contains_key(name) {
                locate_err(
                    &mut errors,
                    &["steps", name],
                    format!("step `{name}` has the same name as a source: rename one of them"),
                );
                continue;
            }
            let (template, origin, include_dir) = match (&step.sql, &step.sql_file) {
                (Some(sql), None) => (sql.clone(), "inline SQL".to_string(), base.clone()),
                (None, Some(file)) => {
                    let path = base.join(file.as_str());
                    match std::fs::read_to_string(&path) {
                        Ok(text) => (
                            text,
                            path.display().to_string(),
                            path.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
                        ),
                        Err(e) => {
                            locate_err(
                                &mut errors,
                                &["steps", name, "sql_file"],
                                format!(
                                    "step `{name}`: cannot read SQL file `{}`: {e}; the path is relative to the pipeline file",
                                    path.display()
                                ),
                            );
                            continue;
                        }
                    }
                }
                (Some(_), Some(_)) => {
                    locate_err(
                        &mut errors,
                        &["steps", name],
                        format!("step `{name}` has both `sql` and `sql_file`: keep one"),
                    );
                    continue;
                }
                (None, None) => {
                    locate_err(
                        &mut errors,
                        &["steps", name],
                        format!("step `{name}` has neither `sql` nor `sql_file`: add one"),
                    );
                    continue;
                }
            };
            let sql = match sql_environment(&include_dir).render_str(&template, context.clone()) {
                Ok(sql) => sql,
                Err(e) => {
                    locate_err(
                        &mut errors,
                        &["steps", name],
                        format!(
                            "step `{name}` ({origin}): template error at {}",
                            describe_template_error(&e)
                        ),
                    );
                    continue;
                }
            };
            match referenced_tables(&sql) {
                Ok(tables) => steps.push(StepPlan {
                    name: name.clone(),
                    sql,
                    origin,
                    materialize: step.materialize,
                    depends_on: tables,
                    reads_sources: Vec::new(),
                    checks: step_checks.remove(name).unwrap_or_default(),
                }),
                Err(e) => locate_err(
                    &mut errors,
                    &["steps", name],
                    format!("step `{name}` ({origin}): {e}"),
                ),
            }
        }

        // Split references into sources and steps; unknown names are errors.
        let source_names: HashSet<&str> = spec.sources.keys().map(|s| s.as_str()).collect();
        let step_names: HashSet<String> = spec.steps.keys().cloned().collect();
        // Steps at fault: left out of the plan `validate` goes on with.
        let mut broken: HashSet<String> = step_names
            .iter()
            .filter(|n| !steps.iter().any(|s| &s.name == *n))
            .cloned()
            .collect();
        for step in &mut steps {
            let mut deps = Vec::new();
            for table in std::mem::take(&mut step.depends_on) {
                if source_names.contains(table.as_str()) {
                    step.reads_sources.push(table);
                } else if step_names.contains(&table) {
                    deps.push(table);
                } else {
                    let known = source_names
                        .iter()
                        .copied()
                        .chain(step_names.iter().map(|s| s.as_str()));
                    let hint = suggest(&table, known)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_else(|| "; declare it under `sources` or as a step".to_string());
                    errors.push(format!(
                        "{}: step `{}` ({}) reads unknown table `{table}`{hint}",
                        loaded.locate(&["steps", &step.name]),
                        step.name,
                        step.origin
                    ));
                    broken.insert(step.name.clone());
                }
            }
            step.depends_on = deps;
        }

        let steps = match order_steps(steps) {
            Ok(s) => s,
            Err(cycle) => {
                errors.push(format!(
                    "{}: the steps read each other in a cycle: {}; break it so every step reads only earlier ones",
                    loaded.locate(&["steps", &cycle[0]]),
                    cycle
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ));
                sound = false;
                Vec::new()
            }
        };

        // A check may read sources, and steps its own step reads (they are
        // done by the time it runs).
        for src in &sources {
            for c in &src.checks {
                for t in &c.reads {
                    if !source_names.contains(t.as_str()) {
                        errors.push(format!(
                            "{}: check `{}` on source `{}` reads `{t}`, which is not a source",
                            loaded.locate(&["sources", &src.name, "checks"]),
                            c.name,
                            src.name
                        ));
                        sound = false;
                    }
                }
            }
        }
        for step in &steps {
            let upstream = ancestors(&steps, std::slice::from_ref(&step.name));
            for c in &step.checks {
                for t in &c.reads {
                    if !source_names.contains(t.as_str()) && !upstream.contains(t) {
                        errors.push(format!(
                            "{}: check `{}` on step `{}` reads `{t}`, which is neither a source nor a step `{}` reads",
                            loaded.locate(&["steps", &step.name, "checks"]),
                            c.name,
                            step.name,
                            step.name
                        ));
                        sound = false;
                    }
                }
            }
        }

        // The steps at fault, and those that read them, are left out of the
        // plan `validate` goes on with (a run stops at the errors); each is
        // mapped to the step at fault at the root of it.
        let mut held_back: HashMap<String, String> =
            broken.iter().map(|b| (b.clone(), b.clone())).collect();
        let steps: Vec<StepPlan> = steps
            .into_iter()
            .filter(|step| {
                if broken.contains(&step.name) {
                    return false;
                }
                match hold_back(step, &mut held_back) {
                    Some(problem) => {
                        errors.push(problem);
                        false
                    }
                    None => true,
                }
            })
            .collect();

        // --select: the named steps and everything they need.
        let mut deselected = Vec::new();
        let steps = if overrides.select.is_empty() {
            steps
        } else {
            for name in &overrides.select {
                if !step_names.contains(name) {
                    let hint = suggest(name, step_names.iter().map(|s| s.as_str()))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    errors.push(format!(
                        "`--select {name}`: there is no step `{name}`{hint}"
                    ));
                }
            }
            let needed = ancestors(&steps, &overrides.select);
            let (keep, drop): (Vec<_>, Vec<_>) =
                steps.into_iter().partition(|s| needed.contains(&s.name));
            deselected = drop;
            keep
        };

        // Outputs and reports.
        let mut outputs = Vec::new();
        let mut reports = Vec::new();
        if let Some(root) = &output_root {
            for (i, out) in spec.outputs.iter().enumerate() {
                if !step_names.contains(&out.step) {
                    let hint = suggest(&out.step, step_names.iter().map(|s| s.as_str()))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    errors.push(format!(
                        "{}: output {} writes step `{}`, which does not exist{hint}",
                        loaded.locate(&["outputs"]),
                        i + 1,
                        out.step
                    ));
                    continue;
                }
                if deselected.iter().any(|s| s.name == out.step) {
                    continue;
                }
                let mut sort_by = Vec::new();
                for text in &out.sort_by {
                    match SortKey::parse(text) {
                        Ok(key) if sort_by.iter().any(|k: &SortKey| k.column == key.column) => {
                            errors.push(format!(
                                "{}: output {} of step `{}`: sort_by names `{}` twice",
                                loaded.locate(&["outputs"]),
                                i + 1,
                                out.step,
                                key.column
                            ))
                        }
                        Ok(key) => sort_by.push(key),
                        Err(e) => errors.push(format!(
                            "{}: output {} of step `{}`: sort_by: {e}",
                            loaded.locate(&["outputs"]),
                            i + 1,
                            out.step
                        )),
                    }
                }
                match artifact_url(root, out.path.as_str(), &params) {
                    Ok(url) => {
                        let url = if url.path().ends_with('/') {
                            url.join(&format!("part-0.{}", out.format.extension()))
                                .expect("a file name joins onto a directory URL")
                        } else {
                            url
                        };
                        // A held-back step's output is checked, not planned.
                        if !held_back.contains_key(&out.step) {
                            outputs.push(OutputPlan {
                                step: out.step.clone(),
                                url,
                                format: out.format,
                                sort_by,
                            })
                        }
                    }
                    Err(e) => errors.push(format!(
                        "{}: output {} of step `{}`: {e}",
                        loaded.locate(&["outputs"]),
                        i + 1,
                        out.step
                    )),
                }
            }
            // A partial run (--select) writes no reports: they need every table.
            if overrides.select.is_empty() {
                for report in &spec.reports {
                    let template = base.join(report.template.as_str());
                    if !template.is_file() {
                        errors.push(format!(
                            "{}: report template `{}` does not exist; the path is relative to the pipeline file",
                            loaded.locate(&["reports"]),
                            template.display()
                        ));
                        continue;
                    }
                    let locale = match crate::report::Locale::parse(
                        report.locale.as_deref().unwrap_or("en"),
                    ) {
                        Ok(l) => l,
                        Err(e) => {
                            errors.push(format!(
                                "{}: report `{}`: {e}",
                                loaded.locate(&["reports"]),
                                report.path
                            ));
                            continue;
                        }
                    };
                    match artifact_url(root, report.path.as_str(), &params) {
                        Ok(url) if url.path().ends_with('/') => errors.push(format!(
                            "{}: report path `{}` is a directory: name the file, e.g. `report.html`",
                            loaded.locate(&["reports"]),
                            report.path
                        )),
                        Ok(url) => reports.push(ReportPlan {
                            template,
                            url,
                            locale,
                        }),
                        Err(e) => errors.push(format!(
                            "{}: report `{}`: {e}",
                            loaded.locate(&["reports"]),
                            report.path
                        )),
                    }
                }
            }
        }

        let engine = match engine_config(loaded, overrides, &base) {
            Ok(e) => EngineConfig {
                profile: overrides.profile,
                ..e
            },
            Err(e) => {
                errors.push(e);
                EngineConfig::default()
            }
        };

        let Some(output_root) = output_root.filter(|_| sound) else {
            return (None, errors);
        };
        let mut steps = steps;
        if engine.kind.is_distributed() {
            // Executors cannot read this process's memory: a step that is
            // computed once travels to them as Parquet on the pipeline's storage.
            for step in &mut steps {
                if step.materialize == Materialize::Memory {
                    step.materialize = Materialize::Parquet;
                }
            }
        }
        let plan = Plan {
            name: spec.name.to_string(),
            description: spec
                .description
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            pipeline_path: loaded.path.clone(),
            params,
            sources,
            steps,
            output_root,
            outputs,
            reports,
            engine,
            deselected,
        };
        (Some(plan), errors)
    }
}

/// Holds `step` back when a step it reads is in `held` (each held-back step
/// mapped to the step at fault at the root of it), and returns the problem
/// to report: why the step is not planned.
pub fn hold_back(step: &StepPlan, held: &mut HashMap<String, String>) -> Option<String> {
    let (through, root) = step
        .depends_on
        .iter()
        .find_map(|d| held.get(d).map(|root| (d.as_str(), root.clone())))?;
    let problem = if through == root {
        format!(
            "step `{}`: not checked, because step `{root}` has errors",
            step.name
        )
    } else {
        format!(
            "step `{}`: not checked, because it reads step `{root}` (through `{through}`), which has errors",
            step.name
        )
    };
    held.insert(step.name.clone(), root);
    Some(problem)
}

/// An output or report location: relative to the output root, or an absolute URL.
fn artifact_url(root: &Url, raw: &str, params: &Params) -> Result<Url, String> {
    let rendered = render_text(raw, params)?;
    if has_scheme(&rendered) {
        resolve_url(&rendered, std::path::Path::new("/"))
    } else if rendered.starts_with('/') {
        Err(format!(
            "`{rendered}` is an absolute path: write it relative to `output_root`, or as a `file://` URL"
        ))
    } else {
        join_under(root, &rendered)
    }
}

fn engine_config(
    loaded: &LoadedSpec,
    overrides: &Overrides,
    base: &std::path::Path,
) -> Result<EngineConfig, String> {
    let e = &loaded.spec.engine;
    let kind = engine_kind(loaded, overrides)?;
    if kind.is_distributed() && !cfg!(feature = "distributed") {
        return Err(
            "this build of loyalty cannot run on Ballista: build it with `cargo build --release --features distributed`"
                .to_string(),
        );
    }
    let memory_limit = match (&overrides.memory_limit, &e.memory_limit) {
        (Some(raw), _) => {
            Some(parse_bytes(raw).map_err(|msg| format!("`--memory-limit {raw}`: {msg}"))?)
        }
        (None, Some(raw)) => Some(parse_bytes(raw.as_str()).map_err(|msg| {
            format!(
                "{}: `engine.memory_limit`: {msg}",
                loaded.locate(&["engine", "memory_limit"])
            )
        })?),
        (None, None) => None,
    };
    if e.target_partitions == Some(0) {
        return Err(format!(
            "{}: `engine.target_partitions` must be at least 1",
            loaded.locate(&["engine", "target_partitions"])
        ));
    }
    let st = &loaded.spec.storage;
    let defaults = StorageConfig::default();
    let duration = |v: &Option<crate::spec::Interp>, key: &str, default| match v {
        Some(raw) => parse_duration(raw.as_str())
            .map_err(|m| format!("{}: `storage.{key}`: {m}", loaded.locate(&["storage", key]))),
        None => Ok(default),
    };
    let storage = StorageConfig {
        max_retries: st.max_retries.unwrap_or(defaults.max_retries),
        retry_timeout: duration(&st.retry_timeout, "retry_timeout", defaults.retry_timeout)?,
        timeout: duration(&st.timeout, "timeout", defaults.timeout)?,
        connect_timeout: duration(
            &st.connect_timeout,
            "connect_timeout",
            defaults.connect_timeout,
        )?,
    };
    if e.max_parallel_steps == Some(0) {
        return Err(format!(
            "{}: `engine.max_parallel_steps` must be at least 1",
            loaded.locate(&["engine", "max_parallel_steps"])
        ));
    }
    // Checked here so that `validate` reports an unknown key or a bad value.
    for (key, value) in &e.options {
        crate::engine::distributed::check_option(key, value.as_str()).map_err(|err| {
            format!(
                "{}: `engine.options.{key}`: {err}; see DataFusion's (or Ballista's) configuration settings for the keys",
                loaded.locate(&["engine", "options", key]),
            )
        })?;
    }
    let step_timeout = match &e.step_timeout {
        None => None,
        Some(raw) => {
            let at = loaded.locate(&["engine", "step_timeout"]);
            match parse_duration(raw.as_str()) {
                Ok(d) if d.is_zero() => {
                    return Err(format!(
                        "{at}: `engine.step_timeout` must be more than 0; leave it out for no limit"
                    ));
                }
                Ok(d) => Some(d),
                Err(m) => return Err(format!("{at}: `engine.step_timeout`: {m}")),
            }
        }
    };
    let max_parallel_steps = e.max_parallel_steps.unwrap_or(if memory_limit.is_some() {
        1
    } else {
        usize::MAX
    });
    Ok(EngineConfig {
        kind,
        target_partitions: e.target_partitions,
        memory_limit,
        spill_dir: e.spill_dir.as_ref().map(|d| base.join(d.as_str())),
        max_parallel_steps,
        step_timeout,
        storage,
        profile: false,
        options: e
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().to_string()))
            .collect(),
    })
}

fn engine_kind(loaded: &LoadedSpec, overrides: &Overrides) -> Result<EngineKind, String> {
    if let Some(flag) = &overrides.engine {
        return EngineKind::from_flag(flag);
    }
    let e = &loaded.spec.engine;
    match (e.kind, &e.url) {
        (None | Some(EngineKindSpec::Local), None) => Ok(EngineKind::Local),
        (None | Some(EngineKindSpec::Local), Some(_)) => Err(format!(
            "{}: `engine.url` is for `kind: ballista`; add it, or remove the url",
            loaded.locate(&["engine", "url"])
        )),
        (Some(EngineKindSpec::Ballista), None) => Err(format!(
            "{}: `kind: ballista` needs `url`: the scheduler, `df://host:50050`, or `{STANDALONE}`",
            loaded.locate(&["engine", "kind"])
        )),
        (Some(EngineKindSpec::Ballista), Some(url)) => EngineKind::ballista(url.as_str())
            .map_err(|m| format!("{}: `engine.url`: {m}", loaded.locate(&["engine", "url"]))),
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Local,
            target_partitions: None,
            memory_limit: None,
            spill_dir: None,
            max_parallel_steps: usize::MAX,
            step_timeout: None,
            storage: StorageConfig::default(),
            profile: false,
            options: Vec::new(),
        }
    }
}

/// Parses `512MiB`, `2GiB`, `1.5GB`, `1000000` into bytes.
pub fn parse_bytes(raw: &str) -> Result<usize, String> {
    let (n, unit) = number_and_unit(raw)
        .ok_or_else(|| format!("`{raw}` is not a size: write e.g. `2GiB` or `512MiB`"))?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{raw}`: use B, KiB, MiB, GiB (or KB, MB, GB)"
            ));
        }
    };
    Ok((n * mult) as usize)
}

/// The tables a query reads (CTE names excluded), lower-cased as DataFusion
/// normalizes unquoted identifiers. The SQL must be one query.
pub fn referenced_tables(sql: &str) -> Result<Vec<String>, String> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| format!("SQL syntax error: {e}"))?;
    if statements.len() != 1 {
        return Err(format!(
            "a step must be exactly one SQL query, found {} statements",
            statements.len()
        ));
    }
    let statement = statements.pop_front().expect("one statement");
    let is_query =
        matches!(&statement, DFStatement::Statement(s) if matches!(**s, SqlStatement::Query(_)));
    if !is_query {
        return Err(
            "a step must be a query (SELECT, WITH … SELECT, VALUES); DDL and DML such as CREATE, COPY or INSERT are not allowed"
                .into(),
        );
    }
    let (tables, _ctes) = resolve_table_references(&statement, true).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = tables.iter().map(|t| t.table().to_string()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Orders steps so each comes after the steps it reads (declaration order
/// among independent ones). On a cycle, returns it as `[a, b, …, a]`.
pub fn order_steps(steps: Vec<StepPlan>) -> Result<Vec<StepPlan>, Vec<String>> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    let mut stack: Vec<usize> = Vec::new();

    fn visit(
        i: usize,
        steps: &[StepPlan],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = stack.iter().position(|&s| s == i).expect("on the stack");
                let mut cycle: Vec<String> = stack[start..]
                    .iter()
                    .map(|&s| steps[s].name.clone())
                    .collect();
                cycle.push(steps[i].name.clone());
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for dep in &steps[i].depends_on {
            if let Some(&j) = index.get(dep.as_str()) {
                visit(j, steps, index, state, stack, order)?;
            }
        }
        stack.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }

    for i in 0..steps.len() {
        visit(i, &steps, &index, &mut state, &mut stack, &mut order)?;
    }
    let mut slots: Vec<Option<StepPlan>> = steps.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| slots[i].take().expect("each step once"))
        .collect())
}

/// The named steps and every step they read, transitively.
fn ancestors(steps: &[StepPlan], names: &[String]) -> HashSet<String> {
    let by_name: HashMap<&str, &StepPlan> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut seen = HashSet::new();
    let mut todo: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name.to_string())
            && let Some(step) = by_name.get(name)
        {
            todo.extend(step.depends_on.iter().map(|s| s.as_str()));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn step(name: &str, deps: &[&str]) -> StepPlan {
        StepPlan {
            name: name.into(),
            sql: String::new(),
            origin: "inline SQL".into(),
            materialize: Materialize::View,
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
            reads_sources: vec![],
            checks: vec![],
        }
    }

    fn names(steps: &[StepPlan]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn sort_keys_read_a_name_and_an_optional_direction() {
        let key = |c: &str, descending| SortKey {
            column: c.into(),
            descending,
        };
        assert_eq!(SortKey::parse("revenue"), Ok(key("revenue", false)));
        assert_eq!(SortKey::parse(" revenue DESC "), Ok(key("revenue", true)));
        assert_eq!(SortKey::parse("revenue asc"), Ok(key("revenue", false)));
        assert_eq!(
            SortKey::parse("net revenue desc"),
            Ok(key("net revenue", true))
        );
        // A last word that is not a direction is part of the name.
        assert_eq!(
            SortKey::parse("revenue downwards"),
            Ok(key("revenue downwards", false))
        );
        assert!(key("x", true).nulls_first() && !key("x", false).nulls_first());
        let err = SortKey::parse("  ").unwrap_err();
        assert!(err.contains("names no column"), "{err}");
    }

    #[test]
    fn orders_dependencies_first_and_keeps_declaration_order_otherwise() {
        let steps = vec![
            step("report", &["rfm", "churn"]),
            step("rfm", &["base"]),
            step("churn", &["base"]),
            step("base", &[]),
            step("other", &[]),
        ];
        let ordered = order_steps(steps).unwrap();
        assert_eq!(names(&ordered), ["base", "rfm", "churn", "report", "other"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let steps = vec![
            step("a", &["c"]),
            step("b", &["a"]),
            step("c", &["b"]),
            step("d", &[]),
        ];
        let cycle = order_steps(steps).unwrap_err();
        assert_eq!(cycle, ["a", "c", "b", "a"]);
        let self_loop = order_steps(vec![step("x", &["x"])]).unwrap_err();
        assert_eq!(self_loop, ["x", "x"]);
    }

    #[test]
    fn finds_tables_but_not_ctes() {
        let sql = "WITH recent AS (SELECT * FROM orders WHERE x > 1)
                   SELECT c.customer_id FROM Customers c JOIN recent r USING (customer_id)
                   WHERE c.id IN (SELECT customer_id FROM surveys)";
        assert_eq!(
            referenced_tables(sql).unwrap(),
            ["customers", "orders", "surveys"]
        );
    }

    #[test]
    fn refuses_non_queries_and_bad_syntax() {
        let err = referenced_tables("COPY orders TO '/tmp/x.csv'").unwrap_err();
        assert!(err.contains("must be a query"), "{err}");
        let err = referenced_tables("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'")
            .unwrap_err();
        assert!(err.contains("must be a query"), "{err}");
        let err = referenced_tables("SELECT 1; SELECT 2").unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
        let err = referenced_tables("SELECT a\nFROM t WHERE x = = 1").unwrap_err();
        assert!(err.starts_with("SQL syntax error"), "{err}");
        assert!(err.contains("Line: 2"), "{err}");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 * 1024 * 1024 * 1024);
        assert_eq!(parse_bytes("512 MiB").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_bytes("1.5GB").unwrap(), 1_500_000_000);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("2 GiBs").is_err());
    }

    fn plan_of(yaml: &str, overrides: &Overrides) -> Result<Plan> {
        let loaded = LoadedSpec::parse(Path::new("/p/pipe.yaml"), yaml.into())?;
        Plan::build(
            &loaded,
            overrides,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        )
    }

    const PIPE: &str = "\
name: t
params:
  data_root: { type: string, default: ../data }
  min_amount: { type: float, default: 0 }
sources:
  orders: \"{{ data_root }}/orders/\"
output_root: /tmp/out/{{ as_of }}
steps:
  totals:
    sql: SELECT customer_id, sum(amount) AS revenue FROM orders WHERE order_ts <= {{ as_of }} AND amount > {{ min_amount }} GROUP BY 1
  top:
    sql: SELECT * FROM totals ORDER BY revenue DESC LIMIT 10
  unrelated:
    sql: SELECT 1 AS one
outputs:
  - step: top
    path: tables/top/as_of={{ as_of }}/
  - step: unrelated
    path: one.csv
    format: csv
";

    #[test]
    fn builds_a_plan_with_params_urls_and_order() {
        let plan = plan_of(
            PIPE,
            &Overrides {
                params: vec![("as_of".into(), "2026-11-22".into())],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.sources[0].url.as_str(), "file:///data/orders/");
        assert_eq!(plan.output_root.as_str(), "file:///tmp/out/2026-11-22/");
        assert_eq!(names(&plan.steps), ["totals", "top", "unrelated"]);
        assert!(
            plan.steps[0]
                .sql
                .contains("order_ts <= DATE '2026-11-22' AND amount > 0.0")
        );
        assert_eq!(plan.steps[0].reads_sources, ["orders"]);
        assert_eq!(plan.steps[1].depends_on, ["totals"]);
        assert_eq!(
            plan.outputs[0].url.as_str(),
            "file:///tmp/out/2026-11-22/tables/top/as_of=2026-11-22/part-0.parquet"
        );
        assert_eq!(
            plan.outputs[1].url.as_str(),
            "file:///tmp/out/2026-11-22/one.csv"
        );
    }

    #[test]
    fn select_keeps_needed_steps_and_their_outputs() {
        let plan = plan_of(
            PIPE,
            &Overrides {
                select: vec!["top".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(names(&plan.steps), ["totals", "top"]);
        assert_eq!(names(&plan.deselected), ["unrelated"]);
        assert_eq!(plan.outputs.len(), 1);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let yaml = PIPE
            .replace("FROM totals ORDER", "FROM totalz ORDER")
            .replace("SELECT 1 AS one", "SELECT * FROM (")
            .replace("path: one.csv", "path: ../../one.csv");
        let err = plan_of(&yaml, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("3 problem(s) found"), "{err}");
        assert!(err.contains("/p/pipe.yaml:11:3: step `top` (inline SQL) reads unknown table `totalz`; did you mean `totals`?"), "{err}");
        assert!(
            err.contains("step `unrelated` (inline SQL): SQL syntax error"),
            "{err}"
        );
        assert!(err.contains("climbs out of the output root"), "{err}");
    }

    #[test]
    fn cycle_in_pipeline_is_an_error_naming_it() {
        let yaml = PIPE.replace("FROM orders WHERE", "FROM top, orders WHERE");
        let err = plan_of(&yaml, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cycle: `totals` → `top` → `totals`"), "{err}");
    }

    #[test]
    fn wrong_param_type_is_refused_before_anything_runs() {
        let err = plan_of(
            PIPE,
            &Overrides {
                params: vec![("as_of".into(), "2026-13-01".into())],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("`2026-13-01` is not a valid date"),
            "{err}"
        );
    }

    fn engine_error(engine_yaml: &str, overrides: &Overrides) -> String {
        let yaml = format!("{PIPE}engine:\n{engine_yaml}");
        plan_of(&yaml, overrides).unwrap_err().to_string()
    }

    #[test]
    fn engine_options_are_datafusion_keys_checked_before_the_run() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  options:\n    datafusion.execution.batch_size: 4096\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            plan.engine.options,
            [(
                "datafusion.execution.batch_size".to_string(),
                "4096".to_string()
            )]
        );
        let err = engine_error(
            "  options:\n    datafusion.execution.batch_sise: 4096\n",
            &Overrides::default(),
        );
        assert!(
            err.contains("`engine.options.datafusion.execution.batch_sise`"),
            "{err}"
        );
        let err = engine_error(
            "  options:\n    datafusion.execution.batch_size: lots\n",
            &Overrides::default(),
        );
        assert!(err.contains("batch_size"), "{err}");
    }

    #[test]
    fn ballista_options_are_checked_where_ballista_is_built() {
        // Taken for a cluster run; a local run leaves them aside.
        let plan = plan_of(
            &format!("{PIPE}engine:\n  options:\n    ballista.planner.adaptive.enabled: true\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(plan.engine.options.len(), 1);
        let misspelt = plan_of(
            &format!("{PIPE}engine:\n  options:\n    ballista.planner.adaptive.enabld: true\n"),
            &Overrides::default(),
        );
        // Without Ballista in the build there is nothing to check them against.
        assert_eq!(misspelt.is_err(), cfg!(feature = "distributed"));
        if let Err(err) = misspelt.map_err(|e| e.to_string()) {
            assert!(
                err.contains("`engine.options.ballista.planner.adaptive.enabld`"),
                "{err}"
            );
        }
    }

    #[test]
    fn step_timeout_is_a_positive_duration() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  step_timeout: 90m\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            plan.engine.step_timeout,
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(
            plan_of(PIPE, &Overrides::default())
                .unwrap()
                .engine
                .step_timeout,
            None
        );
        let err = engine_error("  step_timeout: soon\n", &Overrides::default());
        assert!(
            err.contains("`engine.step_timeout`: `soon` is not a duration"),
            "{err}"
        );
        let err = engine_error("  step_timeout: 0s\n", &Overrides::default());
        assert!(err.contains("must be more than 0"), "{err}");
    }

    #[test]
    fn memory_limit_flag_replaces_the_file() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  memory_limit: 1GiB\n"),
            &Overrides {
                memory_limit: Some("512MiB".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.engine.memory_limit, Some(512 * 1024 * 1024));
        assert_eq!(plan.engine.max_parallel_steps, 1);
        let err = plan_of(
            PIPE,
            &Overrides {
                memory_limit: Some("lots".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`--memory-limit lots`"), "{err}");
    }

    #[test]
    fn engine_kind_and_url_are_checked() {
        assert!(
            engine_error("  kind: ballista\n", &Overrides::default())
                .contains("`kind: ballista` needs `url`")
        );
        assert!(
            engine_error("  url: df://h:50050\n", &Overrides::default())
                .contains("`engine.url` is for `kind: ballista`")
        );
        assert!(
            engine_error("  kind: ballista\n  url: http://h\n", &Overrides::default())
                .contains("is not a Ballista scheduler")
        );
        let flag = |f: &str| Overrides {
            engine: Some(f.into()),
            ..Default::default()
        };
        assert!(
            plan_of(PIPE, &flag("sideways"))
                .unwrap_err()
                .to_string()
                .contains("`--engine sideways`: use `local`")
        );
        // The flag wins over the file.
        let local = plan_of(
            &format!("{PIPE}engine:\n  kind: ballista\n  url: df://h:50050\n"),
            &flag("local"),
        )
        .unwrap();
        assert_eq!(local.engine.kind, EngineKind::Local);
    }

    #[test]
    fn on_ballista_memory_steps_become_parquet() {
        let yaml = format!(
            "{}engine:\n  kind: ballista\n  url: df://h:50050\n",
            PIPE.replace(
                "    sql: SELECT 1 AS one",
                "    sql: SELECT 1 AS one\n    materialize: memory"
            )
        );
        let result = plan_of(&yaml, &Overrides::default());
        if cfg!(feature = "distributed") {
            let plan = result.unwrap();
            assert_eq!(
                plan.step("unrelated").unwrap().materialize,
                Materialize::Parquet
            );
        } else {
            let e = result.unwrap_err();
            assert!(
                e.to_string()
                    .contains("build it with `cargo build --release --features distributed`"),
                "{e}"
            );
            assert_eq!(e.exit_code(), 2);
        }
    }
}
