//! What is kept about a citizen, read for their download, and its erasure at their request.
//!
//! Erasure runs in two steps because the ANTS withdrawal of their pré-demande numbers must still go
//! out: the notifier's `ants_delete` rows read the number from their payload and recognise our
//! entries at ANTS by the appointment's management link (its sealed token and the
//! `ants_declarations` row). So `erase` removes at once everything else (names, email, phone,
//! email_key, messages, audit details) and keeps only what a pending withdrawal needs;
//! `finish_erasures` (the lifecycle job, and `erase` itself when nothing is pending) removes that
//! once no ANTS row of the appointment is pending any more.

use crate::domain::motif::Motif;
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// One appointment as stored, everything personal included.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAppointment {
    pub id: Uuid,
    pub reference: String,
    pub site_name: String,
    pub motif: Motif,
    pub persons: i16,
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
}

/// A pré-demande number of an appointment and what was checked at ANTS.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredNumber {
    pub appointment_id: Uuid,
    pub number: String,
    pub live: bool,
    pub ants_check: String,
}

/// What ANTS was last told for one of their numbers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredDeclaration {
    pub number: String,
    pub appointment_date: String,
    pub management_url: String,
    pub told_at: DateTime<Utc>,
}

/// A message (email or ANTS call) queued for one of their appointments.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredMessage {
    pub appointment_id: Uuid,
    pub kind: String,
    pub status: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// An audit row about one of their appointments, without the agent (staff data is not theirs).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAuditRow {
    pub appointment_id: Uuid,
    pub at: DateTime<Utc>,
    pub action: String,
    pub details: Value,
}

