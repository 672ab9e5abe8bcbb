//! What platform administrators write: new sites with their stations and default settings.

use sqlx::PgPool;
use uuid::Uuid;

/// Where a commune is: its département and its coordinates, when known.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommunePlace {
    pub name: String,
    pub department_code: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// The commune with this INSEE code, if it is in the territory.
pub async fn commune(pool: &PgPool, insee: &str) -> sqlx::Result<Option<CommunePlace>> {
    sqlx::query_as("SELECT name, department_code, latitude, longitude FROM communes WHERE insee_code = $1")
        .bind(insee)
        .fetch_optional(pool)
        .await
}

/// A site to create, checked.
#[derive(Debug, Clone)]
pub struct NewSiteRow<'a> {
    pub id: Uuid,
    pub commune_insee: &'a str,
    pub name: &'a str,
    pub address_line: &'a str,
    pub postcode: &'a str,
    pub city: &'a str,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub stations: u8,
}

/// Creates the site, its stations ("Poste 1"…), the default booking policy and the identity
/// motifs with the domain's usual durations, in one transaction. Opening hours are left to the
/// commune's administrators (no hours, no slots: the site is bookable once they set them).
pub async fn insert_site(pool: &PgPool, s: &NewSiteRow<'_>) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO sites (id, commune_insee, name, address_line, postcode, city, latitude, longitude, timezone, email, phone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(s.id)
    .bind(s.commune_insee)
    .bind(s.name)
    .bind(s.address_line)
    .bind(s.postcode)
    .bind(s.city)
    .bind(s.latitude)
    .bind(s.longitude)
    .bind(s.timezone)
    .bind(s.email)
    .bind(s.phone)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO booking_policies (site_id) VALUES ($1)")
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO site_motifs (site_id, motif, minutes_per_person, max_persons)
         VALUES ($1, 'CNI', 15, 5), ($1, 'PASSPORT', 15, 5), ($1, 'CNI-PASSPORT', 30, 4), ($1, 'RETRIEVAL', 5, 5)",
    )
    .bind(s.id)
    .execute(&mut *tx)
    .await?;
    for n in 1..=s.stations {
        sqlx::query("INSERT INTO stations (id, site_id, name) VALUES ($1, $2, $3)")
            .bind(Uuid::new_v4())
            .bind(s.id)
            .bind(format!("Poste {n}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
