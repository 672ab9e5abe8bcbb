//! The citizen's pages: search, a site's free times, the held slot's form, confirmation, and the
//! management page behind the email link (see, cancel, move). The ANTS `callback_url` lands on
//! `/reserver`, which holds the slot if it is still free.

use super::{error_page, esc, page};
use crate::app::AppState;
use crate::db::appointments::AppointmentView;
use crate::domain::motif::Motif;
use crate::error::ApiError;
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::service::availability::{self, SlotsQuery};
use crate::service::booking::{self, CitizenInput, ConfirmInput};
use crate::service::holds::{self, HoldInput};
use crate::service::{management, Alternative, ServiceError};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;

fn day_label(at: DateTime<Utc>, tz: Tz) -> String {
    crate::domain::french::day_label(at, tz)
}

fn when(at: DateTime<Utc>, tz: Tz) -> String {
    crate::domain::french::datetime(at, tz)
}

/// Home: search by commune or postcode.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn home() -> Html<String> {
    page(
        "Prendre rendez-vous pour une carte d'identité ou un passeport",
        "<p>Cherchez une mairie par le nom de la commune ou son code postal. Vous pouvez prendre rendez-vous \
         dans n'importe quelle mairie équipée, quelle que soit votre commune.</p>\
         <form method=\"get\" action=\"/recherche\" role=\"search\"><label for=\"q\">Commune ou code postal</label>\
         <input id=\"q\" name=\"q\" required autocomplete=\"address-level2\"><button type=\"submit\">Rechercher</button></form>",
    )
}

/// A search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    q: Option<String>,
}

/// Sites matching a commune name or postcode, and their earliest free times.
#[utoipa::path(get, path = "/recherche", tag = "pages", params(SearchQuery), responses((status = 200, content_type = "text/html", body = String)))]
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> Response {
    let text = q.q.unwrap_or_default();
    let trimmed = text.trim();
    let found = match availability::search(&state, trimmed).await {
        Ok(f) => f,
        Err(e) => return error_page(e.into()),
    };
    let (communes, sites) = (&found.communes, &found.sites);
    let mut body = format!("<p>Résultats pour « {} ».</p>", esc(trimmed));
    let earliest: Vec<(DateTime<Utc>, String, uuid::Uuid, Tz)> = found
        .earliest
        .iter()
        .map(|e| (e.slot.start.with_timezone(&Utc), e.site.name.clone(), e.site.id, e.slot.start.timezone()))
        .collect();
    if !earliest.is_empty() {
        body.push_str(
            "<h2>Les premiers créneaux libres (carte d'identité, une personne)</h2><ul class=\"slots\">",
        );
        for (start, name, site_id, tz) in earliest.iter().take(6) {
            body.push_str(&format!(
                "<li><form method=\"post\" action=\"/reserver\"><input type=\"hidden\" name=\"site_id\" value=\"{site_id}\">\
                 <input type=\"hidden\" name=\"motif\" value=\"CNI\"><input type=\"hidden\" name=\"persons\" value=\"1\">\
                 <input type=\"hidden\" name=\"start\" value=\"{}\"><button type=\"submit\">{}</button></form></li>",
                esc(&start.to_rfc3339()),
                esc(&format!("{} – {}", when(*start, *tz), name))
            ));
        }
        body.push_str("</ul><p class=\"hint\">Pour un autre motif ou plusieurs personnes, choisissez une mairie ci-dessous.</p>");
    }
    body.push_str("<h2>Mairies</h2>");
    let mut any = false;
    for c in communes {
        let here: Vec<_> = sites.iter().filter(|s| s.commune_insee == c.insee_code).collect();
        if here.is_empty() {
            continue;
        }
        any = true;
        body.push_str(&format!("<h3>{}</h3><ul>", esc(&c.name)));
        for s in here {
            body.push_str(&format!(
                "<li><a href=\"/lieux/{}\">{}</a> – {}</li>",
                s.id,
                esc(&s.name),
                esc(&format!("{}, {} {}", s.address_line, s.postcode, s.city))
            ));
        }
        body.push_str("</ul>");
    }
    if !any {
        body.push_str("<p>Aucune mairie équipée ne correspond. Essayez le nom d'une commune voisine, ou <a href=\"/recherche?q=\">voyez toutes les mairies</a>.</p>");
    }
    page("Mairies où prendre rendez-vous", &body).into_response()
}

