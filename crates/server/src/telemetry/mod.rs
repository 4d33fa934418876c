//! What an operator watches: Prometheus metrics ([`names`] lists them, [`meters`] records
//! them on the request path, [`scrape`] serves them) and OpenTelemetry traces ([`traces`]),
//! one span per tool call with a child per upstream request, off unless configured.

pub mod meters;
pub mod names;
pub mod scrape;
pub mod traces;

pub use meters::{DecidedVia, Meters, ToolName, UpstreamMeters, meters};
pub use scrape::{Exporter, ExporterError, Scrape};

use std::time::Duration;

use crate::call::CallOutcome;

/// Records a finished tool call: its metrics and, when it is traced, its span's outcome.
pub fn finished(
    tool: ToolName,
    outcome: &CallOutcome,
    elapsed: Duration,
    upstream_requests: usize,
) {
    let label = meters().call(tool, outcome, elapsed);
    if traces::enabled() {
        let span = tracing::Span::current();
        span.record("codemode.outcome", label);
        span.record("codemode.upstream_requests", upstream_requests);
    }
}
