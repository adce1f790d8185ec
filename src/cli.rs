//! The command line: clap commands → library calls. The one place errors are
//! printed and turned into exit codes (0 success, 1 a step or check failed,
//! 2 a usage or configuration error).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bundle;
use crate::error::{Error, Result};
use crate::params::parse_override;
use crate::plan::{Overrides, Plan};
use crate::progress::{LogObserver, Observer, TerminalObserver};
use crate::rows::ShowFormat;
use crate::sample::{self, SampleOptions};
use crate::show::Query;
use crate::spec::LoadedSpec;
use crate::text::count;

/// Prints a line on stdout, the one printer of the commands' summaries
/// (`say!(stderr, …)`: on stderr, for the final error). A reader that has
/// gone (`loyalty run … | head -1`, a log collector that died) is no error:
/// the run's results are in its files, so what it says after is dropped, not
/// a panic (which `println!` and `eprintln!` would make of it).
macro_rules! say {
    (stderr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Debug, Parser)]
#[command(
    name = "loyalty",
    version,
    about = "Customer-loyalty analytics: YAML pipelines of SQL over Parquet, rendered as reports"
)]
pub struct Cli {
    /// Log format on stderr: `text` for people, `json` for orchestrators.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Only warnings and errors on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: its steps, outputs, reports and run_results.json.
    Run {
        /// The pipeline YAML file.
        pipeline: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
        /// Run only these steps and the steps they need (repeatable).
        #[arg(long = "select", value_name = "STEP")]
        select: Vec<String>,
        /// Log each computed plan with its operators' metrics (rows, time, spills).
        #[arg(long)]
        profile: bool,
        /// Cap the memory of queries, e.g. `2GiB`, spilling to disk beyond it
        /// (replaces `engine.memory_limit`).
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        /// Where queries run: `local` (default), a Ballista scheduler
        /// `df://host:50050`, or `standalone` (Ballista in this process);
        /// replaces `engine.kind` and `engine.url`.
        #[arg(long, value_name = "ENGINE")]
        engine: Option<String>,
    },
    /// Check a pipeline without running it: YAML, params, SQL planned against
    /// the sources' schemas, templates. Reports every problem found.
    Validate {
        pipeline: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
        /// Also print every query the run would make (source checks, each step
        /// and its checks), rendered with these params.
        #[arg(long)]
        show_sql: bool,
    },
    /// Print the first rows of a step, a source or a query of them, or
    /// without one, the tables there are with their columns. Computes only
    /// the steps it reads, without their data checks; writes nothing.
    #[command(
        override_usage = "loyalty show [OPTIONS] <PIPELINE> <TABLE>\n       loyalty show [OPTIONS] <PIPELINE> --sql <QUERY>\n       loyalty show [OPTIONS] <PIPELINE> --sql-file <FILE>\n       loyalty show [OPTIONS] <PIPELINE>    (its sources and steps, with their columns)"
    )]
    Show {
        /// The pipeline YAML file.
        pipeline: PathBuf,
        /// The step or source to show; without it (and without `--sql`),
        /// the pipeline's sources and steps are listed with their columns.
        #[arg(conflicts_with_all = ["sql", "sql_file"])]
        table: Option<String>,
        /// A query of the pipeline's steps and sources to show instead, a
        /// template as a step's SQL is (`{{ as_of }}`, the params).
        #[arg(long, value_name = "QUERY", conflicts_with = "sql_file")]
        sql: Option<String>,
        /// The same in a file, such as a step's SQL before it is a step
        /// (importing macros from the file's folder).
        #[arg(long, value_name = "FILE")]
        sql_file: Option<PathBuf>,
        #[command(flatten)]
        params: ParamArgs,
        /// How many rows to print: a number, or `all`.
        #[arg(long, default_value = "20", value_parser = parse_limit, value_name = "N")]
        limit: Limit,
        /// `table` or `records` (a row at a time) for people; `csv`, or
        /// `json` (an object per line), for tools. By default a table, or
        /// records where the table is wider than the terminal. Without a
        /// table, a row per column of each table listed.
        #[arg(long, value_enum)]
        format: Option<ShowFormat>,
        /// Cap the memory of queries, as for `run` (replaces `engine.memory_limit`).
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        /// Where queries run, as for `run`: `local`, `df://host:50050` or `standalone`.
        #[arg(long, value_name = "ENGINE")]
        engine: Option<String>,
    },
    /// Write sample customers/, orders/, surveys/ and complaints/ as Parquet.
    Sample {
        /// Folder to write into: a local path, or a folder on an object store
        /// (`s3://bucket/data`, `gs://…`, `az://…`; credentials from the
        /// cloud's environment variables, as for `run`).
        #[arg(long, value_name = "DIR|URL")]
        out: String,
        #[command(flatten)]
        sample: SampleArgs,
    },
    /// Generate sample data and run the bundled pipeline on it.
    Demo {
        /// Directory for the data, the pipeline files and the outputs.
        #[arg(long, default_value = "demo")]
        out: PathBuf,
        #[command(flatten)]
        sample: SampleArgs,
    },
}

