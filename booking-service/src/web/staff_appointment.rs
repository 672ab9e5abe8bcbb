//! The agents' pages around one appointment: its page (details, contact, pré-demande numbers with
//! their ANTS state, history, status buttons, the contact form), the move page (the site's free
//! times, one button each, even past the citizen's deadline), the search, and a site's week.
//! Each calls one service function; the forms carry the session's CSRF token.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::db::appointment_history::{HistoryRow, NumberState};
use crate::domain::french;
use crate::domain::motif::Motif;
use crate::domain::status::AppointmentStatus;
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_appointments::{self, StatusChange};
use crate::service::staff_moves::{self, AppointmentSheet, ContactEdit, MoveInput};
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// Back to the login page when the session is missing or over.
fn to_login() -> Response {
    Redirect::to("/agents/connexion").into_response()
}

/// The address of an appointment's page.
fn appointment_url(id: Uuid) -> String {
    format!("/agents/rdv/{id}")
}

/// "1 personne", "3 personnes".
fn persons_text(n: i16) -> String {
    if n > 1 {
        format!("{n} personnes")
    } else {
        format!("{n} personne")
    }
}

/// How the appointment was made, in French.
fn source_label(code: &str) -> &'static str {
    match code {
        "online" => "En ligne",
        "counter" => "Au guichet",
        "phone" => "Par téléphone",
        _ => "Autre",
    }
}

/// A motif stored as text, in French.
fn motif_text(code: &str) -> &'static str {
    code.parse::<Motif>().map_or("Motif inconnu", Motif::label_fr)
}

/// What the check at booking said about a number.
fn check_label(n: &NumberState) -> String {
    match n.ants_check.as_str() {
        "validated" => "validé par l'ANTS à la réservation".into(),
        "overridden" => {
            "signalé par l'ANTS sur un autre rendez-vous, confirmé par l'agent après vérification avec l'usager".into()
        }
        "unchecked" => "ANTS injoignable à la réservation : vérifié au prochain rapprochement".into(),
        "flagged" => format!(
            "signalé par le rapprochement ANTS : {}",
            n.ants_note.as_deref().unwrap_or("sans précision")
        ),
        _ => "non vérifié (pris sans contrôle ANTS)".into(),
    }
}

/// Where the declaration of a number stands.
fn declaration_label(n: &NumberState) -> String {
    let what = match n.last_call.as_deref() {
        Some("ants_declare") => "Déclaration",
        Some("ants_delete") => "Retrait",
        _ => return "Aucune déclaration demandée".into(),
    };
    let state = match n.last_call_status.as_deref() {
        Some("pending") => "en attente d'envoi à l'ANTS",
        Some("sent") => "transmis à l'ANTS",
        Some("failed") => "en échec (voir les courriels et appels en échec)",
        Some("dropped") => "abandonné",
        _ => "état inconnu",
    };
    format!("{what} {state}")
}

/// What ANTS holds for a number, as far as we told it.
fn ants_record(n: &NumberState, tz: Tz) -> String {
    match (&n.declared_date, n.declared_at) {
        (Some(date), Some(at)) => format!(
            "rendez-vous du {} déclaré le {}",
            date.replace('T', " à ").chars().take(22).collect::<String>(),
            at.with_timezone(&tz).format("%d/%m/%Y à %H:%M")
        ),
        _ => "aucun rendez-vous déclaré pour ce numéro".into(),
    }
}

/// A status stored in an audit row's details, in French.
fn status_text(v: &Value) -> &'static str {
    v.as_str()
        .and_then(|s| s.parse::<AppointmentStatus>().ok())
        .map_or("?", AppointmentStatus::label_fr)
}

/// An instant stored in an audit row or an outbox payload, in the site's time zone.
fn instant_text(v: &Value, tz: Tz) -> Option<String> {
    v.as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .map(|at| french::datetime(at, tz))
}

/// A contact field's French name.
fn field_name(code: &str) -> &'static str {
    match code {
        "first_name" => "prénom",
        "last_name" => "nom",
        "email" => "courriel",
        "phone" => "téléphone",
        _ => "autre champ",
    }
}

