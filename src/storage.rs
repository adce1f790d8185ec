//! Storage locations: pipeline URLs and paths → absolute URLs, and the
//! object stores (local disk, S3, GCS, Azure, HTTP, memory) that serve them.
//! Credentials and endpoints come only from each cloud's standard environment
//! variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use url::Url;

use crate::error::{Error, Result, with_causes};
use crate::plan::StorageConfig;

/// The URL schemes a pipeline may use.
pub const SCHEMES: &[&str] = &[
    "file", "s3", "gs", "az", "abfs", "abfss", "http", "https", "memory",
];

/// Resolves a pipeline location (a URL, or a local path relative to `base`)
/// to an absolute URL. A trailing `/` is kept: it marks a directory.
pub fn resolve_url(raw: &str, base: &Path) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the location is empty".into());
    }
    if let Some((scheme, _)) = raw.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if !SCHEMES.contains(&scheme.as_str()) {
            return Err(format!(
                "unsupported URL scheme `{scheme}://` in `{}`: use one of {}, or a local path",
                redact(raw),
                crate::text::code_list(SCHEMES.iter().map(|s| format!("{s}://")))
            ));
        }
        return Url::parse(raw).map_err(|e| format!("`{}` is not a valid URL: {e}", redact(raw)));
    }
    let path = Path::new(raw);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let base = if base.is_absolute() {
            base.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?
                .join(base)
        };
        base.join(path)
    };
    let normal = normalize(&joined);
    let mut url = Url::from_file_path(&normal)
        .map_err(|_| format!("`{}` is not a usable local path", normal.display()))?;
    if raw.ends_with('/') && !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

/// A relative local location taken from the current directory instead of
/// from `base` (the pipeline file's folder, as [`resolve_url`] takes it),
/// up to any glob: where a source finds nothing, a location typed relative
/// to where the command runs may be there. `None` for URLs, absolute paths,
/// and where the two are the same folder.
pub fn from_current_dir(raw: &str, base: &Path) -> Option<PathBuf> {
    let raw = raw.trim();
    if has_scheme(raw) || Path::new(raw).is_absolute() {
        return None;
    }
    let segments: Vec<&str> = raw.split('/').collect();
    let listed = match glob_segment(raw) {
        Some(i) => segments[..i].join("/"),
        None => raw.to_string(),
    };
    let cwd = std::env::current_dir().ok()?;
    let here = normalize(&cwd.join(&listed));
    (here != normalize(&cwd.join(base).join(&listed))).then_some(here)
}

/// Removes `.` and `..` components without touching the file system:
/// `demo/pipelines/../sql/a.sql` is `demo/sql/a.sql`; a relative path keeps
/// the `..` it starts with, and above the root is the root. Through a
/// symbolic link `..` may lead elsewhere: files are still read by the path
/// as joined where that matters (a step's SQL file, shown by this one).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::ParentDir if out.has_root() && out.parent().is_none() => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Joins a relative path (with `/` separators, maybe ending in `/`) onto a
/// directory URL. `..` cannot climb above `root`.
pub fn join_under(root: &Url, rel: &str) -> Result<Url, String> {
    let mut segments: Vec<&str> = Vec::new();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(format!(
                        "`{rel}` climbs out of the output root `{}`: use a path inside it, or an absolute URL",
                        redact(root.as_str())
                    ));
                }
            }
            s => segments.push(s),
        }
    }
    let mut base = root.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let mut joined = segments.join("/");
    if rel.ends_with('/') && !joined.is_empty() {
        joined.push('/');
    }
    base.join(&joined)
        .map_err(|e| format!("cannot join `{rel}` to `{}`: {e}", redact(root.as_str())))
}

/// Whether `raw` is a URL with a scheme (as opposed to a local path).
pub fn has_scheme(raw: &str) -> bool {
    raw.contains("://")
}

/// The URL as text with any password or query string (tokens) removed.
pub fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            if url.query().is_some() {
                url.set_query(Some("***"));
            }
            url.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

/// Which `/`-separated segment of a location's path holds its glob, if it
/// has one. `?` would start a URL's query, so globs use `*` and `[…]`.
fn glob_segment(path: &str) -> Option<usize> {
    path.split('/').position(|seg| seg.contains(['*', '[']))
}

/// The listing URL DataFusion reads a source from: a directory, a file, or a
/// glob in the last segments (`…/orders/*.parquet`, `…/year=*/`).
pub fn listing_url(url: &Url) -> Result<ListingTableUrl, String> {
    let decoded = url.path().replace("%5B", "[").replace("%5D", "]");
    match glob_segment(&decoded) {
        None => ListingTableUrl::parse(url.as_str()).map_err(|e| e.to_string()),
        Some(i) => {
            let segments: Vec<&str> = decoded.split('/').collect();
            let prefix = format!("{}/", segments[..i].join("/"));
            let pattern = segments[i..].join("/");
            let mut base = url.clone();
            base.set_path(&prefix);
            ListingTableUrl::parse(base.as_str())
                .and_then(|u| u.with_glob(&pattern))
                .map_err(|e| format!("bad glob `{pattern}`: {e}"))
        }
    }
}

