//! A local stand-in for the ANTS coordination API that answers like the real one as far as it is
//! known (ants.md, and what the editors in production found): `GET /status`, `POST /appointments`,
//! `DELETE /appointments`, every parameter in the query string, token in `x-rdv-opt-auth-token`.
//!
//! Known behaviour it reproduces:
//! - `status` entries carry no `meeting_point_id` (rdv-service-public, PR #5064, against ANTS's
//!   integration API);
//! - a POST whose `management_url` is already held, for any number, is refused with "Already
//!   exists in database" (rdv-service-public, issues #4318 and #4779);
//! - a DELETE removes every entry of the number at that `meeting_point` and `appointment_date`
//!   (the parameters ANTS requires) and answers `{"rowcount": n}`;
//! - a wrong token gets 401 `{"detail": "X-RDV-OPT-AUTH-TOKEN header invalid"}`
//!   (rdv-service-public, spec/services/ants_api_spec.rb).
//!
//! Inferred, not documented: `status` writes `appointment_date` back as a serialised datetime
//! (`2026-12-02T09:00:00`), not in the `2026-12-02 09:00:00` form editors send: the hub's own
//! parser only reads the `T` forms, and its regularisation could never match otherwise.
//!
//! It also plays the hub's "regularisation" ([`FakeAnts::play_hub_search`]), logs every call in
//! order, and can be made slow or down.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDateTime};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One declared appointment, as its author sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub application_id: String,
    /// Empty when the author sent none (the hub's regularisation does not).
    pub meeting_point_id: String,
    pub meeting_point: String,
    pub appointment_date: String,
    pub management_url: String,
}

/// A write as ANTS received it: (method, application_id, meeting_point_id, appointment_date), the
/// date normalised to `YYYY-MM-DD HH:MM:SS` whatever form the caller used.
pub type Call = (String, String, String, String);

/// A `status` call: the numbers asked, and the `meeting_point_id` sent (ANTS wants it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCall {
    pub application_ids: Vec<String>,
    pub meeting_point_id: Option<String>,
}

/// What one play of the hub's `searchApplicationIds` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Regularisation {
    /// Editor appointments the hub found in ANTS's `status`.
    pub matched: usize,
    /// Editor appointments it did not find, and POSTed to ANTS itself.
    pub posted: usize,
    /// Of those POSTs, how many ANTS refused (e.g. "Already exists in database").
    pub refused: usize,
}

#[derive(Default)]
struct Inner {
    statuses: HashMap<String, String>,
    declarations: Vec<Declaration>,
    calls: Vec<Call>,
    status_calls: Vec<StatusCall>,
    refused_tokens: usize,
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

/// A date as ANTS reads it (both forms, seconds optional, a trailing `Z` ignored).
fn read_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
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

    /// Every accepted write, in order (a POST only when recorded, every well-formed DELETE).
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().expect("lock").calls.clone()
    }

    /// Every `status` call with a valid token, in order.
    pub fn status_calls(&self) -> Vec<StatusCall> {
        self.inner.lock().expect("lock").status_calls.clone()
    }

    /// How many calls were refused for their token.
    pub fn refused_tokens(&self) -> usize {
        self.inner.lock().expect("lock").refused_tokens
    }

    /// The declarations ANTS holds now.
    pub fn declarations(&self) -> Vec<Declaration> {
        self.inner.lock().expect("lock").declarations.clone()
    }

    /// Plays the hub's `searchApplicationIds` for `ids` as its code does (hubrdvmairie,
    /// `searchApplicationIds` and `services/search_meetings.py`): asks the editor at `editor_base`,
    /// drops `cancel_url`, asks ANTS's `status` (without `meeting_point_id`), and for each editor
    /// appointment that no `status` entry matches on meeting point, date (read by the hub's own
    /// parser) and management URL, POSTs a "regularisation" to ANTS with the editor's values.
    pub async fn play_hub_search(
        &self,
        editor_base: &str,
        hub_header: &str,
        hub_token: &str,
        ids: &[String],
    ) -> Regularisation {
        let http = reqwest::Client::new();
        let ids_query: Vec<(&str, &str)> = ids.iter().map(|i| ("application_ids", i.as_str())).collect();
        let editor: Map<String, Value> = http
            .get(format!("{editor_base}/api/ants/searchApplicationIds"))
            .header(hub_header, hub_token)
            .query(&ids_query)
            .send()
            .await
            .expect("editor search")
            .json()
            .await
            .expect("editor JSON");
        let ants: Map<String, Value> = http
            .get(format!("{}/status", self.url))
            .header("x-rdv-opt-auth-token", &self.token)
            .query(&ids_query)
            .send()
            .await
            .expect("ANTS status")
            .json()
            .await
            .expect("ANTS JSON");
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        let mut done = Regularisation::default();
        for (id, list) in &editor {
            let known: Vec<(String, Option<NaiveDateTime>, String)> = ants
                .get(id)
                .and_then(|s| s["appointments"].as_array())
                .into_iter()
                .flatten()
                .map(|a| {
                    (
                        text(a, "meeting_point"),
                        hub_datetime_from_str(&text(a, "appointment_date")),
                        text(a, "management_url"),
                    )
                })
                .collect();
            for a in list.as_array().into_iter().flatten() {
                let (mp, when, url) = (
                    text(a, "meeting_point"),
                    text(a, "datetime"),
                    text(a, "management_url"),
                );
                let parsed = hub_datetime_from_str(&when);
                if known.iter().any(|k| k.0 == mp && k.1 == parsed && k.2 == url) {
                    done.matched += 1;
                    continue;
                }
                done.posted += 1;
                let resp = http
                    .post(format!("{}/appointments", self.url))
                    .header("x-rdv-opt-auth-token", &self.token)
                    .query(&[
                        ("application_id", id.as_str()),
                        ("meeting_point", mp.as_str()),
                        ("appointment_date", when.as_str()),
                        ("management_url", url.as_str()),
                    ])
                    .send()
                    .await
                    .expect("regularisation");
                if resp.status() != reqwest::StatusCode::OK {
                    done.refused += 1;
                }
            }
        }
        done
    }
}

