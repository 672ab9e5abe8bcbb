//! Free start times: one site over a date range, and the earliest across sites.

use crate::app::AppState;
use crate::db::territory::SiteFilter;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::error::{ApiError, ApiResult};
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::service::availability::{self, SlotsQuery};
use crate::service::Alternative;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
    persons: PartySize,
    duration_minutes: i64,
    timezone: String,
    slots: Vec<SlotOut>,
}

/// An instant as RFC 3339 with the site's offset.
pub fn rfc3339_local(at: DateTime<Utc>, tz: Tz) -> String {
    crate::formats::stamp::rfc3339_local(at, tz)
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
    let query = SlotsQuery {
        site_id: params::uuid(&site_id, "site_id")?,
        motif: params::motif(q.motif.as_deref(), Motif::Cni)?,
        persons: params::persons(q.persons.as_deref())?,
        from: params::date(q.from.as_deref(), "from")?,
        to: params::date(q.to.as_deref(), "to")?,
        open_ended_days: 14,
        waive_policy: false,
    };
    let found = availability::site_slots(&state, &query).await?;
    Ok(Json(AvailabilityOut {
        site_id: found.site.id,
        motif: query.motif,
        persons: query.persons,
        duration_minutes: found.duration.num_minutes(),
        timezone: found.site.timezone,
        slots: found.slots.iter().map(slot_out).collect(),
    }))
}

/// A slot as the API shows it.
pub fn slot_out(s: &Alternative) -> SlotOut {
    SlotOut {
        start: s.start.to_rfc3339_opts(SecondsFormat::Secs, false),
        end: s.end.to_rfc3339_opts(SecondsFormat::Secs, false),
    }
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
    /// INSEE code of any commune of France (equipped or not): the slots of the ten nearest sites,
    /// at most three per site, sorted by distance then time, each with `distance_km`.
    near_commune: Option<String>,
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
    /// Kilometres from the `near_commune` (great circle, two decimals); only with `near_commune`.
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_km: Option<f64>,
}

/// The earliest free starts across sites.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarliestOut {
    motif: Motif,
    persons: PartySize,
    slots: Vec<EarliestSlotOut>,
}

/// Earliest free slots across the matching sites, soonest first.
#[utoipa::path(get, path = "/api/v1/availability/earliest", tag = "public", params(EarliestQuery),
    responses((status = 200, body = EarliestOut), (status = 400, description = "Paramètre invalide"),
              (status = 404, description = "Commune `near_commune` inconnue")))]
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
    let near = params::insee(q.near_commune.as_deref()).map_err(|e| e.with_field("near_commune"))?;
    let found: Vec<(availability::EarliestSlot, Option<f64>)> = match near {
        Some(insee) => availability::earliest_near(&state, &filter, &insee, motif, persons, 3, limit)
            .await?
            .into_iter()
            .map(|(e, d)| (e, Some((d * 100.0).round() / 100.0)))
            .collect(),
        None => availability::earliest(&state, &filter, motif, persons, limit)
            .await?
            .into_iter()
            .map(|e| (e, None))
            .collect(),
    };
    Ok(Json(EarliestOut {
        motif,
        persons,
        slots: found
            .into_iter()
            .map(|(e, distance_km)| EarliestSlotOut {
                site_id: e.site.id,
                site_name: e.site.name,
                commune_insee: e.site.commune_insee,
                commune_name: e.site.commune_name,
                timezone: e.site.timezone,
                duration_minutes: e.duration.num_minutes(),
                start: e.slot.start.to_rfc3339_opts(SecondsFormat::Secs, false),
                end: e.slot.end.to_rfc3339_opts(SecondsFormat::Secs, false),
                distance_km,
            })
            .collect(),
    }))
}

// Until the pages and the staff routes call the service directly: the service's helpers with
// JSON errors and the old integer party size.

/// The site's time zone.
pub fn site_tz(site: &crate::db::territory::SiteRow) -> ApiResult<Tz> {
    Ok(availability::site_tz(site)?)
}

/// The site's setting for a motif and party.
pub fn motif_for_site(
    settings: &[(Uuid, crate::db::territory::MotifSetting)],
    site: Uuid,
    motif: Motif,
    persons: i32,
) -> ApiResult<crate::db::territory::MotifSetting> {
    let persons = params::party_size(i64::from(persons))?;
    Ok(availability::motif_for_site(settings, site, motif, persons)?)
}

/// How long an appointment of `persons` takes.
pub fn duration_for(m: &crate::db::territory::MotifSetting, persons: i32) -> chrono::Duration {
    chrono::Duration::minutes(i64::from(m.minutes_per_person) * i64::from(persons))
}

/// The site's calendar with live holds blocked.
pub async fn calendar_with_holds(
    state: &AppState,
    site: &crate::db::territory::SiteRow,
    tz: Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> ApiResult<crate::domain::slots::SiteCalendar> {
    Ok(availability::calendar_with_holds(state, site, tz, from, to).await?)
}
