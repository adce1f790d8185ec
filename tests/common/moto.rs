//! A moto server (an S3-protocol server, which .ci/run installs into a
//! virtual environment and names in `LOYALTY_MOTO_SERVER`) for the tests
//! that read and write a bucket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::servers::Server;

pub fn moto_server() -> Option<PathBuf> {
    super::servers::installed("LOYALTY_MOTO_SERVER")
}

/// A moto server on 127.0.0.1, stopped when dropped.
pub struct Moto {
    pub server: Server,
}

impl Moto {
    pub fn start(bin: &Path) -> Moto {
        let port = super::free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        Moto {
            server: Server::start(cmd, port, "moto"),
        }
    }

    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    pub fn create_bucket(&self, bucket: &str) {
        let port = self.server.port;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
}

/// The standard AWS variables for a local endpoint.
pub fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
}

pub fn store(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_access_key_id("test")
            .with_secret_access_key("test-secret-key")
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .build()
            .unwrap(),
    )
}

/// Uploads every file under `dir` to `prefix/` in `bucket`, by its path
/// below `dir`.
pub async fn upload_dir(endpoint: &str, bucket: &str, dir: &Path, prefix: &str) {
    let s3 = store(endpoint, bucket);
    for p in super::files_under(dir) {
        let rel = p.strip_prefix(dir).unwrap().display().to_string();
        s3.put(
            &ObjectPath::from(format!("{prefix}/{rel}")),
            PutPayload::from(std::fs::read(&p).unwrap()),
        )
        .await
        .unwrap();
    }
}