/// The object store and path inside it for a URL, registering the store with
/// the session on first use.
pub fn store_for(ctx: &SessionContext, url: &Url) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    ensure_store(ctx, url)?;
    let store_url = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])
        .map_err(|e| storage_err(url, &e))?;
    let store = ctx
        .runtime_env()
        .object_store(&store_url)
        .map_err(|e| storage_err(url, &e))?;
    let path = ObjectPath::from_url_path(url.path()).map_err(|e| storage_err(url, &e))?;
    Ok((store, path))
}

/// Registers the object store a URL needs, built from the environment.
pub fn ensure_store(ctx: &SessionContext, url: &Url) -> Result<()> {
    let store_url = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])
        .map_err(|e| storage_err(url, &e))?;
    let runtime = ctx.runtime_env();
    if runtime.object_store(&store_url).is_ok() {
        return Ok(());
    }
    let settings: Arc<StorageConfig> = ctx
        .state()
        .config()
        .get_extension::<StorageConfig>()
        .unwrap_or_default();
    let store = build_store(url, &settings)?;
    runtime.register_object_store(store_url.as_ref(), store);
    Ok(())
}

/// The object store that serves a URL, built from the environment, with
/// these retries and timeouts.
pub fn build_store(url: &Url, settings: &StorageConfig) -> Result<Arc<dyn ObjectStore>> {
    let scheme = url.scheme();
    let retry = object_store::RetryConfig {
        max_retries: settings.max_retries,
        retry_timeout: settings.retry_timeout,
        ..Default::default()
    };
    let secs = |d: std::time::Duration| format!("{}ms", d.as_millis());
    let (timeout, connect) = (secs(settings.timeout), secs(settings.connect_timeout));
    use object_store::ClientConfigKey as C;
    let store: Arc<dyn ObjectStore> = match scheme {
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        "s3" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(retry)
                .with_config(
                    object_store::aws::AmazonS3ConfigKey::Client(C::Timeout),
                    &timeout,
                )
                .with_config(
                    object_store::aws::AmazonS3ConfigKey::Client(C::ConnectTimeout),
                    &connect,
                )
                .build()
                .map_err(|e| unbuilt(url, &e))?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry)
                .with_config(
                    object_store::gcp::GoogleConfigKey::Client(C::Timeout),
                    &timeout,
                )
                .with_config(
                    object_store::gcp::GoogleConfigKey::Client(C::ConnectTimeout),
                    &connect,
                )
                .build()
                .map_err(|e| unbuilt(url, &e))?,
        ),
        "az" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry)
                .with_config(
                    object_store::azure::AzureConfigKey::Client(C::Timeout),
                    &timeout,
                )
                .with_config(
                    object_store::azure::AzureConfigKey::Client(C::ConnectTimeout),
                    &connect,
                )
                .build()
                .map_err(|e| unbuilt(url, &e))?,
        ),
        "http" | "https" => Arc::new(
            object_store::http::HttpBuilder::new()
                .with_url(&url[..url::Position::BeforePath])
                .with_retry(retry)
                // A pipeline that names an `http://` URL means it.
                .with_client_options(
                    object_store::ClientOptions::new()
                        .with_allow_http(scheme == "http")
                        .with_timeout(settings.timeout)
                        .with_connect_timeout(settings.connect_timeout),
                )
                .build()
                .map_err(|e| storage_err(url, &e))?,
        ),
        other => {
            return Err(Error::Storage {
                url: redact(url.as_str()),
                message: format!("unsupported scheme `{other}://`"),
            });
        }
    };
    Ok(store)
}

