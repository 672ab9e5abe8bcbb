//! Prometheus metrics through the `metrics` crate: one recorder per process state, not a global
//! one (several instances in one test process keep their own figures), histograms of answer
//! times per route, and labels that are interned `&'static str` (a request allocates nothing to
//! be counted). Shared by the booking service, the notifier and the registry.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

/// Bounds of the answer-time histogram, in seconds: from a memory read to a request timeout.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
];

/// A process's metrics.
pub struct Telemetry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Telemetry {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        let telemetry = Self { recorder, handle };
        telemetry.with(|| {
            metrics::describe_counter!("http_requests_total", "HTTP requests by route and status.");
            metrics::describe_histogram!(
                "http_request_duration_seconds",
                metrics::Unit::Seconds,
                "Time spent answering, by route and status."
            );
        });
        telemetry
    }
}

impl Telemetry {
    /// Runs `f` with this process's recorder: the `metrics` macros inside it record here.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Counts one answer and its time.
    pub fn request(&self, method: &'static str, route: &'static str, status: StatusCode, seconds: f64) {
        let status = intern(status.as_str());
        self.with(|| {
            metrics::counter!("http_requests_total", "method" => method, "route" => route, "status" => status)
                .increment(1);
            metrics::histogram!(
                "http_request_duration_seconds",
                "method" => method, "route" => route, "status" => status
            )
            .record(seconds);
        });
    }

    /// Adds one to counter `name` labelled `label = value` (`value` from a bounded set: kinds,
    /// outcomes).
    pub fn count(&self, name: &'static str, label: &'static str, value: &str) {
        let value = intern(value);
        self.with(|| metrics::counter!(name, label => value).increment(1));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// `/metrics`'s answer.
    pub fn response(&self) -> Response {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            self.render(),
        )
            .into_response()
    }
}

/// The one `&'static str` for `s`. The labels interned are route patterns, methods and statuses:
/// a bounded set, each leaked once.
fn intern(s: &str) -> &'static str {
    static SEEN: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let seen = SEEN.get_or_init(RwLock::default);
    if let Some(v) = seen.read().expect("intern lock").get(s) {
        return v;
    }
    let mut w = seen.write().expect("intern lock");
    if let Some(v) = w.get(s) {
        return v;
    }
    let v: &'static str = Box::leak(s.to_owned().into_boxed_str());
    w.insert(v);
    v
}

/// Middleware counting every answer under its route pattern (never the path itself: paths carry
/// tokens and identifiers).
pub async fn track(State(telemetry): State<Arc<Telemetry>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => intern(m),
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| intern(p.as_str()));
    let resp = next.run(req).await;
    telemetry.request(method, route, resp.status(), started.elapsed().as_secs_f64());
    resp
}

/// `healthcheck --url`: exit status 0 when `url` answers 200 within 2 s. Container images have
/// no shell nor curl; their health check runs the service's own binary.
pub async fn probe(url: &str) -> anyhow::Result<()> {
    let answer = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()?
        .get(url)
        .send()
        .await?;
    anyhow::ensure!(answer.status().is_success(), "{url} answered {}", answer.status());
    Ok(())
}
