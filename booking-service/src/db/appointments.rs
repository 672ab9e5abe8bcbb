//! Appointments: creation, cancellation and rescheduling, each in one transaction, and the job that
//! ends past appointments.
//!
//! Concurrency design:
//! - the exclusion constraint `appointment_no_overlap` is the final word on a station's time;
//! - each attempt on a station runs in a savepoint, so a lost race tries the next free station;
//! - booking takes `FOR SHARE` locks on the site and its stations, which staff changes to rules and
//!   closures take `FOR UPDATE`: a booking re-checks the calendar after its locks, so it can never
//!   land outside an opening that a concurrent change just removed (the day is read again unless
//!   the site's version shows the read model's copy is still the committed state);
//! - a confirmation is short: hold marked used, person caps, locks, version, insert, numbers, and
//!   every outbox row in one statement (11 to 13 statements with BEGIN and COMMIT, see
//!   BENCHMARKS.md);
//! - an advisory lock per email address serializes the "N live appointments per address" count;
//! - the partial unique index `pre_demande_one_live` keeps one live appointment per number.

use super::calendar::{load_calendar, policy};
use super::constraints::{self, on_first_free_station_or_give_up, violated};
use super::outbox::{self, drop_pending_reminder, OutboxKind};
use super::site_versions;
use crate::domain::citizen::{Email, Phone, PreDemandeNumber};
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::slots::SiteCalendar;
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

/// Who is booking.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub first_name: String,
    pub last_name: String,
    /// Required online; optional at the counter.
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

/// How a booking is made.
pub struct BookingOptions<'a> {
    /// `online`, `counter` or `phone`.
    pub source: &'a str,
    pub now: DateTime<Utc>,
    /// Service-wide limit of live appointments per mailbox ([`Email::identity`]).
    pub max_live_per_email: i64,
    /// Limit of live appointments per mailbox or phone at one site on one local day (0: none).
    pub max_live_per_site_day: i64,
    /// The new appointment's management token: its hash (looked up) and its sealed copy (opened
    /// by the notifier to put the link in emails). The token itself is never stored.
    pub token_hash: &'a [u8],
    pub token_sealed: &'a [u8],
    /// The citizen-readable reference (`RDV-XXXX-XXXX`).
    pub reference: &'a str,
    /// What the ANTS status check said (`validated`, `unchecked`, `not_checked`).
    pub ants_check: &'a str,
    /// The site's no-show policy asks this address to confirm its presence.
    pub must_confirm: bool,
    /// The citizen asked for the reminder by SMS too.
    pub sms_reminder: bool,
}

/// The slot a booking or a move asks for, as a hold token described it.
#[derive(Debug, Clone)]
pub struct SlotRequest {
    pub site_id: Uuid,
    pub tz: Tz,
    pub department: String,
    /// The station the hold reserved; tried first.
    pub preferred_station: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub motif: Motif,
    pub persons: PartySize,
    /// The instant the rules are judged at (the hold's issue time: notice and release as then).
    pub rules_at: DateTime<Utc>,
    /// The hold's id: a hold books once.
    pub hold_ref: String,
    /// Staff at the counter may book outside the minimum notice and the public horizon (never
    /// outside openings, nor over another appointment).
    pub waive_policy: bool,
    /// The site's calendar as the caller's read model holds it, if it covers the day.
    pub known: Option<KnownCalendar>,
}

/// A site's calendar with the version it was read at (the version read before its data). When the
/// site's version has not moved since, nothing the calendar depends on changed (every change bumps
/// it, migration 0017), so the check can use it instead of reading the day again.
#[derive(Debug, Clone)]
pub struct KnownCalendar {
    pub version: i64,
    pub calendar: Arc<SiteCalendar>,
}

