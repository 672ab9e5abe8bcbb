//! The catalog of téléservices, and the form that adds one (the API's `POST /api/v1/teleservices`).

use super::{err_for, error_page, form_error, nav, respond, select_field, text_field, Admin};
use crate::ops::{self, NewTeleservice, TELESERVICE_KINDS};
use crate::state::RegistryState;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use booking_service::error::ApiError;
use booking_service::request::extract::Query;
use booking_service::web::components as ui;
use maud::html;
use serde::Deserialize;

const PATH: &str = "/registre/teleservices";

/// The form as typed (every field a string: shown again after an error).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TeleserviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    owner_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    public_url: String,
}

/// A téléservice's status in French.
fn status_label(s: &str) -> &str {
    match s {
        "active" => "En service",
        "planned" => "Prévu",
        "retired" => "Retiré",
        other => other,
    }
}

/// A téléservice's kind in French.
fn kind_label(k: &str) -> &str {
    TELESERVICE_KINDS
        .iter()
        .find(|(c, _)| *c == k)
        .map_or(k, |(_, l)| l)
}

async fn render(
    state: &RegistryState,
    admin: &Admin,
    f: &TeleserviceForm,
    error: Option<&ApiError>,
    added: bool,
) -> Response {
    let today = state.clock.now().date_naive();
    let (services, members) = match (
        store::teleservices(&state.pool, None, today).await,
        store::members(&state.pool).await,
    ) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return error_page(e.into()),
    };
    let owners: Vec<(String, String)> = std::iter::once((String::new(), "— Choisir un membre —".to_string()))
        .chain(members.iter().map(|m| (m.id.to_string(), m.name.clone())))
        .collect();
    let kinds: Vec<(String, String)> = TELESERVICE_KINDS
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    let fields = ["code", "name", "description", "owner_id", "kind", "public_url"];
    let desc_err = err_for(error, "description");
    let body = html! {
        (nav(admin, PATH))
        @if added {
            (ui::success("Téléservice ajouté au catalogue."))
        }
        div.table-scroll role="region" aria-label="Catalogue" tabindex="0" {
            table.wide {
                caption { "Catalogue : " (super::count(services.len(), "téléservice", "téléservices")) }
                thead { tr {
                    th scope="col" { "Téléservice" }
                    th scope="col" { "Code" }
                    th scope="col" { "Type" }
                    th scope="col" { "Propriétaire" }
                    th scope="col" { "État" }
                } }
                tbody {
                    @for s in &services {
                        tr {
                            th scope="row" {
                                // Only web addresses become links (a stored `javascript:` would not).
                                @if let Some(url) = s.public_url.as_ref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                                    a href=(url) { (s.name) }
                                } @else {
                                    (s.name)
                                }
                            }
                            td { code { (s.code) } }
                            td { (kind_label(&s.kind)) }
                            td { (s.owner_name) }
                            td { (status_label(&s.status)) }
                        }
                    }
                }
            }
        }
        h2 #ajout { "Ajouter un téléservice" }
        (form_error(error, &fields))
        (ui::staff_form(Some(PATH), &admin.csrf(), false, html! {
            (text_field(error, "t-code", "code", "Code (lettres minuscules, chiffres et tirets, ex. etat-civil)", &f.code, None, true))
            (text_field(error, "t-nom", "name", "Nom", &f.name, None, true))
            (ui::field_error("err-t-desc", desc_err))
            label for="t-desc" { "Description (facultative)" }
            textarea id="t-desc" name="description" rows="3" aria-describedby=[desc_err.map(|_| "err-t-desc")] { (f.description) }
            (select_field(error, "t-proprio", "owner_id", "Membre propriétaire", &owners, &f.owner_id))
            (select_field(error, "t-type", "kind", "Type (qui le paie)", &kinds, if f.kind.is_empty() { "mutualisable" } else { &f.kind }))
            (text_field(error, "t-url", "public_url", "Adresse publique (facultative)", &f.public_url, Some("url"), false))
            button type="submit" { "Ajouter au catalogue" }
        }))
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    respond(status, "Catalogue des téléservices", body)
}

/// Set after a téléservice was added: the page says so.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AddedQuery {
    ajoute: Option<String>,
}

/// The catalog and the form to add a téléservice.
#[utoipa::path(get, path = "/registre/teleservices", tag = "pages", params(AddedQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn page(State(state): State<RegistryState>, admin: Admin, Query(q): Query<AddedQuery>) -> Response {
    render(
        &state,
        &admin,
        &TeleserviceForm::default(),
        None,
        q.ajoute.is_some(),
    )
    .await
}

/// Adds the téléservice, then the catalog again (or the form with its error).
#[utoipa::path(post, path = "/registre/teleservices", tag = "pages",
    request_body(content = TeleserviceForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers le catalogue, téléservice ajouté"),
              (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 409, description = "Code déjà pris"), (status = 422, description = "Champ invalide")))]
pub async fn post(
    State(state): State<RegistryState>,
    admin: Admin,
    Form(f): Form<TeleserviceForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let Ok(owner_id) = uuid::Uuid::parse_str(f.owner_id.trim()) else {
        let e = ApiError::unprocessable("unknown_member", "Choisissez le membre propriétaire.")
            .with_field("owner_id");
        return render(&state, &admin, &f, Some(&e), false).await;
    };
    let url = f.public_url.trim();
    let input = NewTeleservice {
        code: f.code.trim().to_string(),
        name: f.name.clone(),
        description: f.description.trim().to_string(),
        owner_id,
        kind: f.kind.clone(),
        public_url: (!url.is_empty()).then(|| url.to_string()),
    };
    match ops::create_teleservice(&state.pool, &input).await {
        Ok(()) => Redirect::to(&format!("{PATH}?ajoute=1")).into_response(),
        Err(e) => render(&state, &admin, &f, Some(&e), false).await,
    }
}
