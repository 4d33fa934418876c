//! A fake API on loopback: answers every request at once with a small envelope, except paths
//! ending in `/slow`, which it answers after [`SLOW_DELAY`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::Uri;
use axum::routing::any;
use bytes::Bytes;
use hyper::Method;

use crate::connection::Connection;
use crate::stats::{Summary, warm_up};

/// How long the API takes to answer a path ending in `/slow`.
pub const SLOW_DELAY: Duration = Duration::from_secs(2);

const ENVELOPE: &str =
    r#"{"success":true,"errors":[],"messages":[],"result":{"id":"zone1","name":"example.com"}}"#;

/// The running API.
pub struct LoopbackApi {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl LoopbackApi {
    /// The base URL the server joins API paths to.
    pub fn base(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// The API's own latency: one request at a time over one keep-alive connection.
    pub async fn time_direct(&self, iterations: usize) -> anyhow::Result<Summary> {
        let mut connection = Connection::open(self.addr).await?;
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warm_up(iterations) + iterations {
            let began = Instant::now();
            let reply = connection
                .send(Method::GET, "/client/v4/zones/zone1", &[], Bytes::new())
                .await?;
            anyhow::ensure!(
                reply.status.is_success(),
                "the API answered {}",
                reply.status
            );
            if i >= warm_up(iterations) {
                samples.push(began.elapsed());
            }
        }
        Ok(Summary::of(samples))
    }
}

/// Starts the API on a free loopback port, in the background.
pub async fn start() -> anyhow::Result<LoopbackApi> {
    let app = Router::new().fallback(any(|uri: Uri| async move {
        if uri.path().ends_with("/slow") {
            tokio::time::sleep(SLOW_DELAY).await;
        }
        ([("content-type", "application/json")], ENVELOPE)
    }));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(LoopbackApi { addr })
}
