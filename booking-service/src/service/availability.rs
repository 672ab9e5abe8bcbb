//! Free start times: a site's, over a date range, and the earliest across sites. Live holds are
//! subtracted; notice and release are applied at read time (the clock moves without any write).

use super::{Alternative, ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::appointments::KnownCalendar;
use crate::db::territory::{self, MotifSetting, SiteFilter, SiteRow};
use crate::domain::gazetteer::{self, Place};
use crate::domain::geo::distance_km;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::slots::{SiteCalendar, Slot};
use crate::holds::store::HoldStore;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// How far back a range may start, from today.
const PAST_LIMIT_DAYS: i64 = 366;
/// How far ahead a range may end, from today.
const FUTURE_LIMIT_DAYS: i64 = 731;

/// An active site by id (from the read model).
pub async fn find_site(state: &AppState, id: Uuid) -> ServiceResult<SiteRow> {
    state
        .read_model
        .site(&state.pool, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("site_not_found", "Ce lieu n'existe pas."))
}

/// The active sites matching `filter` (from the read model).
pub async fn sites(state: &AppState, filter: &SiteFilter) -> ServiceResult<Vec<SiteRow>> {
    Ok(state.read_model.territory(&state.pool).await?.sites(filter))
}

/// The motif settings of `sites` (from the read model).
pub async fn settings(state: &AppState, sites: &[Uuid]) -> ServiceResult<Vec<(Uuid, MotifSetting)>> {
    Ok(state.read_model.territory(&state.pool).await?.settings(sites))
}

/// The site's time zone (checked when the site was created; a bad one is an internal fault).
pub fn site_tz(site: &SiteRow) -> ServiceResult<Tz> {
    site.timezone
        .parse()
        .map_err(|_| ServiceError::Internal(format!("site {} has an invalid time zone", site.id)))
}

/// The site's setting for `motif`, refused when the site does not offer it or not for so many.
pub fn motif_for_site(
    settings: &[(Uuid, MotifSetting)],
    site: Uuid,
    motif: Motif,
    persons: PartySize,
) -> ServiceResult<MotifSetting> {
    let m = settings
        .iter()
        .find(|(id, m)| *id == site && m.motif == motif)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            ServiceError::invalid(
                "motif_not_offered",
                "motif",
                format!("Ce lieu ne propose pas le motif {}.", motif.code()),
            )
        })?;
    if persons.as_i32() > m.max_persons {
        return Err(ServiceError::invalid(
            "too_many_persons",
            "persons",
            format!(
                "Ce lieu accepte au plus {} personnes pour ce motif.",
                m.max_persons
            ),
        ));
    }
    Ok(m)
}

/// The site's setting for `motif`.
pub async fn motif_setting(
    state: &AppState,
    site: Uuid,
    motif: Motif,
    persons: PartySize,
) -> ServiceResult<MotifSetting> {
    let settings = settings(state, &[site]).await?;
    motif_for_site(&settings, site, motif, persons)
}

/// How long an appointment of `persons` takes.
pub fn duration_for(m: &MotifSetting, persons: PartySize) -> Duration {
    Duration::minutes(i64::from(m.minutes_per_person) * i64::from(persons.as_i32()))
}

/// How many days ahead a site's calendar is loaded at once.
const LOADED_DAYS: i64 = 160;

