//! `/metrics` in Prometheus's text format (DESIGN.md, "Operating it"; ADR
//! 0018). One registry per running app: the edge's own metrics (requests,
//! redirects, rate limits) beside the store's, the caches', the click
//! queue's and the process's.
//!
//! The redirect path records through handles resolved at start, so a
//! redirect costs a few atomic adds here and no label lookup.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::analytics::ClickQueue;

/// The route label of redirects.
pub const REDIRECT_ROUTE: &str = "/{slug}";

/// Request-time buckets: fine below a millisecond, where redirects are
/// (from 50 µs), coarse up to the 10 s of a slow API call.
const REQUEST_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The statuses a redirect usually answers, whose counters are resolved
/// at start.
const REDIRECT_STATUSES: [u16; 11] = [200, 301, 302, 303, 307, 308, 404, 410, 429, 500, 503];

/// What a redirect request came to, as `kurz_redirects_total{result}`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectResult {
    Redirect,
    NotFound,
    Gone,
    /// A password form or a confirmation page instead of the redirect.
    Protected,
}

/// Which budget refused a request, as `kurz_rate_limited_total{limit}`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Create,
    Api,
    Redirect,
    Password,
}

/// The app's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    /// `/{slug}` for GET and HEAD, by [`REDIRECT_STATUSES`].
    redirect_requests: [[IntCounter; REDIRECT_STATUSES.len()]; 2],
    redirect_duration: Histogram,
    /// Indexed by [`RedirectResult`].
    redirects: [IntCounter; 4],
    /// Indexed by [`Limit`].
    rate_limited: [IntCounter; 4],
}

/// The registry refused a metric: two collectors with one name, a bug.
#[derive(Debug, thiserror::Error)]
#[error("registering metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "kurz_http_requests_total",
                "HTTP requests answered, by route template, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "kurz_http_request_duration_seconds",
                "Time from the request's headers to its answer, by route template",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["route"],
        )?;
        let redirect_family = IntCounterVec::new(
            Opts::new(
                "kurz_redirects_total",
                "Redirect requests by result: redirect, not_found, gone, protected",
            ),
            &["result"],
        )?;
        let limited_family = IntCounterVec::new(
            Opts::new(
                "kurz_rate_limited_total",
                "Requests refused by a rate limit: create, api, redirect, password",
            ),
            &["limit"],
        )?;
        let build_info = IntGauge::with_opts(
            Opts::new("kurz_build_info", "The running build; always 1")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build_info.set(1);

        let per_status = |method: &str| {
            REDIRECT_STATUSES.map(|status| {
                requests.with_label_values(&[REDIRECT_ROUTE, method, &status.to_string()])
            })
        };
        let metrics = Self {
            redirect_requests: [per_status("GET"), per_status("HEAD")],
            redirect_duration: durations.with_label_values(&[REDIRECT_ROUTE]),
            redirects: ["redirect", "not_found", "gone", "protected"]
                .map(|r| redirect_family.with_label_values(&[r])),
            rate_limited: ["create", "api", "redirect", "password"]
                .map(|l| limited_family.with_label_values(&[l])),
            requests,
            durations,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(metrics.requests.clone()))?;
        r.register(Box::new(metrics.durations.clone()))?;
        r.register(Box::new(redirect_family))?;
        r.register(Box::new(limited_family))?;
        r.register(Box::new(build_info))?;
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(metrics)
    }

    /// Where the store, the caches and others add their collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Adds the click queue's metrics.
    pub fn register_clicks(&self, queue: Arc<ClickQueue>) -> Result<(), MetricsError> {
        let flush = queue.metrics.flush_seconds.clone();
        self.registry.register(Box::new(QueueCollector(queue)))?;
        self.registry.register(Box::new(flush))?;
        Ok(())
    }

    /// One answered request of `route` (a template, never a raw path).
    pub fn request(&self, route: &str, method: &Method, status: StatusCode, took: Duration) {
        self.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.durations
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    /// One answered request of the redirect route.
    pub fn redirect_request(&self, method: &Method, status: StatusCode, took: Duration) {
        let by_method = match *method {
            Method::GET => Some(&self.redirect_requests[0]),
            Method::HEAD => Some(&self.redirect_requests[1]),
            _ => None,
        };
        let resolved = by_method.and_then(|counters| {
            REDIRECT_STATUSES
                .iter()
                .position(|&s| s == status.as_u16())
                .map(|i| &counters[i])
        });
        match resolved {
            Some(counter) => counter.inc(),
            None => self
                .requests
                .with_label_values(&[REDIRECT_ROUTE, method_label(method), status.as_str()])
                .inc(),
        }
        self.redirect_duration.observe(took.as_secs_f64());
    }

    pub fn redirect(&self, result: RedirectResult) {
        self.redirects[result as usize].inc();
    }

    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited[limit as usize].inc();
    }

    /// Everything registered, in the text format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec fails only on families prometheus itself
        // would not build.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// The method as a label: HTTP's own, or `other`. A client may send any
/// token as a method, and one series per invented method would grow the
/// registry without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The click queue's counters, and its depth read at scrape time.
struct QueueCollector(Arc<ClickQueue>);

impl Collector for QueueCollector {
    fn desc(&self) -> Vec<&Desc> {
        let m = &self.0.metrics;
        [m.recorded.desc(), m.dropped.desc(), m.depth.desc()].concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let m = &self.0.metrics;
        m.depth
            .set(i64::try_from(self.0.depth()).unwrap_or(i64::MAX));
        [m.recorded.collect(), m.dropped.collect(), m.depth.collect()].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_dashboards_rely_on_are_rendered() {
        let m = Metrics::new().expect("metrics");
        m.register_clicks(Arc::new(ClickQueue::new(4, 2)))
            .expect("clicks");
        m.redirect_request(&Method::GET, StatusCode::FOUND, Duration::from_micros(80));
        m.redirect_request(&Method::POST, StatusCode::OK, Duration::from_micros(80));
        m.request(
            "/api/v1/links",
            &Method::POST,
            StatusCode::CREATED,
            Duration::from_millis(3),
        );
        for invented in ["FOO1", "FOO2"] {
            let method = Method::from_bytes(invented.as_bytes()).expect("a token");
            m.request("(none)", &method, StatusCode::NOT_FOUND, Duration::ZERO);
        }
        m.redirect(RedirectResult::Redirect);
        m.rate_limited(Limit::Redirect);
        let text = String::from_utf8(m.render()).expect("utf-8");
        for line in [
            r#"kurz_http_requests_total{method="GET",route="/{slug}",status="302"} 1"#,
            r#"kurz_http_requests_total{method="POST",route="/{slug}",status="200"} 1"#,
            r#"kurz_http_requests_total{method="POST",route="/api/v1/links",status="201"} 1"#,
            r#"kurz_http_request_duration_seconds_bucket{route="/{slug}",le="0.0001"} 2"#,
            r#"kurz_http_request_duration_seconds_bucket{route="/{slug}",le="0.00005"} 0"#,
            r#"kurz_http_requests_total{method="other",route="(none)",status="404"} 2"#,
            r#"kurz_redirects_total{result="redirect"} 1"#,
            r#"kurz_redirects_total{result="gone"} 0"#,
            r#"kurz_rate_limited_total{limit="redirect"} 1"#,
            r#"kurz_build_info{version=""#,
            "kurz_clicks_total 0",
            "kurz_click_details_dropped_total 0",
            "kurz_click_queue_depth 0",
            "kurz_click_flush_duration_seconds_count 0",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_cpu_seconds_total ",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("FOO"), "invented methods are not labels");
    }
}
