//! The application: the loaded spec, the sandbox pool and the gateway, shared by every session.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use codemode_audit::Tool as AuditTool;
use codemode_auth::{Principal, Scope};
use codemode_policy::Access;
use codemode_ratelimit::Tool as RateTool;
use codemode_sandbox::{CancelToken, Limits, Pool, PoolConfig};
use codemode_spec::{Spec, SpecSource};
use codemode_upstream::{
    AccountResolver, Credential, DemoUpstream, Gateway, GatewayConfig, HttpSettings, HttpUpstream,
    Upstream,
};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolResult, Tool};
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::approval::Ask;
use crate::caller::Caller;
use crate::cli::SpecArgs;
use crate::config::{SandboxConfig, Settings, SpecChoice, TOKEN_ENV};
use crate::guard::{Finished, Guard};
use crate::handler::CodeMode;
use crate::host::{ExecuteHost, HostParts};
use crate::live::Update;
use crate::results;
use crate::tools::{self, SpecSummary};

/// Everything a tool call needs; built once at start-up, immutable afterwards.
pub struct App {
    spec: Arc<Spec>,
    tools: Vec<Tool>,
    pool: Pool,
    gateway: Gateway,
    accounts: Arc<AccountResolver>,
    configured_account: Option<String>,
    credential: Option<Credential>,
    guard: Guard,
}

impl App {
    /// Loads the spec, starts the sandbox workers and connects the upstream.
    pub async fn start(settings: &Settings) -> anyhow::Result<Arc<App>> {
        let started = Instant::now();
        let spec = Arc::new(load_spec(&settings.spec, &settings.cache_dir).await?);
        let (upstream, credential): (Arc<dyn Upstream>, _) = if settings.is_demo() {
            (Arc::new(DemoUpstream::new()), None)
        } else {
            let upstream = HttpUpstream::new(&settings.api_base, HttpSettings::default())?;
            (Arc::new(upstream), server_credential()?)
        };
        let gateway = Gateway::new(
            upstream,
            spec.operations(),
            GatewayConfig {
                enforce_spec: settings.upstream.enforce_spec,
                max_subrequests: settings.upstream.max_subrequests,
                max_concurrent: settings.upstream.max_concurrent_subrequests,
                ..GatewayConfig::default()
            },
        );
        let pool = Pool::new(
            spec.view().clone(),
            pool_config(&settings.sandbox),
            tokio::runtime::Handle::current(),
        )?;
        let summary = SpecSummary {
            title: spec.title(),
            operations: spec.operations().len(),
            products: spec.products().iter().map(|p| p.name.as_str()).collect(),
        };
        let tools = tools::definitions(&summary);
        tracing::info!(
            operations = spec.operations().len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ready"
        );
        Ok(Arc::new(App {
            spec,
            tools,
            pool,
            gateway,
            accounts: Arc::new(AccountResolver::new()),
            configured_account: settings.account_id.clone(),
            credential,
            guard: Guard::open(settings)?,
        }))
    }

    /// The loaded spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Forgets what `subject` counted in a session that has ended.
    pub fn end_session(&self, subject: &str, session: &str) {
        self.guard.end_session(subject, session);
    }

    /// The approvals store, for the HTTP approval endpoints.
    pub fn approvals(&self) -> Arc<codemode_audit::ApprovalStore> {
        self.guard.approvals()
    }

    /// The tool definitions for `tools/list`.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Runs `search` code against the spec, within the caller's limits, and audits it.
    pub async fn search(&self, caller: &Caller, code: &str, cancel: CancelToken) -> CallToolResult {
        let audit = self.guard.begin(caller, AuditTool::Search, code);
        let result = match self.guard.admit(caller, RateTool::Search, code) {
            Err(refused) => Finished::refused(refused),
            Ok(_permit) => match self.pool.search(code, cancel).await {
                Ok(outcome) => Finished::ok(results::success(&outcome, &outcome.logs)),
                Err(error) => Finished::failed(&error, &[]),
            },
        };
        self.guard
            .finish(audit, result, Vec::new(), None, Vec::new())
            .await
    }

