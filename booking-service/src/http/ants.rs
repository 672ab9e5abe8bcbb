//! The ANTS editor endpoints the national hub calls (`/api/ants/…`), in ANTS's own names, shapes and
//! time format (ants.md), and the public `/reserver` link the hub sends citizens to.

use super::availability::{calendar_with_holds, duration_for, motif_for_site, rfc3339_local, site_tz};
use super::AppState;
use crate::ants::{hub_datetime, management_url};
use crate::db::territory::SiteRow;
use crate::domain::citizen::PreDemandeNumber;
use crate::domain::motif::Motif;
use crate::error::{ApiError, ApiResult};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest `availableTimeSlots` range (the hub asks about 150 days).
const MAX_HUB_DAYS: i64 = 400;
/// Most meeting points in one request.
const MAX_HUB_IDS: usize = 500;

/// A refusal in ANTS's shapes.
pub enum HubError {
    /// 401 `{"error": "<header> header is missing or invalid"}`.
    Unauthorized(String),
    /// 400 `{"error": {"code": 400, "message": …}}`.
    BadRequest(String),
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        match self {
            HubError::Unauthorized(msg) => {
                (StatusCode::UNAUTHORIZED, Json(json!({ "error": msg }))).into_response()
            }
            HubError::BadRequest(msg) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"code": 400, "message": msg}})),
            )
                .into_response(),
        }
    }
}

/// The hub's shared secret, checked in constant time against every configured token.
fn check_hub(state: &AppState, headers: &HeaderMap) -> Result<(), HubError> {
    let hub = &state.config.ants_hub;
    let given = headers
        .get(hub.ants_hub_header.as_str())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = !given.is_empty()
        && hub.ants_hub_tokens.as_ref().is_some_and(|tokens| {
            tokens
                .expose()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .fold(false, |acc, t| {
                    acc | constant_time_eq(t.as_bytes(), given.as_bytes())
                })
        });
    if ok {
        Ok(())
    } else {
        Err(HubError::Unauthorized(format!(
            "{} header is missing or invalid",
            hub.ants_hub_header
        )))
    }
}

/// Whether two secrets are equal, in time independent of where they differ.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hub_error(message: &str) -> HubError {
    HubError::BadRequest(message.to_string())
}

/// A meeting point as the hub validates it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingPoint {
    id: String,
    name: String,
    longitude: f64,
    latitude: f64,
    public_entry_address: String,
    zip_code: String,
    city_name: String,
    decoded_city_name: String,
    website: String,
}

/// Sites taking CNI or passport appointments, with every field the hub requires.
#[utoipa::path(get, path = "/api/ants/getManagedMeetingPoints", tag = "ants",
    params(("X-HUB-RDV-AUTH-TOKEN" = String, Header, description = "Jeton du hub (nom d'en-tête configurable)")),
    responses((status = 200, body = [MeetingPoint]), (status = 401, description = "Jeton absent ou invalide")))]
