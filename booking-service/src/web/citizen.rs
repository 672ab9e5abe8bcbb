//! The citizen's pages: search, a site's free times, the held slot's form, confirmation, and the
//! management page behind the email link (see, cancel, move). The ANTS `callback_url` lands on
//! `/reserver`, which holds the slot if it is still free.

use super::components::{self as ui, DaySlots, Input, SlotTarget, TimeButton};
use super::error_page;
use super::page;
use crate::app::AppState;
use crate::db::appointments::AppointmentView;
use crate::domain::motif::Motif;
use crate::domain::status::AppointmentStatus;
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
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup, PreEscaped};
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
pub async fn home() -> Markup {
    page(
        "Prendre rendez-vous pour une carte d'identité ou un passeport",
        html! {
            p {
                "Tapez le nom de votre commune ou son code postal : les mairies équipées les plus \
                 proches s'affichent avec leurs premiers créneaux libres. Vous pouvez prendre \
                 rendez-vous dans n'importe quelle mairie équipée, quelle que soit votre commune."
            }
            form method="get" action="/recherche" role="search" {
                (Input {
                    id: "q",
                    name: "q",
                    label: "Commune ou code postal",
                    autocomplete: Some("address-level2"),
                    required: true,
                    ..Input::default()
                })
                button type="submit" { "Rechercher" }
            }
            // Shown by near-me.js only where the browser can give a position.
            p {
                button #near-me type="button" class="secondary" hidden { "Autour de moi" }
                " " span #near-me-status role="status" {}
            }
            script src="/static/near-me.js" defer {}
        },
    )
}

/// A search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    q: Option<String>,
    /// INSEE code of the commune meant, among several of the same name.
    commune: Option<String>,
    /// A position the browser gave ("autour de moi"), instead of a text.
    lat: Option<f64>,
    lon: Option<f64>,
}

/// Sites matching a commune name or postcode, and their earliest free times.
#[utoipa::path(get, path = "/recherche", tag = "pages", params(SearchQuery), responses((status = 200, content_type = "text/html", body = String)))]
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> Response {
    if let (Some(lat), Some(lon)) = (q.lat, q.lon) {
        return match availability::near_position(&state, lat, lon).await {
            Ok(nearest) => page(
                "Mairies autour de vous",
                html! {
                    h2 { "Mairies équipées les plus proches de votre position" }
                    (near_list(&nearest, "de vous"))
                    p { a href="/" { "Chercher plutôt par commune" } }
                },
            )
            .into_response(),
            Err(e) => error_page(e.into()),
        };
    }
    let text = q.q.unwrap_or_default();
    let trimmed = text.trim();
    let found = match availability::search(&state, trimmed, q.commune.as_deref()).await {
        Ok(f) => f,
        Err(e) => return error_page(e.into()),
    };
    let (communes, sites) = (&found.communes, &found.sites);
    let earliest: Vec<(DateTime<Utc>, String, uuid::Uuid, Tz)> = found
        .earliest
        .iter()
        .map(|e| {
            (
                e.slot.start.with_timezone(&Utc),
                e.site.name.clone(),
                e.site.id,
                e.slot.start.timezone(),
            )
        })
        .collect();
    // Each commune with its equipped sites; communes without one are left out.
    let by_commune: Vec<_> = communes
        .iter()
        .map(|c| {
            let here: Vec<_> = sites.iter().filter(|s| s.commune_insee == c.insee_code).collect();
            (c, here)
        })
        .filter(|(_, here)| !here.is_empty())
        .collect();
    let body = html! {
        p { "Résultats pour « " (trimmed) " »." }
        @if !earliest.is_empty() {
            h2 { "Les premiers créneaux libres (carte d'identité, une personne)" }
            ul.slots {
                @for (start, name, site_id, tz) in earliest.iter().take(6) {
                    (ui::slot_button(
                        &SlotTarget {
                            site_id: &site_id.to_string(),
                            motif: Motif::Cni.code(),
                            persons: "1",
                            moving: None,
                        },
                        &TimeButton {
                            start: start.to_rfc3339(),
                            text: format!("{} – {}", when(*start, *tz), name),
                            aria_label: None,
                        },
                    ))
                }
            }
            p.hint { "Pour un autre motif ou plusieurs personnes, choisissez une mairie ci-dessous." }
        }
        @if !by_commune.is_empty() {
            h2 { "Mairies" }
        }
        @for (commune, here) in &by_commune {
            h3 { (commune.name) }
            ul {
                @for s in here {
                    li {
                        a href={ "/lieux/" (s.id) } { (s.name) }
                        " – " (s.address_line) ", " (s.postcode) " " (s.city)
                    }
                }
            }
        }
        @if by_commune.is_empty() && found.nearest.is_empty() {
            p {
                "Aucune mairie équipée ne correspond. Essayez le nom d'une commune voisine, ou "
                a href="/recherche?q=" { "voyez toutes les mairies" } "."
            }
        }
        @if let Some(place) = found.place {
            (nearest_sites(place, &found))
        }
    };
    page("Mairies où prendre rendez-vous", body).into_response()
}

