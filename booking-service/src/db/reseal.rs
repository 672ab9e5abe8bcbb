//! After an `APP_SECRET` rotation: every stored sealed value (management tokens of appointments
//! and waiting-list entries, staff calendar-feed secrets) sealed under the previous key is sealed
//! again under the current one, so the previous secret can then be dropped.

use crate::secrets::Sealer;
use sqlx::PgPool;
use uuid::Uuid;

/// The sealed columns: (table, column). Each table's key is `id uuid`.
const SEALED: [(&str, &str); 3] = [
    ("appointments", "manage_token_sealed"),
    ("waitlist_entries", "manage_token_sealed"),
    ("staff_feed_secrets", "secret_sealed"),
];

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    /// Values sealed again under the current key.
    pub resealed: u64,
    /// Values already under the current key.
    pub current: u64,
    /// Values neither key opens (left as they are: sealed under an older secret still).
    pub unreadable: u64,
}

/// Reseals every sealed value in batches of 500 rows; safe to run again, and beside live traffic
/// (a row changed meanwhile is left to the next run).
pub async fn reseal_all(pool: &PgPool, sealer: &Sealer) -> sqlx::Result<ResealReport> {
    let mut report = ResealReport::default();
    for (table, column) in SEALED {
        // Names from the constant list above, never from input.
        let select = format!(
            "SELECT id, {column} FROM {table} WHERE id > $1 AND {column} IS NOT NULL ORDER BY id LIMIT 500"
        );
        let update = format!("UPDATE {table} SET {column} = $2 WHERE id = $1 AND {column} = $3");
        let mut after = Uuid::nil();
        loop {
            let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(&select).bind(after).fetch_all(pool).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (id, sealed) in rows {
                match sealer.reseal(&sealed) {
                    Ok(Some(new)) => {
                        sqlx::query(&update)
                            .bind(id)
                            .bind(new)
                            .bind(&sealed)
                            .execute(pool)
                            .await?;
                        report.resealed += 1;
                    }
                    Ok(None) => report.current += 1,
                    Err(_) => report.unreadable += 1,
                }
            }
        }
    }
    Ok(report)
}
