//! What counter staff do to appointments: mark arrived, done, absent, or cancel with a reason the
//! citizen is sent; book for a walk-in or a caller. Each change is audited in its transaction and
//! frees the slot in the calendar cache at once.

use super::booking::{
    check_with_ants, numbers_for, refusal, refused, Booked, CitizenFields, CitizenInput, NewManageToken,
};
use super::staff_access::{not_yours, visible_site};
use super::{availability, ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::appointments::{self, BookingError, BookingOptions, SlotRequest};
use crate::db::territory::SiteRow;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::status::AppointmentStatus;
use crate::holds::store::HoldStore;
use crate::staff::{audit, StaffUser};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

/// Longest cancellation reason (it is sent to the citizen).
pub const MAX_REASON_CHARS: usize = 500;

/// A status change asked by staff.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub appointment: Uuid,
    /// As typed: `checked_in`, `done`, `no_show` or `cancelled`.
    pub status: String,
    /// Required to cancel.
    pub reason: Option<String>,
}

/// A status changed.
#[derive(Debug, Clone)]
pub struct StatusChanged {
    pub id: Uuid,
    pub site_id: Uuid,
    pub status: AppointmentStatus,
    pub previous: AppointmentStatus,
}

/// The statuses staff may set (the others are set by the citizen or the ending job).
fn staff_target(raw: &str) -> ServiceResult<AppointmentStatus> {
    match raw.parse::<AppointmentStatus>() {
        Ok(
            s @ (AppointmentStatus::CheckedIn
            | AppointmentStatus::Done
            | AppointmentStatus::NoShow
            | AppointmentStatus::Cancelled),
        ) => Ok(s),
        _ => Err(ServiceError::invalid(
            "invalid_status",
            "status",
            "Statut : checked_in, done, no_show ou cancelled.",
        )),
    }
}

/// Sets an appointment's status (the API and the day page both come here).
pub async fn set_status(
    state: &AppState,
    staff: &StaffUser,
    change: &StatusChange,
) -> ServiceResult<StatusChanged> {
    let to = staff_target(&change.status)?;
    let reason = change.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if to == AppointmentStatus::Cancelled && reason.is_none() {
        return Err(ServiceError::invalid(
            "reason_required",
            "reason",
            "Indiquez le motif de l'annulation : il est envoyé à l'usager.",
        ));
    }
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ServiceError::invalid(
            "invalid_field",
            "reason",
            format!("Motif trop long ({MAX_REASON_CHARS} caractères)."),
        ));
    }
    let (commune, site_id) = appointments::commune_and_site(&state.pool, change.appointment)
        .await?
        .filter(|(c, _)| staff.sees(c))
        .ok_or_else(|| not_yours("appointment_not_found"))?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let previous = match appointments::staff_set_status_in(&mut tx, change.appointment, to, reason, now).await
    {
        Ok(old) => old,
        Err(BookingError::WrongStatus(from)) => return Err(ServiceError::InvalidTransition { from, to }),
        Err(BookingError::NotFound) => return Err(not_yours("appointment_not_found")),
        Err(e) => return Err(ServiceError::Internal(e.to_string())),
    };
    audit::record(
        &mut *tx,
        staff,
        Some(&commune),
        "status_change",
        Some(change.appointment),
        None,
        json!({"from": previous, "to": to, "reason": reason}),
        now,
    )
    .await?;
    tx.commit().await?;
    // The freed slot is shown at once by this process (others within the read model's bound) and
    // offered to the waiting list.
    state.read_model.invalidate(site_id);
    if !to.is_live() {
        super::waitlist::slot_freed(state);
    }
    Ok(StatusChanged {
        id: change.appointment,
        site_id,
        status: to,
        previous,
    })
}

/// How a booking reached the mairie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterSource {
    /// At the desk.
    Counter,
    /// By phone.
    Phone,
}

