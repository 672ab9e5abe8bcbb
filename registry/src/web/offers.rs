//! Who offers which téléservice, from when to when, and the form that records a new offer (the
//! same [`crate::ops`] function as `POST /api/v1/subscriptions`).

use super::{error_page, form_error, french_date, nav, respond, select_field, text_field, Admin};
use crate::ops::{self, NewSubscription};
use crate::state::RegistryState;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use booking_service::error::ApiError;
use booking_service::request::extract::Query;
use booking_service::web::components as ui;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/registre/offres";

/// The form as typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct OfferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    member_id: String,
    #[serde(default)]
    teleservice_code: String,
    #[serde(default)]
    starts_on: String,
    /// The last day offered (inclusive; empty: ongoing).
    #[serde(default)]
    ends_on: String,
}

async fn render(
    state: &RegistryState,
    admin: &Admin,
    f: &OfferForm,
    error: Option<&ApiError>,
    added: bool,
) -> Response {
    let today = state.clock.now().date_naive();
    let (offers, members, services) = match (
        store::subscriptions(&state.pool).await,
        store::members(&state.pool).await,
        store::teleservices(&state.pool, None, today).await,
    ) {
        (Ok(o), Ok(m), Ok(s)) => (o, m, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(e.into()),
    };
    let name_of = |code: &str| {
        services
            .iter()
            .find(|s| s.code == code)
            .map_or(code.to_string(), |s| s.name.clone())
    };
    let member_options: Vec<(String, String)> =
        std::iter::once((String::new(), "— Choisir un membre —".to_string()))
            .chain(members.iter().map(|m| (m.id.to_string(), m.name.clone())))
            .collect();
    let service_options: Vec<(String, String)> =
        std::iter::once((String::new(), "— Choisir un téléservice —".to_string()))
            .chain(services.iter().map(|s| (s.code.clone(), s.name.clone())))
            .collect();
    let body = html! {
        (nav(admin, PATH))
        @if added {
            (ui::success("Offre enregistrée."))
        }
        p { "Un membre propose un téléservice sur la plateforme à partir d'une date ; ce sont ces offres qui comptent dans le n" sub { "i" } " de chaque membre et dans le partage des modules mutualisés." }
        div.table-scroll role="region" aria-label="Offres" tabindex="0" {
            table.wide {
                caption { (super::count(offers.len(), "offre de téléservice", "offres de téléservices")) }
                thead { tr {
                    th scope="col" { "Membre" }
                    th scope="col" { "Téléservice" }
                    th scope="col" { "Depuis le" }
                    th scope="col" { "Jusqu'au (inclus)" }
                } }
                tbody {
                    @for o in &offers {
                        tr {
                            th scope="row" { (o.member_name) }
                            td { (name_of(&o.teleservice_code)) }
                            td { (french_date(o.starts_on)) }
                            td {
                                @if let Some(end) = o.ends_on {
                                    (french_date(end.pred_opt().unwrap_or(end)))
                                } @else {
                                    "en cours"
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 #ajout { "Enregistrer une offre" }
        (form_error(error, &["member_id", "teleservice_code", "starts_on", "ends_on"]))
        (ui::staff_form(Some(PATH), &admin.csrf(), false, html! {
            (select_field(error, "s-membre", "member_id", "Membre", &member_options, &f.member_id))
            (select_field(error, "s-service", "teleservice_code", "Téléservice", &service_options, &f.teleservice_code))
            (text_field(error, "s-debut", "starts_on", "Premier jour", &f.starts_on, Some("date"), true))
            (text_field(error, "s-fin", "ends_on", "Dernier jour (facultatif, inclus)", &f.ends_on, Some("date"), false))
            button type="submit" { "Enregistrer l'offre" }
        }))
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    respond(status, "Qui propose quoi", body)
}

/// Set after an offer was recorded: the page says so.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AddedQuery {
    ajoute: Option<String>,
}

/// The offers and the form to record one.
#[utoipa::path(get, path = "/registre/offres", tag = "pages", params(AddedQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn page(State(state): State<RegistryState>, admin: Admin, Query(q): Query<AddedQuery>) -> Response {
    render(&state, &admin, &OfferForm::default(), None, q.ajoute.is_some()).await
}

/// Records the offer, then the list again (or the form with its error).
#[utoipa::path(post, path = "/registre/offres", tag = "pages",
    request_body(content = OfferForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les offres, offre enregistrée"),
              (status = 403, description = "Jeton CSRF invalide ou rôle"), (status = 422, description = "Champ invalide")))]
pub async fn post(State(state): State<RegistryState>, admin: Admin, Form(f): Form<OfferForm>) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let parsed = (|| {
        let member_id = Uuid::parse_str(f.member_id.trim()).map_err(|_| {
            ApiError::unprocessable("unknown_reference", "Choisissez le membre.").with_field("member_id")
        })?;
        let code = f.teleservice_code.trim();
        if code.is_empty() {
            return Err(
                ApiError::unprocessable("unknown_reference", "Choisissez le téléservice.")
                    .with_field("teleservice_code"),
            );
        }
        let day = |raw: &str, field: &'static str| {
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map_err(|_| ApiError::unprocessable("invalid_date", "Date invalide.").with_field(field))
        };
        let starts_on = day(&f.starts_on, "starts_on")?;
        let ends_on = if f.ends_on.trim().is_empty() {
            None
        } else {
            let last = day(&f.ends_on, "ends_on")?;
            Some(last.succ_opt().unwrap_or(last))
        };
        Ok(NewSubscription {
            member_id,
            teleservice_code: code.to_string(),
            starts_on,
            ends_on,
        })
    })();
    let input = match parsed {
        Ok(s) => s,
        Err(e) => return render(&state, &admin, &f, Some(&e), false).await,
    };
    match ops::create_subscription(&state.pool, &input).await {
        Ok(()) => Redirect::to(&format!("{PATH}?ajoute=1")).into_response(),
        Err(e) => render(&state, &admin, &f, Some(&e), false).await,
    }
}
