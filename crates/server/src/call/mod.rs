//! One governed tool call, from admission to audit, free of any transport.
//!
//! [`Runner`] holds what every call shares: the spec, the sandbox pool, the gateway and the
//! governance stores. A call goes through the same steps whichever transport carried it:
//! the scope check, the rate limits ([`limits`]), for `execute` the upstream credential
//! ([`credential`]) and the sandbox host that checks, decides and maybe asks about every
//! request ([`host`], [`approval`]), and the audit record ([`audit`]) committed before the
//! [`CallOutcome`] goes back.

pub mod api;
pub mod approval;
pub mod audit;
pub mod caller;
pub mod clock;
pub mod credential;
pub mod error;
pub mod host;
pub mod limits;
pub mod log_line;
pub mod outcome;
pub mod paused;
pub mod recording;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use codemode_audit::{
    ApprovalError, ApprovalStore, AuditError, AuditKey, AuditLog, AuditWriter, Timestamp,
    Tool as AuditTool, WriterConfig,
};
use codemode_auth::{Principal, Scope, Tool as AuthTool};
use codemode_credentials::{CredentialStore, CredentialsError};
use codemode_demo::DemoUpstream;
use codemode_policy::{Access, ApprovalSummary, Policy, PolicyError};
use codemode_ratelimit::{Limit, Tool as RateTool};
use codemode_sandbox::{CancelToken, PoolConfig};
use codemode_spec::{Origin, Spec, SpecError, SpecLoader};
use codemode_stores::{PgAuditWriter, PgError, RedisError};
use codemode_upstream::{Credential, CredentialError, HttpSetupError, HttpUpstream, Upstream};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::watch;

use crate::settings::{
    AuditStoreKind, REQUEST_STATE_KEY_ENV, Secrets, Settings, TOKEN_ENV, UpstreamSettings,
};
use crate::spec_loading::{self, SpecLoadError};
use crate::stores::{self, AuditSink};
use crate::telemetry::{self, ToolName, UpstreamMeters, traces};
use crate::tools::ToolLimits;
use crate::wording;
use api::{ApiParts, CurrentApi, OtherParts, ServeApiError, ServedApi};
use approval::{Approvals, Question, QuestionLimits};
use audit::AuditTrail;
pub use caller::Caller;
use credential::Credentials;
pub use error::CallError;
pub use host::Update;
use host::{ExecuteHost, HostParts, OtherCall};
use limits::Admission;
use log_line::log_call;
pub use outcome::{CallOutcome, Returned};
use paused::{PausedCalls, ResumeError, STATE_KEY_MIN_BYTES, StateKeyError};
use recording::Recording;

