//! The pipeline file as written: the serde model of the YAML, `${VAR}`
//! interpolation, and parse errors that point at a file, line and column.
//!
//! Nothing here interprets the values; `plan` turns a [`PipelineSpec`] into a
//! validated, typed plan.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, suggest};

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: Interp,
    #[serde(default)]
    pub description: Option<Interp>,
    /// Typed parameters; `as_of` is always present (a date, default today).
    #[serde(default, deserialize_with = "unique_keys")]
    pub params: IndexMap<String, ParamSpec>,
    /// Table name → where its Parquet data lives.
    #[serde(default, deserialize_with = "unique_keys")]
    pub sources: IndexMap<String, SourceSpec>,
    /// Step name → the SQL query that produces it.
    #[serde(default, deserialize_with = "unique_keys")]
    pub steps: IndexMap<String, StepSpec>,
    /// Where outputs, reports, `run_results.json` and scratch data go.
    #[serde(default = "default_output_root")]
    pub output_root: Interp,
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub reports: Vec<ReportSpec>,
    #[serde(default)]
    pub engine: EngineSpec,
    #[serde(default)]
    pub storage: StorageSpec,
    /// The business's time zone, in which days and months are counted: zoned
    /// timestamps in the sources are read as its wall-clock times. Checked
    /// when the plan is built ([`TimeZone::parse`]), so a bad one is located.
    #[serde(default)]
    pub timezone: Option<Interp>,
}

/// A time zone: an IANA name (`Asia/Shanghai`) or a fixed offset (`+08:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone(String);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        name.parse::<arrow::array::timezone::Tz>().map_err(|_| {
            format!(
                "`{name}` is not a time zone: write an IANA name such as `Asia/Shanghai` or `Europe/Berlin`, or an offset such as `+08:00`"
            )
        })?;
        Ok(TimeZone(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Today's date in this zone.
    pub fn today(&self) -> chrono::NaiveDate {
        let tz: arrow::array::timezone::Tz = self.0.parse().expect("checked by parse");
        chrono::Utc::now().with_timezone(&tz).date_naive()
    }
}

/// How object-store requests are retried and timed out (S3, GCS, Azure, HTTP).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// Retries of a failed request (default 3).
    #[serde(default)]
    pub max_retries: Option<usize>,
    /// Give up retrying a request after this long, e.g. `60s` (default 60s).
    #[serde(default)]
    pub retry_timeout: Option<Interp>,
    /// Time limit of one request, e.g. `30s` (default 30s).
    #[serde(default)]
    pub timeout: Option<Interp>,
    /// Time limit to connect, e.g. `5s` (default 5s).
    #[serde(default)]
    pub connect_timeout: Option<Interp>,
}

fn default_output_root() -> Interp {
    Interp("out".into())
}

/// The type of a pipeline parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Date,
    Int,
    Float,
    String,
    Bool,
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ParamType::Date => "date",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::String => "string",
            ParamType::Bool => "bool",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Default value; a string may use `${VAR}`. For dates, `today` is allowed.
    #[serde(default)]
    pub default: Option<serde_yaml::Value>,
    #[serde(default)]
    pub description: Option<String>,
    /// Bounds of an `int` or `float` param, both included: a value outside
    /// them (given or default) stops the run before anything is read.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// A source table: a URL string, or a mapping with `url` and options.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub url: Interp,
    pub optional: bool,
    pub description: Option<String>,
    /// Columns the SQL may read that the data may lack: name → SQL type.
    /// A missing one reads as NULL of that type.
    pub optional_columns: IndexMap<String, String>,
    /// The input contract: columns the data must have, and of what kind.
    pub columns: IndexMap<String, ColumnKind>,
    /// Data checks on the source as read.
    pub checks: Vec<CheckSpec>,
    /// What its timestamps without a time zone hold, where it says.
    pub naive_timestamps: Option<NaiveTimestamps>,
}

