//! A period's split, read only: who pays what under the key the steering committee decided, from
//! the same function as `GET /api/v1/allocations`.

use super::{error_page, french_date, nav, respond, Admin};
use crate::allocation::Category;
use crate::ops;
use crate::state::RegistryState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use booking_service::request::extract::Query;
use booking_service::web::components as ui;
use maud::html;
use serde::Deserialize;

const PATH: &str = "/registre/repartition";

/// Which period (the latest when absent).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// Period code (e.g. `2026`).
    periode: Option<String>,
}

/// The columns of the split, by category, as the CSV export names them.
const COLUMNS: [(Category, &str); 6] = [
    (Category::Socle, "Socle"),
    (Category::Hebergement, "Hébergement"),
    (Category::Module, "Modules mutualisés"),
    (Category::Specific, "Spécifique"),
    (Category::StateMission, "Mission de l'État (CNI-passeport)"),
    (Category::Material, "Frais matériels (art. 3.5)"),
];

/// The split of a period under its committee's key.
#[utoipa::path(get, path = "/registre/repartition", tag = "pages", params(PeriodQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme"),
              (status = 404, description = "Période inconnue"), (status = 422, description = "Coût sans payeur possible")))]
pub async fn page(
    State(state): State<RegistryState>,
    admin: Admin,
    Query(q): Query<PeriodQuery>,
) -> Response {
    let periods = match ops::periods(&state.pool).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let wanted = q
        .periode
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .or_else(|| periods.first().map(|p| p.code.clone()));
    let Some(code) = wanted else {
        let body = html! {
            (nav(&admin, PATH))
            (ui::info("Aucune période de coûts n'est encore ouverte."))
        };
        return respond(StatusCode::OK, "Répartition des coûts", body);
    };
    let split = match ops::split(&state.pool, &code, &Default::default()).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let p = &split.stored;
    let a = &split.allocation;
    let title = format!("Répartition des coûts de la période {}", p.code);
    let body = html! {
        (nav(&admin, PATH))
        form method="get" action=(PATH) class="inline" {
            label for="periode" { "Période" }
            select id="periode" name="periode" {
                @for per in &periods {
                    option value=(per.code) selected[per.code == p.code] { (per.code) }
                }
            }
            button type="submit" { "Afficher" }
        }
        p {
            "Du " (french_date(p.starts_on)) " au " (french_date(p.ends_on.pred_opt().unwrap_or(p.ends_on))) " inclus ("
            @if p.closed { "période close" } @else { "période ouverte" } "). "
            a href={ "/api/v1/allocations?period=" (p.code) "&format=csv" } { "Télécharger la répartition (CSV)" }
        }
        h2 { "Clé de répartition" }
        dl {
            @for d in split.key.decisions(&p.key) {
                dt { (d.label) }
                dd { (d.shown) " — " (d.status) }
            }
        }
        h2 { "Part de chaque membre" }
        div.table-scroll #parts role="region" aria-label="Part de chaque membre" tabindex="0" {
            table.wide {
                caption { "Répartition de " (ops::euros(a.total_cents)) " HT entre " (super::count(a.lines.len(), "membre", "membres")) }
                thead { tr {
                    th scope="col" { "Membre" }
                    th scope="col" { "n" sub { "i" } }
                    th scope="col" { "Population" }
                    th scope="col" { "Part socle et hébergement" }
                    @for (_, label) in COLUMNS {
                        th scope="col" { (label) }
                    }
                    th scope="col" { "Total HT" }
                } }
                tbody {
                    @for l in &a.lines {
                        tr {
                            th scope="row" { (l.name) }
                            td { (format!("{:.4}", l.n).replace('.', ",")) }
                            td { (l.population) }
                            td { (format!("{:.4} %", l.socle_share * 100.0).replace('.', ",")) }
                            @for (cat, _) in COLUMNS {
                                td { (ops::euros(l.parts.iter().filter(|x| x.category == cat).map(|x| x.cents).sum())) }
                            }
                            td { (ops::euros(l.total_cents)) }
                        }
                    }
                }
                tfoot { tr {
                    th scope="row" colspan="10" { "Total" }
                    td { (ops::euros(a.total_cents)) }
                } }
            }
        }
    };
    respond(StatusCode::OK, &title, body)
}
