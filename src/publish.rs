//! Stage, then publish: every artifact of a run is written to a staging
//! location first and moved to its published path only after everything
//! succeeded, so a failed or killed run never leaves a half-written file
//! where a reader expects a finished one.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use crate::error::{Error, Result, with_causes};
use crate::storage::{file_name, redact, remove_folder, storage_err, store_for};

const JOURNAL_SUFFIX: &str = ".publishing";

/// Completes the publication of runs that died while moving their files into
/// place under a local output root: every move their journal lists whose
/// staged file is still there is made, so the outputs are all the new ones.
pub fn roll_forward(root: &std::path::Path, alive: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(root.join("_staging")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run_id) = name.strip_suffix(JOURNAL_SUFFIX) else {
            continue;
        };
        if alive(run_id) {
            continue;
        }
        let moves: Vec<(String, String)> = std::fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for (from, to) in moves {
            if std::path::Path::new(&from).exists() {
                if let Some(parent) = std::path::Path::new(&to).parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                match std::fs::rename(&from, &to) {
                    Ok(()) => {
                        tracing::info!(file = to.as_str(), "completed an interrupted publication")
                    }
                    Err(e) => tracing::warn!(
                        file = to.as_str(),
                        "could not complete an interrupted publication: {e}"
                    ),
                }
            }
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// One artifact written to staging, waiting to be published.
struct Staged {
    store: Arc<dyn ObjectStore>,
    staging: ObjectPath,
    target: ObjectPath,
    target_url: Url,
    staging_url: Url,
}

pub struct Stager {
    ctx: SessionContext,
    output_root: Url,
    run_id: String,
    staged: Vec<Staged>,
    /// The run's staging folders, each its own: `_staging/<run id>/` under
    /// the output root, and a `_staging_<run id>/` beside each target
    /// outside it.
    folders: Vec<Url>,
}

impl Stager {
    pub fn new(ctx: &SessionContext, output_root: &Url, run_id: &str) -> Self {
        Stager {
            ctx: ctx.clone(),
            output_root: output_root.clone(),
            run_id: run_id.to_string(),
            staged: Vec::new(),
            folders: Vec::new(),
        }
    }

    /// Where the artifact for `target` is staged: under the output root's
    /// `_staging/<run id>/` when the target is under the root, otherwise in a
    /// `_staging_<run id>/` folder beside the target. The folder is the
    /// run's from then on: discarding the run removes it whole.
    pub fn staging_url(&mut self, target: &Url) -> Url {
        let root = self.output_root.as_str();
        let (folder, rel_dir) = if let Some(rel) = target.as_str().strip_prefix(root) {
            let rel_dir = rel
                .rsplit_once('/')
                .map(|(d, _)| format!("{d}/"))
                .unwrap_or_default();
            (format!("{root}_staging/{}/", self.run_id), rel_dir)
        } else {
            let parent = target
                .as_str()
                .rsplit_once('/')
                .map(|(d, _)| d)
                .unwrap_or("");
            (format!("{parent}/_staging_{}/", self.run_id), String::new())
        };
        let folder = Url::parse(&folder).expect("a staging URL derived from a valid URL");
        if !self.folders.contains(&folder) {
            self.folders.push(folder.clone());
        }
        folder
            .join(&rel_dir)
            .and_then(|d| d.join(file_name(target)))
            .expect("a staging URL derived from a valid URL")
    }

    /// Writes and removes a marker in the run's staging folder, so that an
    /// output root the run cannot write to stops it before any step runs,
    /// not after every step has.
    pub async fn check_writable(&mut self) -> Result<()> {
        let target = self
            .output_root
            .join(".writable")
            .expect("a file name joins onto the output root");
        let marker = self.staging_url(&target);
        let (store, path) = store_for(&self.ctx, &marker)?;
        store
            .put(&path, PutPayload::from_static(b""))
            .await
            .map_err(|e| Error::Storage {
                url: redact(self.output_root.as_str()),
                message: format!(
                    "cannot write under the output root: {}; check `output_root` (and the params it is written with) and its permissions",
                    with_causes(&e)
                ),
            })?;
        let _ = store.delete(&path).await;
        Ok(())
    }

    /// Registers a file written at `staging` (see [`Self::staging_url`]) for publishing.
    pub fn add(&mut self, staging: &Url, target: &Url) -> Result<()> {
        let (store, staging_path) = store_for(&self.ctx, staging)?;
        let (_, target_path) = store_for(&self.ctx, target)?;
        self.staged.push(Staged {
            store,
            staging: staging_path,
            target: target_path,
            target_url: target.clone(),
            staging_url: staging.clone(),
        });
        Ok(())
    }

    /// Writes `bytes` to staging for `target` and registers it.
    pub async fn put(&mut self, target: &Url, bytes: Vec<u8>) -> Result<u64> {
        let staging = self.staging_url(target);
        let (store, path) = store_for(&self.ctx, &staging)?;
        let len = bytes.len() as u64;
        store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| storage_err(&staging, &e))?;
        self.add(&staging, target)?;
        Ok(len)
    }

    /// Moves every staged artifact to its published path. Each move is
    /// atomic: a rename on local disk; on object stores a server-side copy
    /// (an object is never visible half-written), after which removing the
    /// staged copy is tidying only: its failure is logged, not fatal.
    pub async fn publish(mut self) -> Result<()> {
        let staged = std::mem::take(&mut self.staged);
        // On local disk, a journal of the moves first: a run killed among
        // them is completed by the next run (see `roll_forward`), so the
        // outputs end up all new, never a mix.
        let journal = self.write_journal(&staged)?;
        for s in &staged {
            if s.target_url.scheme() == "file" {
                s.store
                    .rename(&s.staging, &s.target)
                    .await
                    .map_err(|e| storage_err(&s.target_url, &e))?;
            } else {
                s.store
                    .copy(&s.staging, &s.target)
                    .await
                    .map_err(|e| storage_err(&s.target_url, &e))?;
            }
        }
        for s in staged.iter().filter(|s| s.target_url.scheme() != "file") {
            if let Err(e) = s.store.delete(&s.staging).await {
                tracing::warn!(
                    path = %s.staging,
                    "could not remove a staged copy (the published one is complete): {e}"
                );
            }
        }
        if let Some(j) = journal {
            let _ = std::fs::remove_file(j);
        }
        // Locally, the moves left the folders empty; on object stores the
        // staged copies were deleted above, and there are no folders.
        for folder in self.folders.iter().filter(|f| f.scheme() == "file") {
            remove_folder(&self.ctx, folder).await;
        }
        Ok(())
    }

    /// Writes `_staging/<run id>.publishing` listing the local moves to make.
    fn write_journal(&self, staged: &[Staged]) -> Result<Option<std::path::PathBuf>> {
        let moves: Vec<(String, String)> = staged
            .iter()
            .filter(|s| s.target_url.scheme() == "file")
            .filter_map(|s| {
                let from = s.staging_url.to_file_path().ok()?;
                let to = s.target_url.to_file_path().ok()?;
                Some((from.display().to_string(), to.display().to_string()))
            })
            .collect();
        let Ok(root) = self.output_root.to_file_path() else {
            return Ok(None);
        };
        if moves.is_empty() {
            return Ok(None);
        }
        let dir = root.join("_staging");
        let journal = dir.join(format!("{}{JOURNAL_SUFFIX}", self.run_id));
        let tmp = dir.join(format!(".{}{JOURNAL_SUFFIX}.tmp", self.run_id));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&tmp, serde_json::to_vec(&moves).expect("paths serialize"))?;
            std::fs::rename(&tmp, &journal)
        };
        write().map_err(|e| storage_err(&self.output_root, &e))?;
        Ok(Some(journal))
    }

    /// Removes every staging folder of the run with all it holds, whether
    /// the run registered the files yet or was stopped while writing them:
    /// nothing is published.
    pub async fn discard(self) {
        for folder in &self.folders {
            remove_folder(&self.ctx, folder).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_sits_under_the_root_or_beside_the_target() {
        let ctx = SessionContext::new();
        let root = Url::parse("file:///out/").unwrap();
        let mut s = Stager::new(&ctx, &root, "r1");
        let t = Url::parse("file:///out/tables/rfm/part-0.parquet").unwrap();
        assert_eq!(
            s.staging_url(&t).as_str(),
            "file:///out/_staging/r1/tables/rfm/part-0.parquet"
        );
        let t = Url::parse("s3://b/x/report.html").unwrap();
        assert_eq!(
            s.staging_url(&t).as_str(),
            "s3://b/x/_staging_r1/report.html"
        );
    }
}