/// Whether the appointment behind this token hash was erased at its owner's request.
pub async fn erased_by_token_hash(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<bool> {
    let erased: Option<bool> =
        sqlx::query_scalar("SELECT erased_at IS NOT NULL FROM appointments WHERE manage_token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    Ok(erased.unwrap_or(false))
}

/// The appointment `id` and every other one booked with the same mailbox (`email_key`), oldest
/// first; erased ones hold nothing any more and are left out.
pub async fn appointments_of_identity(pool: &PgPool, id: Uuid) -> sqlx::Result<Vec<StoredAppointment>> {
    sqlx::query_as(
        "SELECT a.id, a.reference, s.name AS site_name, a.motif, a.persons, lower(a.during) AS start,
                upper(a.during) AS \"end\", a.status, a.source, a.first_name, a.last_name, a.email, a.phone,
                a.cancelled_by, a.cancel_reason, a.created_at, a.updated_at
         FROM appointments a JOIN sites s ON s.id = a.site_id
         WHERE a.erased_at IS NULL
           AND (a.id = $1 OR a.email_key = (SELECT email_key FROM appointments WHERE id = $1))
         ORDER BY lower(a.during), a.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// A waiting-list subscription, as the download shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSubscription {
    /// The site's name, when one site was asked for.
    pub site: Option<String>,
    pub commune_insee: Option<String>,
    pub radius_km: Option<i32>,
    pub motif: Motif,
    pub persons: i16,
    pub from_day: chrono::NaiveDate,
    pub to_day: chrono::NaiveDate,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// The waiting-list subscriptions made with `email` (any case).
pub async fn subscriptions_of(pool: &PgPool, email: &str) -> sqlx::Result<Vec<StoredSubscription>> {
    sqlx::query_as(
        "SELECT s.name AS site, e.commune_insee, e.radius_km, e.motif, e.persons, e.from_day, e.to_day,
                e.status, e.created_at
         FROM waitlist_entries e LEFT JOIN sites s ON s.id = e.site_id
         WHERE lower(e.email) = lower($1) ORDER BY e.seq",
    )
    .bind(email)
    .fetch_all(pool)
    .await
}

/// The numbers of these appointments.
pub async fn numbers_of(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<StoredNumber>> {
    sqlx::query_as(
        "SELECT appointment_id, number, live, ants_check FROM appointment_pre_demandes
         WHERE appointment_id = ANY($1) ORDER BY appointment_id, number",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// What ANTS was told for these numbers.
pub async fn declarations_of(pool: &PgPool, numbers: &[String]) -> sqlx::Result<Vec<StoredDeclaration>> {
    sqlx::query_as(
        "SELECT number, appointment_date, management_url, told_at FROM ants_declarations
         WHERE number = ANY($1) ORDER BY number",
    )
    .bind(numbers)
    .fetch_all(pool)
    .await
}

/// The messages queued for these appointments, oldest first.
pub async fn messages_of(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<StoredMessage>> {
    sqlx::query_as(
        "SELECT appointment_id, kind, status, payload, created_at, sent_at FROM outbox
         WHERE appointment_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// The audit rows about these appointments, oldest first.
pub async fn audit_of(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<StoredAuditRow>> {
    sqlx::query_as(
        "SELECT appointment_id, at, action, details FROM audit_log
         WHERE appointment_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// ANTS rows still to be sent for an appointment.
const PENDING_ANTS: &str = "SELECT 1 FROM outbox o WHERE o.appointment_id = a.id AND o.status = 'pending'
                              AND o.kind IN ('ants_declare', 'ants_delete')";

/// Erases the person from a non-live appointment (the caller cancels a live one first, which
/// queues the ANTS withdrawals): see the module's comment for what waits for the notifier.
/// `token` is the management token the citizen used: the ANTS declarations made with it hold it
/// in their link. Idempotent.
/// Returns false when the appointment is live (nothing erased).
pub async fn erase(pool: &PgPool, id: Uuid, token: &str, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let person: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "UPDATE appointments a SET first_name = 'anonymisé', last_name = 'anonymisé', email = NULL,
                email_key = NULL, phone = NULL, cancel_reason = NULL, erased_at = coalesce(a.erased_at, $2),
                updated_at = $2
         FROM (SELECT id, email, phone FROM appointments WHERE id = $1 FOR UPDATE) old
         WHERE a.id = old.id AND a.status NOT IN ('booked', 'checked_in')
         RETURNING old.email, old.phone",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email, phone)) = person else {
        // Live (or gone): nothing is erased from an appointment still to be kept.
        return Ok(false);
    };
    // Emails not sent yet would go to an address the citizen asked us to forget.
    sqlx::query(
        "UPDATE outbox SET status = CASE WHEN status = 'pending' THEN 'dropped' ELSE status END,
                payload = '{}', last_error = NULL
         WHERE appointment_id = $1 AND kind NOT IN ('ants_declare', 'ants_delete')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // Sent (or abandoned) ANTS rows: their numbers are no longer needed.
    sqlx::query(
        "UPDATE outbox SET payload = '{}', last_error = NULL
         WHERE appointment_id = $1 AND kind IN ('ants_declare', 'ants_delete') AND status <> 'pending'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // Declarations made with this link for numbers no withdrawal is pending for.
    sqlx::query(
        "DELETE FROM ants_declarations d
         WHERE strpos(d.management_url, '/rdv/' || $2 || '?') > 0
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.status = 'pending' AND o.appointment_id = $1
                             AND o.kind = 'ants_delete' AND o.payload ->> 'number' = d.number)",
    )
    .bind(id)
    .bind(token)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM appointment_pre_demandes p
         WHERE p.appointment_id = $1
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.status = 'pending' AND o.appointment_id = $1
                             AND o.kind IN ('ants_declare', 'ants_delete') AND o.payload ->> 'number' = p.number)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // Waiting-list subscriptions with the same address go too (a live offer with them).
    if let Some(address) = email.as_deref().filter(|e| !e.is_empty()) {
        sqlx::query("DELETE FROM waitlist_entries WHERE lower(email) = lower($1)")
            .bind(address)
            .execute(&mut *tx)
            .await?;
    }
    scrub_audit(&mut tx, id, [email, phone]).await?;
    finish_in(&mut tx, Some(id)).await?;
    tx.commit().await?;
    Ok(true)
}

/// Audit rows about the appointment keep who did what and when, not what they said about the
/// person (reasons, changed fields, delivery errors quoting the address).
async fn scrub_audit(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    email_and_phone: [Option<String>; 2],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_log SET details = '{}', target = NULL WHERE appointment_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for needle in email_and_phone.into_iter().flatten().filter(|s| !s.is_empty()) {
        sqlx::query(
            "UPDATE audit_log SET details = '{}', target = NULL
             WHERE strpos(lower(details::text), lower($1)) > 0 OR strpos(lower(coalesce(target, '')), lower($1)) > 0",
        )
        .bind(needle)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Finishes erasures whose ANTS rows are all sent (or abandoned): their numbers, the declarations
/// for them that no live appointment holds, the ANTS payloads and the sealed token go. Returns
/// how many appointments were finished.
pub async fn finish_erasures(pool: &PgPool) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let n = finish_in(&mut tx, None).await?;
    tx.commit().await?;
    Ok(n)
}

async fn finish_in(tx: &mut Transaction<'_, Postgres>, only: Option<Uuid>) -> sqlx::Result<u64> {
    let done: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT a.id FROM appointments a
         WHERE a.erased_at IS NOT NULL AND ($1::uuid IS NULL OR a.id = $1)
           AND (a.manage_token_sealed IS NOT NULL
                OR EXISTS (SELECT 1 FROM appointment_pre_demandes p WHERE p.appointment_id = a.id))
           AND NOT EXISTS ({PENDING_ANTS})
         FOR UPDATE OF a SKIP LOCKED"
    ))
    .bind(only)
    .fetch_all(&mut **tx)
    .await?;
    if done.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "DELETE FROM ants_declarations d
         USING appointment_pre_demandes p
         WHERE p.appointment_id = ANY($1) AND d.number = p.number
           AND NOT EXISTS (SELECT 1 FROM appointment_pre_demandes l WHERE l.number = d.number AND l.live)",
    )
    .bind(&done)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM appointment_pre_demandes WHERE appointment_id = ANY($1)")
        .bind(&done)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE outbox SET payload = '{}', last_error = NULL
         WHERE appointment_id = ANY($1) AND status <> 'pending'",
    )
    .bind(&done)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE appointments SET manage_token_sealed = NULL WHERE id = ANY($1)")
        .bind(&done)
        .execute(&mut **tx)
        .await?;
    Ok(done.len() as u64)
}