#[derive(Debug, Args)]
pub struct ParamArgs {
    /// The run date (sets the `as_of` param), YYYY-MM-DD. The last one given wins.
    #[arg(long, value_name = "DATE", overrides_with = "as_of")]
    as_of: Option<String>,
    /// Set a param: `--param key=value` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_override)]
    params: Vec<(String, String)>,
}

impl ParamArgs {
    fn overrides(&self) -> Vec<(String, String)> {
        let mut all = self.params.clone();
        if let Some(d) = &self.as_of {
            all.push(("as_of".into(), d.clone()));
        }
        all
    }
}

/// `show --limit`: a number of rows, or every row (`all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(Option<usize>);

fn parse_limit(raw: &str) -> Result<Limit, String> {
    if raw == "all" {
        return Ok(Limit(None));
    }
    raw.parse()
        .map(|n| Limit(Some(n)))
        .map_err(|_| format!("`{raw}` is not a number of rows: give one, such as 20, or `all`"))
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Number of customers (about 20 orders each).
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Random seed: the same seed and end date give the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of the data, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    end_date: Option<NaiveDate>,
}

fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("`{raw}` is not a date: use YYYY-MM-DD"))
}

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Today in the pipeline's time zone, where it names one; else (or where
/// it names none that is one, which the plan then reports) this machine's
/// date.
fn today_for(loaded: &LoadedSpec) -> NaiveDate {
    loaded
        .spec
        .timezone
        .as_ref()
        .and_then(|raw| crate::spec::TimeZone::parse(raw.as_str()).ok())
        .map_or_else(today, |tz| tz.today())
}

/// Parses the command line, runs it, prints any error; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Deep query plans recurse deeply when planned, and on Ballista when
        // encoded for the scheduler; tokio's 2 MiB default overflowed there.
        .thread_stack_size(16 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!(stderr, "error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(execute(&cli)) {
        Ok(()) => 0,
        Err(e) => {
            match cli.log_format {
                LogFormat::Json => tracing::error!(exit_code = e.exit_code(), "{e}"),
                LogFormat::Text => say!(stderr, "error: {}", crate::secrets::scrub(&e.to_string())),
            }
            e.exit_code()
        }
    }
}

