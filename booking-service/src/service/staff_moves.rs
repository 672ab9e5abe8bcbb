//! What staff do to one appointment beyond its status: read it whole (details, numbers with their
//! ANTS state, history), correct the citizen's contact, and move it to any free time of its site,
//! even past the citizen's online deadline. Every change is audited; a move goes through the same
//! database path as the citizen's (same email, reminder and ANTS withdrawal then declaration).

use super::availability::{self, calendar_with_holds, motif_setting, site_tz, SiteSlots, SlotsQuery};
use super::booking::{refusal, refused, CitizenFields, CitizenInput};
use super::staff_access::{not_yours, visible_site};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::appointment_history::{self as db, Contact, HistoryRow, NumberState, StaffAppointment};
use crate::db::appointments::{self, MoveRules, SlotRequest};
use crate::db::outbox::{self, OutboxKind};
use crate::domain::citizen::Email;
use crate::domain::status::AppointmentStatus;
use crate::staff::{audit, StaffUser};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::json;
use uuid::Uuid;

/// An appointment of the member's commune (another commune's is "not found").
async fn visible_appointment(
    state: &AppState,
    staff: &StaffUser,
    id: Uuid,
) -> ServiceResult<StaffAppointment> {
    db::find(&state.pool, id)
        .await?
        .filter(|a| staff.sees(&a.commune_insee))
        .ok_or_else(|| not_yours("appointment_not_found"))
}

/// The appointment's site time zone.
fn tz_of(a: &StaffAppointment) -> ServiceResult<Tz> {
    a.timezone
        .parse()
        .map_err(|_| ServiceError::Internal(format!("site {} has an invalid time zone", a.site_id)))
}

/// Everything an appointment's staff page shows.
#[derive(Debug, Clone)]
pub struct AppointmentSheet {
    pub appointment: StaffAppointment,
    pub tz: Tz,
    pub numbers: Vec<NumberState>,
    /// Newest first.
    pub history: Vec<HistoryRow>,
    /// The citizen's own online deadline (staff are not bound by it).
    pub citizen_deadline: DateTime<Utc>,
    /// Whether it can be moved (it is booked, not yet checked in nor closed).
    pub movable: bool,
}

/// One appointment of the member's commune, whole.
pub async fn sheet(state: &AppState, staff: &StaffUser, id: Uuid) -> ServiceResult<AppointmentSheet> {
    let appointment = visible_appointment(state, staff, id).await?;
    let tz = tz_of(&appointment)?;
    let numbers = db::numbers(&state.pool, id).await?;
    let history = db::history(&state.pool, id).await?;
    Ok(AppointmentSheet {
        citizen_deadline: appointment.start
            - Duration::minutes(i64::from(appointment.cancel_deadline_minutes)),
        movable: appointment.status.citizen_may_change(),
        tz,
        numbers,
        history,
        appointment,
    })
}

