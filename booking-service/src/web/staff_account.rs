//! A logged-in member's own account: changing the password (the current one, then the new one
//! twice), from a form carrying the session's CSRF token.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::error::ApiError;
use crate::request::staff_session::Staff;
use crate::service::{staff_pages, ServiceError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

/// Where each error goes: the field it is about (the current password, or the new one).
#[derive(Debug, Default)]
struct Errors<'a> {
    current: Option<&'a str>,
    new: Option<&'a str>,
}

fn change_form(session: &str, errors: &Errors, done: bool) -> Markup {
    let body = html! {
        (logout_button(session))
        @if done {
            (ui::success("Mot de passe changé. Vos autres sessions sont fermées."))
        }
        (ui::staff_form(Some("/agents/mot-de-passe"), &csrf(session), false, html! {
            (ui::field_error("err-current", errors.current))
            (Input {
                id: "current_password",
                name: "current_password",
                label: "Mot de passe actuel",
                kind: Some("password"),
                autocomplete: Some("current-password"),
                required: true,
                error_id: errors.current.map(|_| "err-current"),
                ..Input::default()
            })
            (ui::field_error("err-new", errors.new))
            (Input {
                id: "new_password",
                name: "new_password",
                label: "Nouveau mot de passe (12 caractères au moins)",
                kind: Some("password"),
                autocomplete: Some("new-password"),
                required: true,
                minlength: Some(12),
                error_id: errors.new.map(|_| "err-new"),
                ..Input::default()
            })
            (Input {
                id: "new_password2",
                name: "new_password2",
                label: "Le nouveau, une seconde fois",
                kind: Some("password"),
                autocomplete: Some("new-password"),
                required: true,
                minlength: Some(12),
                error_id: errors.new.map(|_| "err-new"),
                ..Input::default()
            })
            button type="submit" { "Changer le mot de passe" }
        }))
        p { a href="/agents" { "Retour à vos lieux" } }
    };
    page("Changer de mot de passe", body)
}

/// The change-of-password form.
#[utoipa::path(get, path = "/agents/mot-de-passe", tag = "pages",
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion")))]
pub async fn password_page(staff: Result<Staff, ApiError>) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    change_form(&staff.token, &Errors::default(), false).into_response()
}

/// The passwords typed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password2: String,
}

/// Changes the password (the current one checked); the member's other sessions end.
#[utoipa::path(post, path = "/agents/mot-de-passe", tag = "pages", request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Jeton CSRF invalide"), (status = 422, content_type = "text/html", body = String)))]
pub async fn password_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let refused = |errors: &Errors| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            change_form(&staff.token, errors, false),
        )
            .into_response()
    };
    if f.new_password != f.new_password2 {
        return refused(&Errors {
            new: Some("Les deux nouveaux mots de passe diffèrent."),
            ..Errors::default()
        });
    }
    match staff_pages::change_password(
        &state,
        &staff.user,
        &staff.token,
        &f.current_password,
        &f.new_password,
    )
    .await
    {
        Ok(()) => change_form(&staff.token, &Errors::default(), true).into_response(),
        Err(ServiceError::Invalid { field, message, .. }) => {
            let errors = if field == Some("current_password") {
                Errors {
                    current: Some(&message),
                    ..Errors::default()
                }
            } else {
                Errors {
                    new: Some(&message),
                    ..Errors::default()
                }
            };
            refused(&errors)
        }
        Err(e) => error_page(e.into()),
    }
}
