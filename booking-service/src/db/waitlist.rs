//! The waiting list: subscriptions, and the offers that hold a freed slot for one subscriber.
//!
//! Concurrency design:
//! - an offer is made in one transaction that takes the site `FOR UPDATE` (bookings take it
//!   `FOR SHARE`), so no booking of the site is half-way while the station is checked free of
//!   appointments, and every booking after it sees the offer in its calendar (a live offer blocks
//!   its time like an appointment, and moves the site's version);
//! - the exclusion constraint `waitlist_offer_no_overlap` keeps two live offers off one station's
//!   time, `waitlist_one_live_offer` gives a subscriber one live offer at most, and the subscription
//!   moves from `waiting` to `offered` by a guarded update: concurrent matchers (every instance runs
//!   one) cannot offer a slot twice nor one subscriber two slots;
//! - accepting takes the offer by a guarded update too ([`take_offer`]), in the booking's own
//!   transaction, so an offer lapses or is booked, never both.

use super::constraints::violated;
use super::outbox::{self, OutboxKind};
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::status::AppointmentStatus;
use crate::domain::waitlist::WaitlistStatus;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// Never two live offers of one station's time.
pub const OFFER_NO_OVERLAP: &str = "waitlist_offer_no_overlap";
/// One live offer per subscriber.
pub const ONE_LIVE_OFFER: &str = "waitlist_one_live_offer";

/// Where a subscriber can go.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One site.
    Site(Uuid),
    /// Any site within `radius_km` of a commune (at its position).
    Near {
        insee: String,
        latitude: f64,
        longitude: f64,
        radius_km: i32,
    },
}

/// A new subscription.
pub struct NewEntry<'a> {
    pub id: Uuid,
    pub token_hash: &'a [u8],
    pub token_sealed: &'a [u8],
    pub target: Target,
    pub motif: Motif,
    pub persons: PartySize,
    pub email: &'a str,
    pub email_key: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub now: DateTime<Utc>,
}

/// A subscription as stored.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Uuid,
    /// Arrival order in the list.
    pub seq: i64,
    pub target: Target,
    pub motif: Motif,
    pub persons: PartySize,
    pub email: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub status: WaitlistStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct EntryRow {
    id: Uuid,
    seq: i64,
    site_id: Option<Uuid>,
    commune_insee: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    radius_km: Option<i32>,
    motif: Motif,
    persons: PartySize,
    email: Option<String>,
    from_day: NaiveDate,
    to_day: NaiveDate,
    status: String,
    created_at: DateTime<Utc>,
}

impl EntryRow {
    fn entry(self) -> Option<Entry> {
        let target = match (self.site_id, self.commune_insee) {
            (Some(site), _) => Target::Site(site),
            (None, Some(insee)) => Target::Near {
                insee,
                latitude: self.latitude?,
                longitude: self.longitude?,
                radius_km: self.radius_km?,
            },
            (None, None) => return None,
        };
        Some(Entry {
            id: self.id,
            seq: self.seq,
            target,
            motif: self.motif,
            persons: self.persons,
            email: self.email,
            from: self.from_day,
            to: self.to_day,
            status: self.status.parse().ok()?,
            created_at: self.created_at,
        })
    }
}

const ENTRY_COLUMNS: &str =
    "id, seq, site_id, commune_insee, latitude, longitude, radius_km, motif, persons, email,
                             from_day, to_day, status, created_at";

