//! Open MCP sessions: how many one client, and all clients together, may hold, and closing
//! those left idle (no request open) for longer than the idle timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use codemode_auth::Principal;
use futures::StreamExt;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::json;

/// The header that names an MCP session.
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");

/// The JSON-RPC error code of a refused `initialize` (implementation-defined server error).
const REFUSED_CODE: i64 = -32000;

/// The caps and the idle timeout, from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Sessions open at once, all clients together.
    pub total: usize,
    /// Sessions one client may hold open.
    pub per_client: usize,
    /// How long a session may sit with no request open.
    pub idle: Duration,
    /// Tell clients apart by IP address (auth is off, so every caller is the same subject).
    pub by_address: bool,
}

/// The open sessions, shared by the middleware and the task that closes idle ones.
pub struct Sessions {
    limits: SessionLimits,
    manager: Arc<LocalSessionManager>,
    /// The authentication layer's owner of each session, forgotten with the session.
    owners: Arc<Mutex<HashMap<String, String>>>,
    state: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    open: HashMap<String, Open>,
    /// Sessions being opened (an `initialize` in progress), per client.
    opening: HashMap<String, usize>,
}

struct Open {
    client: String,
    requests: usize,
    since: Instant,
}

impl Sessions {
    /// Sessions of `manager` under `limits`; call [`Sessions::close_idle`] to start closing
    /// idle ones.
    pub fn new(
        limits: SessionLimits,
        manager: Arc<LocalSessionManager>,
        owners: Arc<Mutex<HashMap<String, String>>>,
    ) -> Arc<Sessions> {
        Arc::new(Sessions {
            limits,
            manager,
            owners,
            state: Mutex::default(),
        })
    }

    /// Closes sessions idle for longer than the timeout, checking a few times per timeout,
    /// for as long as the sessions exist; needs a tokio runtime (does nothing without one).
    pub fn close_idle(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let every = (self.limits.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let sessions: Weak<Sessions> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                let Some(sessions) = sessions.upgrade() else {
                    return;
                };
                sessions.close_expired().await;
            }
        });
    }

    /// How many sessions are open now.
    pub fn open(&self) -> usize {
        self.state().open.len()
    }

    async fn close_expired(&self) {
        let expired: Vec<String> = {
            let mut state = self.state();
            let idle = self.limits.idle;
            let expired: Vec<String> = state
                .open
                .iter()
                .filter(|(_, open)| open.requests == 0 && open.since.elapsed() >= idle)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &expired {
                state.open.remove(id);
            }
            expired
        };
        if expired.is_empty() {
            return;
        }
        {
            let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
            for id in &expired {
                owners.remove(id);
            }
        }
        for id in &expired {
            if let Err(error) = self.manager.close_session(&Arc::from(id.as_str())).await {
                tracing::debug!(%error, "closing an idle session");
            }
        }
        self.shrink().await;
        crate::memory::released();
        tracing::debug!(
            closed = expired.len(),
            open = self.open(),
            "closed idle sessions"
        );
    }

    /// Gives back the room of the session maps that emptied: a map keeps its largest
    /// capacity after its entries are removed.
    async fn shrink(&self) {
        fn shrink<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
            if map.capacity() > 4 * map.len().max(16) {
                map.shrink_to_fit();
            }
        }
        {
            let mut state = self.state();
            shrink(&mut state.open);
            shrink(&mut state.opening);
        }
        shrink(&mut self.owners.lock().unwrap_or_else(PoisonError::into_inner));
        shrink(&mut *self.manager.sessions.write().await);
    }

    fn state(&self) -> MutexGuard<'_, Table> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a new session of `client`, or says which cap refuses it.
    fn reserve(&self, client: &str) -> Result<(), Cap> {
        let mut state = self.state();
        let opening: usize = state.opening.values().sum();
        if state.open.len() + opening >= self.limits.total {
            return Err(Cap::Server);
        }
        let held = state.open.values().filter(|o| o.client == client).count()
            + state.opening.get(client).copied().unwrap_or(0);
        if held >= self.limits.per_client {
            return Err(Cap::Client);
        }
        *state.opening.entry(client.to_string()).or_default() += 1;
        Ok(())
    }

    /// Gives back a place taken by `reserve`, keeping the session if one was opened.
    fn opened(&self, client: &str, session: Option<String>) {
        let mut state = self.state();
        if let Some(count) = state.opening.get_mut(client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.opening.remove(client);
            }
        }
        if let Some(id) = session {
            state.open.insert(
                id,
                Open {
                    client: client.to_string(),
                    requests: 0,
                    since: Instant::now(),
                },
            );
        }
    }

    /// Counts a request open on `session`; false if the session is not one of ours.
    fn begin(&self, session: &str) -> bool {
        match self.state().open.get_mut(session) {
            Some(open) => {
                open.requests += 1;
                true
            }
            None => false,
        }
    }

    /// A request on `session` is over (its response sent or dropped); `ended` forgets it.
    fn end(&self, session: &str, ended: bool) {
        let mut state = self.state();
        if ended {
            state.open.remove(session);
        } else if let Some(open) = state.open.get_mut(session) {
            open.requests = open.requests.saturating_sub(1);
            open.since = Instant::now();
        }
    }

    fn refused(&self, cap: Cap) -> Response {
        let idle = self.limits.idle.as_secs_f64();
        let (status, limit, message) = match cap {
            Cap::Client => (
                StatusCode::TOO_MANY_REQUESTS,
                self.limits.per_client,
                format!(
                    "too many open MCP sessions for this client: it holds the most one client \
                     may ({}, [http] max_sessions_per_client); end sessions you no longer use \
                     (HTTP DELETE /mcp with their Mcp-Session-Id) or reuse one; idle sessions \
                     close after {idle} s",
                    self.limits.per_client
                ),
            ),
            Cap::Server => (
                StatusCode::SERVICE_UNAVAILABLE,
                self.limits.total,
                format!(
                    "the server holds the most open MCP sessions it allows ({}, [http] \
                     max_sessions); try again later: idle sessions close after {idle} s",
                    self.limits.total
                ),
            ),
        };
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": REFUSED_CODE,
                "message": message,
                "data": {"cap": cap.key(), "limit": limit, "idle_secs": idle},
            },
        });
        let mut response = (status, Json(body)).into_response();
        let retry = self.limits.idle.as_secs().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&retry) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Which cap refused a session.
