//! The API being served: one spec with the sandbox pool that shows it to code and the gateway
//! that checks requests against its operations. A refresh swaps the whole of it at once;
//! each call holds the one it started on until it ends.

use std::sync::{Arc, PoisonError, RwLock};

use codemode_audit::RequestDecision;
use codemode_sandbox::{Pool, PoolConfig, SandboxError};
use codemode_spec::Spec;
use codemode_upstream::{Gateway, GatewayConfig, GatewayConfigError, Upstream};

/// One spec and what serving it takes.
pub struct ServedApi {
    /// The spec.
    pub spec: Arc<Spec>,
    /// Sandbox workers holding the spec's view.
    pub pool: Pool,
    /// Checks and sends requests against the spec's operations.
    pub gateway: Gateway<RequestDecision>,
}

/// Why a spec could not be put into service.
#[derive(Debug, thiserror::Error)]
pub enum ServeApiError {
    /// The `[upstream]` limits cannot work.
    #[error("invalid [upstream] setting: {0}")]
    UpstreamLimits(#[from] GatewayConfigError),
    /// The sandbox workers could not start.
    #[error("the sandbox could not start: {0}")]
    Sandbox(#[from] SandboxError),
}

/// What every [`ServedApi`] is built from besides its spec.
pub struct ApiParts {
    /// Where requests go.
    pub upstream: Arc<dyn Upstream>,
    /// Upstream limits and checks.
    pub gateway: GatewayConfig,
    /// Sandbox pool sizes and limits.
    pub pool: PoolConfig,
}

impl ApiParts {
    /// Starts serving `spec`: its own sandbox workers and gateway.
    pub fn serve(&self, spec: Spec) -> Result<ServedApi, ServeApiError> {
        let spec = Arc::new(spec);
        let gateway = Gateway::for_spec(self.upstream.clone(), spec.clone(), self.gateway.clone())?;
        let pool = Pool::for_spec(
            spec.clone(),
            self.pool.clone(),
            tokio::runtime::Handle::current(),
        )?;
        Ok(ServedApi {
            spec,
            pool,
            gateway,
        })
    }
}

/// The API in service, if one is loaded yet.
#[derive(Default)]
pub struct CurrentApi(RwLock<Option<Arc<ServedApi>>>);

impl CurrentApi {
    /// The API in service now; calls keep this one even if it is swapped while they run.
    pub fn get(&self) -> Option<Arc<ServedApi>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `api` into service; the previous one goes when its last call ends.
    pub fn set(&self, api: ServedApi) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(api));
    }
}
