//! `POST /api/v1/appointments`: confirm a held slot.

use super::availability::{motif_for_site, rfc3339_local, site_tz};
use super::client::{check_write_rate, client_key, PeerAddr};
use super::extract::Json;
use super::holds::{invalid_hold, slot_taken};
use super::sites::find_site;
use super::AppState;
use crate::ants::client::{status_message, AntsError};
use crate::db::appointments::{self, BookingError, BookingOptions, Citizen, SlotRequest};
use crate::db::territory::{self, SiteRow};
use crate::domain::citizen::{person_name, Email, FieldError, Phone, PreDemandeNumber};
use crate::domain::motif::Motif;
use crate::error::{ApiError, ApiResult};
use crate::holds::store::HoldStore;
use crate::holds::token::HoldClaims;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
}

/// A confirmed appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentOut {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: u8,
    pub start: String,
    pub end: String,
    pub status: &'static str,
    /// The citizen's page to see, cancel or move the appointment.
    pub manage_url: String,
    /// The management token (shown once; only its hash is stored).
    pub manage_token: String,
}

fn field_error(e: FieldError) -> ApiError {
    ApiError::unprocessable("invalid_field", e.message).with_field(e.field)
}

/// Verifies a hold token and its expiry: 400 when forged or altered, 410 when expired.
pub fn verified_hold(state: &AppState, token: &str) -> ApiResult<HoldClaims> {
    let claims = state.signer.verify(token.trim()).map_err(invalid_hold)?;
    if state.clock.now() >= claims.expires_at() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "hold_expired",
            "Le délai de réservation est dépassé : choisissez à nouveau un créneau.",
        )
        .with_field("hold_id"));
    }
    Ok(claims)
}

/// The slot a verified hold describes, with the site re-read (it may have been deactivated).
pub async fn slot_of_hold(state: &AppState, claims: &HoldClaims) -> ApiResult<(SiteRow, SlotRequest)> {
    let site = find_site(state, &claims.site.to_string()).await?;
    let tz = site_tz(&site)?;
    let slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: claims.station,
        start: claims.start_at(),
        end: claims.end_at(),
        motif: claims.motif,
        persons: i16::from(claims.persons),
        rules_at: claims.issued_at(),
        hold_ref: claims.hid.clone(),
        waive_policy: false,
    };
    Ok((site, slot))
}

/// After a booking or a move onto a held slot: this process's cache forgets the site and the hold
/// is released (the appointment now occupies the slot). Other replicas' caches may show the slot
/// free for up to their TTL; a hold there is then refused by the database check.
pub async fn after_booking(state: &AppState, claims: &HoldClaims, site: Uuid) {
    state.calendars.invalidate(site);
    HoldStore::new(&state.kv)
        .release(claims.site, claims.station, &claims.cli, &claims.hid)
        .await;
}

/// Maps a booking failure to its answer; a lost slot comes with alternatives.
pub async fn booking_error(
    state: &AppState,
    site: &SiteRow,
    slot: &SlotRequest,
    e: BookingError,
) -> ApiError {
    match e {
        BookingError::SlotUnavailable => slot_taken(state, site, slot.end - slot.start).await,
        other => refusal(other, slot.tz),
    }
}