/// One history event in French: what happened, and its details.
fn event_text(h: &HistoryRow, tz: Tz) -> (String, String) {
    let d = &h.details;
    match (h.origin.as_str(), h.action.as_str()) {
        ("audit", "status_change") => {
            let what = format!("Statut : {} → {}", status_text(&d["from"]), status_text(&d["to"]));
            let reason = d["reason"]
                .as_str()
                .map(|r| format!("Motif : {r}"))
                .unwrap_or_default();
            (what, reason)
        }
        ("audit", "staff_move") => {
            let from = instant_text(&d["from"], tz).unwrap_or_default();
            let to = instant_text(&d["to"], tz).unwrap_or_default();
            let late = if d["past_citizen_deadline"].as_bool() == Some(true) {
                " (après le délai de l'usager)"
            } else {
                ""
            };
            ("Déplacé par la mairie".into(), format!("Du {from} au {to}{late}"))
        }
        ("audit", "contact_edit") => {
            let fields: Vec<&str> = d["fields"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(field_name).collect())
                .unwrap_or_default();
            ("Coordonnées corrigées".into(), fields.join(", "))
        }
        ("audit", "counter_booking") => {
            let how = source_label(d["source"].as_str().unwrap_or_default());
            ("Pris par la mairie".into(), how.to_string())
        }
        ("audit", "outbox_retry") => ("Envoi relancé par un administrateur".into(), String::new()),
        ("audit", _) => ("Action d'un agent".into(), String::new()),
        (_, "confirmation") if d.get("resent").is_some() => {
            ("Confirmation envoyée à la nouvelle adresse".into(), String::new())
        }
        (_, "confirmation") => ("Courriel de confirmation à l'usager".into(), String::new()),
        (_, "reschedule") => {
            let before = instant_text(&d["previous_start"], tz)
                .map(|t| format!("Ancien horaire : {t}"))
                .unwrap_or_default();
            ("Courriel de déplacement à l'usager".into(), before)
        }
        (_, "cancellation") => {
            let by = if d["by"].as_str() == Some("citizen") {
                "Annulé par l'usager"
            } else {
                "Annulé par la mairie"
            };
            let reason = d["reason"]
                .as_str()
                .map(|r| format!("Motif : {r}"))
                .unwrap_or_default();
            (by.into(), reason)
        }
        _ => ("Autre événement".into(), String::new()),
    }
}

/// What a page shows besides the appointment: a notice of what just worked, and errors next to
/// the form they belong to.
#[derive(Debug, Default)]
struct Notes<'a> {
    done: Option<&'a str>,
    /// An error of the contact form: the field it names, and the message.
    contact_error: Option<(&'a str, &'a str)>,
    /// What was typed in the contact form, shown again after an error.
    typed: Option<&'a ContactForm>,
    status_error: Option<&'a str>,
}

/// The next steps staff may take from a status (cancelling has its own form, with its reason).
fn next_steps(status: AppointmentStatus) -> Vec<(AppointmentStatus, &'static str)> {
    status
        .staff_marks()
        .map(|to| {
            let label = match to {
                AppointmentStatus::CheckedIn => "Marquer arrivé",
                AppointmentStatus::Done => "Marquer terminé",
                _ => "Marquer absent",
            };
            (to, label)
        })
        .collect()
}

