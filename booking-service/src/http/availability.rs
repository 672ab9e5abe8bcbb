//! Free start times: one site over a date range, and the earliest across sites.

use super::extract::{Path, Query};
use super::sites::find_site;
use super::{params, AppState};
use crate::db::calendar::booking_horizon_end;
use crate::db::territory::{self, MotifSetting, SiteFilter, SiteRow};
use crate::domain::motif::Motif;
use crate::domain::slots::{SiteCalendar, Slot};
use crate::error::{ApiError, ApiResult};
use crate::holds::store::HoldStore;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// How far back or ahead of today a date may be asked for at all.
const PAST_LIMIT_DAYS: i64 = 366;
const FUTURE_LIMIT_DAYS: i64 = 731;

/// Query of a site's availability.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AvailabilityQuery {
    /// `CNI` (default), `PASSPORT`, `CNI-PASSPORT` or `RETRIEVAL`.
    motif: Option<String>,
    /// Number of persons (default 1, at most the site's maximum for the motif).
    persons: Option<String>,
    /// First local date (default today at the site).
    from: Option<String>,
    /// Last local date, included (default `from` + 13 days).
    to: Option<String>,
}

/// A free start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlotOut {
    /// RFC 3339 with the site's offset.
    pub start: String,
    /// RFC 3339 with the site's offset.
    pub end: String,
}

/// A site's free starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityOut {
    site_id: Uuid,
    motif: Motif,
    persons: i32,
    duration_minutes: i64,
    timezone: String,
    slots: Vec<SlotOut>,
}

/// An instant as RFC 3339 with the site's offset.
pub fn rfc3339_local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The site's time zone; a bad value in the database is a server error, not the client's.
pub fn site_tz(site: &SiteRow) -> ApiResult<Tz> {
    site.timezone
        .parse()
        .map_err(|_| ApiError::internal(format!("site {} has an invalid time zone", site.id)))
}

/// The site's settings for `motif`, with `persons` checked against its maximum.
pub fn motif_for_site(
    settings: &[(Uuid, MotifSetting)],
    site: Uuid,
    motif: Motif,
    persons: i32,
) -> ApiResult<MotifSetting> {
    let m = settings
        .iter()
        .find(|(id, m)| *id == site && m.motif == motif)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "motif_not_offered",
                format!("Ce lieu ne propose pas le motif {}.", motif.code()),
            )
            .with_field("motif")
        })?;
    if persons > m.max_persons {
        return Err(ApiError::unprocessable(
            "too_many_persons",
            format!(
                "Ce lieu accepte au plus {} personnes pour ce motif.",
                m.max_persons
            ),
        )
        .with_field("persons"));
    }
    Ok(m)
}

/// Duration of an appointment for `persons` people.
pub fn duration_for(m: &MotifSetting, persons: i32) -> Duration {
    Duration::minutes(i64::from(m.minutes_per_person) * i64::from(persons))
}

/// Free start times of a site.
#[utoipa::path(get, path = "/api/v1/sites/{site_id}/availability", tag = "public",
    params(("site_id" = String, Path, description = "Identifiant du lieu (UUID)"), AvailabilityQuery),
    responses((status = 200, body = AvailabilityOut), (status = 400, description = "Paramètre invalide"),
              (status = 404, description = "Lieu inconnu"), (status = 422, description = "Motif non proposé ou trop de personnes")))]
pub async fn site_availability(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    Query(q): Query<AvailabilityQuery>,
) -> ApiResult<Json<AvailabilityOut>> {
    let motif = params::motif(q.motif.as_deref(), Motif::Cni)?;
    let persons = params::persons(q.persons.as_deref())?;
    let from = params::date(q.from.as_deref(), "from")?;
    let to = params::date(q.to.as_deref(), "to")?;
    let site = find_site(&state, &site_id).await?;
    let tz = site_tz(&site)?;
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
    let setting = motif_for_site(&settings, site.id, motif, persons)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let from = from.unwrap_or(today);
    let to = to.unwrap_or(from + Duration::days(13));
    check_range(today, from, to, state.config.max_availability_days)?;
    let duration = duration_for(&setting, persons);
    let cal = calendar_with_holds(&state, &site, tz, from, to).await?;
    let slots = cal.slots(from, to, duration, now);
    Ok(Json(AvailabilityOut {
        site_id: site.id,
        motif,
        persons,
        duration_minutes: duration.num_minutes(),
        timezone: site.timezone,
        slots: slots.iter().map(|s| slot_out(s, tz)).collect(),
    }))
}

