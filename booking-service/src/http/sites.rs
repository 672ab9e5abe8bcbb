//! `GET /api/v1/sites` and `GET /api/v1/sites/{site_id}`: where one can book.

use crate::app::AppState;
use crate::db::territory::{self, MotifSetting, SiteFilter, SiteRow};
use crate::domain::geo::distance_km;
use crate::domain::motif::Motif;
use crate::error::{ApiError, ApiResult};
use crate::request::extract::{Path, Query};
use crate::request::params;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Filters; all optional.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SiteQuery {
    /// INSEE code of the commune.
    commune: Option<String>,
    /// Postcode of the site or its commune.
    postcode: Option<String>,
    /// Département code.
    department: Option<String>,
    /// `LAT,LON`: sort by distance from this point.
    near: Option<String>,
    /// With `near`: only sites within this many kilometres.
    radius_km: Option<String>,
}

/// Postal address of a site.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressOut {
    line: String,
    postcode: String,
    city: String,
}

/// A motif a site offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MotifOut {
    motif: Motif,
    label: &'static str,
    minutes_per_person: i32,
    max_persons: i32,
}

/// A site (lieu) taking appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteOut {
    id: Uuid,
    name: String,
    commune_insee: String,
    commune_name: String,
    department_code: String,
    address: AddressOut,
    latitude: f64,
    longitude: f64,
    timezone: String,
    /// Number of active stations (DR).
    stations: i64,
    motifs: Vec<MotifOut>,
    /// True when the address is demo data.
    is_demo: bool,
    /// Distance from `near`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_km: Option<f64>,
}

impl SiteOut {
    /// The public view of a site row and its motif settings.
    pub fn new(s: SiteRow, settings: &[(Uuid, MotifSetting)], distance_km: Option<f64>) -> Self {
        Self {
            motifs: settings
                .iter()
                .filter(|(id, _)| *id == s.id)
                .map(|(_, m)| MotifOut {
                    motif: m.motif,
                    label: m.motif.label_fr(),
                    minutes_per_person: m.minutes_per_person,
                    max_persons: m.max_persons,
                })
                .collect(),
            id: s.id,
            name: s.name,
            commune_insee: s.commune_insee,
            commune_name: s.commune_name,
            department_code: s.department_code,
            address: AddressOut {
                line: s.address_line,
                postcode: s.postcode,
                city: s.city,
            },
            latitude: s.latitude,
            longitude: s.longitude,
            timezone: s.timezone,
            stations: s.stations,
            is_demo: s.is_demo,
            distance_km: distance_km.map(|d| (d * 100.0).round() / 100.0),
        }
    }
}

/// Sites, filtered; sorted by distance when `near` is given.
#[utoipa::path(get, path = "/api/v1/sites", tag = "public", params(SiteQuery),
    responses((status = 200, body = [SiteOut]), (status = 400, description = "Paramètre invalide")))]
pub async fn list_sites(
    State(state): State<AppState>,
    Query(q): Query<SiteQuery>,
) -> ApiResult<Json<Vec<SiteOut>>> {
    let near = params::lat_lon(q.near.as_deref())?;
    let radius = match q.radius_km.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(r) => {
            let bad = || {
                ApiError::bad_request("invalid_radius", "Rayon invalide (kilomètres, nombre positif).")
                    .with_field("radius_km")
            };
            let v: f64 = r.parse().map_err(|_| bad())?;
            if !(v.is_finite() && v > 0.0) {
                return Err(bad());
            }
            if near.is_none() {
                return Err(ApiError::bad_request(
                    "radius_without_near",
                    "radius_km demande aussi near=LAT,LON.",
                )
                .with_field("radius_km"));
            }
            Some(v)
        }
    };
    let filter = SiteFilter {
        id: None,
        commune: params::insee(q.commune.as_deref())?,
        postcode: params::postcode(q.postcode.as_deref())?,
        department: params::department(q.department.as_deref())?,
    };
    let rows = territory::list_sites(&state.pool, &filter).await?;
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let settings = territory::motif_settings(&state.pool, &ids).await?;
    let mut out: Vec<SiteOut> = rows
        .into_iter()
        .filter_map(|s| {
            let d = near.map(|(lat, lon)| distance_km(lat, lon, s.latitude, s.longitude));
            if let (Some(d), Some(r)) = (d, radius) {
                if d > r {
                    return None;
                }
            }
            Some(SiteOut::new(s, &settings, d))
        })
        .collect();
    if near.is_some() {
        out.sort_by(|a, b| {
            a.distance_km
                .partial_cmp(&b.distance_km)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    Ok(Json(out))
}

/// One active site, or a 404.
pub async fn find_site(state: &AppState, raw_id: &str) -> ApiResult<SiteRow> {
    let id = params::uuid(raw_id, "site_id")?;
    Ok(crate::service::availability::find_site(state, id).await?)
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{site_id}", tag = "public",
    params(("site_id" = String, Path, description = "Identifiant du lieu (UUID)")),
    responses((status = 200, body = SiteOut), (status = 400, description = "Identifiant mal formé"), (status = 404, description = "Lieu inconnu")))]
pub async fn get_site(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
) -> ApiResult<Json<SiteOut>> {
    let site = find_site(&state, &site_id).await?;
    let settings = territory::motif_settings(&state.pool, &[site.id]).await?;
    Ok(Json(SiteOut::new(site, &settings, None)))
}