/// The appointment's page.
fn appointment_page(token: &str, s: &AppointmentSheet, notes: &Notes) -> Markup {
    let (a, tz) = (&s.appointment, s.tz);
    let token_csrf = csrf(token);
    let status_action = format!("{}/statut", appointment_url(a.id));
    let contact_action = format!("{}/coordonnees", appointment_url(a.id));
    let err_for = |field: &str| notes.contact_error.filter(|(f, _)| *f == field).map(|(_, m)| m);
    let contact_err_id = |field: &str| err_for(field).map(|_| "err-contact");
    let typed = |field: &str, stored: Option<&str>| -> String {
        match notes.typed {
            Some(f) => match field {
                "first_name" => f.first_name.clone(),
                "last_name" => f.last_name.clone(),
                "email" => f.email.clone(),
                _ => f.phone.clone(),
            },
            None => stored.unwrap_or_default().to_string(),
        }
    };
    let (first, last, email, phone) = (
        typed("first_name", Some(&a.first_name)),
        typed("last_name", Some(&a.last_name)),
        typed("email", a.email.as_deref()),
        typed("phone", a.phone.as_deref()),
    );
    let created = HistoryRow {
        at: a.created_at,
        origin: "created".into(),
        action: "created".into(),
        details: Value::Null,
        actor: None,
    };
    html! {
        (logout_button(token))
        @if let Some(done) = notes.done {
            (ui::success(done))
        }
        p {
            a href={ "/agents/lieux/" (a.site_id) "?jour=" (a.start.with_timezone(&tz).date_naive()) } { "Journée du rendez-vous" }
            " · "
            a href="/agents/recherche" { "Rechercher un autre rendez-vous" }
        }
        h2 { "Rendez-vous" }
        div.table-scroll role="region" aria-label="Détails du rendez-vous" tabindex="0" {
            table {
                caption { "Rendez-vous " (a.reference) }
                tbody {
                    tr { th scope="row" { "Référence" } td { (a.reference) } }
                    tr { th scope="row" { "Date et heure" } td { (french::datetime(a.start, tz)) " – " (a.end.with_timezone(&tz).format("%H:%M")) } }
                    tr { th scope="row" { "Lieu" } td { (a.site_name) } }
                    tr { th scope="row" { "Poste" } td { (a.station_name) } }
                    tr { th scope="row" { "Motif" } td { (a.motif.label_fr()) } }
                    tr { th scope="row" { "Personnes" } td { (persons_text(a.persons.as_i16())) } }
                    tr { th scope="row" { "Statut" } td { (a.status.label_fr())
                        @if let Some(reason) = &a.cancel_reason { " (" (reason) ")" } } }
                    tr { th scope="row" { "Origine" } td { (source_label(&a.source)) } }
                    tr { th scope="row" { "Délai de l'usager" } td {
                        "Modifiable en ligne par l'usager jusqu'au " (french::datetime(s.citizen_deadline, tz))
                    } }
                    @if let Some(at) = a.presence_confirmed_at {
                        tr { th scope="row" { "Venue" } td { "confirmée par l'usager le " (french::datetime(at, tz)) } }
                    } @else if let Some(by) = a.confirm_by {
                        tr { th scope="row" { "Venue" } td {
                            "à confirmer par l'usager avant le " (french::datetime(by, tz))
                            " (absences répétées) : sinon le créneau est proposé à la liste d'attente"
                        } }
                    }
                }
            }
        }
        @if a.confirm_by.is_some() && a.presence_confirmed_at.is_none() && a.status == AppointmentStatus::Booked {
            (ui::staff_form(Some(&format!("{}/lever-confirmation", appointment_url(a.id))), &token_csrf, false, html! {
                button type="submit" class="secondary" { "Ne pas exiger de confirmation" }
            }))
        }
        @if s.movable {
            p { a.button href={ (appointment_url(a.id)) "/deplacer" } { "Déplacer le rendez-vous" } }
        }
        @if !next_steps(a.status).is_empty() || a.status.staff_may_set(AppointmentStatus::Cancelled) {
            h2 { "Changer le statut" }
            (ui::field_error("err-status", notes.status_error))
            @for (to, label) in next_steps(a.status) {
                (ui::staff_form(Some(&status_action), &token_csrf, true, html! {
                    (ui::hidden("status", to.code()))
                    button type="submit" { (label) }
                }))
                " "
            }
            @if a.status.staff_may_set(AppointmentStatus::Cancelled) {
                (ui::staff_form(Some(&status_action), &token_csrf, false, html! {
                    (ui::hidden("status", AppointmentStatus::Cancelled.code()))
                    (Input {
                        id: "motif-annulation",
                        name: "reason",
                        label: "Motif d'annulation (envoyé à l'usager)",
                        required: true,
                        maxlength: Some(500),
                        error_id: notes.status_error.map(|_| "err-status"),
                        ..Input::default()
                    })
                    button type="submit" class="secondary" { "Annuler le rendez-vous" }
                }))
            }
        }
        h2 { "Coordonnées" }
        div.table-scroll role="region" aria-label="Coordonnées de l'usager" tabindex="0" {
            table {
                caption { "Coordonnées de l'usager" }
                tbody {
                    tr { th scope="row" { "Prénom" } td { (a.first_name) } }
                    tr { th scope="row" { "Nom" } td { (a.last_name) } }
                    tr { th scope="row" { "Courriel" } td { (a.email.as_deref().unwrap_or("non renseigné")) } }
                    tr { th scope="row" { "Téléphone" } td { (a.phone.as_deref().unwrap_or("non renseigné")) } }
                }
            }
        }
        h3 { "Corriger les coordonnées" }
        (ui::staff_form(Some(&contact_action), &token_csrf, false, html! {
            @if let Some((_, message)) = notes.contact_error {
                (ui::field_error("err-contact", Some(message)))
            }
            (Input { id: "c-prenom", name: "first_name", label: "Prénom", value: Some(&first), required: true,
                     maxlength: Some(100), autocomplete: Some("off"), error_id: contact_err_id("first_name"), ..Input::default() })
            (Input { id: "c-nom", name: "last_name", label: "Nom", value: Some(&last), required: true,
                     maxlength: Some(100), autocomplete: Some("off"), error_id: contact_err_id("last_name"), ..Input::default() })
            (Input { id: "c-email", name: "email", label: "Courriel (vide : aucun)", kind: Some("email"), value: Some(&email),
                     autocomplete: Some("off"), error_id: contact_err_id("email"), ..Input::default() })
            (Input { id: "c-tel", name: "phone", label: "Téléphone (vide : aucun)", kind: Some("tel"), value: Some(&phone),
                     autocomplete: Some("off"), error_id: contact_err_id("phone"), ..Input::default() })
            p.hint { "Une nouvelle adresse reçoit la confirmation avec le lien de gestion." }
            button type="submit" { "Enregistrer les coordonnées" }
        }))
        h2 { "Numéros de pré-demande" }
        @if s.numbers.is_empty() {
            p { "Aucun numéro de pré-demande." }
        } @else {
            div.table-scroll role="region" aria-label="Numéros de pré-demande" tabindex="0" {
                table {
                    caption { "Numéros et leur état auprès de l'ANTS" }
                    thead {
                        tr {
                            th scope="col" { "Numéro" }
                            th scope="col" { "Vérification" }
                            th scope="col" { "Déclaration" }
                            th scope="col" { "Connu de l'ANTS" }
                        }
                    }
                    tbody {
                        @for n in &s.numbers {
                            tr {
                                th scope="row" { (n.number) @if !n.live { " (libéré)" } }
                                td { (check_label(n)) }
                                td { (declaration_label(n)) }
                                td { (ants_record(n, tz)) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Historique" }
        div.table-scroll role="region" aria-label="Historique" tabindex="0" {
            table {
                caption { "Historique, du plus récent au plus ancien" }
                thead {
                    tr {
                        th scope="col" { "Quand" }
                        th scope="col" { "Événement" }
                        th scope="col" { "Détails" }
                        th scope="col" { "Par" }
                    }
                }
                tbody {
                    @for h in s.history.iter().chain(std::iter::once(&created)) {
                        @let (what, detail) = if h.origin == "created" {
                            (format!("Rendez-vous pris ({})", source_label(&a.source).to_lowercase()), String::new())
                        } else {
                            event_text(h, tz)
                        };
                        tr {
                            td { (h.at.with_timezone(&tz).format("%d/%m/%Y %H:%M")) }
                            td { (what) }
                            td { (detail) }
                            td { (h.actor.as_deref().unwrap_or(if h.origin == "audit" { "un agent" } else { "—" })) }
                        }
                    }
                }
            }
        }
    }
}

/// What the appointment page was sent here after.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AppointmentQuery {
    /// `deplace`, `coordonnees`, `statut` or `confirmation`: what just worked.
    fait: Option<String>,
}

/// An appointment's page.
#[utoipa::path(get, path = "/agents/rdv/{appointment_id}", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous"), AppointmentQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, description = "Inconnu ou d'une autre commune")))]
pub async fn show(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<AppointmentQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return to_login();
    };
    let id = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let s = match staff_moves::sheet(&state, &staff.user, id).await {
        Ok(s) => s,
        Err(e) => return error_page(e.into()),
    };
    let done = match q.fait.as_deref() {
        Some("deplace") => Some("Rendez-vous déplacé. L'usager en est prévenu par courriel s'il en a un."),
        Some("coordonnees") => Some("Coordonnées enregistrées."),
        Some("statut") => Some("Statut enregistré."),
        Some("confirmation") => Some("Confirmation de présence levée : le rendez-vous ne sera pas libéré."),
        _ => None,
    };
    let notes = Notes {
        done,
        ..Notes::default()
    };
    let title = format!(
        "Rendez-vous de {} {}",
        s.appointment.first_name, s.appointment.last_name
    );
    page(&title, appointment_page(&staff.token, &s, &notes)).into_response()
}

/// A page's error next to its form: the appointment page again, with the error.
async fn page_with(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    status: StatusCode,
    notes: &Notes<'_>,
) -> Response {
    match staff_moves::sheet(state, &staff.user, id).await {
        Ok(s) => {
            let title = format!(
                "Rendez-vous de {} {}",
                s.appointment.first_name, s.appointment.last_name
            );
            (status, page(&title, appointment_page(&staff.token, &s, notes))).into_response()
        }
        Err(e) => error_page(e.into()),
    }
}

/// A status button of the appointment page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    /// Required to cancel: told to the citizen.
    reason: Option<String>,
}

/// Applies a status button of the appointment page, then back to it.
#[utoipa::path(post, path = "/agents/rdv/{appointment_id}/statut", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    request_body(content = StatusForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour au rendez-vous"), (status = 403, description = "Jeton CSRF invalide"),
              (status = 409, content_type = "text/html", body = String), (status = 422, content_type = "text/html", body = String)))]
pub async fn status_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let change = StatusChange {
        appointment: id,
        status: f.status.clone(),
        reason: f.reason.clone(),
    };
    match staff_appointments::set_status(&state, &staff.user, &change).await {
        Ok(_) => Redirect::to(&format!("{}?fait=statut", appointment_url(id))).into_response(),
        Err(e @ (ServiceError::Invalid { .. } | ServiceError::InvalidTransition { .. })) => {
            let message = match &e {
                ServiceError::InvalidTransition { .. } => {
                    "Ce changement de statut n'est plus possible : la page a été rechargée.".to_string()
                }
                _ => ApiError::from(e).message,
            };
            let notes = Notes {
                status_error: Some(&message),
                ..Notes::default()
            };
            page_with(&state, &staff, id, StatusCode::UNPROCESSABLE_ENTITY, &notes).await
        }
        Err(e) => error_page(e.into()),
    }
}

