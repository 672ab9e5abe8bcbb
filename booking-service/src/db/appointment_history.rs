//! One appointment as staff see it: its details, its pré-demande numbers with what ANTS was told,
//! its history (staff actions from the audit log, and what the citizen was sent), and the edit of
//! its contact.

use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// An appointment with everything its staff page shows.
#[derive(Debug, Clone, FromRow)]
pub struct StaffAppointment {
    pub id: Uuid,
    pub reference: String,
    pub commune_insee: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub timezone: String,
    pub station_id: Uuid,
    pub station_name: String,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub source: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The citizen's online deadline, in minutes before the start.
    pub cancel_deadline_minutes: i32,
    pub calendar_sequence: i32,
    /// The no-show policy asks the citizen to confirm by this instant (none: not asked, or lifted).
    pub confirm_by: Option<DateTime<Utc>>,
    pub presence_confirmed_at: Option<DateTime<Utc>>,
}

/// The appointment `id`, whatever its status.
pub async fn find(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<StaffAppointment>> {
    sqlx::query_as(
        "SELECT a.id, a.reference, s.commune_insee, a.site_id, s.name AS site_name, s.timezone,
                a.station_id, st.name AS station_name, a.motif, a.persons,
                lower(a.during) AS start, upper(a.during) AS \"end\", a.status, a.source,
                a.first_name, a.last_name, a.email, a.phone, a.cancelled_by, a.cancel_reason,
                a.created_at, a.updated_at, coalesce(p.cancel_deadline_minutes, 240) AS cancel_deadline_minutes,
                a.calendar_sequence,
                CASE WHEN a.must_confirm THEN lower(a.during) - make_interval(hours => s.confirm_hours) END AS confirm_by,
                a.presence_confirmed_at
         FROM appointments a JOIN sites s ON s.id = a.site_id JOIN stations st ON st.id = a.station_id
         LEFT JOIN booking_policies p ON p.site_id = a.site_id
         WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A pré-demande number of the appointment and where it stands with ANTS.
#[derive(Debug, Clone, FromRow)]
pub struct NumberState {
    pub number: String,
    /// Held by this appointment (it is live).
    pub live: bool,
    /// What the check at booking said: `not_checked`, `validated`, `unchecked` or `flagged`.
    pub ants_check: String,
    /// Why the reconciliation flagged it.
    pub ants_note: Option<String>,
    /// The latest declaration call queued for it by this appointment: `ants_declare` or `ants_delete`.
    pub last_call: Option<String>,
    /// That call's outbox status: `pending`, `sent`, `failed` or `dropped`.
    pub last_call_status: Option<String>,
    pub last_call_error: Option<String>,
    /// What ANTS was last told for this number (any appointment): the date and when.
    pub declared_date: Option<String>,
    pub declared_at: Option<DateTime<Utc>>,
}

/// The numbers of appointment `id`, with their latest declaration call and ANTS's record.
pub async fn numbers(pool: &PgPool, id: Uuid) -> sqlx::Result<Vec<NumberState>> {
    sqlx::query_as(
        "SELECT d.number, d.live, d.ants_check, d.ants_note,
                o.kind AS last_call, o.status AS last_call_status, o.last_error AS last_call_error,
                t.appointment_date AS declared_date, t.told_at AS declared_at
         FROM appointment_pre_demandes d
         LEFT JOIN LATERAL (
             SELECT kind, status, last_error FROM outbox
             WHERE appointment_id = d.appointment_id AND kind IN ('ants_declare', 'ants_delete')
               AND payload ->> 'number' = d.number
             ORDER BY id DESC LIMIT 1) o ON true
         LEFT JOIN ants_declarations t ON t.number = d.number
         WHERE d.appointment_id = $1
         ORDER BY d.number",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// One event of an appointment's life.
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    /// `audit` (a staff action) or `outbox` (something sent to the citizen).
    pub origin: String,
    /// The audit action, or the outbox kind.
    pub action: String,
    pub details: Value,
    /// Who did it (staff actions): display name, else email.
    pub actor: Option<String>,
}

/// Staff actions on appointment `id` and the emails it caused (confirmation, move, cancellation),
/// newest first.
pub async fn history(pool: &PgPool, id: Uuid) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT l.at, 'audit' AS origin, l.action, l.details,
                nullif(coalesce(nullif(s.display_name, ''), s.email), '') AS actor
         FROM audit_log l LEFT JOIN staff_accounts s ON s.id = l.account_id
         WHERE l.appointment_id = $1
         UNION ALL
         SELECT o.created_at AS at, 'outbox' AS origin, o.kind AS action, o.payload AS details, NULL AS actor
         FROM outbox o
         WHERE o.appointment_id = $1 AND o.kind IN ('confirmation', 'reschedule', 'cancellation')
         ORDER BY at DESC",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// An appointment's contact, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Contact {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An appointment's contact with what its correction needs to know, as locked.
#[derive(Debug, Clone, FromRow)]
struct LockedContact {
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    status: AppointmentStatus,
    calendar_sequence: i32,
}

/// Locks appointment `id` and reads its contact, status and calendar sequence (none: no such row).
pub async fn lock_contact(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(Contact, AppointmentStatus, i32)>> {
    let row: Option<LockedContact> = sqlx::query_as(
        "SELECT first_name, last_name, email, phone, status, calendar_sequence
         FROM appointments WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let contact = Contact {
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            phone: r.phone,
        };
        (contact, r.status, r.calendar_sequence)
    }))
}

/// Writes a new contact; `email_key` is the mailbox identity the per-person caps count by.
pub async fn set_contact(
    conn: &mut PgConnection,
    id: Uuid,
    contact: &Contact,
    email_key: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE appointments SET first_name = $2, last_name = $3, email = $4, phone = $5, email_key = $6,
                updated_at = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(&contact.first_name)
    .bind(&contact.last_name)
    .bind(&contact.email)
    .bind(&contact.phone)
    .bind(email_key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
