//! The bundled pipeline on the object stores besides S3 (tests/s3.rs) that a
//! server installable here speaks, each run compared with the same run on
//! local disk, output table by output table:
//! - Azure Blob Storage on Azurite (`az://`, configured only through the
//!   environment), sources read from and outputs published to a container;
//! - sources served over `http://` by a WebDAV server (wsgidav): folders
//!   listed with PROPFIND, files read in ranges (one file over HTTP, and
//!   what a plain web server refuses: tests/engine.rs);
//! - sources read from Google Cloud Storage (`gs://`) on fake-gcs-server, by
//!   object_store's GCS client as against GCS: listed and read in ranges over
//!   the XML API. Not outputs: the emulator takes uploads over the JSON API
//!   only, and object_store's client uploads over the XML API (a plain `PUT`
//!   of the object), which it answers `400 invalid uploadType`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::servers::{Server, installed};
use common::*;

const AS_OF: &str = "2026-06-30";

/// An account SAS of Azurite's well-known development account
/// (devstoreaccount1, whose key is public), for the test's own requests:
/// blobs, containers and the service; read, write, delete, list, add, create;
/// until 2099. Made with azure-storage-blob's `generate_account_sas`.
const AZURITE_SAS: &str = "st=2026-01-01T00%3A00%3A00Z&se=2099-12-31T00%3A00%3A00Z&sp=rwdlac&spr=https%2Chttp&sv=2026-10-06&ss=b&srt=sco&sig=ipvlCKHed3XYMzFeSj5g2ch8K2hjM9INkf/FK5dPk9k%3D";

/// Azurite's Blob service on a free port, data in memory.
fn azurite() -> Option<Server> {
    let bin = installed("LOYALTY_AZURITE")?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--inMemoryPersistence",
        "--silent",
        "--disableTelemetry",
        "--skipApiVersionCheck",
    ]);
    Some(Server::start(cmd, port, "Azurite"))
}

/// Sends a request to a test server's REST API, asserting the status it
/// answers (else failing with its answer).
async fn answered(request: reqwest::RequestBuilder, status: u16) -> reqwest::Response {
    let r = request.send().await.unwrap();
    if r.status().as_u16() != status {
        let got = r.status();
        panic!("{got}, not {status}: {}", r.text().await.unwrap());
    }
    r
}

/// A container of Azurite's development account, through its REST API.
struct Container {
    url: String,
    http: reqwest::Client,
}

impl Container {
    async fn create(azurite: &Server, name: &str) -> Container {
        let c = Container {
            url: format!("{}/devstoreaccount1/{name}", azurite.url()),
            http: reqwest::Client::new(),
        };
        answered(
            c.http
                .put(format!("{}?restype=container&{AZURITE_SAS}", c.url))
                .header("content-length", "0"),
            201,
        )
        .await;
        c
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) {
        answered(
            self.http
                .put(format!("{}/{key}?{AZURITE_SAS}", self.url))
                .header("x-ms-blob-type", "BlockBlob")
                .body(bytes),
            201,
        )
        .await;
    }

