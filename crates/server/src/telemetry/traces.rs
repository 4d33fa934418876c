//! OpenTelemetry traces over OTLP/HTTP (protobuf), when `[traces] endpoint` is set: a span
//! per tool call (whose parent is the `traceparent` the MCP request carried, if any), a child
//! span per upstream request, and the W3C `traceparent` header on every upstream request.
//!
//! Spans have their own tracing target, which the log does not show; with traces off no
//! subscriber layer wants them, so a call creates none and pays one relaxed atomic load.
//! Spans carry the tool, the outcome kind, the method, the spec template, the status and the
//! times a request was sent (`codemode.attempts`, retries included): never code, results,
//! paths, subjects or credentials.

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

use crate::settings::TracesConfig;
use crate::telemetry::ToolName;

/// The tracing target of every span exported, and of nothing else.
pub const TARGET: &str = "codemode::traces";

/// Whether spans are exported; set once, when the exporter starts.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Why traces could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to [traces] endpoint {endpoint:?}: {reason}")]
pub struct TracesError {
    endpoint: String,
    reason: String,
}

/// The running exporter; [`Traces::shutdown`] sends the spans still buffered.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts the OTLP exporter and returns the subscriber layer that feeds it the spans of
    /// [`TARGET`] only.
    pub fn start<S>(
        config: &TracesConfig,
    ) -> Result<(impl Layer<S> + Send + Sync + 'static, Traces), TracesError>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .build()
            .map_err(|error| TracesError {
                endpoint: config.endpoint.clone(),
                reason: error.to_string(),
            })?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("codemode"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_filter(Targets::new().with_target(TARGET, LevelFilter::INFO));
        ENABLED.store(true, Ordering::Relaxed);
        Ok((layer, Traces { provider }))
    }

    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "traces still buffered were not all sent");
        }
    }
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The span of one tool call, child of the trace context in `headers` (the MCP request's
/// `traceparent`), if any; a disabled span when traces are off.
pub fn tool_span(tool: ToolName, headers: Option<&HeaderMap>) -> Span {
    if !enabled() {
        return Span::none();
    }
    let span = match tool {
        ToolName::Search => tracing::info_span!(
            target: TARGET,
            "tools/call search",
            otel.kind = "server",
            mcp.method.name = "tools/call",
            gen_ai.tool.name = "search",
            codemode.outcome = Empty,
        ),
        ToolName::Execute => tracing::info_span!(
            target: TARGET,
            "tools/call execute",
            otel.kind = "server",
            mcp.method.name = "tools/call",
            gen_ai.tool.name = "execute",
            codemode.outcome = Empty,
            codemode.upstream_requests = Empty,
        ),
    };
    if let Some(headers) = headers {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        // A span that is not exported has no parent to set: nothing to do.
        let _ = span.set_parent(parent);
    }
    span
}

/// The span of one upstream request, child of `call` (the tool call's span); a disabled span
/// when traces are off.
pub fn request_span(call: &Span, method: &str, template: Option<&str>) -> Span {
    if !enabled() || call.is_disabled() {
        return Span::none();
    }
    let template = template.unwrap_or("(not in the spec)");
    tracing::info_span!(
        target: TARGET,
        parent: call,
        "upstream request",
        otel.name = format!("{method} {template}"),
        otel.kind = "client",
        http.request.method = method,
        url.template = template,
        http.response.status_code = Empty,
        { codemode_upstream::ATTEMPTS_FIELD } = Empty,
    )
}

/// Adds the W3C `traceparent` (and `tracestate`) of the current span to `headers`; given to
/// the HTTP upstream when traces are on.
pub fn inject_trace_headers(headers: &mut HeaderMap) {
    let context = Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
