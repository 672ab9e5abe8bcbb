//! Personal data is kept only as long as needed (architecture invariant 7): past appointments older
//! than the retention are anonymised, their pré-demande numbers and delivered messages removed.
//! Statistics (dates, motif, status, site) stay.
//!
//! Durations (the register of processing in the README says the same):
//! - appointments: anonymised `RETENTION_DAYS` (365 by default) after their end;
//! - finished outbox rows (emails, ANTS calls): deleted `RETENTION_DAYS` after their creation;
//! - ANTS declarations (number, date, management URL): withdrawn at cancellation by the notifier;
//!   any left for a number no live appointment holds go `RETENTION_DAYS` after they were told;
//! - audit log: `RETENTION_DAYS` (a year lets a commune answer for its agents' actions over a
//!   full cycle of renewals; the details about an anonymised appointment go with its person);
//! - staff sessions: deleted [`SESSION_DAYS`] after they ended (expired or revoked);
//! - waiting-list subscriptions (an address, a place, dates): deleted `RETENTION_DAYS` after they
//!   ended (booked, expired or left), with their offers; open ones end when their last day passes.

use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What one retention run removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub appointments: i64,
    pub outbox_rows: i64,
    pub ants_declarations: i64,
    pub audit_rows: i64,
    pub waitlist_entries: i64,
}

/// Days a staff session is kept after it ended (the audit log says who logged in; the session
/// row only serves while it is valid, and a short tail helps investigate a stolen cookie).
pub const SESSION_DAYS: i64 = 30;

/// Anonymises appointments that ended before `cutoff` and are no longer live; deletes their
/// numbers and the finished outbox rows older than `cutoff`. Idempotent.
pub async fn purge_before(pool: &PgPool, cutoff: DateTime<Utc>) -> sqlx::Result<Purged> {
    let mut tx = pool.begin().await?;
    let appointments: i64 = sqlx::query_scalar(&format!(
        "WITH old AS (
             UPDATE appointments SET first_name = 'anonymisé', last_name = 'anonymisé', email = NULL, email_key = NULL, phone = NULL,
                    manage_token_hash = NULL, manage_token_sealed = NULL, cancel_reason = NULL
             WHERE status NOT IN {} AND upper(during) < $1
               AND (email IS NOT NULL OR email_key IS NOT NULL OR phone IS NOT NULL OR first_name <> 'anonymisé' OR manage_token_hash IS NOT NULL)
             RETURNING id),
         numbers AS (DELETE FROM appointment_pre_demandes d USING old WHERE d.appointment_id = old.id AND NOT d.live RETURNING 1),
         audit AS (UPDATE audit_log l SET details = '{{}}', target = NULL FROM old WHERE l.appointment_id = old.id RETURNING 1)
         SELECT count(*) FROM old",
        AppointmentStatus::LIVE_SQL
    ))
    .bind(cutoff)
    .fetch_one(&mut *tx)
    .await?;
    let outbox_rows =
        sqlx::query("DELETE FROM outbox WHERE status IN ('sent', 'dropped', 'failed') AND created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let ants_declarations = sqlx::query(
        "DELETE FROM ants_declarations d WHERE d.told_at < $1
           AND NOT EXISTS (SELECT 1 FROM appointment_pre_demandes p WHERE p.number = d.number AND p.live)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let audit_rows = sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let waitlist_entries = sqlx::query(
        "DELETE FROM waitlist_entries WHERE status NOT IN ('waiting', 'offered') AND updated_at < $1",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Purged {
        appointments,
        outbox_rows: count(outbox_rows),
        ants_declarations: count(ants_declarations),
        audit_rows: count(audit_rows),
        waitlist_entries: count(waitlist_entries),
    })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Deletes staff sessions that ended (expired or revoked) before `cutoff`; returns how many.
pub async fn purge_staff_sessions(pool: &PgPool, cutoff: DateTime<Utc>) -> sqlx::Result<i64> {
    let done = sqlx::query(
        "DELETE FROM staff_sessions WHERE least(expires_at, coalesce(revoked_at, expires_at)) < $1",
    )
    .bind(cutoff)
    .execute(pool)
    .await?;
    Ok(count(done.rows_affected()))
}
