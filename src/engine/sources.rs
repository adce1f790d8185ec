//! Sources: each one's files listed and registered as a table, its
//! columns held to the input contract, optional ones left absent, and every
//! problem of every source said at once, with what to do about it.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;
use url::Url;

use super::unordered::UnorderedParquet;
use super::{contract, local_time, step_sql_options, within};
use crate::error::{Error, Result, with_causes};
use crate::plan::Plan;
use crate::spec::NaiveTimestamps;
use crate::storage::{ensure_store, listing_url, redact};

/// How a source ended up after registration.
#[derive(Debug, Clone, Serialize)]
pub struct SourceResult {
    pub name: String,
    pub url: String,
    /// `registered`, or `absent` for a missing optional source.
    pub status: &'static str,
    pub files: usize,
    /// Row count (from Parquet metadata where it has it).
    pub rows: Option<u64>,
    /// Timestamps read as the wall-clock times of the pipeline's `timezone`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_time_columns: Vec<String>,
}

/// What registering a source found.
pub(super) struct Registered {
    files: usize,
    /// Its timestamps read as the zone's wall-clock times.
    local_time_columns: Vec<String>,
}

/// Registers every source as a listing table. A missing optional source is
/// left unregistered and reported `absent`; a missing required one is an error.
/// Every problem is collected into the one error.
pub async fn register_sources(ctx: &SessionContext, plan: &Plan) -> Result<Vec<SourceResult>> {
    let (results, mut errors) = register_each_source(ctx, plan).await;
    if !errors.is_empty() {
        return Err(if errors.len() == 1 {
            Error::Run(errors.remove(0))
        } else {
            Error::Run(format!(
                "{} problems with the sources:\n  - {}",
                errors.len(),
                errors.join("\n  - ")
            ))
        });
    }
    Ok(results)
}

/// What `register_sources` does, keeping apart the sources that can be read
/// (registered with their columns as the contract says, or optional and
/// absent) and the problems of the others, for `validate` to go on with the
/// former and list the latter.
pub async fn register_each_source(
    ctx: &SessionContext,
    plan: &Plan,
) -> (Vec<SourceResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    // A store no client can be set up for fails each of its sources with the
    // same words: said once, in the place of the first, naming them all.
    let mut no_store: Vec<(usize, String, Vec<String>)> = Vec::new();
    let local = !plan.engine.kind.is_distributed();
    for src in &plan.sources {
        match register_source(
            ctx,
            &src.name,
            &src.url,
            &src.optional_columns,
            plan.timezone.as_ref().map(|tz| Clocks {
                zone: tz.as_str(),
                naive: src.naive_timestamps,
            }),
            local,
        )
        .await {
            Ok(r) => {
                if let Some(tz) = &plan.timezone
                    && !r.local_time_columns.is_empty()
                {
                    tracing::info!(
                        "source `{}`: {} read as {}'s wall-clock times",
                        src.name,
                        crate::text::code_list(&r.local_time_columns),
                        tz.as_str()
                    );
                }
                results.push(SourceResult {
                    name: src.name.clone(),
                    url: redact(src.url.as_str()),
                    status: "registered",
                    files: r.files,
                    rows: count_rows(ctx, &src.name, plan.engine.step_timeout).await,
                    local_time_columns: r.local_time_columns,
                })
            }
            Err(SourceError::NoFiles) if src.optional => {
                let hint = there_from_here(src);
                if !hint.is_empty() {
                    tracing::warn!(
                        "source `{}`: no Parquet files at `{}`, so it is read as absent{hint}",
                        src.name,
                        redact(src.url.as_str()),
                    );
                }
                results.push(SourceResult {
                    name: src.name.clone(),
                    url: redact(src.url.as_str()),
                    status: "absent",
                    files: 0,
                    rows: None,
                    local_time_columns: Vec::new(),
                })
            }
            Err(SourceError::NoFiles) => errors.push(format!(
                "source `{}`: no Parquet files at `{}`; check the path{}, or mark the source `optional: true`{}",
                src.name,
                redact(src.url.as_str()),
                set_by(&src.url_params),
                there_from_here(src)
            )),
            Err(SourceError::NoBucket(msg)) => errors.push(format!(
                "source `{}` at `{}`: {msg}; check the bucket or container the location names{}",
                src.name,
                redact(src.url.as_str()),
                set_by(&src.url_params),
            )),
            Err(SourceError::NoStore(msg)) => {
                let source = format!("`{}` at `{}`", src.name, redact(src.url.as_str()));
                match no_store.iter_mut().find(|(_, m, _)| *m == msg) {
                    Some((.., sources)) => sources.push(source),
                    None => {
                        no_store.push((errors.len(), msg, vec![source]));
                        errors.push(String::new());
                    }
                }
            }
            Err(SourceError::Other(msg)) => errors.push(format!(
                "source `{}` at `{}`: {msg}",
                src.name,
                redact(src.url.as_str())
            )),
        }
    }
    for (at, msg, sources) in no_store {
        let noun = if sources.len() == 1 {
            "source"
        } else {
            "sources"
        };
        errors[at] = format!("{noun} {}: {msg}", sources.join(", "));
    }
    // The input contract: every problem of every registered source at once.
    let (problems, broken) = contract::problems(ctx, plan, &results).await;
    errors.extend(problems);
    results.retain(|r| !broken.contains(&r.name));
    (results, errors)
}

