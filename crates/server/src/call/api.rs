//! The APIs being served: the first upstream's spec with the sandbox pool that shows every
//! spec to code and the gateways that check requests against their operations. A refresh
//! swaps the whole of it at once; each call holds the one it started on until it ends.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use codemode_audit::RequestDecision;
use codemode_policy::Policy;
use codemode_sandbox::{Pool, PoolConfig, SandboxError};
use codemode_spec::Spec;
use codemode_upstream::{Credential, Gateway, GatewayConfig, GatewayConfigError, Upstream};

/// One spec and what serving it takes.
pub struct ServedApi {
    /// The first upstream's spec.
    pub spec: Arc<Spec>,
    /// Sandbox workers holding every spec's view.
    pub pool: Pool,
    /// Checks and sends requests against the first spec's operations.
    pub gateway: Gateway<RequestDecision>,
    /// The further upstreams, in configured order.
    pub others: Vec<OtherApi>,
}

/// An upstream besides the first: reached as `name.request`, with its own spec, gateway,
/// policy and server-wide credential.
pub struct OtherApi {
    /// The global `execute` code reaches it by.
    pub name: String,
    /// Its spec.
    pub spec: Arc<Spec>,
    /// Checks and sends its requests.
    pub gateway: Gateway<RequestDecision>,
    /// Its policy rules.
    pub policy: Arc<Policy>,
    /// Its server-wide credential, if any; no other upstream's is ever sent to it.
    pub credential: Option<Credential>,
}

/// An upstream besides the first, once its spec is loaded: what [`OtherApi`] is built from.
#[derive(Clone)]
pub struct OtherParts {
    /// The global `execute` code reaches it by.
    pub name: String,
    /// Its spec, loaded once at start-up.
    pub spec: Arc<Spec>,
    /// Where its requests go.
    pub upstream: Arc<dyn Upstream>,
    /// Its limits and checks.
    pub gateway: GatewayConfig,
    /// Its policy rules.
    pub policy: Arc<Policy>,
    /// Its server-wide credential, if any.
    pub credential: Option<Credential>,
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
    /// Where the first upstream's requests go, once its base is known.
    pub upstream: OnceLock<Arc<dyn Upstream>>,
    /// Upstream limits and checks.
    pub gateway: GatewayConfig,
    /// Sandbox pool sizes and limits.
    pub pool: PoolConfig,
    /// The further upstreams, once loaded, as last put into service.
    pub others: Mutex<Option<Vec<OtherParts>>>,
}

impl ApiParts {
    /// The further upstreams in service; `None` until they are first loaded.
    pub fn others(&self) -> Option<Vec<OtherParts>> {
        self.others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps `others` as the further upstreams in service.
    pub fn keep_others(&self, others: Vec<OtherParts>) {
        *self.others.lock().unwrap_or_else(PoisonError::into_inner) = Some(others);
    }

    /// Starts serving `spec` beside `others`: its own sandbox workers and gateways.
    pub fn serve(
        &self,
        upstream: Arc<dyn Upstream>,
        spec: Arc<Spec>,
        others: &[OtherParts],
    ) -> Result<ServedApi, ServeApiError> {
        let gateway = Gateway::for_spec(upstream, spec.clone(), self.gateway.clone())?;
        let pool = if others.is_empty() {
            Pool::for_spec(
                spec.clone(),
                self.pool.clone(),
                tokio::runtime::Handle::current(),
            )?
        } else {
            Pool::for_specs(
                spec.clone(),
                others
                    .iter()
                    .map(|other| (other.name.clone(), other.spec.clone()))
                    .collect(),
                self.pool.clone(),
                tokio::runtime::Handle::current(),
            )?
        };
        let others = others
            .iter()
            .map(|other| {
                Ok(OtherApi {
                    name: other.name.clone(),
                    spec: other.spec.clone(),
                    gateway: Gateway::for_spec(
                        other.upstream.clone(),
                        other.spec.clone(),
                        other.gateway.clone(),
                    )?,
                    policy: other.policy.clone(),
                    credential: other.credential.clone(),
                })
            })
            .collect::<Result<_, ServeApiError>>()?;
        Ok(ServedApi {
            spec,
            pool,
            gateway,
            others,
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