/// What a source's timestamps without a time zone hold: the business's
/// wall-clock times (`local`, the default), or UTC (`utc`: Spark's and
/// Hive's INT96 timestamps, exports that drop the zone), then read as
/// instants, as zoned timestamps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NaiveTimestamps {
    Local,
    Utc,
}

/// What a required column may hold, loosely: an `id` may be a string or an
/// integer, a `timestamp` a timestamp or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Id,
    Integer,
    Numeric,
    String,
    Timestamp,
    Date,
    Bool,
}

impl ColumnKind {
    /// Whether a column of `t` can serve as this kind.
    pub fn accepts(self, t: &arrow::datatypes::DataType) -> bool {
        use arrow::datatypes::DataType as D;
        let t = match t {
            D::Dictionary(_, v) => v.as_ref(),
            other => other,
        };
        let string = matches!(t, D::Utf8 | D::LargeUtf8 | D::Utf8View);
        match self {
            ColumnKind::Id => t.is_integer() || string,
            ColumnKind::Integer => t.is_integer(),
            ColumnKind::Numeric => t.is_numeric(),
            ColumnKind::String => string,
            ColumnKind::Timestamp | ColumnKind::Date => {
                matches!(t, D::Timestamp(..) | D::Date32 | D::Date64)
            }
            ColumnKind::Bool => matches!(t, D::Boolean),
        }
    }

    /// The kind an optional column declared with SQL type `t` must be of,
    /// where it is present: numbers of any type for a numeric one (a
    /// nullable integer column written from pandas is float64), text for
    /// text, a date or timestamp for either, a boolean for a boolean. `None`
    /// for other types, which are not checked.
    pub fn of_declared(t: &arrow::datatypes::DataType) -> Option<ColumnKind> {
        use arrow::datatypes::DataType as D;
        match t {
            D::Boolean => Some(ColumnKind::Bool),
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Some(ColumnKind::String),
            D::Date32 | D::Date64 | D::Timestamp(..) => Some(ColumnKind::Date),
            t if t.is_numeric() => Some(ColumnKind::Numeric),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ColumnKind::Id => "an id (string or integer)",
            ColumnKind::Integer => "an integer",
            ColumnKind::Numeric => "a number",
            ColumnKind::String => "a string",
            ColumnKind::Timestamp => "a timestamp or date",
            ColumnKind::Date => "a date or timestamp",
            ColumnKind::Bool => "a boolean",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDetail {
    url: Interp,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "unique_keys")]
    optional_columns: IndexMap<String, String>,
    #[serde(default, deserialize_with = "unique_keys")]
    columns: IndexMap<String, ColumnKind>,
    #[serde(default)]
    checks: Vec<CheckSpec>,
    #[serde(default)]
    naive_timestamps: Option<NaiveTimestamps>,
}

impl<'de> Deserialize<'de> for SourceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = SourceSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL string or a mapping with `url` and `optional`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SourceSpec, E> {
                Ok(SourceSpec {
                    url: Interp::new(v).map_err(E::custom)?,
                    optional: false,
                    description: None,
                    optional_columns: IndexMap::new(),
                    columns: IndexMap::new(),
                    checks: Vec::new(),
                    naive_timestamps: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SourceSpec, A::Error> {
                let d = SourceDetail::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SourceSpec {
                    url: d.url,
                    optional: d.optional,
                    description: d.description,
                    optional_columns: d.optional_columns,
                    columns: d.columns,
                    checks: d.checks,
                    naive_timestamps: d.naive_timestamps,
                })
            }
        }
        deserializer.deserialize_any(SourceVisitor)
    }
}

/// How a step's result is kept for the steps that read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Materialize {
    /// A logical view: inlined into every query that reads it.
    #[default]
    View,
    /// Computed once and held in memory.
    Memory,
    /// Computed once, written as Parquet to the scratch location, read back.
    Parquet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Inline SQL (a minijinja template).
    #[serde(default)]
    pub sql: Option<String>,
    /// A SQL file, relative to the pipeline file.
    #[serde(default)]
    pub sql_file: Option<Interp>,
    #[serde(default)]
    pub materialize: Materialize,
    #[serde(default)]
    pub description: Option<String>,
    /// Data checks on the step's result.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
}

