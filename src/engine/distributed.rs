//! Running on an Apache DataFusion Ballista cluster (build feature
//! `distributed`). The session keeps every setting of [`super::build_session`]
//! and gains Ballista's query planner: each query is sent to the scheduler and
//! its results stream back. What executors read must be on storage they can
//! reach; the plan turns `materialize: memory` into `parquet` for this.

use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};

#[cfg(feature = "distributed")]
pub async fn connect(url: &str, state: SessionState) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    let unreachable = |why: String| {
        Error::config(format!(
            "cannot reach the Ballista scheduler `{url}`: {why}; check that it runs and the address"
        ))
    };
    let ctx = if url == crate::plan::STANDALONE {
        SessionContext::standalone_with_state(state).await
    } else {
        reach(url).await.map_err(unreachable)?;
        SessionContext::remote_with_state(url, state).await
    };
    ctx.map_err(|e| unreachable(crate::error::with_causes(&e)))
}

/// Opens and closes a connection to the scheduler. Ballista connects only
/// when the first query is sent; without this, a wrong address or a
/// scheduler that is down shows up as a transport error in every step.
#[cfg(feature = "distributed")]
async fn reach(url: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host().ok_or("the URL names no host")?;
    // Ballista's default scheduler port, as its own client assumes.
    let address = format!("{host}:{}", parsed.port().unwrap_or(50050));
    let wait = std::time::Duration::from_secs(10);
    match tokio::time::timeout(wait, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!("{address}: no answer within {} s", wait.as_secs())),
    }
}

/// Ballista's session defaults, on which the engine's settings go.
#[cfg(feature = "distributed")]
pub fn session_config() -> SessionConfig {
    use ballista::prelude::SessionConfigExt;
    SessionConfig::new_with_ballista()
}

#[cfg(not(feature = "distributed"))]
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
}

#[cfg(not(feature = "distributed"))]
pub async fn connect(url: &str, _state: SessionState) -> Result<SessionContext> {
    Err(Error::config(format!(
        "engine `{url}`: this build of loyalty cannot run on Ballista: build it with `cargo build --release --features distributed`"
    )))
}
