//! The waiting list's pages: joining it from a site with no time that suits, and the page behind
//! the email link (the place in the list, the slot held for the subscriber with the form that books
//! it, leaving the list). They call the same service functions as `/api/v1/waitlist`.

use super::citizen::{citizen_fields, ConfirmForm};
use super::components::{self as ui, Input};
use super::{error_page, page};
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::domain::waitlist::WaitlistStatus;
use crate::error::ApiError;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::service::availability;
use crate::service::waitlist::{self, AcceptInput, SubscribeInput, Where};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

/// The site, motif and party size the citizen was looking at.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct JoinForm {
    site_id: String,
    #[serde(default)]
    motif: Option<String>,
    #[serde(default)]
    persons: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

async fn join_form(state: &AppState, f: &JoinForm, error: Option<&ApiError>) -> Response {
    let site = match params::uuid(&f.site_id, "site_id") {
        Ok(id) => match availability::find_site(state, id).await {
            Ok(s) => s,
            Err(e) => return error_page(e.into()),
        },
        Err(e) => return error_page(e),
    };
    let motif = params::motif(f.motif.as_deref(), Motif::Cni).unwrap_or(Motif::Cni);
    let persons = params::persons(f.persons.as_deref())
        .map(|p| p.get())
        .unwrap_or(1);
    let message = |field: &str| {
        error
            .filter(|e| e.field == Some(field))
            .map(|e| e.message.as_str())
    };
    let body = html! {
        p {
            "Aucun horaire ne vous convient à " (site.name) " ? Inscrivez-vous : dès qu'un créneau se libère "
            "aux dates que vous indiquez, il vous est réservé et vous recevez un e-mail pour le prendre. "
            "Les inscrits sont servis dans l'ordre d'inscription."
        }
        @if let Some(e) = error.filter(|e| !matches!(e.field, Some("email" | "from" | "to"))) {
            (ui::error(&e.message))
        }
        form method="post" action="/liste-attente" {
            (ui::hidden("site_id", site.id))
            (ui::hidden("motif", motif.code()))
            (ui::hidden("persons", persons))
            p { (motif.label_fr()) ", " (persons) " personne" @if persons > 1 { "s" } }
            (Input { id: "email", name: "email", label: "Adresse électronique", kind: Some("email"),
                     autocomplete: Some("email"), value: Some(&f.email), required: true,
                     error_id: message("email").map(|_| "err-email"), ..Input::default() })
            (ui::field_error("err-email", message("email")))
            (Input { id: "from", name: "from", label: "Je peux venir à partir du", kind: Some("date"),
                     value: Some(&f.from), required: true,
                     error_id: message("from").map(|_| "err-from"), ..Input::default() })
            (ui::field_error("err-from", message("from")))
            (Input { id: "to", name: "to", label: "et jusqu'au", kind: Some("date"),
                     value: Some(&f.to), required: true,
                     error_id: message("to").map(|_| "err-to"), ..Input::default() })
            (ui::field_error("err-to", message("to")))
            button type="submit" { "M'inscrire sur la liste d'attente" }
        }
    };
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    (status, page("Liste d'attente", body)).into_response()
}

/// The form to join a site's waiting list.
#[utoipa::path(get, path = "/liste-attente", tag = "pages", params(JoinForm),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lieu inconnu")))]
pub async fn join_page(State(state): State<AppState>, Query(f): Query<JoinForm>) -> Response {
    join_form(&state, &f, None).await
}

/// Joins the list, or shows the form again with the error.
#[utoipa::path(post, path = "/liste-attente", tag = "pages", request_body(content = JoinForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page de l'inscription"), (status = 422, content_type = "text/html", body = String)))]
pub async fn join_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Form(f): Form<JoinForm>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    let input = (|| -> Result<SubscribeInput, ApiError> {
        let date = |raw: &str, field| {
            params::date(Some(raw), field)?.ok_or_else(|| {
                ApiError::unprocessable("date_missing", "Indiquez une date.").with_field(field)
            })
        };
        Ok(SubscribeInput {
            place: Where::Site(params::uuid(&f.site_id, "site_id")?),
            motif: params::motif(f.motif.as_deref(), Motif::Cni)?,
            persons: i64::from(params::persons(f.persons.as_deref())?.get()),
            email: f.email.clone(),
            from: date(&f.from, "from")?,
            to: date(&f.to, "to")?,
        })
    })();
    let result = match input {
        Ok(input) => waitlist::subscribe(&state, &input).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => Redirect::to(&format!("/liste-attente/{}?nouveau=1", s.token)).into_response(),
        Err(e) => join_form(&state, &f, Some(&e)).await,
    }
}

