//! Communes and sites as the public API shows them.

use crate::domain::motif::Motif;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A commune of the service.
#[derive(Debug, Clone, FromRow)]
pub struct CommuneRow {
    pub insee_code: String,
    pub name: String,
    pub department_code: String,
    pub postcodes: Vec<String>,
    pub population: Option<i32>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Filters of the commune list; `None` means "any".
#[derive(Debug, Default)]
pub struct CommuneFilter {
    /// Folded search text, matched anywhere in the folded name.
    pub q: Option<String>,
    pub postcode: Option<String>,
    pub department: Option<String>,
}

/// Communes matching the filter, by name.
pub async fn list_communes(pool: &PgPool, f: &CommuneFilter) -> sqlx::Result<Vec<CommuneRow>> {
    sqlx::query_as(
        "SELECT insee_code, name, department_code, postcodes, population, latitude, longitude
         FROM communes
         WHERE ($1::text IS NULL OR search_name LIKE '%' || $1 || '%')
           AND ($2::text IS NULL OR $2 = ANY (postcodes))
           AND ($3::text IS NULL OR department_code = $3)
         ORDER BY name, insee_code",
    )
    .bind(f.q.as_deref())
    .bind(f.postcode.as_deref())
    .bind(f.department.as_deref())
    .fetch_all(pool)
    .await
}

/// A site with what a citizen needs to choose it.
#[derive(Debug, Clone, FromRow)]
pub struct SiteRow {
    pub id: Uuid,
    pub commune_insee: String,
    pub commune_name: String,
    pub department_code: String,
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    pub is_demo: bool,
    pub stations: i64,
    /// The no-show policy: after this many no-shows (0: no policy) within `noshow_months`, an
    /// address must confirm its presence `confirm_hours` before the start.
    pub noshow_limit: i32,
    pub noshow_months: i32,
    pub confirm_hours: i32,
}

/// Filters of the site list; `None` means "any".
#[derive(Debug, Default)]
pub struct SiteFilter {
    pub id: Option<Uuid>,
    pub commune: Option<String>,
    pub postcode: Option<String>,
    pub department: Option<String>,
}

/// Active sites matching the filter, by commune and name.
pub async fn list_sites(pool: &PgPool, f: &SiteFilter) -> sqlx::Result<Vec<SiteRow>> {
    sqlx::query_as(
        "SELECT s.id, s.commune_insee, c.name AS commune_name, c.department_code, s.name,
                s.address_line, s.postcode, s.city, s.latitude, s.longitude, s.timezone, s.is_demo,
                (SELECT count(*) FROM stations st WHERE st.site_id = s.id AND st.active) AS stations,
                s.noshow_limit, s.noshow_months, s.confirm_hours
         FROM sites s JOIN communes c ON c.insee_code = s.commune_insee
         WHERE s.active
           AND ($1::uuid IS NULL OR s.id = $1)
           AND ($2::text IS NULL OR s.commune_insee = $2)
           AND ($3::text IS NULL OR s.postcode = $3 OR $3 = ANY (c.postcodes))
           AND ($4::text IS NULL OR c.department_code = $4)
         ORDER BY c.name, s.name, s.id",
    )
    .bind(f.id)
    .bind(f.commune.as_deref())
    .bind(f.postcode.as_deref())
    .bind(f.department.as_deref())
    .fetch_all(pool)
    .await
}

/// How long one person takes for a motif at a site, and how many may come together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MotifSetting {
    pub motif: Motif,
    pub minutes_per_person: i32,
    pub max_persons: i32,
}

/// The motif settings of the given sites, as `(site_id, setting)` in display order.
pub async fn motif_settings(pool: &PgPool, site_ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, MotifSetting)>> {
    let rows: Vec<(Uuid, String, i32, i32)> = sqlx::query_as(
        "SELECT site_id, motif, minutes_per_person, max_persons FROM site_motifs WHERE site_id = ANY ($1)",
    )
    .bind(site_ids)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(Uuid, MotifSetting)> = rows
        .into_iter()
        .filter_map(|(site, motif, minutes_per_person, max_persons)| {
            // The CHECK constraint keeps unknown codes out; skip rather than fail if one slipped in.
            let motif = motif.parse().ok()?;
            Some((
                site,
                MotifSetting {
                    motif,
                    minutes_per_person,
                    max_persons,
                },
            ))
        })
        .collect();
    out.sort_by_key(|(site, m)| (*site, m.motif));
    Ok(out)
}
