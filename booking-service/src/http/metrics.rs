//! Minimal Prometheus metrics: requests and their duration per route and status.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// (method, route pattern, status).
type Key = (String, String, u16);

/// Counters keyed by (method, route pattern, status): (count, total seconds).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<Key, (u64, f64)>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().expect("metrics lock");
        let e = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    /// The Prometheus text exposition.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests by route and status.\n# TYPE http_requests_total counter\n");
        let map = self.requests.lock().expect("metrics lock");
        for ((m, r, s), (n, _)) in map.iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str("# HELP http_request_duration_seconds_sum Total time spent answering, by route and status.\n# TYPE http_request_duration_seconds_sum counter\n");
        for ((m, r, s), (_, secs)) in map.iter() {
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {secs:.6}"
            );
        }
        let _ = writeln!(out, "# HELP db_pool_connections Open database connections.\n# TYPE db_pool_connections gauge\ndb_pool_connections {pool_size}");
        let _ = writeln!(out, "# HELP db_pool_idle_connections Idle database connections.\n# TYPE db_pool_idle_connections gauge\ndb_pool_idle_connections {pool_idle}");
        let checks = crate::staff::accounts::password_checks();
        let _ = writeln!(out, "# HELP staff_password_checks_total Staff passwords checked (Argon2 runs).\n# TYPE staff_password_checks_total counter\nstaff_password_checks_total {checks}");
        let refused = crate::ants::health::refused_token_answers();
        let _ = writeln!(out, "# HELP ants_unauthorized_total ANTS answers refusing our token (401/403).\n# TYPE ants_unauthorized_total counter\nants_unauthorized_total {refused}");
        out
    }
}

/// Middleware recording each request.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}
