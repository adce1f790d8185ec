//! The bundled pipeline against a real S3-protocol server on 127.0.0.1
//! (moto, which .ci/run installs into a virtual environment and names in
//! `LOYALTY_MOTO_SERVER`): sources read from, and outputs and reports written
//! to, a bucket, configured only through the standard AWS variables. Also:
//! the server gone fails with a storage error naming the URL, publishing nothing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::*;
use common::*;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

fn run_s3(cwd: &Path, endpoint: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args([
        "run",
        bundled_pipeline().to_str().unwrap(),
        "--as-of",
        "2026-06-30",
        "--param",
        "data_root=s3://crm/data",
        "--param",
        "out_root=s3://crm/out",
    ])
    .args(extra)
    .current_dir(cwd);
    aws_env(&mut cmd, endpoint);
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_pipeline_runs_on_s3() {
    let Some((moto, tmp)) = moto_with_fixture().await else {
        return;
    };
    let data = tmp.path().join("data");
    let s3 = store(&moto.endpoint(), "crm");

    let o = run_s3(tmp.path(), &moto.endpoint(), &[]);
    assert_exit(&o, 0);

    // The same run on local disk, to compare with.
    let local = tmp.path().join("local");
    assert_exit(
        &run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            "2026-06-30",
            &data,
            &local,
            &[],
        ),
        0,
    );

    let get = |key: String| {
        let s3 = s3.clone();
        async move {
            s3.get(&ObjectPath::from(key))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }
    };
    let results: serde_json::Value =
        serde_json::from_slice(&get("out/run_results.json".into()).await).unwrap();
    assert_eq!(results["status"], "success");
    assert!(results["artifacts"].as_array().unwrap().len() >= 20);
    // The report is the local run's but for the data and output roots.
    let without_roots = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("data_root") && !l.contains("out_root"))
            .map(str::to_string)
            .collect()
    };
    let md = get("out/report.md".into()).await;
    let local_md = std::fs::read_to_string(local.join("report.md")).unwrap();
    assert_eq!(
        without_roots(&String::from_utf8_lossy(&md)),
        without_roots(&local_md)
    );
    let headline = get("out/tables/headline/part-0.parquet".into()).await;
    let path = tmp.path().join("headline.parquet");
    std::fs::write(&path, &headline).unwrap();
    assert_eq!(col_i64(&read_parquet(&path), "active_customers"), [Some(9)]);
    // Nothing staged is left in the bucket.
    let keys: Vec<String> = {
        use futures::StreamExt;
        s3.list(Some(&ObjectPath::from("out")))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    };
    assert!(
        keys.iter()
            .all(|k| !k.contains("_staging") && !k.contains("_scratch")),
        "{keys:?}"
    );
    assert!(keys.contains(&"out/report.html".to_string()));
}

/// A moto server with bucket `crm` holding the analyses fixture under
/// `data/` (written locally under `<tmp>/data` too), or None where moto is
/// not installed.
async fn moto_with_fixture() -> Option<(Moto, tempfile::TempDir)> {
    let moto = Moto::start(&moto_server()?);
    moto.create_bucket("crm");
    let tmp = tempfile::tempdir().unwrap();
    upload_fixture(&moto.endpoint(), &tmp.path().join("data")).await;
    Some((moto, tmp))
}

