//! `POST /api/v1/appointments`: confirm a held slot.

use super::availability::rfc3339_local;
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::status::AppointmentStatus;
use crate::error::ApiResult;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::Json;
use crate::service::booking::{self, Booked, CitizenInput, ConfirmInput};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The citizen's details.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CitizenIn {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// Optional, E.164, any country.
    pub phone: Option<String>,
}

/// A confirmation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentRequest {
    /// The token from `POST /api/v1/holds`.
    pub hold_id: String,
    pub citizen: CitizenIn,
    /// One per person for CNI, PASSPORT, CNI-PASSPORT; none for RETRIEVAL.
    #[serde(default)]
    pub pre_demande_numbers: Vec<String>,
    /// Set after ANTS reported appointments elsewhere for a number: the citizen confirms they
    /// cancel the other one.
    #[serde(default)]
    pub confirm_other_appointments: bool,
    /// The reminder by SMS too, to `citizen.phone` (a mobile number); reply STOP to end it.
    #[serde(default)]
    pub sms_reminder: bool,
}

/// A confirmed appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentOut {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: String,
    pub end: String,
    pub status: AppointmentStatus,
    /// The citizen's page to see, cancel or move the appointment.
    pub manage_url: String,
    /// The management token (shown once; only its hash is stored).
    pub manage_token: String,
}

impl AppointmentRequest {
    /// The request as the service takes it.
    pub fn input(&self) -> ConfirmInput {
        ConfirmInput {
            hold_token: self.hold_id.clone(),
            citizen: CitizenInput {
                first_name: self.citizen.first_name.clone(),
                last_name: self.citizen.last_name.clone(),
                email: Some(self.citizen.email.clone()),
                phone: self.citizen.phone.clone(),
            },
            pre_demande_numbers: self.pre_demande_numbers.clone(),
            confirm_other_appointments: self.confirm_other_appointments,
            sms_reminder: self.sms_reminder,
        }
    }
}

impl AppointmentOut {
    pub(crate) fn new(state: &AppState, b: Booked) -> Self {
        Self {
            id: b.id,
            reference: b.reference,
            site_id: b.site_id,
            motif: b.motif,
            persons: b.persons,
            start: rfc3339_local(b.start, b.tz),
            end: rfc3339_local(b.end, b.tz),
            status: AppointmentStatus::Booked,
            manage_url: booking::manage_url(state, &b.manage_token),
            manage_token: b.manage_token,
        }
    }
}

/// Confirm a held slot.
#[utoipa::path(post, path = "/api/v1/appointments", tag = "public", request_body = AppointmentRequest,
    responses((status = 201, body = AppointmentOut), (status = 400, description = "Jeton invalide"),
              (status = 409, description = "Créneau pris, numéro déjà utilisé ou limite atteinte"),
              (status = 410, description = "Réservation temporaire expirée"),
              (status = 422, description = "Champ invalide")))]
pub async fn confirm(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Json(req): Json<AppointmentRequest>,
) -> ApiResult<(StatusCode, axum::Json<AppointmentOut>)> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    let booked = booking::confirm(&state, &req.input()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AppointmentOut::new(&state, booked)),
    ))
}
