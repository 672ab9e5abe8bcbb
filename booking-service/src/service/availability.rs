//! Free start times: a site's, over a date range, and the earliest across sites. Live holds are
//! subtracted; notice and release are applied at read time (the clock moves without any write).

use super::{Alternative, ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::calendar::booking_horizon_end;
use crate::db::territory::{self, MotifSetting, SiteFilter, SiteRow};
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

/// An active site by id.
pub async fn find_site(state: &AppState, id: Uuid) -> ServiceResult<SiteRow> {
    let filter = SiteFilter {
        id: Some(id),
        ..SiteFilter::default()
    };
    territory::list_sites(&state.pool, &filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::not_found("site_not_found", "Ce lieu n'existe pas."))
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

/// The site's setting for `motif`, read from the database.
pub async fn motif_setting(
    state: &AppState,
    site: Uuid,
    motif: Motif,
    persons: PartySize,
) -> ServiceResult<MotifSetting> {
    let settings = territory::motif_settings(&state.pool, &[site]).await?;
    motif_for_site(&settings, site, motif, persons)
}

/// How long an appointment of `persons` takes.
pub fn duration_for(m: &MotifSetting, persons: PartySize) -> Duration {
    Duration::minutes(i64::from(m.minutes_per_person) * i64::from(persons.as_i32()))
}

/// The site's calendar over `[from, to]` (from the cache), with live holds blocked.
pub async fn calendar_with_holds(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> ServiceResult<SiteCalendar> {
    let today = state.clock.now().with_timezone(&tz).date_naive();
    // A miss loads the next 100 days at once: later requests for other weeks hit.
    let load = (today, today + Duration::days(100));
    let cached = state
        .calendars
        .get(&state.pool, site.id, tz, &site.department_code, (from, to), load)
        .await?;
    let mut cal = SiteCalendar::clone(&cached);
    let stations: Vec<Uuid> = cal.stations.iter().map(|s| s.station_id).collect();
    if let Some(held) = HoldStore::new(&state.kv).held(site.id, &stations).await {
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
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
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
    let sites = territory::list_sites(&state.pool, filter).await?;
    earliest_among(state, sites, motif, persons, limit, limit).await
}

/// The earliest free starts across `sites`: at most `per_site` from each, `limit` in all, sorted.
pub async fn earliest_among(
    state: &AppState,
    sites: Vec<SiteRow>,
    motif: Motif,
    persons: PartySize,
    per_site: usize,
    limit: usize,
) -> ServiceResult<Vec<EarliestSlot>> {
    let ids: Vec<Uuid> = sites.iter().map(|s| s.id).collect();
    let settings = territory::motif_settings(&state.pool, &ids).await?;
    let now = state.clock.now();
    let mut found: Vec<(DateTime<Utc>, EarliestSlot)> = Vec::new();
    for site in sites {
        // Sites that do not offer the motif for this many persons are simply not candidates.
        let Ok(setting) = motif_for_site(&settings, site.id, motif, persons) else {
            continue;
        };
        let tz = site_tz(&site)?;
        let today = now.with_timezone(&tz).date_naive();
        let last = booking_horizon_end(&state.pool, site.id, today).await?;
        let duration = duration_for(&setting, persons);
        // Look two weeks at a time: the earliest slots are usually close, each step one small load.
        let mut from = today;
        let mut got = 0;
        while from <= last && got < per_site {
            let to = (from + Duration::days(13)).min(last);
            let cal = calendar_with_holds(state, &site, tz, from, to).await?;
            for s in cal
                .slots(from, to, duration, now)
                .into_iter()
                .take(per_site - got)
            {
                got += 1;
                found.push((
                    s.start,
                    EarliestSlot {
                        site: site.clone(),
                        duration,
                        slot: in_zone(&s, tz),
                    },
                ));
            }
            from = to + Duration::days(1);
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.site.id.cmp(&b.1.site.id)));
    Ok(found.into_iter().take(limit).map(|(_, s)| s).collect())
}

/// What a citizen's search finds: the communes matching the text (a name, accents or not, or a
/// postcode), their equipped sites, and the earliest free starts across those sites.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub communes: Vec<territory::CommuneRow>,
    /// The active sites of those communes.
    pub sites: Vec<SiteRow>,
    /// One person, identity card: the soonest starts across the sites.
    pub earliest: Vec<EarliestSlot>,
}

/// Communes and sites matching `text`, with the earliest free starts (the search page).
pub async fn search(state: &AppState, text: &str) -> ServiceResult<SearchResult> {
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
    let sites: Vec<SiteRow> = territory::list_sites(&state.pool, &SiteFilter::default())
        .await?
        .into_iter()
        .filter(|s| communes.iter().any(|c| c.insee_code == s.commune_insee))
        .collect();
    // Twenty sites at most, three starts each: enough to show the soonest six.
    let candidates = sites.iter().take(20).cloned().collect();
    let earliest = earliest_among(state, candidates, Motif::Cni, PartySize::ONE, 3, 6).await?;
    Ok(SearchResult {
        communes,
        sites,
        earliest,
    })
}
