//! Personal data is kept only as long as needed (architecture invariant 7): past appointments older
//! than the retention are anonymised, their pré-demande numbers and delivered messages removed.
//! Statistics (dates, motif, status, site) stay.

use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What one retention run removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub appointments: i64,
    pub outbox_rows: i64,
}

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
         numbers AS (DELETE FROM appointment_pre_demandes d USING old WHERE d.appointment_id = old.id AND NOT d.live RETURNING 1)
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
    tx.commit().await?;
    Ok(Purged {
        appointments,
        outbox_rows: i64::try_from(outbox_rows).unwrap_or(i64::MAX),
    })
}