/// The equipped sites nearest to the commune searched, each with its distance and soonest times,
/// and the soonest across them. ("Autour de moi", the browser's position, is the home page's
/// optional script: the commune is what works everywhere.)
fn nearest_sites(place: &crate::domain::gazetteer::Place, found: &availability::SearchResult) -> Markup {
    html! {
        h2 { "Mairies équipées les plus proches de " (place.name) " (" (place.department) ")" }
        @if found.approximate {
            p.hint {
                "Distances approximatives : la position de " (place.name)
                " est estimée d'après les communes voisines."
            }
        }
        (near_list(&found.nearest, &format!("de {}", place.name)))
        @let others: Vec<_> = found.others.iter().filter(|o| !o.postcodes.is_empty()).collect();
        @if !others.is_empty() {
            h2 { "Vous cherchiez une autre commune ?" }
            ul {
                @for o in others {
                    li {
                        a href={ "/recherche?q=" (o.postcodes[0]) "&commune=" (o.insee_code) } {
                            (o.name) " (" (o.department) ", " (o.postcodes[0]) ")"
                        }
                    }
                }
            }
        }
    }
}

/// Sites near a place, nearest first, each with its distance and soonest times, and the soonest
/// across them (`near`: "de Habsheim", "de vous").
fn near_list(nearest: &[availability::NearSite], near: &str) -> Markup {
    use crate::domain::gazetteer::km_label;
    let first = nearest
        .iter()
        .flat_map(|n| n.earliest.iter().map(move |e| (n, e)))
        .min_by_key(|(_, e)| e.slot.start);
    html! {
        @if let Some((n, e)) = first {
            p {
                "Le premier créneau libre près " (near) " : "
                strong { (when(e.slot.start.with_timezone(&Utc), e.slot.start.timezone())) }
                ", " (n.site.name) " (à " (km_label(n.distance_km)) ")."
            }
        }
        @for n in nearest {
            @let site_id = n.site.id.to_string();
            h3 { a href={ "/lieux/" (n.site.id) } { (n.site.name) } }
            p {
                span.distance { "À " (km_label(n.distance_km)) }
                " – " (n.site.address_line) ", " (n.site.postcode) " " (n.site.city)
            }
            @if n.earliest.is_empty() {
                p { "Aucun créneau libre pour une carte d'identité en ce moment." }
            } @else {
                ul.slots {
                    @for e in &n.earliest {
                        @let start = e.slot.start.with_timezone(&Utc);
                        @let text = when(start, e.slot.start.timezone());
                        (ui::slot_button(
                            &SlotTarget { site_id: &site_id, motif: Motif::Cni.code(), persons: "1", moving: None },
                            &TimeButton {
                                start: start.to_rfc3339(),
                                aria_label: Some(format!("{text}, {}", n.site.name)),
                                text,
                            },
                        ))
                    }
                }
            }
        }
    }
}