/// Where a source's relative location names something from the current
/// directory but not from the pipeline file's folder, what to do about it.
fn there_from_here(src: &crate::plan::SourcePlan) -> String {
    match &src.from_current_dir {
        Some(here) if here.exists() => format!(
            ". It is there from the current directory (`{}`), but a relative location is taken from the pipeline file's folder: give it from there, or as an absolute path",
            here.display()
        ),
        _ => String::new(),
    }
}

/// Where a location comes from params, which and how to set them:
/// ` (it comes from param `data_root`: `--param data_root=…`)`.
fn set_by(params: &[String]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let named: Vec<String> = params.iter().map(|n| format!("param `{n}`")).collect();
    let flags: Vec<String> = params.iter().map(|n| format!("`--param {n}=…`")).collect();
    format!(
        " (it comes from {}: {})",
        named.join(" and "),
        flags.join(" ")
    )
}

/// Reads each file's Parquet footer: the first that is not readable Parquet,
/// or whose columns disagree in type with the first file's, is named by its
/// full URL (`store_url`: the URL of the store they are in, e.g. `s3://bucket/`).
async fn diagnose_files(
    state: &dyn datafusion::catalog::Session,
    store_url: &str,
    store: &Arc<dyn object_store::ObjectStore>,
    files: &[object_store::ObjectMeta],
) -> Option<String> {
    use datafusion::datasource::file_format::FileFormat;
    let url_of = |meta: &object_store::ObjectMeta| format!("{store_url}{}", meta.location);
    let format = ParquetFormat::default();
    let mut first: Option<(String, arrow::datatypes::SchemaRef)> = None;
    for meta in files {
        let schema = match format
            .infer_schema(state, store, std::slice::from_ref(meta))
            .await
        {
            Ok(schema) => schema,
            // The store could not give the bytes: the file may be fine.
            Err(e)
                if matches!(
                    e.find_root(),
                    datafusion::error::DataFusionError::ObjectStore(_)
                ) =>
            {
                let message = with_causes(&e);
                let hint = if message.contains("Range request not supported") {
                    "; the server does not answer HTTP range requests, which reading \
                     Parquet needs: serve the files from one that does (nginx, Apache, \
                     S3, GCS and Azure do; Python's http.server does not)"
                } else {
                    ""
                };
                return Some(format!("cannot read `{}`: {message}{hint}", url_of(meta)));
            }
            Err(e) => {
                return Some(format!(
                    "file `{}` is not readable Parquet ({e}); it may be truncated or corrupt: replace or remove it",
                    url_of(meta)
                ));
            }
        };
        match &first {
            None => first = Some((url_of(meta), schema)),
            Some((first_path, first_schema)) => {
                for f in schema.fields() {
                    if let Ok(g) = first_schema.field_with_name(f.name())
                        && g.data_type() != f.data_type()
                    {
                        return Some(format!(
                            "files disagree on column `{}`: `{first_path}` has {}, `{}` has {}; rewrite them with one schema",
                            f.name(),
                            g.data_type(),
                            url_of(meta),
                            f.data_type()
                        ));
                    }
                }
            }
        }
    }
    None
}

