//! The MCP adapter: `tools/list` and `tools/call` over whichever transport carries them,
//! each call handed to the [`Runner`] and its outcome turned into a tool result.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use codemode_auth::Principal;
use codemode_sandbox::CancelToken;
use codemode_spec::{Method, Spec};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
#[allow(deprecated)] // logging: see `live`
use rmcp::model::SetLevelRequestParams;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, ElicitRequest, ElicitRequestParams,
    ElicitationAction, ElicitationSchema, Implementation, InitializeRequestParams,
    InitializeResult, InputRequest, InputRequests, InputRequiredResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
    ToolsCapability,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::auth_layer::{ForwardedCredential, ForwardedCredentials};
use crate::call::approval::{Answer, Question};
use crate::call::paused::{APPROVAL_INPUT, Binding, Round, Run};
use crate::call::{CallError, CallOutcome, Caller, ExecuteRequest, Runner};
use crate::in_flight::ClientGone;
use crate::live::{LiveUpdates, LogFilter, LogThreshold};
use crate::results;
use crate::telemetry::{ToolName, names, traces};
use crate::tools::{self, EXECUTE, SEARCH, SpecSummary};

/// How long a client may keep `tools/list` (2026-07-28 caching hints): the tools change when
/// the spec is refreshed or the server restarts with another policy, and are the same for every caller.
const TOOLS_TTL_MS: u64 = 300_000;

/// What every MCP session shares: the runner, the tool definitions of the spec in service,
/// and the sessions to tell when those change.
pub struct McpShared {
    runner: Arc<Runner>,
    tools: Mutex<Option<BuiltTools>>,
    /// The open sessions by their handler's key; each removes itself when its handler is
    /// dropped (rmcp drops it when the session closes, by DELETE or the idle sweep).
    sessions: Mutex<HashMap<u64, Weak<ServedSession>>>,
    /// The key the next handler gets.
    next_key: AtomicU64,
}

impl McpShared {
    /// State shared by the sessions over `runner`; within a Tokio runtime, it also sends
    /// `notifications/tools/list_changed` to every session when a spec refresh changes the tools.
    pub fn new(runner: Arc<Runner>) -> Arc<McpShared> {
        let swaps = runner.spec_swaps();
        let shared = Arc::new(McpShared {
            runner,
            tools: Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(announce_tool_changes(Arc::downgrade(&shared), swaps));
        }
        shared
    }

    /// Keeps `session` to tell about tool changes, until its handler is dropped.
    fn served(&self, session: &Arc<ServedSession>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.insert(session.key, Arc::downgrade(session));
        metrics::gauge!(names::SESSIONS_OPEN).set(sessions.len() as f64);
    }

    /// Forgets the session whose handler `key` was dropped, and gives back the map's room once
    /// most of it is empty (a map keeps its largest capacity after its entries are removed).
    fn ended(&self, key: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.remove(&key).is_none() {
            return;
        }
        if sessions.capacity() > 4 * sessions.len().max(16) {
            sessions.shrink_to_fit();
            // Most sessions have just ended, and their memory is free by now.
            crate::memory::released();
        }
        metrics::gauge!(names::SESSIONS_OPEN).set(sessions.len() as f64);
    }

    /// The peers of the sessions still open.
    fn peers(&self) -> Vec<Peer<RoleServer>> {
        // Upgraded outside the map's lock's scope when dropped: the last handle of a session
        // closing meanwhile drops its handler, which takes the lock to forget itself.
        let open: Vec<Arc<ServedSession>> = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        open.iter()
            .filter_map(|session| session.peer.get().cloned())
            .collect()
    }

    /// The tool definitions last built, for whichever spec they were built.
    fn last_built(&self) -> Option<Vec<Tool>> {
        let cached = self.tools.lock().unwrap_or_else(PoisonError::into_inner);
        cached.as_ref().map(|(_, tools)| tools.clone())
    }

    /// The tool definitions for the specs in service, built once per set of specs; `None`
    /// while the spec loads.
    fn tools(&self) -> Option<Vec<Tool>> {
        let spec = self.runner.spec()?;
        let others = self.runner.other_specs();
        let specs: Vec<Arc<Spec>> = std::iter::once(spec.clone())
            .chain(others.iter().map(|(_, spec)| spec.clone()))
            .collect();
        let mut cached = self.tools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built_for, tools)) = &*cached
            && built_for.len() == specs.len()
            && built_for.iter().zip(&specs).all(|(a, b)| Arc::ptr_eq(a, b))
        {
            return Some(tools.clone());
        }
        let summary = SpecSummary {
            title: spec.title(),
            operations: spec.operations().len(),
            products: spec.products().iter().map(|p| p.name.as_str()).collect(),
            api: self.runner.api_name(),
            others: others
                .iter()
                .map(|(name, spec)| (name.as_str(), spec.title(), spec.operations().len()))
                .collect(),
            example_path: spec
                .operations()
                .iter()
                .filter(|op| {
                    op.method == Method::Get && op.path.len() > 1 && !op.path.contains('{')
                })
                .min_by_key(|op| op.path.len())
                .map(|op| op.path.as_str()),
        };
        let tools = tools::definitions(
            &summary,
            self.runner.tool_limits(),
            &self.runner.held_for_approval(),
        );
        *cached = Some((specs, tools.clone()));
        Some(tools)
    }
}

