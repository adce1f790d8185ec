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
    let ctx = if url == crate::plan::STANDALONE {
        SessionContext::standalone_with_state(state).await
    } else {
        SessionContext::remote_with_state(url, state).await
    };
    ctx.map_err(|e| {
        Error::config(format!(
            "cannot reach the Ballista scheduler `{url}`: {}; check that it runs and the address",
            crate::error::with_causes(&e)
        ))
    })
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
