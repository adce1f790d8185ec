//! `run_results.json`: what a run did, for orchestrators and for people:
//! params, per-step status, rows and timings, sources, and the artifacts written.

use serde::Serialize;

use crate::engine::{SourceResult, StepResult};
use crate::spec::OutputFormat;

pub const FILE_NAME: &str = "run_results.json";

#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    pub pipeline: String,
    pub pipeline_file: String,
    pub run_id: String,
    /// `success` or `error`.
    pub status: &'static str,
    pub params: serde_json::Value,
    /// The pipeline's `timezone`, where it names one: days and months are
    /// counted in it.
    pub timezone: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_seconds: f64,
    /// The process's peak resident memory, where the OS tells (Linux).
    pub peak_rss_bytes: Option<u64>,
    pub sources: Vec<SourceResult>,
    pub steps: Vec<StepResult>,
    /// Every check that ran: status, failing rows, a sample of them.
    pub checks: Vec<crate::checks::CheckResult>,
    pub artifacts: Vec<Artifact>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Output,
    Report,
}

#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    /// The step written (outputs) or the template rendered (reports).
    pub source: String,
    pub path: String,
    pub format: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

impl Artifact {
    pub fn format_of(format: OutputFormat) -> String {
        format.extension().to_string()
    }
}

/// This process's peak resident set size (`VmHWM` in /proc/self/status).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl RunResults {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("run results serialize");
        s.push('\n');
        s
    }
}