/// The rows of a source, for the run's results; `None` when they cannot be
/// counted. Locally the count comes from the files' statistics; on a
/// Ballista cluster it is a job, which waits for a free task slot, so it
/// keeps to `engine.step_timeout` too.
async fn count_rows(
    ctx: &SessionContext,
    table: &str,
    limit: Option<std::time::Duration>,
) -> Option<u64> {
    let counted = within(limit, async {
        let df = ctx.table(table).await.ok()?;
        df.count().await.ok().map(|n| n as u64)
    })
    .await;
    counted.unwrap_or_else(|late| {
        tracing::warn!("counting the rows of source `{table}` {late}; its row count is left out");
        None
    })
}

pub(super) enum SourceError {
    NoFiles,
    /// No client could be set up for the store its URL names (a GCS key
    /// file that is not there, an Azure account not given): every source
    /// on that store fails alike.
    NoStore(String),
    /// The bucket or container of its URL does not exist (the store's words).
    NoBucket(String),
    Other(String),
}

/// A source's files could not be listed. Over HTTP a folder is listed only
/// by a WebDAV server (`PROPFIND`): a plain one refuses, with a page of
/// HTML that says nothing more than its status. On a cloud store, a bucket
/// or container that does not exist is a location to correct, as files
/// that are not there are; refused credentials, the environment's.
fn listing_failed(url: &Url, e: &(dyn std::error::Error + 'static)) -> SourceError {
    let message = with_causes(e);
    if matches!(url.scheme(), "http" | "https") {
        return SourceError::Other(format!(
            "cannot list this folder ({message}): over HTTP a folder can be listed only \
             by a WebDAV server; name the Parquet file instead (a source may be one file)"
        ));
    }
    if ["NoSuchBucket", "ContainerNotFound"]
        .iter()
        .any(|code| message.contains(code))
    {
        return SourceError::NoBucket(message);
    }
    if message.contains("status code: 401") || message.contains("status code: 403") {
        return SourceError::Other(format!(
            "{message}; the store refused the credentials: check the cloud's \
             environment variables (AWS_*, GOOGLE_*, AZURE_*) where the run starts"
        ));
    }
    SourceError::Other(message)
}

/// How a source's timestamps are read where the pipeline names its zone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clocks<'a> {
    /// The pipeline's `timezone`.
    zone: &'a str,
    /// What timestamps without a time zone hold, where the source says.
    naive: Option<NaiveTimestamps>,
}

impl Clocks<'_> {
    /// Timestamps without a time zone hold UTC (`naive_timestamps: utc`).
    fn naive_utc(&self) -> bool {
        self.naive == Some(NaiveTimestamps::Utc)
    }
}

/// A source's Parquet files, listed, and the table over them.
struct Listed {
    table: ListingTable,
    files: Vec<object_store::ObjectMeta>,
    store: Arc<dyn object_store::ObjectStore>,
}

