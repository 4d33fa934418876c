//! One governed tool call, from admission to audit, free of any transport.
//!
//! [`Runner`] holds what every call shares: the spec, the sandbox pool, the gateway and the
//! governance stores. A call goes through the same steps whichever transport carried it:
//! the scope check, the rate limits ([`limits`]), for `execute` the upstream credential
//! ([`credential`]) and the sandbox host that checks, decides and maybe asks about every
//! request ([`host`], [`approval`]), and the audit record ([`audit`]) committed before the
//! [`CallOutcome`] goes back.

pub mod approval;
pub mod audit;
pub mod caller;
pub mod credential;
pub mod error;
pub mod host;
pub mod limits;
pub mod outcome;
pub mod paused;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use codemode_audit::{
    ApprovalError, ApprovalStore, AuditError, AuditKey, AuditLog, AuditWriter, RequestDecision,
    Timestamp, Tool as AuditTool, WriterConfig,
};
use codemode_auth::{Principal, Scope, Tool as AuthTool};
use codemode_credentials::{CredentialStore, CredentialsError};
use codemode_demo::DemoUpstream;
use codemode_policy::{Access, ApprovalSummary, Policy, PolicyError};
use codemode_ratelimit::Tool as RateTool;
use codemode_sandbox::{CancelToken, Pool, SandboxError};
use codemode_spec::Spec;
use codemode_upstream::{
    AccountResolver, Gateway, GatewayConfigError, HttpSettings, HttpSetupError, HttpUpstream,
    Upstream,
};
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::settings::{REQUEST_STATE_KEY_ENV, Secrets, Settings, TOKEN_ENV};
use crate::spec_loading::{self, SpecLoadError};
use crate::wording;
use approval::{Approvals, Question, QuestionLimits};
use audit::AuditTrail;
pub use caller::Caller;
use credential::Credentials;
pub use error::CallError;
pub use host::Update;
use host::{ExecuteHost, HostParts};
use limits::Admission;
pub use outcome::{CallOutcome, Returned};
use paused::{PausedCalls, STATE_KEY_MIN_BYTES, StateKeyError};

