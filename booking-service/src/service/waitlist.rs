//! The waiting list: a citizen with no acceptable slot subscribes; when a matching slot is free
//! (a cancellation, a move, a lapsed offer, new hours, a release), the first subscriber in order is
//! offered it, held for them in the database for `WAITLIST_OFFER_MINUTES`, with an email and one
//! link to accept; an offer not accepted in time lapses and the slot goes to the next subscriber.
//!
//! Matching runs right after this process frees a slot and, on every instance, every
//! `WAITLIST_SWEEP_MS` (which also catches new hours, releases and lapsed offers); concurrent
//! matchers are safe, the database decides (see [`crate::db::waitlist`]).

use super::availability::{calendar_with_holds, duration_for, find_site, place, site_tz};
use super::booking::{self, Booked, CitizenFields, CitizenInput, NewManageToken};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::appointments::{self, BookingOptions, SlotRequest};
use crate::db::territory::SiteRow;
use crate::db::waitlist::{self as db, Entry, NewEntry, NewOffer, Target};
use crate::domain::citizen::Email;
use crate::domain::geo::distance_km;
use crate::domain::intervals::Interval;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::waitlist::WaitlistStatus;
use crate::holds::store::HoldStore;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// The farthest last day a subscription may ask for.
const MAX_DAYS_AHEAD: i64 = 180;
/// The largest radius around a commune.
const MAX_RADIUS_KM: i32 = 100;

/// Where the subscriber can go, as asked.
#[derive(Debug, Clone)]
pub enum Where {
    Site(Uuid),
    Near { commune_insee: String, radius_km: i32 },
}

/// A subscription as asked.
#[derive(Debug, Clone)]
pub struct SubscribeInput {
    pub place: Where,
    pub motif: Motif,
    pub persons: i64,
    pub email: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A new subscription: its management token (shown once) and link.
#[derive(Debug, Clone)]
pub struct Subscribed {
    pub token: String,
    pub manage_url: String,
}

/// The link a subscriber follows to see, accept or leave.
pub fn manage_url(state: &AppState, token: &str) -> String {
    format!("{}/liste-attente/{token}", state.config.public_base_url())
}

/// Subscribes; a slot already free in the asked days is offered at once.
pub async fn subscribe(state: &AppState, input: &SubscribeInput) -> ServiceResult<Subscribed> {
    let persons = PartySize::new(input.persons)?;
    let email = Email::parse(&input.email)?;
    let today = state
        .clock
        .now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    if input.from > input.to {
        return Err(ServiceError::invalid(
            "range_inverted",
            "to",
            "La date de fin précède la date de début.",
        ));
    }
    if input.to < today || input.to > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(ServiceError::invalid(
            "range_out_of_bounds",
            "to",
            format!("La date de fin doit être entre aujourd'hui et {MAX_DAYS_AHEAD} jours."),
        ));
    }
    let target = match &input.place {
        Where::Site(id) => {
            let site = find_site(state, *id).await?;
            super::availability::motif_setting(state, site.id, input.motif, persons).await?;
            Target::Site(site.id)
        }
        Where::Near {
            commune_insee,
            radius_km,
        } => {
            if !(1..=MAX_RADIUS_KM).contains(radius_km) {
                return Err(ServiceError::invalid(
                    "radius_out_of_bounds",
                    "radius_km",
                    format!("Le rayon doit être entre 1 et {MAX_RADIUS_KM} km."),
                ));
            }
            let p = place(commune_insee)?;
            Target::Near {
                insee: p.insee_code.clone(),
                latitude: p.latitude,
                longitude: p.longitude,
                radius_km: *radius_km,
            }
        }
    };
    let (token, hash) = crate::tokens::new_token();
    let sealed = state.sealer.seal(&token);
    let entry = NewEntry {
        id: Uuid::new_v4(),
        token_hash: &hash,
        token_sealed: &sealed,
        target,
        motif: input.motif,
        persons,
        email: email.as_str(),
        email_key: &email.identity(),
        from: input.from,
        to: input.to,
        now: state.clock.now(),
    };
    db::insert(&state.pool, &entry).await?;
    tracing::info!(entry = %entry.id, email = %email.masked(), "waiting list: subscribed");
    // A slot already free in the asked days is offered now, without delaying this answer.
    slot_freed(state);
    Ok(Subscribed {
        manage_url: manage_url(state, &token),
        token,
    })
}

