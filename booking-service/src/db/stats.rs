//! What a site's statistics are computed from: its appointments over a period, one light row each.

use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// One appointment as the statistics need it (no citizen data).
#[derive(Debug, Clone, FromRow)]
pub struct StatRow {
    pub station_id: Uuid,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    /// When it was booked.
    pub created_at: DateTime<Utc>,
    pub status: AppointmentStatus,
}

/// The appointments of `site` starting in `[from, to)`, whatever their status, by start.
pub async fn appointments(
    pool: &PgPool,
    site: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<StatRow>> {
    sqlx::query_as(
        "SELECT station_id, lower(during) AS start_utc, upper(during) AS end_utc, created_at, status
         FROM appointments WHERE site_id = $1 AND lower(during) >= $2 AND lower(during) < $3
         ORDER BY lower(during)",
    )
    .bind(site)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}
