//! Figures taken inside the server process: the sandbox pool and gateway, called directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode_sandbox::{CancelToken, Delivery, Host, LogLine, Pool, PoolConfig, Rejection};
use codemode_spec::Spec;
use codemode_upstream::{Call, Gateway, GatewayConfig, HttpSettings, HttpUpstream};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::cpu;
use crate::loopback_api::LoopbackApi;
use crate::stats::{Summary, figure, ms, repeat, row, warm_up};
use crate::workload::{FULL_SEARCH, ONE_REQUEST, TRIVIAL};

/// What the in-process run measured.
pub struct InProcess {
    load: Duration,
    empty_search: Summary,
    empty_search_cpu: Duration,
    search: Summary,
    search_cpu: Duration,
    raw_request: Summary,
    empty_execute: Summary,
    execute: Summary,
}

impl InProcess {
    /// Prints the rows of the report.
    pub fn print(&self) {
        figure("spec load + resolve", &ms(self.load), "");
        row("search, trivial code (pool, no MCP)", self.empty_search, "");
        row("search, full list (pool, no MCP)", self.search, "");
        let cpu = |name: &str, cpu: Duration| {
            figure(&format!("{name}: CPU per call (all threads)"), &ms(cpu), "");
        };
        cpu("search, trivial code", self.empty_search_cpu);
        cpu("search, full list", self.search_cpu);
        row("loopback API request, plain reqwest", self.raw_request, "");
        row(
            "execute, no request (fresh isolate)",
            self.empty_execute,
            "",
        );
        row("execute, one request to the loopback API", self.execute, "");
        figure(
            "execute − API request (median − median)",
            &ms(self.execute.median.saturating_sub(self.raw_request.median)),
            "",
        );
    }
}

/// Loads the spec, starts a pool and measures search and execute through it.
pub async fn measure(
    spec_bytes: &[u8],
    api: &LoopbackApi,
    iterations: usize,
) -> anyhow::Result<InProcess> {
    let started = Instant::now();
    let spec = Arc::new(Spec::from_bytes(spec_bytes)?);
    let load = started.elapsed();
    let pool = Pool::for_spec(
        spec.clone(),
        PoolConfig::default(),
        tokio::runtime::Handle::current(),
    )?;
    let calls = iterations + warm_up(iterations);
    let (empty_search, empty_search_cpu) = cpu::per_call("self", calls, || {
        repeat(iterations, || async {
            pool.search(TRIVIAL, CancelToken::new()).await.map(drop)
        })
    })
    .await?;
    let (search, search_cpu) = cpu::per_call("self", calls, || {
        repeat(iterations, || async {
            pool.search(FULL_SEARCH, CancelToken::new()).await.map(drop)
        })
    })
    .await?;

    let base = api.base();
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
    )?;
    let empty_execute = repeat(iterations, || async {
        let host = Arc::new(BenchHost(gateway.call(None)));
        pool.execute(TRIVIAL, host, CancelToken::new())
            .await
            .map(drop)
    })
    .await?;
    let execute = repeat(iterations, || async {
        let host = Arc::new(BenchHost(gateway.call(None)));
        let outcome = pool.execute(ONE_REQUEST, host, CancelToken::new()).await?;
        anyhow::ensure!(
            outcome.result.as_str() == r#""zone1""#,
            "unexpected {}",
            outcome.result
        );
        Ok(())
    })
    .await?;
    Ok(InProcess {
        load,
        empty_search,
        empty_search_cpu,
        search,
        search_cpu,
        raw_request,
        empty_execute,
        execute,
    })
}

/// The sandbox host the benchmark uses: requests only.
struct BenchHost(Call);

impl Host for BenchHost {
    fn request(&self, options: Value) -> BoxFuture<'static, Result<Delivery, Rejection>> {
        let call = self.0.clone();
        async move {
            call.request(&options)
                .await
                .map(Delivery::from)
                .map_err(|e| Rejection::new(e.to_string()))
        }
        .boxed()
    }

    fn account_id(&self) -> BoxFuture<'static, Result<String, Rejection>> {
        async { Err(Rejection::new("the benchmark sets no account")) }.boxed()
    }

    fn log(&self, _line: &LogLine) {}
}