/// Why a booking, move or cancellation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("slot unavailable")]
    SlotUnavailable,
    #[error("pré-demande number already in a live appointment")]
    PreDemandeInUse(String),
    #[error("too many live appointments for this email")]
    EmailLimit(i64),
    #[error("too many live appointments for this person at this site that day")]
    SiteDayLimit(i64),
    #[error("hold already used")]
    HoldAlreadyUsed,
    #[error("appointment not found")]
    NotFound,
    #[error("appointment not in a state that allows this")]
    WrongStatus(AppointmentStatus),
    #[error("online deadline passed")]
    DeadlinePassed(DateTime<Utc>),
    #[error("the new slot does not match the appointment")]
    Mismatch(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Records that a hold was used by `appointment`, first thing in a booking or a move: a hold books
/// once, and a second confirmation of it (a double click, a retry) is told so rather than "slot
/// taken" by its own first booking; a concurrent one waits on the primary key, then fails here.
/// The foreign key to the appointment is checked at commit (migration 0018).
async fn mark_hold_used(
    conn: &mut PgConnection,
    hold_ref: &str,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let res = sqlx::query("INSERT INTO used_holds (hold_ref, appointment_id, used_at) VALUES ($1, $2, $3)")
        .bind(hold_ref)
        .bind(appointment)
        .bind(now)
        .execute(conn)
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if violated(&e) == Some(constraints::USED_HOLDS_PKEY) => Err(BookingError::HoldAlreadyUsed),
        Err(e) => Err(e.into()),
    }
}

/// The caps on one person: live appointments per mailbox service-wide, and per mailbox or phone
/// at one site on one local day. Advisory locks per mailbox and per phone serialize the bookings
/// of one person, so two concurrent ones cannot both pass a count.
async fn check_person_caps(
    conn: &mut PgConnection,
    slot: &SlotRequest,
    citizen: &Citizen,
    opts: &BookingOptions<'_>,
) -> Result<(), BookingError> {
    let email_key = citizen.email.as_ref().map(Email::identity);
    let phone = citizen.phone.as_ref().map(Phone::as_str);
    if let Some(key) = &email_key {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 42))")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM appointments WHERE email_key = $1 AND status = ANY ($2)",
        )
        .bind(key)
        .bind(&AppointmentStatus::LIVE[..])
        .fetch_one(&mut *conn)
        .await?;
        if live >= opts.max_live_per_email {
            return Err(BookingError::EmailLimit(opts.max_live_per_email));
        }
    }
    if let Some(p) = phone {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 43))")
            .bind(p)
            .execute(&mut *conn)
            .await?;
    }
    if opts.max_live_per_site_day > 0 && (email_key.is_some() || phone.is_some()) {
        let day = slot.start.with_timezone(&slot.tz).date_naive();
        let (lo, hi) = super::calendar::utc_window(day, day);
        let same_day: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM appointments
             WHERE site_id = $1 AND status = ANY ($2) AND during && tstzrange($3, $4)
               AND (email_key = $5 OR phone = $6)",
        )
        .bind(slot.site_id)
        .bind(&AppointmentStatus::LIVE[..])
        .bind(lo)
        .bind(hi)
        .bind(&email_key)
        .bind(phone)
        .fetch_one(&mut *conn)
        .await?;
        if same_day >= opts.max_live_per_site_day {
            return Err(BookingError::SiteDayLimit(opts.max_live_per_site_day));
        }
    }
    Ok(())
}

/// Share-locks the site and its stations, re-checks the slot against the calendar as it is now
/// committed, and returns the stations free for it (the preferred one first).
async fn lock_and_check(conn: &mut PgConnection, slot: &SlotRequest) -> Result<Vec<Uuid>, BookingError> {
    let site: Option<Uuid> = sqlx::query_scalar("SELECT id FROM sites WHERE id = $1 AND active FOR SHARE")
        .bind(slot.site_id)
        .fetch_optional(&mut *conn)
        .await?;
    if site.is_none() {
        return Err(BookingError::SlotUnavailable);
    }
    sqlx::query("SELECT id FROM stations WHERE site_id = $1 ORDER BY id FOR SHARE")
        .bind(slot.site_id)
        .execute(&mut *conn)
        .await?;
    let day = slot.start.with_timezone(&slot.tz).date_naive();
    // Read after the locks: no rule, closure or policy change can commit until this transaction
    // ends, and a booking committed meanwhile is caught by the exclusion constraint.
    let unchanged = match &slot.known {
        Some(k) => site_versions::version(&mut *conn, slot.site_id).await? == k.version,
        None => false,
    };
    let mut cal = match &slot.known {
        Some(k) if unchanged => k.calendar.window(day, day),
        _ => load_calendar(conn, slot.site_id, slot.tz, &slot.department, day, day).await?,
    };
    let duration = slot.end - slot.start;
    if slot.waive_policy {
        cal.policy.min_notice = Duration::zero();
        cal.policy.horizon_days = 3650;
    }
    if !cal.is_offered(slot.start, duration, slot.rules_at) {
        return Err(BookingError::SlotUnavailable);
    }
    let mut free = cal.free_stations(slot.start, duration);
    if let Some(pos) = free.iter().position(|s| *s == slot.preferred_station) {
        free[..=pos].rotate_right(1);
    }
    Ok(free)
}

