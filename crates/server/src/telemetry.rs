//! Logs and traces: structured logs (pretty or JSON, filtered by
//! `RUST_LOG`) and, when an OTLP endpoint is configured, kurz's spans
//! exported over OTLP/HTTP (ADR 0018).
//!
//! Export never blocks a request: finished spans go to a bounded queue that
//! a background thread sends in batches; when the collector is slow or
//! down the queue fills and further spans are dropped.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// Whether spans are exported: the redirect path makes its spans only
/// then (a span per redirect would cost more than the redirect).
static EXPORTING: AtomicBool = AtomicBool::new(false);

pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Spans waiting for export at most; past it they are dropped.
const EXPORT_QUEUE: usize = 4096;
/// How often a batch goes out.
const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// Longest one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("setting up the OTLP exporter: {0}")]
pub struct TelemetryError(String);

/// Flushes the spans still queued when dropped (at exit).
#[derive(Debug, Default)]
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            // A collector that is down must not hold the exit up for long:
            // the export time-out bounds this.
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber: logs, and spans to `otlp_endpoint` when
/// given. A second call (tests) leaves the first in place.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Guard, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let ansi = std::io::stderr().is_terminal();
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(filter);
    let (traces, provider) = match otlp_endpoint {
        Some(endpoint) => {
            let provider = tracer_provider(endpoint)?;
            let tracer = provider.tracer("kurz");
            // kurz's own spans only: the exporter's HTTP client, the
            // drivers and hyper would otherwise trace their own exports.
            // The store's spans are `debug`, so that the logs (at `info`)
            // do not make them on every cache miss when nothing exports.
            let only_kurz = Targets::new()
                .with_target("kurz_server", LevelFilter::INFO)
                .with_target("kurz_store", LevelFilter::DEBUG)
                .with_target("kurz", LevelFilter::INFO);
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(only_kurz);
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Guard(provider.filter(|_| installed)))
}

/// The provider that batches spans to `endpoint` (`/v1/traces` is added
/// when the URL has no path).
fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let mut url = url::Url::parse(endpoint).map_err(|e| TelemetryError(e.to_string()))?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/v1/traces");
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(url.as_str())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TelemetryError(e.to_string()))?;
    let batches = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(EXPORT_QUEUE)
                .with_scheduled_delay(EXPORT_DELAY)
                .build(),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_resource(Resource::builder().with_service_name("kurz").build())
        .build())
}