/// The hub's `datetime_from_str`: `%Y-%m-%dT%H:%MZ`, `%Y-%m-%dT%H:%M:%S%z` (Python reads a `Z`
/// there too), `%Y-%m-%dT%H:%M:%S`; a numeric offset is *added* to the wall clock (its quirk); any
/// other form (`2026-12-02 09:00:00`) reads as nothing.
fn hub_datetime_from_str(s: &str) -> Option<NaiveDateTime> {
    if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ") {
        return Some(d);
    }
    if let Some(wall) = s.strip_suffix('Z') {
        if let Ok(d) = NaiveDateTime::parse_from_str(wall, "%Y-%m-%dT%H:%M:%S") {
            return Some(d);
        }
    }
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        let offset = i64::from(d.offset().local_minus_utc());
        return Some(d.naive_local() + ChronoDuration::seconds(offset));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()
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
    if token == state.1 {
        return None;
    }
    state.0.lock().expect("lock").refused_tokens += 1;
    Some(
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "X-RDV-OPT-AUTH-TOKEN header invalid"})),
        )
            .into_response(),
    )
}

fn params(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn one(p: &[(String, String)], key: &str) -> Option<String> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// FastAPI's answer to a missing or unreadable parameter.
fn invalid(what: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"loc": ["query", what], "msg": "field required or invalid"}]})),
    )
        .into_response()
}

async fn status(State(s): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Some(r) = gate(&s, &headers).await {
        return r;
    }
    let p = params(raw);
    let ids: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "application_ids")
        .map(|(_, v)| v.clone())
        .collect();
    let mut inner = s.0.lock().expect("lock");
    inner.status_calls.push(StatusCall {
        application_ids: ids.clone(),
        meeting_point_id: one(&p, "meeting_point_id"),
    });
    let mut out = Map::new();
    for id in &ids {
        let appointments: Vec<Value> = inner
            .declarations
            .iter()
            .filter(|d| &d.application_id == id)
            .map(|d| {
                let date = read_date(&d.appointment_date)
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                    .unwrap_or_else(|| d.appointment_date.clone());
                json!({"management_url": d.management_url, "meeting_point": d.meeting_point,
                       "appointment_date": date})
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
    let (Some(id), Some(mp), Some(date), Some(url)) = (
        get("application_id"),
        get("meeting_point"),
        get("appointment_date"),
        get("management_url"),
    ) else {
        return invalid("application_id, meeting_point, appointment_date, management_url");
    };
    let Some(when) = read_date(&date) else {
        return invalid("appointment_date");
    };
    let mp_id = get("meeting_point_id").unwrap_or_default();
    let mut inner = s.0.lock().expect("lock");
    // ANTS keys appointments by management link, whatever the number.
    if inner.declarations.iter().any(|d| d.management_url == url) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": "Already exists in database"})),
        )
            .into_response();
    }
    inner.calls.push((
        "POST".into(),
        id.clone(),
        mp_id.clone(),
        when.format("%Y-%m-%d %H:%M:%S").to_string(),
    ));
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
    let (Some(id), Some(mp), Some(date)) = (
        get("application_id"),
        get("meeting_point"),
        get("appointment_date"),
    ) else {
        return invalid("application_id, meeting_point, appointment_date");
    };
    let Some(when) = read_date(&date) else {
        return invalid("appointment_date");
    };
    let mp_id = get("meeting_point_id").unwrap_or_default();
    let mut inner = s.0.lock().expect("lock");
    let before = inner.declarations.len();
    inner.declarations.retain(|d| {
        !(d.application_id == id && d.meeting_point == mp && read_date(&d.appointment_date) == Some(when))
    });
    let n = before - inner.declarations.len();
    inner.calls.push((
        "DELETE".into(),
        id,
        mp_id,
        when.format("%Y-%m-%d %H:%M:%S").to_string(),
    ));
    Json(json!({"rowcount": n})).into_response()
}