impl CounterSource {
    /// From the API's `source` (default: counter).
    pub fn parse(raw: Option<&str>) -> ServiceResult<Self> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("counter") => Ok(Self::Counter),
            Some("phone") => Ok(Self::Phone),
            Some(_) => Err(ServiceError::invalid(
                "invalid_source",
                "source",
                "source : counter ou phone.",
            )),
        }
    }

    /// The `source` column's value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Phone => "phone",
        }
    }
}

/// A booking taken at the counter or by phone.
#[derive(Debug, Clone)]
pub struct CounterInput {
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub citizen: CitizenInput,
    /// Optional at the counter; when given, one per person.
    pub pre_demande_numbers: Vec<String>,
    pub source: CounterSource,
}

/// A counter booking made, with what was recorded for its pré-demande numbers.
#[derive(Debug, Clone)]
pub struct CounterBooked {
    pub booked: Booked,
    /// `appointment_pre_demandes.ants_check` of its numbers: `validated`, `not_checked`,
    /// `unchecked`, or `overridden` (ANTS reported them booked elsewhere and the agent went on).
    pub ants_check: &'static str,
}

/// What the numbers of an overridden check record.
pub const ANTS_OVERRIDDEN: &str = "overridden";

/// How long the counter keeps its own reservation of the slot in the holds store: only while the
/// booking is written (a crash leaves it to expire on its own).
const COUNTER_RESERVATION: std::time::Duration = std::time::Duration::from_secs(60);

/// Books for a walk-in or a caller: notice, horizon and the pré-demande requirement are waived;
/// openings, the no-overlap rule and live citizen holds are not. Numbers, when given, are checked
/// with ANTS exactly as online (the same refusals); when ANTS reports them booked elsewhere the
/// booking goes on only if `override_ants` (the agent checked with the citizen), and the numbers
/// then record `overridden`, audited with ANTS's answer. Numbers are declared to ANTS and the
/// confirmation email queued (sent when an address is given) by the booking's own transaction,
/// as online.
pub async fn book_at_counter_with(
    state: &AppState,
    staff: &StaffUser,
    input: &CounterInput,
    override_ants: bool,
) -> ServiceResult<CounterBooked> {
    let site = visible_site(state, staff, input.site_id).await?;
    let setting = availability::motif_setting(state, site.id, input.motif, input.persons).await?;
    let citizen = input.citizen.parse(false, CitizenFields::COUNTER)?;
    let numbers = numbers_for(input.motif, input.persons, &input.pre_demande_numbers, false)?;
    let tz = availability::site_tz(&site)?;
    let duration = availability::duration_for(&setting, input.persons);
    // ANTS before any lock or reservation, as online: a slow ANTS must hold nothing.
    let (ants_check, overridden) = match check_with_ants(state, &numbers, site.id, false).await {
        Ok(check) => (check, None),
        Err(ServiceError::Ants {
            code: "pre_demande_booked_elsewhere",
            extra,
            ..
        }) if override_ants => (ANTS_OVERRIDDEN, Some(extra)),
        Err(ServiceError::Ants {
            code: code @ "pre_demande_booked_elsewhere",
            message,
            extra,
            ..
        }) => {
            return Err(ServiceError::Ants {
                code,
                message,
                // What lets the agent go on at the counter.
                field: "override_ants",
                extra,
            });
        }
        Err(e) => return Err(e),
    };
    let now = state.clock.now();
    let mut slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: Uuid::nil(),
        start: input.start,
        end: input.start + duration,
        motif: input.motif,
        persons: input.persons,
        rules_at: now,
        hold_ref: format!("counter-{}", Uuid::new_v4()),
        waive_policy: true,
        known: availability::known_calendar(state, site.id, tz, input.start),
    };
    let reserved = reserve_against_holds(state, &site, &slot).await?;
    if let Some(station) = reserved {
        slot.preferred_station = station;
    }
    let token = NewManageToken::draw(state);
    let opts = BookingOptions {
        source: input.source.code(),
        now,
        // The counter knows who is in front of it: no caps per person.
        max_live_per_email: i64::MAX,
        max_live_per_site_day: 0,
        token_hash: &token.hash,
        token_sealed: &token.sealed,
        reference: &token.reference,
        ants_check,
        // Booked in front of an agent: the agent is the confirmation.
        must_confirm: false,
        // Asked for online only (the citizen ticks it themselves).
        sms_reminder: false,
    };
    let created = appointments::create(&state.pool, &slot, &citizen, &numbers, &opts).await;
    if let Some(station) = reserved {
        // The appointment (or nothing) now stands there: the reservation has done its work.
        HoldStore::new(&state.kv, &state.hold_mirror)
            .release(site.id, station, COUNTER_CLIENT, &slot.hold_ref)
            .await;
    }
    let created = match created {
        Ok(c) => c,
        Err(e @ BookingError::SlotUnavailable) => return Err(refused(state, &site, &slot, e).await),
        Err(e) => return Err(refusal(e, tz)),
    };
    state.read_model.invalidate(site.id);
    audit::record(
        &state.pool,
        staff,
        Some(&site.commune_insee),
        "counter_booking",
        Some(created.id),
        Some(&site.id.to_string()),
        json!({
            "source": input.source.code(), "motif": input.motif.code(), "persons": input.persons,
            "pre_demande_numbers": numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            "ants_check": ants_check,
            "ants_override": overridden.map(|extra| extra["appointments"].clone()),
        }),
        now,
    )
    .await?;
    Ok(CounterBooked {
        booked: Booked {
            id: created.id,
            reference: token.reference,
            site_id: site.id,
            station_id: created.station_id,
            tz,
            motif: input.motif,
            persons: input.persons,
            start: slot.start,
            end: slot.end,
            manage_token: token.token,
        },
        ants_check,
    })
}