/// Copies every file under the local folder `dir` to the same path under the
/// folder URL `to` (`dir/orders/part-0.parquet` to `to/orders/part-0.parquet`),
/// a file at a time, each streamed (in parts where it is large). Where one
/// fails, the files copied before it are deleted again, so that a store
/// holds all of them or none; the error names any that could not be.
pub async fn upload_folder(dir: &Path, to: &Url, store: &Arc<dyn ObjectStore>) -> Result<()> {
    use object_store::ObjectStoreExt;
    let mut done: Vec<ObjectPath> = Vec::new();
    for file in files_in(dir).map_err(|e| Error::Run(format!("{}: {e}", dir.display())))? {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        let rel: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
        let url = join_under(to, &rel.join("/")).map_err(|message| Error::Storage {
            url: redact(to.as_str()),
            message,
        })?;
        // As `store_for` finds a URL's path in its store.
        let path = ObjectPath::from_url_path(url.path()).map_err(|e| storage_err(&url, &e))?;
        let copied = match upload_file(store, &file, &path).await {
            Ok(bytes) => bytes as f64,
            Err(e) => {
                let mut left = Vec::new();
                for p in &done {
                    if store.delete(p).await.is_err() {
                        left.push(format!("`{p}`"));
                    }
                }
                let left = match left.as_slice() {
                    [] => "nothing is left there".to_string(),
                    some => format!("left there, to delete: {}", some.join(", ")),
                };
                return Err(Error::Storage {
                    url: redact(url.as_str()),
                    message: format!(
                        "{e}; {left}; check the bucket or container and the cloud's \
                         environment variables (AWS_*, GOOGLE_*, AZURE_*)"
                    ),
                });
            }
        };
        // Large samples take a while to copy: one line per file shows it going.
        let size = if copied < 1e6 {
            format!("{:.0} kB", copied / 1e3)
        } else {
            format!("{:.1} MB", copied / 1e6)
        };
        tracing::info!("copied `{}` ({size})", redact(url.as_str()));
        done.push(path);
    }
    Ok(())
}

/// Streams one local file to `path` in the store; the bytes it copied.
async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    file: &Path,
    path: &ObjectPath,
) -> Result<u64, String> {
    use tokio::io::AsyncWriteExt;
    let mut reader = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut sink = object_store::buffered::BufWriter::new(store.clone(), path.clone());
    match tokio::io::copy(&mut reader, &mut sink).await {
        Ok(bytes) => sink
            .shutdown()
            .await
            .map(|()| bytes)
            .map_err(|e| with_causes(&e)),
        Err(e) => {
            let _ = sink.abort().await;
            Err(with_causes(&e))
        }
    }
}