/// A form carrying only its CSRF token.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Lifts the no-show policy's confirmation from the appointment page.
#[utoipa::path(post, path = "/agents/rdv/{appointment_id}/lever-confirmation", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour au rendez-vous"), (status = 403, description = "Jeton CSRF invalide")))]
pub async fn lift_confirmation_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    match staff_moves::lift_confirmation(&state, &staff.user, id).await {
        Ok(_) => Redirect::to(&format!("{}?fait=confirmation", appointment_url(id))).into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// The contact form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// Corrects the citizen's contact from the appointment page (an emptied email or phone is removed).
#[utoipa::path(post, path = "/agents/rdv/{appointment_id}/coordonnees", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    request_body(content = ContactForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour au rendez-vous"), (status = 403, description = "Jeton CSRF invalide"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn contact_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<ContactForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let edit = ContactEdit {
        first_name: Some(f.first_name.clone()),
        last_name: Some(f.last_name.clone()),
        email: Some(f.email.clone()),
        phone: Some(f.phone.clone()),
    };
    match staff_moves::edit_contact(&state, &staff.user, id, &edit).await {
        Ok(_) => Redirect::to(&format!("{}?fait=coordonnees", appointment_url(id))).into_response(),
        Err(ServiceError::Invalid { field, message, .. })
        | Err(ServiceError::Malformed { field, message, .. }) => {
            // The service names fields as the API does; the form's are flat.
            let field = match field.unwrap_or("") {
                f if f.ends_with("email") => "email",
                f if f.ends_with("phone") => "phone",
                f if f.ends_with("first_name") => "first_name",
                _ => "last_name",
            };
            let notes = Notes {
                contact_error: Some((field, &message)),
                typed: Some(&f),
                ..Notes::default()
            };
            page_with(&state, &staff, id, StatusCode::UNPROCESSABLE_ENTITY, &notes).await
        }
        Err(e) => error_page(e.into()),
    }
}