/// Why the server could not start serving calls. Each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spec could not be loaded.
    #[error(transparent)]
    Spec(#[from] SpecLoadError),
    /// The upstream's base URL or client could not be set up.
    #[error("upstream `{name}`: {source}")]
    Upstream {
        /// The upstream.
        name: String,
        /// What is wrong.
        source: HttpSetupError,
    },
    /// An upstream has no base URL to send requests to.
    #[error(
        "upstream `{0}` has no API base: its spec names no server (servers[0].url); set \
         `api_base` in its [[upstreams]] table (or pass --api-base for the single upstream)"
    )]
    NoApiBase(String),
    /// An upstream's token variable holds no usable token.
    #[error("invalid {env} (the token of upstream `{name}`): {source}")]
    Token {
        /// The upstream.
        name: String,
        /// The variable.
        env: String,
        /// What is wrong.
        source: CredentialError,
    },
    /// The spec could not be put into service.
    #[error(transparent)]
    Serve(#[from] ServeApiError),
    /// The operator's policy rules are invalid.
    #[error("invalid [policy] rules: {0}")]
    Policy(#[from] PolicyError),
    /// The `[sandbox]` settings cannot work.
    #[error("invalid [sandbox] {0}")]
    SandboxSettings(#[from] codemode_sandbox::ConfigError),
    /// The data directory could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audit log could not be opened or pruned.
    #[error("cannot use the audit log {path}: {}", wording::audit_error(.source))]
    Audit {
        /// The database.
        path: PathBuf,
        /// What went wrong.
        source: AuditError,
    },
    /// The approvals could not be opened.
    #[error("cannot open approvals in {path}: {source}")]
    Approvals {
        /// The database.
        path: PathBuf,
        /// What went wrong.
        source: Box<ApprovalError>,
    },
    /// The records of paused calls could not be opened.
    #[error(transparent)]
    PausedStore(#[from] stores::PausedStoreOpenError),
    /// The Redis store `[store]` names cannot be used.
    #[error("cannot use the [store] Redis: {0}")]
    Redis(#[from] RedisError),
    /// The Postgres audit log `[audit]` names cannot be used.
    #[error("cannot use the [audit] Postgres log: {0}")]
    Postgres(#[from] PgError),
    /// Paused calls cannot be kept.
    #[error(
        "cannot keep paused calls: {0}; set {REQUEST_STATE_KEY_ENV} to at least {STATE_KEY_MIN_BYTES} random bytes (e.g. `openssl rand -hex 32`)"
    )]
    RequestStateKey(#[from] StateKeyError),
    /// The stored credentials could not be opened.
    #[error("cannot open stored credentials {path}: {}", wording::credentials_error(.source))]
    Credentials {
        /// The database.
        path: PathBuf,
        /// What went wrong.
        source: CredentialsError,
    },
}

/// Why a refresh kept the spec in service.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The source gave no usable spec.
    #[error("{0}")]
    Spec(SpecError),
    /// The new spec could not be put into service.
    #[error("{0}")]
    Serve(Arc<ServeApiError>),
}

/// Reloads one upstream's spec from `loader` into `spec`, if it changed; a built-in spec
/// (`loader` is `None`) never does.
async fn reload(
    loader: Option<&SpecLoader>,
    spec: &mut Arc<Spec>,
) -> Result<Refreshed, RefreshError> {
    let Some(loader) = loader else {
        return Ok(Refreshed::BuiltIn);
    };
    match loader.reload().await.map_err(RefreshError::Spec)? {
        None => Ok(Refreshed::Unchanged),
        Some(new) => {
            let operations = new.operations().len();
            *spec = Arc::new(new);
            Ok(Refreshed::Swapped(operations))
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// A new spec is in service, with this many operations.
    Swapped(usize),
    /// The source said the spec has not changed.
    Unchanged,
    /// The source is built in (the demo) and never changes.
    BuiltIn,
}

/// The spec a start-up put into service.
#[derive(Debug, Clone)]
pub struct SpecReady {
    /// Its operation count.
    pub operations: usize,
    /// Where it came from.
    pub origin: Origin,
}

/// Everything a tool call needs; built once at start-up, shared by every session.
pub struct Runner {
    api: CurrentApi,
    parts: ApiParts,
    upstreams: Vec<UpstreamSettings>,
    loader: Option<SpecLoader>,
    /// The loaders of the upstreams besides the first, in configured order.
    other_loaders: Vec<Option<SpecLoader>>,
    tool_limits: ToolLimits,
    configured_account: Option<String>,
    policy: Arc<Policy>,
    admission: Admission,
    credentials: Credentials,
    approvals: Approvals,
    paused: PausedCalls,
    audit: AuditTrail,
    upstream_meters: Vec<UpstreamMeters>,
    /// When the spec in service was loaded, or its source last said it is current.
    fresh_since: Mutex<Option<Instant>>,
    /// Counts the refreshes that swapped the spec.
    swaps: watch::Sender<u64>,
}

/// One `execute` call, as a transport hands it over.
pub struct ExecuteRequest {
    /// Who is calling.
    pub caller: Caller,
    /// The agent's code.
    pub code: String,
    /// The account the call names.
    pub account_id: Option<String>,
    /// An approval granted for this code's destructive requests.
    pub approval_id: Option<String>,
    /// Where questions for the person go, when the client can be asked.
    pub asks: Option<mpsc::Sender<Question>>,
    /// Where live output goes.
    pub updates: UnboundedSender<Update>,
    /// Stops the sandbox.
    pub cancel: CancelToken,
    /// The call's response journal, when it may pause and be resumed elsewhere.
    pub recording: Option<Arc<Recording>>,
}

impl Runner {
    /// Opens the stores and connects the upstream, then loads the spec and starts the
    /// sandbox workers.
    pub async fn start(settings: &Settings, secrets: Secrets) -> Result<Arc<Runner>, StartError> {
        let runner = Runner::open(settings, secrets).await?;
        runner.load_spec().await?;
        Ok(runner)
    }

    /// Opens the stores and connects the upstream; calls wait for [`Runner::load_spec`].
    pub async fn open(settings: &Settings, secrets: Secrets) -> Result<Arc<Runner>, StartError> {
        let first = &settings.upstreams[0];
        let loader = spec_loading::loader(&first.spec, &settings.cache_dir)?;
        let other_loaders = settings.upstreams[1..]
            .iter()
            .map(|other| spec_loading::loader(&other.spec, &settings.cache_dir))
            .collect::<Result<Vec<_>, _>>()?;
        let upstream = OnceLock::new();
        let server_token = if settings.is_demo() {
            let _ = upstream.set(Arc::new(DemoUpstream::new()) as Arc<dyn Upstream>);
            None
        } else {
            let token = if first.token_env == TOKEN_ENV {
                secrets.token
            } else {
                token_from_env(first)?
            };
            if token.is_none() {
                tracing::warn!(
                    "{} is not set: the API will refuse `execute` requests",
                    first.token_env
                );
            }
            token
        };
        let parts = ApiParts {
            upstream,
            gateway: first.gateway.clone(),
            pool: PoolConfig {
                api_global: first.name.clone(),
                ..settings.sandbox.pool_config()?
            },
            others: Mutex::new(None),
        };
        let audit_path = settings.audit_path();
        let redis = stores::redis_link(settings).await?;
        let (audit, approvals) = open_audit(settings, &audit_path, secrets.audit_key).await?;
        let approvals = match &redis {
            Some(link) => stores::Approvals::Redis(Arc::new(codemode_stores::RedisApprovals::new(
                link.clone(),
            ))),
            None => stores::Approvals::Sqlite(Arc::new(approvals)),
        };
        let stored = match secrets.credentials_key {
            None => None,
            Some(key) => {
                let path = settings.credentials_path();
                let store = CredentialStore::open(&path, &key)
                    .map_err(|source| StartError::Credentials { path, source })?;
                Some(Arc::new(store))
            }
        };
        let state_key = match &secrets.request_state_key {
            Some(key) => key.expose().as_bytes().to_vec(),
            None => paused::random_key()?,
        };
        let paused_store = stores::paused_store(settings, &audit_path)?;
        let paused = PausedCalls::new(&state_key, settings.approvals.ask_timeout(), paused_store)?;
        match (&settings.audit.store, &settings.audit.postgres_url) {
            (AuditStoreKind::Postgres, Some(url)) => {
                tracing::info!(audit = %url.shown(), "audit log open in Postgres");
            }
            _ => tracing::info!(audit = %audit_path.display(), "audit log open"),
        }
        Ok(Arc::new(Runner {
            api: CurrentApi::default(),
            parts,
            upstreams: settings.upstreams.clone(),
            loader,
            other_loaders,
            tool_limits: ToolLimits {
                result_chars: settings.sandbox.result_chars,
                code_kib: settings.sandbox.code_kib,
                search_secs: settings.sandbox.search_timeout_secs,
                execute_secs: settings.sandbox.execute_timeout_secs,
                requests: first.gateway.max_subrequests,
            },
            configured_account: settings.account_id.clone(),
            policy: Arc::new(Policy::new(first.policy.rules.clone())?),
            admission: Admission::new(
                settings.auth_enabled().then_some(settings.limits),
                stores::limit_store(redis.as_ref()),
            ),
            credentials: Credentials {
                upstream: first.name.clone(),
                stored,
                server: server_token,
            },
            approvals: Approvals {
                store: approvals,
                page: OnceLock::new(),
                ask_timeout: settings.approvals.ask_timeout(),
                expiry: Duration::from_secs(settings.approvals.expiry_secs),
                ask_clients: settings.approvals.ask_clients,
                limits: Arc::new(QuestionLimits::new(
                    settings.approvals.max_questions_per_call,
                    settings.approvals.max_questions_per_subject_per_hour,
                )),
            },
            paused,
            audit: AuditTrail::new(audit, settings.audit.store_code),
            upstream_meters: settings
                .upstreams
                .iter()
                .map(|upstream| UpstreamMeters::new(&upstream.name))
                .collect(),
            fresh_since: Mutex::new(None),
            swaps: watch::Sender::new(0),
        }))
    }

    /// Loads the spec and puts it into service.
    pub async fn load_spec(&self) -> Result<SpecReady, StartError> {
        let loaded = spec_loading::load(self.loader.as_ref()).await?;
        let upstream = match self.parts.upstream.get() {
            Some(upstream) => upstream.clone(),
            None => {
                let built = http_upstream(&self.upstreams[0], &loaded.spec)?;
                self.parts.upstream.get_or_init(|| built).clone()
            }
        };
        let others = match self.parts.others() {
            Some(others) => others,
            None => {
                let mut others = Vec::new();
                for (settings, loader) in self.upstreams[1..].iter().zip(&self.other_loaders) {
                    others.push(self.load_other(settings, loader.as_ref()).await?);
                }
                others
            }
        };
        let spec = Arc::new(loaded.spec);
        let operations = spec.operations().len()
            + others
                .iter()
                .map(|other| other.spec.operations().len())
                .sum::<usize>();
        self.api.set(self.parts.serve(upstream, spec, &others)?);
        self.parts.keep_others(others);
        self.mark_fresh();
        // Parsing the spec and building the workers' realms freed tens of MiB at once.
        crate::memory::released();
        Ok(SpecReady {
            operations,
            origin: loaded.origin,
        })
    }

    /// Loads every upstream's spec again and swaps in those that changed, all at once: calls
    /// already running finish on the old ones. An upstream whose reload fails keeps its last
    /// good spec. Says, per upstream, what happened.
    pub async fn refresh(&self) -> Vec<(String, Result<Refreshed, RefreshError>)> {
        let (Some(served), Some(upstream), Some(mut others)) = (
            self.api.get(),
            self.parts.upstream.get().cloned(),
            self.parts.others(),
        ) else {
            return Vec::new();
        };
        let mut spec = served.spec.clone();
        let mut outcomes = vec![(
            self.api_name().to_string(),
            reload(self.loader.as_ref(), &mut spec).await,
        )];
        for (other, loader) in others.iter_mut().zip(&self.other_loaders) {
            let outcome = reload(loader.as_ref(), &mut other.spec).await;
            outcomes.push((other.name.clone(), outcome));
        }
        let swapped = |outcome: &Result<Refreshed, RefreshError>| {
            matches!(outcome, Ok(Refreshed::Swapped(_)))
        };
        if outcomes.iter().any(|(_, outcome)| swapped(outcome)) {
            match self.parts.serve(upstream, spec, &others) {
                Ok(api) => {
                    self.api.set(api);
                    self.parts.keep_others(others);
                    self.swaps.send_modify(|swaps| *swaps += 1);
                    crate::memory::released();
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for (_, outcome) in &mut outcomes {
                        if swapped(outcome) {
                            *outcome = Err(RefreshError::Serve(error.clone()));
                        }
                    }
                }
            }
        }
        if outcomes.iter().all(|(_, outcome)| outcome.is_ok()) {
            self.mark_fresh();
        }
        outcomes
    }

    /// Changes each time a refresh swaps the spec.
    pub fn spec_swaps(&self) -> watch::Receiver<u64> {
        self.swaps.subscribe()
    }

    fn mark_fresh(&self) {
        *self
            .fresh_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// How long since the spec in service was loaded or its source last said it is current;
    /// `None` while it loads.
    pub fn spec_age(&self) -> Option<Duration> {
        self.fresh_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|since| since.elapsed())
    }

    /// Why the audit store does not answer now, if it does not.
    pub async fn audit_problem(&self) -> Option<String> {
        self.audit.problem().await
    }

    /// What the sandbox pool of the spec in service is doing; `None` while the spec loads.
    pub fn sandbox_load(&self) -> Option<codemode_sandbox::PoolLoad> {
        self.api.get().map(|api| api.pool.load())
    }

    /// Loads an upstream besides the first, once, with its base, credential and policy.
    async fn load_other(
        &self,
        settings: &UpstreamSettings,
        loader: Option<&SpecLoader>,
    ) -> Result<OtherParts, StartError> {
        let loaded = spec_loading::load(loader).await?;
        let upstream = http_upstream(settings, &loaded.spec)?;
        let credential = token_from_env(settings)?;
        if credential.is_none() {
            tracing::warn!(
                upstream = %settings.name,
                "{} is not set: the API will refuse `execute` requests",
                settings.token_env
            );
        }
        Ok(OtherParts {
            name: settings.name.clone(),
            spec: Arc::new(loaded.spec),
            upstream,
            gateway: settings.gateway.clone(),
            policy: Arc::new(Policy::new(settings.policy.rules.clone())?),
            credential,
        })
    }

    /// The global the first upstream is reached by.
    pub fn api_name(&self) -> &str {
        &self.upstreams[0].name
    }

    /// The names and specs of the upstreams besides the first, in service.
    pub fn other_specs(&self) -> Vec<(String, Arc<Spec>)> {
        self.api.get().map_or_else(Vec::new, |api| {
            api.others
                .iter()
                .map(|other| (other.name.clone(), other.spec.clone()))
                .collect()
        })
    }

    /// The spec in service; `None` while it is still loading.
    pub fn spec(&self) -> Option<Arc<Spec>> {
        self.api.get().map(|api| api.spec.clone())
    }

    /// The API in service, or the error a call gets while the spec is still loading.
    fn served(&self) -> Result<Arc<ServedApi>, CallError> {
        self.api.get().ok_or(CallError::NotReady)
    }

    /// Says where the approval page is served (`http://host:port`), for the results that
    /// point people at it; the first call wins.
    pub fn publish_approval_page(&self, base: String) {
        let _ = self.approvals.page.set(base);
    }

    /// Which requests each upstream's policy holds for a person's approval, by its global.
    pub fn held_for_approval(&self) -> Vec<(String, ApprovalSummary)> {
        let mut held = vec![(self.api_name().to_string(), self.policy.approvals())];
        if let Some(api) = self.api.get() {
            held.extend(
                api.others
                    .iter()
                    .map(|other| (other.name.clone(), other.policy.approvals())),
            );
        }
        held
    }

    /// The limits the tool descriptions state.
    pub fn tool_limits(&self) -> &ToolLimits {
        &self.tool_limits
    }

    /// The approvals store, for the HTTP approval endpoints.
    pub fn approvals(&self) -> stores::Approvals {
        self.approvals.store.clone()
    }

    /// The `execute` calls paused at a question for the person, awaiting the client's retry.
    pub fn paused(&self) -> &PausedCalls {
        &self.paused
    }

    /// Forgets what `subject` counted in a session that has ended.
    pub fn end_session(&self, subject: &str, session: &str) {
        self.admission.end_session(subject, session);
    }

    /// Runs `search` code against the spec, within the caller's limits, and audits it.
    pub async fn search(&self, caller: &Caller, code: &str, cancel: CancelToken) -> CallOutcome {
        let started = Instant::now();
        let outcome = self.run_search(caller, code, cancel).await;
        log_call(caller, "search", &outcome, started.elapsed(), 0);
        telemetry::finished(ToolName::Search, &outcome, started.elapsed(), 0);
        outcome
    }

    async fn run_search(&self, caller: &Caller, code: &str, cancel: CancelToken) -> CallOutcome {
        if let Some(refused) = scope_refusal(&caller.principal, AuthTool::Search) {
            return refused;
        }
        let api = match self.served() {
            Ok(api) => api,
            Err(error) => return CallOutcome::failed(error, Vec::new()),
        };
        if let Some(refused) = self.audit.refusal() {
            return refused;
        }
        let admitted = self.admission.admit(caller, RateTool::Search, code).await;
        if let Some(flooding) = unaudited(&admitted) {
            return flooding;
        }
        let entry = self.audit.begin(caller, AuditTool::Search, code);
        let outcome = match admitted {
            Err(refused) => CallOutcome::failed(refused, Vec::new()),
            Ok(_permit) => match api.pool.search(code, cancel).await {
                Ok(outcome) => returned(outcome),
                Err(error) => CallOutcome::failed(error, Vec::new()),
            },
        };
        self.audit.commit(entry, outcome).await
    }

    /// Runs `execute` code with its API's `request` as its only way out, and audits it.
    pub async fn execute(&self, request: ExecuteRequest) -> CallOutcome {
        let started = Instant::now();
        let caller = request.caller.clone();
        let (outcome, requests) = self.run_execute(request).await;
        log_call(&caller, "execute", &outcome, started.elapsed(), requests);
        telemetry::finished(ToolName::Execute, &outcome, started.elapsed(), requests);
        outcome
    }

    /// An `execute` call's outcome and how many upstream requests it made.
    async fn run_execute(&self, request: ExecuteRequest) -> (CallOutcome, usize) {
        let ExecuteRequest {
            caller,
            code,
            account_id,
            approval_id,
            asks,
            updates,
            cancel,
            recording,
        } = request;
        if let Some(refused) = scope_refusal(&caller.principal, AuthTool::Execute) {
            return (refused, 0);
        }
        let api = match self.served() {
            Ok(api) => api,
            Err(error) => return (CallOutcome::failed(error, Vec::new()), 0),
        };
        if let Some(refused) = self.audit.refusal() {
            return (refused, 0);
        }
        let admitted = self
            .admission
            .admit(&caller, RateTool::Execute, &code)
            .await;
        if let Some(flooding) = unaudited(&admitted) {
            return (flooding, 0);
        }
        let mut entry = self.audit.begin(&caller, AuditTool::Execute, &code);
        if let Some(id) = &approval_id
            && let Some(unusable) = self.approvals.unusable(id, caller.subject()).await
        {
            let outcome = CallOutcome::failed(unusable, Vec::new());
            return (self.audit.commit(entry, outcome).await, 0);
        }
        let _permit = match admitted {
            Ok(permit) => permit,
            Err(refused) => {
                let outcome = CallOutcome::failed(refused, Vec::new());
                return (self.audit.commit(entry, outcome).await, 0);
            }
        };
        let credential = match self.credentials.choose(&caller).await {
            Ok(credential) => credential,
            Err(error) => {
                let outcome = CallOutcome::failed(error, Vec::new());
                return (self.audit.commit(entry, outcome).await, 0);
            }
        };
        let approver = self
            .approvals
            .approver(asks, approval_id.clone(), cancel.clone());
        let mut others = Vec::new();
        for other in &api.others {
            let credential = match self
                .credentials
                .choose_other(&caller, &other.name, other.credential.as_ref())
                .await
            {
                Ok(credential) => credential,
                Err(error) => {
                    let outcome = CallOutcome::failed(error, Vec::new());
                    return (self.audit.commit(entry, outcome).await, 0);
                }
            };
            others.push(OtherCall {
                name: other.name.clone(),
                call: other
                    .gateway
                    .journaled_call(credential, self.audit.journal(&entry, &other.name)),
                policy: other.policy.clone(),
            });
        }
        let host = Arc::new(ExecuteHost::new(HostParts {
            name: self.api_name().to_string(),
            others,
            call: api
                .gateway
                .journaled_call(credential, self.audit.journal(&entry, self.api_name())),
            explicit_account: account_id,
            configured_account: self.configured_account.clone(),
            policy: self.policy.clone(),
            access: access(&caller.principal),
            subject: caller.subject().to_string(),
            approver,
            updates,
            recording: recording.clone(),
            stop: cancel.clone(),
        }));
        let ran = api.pool.execute(&code, host.clone(), cancel).await;
        let diverged = recording.and_then(|recording| recording.diverged());
        let logs = host.logs();
        let pending = host.approvals().pending();
        let outcome = if pending.is_empty() {
            entry.approvals(self.approvals.used(approval_id.as_deref()).await);
            match (ran, diverged) {
                (_, Some(why)) => CallOutcome::failed(ResumeError::Diverged(why), logs),
                (Ok(outcome), None) => {
                    let undefined = outcome.undefined;
                    CallOutcome::new(returned(outcome).result, logs)
                        .with_notes(host.notes())
                        .with_notes(undefined.then(|| RETURNED_UNDEFINED.to_string()))
                }
                (Err(error), None) => CallOutcome::failed(error, logs),
            }
        } else {
            match self.approvals.defer(&caller, &code, pending).await {
                Ok((body, decision)) => {
                    entry.approvals(vec![decision]);
                    CallOutcome::new(Ok(Returned::ApprovalRequired(body)), logs)
                }
                Err(error) => CallOutcome::failed(error, logs),
            }
        };
        let ledger = host.ledger();
        let requests = ledger.len();
        for meters in &self.upstream_meters {
            meters.ledger(&ledger);
        }
        entry.requests(ledger);
        entry.account(host.account());
        (self.audit.commit(entry, outcome).await, requests)
    }
}

/// A sandbox outcome as a call's: the value, its truncation, the console output, and a note
/// when the code returned `undefined`.
fn returned(outcome: codemode_sandbox::Outcome) -> CallOutcome {
    let undefined = outcome.undefined;
    CallOutcome::new(
        Ok(Returned::Value {
            value: outcome.result,
            truncation: outcome.truncation,
        }),
        outcome.logs,
    )
    .with_notes(undefined.then(|| RETURNED_UNDEFINED.to_string()))
}

/// The refusal of a call past its caller's refusal limit, which the audit does not record: a
/// flood of refused calls must not fill the disk, and the refusals that reached the limit are
/// recorded.
fn unaudited<T>(admitted: &Result<T, CallError>) -> Option<CallOutcome> {
    match admitted {
        Err(CallError::RateLimited(refused))
            if refused.limit == Limit::RefusalsPerSubjectPerHour =>
        {
            Some(CallOutcome::failed(*refused, Vec::new()))
        }
        _ => None,
    }
}

/// The note on a call whose code returned `undefined`.
const RETURNED_UNDEFINED: &str = "the code returned undefined (shown as null): is a `return` \
     missing, or an `await` (a request's promise must be awaited before its result is read)?";

/// The refusal of a call whose caller lacks the tool's scope, if it does.
fn scope_refusal(principal: &Principal, tool: AuthTool) -> Option<CallOutcome> {
    let scope = principal.scopes.missing_for(tool)?;
    let tool = match tool {
        AuthTool::Search => "search",
        AuthTool::Execute => "execute",
    };
    Some(CallOutcome::failed(
        CallError::Scope { tool, scope },
        Vec::new(),
    ))
}

/// What the caller's scopes allow the requests of its `execute` code.
fn access(principal: &Principal) -> Access {
    Access {
        read: principal.scopes.contains(Scope::ExecuteRead),
        write: principal.scopes.contains(Scope::ExecuteWrite),
    }
}

/// The HTTP upstream of `settings`, sent to its configured base or its spec's first server.
fn http_upstream(
    settings: &UpstreamSettings,
    spec: &Spec,
) -> Result<Arc<dyn Upstream>, StartError> {
    let base = settings
        .base_for(spec)
        .ok_or_else(|| StartError::NoApiBase(settings.name.clone()))?;
    let mut upstream = HttpUpstream::new(&base, settings.http_settings()).map_err(|source| {
        StartError::Upstream {
            name: settings.name.clone(),
            source,
        }
    })?;
    if traces::enabled() {
        upstream = upstream.with_trace_headers(traces::inject_trace_headers);
    }
    Ok(Arc::new(upstream))
}

/// The server-wide credential of `settings`, from its token variable; unset or empty is none.
fn token_from_env(settings: &UpstreamSettings) -> Result<Option<Credential>, StartError> {
    match std::env::var(&settings.token_env) {
        Ok(token) if !token.is_empty() => {
            Credential::new(token)
                .map(Some)
                .map_err(|source| StartError::Token {
                    name: settings.name.clone(),
                    env: settings.token_env.clone(),
                    source,
                })
        }
        _ => Ok(None),
    }
}

/// Opens the audit log (applying retention) and starts its writer: in Postgres when the
/// settings say so, else in SQLite; and opens the SQLite approvals beside the SQLite log.
async fn open_audit(
    settings: &Settings,
    path: &std::path::Path,
    key: Option<AuditKey>,
) -> Result<(AuditSink, ApprovalStore), StartError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let audit_error = |source| StartError::Audit {
        path: path.to_path_buf(),
        source,
    };
    let writer = match (&settings.audit.store, &settings.audit.postgres_url) {
        (AuditStoreKind::Postgres, Some(url)) => AuditSink::Postgres(Box::new(
            PgAuditWriter::start(url.expose(), key.clone()).await?,
        )),
        _ => AuditSink::Sqlite(
            AuditWriter::start(
                path,
                WriterConfig {
                    key: key.clone(),
                    ..WriterConfig::default()
                },
            )
            .map_err(audit_error)?,
        ),
    };
    if let (Some(days), AuditSink::Sqlite(_)) = (settings.audit.retention_days, &writer) {
        let cutoff = Timestamp::now().saturating_sub(Duration::from_secs(u64::from(days) * 86_400));
        let log = AuditLog::open_keyed(path, key).map_err(audit_error)?;
        let pruned = log.prune(cutoff).map_err(audit_error)?;
        tracing::info!(pruned, days, "audit retention");
    }
    let approvals = ApprovalStore::open(path).map_err(|source| StartError::Approvals {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok((writer, approvals))
}