/// Which motif and how many persons.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SiteQuery {
    motif: Option<String>,
    persons: Option<String>,
}

/// A site's free times for the next two weeks, by day.
#[utoipa::path(get, path = "/lieux/{site_id}", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), SiteQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lieu inconnu")))]
pub async fn site_page(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    Query(q): Query<SiteQuery>,
) -> Response {
    match site_body(&state, &site_id, &q, None).await {
        Ok((title, body)) => page(&title, body).into_response(),
        Err(e) => error_page(e),
    }
}

/// A site's free times as buttons; `moving` is the management token of an appointment being
/// moved (it travels in the forms' bodies, never in a URL).
async fn site_body(
    state: &AppState,
    site_id: &str,
    q: &SiteQuery,
    moving: Option<&str>,
) -> Result<(String, Markup), ApiError> {
    let query = SlotsQuery {
        site_id: params::uuid(site_id, "site_id")?,
        motif: params::motif(q.motif.as_deref(), Motif::Cni)?,
        persons: params::persons(q.persons.as_deref())?,
        from: None,
        to: None,
        open_ended_days: 21,
        waive_policy: false,
    };
    let found = availability::site_slots(state, &query).await?;
    let (site, tz, setting, motif, persons) =
        (found.site, found.tz, found.setting, query.motif, query.persons);
    let settings = found.offered;
    let slots = found.slots;
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<DateTime<Utc>>> = BTreeMap::new();
    for s in &slots {
        by_day
            .entry(s.start.date_naive())
            .or_default()
            .push(s.start.with_timezone(&Utc));
    }
    let days: Vec<DaySlots> = by_day
        .values()
        .map(|starts| DaySlots {
            label: day_label(starts[0], tz),
            times: starts
                .iter()
                .map(|s| TimeButton {
                    start: s.to_rfc3339(),
                    text: s.with_timezone(&tz).format("%H:%M").to_string(),
                    aria_label: Some(format!("Réserver le {}", when(*s, tz))),
                })
                .collect(),
        })
        .collect();
    let (target_site, target_persons) = (site.id.to_string(), persons.to_string());
    let target = SlotTarget {
        site_id: &target_site,
        motif: motif.code(),
        persons: &target_persons,
        moving,
    };
    let body = html! {
        p { (site.address_line) ", " (site.postcode) " " (site.city) }
        @if moving.is_none() {
        form method="get" {
            label for="motif" { "Motif" }
            select #motif name="motif" {
                @for m in &settings {
                    option value=(m.motif.code()) selected[m.motif == motif] { (m.motif.label_fr()) }
                }
            }
            label for="persons" { "Nombre de personnes (une pré-demande chacune)" }
            input #persons name="persons" type="number" min="1" max=(setting.max_persons) value=(persons);
            button type="submit" class="secondary" { "Mettre à jour les horaires" }
        }
        }
        @if slots.is_empty() {
            (ui::info("Aucun créneau libre dans les trois prochaines semaines ici. Essayez une autre mairie, ou inscrivez-vous sur la liste d'attente."))
        }
        (ui::slots_by_day(&target, &days))
        @if moving.is_none() {
            p {
                a href=(format!("/liste-attente?site_id={}&motif={}&persons={}", site.id, motif.code(), persons)) {
                    "Aucun horaire ne vous convient ? Inscrivez-vous sur la liste d'attente"
                }
            }
        }
    };
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
    if let Err(e) = check_write_rate(state, client).await {
        return error_page(e);
    }
    let input = match hold_input(f) {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    match holds::place(state, client, &input).await {
        Ok(hold) => match f.deplacer.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => move_to(state, token, &hold.token).await,
            None => Redirect::to(&format!("/reserver/formulaire/{}", hold.token)).into_response(),
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

/// What a citizen who lost a race is told. Written with `&#39;` for the apostrophe, as the page
/// always has been (an ANTS end-to-end test reads these words in the raw HTML).
const TAKEN: &str = "Désolé, ce créneau vient d&#39;être pris par une autre personne. \
                     Voici les prochains créneaux libres dans cette mairie :";

/// The kind answer to a lost race: what happened, and the next free times as buttons.
fn taken_page(f: &HoldForm, alternatives: &[Alternative]) -> Response {
    // A move that lost its slot stays a move on the alternatives.
    let target = SlotTarget {
        site_id: &f.site_id,
        motif: &f.motif,
        persons: &f.persons,
        moving: f.deplacer.as_deref().filter(|t| !t.is_empty()),
    };
    let times: Vec<TimeButton> = alternatives
        .iter()
        .map(|alt| {
            let (tz, at) = (alt.start.timezone(), alt.start.with_timezone(&Utc));
            TimeButton {
                start: alt.start.to_rfc3339(),
                text: when(at, tz),
                aria_label: None,
            }
        })
        .collect();
    let body = html! {
        (ui::warning(PreEscaped(TAKEN)))
        (ui::slot_list(&target, &times))
        p { a href={ "/lieux/" (f.site_id) } { "Voir tous les horaires de cette mairie" } }
    };
    (StatusCode::CONFLICT, page("Ce créneau n'est plus libre", body)).into_response()
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

/// Where the ANTS `callback_url` lands: the slot, and a button to hold it. A GET never holds
/// (any page elsewhere could make its visitors' browsers hold slots): the button's POST does.
#[utoipa::path(get, path = "/reserver", tag = "pages", params(HoldForm),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lieu inconnu")))]
pub async fn hold_from_link(State(state): State<AppState>, Query(f): Query<HoldForm>) -> Response {
    let input = match hold_input(&f) {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let site = match availability::find_site(&state, input.site_id).await {
        Ok(s) => s,
        Err(e) => return error_page(e.into()),
    };
    let tz = availability::site_tz(&site).unwrap_or(chrono_tz::Europe::Paris);
    let body = html! {
        table {
            tr { th scope="row" { "Lieu" } td { (site.name) br; (site.address_line) ", " (site.postcode) " " (site.city) } }
            tr { th scope="row" { "Date et heure" } td { (when(input.start, tz)) } }
            tr { th scope="row" { "Motif" } td { (input.motif.label_fr()) } }
            tr { th scope="row" { "Personnes" } td { (input.persons) } }
        }
        form method="post" action="/reserver" {
            (ui::hidden("site_id", &f.site_id))
            (ui::hidden("motif", &f.motif))
            (ui::hidden("persons", &f.persons))
            (ui::hidden("start", &f.start))
            button type="submit" { "Réserver ce créneau" }
        }
        p { "Le créneau vous est gardé dix minutes, le temps de remplir le formulaire." }
        p { a href={ "/lieux/" (site.id) } { "Voir tous les horaires de cette mairie" } }
    };
    page("Réserver ce créneau", body).into_response()
}

/// The form for a held slot, with the time it stays held. The hold token is a path segment:
/// never a query string that a referrer or a log would carry.
#[utoipa::path(get, path = "/reserver/formulaire/{hold}", tag = "pages", params(("hold" = String, Path, description = "Réservation temporaire")),
    responses((status = 200, content_type = "text/html", body = String), (status = 410, description = "Délai dépassé")))]
pub async fn form_page(State(state): State<AppState>, Path(hold): Path<String>) -> Response {
    render_form(&state, &hold, None, &ConfirmForm::default()).await
}

/// What the citizen typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfirmForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    pub(super) first_name: String,
    #[serde(default)]
    pub(super) last_name: String,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) phone: String,
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
    pub(super) confirm_other_appointments: Option<String>,
    /// "Recevoir aussi le rappel par SMS".
    #[serde(default)]
    pub(super) sms_rappel: Option<String>,
}

