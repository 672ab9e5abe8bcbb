//! `GET /api/v1/communes`: the communes of the service, each with its sites.

use super::extract::Query;
use super::{params, AppState};
use crate::db::territory::{self, CommuneFilter, SiteFilter};
use crate::domain::text::fold;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Filters; all optional.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CommuneQuery {
    /// Part of the name, accents and case ignored.
    q: Option<String>,
    /// A postcode of the commune.
    postcode: Option<String>,
    /// Département code (`68`, `2A`, `974`).
    department: Option<String>,
}

/// A site, as listed under its commune.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteRef {
    id: Uuid,
    name: String,
}

/// A commune of the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneOut {
    insee_code: String,
    name: String,
    department_code: String,
    postcodes: Vec<String>,
    population: Option<i32>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// Its sites taking appointments (empty for a commune without a station).
    sites: Vec<SiteRef>,
}

/// Communes served, each with its sites.
#[utoipa::path(get, path = "/api/v1/communes", tag = "public", params(CommuneQuery),
    responses((status = 200, body = [CommuneOut]), (status = 400, description = "Paramètre invalide")))]
pub async fn list_communes(
    State(state): State<AppState>,
    Query(q): Query<CommuneQuery>,
) -> ApiResult<Json<Vec<CommuneOut>>> {
    let search = q.q.as_deref().map(fold).filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "Recherche trop longue (100 caractères au plus).",
        )
        .with_field("q"));
    }
    let filter = CommuneFilter {
        q: search,
        postcode: params::postcode(q.postcode.as_deref())?,
        department: params::department(q.department.as_deref())?,
    };
    let communes = territory::list_communes(&state.pool, &filter).await?;
    let sites = territory::list_sites(&state.pool, &SiteFilter::default()).await?;
    Ok(Json(
        communes
            .into_iter()
            .map(|c| CommuneOut {
                sites: sites
                    .iter()
                    .filter(|s| s.commune_insee == c.insee_code)
                    .map(|s| SiteRef {
                        id: s.id,
                        name: s.name.clone(),
                    })
                    .collect(),
                insee_code: c.insee_code,
                name: c.name,
                department_code: c.department_code,
                postcodes: c.postcodes,
                population: c.population,
                latitude: c.latitude,
                longitude: c.longitude,
            })
            .collect(),
    ))
}
