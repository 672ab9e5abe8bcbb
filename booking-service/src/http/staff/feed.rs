//! Staff calendar feeds through the API: the site's subscription URLs, and renewing one (the old
//! URL stops at once). The feed itself is served by the pages' `/agents/flux/{secret}.ics`.

use crate::app::AppState;
use crate::error::ApiResult;
use crate::request::extract::Path;
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_feed;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// One subscription URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedOut {
    pub site_id: Uuid,
    /// Absent: the whole site's feed.
    pub station_id: Option<Uuid>,
    pub station_name: Option<String>,
    /// Absent until first generated.
    pub url: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A renewed URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewedOut {
    pub site_id: Uuid,
    pub station_id: Option<Uuid>,
    pub url: String,
}

/// The site's subscription URLs: the site's own, then one per active station.
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/feed", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 200, body = Vec<FeedOut>), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn list_feeds(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
) -> ApiResult<axum::Json<Vec<FeedOut>>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let o = staff_feed::overview(&state, &staff.user, site_id).await?;
    Ok(axum::Json(
        o.links
            .into_iter()
            .map(|l| FeedOut {
                site_id: o.site.id,
                station_id: l.station.as_ref().map(|(id, _)| *id),
                station_name: l.station.map(|(_, name)| name),
                url: l.url,
                created_at: l.created_at,
            })
            .collect(),
    ))
}

/// A new subscription URL for the whole site; the previous one stops working at once.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/feed", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, body = RenewedOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn renew_site_feed(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<RenewedOut>)> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let url = staff_feed::renew(&state, &staff.user, site_id, None).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RenewedOut {
            site_id,
            station_id: None,
            url,
        }),
    ))
}

/// A new subscription URL for one station; its previous one stops working at once.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/stations/{station_id}/feed", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu"), ("station_id" = String, Path, description = "Guichet")),
    responses((status = 201, body = RenewedOut), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu ou guichet inconnu, ou d'une autre commune")))]
pub async fn renew_station_feed(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, station_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, axum::Json<RenewedOut>)> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let station_id = params::uuid(&station_id, "station_id")?;
    let url = staff_feed::renew(&state, &staff.user, site_id, Some(station_id)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RenewedOut {
            site_id,
            station_id: Some(station_id),
            url,
        }),
    ))
}
