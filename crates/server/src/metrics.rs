//! `/metrics` in Prometheus's text format (DESIGN.md, "Operating it"; ADR
//! 0018). One registry per running app: the edge's own metrics (requests,
//! redirects, rate limits) beside the store's, the caches', the click
//! queue's and the process's.
//!
//! The redirect path records into counters striped by thread (no label
//! lookup, no cache line shared between cores), summed at scrape time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use kurz_store::metrics::{Striped, StripedCounters};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, Bucket, LabelPair, Metric, MetricFamily};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
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
    /// The redirect path's budget of "no such link" answers (ADR 0019).
    NotFound,
    Report,
    /// Logins to the web UI, per user name and per client.
    Login,
}

/// The app's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    edge: Arc<Edge>,
    /// Indexed by [`Limit`].
    rate_limited: [IntCounter; 7],
    /// The last render, and when it was made.
    rendered: Mutex<Option<(Instant, Bytes)>>,
}

/// How long a render is served again.
pub const RENDER_EVERY: Duration = Duration::from_millis(250);

/// The request and redirect families. The redirect route's series are
/// counted in [`Striped`] counters (a redirect touches no cache line
/// another core writes) and brought into the families at scrape time.
#[derive(Debug)]
struct Edge {
    requests: IntCounterVec,
    durations: HistogramVec,
    redirect_family: IntCounterVec,
    /// `/{slug}` GET and HEAD by [`REDIRECT_STATUSES`], then the four
    /// [`RedirectResult`]s.
    redirect_counts: StripedCounters,
    /// `/{slug}`'s time: one counter per bucket of [`REQUEST_BUCKETS`],
    /// one past the last (`+Inf`), then the sum in nanoseconds.
    redirect_times: Striped,
    /// [`REQUEST_BUCKETS`] in nanoseconds.
    bounds_nanos: Vec<u64>,
}

const RESULTS_AT: usize = 2 * REDIRECT_STATUSES.len();
const SUM_AT: usize = REQUEST_BUCKETS.len() + 1;

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
                "Requests refused by a rate limit: create, api, redirect, password, not_found, report",
            ),
            &["limit"],
        )?;
        let build_info = IntGauge::with_opts(
            Opts::new("kurz_build_info", "The running build; always 1")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build_info.set(1);

        let mut targets = Vec::with_capacity(RESULTS_AT + 4);
        for method in ["GET", "HEAD"] {
            for status in REDIRECT_STATUSES {
                targets.push(requests.with_label_values(&[
                    REDIRECT_ROUTE,
                    method,
                    &status.to_string(),
                ]));
            }
        }
        for result in ["redirect", "not_found", "gone", "protected"] {
            targets.push(redirect_family.with_label_values(&[result]));
        }
        let edge = Arc::new(Edge {
            redirect_counts: StripedCounters::new(targets),
            redirect_times: Striped::new(SUM_AT + 1),
            bounds_nanos: REQUEST_BUCKETS
                .iter()
                .map(|s| (s * 1e9).round() as u64)
                .collect(),
            requests,
            durations,
            redirect_family,
        });
        let metrics = Self {
            rate_limited: [
                "create",
                "api",
                "redirect",
                "password",
                "not_found",
                "report",
                "login",
            ]
            .map(|l| limited_family.with_label_values(&[l])),
            edge: edge.clone(),
            registry,
            rendered: Mutex::new(None),
        };
        let r = &metrics.registry;
        r.register(Box::new(EdgeCollector(edge)))?;
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
        let e = &self.edge;
        e.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        e.durations
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    /// One answered request of the redirect route.
    pub fn redirect_request(&self, method: &Method, status: StatusCode, took: Duration) {
        let e = &self.edge;
        let row = match *method {
            Method::GET => Some(0),
            Method::HEAD => Some(1),
            _ => None,
        };
        let column = REDIRECT_STATUSES.iter().position(|&s| s == status.as_u16());
        match (row, column) {
            (Some(row), Some(column)) => e
                .redirect_counts
                .inc(row * REDIRECT_STATUSES.len() + column),
            _ => e
                .requests
                .with_label_values(&[REDIRECT_ROUTE, method_label(method), status.as_str()])
                .inc(),
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = e.bounds_nanos.partition_point(|&bound| bound < nanos);
        e.redirect_times.add(bucket, 1);
        e.redirect_times.add(SUM_AT, nanos);
    }

    pub fn redirect(&self, result: RedirectResult) {
        self.edge.redirect_counts.inc(RESULTS_AT + result as usize);
    }

    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited[limit as usize].inc();
    }

    /// Everything registered, in the text format; rendered at most once
    /// per [`RENDER_EVERY`], however often it is asked for (on the main
    /// listener anyone can ask, and a render lists the process's file
    /// descriptors).
    pub fn render(&self) -> Bytes {
        let mut last = self.rendered.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, text)) = last.as_ref() {
            if at.elapsed() < RENDER_EVERY {
                return text.clone();
            }
        }
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec fails only on families prometheus itself
        // would not build.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        let text = Bytes::from(out);
        *last = Some((Instant::now(), text.clone()));
        text
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

/// The request and redirect families, with the redirect route's striped
/// counts brought in.
struct EdgeCollector(Arc<Edge>);

impl Collector for EdgeCollector {
    fn desc(&self) -> Vec<&Desc> {
        let e = &self.0;
        [
            e.requests.desc(),
            e.durations.desc(),
            e.redirect_family.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let e = &self.0;
        e.redirect_counts.sync();
        let mut durations = e.durations.collect();
        if let Some(family) = durations.first_mut() {
            family.mut_metric().push(e.redirect_histogram());
        }
        [e.requests.collect(), durations, e.redirect_family.collect()].concat()
    }
}

impl Edge {
    /// `/{slug}`'s series of the duration histogram, from its striped
    /// buckets.
    fn redirect_histogram(&self) -> Metric {
        let mut cumulative = 0;
        let buckets = REQUEST_BUCKETS
            .iter()
            .enumerate()
            .map(|(i, &bound)| {
                cumulative += self.redirect_times.sum(i);
                let mut b = Bucket::default();
                b.set_upper_bound(bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let count = cumulative + self.redirect_times.sum(REQUEST_BUCKETS.len());
        let mut h = proto::Histogram::default();
        h.set_bucket(buckets);
        h.set_sample_count(count);
        h.set_sample_sum(self.redirect_times.sum(SUM_AT) as f64 / 1e9);
        let mut route = LabelPair::default();
        route.set_name("route".into());
        route.set_value(REDIRECT_ROUTE.into());
        let mut m = Metric::default();
        m.set_label(vec![route]);
        m.set_histogram(h);
        m
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
        self.0.sync_metrics();
        let m = &self.0.metrics;
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
        let text = String::from_utf8(m.render().to_vec()).expect("utf-8");
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

    #[test]
    fn a_render_is_served_again_for_a_quarter_of_a_second() {
        let m = Metrics::new().expect("metrics");
        let first = m.render();
        m.redirect(RedirectResult::Gone);
        assert_eq!(m.render(), first, "asked again at once: the same render");
        std::thread::sleep(RENDER_EVERY);
        let later = String::from_utf8(m.render().to_vec()).expect("utf-8");
        assert!(later.contains(r#"kurz_redirects_total{result="gone"} 1"#));
    }
}