#[derive(Debug, Clone, Copy)]
enum Cap {
    Client,
    Server,
}

impl Cap {
    fn key(self) -> &'static str {
        match self {
            Cap::Client => "max_sessions_per_client",
            Cap::Server => "max_sessions",
        }
    }
}

/// Axum middleware for `/mcp` (inside authentication): refuses a new session past a cap, and
/// keeps each session's open requests and last activity for closing idle ones.
pub async fn track(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    let session = request
        .headers()
        .get(&SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match session {
        None if request.method() == Method::POST => {
            let client = client_of(&request, sessions.limits.by_address);
            if let Err(cap) = sessions.reserve(&client) {
                tracing::info!(%client, "MCP session refused: a session cap is reached");
                return sessions.refused(cap);
            }
            let response = next.run(request).await;
            let opened = response
                .headers()
                .get(&SESSION_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            sessions.opened(&client, opened);
            response
        }
        Some(id) if sessions.begin(&id) => {
            let ending = request.method() == Method::DELETE;
            let response = next.run(request).await;
            if ending && response.status().is_success() {
                sessions.end(&id, true);
                return response;
            }
            let guard = Ending {
                sessions: sessions.clone(),
                id,
            };
            let (parts, body) = response.into_parts();
            let stream = body.into_data_stream().map(move |chunk| {
                let _open = &guard;
                chunk
            });
            Response::from_parts(parts, Body::from_stream(stream))
        }
        _ => next.run(request).await,
    }
}

/// Ends a session's request when its response is over.
struct Ending {
    sessions: Arc<Sessions>,
    id: String,
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.sessions.end(&self.id, false);
    }
}

/// Who a request counts against: its subject, or with `by_address` its IP address.
fn client_of(request: &Request, by_address: bool) -> String {
    if by_address {
        return match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(address)) => format!("address {}", address.ip()),
            None => "address unknown".to_string(),
        };
    }
    match request.extensions().get::<Principal>() {
        Some(principal) => format!("subject {}", principal.subject),
        None => "subject unknown".to_string(),
    }
}