/// Which motif, how many persons, and (when moving) which appointment.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SiteQuery {
    motif: Option<String>,
    persons: Option<String>,
    /// Management token of an appointment being moved.
    deplacer: Option<String>,
}

/// A site's free times for the next two weeks, by day.
#[utoipa::path(get, path = "/lieux/{site_id}", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), SiteQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lieu inconnu")))]
pub async fn site_page(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    Query(q): Query<SiteQuery>,
) -> Response {
    match site_body(&state, &site_id, &q).await {
        Ok((title, body)) => page(&title, &body).into_response(),
        Err(e) => error_page(e),
    }
}

async fn site_body(state: &AppState, site_id: &str, q: &SiteQuery) -> Result<(String, String), ApiError> {
    let query = SlotsQuery {
        site_id: params::uuid(site_id, "site_id")?,
        motif: params::motif(q.motif.as_deref(), Motif::Cni)?,
        persons: params::persons(q.persons.as_deref())?,
        from: None,
        to: None,
        open_ended_days: 21,
    };
    let found = availability::site_slots(state, &query).await?;
    let (site, tz, setting, motif, persons) = (found.site, found.tz, found.setting, query.motif, query.persons);
    let settings = found.offered;
    let slots = found.slots;
    let moving = q.deplacer.as_deref().filter(|t| !t.is_empty());
    let mut body = format!(
        "<p>{}</p>",
        esc(&format!("{}, {} {}", site.address_line, site.postcode, site.city))
    );
    body.push_str(
        "<form method=\"get\"><label for=\"motif\">Motif</label><select id=\"motif\" name=\"motif\">",
    );
    for m in &settings {
        let sel = if m.motif == motif { " selected" } else { "" };
        body.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            m.motif.code(),
            esc(m.motif.label_fr())
        ));
    }
    body.push_str(&format!(
        "</select><label for=\"persons\">Nombre de personnes (une pré-demande chacune)</label>\
         <input id=\"persons\" name=\"persons\" type=\"number\" min=\"1\" max=\"{}\" value=\"{persons}\">",
        setting.max_persons
    ));
    if let Some(t) = moving {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"deplacer\" value=\"{}\">",
            esc(t)
        ));
    }
    body.push_str("<button type=\"submit\" class=\"secondary\">Mettre à jour les horaires</button></form>");
    if slots.is_empty() {
        body.push_str("<p class=\"notice\">Aucun créneau libre dans les trois prochaines semaines ici. Essayez une autre mairie.</p>");
    }
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<DateTime<Utc>>> = BTreeMap::new();
    for s in &slots {
        by_day
            .entry(s.start.date_naive())
            .or_default()
            .push(s.start.with_timezone(&Utc));
    }
    for starts in by_day.values() {
        body.push_str(&format!(
            "<h2>{}</h2><ul class=\"slots\">",
            esc(&day_label(starts[0], tz))
        ));
        for s in starts {
            let hm = s.with_timezone(&tz).format("%H:%M").to_string();
            body.push_str(&format!(
                "<li><form method=\"post\" action=\"/reserver\"><input type=\"hidden\" name=\"site_id\" value=\"{}\">\
                 <input type=\"hidden\" name=\"motif\" value=\"{}\"><input type=\"hidden\" name=\"persons\" value=\"{persons}\">\
                 <input type=\"hidden\" name=\"start\" value=\"{}\">{}\
                 <button type=\"submit\" aria-label=\"{}\">{hm}</button></form></li>",
                site.id,
                motif.code(),
                esc(&s.to_rfc3339()),
                moving.map(|t| format!("<input type=\"hidden\" name=\"deplacer\" value=\"{}\">", esc(t))).unwrap_or_default(),
                esc(&format!("Réserver le {}", when(*s, tz)))
            ));
        }
        body.push_str("</ul>");
    }
    Ok((site.name, body))
}