/// Flags of the subscription page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EntryQuery {
    nouveau: Option<String>,
}

async fn entry_page(
    state: &AppState,
    token: &str,
    fresh: bool,
    error: Option<&ApiError>,
    f: &ConfirmForm,
) -> Response {
    let view = match waitlist::view(state, token).await {
        Ok(v) => v,
        Err(e) => return error_page(e.into()),
    };
    let site = match &view.offer {
        Some(o) => availability::find_site(state, o.site_id).await.ok(),
        None => None,
    };
    let when =
        |at: chrono::DateTime<chrono_tz::Tz>| crate::domain::french::datetime(at.to_utc(), at.timezone());
    let body = html! {
        @if fresh {
            (ui::success("Vous êtes inscrit. Gardez ce lien : il est aussi dans l'e-mail qui vous proposera un créneau."))
        }
        @if let Some(e) = error.filter(|e| e.field.is_none()) {
            (ui::error(&e.message))
        }
        table {
            tr { th scope="row" { "Statut" } td { (view.status.label_fr()) } }
            @if let Some(p) = view.position {
                tr { th scope="row" { "Place dans la liste" } td { (p) } }
            }
            tr { th scope="row" { "Motif" } td { (view.motif.label_fr()) } }
            tr { th scope="row" { "Personnes" } td { (view.persons) } }
            tr { th scope="row" { "Dates possibles" } td {
                "du " (crate::domain::french::date_label(view.from)) " au " (crate::domain::french::date_label(view.to))
            } }
        }
        @if let (Some(o), Some(site)) = (&view.offer, &site) {
            h2 { "Un créneau vous est réservé" }
            (ui::info(html! {
                (site.name) ", " (site.address_line) ", " (site.postcode) " " (site.city) " – le " (when(o.start))
                ". Il vous est réservé jusqu'au " (when(o.expires_at)) " : passé ce délai, il sera proposé à la personne suivante."
            }))
            form method="post" action=(format!("/liste-attente/{token}/accepter")) {
                (citizen_fields(error, f, view.motif, usize::from(view.persons.get())))
                button type="submit" { "Prendre ce rendez-vous" }
            }
        }
        @if view.status.is_open() {
            form method="post" action=(format!("/liste-attente/{token}/quitter")) {
                button type="submit" class="secondary" { "Quitter la liste d'attente" }
            }
        }
        @if view.status == WaitlistStatus::Booked {
            p { "Votre rendez-vous est pris : le lien pour le gérer est dans l'e-mail de confirmation." }
        }
    };
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    (status, page("Liste d'attente", body)).into_response()
}

/// The page behind the subscription's link: its place, its offer, leaving.
#[utoipa::path(get, path = "/liste-attente/{token}", tag = "pages", params(("token" = String, Path, description = "Lien de l'inscription"), EntryQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn entry(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    entry_page(&state, &token, q.nouveau.is_some(), None, &ConfirmForm::default()).await
}

/// Books the slot held for the subscriber, or shows the page again with each error by its field.
#[utoipa::path(post, path = "/liste-attente/{token}/accepter", tag = "pages", params(("token" = String, Path, description = "Lien de l'inscription")),
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page du rendez-vous"), (status = 422, content_type = "text/html", body = String)))]
pub async fn accept_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    let persons = match waitlist::view(&state, &token).await {
        Ok(v) => usize::from(v.persons.get()),
        Err(e) => return error_page(e.into()),
    };
    let input = AcceptInput {
        citizen: f.citizen(),
        pre_demande_numbers: f.given_numbers(persons),
        confirm_other_appointments: f.confirm_other_appointments.is_some(),
        sms_reminder: f.sms_rappel.is_some(),
    };
    match waitlist::accept(&state, &token, &input).await {
        Ok(done) => Redirect::to(&format!("/rdv/{}?nouveau=1", done.manage_token)).into_response(),
        Err(e) => entry_page(&state, &token, false, Some(&e.into()), &f).await,
    }
}

/// Leaves the list (a slot held for the subscriber goes to the next one).
#[utoipa::path(post, path = "/liste-attente/{token}/quitter", tag = "pages", params(("token" = String, Path, description = "Lien de l'inscription")),
    responses((status = 303, description = "Vers la page de l'inscription"), (status = 404, description = "Lien inconnu")))]
pub async fn leave_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    match waitlist::unsubscribe(&state, &token).await {
        Ok(()) => Redirect::to(&format!("/liste-attente/{token}")).into_response(),
        Err(e) => error_page(e.into()),
    }
}