pub async fn get_managed_meeting_points(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_hub(&state, &headers) {
        return r.into_response();
    }
    let today = state.clock.now().date_naive();
    let rows = crate::db::ants::meeting_points(&state.pool, today - Duration::days(1)).await;
    match rows {
        Ok(rows) => {
            let website = format!("{}/", state.config.public_base_url());
            let points: Vec<MeetingPoint> = rows
                .into_iter()
                .map(|r| MeetingPoint {
                    id: r.id,
                    name: r.name,
                    longitude: r.longitude,
                    latitude: r.latitude,
                    public_entry_address: r.public_entry_address,
                    zip_code: r.zip_code,
                    city_name: r.city_name,
                    decoded_city_name: r.decoded_city_name,
                    website: website.clone(),
                })
                .collect();
            Json(points).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The parameters of `availableTimeSlots`, parsed by hand: `meeting_point_ids` repeats without brackets.
struct SlotsQuery {
    ids: Vec<String>,
    start: NaiveDate,
    end: NaiveDate,
    reason: Motif,
    documents: i32,
}

fn parse_slots_query(raw: Option<&str>) -> Result<SlotsQuery, HubError> {
    let mut ids = Vec::new();
    let (mut start, mut end, mut reason, mut docs) = (None, None, None, None);
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "meeting_point_ids" | "meeting_point_ids[]" => ids.push(v.trim().to_string()),
            "start_date" => start = Some(v.into_owned()),
            "end_date" => end = Some(v.into_owned()),
            "reason" => reason = Some(v.into_owned()),
            "documents_number" => docs = Some(v.into_owned()),
            _ => {}
        }
    }
    let date = |v: Option<String>, name: &str| -> Result<NaiveDate, HubError> {
        let v = v.ok_or_else(|| hub_error(&format!("Missing {name} param")))?;
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
            .map_err(|_| hub_error(&format!("Invalid {name} param")))
    };
    let (start, end) = (date(start, "start_date")?, date(end, "end_date")?);
    if start > end {
        return Err(hub_error("start_date must be before end_date"));
    }
    if (end - start).num_days() > MAX_HUB_DAYS {
        return Err(hub_error(&format!(
            "Date range too long (at most {MAX_HUB_DAYS} days)"
        )));
    }
    let reason = match reason.as_deref().map(str::trim) {
        None | Some("") => Motif::Cni,
        Some("CNI") => Motif::Cni,
        Some("PASSPORT") => Motif::Passport,
        Some("CNI-PASSPORT") => Motif::CniPassport,
        Some(_) => return Err(hub_error("Invalid reason param")),
    };
    let documents = match docs.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(d) => match d.parse::<i32>() {
            Ok(n) if (1..=20).contains(&n) => n,
            _ => return Err(hub_error("Invalid documents_number param")),
        },
    };
    if ids.len() > MAX_HUB_IDS {
        return Err(hub_error(&format!(
            "Too many meeting_point_ids (at most {MAX_HUB_IDS})"
        )));
    }
    Ok(SlotsQuery {
        ids,
        start,
        end,
        reason,
        documents,
    })
}

/// A slot in the hub's format.
#[derive(Debug, Serialize, ToSchema)]
pub struct HubSlot {
    /// Local wall-clock time with a literal `Z` (never an offset).
    datetime: String,
    /// Opens our booking of that site, motif, persons and start.
    callback_url: String,
}

/// The public link that books `start` at `site` (stable; the web pages render it).
pub fn reserve_url(
    state: &AppState,
    site: Uuid,
    motif: Motif,
    persons: i32,
    start: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("site", &site.to_string())
        .append_pair("motif", motif.code())
        .append_pair("persons", &persons.to_string())
        .append_pair("start", &rfc3339_local(start, tz))
        .finish();
    format!("{}/reserver?{query}", state.config.public_base_url())
}

/// Free slots of the asked meeting points, keyed by id; an unknown id gets `[]`.
#[utoipa::path(get, path = "/api/ants/availableTimeSlots", tag = "ants",
    params(
        ("X-HUB-RDV-AUTH-TOKEN" = String, Header, description = "Jeton du hub"),
        ("meeting_point_ids" = Vec<String>, Query, description = "Répété, sans crochets"),
        ("start_date" = String, Query, description = "AAAA-MM-JJ"),
        ("end_date" = String, Query, description = "AAAA-MM-JJ"),
        ("reason" = Option<String>, Query, description = "CNI (défaut), PASSPORT, CNI-PASSPORT"),
        ("documents_number" = Option<i32>, Query, description = "Nombre de personnes (défaut 1)")),
    responses((status = 200, description = "Objet : identifiant → créneaux", body = Object),
              (status = 400, description = "Paramètre invalide"), (status = 401, description = "Jeton absent ou invalide")))]
pub async fn available_time_slots(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = check_hub(&state, &headers) {
        return r.into_response();
    }
    let q = match parse_slots_query(raw.as_deref()) {
        Ok(q) => q,
        Err(r) => return r.into_response(),
    };
    match slots_by_point(&state, q).await {
        Ok(points) => Json(points).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Each asked meeting point with its slots, in the order asked, each once.
pub struct PointSlots(Vec<(String, Vec<HubSlot>)>);

impl Serialize for PointSlots {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(id, slots)| (id, slots)))
    }
}

/// The computation of one meeting point's slots.
type SiteTask = tokio::task::JoinHandle<ApiResult<Vec<HubSlot>>>;