/// How a failed check counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the steps that read the table and fails the run.
    #[default]
    Error,
    /// Recorded and reported; the run goes on.
    Warn,
}

/// One data check on a source or a step: exactly one kind key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Default: `<table>.<kind>(<columns>)`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    /// Columns that must have no NULL.
    #[serde(default)]
    pub not_null: Option<Vec<String>>,
    /// Columns whose combination must be unique.
    #[serde(default)]
    pub unique: Option<Vec<String>>,
    #[serde(default)]
    pub accepted_values: Option<AcceptedValues>,
    #[serde(default)]
    pub relationships: Option<Relationship>,
    #[serde(default)]
    pub row_count: Option<RowCount>,
    #[serde(default)]
    pub freshness: Option<Freshness>,
    /// A query returning the failing rows (a minijinja template, like steps).
    #[serde(default)]
    pub sql: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    pub column: String,
    pub values: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relationship {
    pub column: String,
    /// The table the values must exist in (a source, or a step this one reads).
    pub to: String,
    pub field: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    #[serde(default)]
    pub min: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub column: String,
    /// `48h` or `2d`: the newest value must be within this of the end of `as_of`.
    pub max_age: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Parquet,
    Csv,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The step whose result is written.
    pub step: String,
    /// Path under `output_root`, or an absolute URL; may use params. A path
    /// ending in `/` is a directory that receives one `part-0.<ext>` file.
    pub path: Interp,
    #[serde(default)]
    pub format: OutputFormat,
    /// The columns the file is sorted by, first key first: each `name`,
    /// `name asc` or `name desc`. Empty: the step's own order.
    #[serde(default)]
    pub sort_by: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Template file, relative to the pipeline file.
    pub template: Interp,
    /// Path under `output_root`, or an absolute URL; may use params.
    pub path: Interp,
    /// `en` (default) or `zh-CN`.
    #[serde(default)]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// `local` (default): DataFusion in this process; `ballista`: a Ballista
    /// cluster at `url` (needs the `distributed` build feature).
    #[serde(default)]
    pub kind: Option<EngineKindSpec>,
    /// For `ballista`: the scheduler, `df://host:50050`, or `standalone` for
    /// an in-process scheduler and executor.
    #[serde(default)]
    pub url: Option<Interp>,
    /// Parallelism of each query; default: the number of cores.
    #[serde(default)]
    pub target_partitions: Option<usize>,
    /// Memory pool limit, e.g. `2GiB`; default: unlimited.
    #[serde(default)]
    pub memory_limit: Option<Interp>,
    /// Where spill files go; default: the system temp directory.
    #[serde(default)]
    pub spill_dir: Option<Interp>,
    /// Steps computed at the same time; default: all that are ready, or one
    /// at a time when `memory_limit` is set (they would share the pool).
    #[serde(default)]
    pub max_parallel_steps: Option<usize>,
    /// Longest a step (its query and checks), a source check or an output's
    /// write may take, e.g. `2h`; default: no limit.
    #[serde(default)]
    pub step_timeout: Option<Interp>,
    /// DataFusion configuration options by their full key, e.g.
    /// `datafusion.execution.batch_size: 16384`; checked when the session is built.
    #[serde(default, deserialize_with = "unique_keys")]
    pub options: IndexMap<String, Interp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKindSpec {
    Local,
    Ballista,
}

/// A string from the YAML with `${VAR}` and `${VAR:-default}` already replaced
/// from the environment. A missing variable without a default is a parse error
/// at that value's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Interp(pub String);

impl Interp {
    fn new(raw: &str) -> Result<Self, String> {
        interpolate(raw, |k| std::env::var(k).ok()).map(Interp)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Interp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Interp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Interp::new(&raw).map_err(de::Error::custom)
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` using `lookup`. `$$` is a literal `$`.
pub fn interpolate(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{raw}`: write `${{VAR}}`"))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{expr}}}` is not a valid environment reference: use `${{NAME}}` or `${{NAME:-default}}`"
                ));
            }
            match (lookup(name), default) {
                (Some(v), _) if !(v.is_empty() && default.is_some()) => out.push_str(&v),
                (_, Some(d)) => out.push_str(d),
                (_, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set: set it, or give a default as `${{{name}:-value}}`"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A mapping whose keys must differ: YAML would let a second `rfm:` under
/// `steps:` silently replace the first, and the step the author meant to
/// keep would never run. (Also for `translations.yaml`.)
#[derive(Debug, Clone)]
pub struct UniqueKeys<V>(pub IndexMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueKeys<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Keys<V> {
            type Value = UniqueKeys<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = IndexMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format!(
                            "`{key}` is defined twice in this mapping; the second would \
                             replace the first: rename or remove one"
                        )));
                    }
                    out.insert(key, map.next_value()?);
                }
                Ok(UniqueKeys(out))
            }
        }
        deserializer.deserialize_map(Keys(std::marker::PhantomData))
    }
}