/// After each spec swap, tells every open session the tools changed, when the definitions
/// clients may have listed differ from the new spec's.
async fn announce_tool_changes(shared: Weak<McpShared>, mut swaps: watch::Receiver<u64>) {
    while swaps.changed().await.is_ok() {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let before = shared.last_built();
        if before.is_none() || before == shared.tools() {
            continue;
        }
        let peers = shared.peers();
        tracing::info!(
            sessions = peers.len(),
            "tools changed with the spec; telling the sessions"
        );
        for peer in peers {
            // A session that closed meanwhile has no one to tell.
            let _ = peer.notify_tool_list_changed().await;
        }
    }
}

/// Tool definitions and the specs (the first upstream's, then the others') they were built for.
type BuiltTools = (Vec<Arc<Spec>>, Vec<Tool>);

/// One MCP session's handler; all sessions share the same [`McpShared`].
#[derive(Clone)]
pub struct CodeMode {
    shared: Arc<McpShared>,
    log_threshold: LogThreshold,
    stdio_session: Arc<str>,
    session: Arc<ServedSession>,
}

/// The session one handler serves, and the end of its rate-limit counts when the last clone of
/// the handler is dropped, which rmcp does when the session closes.
///
/// Over HTTP, rmcp gives each session its own handler, which answers its `initialize`, and gives
/// each stateless request a fresh one that never does. So the `Mcp-Session-Id` header of a call
/// is the id the server issued only on a handler that answered `initialize` (rmcp routed the
/// call to it by that id); on any other it is whatever the caller chose, and is not used.
struct ServedSession {
    runner: Arc<Runner>,
    /// Where the session is kept once it initialized, under [`ServedSession::key`].
    shared: Weak<McpShared>,
    /// This handler's key among [`McpShared`]'s sessions.
    key: u64,
    /// Whether this handler answered `initialize`, and so serves one session.
    initialized: AtomicBool,
    /// The subject and session id of the calls this handler served.
    used_by: Mutex<Option<(String, String)>>,
    /// The client, once it initialized, to tell when the tools change.
    peer: OnceLock<Peer<RoleServer>>,
}

impl Drop for ServedSession {
    fn drop(&mut self) {
        if self.peer.get().is_some()
            && let Some(shared) = self.shared.upgrade()
        {
            shared.ended(self.key);
        }
        let used_by = self
            .used_by
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((subject, session)) = used_by {
            tracing::info!(%session, "session ended");
            self.runner.end_session(&subject, &session);
        }
    }
}

impl CodeMode {
    /// A handler over the shared state.
    pub fn new(shared: Arc<McpShared>) -> Self {
        Self {
            session: Arc::new(ServedSession {
                runner: shared.runner.clone(),
                shared: Arc::downgrade(&shared),
                key: shared.next_key.fetch_add(1, Ordering::Relaxed),
                initialized: AtomicBool::new(false),
                used_by: Mutex::new(None),
                peer: OnceLock::new(),
            }),
            shared,
            log_threshold: LogThreshold::default(),
            stdio_session: format!("stdio-{}", std::process::id()).into(),
        }
    }

