//! The forgotten-password pages of the staff: ask for a link by email, then set a new password
//! with it. Both call the same service functions as the API; the token travels in the path of the
//! emailed link and in the form's body, never in a query string.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use crate::app::AppState;
use crate::error::ApiError;
use crate::request::client::{client_key, PeerAddr};
use crate::request::extract::Path;
use crate::service::staff_accounts;
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

fn request_form(done: bool) -> Markup {
    let body = html! {
        @if done {
            (ui::success("Si un compte correspond à cette adresse, un lien vient d'y être envoyé ; il fonctionne une heure, une seule fois."))
        }
        form method="post" action="/agents/mot-de-passe-oublie" {
            (Input {
                id: "email",
                name: "email",
                label: "Adresse électronique de votre compte",
                kind: Some("email"),
                autocomplete: Some("username"),
                required: true,
                ..Input::default()
            })
            button type="submit" { "Recevoir un lien" }
        }
        p { a href="/agents/connexion" { "Retour à la connexion" } }
    };
    page("Mot de passe oublié", body)
}

/// The form asking for a link.
#[utoipa::path(get, path = "/agents/mot-de-passe-oublie", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn forgot_page() -> Markup {
    request_form(false)
}

/// The address typed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// Sends the link when the address has an active account; the same answer either way.
#[utoipa::path(post, path = "/agents/mot-de-passe-oublie", tag = "pages", request_body(content = ForgotForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn forgot_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    let client = client_key(&state, &headers, &peer);
    match staff_accounts::request_password_reset(&state, &client, f.email.trim()).await {
        Ok(()) => request_form(true).into_response(),
        Err(e) => error_page(e.into()),
    }
}

fn new_password_form(token: &str, error: Option<&ApiError>) -> Markup {
    let message = error.map(|e| e.message.as_str());
    let body = html! {
        (ui::field_error("err-password", message))
        form method="post" action="/agents/mot-de-passe/nouveau" {
            (ui::hidden("token", token))
            (Input {
                id: "password",
                name: "password",
                label: "Nouveau mot de passe (12 caractères au moins)",
                kind: Some("password"),
                autocomplete: Some("new-password"),
                required: true,
                minlength: Some(12),
                error_id: message.map(|_| "err-password"),
                ..Input::default()
            })
            (Input {
                id: "password2",
                name: "password2",
                label: "Le même, une seconde fois",
                kind: Some("password"),
                autocomplete: Some("new-password"),
                required: true,
                minlength: Some(12),
                ..Input::default()
            })
            button type="submit" { "Enregistrer le mot de passe" }
        }
    };
    page("Nouveau mot de passe", body)
}

/// The page of the emailed link: a new password, twice.
#[utoipa::path(get, path = "/agents/mot-de-passe/{token}", tag = "pages", params(("token" = String, Path, description = "Lien reçu par e-mail")),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn reset_page(Path(token): Path<String>) -> Markup {
    new_password_form(&token, None)
}

/// The new password typed, with the link's token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// Sets the new password (once), then on to the login page.
#[utoipa::path(post, path = "/agents/mot-de-passe/nouveau", tag = "pages", request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la connexion"), (status = 422, content_type = "text/html", body = String)))]
pub async fn reset_post(State(state): State<AppState>, Form(f): Form<ResetForm>) -> Response {
    if f.password != f.password2 {
        let e = ServiceError::invalid(
            "password_mismatch",
            "password",
            "Les deux mots de passe diffèrent.",
        );
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            new_password_form(&f.token, Some(&e.into())),
        )
            .into_response();
    }
    match staff_accounts::complete_password_reset(&state, f.token.trim(), &f.password).await {
        Ok(()) => Redirect::to("/agents/connexion?nouveau-mot-de-passe=1").into_response(),
        Err(e @ ServiceError::Invalid { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            new_password_form(&f.token, Some(&e.into())),
        )
            .into_response(),
        Err(e) => error_page(e.into()),
    }
}
