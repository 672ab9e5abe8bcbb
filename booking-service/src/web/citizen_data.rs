//! The citizen's data through their management link: the download of everything kept about them,
//! and erasure with a confirmation step. Same service functions as `/api/v1/manage/{token}/data`
//! and `…/erase`.

use super::components as ui;
use super::{error_page, page};
use crate::app::AppState;
use crate::domain::french::datetime;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::Path;
use crate::service::{citizen_data, management};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use maud::html;

/// The download: the same JSON as the API, as a file.
#[utoipa::path(get, path = "/rdv/{token}/donnees", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "application/json", body = String), (status = 404, description = "Lien inconnu ou données effacées")))]
pub async fn download(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let data = match citizen_data::export(&state, &token).await {
        Ok(d) => d,
        Err(e) => return error_page(e.into()),
    };
    let body = match serde_json::to_string_pretty(&data) {
        Ok(b) => b,
        Err(e) => {
            return error_page(crate::service::ServiceError::Internal(e.to_string()).into());
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mes-donnees-rendez-vous.json\"",
            ),
        ],
        body,
    )
        .into_response()
}

/// What erasure will do, and the button that does it.
#[utoipa::path(get, path = "/rdv/{token}/effacer", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu ou données effacées")))]
pub async fn erase_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let m = match management::find(&state, &token).await {
        Ok(m) => m,
        Err(e) => return error_page(e.into()),
    };
    let a = &m.appointment;
    let live = a.status.is_live();
    let body = html! {
        p {
            "Vous pouvez demander l'effacement de vos données personnelles liées au rendez-vous du "
            (datetime(a.start, m.tz)) " à " (a.site_name) " (référence " (a.reference) ")."
        }
        h2 { "Ce qui sera effacé" }
        ul {
            li { "vos nom et prénom, votre adresse électronique et votre téléphone ;" }
            li { "vos numéros de pré-demande, une fois leur retrait transmis à l'ANTS ;" }
            li { "les messages qui vous ont été adressés et les commentaires des agents sur ce rendez-vous." }
        }
        p {
            "Seuls restent, sans aucune donnée sur vous, la date, le lieu, le motif et le statut du rendez-vous, "
            "pour les statistiques de la mairie. Ce lien ne donnera plus accès à rien. "
            "Pensez à " a href={ "/rdv/" (token) "/donnees" } { "télécharger vos données" } " avant, si vous souhaitez en garder une copie."
        }
        @if live && m.can_change {
            (ui::warning(html! {
                "Ce rendez-vous est à venir : il sera d'abord annulé et le créneau proposé à quelqu'un d'autre."
            }))
        }
        @if live && !m.can_change {
            (ui::info(
                "Ce rendez-vous est trop proche pour être annulé en ligne : contactez la mairie, ou revenez après le rendez-vous pour effacer vos données."
            ))
        } @else {
            form method="post" action={ "/rdv/" (token) "/effacer" } {
                button type="submit" { "Oui, effacer mes données" }
            }
        }
        p { a href={ "/rdv/" (token) } { "Non, revenir au rendez-vous" } }
    };
    page("Effacer mes données", body).into_response()
}

/// Erases and says what was done.
#[utoipa::path(post, path = "/rdv/{token}/effacer", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu ou données effacées"),
              (status = 409, description = "Rendez-vous trop proche pour être annulé en ligne")))]
pub async fn erase_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    let done = match citizen_data::erase(&state, &token).await {
        Ok(d) => d,
        Err(e) => return error_page(e.into()),
    };
    let body = html! {
        (ui::success(html! {
            @if done.cancelled { "Votre rendez-vous est annulé et vos données sont effacées." }
            @else { "Vos données sont effacées." }
        }))
        p {
            "Vos numéros de pré-demande seront effacés dès que leur retrait aura été transmis à l'ANTS. "
            "Le lien de gestion ne donne plus accès à rien."
        }
        p { a href="/" { "Prendre un autre rendez-vous" } }
    };
    page("Données effacées", body).into_response()
}