impl ConfirmForm {
    /// The citizen as typed (an empty phone is none).
    pub(super) fn citizen(&self) -> CitizenInput {
        CitizenInput {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: Some(self.email.clone()),
            phone: Some(self.phone.clone()).filter(|p| !p.trim().is_empty()),
        }
    }

    /// The numbers typed for `n` persons, empty fields left out.
    pub(super) fn given_numbers(&self, n: usize) -> Vec<String> {
        self.numbers(n)
            .into_iter()
            .filter(|x| !x.trim().is_empty())
            .collect()
    }

    pub(super) fn numbers(&self, n: usize) -> Vec<String> {
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
    let body = html! {
        (ui::info(html! {
            (site.name) " – " (when(claims.start_at(), tz)) ", " (claims.motif.label_fr())
            ". Ce créneau vous est réservé jusqu'à "
            (claims.expires_at().with_timezone(&tz).format("%H:%M"))
            " : remplissez le formulaire avant."
        }))
        @if let Some(e) = error.filter(|e| e.field.is_none()) {
            (ui::error(&e.message))
        }
        form method="post" action="/reserver/confirmer" {
            (ui::hidden("jeton", token))
            (citizen_fields(error, f, claims.motif, usize::from(claims.persons)))
            button type="submit" { "Confirmer le rendez-vous" }
        }
    };
    let status = error.map(|e| e.status).unwrap_or(StatusCode::OK);
    (status, page("Vos coordonnées", body)).into_response()
}

/// The citizen's fields (names, email, phone, one pré-demande number per person), each with its
/// error next to it: the held slot's form and the waiting list's acceptance share them.
pub(super) fn citizen_fields(
    error: Option<&ApiError>,
    f: &ConfirmForm,
    motif: Motif,
    persons: usize,
) -> Markup {
    let fields = [
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
    ];
    html! {
        @for (name, label, value, autocomplete, kind, field) in fields {
            @let message = field_message(error, field);
            @let error_id = format!("err-{field}");
            (Input {
                id: name,
                name,
                label,
                kind: Some(kind),
                autocomplete: Some(autocomplete),
                value: Some(value),
                required: name != "phone",
                error_id: message.map(|_| error_id.as_str()),
                ..Input::default()
            })
            (ui::field_error(&error_id, message))
        }
        label {
            input type="checkbox" name="sms_rappel" value="oui" checked[f.sms_rappel.is_some()];
            " Recevoir aussi le rappel par SMS (mobile ; répondez STOP pour l'arrêter)"
        }
        @if motif.requires_pre_demande() {
            @let numbers = f.numbers(persons);
            @let message = field_message(error, "pre_demande_numbers");
            @for i in 1..=persons.min(5) {
                @let id = format!("numero_{i}");
                @let label = format!("Numéro de pré-demande ANTS, personne {i} (10 lettres ou chiffres)");
                (Input {
                    id: &id,
                    name: &id,
                    label: &label,
                    value: Some(numbers.get(i - 1).map(String::as_str).unwrap_or("")),
                    required: true,
                    minlength: Some(10),
                    maxlength: Some(12),
                    autocapitalize: Some("characters"),
                    error_id: message.map(|_| "err-pre_demande_numbers"),
                    ..Input::default()
                })
            }
            (ui::field_error("err-pre_demande_numbers", message))
            @if let Some(e) = error.filter(|e| e.code == "pre_demande_booked_elsewhere") {
                // ANTS's answer in plain French, and the explicit choice it calls for.
                (ui::field_error("err-autre", Some(&e.message)))
                label {
                    input type="checkbox" name="confirm_other_appointments" value="oui"
                        aria-describedby="err-autre";
                    " J'annule mon autre rendez-vous et je confirme celui-ci"
                }
            }
        }
    }
}

/// The message of `error` when it is about `field` (any pré-demande field counts for the numbers).
fn field_message<'e>(error: Option<&'e ApiError>, field: &str) -> Option<&'e str> {
    error
        .filter(|e| {
            e.field.is_some_and(|f| {
                f == field || (field == "pre_demande_numbers" && f.starts_with("pre_demande"))
            })
        })
        .map(|e| e.message.as_str())
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
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    let persons = holds::verified(&state, &f.jeton)
        .map(|c| usize::from(c.persons))
        .unwrap_or(1);
    let input = ConfirmInput {
        hold_token: f.jeton.clone(),
        citizen: f.citizen(),
        pre_demande_numbers: f.given_numbers(persons),
        confirm_other_appointments: f.confirm_other_appointments.is_some(),
        sms_reminder: f.sms_rappel.is_some(),
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
    confirme: Option<String>,
}

