//! Staff on one appointment: read it whole, correct the citizen's contact, move it to another
//! free time of its site (even past the citizen's deadline).

use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::availability::rfc3339_local;
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_moves::{self, ContactEdit, MoveInput};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A pré-demande number and where it stands with ANTS.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberOut {
    pub number: String,
    /// Held by this appointment (it is live).
    pub live: bool,
    /// The check at booking: `not_checked`, `validated`, `unchecked` or `flagged`.
    pub ants_check: String,
    pub ants_note: Option<String>,
    /// Latest declaration call of this appointment for the number: `ants_declare` or `ants_delete`.
    pub last_call: Option<String>,
    /// Its state: `pending`, `sent`, `failed` or `dropped`.
    pub last_call_status: Option<String>,
    /// What ANTS was last told for the number: the appointment date.
    pub declared_date: Option<String>,
}

/// One event of the appointment's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub at: String,
    /// `audit` (a staff action) or `outbox` (an email to the citizen).
    pub origin: String,
    pub action: String,
    pub actor: Option<String>,
    pub details: serde_json::Value,
}

/// An appointment as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentOut {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub station_id: Uuid,
    pub station_name: String,
    pub motif: crate::domain::motif::Motif,
    pub persons: i16,
    pub start: String,
    pub end: String,
    pub status: crate::domain::status::AppointmentStatus,
    pub source: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: String,
    /// Until when the citizen may change it online (staff may move it after).
    pub citizen_deadline: String,
    pub movable: bool,
    pub pre_demande_numbers: Vec<NumberOut>,
    /// Newest first.
    pub history: Vec<EventOut>,
}

/// An appointment of one's commune: details, numbers with their ANTS state, history.
#[utoipa::path(get, path = "/api/v1/staff/appointments/{appointment_id}", tag = "staff",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    responses((status = 200, body = AppointmentOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Inconnu ou d'une autre commune")))]
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AppointmentOut>> {
    let id = params::uuid(&id, "appointment_id")?;
    let s = staff_moves::sheet(&state, &staff.user, id).await?;
    let (a, tz) = (s.appointment, s.tz);
    Ok(axum::Json(AppointmentOut {
        id: a.id,
        reference: a.reference,
        site_id: a.site_id,
        site_name: a.site_name,
        station_id: a.station_id,
        station_name: a.station_name,
        motif: a.motif,
        persons: a.persons.as_i16(),
        start: rfc3339_local(a.start, tz),
        end: rfc3339_local(a.end, tz),
        status: a.status,
        source: a.source,
        first_name: a.first_name,
        last_name: a.last_name,
        email: a.email,
        phone: a.phone,
        created_at: rfc3339_local(a.created_at, tz),
        citizen_deadline: rfc3339_local(s.citizen_deadline, tz),
        movable: s.movable,
        pre_demande_numbers: s
            .numbers
            .into_iter()
            .map(|n| NumberOut {
                number: n.number,
                live: n.live,
                ants_check: n.ants_check,
                ants_note: n.ants_note,
                last_call: n.last_call,
                last_call_status: n.last_call_status,
                declared_date: n.declared_date,
            })
            .collect(),
        history: s
            .history
            .into_iter()
            .map(|h| EventOut {
                at: rfc3339_local(h.at, tz),
                origin: h.origin,
                action: h.action,
                actor: h.actor,
                details: h.details,
            })
            .collect(),
    }))
}

/// A contact correction: a field left out stays; an empty email or phone removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The contact after the correction.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The fields that changed.
    pub changed: Vec<String>,
}

/// Corrects the citizen's names, email or phone (checked as at booking; audited). A new address of
/// a booked appointment is sent the confirmation with its management link.
#[utoipa::path(patch, path = "/api/v1/staff/appointments/{appointment_id}", tag = "staff", request_body = ContactPatch,
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    responses((status = 200, body = ContactOut), (status = 400, description = "Corps illisible"),
              (status = 401, description = "Non connecté"), (status = 404, description = "Inconnu ou d'une autre commune"),
              (status = 422, description = "Champ invalide")))]
pub async fn edit_contact(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(req): Json<ContactPatch>,
) -> ApiResult<axum::Json<ContactOut>> {
    let id = params::uuid(&id, "appointment_id")?;
    let edit = ContactEdit {
        first_name: req.first_name,
        last_name: req.last_name,
        email: req.email,
        phone: req.phone,
    };
    let done = staff_moves::edit_contact(&state, &staff.user, id, &edit).await?;
    Ok(axum::Json(ContactOut {
        id,
        first_name: done.contact.first_name,
        last_name: done.contact.last_name,
        email: done.contact.email,
        phone: done.contact.phone,
        changed: done.changed.iter().map(|c| c.to_string()).collect(),
    }))
}

/// What lifting the confirmation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiftedOut {
    pub id: Uuid,
    /// False when no confirmation was asked (nothing changed).
    pub lifted: bool,
}

/// Lifts the no-show policy's confirmation from an appointment: it will not be released for want of
/// one (audited).
#[utoipa::path(post, path = "/api/v1/staff/appointments/{appointment_id}/lift-confirmation", tag = "staff",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    responses((status = 200, body = LiftedOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Inconnu ou d'une autre commune")))]
pub async fn lift_confirmation(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<LiftedOut>> {
    let id = params::uuid(&id, "appointment_id")?;
    let lifted = staff_moves::lift_confirmation(&state, &staff.user, id).await?;
    Ok(axum::Json(LiftedOut { id, lifted }))
}

/// Where to move an appointment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// RFC 3339.
    pub start: String,
    /// A station of the same site; any free one when left out.
    pub station_id: Option<String>,
}

/// Where the appointment is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovedOut {
    pub id: Uuid,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub start: String,
    pub end: String,
}

/// Moves a booked appointment to a free time of its site (same motif and persons), even past the
/// citizen's deadline and inside the minimum notice; openings, live holds and other appointments
/// still hold. The citizen gets the "moved" email; ANTS declarations follow.
#[utoipa::path(post, path = "/api/v1/staff/appointments/{appointment_id}/move", tag = "staff", request_body = MoveRequest,
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    responses((status = 200, body = MovedOut), (status = 400, description = "Identifiant illisible"),
              (status = 401, description = "Non connecté"), (status = 404, description = "Inconnu ou d'une autre commune"),
              (status = 409, description = "Créneau pris (avec alternatives) ou rendez-vous non modifiable"),
              (status = 422, description = "Horaire invalide, hors ouverture ou poste inconnu")))]
pub async fn move_appointment(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(req): Json<MoveRequest>,
) -> ApiResult<axum::Json<MovedOut>> {
    let id = params::uuid(&id, "appointment_id")?;
    let input = MoveInput {
        start: params::instant(&req.start, "start")?,
        station_id: req
            .station_id
            .as_deref()
            .map(|s| params::uuid(s, "station_id"))
            .transpose()?,
    };
    let m = staff_moves::move_appointment(&state, &staff.user, id, &input).await?;
    Ok(axum::Json(MovedOut {
        id: m.id,
        site_id: m.site_id,
        station_id: m.station_id,
        start: rfc3339_local(m.start, m.tz),
        end: rfc3339_local(m.end, m.tz),
    }))
}
