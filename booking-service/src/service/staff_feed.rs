//! Staff calendar feeds: a secret subscription URL per site and per station, serving the
//! appointments as RFC 5545 to Outlook, Thunderbird or a phone. Calendar applications send no
//! session, so the URL's secret is the credential: 256 random bits, looked up by hash, renewed
//! from the page (the old URL stops at once). A sealed copy is kept so that the commune's staff
//! can read the URL again on the page (subscribing a second device) without renewing it, which
//! would cut every colleague already subscribed; the sealed copy opens only with the service's
//! key, like the management tokens in the outbox.

use super::availability::{find_site, site_tz};
use super::staff_access::{not_yours, visible_site};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::{calendar, calendar_admin, staff_feed};
use crate::domain::party::PartySize;
use crate::domain::tz::resolve_local;
use crate::formats::calendar::{staff_feed as write_feed, StaffEvent};
use crate::staff::{audit, StaffUser};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::json;
use uuid::Uuid;

/// How far back a feed goes: the past week stays visible in the agents' calendars.
const DAYS_BACK: i64 = 7;

/// One subscription URL of a site.
#[derive(Debug, Clone)]
pub struct FeedLink {
    /// `None`: the whole site.
    pub station: Option<(Uuid, String)>,
    /// `None` until it is first generated.
    pub url: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A site's subscription URLs: the site's own, then one per active station.
#[derive(Debug, Clone)]
pub struct FeedOverview {
    pub site: crate::db::territory::SiteRow,
    pub links: Vec<FeedLink>,
}

/// The URL a secret is served at.
pub fn feed_url(state: &AppState, secret: &str) -> String {
    format!("{}/agents/flux/{secret}.ics", state.config.public_base_url())
}

/// The site's feeds and their URLs (agents and administrators of the commune).
pub async fn overview(state: &AppState, staff: &StaffUser, site_id: Uuid) -> ServiceResult<FeedOverview> {
    let site = visible_site(state, staff, site_id).await?;
    let stored = staff_feed::secrets(&state.pool, site.id).await?;
    let link = |station: Option<(Uuid, String)>| {
        let id = station.as_ref().map(|(id, _)| *id);
        let row = stored.iter().find(|r| r.station_id == id);
        FeedLink {
            url: row
                .and_then(|r| state.sealer.open(&r.secret_sealed).ok())
                .map(|secret| feed_url(state, &secret)),
            created_at: row.map(|r| r.created_at),
            station,
        }
    };
    let mut links = vec![link(None)];
    for st in calendar_admin::stations(&state.pool, site.id).await? {
        if st.active {
            links.push(link(Some((st.id, st.name))));
        }
    }
    Ok(FeedOverview { site, links })
}

/// Draws a new secret for the site's feed (`station` `None`) or a station's, replacing the old
/// one at once; audited. Returns the new URL.
pub async fn renew(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    station: Option<Uuid>,
) -> ServiceResult<String> {
    let site = visible_site(state, staff, site_id).await?;
    if let Some(st) = station {
        let ours = calendar_admin::stations(&state.pool, site.id)
            .await?
            .iter()
            .any(|s| s.id == st && s.active);
        if !ours {
            return Err(not_yours("station_not_found"));
        }
    }
    let (secret, hash) = crate::tokens::new_token();
    let sealed = state.sealer.seal(&secret);
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    staff_feed::replace_secret(&mut tx, site.id, station, &hash, &sealed, staff.id, now).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "feed_renewed",
        None,
        Some(&station.unwrap_or(site.id).to_string()),
        json!({"site_id": site.id, "station_id": station}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(feed_url(state, &secret))
}

/// "1 personne", "3 personnes".
fn persons_label(p: PartySize) -> String {
    if p.get() > 1 {
        format!("{p} personnes")
    } else {
        format!("{p} personne")
    }
}

/// The feed a secret opens, as RFC 5545 text: the site's (or station's) appointments except
/// cancelled ones, from a week back to the last bookable day. An unknown, renewed or malformed
/// secret is "not found" (nothing tells which).
pub async fn feed(state: &AppState, secret: &str) -> ServiceResult<String> {
    let unknown = || {
        ServiceError::not_found(
            "feed_not_found",
            "Ce lien d'abonnement n'existe pas ou a été renouvelé.",
        )
    };
    if !crate::tokens::has_token_shape(secret) {
        return Err(unknown());
    }
    let (site_id, station) = staff_feed::find(&state.pool, &crate::tokens::hash_token(secret))
        .await?
        .ok_or_else(unknown)?;
    let site = find_site(state, site_id).await.map_err(|_| unknown())?;
    let tz = site_tz(&site)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let last = calendar::booking_horizon_end(&state.pool, site.id, today).await?;
    let from = resolve_local(tz, (today - Duration::days(DAYS_BACK)).and_time(NaiveTime::MIN));
    let to = resolve_local(tz, (last + Duration::days(1)).and_time(NaiveTime::MIN));
    let rows = staff_feed::appointments(&state.pool, site.id, station, from, to).await?;
    let labels: Vec<(String, String)> = rows
        .iter()
        .map(|a| {
            (
                persons_label(a.persons),
                format!("{} {}", a.first_name, a.last_name),
            )
        })
        .collect();
    let events: Vec<StaffEvent> = rows
        .iter()
        .zip(&labels)
        .map(|(a, (persons, names))| StaffEvent {
            id: a.id,
            sequence: a.calendar_sequence,
            motif: a.motif.label_fr(),
            persons,
            names,
            station: &a.station_name,
            reference: &a.reference,
            phone: a.phone.as_deref(),
            status: a.status.label_fr(),
            start: a.start,
            end: a.end,
        })
        .collect();
    let name = match station {
        None => format!("Rendez-vous – {}", site.name),
        Some(id) => {
            let st = calendar_admin::stations(&state.pool, site.id)
                .await?
                .into_iter()
                .find(|s| s.id == id)
                .map(|s| s.name)
                .unwrap_or_default();
            format!("Rendez-vous – {} – {st}", site.name)
        }
    };
    Ok(write_feed(&name, &events, now))
}