/// A slot to hold (from a page, or the ANTS `callback_url`).
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct HoldForm {
    #[serde(alias = "site")]
    site_id: String,
    motif: String,
    persons: String,
    start: String,
    /// Management token when moving an appointment.
    deplacer: Option<String>,
}

async fn hold_and_continue(state: &AppState, client: &str, f: &HoldForm) -> Response {
    if let Err(e) = check_write_rate(state, client) {
        return error_page(e);
    }
    let input = match hold_input(f) {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    match holds::place(state, client, &input).await {
        Ok(hold) => match f.deplacer.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => move_to(state, token, &hold.token).await,
            None => Redirect::to(&format!("/reserver/formulaire?jeton={}", hold.token)).into_response(),
        },
        Err(ServiceError::SlotTaken { alternatives }) => taken_page(f, &alternatives),
        Err(e) => error_page(e.into()),
    }
}

/// The form's fields parsed into the service's input.
fn hold_input(f: &HoldForm) -> Result<HoldInput, ApiError> {
    Ok(HoldInput {
        site_id: params::uuid(&f.site_id, "site_id")?,
        motif: params::motif(Some(&f.motif), Motif::Cni)?,
        persons: params::persons(Some(&f.persons))?,
        start: params::instant(&f.start, "start")?,
    })
}

/// The kind answer to a lost race: what happened, and the next free times as buttons.
fn taken_page(f: &HoldForm, alternatives: &[Alternative]) -> Response {
    let mut body = format!("<p class=\"notice\" role=\"alert\">{}</p>", esc("Désolé, ce créneau vient d'être pris par une autre personne. Voici les prochains créneaux libres dans cette mairie :"));
    body.push_str("<ul class=\"slots\">");
    for alt in alternatives {
        let (tz, at) = (alt.start.timezone(), alt.start.with_timezone(&Utc));
        let a = &alt.start.to_rfc3339();
        body.push_str(&format!(
            "<li><form method=\"post\" action=\"/reserver\"><input type=\"hidden\" name=\"site_id\" value=\"{}\">\
             <input type=\"hidden\" name=\"motif\" value=\"{}\"><input type=\"hidden\" name=\"persons\" value=\"{}\">\
             <input type=\"hidden\" name=\"start\" value=\"{}\"><button type=\"submit\">{}</button></form></li>",
            esc(&f.site_id), esc(&f.motif), esc(&f.persons), esc(a), esc(&when(at, tz))
        ));
    }
    body.push_str(&format!(
        "</ul><p><a href=\"/lieux/{}\">Voir tous les horaires de cette mairie</a></p>",
        esc(&f.site_id)
    ));
    (StatusCode::CONFLICT, page("Ce créneau n'est plus libre", &body)).into_response()
}

/// Holds the chosen time and continues to the form.
#[utoipa::path(post, path = "/reserver", tag = "pages", request_body(content = HoldForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers le formulaire"), (status = 409, content_type = "text/html", body = String)))]
pub async fn hold_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Form(f): Form<HoldForm>,
) -> Response {
    let client = client_key(&state, &headers, &peer);
    hold_and_continue(&state, &client, &f).await
}

/// Where the ANTS `callback_url` lands: holds that slot if it is still free and opens the form,
/// or offers the next free times.
#[utoipa::path(get, path = "/reserver", tag = "pages", params(HoldForm),
    responses((status = 303, description = "Vers le formulaire"), (status = 409, content_type = "text/html", body = String)))]
pub async fn hold_from_link(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Query(f): Query<HoldForm>,
) -> Response {
    let client = client_key(&state, &headers, &peer);
    hold_and_continue(&state, &client, &f).await
}

/// The held slot's form.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FormQuery {
    jeton: String,
}

