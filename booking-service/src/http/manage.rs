//! `GET /api/v1/manage/{token}`, `…/cancel`, `…/reschedule`: what the link in the citizen's email does.

use super::appointments::{after_booking, booking_error, refusal, slot_of_hold, verified_hold};
use super::availability::rfc3339_local;
use super::client::{check_write_rate, client_key, PeerAddr};
use super::extract::{Json, Path};
use super::AppState;
use crate::db::appointments::{self, AppointmentView};
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Duration;
use chrono_tz::Tz;
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
}

/// A move onto another held slot.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RescheduleRequest {
    /// The token of the new hold.
    hold_id: String,
}

/// Management tokens are 32 random bytes in base64url (43 characters).
fn check_token_shape(token: &str) -> ApiResult<()> {
    let ok = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_token", "Lien de gestion invalide.").with_field("token"))
    }
}

async fn load(state: &AppState, token: &str) -> ApiResult<AppointmentView> {
    check_token_shape(token)?;
    appointments::find_by_token(&state.pool, token)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "appointment_not_found",
                "Aucun rendez-vous ne correspond à ce lien.",
            )
        })
}

fn view(state: &AppState, a: AppointmentView) -> ApiResult<ManagedOut> {
    let tz: Tz = a
        .timezone
        .parse()
        .map_err(|_| ApiError::internal("bad site time zone"))?;
    let deadline = a.start - Duration::minutes(i64::from(a.cancel_deadline_minutes));
    Ok(ManagedOut {
        can_change: a.status == "booked" && state.clock.now() <= deadline,
        change_deadline: rfc3339_local(deadline, tz),
        id: a.id,
        reference: a.reference,
        status: a.status,
        site_id: a.site_id,
        site_name: a.site_name,
        address: format!("{}, {} {}", a.address_line, a.postcode, a.city),
        timezone: a.timezone,
        motif: a.motif,
        persons: a.persons,
        start: rfc3339_local(a.start, tz),
        end: rfc3339_local(a.end, tz),
        first_name: a.first_name,
        last_name: a.last_name,
        pre_demande_numbers: a.pre_demande_numbers,
    })
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
    let a = load(&state, &token).await?;
    Ok(axum::Json(view(&state, a)?))
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
    check_write_rate(&state, &client_key(&state, &headers, &peer))?;
    let a = load(&state, &token).await?;
    let tz: Tz = a
        .timezone
        .parse()
        .map_err(|_| ApiError::internal("bad site time zone"))?;
    match appointments::cancel_by_citizen(&state.pool, a.id, state.clock.now()).await {
        Ok(()) => {}
        Err(e) => return Err(refusal(e, tz)),
    }
    state.calendars.invalidate(a.site_id);
    tracing::info!(appointment = %a.id, "appointment cancelled by citizen");
    let a = load(&state, &token).await?;
    Ok(axum::Json(view(&state, a)?))
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
    check_write_rate(&state, &client_key(&state, &headers, &peer))?;
    let a = load(&state, &token).await?;
    let claims = verified_hold(&state, &req.hold_id)?;
    let (site, slot) = slot_of_hold(&state, &claims).await?;
    if let Err(e) = appointments::reschedule(&state.pool, a.id, &slot, state.clock.now()).await {
        return Err(booking_error(&state, &site, &slot, e).await);
    }
    state.calendars.invalidate(a.site_id);
    after_booking(&state, &claims, site.id).await;
    tracing::info!(appointment = %a.id, site = %site.id, "appointment moved by citizen");
    let a = load(&state, &token).await?;
    Ok(axum::Json(view(&state, a)?))
}
