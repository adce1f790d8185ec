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

/// The prefix of Ballista's own settings in `engine.options`.
pub const OPTION_PREFIX: &str = "ballista.";

/// Ballista's session defaults, on which the engine's settings go, with its
/// adaptive planner off (`ballista.planner.adaptive.enabled: true` in
/// `engine.options` turns it back on).
///
/// Ballista 55's adaptive planner, on by default, returned wrong answers and
/// hung on UNION ALL: each branch of a UNION ALL that ends in one partition
/// (a window over all rows, an ORDER BY) came back two or three times when
/// the executor was busy with other steps, and an ORDER BY over a UNION ALL
/// failed its plan check on the scheduler, which then waited forever. Its
/// static planner answers both right (`tests/distributed.rs`).
#[cfg(feature = "distributed")]
pub fn session_config() -> SessionConfig {
    use ballista::prelude::SessionConfigExt;
    SessionConfig::new_with_ballista().with_ballista_adaptive_query_planner(false)
}

#[cfg(not(feature = "distributed"))]
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
}

/// Checks `key: value` of `engine.options` against the settings the engine
/// knows: DataFusion's, and Ballista's in a build with Ballista. Without it,
/// a `ballista.` key is taken unchecked: it applies only on a cluster, which
/// that build refuses to run on anyway.
pub fn check_option(key: &str, value: &str) -> std::result::Result<(), String> {
    if !cfg!(feature = "distributed") && key.starts_with(OPTION_PREFIX) {
        return Ok(());
    }
    let mut probe = session_config();
    probe
        .options_mut()
        .set(key, value)
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
}

#[cfg(not(feature = "distributed"))]
pub async fn connect(url: &str, _state: SessionState) -> Result<SessionContext> {
    Err(Error::config(format!(
        "engine `{url}`: this build of loyalty cannot run on Ballista: build it with `cargo build --release --features distributed`"
    )))
}