/// A live offer as the subscriber sees it, in the site's zone.
#[derive(Debug, Clone)]
pub struct OfferView {
    pub site_id: Uuid,
    pub start: DateTime<Tz>,
    pub end: DateTime<Tz>,
    pub expires_at: DateTime<Tz>,
}

/// A subscription as its management link shows it.
#[derive(Debug, Clone)]
pub struct EntryView {
    pub status: WaitlistStatus,
    /// Place in the list while open.
    pub position: Option<i64>,
    pub motif: Motif,
    pub persons: PartySize,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub offer: Option<OfferView>,
}

async fn entry_of(state: &AppState, token: &str) -> ServiceResult<(Entry, Option<db::Offer>)> {
    let not_found = || ServiceError::not_found("waitlist_not_found", "Inscription introuvable.");
    if !crate::tokens::has_token_shape(token) {
        return Err(not_found());
    }
    db::find_by_token(&state.pool, &crate::tokens::hash_token(token))
        .await?
        .ok_or_else(not_found)
}

/// The subscription behind `token`.
pub async fn view(state: &AppState, token: &str) -> ServiceResult<EntryView> {
    let (entry, offer) = entry_of(state, token).await?;
    let position = if entry.status.is_open() {
        Some(db::position(&state.pool, &entry).await?)
    } else {
        None
    };
    let offer = match offer {
        Some(o) => {
            let tz = site_tz(&find_site(state, o.site_id).await?)?;
            Some(OfferView {
                site_id: o.site_id,
                start: o.start.with_timezone(&tz),
                end: o.end.with_timezone(&tz),
                expires_at: o.expires_at.with_timezone(&tz),
            })
        }
        None => None,
    };
    Ok(EntryView {
        status: entry.status,
        position,
        motif: entry.motif,
        persons: entry.persons,
        from: entry.from,
        to: entry.to,
        offer,
    })
}

/// Unsubscribes; a live offer is withdrawn and its slot goes to the next subscriber.
pub async fn unsubscribe(state: &AppState, token: &str) -> ServiceResult<()> {
    let (entry, offer) = entry_of(state, token).await?;
    let (_, freed) = db::cancel(&state.pool, entry.id, state.clock.now()).await?;
    if let (Some(site), Some(o)) = (freed, offer) {
        state.read_model.invalidate(site);
        HoldStore::new(&state.kv, &state.hold_mirror)
            .unreserve(site, o.station_id, &offer_hold_id(o.id))
            .await;
        slot_freed(state);
    }
    Ok(())
}

/// What the subscriber gives to accept an offer: as for a confirmation.
#[derive(Debug, Clone, Default)]
pub struct AcceptInput {
    pub citizen: CitizenInput,
    pub pre_demande_numbers: Vec<String>,
    pub confirm_other_appointments: bool,
    /// The reminder by SMS too (needs a phone number).
    pub sms_reminder: bool,
}