/// The site's calendar over `[from, to]` from the read model, holds not applied.
async fn cached_calendar(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> ServiceResult<std::sync::Arc<SiteCalendar>> {
    let today = state.clock.now().with_timezone(&tz).date_naive();
    // A miss loads from yesterday to 160 days ahead at once (the ANTS hub asks for 150): later
    // requests for other weeks hit.
    let load = (today - Duration::days(1), today + Duration::days(LOADED_DAYS));
    Ok(state
        .read_model
        .calendar(&state.pool, site.id, tz, &site.department_code, (from, to), load)
        .await?)
}

/// Loads every active site's calendar into the read model (the territory first), one site at a
/// time so that a starting instance does not flood PostgreSQL. Returns how many sites.
pub async fn warm_up(state: &AppState) -> ServiceResult<usize> {
    let territory = state.read_model.territory(&state.pool).await?;
    let mut n = 0;
    for site in territory.site_refs(&SiteFilter::default()) {
        let tz = site_tz(site)?;
        let today = state.clock.now().with_timezone(&tz).date_naive();
        cached_calendar(state, site, tz, today, today).await?;
        n += 1;
    }
    Ok(n)
}

/// One local day of the site's calendar from the read model, holds not applied.
pub(super) async fn day_calendar(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    day: NaiveDate,
) -> ServiceResult<SiteCalendar> {
    Ok(cached_calendar(state, site, tz, day, day).await?.window(day, day))
}

/// The read model's calendar of `site` for the local day of `start`, with its version: a booking's
/// check reads the day again only if the site changed since (see [`KnownCalendar`]).
pub fn known_calendar(state: &AppState, site: Uuid, tz: Tz, start: DateTime<Utc>) -> Option<KnownCalendar> {
    let day = start.with_timezone(&tz).date_naive();
    let (version, calendar) = state.read_model.held_calendar(site, day)?;
    Some(KnownCalendar { version, calendar })
}

/// The site's calendar over `[from, to]` (from the read model), with live holds blocked.
pub async fn calendar_with_holds(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> ServiceResult<SiteCalendar> {
    let mut cal = cached_calendar(state, site, tz, from, to).await?.window(from, to);
    let stations: Vec<Uuid> = cal.stations.iter().map(|s| s.station_id).collect();
    if let Some(held) = HoldStore::new(&state.kv, &state.hold_mirror)
        .held(site.id, &stations)
        .await
    {
        for (station, iv) in held {
            cal.block(station, iv);
        }
    }
    Ok(cal)
}

/// The next free starts (five, within two weeks) for an appointment of `duration`.
pub async fn alternatives(
    state: &AppState,
    site: &SiteRow,
    duration: Duration,
) -> ServiceResult<Vec<Alternative>> {
    let tz = site_tz(site)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let to = today + Duration::days(13);
    let cal = calendar_with_holds(state, site, tz, today, to).await?;
    Ok(cal
        .slots(today, to, duration, now)
        .iter()
        .take(5)
        .map(|s| in_zone(s, tz))
        .collect())
}

/// "Taken", with the next free starts (an empty list when they cannot be read right now).
pub async fn slot_taken(state: &AppState, site: &SiteRow, duration: Duration) -> ServiceError {
    ServiceError::SlotTaken {
        alternatives: alternatives(state, site, duration).await.unwrap_or_default(),
    }
}

/// A slot in the site's zone.
pub fn in_zone(s: &Slot, tz: Tz) -> Alternative {
    Alternative {
        start: s.start.with_timezone(&tz),
        end: s.end.with_timezone(&tz),
    }
}

/// What a citizen asks to see: a site's free starts for a motif and party over some days.
#[derive(Debug, Clone)]
pub struct SlotsQuery {
    pub site_id: Uuid,
    pub motif: Motif,
    pub persons: PartySize,
    /// Default: today in the site's zone.
    pub from: Option<NaiveDate>,
    /// Default: `open_ended_days` from `from`.
    pub to: Option<NaiveDate>,
    /// How many days to show when `to` is not given (the API: 14; the site page: 21).
    pub open_ended_days: i64,
    /// Staff placing an appointment themselves (a move): the minimum notice and the public
    /// horizon do not apply, as when the booking itself is made (openings and bookings still do).
    pub waive_policy: bool,
}

/// A site's free starts.
#[derive(Debug, Clone)]
pub struct SiteSlots {
    pub site: SiteRow,
    pub tz: Tz,
    pub setting: MotifSetting,
    /// Every motif the site offers (to switch motif on the page).
    pub offered: Vec<MotifSetting>,
    pub duration: Duration,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub slots: Vec<Alternative>,
}

/// The free starts of one site (the API's availability and the site page).
pub async fn site_slots(state: &AppState, q: &SlotsQuery) -> ServiceResult<SiteSlots> {
    let site = find_site(state, q.site_id).await?;
    let tz = site_tz(&site)?;
    let settings = settings(state, &[site.id]).await?;
    let setting = motif_for_site(&settings, site.id, q.motif, q.persons)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let from = q.from.unwrap_or(today);
    let to = match q.to {
        Some(to) => to,
        None => from
            .checked_add_signed(Duration::days(q.open_ended_days.max(1) - 1))
            .ok_or_else(out_of_range)?,
    };
    check_range(today, from, to, state.config.max_availability_days)?;
    let duration = duration_for(&setting, q.persons);
    let mut cal = calendar_with_holds(state, &site, tz, from, to).await?;
    if q.waive_policy {
        cal.policy.min_notice = Duration::zero();
        cal.policy.horizon_days = 3650;
    }
    let slots = cal
        .slots(from, to, duration, now)
        .iter()
        .map(|s| in_zone(s, tz))
        .collect();
    Ok(SiteSlots {
        offered: settings
            .into_iter()
            .filter(|(id, _)| *id == site.id)
            .map(|(_, m)| m)
            .collect(),
        site,
        tz,
        setting,
        duration,
        from,
        to,
        slots,
    })
}

fn out_of_range() -> ServiceError {
    ServiceError::malformed("date_out_of_range", "from", "Dates trop éloignées d'aujourd'hui.")
}

/// A range is in order, not too long, and not too far from today.
fn check_range(today: NaiveDate, from: NaiveDate, to: NaiveDate, max_days: u32) -> ServiceResult<()> {
    if to < from {
        return Err(ServiceError::malformed(
            "invalid_range",
            "to",
            "La date de fin précède la date de début.",
        ));
    }
    if (to - from).num_days() + 1 > i64::from(max_days) {
        return Err(ServiceError::malformed(
            "range_too_long",
            "to",
            format!("Intervalle trop long ({max_days} jours au plus)."),
        ));
    }
    if from < today - Duration::days(PAST_LIMIT_DAYS) || to > today + Duration::days(FUTURE_LIMIT_DAYS) {
        return Err(out_of_range());
    }
    Ok(())
}

/// One earliest free start, with its site.
#[derive(Debug, Clone)]
pub struct EarliestSlot {
    pub site: SiteRow,
    pub duration: Duration,
    pub slot: Alternative,
}

/// The earliest free starts across the sites matching `filter`, sorted, at most `limit`.
pub async fn earliest(
    state: &AppState,
    filter: &SiteFilter,
    motif: Motif,
    persons: PartySize,
    limit: usize,
) -> ServiceResult<Vec<EarliestSlot>> {
    let territory = state.read_model.territory(&state.pool).await?;
    let sites: Vec<&SiteRow> = territory.site_refs(filter).collect();
    earliest_among(state, &sites, motif, persons, limit, limit).await
}

/// How many first free starts are kept per site and duration (the most a search asks of a site).
const FIRST_STARTS_KEPT: usize = 10;

/// No free start at `site` for `duration` comes before this (holds aside; `None`: none at all
/// within the horizon). From the read model's first starts, computed again when a change or the
/// clock made them unable to tell.
async fn lower_bound(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    duration: Duration,
    now: DateTime<Utc>,
) -> ServiceResult<Option<DateTime<Utc>>> {
    let today = now.with_timezone(&tz).date_naive();
    let minutes = duration.num_minutes();
    let mut cal = cached_calendar(state, site, tz, today, today).await?;
    if let Some(first) = state.read_model.first_start(site.id, minutes, &cal, now) {
        return Ok(first);
    }
    let last = cal.horizon_end(today);
    if last > today + Duration::days(LOADED_DAYS) {
        cal = cached_calendar(state, site, tz, today, last).await?;
    }
    let f = cal.first_starts(today, duration, now, FIRST_STARTS_KEPT);
    let first = f.starts.first().copied();
    state.read_model.keep_first_starts(site.id, minutes, &cal, f);
    Ok(first)
}

/// The free starts of one site, holds applied, from `first` (its lower bound): at most `n`.
async fn site_earliest(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    duration: Duration,
    first: DateTime<Utc>,
    n: usize,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<Slot>> {
    let today = now.with_timezone(&tz).date_naive();
    let last = cached_calendar(state, site, tz, today, today)
        .await?
        .horizon_end(today);
    // The bound's day first (it usually holds them all), then a week, then two at a time.
    let mut from = first.with_timezone(&tz).date_naive().max(today);
    let mut out = Vec::new();
    let mut span = 0;
    while from <= last && out.len() < n {
        let to = (from + Duration::days(span)).min(last);
        span = if span == 0 { 6 } else { 13 };
        let cal = calendar_with_holds(state, site, tz, from, to).await?;
        out.extend(cal.slots(from, to, duration, now).into_iter().take(n - out.len()));
        from = to + Duration::days(1);
    }
    Ok(out)
}

/// The earliest free starts across `sites`: at most `per_site` from each, `limit` in all, sorted.
///
/// Sites are ordered by their lower bounds (memory only); the exact starts, holds applied, are
/// computed for the first sites only, until the next site's bound comes after the `limit`-th
/// start found: a search across France looks closely at a handful of sites, not thousands.
pub async fn earliest_among(
    state: &AppState,
    sites: &[&SiteRow],
    motif: Motif,
    persons: PartySize,
    per_site: usize,
    limit: usize,
) -> ServiceResult<Vec<EarliestSlot>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let territory = state.read_model.territory(&state.pool).await?;
    let now = state.clock.now();
    let mut bounds: Vec<(DateTime<Utc>, &SiteRow, Tz, Duration)> = Vec::new();
    for &site in sites {
        // Sites that do not offer the motif for this many persons are simply not candidates.
        let Some(setting) = territory
            .motif(site.id, motif)
            .filter(|m| persons.as_i32() <= m.max_persons)
        else {
            continue;
        };
        let tz = site_tz(site)?;
        let duration = duration_for(&setting, persons);
        if let Some(first) = lower_bound(state, site, tz, duration, now).await? {
            bounds.push((first, site, tz, duration));
        }
    }
    bounds.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let mut found: Vec<(DateTime<Utc>, EarliestSlot)> = Vec::new();
    for (first, site, tz, duration) in bounds {
        if found.get(limit - 1).is_some_and(|(kth, _)| first > *kth) {
            break;
        }
        for s in site_earliest(state, site, tz, duration, first, per_site, now).await? {
            found.push((
                s.start,
                EarliestSlot {
                    site: site.clone(),
                    duration,
                    slot: in_zone(&s, tz),
                },
            ));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.site.id.cmp(&b.1.site.id)));
    }
    Ok(found.into_iter().take(limit).map(|(_, s)| s).collect())
}

/// A site near a commune, with its distance and earliest free starts.
#[derive(Debug, Clone)]
pub struct NearSite {
    pub site: SiteRow,
    pub distance_km: f64,
    /// One person, identity card: the site's soonest starts.
    pub earliest: Vec<EarliestSlot>,
}

/// What a citizen's search finds: the communes of the service matching the text (a name, accents
/// or not, or a postcode), their equipped sites, and the earliest free starts across those sites;
/// and the commune of France it names (any, equipped or not), with the nearest equipped sites.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub communes: Vec<territory::CommuneRow>,
    /// The active sites of those communes.
    pub sites: Vec<SiteRow>,
    /// One person, identity card: the soonest starts across the sites.
    pub earliest: Vec<EarliestSlot>,
    /// The commune of France searched from (the best match), if any.
    pub place: Option<&'static Place>,
    /// Its position is only approximate (a small commune placed at its neighbours' mean).
    pub approximate: bool,
    /// Other communes the text matches, to pick instead.
    pub others: Vec<&'static Place>,
    /// The nearest equipped sites from `place`, nearest first.
    pub nearest: Vec<NearSite>,
}