/// The management page behind the email link: see, cancel, move.
#[utoipa::path(get, path = "/rdv/{token}", tag = "pages", params(("token" = String, Path, description = "Lien de gestion"), ManageQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn manage_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<ManageQuery>,
) -> Response {
    let managed = match management::find(&state, &token).await {
        Ok(m) => m,
        Err(e) => return error_page(e.into()),
    };
    let (a, tz, deadline, can_change) = (
        &managed.appointment,
        managed.tz,
        managed.deadline,
        managed.can_change,
    );
    let motif: Motif = a.motif;
    let live = a.status.citizen_may_change();
    let move_link = format!("/rdv/{token}/deplacer");
    let body = html! {
        @if q.nouveau.is_some() {
            (ui::success("Rendez-vous confirmé. Un e-mail de confirmation vous est envoyé avec ce lien."))
        }
        @if q.deplace.is_some() {
            (ui::success("Rendez-vous déplacé."))
        }
        @if q.confirme.is_some() {
            (ui::success("Merci : votre venue est confirmée."))
        }
        @if let (Some(by), None, true) = (a.confirm_by, a.presence_confirmed_at, live) {
            (ui::info(html! {
                "La mairie vous demande de confirmer votre venue avant le " (when(by, tz))
                " : sans confirmation, le créneau sera proposé à quelqu'un d'autre. "
                a href={ "/rdv/" (token) "/confirmer" } { "Je confirme ma venue" }
            }))
        }
        table {
            tr { th scope="row" { "Statut" } td { "Rendez-vous " (status_for_citizen(a.status)) } }
            tr { th scope="row" { "Date et heure" } td { (when(a.start, tz)) } }
            tr {
                th scope="row" { "Lieu" }
                td { (a.site_name) br; (a.address_line) ", " (a.postcode) " " (a.city) }
            }
            tr { th scope="row" { "Motif" } td { (motif.label_fr()) } }
            tr { th scope="row" { "Personnes" } td { (a.persons) } }
            tr { th scope="row" { "Référence" } td { (a.reference) } }
            tr { th scope="row" { "Numéros de pré-demande" } td { (a.pre_demande_numbers.join(", ")) } }
        }
        @if live {
            h2 { "À apporter" }
            ul {
                @for item in &managed.what_to_bring {
                    li { (item) }
                }
            }
            p { a.button href={ "/rdv/" (token) "/calendrier.ics" } { "Ajouter à mon agenda (.ics)" } }
        }
        @if can_change {
            h2 { "Modifier" }
            p { "Vous pouvez annuler ou déplacer ce rendez-vous en ligne jusqu'au " (when(deadline, tz)) "." }
            p { a href=(move_link) { "Choisir un autre horaire" } }
            form method="post" action={ "/rdv/" (token) "/annuler" } {
                button type="submit" class="secondary" { "Annuler le rendez-vous" }
            }
        } @else if live {
            (ui::info("Le délai pour modifier en ligne est dépassé : contactez la mairie."))
        }
        h2 { "Vos données" }
        p {
            "Vous pouvez obtenir une copie de tout ce que nous conservons sur vous, ou le faire effacer. "
            a href="/confidentialite" { "En savoir plus sur vos données" } "."
        }
        p { a href={ "/rdv/" (token) "/donnees" } download="mes-donnees-rendez-vous.json" { "Télécharger mes données" } " (fichier JSON)" }
        p { a href={ "/rdv/" (token) "/effacer" } { "Effacer mes données" } }
    };
    page("Votre rendez-vous", body).into_response()
}