fn unique_keys<'de, D, V>(deserializer: D) -> Result<IndexMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    UniqueKeys::deserialize(deserializer).map(|u| u.0)
}

/// The YAML files in folder `dir` and in its `pipelines/` (where `demo`
/// writes its copy's), at most three, for a folder given as a pipeline file.
fn pipelines_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = [dir.to_path_buf(), dir.join("pipelines")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    found.sort();
    found.truncate(3);
    found
}

/// A parsed pipeline file with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: PipelineSpec,
    /// The file the YAML was read from (or a display name for embedded files).
    pub path: PathBuf,
    /// The YAML text, kept to point errors at lines.
    pub text: String,
}

impl LoadedSpec {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = match pipelines_in(path).as_slice() {
                // The file names its SQL files and templates by local paths.
                [] if crate::storage::has_scheme(&path.to_string_lossy()) => {
                    "a pipeline file is read from local disk, with the SQL files and \
                     templates it names: copy them here (its data may stay on the store)"
                        .to_string()
                }
                [] => "check the path".to_string(),
                found => format!(
                    "it is a folder: name a pipeline file in it, such as {}",
                    crate::text::code_list(found.iter().map(|p| p.display()))
                ),
            };
            Error::Config {
                message: format!(
                    "cannot read pipeline file `{}`: {e}; {hint}",
                    path.display()
                ),
            }
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, Error> {
        let spec: PipelineSpec = serde_yaml::from_str(&text).map_err(|e| {
            let message = explain_serde(&e);
            // The parser places an error in a top-level value (`output_root:
            // ${OUT}`) at the document's start; an unset variable is found
            // where it is written instead.
            let position = match e.location().map(|l| (l.line(), l.column())) {
                Some((1, 1)) | None => unset_variable_at(&text, &message),
                at => at,
            };
            let location = position
                .map(|(line, column)| format!(":{line}:{column}"))
                .unwrap_or_default();
            Error::Config {
                message: format!("{}{location}: {message}", path.display()),
            }
        })?;
        Ok(LoadedSpec {
            spec,
            path: path.to_path_buf(),
            text,
        })
    }

    /// The directory relative paths in the file are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        let parent = self.path.parent().unwrap_or(Path::new(""));
        if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        }
    }

    /// `file:line:column` of a key in the YAML (e.g. `["steps", "rfm"]`), for
    /// errors found after parsing. Falls back to the file alone.
    pub fn locate(&self, keys: &[&str]) -> String {
        let file = self.path.display();
        match find_key(&self.text, keys) {
            Some((line, col)) => format!("{file}:{line}:{col}"),
            None => format!("{file}"),
        }
    }
}

