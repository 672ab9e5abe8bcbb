//! `POST /api/v1/holds` and `DELETE /api/v1/holds/{hold_id}`: keep a slot while the form is filled.

use super::availability::{alternatives, duration_for, motif_for_site, rfc3339_local, site_tz};
use super::client::{check_write_rate, client_key, PeerAddr};
use super::extract::{Json, Path};
use super::sites::find_site;
use super::{params, AppState};
use crate::db::territory;
use crate::domain::motif::Motif;
use crate::error::{ApiError, ApiResult};
use crate::holds::store::HoldStore;
use crate::holds::token::{HoldClaims, InvalidToken};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A request to hold a slot.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HoldRequest {
    /// The site (UUID).
    pub site_id: String,
    /// Motif code.
    pub motif: String,
    /// Number of persons.
    pub persons: i64,
    /// A start as availability lists it (RFC 3339).
    pub start: String,
}

/// A held slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldOut {
    /// Opaque signed token: confirm with it, or release it.
    pub hold_id: String,
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: i64,
    pub start: String,
    pub end: String,
    pub expires_at: String,
    /// False when Redis is unavailable: the token is valid but the slot is not reserved.
    pub reserved: bool,
}

/// A parsed instant from the API (RFC 3339, any offset).
pub fn parse_instant(raw: &str, field: &'static str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::unprocessable(
                "invalid_start",
                "Horaire invalide (RFC 3339 attendu, ex. 2026-12-01T08:30:00+01:00).",
            )
            .with_field(field)
        })
}

/// Refusal of a token that does not verify.
pub fn invalid_hold(_: InvalidToken) -> ApiError {
    ApiError::bad_request("invalid_hold", "Réservation temporaire invalide ou altérée.").with_field("hold_id")
}

/// Hold a slot for a few minutes.
#[utoipa::path(post, path = "/api/v1/holds", tag = "public", request_body = HoldRequest,
    responses((status = 201, body = HoldOut), (status = 400, description = "Requête invalide"),
              (status = 404, description = "Lieu inconnu"),
              (status = 409, description = "Créneau pris (avec alternatives)"),
              (status = 422, description = "Ce créneau n'est pas proposé"),
              (status = 429, description = "Trop de créneaux retenus")))]
pub async fn create_hold(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Json(req): Json<HoldRequest>,
) -> ApiResult<(StatusCode, axum::Json<HoldOut>)> {
    let client = client_key(&state, &headers, &peer);
    check_write_rate(&state, &client)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(place_hold(&state, &client, &req).await?),
    ))
}

/// Holds a slot for `client` (the API and the web pages both come here).
pub async fn place_hold(state: &AppState, client: &str, req: &HoldRequest) -> ApiResult<HoldOut> {
    let motif = params::motif(Some(&req.motif), Motif::Cni)?;
    if req.persons < 1 || req.persons > 100 {
        return Err(
            ApiError::unprocessable("invalid_persons", "Nombre de personnes invalide.").with_field("persons"),
        );
    }
    let persons = i32::try_from(req.persons).unwrap_or(1);
    let start = parse_instant(&req.start, "start")?;
    let site = find_site(state, &req.site_id).await?;
    let tz = site_tz(&site)?;
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
    let setting = motif_for_site(&settings, site.id, motif, persons)?;
    let duration = duration_for(&setting, persons);
    let now = state.clock.now();
    let day = start.with_timezone(&tz).date_naive();
    // The database's view (holds excluded): is this a start availability would offer at all?
    let mut conn = state.pool.acquire().await?;
    let cal =
        crate::db::calendar::load_calendar(&mut conn, site.id, tz, &site.department_code, day, day).await?;
    drop(conn);
    if !cal.is_offered(start, duration, now) {
        // "Taken" (409, with alternatives) when only bookings stand in the way; otherwise the start
        // is never offered (off grid, closed, a holiday, too soon, not released): 422.
        if cal.is_offered_ignoring_bookings(start, duration, now) {
            return Err(slot_taken(state, &site, duration).await);
        }
        return Err(ApiError::unprocessable(
            "slot_not_offered",
            "Ce créneau n'est pas proposé (hors horaires, fermé, trop proche ou pas encore ouvert).",
        )
        .with_field("start"));
    }
    let free = cal.free_stations(start, duration);
    let end = start + duration;
    let ttl = std::time::Duration::from_secs(state.config.hold_ttl_secs);
    let mut hid_bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut hid_bytes);
    let hid: String = hid_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let store = HoldStore::new(&state.kv);
    let (station, reserved) = match store
        .acquire_client(client, &hid, state.config.max_holds_per_client, ttl)
        .await
    {
        Some(false) => {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_holds",
                "Vous retenez déjà le nombre maximal de créneaux. Confirmez ou libérez-en un.",
            )
            .with_retry_after(60))
        }
        Some(true) => match store.reserve(site.id, &free, &hid, start, end, ttl).await {
            Some(Some(station)) => (station, true),
            Some(None) => {
                store.release_client(client, &hid).await;
                return Err(slot_taken(state, &site, duration).await);
            }
            None => (free[0], false),
        },
        // Redis unreachable: a signed hold without reservation; the database decides later.
        None => (free[0], false),
    };
    let expires = now + Duration::seconds(i64::try_from(state.config.hold_ttl_secs).unwrap_or(600));
    let claims = HoldClaims {
        hid,
        site: site.id,
        station,
        start: start.timestamp(),
        end: end.timestamp(),
        motif,
        persons: u8::try_from(persons).unwrap_or(u8::MAX),
        iat: now.timestamp(),
        exp: expires.timestamp(),
        cli: client.to_string(),
    };
    let token = state.signer.sign(&claims);
    Ok(HoldOut {
        hold_id: token,
        site_id: site.id,
        motif,
        persons: req.persons,
        start: rfc3339_local(start, tz),
        end: rfc3339_local(end, tz),
        expires_at: rfc3339_local(expires, tz),
        reserved,
    })
}

/// The 409 of a taken slot, with the next free starts at that site.
pub async fn slot_taken(state: &AppState, site: &territory::SiteRow, duration: Duration) -> ApiError {
    let alts = alternatives(state, site, duration).await.unwrap_or_default();
    ApiError::conflict(
        "slot_unavailable",
        "Ce créneau vient d'être pris. Voici les prochains créneaux libres.",
    )
    .with_extra(json!({ "alternatives": alts }))
}

/// Release a held slot.
#[utoipa::path(delete, path = "/api/v1/holds/{hold_id}", tag = "public",
    params(("hold_id" = String, Path, description = "Le jeton de la réservation temporaire")),
    responses((status = 204, description = "Libéré"), (status = 400, description = "Jeton invalide")))]
pub async fn release_hold(
    State(state): State<AppState>,
    Path(hold_id): Path<String>,
) -> ApiResult<StatusCode> {
    let claims = state.signer.verify(&hold_id).map_err(invalid_hold)?;
    HoldStore::new(&state.kv)
        .release(claims.site, claims.station, &claims.cli, &claims.hid)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