/// A live or past offer.
#[derive(Debug, Clone, FromRow)]
pub struct Offer {
    pub id: Uuid,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

const OFFER_COLUMNS: &str =
    "id, site_id, station_id, lower(during) AS start, upper(during) AS end, expires_at, created_at";

/// Stores a new subscription, `waiting`.
pub async fn insert(pool: &PgPool, e: &NewEntry<'_>) -> sqlx::Result<()> {
    let (site, insee, lat, lon, radius) = match &e.target {
        Target::Site(id) => (Some(*id), None, None, None, None),
        Target::Near {
            insee,
            latitude,
            longitude,
            radius_km,
        } => (
            None,
            Some(insee.as_str()),
            Some(*latitude),
            Some(*longitude),
            Some(*radius_km),
        ),
    };
    sqlx::query(
        "INSERT INTO waitlist_entries (id, token_hash, manage_token_sealed, site_id, commune_insee, latitude,
                                       longitude, radius_km, motif, persons, email, email_key, from_day,
                                       to_day, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
    )
    .bind(e.id)
    .bind(e.token_hash)
    .bind(e.token_sealed)
    .bind(site)
    .bind(insee)
    .bind(lat)
    .bind(lon)
    .bind(radius)
    .bind(e.motif)
    .bind(e.persons)
    .bind(e.email)
    .bind(e.email_key)
    .bind(e.from)
    .bind(e.to)
    .bind(WaitlistStatus::Waiting.code())
    .bind(e.now)
    .execute(pool)
    .await?;
    Ok(())
}

/// The subscription behind a management token's hash, with its live offer if any.
pub async fn find_by_token(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<(Entry, Option<Offer>)>> {
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM waitlist_entries WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some(entry) = row.and_then(EntryRow::entry) else {
        return Ok(None);
    };
    let offer: Option<Offer> = sqlx::query_as(&format!(
        "SELECT {OFFER_COLUMNS} FROM waitlist_offers WHERE entry_id = $1 AND status = 'offered'"
    ))
    .bind(entry.id)
    .fetch_optional(pool)
    .await?;
    Ok(Some((entry, offer)))
}

/// The subscription's place in its list: 1 + the open subscriptions for the same site or commune
/// made before it.
pub async fn position(pool: &PgPool, entry: &Entry) -> sqlx::Result<i64> {
    let (site, insee) = match &entry.target {
        Target::Site(id) => (Some(*id), None),
        Target::Near { insee, .. } => (None, Some(insee.as_str())),
    };
    let before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM waitlist_entries
         WHERE status IN ('waiting', 'offered')
           AND (site_id = $1 OR commune_insee = $2)
           AND seq < $3",
    )
    .bind(site)
    .bind(insee)
    .bind(entry.seq)
    .fetch_one(pool)
    .await?;
    Ok(before + 1)
}

/// Every subscription waiting for an offer, first come first.
pub async fn waiting(pool: &PgPool) -> sqlx::Result<Vec<Entry>> {
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM waitlist_entries WHERE status = 'waiting' ORDER BY seq"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(EntryRow::entry).collect())
}

/// Open subscriptions naming `site` itself (staff's count; subscriptions by commune and radius are
/// counted by the caller, which knows the distances).
pub async fn open_near_entries_and_site_count(pool: &PgPool, site: Uuid) -> sqlx::Result<(i64, Vec<Entry>)> {
    let direct: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM waitlist_entries WHERE site_id = $1 AND status IN ('waiting', 'offered')",
    )
    .bind(site)
    .fetch_one(pool)
    .await?;
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM waitlist_entries
         WHERE commune_insee IS NOT NULL AND status IN ('waiting', 'offered')"
    ))
    .fetch_all(pool)
    .await?;
    Ok((direct, rows.into_iter().filter_map(EntryRow::entry).collect()))
}

