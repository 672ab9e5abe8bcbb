//! What staff read: a site's appointments over a period, and a search across one's commune.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// One appointment on an agenda.
#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub station_name: String,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub status: crate::domain::status::AppointmentStatus,
    pub source: String,
    pub motif: String,
    pub persons: i16,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub pre_demande_numbers: Vec<String>,
    /// Numbers the ANTS reconciliation flagged, with why.
    pub ants_flags: Vec<String>,
}

const ENTRY_SELECT: &str = "SELECT a.id, a.reference, a.site_id, a.station_id, st.name AS station_name,
        lower(a.during) AS start_utc, upper(a.during) AS end_utc, a.status, a.source, a.motif, a.persons,
        a.first_name, a.last_name, a.email, a.phone,
        array(SELECT number FROM appointment_pre_demandes d WHERE d.appointment_id = a.id ORDER BY number) AS pre_demande_numbers,
        array(SELECT number || ' : ' || coalesce(ants_note, '') FROM appointment_pre_demandes d
              WHERE d.appointment_id = a.id AND d.ants_check = 'flagged' ORDER BY number) AS ants_flags
    FROM appointments a JOIN stations st ON st.id = a.station_id JOIN sites s ON s.id = a.site_id";

/// Every appointment of `site` overlapping `[from, to)`, whatever its status, by time then station.
pub async fn site_entries(
    pool: &PgPool,
    site: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE a.site_id = $1 AND a.during && tstzrange($2, $3) ORDER BY lower(a.during), st.name"
    ))
    .bind(site)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// The 100 latest appointments (of `commune`, or all) whose name, email or reference contains
/// `text`, or with `text` as a pré-demande number.
pub async fn search(pool: &PgPool, commune: Option<&str>, text: &str) -> sqlx::Result<Vec<EntryRow>> {
    let pattern = format!("%{}%", text.replace(['%', '_', '\\'], ""));
    sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE ($1::text IS NULL OR s.commune_insee = $1)
           AND (a.last_name ILIKE $2 OR a.first_name ILIKE $2 OR a.email ILIKE $2 OR a.reference ILIKE $2
                OR (a.last_name || ' ' || a.first_name) ILIKE $2 OR (a.first_name || ' ' || a.last_name) ILIKE $2
                OR EXISTS (SELECT 1 FROM appointment_pre_demandes d WHERE d.appointment_id = a.id AND d.number = upper($3)))
         ORDER BY lower(a.during) DESC LIMIT 100"
    ))
    .bind(commune)
    .bind(&pattern)
    .bind(text)
    .fetch_all(pool)
    .await
}
