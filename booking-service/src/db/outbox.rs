//! The outbox: what must happen after a commit (emails, reminders, ANTS calls), written in the same
//! transaction as the change that causes it, so a crash can never lose it. The notifier drains it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

/// What an outbox row asks the notifier to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// The confirmation email with its calendar file.
    Confirmation,
    /// The email saying the appointment moved.
    Reschedule,
    /// The cancellation email.
    Cancellation,
    /// The reminder, due some hours before.
    Reminder,
    /// Declare a pré-demande number's appointment to ANTS.
    AntsDeclare,
    /// Withdraw it.
    AntsDelete,
    /// A staff member's one-time password link (no appointment).
    StaffPasswordReset,
    /// A waiting-list subscriber is offered a slot (no appointment yet).
    WaitlistOffer,
    /// The reminder by SMS, for a citizen who asked for it.
    SmsReminder,
}

impl OutboxKind {
    /// The `kind` column's value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Reschedule => "reschedule",
            Self::Cancellation => "cancellation",
            Self::Reminder => "reminder",
            Self::AntsDeclare => "ants_declare",
            Self::AntsDelete => "ants_delete",
            Self::StaffPasswordReset => "staff_password_reset",
            Self::WaitlistOffer => "waitlist_offer",
            Self::SmsReminder => "sms_reminder",
        }
    }
}

/// Queues one row for `appointment` (none for a staff email), due at `due_at` (now for most kinds).
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: OutboxKind,
    appointment: impl Into<Option<Uuid>>,
    payload: Value,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outbox (kind, appointment_id, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind.code())
    .bind(appointment.into())
    .bind(payload)
    .bind(due_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues in one statement what follows a booking or a move: `lead` (the confirmation) if any,
/// the reminder at the site's `reminder_hours` before `start` unless already inside that window
/// (and its SMS when the citizen asked for one), and one ANTS declaration per number.
pub async fn enqueue_after_booking(
    conn: &mut PgConnection,
    appointment: Uuid,
    site: Uuid,
    start: DateTime<Utc>,
    lead: Option<(OutboxKind, Value)>,
    numbers: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let declarations: Vec<Value> = numbers
        .iter()
        .map(|n| json!({ "number": n, "site_id": site, "start": start }))
        .collect();
    let (lead_kind, lead_payload) = lead.map(|(k, p)| (k.code(), p)).unzip();
    sqlx::query(
        "WITH policy AS (
             SELECT make_interval(hours => COALESCE(
                        (SELECT reminder_hours FROM booking_policies WHERE site_id = $3), $4)) AS lead_time)
         INSERT INTO outbox (kind, appointment_id, payload, due_at, created_at)
         SELECT $5, $1, $6, $2, $2 WHERE $5::text IS NOT NULL
         UNION ALL
         SELECT $7, $1, $8, $9::timestamptz - lead_time, $2 FROM policy
          WHERE $9::timestamptz - lead_time > $2
         UNION ALL
         SELECT $12, $1, $8, $9::timestamptz - lead_time, $2 FROM policy
          WHERE $9::timestamptz - lead_time > $2
            AND (SELECT sms_reminder FROM appointments WHERE id = $1)
         UNION ALL
         SELECT $10, $1, d, $2, $2 FROM unnest($11::jsonb[]) AS d",
    )
    .bind(appointment)
    .bind(now)
    .bind(site)
    .bind(crate::db::calendar::PolicyRow::default().reminder_hours)
    .bind(lead_kind)
    .bind(lead_payload)
    .bind(OutboxKind::Reminder.code())
    .bind(json!({ "start": start }))
    .bind(start)
    .bind(OutboxKind::AntsDeclare.code())
    .bind(declarations)
    .bind(OutboxKind::SmsReminder.code())
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the pending reminders (email and SMS) of an appointment (cancelled, moved or over).
pub async fn drop_pending_reminder(conn: &mut PgConnection, appointment: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'dropped'
         WHERE appointment_id = $1 AND kind IN ('reminder', 'sms_reminder') AND status = 'pending'",
    )
    .bind(appointment)
    .execute(conn)
    .await?;
    Ok(())
}

/// What is waiting in the outbox, for `/metrics`.
pub struct Backlog {
    /// Messages (emails, SMS) due and not sent.
    pub messages: i64,
    /// Seconds since the oldest of them was due (0 when none).
    pub oldest_message_age_secs: f64,
    /// ANTS calls due and not made.
    pub ants: i64,
    /// Of which already tried and failed at least once.
    pub ants_retrying: i64,
    /// Seconds since the oldest ANTS call was due.
    pub oldest_ants_age_secs: f64,
}

/// The outbox's backlog at `now`, read through the pending rows' partial index only.
pub async fn backlog(pool: &sqlx::PgPool, now: DateTime<Utc>) -> sqlx::Result<Backlog> {
    let row: (i64, f64, i64, i64, f64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT ants),
                COALESCE(EXTRACT(EPOCH FROM $1 - min(due_at) FILTER (WHERE NOT ants))::float8, 0),
                count(*) FILTER (WHERE ants),
                count(*) FILTER (WHERE ants AND attempts > 0),
                COALESCE(EXTRACT(EPOCH FROM $1 - min(due_at) FILTER (WHERE ants))::float8, 0)
           FROM (SELECT due_at, attempts, kind IN ('ants_declare', 'ants_delete') AS ants
                   FROM outbox WHERE status = 'pending' AND due_at <= $1) pending",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(Backlog {
        messages: row.0,
        oldest_message_age_secs: row.1.max(0.0),
        ants: row.2,
        ants_retrying: row.3,
        oldest_ants_age_secs: row.4.max(0.0),
    })
}