/// Sites from the read model; each site computed on its own task, so that the hub's one large
/// request uses every core.
async fn slots_by_point(state: &AppState, q: SlotsQuery) -> ApiResult<PointSlots> {
    let q = std::sync::Arc::new(q);
    let now = state.clock.now();
    let mut asked: Vec<(String, Option<SiteTask>)> = Vec::new();
    for raw_id in &q.ids {
        if asked.iter().any(|(id, _)| id == raw_id) {
            continue;
        }
        let site = match Uuid::parse_str(raw_id) {
            Ok(id) => crate::service::availability::find_site(state, id).await.ok(),
            Err(_) => None,
        };
        let task = site.map(|site| {
            let (state, q) = (state.clone(), q.clone());
            tokio::spawn(async move { site_slots(&state, &site, &q, now).await })
        });
        asked.push((raw_id.clone(), task));
    }
    let mut out = Vec::with_capacity(asked.len());
    for (id, task) in asked {
        let slots = match task {
            None => Vec::new(),
            Some(t) => t.await.map_err(ApiError::internal)??,
        };
        out.push((id, slots));
    }
    Ok(PointSlots(out))
}

async fn site_slots(
    state: &AppState,
    site: &SiteRow,
    q: &SlotsQuery,
    now: DateTime<Utc>,
) -> ApiResult<Vec<HubSlot>> {
    // A site without this motif, or not for so many persons, simply has no slot for the hub.
    let settings = crate::service::availability::settings(state, &[site.id]).await?;
    let Ok(setting) = motif_for_site(&settings, site.id, q.reason, q.documents) else {
        return Ok(Vec::new());
    };
    let tz = site_tz(site)?;
    let today = now.with_timezone(&tz).date_naive();
    let from = q.start.max(today);
    if from > q.end {
        return Ok(Vec::new());
    }
    let cal = calendar_with_holds(state, site, tz, from, q.end).await?;
    let duration = duration_for(&setting, q.documents);
    Ok(cal
        .slots(from, q.end, duration, now)
        .into_iter()
        .map(|s| HubSlot {
            datetime: hub_datetime(s.start, tz),
            callback_url: reserve_url(state, site.id, q.reason, q.documents, s.start, tz),
        })
        .collect())
}

/// What ANTS shows of one of our appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct HubAppointment {
    meeting_point: String,
    datetime: String,
    management_url: String,
    cancel_url: String,
}

/// Our live appointments for each asked pré-demande number; an unknown one gets `[]`.
#[utoipa::path(get, path = "/api/ants/searchApplicationIds", tag = "ants",
    params(("X-HUB-RDV-AUTH-TOKEN" = String, Header, description = "Jeton du hub"),
           ("application_ids" = Vec<String>, Query, description = "Répété, sans crochets")),
    responses((status = 200, description = "Objet : numéro → rendez-vous", body = Object),
              (status = 401, description = "Jeton absent ou invalide")))]
pub async fn search_application_ids(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = check_hub(&state, &headers) {
        return r.into_response();
    }
    let asked: Vec<String> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "application_ids" || k == "application_ids[]")
        .map(|(_, v)| v.into_owned())
        .take(MAX_HUB_IDS)
        .collect();
    let normalized: Vec<String> = asked
        .iter()
        .filter_map(|a| PreDemandeNumber::parse(a).ok())
        .map(|n| n.as_str().to_string())
        .collect();
    let rows = match crate::db::ants::live_numbers(&state.pool, &normalized).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let base = state.config.public_base_url();
    let mut out = Map::new();
    for a in &asked {
        let key = PreDemandeNumber::parse(a)
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        let list: Vec<Value> = rows
            .iter()
            .filter(|r| r.number == key)
            .filter_map(|r| {
                let token = state.sealer.open(r.manage_token_sealed.as_deref()?).ok()?;
                let tz: chrono_tz::Tz = r.timezone.parse().ok()?;
                serde_json::to_value(HubAppointment {
                    meeting_point: r.site_name.clone(),
                    datetime: hub_datetime(r.start, tz),
                    // The very link declared to ANTS: the hub compares it with ANTS's `status` and,
                    // when it differs, POSTs a "regularisation" entry that our cancellation would
                    // never withdraw.
                    management_url: management_url(&base, &token, &r.number),
                    cancel_url: format!("{base}/rdv/{token}/annuler"),
                })
                .ok()
            })
            .collect();
        out.insert(a.clone(), Value::Array(list));
    }
    Json(Value::Object(out)).into_response()
}
