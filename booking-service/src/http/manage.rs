//! `GET /api/v1/manage/{token}`, `…/cancel`, `…/reschedule`, `…/data`, `…/erase`: what the link in the citizen's email does.

use super::availability::rfc3339_local;
use crate::app::AppState;
use crate::error::ApiResult;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::{Json, Path};
use crate::service::citizen_data;
use crate::service::management::{self, Managed};
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An appointment as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedOut {
    id: Uuid,
    reference: String,
    status: String,
    site_id: Uuid,
    site_name: String,
    address: String,
    timezone: String,
    motif: String,
    persons: i16,
    start: String,
    end: String,
    first_name: String,
    last_name: String,
    pre_demande_numbers: Vec<String>,
    /// Until when it can be cancelled or moved online.
    change_deadline: String,
    /// Whether it can still be cancelled or moved online now.
    can_change: bool,
    /// When the citizen confirmed they will come, if they did.
    presence_confirmed_at: Option<String>,
    /// The site's no-show policy asks for that confirmation by this instant, or the slot is
    /// released to the waiting list.
    confirm_by: Option<String>,
}

/// A move onto another held slot.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RescheduleRequest {
    /// The token of the new hold.
    hold_id: String,
}

/// Management tokens are 32 random bytes in base64url (43 characters).
fn view(m: Managed) -> ManagedOut {
    let (a, tz) = (m.appointment, m.tz);
    ManagedOut {
        can_change: m.can_change,
        change_deadline: rfc3339_local(m.deadline, tz),
        id: a.id,
        reference: a.reference,
        status: a.status.code().to_string(),
        site_id: a.site_id,
        site_name: a.site_name,
        address: format!("{}, {} {}", a.address_line, a.postcode, a.city),
        timezone: a.timezone,
        motif: a.motif.code().to_string(),
        persons: a.persons.as_i16(),
        start: rfc3339_local(a.start, tz),
        end: rfc3339_local(a.end, tz),
        first_name: a.first_name,
        last_name: a.last_name,
        pre_demande_numbers: a.pre_demande_numbers,
        presence_confirmed_at: a.presence_confirmed_at.map(|t| rfc3339_local(t, tz)),
        confirm_by: a.confirm_by.map(|t| rfc3339_local(t, tz)),
    }
}

/// The appointment behind a management link.
#[utoipa::path(get, path = "/api/v1/manage/{token}", tag = "public",
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, body = ManagedOut), (status = 400, description = "Lien mal formé"),
              (status = 404, description = "Lien inconnu")))]
pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<ManagedOut>> {
    Ok(axum::Json(view(management::find(&state, &token).await?)))
}

/// Cancel it (until the site's online deadline); the slot is free at once.
#[utoipa::path(post, path = "/api/v1/manage/{token}/cancel", tag = "public",
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, body = ManagedOut), (status = 400, description = "Lien mal formé"),
              (status = 404, description = "Lien inconnu"),
              (status = 409, description = "Déjà annulé, passé ou délai dépassé")))]
pub async fn cancel(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<ManagedOut>> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    Ok(axum::Json(view(management::cancel(&state, &token).await?)))
}

/// Confirm they will come ("je confirme", the reminder's link): recorded once.
#[utoipa::path(post, path = "/api/v1/manage/{token}/confirm", tag = "public",
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, body = ManagedOut), (status = 400, description = "Lien mal formé"),
              (status = 404, description = "Lien inconnu"),
              (status = 409, description = "Annulé ou passé")))]
pub async fn confirm_presence(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<ManagedOut>> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    Ok(axum::Json(view(
        management::confirm_presence(&state, &token).await?,
    )))
}

/// Move it onto another held slot: same appointment (id, link, calendar entry); if the new slot is
/// lost, the old one stays.
#[utoipa::path(post, path = "/api/v1/manage/{token}/reschedule", tag = "public", request_body = RescheduleRequest,
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, body = ManagedOut), (status = 400, description = "Lien ou jeton invalide"),
              (status = 404, description = "Lien inconnu"),
              (status = 409, description = "Nouveau créneau pris (avec alternatives), ou délai dépassé"),
              (status = 410, description = "Réservation temporaire expirée"),
              (status = 422, description = "Motif ou nombre de personnes différent")))]
pub async fn reschedule(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(req): Json<RescheduleRequest>,
) -> ApiResult<axum::Json<ManagedOut>> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    Ok(axum::Json(view(
        management::reschedule(&state, &token, &req.hold_id).await?,
    )))
}

/// Everything kept about the link's holder, as JSON: the appointment behind the link and the
/// others booked with the same email address, their pré-demande numbers, what ANTS was told, the
/// messages sent and what staff did on them (agents not named).
#[utoipa::path(get, path = "/api/v1/manage/{token}/data", tag = "public",
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, description = "Les données conservées", content_type = "application/json"),
              (status = 400, description = "Lien mal formé"),
              (status = 404, description = "Lien inconnu, ou données effacées (code data_erased)")))]
pub async fn data(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<citizen_data::CitizenData>> {
    Ok(axum::Json(citizen_data::export(&state, &token).await?))
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedOut {
    /// Always true: the person is no longer in the appointment.
    erased: bool,
    /// The appointment was still to come and is now cancelled (its slot offered again).
    cancelled: bool,
}

/// Erase the link's holder from its appointment: cancelled first if still to come (until the
/// site's online deadline, as a cancellation), then names, email, phone, numbers and messages
/// removed; the appointment stays in the statistics with no person. The link then answers 404
/// `data_erased`.
#[utoipa::path(post, path = "/api/v1/manage/{token}/erase", tag = "public",
    params(("token" = String, Path, description = "Jeton du lien de gestion")),
    responses((status = 200, body = ErasedOut), (status = 400, description = "Lien mal formé"),
              (status = 404, description = "Lien inconnu, ou données déjà effacées"),
              (status = 409, description = "Rendez-vous en cours ou délai d'annulation dépassé")))]
pub async fn erase(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<ErasedOut>> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    let done = citizen_data::erase(&state, &token).await?;
    Ok(axum::Json(ErasedOut {
        erased: true,
        cancelled: done.cancelled,
    }))
}
