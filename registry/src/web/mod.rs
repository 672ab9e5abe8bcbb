//! The registry's pages for platform administrators (`/registre/…`), in French, without
//! JavaScript: the catalog, the members and a new source of populations, cost periods and their
//! costs, orders (announce, issue, withdraw) and a period's split. Thin adapters: each reads its
//! form, calls the same [`crate::ops`] function as the API route, and renders.
//!
//! They sit behind the same gateway as booking-service, so they read its staff session cookie
//! and resolve it with booking-service's own lookup; their forms carry the same CSRF token as the
//! staff pages (a hash of the session). Only a platform administrator may use them.

pub mod allocation;
pub mod catalog;
pub mod data_entry;
pub mod offers;
pub mod orders;

use crate::state::RegistryState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use booking_service::error::ApiError;
use booking_service::request::staff_session::{bearer_or_cookie, cookie_name, csrf_token};
use booking_service::staff::{accounts, Role, StaffUser};
use booking_service::web::components as ui;
use maud::{html, Markup};

pub use booking_service::web::{error_page, page};

/// Where a member logs in (booking-service's page, behind the same gateway).
pub const LOGIN: &str = "/agents/connexion";

/// A platform administrator logged in on booking-service, and the session token the request
/// carried (its CSRF token derives from it).
pub struct Admin {
    pub user: StaffUser,
    pub token: String,
}

impl FromRequestParts<RegistryState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &RegistryState) -> Result<Self, Response> {
        let cookie = cookie_name(state.config.public_base_url.as_deref().unwrap_or(""));
        let Some(token) = bearer_or_cookie(parts, cookie).filter(|t| !t.is_empty() && t.len() <= 100) else {
            return Err(Redirect::to(LOGIN).into_response());
        };
        let user = match accounts::session_user(&state.pool, &token, state.clock.now()).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(Redirect::to(LOGIN).into_response()),
            // The registry's own restricted role (`rdv_registry`) may not read staff sessions.
            Err(e)
                if e.as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == "42501") =>
            {
                tracing::error!(error = %e, "the registry's database role cannot read staff sessions");
                return Err(error_page(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sessions_unreadable",
                    "Les pages du registre sont indisponibles : son rôle de base de données ne peut pas lire les sessions des agents.",
                )));
            }
            Err(e) => return Err(error_page(e.into())),
        };
        if user.role != Role::PlatformAdmin {
            return Err(error_page(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Réservé aux administrateurs de la plateforme.",
            )));
        }
        Ok(Admin { user, token })
    }
}

impl Admin {
    /// The CSRF token of this session, for the forms of the page.
    pub fn csrf(&self) -> String {
        csrf_token(&self.token)
    }

    /// The refusal of a form whose CSRF field is not this session's (compared in constant time);
    /// `None` when it is.
    /// An accepted form is logged with the member's account id (no name nor address): the
    /// registry has no audit table of its own, and the operation logs what it changed.
    pub fn refuse_forged(&self, field: &str) -> Option<Response> {
        if crate::state::same_secret(&self.csrf(), field) {
            tracing::info!(account = %self.user.id, "registry form posted by a platform administrator");
            return None;
        }
        tracing::warn!(account = %self.user.id, "registry form refused: CSRF token does not match");
        Some(error_page(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Formulaire expiré ou invalide : rechargez la page.",
        )))
    }
}

/// The registry's pages, as (label, path), in the order of the navigation.
pub const PAGES: [(&str, &str); 6] = [
    ("Catalogue des téléservices", "/registre/teleservices"),
    ("Qui propose quoi", "/registre/offres"),
    ("Membres et populations", "/registre/membres"),
    ("Périodes et coûts", "/registre/periodes"),
    ("Bons de commande", "/registre/commandes"),
    ("Répartition des coûts", "/registre/repartition"),
];

/// What every registry page carries: the registry's pages, the way back to the staff pages and
/// the logout button (booking-service's, which takes the same CSRF token).
pub fn nav(admin: &Admin, current: &str) -> Markup {
    html! {
        nav.staff-nav aria-label="Navigation du registre" {
            a href="/agents" { "Accueil agents" }
            @for (label, path) in PAGES {
                @if path == current {
                    a href=(path) aria-current="page" { (label) }
                } @else {
                    a href=(path) { (label) }
                }
            }
            (ui::staff_form(
                Some("/agents/deconnexion"),
                &admin.csrf(),
                true,
                html! { button type="submit" class="secondary" { "Se déconnecter" } },
            ))
        }
    }
}

