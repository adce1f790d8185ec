//! The engine and storage settings of a plan: where queries run, their
//! memory and parallelism, object-store retries and timeouts, and the sizes
//! and durations the pipeline file writes them in.

use std::path::PathBuf;

use crate::spec::{EngineKindSpec, LoadedSpec};

use super::Overrides;

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

/// `engine:` and `storage:` of the pipeline file with the command line's
/// `--engine` and `--memory-limit`, every default worked out.
pub(super) fn engine_config(
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
    // A request given no time at all cannot succeed; `retry_timeout: 0s`
    // is allowed (no retries, like `max_retries: 0`).
    let duration = |v: &Option<crate::spec::Interp>, key: &str, default| match v {
        Some(raw) => match parse_duration(raw.as_str()) {
            Ok(d) if d.is_zero() && key != "retry_timeout" => Err(format!(
                "{}: `storage.{key}` must be more than 0",
                loaded.locate(&["storage", key])
            )),
            parsed => parsed
                .map_err(|m| format!("{}: `storage.{key}`: {m}", loaded.locate(&["storage", key]))),
        },
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
    match (n * mult) as usize {
        0 => Err(format!(
            "`{raw}` leaves no memory for any query: give a size above 0, or leave the limit out for none"
        )),
        bytes => Ok(bytes),
    }
}