/// A scalar value as the pipeline file writes it: its lines (a block's
/// without their common indentation) and where the first of them starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenValue {
    /// The file, as messages show it.
    pub file: String,
    pub text: String,
    /// The line of the first of `text`'s lines in the file (1-based).
    pub line: usize,
    /// The columns before `text`'s lines start in the file.
    pub indent: usize,
    /// A folded block (`>`): its lines are joined by spaces in the value.
    pub folded: bool,
}

impl LoadedSpec {
    /// The value of a nested key as written in the file: a block scalar
    /// (`|` or `>`, its lines below the key), or a value on the key's own
    /// line that does not go on below it. None for the rest (a quoted or
    /// plain value over several lines): only the parsed value is known then.
    pub fn written_value(&self, keys: &[&str]) -> Option<WrittenValue> {
        let (line, col) = find_key(&self.text, keys)?;
        let lines: Vec<&str> = self.text.lines().collect();
        let key_line = lines[line - 1];
        let key_indent = col - 1;
        let after = key_line[key_indent..].split_once(':')?.1;
        let value = after.trim_start();
        let below = lines[line..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > key_indent);
        if value.starts_with('|') || value.starts_with('>') {
            let block: Vec<&str> = below.copied().collect();
            let indent = block
                .iter()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())?;
            let text = (block.iter())
                .map(|l| l.get(indent..).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            return Some(WrittenValue {
                file: self.path.display().to_string(),
                text: text.trim_end().to_string(),
                line: line + 1,
                indent,
                folded: value.starts_with('>'),
            });
        }
        let goes_on = below.clone().any(|l| !l.trim().is_empty());
        if value.is_empty() || goes_on || value.starts_with(['"', '\'', '#']) {
            return None;
        }
        // A comment after the value is not the value's.
        let text = value.split(" #").next().unwrap_or(value).trim_end();
        Some(WrittenValue {
            file: self.path.display().to_string(),
            text: text.to_string(),
            line,
            indent: key_line.len() - value.len(),
            folded: false,
        })
    }
}

/// Finds the line and column of a nested mapping key by indentation. Handles
/// the block style pipelines are written in; returns None for anything else.
/// A key `[N]` is the sequence's item N (from 0) under the key before it,
/// found at the text after its `- `, where the keys after it are looked for
/// first: `["steps", "x", "checks", "[1]", "sql"]`.
fn find_key(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    // Where the search for the next key starts, and below what indentation
    // it has left the key found last. An item's line is searched again for
    // its first key, as if its `- ` were spaces.
    let (mut from, mut min_indent, mut item_line) = (0usize, 0usize, None::<usize>);
    let mut found = None;
    for key in keys {
        found = None;
        let index: Option<usize> = key
            .strip_prefix('[')
            .and_then(|k| k.strip_suffix(']'))
            .and_then(|n| n.parse().ok());
        let mut items = 0usize;
        let mut list_indent = None;
        for (no, line) in lines.iter().enumerate().skip(from) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut indent = line.len() - trimmed.len();
            let mut item = trimmed;
            if item_line == Some(no) {
                item = trimmed.strip_prefix("- ").unwrap_or(trimmed).trim_start();
                indent = line.len() - item.len();
            }
            // A list may stand at its key's own indentation.
            let floor = match index {
                Some(_) => min_indent.saturating_sub(1),
                None => min_indent,
            };
            if indent < floor {
                return None;
            }
            if let Some(n) = index {
                let is_item = item.starts_with("- ") || item == "-";
                match list_indent {
                    None if is_item => list_indent = Some(indent),
                    None => return None,
                    Some(l) if indent < l || (indent == l && !is_item) => return None,
                    _ => {}
                }
                if indent != list_indent? {
                    continue;
                }
                if items == n {
                    let content = item[1..].trim_start();
                    found = Some((no + 1, line.len() - content.len() + 1));
                    (from, min_indent, item_line) = (no, indent + 1, Some(no));
                    break;
                }
                items += 1;
                continue;
            }
            let item = item.strip_prefix("- ").unwrap_or(item);
            let bare = item
                .split_once(':')
                .map(|(k, _)| k.trim().trim_matches(|c| c == '"' || c == '\''));
            if bare == Some(*key) {
                let col = line.len() - item.len() + 1;
                found = Some((no + 1, col));
                (from, min_indent, item_line) = (no + 1, indent + 1, None);
                break;
            }
        }
        found?;
    }
    found
}