    /// Runs `execute` code with `cloudflare.request` as its only way out, and audits it.
    pub async fn execute(&self, request: ExecuteRequest) -> CallToolResult {
        let ExecuteRequest {
            caller,
            code,
            account_id,
            approval_id,
            asks,
            updates,
            cancel,
        } = request;
        let audit = self.guard.begin(&caller, AuditTool::Execute, &code);
        let _permit = match self.guard.admit(&caller, RateTool::Execute, &code) {
            Ok(permit) => permit,
            Err(refused) => {
                let finished = Finished::refused(refused);
                return self
                    .guard
                    .finish(audit, finished, Vec::new(), None, Vec::new())
                    .await;
            }
        };
        let credential = match self
            .guard
            .upstream_credential(&caller, &self.credential)
            .await
        {
            Ok(credential) => credential,
            Err(message) => {
                let finished = Finished::error(results::failure(message, &[]), "credentials");
                return self
                    .guard
                    .finish(audit, finished, Vec::new(), None, Vec::new())
                    .await;
            }
        };
        let approver = self
            .guard
            .approver(asks, approval_id.clone(), cancel.clone());
        let host = Arc::new(ExecuteHost::new(HostParts {
            call: self.gateway.call(credential),
            accounts: self.accounts.clone(),
            explicit_account: account_id,
            configured_account: self.configured_account.clone(),
            policy: self.guard.policy(),
            access: access(&caller.principal),
            subject: caller.principal.subject.clone(),
            approver,
            updates,
        }));
        let outcome = self.pool.execute(&code, host.clone(), cancel).await;
        let logs = host.logs();
        let pending = host.approvals().pending();
        let (finished, approvals) = if pending.is_empty() {
            let finished = match outcome {
                Ok(outcome) => Finished::ok(results::success(&outcome, &logs)),
                Err(error) => Finished::failed(&error, &logs),
            };
            (
                finished,
                self.guard.used_approval(approval_id.as_deref()).await,
            )
        } else {
            self.guard.defer(&caller, &code, pending, &logs).await
        };
        self.guard
            .finish(audit, finished, host.requests(), host.account(), approvals)
            .await
    }
}

/// One `execute` call, as the handler hands it over.
pub struct ExecuteRequest {
    /// Who is calling.
    pub caller: Caller,
    /// The agent's code.
    pub code: String,
    /// The account the call names.
    pub account_id: Option<String>,
    /// An approval granted for this code's destructive requests.
    pub approval_id: Option<String>,
    /// Where questions for the person go, when the client supports elicitation.
    pub asks: Option<mpsc::Sender<Ask>>,
    /// Where live output goes.
    pub updates: UnboundedSender<Update>,
    /// Stops the sandbox.
    pub cancel: CancelToken,
}

fn access(principal: &Principal) -> Access {
    Access {
        read: principal.scopes.contains(Scope::ExecuteRead),
        write: principal.scopes.contains(Scope::ExecuteWrite),
    }
}

/// `codemode stdio`: one MCP session over stdin/stdout.
pub async fn serve_stdio(app: Arc<App>) -> anyhow::Result<()> {
    let service = CodeMode::new(app)
        .serve(rmcp::transport::stdio())
        .await
        .context("stdio session failed to start")?;
    service.waiting().await?;
    Ok(())
}

/// `codemode spec`: loads a spec and prints what it holds and how long loading took.
pub async fn report_spec(args: &SpecArgs) -> anyhow::Result<()> {
    let choice = match (&args.spec, args.demo) {
        (_, true) => SpecChoice::Demo,
        (Some(source), false) => SpecChoice::Source(source.clone()),
        (None, false) => SpecChoice::Source(codemode_spec::CLOUDFLARE_SPEC_URL.to_string()),
    };
    let started = Instant::now();
    let spec = load_spec(&choice, &codemode_spec::default_cache_dir()).await?;
    let elapsed = started.elapsed();
    println!("{}", spec.stats());
    println!("load time: {:.0} ms", elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

async fn load_spec(choice: &SpecChoice, cache_dir: &std::path::Path) -> anyhow::Result<Spec> {
    let (bytes, name) = match choice {
        SpecChoice::Demo => (
            codemode_upstream::DEMO_SPEC_YAML.as_bytes().to_vec(),
            "the demo spec".to_string(),
        ),
        SpecChoice::Source(source) => {
            let source = SpecSource::parse(source)?;
            let bytes = codemode_spec::fetch(&source, cache_dir).await?;
            (bytes, source.to_string())
        }
    };
    let spec = tokio::task::spawn_blocking(move || Spec::from_bytes(&bytes))
        .await
        .context("spec loading stopped")?
        .with_context(|| format!("cannot load {name}"))?;
    Ok(spec)
}

/// The server-wide upstream token, from the environment.
fn server_credential() -> anyhow::Result<Option<Credential>> {
    match std::env::var(TOKEN_ENV) {
        Ok(token) if !token.is_empty() => Ok(Some(
            Credential::new(token).with_context(|| format!("invalid {TOKEN_ENV}"))?,
        )),
        _ => {
            tracing::warn!("{TOKEN_ENV} is not set: the API will refuse `execute` requests");
            Ok(None)
        }
    }
}

fn pool_config(sandbox: &SandboxConfig) -> PoolConfig {
    let limits = |timeout| Limits {
        timeout,
        memory_bytes: sandbox.memory_mib * 1024 * 1024,
        stack_bytes: sandbox.stack_kib * 1024,
        code_bytes: sandbox.code_kib * 1024,
        result_chars: sandbox.result_chars,
        log_chars: sandbox.log_chars,
    };
    PoolConfig {
        workers: sandbox.workers,
        search: limits(sandbox.search_timeout()),
        execute: limits(sandbox.execute_timeout()),
    }
}