/// Lists a source's files and infers its schema, naming the file at fault
/// where one is; `local` reads them as unordered (see `unordered`).
async fn list_source(ctx: &SessionContext, url: &Url, local: bool) -> Result<Listed, SourceError> {
    ensure_store(ctx, url).map_err(|e| SourceError::NoStore(e.without_location()))?;
    let table_url = listing_url(url).map_err(SourceError::Other)?;
    let state = ctx.state();
    // A directory holds `*.parquet` files (other files are ignored); a file or
    // glob is taken as written.
    let extension = if table_url.is_collection() && table_url.get_glob().is_none() {
        ".parquet"
    } else {
        ""
    };
    let store_url = table_url.object_store();
    let store = ctx
        .runtime_env()
        .object_store(&store_url)
        .map_err(|e| SourceError::Other(with_causes(&e)))?;
    let files: Vec<_> = table_url
        .list_all_files(&state, store.as_ref(), extension)
        .await
        .map_err(|e| listing_failed(url, &e))?
        .collect()
        .await;
    let mut found = Vec::new();
    for f in files {
        match f {
            Ok(meta) => found.push(meta),
            Err(datafusion::error::DataFusionError::ObjectStore(e))
                if matches!(*e, object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(listing_failed(url, &e)),
        }
    }
    let count = found.len();
    if count == 0 {
        return Err(SourceError::NoFiles);
    }
    // Read as unordered, whatever order the files declare (see `unordered`).
    let format: Arc<dyn FileFormat> = if local {
        Arc::new(UnorderedParquet::default())
    } else {
        Arc::new(ParquetFormat::default())
    };
    let options = ListingOptions::new(format).with_file_extension(extension);
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .infer_partitions_from_path(&state)
        .await
        .map_err(|e| SourceError::Other(with_causes(&e)))?
        .infer_schema(&state);
    let config = match config.await {
        Ok(c) => c,
        // Say which file is at fault where one is.
        Err(e) => {
            let file = diagnose_files(&state, store_url.as_str(), &store, &found).await;
            return Err(SourceError::Other(file.unwrap_or_else(|| with_causes(&e))));
        }
    };
    let table = ListingTable::try_new(config).map_err(|e| SourceError::Other(with_causes(&e)))?;
    Ok(Listed {
        table,
        files: found,
        store,
    })
}

/// Registers source `name`: its table, or a view over it that adds the
/// optional columns it lacks and reads its zoned timestamps on the clock of
/// the pipeline's zone (see `local_time`).
pub(super) async fn register_source(
    ctx: &SessionContext,
    name: &str,
    url: &Url,
    optional_columns: &[(String, String)],
    timezone: Option<Clocks<'_>>,
    local: bool,
) -> Result<Registered, SourceError> {
    let Listed {
        table,
        files,
        store,
    } = list_source(ctx, url, local).await?;
    let schema = table.schema();
    let missing: Vec<&(String, String)> = optional_columns
        .iter()
        .filter(|(col, _)| schema.field_with_name(col).is_err())
        .collect();
    let zoned = zoned_columns(&schema, timezone);
    let registered = Registered {
        files: files.len(),
        local_time_columns: zoned.iter().map(|c| c.to_string()).collect(),
    };
    if let (Some(Clocks { naive: None, .. }), Some(first)) = (timezone, files.first()) {
        local_time::warn_of_int96(ctx, name, &schema, store.as_ref(), first).await;
    }
    let registering = |under: &str, table: Arc<dyn TableProvider>| {
        ctx.register_table(under, table)
            .map(|_| ())
            .map_err(|e| SourceError::Other(with_causes(&e)))
    };
    if missing.is_empty() && zoned.is_empty() {
        registering(name, Arc::new(table))?;
        return Ok(registered);
    }
    // Otherwise the data is read under another name, through a view that
    // adds the optional columns it lacks as typed NULLs and turns zoned
    // timestamps into the zone's local times. On the local engine the table
    // under the view turns them (and, lacking no column, is the source).
    let raw = format!("__loyalty_raw_{name}");
    let table: Arc<dyn TableProvider> = Arc::new(table);
    let (table, view_zone) = match timezone {
        Some(clocks) if local && !zoned.is_empty() => {
            registering(&raw, table.clone())?;
            let clock = local_time::ClockTable::new(ctx, &raw, table, clocks.zone, &zoned)
                .await
                .map_err(SourceError::Other)?;
            ctx.deregister_table(raw.as_str())
                .map_err(|e| SourceError::Other(with_causes(&e)))?;
            if missing.is_empty() {
                registering(name, Arc::new(clock))?;
                return Ok(registered);
            }
            (Arc::new(clock) as Arc<dyn TableProvider>, None)
        }
        _ => (table, timezone.map(|c| c.zone)),
    };
    registering(&raw, table)?;
    register_view(ctx, name, &raw, &schema, &missing, &zoned, view_zone).await?;
    Ok(registered)
}

/// The columns of `schema` read on the pipeline's clock, where it names a
/// zone: timestamps with a time zone, and those without one where the
/// source says they hold UTC.
fn zoned_columns<'s>(schema: &'s Schema, timezone: Option<Clocks<'_>>) -> Vec<&'s str> {
    let Some(clocks) = timezone else {
        return Vec::new();
    };
    schema
        .fields()
        .iter()
        .filter(|f| match f.data_type() {
            DataType::Timestamp(_, zone) => zone.is_some() || clocks.naive_utc(),
            _ => false,
        })
        .map(|f| f.name().as_str())
        .collect()
}

/// Registers as `name` a view of table `raw` (whose columns are `schema`'s)
/// that adds the `missing` optional columns as typed NULLs and reads the
/// `zoned` columns, where `zone` is given, on its clock in SQL (for a Ballista cluster:
/// [`local_time::local_time_sql`]), teaching the optimizer rule that widens
/// filters on them how it reads them.
async fn register_view(
    ctx: &SessionContext,
    name: &str,
    raw: &str,
    schema: &Schema,
    missing: &[&(String, String)],
    zoned: &[&str],
    zone: Option<&str>,
) -> Result<(), SourceError> {
    let mut columns: Vec<String> = Vec::new();
    let mut converted: Vec<(String, String, DataType)> = Vec::new();
    let spans = match zone {
        Some(_) => local_time::spans(ctx, raw, zoned).await,
        None => HashMap::new(),
    };
    for f in schema.fields() {
        let column = local_time::quote(f.name());
        match (zone, spans.get(f.name().as_str())) {
            (Some(zone), Some(span)) => {
                let sql = local_time::local_time_sql(f.name(), f.data_type(), zone, *span);
                columns.push(format!("{sql} AS {column}"));
                converted.push((f.name().clone(), sql, f.data_type().clone()));
            }
            _ => columns.push(column),
        }
    }
    columns.extend(
        missing
            .iter()
            .map(|(col, ty)| format!("CAST(NULL AS {ty}) AS {}", local_time::quote(col))),
    );
    let sql = format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        local_time::quote(raw)
    );
    let view = ctx
        .sql_with_options(&sql, step_sql_options())
        .await
        .map_err(|e| {
            SourceError::Other(if missing.is_empty() {
                format!(
                    "cannot read its timestamps {} in time zone `{}`: {e}",
                    crate::text::code_list(zoned),
                    zone.unwrap_or_default()
                )
            } else {
                format!(
                    "cannot add optional columns {}: {e}; check their types in `optional_columns`",
                    missing
                        .iter()
                        .map(|(c, t)| format!("`{c}` ({t})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })?;
    ctx.register_table(name, view.into_view())
        .map_err(|e| SourceError::Other(with_causes(&e)))?;
    let widen = ctx
        .state()
        .config()
        .get_extension::<local_time::WidenConverted>();
    if let (Some(widen), false) = (widen, converted.is_empty())
        && let Err(e) = widen.learn(ctx, raw, &converted).await
    {
        tracing::debug!(source = name, error = %e, "filters on its timestamps are not widened");
    }
    Ok(())
}
