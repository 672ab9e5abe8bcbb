//! Booking a held slot: the citizen's details and pré-demande numbers checked, ANTS asked before the
//! transaction (never inside it), then one transaction (appointment, numbers, outbox).

use super::availability::{find_site, motif_setting, site_tz, slot_taken};
use super::{holds, ServiceError, ServiceResult};
use crate::ants::check::{self, CheckOutcome, CheckPolicy, CheckRefusal};
use crate::app::AppState;
use crate::config::AntsUnreachablePolicy;
use crate::db::appointments::{self, BookingError, BookingOptions, Citizen, SlotRequest};
use crate::db::territory::SiteRow;
use crate::domain::citizen::{person_name, Email, Phone, PreDemandeNumber};
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::holds::token::HoldClaims;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use uuid::Uuid;

/// What the citizen typed.
#[derive(Debug, Clone, Default)]
pub struct CitizenInput {
    pub first_name: String,
    pub last_name: String,
    /// Required online; optional at the counter.
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Where the citizen's fields sit in the caller's input, to name the one at fault.
#[derive(Debug, Clone, Copy)]
pub struct CitizenFields {
    pub first_name: &'static str,
    pub last_name: &'static str,
}

impl CitizenFields {
    /// Online: `{"citizen": {"first_name", …}}`.
    pub const ONLINE: Self = Self {
        first_name: "citizen.first_name",
        last_name: "citizen.last_name",
    };
    /// At the counter: flat fields.
    pub const COUNTER: Self = Self {
        first_name: "first_name",
        last_name: "last_name",
    };
}

impl CitizenInput {
    /// Parsed once: names, email (required when `email_required`), phone.
    pub fn parse(&self, email_required: bool, fields: CitizenFields) -> ServiceResult<Citizen> {
        let email = match self.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Some(Email::parse(e)?),
            None if email_required => Some(Email::parse("")?),
            None => None,
        };
        Ok(Citizen {
            first_name: person_name(&self.first_name, fields.first_name)?,
            last_name: person_name(&self.last_name, fields.last_name)?,
            email,
            phone: match self.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => Some(Phone::parse(p)?),
            },
        })
    }
}

/// A confirmation of a held slot.
#[derive(Debug, Clone, Default)]
pub struct ConfirmInput {
    pub hold_token: String,
    pub citizen: CitizenInput,
    pub pre_demande_numbers: Vec<String>,
    /// Set after ANTS reported appointments elsewhere: the citizen cancels the other one.
    pub confirm_other_appointments: bool,
    /// The reminder by SMS too (needs a phone number).
    pub sms_reminder: bool,
}

/// An appointment booked (online, at the counter or by phone).
#[derive(Debug, Clone)]
pub struct Booked {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub tz: Tz,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The management token (shown once; only its hash is stored).
    pub manage_token: String,
}

/// What a new appointment is given: its management token (hashed for lookups, sealed for the
/// notifier) and its reference.
pub struct NewManageToken {
    pub token: String,
    pub hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub reference: String,
}

impl NewManageToken {
    /// Draws a new token and reference.
    pub fn draw(state: &AppState) -> Self {
        let (token, hash) = crate::tokens::new_token();
        Self {
            sealed: state.sealer.seal(&token),
            hash,
            token,
            reference: crate::tokens::new_reference(),
        }
    }
}

/// The link a citizen follows to see, cancel or move an appointment.
pub fn manage_url(state: &AppState, token: &str) -> String {
    format!("{}/rdv/{token}", state.config.public_base_url())
}

