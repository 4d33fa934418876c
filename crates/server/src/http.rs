//! `codemode serve`: MCP over Streamable HTTP at `/mcp`, plus `GET /healthz` (alive),
//! `GET /readyz` (ready to serve calls), `GET /metrics` (Prometheus; here, or on `[metrics]
//! listen`), and the approval routes and page under `/approvals/`. The port opens before the spec loads; until it has, `/readyz` and `/mcp`
//! answer 503 with the reason.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::{Json, Router, middleware};
use codemode_auth::{AuthMode, Authenticator};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::approval_page::{self, ApprovalPage};
use crate::approvals_api::{self, ApprovalsApi};
use crate::auth_layer::{self, AuthLayer};
use crate::call::{CallError, Runner, StartError};
use crate::handler::{CodeMode, McpShared};
use crate::in_flight::{self, InFlight};
use crate::refresh;
use crate::sessions::{self, SessionLimits, Sessions};
use crate::settings::Settings;
use crate::telemetry::{Exporter, Scrape, scrape};

const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// How long a session keeps the events of a finished request's stream, for a client that lost
/// the stream to resume it: twice the retry delay the stream tells clients. rmcp's default
/// (60 s) keeps every call's response for a minute, so memory grew with the call rate.
const RESUMABLE_FOR: std::time::Duration =
    std::time::Duration::from_secs(2 * SessionConfig::DEFAULT_SSE_RETRY.as_secs());

/// Why `codemode serve` could not serve, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A CORS origin is not a valid header value.
    #[error("invalid CORS origin {0:?}")]
    BadCorsOrigin(String),
    /// The settings break a rule of serving over HTTP (checked first by
    /// [`Settings::serve_problems`]).
    #[error("{0}")]
    Settings(#[from] crate::settings::ConfigErrors),
    /// The `[auth]` settings cannot work.
    #[error(transparent)]
    Auth(#[from] codemode_auth::ConfigError),
    /// The address could not be listened on.
    #[error("cannot listen on {address}: {error}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The system could not supply randomness for the approval page's key.
    #[error("cannot make the approval page's key: {0}")]
    Random(getrandom::Error),
    /// The server stopped with an I/O error.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// The spec could not be put into service.
    #[error("{0}")]
    Start(StartError),
}

/// Serves until SIGINT or SIGTERM, then lets in-flight calls finish, up to the grace period.
pub async fn serve(runner: Arc<Runner>, settings: &Settings) -> Result<(), ServeError> {
    let shutdown = CancellationToken::new();
    let in_flight = InFlight::new();
    let listen_error = |error| ServeError::Listen {
        address: settings.listen,
        error,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    runner.publish_approval_page(page_base(address, &settings.http.allowed_hosts));
    let router = router(
        runner.clone(),
        settings,
        shutdown.clone(),
        in_flight.clone(),
    )?;
    if let Some(exporter) = Exporter::installed() {
        exporter.spawn_upkeep();
        if let Some(address) = settings.metrics_listen.filter(|_| settings.metrics.enabled) {
            serve_metrics(address, exporter, runner.clone(), shutdown.clone()).await?;
        }
    }
    // Responses leave in several small writes; without TCP_NODELAY, Nagle's algorithm holds
    // the last one until the client's delayed ACK, about 40 ms per call.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY; responses may stall");
        }
    });
    tracing::info!(%address, "port open; loading the spec (/readyz answers 503 until it is loaded)");
    let grace = settings.http.shutdown_grace();
    let stopping = async move {
        shutdown_signal().await;
        tracing::info!(
            grace_secs = grace.as_secs_f64(),
            "shutting down: finishing in-flight calls"
        );
        tokio::spawn(async move {
            if tokio::time::timeout(grace, in_flight.idle()).await.is_err() {
                tracing::warn!("grace period over: cancelling the calls still running");
            }
            shutdown.cancel();
        });
    };
    let refresh = refresh::Triggers::install(settings.spec_refresh());
    let serving = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopping)
    .into_future();
    tokio::pin!(serving);
    let loading = Instant::now();
    let loaded = tokio::select! {
        loaded = runner.load_spec() => loaded.map_err(ServeError::Start)?,
        served = &mut serving => return served.map_err(ServeError::Serve),
    };
    tracing::info!(
        operations = loaded.operations,
        origin = %loaded.origin,
        elapsed_ms = loading.elapsed().as_millis() as u64,
        "ready"
    );
    tracing::info!("listening on http://{address}/mcp");
    refresh.spawn(runner);
    serving.await.map_err(ServeError::Serve)
}

