//! Staff calendar feeds: their secrets (hash to look up, sealed copy to show again) and the
//! appointments a feed lists.

use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// A feed's secret as stored.
#[derive(Debug, Clone, FromRow)]
pub struct FeedSecretRow {
    /// `None`: the whole site.
    pub station_id: Option<Uuid>,
    pub secret_sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A new secret for the site's feed (`station` `None`) or a station's, replacing the previous one
/// in the same statement: the old URL stops working when this commits.
pub async fn replace_secret(
    conn: &mut PgConnection,
    site: Uuid,
    station: Option<Uuid>,
    hash: &[u8],
    sealed: &[u8],
    by: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO staff_feed_secrets (id, site_id, station_id, secret_hash, secret_sealed, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (site_id, COALESCE(station_id, '00000000-0000-0000-0000-000000000000'::uuid))
         DO UPDATE SET secret_hash = EXCLUDED.secret_hash, secret_sealed = EXCLUDED.secret_sealed,
                       created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by",
    )
    .bind(Uuid::new_v4())
    .bind(site)
    .bind(station)
    .bind(hash)
    .bind(sealed)
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// The feed a secret's hash opens: (site, station), on an active site (and an active station:
/// a station turned off stops feeding its old subscribers).
pub async fn find(pool: &PgPool, hash: &[u8]) -> sqlx::Result<Option<(Uuid, Option<Uuid>)>> {
    sqlx::query_as(
        "SELECT f.site_id, f.station_id FROM staff_feed_secrets f JOIN sites s ON s.id = f.site_id
         WHERE f.secret_hash = $1 AND s.active
           AND (f.station_id IS NULL OR EXISTS (SELECT 1 FROM stations st WHERE st.id = f.station_id AND st.active))",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// The site's feed secrets (the site's own, then its stations').
pub async fn secrets(pool: &PgPool, site: Uuid) -> sqlx::Result<Vec<FeedSecretRow>> {
    sqlx::query_as(
        "SELECT station_id, secret_sealed, created_at FROM staff_feed_secrets WHERE site_id = $1
         ORDER BY station_id NULLS FIRST",
    )
    .bind(site)
    .fetch_all(pool)
    .await
}

/// One appointment in a feed.
#[derive(Debug, Clone, FromRow)]
pub struct FeedAppointment {
    pub id: Uuid,
    pub reference: String,
    pub calendar_sequence: i32,
    pub motif: Motif,
    pub persons: PartySize,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub station_name: String,
    pub status: AppointmentStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The site's (or one station's) appointments starting in `[from, to)`, except cancelled ones,
/// by start.
pub async fn appointments(
    pool: &PgPool,
    site: Uuid,
    station: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<FeedAppointment>> {
    sqlx::query_as(
        "SELECT a.id, a.reference, a.calendar_sequence, a.motif, a.persons, a.first_name, a.last_name,
                a.phone, st.name AS station_name, a.status, lower(a.during) AS start, upper(a.during) AS \"end\"
         FROM appointments a JOIN stations st ON st.id = a.station_id
         WHERE a.site_id = $1 AND ($2::uuid IS NULL OR a.station_id = $2)
           AND a.during && tstzrange($3, $4, '[)') AND a.status <> $5
         ORDER BY lower(a.during), st.name",
    )
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .bind(AppointmentStatus::Cancelled)
    .fetch_all(pool)
    .await
}

/// Forgets every feed secret of `commune` (every commune's for `None`): the URLs stop working at
/// once and new ones are drawn from the feed page. For a member leaving, who may have copied them.
pub async fn revoke_commune(conn: &mut sqlx::PgConnection, commune: Option<&str>) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM staff_feed_secrets f USING sites s
         WHERE s.id = f.site_id AND ($1::text IS NULL OR s.commune_insee = $1)",
    )
    .bind(commune)
    .execute(conn)
    .await?
    .rows_affected())
}
