//! `GET /api/v1/allocations?period=…[&format=csv][&<key field>=…]`: who pays what for a period,
//! under the key its steering committee decided or, for a what-if, under other choices. A what-if
//! is computed and answered, never stored: a period, closed or not, keeps its key.

use super::RegistryState;
use crate::allocation::{
    Allocation, Alpha, Category, Combination, Decision, EpciPopulation, Key, Overrides, PopulationField,
};
use crate::ops;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use booking_service::error::{ApiError, ApiResult};
use booking_service::http::extract::Query;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

/// Which period, in which format, and the key's choices a what-if changes (absent or empty: the
/// committee's).
#[derive(Debug, Deserialize, IntoParams)]
pub struct AllocationQuery {
    /// Period code (e.g. `2026`).
    period: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// What-if: `true` weighs every criterion by the days of service, `false` counts téléservices.
    #[param(value_type = Option<bool>)]
    prorata_temporis: Option<String>,
    /// What-if: α in thousandths, 0 to 1000 (500 for 0.5).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1000)]
    alpha_permille: Option<String>,
    /// What-if: `sum` or `product`.
    combination: Option<String>,
    /// What-if: m2A's population: `communes_sum`, `other_communes` or `none`.
    epci_population: Option<String>,
    /// What-if: whether the CNI/passport service counts in m2A's n_i.
    #[param(value_type = Option<bool>)]
    state_mission_in_epci_n: Option<String>,
    /// What-if: a population source on record.
    population_source: Option<String>,
    /// What-if: `municipale` or `totale`.
    population_field: Option<String>,
}

/// A period, the key its split used, and each choice of that key explained.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodOut {
    code: String,
    starts_on: NaiveDate,
    /// Exclusive.
    ends_on: NaiveDate,
    closed: bool,
    /// The key the split used: the committee's unless `simulation`.
    #[serde(flatten)]
    key: Key,
    /// Whether the split departs from the committee's key (a what-if; nothing is stored).
    simulation: bool,
    /// The committee's key, when the split simulates another.
    #[serde(skip_serializing_if = "Option::is_none")]
    committee_key: Option<Key>,
    /// Each choice, labelled « Décision du comité de pilotage » or as a simulation, with the
    /// convention's sentence it interprets.
    decisions: Vec<Decision>,
}

/// A period's split, with its key.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationOut {
    period: PeriodOut,
    #[schema(value_type = Object)]
    allocation: Allocation,
}

/// A what-if value that cannot be read.
fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::bad_request("invalid_key", message).with_field(field)
}

/// The what-if choices of a query; nothing is looked up yet.
fn overrides(q: &AllocationQuery) -> ApiResult<Overrides> {
    // An empty value keeps the committee's choice, as an untouched form field would.
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let boolean = |field: &'static str, v: &Option<String>| match given(v).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(invalid(field, &format!("{field} : true ou false."))),
    };
    fn choice<T: FromStr>(field: &'static str, v: Option<String>, choices: &[&str]) -> ApiResult<Option<T>> {
        v.map(|v| {
            v.parse()
                .map_err(|_| invalid(field, &format!("{field} : {}.", choices.join(", "))))
        })
        .transpose()
    }
    let alpha_permille = given(&q.alpha_permille)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .and_then(Alpha::from_permille)
                .ok_or_else(|| {
                    invalid(
                        "alpha_permille",
                        "alpha_permille : entier de 0 à 1000 (α en millièmes, 500 pour 0,5).",
                    )
                })
        })
        .transpose()?;
    let population_source = given(&q.population_source)
        .map(|v| {
            if v.chars().count() <= 100 && !v.chars().any(char::is_control) {
                Ok(v)
            } else {
                Err(invalid(
                    "population_source",
                    "population_source : nom de source invalide.",
                ))
            }
        })
        .transpose()?;
    Ok(Overrides {
        prorata_temporis: boolean("prorata_temporis", &q.prorata_temporis)?,
        alpha_permille,
        combination: choice("combination", given(&q.combination), Combination::CHOICES)?,
        epci_population: choice(
            "epci_population",
            given(&q.epci_population),
            EpciPopulation::CHOICES,
        )?,
        state_mission_in_epci_n: boolean("state_mission_in_epci_n", &q.state_mission_in_epci_n)?,
        population_source,
        population_field: choice(
            "population_field",
            given(&q.population_field),
            PopulationField::CHOICES,
        )?,
    })
}

/// The cost split of a period, under its key or a what-if's.
#[utoipa::path(get, path = "/api/v1/allocations", params(AllocationQuery),
    responses((status = 200, body = AllocationOut), (status = 400, description = "Paramètre invalide"),
              (status = 404, description = "Période inconnue"),
              (status = 422, description = "Source de population inconnue, ou coût sans payeur possible")))]
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
    let what_if = overrides(&q)?;
    let ops::Split {
        stored,
        key,
        allocation,
    } = ops::split(&state.pool, code, &what_if).await?;
    let simulation = key != stored.key;
    let period = PeriodOut {
        decisions: key.decisions(&stored.key),
        committee_key: simulation.then(|| stored.key.clone()),
        code: stored.code,
        starts_on: stored.starts_on,
        ends_on: stored.ends_on,
        closed: stored.closed,
        key,
        simulation,
    };
    if csv {
        let body = to_csv(&period, &allocation);
        let name = if simulation { "simulation" } else { "repartition" };
        let disposition = format!("attachment; filename=\"{name}-{code}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response());
    }
    Ok(axum::Json(AllocationOut { period, allocation }).into_response())
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

/// Semicolon-separated, UTF-8 with BOM: what French spreadsheets open directly. The key comes
/// first, one choice a row, so whoever reads the amounts reads on what they rest.
fn to_csv(p: &PeriodOut, a: &Allocation) -> String {
    let last_day = p.ends_on.pred_opt().unwrap_or(p.ends_on);
    let mut out = format!(
        "\u{feff}Répartition des coûts du groupement de commandes;Période {};du {} au {};{}\r\n",
        cell(&p.code),
        p.starts_on.format("%d/%m/%Y"),
        last_day.format("%d/%m/%Y"),
        if p.closed {
            "Période close"
        } else {
            "Période ouverte"
        }
    );
    if p.simulation {
        out.push_str(
            "SIMULATION : clé différente de celle décidée par le comité de pilotage ; rien n'est enregistré\r\n",
        );
    }
    out.push_str(
        "Clé de répartition;Valeur;Statut;Signification;Phrase de la convention interprétée;La convention ne dit pas\r\n",
    );
    for d in &p.decisions {
        out.push_str(&format!(
            "{};{};{};{};{};{}\r\n",
            cell(d.label),
            cell(&d.shown),
            cell(&d.status),
            cell(&d.meaning),
            cell(d.interprets),
            cell(d.convention_silent_on)
        ));
    }
    out.push_str("\r\nMembre;Code;n_i;Population;Part socle/hébergement;Socle;Hébergement;Modules mutualisés;Spécifique;Mission de l'État (CNI-passeport);Frais matériels du groupement (art. 3.5);Total HT\r\n");
    for l in &a.lines {
        let sum = |c: Category| {
            l.parts
                .iter()
                .filter(|p| p.category == c)
                .map(|p| p.cents)
                .sum::<i64>()
        };
        out.push_str(&format!(
            "{};{};{};{};{};{};{};{};{};{};{};{}\r\n",
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
            euros(sum(Category::Material)),
            euros(l.total_cents)
        ));
    }
    out.push_str(&format!("Total;;;;;;;;;;;{}\r\n", euros(a.total_cents)));
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