/// Another time for an appointment: its site's free times for the same motif and party; each
/// button moves it (the management token travels in the forms' bodies).
#[utoipa::path(get, path = "/rdv/{token}/deplacer", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn move_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let a = match load_appointment(&state, &token).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let q = SiteQuery {
        motif: Some(a.motif.code().to_string()),
        persons: Some(a.persons.to_string()),
    };
    match site_body(&state, &a.site_id.to_string(), &q, Some(&token)).await {
        Ok((title, body)) => page(&format!("Déplacer le rendez-vous – {title}"), body).into_response(),
        Err(e) => error_page(e),
    }
}

/// The status as the citizen reads it: the counter's "arrivé" is "accueilli en mairie" here.
fn status_for_citizen(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::CheckedIn => "accueilli en mairie",
        other => other.label_fr(),
    }
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
    let body = html! {
        p {
            "Annuler le rendez-vous du " (when(a.start, tz)) " à " (a.site_name)
            " ? Le créneau sera aussitôt proposé à quelqu'un d'autre."
        }
        form method="post" action={ "/rdv/" (token) "/annuler" } {
            button type="submit" { "Oui, annuler" }
        }
        p { a href={ "/rdv/" (token) } { "Non, revenir au rendez-vous" } }
    };
    page("Annuler le rendez-vous", body).into_response()
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
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    let (a, tz) = match management::cancel(&state, &token).await {
        Ok(m) => (m.appointment, m.tz),
        Err(e) => return error_page(e.into()),
    };
    let body = html! {
        (ui::success(html! { "Votre rendez-vous du " (when(a.start, tz)) " est annulé. Un e-mail vous le confirme." }))
        p { a href="/" { "Prendre un autre rendez-vous" } }
    };
    page("Rendez-vous annulé", body).into_response()
}

