//! Purchase orders: the totals against the framework agreement, each order with its issue and
//! withdraw buttons, and the form that announces one (the same [`crate::ops`] functions as
//! `POST /api/v1/orders`, `/orders/{id}/issue` and `/orders/{id}/withdraw`).

use super::{
    err_for, error_page, form_error, french_date, nav, parse_euros, respond, select_field, text_field, Admin,
};
use crate::ops::{self, NewOrder};
use crate::state::RegistryState;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use booking_service::error::ApiError;
use booking_service::request::extract::{Path, Query};
use booking_service::web::components as ui;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/registre/commandes";

/// The announce form as typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    member_id: String,
    #[serde(default)]
    teleservice_code: String,
    /// In euros (`1234,56`).
    #[serde(default)]
    amount: String,
    #[serde(default)]
    order_date: String,
    #[serde(default)]
    label: String,
}

/// An action's form: only its CSRF token.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// What was just done, from the redirect.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DoneQuery {
    /// `annonce`, `emis` or `retire`.
    fait: Option<String>,
}

async fn render(
    state: &RegistryState,
    admin: &Admin,
    f: &OrderForm,
    error: Option<&ApiError>,
    done: Option<&str>,
) -> Response {
    let today = state.clock.now().date_naive();
    let (summary, members, services) = match (
        ops::orders(&state.pool).await,
        store::members(&state.pool).await,
        store::teleservices(&state.pool, None, today).await,
    ) {
        (Ok(o), Ok(m), Ok(s)) => (o, m, s),
        (Err(e), _, _) => return error_page(e),
        (_, Err(e), _) | (_, _, Err(e)) => return error_page(e.into()),
    };
    let csrf = admin.csrf();
    let member_options: Vec<(String, String)> =
        std::iter::once((String::new(), "— Choisir un membre —".to_string()))
            .chain(members.iter().map(|m| (m.id.to_string(), m.name.clone())))
            .collect();
    let service_options: Vec<(String, String)> = std::iter::once((String::new(), "Aucun".to_string()))
        .chain(services.iter().map(|s| (s.code.clone(), s.name.clone())))
        .collect();
    let amount_err = err_for(error, "amount_cents");
    let default_date = today.format("%Y-%m-%d").to_string();
    let body = html! {
        (nav(admin, PATH))
        @match done {
            Some("annonce") => (ui::success("Bon de commande annoncé : il est visible de tous les membres.")),
            Some("emis") => (ui::success("Bon de commande émis.")),
            Some("retire") => (ui::success("Bon de commande retiré : il ne compte plus dans les totaux.")),
            _ => {}
        }
        h2 { "Accord-cadre" }
        @if let Some(a) = summary.agreement {
            dl {
                dt { "Durée" }
                dd { "du " (french_date(a.term_start)) " au " (french_date(a.term_end.pred_opt().unwrap_or(a.term_end))) " inclus" }
                dt { "Minimum" } dd { (ops::euros(a.min_cents)) " HT" }
                dt { "Maximum" } dd { (ops::euros(a.max_cents)) " HT" }
                dt { "Engagé (bons annoncés et émis)" } dd #engage { (ops::euros(summary.committed_cents)) " HT" }
                @if let Some(r) = summary.remaining_cents {
                    dt { "Reste avant le maximum" } dd #reste { (ops::euros(r)) " HT" }
                }
            }
            @if summary.below_minimum == Some(true) {
                (ui::info("Le groupement n'a pas encore atteint le minimum de l'accord-cadre."))
            }
        } @else {
            (ui::warning("Aucun accord-cadre n'est enregistré : aucun bon ne peut être annoncé."))
        }
        div.table-scroll role="region" aria-label="Total engagé par membre" tabindex="0" {
            table.wide {
                caption { "Total engagé par membre" }
                thead { tr { th scope="col" { "Membre" } th scope="col" { "Total HT" } } }
                tbody {
                    @for m in &summary.per_member {
                        tr { th scope="row" { (m.member_name) } td { (ops::euros(m.total_cents)) } }
                    }
                }
            }
        }
        div.table-scroll role="region" aria-label="Bons de commande" tabindex="0" {
            table.wide {
                caption { (super::count(summary.orders.len(), "bon de commande", "bons de commande")) }
                thead { tr {
                    th scope="col" { "Référence" }
                    th scope="col" { "Date" }
                    th scope="col" { "Membre" }
                    th scope="col" { "Téléservice" }
                    th scope="col" { "Objet" }
                    th scope="col" { "Montant HT" }
                    th scope="col" { "État" }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @for o in &summary.orders {
                        tr {
                            th scope="row" { (o.reference) }
                            td { (french_date(o.order_date)) }
                            td { (o.member_name) }
                            td { (o.teleservice_code.as_deref().unwrap_or("—")) }
                            td { (o.label) }
                            td { (ops::euros(o.amount_cents)) }
                            td { (ops::order_status_label(&o.status)) }
                            // Each button is named with its order, starting with its visible word
                            // (an aria-label: a visually hidden span, absolutely positioned, would
                            // escape the table's scrolling region and widen the page on a phone).
                            td {
                                @if o.status == "announced" {
                                    (ui::staff_form(Some(&format!("{PATH}/{}/emission", o.id)), &csrf, true, html! {
                                        button type="submit" aria-label={ "Émettre le bon " (o.reference) } { "Émettre" }
                                    }))
                                }
                                @if o.status != "withdrawn" {
                                    (ui::staff_form(Some(&format!("{PATH}/{}/retrait", o.id)), &csrf, true, html! {
                                        button type="submit" class="secondary" aria-label={ "Retirer le bon " (o.reference) } { "Retirer" }
                                    }))
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 #annonce { "Annoncer un bon de commande" }
        p { "Un bon annoncé est visible de tous les membres avant d'être émis ; il ne peut dépasser le maximum de l'accord-cadre ni sortir de sa durée." }
        (form_error(error, &["member_id", "teleservice_code", "amount_cents", "order_date", "label"]))
        (ui::staff_form(Some(PATH), &csrf, false, html! {
            (select_field(error, "o-membre", "member_id", "Membre qui commande", &member_options, &f.member_id))
            (select_field(error, "o-service", "teleservice_code", "Téléservice (facultatif)", &service_options, &f.teleservice_code))
            (ui::field_error("err-o-montant", amount_err))
            (ui::Input {
                id: "o-montant",
                name: "amount",
                label: "Montant HT en euros (ex. 12 500,00)",
                value: Some(&f.amount),
                required: true,
                error_id: amount_err.map(|_| "err-o-montant"),
                ..ui::Input::default()
            })
            (text_field(error, "o-date", "order_date", "Date du bon", if f.order_date.is_empty() { &default_date } else { &f.order_date }, Some("date"), true))
            (text_field(error, "o-objet", "label", "Objet", &f.label, None, false))
            button type="submit" { "Annoncer le bon" }
        }))
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    respond(status, "Bons de commande", body)
}

/// The orders with their totals, their actions, and the form to announce one.
#[utoipa::path(get, path = "/registre/commandes", tag = "pages", params(DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn page(State(state): State<RegistryState>, admin: Admin, Query(q): Query<DoneQuery>) -> Response {
    render(&state, &admin, &OrderForm::default(), None, q.fait.as_deref()).await
}

/// Announces the order, then the list again (or the form with its error).
#[utoipa::path(post, path = "/registre/commandes", tag = "pages",
    request_body(content = OrderForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les bons, bon annoncé"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 409, description = "Dépasserait le maximum"), (status = 422, description = "Champ invalide")))]
pub async fn post(State(state): State<RegistryState>, admin: Admin, Form(f): Form<OrderForm>) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let parsed = (|| {
        let member_id = Uuid::parse_str(f.member_id.trim()).map_err(|_| {
            ApiError::unprocessable("unknown_reference", "Choisissez le membre qui commande.")
                .with_field("member_id")
        })?;
        let amount_cents = parse_euros(&f.amount).ok_or_else(|| {
            ApiError::unprocessable("invalid_amount", "Montant : en euros, par exemple 12 500,00.")
                .with_field("amount_cents")
        })?;
        let order_date = NaiveDate::parse_from_str(f.order_date.trim(), "%Y-%m-%d").map_err(|_| {
            ApiError::unprocessable("invalid_date", "Date invalide.").with_field("order_date")
        })?;
        let service = f.teleservice_code.trim();
        Ok::<_, ApiError>(NewOrder {
            member_id,
            teleservice_code: (!service.is_empty()).then(|| service.to_string()),
            amount_cents,
            order_date,
            label: f.label.trim().to_string(),
        })
    })();
    let input = match parsed {
        Ok(o) => o,
        Err(e) => return render(&state, &admin, &f, Some(&e), None).await,
    };
    match ops::announce_order(&state.pool, &input, state.clock.now()).await {
        Ok(_) => Redirect::to(&format!("{PATH}?fait=annonce")).into_response(),
        Err(e) => render(&state, &admin, &f, Some(&e), None).await,
    }
}

/// The order a path names; a malformed one is as unknown as a missing one (404, as the API says).
fn order_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::not_found("order_not_found", "Bon de commande inconnu."))
}

/// Issues an announced order, then the list again.
#[utoipa::path(post, path = "/registre/commandes/{order_id}/emission", tag = "pages",
    params(("order_id" = String, Path, description = "Identifiant du bon")),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les bons, bon émis"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 404, description = "Bon inconnu"), (status = 409, description = "Pas à l'état annoncé")))]
pub async fn issue_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let id = match order_id(&raw) {
        Ok(id) => id,
        Err(e) => return error_page(e),
    };
    match ops::issue_order(&state.pool, id, state.clock.now()).await {
        Ok(()) => Redirect::to(&format!("{PATH}?fait=emis")).into_response(),
        Err(e) => error_page(e),
    }
}

/// Withdraws an order, then the list again with the totals without it.
#[utoipa::path(post, path = "/registre/commandes/{order_id}/retrait", tag = "pages",
    params(("order_id" = String, Path, description = "Identifiant du bon")),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les bons, bon retiré"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 404, description = "Bon inconnu"), (status = 409, description = "Déjà retiré")))]
pub async fn withdraw_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let id = match order_id(&raw) {
        Ok(id) => id,
        Err(e) => return error_page(e),
    };
    match ops::withdraw_order(&state.pool, id).await {
        Ok(()) => Redirect::to(&format!("{PATH}?fait=retire")).into_response(),
        Err(e) => error_page(e),
    }
}