/// Uploads the analyses fixture to `crm/data/` on the server.
async fn upload_fixture(endpoint: &str, data: &Path) {
    analyses_fixture(data, true);
    upload_dir(endpoint, "crm", data, "data").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_server_gone_the_run_fails_naming_the_url() {
    let Some((moto, tmp)) = moto_with_fixture().await else {
        return;
    };
    let endpoint = moto.endpoint();
    drop(moto); // the server is gone

    let started = Instant::now();
    let o = run_s3(tmp.path(), &endpoint, &[]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("`s3://crm/data/customers/`"), "{err}");
    // The cause the HTTP client keeps behind "error sending request".
    assert!(err.contains("Connection refused"), "{err}");
    // Bounded by the retry settings (3 retries), not hanging: a generous guard.
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}

/// What the fault proxy did to each new connection.
#[derive(Default)]
struct Faults {
    answered_503: std::sync::atomic::AtomicUsize,
    stalled: std::sync::atomic::AtomicUsize,
    forwarded: std::sync::atomic::AtomicUsize,
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`: of every five new
/// connections, one is answered `503` and closed, one is held silent past
/// the client's timeout, and the others are forwarded.
fn fault_proxy(upstream: u16, faults: Arc<Faults>) -> u16 {
    use std::sync::atomic::Ordering::SeqCst;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut client) = conn else { continue };
            let faults = faults.clone();
            std::thread::spawn(move || match i % 5 {
                1 => {
                    // Answer once the request's head has arrived, as a
                    // server does: a response on a connection with no
                    // request yet is a protocol error, not a 503.
                    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
                    let (mut head, mut buf) = (Vec::new(), [0u8; 4096]);
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf) {
                            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    if client
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .is_ok()
                    {
                        faults.answered_503.fetch_add(1, SeqCst);
                    }
                }
                3 => {
                    faults.stalled.fetch_add(1, SeqCst);
                    std::thread::sleep(Duration::from_secs(4));
                }
                _ => {
                    faults.forwarded.fetch_add(1, SeqCst);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let (mut c2, mut s2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut s3, mut c3) = (server, client);
                    let _ = std::io::copy(&mut s3, &mut c3);
                    let _ = c3.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_succeeds_through_503s_and_timeouts_by_retrying() {
    use std::sync::atomic::Ordering::SeqCst;
    let Some((moto, tmp)) = moto_with_fixture().await else {
        return;
    };

    // The bundled pipeline with short timeouts and more retries.
    let pipeline = bundle_copy(tmp.path());
    let mut yaml = std::fs::read_to_string(&pipeline).unwrap();
    yaml.push_str("\nstorage:\n  max_retries: 8\n  timeout: 1s\n  connect_timeout: 1s\n  retry_timeout: 60s\n");
    std::fs::write(&pipeline, yaml).unwrap();

    let faults = Arc::new(Faults::default());
    let proxy = fault_proxy(moto.server.port, faults.clone());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args([
        "run",
        pipeline.to_str().unwrap(),
        "--as-of",
        "2026-06-30",
        "--param",
        "data_root=s3://crm/data",
        "--param",
        "out_root=s3://crm/out",
    ])
    .current_dir(tmp.path());
    aws_env(&mut cmd, &format!("http://127.0.0.1:{proxy}"));
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    assert!(faults.answered_503.load(SeqCst) >= 1, "no 503 was injected");
    assert!(
        faults.stalled.load(SeqCst) >= 1,
        "no request was held past the timeout"
    );
    let s3 = store(&moto.endpoint(), "crm");
    let results = s3
        .get(&ObjectPath::from("out/run_results.json"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let results: serde_json::Value = serde_json::from_slice(&results).unwrap();
    assert_eq!(results["status"], "success");
}

/// `loyalty sample --out URL ARGS…` in `cwd`, against the server at `endpoint`.
fn sample_to(cwd: &Path, endpoint: &str, url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args(["sample", "--out", url])
        .args(args)
        .current_dir(cwd);
    aws_env(&mut cmd, endpoint);
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_data_written_to_a_bucket_is_what_a_local_folder_gets() {
    let Some(bin) = moto_server() else {
        return;
    };
    let moto = Moto::start(&bin);
    moto.create_bucket("crm");
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--customers",
        "300",
        "--seed",
        "7",
        "--end-date",
        "2026-06-30",
    ];

    let o = sample_to(tmp.path(), &moto.endpoint(), "s3://crm/sample", &args);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("300 customers"), "{}", stdout(&o));
    assert!(stdout(&o).contains("to s3://crm/sample"), "{}", stdout(&o));
    // A line per file as it is copied, for the minutes a large sample takes.
    for table in ["complaints", "customers", "orders", "surveys"] {
        let line = format!("copied `s3://crm/sample/{table}/part-0.parquet` (");
        assert_eq!(stderr(&o).matches(&line).count(), 1, "{}", stderr(&o));
    }
    let local = tmp.path().join("local");
    let o = loyalty(
        tmp.path(),
        &[&["sample", "--out", local.to_str().unwrap()][..], &args[..]].concat(),
    );
    assert_exit(&o, 0);

    // The same files, byte for byte (the same seed and end date give the
    // same bytes), and no others: nothing of the local folder they were
    // generated in.
    let s3 = store(&moto.endpoint(), "crm");
    let keys: Vec<String> = {
        use futures::StreamExt;
        let mut keys: Vec<String> = s3
            .list(Some(&ObjectPath::from("sample")))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await;
        keys.sort();
        keys
    };
    let mut files = files_under(&local);
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let expected: Vec<String> = files
        .iter()
        .map(|p| format!("sample/{}", p.strip_prefix(&local).unwrap().display()))
        .collect();
    assert_eq!(keys, expected);
    for (key, file) in keys.iter().zip(&files) {
        let got = s3
            .get(&ObjectPath::from(key.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(got == std::fs::read(file).unwrap(), "{key}");
    }

    // A bucket that is not there: the URL named, the store's word for it.
    let o = sample_to(tmp.path(), &moto.endpoint(), "s3://nowhere/sample", &args);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("`s3://nowhere/sample/"), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
}

/// Where the environment names a proxy (`HTTP_PROXY`; `HTTPS_PROXY` for an
/// https endpoint), the store's requests go to it. Here the endpoint is an
/// address where nothing listens and moto stands as the proxy: it answers
/// the requests sent to it in a proxy's form (`GET http://endpoint/…`).
#[tokio::test(flavor = "multi_thread")]
async fn requests_go_through_the_proxy_the_environment_names() {
    let Some((moto, tmp)) = moto_with_fixture().await else {
        return;
    };
    let run = |proxy: Option<&str>| {
        let out = tmp.path().join("out");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
        cmd.args(["run", bundled_pipeline().to_str().unwrap()])
            .args([
                "--as-of",
                "2026-06-30",
                "--param",
                "data_root=s3://crm/data",
            ])
            .args(["--param", &format!("out_root={}", out.display())])
            .current_dir(tmp.path());
        aws_env(&mut cmd, "http://127.0.0.2:9");
        for var in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            cmd.env_remove(var);
        }
        if let Some(proxy) = proxy {
            cmd.env("HTTP_PROXY", proxy);
        }
        cmd.output().unwrap()
    };
    let o = run(Some(&moto.endpoint()));
    assert_exit(&o, 0);
    // The orders read through it are the fixture's.
    let results = read_json(&tmp.path().join("out/run_results.json"));
    let orders = rows(&read_parquet(&tmp.path().join("data/orders")));
    assert_eq!(results["sources"][1]["name"], "orders");
    assert_eq!(results["sources"][1]["rows"], orders as u64);
    // Without it, nothing answers there.
    let o = run(None);
    assert_says(&o, 1, &["`s3://crm/data/", "Connection refused"]);
}
