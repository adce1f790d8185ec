//! The servers the storage tests run against on 127.0.0.1, which .ci/run
//! installs and names in environment variables: moto (S3,
//! `LOYALTY_MOTO_SERVER`), Azurite (Azure Blob Storage, `LOYALTY_AZURITE`),
//! fake-gcs-server (Google Cloud Storage, `LOYALTY_FAKE_GCS`) and wsgidav (a
//! WebDAV server, for `http://` sources, `LOYALTY_WSGIDAV`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The server program named by the environment variable `var`. Unset, the
/// test is skipped (it says so), but fails under CI, where .ci/run sets it.
pub fn installed(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set: .ci/run installs the server and sets it")
        }
        None => {
            eprintln!("skipped: set {var} (see .ci/run, which installs the server)");
            None
        }
    }
}

/// A server process listening on a port of 127.0.0.1, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `cmd`, told to listen on `port`, and waits until it does.
    pub fn start(mut cmd: Command, port: u16, what: &str) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        super::wait_for_port(port, what);
        // Something else answered on the port, and the server could not take it.
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) though port {port} answers: it is someone else's");
        }
        Server { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