/// The sites of `sites` nearest to a point, each with its distance and soonest times (one person,
/// identity card).
async fn near_point<'a>(
    state: &AppState,
    sites: impl Iterator<Item = &'a SiteRow>,
    lat: f64,
    lon: f64,
) -> ServiceResult<Vec<NearSite>> {
    let near = nearest_sites(sites, lat, lon, NEAREST_SITES);
    let refs: Vec<&SiteRow> = near.iter().map(|(s, _)| *s).collect();
    let found = earliest_among(state, &refs, Motif::Cni, PartySize::ONE, 3, usize::MAX).await?;
    Ok(near
        .into_iter()
        .map(|(site, distance_km)| NearSite {
            earliest: found.iter().filter(|e| e.site.id == site.id).cloned().collect(),
            site: site.clone(),
            distance_km,
        })
        .collect())
}

/// The equipped sites nearest to a position the browser gave ("autour de moi"), with their
/// distances and soonest times; a position outside the Earth's is refused.
pub async fn near_position(state: &AppState, lat: f64, lon: f64) -> ServiceResult<Vec<NearSite>> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(ServiceError::invalid(
            "invalid_position",
            "lat",
            "Position invalide (latitude entre -90 et 90, longitude entre -180 et 180).",
        ));
    }
    let territory = state.read_model.territory(&state.pool).await?;
    near_point(state, territory.site_refs(&SiteFilter::default()), lat, lon).await
}