/// Books the offered slot.
pub async fn accept(state: &AppState, token: &str, input: &AcceptInput) -> ServiceResult<Booked> {
    let (entry, offer) = entry_of(state, token).await?;
    let now = state.clock.now();
    let offer = offer
        .filter(|o| o.expires_at > now)
        .ok_or(ServiceError::OfferGone)?;
    let mut citizen_input = input.citizen.clone();
    if citizen_input.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        citizen_input.email = entry.email.clone();
    }
    let citizen = citizen_input.parse(true, CitizenFields::ONLINE)?;
    let numbers = booking::numbers_for(entry.motif, entry.persons, &input.pre_demande_numbers, true)?;
    let site = find_site(state, offer.site_id).await?;
    let tz = site_tz(&site)?;
    let slot = SlotRequest {
        site_id: site.id,
        tz,
        department: site.department_code.clone(),
        preferred_station: offer.station_id,
        start: offer.start,
        end: offer.end,
        motif: entry.motif,
        persons: entry.persons,
        // The rules as they were when the slot was offered (its notice, its release).
        rules_at: offer.created_at,
        hold_ref: offer_hold_id(offer.id),
        waive_policy: false,
        known: None,
    };
    let ants_check =
        booking::check_with_ants(state, &numbers, site.id, input.confirm_other_appointments).await?;
    let must_confirm = booking::must_confirm(state, &site, &citizen, offer.start).await?;
    let token = NewManageToken::draw(state);
    let opts = BookingOptions {
        source: "online",
        now,
        max_live_per_email: state.config.max_live_appointments_per_email,
        max_live_per_site_day: state.config.max_live_per_site_day,
        token_hash: &token.hash,
        token_sealed: &token.sealed,
        reference: &token.reference,
        ants_check,
        must_confirm,
        sms_reminder: booking::sms_reminder(input.sms_reminder, &citizen)?,
    };
    let created = match appointments::create_from_offer(
        &state.pool,
        offer.id,
        &slot,
        &citizen,
        &numbers,
        &opts,
    )
    .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return Err(ServiceError::OfferGone),
        Err(e) => return Err(booking::refusal(e, tz)),
    };
    state.read_model.invalidate(site.id);
    HoldStore::new(&state.kv, &state.hold_mirror)
        .unreserve(site.id, offer.station_id, &offer_hold_id(offer.id))
        .await;
    tracing::info!(appointment = %created.id, site = %site.id, "waiting list: offer accepted");
    Ok(Booked {
        id: created.id,
        reference: token.reference,
        site_id: site.id,
        station_id: created.station_id,
        tz,
        motif: entry.motif,
        persons: entry.persons,
        start: offer.start,
        end: offer.end,
        manage_token: token.token,
    })
}

/// The id an offer's Redis reservation and its booking's `hold_ref` carry.
fn offer_hold_id(offer: Uuid) -> String {
    format!("waitlist-{offer}")
}

/// Whether `entry` may be offered a slot at `site`.
fn targets(entry: &Entry, site: &SiteRow) -> bool {
    match &entry.target {
        Target::Site(id) => *id == site.id,
        Target::Near {
            latitude,
            longitude,
            radius_km,
            ..
        } => distance_km(*latitude, *longitude, site.latitude, site.longitude) <= f64::from(*radius_km),
    }
}

/// Open subscriptions that could be offered a slot at `site` (staff's count).
pub async fn open_count(state: &AppState, site: &SiteRow) -> ServiceResult<i64> {
    let (direct, near) = db::open_near_entries_and_site_count(&state.pool, site.id).await?;
    Ok(direct + near.iter().filter(|e| targets(e, site)).count() as i64)
}

/// One pass: appointments whose required confirmation did not come are released, lapsed offers
/// and past subscriptions end, subscribers who booked elsewhere leave,
/// and every site some waiting subscriber can go to offers its free slots in list order. Returns
/// how many offers were made.
pub async fn sweep(state: &AppState) -> ServiceResult<usize> {
    // Appointments the no-show policy releases free their slots for the list first.
    super::management::release_unconfirmed(state).await?;
    let now = state.clock.now();
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive() - Duration::days(1);
    for (site, station, offer) in db::expire_due(&state.pool, now, today).await? {
        state.read_model.invalidate(site);
        HoldStore::new(&state.kv, &state.hold_mirror)
            .unreserve(site, station, &offer_hold_id(offer))
            .await;
    }
    db::close_booked_elsewhere(&state.pool, now).await?;
    let waiting = db::waiting(&state.pool).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let territory = state.read_model.territory(&state.pool).await?;
    let every_site = crate::db::territory::SiteFilter::default();
    let all: Vec<&SiteRow> = territory.site_refs(&every_site).collect();
    // Each site's subscribers in list order. The sites around a commune are found once per
    // commune and radius, however many subscribers share them.
    let mut by_site: std::collections::HashMap<Uuid, Vec<&Entry>> = std::collections::HashMap::new();
    let mut around: std::collections::HashMap<(&str, i32), Vec<Uuid>> = std::collections::HashMap::new();
    for e in &waiting {
        match &e.target {
            Target::Site(id) => by_site.entry(*id).or_default().push(e),
            Target::Near { insee, radius_km, .. } => {
                let near = around
                    .entry((insee.as_str(), *radius_km))
                    .or_insert_with(|| all.iter().filter(|s| targets(e, s)).map(|s| s.id).collect());
                for id in near.iter() {
                    by_site.entry(*id).or_default().push(e);
                }
            }
        }
    }
    let mut made = 0;
    for site in all {
        if let Some(entries) = by_site.get_mut(&site.id) {
            entries.sort_by_key(|e| e.seq);
            made += offer_free_slots(state, site, entries, now).await?;
        }
    }
    Ok(made)
}

