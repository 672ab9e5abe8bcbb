//! Platform administration: new sites.

use crate::app::AppState;
use crate::error::ApiResult;
use crate::request::extract::Json;
use crate::request::staff_session::Staff;
use crate::service::platform::{self, NewSite};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A new site.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSiteIn {
    /// The commune's INSEE code (it must be in the territory).
    commune_insee: String,
    name: String,
    address_line: String,
    postcode: String,
    city: String,
    /// Defaults to the commune's coordinates.
    latitude: Option<f64>,
    longitude: Option<f64>,
    email: Option<String>,
    phone: Option<String>,
    /// 1 to 20, named "Poste 1"….
    stations: i64,
}

/// The created site.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteCreated {
    id: Uuid,
}

/// Opens a site with its stations, the default booking policy and the identity motifs; opening
/// hours are then set by the commune's administrators.
#[utoipa::path(post, path = "/api/v1/staff/sites", tag = "staff", request_body = NewSiteIn,
    responses((status = 201, body = SiteCreated), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme"),
              (status = 422, description = "Champ invalide")))]
pub async fn create_site(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<NewSiteIn>,
) -> ApiResult<(StatusCode, axum::Json<SiteCreated>)> {
    let input = NewSite {
        commune_insee: req.commune_insee,
        name: req.name,
        address_line: req.address_line,
        postcode: req.postcode,
        city: req.city,
        latitude: req.latitude,
        longitude: req.longitude,
        email: req.email,
        phone: req.phone,
        stations: req.stations,
    };
    let id = platform::create_site(&state, &staff.user, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(SiteCreated { id })))
}
