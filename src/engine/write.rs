//! Writing a stream of record batches to object storage as one Parquet or CSV
//! file, without holding more than a row group in memory.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema, UInt64Type};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionContext, ident};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::arrow::{ArrowSchemaConverter, AsyncArrowWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::error::{Error, Result, with_causes};
use crate::plan::{OutputPlan, SortKey};
use crate::spec::OutputFormat;
use crate::storage::redact;

/// Rows per Parquet row group in files this tool writes.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// How this tool writes Parquet: zstd, row groups of 256k rows, and
/// dictionary encoding for text columns only. For numbers and timestamps a
/// dictionary mostly fails (too many distinct values) after costing a hash
/// per value: without it, writing takes half the time and zstd makes the files
/// smaller, not larger. `sorted_by` names the order the rows come in, which
/// the file's row groups then declare (`sorting_columns`) for readers.
pub fn writer_properties(schema: &Schema, sorted_by: &[SortKey]) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_created_by(format!("loyalty {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        if matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
        }
    }
    if let Some(columns) = sorting_columns(schema, sorted_by) {
        builder = builder.set_sorting_columns(Some(columns));
    }
    builder.build()
}

/// The Parquet `sorting_columns` of rows sorted by `keys`: each key's leaf
/// column. None when there are no keys, or when a key is not a leaf column (a
/// list or a struct), which Parquet cannot declare an order of.
fn sorting_columns(schema: &Schema, keys: &[SortKey]) -> Option<Vec<SortingColumn>> {
    if keys.is_empty() {
        return None;
    }
    let parquet = ArrowSchemaConverter::new().convert(schema).ok()?;
    keys.iter()
        .map(|key| {
            let idx = parquet
                .columns()
                .iter()
                .position(|c| c.path().parts() == [key.column.as_str()])?;
            Some(SortingColumn {
                column_idx: i32::try_from(idx).ok()?,
                descending: key.descending,
                nulls_first: key.nulls_first(),
            })
        })
        .collect()
}

/// A `sort_by` key that is not one of the step's columns (in `df`, planned
/// or computed) is an error naming the step's columns.
pub fn check_sort_by(df: &DataFrame, out: &OutputPlan) -> Result<(), String> {
    let schema = df.schema().as_arrow();
    let Some(missing) = out
        .sort_by
        .iter()
        .find(|k| schema.field_with_name(&k.column).is_err())
    else {
        return Ok(());
    };
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let hint = crate::error::suggest(&missing.column, names.iter().copied())
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    // The caller names the output and its step.
    Err(format!(
        "sort_by: `{}` is not one of the step's columns; {hint}they are {}",
        missing.column,
        names.join(", ")
    ))
}

/// The step's rows in the output's `sort_by` order.
pub fn sorted_for_output(df: DataFrame, out: &OutputPlan) -> Result<DataFrame, String> {
    if out.sort_by.is_empty() {
        return Ok(df);
    }
    check_sort_by(&df, out)?;
    let keys = out
        .sort_by
        .iter()
        .map(|k| ident(&k.column).sort(!k.descending, k.nulls_first()))
        .collect();
    df.sort(keys).map_err(|e| with_causes(&e))
}

/// An output to write as soon as its step has succeeded, and where in
/// staging it goes.
#[derive(Debug, Clone)]
pub struct OutputJob {
    /// Its position among the plan's outputs.
    pub index: usize,
    pub output: OutputPlan,
    pub staging: Url,
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjectPath,
    /// Where the step's SQL is ([`crate::plan::StepPlan::sql_source`]), for
    /// an error computing a view step's rows while writing them.
    pub sql_source: String,
}

/// Why [`write_stream`] stopped: the rows could not be computed (the step's
/// query failed), or they could not be encoded or stored.
#[derive(Debug)]
pub enum WriteFailure {
    Computing(String),
    Writing(String),
}

impl WriteFailure {
    pub fn into_message(self) -> String {
        match self {
            WriteFailure::Computing(m) | WriteFailure::Writing(m) => m,
        }
    }
}

/// An output written to staging.
#[derive(Debug, Clone)]
pub struct WrittenOutput {
    pub index: usize,
    pub staging: Url,
    pub written: Written,
}

/// What [`write_stream`] wrote: rows, and the file's size.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
}

/// The error of output `out` that could not be written, for `message`.
pub fn output_failed(out: &OutputPlan, message: String) -> Error {
    Error::Step {
        step: out.step.clone(),
        message: format!(
            "writing output `{}`: {message}{}",
            redact(out.url.as_str()),
            super::memory_hint(&message)
        ),
    }
}