/// Why the server could not start serving calls. Each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spec could not be loaded.
    #[error(transparent)]
    Spec(#[from] SpecLoadError),
    /// The upstream's base URL or client could not be set up.
    #[error(transparent)]
    Upstream(#[from] HttpSetupError),
    /// The `[upstream]` limits cannot work.
    #[error("invalid [upstream] setting: {0}")]
    UpstreamLimits(#[from] GatewayConfigError),
    /// The operator's policy rules are invalid.
    #[error("invalid [policy] rules: {0}")]
    Policy(#[from] PolicyError),
    /// The `[sandbox]` settings cannot work.
    #[error("invalid [sandbox] {0}")]
    SandboxSettings(#[from] codemode_sandbox::ConfigError),
    /// The sandbox workers could not start.
    #[error("the sandbox could not start: {0}")]
    Sandbox(#[from] SandboxError),
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

/// Everything a tool call needs; built once at start-up, shared by every session.
pub struct Runner {
    spec: Arc<Spec>,
    pool: Pool,
    gateway: Gateway<RequestDecision>,
    accounts: Arc<AccountResolver>,
    configured_account: Option<String>,
    policy: Arc<Policy>,
    admission: Admission,
    credentials: Credentials,
    approvals: Approvals,
    paused: PausedCalls,
    audit: AuditTrail,
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
}

impl Runner {
    /// Loads the spec, starts the sandbox workers, connects the upstream and opens the stores.
    pub async fn start(settings: &Settings, secrets: Secrets) -> Result<Arc<Runner>, StartError> {
        let started = Instant::now();
        let spec = Arc::new(spec_loading::load(&settings.spec, &settings.cache_dir).await?);
        let (upstream, server_token): (Arc<dyn Upstream>, _) = if settings.is_demo() {
            (Arc::new(DemoUpstream::new()), None)
        } else {
            let upstream = HttpUpstream::new(&settings.api_base, HttpSettings::default())?;
            if secrets.token.is_none() {
                tracing::warn!("{TOKEN_ENV} is not set: the API will refuse `execute` requests");
            }
            (Arc::new(upstream), secrets.token)
        };
        let gateway = Gateway::new(upstream, spec.operations(), settings.upstream.clone())?;
        let pool = Pool::new(
            spec.view().clone(),
            settings.sandbox.pool_config()?,
            tokio::runtime::Handle::current(),
        )?;
        let audit_path = settings.audit_path();
        let (audit, approvals) = open_audit(settings, &audit_path, secrets.audit_key)?;
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
        let paused = PausedCalls::new(&state_key, settings.approvals.ask_timeout())?;
        tracing::info!(
            operations = spec.operations().len(),
            audit = %audit_path.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ready"
        );
        Ok(Arc::new(Runner {
            spec,
            pool,
            gateway,
            accounts: Arc::new(AccountResolver::new()),
            configured_account: settings.account_id.clone(),
            policy: Arc::new(Policy::new(settings.policy.rules.clone())?),
            admission: Admission::new(settings.auth_enabled().then_some(settings.limits)),
            credentials: Credentials {
                stored,
                server: server_token,
            },
            approvals: Approvals {
                store: Arc::new(approvals),
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
        }))
    }

    /// The loaded spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Says where the approval page is served (`http://host:port`), for the results that
    /// point people at it; the first call wins.
    pub fn publish_approval_page(&self, base: String) {
        let _ = self.approvals.page.set(base);
    }

    /// Which requests the policy holds for a person's approval.
    pub fn held_for_approval(&self) -> ApprovalSummary {
        self.policy.approvals()
    }

    /// The approvals store, for the HTTP approval endpoints.
    pub fn approvals(&self) -> Arc<ApprovalStore> {
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
        if let Some(refused) = scope_refusal(&caller.principal, AuthTool::Search) {
            return refused;
        }
        let entry = self.audit.begin(caller, AuditTool::Search, code);
        let outcome = match self.admission.admit(caller, RateTool::Search, code) {
            Err(refused) => CallOutcome::failed(refused, Vec::new()),
            Ok(_permit) => match self.pool.search(code, cancel).await {
                Ok(outcome) => returned(outcome),
                Err(error) => CallOutcome::failed(error, Vec::new()),
            },
        };
        self.audit.commit(entry, outcome).await
    }

    /// Runs `execute` code with its API's `request` as its only way out, and audits it.
    pub async fn execute(&self, request: ExecuteRequest) -> CallOutcome {
        let ExecuteRequest {
            caller,
            code,
            account_id,
            approval_id,
            asks,
            updates,
            cancel,
        } = request;
        if let Some(refused) = scope_refusal(&caller.principal, AuthTool::Execute) {
            return refused;
        }
        let mut entry = self.audit.begin(&caller, AuditTool::Execute, &code);
        let _permit = match self.admission.admit(&caller, RateTool::Execute, &code) {
            Ok(permit) => permit,
            Err(refused) => {
                let outcome = CallOutcome::failed(refused, Vec::new());
                return self.audit.commit(entry, outcome).await;
            }
        };
        let credential = match self.credentials.choose(&caller).await {
            Ok(credential) => credential,
            Err(error) => {
                let outcome = CallOutcome::failed(error, Vec::new());
                return self.audit.commit(entry, outcome).await;
            }
        };
        let approver = self
            .approvals
            .approver(asks, approval_id.clone(), cancel.clone());
        let host = Arc::new(ExecuteHost::new(HostParts {
            call: self
                .gateway
                .journaled_call(credential, self.audit.journal(&entry)),
            accounts: self.accounts.clone(),
            explicit_account: account_id,
            configured_account: self.configured_account.clone(),
            policy: self.policy.clone(),
            access: access(&caller.principal),
            subject: caller.subject().to_string(),
            approver,
            updates,
        }));
        let ran = self.pool.execute(&code, host.clone(), cancel).await;
        let logs = host.logs();
        let pending = host.approvals().pending();
        let outcome = if pending.is_empty() {
            entry.approvals(self.approvals.used(approval_id.as_deref()).await);
            match ran {
                Ok(outcome) => CallOutcome::new(returned(outcome).result, logs),
                Err(error) => CallOutcome::failed(error, logs),
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
        entry.requests(host.ledger());
        entry.account(host.account());
        self.audit.commit(entry, outcome).await
    }
}

/// A sandbox outcome as a call's: the value, its truncation and the console output.
fn returned(outcome: codemode_sandbox::Outcome) -> CallOutcome {
    CallOutcome::new(
        Ok(Returned::Value {
            value: outcome.result,
            truncation: outcome.truncation,
        }),
        outcome.logs,
    )
}

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

/// Opens the audit log (applying retention), starts its writer, and opens the approvals beside it.
fn open_audit(
    settings: &Settings,
    path: &std::path::Path,
    key: Option<AuditKey>,
) -> Result<(AuditWriter, ApprovalStore), StartError> {
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
    let writer = AuditWriter::start(
        path,
        WriterConfig {
            key: key.clone(),
            ..WriterConfig::default()
        },
    )
    .map_err(audit_error)?;
    if let Some(days) = settings.audit.retention_days {
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