/// The pré-demande numbers, parsed and checked against the motif and party size. `required`:
/// online they are; at the counter they may be left out.
pub fn numbers_for(
    motif: Motif,
    persons: PartySize,
    raw: &[String],
    required: bool,
) -> ServiceResult<Vec<PreDemandeNumber>> {
    let given: Vec<&String> = raw.iter().filter(|s| !s.trim().is_empty()).collect();
    if !motif.requires_pre_demande() {
        if !given.is_empty() {
            return Err(ServiceError::invalid(
                "pre_demande_not_expected",
                "pre_demande_numbers",
                "Aucun numéro de pré-demande n'est nécessaire pour retirer un titre.",
            ));
        }
        return Ok(Vec::new());
    }
    if given.is_empty() && !required {
        return Ok(Vec::new());
    }
    let numbers = raw
        .iter()
        .map(|s| PreDemandeNumber::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    if numbers.len() != usize::from(persons.get()) {
        return Err(ServiceError::invalid(
            "pre_demande_count",
            "pre_demande_numbers",
            format!("Il faut un numéro de pré-demande par personne ({persons})."),
        ));
    }
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != numbers.len() {
        return Err(ServiceError::invalid(
            "pre_demande_duplicate",
            "pre_demande_numbers",
            "Le même numéro de pré-demande figure deux fois.",
        ));
    }
    Ok(numbers)
}

/// The slot a verified hold describes, with the site re-read (it may have been deactivated).
pub async fn slot_of_hold(state: &AppState, claims: &HoldClaims) -> ServiceResult<(SiteRow, SlotRequest)> {
    let site = find_site(state, claims.site).await?;
    let tz = site_tz(&site)?;
    let slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: claims.station,
        start: claims.start_at(),
        end: claims.end_at(),
        motif: claims.motif,
        persons: PartySize::new(i64::from(claims.persons))?,
        rules_at: claims.issued_at(),
        hold_ref: claims.hid.clone(),
        waive_policy: false,
        known: super::availability::known_calendar(state, site.id, tz, claims.start_at()),
    };
    Ok((site, slot))
}

/// A refused booking, move or cancellation in domain terms; a lost slot comes with alternatives.
pub async fn refused(state: &AppState, site: &SiteRow, slot: &SlotRequest, e: BookingError) -> ServiceError {
    match e {
        BookingError::SlotUnavailable => slot_taken(state, site, slot.end - slot.start).await,
        other => refusal(other, slot.tz),
    }
}

/// A refusal other than a lost slot (no alternatives to look up).
pub fn refusal(e: BookingError, tz: Tz) -> ServiceError {
    match e {
        BookingError::SlotUnavailable => ServiceError::SlotTaken {
            alternatives: Vec::new(),
        },
        BookingError::PreDemandeInUse(number) => ServiceError::PreDemandeInUse { number },
        BookingError::EmailLimit(max) => ServiceError::EmailLimit { max },
        BookingError::SiteDayLimit(max) => ServiceError::SiteDayLimit { max },
        BookingError::HoldAlreadyUsed => ServiceError::HoldAlreadyUsed,
        BookingError::NotFound => {
            ServiceError::not_found("appointment_not_found", "Rendez-vous introuvable.")
        }
        BookingError::WrongStatus(status) => ServiceError::NotModifiable { status },
        BookingError::DeadlinePassed(at) => ServiceError::DeadlinePassed {
            at: at.with_timezone(&tz),
        },
        BookingError::Mismatch(field) => ServiceError::HoldMismatch { field },
        BookingError::Db(e) => e.into(),
    }
}

/// Asks ANTS about every number before the booking transaction (never inside it). Returns what
/// the numbers' rows record: `validated`, `not_checked` (no ANTS configured) or `unchecked` (no
/// usable answer from ANTS and the policy accepts: reconciliation checks later). The check itself is
/// [`check::check_numbers`]; this only maps its refusals to service errors.
pub async fn check_with_ants(
    state: &AppState,
    numbers: &[PreDemandeNumber],
    site: Uuid,
    confirmed: bool,
) -> ServiceResult<&'static str> {
    let policy = CheckPolicy {
        retry_for: std::time::Duration::from_secs(state.config.ants_hub.ants_status_retry_secs),
        refuse_when_unavailable: state.config.ants_hub.ants_unreachable_policy
            == AntsUnreachablePolicy::Refuse,
    };
    let base = state.config.public_base_url();
    check::check_numbers(state.ants.as_deref(), numbers, site, confirmed, &base, &policy)
        .await
        .map(CheckOutcome::as_column)
        .map_err(ants_refusal)
}