/// The form for a held slot, with the time it stays held.
#[utoipa::path(get, path = "/reserver/formulaire", tag = "pages", params(FormQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 410, description = "Délai dépassé")))]
pub async fn form_page(State(state): State<AppState>, Query(q): Query<FormQuery>) -> Response {
    render_form(&state, &q.jeton, None, &ConfirmForm::default()).await
}

/// What the citizen typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfirmForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    numero_1: String,
    #[serde(default)]
    numero_2: String,
    #[serde(default)]
    numero_3: String,
    #[serde(default)]
    numero_4: String,
    #[serde(default)]
    numero_5: String,
    #[serde(default)]
    confirm_other_appointments: Option<String>,
}

impl ConfirmForm {
    fn numbers(&self, n: usize) -> Vec<String> {
        [
            &self.numero_1,
            &self.numero_2,
            &self.numero_3,
            &self.numero_4,
            &self.numero_5,
        ]
        .iter()
        .take(n)
        .map(|s| s.to_string())
        .collect()
    }
}

async fn render_form(state: &AppState, token: &str, error: Option<&ApiError>, f: &ConfirmForm) -> Response {
    let claims = match holds::verified(state, token) {
        Ok(c) => c,
        Err(e) => return error_page(e.into()),
    };
    let site = match availability::find_site(state, claims.site).await {
        Ok(s) => s,
        Err(e) => return error_page(e.into()),
    };
    let tz = availability::site_tz(&site).unwrap_or(chrono_tz::Europe::Paris);
    let field_err = |field: &str| -> String {
        error
            .filter(|e| {
                e.field.is_some_and(|f| {
                    f == field || (field == "pre_demande_numbers" && f.starts_with("pre_demande"))
                })
            })
            .map(|e| {
                format!(
                    "<p class=\"error\" id=\"err-{field}\" role=\"alert\">{}</p>",
                    esc(&e.message)
                )
            })
            .unwrap_or_default()
    };
    let described = |field: &str| {
        if field_err(field).is_empty() {
            String::new()
        } else {
            format!(" aria-describedby=\"err-{field}\" aria-invalid=\"true\"")
        }
    };
    let mut body = format!(
        "<p class=\"notice\">{} – {}, {}. Ce créneau vous est réservé jusqu'à {} : remplissez le formulaire avant.</p>",
        esc(&site.name),
        esc(&when(claims.start_at(), tz)),
        esc(claims.motif.label_fr()),
        claims.expires_at().with_timezone(&tz).format("%H:%M")
    );
    if let Some(e) = error.filter(|e| e.field.is_none()) {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(&e.message)
        ));
    }
    body.push_str(&format!("<form method=\"post\" action=\"/reserver/confirmer\"><input type=\"hidden\" name=\"jeton\" value=\"{}\">", esc(token)));
    for (name, label, value, auto, kind, field) in [
        (
            "first_name",
            "Prénom",
            &f.first_name,
            "given-name",
            "text",
            "citizen.first_name",
        ),
        (
            "last_name",
            "Nom",
            &f.last_name,
            "family-name",
            "text",
            "citizen.last_name",
        ),
        (
            "email",
            "Adresse électronique (pour la confirmation et le lien d'annulation)",
            &f.email,
            "email",
            "email",
            "citizen.email",
        ),
        (
            "phone",
            "Téléphone (facultatif)",
            &f.phone,
            "tel",
            "tel",
            "citizen.phone",
        ),
    ] {
        let required = if name == "phone" { "" } else { " required" };
        body.push_str(&format!(
            "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\" autocomplete=\"{auto}\" value=\"{}\"{required}{}>{}",
            esc(value),
            described(field),
            field_err(field)
        ));
    }
    if claims.motif.requires_pre_demande() {
        let numbers = f.numbers(usize::from(claims.persons));
        for i in 1..=usize::from(claims.persons).min(5) {
            body.push_str(&format!(
                "<label for=\"numero_{i}\">Numéro de pré-demande ANTS, personne {i} (10 lettres ou chiffres)</label>\
                 <input id=\"numero_{i}\" name=\"numero_{i}\" required minlength=\"10\" maxlength=\"12\" autocapitalize=\"characters\" value=\"{}\"{}>",
                esc(numbers.get(i - 1).map(String::as_str).unwrap_or("")),
                described("pre_demande_numbers")
            ));
        }
        body.push_str(&field_err("pre_demande_numbers"));
        if let Some(e) = error.filter(|e| e.code == "pre_demande_booked_elsewhere") {
            // ANTS's answer in plain French, and the explicit choice it calls for.
            body.push_str(&format!(
                "<p class=\"error\" id=\"err-autre\" role=\"alert\">{}</p>\
                 <label><input type=\"checkbox\" name=\"confirm_other_appointments\" value=\"oui\" style=\"width:auto\" aria-describedby=\"err-autre\"> \
                 J'annule mon autre rendez-vous et je confirme celui-ci</label>",
                esc(&e.message)
            ));
        }
    }
    body.push_str("<button type=\"submit\">Confirmer le rendez-vous</button></form>");
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    (status, page("Vos coordonnées", &body)).into_response()
}

