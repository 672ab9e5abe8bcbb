//! `GET /api/v1/allocations?period=…[&format=csv]`: who pays what for a period.

use super::RegistryState;
use crate::allocation::{allocate, Allocation, Category};
use crate::store::{self, PeriodRow};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use booking_service::error::{ApiError, ApiResult};
use booking_service::http::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Which period, in which format.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AllocationQuery {
    /// Period code (e.g. `2026`).
    period: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// A period's split, with its key.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationOut {
    period: PeriodRow,
    #[schema(value_type = Object)]
    allocation: Allocation,
}

/// The cost split of a period.
#[utoipa::path(get, path = "/api/v1/allocations", params(AllocationQuery),
    responses((status = 200, body = AllocationOut), (status = 400, description = "Paramètre invalide"),
              (status = 404, description = "Période inconnue"), (status = 422, description = "Coût sans payeur possible")))]
pub async fn allocations(
    State(state): State<RegistryState>,
    Query(q): Query<AllocationQuery>,
) -> ApiResult<Response> {
    let code = q
        .period
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_period", "Paramètre period requis (ex. 2026).")
                .with_field("period")
        })?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request("invalid_format", "format : json ou csv.").with_field("format"))
        }
    };
    let input = store::allocation_input(&state.pool, code)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "Période inconnue."))?;
    let allocation = allocate(
        &input.period(),
        &input.members,
        &input.services,
        &input.offers,
        &input.costs,
    )
    .map_err(|e| ApiError::unprocessable("unallocatable_cost", e.to_string()))?;
    if csv {
        let body = to_csv(&allocation);
        let disposition = format!("attachment; filename=\"repartition-{code}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response());
    }
    Ok(axum::Json(AllocationOut {
        period: input.period,
        allocation,
    })
    .into_response())
}

/// Cents as French-formatted euros: `1234,56`.
fn euros(cents: i64) -> String {
    format!(
        "{}{},{:02}",
        if cents < 0 { "-" } else { "" },
        (cents / 100).abs(),
        (cents % 100).abs()
    )
}

/// A cell safe from spreadsheet formula injection and from the separator (the staff export's rule).
use booking_service::http::staff::agenda::csv_cell as cell;

/// Semicolon-separated, UTF-8 with BOM: what French spreadsheets open directly.
fn to_csv(a: &Allocation) -> String {
    let mut out = String::from("\u{feff}Membre;Code;n_i;Population;Part socle/hébergement;Socle;Hébergement;Modules mutualisés;Spécifique;Mission de l'État (CNI-passeport);Total HT\r\n");
    for l in &a.lines {
        let sum = |c: Category| {
            l.parts
                .iter()
                .filter(|p| p.category == c)
                .map(|p| p.cents)
                .sum::<i64>()
        };
        out.push_str(&format!(
            "{};{};{};{};{};{};{};{};{};{};{}\r\n",
            cell(&l.name),
            cell(&l.key),
            format!("{:.4}", l.n).replace('.', ","),
            l.population,
            format!("{:.6}", l.socle_share).replace('.', ","),
            euros(sum(Category::Socle)),
            euros(sum(Category::Hebergement)),
            euros(sum(Category::Module)),
            euros(sum(Category::Specific)),
            euros(sum(Category::StateMission)),
            euros(l.total_cents)
        ));
    }
    out.push_str(&format!("Total;;;;;;;;;;{}\r\n", euros(a.total_cents)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_neutralised_and_euros_french() {
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("a;b"), "\"a;b\"");
        assert_eq!(euros(123_456), "1234,56");
        assert_eq!(euros(5), "0,05");
    }
}
