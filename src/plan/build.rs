//! Building a [`Plan`] from a loaded pipeline file, one part after another:
//! params, checks, sources, the output root, steps (rendered, parsed, linked
//! to what they read, ordered), `--select`, outputs, reports and the engine.
//! Every problem found on the way is collected, located in the file.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use url::Url;

use crate::checks::CheckPlan;
use crate::error::suggest;
use crate::params::{Params, describe_template_error, params_in, render_text, sql_environment};
use crate::spec::{
    CheckSpec, ColumnKind, LoadedSpec, Materialize, ParamSpec, ParamType, StepSpec, TimeZone,
};
use crate::storage::{has_scheme, join_under, redact, resolve_url};

use super::{
    EngineConfig, HeldBack, INLINE_SQL, OutputPlan, Overrides, Plan, RESERVED_NAMES, ReportPlan,
    SortKey, SourcePlan, SqlText, StepPlan, ancestors, hold_back, order_steps, referenced_tables,
    settings,
};

/// Every problem of the pipeline file, and a plan without the outputs,
/// reports or engine settings at fault when its params, sources and steps
/// are sound: `validate` then goes on to plan those steps against the
/// data, and reports what it finds there too.
pub(super) fn build_checked(
    loaded: &LoadedSpec,
    overrides: &Overrides,
    today: NaiveDate,
) -> (Option<Plan>, Vec<String>) {
    let (params, errors) = match resolve_params(loaded, overrides, today) {
        (Some(params), errors) => (params, errors),
        // Nothing else can be rendered without params: stop here.
        (None, errors) => return (None, errors),
    };
    let mut b = Builder {
        loaded,
        overrides,
        base: loaded.base_dir(),
        context: params.template_context(),
        params,
        errors,
        faults: HashMap::new(),
        written: HashMap::new(),
        timezone: None,
    };
    // Templates read it (`seconds_between`).
    b.timezone = b.timezone();
    let spec = &loaded.spec;

    let mut source_checks = Vec::new();
    for (name, src) in &spec.sources {
        // The contract is checked before any check runs.
        let temporal: Vec<&str> = src
            .columns
            .iter()
            .filter(|(_, k)| matches!(k, ColumnKind::Timestamp | ColumnKind::Date))
            .map(|(c, _)| c.as_str())
            .collect();
        source_checks.push(b.checks(name, &src.checks, &temporal, &["sources", name, "checks"]));
    }
    let mut step_checks: HashMap<String, Vec<CheckPlan>> = HashMap::new();
    for (name, step) in &spec.steps {
        let checks = b.checks(name, &step.checks, &[], &["steps", name, "checks"]);
        step_checks.insert(name.clone(), checks);
    }
    let sources = b.sources(source_checks);
    let output_root = b.output_root();
    // Params, sources, the output root and checks are what planning any
    // step against the data needs.
    let mut sound = b.errors.is_empty();

    let steps: Vec<StepPlan> = spec
        .steps
        .iter()
        .filter_map(|(name, step)| {
            let checks = step_checks.remove(name).unwrap_or_default();
            b.step(name, step, checks)
        })
        .collect();
    let step_names: HashSet<String> = spec.steps.keys().cloned().collect();
    // Steps at fault: left out of the plan `validate` goes on with.
    let mut broken: HashSet<String> = step_names
        .iter()
        .filter(|n| !steps.iter().any(|s| &s.name == *n))
        .cloned()
        .collect();
    let steps = b.link(steps, &step_names, &mut broken);
    let steps = match order_steps(steps) {
        Ok(s) => s,
        Err(cycle) => {
            b.errors.push(format!(
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
    sound &= b.check_reads(&sources, &steps);
    let (steps, held_back) = b.hold_back(steps, &broken);
    let (steps, deselected) = b.select(steps, &step_names);

    let mut outputs = Vec::new();
    let mut reports = Vec::new();
    if let Some(root) = output_root.as_ref().filter(|_| !overrides.rows_only) {
        outputs = b.outputs(root, &step_names, &deselected, &held_back);
        // A partial run (--select) writes no reports: they need every table.
        if overrides.select.is_empty() {
            reports = b.reports(root);
        }
    }
    let engine = b.engine();

    let Builder {
        params,
        errors,
        faults,
        timezone,
        ..
    } = b;
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
        held_back: (spec.steps.keys())
            .filter_map(|name| {
                let root = held_back.get(name)?;
                let mut problems = faults.get(name).cloned().unwrap_or_default();
                if root != name {
                    problems.extend(faults.get(root).into_iter().flatten().cloned());
                }
                Some(HeldBack {
                    name: name.clone(),
                    root: root.clone(),
                    materialize: spec.steps[name].materialize,
                    problems,
                })
            })
            .collect(),
        timezone,
    };
    (Some(plan), errors)
}

/// The params, typed: `as_of` always exists and is a date. None when they
/// cannot all be worked out, with the problems.
fn resolve_params(
    loaded: &LoadedSpec,
    overrides: &Overrides,
    today: NaiveDate,
) -> (Option<Params>, Vec<String>) {
    let mut errors = Vec::new();
    let mut param_specs = loaded.spec.params.clone();
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
    match Params::resolve(&param_specs, &overrides.params, today) {
        Ok(p) => (Some(p), errors),
        Err(errs) => {
            // A value the file gives (a default, out of its bounds) is wrong
            // at the param's line; a `--param` value, on the command line.
            let from_file = |e: &str| {
                (loaded.spec.params.keys()).find(|name| {
                    e.starts_with(&format!("param `{name}`: "))
                        && !overrides.params.iter().any(|(k, _)| k == *name)
                })
            };
            errors.extend(errs.into_iter().map(|e| match from_file(&e) {
                Some(name) => format!("{}: {e}", loaded.locate(&["params", name])),
                None => e,
            }));
            (None, errors)
        }
    }
}

/// What the parts of the plan are built from, and the problems so far.
struct Builder<'a> {
    loaded: &'a LoadedSpec,
    overrides: &'a Overrides,
    /// The pipeline file's folder: relative paths start there.
    base: PathBuf,
    params: Params,
    /// The params as templates see them.
    context: minijinja::Value,
    errors: Vec<String>,
    /// Each step's own problems (those located under it in the file), also
    /// among `errors`.
    faults: HashMap<String, Vec<String>>,
    /// Each output's and report's location, and which one writes it.
    written: HashMap<Url, String>,
    /// The pipeline's `timezone`.
    timezone: Option<TimeZone>,
}

impl Builder<'_> {
    /// Takes `url` for `who` (`output 2`, say); a location two outputs or
    /// reports share is a problem, found here rather than when the second
    /// overwrites the first.
    /// A location under `root` that the run writes itself (its
    /// `run_results.json`) or clears (`_staging/`, `_scratch/`) is taken too.
    fn claim(&mut self, root: &Url, url: &Url, who: String, keys: &[&str]) {
        let own = |name: &str| root.join(name).ok();
        const RUN_RESULTS: &str = crate::manifest::FILE_NAME;
        if own(RUN_RESULTS).as_ref() == Some(url) {
            let msg = format!(
                "{who} writes `{}`, where the run writes its own {RUN_RESULTS}: \
                 give it another path",
                crate::storage::redact(url.as_str())
            );
            return self.problem(keys, msg);
        }
        for folder in ["_staging/", "_scratch/"] {
            if own(folder).is_some_and(|dir| url.as_str().starts_with(dir.as_str())) {
                let msg = format!(
                    "{who} writes `{}`, inside `{folder}`, which runs use for their \
                     unfinished files and clear: give it another path",
                    crate::storage::redact(url.as_str())
                );
                return self.problem(keys, msg);
            }
        }
        match self.written.get(url) {
            Some(first) => {
                let msg = format!(
                    "{who} writes `{}`, as {first} does: give each its own path",
                    crate::storage::redact(url.as_str())
                );
                self.problem(keys, msg);
            }
            None => {
                self.written.insert(url.clone(), who);
            }
        }
    }

    /// Records a problem at `keys` of the pipeline file.
    fn problem(&mut self, keys: &[&str], msg: String) {
        let problem = format!("{}: {msg}", self.loaded.locate(keys));
        if let ["steps", step, ..] = keys {
            let own = self.faults.entry(step.to_string()).or_default();
            own.push(problem.clone());
        }
        self.errors.push(problem);
    }

    /// The checks of one table, compiled to SQL.
    fn checks(
        &mut self,
        table: &str,
        specs: &[CheckSpec],
        temporal: &[&str],
        keys: &[&str],
    ) -> Vec<CheckPlan> {
        let as_of = self.params.as_of();
        let (base, context) = (&self.base, &self.context);
        let render = |sql: &str| -> Result<String, String> {
            self.sql_templates(base)
                .render_str(sql, context.clone())
                .map_err(|e| format!("template error at {}", describe_template_error(&e)))
        };
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (i, c) in specs.iter().enumerate() {
            let item = format!("[{i}]");
            let item_keys = [keys, &[item.as_str()]].concat();
            let at = self.loaded.locate(&item_keys);
            let written = (c.sql.as_ref()).and_then(|_| {
                self.loaded
                    .written_value(&[item_keys.as_slice(), &["sql"]].concat())
            });
            match crate::checks::compile(table, c, as_of, temporal, &render) {
                Ok(plan) => out.push(CheckPlan {
                    at,
                    written,
                    ..plan
                }),
                Err(e) => {
                    let name = (c.name.as_ref()).map_or((i + 1).to_string(), |n| format!("`{n}`"));
                    let problem = match &e.sql {
                        Some((rendered, place)) => SqlText::in_pipeline(
                            "check",
                            &at,
                            written.as_ref(),
                            c.sql.as_deref().unwrap_or_default(),
                            rendered,
                        )
                        .explain(&e.message, *place),
                        None => e.message,
                    };
                    problems.push(format!("{at}: check {name} on `{table}`: {problem}"));
                }
            }
        }
        self.errors.extend(problems);
        out
    }

    /// The sources, their locations resolved; `checks` in their order.
    fn sources(&mut self, checks: Vec<Vec<CheckPlan>>) -> Vec<SourcePlan> {
        let mut sources = Vec::new();
        for ((name, src), checks) in self.loaded.spec.sources.iter().zip(checks) {
            if let Some(problem) = not_a_sql_name("source", name) {
                self.problem(&["sources", name], problem);
            }
            let url = render_text(src.url.as_str(), &self.params)
                .and_then(|raw| Ok((resolve_url(&raw, &self.base)?, raw)));
            match url {
                Ok((url, raw)) => sources.push(SourcePlan {
                    name: name.clone(),
                    url,
                    url_params: params_in(src.url.as_str(), &self.params),
                    from_current_dir: crate::storage::from_current_dir(&raw, &self.base),
                    optional: src.optional,
                    optional_columns: src
                        .optional_columns
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    columns: src.columns.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                    checks,
                    naive_timestamps: src.naive_timestamps,
                }),
                Err(e) => self.problem(&["sources", name], format!("source `{name}`: {e}")),
            }
        }
        sources
    }

    /// Where outputs and reports go, as a folder URL.
    fn output_root(&mut self) -> Option<Url> {
        let root = render_text(self.loaded.spec.output_root.as_str(), &self.params)
            .and_then(|raw| {
                let raw = if raw.ends_with('/') {
                    raw
                } else {
                    format!("{raw}/")
                };
                resolve_url(&raw, &self.base)
            })
            .and_then(|url| match url.scheme() {
                // object_store's HTTP store uploads a file in one request
                // (none over its 10 MB buffer) and fails where two writers
                // create the same WebDAV folder at once.
                "http" | "https" => Err(format!(
                    "`{}` is a web server: sources may be read over http(s), \
                     but outputs are written to local disk, `s3://`, `gs://` or `az://`; \
                     write them there and serve that folder",
                    redact(url.as_str())
                )),
                _ => Ok(url),
            });
        match root {
            Ok(url) => Some(url),
            Err(e) => {
                self.problem(&["output_root"], format!("`output_root`: {e}"));
                None
            }
        }
    }

    /// One step: its SQL read, rendered with the params and parsed for the
    /// tables it reads (not yet told apart into sources and steps).
    fn step(&mut self, name: &str, step: &StepSpec, checks: Vec<CheckPlan>) -> Option<StepPlan> {
        if let Some(problem) = not_a_sql_name("step", name) {
            self.problem(&["steps", name], problem);
            return None;
        }
        if RESERVED_NAMES.contains(&name) {
            self.problem(
                &["steps", name],
                format!(
                    "step name `{name}` is reserved (reports use it for run data): rename the step"
                ),
            );
            return None;
        }
        if self.loaded.spec.sources.contains_key(name) {
            self.problem(
                &["steps", name],
                format!("step `{name}` has the same name as a source: rename one of them"),
            );
            return None;
        }
        let (template, origin, include_dir) = match (&step.sql, &step.sql_file) {
            (Some(sql), None) => (sql.clone(), INLINE_SQL.to_string(), self.base.clone()),
            (None, Some(file)) => {
                let path = self.base.join(file.as_str());
                match std::fs::read_to_string(&path) {
                    Ok(text) => (
                        text,
                        crate::storage::normalize(&path).display().to_string(),
                        path.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
                    ),
                    Err(e) => {
                        self.problem(
                            &["steps", name, "sql_file"],
                            format!(
                                "step `{name}`: cannot read SQL file `{}`: {e}; the path is relative to the pipeline file",
                                path.display()
                            ),
                        );
                        return None;
                    }
                }
            }
            (Some(_), Some(_)) => {
                self.problem(
                    &["steps", name],
                    format!("step `{name}` has both `sql` and `sql_file`: keep one"),
                );
                return None;
            }
            (None, None) => {
                self.problem(
                    &["steps", name],
                    format!("step `{name}` has neither `sql` nor `sql_file`: add one"),
                );
                return None;
            }
        };
        let env = self.sql_templates(&include_dir);
        let sql = match render_query(&env, &template, &self.context) {
            Ok(sql) => sql,
            Err(e) => {
                self.problem(&["steps", name], format!("step `{name}` ({origin}): {e}"));
                return None;
            }
        };
        let tables = referenced_tables(&sql);
        let written = match step.sql_file {
            Some(_) => None,
            None => self.loaded.written_value(&["steps", name, "sql"]),
        };
        let mut plan = StepPlan {
            name: name.to_string(),
            sql,
            template,
            written,
            at: self.loaded.locate(&["steps", name]),
            origin,
            materialize: step.materialize,
            depends_on: Vec::new(),
            reads_sources: Vec::new(),
            checks,
        };
        match tables {
            Ok(tables) => {
                plan.depends_on = tables;
                Some(plan)
            }
            Err(e) => {
                let (origin, snippet) = plan.sql_text().origin(e.at);
                let snippet = snippet.map(|s| format!("\n{s}")).unwrap_or_default();
                self.problem(
                    &["steps", name],
                    format!("step `{name}` ({origin}): {}{snippet}", e.message),
                );
                None
            }
        }
    }

    /// Splits the tables each step reads into sources and steps; a name that
    /// is neither is a problem, and its step goes into `broken`.
    fn link(
        &mut self,
        mut steps: Vec<StepPlan>,
        step_names: &HashSet<String>,
        broken: &mut HashSet<String>,
    ) -> Vec<StepPlan> {
        let source_names: HashSet<&str> = self
            .loaded
            .spec
            .sources
            .keys()
            .map(|s| s.as_str())
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
                    self.problem(
                        &["steps", &step.name],
                        format!(
                            "step `{}` ({}) reads unknown table `{table}`{hint}",
                            step.name, step.origin
                        ),
                    );
                    broken.insert(step.name.clone());
                }
            }
            step.depends_on = deps;
        }
        steps
    }

    /// A check may read sources, and steps its own step reads (they are
    /// done by the time it runs). Whether every check does.
    fn check_reads(&mut self, sources: &[SourcePlan], steps: &[StepPlan]) -> bool {
        let is_source = |t: &str| self.loaded.spec.sources.contains_key(t);
        let mut problems = Vec::new();
        for src in sources {
            for c in &src.checks {
                for t in c.reads.iter().filter(|t| !is_source(t)) {
                    problems.push(format!(
                        "{}: check `{}` on source `{}` reads `{t}`, which is not a source",
                        c.at, c.name, src.name
                    ));
                }
            }
        }
        for step in steps {
            let upstream = ancestors(steps, std::slice::from_ref(&step.name));
            for c in &step.checks {
                for t in c
                    .reads
                    .iter()
                    .filter(|t| !is_source(t) && !upstream.contains(*t))
                {
                    problems.push(format!(
                        "{}: check `{}` on step `{}` reads `{t}`, which is neither a source nor a step `{}` reads",
                        c.at, c.name, step.name, step.name
                    ));
                }
            }
        }
        let none = problems.is_empty();
        self.errors.extend(problems);
        none
    }

    /// The steps at fault, and those that read them, are left out of the
    /// plan `validate` goes on with (a run stops at the errors). Returns the
    /// steps kept, and each step held back mapped to the step at fault at
    /// the root of it.
    fn hold_back(
        &mut self,
        steps: Vec<StepPlan>,
        broken: &HashSet<String>,
    ) -> (Vec<StepPlan>, HashMap<String, String>) {
        let mut held_back: HashMap<String, String> =
            broken.iter().map(|b| (b.clone(), b.clone())).collect();
        let steps = steps
            .into_iter()
            .filter(|step| {
                if broken.contains(&step.name) {
                    return false;
                }
                match hold_back(step, &mut held_back) {
                    Some(problem) => {
                        let own = self.faults.entry(step.name.clone()).or_default();
                        own.push(problem.clone());
                        self.errors.push(problem);
                        false
                    }
                    None => true,
                }
            })
            .collect();
        (steps, held_back)
    }

    /// `--select`: the named steps and everything they need, and the steps
    /// left out.
    fn select(
        &mut self,
        steps: Vec<StepPlan>,
        step_names: &HashSet<String>,
    ) -> (Vec<StepPlan>, Vec<StepPlan>) {
        let select = &self.overrides.select;
        if select.is_empty() {
            return (steps, Vec::new());
        }
        for name in select {
            if !step_names.contains(name) {
                let hint = suggest(name, step_names.iter().map(|s| s.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                self.errors.push(format!(
                    "`--select {name}`: there is no step `{name}`{hint}"
                ));
            }
        }
        let needed = ancestors(&steps, select);
        steps.into_iter().partition(|s| needed.contains(&s.name))
    }

    /// The outputs of the steps kept: where each goes and in what order.
    fn outputs(
        &mut self,
        root: &Url,
        step_names: &HashSet<String>,
        deselected: &[StepPlan],
        held_back: &HashMap<String, String>,
    ) -> Vec<OutputPlan> {
        let mut outputs = Vec::new();
        for (i, out) in self.loaded.spec.outputs.iter().enumerate() {
            let at = self.loaded.locate(&["outputs"]);
            if !step_names.contains(&out.step) {
                let hint = suggest(&out.step, step_names.iter().map(|s| s.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                self.errors.push(format!(
                    "{at}: output {} writes step `{}`, which does not exist{hint}",
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
                        self.errors.push(format!(
                            "{at}: output {} of step `{}`: sort_by names `{}` twice",
                            i + 1,
                            out.step,
                            key.column
                        ))
                    }
                    Ok(key) => sort_by.push(key),
                    Err(e) => self.errors.push(format!(
                        "{at}: output {} of step `{}`: sort_by: {e}",
                        i + 1,
                        out.step
                    )),
                }
            }
            match artifact_url(root, out.path.as_str(), &self.params) {
                Ok(url) => {
                    let url = if url.path().ends_with('/') {
                        url.join(&format!("part-0.{}", out.format.extension()))
                            .expect("a file name joins onto a directory URL")
                    } else {
                        url
                    };
                    self.claim(root, &url, format!("output {}", i + 1), &["outputs"]);
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
                Err(e) => self.errors.push(format!(
                    "{at}: output {} of step `{}`: {e}",
                    i + 1,
                    out.step
                )),
            }
        }
        outputs
    }

    /// The reports: each template found, its locale, where it goes.
    fn reports(&mut self, root: &Url) -> Vec<ReportPlan> {
        let mut reports = Vec::new();
        for report in &self.loaded.spec.reports {
            let at = self.loaded.locate(&["reports"]);
            let template = self.base.join(report.template.as_str());
            if !template.is_file() {
                self.errors.push(format!(
                    "{at}: report template `{}` does not exist; the path is relative to the pipeline file",
                    template.display()
                ));
                continue;
            }
            let locale =
                match crate::report::Locale::parse(report.locale.as_deref().unwrap_or("en")) {
                    Ok(l) => l,
                    Err(e) => {
                        self.errors
                            .push(format!("{at}: report `{}`: {e}", report.path));
                        continue;
                    }
                };
            match artifact_url(root, report.path.as_str(), &self.params) {
                Ok(url) if url.path().ends_with('/') => self.errors.push(format!(
                    "{at}: report path `{}` is a directory: name the file, e.g. `report.html`",
                    report.path
                )),
                Ok(url) => {
                    self.claim(
                        root,
                        &url,
                        format!("report `{}`", report.path),
                        &["reports"],
                    );
                    reports.push(ReportPlan {
                        template,
                        url,
                        locale,
                    })
                }
                Err(e) => self
                    .errors
                    .push(format!("{at}: report `{}`: {e}", report.path)),
            }
        }
        reports
    }

    /// The environment SQL templates render in, loading from `dir`, with
    /// the pipeline's zone (`seconds_between`).
    fn sql_templates(&self, dir: &std::path::Path) -> minijinja::Environment<'static> {
        sql_environment(dir, self.timezone.as_ref().map(TimeZone::as_str))
    }

    /// The pipeline's `timezone`, where it names one that is one.
    fn timezone(&mut self) -> Option<TimeZone> {
        let raw = self.loaded.spec.timezone.as_ref()?;
        TimeZone::parse(raw.as_str())
            .map_err(|e| self.problem(&["timezone"], format!("timezone: {e}")))
            .ok()
    }

    /// The engine settings, `--profile` included.
    fn engine(&mut self) -> EngineConfig {
        match settings::engine_config(self.loaded, self.overrides, &self.base) {
            Ok(e) => EngineConfig {
                profile: self.overrides.profile,
                ..e
            },
            Err(e) => {
                self.errors.push(e);
                EngineConfig::default()
            }
        }
    }
}

/// Why `name` cannot name a table, if it cannot: SQL reads a name written
/// without double quotes in lower case (`FROM BigSpenders` reads
/// `bigspenders`), so a table's name must be lower-case letters, digits and
/// `_`, not starting with a digit.
fn not_a_sql_name(kind: &str, name: &str) -> Option<String> {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        return None;
    }
    let mut fixed: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if fixed.starts_with(|c: char| c.is_ascii_digit()) {
        fixed.insert(0, '_');
    }
    Some(format!(
        "{kind} name `{name}` is not a plain SQL name: SQL reads names in lower case, so use lower-case letters, digits and `_`, e.g. `{fixed}`"
    ))
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

/// [`Plan::render_sql`]: `template` rendered as a step's SQL written in the
/// pipeline file would be.
pub(super) fn render_sql(
    plan: &Plan,
    template: &str,
    dir: Option<&std::path::Path>,
) -> std::result::Result<String, String> {
    let dir = match dir.or(plan.pipeline_path.parent()) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let env = sql_environment(&dir, plan.timezone.as_ref().map(TimeZone::as_str));
    render_query(&env, template, &plan.params.template_context())
}

/// A step's or a query's SQL template rendered in `env` with `context`, or
/// "template error at line N: …", naming the name it reads that nothing
/// defines where that is what went wrong.
fn render_query(
    env: &minijinja::Environment<'_>,
    template: &str,
    context: &minijinja::Value,
) -> std::result::Result<String, String> {
    env.render_str(template, context.clone()).map_err(|e| {
        let unknown = match e.kind() {
            minijinja::ErrorKind::UndefinedError => unknown_name(env, template, context),
            _ => String::new(),
        };
        format!("template error at {}{unknown}", describe_template_error(&e))
    })
}

/// For a SQL template that met an undefined value and reads a name nothing
/// defines (minijinja's "undefined value" does not say which): `; `as_off`
/// is not a param of this pipeline; did you mean `as_of`?`, or nothing where
/// every name it reads is defined.
fn unknown_name(
    env: &minijinja::Environment<'_>,
    template: &str,
    context: &minijinja::Value,
) -> String {
    let Ok(t) = env.template_from_str(template) else {
        return String::new();
    };
    let params: Vec<String> = (context.try_iter().into_iter().flatten())
        .map(|k| k.to_string())
        .collect();
    let known = |n: &str| params.iter().any(|p| p == n) || env.globals().any(|(g, _)| g == n);
    let mut unknown: Vec<String> = (t.undeclared_variables(false).into_iter())
        .filter(|n| !known(n))
        .collect();
    unknown.sort();
    let Some(name) = unknown.first() else {
        return String::new();
    };
    let hint = suggest(name, params.iter().map(String::as_str))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| format!(" (its params are {})", crate::text::code_list(&params)));
    format!("; `{name}` is not a param of this pipeline{hint}")
}

#[cfg(test)]
mod tests {
    use super::not_a_sql_name;

    #[test]
    fn table_names_are_plain_lower_case_sql_names() {
        for ok in ["orders", "rfm_scores_all", "_tmp", "q4_2025"] {
            assert_eq!(not_a_sql_name("step", ok), None, "{ok}");
        }
        for (bad, fixed) in [
            ("BigSpenders", "bigspenders"),
            ("top-customers", "top_customers"),
            ("2025_orders", "_2025_orders"),
            ("my orders", "my_orders"),
        ] {
            let msg = not_a_sql_name("step", bad).unwrap();
            assert!(
                msg.starts_with(&format!("step name `{bad}` is not a plain SQL name"))
                    && msg.ends_with(&format!("e.g. `{fixed}`")),
                "{msg}"
            );
        }
    }
}