/// The reminder's "je confirme" link: asks for the click that records it.
#[utoipa::path(get, path = "/rdv/{token}/confirmer", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn confirm_presence_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let a = match load_appointment(&state, &token).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let tz: Tz = a.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let body = html! {
        p { "Vous viendrez bien au rendez-vous du " (when(a.start, tz)) " à " (a.site_name) " ?" }
        form method="post" action={ "/rdv/" (token) "/confirmer" } {
            button type="submit" { "Oui, je confirme ma venue" }
        }
        p {
            "Vous ne pouvez plus venir ? "
            a href={ "/rdv/" (token) "/annuler" } { "Je libère mon créneau" }
            " : il sera aussitôt proposé aux personnes en liste d'attente."
        }
    };
    page("Confirmer votre venue", body).into_response()
}

/// Records the confirmation and shows the appointment.
#[utoipa::path(post, path = "/rdv/{token}/confirmer", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 303, description = "Vers la page du rendez-vous"), (status = 409, description = "Annulé ou passé")))]
pub async fn confirm_presence_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Err(e) = check_write_rate(&state, &client_key(&state, &headers, &peer)).await {
        return error_page(e);
    }
    match management::confirm_presence(&state, &token).await {
        Ok(_) => Redirect::to(&format!("/rdv/{token}?confirme=1")).into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// Moves an appointment onto a hold just placed.
async fn move_to(state: &AppState, token: &str, hold_token: &str) -> Response {
    match management::reschedule(state, token, hold_token).await {
        Ok(_) => Redirect::to(&format!("/rdv/{token}?deplace=1")).into_response(),
        Err(e) => error_page(e.into()),
    }
}