/// The site's calendar for local days `from..=to`, with live holds counted as taken (when Redis
/// answers; without it, held slots simply stay visible and confirmation decides).
pub async fn calendar_with_holds(
    state: &AppState,
    site: &SiteRow,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<SiteCalendar> {
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

/// The next free starts at a site (for a 409's `alternatives`), soonest first.
pub async fn alternatives(state: &AppState, site: &SiteRow, duration: Duration) -> ApiResult<Vec<SlotOut>> {
    let tz = site_tz(site)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let to = today + Duration::days(13);
    let cal = calendar_with_holds(state, site, tz, today, to).await?;
    Ok(cal
        .slots(today, to, duration, now)
        .iter()
        .take(5)
        .map(|s| slot_out(s, tz))
        .collect())
}

/// A slot as the API shows it.
pub fn slot_out(s: &Slot, tz: Tz) -> SlotOut {
    SlotOut {
        start: rfc3339_local(s.start, tz),
        end: rfc3339_local(s.end, tz),
    }
}

/// `from..=to` must be ordered, within the allowed length, and not absurdly far from today.
fn check_range(today: NaiveDate, from: NaiveDate, to: NaiveDate, max_days: u32) -> ApiResult<()> {
    if to < from {
        return Err(
            ApiError::bad_request("invalid_range", "La date de fin précède la date de début.")
                .with_field("to"),
        );
    }
    if (to - from).num_days() + 1 > i64::from(max_days) {
        return Err(ApiError::bad_request(
            "range_too_long",
            format!("Intervalle trop long ({max_days} jours au plus)."),
        )
        .with_field("to"));
    }
    if from < today - Duration::days(PAST_LIMIT_DAYS) || to > today + Duration::days(FUTURE_LIMIT_DAYS) {
        return Err(
            ApiError::bad_request("date_out_of_range", "Dates trop éloignées d'aujourd'hui.")
                .with_field("from"),
        );
    }
    Ok(())
}

/// Query of the earliest slots across sites.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EarliestQuery {
    /// Motif code (default `CNI`).
    motif: Option<String>,
    /// Number of persons (default 1).
    persons: Option<String>,
    /// INSEE code of the commune.
    commune: Option<String>,
    /// Postcode.
    postcode: Option<String>,
    /// Département code.
    department: Option<String>,
    /// How many slots (default 10, at most 100).
    limit: Option<String>,
}

/// A free start at some site.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarliestSlotOut {
    site_id: Uuid,
    site_name: String,
    commune_insee: String,
    commune_name: String,
    timezone: String,
    duration_minutes: i64,
    start: String,
    end: String,
}

/// The earliest free starts across sites.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarliestOut {
    motif: Motif,
    persons: i32,
    slots: Vec<EarliestSlotOut>,
}

/// Earliest free slots across the matching sites, soonest first.
#[utoipa::path(get, path = "/api/v1/availability/earliest", tag = "public", params(EarliestQuery),
    responses((status = 200, body = EarliestOut), (status = 400, description = "Paramètre invalide")))]
pub async fn earliest(
    State(state): State<AppState>,
    Query(q): Query<EarliestQuery>,
) -> ApiResult<Json<EarliestOut>> {
    let motif = params::motif(q.motif.as_deref(), Motif::Cni)?;
    let persons = params::persons(q.persons.as_deref())?;
    let limit = match q.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 10,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_limit",
                    "limit doit être un entier entre 1 et 100.",
                )
                .with_field("limit"))
            }
        },
    };
    let filter = SiteFilter {
        id: None,
        commune: params::insee(q.commune.as_deref())?,
        postcode: params::postcode(q.postcode.as_deref())?,
        department: params::department(q.department.as_deref())?,
    };
    let sites = territory::list_sites(&state.pool, &filter).await?;
    let ids: Vec<Uuid> = sites.iter().map(|s| s.id).collect();
    let settings = territory::motif_settings(&state.pool, &ids).await?;
    let now = state.clock.now();
    let mut found: Vec<(DateTime<Utc>, EarliestSlotOut)> = Vec::new();
    for site in sites {
        // Sites that do not offer the motif for this many persons are simply not candidates.
        let Ok(setting) = motif_for_site(&settings, site.id, motif, persons) else {
            continue;
        };
        let tz = site_tz(&site)?;
        let today = now.with_timezone(&tz).date_naive();
        let last = booking_horizon_end(&state.pool, site.id, today).await?;
        let duration = duration_for(&setting, persons);
        // Look week by week: the earliest slots are usually close, and each step is one small load.
        let mut from = today;
        let mut got = 0;
        while from <= last && got < limit {
            let to = (from + Duration::days(13)).min(last);
            let cal = calendar_with_holds(&state, &site, tz, from, to).await?;
            for s in cal.slots(from, to, duration, now).into_iter().take(limit - got) {
                got += 1;
                found.push((
                    s.start,
                    EarliestSlotOut {
                        site_id: site.id,
                        site_name: site.name.clone(),
                        commune_insee: site.commune_insee.clone(),
                        commune_name: site.commune_name.clone(),
                        timezone: site.timezone.clone(),
                        duration_minutes: duration.num_minutes(),
                        start: rfc3339_local(s.start, tz),
                        end: rfc3339_local(s.end, tz),
                    },
                ));
            }
            from = to + Duration::days(1);
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.site_id.cmp(&b.1.site_id)));
    Ok(Json(EarliestOut {
        motif,
        persons,
        slots: found.into_iter().take(limit).map(|(_, s)| s).collect(),
    }))
}
