//! Server-rendered pages, in French, usable on a phone, with a keyboard and without JavaScript:
//! the citizen's booking journey and management page, and the counter staff's day.
//! They call the same functions as the JSON API, so the rules are the same.
//!
//! # Templates
//!
//! Pages are compiled templates written with [maud](https://maud.lambda.xyz): [`layout::page`]
//! puts the content in the page every page shares (skip link, header, one `h1`, footer), and
//! [`components`] holds the repeated pieces (notices, labelled fields and their errors, slot
//! buttons by day, staff forms with their CSRF token, the staff day table). Every value spliced
//! into a template is escaped; there is no escaping to call by hand, and `PreEscaped` is kept
//! for constant text written here.
//!
//! Why maud rather than askama: the templates are Rust, type-checked with the handler that
//! fills them (a renamed field or a wrong type does not compile); there are no separate template
//! files to keep in sync with the structs that feed them; a component is a plain function
//! returning `Markup`, called like any other; and escaping holds by construction, since text
//! can only enter as a value to render.

pub mod calendar_file;
pub mod charts;
pub mod citizen;
pub mod citizen_data;
pub mod components;
pub mod layout;
pub mod legal;
pub mod password_reset;
pub mod staff;
pub mod staff_account;
pub mod staff_admin;
pub mod staff_appointment;
pub mod staff_counter;
pub mod staff_feed;
pub mod staff_hours;
pub mod staff_platform;
pub mod staff_settings;
pub mod staff_stats;
pub mod waitlist;

pub use layout::page;

use crate::error::ApiError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

/// An error as a page, with the API error's status and message.
pub fn error_page(e: ApiError) -> Response {
    let title = match e.status.as_u16() {
        404 => "Page introuvable",
        409 => "Créneau indisponible",
        410 => "Délai dépassé",
        429 | 503 => "Service très sollicité",
        s if s >= 500 => "Erreur",
        _ => "Demande incorrecte",
    };
    let body = html! {
        (components::error(&e.message))
        p { a href="/" { "Retour à l'accueil" } }
    };
    (e.status, page(title, body)).into_response()
}

/// The home page's one script ("autour de moi"), cached like the stylesheet.
#[utoipa::path(get, path = "/static/near-me.js", tag = "pages", responses((status = 200, content_type = "text/javascript", body = String)))]
pub async fn near_me_script() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/near-me.js"),
    )
        .into_response()
}

/// The stylesheet, cached by browsers for a day (no external CDN: the service runs on closed networks).
#[utoipa::path(get, path = "/static/site.css", tag = "pages", responses((status = 200, content_type = "text/css", body = String)))]
pub async fn stylesheet() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/site.css"),
    )
        .into_response()
}