/// The answer to a booking, move or cancellation refused for a reason other than a lost slot.
pub fn refusal(e: BookingError, tz: chrono_tz::Tz) -> ApiError {
    match e {
        BookingError::SlotUnavailable => {
            ApiError::conflict("slot_unavailable", "Ce créneau n'est plus disponible.")
        }
        BookingError::PreDemandeInUse(n) => ApiError::conflict(
            "pre_demande_in_use",
            format!("Le numéro de pré-demande {n} est déjà utilisé pour un autre rendez-vous."),
        )
        .with_field("pre_demande_numbers")
        .with_extra(json!({ "number": n })),
        BookingError::EmailLimit(max) => ApiError::conflict(
            "email_limit_reached",
            format!(
                "Cette adresse a déjà {max} rendez-vous à venir : annulez-en un avant d'en prendre un autre."
            ),
        )
        .with_field("citizen.email"),
        BookingError::HoldAlreadyUsed => ApiError::conflict(
            "hold_already_used",
            "Ce créneau a déjà été confirmé avec cette réservation.",
        )
        .with_field("hold_id"),
        BookingError::NotFound => ApiError::not_found("appointment_not_found", "Rendez-vous introuvable."),
        BookingError::WrongStatus(s) => ApiError::conflict(
            "not_modifiable",
            format!("Ce rendez-vous ne peut plus être modifié (statut : {s})."),
        ),
        BookingError::DeadlinePassed(at) => ApiError::conflict(
            "deadline_passed",
            format!(
                "Le rendez-vous ne peut plus être modifié en ligne depuis le {} : contactez la mairie.",
                at.with_timezone(&tz).format("%d/%m/%Y à %H:%M")
            ),
        ),
        BookingError::Mismatch(field) => ApiError::unprocessable(
            "hold_mismatch",
            "Le nouveau créneau doit être pour le même motif et le même nombre de personnes.",
        )
        .with_field(field),
        BookingError::Db(e) => e.into(),
    }
}

/// Parses and checks the pré-demande numbers against the motif and party size.
fn numbers_for(motif: Motif, persons: u8, raw: &[String]) -> ApiResult<Vec<PreDemandeNumber>> {
    if !motif.requires_pre_demande() {
        if raw.iter().any(|s| !s.trim().is_empty()) {
            return Err(ApiError::unprocessable(
                "pre_demande_not_expected",
                "Aucun numéro de pré-demande n'est nécessaire pour retirer un titre.",
            )
            .with_field("pre_demande_numbers"));
        }
        return Ok(Vec::new());
    }
    let numbers = raw
        .iter()
        .map(|s| PreDemandeNumber::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(field_error)?;
    if numbers.len() != usize::from(persons) {
        return Err(ApiError::unprocessable(
            "pre_demande_count",
            format!("Il faut un numéro de pré-demande par personne ({persons})."),
        )
        .with_field("pre_demande_numbers"));
    }
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != numbers.len() {
        return Err(ApiError::unprocessable(
            "pre_demande_duplicate",
            "Le même numéro de pré-demande figure deux fois.",
        )
        .with_field("pre_demande_numbers"));
    }
    Ok(numbers)
}

fn citizen(c: &CitizenIn) -> ApiResult<Citizen> {
    Ok(Citizen {
        first_name: person_name(&c.first_name, "citizen.first_name").map_err(field_error)?,
        last_name: person_name(&c.last_name, "citizen.last_name").map_err(field_error)?,
        email: Some(Email::parse(&c.email).map_err(field_error)?),
        phone: match c.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(Phone::parse(p).map_err(field_error)?),
        },
    })
}