    async fn execute(
        &self,
        caller: Caller,
        request: &CallToolRequestParams,
        code: &str,
        context: &RequestContext<RoleServer>,
        cancel: CancelToken,
    ) -> CallToolResponse {
        let arguments = request.arguments.as_ref().cloned().unwrap_or_default();
        let (account_id, approval_id) = match (
            optional_string(&arguments, "account_id"),
            optional_string(&arguments, "approval_id"),
        ) {
            (Ok(account), Ok(approval)) => (account, approval),
            (Err(message), _) | (_, Err(message)) => return reply(argument_error(message)),
        };
        let logs = if speaks_2026(context) {
            LogFilter::requested(context.meta.log_level())
        } else {
            self.log_threshold.filter()
        };
        let live = LiveUpdates::start(
            context.peer.clone(),
            context.meta.get_progress_token(),
            logs,
        );
        let runner = &self.shared.runner;
        let binding = Binding::new(&caller, code);
        let request_with = |asks, updates, cancel| ExecuteRequest {
            caller,
            code: code.to_string(),
            account_id,
            approval_id,
            asks,
            updates,
            cancel,
            recording: None,
        };
        let response = if let Some(state) = &request.request_state {
            let answer = request
                .input_responses
                .as_ref()
                .and_then(|responses| responses.get(APPROVAL_INPUT));
            let resumed = runner
                .paused()
                .resume(
                    runner,
                    state,
                    answer,
                    &binding,
                    |asks, updates, stop| request_with(Some(asks), updates, stop),
                    &live.sender(),
                    &cancel,
                )
                .await;
            match resumed {
                Ok(round) => round_response(round),
                Err(error) => reply(CallOutcome::failed(CallError::Resume(error), Vec::new())),
            }
        } else if asks_in_band(context) {
            let run = Run::spawn(runner, |asks, updates, stop| {
                request_with(Some(asks), updates, stop)
            });
            let round = runner
                .paused()
                .start(run, &binding, &live.sender(), &cancel)
                .await;
            round_response(round)
        } else {
            let (asks, questions) = mpsc::channel(1);
            let asks = supports_elicitation(context).then_some(asks);
            let run = runner.execute(request_with(asks, live.sender(), cancel));
            reply(answer_questions(run, questions, context).await)
        };
        live.finish().await;
        response
    }
}

