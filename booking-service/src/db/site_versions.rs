//! Per-site versions (migration 0017): bumped by triggers on every committed change to what
//! availability depends on; the service announces its own on the channel `site_changed`.

use sqlx::postgres::PgListener;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// The channel of announcements, with payloads `'<site uuid> <version>'`.
pub const CHANNEL: &str = "site_changed";

/// The row standing for the territory as a whole (sites, motifs, station counts, communes).
pub const TERRITORY: Uuid = Uuid::nil();

/// The current version of `site` (0 when it has none yet).
pub async fn version<'e>(db: impl PgExecutor<'e>, site: Uuid) -> sqlx::Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT version FROM site_versions WHERE site_id = $1")
        .bind(site)
        .fetch_optional(db)
        .await?;
    Ok(v.unwrap_or(0))
}

/// Every site's version (a few thousand rows: read whole at each poll).
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<(Uuid, i64)>> {
    sqlx::query_as("SELECT site_id, version FROM site_versions")
        .fetch_all(pool)
        .await
}

/// Announces the current versions of `sites` to every listening instance (after the change
/// committed: a read-only statement, it does not hold up other commits).
pub async fn announce(pool: &PgPool, sites: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT pg_notify('site_changed', site_id::text || ' ' || version::text)
         FROM site_versions WHERE site_id = ANY ($1)",
    )
    .bind(sites)
    .execute(pool)
    .await
    .map(|_| ())
}

/// A connection listening on [`CHANNEL`].
pub async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The site and version a notification announces (`None` for a payload we did not write).
pub fn parse(payload: &str) -> Option<(Uuid, i64)> {
    let (site, version) = payload.split_once(' ')?;
    Some((site.parse().ok()?, version.parse().ok()?))
}

/// The postcodes of each site's commune (the site list is filtered by them).
pub async fn site_postcodes(pool: &PgPool) -> sqlx::Result<Vec<(Uuid, Vec<String>)>> {
    sqlx::query_as(
        "SELECT s.id, c.postcodes FROM sites s JOIN communes c ON c.insee_code = s.commune_insee
         WHERE s.active",
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_or_are_ignored() {
        let id = Uuid::new_v4();
        assert_eq!(parse(&format!("{id} 42")), Some((id, 42)));
        assert_eq!(parse("nonsense"), None);
        assert_eq!(parse(&format!("{id} x")), None);
    }
}