/// Asks ANTS about every number before the booking transaction (never inside it). Returns what the
/// numbers' rows record: `validated`, `not_checked` (no ANTS configured) or `unchecked` (ANTS
/// unreachable and the policy accepts: reconciliation will check later).
async fn check_with_ants(
    state: &AppState,
    numbers: &[PreDemandeNumber],
    site: Uuid,
    confirmed: bool,
) -> ApiResult<&'static str> {
    let Some(ants) = &state.ants else {
        return Ok("not_checked");
    };
    if numbers.is_empty() {
        return Ok("not_checked");
    }
    let ids: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
    let budget = std::time::Instant::now()
        + std::time::Duration::from_secs(state.config.ants_hub.ants_status_retry_secs);
    let answer = loop {
        match ants.status(&ids, &site.to_string()).await {
            Ok(map) => break Some(map),
            Err(AntsError::Unreachable(e)) if std::time::Instant::now() < budget => {
                tracing::info!(error = %e, "ANTS status check failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "ANTS status check unavailable");
                break None;
            }
        }
    };
    let Some(map) = answer else {
        if state.config.ants_hub.ants_unreachable_policy == "refuse" {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ants_unavailable",
                "Le service de l'ANTS ne répond pas : réessayez dans quelques minutes.",
            )
            .with_retry_after(60));
        }
        return Ok("unchecked");
    };
    let ours = state.config.public_base_url();
    let mut elsewhere = Vec::new();
    for n in &ids {
        let status = map.get(n).map(|s| s.status.as_str()).unwrap_or("unknown");
        if status != "validated" {
            let code = match status {
                "consumed" => "pre_demande_consumed",
                "expired" => "pre_demande_expired",
                "declared" => "pre_demande_declared",
                _ => "pre_demande_unknown",
            };
            return Err(ApiError::unprocessable(code, status_message(n, status))
                .with_field("pre_demande_numbers")
                .with_extra(json!({ "number": n })));
        }
        for a in map.get(n).map(|s| s.appointments.as_slice()).unwrap_or_default() {
            // Our own declarations (a move in flight) are not "elsewhere".
            if !a.management_url.starts_with(&ours) {
                elsewhere.push(json!({"number": n, "meeting_point": a.meeting_point, "appointment_date": a.appointment_date}));
            }
        }
    }
    if !elsewhere.is_empty() && !confirmed {
        let first = &elsewhere[0];
        return Err(ApiError::conflict(
            "pre_demande_booked_elsewhere",
            format!(
                "La pré-demande {} a déjà un rendez-vous ({}, {}). Pour continuer, confirmez que vous annulez l'autre rendez-vous.",
                first["number"].as_str().unwrap_or(""),
                first["meeting_point"].as_str().unwrap_or(""),
                first["appointment_date"].as_str().unwrap_or("")
            ),
        )
        .with_field("confirm_other_appointments")
        .with_extra(json!({ "appointments": elsewhere })));
    }
    Ok("validated")
}

/// The link a citizen follows to see, cancel or move an appointment.
pub fn manage_url(state: &AppState, token: &str) -> String {
    format!("{}/rdv/{token}", state.config.public_base_url())
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
    check_write_rate(&state, &client_key(&state, &headers, &peer))?;
    Ok((StatusCode::CREATED, axum::Json(confirm_hold(&state, &req).await?)))
}

/// Books a held slot (the API and the web pages both come here).
pub async fn confirm_hold(state: &AppState, req: &AppointmentRequest) -> ApiResult<AppointmentOut> {
    let claims = verified_hold(state, &req.hold_id)?;
    let citizen = citizen(&req.citizen)?;
    let numbers = numbers_for(claims.motif, claims.persons, &req.pre_demande_numbers)?;
    let (site, slot) = slot_of_hold(state, &claims).await?;
    // The motif may have been withdrawn from the site since the hold.
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
    motif_for_site(&settings, site.id, claims.motif, i32::from(claims.persons))?;
    let ants_check = check_with_ants(state, &numbers, site.id, req.confirm_other_appointments).await?;
    let now = state.clock.now();
    let opts = BookingOptions {
        source: "online",
        now,
        max_live_per_email: state.config.max_live_appointments_per_email,
        sealer: &state.sealer,
        ants_check,
    };
    let created = match appointments::create(&state.pool, &slot, &citizen, &numbers, &opts).await {
        Ok(c) => c,
        Err(e) => return Err(booking_error(state, &site, &slot, e).await),
    };
    after_booking(state, &claims, site.id).await;
    tracing::info!(appointment = %created.id, site = %site.id, email = %citizen.email.as_ref().map(Email::masked).unwrap_or_default(), "appointment booked");
    Ok(AppointmentOut {
        id: created.id,
        reference: created.reference,
        site_id: site.id,
        motif: claims.motif,
        persons: claims.persons,
        start: rfc3339_local(slot.start, slot.tz),
        end: rfc3339_local(slot.end, slot.tz),
        status: "booked",
        manage_url: manage_url(state, &created.manage_token),
        manage_token: created.manage_token,
    })
}
