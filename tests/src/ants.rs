//! A local stand-in for the ANTS coordination API, following the published contract (ants.md):
//! `GET /status`, `POST /appointments`, `DELETE /appointments`, every parameter in the query string,
//! token in `x-rdv-opt-auth-token`. It answers each number's status on demand, records declarations
//! (rejecting a duplicate with "already exists" and a `management_url` reused by another number),
//! logs every call in order, and can be made slow or down.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One declared appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub application_id: String,
    pub meeting_point_id: String,
    pub meeting_point: String,
    pub appointment_date: String,
    pub management_url: String,
}

/// A call as ANTS received it: (method, application_id, meeting_point_id, appointment_date).
pub type Call = (String, String, String, String);

#[derive(Default)]
struct Inner {
    statuses: HashMap<String, String>,
    declarations: Vec<Declaration>,
    calls: Vec<Call>,
    down: bool,
    delay_ms: u64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeAnts {
    pub url: String,
    pub token: String,
    inner: Arc<Mutex<Inner>>,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl FakeAnts {
    /// Starts on a free port; numbers are `validated` unless told otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let token = "ants-test-token".to_string();
        let app = Router::new()
            .route("/api/status", get(status))
            .route("/api/appointments", axum::routing::post(declare).delete(withdraw))
            .with_state((inner.clone(), token.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/api", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            token,
            inner,
            _server: Arc::new(server),
        }
    }

    /// Sets a number's status (`validated`, `consumed`, `declared`, `unknown`, `expired`).
    pub fn set_status(&self, number: &str, status: &str) {
        self.inner
            .lock()
            .expect("lock")
            .statuses
            .insert(number.to_string(), status.to_string());
    }

    /// Another editor's appointment for a number.
    pub fn add_foreign(&self, number: &str, meeting_point: &str, date: &str) {
        self.inner.lock().expect("lock").declarations.push(Declaration {
            application_id: number.to_string(),
            meeting_point_id: "autre-editeur-1".into(),
            meeting_point: meeting_point.to_string(),
            appointment_date: date.to_string(),
            management_url: format!("https://autre-editeur.example/rdv/{number}"),
        });
    }

    /// Forgets a declaration (ANTS lost it).
    pub fn forget(&self, number: &str) {
        self.inner
            .lock()
            .expect("lock")
            .declarations
            .retain(|d| d.application_id != number);
    }

    /// Adds a declaration as if we had made it (a stale one).
    pub fn inject(&self, d: Declaration) {
        self.inner.lock().expect("lock").declarations.push(d);
    }

    /// Answer 503 to everything (or stop doing so).
    pub fn set_down(&self, down: bool) {
        self.inner.lock().expect("lock").down = down;
    }

    /// Wait this long before each answer.
    pub fn set_delay(&self, ms: u64) {
        self.inner.lock().expect("lock").delay_ms = ms;
    }

    /// Every successful call, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().expect("lock").calls.clone()
    }

    /// The declarations ANTS holds now.
    pub fn declarations(&self) -> Vec<Declaration> {
        self.inner.lock().expect("lock").declarations.clone()
    }
}

type Shared = (Arc<Mutex<Inner>>, String);

async fn gate(state: &Shared, headers: &HeaderMap) -> Option<Response> {
    let (down, delay) = {
        let i = state.0.lock().expect("lock");
        (i.down, i.delay_ms)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if down {
        return Some((StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response());
    }
    let token = headers
        .get("x-rdv-opt-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (token != state.1)
        .then(|| (StatusCode::UNAUTHORIZED, Json(json!({"detail": "invalid token"}))).into_response())
}

fn params(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn one(p: &[(String, String)], key: &str) -> Option<String> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn status(State(s): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Some(r) = gate(&s, &headers).await {
        return r;
    }
    let p = params(raw);
    if one(&p, "meeting_point_id").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "meeting_point_id required"})),
        )
            .into_response();
    }
    let inner = s.0.lock().expect("lock");
    let mut out = serde_json::Map::new();
    for (_, id) in p.iter().filter(|(k, _)| k == "application_ids") {
        let appointments: Vec<Value> = inner
            .declarations
            .iter()
            .filter(|d| &d.application_id == id)
            .map(|d| {
                json!({"management_url": d.management_url, "meeting_point": d.meeting_point,
                       "meeting_point_id": d.meeting_point_id, "appointment_date": d.appointment_date})
            })
            .collect();
        let st = inner
            .statuses
            .get(id)
            .cloned()
            .unwrap_or_else(|| "validated".into());
        out.insert(id.clone(), json!({"status": st, "appointments": appointments}));
    }
    Json(Value::Object(out)).into_response()
}

async fn declare(State(s): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Some(r) = gate(&s, &headers).await {
        return r;
    }
    let p = params(raw);
    let get = |k: &str| one(&p, k);
    let (Some(id), Some(mp_id), Some(mp), Some(date), Some(url)) = (
        get("application_id"),
        get("meeting_point_id"),
        get("meeting_point"),
        get("appointment_date"),
        get("management_url"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "missing parameter"})),
        )
            .into_response();
    };
    let mut inner = s.0.lock().expect("lock");
    if inner
        .declarations
        .iter()
        .any(|d| d.application_id == id && d.meeting_point_id == mp_id && d.appointment_date == date)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "Appointment already exists"})),
        )
            .into_response();
    }
    if inner
        .declarations
        .iter()
        .any(|d| d.management_url == url && d.application_id != id)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "management_url must be unique"})),
        )
            .into_response();
    }
    inner
        .calls
        .push(("POST".into(), id.clone(), mp_id.clone(), date.clone()));
    inner.declarations.push(Declaration {
        application_id: id,
        meeting_point_id: mp_id,
        meeting_point: mp,
        appointment_date: date,
        management_url: url,
    });
    Json(json!({"success": true})).into_response()
}

async fn withdraw(State(s): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Some(r) = gate(&s, &headers).await {
        return r;
    }
    let p = params(raw);
    let get = |k: &str| one(&p, k);
    let (Some(id), Some(mp_id), Some(_), Some(date)) = (
        get("application_id"),
        get("meeting_point_id"),
        get("meeting_point"),
        get("appointment_date"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "missing parameter"})),
        )
            .into_response();
    };
    let mut inner = s.0.lock().expect("lock");
    let before = inner.declarations.len();
    inner
        .declarations
        .retain(|d| !(d.application_id == id && d.meeting_point_id == mp_id && d.appointment_date == date));
    let n = before - inner.declarations.len();
    inner.calls.push(("DELETE".into(), id, mp_id, date));
    Json(json!({"rowcount": n})).into_response()
}