/// Computes an output's step and writes it to its staging path. A failure is
/// the step's: for a view step, this is where it is computed.
pub async fn write_output(
    ctx: &SessionContext,
    job: &OutputJob,
    profile: bool,
) -> Result<WrittenOutput> {
    let out = &job.output;
    let fail_with = |message: String| output_failed(out, message);
    // The step's query failed (for a view step, this is where it runs):
    // say so, and where its SQL is, not that the file could not be written.
    let computing = |message: String| Error::Step {
        step: out.step.clone(),
        message: format!(
            "computing its rows for output `{}`: {message}{} ({})",
            redact(out.url.as_str()),
            super::memory_hint(&message),
            job.sql_source
        ),
    };
    let fail = |e: &(dyn std::error::Error + 'static)| computing(with_causes(e));
    let started = Instant::now();
    let df = ctx.table(out.step.as_str()).await.map_err(|e| fail(&e))?;
    let physical = sorted_for_output(df, out)
        .map_err(fail_with)?
        .create_physical_plan()
        .await
        .map_err(|e| fail(&e))?;
    let stream = datafusion::physical_plan::execute_stream(physical.clone(), ctx.task_ctx())
        .map_err(|e| fail(&e))?;
    let written = write_stream(
        stream,
        job.store.clone(),
        &job.path,
        out.format,
        &out.sort_by,
    )
    .await
    .map_err(|e| match e {
        WriteFailure::Computing(m) => computing(m),
        WriteFailure::Writing(m) => fail_with(m),
    })?;
    if profile {
        super::log_profile(&format!("output of {}", out.step), physical.as_ref());
    }
    tracing::debug!(
        step = out.step.as_str(),
        rows = written.rows,
        bytes = written.bytes,
        elapsed_s = format!("{:.3}", started.elapsed().as_secs_f64()),
        "output written"
    );
    Ok(WrittenOutput {
        index: job.index,
        staging: job.staging.clone(),
        written,
    })
}

/// Writes every batch of `stream` to `path` in `store`; returns the rows and
/// bytes written.
/// `sorted_by` is the order the stream's rows come in, declared in a Parquet
/// file's metadata. The object appears only when complete (multipart upload
/// or temp file + rename).
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    store: Arc<dyn ObjectStore>,
    path: &ObjectPath,
    format: OutputFormat,
    sorted_by: &[SortKey],
) -> Result<Written, WriteFailure> {
    let schema = stream.schema();
    let writing = |e: &(dyn std::error::Error + 'static)| WriteFailure::Writing(with_causes(e));
    let computing = |e: &(dyn std::error::Error + 'static)| WriteFailure::Computing(with_causes(e));
    let mut rows = 0u64;
    let bytes = match format {
        OutputFormat::Parquet => {
            let sink = BufWriter::new(store, path.clone());
            let props = writer_properties(&schema, sorted_by);
            let mut writer =
                AsyncArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| writing(&e))?;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| computing(&e))?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).await.map_err(|e| writing(&e))?;
            }
            writer.finish().await.map_err(|e| writing(&e))?;
            writer.bytes_written() as u64
        }
        OutputFormat::Csv => {
            let mut sink = BufWriter::new(store, path.clone());
            let mut header = true;
            let mut bytes = 0u64;
            let mut write = async |batch: &RecordBatch, header: bool| -> Result<(), WriteFailure> {
                let mut buf = Vec::new();
                {
                    let mut w = arrow::csv::WriterBuilder::new()
                        .with_header(header)
                        .build(&mut buf);
                    w.write(batch).map_err(|e| writing(&e))?;
                }
                bytes += buf.len() as u64;
                sink.write_all(&buf).await.map_err(|e| writing(&e))
            };
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| computing(&e))?;
                rows += batch.num_rows() as u64;
                write(&batch, header).await?;
                header = false;
            }
            if header {
                // No rows: still write the header line.
                write(&RecordBatch::new_empty(schema.clone()), true).await?;
            }
            sink.shutdown().await.map_err(|e| writing(&e))?;
            bytes
        }
    };
    Ok(Written { rows, bytes })
}

/// DataFusion's write methods return one batch with a `count` column.
pub fn count_from_write_result(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| b.column_by_name("count"))
        .filter_map(|c| c.as_primitive_opt::<UInt64Type>())
        .flat_map(|a| a.iter().flatten().collect::<Vec<_>>())
        .sum()
}
