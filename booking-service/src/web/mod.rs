//! Server-rendered pages, in French, usable on a phone, with a keyboard and without JavaScript:
//! the citizen's booking journey and management page, and the counter staff's day.
//! They call the same functions as the JSON API, so the rules are the same.

pub mod calendar_file;
pub mod citizen;
pub mod staff;

use crate::error::ApiError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A whole page: language, viewport, one `h1`, the shared stylesheet.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} – Rendez-vous CNI et passeport</title><link rel=\"stylesheet\" href=\"/static/site.css\"></head>\
         <body><header><a href=\"/\">Rendez-vous carte d'identité et passeport</a></header>\
         <main id=\"contenu\"><h1>{t}</h1>{body}</main>\
         <footer class=\"hint\">Service des mairies de Mulhouse Alsace Agglomération, ouvert à tous.</footer></body></html>",
        t = esc(title)
    ))
}

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
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Retour à l'accueil</a></p>",
        esc(&e.message)
    );
    (e.status, page(title, &body)).into_response()
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
