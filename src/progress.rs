//! Step progress: a spinner per running step when stderr is a terminal,
//! plain log lines (through `tracing`) when it is not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{StepResult, StepStatus};

/// Told about each step as the run goes.
pub trait Observer: Send + Sync {
    fn step_started(&self, name: &str);
    fn step_finished(&self, result: &StepResult);
    fn step_skipped(&self, name: &str, reason: &str);
}

/// Log lines only; for orchestrators, CI and tests.
pub struct LogObserver;

impl Observer for LogObserver {
    fn step_started(&self, name: &str) {
        tracing::info!(step = name, "step started");
    }
    fn step_finished(&self, r: &StepResult) {
        match r.status {
            StepStatus::Success => tracing::info!(
                step = r.name.as_str(),
                rows = r.rows,
                elapsed_s = format!("{:.3}", r.elapsed_seconds),
                "step finished"
            ),
            _ => tracing::error!(
                step = r.name.as_str(),
                error = r.message.as_deref().unwrap_or(""),
                "step failed"
            ),
        }
    }
    fn step_skipped(&self, name: &str, reason: &str) {
        tracing::warn!(step = name, reason, "step skipped");
    }
}

/// A spinner per running step, replaced by a ✓/✗ line when it ends.
pub struct TerminalObserver {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl TerminalObserver {
    pub fn new() -> Self {
        TerminalObserver {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }
}

impl Default for TerminalObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for TerminalObserver {
    fn step_started(&self, name: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .expect("valid progress template"),
        );
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars
            .lock()
            .expect("progress lock")
            .insert(name.to_string(), bar);
    }

    fn step_finished(&self, r: &StepResult) {
        if let Some(bar) = self.bars.lock().expect("progress lock").remove(&r.name) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let line = match r.status {
            StepStatus::Success => format!(
                "✓ {} {}({:.2}s)",
                r.name,
                r.rows
                    .map(|n| format!("{} ", crate::text::count(n, "row")))
                    .unwrap_or_default(),
                r.elapsed_seconds
            ),
            _ => format!("✗ {}: {}", r.name, r.message.as_deref().unwrap_or("failed")),
        };
        self.println(line);
    }

    fn step_skipped(&self, name: &str, reason: &str) {
        self.println(format!("- {name} skipped: {reason}"));
    }
}