/// A refused move as a page: a status said in French (the API's message names its code).
fn refusal_page(e: ServiceError) -> Response {
    match e {
        ServiceError::NotModifiable { status } => {
            let mut err = ApiError::from(ServiceError::NotModifiable { status });
            err.message = format!(
                "Ce rendez-vous ne peut plus être déplacé : il est {}.",
                status.label_fr()
            );
            error_page(err)
        }
        other => error_page(other.into()),
    }
}

/// Which days the move page shows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MoveQuery {
    /// First day shown (`YYYY-MM-DD`, default today); seven days from it.
    debut: Option<String>,
}

/// The move page: the appointment now, then the site's free times over seven days, one button each.
async fn move_page_with(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    from: Option<NaiveDate>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (sheet, found) = match staff_moves::move_options(state, &staff.user, id, from, Some(7)).await {
        Ok(x) => x,
        Err(e) => return refusal_page(e),
    };
    let (a, tz) = (&sheet.appointment, sheet.tz);
    let now = state.clock.now();
    let token = csrf(&staff.token);
    let action = format!("{}/deplacer", appointment_url(id));
    let week = |d: NaiveDate| format!("{action}?debut={d}");
    // Free times by local day, in order.
    let mut days: Vec<(NaiveDate, Vec<DateTime<Utc>>)> = Vec::new();
    for s in &found.slots {
        let start = s.start.with_timezone(&Utc);
        let day = s.start.date_naive();
        match days.last_mut() {
            Some((d, times)) if *d == day => times.push(start),
            _ => days.push((day, vec![start])),
        }
    }
    let body = html! {
        (logout_button(&staff.token))
        p { a href=(appointment_url(id)) { "Retour au rendez-vous" } }
        (ui::field_error("err-move", error))
        p {
            "Actuellement : " (french::datetime(a.start, tz)) ", " (a.site_name) ", "
            (a.motif.label_fr()) ", " (persons_text(a.persons.as_i16())) "."
        }
        @if now > sheet.citizen_deadline {
            (ui::info("Le délai de l'usager est passé : il ne peut plus le déplacer lui-même, la mairie le peut."))
        }
        p {
            a href=(week(found.from - Duration::days(7))) { "7 jours précédents" }
            " · "
            a href=(week(found.to + Duration::days(1))) { "7 jours suivants" }
        }
        @if days.is_empty() {
            p { "Aucun horaire libre du " (found.from.format("%d/%m/%Y")) " au " (found.to.format("%d/%m/%Y")) "." }
        }
        @for (day, times) in &days {
            @let label = french::day_label(times[0], tz);
            h2 { (label) }
            ul.slots {
                @for t in times {
                    li {
                        (ui::staff_form(Some(&action), &token, false, html! {
                            (ui::hidden("start", t.with_timezone(&tz).to_rfc3339()))
                            (ui::hidden("debut", day))
                            button type="submit" aria-label={ "Déplacer au " (french::datetime(*t, tz)) } {
                                (t.with_timezone(&tz).format("%H:%M"))
                            }
                        }))
                    }
                }
            }
        }
    };
    let title = format!("Déplacer le rendez-vous de {} {}", a.first_name, a.last_name);
    (status, page(&title, body)).into_response()
}

