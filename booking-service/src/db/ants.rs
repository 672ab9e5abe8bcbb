//! What the ANTS hub reads: the meeting points we publish and the live pré-demande numbers.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

/// A site taking CNI or passport appointments, in the hub's field names.
#[derive(Debug, sqlx::FromRow)]
pub struct MeetingPointRow {
    pub id: String,
    pub name: String,
    pub longitude: f64,
    pub latitude: f64,
    pub public_entry_address: String,
    pub zip_code: String,
    pub city_name: String,
    pub decoded_city_name: String,
}

/// Active sites offering an identity motif with an opening rule still valid on `valid_on`.
pub async fn meeting_points(pool: &PgPool, valid_on: NaiveDate) -> sqlx::Result<Vec<MeetingPointRow>> {
    sqlx::query_as(
        "SELECT s.id::text AS id, s.name, s.longitude, s.latitude, s.address_line AS public_entry_address,
                s.postcode AS zip_code, s.city AS city_name, c.name AS decoded_city_name
         FROM sites s JOIN communes c ON c.insee_code = s.commune_insee
         WHERE s.active
           AND EXISTS (SELECT 1 FROM site_motifs m WHERE m.site_id = s.id AND m.motif IN ('CNI', 'PASSPORT', 'CNI-PASSPORT'))
           AND EXISTS (SELECT 1 FROM stations st JOIN opening_rules r ON r.station_id = st.id
                       WHERE st.site_id = s.id AND st.active AND (r.valid_until IS NULL OR r.valid_until >= $1))
         ORDER BY c.name, s.name, s.id",
    )
    .bind(valid_on)
    .fetch_all(pool)
    .await
}

/// One live appointment holding a pré-demande number.
#[derive(Debug, sqlx::FromRow)]
pub struct LiveNumber {
    pub number: String,
    pub site_name: String,
    pub start: DateTime<Utc>,
    pub timezone: String,
    pub manage_token_sealed: Option<Vec<u8>>,
}

/// The live appointments holding any of these (normalized) numbers.
pub async fn live_numbers(pool: &PgPool, numbers: &[String]) -> sqlx::Result<Vec<LiveNumber>> {
    sqlx::query_as(
        "SELECT d.number, s.name AS site_name, lower(a.during) AS start, s.timezone, a.manage_token_sealed
         FROM appointment_pre_demandes d JOIN appointments a ON a.id = d.appointment_id JOIN sites s ON s.id = a.site_id
         WHERE d.live AND d.number = ANY ($1)",
    )
    .bind(numbers)
    .fetch_all(pool)
    .await
}
