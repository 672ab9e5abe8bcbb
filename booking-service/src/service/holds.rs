//! Holds: a slot kept for a citizen while they fill the form. One Redis round trip when Redis is
//! there; a signed token in every case, so confirmation stays exact without Redis.

use super::availability::{duration_for, find_site, motif_setting, site_tz, slot_taken};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::territory::SiteRow;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::holds::store::HoldStore;
use crate::holds::token::HoldClaims;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rand::RngCore;
use uuid::Uuid;

/// The slot a citizen wants to hold.
#[derive(Debug, Clone)]
pub struct HoldInput {
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
}

/// A hold placed.
#[derive(Debug, Clone)]
pub struct PlacedHold {
    /// The signed token the citizen sends back to confirm.
    pub token: String,
    pub site: SiteRow,
    pub tz: Tz,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether Redis reserved a station (false when Redis is down: the database decides later).
    pub reserved: bool,
}

/// Holds `input` for `client` (an opaque key of the client's address).
pub async fn place(state: &AppState, client: &str, input: &HoldInput) -> ServiceResult<PlacedHold> {
    let site = find_site(state, input.site_id).await?;
    let tz = site_tz(&site)?;
    let setting = motif_setting(state, site.id, input.motif, input.persons).await?;
    let duration = duration_for(&setting, input.persons);
    let (start, now) = (input.start, state.clock.now());
    let day = start.with_timezone(&tz).date_naive();
    // The read model's view (holds excluded, at most the documented bound old): is this a start
    // availability would offer at all? A station it shows free but booked meanwhile is caught by
    // `reserve_free`, which asks the database after reserving: no PostgreSQL round trip otherwise.
    let cal = super::availability::day_calendar(state, &site, tz, day).await?;
    if !cal.is_offered(start, duration, now) {
        // "Taken" (with alternatives) when only bookings stand in the way; otherwise the start
        // is never offered (off grid, closed, a holiday, too soon, not released).
        if cal.is_offered_ignoring_bookings(start, duration, now) {
            return Err(slot_taken(state, &site, duration).await);
        }
        return Err(ServiceError::SlotNotOffered);
    }
    let free = cal.free_stations(start, duration);
    let end = start + duration;
    let ttl = std::time::Duration::from_secs(state.config.hold_ttl_secs);
    let mut hid_bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut hid_bytes);
    let hid: String = hid_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let store = HoldStore::new(&state.kv, &state.hold_mirror);
    let (station, reserved) = match store
        .acquire_client(client, &hid, state.config.max_holds_per_client, ttl)
        .await
    {
        Some(false) => return Err(ServiceError::TooManyHolds),
        Some(true) => {
            match reserve_free(state, &store, client, site.id, &free, &hid, (start, end), ttl).await? {
                Some(Some(station)) => (station, true),
                Some(None) => {
                    store.release_client(client, &hid).await;
                    return Err(slot_taken(state, &site, duration).await);
                }
                None => (free[0], false),
            }
        }
        // Redis unreachable: a signed hold without reservation; the database decides later.
        None => (free[0], false),
    };
    let expires_at = now + Duration::seconds(i64::try_from(state.config.hold_ttl_secs).unwrap_or(600));
    let claims = HoldClaims {
        hid,
        site: site.id,
        station,
        start: start.timestamp(),
        end: end.timestamp(),
        motif: input.motif,
        persons: input.persons.get(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
        cli: client.to_string(),
    };
    // Holds issued, by whether Redis reserved them (unreserved: Redis away, the database decides).
    let how = if reserved { "reserved" } else { "unreserved" };
    state
        .metrics
        .with(|| metrics::counter!("holds_placed_total", "redis" => how).increment(1));
    Ok(PlacedHold {
        token: state.signer.sign(&claims),
        site,
        tz,
        motif: input.motif,
        persons: input.persons,
        start,
        end,
        expires_at,
        reserved,
    })
}

/// Reserves in Redis one of `candidates` that PostgreSQL shows free once the reservation stands.
///
/// Why the database is read again, after the reservation: the calendar `place` read may predate a
/// booking that committed since, and that booking released its own reservation right after its
/// commit, so Redis alone would grant its station a second time and the confirmation would answer
/// "slot taken" (seen across instances: hold calendar read, then another client's booking commits
/// and releases, then this reservation succeeds). Once our reservation stands no other live hold
/// can book the station, and every booking committed before it is visible to this read, so a hold
/// granted here is kept at confirmation. A station found booked is let go and the next one tried.
/// Same answers as [`HoldStore::reserve`]; a database error releases what was taken. The
/// counter reserves through it too.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reserve_free(
    state: &AppState,
    store: &HoldStore<'_>,
    client: &str,
    site: Uuid,
    candidates: &[Uuid],
    hid: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    ttl: std::time::Duration,
) -> ServiceResult<Option<Option<Uuid>>> {
    let mut candidates = candidates.to_vec();
    loop {
        let station = match store.reserve(site, &candidates, hid, start, end, ttl).await {
            Some(Some(station)) => station,
            other => return Ok(other),
        };
        match crate::db::appointments::station_occupied(&state.pool, station, start, end).await {
            Ok(false) => return Ok(Some(Some(station))),
            Ok(true) => {
                store.unreserve(site, station, hid).await;
                candidates.retain(|s| *s != station);
            }
            Err(e) => {
                store.release(site, station, client, hid).await;
                return Err(e.into());
            }
        }
    }
}

/// Releases a hold (the citizen gave up, or chose another time).
pub async fn release(state: &AppState, token: &str) -> ServiceResult<()> {
    let claims = state
        .signer
        .verify(token.trim())
        .map_err(|_| ServiceError::HoldInvalid)?;
    HoldStore::new(&state.kv, &state.hold_mirror)
        .release(claims.site, claims.station, &claims.cli, &claims.hid)
        .await;
    Ok(())
}

/// A hold token checked: signed by us and not expired.
pub fn verified(state: &AppState, token: &str) -> ServiceResult<HoldClaims> {
    let claims = state
        .signer
        .verify(token.trim())
        .map_err(|_| ServiceError::HoldInvalid)?;
    if state.clock.now() >= claims.expires_at() {
        return Err(ServiceError::HoldExpired);
    }
    Ok(claims)
}

/// After a booking or a move onto a held slot: this process's cache forgets the site and the
/// hold is released (the appointment, committed before this, now occupies the slot). Other
/// replicas' caches may show the slot free for up to their TTL, and a hold being placed may have
/// read its calendar before the commit: [`reserve_free`] reads the database after reserving, so
/// neither grants this station again.
pub async fn consumed(state: &AppState, claims: &HoldClaims) {
    state.read_model.invalidate(claims.site);
    HoldStore::new(&state.kv, &state.hold_mirror)
        .release(claims.site, claims.station, &claims.cli, &claims.hid)
        .await;
}
