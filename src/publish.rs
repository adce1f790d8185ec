//! Stage, then publish: every artifact of a run is written to a staging
//! location first and moved to its published path only after everything
//! succeeded, so a failed or killed run never leaves a half-written file
//! where a reader expects a finished one.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use crate::error::Result;
use crate::storage::{file_name, storage_err, store_for};

/// One artifact written to staging, waiting to be published.
struct Staged {
    store: Arc<dyn ObjectStore>,
    staging: ObjectPath,
    target: ObjectPath,
    target_url: Url,
}

pub struct Stager {
    ctx: SessionContext,
    output_root: Url,
    run_id: String,
    staged: Vec<Staged>,
    /// Local staging directories to remove once empty.
    local_dirs: Vec<std::path::PathBuf>,
}

impl Stager {
    pub fn new(ctx: &SessionContext, output_root: &Url, run_id: &str) -> Self {
        Stager {
            ctx: ctx.clone(),
            output_root: output_root.clone(),
            run_id: run_id.to_string(),
            staged: Vec::new(),
            local_dirs: Vec::new(),
        }
    }

    /// Where the artifact for `target` is staged: under the output root's
    /// `_staging/<run id>/` when the target is under the root, otherwise in a
    /// `_staging_<run id>/` folder beside the target.
    pub fn staging_url(&self, target: &Url) -> Url {
        let root = self.output_root.as_str();
        let dir = if let Some(rel) = target.as_str().strip_prefix(root) {
            let rel_dir = rel
                .rsplit_once('/')
                .map(|(d, _)| format!("{d}/"))
                .unwrap_or_default();
            format!("{root}_staging/{}/{rel_dir}", self.run_id)
        } else {
            let parent = target
                .as_str()
                .rsplit_once('/')
                .map(|(d, _)| d)
                .unwrap_or("");
            format!("{parent}/_staging_{}/", self.run_id)
        };
        Url::parse(&dir)
            .and_then(|d| d.join(file_name(target)))
            .expect("a staging URL derived from a valid URL")
    }

    /// Registers a file written at `staging` (see [`Self::staging_url`]) for publishing.
    pub fn add(&mut self, staging: &Url, target: &Url) -> Result<()> {
        let (store, staging_path) = store_for(&self.ctx, staging)?;
        let (_, target_path) = store_for(&self.ctx, target)?;
        if staging.scheme() == "file"
            && let Ok(p) = staging.to_file_path()
            && let Some(dir) = p.parent()
        {
            self.local_dirs.push(dir.to_path_buf());
        }
        self.staged.push(Staged {
            store,
            staging: staging_path,
            target: target_path,
            target_url: target.clone(),
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
            .map_err(|e| storage_err(&staging, e))?;
        self.add(&staging, target)?;
        Ok(len)
    }

    /// Size of a staged artifact, for the manifest.
    pub async fn staged_size(&self, staging: &Url) -> Option<u64> {
        let (store, path) = store_for(&self.ctx, staging).ok()?;
        store.head(&path).await.ok().map(|m| m.size)
    }

    /// Moves every staged artifact to its published path. Each move is
    /// atomic: a rename on local disk; on object stores a server-side copy
    /// (an object is never visible half-written), after which removing the
    /// staged copy is tidying only: its failure is logged, not fatal.
    pub async fn publish(mut self) -> Result<()> {
        let staged = std::mem::take(&mut self.staged);
        for s in &staged {
            if s.target_url.scheme() == "file" {
                s.store
                    .rename(&s.staging, &s.target)
                    .await
                    .map_err(|e| storage_err(&s.target_url, e))?;
            } else {
                s.store
                    .copy(&s.staging, &s.target)
                    .await
                    .map_err(|e| storage_err(&s.target_url, e))?;
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
        self.cleanup_dirs();
        Ok(())
    }

    /// Deletes everything staged; nothing is published.
    pub async fn discard(mut self) {
        for s in std::mem::take(&mut self.staged) {
            let _ = s.store.delete(&s.staging).await;
        }
        self.cleanup_dirs();
    }

    fn cleanup_dirs(&mut self) {
        // Remove now-empty local staging folders, deepest first, up to `_staging`.
        let mut dirs = std::mem::take(&mut self.local_dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for dir in dirs {
            let mut d = Some(dir.as_path());
            while let Some(cur) = d {
                let name = cur.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if std::fs::remove_dir(cur).is_err() || name == "_staging" {
                    break;
                }
                d = cur.parent();
            }
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
        let s = Stager::new(&ctx, &root, "r1");
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
