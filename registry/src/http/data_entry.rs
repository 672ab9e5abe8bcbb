//! The platform administrator's data entry: a new source of populations, cost periods and their
//! costs. The rules are in [`crate::ops`], shared with the pages.

use super::{require_admin, RegistryState};
use crate::ops::{self, NewCost, NewPeriod, NewPopulations};
use crate::store_admin::{CostRow, PeriodRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::error::ApiResult;
use booking_service::http::extract::{Json, Path};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Records the populations of a new source (e.g. the next census) for members, all or none.
#[utoipa::path(post, path = "/api/v1/populations", request_body = NewPopulations,
    responses((status = 201, description = "Populations enregistrées"), (status = 401, description = "Jeton requis"),
              (status = 409, description = "Source déjà enregistrée"),
              (status = 422, description = "Population, membre ou source invalide")))]
pub async fn add_populations(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(p): Json<NewPopulations>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    require_admin(&state, &headers)?;
    let n = ops::add_populations(&state.pool, &p).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "members": n }))))
}

/// Every cost period, the latest first, with its costs' count and total.
#[utoipa::path(get, path = "/api/v1/periods", responses((status = 200, body = [PeriodRow])))]
pub async fn list_periods(State(state): State<RegistryState>) -> ApiResult<axum::Json<Vec<PeriodRow>>> {
    Ok(axum::Json(ops::periods(&state.pool).await?))
}

/// Opens a cost period with its allocation key and, optionally, its costs (platform administrator).
#[utoipa::path(post, path = "/api/v1/periods", request_body = NewPeriod,
    responses((status = 201, description = "Période créée"), (status = 401, description = "Jeton requis"),
              (status = 409, description = "Code déjà pris"),
              (status = 422, description = "Dates, clé, source de population ou coût invalide")))]
pub async fn create_period(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(p): Json<NewPeriod>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    ops::create_period(&state.pool, &p).await?;
    Ok(StatusCode::CREATED)
}

/// A period's costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostsOut {
    period: String,
    closed: bool,
    total_cents: i64,
    costs: Vec<CostRow>,
}

/// A period's cost lines.
#[utoipa::path(get, path = "/api/v1/periods/{code}/costs", params(("code" = String, Path, description = "Code de la période")),
    responses((status = 200, body = CostsOut), (status = 404, description = "Période inconnue")))]
pub async fn list_costs(
    State(state): State<RegistryState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<CostsOut>> {
    let p = ops::period(&state.pool, &code).await?;
    let costs = ops::period_costs(&state.pool, &p.code).await?;
    Ok(axum::Json(CostsOut {
        total_cents: costs.iter().map(|c| c.amount_cents).sum(),
        period: p.code,
        closed: p.closed,
        costs,
    }))
}

/// Adds a cost line to an open period (platform administrator).
#[utoipa::path(post, path = "/api/v1/periods/{code}/costs", params(("code" = String, Path, description = "Code de la période")),
    request_body = NewCost,
    responses((status = 201, description = "Coût ajouté"), (status = 401, description = "Jeton requis"),
              (status = 404, description = "Période inconnue"), (status = 409, description = "Période close"),
              (status = 422, description = "Catégorie, téléservice, libellé ou montant invalide")))]
pub async fn add_cost(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Json(c): Json<NewCost>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    ops::add_cost(&state.pool, &code, &c).await?;
    Ok(StatusCode::CREATED)
}