/// How many nearest sites the search page shows.
const NEAREST_SITES: usize = 5;
/// How many sites, nearest first, the API's `near_commune` looks at.
const NEAR_COMMUNE_SITES: usize = 10;

/// The commune of France with this INSEE code.
pub fn place(insee: &str) -> ServiceResult<&'static Place> {
    gazetteer::by_insee(insee)
        .ok_or_else(|| ServiceError::not_found("commune_not_found", "Cette commune n'existe pas."))
}

/// The `k` sites of `sites` nearest to `(lat, lon)`, nearest first, with their distance in km;
/// borrowed, and selected without sorting all of them (a search from any commune of France looks
/// at every site, thousands, for a handful).
pub fn nearest_sites<'a>(
    sites: impl Iterator<Item = &'a SiteRow>,
    lat: f64,
    lon: f64,
    k: usize,
) -> Vec<(&'a SiteRow, f64)> {
    let mut out: Vec<(&SiteRow, f64)> = sites
        .map(|s| (s, distance_km(lat, lon, s.latitude, s.longitude)))
        .collect();
    // Sites of one commune may share its position: then by name, as a person would list them.
    let order = |a: &(&SiteRow, f64), b: &(&SiteRow, f64)| {
        a.1.total_cmp(&b.1)
            .then_with(|| a.0.name.cmp(&b.0.name))
            .then_with(|| a.0.id.cmp(&b.0.id))
    };
    if k == 0 {
        return Vec::new();
    }
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, order);
        out.truncate(k);
    }
    out.sort_by(order);
    out
}