/// Whether a live appointment or waiting-list offer occupies `station` somewhere in `[start, end)`, as committed now
/// (read outside any transaction; the gist index of the exclusion constraint answers it).
pub async fn station_occupied(
    pool: &PgPool,
    station: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM appointments
                        WHERE station_id = $1 AND status IN ('booked', 'checked_in')
                          AND during && tstzrange($2, $3, '[)'))
             OR EXISTS (SELECT 1 FROM waitlist_offers
                        WHERE station_id = $1 AND status = 'offered' AND during && tstzrange($2, $3, '[)'))",
    )
    .bind(station)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await
}

/// What a successful booking returns.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: Uuid,
    pub station_id: Uuid,
}

/// Books `slot` for `citizen` in one transaction: appointment, pré-demande numbers, outbox rows.
pub async fn create(
    pool: &PgPool,
    slot: &SlotRequest,
    citizen: &Citizen,
    numbers: &[PreDemandeNumber],
    opts: &BookingOptions<'_>,
) -> Result<Created, BookingError> {
    let mut tx = pool.begin().await?;
    let created = create_in(&mut tx, slot, citizen, numbers, opts).await?;
    tx.commit().await?;
    Ok(created)
}

/// Books a slot a waiting-list offer held: the offer is taken (it must still be live at `now`),
/// which frees its time for this booking only, then the booking runs as [`create`] does, in the
/// same transaction. `Ok(None)`: the offer is gone (accepted, lapsed or withdrawn).
pub async fn create_from_offer(
    pool: &PgPool,
    offer: Uuid,
    slot: &SlotRequest,
    citizen: &Citizen,
    numbers: &[PreDemandeNumber],
    opts: &BookingOptions<'_>,
) -> Result<Option<Created>, BookingError> {
    let mut tx = pool.begin().await?;
    if !super::waitlist::take_offer(&mut tx, offer, opts.now).await? {
        return Ok(None);
    }
    let created = create_in(&mut tx, slot, citizen, numbers, opts).await?;
    tx.commit().await?;
    Ok(Some(created))
}

