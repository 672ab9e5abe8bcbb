//! Staff acting on appointments: status changes and bookings taken at the counter or by phone.

use super::agenda::visible_site;
use super::{not_yours, Staff};
use crate::db::appointments::{self, BookingError, BookingOptions, Citizen, SlotRequest};
use crate::db::territory;
use crate::domain::citizen::{person_name, Email, Phone, PreDemandeNumber};
use crate::error::{ApiError, ApiResult};
use crate::http::appointments::refusal;
use crate::http::availability::{duration_for, motif_for_site, rfc3339_local, site_tz};
use crate::http::extract::{Json, Path};
use crate::http::holds::{parse_instant, slot_taken};
use crate::http::{params, AppState};
use crate::staff::audit;
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
    status: String,
    /// Required for `cancelled`: told to the citizen.
    reason: Option<String>,
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
    let id = params::uuid(&id, "appointment_id")?;
    if !matches!(
        req.status.as_str(),
        "checked_in" | "done" | "no_show" | "cancelled"
    ) {
        return Err(ApiError::unprocessable(
            "invalid_status",
            "Statut : checked_in, done, no_show ou cancelled.",
        )
        .with_field("status"));
    }
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if req.status == "cancelled" && reason.is_none() {
        return Err(ApiError::unprocessable(
            "reason_required",
            "Indiquez le motif de l'annulation : il est envoyé à l'usager.",
        )
        .with_field("reason"));
    }
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(
            ApiError::unprocessable("invalid_field", "Motif trop long (500 caractères).")
                .with_field("reason"),
        );
    }
    let found: Option<(String, Uuid)> = sqlx::query_as(
        "SELECT s.commune_insee, a.site_id FROM appointments a JOIN sites s ON s.id = a.site_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let (commune, site) = found
        .filter(|(c, _)| staff.user.sees(c))
        .ok_or_else(|| not_yours("appointment_not_found"))?;
    let now = state.clock.now();
    let old = match appointments::staff_set_status(&state.pool, id, req.status.parse().unwrap_or(crate::domain::status::AppointmentStatus::Booked), reason, now).await {
        Ok(old) => old,
        Err(BookingError::WrongStatus(s)) => {
            return Err(ApiError::conflict(
                "invalid_transition",
                format!("Impossible de passer de « {s} » à « {} ».", req.status),
            ))
        }
        Err(BookingError::NotFound) => return Err(not_yours("appointment_not_found")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    state.calendars.invalidate(site);
    audit::record(
        &state.pool,
        &staff.user,
        Some(&commune),
        "status_change",
        Some(id),
        None,
        json!({"from": old, "to": req.status, "reason": reason}),
        now,
    )
    .await?;
    Ok(axum::Json(
        json!({"id": id, "status": req.status, "previous_status": old}),
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
}

/// Books for a walk-in or a caller: notice, horizon and the pré-demande requirement are waived;
/// openings and the no-overlap rule are not.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/appointments", tag = "staff", request_body = CounterBooking,
    params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, body = CounterOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune"),
              (status = 409, description = "Créneau pris ou hors ouverture"), (status = 422, description = "Champ invalide")))]
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

/// Books at the counter (the API and the staff pages both come here).
pub async fn book_at_counter(
    state: &AppState,
    staff: &Staff,
    site_id: &str,
    req: &CounterBooking,
) -> ApiResult<CounterOut> {
    let site = visible_site(state, staff, site_id).await?;
    let motif = params::motif(Some(&req.motif), crate::domain::motif::Motif::Cni)?;
    if !(1..=20).contains(&req.persons) {
        return Err(
            ApiError::unprocessable("invalid_persons", "Nombre de personnes invalide.").with_field("persons"),
        );
    }
    let persons = i32::try_from(req.persons).unwrap_or(1);
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
    let setting = motif_for_site(&settings, site.id, motif, persons)?;
    let start = parse_instant(&req.start, "start")?;
    let source = match req.source.as_deref() {
        None | Some("counter") => "counter",
        Some("phone") => "phone",
        Some(_) => {
            return Err(
                ApiError::unprocessable("invalid_source", "source : counter ou phone.").with_field("source"),
            )
        }
    };
    let field = |e: crate::domain::citizen::FieldError| {
        ApiError::unprocessable("invalid_field", e.message).with_field(e.field)
    };
    let citizen = Citizen {
        first_name: person_name(&req.first_name, "first_name").map_err(field)?,
        last_name: person_name(&req.last_name, "last_name").map_err(field)?,
        email: match req.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => Some(Email::parse(e).map_err(field)?),
        },
        phone: match req.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(Phone::parse(p).map_err(field)?),
        },
    };
    let numbers: Vec<PreDemandeNumber> = req
        .pre_demande_numbers
        .iter()
        .map(|n| PreDemandeNumber::parse(n))
        .collect::<Result<_, _>>()
        .map_err(field)?;
    if !numbers.is_empty() && numbers.len() != usize::try_from(persons).unwrap_or(0) {
        return Err(
            ApiError::unprocessable("pre_demande_count", "Un numéro par personne, ou aucun.")
                .with_field("pre_demande_numbers"),
        );
    }
    let tz = site_tz(&site)?;
    let now = state.clock.now();
    let duration = duration_for(&setting, persons);
    let slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: Uuid::nil(),
        start,
        end: start + duration,
        motif,
        persons: crate::domain::party::PartySize::new(i64::from(persons)).unwrap_or(crate::domain::party::PartySize::ONE),
        rules_at: now,
        hold_ref: format!("counter-{}", Uuid::new_v4()),
        waive_policy: true,
    };
    let opts = BookingOptions {
        source,
        now,
        max_live_per_email: i64::MAX,
        sealer: &state.sealer,
        ants_check: "not_checked",
    };
    let created = match appointments::create(&state.pool, &slot, &citizen, &numbers, &opts).await {
        Ok(c) => c,
        Err(BookingError::SlotUnavailable) => return Err(slot_taken(state, &site, duration).await),
        Err(e) => return Err(refusal(e, tz)),
    };
    state.calendars.invalidate(site.id);
    audit::record(
        &state.pool,
        &staff.user,
        Some(&site.commune_insee),
        "counter_booking",
        Some(created.id),
        Some(&site.id.to_string()),
        json!({"source": source, "motif": motif.code(), "persons": persons}),
        now,
    )
    .await?;
    Ok(CounterOut {
        id: created.id,
        reference: created.reference,
        station_id: created.station_id,
        start: rfc3339_local(start, tz),
        end: rfc3339_local(start + duration, tz),
        manage_url: crate::http::appointments::manage_url(state, &created.manage_token),
    })
}