/// The earliest free starts at the sites matching `filter` nearest to a commune of France (the
/// API's `near_commune`): the ten nearest sites, at most `per_site` starts each, sorted by
/// distance then time, `limit` in all; each with its distance in km.
pub async fn earliest_near(
    state: &AppState,
    filter: &SiteFilter,
    insee: &str,
    motif: Motif,
    persons: PartySize,
    per_site: usize,
    limit: usize,
) -> ServiceResult<Vec<(EarliestSlot, f64)>> {
    let origin = place(insee)?;
    let territory = state.read_model.territory(&state.pool).await?;
    let near = nearest_sites(
        territory.site_refs(filter),
        origin.latitude,
        origin.longitude,
        NEAR_COMMUNE_SITES,
    );
    let refs: Vec<&SiteRow> = near.iter().map(|(s, _)| *s).collect();
    let found = earliest_among(state, &refs, motif, persons, per_site, usize::MAX).await?;
    let mut out: Vec<(EarliestSlot, f64)> = found
        .into_iter()
        .map(|e| {
            let d = near
                .iter()
                .find(|(s, _)| s.id == e.site.id)
                .map_or(f64::INFINITY, |(_, d)| *d);
            (e, d)
        })
        .collect();
    // Stable: within a site the starts stay in time order.
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out.truncate(limit);
    Ok(out)
}

/// Communes and sites matching `text`, with the earliest free starts, and the nearest equipped
/// sites from the commune it names (the search page). `commune` picks one commune of France among
/// several of the same name (its INSEE code).
pub async fn search(state: &AppState, text: &str, commune: Option<&str>) -> ServiceResult<SearchResult> {
    let trimmed = text.trim();
    let is_postcode = trimmed.len() == 5 && trimmed.bytes().all(|b| b.is_ascii_digit());
    let filter = if is_postcode {
        territory::CommuneFilter {
            postcode: Some(trimmed.to_string()),
            ..territory::CommuneFilter::default()
        }
    } else {
        territory::CommuneFilter {
            q: Some(crate::domain::text::fold(trimmed)).filter(|s| !s.is_empty() && s.len() <= 100),
            ..territory::CommuneFilter::default()
        }
    };
    let communes = territory::list_communes(&state.pool, &filter).await?;
    let all_sites = sites(state, &SiteFilter::default()).await?;
    let sites: Vec<SiteRow> = all_sites
        .iter()
        .filter(|s| communes.iter().any(|c| c.insee_code == s.commune_insee))
        .cloned()
        .collect();
    // Twenty sites at most, three starts each: enough to show the soonest six.
    let refs: Vec<&SiteRow> = sites.iter().take(20).collect();
    let earliest = earliest_among(state, &refs, Motif::Cni, PartySize::ONE, 3, 6).await?;

    // The commune of France searched from: the one asked for, else the best match of the text.
    let matches = if trimmed.len() > 100 {
        Vec::new()
    } else {
        gazetteer::search(gazetteer::france(), trimmed, 6)
    };
    let chosen = commune
        .map(|c| c.trim().to_ascii_uppercase())
        .and_then(|c| gazetteer::by_insee(&c))
        .filter(|p| gazetteer::matches(p, trimmed))
        .or_else(|| matches.first().copied());
    let others = matches
        .iter()
        .filter(|m| Some(m.insee_code.as_str()) != chosen.map(|c| c.insee_code.as_str()))
        .copied()
        .collect();
    let mut approximate = false;
    let mut nearest = Vec::new();
    if let Some(p) = chosen {
        // The service's own position of the commune, when it has one, beats an estimated one.
        let own = communes
            .iter()
            .find(|c| c.insee_code == p.insee_code)
            .and_then(|c| c.latitude.zip(c.longitude));
        let (lat, lon) = match own {
            Some(pos) => pos,
            None => {
                approximate = p.precision.is_approximate();
                (p.latitude, p.longitude)
            }
        };
        nearest = near_point(state, all_sites.iter(), lat, lon).await?;
    }
    Ok(SearchResult {
        communes,
        sites,
        earliest,
        place: chosen,
        approximate,
        others,
        nearest,
    })
}