async fn create_in(
    tx: &mut PgConnection,
    slot: &SlotRequest,
    citizen: &Citizen,
    numbers: &[PreDemandeNumber],
    opts: &BookingOptions<'_>,
) -> Result<Created, BookingError> {
    let (source, now, ants_check) = (opts.source, opts.now, opts.ants_check);
    let id = Uuid::new_v4();
    mark_hold_used(tx, &slot.hold_ref, id, now).await?;
    check_person_caps(tx, slot, citizen, opts).await?;
    let candidates = lock_and_check(tx, slot).await?;
    let (reference, token_hash, sealed) = (opts.reference, opts.token_hash, opts.token_sealed);
    let email = citizen.email.as_ref().map(Email::as_str);
    let email_key = citizen.email.as_ref().map(Email::identity);
    let phone = citizen.phone.as_ref().map(Phone::as_str);
    let inserted = on_first_free_station_or_give_up(tx, &candidates, |station| {
        sqlx::query(
            "INSERT INTO appointments (id, reference, site_id, station_id, motif, persons, during, status, source,
                                       first_name, last_name, email, phone, manage_token_hash, hold_ref,
                                       created_at, updated_at, manage_token_sealed, email_key, must_confirm,
                                       sms_reminder)
             VALUES ($1, $2, $3, $4, $5, $6, tstzrange($7, $8, '[)'), $18, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $19, $20, $21)",
        )
        .bind(id)
        .bind(reference)
        .bind(slot.site_id)
        .bind(station)
        .bind(slot.motif.code())
        .bind(slot.persons)
        .bind(slot.start)
        .bind(slot.end)
        .bind(source)
        .bind(&citizen.first_name)
        .bind(&citizen.last_name)
        .bind(email)
        .bind(phone)
        .bind(token_hash)
        .bind(&slot.hold_ref)
        .bind(now)
        .bind(sealed)
        .bind(AppointmentStatus::Booked)
        .bind(email_key.as_deref())
        .bind(opts.must_confirm)
        .bind(opts.sms_reminder && phone.is_some())
    })
    .await;
    let chosen = match inserted {
        Ok(c) => c,
        Err(e) if violated(&e) == Some(constraints::APPOINTMENTS_HOLD_REF) => {
            return Err(BookingError::HoldAlreadyUsed)
        }
        Err(e) => return Err(e.into()),
    };
    let station_id = chosen.ok_or(BookingError::SlotUnavailable)?;
    let numbers: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
    let res = sqlx::query(
        "INSERT INTO appointment_pre_demandes (appointment_id, number, live, ants_check)
         SELECT $1, n, true, $3 FROM unnest($2::text[]) AS n",
    )
    .bind(id)
    .bind(&numbers)
    .bind(ants_check)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if violated(&e) == Some(constraints::PRE_DEMANDE_ONE_LIVE) => {
            return Err(BookingError::PreDemandeInUse(number_in_use(&e, &numbers)))
        }
        Err(e) => return Err(e.into()),
    }
    let confirmation = (OutboxKind::Confirmation, json!({ "sequence": 0 }));
    outbox::enqueue_after_booking(
        tx,
        id,
        slot.site_id,
        slot.start,
        Some(confirmation),
        &numbers,
        now,
    )
    .await?;
    Ok(Created { id, station_id })
}

/// Which of `numbers` a violation of the one-live-number index names (PostgreSQL's detail reads
/// `Key (number)=(…) already exists.`); the first one if the detail cannot be read.
fn number_in_use(e: &sqlx::Error, numbers: &[String]) -> String {
    let detail = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|d| d.detail());
    detail
        .and_then(|d| numbers.iter().find(|n| d.contains(&format!("=({n})"))))
        .or(numbers.first())
        .cloned()
        .unwrap_or_default()
}

/// An appointment as its management link shows it.
#[derive(Debug, Clone, FromRow)]
pub struct AppointmentView {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub timezone: String,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub first_name: String,
    pub last_name: String,
    pub cancel_deadline_minutes: i32,
    pub pre_demande_numbers: Vec<String>,
    /// The calendar file's SEQUENCE (raised on each move and cancellation).
    pub calendar_sequence: i32,
    /// When the citizen confirmed they will come ("je confirme"), if they did.
    pub presence_confirmed_at: Option<DateTime<Utc>>,
    /// The no-show policy asks for that confirmation, by this instant, or the slot is released.
    pub confirm_by: Option<DateTime<Utc>>,
}

