//! The HTTP routes in process, through `tower::ServiceExt::oneshot`: health, the transport's
//! guards and the approval endpoints, with no socket.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use codemode::call::Runner;
use codemode::http::router;
use codemode::in_flight::InFlight;
use codemode::settings::{Options, Secrets, Settings};
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

async fn app() -> (TempDir, Router) {
    let data = TempDir::new().expect("a temporary directory");
    let settings = Settings::resolve(Options {
        demo: Some(true),
        data_dir: Some(data.path().to_path_buf()),
        ..Options::default()
    })
    .expect("settings resolve");
    let runner: Arc<Runner> = Runner::start(&settings, Secrets::default())
        .await
        .expect("the runner starts");
    let router = router(runner, &settings, CancellationToken::new(), InFlight::new())
        .expect("the router builds");
    (data, router)
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.expect("a response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("the body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", host)
        .body(Body::empty())
        .expect("a request")
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_names_the_spec_and_its_operations() {
    let (_data, router) = app().await;
    let (status, body) = send(router, get("/healthz", "127.0.0.1:8787")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(body["operations"].as_u64().is_some_and(|n| n > 5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_is_refused_on_mcp() {
    let (_data, router) = app().await;
    let request = Request::post("/mcp")
        .header("host", "attacker.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#))
        .expect("a request");
    let (status, _) = send(router, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_gets_413() {
    let (_data, router) = app().await;
    let request = Request::post("/mcp")
        .header("host", "127.0.0.1:8787")
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 2 << 20]))
        .expect("a request");
    let (status, _) = send(router, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_approval_is_404_and_metadata_is_only_served_with_oauth() {
    let (_data, router) = app().await;
    let (status, body) = send(router.clone(), get("/approvals/nope", "127.0.0.1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "approval");
    let metadata = get("/.well-known/oauth-protected-resource/mcp", "127.0.0.1");
    let (status, _) = send(router, metadata).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn until_the_spec_loads_readyz_and_mcp_answer_503_and_healthz_answers() {
    let data = TempDir::new().expect("a temporary directory");
    let settings = Settings::resolve(Options {
        demo: Some(true),
        data_dir: Some(data.path().to_path_buf()),
        ..Options::default()
    })
    .expect("settings resolve");
    let runner = Runner::open(&settings, Secrets::default())
        .await
        .expect("the stores open");
    let router = router(
        runner.clone(),
        &settings,
        CancellationToken::new(),
        InFlight::new(),
    )
    .expect("the router builds");
    let (status, body) = send(router.clone(), get("/healthz", "127.0.0.1:8787")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("operations").is_none(), "{body}");
    let (status, body) = send(router.clone(), get("/readyz", "127.0.0.1:8787")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reasons"]["spec"], "still loading", "{body}");
    let initialize = Request::post("/mcp")
        .header("host", "127.0.0.1:8787")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
        ))
        .expect("a request");
    let (status, body) = send(router.clone(), initialize).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("still loading")),
        "{body}"
    );

    runner.load_spec().await.expect("the demo spec loads");
    let (status, body) = send(router, get("/readyz", "127.0.0.1:8787")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
}