impl ServerHandler for CodeMode {
    #[allow(deprecated)] // logging: see `live`
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("codemode", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Use `search` to find endpoints in the API spec, then `execute` to call them.",
        )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.session.initialized.store(true, Ordering::Relaxed);
        context.peer.set_peer_info(request.clone());
        if self.session.peer.set(context.peer.clone()).is_ok() {
            self.shared.served(&self.session);
        }
        // `tools/list_changed` reaches a 2025 session on its GET stream; 2026-07-28 clients
        // (no `initialize`) would need `subscriptions/listen`, which is not served, so
        // `server/discover` does not claim it.
        let mut result = self.negotiate_initialize(&request)?;
        result
            .capabilities
            .tools
            .get_or_insert_with(ToolsCapability::default)
            .list_changed = Some(true);
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared
            .tools()?
            .into_iter()
            .find(|tool| tool.name == name)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        match self.shared.tools() {
            Some(tools) => Ok(ListToolsResult::with_all_items(tools)
                .with_ttl_ms(TOOLS_TTL_MS)
                .with_cache_scope(CacheScope::Public)),
            None => Err(ErrorData::internal_error(
                CallError::NotReady.to_string(),
                None,
            )),
        }
    }

    #[allow(deprecated)] // logging: see `live`
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.log_threshold.set(request.level);
        Ok(())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != SEARCH && request.name != EXECUTE {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{}`; the tools are `search` and `execute`",
                    request.name
                ),
                None,
            ));
        }
        let code = match request.arguments.as_ref().and_then(|a| a.get("code")) {
            Some(Value::String(code)) => code.clone(),
            Some(_) => return Ok(reply(argument_error("`code` must be a string"))),
            None => return Ok(reply(argument_error("missing argument `code`"))),
        };
        let in_session = self.session.initialized.load(Ordering::Relaxed);
        let caller = caller_of(&context, &self.stdio_session, in_session);
        if let Some(session) = &caller.session {
            *self
                .session
                .used_by
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some((caller.principal.subject.clone(), session.clone()));
        }
        let tool = if request.name == SEARCH {
            ToolName::Search
        } else {
            ToolName::Execute
        };
        let headers = context
            .extensions
            .get::<http::request::Parts>()
            .map(|parts| &parts.headers);
        let span = traces::tool_span(tool, headers);
        let cancel = CancelToken::new();
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let call = if request.name == SEARCH {
            let runner = self.shared.runner.clone();
            let cancel = cancel.clone();
            async move { reply(runner.search(&caller, &code, cancel).await) }.boxed()
        } else {
            self.execute(caller, &request, &code, &context, cancel.clone())
                .boxed()
        };
        Ok(until_cancelled(call, &context, &cancel)
            .instrument(span)
            .await)
    }
}

fn reply(outcome: CallOutcome) -> CallToolResponse {
    results::tool_result(outcome).into()
}

fn argument_error(message: impl Into<String>) -> CallOutcome {
    CallOutcome::failed(CallError::Arguments(message.into()), Vec::new())
}

/// The caller of the request in `context`. Over stdio (no HTTP request) it is the local user.
/// Over HTTP the session is the `Mcp-Session-Id` header only `in_session`, when rmcp routed the
/// request by it to this session's handler; a stateless request has no session.
fn caller_of(
    context: &RequestContext<RoleServer>,
    stdio_session: &str,
    in_session: bool,
) -> Caller {
    let client = context
        .peer
        .peer_info()
        .map(|info| info.client_info.name.clone());
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return Caller {
            principal: Principal::local(),
            session: Some(stdio_session.to_string()),
            client,
            forwarded: None,
            forwarded_to: Vec::new(),
        };
    };
    Caller {
        // The HTTP auth layer always sets the principal; without one, nothing is allowed.
        principal: parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or_else(Principal::nobody),
        session: parts
            .headers
            .get("mcp-session-id")
            .filter(|_| in_session)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        client,
        forwarded: parts
            .extensions
            .get::<ForwardedCredential>()
            .map(|f| f.0.clone()),
        forwarded_to: parts
            .extensions
            .get::<ForwardedCredentials>()
            .map(|f| f.0.clone())
            .unwrap_or_default(),
    }
}

fn optional_string(
    arguments: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

/// Whether the request's session (or the request itself, when stateless) speaks 2026-07-28
/// or later. ISO dates compare in time order as text.
fn speaks_2026(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// Whether approvals go to the person in-band, as `input_required` results the client answers
/// by retrying: the client speaks 2026-07-28 or later (which has no server-initiated requests)
/// and declared elicitation on this request.
fn asks_in_band(context: &RequestContext<RoleServer>) -> bool {
    speaks_2026(context)
        && context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.elicitation.is_some())
}

/// A round of an `execute` call as its reply: the result, or the question to put to the person
/// with the state to retry with.
fn round_response(round: Round) -> CallToolResponse {
    match round {
        Round::Finished(outcome) => reply(outcome),
        Round::Asking { message, state } => {
            let question = ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema: ElicitationSchema::new(BTreeMap::new()),
            };
            let requests = InputRequests::from([(
                APPROVAL_INPUT.to_string(),
                InputRequest::Elicitation(ElicitRequest::new(question)),
            )]);
            InputRequiredResult::new(Some(requests), Some(state)).into()
        }
    }
}

fn supports_elicitation(context: &RequestContext<RoleServer>) -> bool {
    context
        .peer
        .peer_info()
        .is_some_and(|info| info.capabilities.elicitation.is_some())
}

/// Runs an `execute` call while putting its questions (approvals) to the person at the client.
/// The questions are sent from this task, so they travel on the request's own stream; their
/// answers are awaited alongside the call, which bounds how long it waits for them.
async fn answer_questions(
    run: impl Future<Output = CallOutcome>,
    mut questions: mpsc::Receiver<Question>,
    context: &RequestContext<RoleServer>,
) -> CallOutcome {
    tokio::pin!(run);
    let mut asking = FuturesUnordered::new();
    loop {
        tokio::select! {
            result = &mut run => return result,
            Some(question) = questions.recv() => {
                let peer = context.peer.clone();
                asking.push(async move {
                    let params = ElicitRequestParams::FormElicitationParams {
                        meta: None,
                        message: question.message,
                        requested_schema: ElicitationSchema::new(BTreeMap::new()),
                    };
                    let answer = peer.create_elicitation(params).await.ok().map(|result| {
                        match result.action {
                            ElicitationAction::Accept => Answer::Accept,
                            ElicitationAction::Decline => Answer::Decline,
                            _ => Answer::Cancel,
                        }
                    });
                    let _ = question.reply.send(answer);
                });
            }
            Some(()) = asking.next(), if !asking.is_empty() => {}
        }
    }
}

/// Runs a tool call, stopping its sandbox when the client cancels the request or goes away.
async fn until_cancelled<T>(
    mut call: BoxFuture<'_, T>,
    context: &RequestContext<RoleServer>,
    cancel: &CancelToken,
) -> T {
    let gone = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientGone>())
        .map(|gone| gone.0.clone())
        .unwrap_or_default();
    tokio::select! {
        result = &mut call => result,
        () = context.ct.cancelled() => {
            cancel.cancel();
            call.await
        }
        () = gone.cancelled() => {
            cancel.cancel();
            call.await
        }
    }
}

/// Stops the sandbox when the call's future is dropped, e.g. because the client went away.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
