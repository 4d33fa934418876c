//! Figures taken inside the server process: the sandbox pool and gateway, called directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode_sandbox::{CancelToken, Host, LogLine, Pool, PoolConfig, Rejection};
use codemode_spec::Spec;
use codemode_upstream::{Call, Gateway, GatewayConfig, HttpSettings, HttpUpstream};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::stats::{Summary, ms, row};
use crate::{TYPICAL_SEARCH, loopback_api};

const ONE_REQUEST: &str =
    r#"async () => (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).result.id"#;

/// What the in-process run measured.
pub struct InProcess {
    load: Duration,
    empty_search: Summary,
    search: Summary,
    raw_request: Summary,
    empty_execute: Summary,
    execute: Summary,
}

impl InProcess {
    /// Prints the rows of the report.
    pub fn print(&self) {
        println!(
            "| spec load + resolve (in process) | {} | | |",
            ms(self.load)
        );
        row(
            "search, trivial code (per-call overhead)",
            self.empty_search,
            "",
        );
        row("search, inside the server", self.search, "≤ 3 ms");
        row("loopback API request, plain reqwest", self.raw_request, "");
        row(
            "execute, no request (fresh isolate)",
            self.empty_execute,
            "",
        );
        row("execute, one request to the loopback API", self.execute, "");
        let overhead = self.execute.median.saturating_sub(self.raw_request.median);
        println!(
            "| execute overhead above the API's own latency (median − median) | {} | | ≤ 1 ms |",
            ms(overhead)
        );
    }
}

/// Loads the spec, starts a pool and measures search and execute through it.
pub async fn measure(spec_bytes: &[u8], iterations: usize) -> anyhow::Result<InProcess> {
    let started = Instant::now();
    let spec = Spec::from_bytes(spec_bytes)?;
    let load = started.elapsed();
    let pool = Pool::new(
        spec.view().clone(),
        PoolConfig::default(),
        tokio::runtime::Handle::current(),
    )?;
    let empty_search = repeat(iterations, || async {
        pool.search("async () => 1", CancelToken::new())
            .await
            .map(drop)
    })
    .await?;
    let search = repeat(iterations, || async {
        pool.search(TYPICAL_SEARCH, CancelToken::new())
            .await
            .map(drop)
    })
    .await?;

    let base = loopback_api::start().await?;
    let http = reqwest::Client::new();
    let url = format!("{base}/zones/zone1");
    let raw_request = repeat(iterations, || async {
        http.get(&url).send().await?.bytes().await.map(drop)
    })
    .await?;

    let upstream = HttpUpstream::new(&base, HttpSettings::default())?;
    let gateway = Gateway::new(
        Arc::new(upstream),
        spec.operations(),
        GatewayConfig::default(),
    );
    let empty_execute = repeat(iterations, || async {
        let host = Arc::new(BenchHost(gateway.call(None)));
        pool.execute("async () => 1", host, CancelToken::new())
            .await
            .map(drop)
    })
    .await?;
    let execute = repeat(iterations, || async {
        let host = Arc::new(BenchHost(gateway.call(None)));
        let outcome = pool.execute(ONE_REQUEST, host, CancelToken::new()).await?;
        anyhow::ensure!(
            outcome.result == json!("zone1"),
            "unexpected {}",
            outcome.result
        );
        Ok(())
    })
    .await?;
    Ok(InProcess {
        load,
        empty_search,
        search,
        raw_request,
        empty_execute,
        execute,
    })
}

/// Runs `f` a tenth of `iterations` to warm up, then `iterations` times, timing each.
pub async fn repeat<F, Fut, E>(iterations: usize, mut f: F) -> anyhow::Result<Summary>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    for _ in 0..iterations / 10 {
        f().await.map_err(Into::into)?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        f().await.map_err(Into::into)?;
        samples.push(started.elapsed());
    }
    Ok(Summary::of(samples))
}

/// The sandbox host the benchmark uses: requests only.
struct BenchHost(Call);

impl Host for BenchHost {
    fn request(&self, options: Value) -> BoxFuture<'static, Result<Value, Rejection>> {
        let call = self.0.clone();
        async move {
            call.request(&options)
                .await
                .map_err(|e| Rejection::new(e.to_string()))
        }
        .boxed()
    }

    fn account_id(&self) -> BoxFuture<'static, Result<String, Rejection>> {
        async { Err(Rejection::new("the benchmark sets no account")) }.boxed()
    }

    fn log(&self, _line: &LogLine) {}
}