fn init_logging(format: LogFormat, quiet: bool) {
    // On a terminal the progress display says what info lines would.
    let terminal = format == LogFormat::Text && std::io::stderr().is_terminal();
    let default = if quiet || terminal {
        "warn"
    } else {
        "loyalty=info,warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOYALTY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::secrets::ScrubbedStderr)
        // A log line that cannot be written (stderr closed) is dropped; the
        // default reports it with `eprintln!`, which panics on the same
        // closed stderr and kills the run half-way.
        .log_internal_errors(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn observer(cli: &Cli) -> Box<dyn Observer> {
    if cli.log_format == LogFormat::Text && !cli.quiet && std::io::stderr().is_terminal() {
        Box::new(TerminalObserver::new())
    } else {
        Box::new(LogObserver)
    }
}

async fn execute(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Run {
            pipeline,
            params,
            select,
            profile,
            memory_limit,
            engine,
        } => {
            let overrides = Overrides {
                params: params.overrides(),
                select: select.clone(),
                profile: *profile,
                memory_limit: memory_limit.clone(),
                engine: engine.clone(),
                rows_only: false,
            };
            run_pipeline(pipeline, &overrides, observer(cli).as_ref()).await
        }
        Command::Validate {
            pipeline,
            params,
            show_sql,
        } => {
            let overrides = Overrides {
                params: params.overrides(),
                ..Overrides::default()
            };
            let loaded = LoadedSpec::load(pipeline)?;
            // The pipeline file's problems, then, where its steps are sound,
            // what planning them against the data finds.
            let (plan, mut problems) = Plan::build_checked(&loaded, &overrides, today_for(&loaded));
            if let Some(plan) = &plan {
                problems.extend(crate::run::validate(plan).await?);
            }
            if let (Some(plan), true) = (&plan, problems.is_empty()) {
                if *show_sql {
                    let _ = std::io::Write::write_all(
                        &mut std::io::stdout(),
                        plan.sql_listing().as_bytes(),
                    );
                }
                say!(
                    "{}: valid ({}, {}, {}, {})",
                    pipeline.display(),
                    count(plan.sources.len() as u64, "source"),
                    count(plan.steps.len() as u64, "step"),
                    count(plan.outputs.len() as u64, "output"),
                    count(plan.reports.len() as u64, "report")
                );
                Ok(())
            } else {
                Err(Error::Invalid(problems))
            }
        }
        Command::Show {
            pipeline,
            table,
            sql,
            sql_file,
            params,
            limit,
            format,
            memory_limit,
            engine,
        } => {
            let query = match (table, sql, sql_file) {
                (_, Some(sql), _) => Some(Query::Sql(sql.clone())),
                (_, _, Some(file)) => Some(Query::SqlFile(file.clone())),
                (Some(table), ..) => Some(Query::Table(table.clone())),
                (None, None, None) => None,
            };
            let overrides = Overrides {
                params: params.overrides(),
                engine: engine.clone(),
                memory_limit: memory_limit.clone(),
                rows_only: true,
                ..Overrides::default()
            };
            let loaded = LoadedSpec::load(pipeline)?;
            let built = Plan::build_checked(&loaded, &overrides, today_for(&loaded));
            let plan = Plan::without_steps_at_fault(built)?;
            let Some(query) = query else {
                // No table named: the tables there are, with their columns.
                return crate::rows::print_listing(&crate::show::list(&plan).await?, *format);
            };
            let shown = crate::show::show(plan, &query, limit.0, observer(cli).as_ref()).await?;
            crate::rows::print(&shown, *format)?;
            // How many rows there are: on stderr, beside the rows on stdout;
            // for orchestrators, as a log line they can read.
            let kept = shown.shown_rows() as u64;
            match cli.log_format {
                LogFormat::Json => tracing::info!(rows = shown.rows, shown = kept, "shown"),
                LogFormat::Text if !cli.quiet => {
                    let what = match &query {
                        Query::Table(name) => format!("`{name}`"),
                        Query::Sql(_) => "the query".to_string(),
                        Query::SqlFile(file) => format!("the query in {}", file.display()),
                    };
                    let rows = count(shown.rows, "row");
                    if kept < shown.rows {
                        say!(
                            stderr,
                            "{what}: the first {kept} of {rows} (--limit all shows every one)"
                        );
                    } else {
                        say!(stderr, "{what}: {rows}");
                    }
                }
                LogFormat::Text => {}
            }
            Ok(())
        }
        Command::Sample { out, sample } => {
            let summary = write_sample(out, sample).await?;
            say!(
                "wrote {} to {}",
                counts(&summary),
                crate::storage::redact(out)
            );
            Ok(())
        }
        Command::Demo { out, sample } => demo(out, sample, observer(cli).as_ref()).await,
    }
}

fn sample_options(out: &Path, args: &SampleArgs) -> SampleOptions {
    SampleOptions {
        out: out.to_path_buf(),
        customers: args.customers,
        seed: args.seed,
        end_date: args.end_date.unwrap_or_else(today),
    }
}

/// `sample --out`: a local folder, or a folder on an object store, where the
/// files are generated in a temporary local folder first and then copied.
async fn write_sample(out: &str, args: &SampleArgs) -> Result<sample::SampleSummary> {
    use crate::storage::{has_scheme, redact, resolve_url};
    if !has_scheme(out) {
        return generate_sample(&sample_options(Path::new(out), args)).await;
    }
    let scheme = out.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(
        scheme.as_deref(),
        Some("file" | "s3" | "gs" | "az" | "abfs" | "abfss")
    ) {
        return Err(Error::config(format!(
            "`--out {}`: sample data is written to a local folder, `s3://`, `gs://` or `az://`",
            redact(out)
        )));
    }
    let url =
        resolve_url(out, Path::new("")).map_err(|e| Error::config(format!("`--out`: {e}")))?;
    if url.scheme() == "file" {
        let dir = url
            .to_file_path()
            .map_err(|_| Error::config(format!("`--out {out}`: not a usable local path")))?;
        return generate_sample(&sample_options(&dir, args)).await;
    }
    // Before the data is generated: a URL no store can be made of is a
    // mistake on the command line.
    let store = crate::storage::build_store(&url, &Default::default())
        .map_err(|e| Error::config(format!("`--out {}`: {}", redact(out), e.without_location())))?;
    let local = tempfile::tempdir().map_err(|e| {
        Error::Run(format!(
            "cannot make a temporary folder for the sample data: {e}"
        ))
    })?;
    let summary = generate_sample(&sample_options(local.path(), args)).await?;
    crate::storage::upload_folder(local.path(), &url, &store).await?;
    Ok(summary)
}

async fn generate_sample(opts: &SampleOptions) -> Result<sample::SampleSummary> {
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || sample::generate(&opts))
        .await
        .map_err(|e| Error::Run(format!("sample generator stopped: {e}")))?
}

async fn run_pipeline(
    pipeline: &Path,
    overrides: &Overrides,
    observer: &dyn Observer,
) -> Result<()> {
    let loaded = LoadedSpec::load(pipeline)?;
    let plan = match overrides.select.as_slice() {
        [] => Plan::build(&loaded, overrides, today_for(&loaded))?,
        // A part of the pipeline: steps at fault elsewhere do not stop it.
        selected => Plan::for_selection(
            Plan::build_checked(&loaded, overrides, today_for(&loaded)),
            selected,
        )?,
    };
    tracing::info!(
        pipeline = plan.name.as_str(),
        as_of = %plan.as_of(),
        steps = plan.steps.len(),
        "run started"
    );
    let results = crate::run::run(&plan, observer).await?;
    say!(
        "{}: {} in {:.1}s; results in {}",
        plan.name,
        steps_run(&results.steps),
        results.elapsed_seconds,
        crate::storage::redact(
            plan.output_root
                .join(crate::manifest::FILE_NAME)
                .map(|u| u.to_string())
                .unwrap_or_default()
                .as_str()
        )
    );
    for a in &results.artifacts {
        let line = format!("  {:<7} {}", format!("{:?}", a.kind).to_lowercase(), a.path);
        say!("{}", crate::secrets::scrub(&line));
    }
    Ok(())
}

async fn demo(out: &Path, args: &SampleArgs, observer: &dyn Observer) -> Result<()> {
    if crate::storage::has_scheme(&out.to_string_lossy()) {
        return Err(Error::config(format!(
            "`--out {}`: the demo writes a pipeline to edit and runs it here, so it takes a \
             local folder; to put sample data on an object store, run `loyalty sample --out {0}`",
            crate::storage::redact(&out.to_string_lossy())
        )));
    }
    let opts = sample_options(&out.join("data"), args);
    let summary = generate_sample(&opts).await?;
    say!(
        "sample data: {} in {}",
        counts(&summary),
        opts.out.display()
    );
    let bundle::Extracted {
        pipeline,
        kept,
        updated,
    } = bundle::extract(out)?;
    if !updated.is_empty() {
        say!(
            "updated {} an earlier version wrote, which you had not changed",
            count(updated.len() as u64, "file"),
        );
    }
    if !kept.is_empty() {
        say!(
            "kept {} you changed (delete {} to get the bundled {} back):",
            count(kept.len() as u64, "file"),
            if kept.len() == 1 { "it" } else { "them" },
            if kept.len() == 1 { "one" } else { "ones" }
        );
        for k in &kept {
            match &k.bundled_beside {
                None => say!("  {}", k.path.display()),
                Some(beside) => say!(
                    "  {} (this version's differs from the one you started from: it is beside yours as {}; merge your changes into it)",
                    k.path.display(),
                    beside.display()
                ),
            }
        }
    }
    // The demo's own run names its folders, so that `LOYALTY_DATA_ROOT` in
    // the environment does not steer it; absolute: a relative location in a
    // param is taken from the pipeline file's folder, not from where the
    // command runs.
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let as_of = opts.end_date.format("%Y-%m-%d").to_string();
    let data_root = abs(out.join("data")).display().to_string();
    let out_root = abs(out.join("output")).display().to_string();
    let overrides = Overrides {
        params: vec![
            ("as_of".into(), as_of.clone()),
            ("data_root".into(), data_root.clone()),
            ("out_root".into(), out_root.clone()),
        ],
        ..Overrides::default()
    };
    run_pipeline(&pipeline, &overrides, observer).await?;
    // The copy's defaults are the folders beside it, unless the user kept
    // a pipeline file of their own, which may name others.
    let locations = if kept.iter().any(|k| k.path == pipeline) {
        format!(" --param data_root={data_root} --param out_root={out_root}")
    } else {
        String::new()
    };
    say!(
        "the pipeline, its SQL and templates are in {}: edit them and run\n  loyalty run {p} --as-of {as_of}{locations}\nor look at a step's rows:\n  loyalty show {p} rfm_segment_summary --as-of {as_of}{locations}",
        out.display(),
        p = pipeline.display(),
    );
    Ok(())
}

/// `28 steps`, or where some were skipped (not selected, or reading an
/// absent source) `6 of 28 steps ran, 22 skipped`.
fn steps_run(steps: &[crate::engine::StepResult]) -> String {
    let ran = steps
        .iter()
        .filter(|s| s.status == crate::engine::StepStatus::Success)
        .count();
    let all = count(steps.len() as u64, "step");
    match steps.len() - ran {
        0 => all,
        skipped => format!("{ran} of {all} ran, {skipped} skipped"),
    }
}

/// What the sample generator wrote: `1 customer, 12 orders, …`.
fn counts(s: &sample::SampleSummary) -> String {
    [
        count(s.customers, "customer"),
        count(s.orders, "order"),
        count(s.surveys, "survey answer"),
        count(s.complaints, "complaint"),
    ]
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_one_are_singular() {
        let s = sample::SampleSummary {
            customers: 1,
            orders: 12,
            surveys: 0,
            complaints: 1,
        };
        assert_eq!(
            counts(&s),
            "1 customer, 12 orders, 0 survey answers, 1 complaint"
        );
    }
}
