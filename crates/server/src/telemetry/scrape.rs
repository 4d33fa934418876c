//! The Prometheus exporter: installed once before the runner opens, read by `GET /metrics`,
//! which first sets the gauges that are cheaper to read at scrape time than to keep current
//! (sandbox load, pending approvals, the spec's age).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use codemode_audit::Timestamp;
use metrics::gauge;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::auth_layer::AuthLayer;
use crate::call::Runner;
use crate::telemetry::{meters, names};

/// Histogram buckets for every `…_seconds` metric: 100 µs to 60 s.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    15.0, 60.0,
];

/// How often histograms are compacted when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's exporter, once installed.
static INSTALLED: OnceLock<Exporter> = OnceLock::new();

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the metrics exporter: {0}")]
pub struct ExporterError(#[from] BuildError);

/// The installed exporter; cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

impl Exporter {
    /// Installs the process's metrics recorder and describes every metric. Must run before
    /// the first call is recorded; a second install in one process fails.
    pub fn install() -> Result<Exporter, ExporterError> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)?
            .install_recorder()?;
        for (name, help) in names::DESCRIPTIONS {
            // The exporter keeps one description per name, whatever the metric's kind.
            metrics::describe_counter!(name, help);
        }
        gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        gauge!(names::SESSIONS_OPEN).set(0.0);
        // Registers every call's series now, so each shows from the first scrape, at 0.
        meters();
        let exporter = Exporter { handle };
        let _ = INSTALLED.set(exporter.clone());
        Ok(exporter)
    }

    /// The exporter [`Exporter::install`] installed in this process, if any.
    pub fn installed() -> Option<Exporter> {
        INSTALLED.get().cloned()
    }

    /// Compacts histograms periodically, so memory stays flat between scrapes.
    pub fn spawn_upkeep(&self) {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    }
}

/// What `GET /metrics` reads.
#[derive(Clone)]
pub struct Scrape {
    /// The exporter.
    pub exporter: Exporter,
    /// The runner whose gauges are read.
    pub runner: Arc<Runner>,
    /// Set on the main listener when auth is on: the scraper must authenticate.
    pub auth: Option<AuthLayer>,
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(auth) = &scrape.auth
        && let Err(refused) = auth.principal(&headers).await
    {
        return refused.into_response();
    }
    set_gauges(&scrape.runner).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        scrape.exporter.handle.render(),
    )
        .into_response()
}

async fn set_gauges(runner: &Runner) {
    if let Some(load) = runner.sandbox_load() {
        gauge!(names::SANDBOX_WORKERS).set(load.workers as f64);
        gauge!(names::SANDBOX_BUSY).set(load.busy as f64);
        gauge!(names::SANDBOX_QUEUED).set(load.queued as f64);
        gauge!(names::SANDBOX_EXECUTES).set(load.executes as f64);
    }
    if let Some(spec) = runner.spec() {
        gauge!(names::SPEC_OPERATIONS).set(spec.operations().len() as f64);
    }
    if let Some(age) = runner.spec_age() {
        gauge!(names::SPEC_AGE_SECONDS).set(age.as_secs_f64());
    }
    if let Ok(pending) = runner.approvals().pending(Timestamp::now()).await {
        gauge!(names::APPROVALS_PENDING).set(pending.len() as f64);
    }
}