/// A contact correction: each field left out stays as it is; an empty email or phone removes it.
#[derive(Debug, Clone, Default)]
pub struct ContactEdit {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The contact after a correction.
#[derive(Debug, Clone)]
pub struct ContactEdited {
    pub contact: Contact,
    /// The fields that changed (none: nothing was written).
    pub changed: Vec<&'static str>,
}

/// Corrects the citizen's names, email or phone, checked as a counter booking checks them. A new
/// address of a booked appointment is sent the confirmation (with its management link): the
/// citizen could not manage it from the old one. Audited with the names of the changed fields.
pub async fn edit_contact(
    state: &AppState,
    staff: &StaffUser,
    id: Uuid,
    edit: &ContactEdit,
) -> ServiceResult<ContactEdited> {
    let current = visible_appointment(state, staff, id).await?;
    let merged = CitizenInput {
        first_name: edit.first_name.clone().unwrap_or(current.first_name.clone()),
        last_name: edit.last_name.clone().unwrap_or(current.last_name.clone()),
        email: edit.email.clone().or(current.email.clone()),
        phone: edit.phone.clone().or(current.phone.clone()),
    };
    let citizen = merged.parse(false, CitizenFields::COUNTER)?;
    let contact = Contact {
        first_name: citizen.first_name,
        last_name: citizen.last_name,
        email: citizen.email.as_ref().map(|e| e.as_str().to_string()),
        phone: citizen.phone.as_ref().map(|p| p.as_str().to_string()),
    };
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (before, status, sequence) = db::lock_contact(&mut tx, id)
        .await?
        .ok_or_else(|| not_yours("appointment_not_found"))?;
    let changed: Vec<&'static str> = [
        ("first_name", before.first_name != contact.first_name),
        ("last_name", before.last_name != contact.last_name),
        ("email", before.email != contact.email),
        ("phone", before.phone != contact.phone),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect();
    if changed.is_empty() {
        return Ok(ContactEdited { contact, changed });
    }
    let email_key = citizen.email.as_ref().map(Email::identity);
    db::set_contact(&mut tx, id, &contact, email_key.as_deref(), now).await?;
    if changed.contains(&"email") && contact.email.is_some() && status == AppointmentStatus::Booked {
        outbox::enqueue(
            &mut tx,
            OutboxKind::Confirmation,
            id,
            json!({ "sequence": sequence, "resent": "contact_changed" }),
            now,
            now,
        )
        .await?;
    }
    // The values stay out of the log (personal data); which fields changed is what is audited.
    audit::record(
        &mut *tx,
        staff,
        Some(&current.commune_insee),
        "contact_edit",
        Some(id),
        None,
        json!({ "fields": changed }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ContactEdited { contact, changed })
}

/// Staff lift the no-show policy's confirmation from an appointment: it will not be released for
/// want of one (audited). `false` when none was asked.
pub async fn lift_confirmation(state: &AppState, staff: &StaffUser, id: Uuid) -> ServiceResult<bool> {
    let current = visible_appointment(state, staff, id).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let lifted = crate::db::appointments::lift_confirmation(&mut tx, id, now).await?;
    if lifted {
        audit::record(
            &mut *tx,
            staff,
            Some(&current.commune_insee),
            "confirmation_lifted",
            Some(id),
            None,
            json!({}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(lifted)
}

/// A move asked by staff.
#[derive(Debug, Clone)]
pub struct MoveInput {
    pub start: DateTime<Utc>,
    /// A station of the same site; else any free one.
    pub station_id: Option<Uuid>,
}

/// Where the appointment went.
#[derive(Debug, Clone)]
pub struct Moved {
    pub id: Uuid,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub tz: Tz,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Moves a booked appointment to another free time of its site (same motif and persons), even
/// past the citizen's online deadline and inside the minimum notice: staff waive the policy as at
/// the counter. Openings, citizens' live holds and the no-overlap constraint still hold; a taken
/// time answers with the next free ones. The citizen is sent the usual "moved" email.
pub async fn move_appointment(
    state: &AppState,
    staff: &StaffUser,
    id: Uuid,
    input: &MoveInput,
) -> ServiceResult<Moved> {
    let a = visible_appointment(state, staff, id).await?;
    if !a.status.citizen_may_change() {
        return Err(ServiceError::NotModifiable { status: a.status });
    }
    let site = visible_site(state, staff, a.site_id).await?;
    let tz = site_tz(&site)?;
    let setting = motif_setting(state, site.id, a.motif, a.persons).await?;
    let duration = availability::duration_for(&setting, a.persons);
    let now = state.clock.now();
    if let Some(station) = input.station_id {
        let ours = crate::db::calendar_admin::stations(&state.pool, site.id)
            .await?
            .into_iter()
            .any(|s| s.id == station && s.active);
        if !ours {
            return Err(ServiceError::invalid(
                "unknown_station",
                "station_id",
                "Ce poste n'appartient pas au lieu du rendez-vous (ou n'est pas actif).",
            ));
        }
    }
    // Times a citizen holds right now are theirs: checked here (the database knows only bookings).
    let day = input.start.with_timezone(&tz).date_naive();
    let mut cal = calendar_with_holds(state, &site, tz, day, day).await?;
    cal.policy.min_notice = Duration::zero();
    cal.policy.horizon_days = 3650;
    if !cal.is_offered(input.start, duration, now) {
        return Err(if cal.is_offered_ignoring_bookings(input.start, duration, now) {
            availability::slot_taken(state, &site, duration).await
        } else {
            ServiceError::SlotNotOffered
        });
    }
    let slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: input.station_id.unwrap_or(a.station_id),
        start: input.start,
        end: input.start + duration,
        motif: a.motif,
        persons: a.persons,
        rules_at: now,
        hold_ref: format!("staff-move-{}", Uuid::new_v4()),
        waive_policy: true,
        known: availability::known_calendar(state, site.id, tz, input.start),
    };
    // Without a chosen station, the move goes to a free station no citizen holds, reserved in the
    // holds store while it is written (as the counter does), and only there.
    let reserved = match input.station_id {
        Some(_) => None,
        None => super::staff_appointments::reserve_against_holds(state, &site, &slot).await?,
    };
    let rules = MoveRules {
        deadline: false,
        only_station: input.station_id.or(reserved),
    };
    let moved = appointments::reschedule_with(&state.pool, id, &slot, now, rules).await;
    if let Some(station) = reserved {
        crate::holds::store::HoldStore::new(&state.kv, &state.hold_mirror)
            .release(
                site.id,
                station,
                super::staff_appointments::COUNTER_CLIENT,
                &slot.hold_ref,
            )
            .await;
    }
    let station = match moved {
        Ok(s) => s,
        Err(e @ appointments::BookingError::SlotUnavailable) => {
            return Err(refused(state, &site, &slot, e).await)
        }
        Err(e) => return Err(refusal(e, tz)),
    };
    state.read_model.invalidate(site.id);
    audit::record(
        &state.pool,
        staff,
        Some(&site.commune_insee),
        "staff_move",
        Some(id),
        Some(&site.id.to_string()),
        json!({
            "from": a.start, "to": slot.start,
            "from_station": a.station_id, "to_station": station,
            "past_citizen_deadline": now > a.start - Duration::minutes(i64::from(a.cancel_deadline_minutes)),
        }),
        now,
    )
    .await?;
    Ok(Moved {
        id,
        site_id: site.id,
        station_id: station,
        tz,
        start: slot.start,
        end: slot.end,
    })
}

/// The times an appointment may be moved to: its site's free starts for its motif and persons
/// from `from` (default today) over `days` days (default 7, at most 31), the policy waived.
pub async fn move_options(
    state: &AppState,
    staff: &StaffUser,
    id: Uuid,
    from: Option<NaiveDate>,
    days: Option<i64>,
) -> ServiceResult<(AppointmentSheet, SiteSlots)> {
    let sheet = sheet(state, staff, id).await?;
    if !sheet.movable {
        return Err(ServiceError::NotModifiable {
            status: sheet.appointment.status,
        });
    }
    let days = days.unwrap_or(7);
    if !(1..=31).contains(&days) {
        return Err(ServiceError::malformed(
            "invalid_days",
            "jours",
            "Nombre de jours : de 1 à 31.",
        ));
    }
    let q = SlotsQuery {
        site_id: sheet.appointment.site_id,
        motif: sheet.appointment.motif,
        persons: sheet.appointment.persons,
        from,
        to: None,
        open_ended_days: days,
        waive_policy: true,
    };
    let slots = availability::site_slots(state, &q).await?;
    Ok((sheet, slots))
}

/// A search result with what its line shows: its site's name and time zone.
#[derive(Debug, Clone)]
pub struct Found {
    pub row: crate::db::agenda::EntryRow,
    pub site_name: String,
    pub tz: Tz,
}

/// The search of the staff pages: [`super::agenda::search`], each row with its site's name and
/// time zone (the results may span several sites).
pub async fn search(state: &AppState, staff: &StaffUser, text: &str) -> ServiceResult<Vec<Found>> {
    let rows = super::agenda::search(state, staff, Some(text)).await?;
    let sites = super::agenda::sites(state, staff).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        // A row of a site since deactivated (not in the list) is read in the service's zone.
        let (site_name, tz) = match sites.iter().find(|s| s.id == row.site_id) {
            Some(s) => (s.name.clone(), site_tz(s)?),
            None => (String::new(), chrono_tz::Europe::Paris),
        };
        out.push(Found { row, site_name, tz });
    }
    Ok(out)
}

/// A site's week for its staff page.
#[derive(Debug, Clone)]
pub struct Week {
    pub site: crate::db::territory::SiteRow,
    /// The first day shown.
    pub from: NaiveDate,
    pub agenda: super::agenda::Agenda,
}

/// Seven days of a site's appointments from `from` (default: the Monday of this week, local).
pub async fn week(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    from: Option<NaiveDate>,
) -> ServiceResult<Week> {
    let site = visible_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let from = from.unwrap_or_else(|| {
        let today = state.clock.now().with_timezone(&tz).date_naive();
        today
            - Duration::days(i64::from(
                chrono::Datelike::weekday(&today).num_days_from_monday(),
            ))
    });
    let agenda = super::agenda::agenda(state, staff, site.id, Some(from), Some(7)).await?;
    Ok(Week { site, from, agenda })
}