/// Offers `site`'s free slots to `entries`, in their order: each gets the earliest free slot that
/// fits its motif, party size and days, if any.
async fn offer_free_slots(
    state: &AppState,
    site: &SiteRow,
    entries: &[&Entry],
    now: DateTime<Utc>,
) -> ServiceResult<usize> {
    let tz = site_tz(site)?;
    let today = now.with_timezone(&tz).date_naive();
    let Some(last) = entries.iter().map(|e| e.to).max().filter(|l| *l >= today) else {
        return Ok(0);
    };
    let territory = state.read_model.territory(&state.pool).await?;
    let mut cal = calendar_with_holds(state, site, tz, today, last).await?;
    let lifetime = Duration::minutes(state.config.waitlist_offer_minutes.max(1));
    let store = HoldStore::new(&state.kv, &state.hold_mirror);
    let mut made = 0;
    for entry in entries {
        let Some(setting) = territory
            .motif(site.id, entry.motif)
            .filter(|m| entry.persons.as_i32() <= m.max_persons)
        else {
            continue;
        };
        let duration = duration_for(&setting, entry.persons);
        let (from, to) = (entry.from.max(today), entry.to);
        if from > to {
            continue;
        }
        for slot in cal.slots(from, to, duration, now) {
            let Some(&station) = cal.free_stations(slot.start, duration).first() else {
                continue;
            };
            let offer = NewOffer {
                id: Uuid::new_v4(),
                entry: entry.id,
                site: site.id,
                station,
                start: slot.start,
                end: slot.end,
                expires_at: (now + lifetime).min(slot.start),
                now,
            };
            let hid = offer_hold_id(offer.id);
            // A citizen holding this slot keeps it (a granted hold is a promise): the offer's own
            // reservation is refused then, and the next slot is tried. Without Redis the database
            // alone decides, as for holds.
            let ttl = (offer.expires_at - now).to_std().unwrap_or_default();
            if store
                .reserve(site.id, &[station], &hid, slot.start, slot.end, ttl)
                .await
                .is_some_and(|r| r.is_none())
            {
                continue;
            }
            match db::offer(&state.pool, &offer).await {
                Ok(true) => {
                    state.read_model.invalidate(site.id);
                    if let Some(iv) = Interval::new(slot.start, slot.end) {
                        cal.block(station, iv);
                    }
                    made += 1;
                    tracing::info!(entry = %entry.id, site = %site.id, "waiting list: slot offered");
                }
                // Not made (or not known to be): the slot must not stay reserved for nobody.
                Ok(false) => store.unreserve(site.id, station, &hid).await,
                Err(e) => {
                    store.unreserve(site.id, station, &hid).await;
                    return Err(e.into());
                }
            }
            break;
        }
    }
    Ok(made)
}

/// This process freed a slot: the waiting list is matched now, in the background (the citizen or
/// agent who freed it does not wait for it).
pub fn slot_freed(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "waiting list: matching after a freed slot failed");
        }
    });
}

/// Runs [`sweep`] every `every` for as long as the process lives.
pub fn spawn_sweeper(state: AppState, every: std::time::Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "waiting list: sweep failed");
            }
        }
    });
}