/// The appointment behind a management token's hash.
pub async fn find_by_token_hash(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<AppointmentView>> {
    sqlx::query_as(
        "SELECT a.id, a.reference, a.site_id, s.name AS site_name, s.address_line, s.postcode, s.city, s.timezone,
                a.motif, a.persons, lower(a.during) AS start, upper(a.during) AS \"end\", a.status,
                a.first_name, a.last_name, coalesce(p.cancel_deadline_minutes, 240) AS cancel_deadline_minutes,
                array(SELECT number FROM appointment_pre_demandes d WHERE d.appointment_id = a.id ORDER BY number)
                    AS pre_demande_numbers, a.calendar_sequence, a.presence_confirmed_at,
                CASE WHEN a.must_confirm THEN lower(a.during) - make_interval(hours => s.confirm_hours) END AS confirm_by
         FROM appointments a JOIN sites s ON s.id = a.site_id
         LEFT JOIN booking_policies p ON p.site_id = a.site_id
         WHERE a.manage_token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await
}

/// Locks a live, citizen-changeable appointment and, when `check_deadline` (the citizen acting,
/// not staff), checks the online deadline. Returns (site, start, numbers, motif, persons).
async fn lock_for_citizen_change(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
    check_deadline: bool,
) -> Result<(Uuid, DateTime<Utc>, Vec<String>, Motif, PartySize), BookingError> {
    let row: Option<(Uuid, DateTime<Utc>, AppointmentStatus, Motif, PartySize)> = sqlx::query_as(
        "SELECT site_id, lower(during), status, motif, persons FROM appointments WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (site_id, start, status, motif, persons) = row.ok_or(BookingError::NotFound)?;
    if !status.citizen_may_change() {
        return Err(BookingError::WrongStatus(status));
    }
    if check_deadline {
        let pol = policy(&mut *conn, site_id).await?;
        let deadline = start - Duration::minutes(i64::from(pol.cancel_deadline_minutes));
        if now > deadline {
            return Err(BookingError::DeadlinePassed(deadline));
        }
    }
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT number FROM appointment_pre_demandes WHERE appointment_id = $1 ORDER BY number",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok((site_id, start, numbers, motif, persons))
}

/// Queues the ANTS withdrawal of each number's declaration.
async fn queue_ants_deletes(
    conn: &mut PgConnection,
    id: Uuid,
    site_id: Uuid,
    start: DateTime<Utc>,
    numbers: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for n in numbers {
        let payload = json!({ "number": n, "site_id": site_id, "start": start });
        outbox::enqueue(conn, OutboxKind::AntsDelete, id, payload, now, now).await?;
    }
    Ok(())
}

/// Cancels through the management link, before the site's deadline: the slot and the numbers are
/// freed, the cancellation email and the ANTS withdrawals queued.
pub async fn cancel_by_citizen(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<(), BookingError> {
    cancel(pool, id, now, true, ("citizen", None)).await
}

/// Cancels an appointment whose required confirmation of presence did not come in time (the
/// no-show policy): as a citizen's cancellation, without the deadline, by the service itself.
pub async fn release_unconfirmed(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<(), BookingError> {
    cancel(pool, id, now, false, ("system", Some("présence non confirmée"))).await
}

async fn cancel(
    pool: &PgPool,
    id: Uuid,
    now: DateTime<Utc>,
    check_deadline: bool,
    (by, reason): (&str, Option<&str>),
) -> Result<(), BookingError> {
    let mut tx = pool.begin().await?;
    let (site_id, start, numbers, _, _) = lock_for_citizen_change(&mut tx, id, now, check_deadline).await?;
    sqlx::query(
        "UPDATE appointments SET status = $3, cancelled_by = $4, cancel_reason = $5, updated_at = $2,
                calendar_sequence = calendar_sequence + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(AppointmentStatus::Cancelled)
    .bind(by)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE appointment_pre_demandes SET live = false WHERE appointment_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    drop_pending_reminder(&mut tx, id).await?;
    outbox::enqueue(
        &mut tx,
        OutboxKind::Cancellation,
        id,
        json!({ "by": by }),
        now,
        now,
    )
    .await?;
    queue_ants_deletes(&mut tx, id, site_id, start, &numbers, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Appointments whose required confirmation of presence is overdue at `now` (their site's
/// `confirm_hours` before the start have passed), with their sites.
pub async fn unconfirmed_due(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    sqlx::query_as(
        "SELECT a.id, a.site_id FROM appointments a JOIN sites s ON s.id = a.site_id
         WHERE a.must_confirm AND a.presence_confirmed_at IS NULL AND a.status = 'booked'
           AND lower(a.during) - make_interval(hours => s.confirm_hours) <= $1
           AND lower(a.during) > $1",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}

/// The citizen confirms they will come ("je confirme"): recorded once, while the appointment is
/// still to come. `false` when it is not.
pub async fn confirm_presence(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE appointments SET presence_confirmed_at = coalesce(presence_confirmed_at, $2), updated_at = $2
         WHERE id = $1 AND status = 'booked' AND lower(during) > $2",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}

/// Staff lift the no-show policy's confirmation from one appointment.
pub async fn lift_confirmation(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE appointments SET must_confirm = false, updated_at = $2 WHERE id = $1 AND must_confirm",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// A reply STOP from `phone`: no more SMS for any of its live appointments. Returns how many.
pub async fn stop_sms(pool: &PgPool, phone: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "UPDATE appointments SET sms_reminder = false WHERE phone = $1 AND sms_reminder AND status IN {}",
        AppointmentStatus::LIVE_SQL
    ))
    .bind(phone)
    .execute(pool)
    .await?
    .rows_affected())
}

/// How many no-shows `email_key` had since `since` (the no-show policy's count).
pub async fn no_shows_since(pool: &PgPool, email_key: &str, since: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM appointments WHERE email_key = $1 AND status = 'no_show' AND lower(during) >= $2",
    )
    .bind(email_key)
    .bind(since)
    .fetch_one(pool)
    .await
}

/// Which rules a move keeps besides openings and the no-overlap constraint (always kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveRules {
    /// The site's online deadline applies (the citizen); staff moves waive it.
    pub deadline: bool,
    /// Only this station may take the appointment (staff may name one); else any free one.
    pub only_station: Option<Uuid>,
}

impl MoveRules {
    /// A citizen moving their own appointment through the management link.
    pub const CITIZEN: Self = Self {
        deadline: true,
        only_station: None,
    };
}

/// Moves a booked appointment onto the held `slot`: the same row (id, token, calendar UID), in one
/// transaction. If the new slot is lost, nothing changes.
pub async fn reschedule(
    pool: &PgPool,
    id: Uuid,
    slot: &SlotRequest,
    now: DateTime<Utc>,
) -> Result<Uuid, BookingError> {
    reschedule_with(pool, id, slot, now, MoveRules::CITIZEN).await
}

/// [`reschedule`] under `rules`: the one path of every move (citizen or staff), so the email,
/// the reminder and the ANTS withdrawal then declaration follow a staff move exactly as a
/// citizen's.
pub async fn reschedule_with(
    pool: &PgPool,
    id: Uuid,
    slot: &SlotRequest,
    now: DateTime<Utc>,
    rules: MoveRules,
) -> Result<Uuid, BookingError> {
    let mut tx = pool.begin().await?;
    // Sites before the appointment row, in id order: the order a breakdown takes its locks (site,
    // then appointments), so the two can never wait on each other.
    let current_site: Option<Uuid> = sqlx::query_scalar("SELECT site_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let mut sites = vec![current_site.ok_or(BookingError::NotFound)?, slot.site_id];
    sites.sort();
    sites.dedup();
    sqlx::query("SELECT id FROM sites WHERE id = ANY ($1) ORDER BY id FOR SHARE")
        .bind(&sites)
        .execute(&mut *tx)
        .await?;
    let (old_site, old_start, numbers, motif, persons) =
        lock_for_citizen_change(&mut tx, id, now, rules.deadline).await?;
    mark_hold_used(&mut tx, &slot.hold_ref, id, now).await?;
    if motif != slot.motif {
        return Err(BookingError::Mismatch("motif"));
    }
    if persons != slot.persons {
        return Err(BookingError::Mismatch("persons"));
    }
    let mut candidates = lock_and_check(&mut tx, slot).await?;
    if let Some(only) = rules.only_station {
        candidates.retain(|s| *s == only);
    }
    let moved = on_first_free_station_or_give_up(&mut tx, &candidates, |station| {
        sqlx::query(
            "UPDATE appointments SET site_id = $2, station_id = $3, during = tstzrange($4, $5, '[)'),
                    hold_ref = $6, calendar_sequence = calendar_sequence + 1, updated_at = $7
             WHERE id = $1",
        )
        .bind(id)
        .bind(slot.site_id)
        .bind(station)
        .bind(slot.start)
        .bind(slot.end)
        .bind(&slot.hold_ref)
        .bind(now)
    })
    .await;
    let chosen = match moved {
        Ok(c) => c,
        Err(e) if violated(&e) == Some(constraints::APPOINTMENTS_HOLD_REF) => {
            return Err(BookingError::HoldAlreadyUsed)
        }
        Err(e) => return Err(e.into()),
    };
    let station = chosen.ok_or(BookingError::SlotUnavailable)?;
    let sequence: i32 = sqlx::query_scalar("SELECT calendar_sequence FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    drop_pending_reminder(&mut tx, id).await?;
    let payload = json!({ "sequence": sequence, "previous_site_id": old_site, "previous_start": old_start });
    outbox::enqueue(&mut tx, OutboxKind::Reschedule, id, payload, now, now).await?;
    // ANTS has no update call: withdraw the old declaration, then declare the new one (in this order).
    queue_ants_deletes(&mut tx, id, old_site, old_start, &numbers, now).await?;
    outbox::enqueue_after_booking(&mut tx, id, slot.site_id, slot.start, None, &numbers, now).await?;
    tx.commit().await?;
    Ok(station)
}

/// Marks live appointments that ended more than `grace` ago as `ended` and frees their numbers.
/// Returns how many were ended.
pub async fn end_past(pool: &PgPool, now: DateTime<Utc>, grace: Duration) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH ended AS (
             UPDATE appointments SET status = $3, updated_at = $1
             WHERE status = ANY ($4) AND upper(during) <= $2
             RETURNING id),
         freed AS (
             UPDATE appointment_pre_demandes d SET live = false FROM ended
             WHERE d.appointment_id = ended.id AND d.live
             RETURNING 1),
         reminders AS (
             UPDATE outbox o SET status = 'dropped' FROM ended
             WHERE o.appointment_id = ended.id AND o.kind = 'reminder' AND o.status = 'pending'
             RETURNING 1)
         SELECT count(*) FROM ended",
    )
    .bind(now)
    .bind(now - grace)
    .bind(AppointmentStatus::Ended)
    .bind(&AppointmentStatus::LIVE[..])
    .fetch_one(pool)
    .await
}

/// Staff set an appointment's status. Allowed: booked → checked_in, no_show, cancelled;
/// checked_in → done, no_show, cancelled; ended → done, no_show (marked late). Leaving the live
/// statuses frees the numbers and drops the reminder; a cancellation tells the citizen (with the
/// reason) and withdraws the ANTS declarations. Returns the previous status.
pub async fn staff_set_status(
    pool: &PgPool,
    id: Uuid,
    new_status: AppointmentStatus,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AppointmentStatus, BookingError> {
    let mut tx = pool.begin().await?;
    let old = staff_set_status_in(&mut tx, id, new_status, reason, now).await?;
    tx.commit().await?;
    Ok(old)
}

/// [`staff_set_status`] inside a caller's transaction (a breakdown cancels several at once).
pub async fn staff_set_status_in(
    tx: &mut PgConnection,
    id: Uuid,
    new_status: AppointmentStatus,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AppointmentStatus, BookingError> {
    let row: Option<(Uuid, AppointmentStatus, DateTime<Utc>)> =
        sqlx::query_as("SELECT site_id, status, lower(during) FROM appointments WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (site_id, old, start) = row.ok_or(BookingError::NotFound)?;
    if !old.staff_may_set(new_status) {
        return Err(BookingError::WrongStatus(old));
    }
    let cancelled = new_status == AppointmentStatus::Cancelled;
    sqlx::query(
        "UPDATE appointments SET status = $2, updated_at = $3,
                cancelled_by = CASE WHEN $4 THEN 'staff' ELSE cancelled_by END,
                cancel_reason = CASE WHEN $4 THEN $5 ELSE cancel_reason END,
                calendar_sequence = calendar_sequence + CASE WHEN $4 THEN 1 ELSE 0 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(new_status)
    .bind(now)
    .bind(cancelled)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    if !new_status.is_live() {
        sqlx::query("UPDATE appointment_pre_demandes SET live = false WHERE appointment_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        drop_pending_reminder(&mut *tx, id).await?;
    }
    if cancelled {
        let numbers: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM appointment_pre_demandes WHERE appointment_id = $1 ORDER BY number",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let payload = json!({ "by": "staff", "reason": reason });
        outbox::enqueue(&mut *tx, OutboxKind::Cancellation, id, payload, now, now).await?;
        queue_ants_deletes(&mut *tx, id, site_id, start, &numbers, now).await?;
    }
    Ok(old)
}

/// The commune and site of an appointment (for the staff member's tenant check).
pub async fn commune_and_site(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<(String, Uuid)>> {
    sqlx::query_as(
        "SELECT s.commune_insee, a.site_id FROM appointments a JOIN sites s ON s.id = a.site_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}
