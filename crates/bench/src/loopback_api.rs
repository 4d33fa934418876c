//! A minimal API on loopback that answers every request at once with a small envelope.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::any;

/// Starts the API; returns its base URL.
pub async fn start() -> anyhow::Result<String> {
    let app = Router::new().fallback(any(|| async {
        (
            [("content-type", "application/json")],
            r#"{"success":true,"errors":[],"messages":[],"result":{"id":"zone1","name":"example.com"}}"#,
        )
    }));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/client/v4"))
}
