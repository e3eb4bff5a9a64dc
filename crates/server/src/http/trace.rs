//! Request tracing: a trace ID for every request, taken from a W3C
//! `traceparent` header when there is a valid one, returned in `x-trace-id`;
//! the request's metrics; its span, exported when OTLP is configured; and
//! one log line per request: at `info` for the API and the pages, at
//! `debug` for redirects (ADR 0014). Neither the query string (it may carry
//! secrets), nor headers, nor the client IP is logged.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{Metrics, REDIRECT_ROUTE};
use crate::telemetry;

/// Constant names: a header named by a `&str` is parsed on every use, and
/// every redirect reads one and writes the other.
const TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The 32-hex-digit trace ID of a valid `traceparent`, as W3C Trace
/// Context reads it (and as the exporter's propagator does, so both agree):
/// version `00` has exactly four fields; a later version at least four, of
/// which the first four are read; `ff` is invalid; neither ID may be all
/// zeros.
fn from_traceparent(value: &str) -> Option<&str> {
    let hex = |s: &str, n| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest_ok = match version {
        "00" => parts.next().is_none(),
        "ff" => false,
        _ => true,
    };
    let valid = rest_ok
        && hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && nonzero(trace)
        && nonzero(parent);
    valid.then_some(trace)
}

/// A trace ID: 32 lowercase hex digits, on the stack (one is made for
/// every redirect).
#[derive(Clone, Copy)]
pub(crate) struct TraceId([u8; 32]);

impl TraceId {
    fn new() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut n = rand::random::<u128>();
        let mut digits = [0u8; 32];
        for d in digits.iter_mut().rev() {
            *d = HEX[(n & 0xf) as usize];
            n >>= 4;
        }
        Self(digits)
    }

    /// From a `traceparent`'s trace ID, already checked to be 32 hex
    /// digits.
    fn from_hex(hex: &str) -> Option<Self> {
        hex.as_bytes().try_into().ok().map(Self)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Hex digits only, by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trace ID of a request: its `traceparent`'s, or a new one.
pub(crate) fn trace_id(headers: &HeaderMap) -> TraceId {
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(from_traceparent)
        .and_then(TraceId::from_hex)
        .unwrap_or_else(TraceId::new)
}

/// The span of one request and its trace ID. The span exists when spans
/// are exported or `logged` asks for it (the API's log line carries its
/// fields). When exported, the caller's `traceparent` continues (the span
/// is its child) or a new trace starts, and the trace ID answered is the
/// exported trace's either way.
pub(crate) fn request_span(
    headers: &HeaderMap,
    method: &Method,
    route: &str,
    logged: bool,
) -> (tracing::Span, TraceId) {
    let exporting = telemetry::exporting();
    if !exporting && !logged {
        return (tracing::Span::none(), trace_id(headers));
    }
    let span = tracing::info_span!("request", trace_id = Empty, %method, route, status = Empty);
    let id = if exporting {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(parent);
        let exported = span.context().span().span_context().trace_id();
        TraceId::from_hex(&format!("{exported:032x}")).unwrap_or_else(TraceId::new)
    } else {
        trace_id(headers)
    };
    span.record("trace_id", id.as_str());
    (span, id)
}

/// `traceparent` (and `tracestate`) as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Puts the trace ID on an answer.
pub(crate) fn set_trace_header(response: &mut Response, trace_id: &TraceId) {
    if let Ok(v) = HeaderValue::from_bytes(&trace_id.0) {
        response.headers_mut().insert(TRACE_HEADER, v);
    }
}

/// What every answered redirect gets, from the router or the hot path:
/// its metrics, its log line (`debug`, or `warn` when it failed on our
/// side: at a hundred thousand redirects a second, a line each would cost
/// more than the redirect, ADR 0014), its span's status and the trace
/// header.
pub(crate) fn finish_redirect(
    metrics: &Metrics,
    (span, trace_id): (&tracing::Span, &TraceId),
    method: &Method,
    started: Instant,
    response: &mut Response,
) {
    let took = started.elapsed();
    let status = response.status();
    metrics.redirect_request(method, status, took);
    let (id, status, micros) = (trace_id.as_str(), status.as_u16(), micros(took));
    if status >= 500 {
        tracing::warn!(trace_id = id, %method, route = REDIRECT_ROUTE, status, micros, "request");
    } else {
        tracing::debug!(trace_id = id, %method, route = REDIRECT_ROUTE, status, micros, "request");
    }
    span.record("status", status);
    set_trace_header(response, trace_id);
}

/// The layer every routed request goes through: trace ID, metrics, span,
/// log line.
pub async fn trace(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("(none)", MatchedPath::as_str);
    let method = req.method().clone();
    let started = Instant::now();
    let redirect = route == REDIRECT_ROUTE;
    let (span, trace_id) = request_span(req.headers(), &method, route, !redirect);
    let mut response = next.run(req).instrument(span.clone()).await;
    if redirect {
        finish_redirect(
            &metrics,
            (&span, &trace_id),
            &method,
            started,
            &mut response,
        );
        return response;
    }
    let status = response.status();
    let took = started.elapsed();
    metrics.request(route, &method, status, took);
    span.in_scope(|| tracing::info!(status = status.as_u16(), micros = micros(took), "request"));
    // After the log line, which carries the status itself: for the
    // exported span.
    span.record("status", status.as_u16());
    set_trace_header(&mut response, &trace_id);
    response
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_gives_its_trace_id_only_when_valid() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            from_traceparent(good),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            from_traceparent("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(from_traceparent("garbage"), None);
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(from_traceparent(bad), None, "{bad}");
        }
        assert_eq!(
            from_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "a later version's first four fields are read"
        );
        let made = TraceId::new();
        assert_eq!(made.as_str().len(), 32);
        assert!(made
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(made.as_str(), TraceId::new().as_str());
    }
}