/// The client name of the counter's own reservations in the holds store.
pub(super) const COUNTER_CLIENT: &str = "counter";

/// Reserves the slot in the holds store on a station that is free in the database and under no
/// live citizen hold, so that a citizen filling the online form keeps the time they were given
/// and no citizen hold can be placed on it while the counter writes. Refused ("taken") when every
/// free station is held. `None` when no station is free (the booking then refuses it as before,
/// telling "taken" from "closed") or when Redis is unreachable (as for holds, the database alone
/// decides).
pub(super) async fn reserve_against_holds(
    state: &AppState,
    site: &SiteRow,
    slot: &SlotRequest,
) -> ServiceResult<Option<Uuid>> {
    let day = slot.start.with_timezone(&slot.tz).date_naive();
    let cal =
        crate::db::calendar::load_day(&state.pool, site.id, slot.tz, &site.department_code, day).await?;
    let free = cal.free_stations(slot.start, slot.end - slot.start);
    if free.is_empty() {
        return Ok(None);
    }
    // Re-read after reserving, as a citizen's hold does: a booking committed since `cal` was read
    // has released its own reservation, and falling from its station onto another one would take
    // a station a citizen holds.
    let store = HoldStore::new(&state.kv, &state.hold_mirror);
    match super::holds::reserve_free(
        state,
        &store,
        COUNTER_CLIENT,
        site.id,
        &free,
        &slot.hold_ref,
        (slot.start, slot.end),
        COUNTER_RESERVATION,
    )
    .await?
    {
        Some(Some(station)) => Ok(Some(station)),
        Some(None) => Err(availability::slot_taken(state, site, slot.end - slot.start).await),
        None => Ok(None),
    }
}

/// How many days the counter page lists from the chosen day.
pub const COUNTER_DAYS: i64 = 7;

/// The free times the counter may book for `motif` and `persons` over [`COUNTER_DAYS`] days from
/// `day` (today by default): the citizens' availability engine, live citizen holds subtracted,
/// with the minimum notice and the public horizon waived as the counter booking waives them.
pub async fn counter_times(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    motif: Motif,
    persons: PartySize,
    day: Option<chrono::NaiveDate>,
) -> ServiceResult<availability::SiteSlots> {
    let site = visible_site(state, staff, site_id).await?;
    availability::site_slots(
        state,
        &availability::SlotsQuery {
            site_id: site.id,
            motif,
            persons,
            from: day,
            to: None,
            open_ended_days: COUNTER_DAYS,
            waive_policy: true,
        },
    )
    .await
}