/// The files under `dir`, its subfolders' too, in name order.
fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    let mut files = Vec::new();
    for path in entries {
        if path.is_dir() {
            files.extend(files_in(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// Removes a folder a run made for itself (`_scratch/<run id>/`, a staging
/// folder) with everything in it: on local disk the directory tree, and its
/// parent once empty when that is loyalty's own (`_staging`, `_scratch`); on an
/// object store every object under the prefix. Tidying only: failures are
/// ignored, and the next run on the machine removes what a dead run left
/// under the output root.
pub async fn remove_folder(ctx: &SessionContext, folder: &Url) {
    if folder.scheme() == "file" {
        if let Ok(path) = folder.to_file_path() {
            let _ = std::fs::remove_dir_all(&path);
            if let Some(parent) = path.parent()
                && matches!(
                    parent.file_name().and_then(|n| n.to_str()),
                    Some("_staging" | "_scratch")
                )
            {
                let _ = std::fs::remove_dir(parent);
            }
        }
        return;
    }
    if let Ok((store, prefix)) = store_for(ctx, folder) {
        use futures::StreamExt;
        use object_store::ObjectStoreExt;
        let paths: Vec<_> = store
            .list(Some(&prefix))
            .filter_map(|m| async move { m.ok().map(|m| m.location) })
            .collect()
            .await;
        for p in paths {
            let _ = store.delete(&p).await;
        }
    }
}

/// No client could be set up for the cloud store (S3, GCS, Azure) a URL
/// names: object_store's words, and what to change where they point at the
/// usual causes.
fn unbuilt(url: &Url, e: &object_store::Error) -> Error {
    let message = with_causes(e);
    let (cloud, bucket) = match url.scheme() {
        "s3" => ("S3", "bucket"),
        "gs" => ("GCS", "bucket"),
        _ => ("Azure", "container"),
    };
    let hint = if message.contains("credential error") {
        format!(
            "; check the variables that give {cloud} its credentials where loyalty runs \
             (README, **Locations**: how each cloud's client finds them)"
        )
    } else if message.contains("Account must be specified") {
        "; set `AZURE_STORAGE_ACCOUNT_NAME` (and the account's credentials) where \
         loyalty runs (README, **Locations**)"
            .to_string()
    } else if message.contains("did not match any known pattern") {
        format!(
            "; name the {bucket} in the URL: `{}://{bucket}/prefix/`",
            url.scheme()
        )
    } else {
        String::new()
    };
    Error::Storage {
        url: redact(url.as_str()),
        message: format!("{message}{hint}"),
    }
}

pub fn storage_err(url: &Url, e: &(dyn std::error::Error + 'static)) -> Error {
    Error::Storage {
        url: redact(url.as_str()),
        message: with_causes(e),
    }
}

/// The last segment of a URL's path (its file name), or "" for a directory.
pub fn file_name(url: &Url) -> &str {
    url.path().rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_normalized_without_the_folders_it_goes_back_out_of() {
        for (path, shown) in [
            ("demo/pipelines/../sql/a.sql", "demo/sql/a.sql"),
            ("./pipelines/../sql/a.sql", "sql/a.sql"),
            ("../sql/a.sql", "../sql/a.sql"),
            ("../../a/../sql/a.sql", "../../sql/a.sql"),
            ("/srv/p/../sql/a.sql", "/srv/sql/a.sql"),
            ("/../a.sql", "/a.sql"),
            ("a/..", "."),
        ] {
            assert_eq!(normalize(Path::new(path)), Path::new(shown), "{path}");
        }
    }

    #[test]
    fn a_relative_location_is_also_taken_from_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let base = Path::new("/srv/loyalty/pipelines");
        assert_eq!(
            from_current_dir("data/orders/", base),
            Some(cwd.join("data/orders"))
        );
        assert_eq!(
            from_current_dir("./demo/../data/surveys/*.parquet", base),
            Some(cwd.join("data/surveys"))
        );
        assert_eq!(
            from_current_dir("data/p*/x.parquet", base),
            Some(cwd.join("data"))
        );
        // The pipeline file in the current directory: the same folder.
        assert_eq!(from_current_dir("data/orders/", Path::new("")), None);
        assert_eq!(from_current_dir("data/orders/", &cwd), None);
        // URLs and absolute paths are taken as they are.
        assert_eq!(from_current_dir("s3://bucket/orders/", base), None);
        assert_eq!(from_current_dir("/data/orders/", base), None);
    }

    #[test]
    fn resolves_relative_paths_against_the_pipeline_dir() {
        let u = resolve_url("../data/orders/", Path::new("/srv/loyalty/pipelines")).unwrap();
        assert_eq!(u.as_str(), "file:///srv/loyalty/data/orders/");
        let u = resolve_url("./x.parquet", Path::new("/a")).unwrap();
        assert_eq!(u.as_str(), "file:///a/x.parquet");
        let u = resolve_url("/abs/dir/", Path::new("/a")).unwrap();
        assert_eq!(u.as_str(), "file:///abs/dir/");
    }

    #[test]
    fn keeps_cloud_urls_and_refuses_unknown_schemes() {
        assert_eq!(
            resolve_url("s3://bucket/crm/orders/", Path::new("/"))
                .unwrap()
                .as_str(),
            "s3://bucket/crm/orders/"
        );
        let err = resolve_url("ftp://host/x", Path::new("/")).unwrap_err();
        assert!(err.contains("unsupported URL scheme `ftp://`"), "{err}");
    }

    #[test]
    fn joins_under_root_and_refuses_to_climb_out() {
        let root = Url::parse("s3://b/out").unwrap();
        assert_eq!(
            join_under(&root, "tables/rfm/").unwrap().as_str(),
            "s3://b/out/tables/rfm/"
        );
        assert_eq!(
            join_under(&root, "a/../report.html").unwrap().as_str(),
            "s3://b/out/report.html"
        );
        assert!(join_under(&root, "../../etc/passwd").is_err());
    }

    /// Three files copied to a local folder through its object store, the
    /// second of which cannot be written: a folder stands at its path.
    #[tokio::test]
    async fn a_failed_copy_takes_back_the_files_copied_before_it() {
        let from = tempfile::tempdir().unwrap();
        for (name, text) in [("a/x.txt", "1"), ("b/y.txt", "22"), ("c/z.txt", "333")] {
            let path = from.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::local::LocalFileSystem::new());

        let to = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(to.path()).unwrap();
        upload_folder(from.path(), &url, &store).await.unwrap();
        for (name, text) in [("a/x.txt", "1"), ("b/y.txt", "22"), ("c/z.txt", "333")] {
            assert_eq!(std::fs::read_to_string(to.path().join(name)).unwrap(), text);
        }

        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(to.path().join("b/y.txt")).unwrap();
        let url = Url::from_directory_path(to.path()).unwrap();
        let err = upload_folder(from.path(), &url, &store)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("`{url}b/y.txt`")), "{err}");
        assert!(err.contains("; nothing is left there; "), "{err}");
        // The first file is gone again, and the third was never copied.
        assert!(!to.path().join("a/x.txt").exists());
        assert!(!to.path().join("c/z.txt").exists());
    }

    #[test]
    fn redacts_passwords_and_query_tokens() {
        assert_eq!(
            redact("https://user:secret@host/x?sig=abc"),
            "https://user:***@host/x?***"
        );
    }

    #[test]
    fn splits_globs_from_the_listing_prefix() {
        let u = listing_url(&Url::parse("file:///d/orders/*.parquet").unwrap()).unwrap();
        assert_eq!(u.prefix().as_ref(), "d/orders");
        assert!(u.get_glob().is_some());
        let u = listing_url(&Url::parse("file:///d/orders/").unwrap()).unwrap();
        assert!(u.get_glob().is_none());
        assert!(u.is_collection());
    }
}