/// Serves `GET /metrics` alone on `address`, without authentication, until `shutdown`.
async fn serve_metrics(
    address: SocketAddr,
    exporter: Exporter,
    runner: Arc<Runner>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listen_error = |error| ServeError::Listen { address, error };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let scrape = Scrape {
        exporter,
        runner,
        auth: None,
    };
    let router = Router::new()
        .route("/metrics", get(scrape::metrics))
        .with_state(scrape);
    tracing::info!("serving metrics on http://{address}/metrics");
    tokio::spawn(async move {
        let stopped = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = stopped {
            tracing::error!(%error, "the /metrics listener stopped");
        }
    });
    Ok(())
}

/// The HTTP routes: `/mcp` and `/healthz`, with host, origin, CORS and body-size rules.
pub fn router(
    runner: Arc<Runner>,
    settings: &Settings,
    shutdown: CancellationToken,
    in_flight: InFlight,
) -> Result<Router, ServeError> {
    let problems = settings.serve_problems();
    if !problems.is_empty() {
        return Err(crate::settings::ConfigErrors(problems).into());
    }
    let http = &settings.http;
    let allowed_hosts = settings.allowed_hosts();
    let authenticator = Arc::new(Authenticator::new(&settings.auth)?);
    let readiness = Readiness {
        runner: runner.clone(),
        authenticator: authenticator.clone(),
        audit: settings.audit_path(),
    };
    let auth = AuthLayer {
        authenticator,
        max_body: http.max_body_kib * 1024,
        sessions: Arc::default(),
        forward_headers: settings.upstreams[1..]
            .iter()
            .filter_map(|upstream| {
                let header = upstream.forward_header.as_deref()?;
                let header = axum::http::HeaderName::from_bytes(header.as_bytes()).ok()?;
                Some((header, upstream.name.clone(), upstream.auth_scheme.clone()))
            })
            .collect(),
    };
    let allowed_origins = if http.allowed_origins.is_empty() {
        LOOPBACK_ORIGINS.iter().map(|o| o.to_string()).collect()
    } else {
        http.allowed_origins.clone()
    };
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_legacy_session_mode(!http.stateless)
        .with_allowed_hosts(allowed_hosts.clone())
        .with_allowed_origins(allowed_origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(http.max_body_kib * 1024);
    let shared = McpShared::new(runner.clone());
    let manager = Arc::new(session_manager());
    let sessions = Sessions::new(
        SessionLimits {
            total: http.max_sessions,
            per_client: http.max_sessions_per_client,
            idle: http.session_idle(),
            by_address: auth.authenticator.mode() == AuthMode::None,
        },
        manager.clone(),
        auth.sessions.clone(),
    );
    sessions.close_idle();
    let mcp =
        StreamableHttpService::new(move || Ok(CodeMode::new(shared.clone())), manager, config);
    let mut mcp = Router::new()
        .fallback_service(mcp)
        .layer(middleware::from_fn(session_ended));
    if !http.stateless {
        mcp = mcp.layer(middleware::from_fn_with_state(sessions, sessions::track));
    }
    let mcp = mcp
        .layer(middleware::from_fn_with_state(runner.clone(), until_loaded))
        .layer(middleware::from_fn_with_state(in_flight, in_flight::track))
        .layer(middleware::from_fn_with_state(
            auth.clone(),
            auth_layer::authenticate,
        ));
    let api = ApprovalsApi {
        auth: auth.clone(),
        store: runner.approvals(),
    };
    let page = ApprovalPage::new(api.clone(), allowed_hosts.clone()).map_err(ServeError::Random)?;
    let approvals = Router::new()
        .route("/approvals/{id}/approve", post(approvals_api::approve))
        .route("/approvals/{id}/reject", post(approvals_api::reject))
        .with_state(api)
        .merge(
            Router::new()
                .route(
                    "/approvals/{id}",
                    get(approval_page::show).post(approval_page::decide),
                )
                .with_state(page),
        );
    let metadata = auth.authenticator.resource_metadata().cloned();
    let well_known = Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/{*resource}",
            get(resource_metadata),
        )
        .with_state(metadata);
    let mut router = Router::new();
    if let Some(exporter) = Exporter::installed()
        && settings.metrics.enabled
        && settings.metrics_listen.is_none()
    {
        let scrape = Scrape {
            exporter,
            runner: runner.clone(),
            auth: settings.auth_enabled().then(|| auth.clone()),
        };
        router = router.route("/metrics", get(scrape::metrics).with_state(scrape));
    }
    let router = router
        .nest("/mcp", mcp)
        .route("/healthz", get(healthz))
        .with_state(runner)
        .route("/readyz", get(readyz).with_state(readiness))
        .merge(approvals)
        .merge(well_known);
    Ok(match cors(&http.cors_origins)? {
        Some(layer) => router.layer(layer),
        None => router,
    })
}

