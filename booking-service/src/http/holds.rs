//! `POST /api/v1/holds` and `DELETE /api/v1/holds/{hold_id}`: keep a slot while the form is filled.

use super::availability::rfc3339_local;
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::error::ApiResult;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::service::holds::{self, HoldInput, PlacedHold};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
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
    check_write_rate(&state, &client).await?;
    let input = hold_input(&req)?;
    let placed = holds::place(&state, &client, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(HoldOut::from(placed))))
}

/// The request parsed into the service's input.
fn hold_input(req: &HoldRequest) -> ApiResult<HoldInput> {
    Ok(HoldInput {
        motif: params::motif(Some(&req.motif), Motif::Cni)?,
        persons: params::party_size(req.persons)?,
        start: params::instant(&req.start, "start")?,
        site_id: params::uuid(&req.site_id, "site_id")?,
    })
}

impl From<PlacedHold> for HoldOut {
    fn from(h: PlacedHold) -> Self {
        Self {
            hold_id: h.token,
            site_id: h.site.id,
            motif: h.motif,
            persons: i64::from(h.persons),
            start: rfc3339_local(h.start, h.tz),
            end: rfc3339_local(h.end, h.tz),
            expires_at: rfc3339_local(h.expires_at, h.tz),
            reserved: h.reserved,
        }
    }
}

/// Release a held slot.
#[utoipa::path(delete, path = "/api/v1/holds/{hold_id}", tag = "public",
    params(("hold_id" = String, Path, description = "Le jeton de la réservation temporaire")),
    responses((status = 204, description = "Libéré"), (status = 400, description = "Jeton invalide")))]
pub async fn release_hold(
    State(state): State<AppState>,
    Path(hold_id): Path<String>,
) -> ApiResult<StatusCode> {
    holds::release(&state, &hold_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Until the staff routes call the service directly.

/// An RFC 3339 instant.
pub fn parse_instant(raw: &str, field: &'static str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    params::instant(raw, field)
}

/// "Taken", with the next free starts, as a JSON error.
pub async fn slot_taken(
    state: &AppState,
    site: &crate::db::territory::SiteRow,
    duration: chrono::Duration,
) -> crate::error::ApiError {
    crate::service::availability::slot_taken(state, site, duration)
        .await
        .into()
}