/// The move page: the site's free times for the appointment's motif and persons, even inside the
/// citizen's deadline.
#[utoipa::path(get, path = "/agents/rdv/{appointment_id}/deplacer", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous"), MoveQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, description = "Inconnu ou d'une autre commune"), (status = 409, description = "Non déplaçable")))]
pub async fn move_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<MoveQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return to_login();
    };
    let (id, from) = match (
        params::uuid(&id, "appointment_id"),
        params::date(q.debut.as_deref(), "debut"),
    ) {
        (Ok(i), Ok(d)) => (i, d),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    move_page_with(&state, &staff, id, from, None, StatusCode::OK).await
}

/// A time picked on the move page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    start: String,
    /// The day the page showed first, to show the same days again after a refusal.
    debut: Option<String>,
}

/// Moves the appointment to the picked time, then back to its page; a time taken meanwhile shows
/// the free times again with the reason.
#[utoipa::path(post, path = "/agents/rdv/{appointment_id}/deplacer", tag = "pages",
    params(("appointment_id" = String, Path, description = "Rendez-vous")),
    request_body(content = MoveForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour au rendez-vous"), (status = 403, description = "Jeton CSRF invalide"),
              (status = 409, content_type = "text/html", body = String), (status = 422, content_type = "text/html", body = String)))]