    async fn get(&self, key: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("{}/{key}?{AZURITE_SAS}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{key}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    /// The names of the blobs under `prefix` (one listing page: the tests
    /// hold far fewer than its 5,000).
    async fn list(&self, prefix: &str) -> Vec<String> {
        let xml = self
            .http
            .get(format!(
                "{}?restype=container&comp=list&prefix={prefix}&{AZURITE_SAS}",
                self.url
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml.split("<Name>")
            .skip(1)
            .map(|s| s.split("</Name>").next().unwrap().to_string())
            .collect()
    }
}

/// `loyalty run` of the bundled pipeline with these roots, given Azurite's
/// address only through object_store's environment variables for it.
fn run_on(cwd: &Path, azurite: &Server, data_root: &str, out_root: &str) -> Output {
    run_on_with_key(cwd, azurite, data_root, out_root, None)
}

/// [`run_on`], with `AZURE_STORAGE_ACCOUNT_KEY` set to `key` where given.
fn run_on_with_key(
    cwd: &Path,
    azurite: &Server,
    data_root: &str,
    out_root: &str,
    key: Option<&str>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args([
        "run",
        bundled_pipeline().to_str().unwrap(),
        "--as-of",
        AS_OF,
    ])
    .args(["--param", &format!("data_root={data_root}")])
    .args(["--param", &format!("out_root={out_root}")])
    .current_dir(cwd);
    without_env_starting(&mut cmd, "AZURE_")
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURITE_BLOB_STORAGE_URL", azurite.url());
    if let Some(key) = key {
        cmd.env("AZURE_STORAGE_ACCOUNT_KEY", key);
    }
    cmd.output().unwrap()
}

/// The bundled pipeline run locally on the analyses fixture: the fixture
/// under `<tmp>/data`, the outputs under `<tmp>/local`.
fn local_run(tmp: &Path) {
    analyses_fixture(&tmp.join("data"), true);
    let o = run_pipeline(
        tmp,
        &bundled_pipeline(),
        AS_OF,
        &tmp.join("data"),
        &tmp.join("local"),
        &[],
    );
    assert_exit(&o, 0);
}

/// [`local_run`], then the fixture's files to put in a store: each one's key
/// (`data/orders/…`) and bytes.
fn local_run_and_its_data(tmp: &Path) -> Vec<(String, Vec<u8>)> {
    local_run(tmp);
    files_under(&tmp.join("data"))
        .iter()
        .map(|p| {
            let key = p.strip_prefix(tmp).unwrap().display().to_string();
            (key, std::fs::read(p).unwrap())
        })
        .collect()
}

/// The paths of the files a run wrote under `out`, but run_results.json
/// (its times and locations differ from run to run).
fn written_under(out: &Path) -> Vec<String> {
    let mut keys: Vec<String> = files_under(out)
        .iter()
        .map(|p| p.strip_prefix(out).unwrap().display().to_string())
        .filter(|k| k != "run_results.json")
        .collect();
    keys.sort();
    keys
}

/// The report's lines but those naming the data and output roots (the
/// parameter table), which differ between the runs compared.
fn without_roots(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("data_root") && !l.contains("out_root"))
        .map(str::to_string)
        .collect()
}

/// Asserts that the run under `out` wrote what the local run under `local`
/// did: the same files, the 21 tables with the same rows (in any order: a
/// parallel engine writes the per-customer tables in the order their
/// partitions finish), the reports and charts the same but for the roots.
fn assert_same_run(local: &Path, out: &Path, on: &str) {
    let files = written_under(local);
    assert_eq!(files, written_under(out), "the files written on {on}");
    assert_same_outputs(local, out, on, &[]);
    for key in files.iter().filter(|k| !k.starts_with("tables/")) {
        assert_eq!(
            without_roots(&local.join(key)),
            without_roots(&out.join(key)),
            "{key} on {on}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_pipeline_runs_on_azure_blob_storage() {
    let Some(azurite) = azurite() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let crm = Container::create(&azurite, "crm").await;
    for (key, bytes) in local_run_and_its_data(tmp.path()) {
        crm.put(&key, bytes).await;
    }

    // Twice: the second run publishes over the first's files.
    for _ in 0..2 {
        let o = run_on(tmp.path(), &azurite, "az://crm/data", "az://crm/out");
        assert_exit(&o, 0);
    }

    // Each blob published, copied to local disk for the comparison.
    let copied = tmp.path().join("from_azure");
    for key in crm.list("out/").await {
        let path = copied.join(&key["out/".len()..]);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, crm.get(&key).await).unwrap();
    }
    // Nothing staged is left: the same files as the local run's, no more.
    assert_same_run(&tmp.path().join("local"), &copied, "Azure");
    let results: serde_json::Value =
        serde_json::from_slice(&crm.get("out/run_results.json").await).unwrap();
    assert_eq!(results["status"], "success");
    assert_eq!(
        results["sources"][0]["url"], "az://crm/data/customers/",
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_container_the_run_fails_naming_the_url_and_what_to_check() {
    let Some(azurite) = azurite() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_on(
        tmp.path(),
        &azurite,
        "az://nowhere/data",
        &out.display().to_string(),
    );
    // The store's answer, without its XML, and where the name comes from.
    assert_says(
        &o,
        1,
        &[
            "source `orders` at `az://nowhere/data/orders/`: ",
            "404 Not Found: ContainerNotFound: The specified container does not exist.; \
             check the bucket or container the location names (it comes from param `data_root`: \
             `--param data_root=…`)",
        ],
    );
    let err = stderr(&o);
    assert!(
        !err.contains("<?xml") && !err.contains("RequestId"),
        "{err}"
    );
    // Nothing published: the run's results alone say what happened.
    assert_eq!(written_under(&out), Vec::<String>::new());
    assert!(out.join("run_results.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_are_said_as_such() {
    let Some(azurite) = azurite() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    Container::create(&azurite, "crm").await;
    // A key of the right form that is not the account's.
    let out = tmp.path().join("out");
    let o = run_on_with_key(
        tmp.path(),
        &azurite,
        "az://crm/data",
        &out.display().to_string(),
        Some("bm90IHRoZSBhY2NvdW50J3Mga2V5"),
    );
    assert_says(
        &o,
        1,
        &[
            "source `orders` at `az://crm/data/orders/`: ",
            "403 Forbidden: AuthorizationFailure: Server failed to authenticate the request.",
            "; the store refused the credentials: check the cloud's environment variables \
             (AWS_*, GOOGLE_*, AZURE_*) where the run starts",
        ],
    );
    assert!(!stderr(&o).contains("bm90IHRoZSBhY2NvdW50J3Mga2V5"));
}

/// wsgidav serving `root` (read and write, anonymous) on a free port.
fn webdav(root: &Path) -> Option<Server> {
    let bin = installed("LOYALTY_WSGIDAV")?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--auth", "anonymous", "--no-config", "-q", "--root"])
        .arg(root);
    Some(Server::start(cmd, port, "wsgidav"))
}

#[test]
fn the_bundled_pipeline_reads_its_sources_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = webdav(tmp.path()) else {
        return;
    };
    local_run(tmp.path());

    let out = tmp.path().join("from_http");
    let data_root = format!("{}/data", server.url());
    let o = run_pipeline(
        tmp.path(),
        &bundled_pipeline(),
        AS_OF,
        Path::new(&data_root),
        &out,
        &[],
    );
    assert_exit(&o, 0);
    assert_same_run(&tmp.path().join("local"), &out, "HTTP");
}

/// fake-gcs-server on a free port, its buckets in memory, answering on
/// 127.0.0.1 as GCS answers on storage.googleapis.com (path-style URLs).
fn fake_gcs() -> Option<Server> {
    let bin = installed("LOYALTY_FAKE_GCS")?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
    ])
    .args(["-port", &port.to_string()])
    .args(["-public-host", &format!("127.0.0.1:{port}")])
    .args(["-log-level", "error"]);
    Some(Server::start(cmd, port, "fake-gcs-server"))
}

/// A bucket on fake-gcs-server, made and filled through GCS's JSON API.
struct Bucket {
    url: String,
    name: String,
    http: reqwest::Client,
}

impl Bucket {
    async fn create(gcs: &Server, name: &str) -> Bucket {
        let b = Bucket {
            url: gcs.url(),
            name: name.to_string(),
            http: reqwest::Client::new(),
        };
        answered(
            b.http
                .post(format!("{}/storage/v1/b", b.url))
                .header("content-type", "application/json")
                .body(format!(r#"{{"name": "{name}"}}"#)),
            200,
        )
        .await;
        b
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) {
        answered(
            self.http
                .post(format!(
                    "{}/upload/storage/v1/b/{}/o?uploadType=media&name={key}",
                    self.url, self.name
                ))
                .header("content-type", "application/octet-stream")
                .body(bytes),
            200,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_pipeline_reads_its_sources_from_gcs() {
    let Some(gcs) = fake_gcs() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let crm = Bucket::create(&gcs, "crm").await;
    for (key, bytes) in local_run_and_its_data(tmp.path()) {
        crm.put(&key, bytes).await;
    }
    // The emulator's address and no OAuth, as object_store takes them for a
    // test server: through the service account file GOOGLE_SERVICE_ACCOUNT
    // names, as a real run's credentials come.
    let account = tmp.path().join("service-account.json");
    std::fs::write(
        &account,
        format!(
            r#"{{"gcs_base_url": "{}", "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}}"#,
            gcs.url()
        ),
    )
    .unwrap();

    let out = tmp.path().join("from_gcs");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args([
        "run",
        bundled_pipeline().to_str().unwrap(),
        "--as-of",
        AS_OF,
    ])
    .args(["--param", "data_root=gs://crm/data"])
    .args(["--param", &format!("out_root={}", out.display())])
    .current_dir(tmp.path());
    let o = without_env_starting(&mut cmd, "GOOGLE_")
        .env("GOOGLE_SERVICE_ACCOUNT", &account)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert_same_run(&tmp.path().join("local"), &out, "GCS");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_results.json")).unwrap()).unwrap();
    assert_eq!(
        results["sources"][0]["url"], "gs://crm/data/customers/",
        "{results}"
    );
}