/// A refused check as the service error the API and the pages answer.
fn ants_refusal(refusal: CheckRefusal) -> ServiceError {
    let message = refusal.to_string();
    let number_error = |code: &'static str, number: &str| ServiceError::Ants {
        code,
        message: message.clone(),
        field: "pre_demande_numbers",
        extra: json!({ "number": number }),
    };
    match &refusal {
        CheckRefusal::Consumed { number } => number_error("pre_demande_consumed", number),
        CheckRefusal::Expired { number } => number_error("pre_demande_expired", number),
        CheckRefusal::NotRecognised { number } => number_error("pre_demande_declared", number),
        CheckRefusal::Unknown { number } | CheckRefusal::UnexpectedStatus { number, .. } => {
            number_error("pre_demande_unknown", number)
        }
        CheckRefusal::BookedElsewhere { appointments } => ServiceError::Ants {
            code: "pre_demande_booked_elsewhere",
            message,
            field: "confirm_other_appointments",
            extra: json!({ "appointments": appointments.iter().map(|a| json!({
                "number": a.number, "meeting_point": a.meeting_point,
                "appointment_date": a.appointment_date, "management_url": a.management_url,
            })).collect::<Vec<_>>() }),
        },
        CheckRefusal::AntsUnavailable => ServiceError::AntsUnavailable,
    }
}

/// The SMS reminder asked for, refused without a phone number to send it to.
pub fn sms_reminder(asked: bool, citizen: &Citizen) -> ServiceResult<bool> {
    if asked && citizen.phone.is_none() {
        return Err(ServiceError::invalid(
            "sms_needs_phone",
            "citizen.phone",
            "Indiquez un numéro de téléphone mobile pour recevoir le rappel par SMS.",
        ));
    }
    Ok(asked)
}

/// Whether the site's no-show policy asks `citizen` to confirm their presence for an appointment
/// at `start`: their address had the site's limit of no-shows within its months (one query, only
/// where a policy is set). A booking made inside the confirmation window is its own confirmation.
pub async fn must_confirm(
    state: &AppState,
    site: &SiteRow,
    citizen: &Citizen,
    start: DateTime<Utc>,
) -> ServiceResult<bool> {
    let now = state.clock.now();
    let deadline = start - chrono::Duration::hours(i64::from(site.confirm_hours));
    let Some(email) = citizen
        .email
        .as_ref()
        .filter(|_| site.noshow_limit > 0 && deadline > now)
    else {
        return Ok(false);
    };
    let since = now - chrono::Duration::days(30 * i64::from(site.noshow_months));
    let n = appointments::no_shows_since(&state.pool, &email.identity(), since).await?;
    Ok(n >= i64::from(site.noshow_limit))
}

/// Books a held slot (the API and the pages both come here).
pub async fn confirm(state: &AppState, input: &ConfirmInput) -> ServiceResult<Booked> {
    let claims = holds::verified(state, &input.hold_token)?;
    let citizen = input.citizen.parse(true, CitizenFields::ONLINE)?;
    let persons = PartySize::new(i64::from(claims.persons))?;
    let numbers = numbers_for(claims.motif, persons, &input.pre_demande_numbers, true)?;
    let (site, slot) = slot_of_hold(state, &claims).await?;
    // The motif may have been withdrawn from the site since the hold.
    motif_setting(state, site.id, claims.motif, persons).await?;
    let ants_check = check_with_ants(state, &numbers, site.id, input.confirm_other_appointments).await?;
    let must_confirm = must_confirm(state, &site, &citizen, slot.start).await?;
    let token = NewManageToken::draw(state);
    let opts = BookingOptions {
        source: "online",
        now: state.clock.now(),
        max_live_per_email: state.config.max_live_appointments_per_email,
        max_live_per_site_day: state.config.max_live_per_site_day,
        token_hash: &token.hash,
        token_sealed: &token.sealed,
        reference: &token.reference,
        ants_check,
        must_confirm,
        sms_reminder: sms_reminder(input.sms_reminder, &citizen)?,
    };
    let created = match appointments::create(&state.pool, &slot, &citizen, &numbers, &opts).await {
        Ok(c) => c,
        Err(e) => return Err(refused(state, &site, &slot, e).await),
    };
    holds::consumed(state, &claims).await;
    tracing::info!(appointment = %created.id, site = %site.id, email = %citizen.email.as_ref().map(Email::masked).unwrap_or_default(), "appointment booked");
    Ok(Booked {
        id: created.id,
        reference: token.reference,
        site_id: site.id,
        station_id: created.station_id,
        tz: slot.tz,
        motif: claims.motif,
        persons,
        start: slot.start,
        end: slot.end,
        manage_token: token.token,
    })
}
