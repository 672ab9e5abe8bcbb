//! Staff acting on appointments: status changes and bookings taken at the counter or by phone.

use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::availability::rfc3339_local;
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::booking::{manage_url, CitizenInput};
use crate::service::staff_appointments::{self, CounterInput, CounterSource, StatusChange as Change};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// `checked_in`, `done`, `no_show` or `cancelled`.
    pub status: String,
    /// Required for `cancelled`: told to the citizen.
    pub reason: Option<String>,
}

/// Marks an appointment checked in, done, no-show, or cancels it (with a reason the citizen is sent).
#[utoipa::path(post, path = "/api/v1/staff/appointments/{appointment_id}/status", tag = "staff", request_body = StatusChange,
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    responses((status = 200, description = "Statut changé"), (status = 401, description = "Non connecté"),
              (status = 404, description = "Inconnu ou d'une autre commune"), (status = 409, description = "Transition impossible"),
              (status = 422, description = "Statut inconnu ou motif manquant")))]
pub async fn set_status(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(req): Json<StatusChange>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let change = Change {
        appointment: params::uuid(&id, "appointment_id")?,
        status: req.status,
        reason: req.reason,
    };
    let done = staff_appointments::set_status(&state, &staff.user, &change).await?;
    Ok(axum::Json(
        json!({"id": done.id, "status": done.status, "previous_status": done.previous}),
    ))
}

/// A booking taken at the counter or by phone.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CounterBooking {
    pub motif: String,
    pub persons: i64,
    /// RFC 3339.
    pub start: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Optional at the counter; when given, one per person.
    #[serde(default)]
    pub pre_demande_numbers: Vec<String>,
    /// `counter` (default) or `phone`.
    pub source: Option<String>,
    /// Set after ANTS reported the numbers booked elsewhere (409 `pre_demande_booked_elsewhere`)
    /// and the agent checked with the citizen: the booking goes on, recorded as overridden.
    #[serde(default)]
    pub override_ants: bool,
}

/// The booking made.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterOut {
    pub id: Uuid,
    pub reference: String,
    pub station_id: Uuid,
    pub start: String,
    pub end: String,
    pub manage_url: String,
    /// What the numbers record: `validated`, `not_checked`, `unchecked` or `overridden`.
    pub ants_check: String,
}

/// Books for a walk-in or a caller: notice, horizon and the pré-demande requirement are waived;
/// openings, the no-overlap rule and live citizen holds are not. Numbers are checked with ANTS as
/// online (409 `pre_demande_booked_elsewhere` unless `override_ants`), then declared; the
/// confirmation email is sent when an address is given.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/appointments", tag = "staff", request_body = CounterBooking,
    params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, body = CounterOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune"),
              (status = 409, description = "Créneau pris, réservé par un usager, hors ouverture, ou pré-demande réservée ailleurs"),
              (status = 422, description = "Champ invalide ou pré-demande refusée par l'ANTS")))]
pub async fn counter_booking(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(req): Json<CounterBooking>,
) -> ApiResult<(StatusCode, axum::Json<CounterOut>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(book_at_counter(&state, &staff, &site_id, &req).await?),
    ))
}

/// The API's counter booking parsed and made.
async fn book_at_counter(
    state: &AppState,
    staff: &Staff,
    site_id: &str,
    req: &CounterBooking,
) -> ApiResult<CounterOut> {
    let input = CounterInput {
        site_id: params::uuid(site_id, "site_id")?,
        motif: params::motif(Some(&req.motif), crate::domain::motif::Motif::Cni)?,
        persons: params::party_size(req.persons)?,
        start: params::instant(&req.start, "start")?,
        citizen: CitizenInput {
            first_name: req.first_name.clone(),
            last_name: req.last_name.clone(),
            email: req.email.clone(),
            phone: req.phone.clone(),
        },
        pre_demande_numbers: req.pre_demande_numbers.clone(),
        source: CounterSource::parse(req.source.as_deref())?,
    };
    let made =
        staff_appointments::book_at_counter_with(state, &staff.user, &input, req.override_ants).await?;
    let b = made.booked;
    Ok(CounterOut {
        id: b.id,
        reference: b.reference,
        station_id: b.station_id,
        start: rfc3339_local(b.start, b.tz),
        end: rfc3339_local(b.end, b.tz),
        manage_url: manage_url(state, &b.manage_token),
        ants_check: made.ants_check.to_string(),
    })
}
