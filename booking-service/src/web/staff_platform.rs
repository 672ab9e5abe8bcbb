//! Platform administrators' pages: every site of the territory, and a form to open a new one in
//! a commune (its stations, default policy and motifs come with it; hours are then the commune's).

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::error::ApiError;
use crate::request::extract::Query;
use crate::request::staff_session::Staff;
use crate::service::platform::{self, NewSite};
use crate::service::ServiceError;
use crate::staff::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

/// Where the platform's site list lives.
pub const PATH: &str = "/agents/plateforme/lieux";

/// The new-site form as typed (every field a string: shown again after an error).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SiteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    commune_insee: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address_line: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    stations: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// The page: the sites, then the form, with `error` next to its field.
async fn render(
    state: &AppState,
    staff: &Staff,
    form: &SiteForm,
    error: Option<&ApiError>,
    created: bool,
) -> Response {
    let sites = match crate::service::agenda::sites(state, &staff.user).await {
        Ok(s) => s,
        Err(e) => return error_page(e.into()),
    };
    let err_for = |field: &str| {
        error
            .filter(|e| e.field == Some(field))
            .map(|e| e.message.as_str())
    };
    let text =
        |id: &'static str, name: &'static str, label: &'static str, value: &str, required: bool| -> Markup {
            let err_id = format!("err-{id}");
            let message = err_for(name);
            html! {
                (ui::field_error(&err_id, message))
                (Input {
                    id,
                    name,
                    label,
                    value: Some(value),
                    required,
                    error_id: message.map(|_| err_id.as_str()),
                    ..Input::default()
                })
            }
        };
    let body = html! {
        (logout_button(&staff.token))
        @if created {
            (ui::success("Lieu créé, avec ses postes. Ses administrateurs communaux règlent maintenant ses horaires d'ouverture."))
        }
        @if let Some(e) = error.filter(|e| e.field.is_none()) {
            (ui::error(&e.message))
        }
        table.wide {
            caption { (sites.len()) " lieux de rendez-vous" }
            thead { tr { th scope="col" { "Lieu" } th scope="col" { "Commune" } th scope="col" { "Adresse" } } }
            tbody {
                @for s in &sites {
                    tr {
                        td { a href={ "/agents/lieux/" (s.id) } { (s.name) } }
                        td { (s.commune_name) " (" (s.commune_insee) ")" }
                        td { (s.address_line) ", " (s.postcode) " " (s.city) }
                    }
                }
            }
        }
        h2 { "Ouvrir un lieu" }
        (ui::staff_form(Some(PATH), &csrf(&staff.token), false, html! {
            (text("p-insee", "commune_insee", "Code INSEE de la commune", &form.commune_insee, true))
            (text("p-nom", "name", "Nom du lieu (ex. Mairie de Rixheim)", &form.name, true))
            (text("p-adresse", "address_line", "Adresse", &form.address_line, true))
            (text("p-cp", "postcode", "Code postal", &form.postcode, true))
            (text("p-ville", "city", "Ville", &form.city, true))
            (text("p-postes", "stations", "Nombre de postes (1 à 20)", if form.stations.is_empty() { "1" } else { &form.stations }, true))
            (text("p-email", "email", "Courriel du lieu (facultatif)", &form.email, false))
            (text("p-tel", "phone", "Téléphone du lieu (facultatif)", &form.phone, false))
            button type="submit" { "Créer le lieu" }
        }))
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    (status, page("Lieux de la plateforme", body)).into_response()
}

/// The refusal for a member who does not run the platform (their role does not allow it).
fn not_platform(staff: &Staff) -> Option<Response> {
    (staff.user.role != Role::PlatformAdmin).then(|| error_page(ServiceError::Forbidden.into()))
}

/// Set after a site was created: the list says so.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    cree: Option<String>,
}

/// Every site, and the form to open one.
#[utoipa::path(get, path = "/agents/plateforme/lieux", tag = "pages", params(ListQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn sites_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Query(q): Query<ListQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    if let Some(refused) = not_platform(&staff) {
        return refused;
    }
    render(&state, &staff, &SiteForm::default(), None, q.cree.is_some()).await
}

/// Creates the site, then the list again with a notice (or the form with its error).
#[utoipa::path(post, path = "/agents/plateforme/lieux", tag = "pages",
    request_body(content = SiteForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la liste, lieu créé"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 422, description = "Champ invalide")))]
pub async fn sites_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Form(f): Form<SiteForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Some(refused) = not_platform(&staff) {
        return refused;
    }
    let Ok(stations) = f.stations.trim().parse::<i64>() else {
        let e = ApiError::unprocessable("invalid_stations", "Nombre de postes : de 1 à 20.")
            .with_field("stations");
        return render(&state, &staff, &f, Some(&e), false).await;
    };
    let input = NewSite {
        commune_insee: f.commune_insee.clone(),
        name: f.name.clone(),
        address_line: f.address_line.clone(),
        postcode: f.postcode.clone(),
        city: f.city.clone(),
        latitude: None,
        longitude: None,
        email: Some(f.email.clone()),
        phone: Some(f.phone.clone()),
        stations,
    };
    match platform::create_site(&state, &staff.user, &input).await {
        Ok(_) => Redirect::to(&format!("{PATH}?cree=1")).into_response(),
        Err(e) => render(&state, &staff, &f, Some(&e.into()), false).await,
    }
}