/// An offer to make.
pub struct NewOffer {
    pub id: Uuid,
    pub entry: Uuid,
    pub site: Uuid,
    pub station: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Offers a slot to a waiting subscriber, with the email that tells them. `false` when it cannot
/// be made now: the subscriber is no longer waiting, the station's time was booked or offered
/// meanwhile (nothing is written then).
pub async fn offer(pool: &PgPool, o: &NewOffer) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT id FROM sites WHERE id = $1 AND active FOR UPDATE")
        .bind(o.site)
        .execute(&mut *tx)
        .await?;
    let moved = sqlx::query(
        "UPDATE waitlist_entries SET status = 'offered', updated_at = $2 WHERE id = $1 AND status = 'waiting'",
    )
    .bind(o.entry)
    .bind(o.now)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    let booked: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM appointments
                        WHERE station_id = $1 AND status IN {} AND during && tstzrange($2, $3, '[)'))",
        AppointmentStatus::LIVE_SQL
    ))
    .bind(o.station)
    .bind(o.start)
    .bind(o.end)
    .fetch_one(&mut *tx)
    .await?;
    if booked {
        return Ok(false);
    }
    let inserted = sqlx::query(
        "INSERT INTO waitlist_offers (id, entry_id, site_id, station_id, during, expires_at, status, created_at)
         VALUES ($1, $2, $3, $4, tstzrange($5, $6, '[)'), $7, 'offered', $8)",
    )
    .bind(o.id)
    .bind(o.entry)
    .bind(o.site)
    .bind(o.station)
    .bind(o.start)
    .bind(o.end)
    .bind(o.expires_at)
    .bind(o.now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if matches!(violated(&e), Some(OFFER_NO_OVERLAP | ONE_LIVE_OFFER)) => return Ok(false),
        Err(e) => return Err(e),
    }
    outbox::enqueue(
        &mut tx,
        OutboxKind::WaitlistOffer,
        None,
        json!({ "offer_id": o.id }),
        o.now,
        o.now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Takes a live offer for its booking, inside the booking's transaction: `false` if it is no longer
/// live at `now` (accepted, withdrawn, or past its deadline).
pub(super) async fn take_offer(
    conn: &mut PgConnection,
    offer: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let entry: Option<Uuid> = sqlx::query_scalar(
        "UPDATE waitlist_offers SET status = 'accepted'
         WHERE id = $1 AND status = 'offered' AND expires_at > $2 RETURNING entry_id",
    )
    .bind(offer)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(entry) = entry else {
        return Ok(false);
    };
    sqlx::query("UPDATE waitlist_entries SET status = 'booked', updated_at = $2 WHERE id = $1")
        .bind(entry)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Unsubscribes; a live offer is withdrawn. Returns the withdrawn offer's site, whose slot is free
/// again, and whether anything changed.
pub async fn cancel(pool: &PgPool, entry: Uuid, now: DateTime<Utc>) -> sqlx::Result<(bool, Option<Uuid>)> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE waitlist_entries SET status = 'cancelled', updated_at = $2
         WHERE id = $1 AND status IN ('waiting', 'offered')",
    )
    .bind(entry)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    let site: Option<Uuid> = sqlx::query_scalar(
        "UPDATE waitlist_offers SET status = 'withdrawn' WHERE entry_id = $1 AND status = 'offered' RETURNING site_id",
    )
    .bind(entry)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((changed, site))
}

/// Ends what time ended: offers past their deadline lapse (their subscription expires: the slot
/// goes to the next one), and subscriptions whose last day is before `today` expire. Returns the
/// lapsed offers as `(site, station, offer)`.
pub async fn expire_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> sqlx::Result<Vec<(Uuid, Uuid, Uuid)>> {
    let mut tx = pool.begin().await?;
    let lapsed: Vec<(Uuid, Uuid, Uuid, Uuid)> = sqlx::query_as(
        "UPDATE waitlist_offers SET status = 'expired'
         WHERE status = 'offered' AND expires_at <= $1 RETURNING entry_id, site_id, station_id, id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let entries: Vec<Uuid> = lapsed.iter().map(|(e, ..)| *e).collect();
    sqlx::query(
        "UPDATE waitlist_entries SET status = 'expired', updated_at = $2
         WHERE (id = ANY ($1) AND status = 'offered') OR (status = 'waiting' AND to_day < $3)",
    )
    .bind(&entries)
    .bind(now)
    .bind(today)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(lapsed
        .into_iter()
        .map(|(_, site, station, offer)| (site, station, offer))
        .collect())
}

/// Subscribers who booked by other means since subscribing (a live appointment with their
/// mailbox) get no more offers.
pub async fn close_booked_elsewhere(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "UPDATE waitlist_entries e SET status = 'booked', updated_at = $1
         WHERE e.status = 'waiting' AND e.email_key IS NOT NULL
           AND EXISTS (SELECT 1 FROM appointments a
                       WHERE a.email_key = e.email_key AND a.status IN {} AND a.created_at > e.created_at)",
        AppointmentStatus::LIVE_SQL
    ))
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected())
}

/// What the offer email needs: the subscriber's address and sealed token, the site, the slot.
#[derive(Debug, Clone, FromRow)]
pub struct OfferMail {
    pub email: Option<String>,
    pub manage_token_sealed: Vec<u8>,
    pub status: String,
    pub site_name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub timezone: String,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The offer email's content, for the notifier.
pub async fn offer_mail(pool: &PgPool, offer: Uuid) -> sqlx::Result<Option<OfferMail>> {
    sqlx::query_as(
        "SELECT e.email, e.manage_token_sealed, o.status, s.name AS site_name, s.address_line, s.postcode,
                s.city, s.timezone, e.motif, e.persons, lower(o.during) AS start, upper(o.during) AS end,
                o.expires_at
         FROM waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id JOIN sites s ON s.id = o.site_id
         WHERE o.id = $1",
    )
    .bind(offer)
    .fetch_optional(pool)
    .await
}