/// The approval page's base URL: the address listened on, or with a wildcard address the
/// first allowed host name.
fn page_base(address: SocketAddr, allowed_hosts: &[String]) -> String {
    match allowed_hosts.first() {
        Some(host) if address.ip().is_unspecified() => {
            if host
                .parse::<http::uri::Authority>()
                .is_ok_and(|a| a.port_u16().is_some())
            {
                format!("http://{host}")
            } else {
                format!("http://{host}:{}", address.port())
            }
        }
        _ => format!("http://{address}"),
    }
}

/// The stateful sessions, keeping finished streams only as long as a client may resume them.
fn session_manager() -> LocalSessionManager {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.completed_cache_ttl = RESUMABLE_FOR;
    sessions
}

fn cors(origins: &[String]) -> Result<Option<CorsLayer>, ServeError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| ServeError::BadCorsOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let mcp_headers = [
        "content-type",
        "authorization",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
    ]
    .map(HeaderName::from_static);
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(mcp_headers.clone())
            .expose_headers([
                HeaderName::from_static("mcp-session-id"),
                HeaderName::from_static("mcp-protocol-version"),
            ]),
    ))
}

/// Answers an ended session's `DELETE` with 204 No Content instead of rmcp's 202: the SDKs
/// take only 200 and 204 as success (the Python SDK logs a warning on 202).
async fn session_ended(request: Request, next: Next) -> Response {
    let deleting = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if deleting && response.status() == StatusCode::ACCEPTED {
        let (mut parts, _) = response.into_parts();
        parts.status = StatusCode::NO_CONTENT;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    response
}

/// RFC 9728 protected resource metadata; only in oauth mode.
async fn resource_metadata(State(metadata): State<Option<Value>>) -> Response {
    match metadata {
        Some(document) => Json(document).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Alive: the process answers. Names the spec once it is loaded.
async fn healthz(State(runner): State<Arc<Runner>>) -> Json<Value> {
    let mut body = json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") });
    if let Some(spec) = runner.spec() {
        body["spec"] = json!(spec.title());
        body["operations"] = json!(spec.operations().len());
    }
    Json(body)
}

/// What `/readyz` checks.
#[derive(Clone)]
struct Readiness {
    runner: Arc<Runner>,
    authenticator: Arc<Authenticator>,
    audit: PathBuf,
}

/// Ready: the spec is loaded, the audit log is writable (the SQLite file is there, not
/// read-only and its writer's last write or probe succeeded; Postgres answers when the log is
/// there) and, in oauth mode, the issuer's keys can be had. 200 when all hold, else 503 with each failing check's reason.
async fn readyz(State(readiness): State<Readiness>) -> Response {
    let mut problems = serde_json::Map::new();
    if readiness.runner.spec().is_none() {
        problems.insert("spec".into(), json!("still loading"));
    }
    let audit = readiness.audit.clone();
    // Looked at, never opened: closing a descriptor of the database file would drop every
    // SQLite lock this process holds on it, and another process closing its connection could
    // then take the file for its own and remove the write-ahead log the writer appends to.
    let writable = tokio::task::spawn_blocking(move || match std::fs::metadata(&audit) {
        Ok(file) if file.permissions().readonly() => {
            Err(format!("cannot write {}: it is read-only", audit.display()))
        }
        Ok(_) => Ok(()),
        Err(error) => Err(format!("cannot write {}: {error}", audit.display())),
    })
    .await
    .unwrap_or_else(|_| Err("the audit check stopped".to_string()));
    if let Err(problem) = writable {
        problems.insert("audit".into(), json!(problem));
    } else if let Some(problem) = readiness.runner.audit_problem().await {
        problems.insert("audit".into(), json!(problem));
    }
    if let Err(problem) = readiness.authenticator.ready().await {
        problems.insert("jwks".into(), json!(problem));
    }
    if problems.is_empty() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        let body = json!({ "status": "not ready", "reasons": problems });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Answers MCP requests with 503 and the reason until the spec is loaded, rather than
/// holding them.
async fn until_loaded(State(runner): State<Arc<Runner>>, request: Request, next: Next) -> Response {
    if runner.spec().is_some() {
        return next.run(request).await;
    }
    let body = json!({ "error": CallError::NotReady.to_string() });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(body),
    )
        .into_response()
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate.recv() => {},
    }
}