pub async fn move_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<MoveForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (id, start) = match (
        params::uuid(&id, "appointment_id"),
        params::instant(&f.start, "start"),
    ) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let from = params::date(f.debut.as_deref(), "debut").ok().flatten();
    let input = MoveInput {
        start,
        station_id: None,
    };
    match staff_moves::move_appointment(&state, &staff.user, id, &input).await {
        Ok(_) => Redirect::to(&format!("{}?fait=deplace", appointment_url(id))).into_response(),
        Err(e @ ServiceError::NotModifiable { .. }) => refusal_page(e),
        Err(e @ (ServiceError::SlotTaken { .. } | ServiceError::SlotNotOffered)) => {
            let status = if matches!(e, ServiceError::SlotTaken { .. }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let message = "Cet horaire n'est plus libre : choisissez-en un autre ci-dessous.";
            move_page_with(&state, &staff, id, from, Some(message), status).await
        }
        Err(e) => error_page(e.into()),
    }
}

/// What to look for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// A name, an email, a reference or a pré-demande number (3 to 100 characters).
    q: Option<String>,
}

/// The search of one's commune's appointments, each result linking to its page.
#[utoipa::path(get, path = "/agents/recherche", tag = "pages", params(SearchQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 400, content_type = "text/html", body = String)))]
pub async fn search(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return to_login();
    };
    let text = q.q.as_deref().map(str::trim).unwrap_or("");
    let (found, error) = if text.is_empty() {
        (None, None)
    } else {
        match staff_moves::search(&state, &staff.user, text).await {
            Ok(f) => (Some(f), None),
            Err(e @ (ServiceError::Malformed { .. } | ServiceError::Invalid { .. })) => {
                (None, Some(ApiError::from(e).message))
            }
            Err(e) => return error_page(e.into()),
        }
    };
    let body = html! {
        (logout_button(&staff.token))
        form method="get" action="/agents/recherche" role="search" {
            (ui::field_error("err-q", error.as_deref()))
            (Input {
                id: "q",
                name: "q",
                label: "Nom, courriel, référence ou numéro de pré-demande",
                kind: Some("search"),
                value: Some(text),
                required: true,
                minlength: Some(3),
                maxlength: Some(100),
                error_id: error.as_ref().map(|_| "err-q"),
                ..Input::default()
            })
            button type="submit" { "Rechercher" }
        }
        @if let Some(found) = &found {
            @if found.is_empty() {
                p role="status" { "Aucun rendez-vous ne correspond à « " (text) " »." }
            } @else {
                div.table-scroll role="region" aria-label="Résultats" tabindex="0" {
                    table {
                        caption { (found.len()) " rendez-vous pour « " (text) " », du plus récent au plus ancien" }
                        thead {
                            tr {
                                th scope="col" { "Usager" }
                                th scope="col" { "Date" }
                                th scope="col" { "Lieu" }
                                th scope="col" { "Motif" }
                                th scope="col" { "Statut" }
                                th scope="col" { "Référence" }
                            }
                        }
                        tbody {
                            @for f in found {
                                @let r = &f.row;
                                tr {
                                    th scope="row" { a href=(appointment_url(r.id)) { (r.first_name) " " (r.last_name) } }
                                    td { (french::datetime(r.start_utc, f.tz)) }
                                    td { (f.site_name) }
                                    td { (motif_text(&r.motif)) ", " (persons_text(r.persons)) }
                                    td { (r.status.label_fr()) }
                                    td { (r.reference) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, page("Rechercher un rendez-vous", body)).into_response()
}

/// Which week.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WeekQuery {
    /// First day (`YYYY-MM-DD`); default the Monday of this week.
    debut: Option<String>,
}

/// Midday: a day's label is taken from an instant inside it, whatever the clock change.
const NOON: chrono::NaiveTime = match chrono::NaiveTime::from_hms_opt(12, 0, 0) {
    Some(t) => t,
    None => chrono::NaiveTime::MIN,
};

/// A site's week: one table per day, each appointment linking to its page.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/semaine", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), WeekQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn week(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<WeekQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return to_login();
    };
    let (site_id, from) = match (
        params::uuid(&site_id, "site_id"),
        params::date(q.debut.as_deref(), "debut"),
    ) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let w = match staff_moves::week(&state, &staff.user, site_id, from).await {
        Ok(w) => w,
        Err(e) => return error_page(e.into()),
    };
    let tz = w.agenda.tz;
    let link = |d: NaiveDate| format!("/agents/lieux/{}/semaine?debut={d}", w.site.id);
    let days: Vec<NaiveDate> = (0..7).map(|i| w.from + Duration::days(i)).collect();
    let body = html! {
        (logout_button(&staff.token))
        p {
            a href=(link(w.from - Duration::days(7))) { "Semaine précédente" }
            " · "
            a href=(link(w.from + Duration::days(7))) { "Semaine suivante" }
            " · "
            a href={ "/agents/lieux/" (w.site.id) "?jour=" (w.from) } { "Journée" }
        }
        @for day in &days {
            @let entries: Vec<_> = w.agenda.entries.iter()
                .filter(|e| e.start_utc.with_timezone(&tz).date_naive() == *day).collect();
            @let label = french::day_label(crate::domain::tz::resolve_local(tz, day.and_time(NOON)), tz);
            h2 { a href={ "/agents/lieux/" (w.site.id) "?jour=" (day) } { (label) } }
            @if entries.is_empty() {
                p { "Aucun rendez-vous." }
            } @else {
                div.table-scroll role="region" aria-label=(label) tabindex="0" {
                    table {
                        caption { (entries.len()) " rendez-vous le " (label) }
                        thead {
                            tr {
                                th scope="col" { "Heure" }
                                th scope="col" { "Usager" }
                                th scope="col" { "Poste" }
                                th scope="col" { "Motif" }
                                th scope="col" { "Statut" }
                            }
                        }
                        tbody {
                            @for e in &entries {
                                tr {
                                    th scope="row" { (e.start_utc.with_timezone(&tz).format("%H:%M")) }
                                    td { a href=(appointment_url(e.id)) { (e.first_name) " " (e.last_name) } }
                                    td { (e.station_name) }
                                    td { (motif_text(&e.motif)) ", " (persons_text(e.persons)) }
                                    td { (e.status.label_fr()) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = format!(
        "{} : semaine du {}",
        w.site.name,
        french::day_label(crate::domain::tz::resolve_local(tz, w.from.and_time(NOON)), tz)
    );
    page(&title, body).into_response()
}