/// Books the held slot, or shows the form again with each error next to its field.
#[utoipa::path(post, path = "/reserver/confirmer", tag = "pages", request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page du rendez-vous"), (status = 422, content_type = "text/html", body = String)))]
pub async fn confirm_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)) {
        return error_page(e);
    }
    let persons = holds::verified(&state, &f.jeton)
        .map(|c| usize::from(c.persons))
        .unwrap_or(1);
    let input = ConfirmInput {
        hold_token: f.jeton.clone(),
        citizen: CitizenInput {
            first_name: f.first_name.clone(),
            last_name: f.last_name.clone(),
            email: Some(f.email.clone()),
            phone: Some(f.phone.clone()).filter(|p| !p.trim().is_empty()),
        },
        pre_demande_numbers: f
            .numbers(persons)
            .into_iter()
            .filter(|n| !n.trim().is_empty())
            .collect(),
        confirm_other_appointments: f.confirm_other_appointments.is_some(),
    };
    match booking::confirm(&state, &input).await {
        Ok(done) => Redirect::to(&format!("/rdv/{}?nouveau=1", done.manage_token)).into_response(),
        // Without a valid hold there is no form to show again.
        Err(e @ (ServiceError::HoldExpired | ServiceError::HoldInvalid)) => error_page(e.into()),
        Err(e) => render_form(&state, &f.jeton, Some(&e.into()), &f).await,
    }
}

pub(super) async fn load_appointment(state: &AppState, token: &str) -> Result<AppointmentView, ApiError> {
    Ok(management::find(state, token).await?.appointment)
}

/// Flags of the management page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ManageQuery {
    nouveau: Option<String>,
    deplace: Option<String>,
}

