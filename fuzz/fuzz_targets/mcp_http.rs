//! The MCP JSON-RPC input over HTTP: any body POSTed to `/mcp` of the server's router (the demo
//! API, in process, no socket) gets an answer, and none is a server error; stateless, in an
//! initialized session, and outside any session.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use codemode::call::Runner;
use codemode::http::router;
use codemode::in_flight::InFlight;
use codemode::settings::{HttpOptions, Options, SandboxConfig, Secrets, Settings};
use libfuzzer_sys::fuzz_target;
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The MCP protocol version the session speaks.
const PROTOCOL_VERSION: &str = "2025-06-18";

/// Longest a response may take to arrive in full; the sandbox stops code after 2 s.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(8);

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// One server, stateful or stateless, and the session opened on it.
struct Server {
    router: Router,
    session: Option<String>,
    _data: TempDir,
}

static STATEFUL: LazyLock<Server> = LazyLock::new(|| RUNTIME.block_on(server(false)));
static STATELESS: LazyLock<Server> = LazyLock::new(|| RUNTIME.block_on(server(true)));

// The first byte says where the rest is POSTed: `m` in the initialized session of a stateful
// server, `n` to it with no session, anything else to a stateless server.
fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let (server, session) = match mode {
        b'm' => (&*STATEFUL, STATEFUL.session.as_deref()),
        b'n' => (&*STATEFUL, None),
        _ => (&*STATELESS, None),
    };
    let (status, answer) = RUNTIME.block_on(post(&server.router, session, body.to_vec()));
    assert!(
        !status.is_server_error(),
        "{status} for {:?}: {}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(&answer)
    );
});

async fn server(stateless: bool) -> Server {
    let data = TempDir::new().expect("a temporary directory");
    let settings = Settings::resolve(Options {
        demo: Some(true),
        data_dir: Some(data.path().to_path_buf()),
        http: Some(HttpOptions {
            stateless: Some(stateless),
            ..HttpOptions::default()
        }),
        sandbox: Some(SandboxConfig {
            workers: 2,
            search_timeout_secs: 2.0,
            execute_timeout_secs: 2.0,
            ..SandboxConfig::default()
        }),
        ..Options::default()
    })
    .expect("settings resolve");
    let runner: Arc<Runner> = Runner::start(&settings, Secrets::default())
        .await
        .expect("the runner starts");
    let router = router(runner, &settings, CancellationToken::new(), InFlight::new())
        .expect("the router builds");
    let session = if stateless {
        None
    } else {
        Some(initialize(&router).await)
    };
    Server {
        router,
        session,
        _data: data,
    }
}

/// Opens a session the way a client does, without the elicitation capability, so calls that
/// need approval answer with an approval id instead of waiting on a person.
async fn initialize(router: &Router) -> String {
    let initialize = format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"fuzz","version":"1"}}}}}}"#
    );
    let response = send(router, None, initialize.into_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK, "initialize");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .expect("a session id")
        .to_owned();
    let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec();
    let (status, _) = post(router, Some(&session), initialized).await;
    assert_eq!(status, StatusCode::ACCEPTED, "notifications/initialized");
    session
}

/// POSTs `body` and reads the whole answer.
async fn post(router: &Router, session: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let response = send(router, session, body).await;
    let status = response.status();
    let answer = tokio::time::timeout(
        ANSWER_WITHIN,
        axum::body::to_bytes(response.into_body(), 16 << 20),
    )
    .await
    .expect("the answer arrives in time");
    (
        status,
        answer.map(|bytes| bytes.to_vec()).unwrap_or_default(),
    )
}

async fn send(router: &Router, session: Option<&str>, body: Vec<u8>) -> Response<Body> {
    let mut request = Request::post("/mcp")
        .header("host", "127.0.0.1:8787")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL_VERSION);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let request = request.body(Body::from(body)).expect("a request");
    router
        .clone()
        .oneshot(request)
        .await
        .expect("the router always answers")
}