/// A page of the registry with its status (an error's, or 200).
pub fn respond(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, page(title, body)).into_response()
}

/// The message of `error` when it names `field`.
pub fn err_for<'a>(error: Option<&'a ApiError>, field: &str) -> Option<&'a str> {
    error
        .filter(|e| e.field == Some(field))
        .map(|e| e.message.as_str())
}

/// The error of a form that names no field of it, shown above the form.
pub fn form_error(error: Option<&ApiError>, fields: &[&str]) -> Markup {
    html! {
        @if let Some(e) = error.filter(|e| e.field.is_none_or(|f| !fields.contains(&f))) {
            (ui::error(&e.message))
        }
    }
}

/// A labelled text input with its error, the value typed shown again.
pub fn text_field(
    error: Option<&ApiError>,
    id: &str,
    name: &'static str,
    label: &str,
    value: &str,
    kind: Option<&str>,
    required: bool,
) -> Markup {
    let err_id = format!("err-{id}");
    let message = err_for(error, name);
    html! {
        (ui::field_error(&err_id, message))
        (ui::Input {
            id,
            name,
            label,
            kind,
            value: Some(value),
            required,
            error_id: message.map(|_| err_id.as_str()),
            ..ui::Input::default()
        })
    }
}

/// A labelled `select` with its error; `options` are (value, label).
pub fn select_field(
    error: Option<&ApiError>,
    id: &str,
    name: &'static str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
) -> Markup {
    let err_id = format!("err-{id}");
    let message = err_for(error, name);
    html! {
        (ui::field_error(&err_id, message))
        label for=(id) { (label) }
        select id=(id) name=(name) aria-describedby=[message.map(|_| err_id.as_str())]
            aria-invalid=[message.map(|_| "true")] {
            @for (value, text) in options {
                option value=(value) selected[value == selected] { (text) }
            }
        }
    }
}

/// An amount in euros as typed (`1234,56`, `1 234,56 €`, `1234.5`, `1234`) in cents.
pub fn parse_euros(raw: &str) -> Option<i64> {
    let cleaned: String = raw
        .trim()
        .trim_end_matches('€')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202f}' && *c != '\u{a0}')
        .map(|c| if c == '.' { ',' } else { c })
        .collect();
    let (units, decimals) = cleaned.split_once(',').unwrap_or((&cleaned, ""));
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) || units.len() > 13 {
        return None;
    }
    if decimals.len() > 2 || !decimals.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents: i64 = format!("{decimals:0<2}").parse().ok()?;
    units.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents)
}

/// A count with its noun, singular for 0 and 1 as French says it: `1 ligne`, `2 lignes`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n <= 1 { singular } else { plural })
}

/// A date as a French reader reads it: `31/12/2026`.
pub fn french_date(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The registry's home: its pages.
#[utoipa::path(get, path = "/registre", tag = "pages",
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn home(admin: Admin) -> Response {
    let body = html! {
        (nav(&admin, "/registre"))
        p { "Le registre du groupement de commandes : le catalogue des téléservices, les membres et leurs populations, les périodes de coûts, les bons de commande et la répartition des coûts entre les membres." }
        ul {
            @for (label, path) in PAGES {
                li { a href=(path) { (label) } }
            }
        }
    };
    respond(StatusCode::OK, "Registre des téléservices", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_are_read_as_typed() {
        assert_eq!(parse_euros("1234,56"), Some(123_456));
        assert_eq!(parse_euros("1 234,5 €"), Some(123_450));
        assert_eq!(parse_euros("1234.05"), Some(123_405));
        assert_eq!(parse_euros("12"), Some(1200));
        assert_eq!(parse_euros(""), None);
        assert_eq!(parse_euros("-5"), None);
        assert_eq!(parse_euros("1,234"), None);
        assert_eq!(parse_euros("12a"), None);
        assert_eq!(parse_euros("99999999999999999"), None);
    }
}