/// The management page behind the email link: see, cancel, move.
#[utoipa::path(get, path = "/rdv/{token}", tag = "pages", params(("token" = String, Path, description = "Lien de gestion"), ManageQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn manage_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<ManageQuery>,
) -> Response {
    let a = match load_appointment(&state, &token).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let tz: Tz = a.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let motif: Motif = a.motif;
    let live = a.status.citizen_may_change();
    let deadline = a.start - Duration::minutes(i64::from(a.cancel_deadline_minutes));
    let can_change = live && state.clock.now() <= deadline;
    let mut body = String::new();
    if q.nouveau.is_some() {
        body.push_str("<p class=\"success\" role=\"status\">Rendez-vous confirmé. Un e-mail de confirmation vous est envoyé avec ce lien.</p>");
    }
    if q.deplace.is_some() {
        body.push_str("<p class=\"success\" role=\"status\">Rendez-vous déplacé.</p>");
    }
    let status = match a.status.code() {
        "booked" => "confirmé",
        "cancelled" => "annulé",
        "checked_in" => "accueilli en mairie",
        "done" => "terminé",
        "no_show" => "absent",
        _ => "passé",
    };
    body.push_str(&format!(
        "<table><tr><th scope=\"row\">Statut</th><td>Rendez-vous {status}</td></tr>\
         <tr><th scope=\"row\">Date et heure</th><td>{}</td></tr><tr><th scope=\"row\">Lieu</th><td>{}<br>{}</td></tr>\
         <tr><th scope=\"row\">Motif</th><td>{}</td></tr><tr><th scope=\"row\">Personnes</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Référence</th><td>{}</td></tr><tr><th scope=\"row\">Numéros de pré-demande</th><td>{}</td></tr></table>",
        esc(&when(a.start, tz)),
        esc(&a.site_name),
        esc(&format!("{}, {} {}", a.address_line, a.postcode, a.city)),
        esc(motif.label_fr()),
        a.persons,
        esc(&a.reference),
        esc(&a.pre_demande_numbers.join(", "))
    ));
    if live {
        body.push_str("<h2>À apporter</h2><ul>");
        for item in crate::domain::french::what_to_bring(motif) {
            body.push_str(&format!("<li>{}</li>", esc(item)));
        }
        body.push_str(&format!("</ul><p><a class=\"button\" href=\"/rdv/{token}/calendrier.ics\">Ajouter à mon agenda (.ics)</a></p>"));
    }
    if can_change {
        body.push_str(&format!(
            "<h2>Modifier</h2><p>Vous pouvez annuler ou déplacer ce rendez-vous en ligne jusqu'au {}.</p>\
             <p><a href=\"/lieux/{}?motif={}&amp;persons={}&amp;deplacer={token}\">Choisir un autre horaire</a></p>\
             <form method=\"post\" action=\"/rdv/{token}/annuler\"><button type=\"submit\" class=\"secondary\">Annuler le rendez-vous</button></form>",
            esc(&when(deadline, tz)),
            a.site_id,
            motif.code(),
            a.persons
        ));
    } else if live {
        body.push_str(
            "<p class=\"notice\">Le délai pour modifier en ligne est dépassé : contactez la mairie.</p>",
        );
    }
    page("Votre rendez-vous", &body).into_response()
}

/// The cancellation link of emails and of ANTS: asks for confirmation.
#[utoipa::path(get, path = "/rdv/{token}/annuler", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn cancel_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let a = match load_appointment(&state, &token).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let tz: Tz = a.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let body = format!(
        "<p>Annuler le rendez-vous du {} à {} ? Le créneau sera aussitôt proposé à quelqu'un d'autre.</p>\
         <form method=\"post\" action=\"/rdv/{token}/annuler\"><button type=\"submit\">Oui, annuler</button></form>\
         <p><a href=\"/rdv/{token}\">Non, revenir au rendez-vous</a></p>",
        esc(&when(a.start, tz)),
        esc(&a.site_name)
    );
    page("Annuler le rendez-vous", &body).into_response()
}

/// Cancels and shows the result.
#[utoipa::path(post, path = "/rdv/{token}/annuler", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 409, description = "Plus modifiable")))]
pub async fn cancel_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)) {
        return error_page(e);
    }
    let (a, tz) = match management::cancel(&state, &token).await {
        Ok(m) => (m.appointment, m.tz),
        Err(e) => return error_page(e.into()),
    };
    page(
        "Rendez-vous annulé",
        &format!("<p class=\"success\" role=\"status\">Votre rendez-vous du {} est annulé. Un e-mail vous le confirme.</p><p><a href=\"/\">Prendre un autre rendez-vous</a></p>", esc(&when(a.start, tz))),
    )
    .into_response()
}

/// Moves an appointment onto a hold just placed.
async fn move_to(state: &AppState, token: &str, hold_token: &str) -> Response {
    match management::reschedule(state, token, hold_token).await {
        Ok(_) => Redirect::to(&format!("/rdv/{token}?deplace=1")).into_response(),
        Err(e) => error_page(e.into()),
    }
}