/// Line and column of the first `${NAME` in `text`, where `message` says
/// the environment variable NAME is not set.
fn unset_variable_at(text: &str, message: &str) -> Option<(usize, usize)> {
    let (_, rest) = message.split_once("environment variable `")?;
    let (name, _) = rest.split_once('`')?;
    let needle = format!("${{{name}");
    text.lines().enumerate().find_map(|(i, line)| {
        let column = line.find(&needle)?;
        // The variable's whole name, not a longer one it begins.
        let after = line[column + needle.len()..].chars().next();
        matches!(after, Some('}' | ':')).then_some((i + 1, line[..column].chars().count() + 1))
    })
}

/// Rewrites serde's messages into what a pipeline author needs: the nearest
/// valid key for an unknown one.
fn explain_serde(e: &serde_yaml::Error) -> String {
    let msg = e.to_string();
    // serde_yaml appends " at line L column C"; the location is printed separately.
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    for (marker, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        let Some(at) = msg.find(marker) else { continue };
        let (prefix, rest) = msg.split_at(at);
        let Some((given, tail)) = rest[marker.len()..].split_once('`') else {
            continue;
        };
        // The rest lists the valid names, each in backticks.
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let hint = suggest(given, expected.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        let listed = crate::text::code_list(expected);
        return format!("{prefix}unknown {what} `{given}`{hint} (valid: {listed})");
    }
    if let Some((prefix, rest)) = msg.split_once("duplicate field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        return format!(
            "{prefix}key `{key}` appears twice; the second would replace the first: \
             write it once, with everything under it"
        );
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_value_is_found_as_written() {
        let text = "name: t
steps:
  lit:
    sql: |
      SELECT a,
        b  # not a comment here
      FROM t
  folded:
    sql: >-
      SELECT a
      FROM t

  plain:
    sql: SELECT 1 AS one   # a comment
  quoted:
    sql: \"SELECT 1\"
  long:
    sql: SELECT a
      FROM t
";
        let s = LoadedSpec::parse(Path::new("p.yaml"), text.into()).unwrap();
        let at = |step: &str| s.written_value(&["steps", step, "sql"]);
        let value = |text: &str, line, indent, folded| WrittenValue {
            file: "p.yaml".into(),
            text: text.into(),
            line,
            indent,
            folded,
        };
        assert_eq!(
            at("lit"),
            Some(value(
                "SELECT a,\n  b  # not a comment here\nFROM t",
                5,
                6,
                false
            ))
        );
        assert_eq!(at("folded"), Some(value("SELECT a\nFROM t", 10, 6, true)));
        assert_eq!(at("plain"), Some(value("SELECT 1 AS one", 14, 9, false)));
        // Each line of those is the file's from column indent + 1.
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(&lines[5][6..], "  b  # not a comment here");
        assert_eq!(&lines[13][9..24], "SELECT 1 AS one");
        // Where the lines cannot be told from the parsed value: none.
        assert_eq!(at("quoted"), None);
        assert_eq!(at("long"), None);
        assert_eq!(at("missing"), None);
    }

    fn env(k: &str) -> Option<String> {
        match k {
            "BUCKET" => Some("crm".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn time_zones_are_iana_names_or_offsets() {
        for ok in [
            "Asia/Shanghai",
            "Europe/Berlin",
            "UTC",
            "+08:00",
            " -05:30 ",
        ] {
            assert!(TimeZone::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(TimeZone::parse(" +08:00 ").unwrap().as_str(), "+08:00");
        for bad in ["Asia/Shangai", "CST+8", "", "+25:00"] {
            let err = TimeZone::parse(bad).unwrap_err();
            assert!(err.contains("is not a time zone"), "{bad}: {err}");
        }
        // Kiritimati is 14 hours ahead of UTC, Pago Pago 11 behind: 25
        // hours apart, their dates differ by one day or two at every hour.
        let ahead = TimeZone::parse("Pacific/Kiritimati").unwrap().today();
        let behind = TimeZone::parse("Pacific/Pago_Pago").unwrap().today();
        assert!(
            (1..=2).contains(&(ahead - behind).num_days()),
            "{ahead} {behind}"
        );
    }

    #[test]
    fn interpolates_variables_and_defaults() {
        assert_eq!(interpolate("s3://${BUCKET}/x", env).unwrap(), "s3://crm/x");
        assert_eq!(interpolate("${NOPE:-./data}", env).unwrap(), "./data");
        assert_eq!(interpolate("${EMPTY:-d}", env).unwrap(), "d");
        assert_eq!(interpolate("${BUCKET:-d}", env).unwrap(), "crm");
        assert_eq!(
            interpolate("cost $$5 and $x", env).unwrap(),
            "cost $5 and $x"
        );
        let err = interpolate("${NOPE}", env).unwrap_err();
        assert!(err.contains("`NOPE` is not set"), "{err}");
        assert!(interpolate("${BAD NAME}", env).is_err());
        assert!(interpolate("${OPEN", env).is_err());
    }

    const GOOD: &str = "\
name: demo
params:
  as_of: { type: date }
  data_root: { type: string, default: ./data }
sources:
  orders: \"{{ data_root }}/orders/\"
  surveys:
    url: \"{{ data_root }}/surveys/\"
    optional: true
steps:
  totals:
    sql: SELECT customer_id, sum(amount) AS revenue FROM orders GROUP BY 1
    materialize: memory
outputs:
  - step: totals
    path: tables/totals/
";

    #[test]
    fn parses_sources_as_string_or_mapping() {
        let s = LoadedSpec::parse(Path::new("p.yaml"), GOOD.into()).unwrap();
        assert_eq!(
            s.spec.sources["orders"].url.as_str(),
            "{{ data_root }}/orders/"
        );
        assert!(!s.spec.sources["orders"].optional);
        assert!(s.spec.sources["surveys"].optional);
        assert_eq!(s.spec.steps["totals"].materialize, Materialize::Memory);
        assert_eq!(s.spec.params["as_of"].kind, ParamType::Date);
        assert_eq!(s.spec.output_root.as_str(), "out");
    }

    #[test]
    fn unknown_key_names_line_and_nearest_key() {
        let text = GOOD.replace("outputs:", "outptus:");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.yaml:14:1: unknown key `outptus`"),
            "{err}"
        );
        assert!(err.contains("did you mean `outputs`?"), "{err}");
    }

    #[test]
    fn unknown_nested_key_and_bad_enum_value() {
        let text = GOOD.replace("optional: true", "optionl: true");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:9:5"), "{err}");
        assert!(err.contains("did you mean `optional`?"), "{err}");

        let text = GOOD.replace("materialize: memory", "materialize: memroy");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:13:18"), "{err}");
        assert!(err.contains("did you mean `memory`?"), "{err}");
    }

    #[test]
    fn a_name_defined_twice_is_an_error_not_a_silent_replacement() {
        // YAML maps would keep the second `totals` and drop the first.
        for (text, in_what) in [
            (
                GOOD.replace("outputs:", "  totals:\n    sql: SELECT 1\noutputs:"),
                "steps",
            ),
            (
                GOOD.replace("  surveys:", "  orders: x/\n  surveys:"),
                "sources",
            ),
            (
                GOOD.replace("sources:", "  as_of: { type: string }\nsources:"),
                "params",
            ),
        ] {
            let err = LoadedSpec::parse(Path::new("p.yaml"), text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("p.yaml:"), "{err}");
            assert!(err.contains(&format!("{in_what}: `")), "{err}");
            assert!(err.contains("is defined twice"), "{err}");
        }
        let text = format!("{GOOD}steps:\n  more:\n    sql: SELECT 1\n");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("key `steps` appears twice"), "{err}");
    }

    #[test]
    fn malformed_yaml_gives_line_and_column() {
        let text = GOOD.replace("  totals:\n", "  totals:\n   bad: [\n");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.yaml:"), "{err}");
        assert!(
            err.split(':').nth(1).unwrap().parse::<usize>().is_ok(),
            "{err}"
        );
    }

    #[test]
    fn missing_env_var_is_an_error_at_its_value() {
        let text = GOOD.replace("path: tables/totals/", "path: ${LOYALTY_TEST_UNSET_VAR}/t/");
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:15:5: outputs[0]"), "{err}");
        assert!(err.contains("`LOYALTY_TEST_UNSET_VAR` is not set"), "{err}");

        // In a top-level value the parser says 1:1; the variable is found
        // where it is written (not where a longer name begins with it).
        let text = format!(
            "{GOOD}# ${{LOYALTY_TEST_UNSET_VARS}}\noutput_root: ${{LOYALTY_TEST_UNSET_VAR}}/out\n"
        );
        let line = GOOD.lines().count() + 2;
        let err = LoadedSpec::parse(Path::new("p.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "p.yaml:{line}:14: environment variable `LOYALTY_TEST_UNSET_VAR` is not set"
            )),
            "{err}"
        );
    }

    #[test]
    fn locates_nested_keys() {
        let s = LoadedSpec::parse(Path::new("p.yaml"), GOOD.into()).unwrap();
        assert_eq!(s.locate(&["steps", "totals"]), "p.yaml:11:3");
        assert_eq!(s.locate(&["steps", "totals", "sql"]), "p.yaml:12:5");
        assert_eq!(s.locate(&["sources", "surveys", "url"]), "p.yaml:8:5");
        assert_eq!(s.locate(&["outputs", "step"]), "p.yaml:15:5");
        assert_eq!(s.locate(&["steps", "nope"]), "p.yaml");
    }

    #[test]
    fn locates_the_items_of_a_list_and_their_keys() {
        let text = "name: t
sources:
  orders:
    url: x/
    checks:
      - not_null: [order_id]
      # a comment between items
      - name: big
        sql: >
          SELECT 1
      -   sql: SELECT 2
          severity: warn
  customers:
    url: y/
    checks:
    - unique: [customer_id]
";
        let s = LoadedSpec::parse(Path::new("p.yaml"), text.into()).unwrap();
        let at = |keys: &[&str]| s.locate(keys);
        // Counted by hand: the item's text after its `- `.
        assert_eq!(at(&["sources", "orders", "checks", "[0]"]), "p.yaml:6:9");
        assert_eq!(at(&["sources", "orders", "checks", "[1]"]), "p.yaml:8:9");
        assert_eq!(
            at(&["sources", "orders", "checks", "[1]", "sql"]),
            "p.yaml:9:9"
        );
        assert_eq!(at(&["sources", "orders", "checks", "[2]"]), "p.yaml:11:11");
        assert_eq!(
            at(&["sources", "orders", "checks", "[2]", "sql"]),
            "p.yaml:11:11"
        );
        assert_eq!(
            at(&["sources", "orders", "checks", "[2]", "severity"]),
            "p.yaml:12:11"
        );
        // A key of another item is not this one's; nor is a fourth item there.
        assert_eq!(at(&["sources", "orders", "checks", "[0]", "sql"]), "p.yaml");
        assert_eq!(at(&["sources", "orders", "checks", "[3]"]), "p.yaml");
        // A list at its key's own indentation.
        assert_eq!(
            at(&["sources", "customers", "checks", "[0]"]),
            "p.yaml:16:7"
        );
        let w = s
            .written_value(&["sources", "orders", "checks", "[2]", "sql"])
            .unwrap();
        assert_eq!((w.text.as_str(), w.line, w.indent), ("SELECT 2", 11, 15));
    }
}
