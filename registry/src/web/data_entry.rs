//! Members and their populations (a new source entered for all at once), cost periods (listed,
//! opened with their key) and a period's costs: the same [`crate::ops`] functions as
//! `POST /api/v1/populations`, `POST /api/v1/periods` and `POST /api/v1/periods/{code}/costs`.

use super::{
    err_for, error_page, form_error, french_date, nav, parse_euros, respond, select_field, text_field, Admin,
};
use crate::ops::{self, NewCost, NewPeriod, NewPopulations, PopulationFigure, CATEGORIES, TELESERVICE_KINDS};
use crate::state::RegistryState;
use crate::store::{self, MemberRow};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use booking_service::error::ApiError;
use booking_service::request::extract::{Path, Query};
use booking_service::web::components as ui;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

const MEMBERS: &str = "/registre/membres";
const PERIODS: &str = "/registre/periodes";

/// Set after a write: the page says what was done.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DoneQuery {
    /// How many members' populations were recorded.
    enregistre: Option<String>,
    /// A period was created.
    cree: Option<String>,
    /// A cost was added.
    ajoute: Option<String>,
    /// A commune joined.
    adhesion: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Members and populations

/// The member an error is about (the API's error carries it), or one the page found wrong.
fn member_in_error(error: Option<&ApiError>) -> Option<Uuid> {
    error
        .and_then(|e| e.extra.as_ref())
        .and_then(|x| x["member_id"].as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Which form of the members page an error belongs to.
enum MembersError<'a> {
    None,
    Populations(&'a ApiError),
    Joining(&'a ApiError),
}

async fn render_members(
    state: &RegistryState,
    admin: &Admin,
    typed: &BTreeMap<String, String>,
    errors: MembersError<'_>,
    notice: Option<String>,
) -> Response {
    let (error, join_error) = match errors {
        MembersError::None => (None, None),
        MembersError::Populations(e) => (Some(e), None),
        MembersError::Joining(e) => (None, Some(e)),
    };
    let (members, sources) = match (
        store::members(&state.pool).await,
        store::population_sources(&state.pool).await,
    ) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(e), _) | (_, Err(e)) => return error_page(e.into()),
    };
    let value = |k: &str| typed.get(k).map(String::as_str).unwrap_or("");
    let figures_err = err_for(error, "figures");
    let wrong = member_in_error(error);
    let kind = |m: &MemberRow| if m.kind == "epci" { "EPCI" } else { "Commune" };
    let body = html! {
        (nav(admin, MEMBERS))
        @if let Some(n) = &notice {
            (ui::success(n))
        }
        p { "Membres du groupement de commandes (une commune peut adhérer à tout moment et aucune ne peut se retirer avant le terme). Les populations affichées sont celles de la dernière source enregistrée." }
        div.table-scroll role="region" aria-label="Membres" tabindex="0" {
            table.wide {
                caption { (super::count(members.len(), "membre", "membres")) }
                thead { tr {
                    th scope="col" { "Membre" }
                    th scope="col" { "Type" }
                    th scope="col" { "Code INSEE" }
                    th scope="col" { "SIREN" }
                    th scope="col" { "Adhésion" }
                    th scope="col" { "Population municipale" }
                    th scope="col" { "Population totale" }
                } }
                tbody {
                    @for m in &members {
                        tr {
                            th scope="row" { (m.name) }
                            td { (kind(m)) }
                            td { (m.insee_code.as_deref().unwrap_or("—")) }
                            td { (m.siren) }
                            td { (french_date(m.adhesion_date)) }
                            td { (m.population_municipale.map_or("—".to_string(), |p| p.to_string())) }
                            td { (m.population_totale.map_or("—".to_string(), |p| p.to_string())) }
                        }
                    }
                }
            }
        }
        h2 { "Sources de populations enregistrées" }
        ul { @for s in &sources { li { code { (s) } } } }
        h2 #adhesion { "Adhésion d'une commune" }
        p { "Le nom et la population de la commune viennent des données communales de la plateforme." }
        (form_error(join_error, &["insee_code", "siren", "adhesion_date", "deliberation_ref"]))
        (ui::staff_form(Some(MEMBERS), &admin.csrf(), false, html! {
            (text_field(join_error, "j-insee", "insee_code", "Code INSEE de la commune", value("insee_code"), None, true))
            (text_field(join_error, "j-siren", "siren", "SIREN (9 chiffres)", value("siren"), None, true))
            (text_field(join_error, "j-date", "adhesion_date", "Date d'adhésion", value("adhesion_date"), Some("date"), true))
            (text_field(join_error, "j-delib", "deliberation_ref", "Référence de la délibération", value("deliberation_ref"), None, true))
            button type="submit" { "Enregistrer l'adhésion" }
        }))
        h2 #nouvelle-source { "Populations d'une nouvelle période" }
        p { "Une source (par exemple le recensement d'une nouvelle année) s'enregistre en une fois : la clé d'une période la désigne ensuite par son nom. Laissez vides les membres sans chiffre ; la population totale vide vaut la population municipale." }
        (form_error(error, &["source", "figures"]))
        (ui::staff_form(Some("/registre/membres/populations"), &admin.csrf(), false, html! {
            (text_field(error, "p-source", "source", "Nom de la source (ex. insee-2027)", value("source"), None, true))
            (ui::field_error("err-figures", figures_err))
            div.table-scroll role="region" aria-label="Populations par membre" tabindex="0" {
                table.wide aria-describedby=[figures_err.map(|_| "err-figures")] {
                    caption { "Populations par membre" }
                    thead { tr {
                        th scope="col" { "Membre" }
                        th scope="col" { "Population municipale" }
                        th scope="col" { "Population totale" }
                    } }
                    tbody {
                        @for m in &members {
                            @let invalid = (wrong == Some(m.id)).then_some("true");
                            @let pm = format!("municipale-{}", m.id);
                            @let pt = format!("totale-{}", m.id);
                            tr {
                                th scope="row" { (m.name) }
                                td {
                                    label.visually-hidden for={ "pm-" (m.id) } { "Population municipale de " (m.name) }
                                    input id={ "pm-" (m.id) } name=(pm) inputmode="numeric" size="9"
                                        value=(value(&pm)) aria-invalid=[invalid];
                                }
                                td {
                                    label.visually-hidden for={ "pt-" (m.id) } { "Population totale de " (m.name) }
                                    input id={ "pt-" (m.id) } name=(pt) inputmode="numeric" size="9"
                                        value=(value(&pt)) aria-invalid=[invalid];
                                }
                            }
                        }
                    }
                }
            }
            button type="submit" { "Enregistrer ces populations" }
        }))
    };
    let status = error.or(join_error).map_or(StatusCode::OK, |e| e.status);
    respond(status, "Membres et populations", body)
}

/// The members with their latest populations, and the form for a new source of populations.
#[utoipa::path(get, path = "/registre/membres", tag = "pages", params(DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn members_page(
    State(state): State<RegistryState>,
    admin: Admin,
    Query(q): Query<DoneQuery>,
) -> Response {
    // Only a count goes back into the page.
    let saved = q
        .enregistre
        .filter(|n| n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()));
    let notice = match saved {
        Some(n) => Some(format!("Populations enregistrées pour {n} membres.")),
        None => q.adhesion.map(|_| "Adhésion enregistrée.".to_string()),
    };
    render_members(&state, &admin, &BTreeMap::new(), MembersError::None, notice).await
}

/// Records a new source's populations, then the members again (or the form with its error).
#[utoipa::path(post, path = "/registre/membres/populations", tag = "pages",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "csrf, source, municipale-{member id}, totale-{member id}"),
    responses((status = 303, description = "Vers les membres, populations enregistrées"),
              (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 409, description = "Source déjà enregistrée"), (status = 422, description = "Population invalide")))]
pub async fn populations_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let typed: BTreeMap<String, String> = fields.into_iter().collect();
    if let Some(refused) = admin.refuse_forged(typed.get("csrf").map(String::as_str).unwrap_or("")) {
        return refused;
    }
    let members = match store::members(&state.pool).await {
        Ok(m) => m,
        Err(e) => return error_page(e.into()),
    };
    let mut figures = Vec::new();
    for m in &members {
        let read = |prefix: &str| {
            typed
                .get(&format!("{prefix}-{}", m.id))
                .map(|v| v.trim().replace([' ', '\u{202f}', '\u{a0}'], ""))
                .unwrap_or_default()
        };
        let (pm, pt) = (read("municipale"), read("totale"));
        if pm.is_empty() && pt.is_empty() {
            continue;
        }
        let bad = |what: &str| {
            ApiError::unprocessable(
                "invalid_population",
                format!("{what} de {} : un nombre entier positif ou nul.", m.name),
            )
            .with_field("figures")
            .with_extra(json!({"member_id": m.id}))
        };
        let Ok(municipale) = pm.parse::<i64>() else {
            return render_members(
                &state,
                &admin,
                &typed,
                MembersError::Populations(&bad("Population municipale")),
                None,
            )
            .await;
        };
        let totale = if pt.is_empty() {
            municipale
        } else {
            match pt.parse::<i64>() {
                Ok(t) => t,
                Err(_) => {
                    return render_members(
                        &state,
                        &admin,
                        &typed,
                        MembersError::Populations(&bad("Population totale")),
                        None,
                    )
                    .await
                }
            }
        };
        figures.push(PopulationFigure {
            member_id: m.id,
            municipale,
            totale,
        });
    }
    let input = NewPopulations {
        source: typed.get("source").cloned().unwrap_or_default(),
        figures,
    };
    match ops::add_populations(&state.pool, &input).await {
        Ok(n) => Redirect::to(&format!("{MEMBERS}?enregistre={n}")).into_response(),
        Err(e) => render_members(&state, &admin, &typed, MembersError::Populations(&e), None).await,
    }
}

/// The joining form as typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct JoinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    insee_code: String,
    #[serde(default)]
    siren: String,
    #[serde(default)]
    adhesion_date: String,
    #[serde(default)]
    deliberation_ref: String,
}

/// A commune joins, then the members again (or the form with its error).
#[utoipa::path(post, path = "/registre/membres", tag = "pages",
    request_body(content = JoinForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les membres, adhésion enregistrée"),
              (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 409, description = "Déjà membre"), (status = 422, description = "Champ invalide")))]
pub async fn join_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Form(f): Form<JoinForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let typed: BTreeMap<String, String> = [
        ("insee_code", &f.insee_code),
        ("siren", &f.siren),
        ("adhesion_date", &f.adhesion_date),
        ("deliberation_ref", &f.deliberation_ref),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    let adhesion_date = match date(&f.adhesion_date, "adhesion_date") {
        Ok(d) => d,
        Err(e) => return render_members(&state, &admin, &typed, MembersError::Joining(&e), None).await,
    };
    let input = ops::Joining {
        insee_code: f.insee_code.trim().to_string(),
        siren: f.siren.trim().to_string(),
        adhesion_date,
        deliberation_ref: f.deliberation_ref.clone(),
    };
    match ops::join(&state.pool, &input).await {
        Ok(()) => Redirect::to(&format!("{MEMBERS}?adhesion=1")).into_response(),
        Err(e) => render_members(&state, &admin, &typed, MembersError::Joining(&e), None).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Periods

/// The new-period form as typed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PeriodForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    starts_on: String,
    /// The period's last day (inclusive, as people say it; the key stores the day after).
    #[serde(default)]
    ends_on: String,
    #[serde(default = "no")]
    prorata_temporis: String,
    #[serde(default = "half")]
    alpha_permille: String,
    #[serde(default = "sum")]
    combination: String,
    #[serde(default = "communes_sum")]
    epci_population: String,
    #[serde(default = "no")]
    state_mission_in_epci_n: String,
    #[serde(default)]
    population_source: String,
    #[serde(default = "municipale")]
    population_field: String,
}

fn no() -> String {
    "false".into()
}
fn half() -> String {
    "500".into()
}
fn sum() -> String {
    "sum".into()
}
fn communes_sum() -> String {
    "communes_sum".into()
}
fn municipale() -> String {
    "municipale".into()
}

impl Default for PeriodForm {
    /// The convention read literally (the key's defaults).
    fn default() -> Self {
        Self {
            csrf: String::new(),
            code: String::new(),
            starts_on: String::new(),
            ends_on: String::new(),
            prorata_temporis: no(),
            alpha_permille: half(),
            combination: sum(),
            epci_population: communes_sum(),
            state_mission_in_epci_n: no(),
            population_source: String::new(),
            population_field: municipale(),
        }
    }
}

fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

async fn render_periods(
    state: &RegistryState,
    admin: &Admin,
    f: &PeriodForm,
    error: Option<&ApiError>,
) -> Response {
    let (periods, sources) = match (
        ops::periods(&state.pool).await,
        store::population_sources(&state.pool).await,
    ) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) => return error_page(e),
        (_, Err(e)) => return error_page(e.into()),
    };
    let yes_no = options(&[("false", "Non"), ("true", "Oui")]);
    let source_options: Vec<(String, String)> = sources.iter().map(|s| (s.clone(), s.clone())).collect();
    let fields = [
        "code",
        "starts_on",
        "ends_on",
        "prorata_temporis",
        "alpha_permille",
        "combination",
        "epci_population",
        "state_mission_in_epci_n",
        "population_source",
        "population_field",
    ];
    let body = html! {
        (nav(admin, PERIODS))
        div.table-scroll role="region" aria-label="Périodes de coûts" tabindex="0" {
            table.wide {
                caption { (super::count(periods.len(), "période de coûts", "périodes de coûts")) }
                thead { tr {
                    th scope="col" { "Période" }
                    th scope="col" { "Du" }
                    th scope="col" { "Au (inclus)" }
                    th scope="col" { "Source des populations" }
                    th scope="col" { "Lignes de coût" }
                    th scope="col" { "Total HT" }
                    th scope="col" { "État" }
                    th scope="col" { "Répartition" }
                } }
                tbody {
                    @for p in &periods {
                        tr {
                            th scope="row" { a href={ (PERIODS) "/" (p.code) } { "Période " (p.code) } }
                            td { (french_date(p.starts_on)) }
                            td { (french_date(p.ends_on.pred_opt().unwrap_or(p.ends_on))) }
                            td { code { (p.population_source) } }
                            td { (p.costs) }
                            td { (ops::euros(p.total_cents)) }
                            td { @if p.closed { "Close" } @else { "Ouverte" } }
                            td { a href={ "/registre/repartition?periode=" (p.code) } { "Répartition " (p.code) } }
                        }
                    }
                }
            }
        }
        h2 #nouvelle-periode { "Ouvrir une période" }
        p { "La clé de répartition est fixée avec la période (décision du comité de pilotage) ; les valeurs proposées lisent l'Annexe 2 à la lettre. Les coûts s'ajoutent ensuite sur la page de la période." }
        (form_error(error, &fields))
        (ui::staff_form(Some(PERIODS), &admin.csrf(), false, html! {
            (text_field(error, "per-code", "code", "Code de la période (ex. 2027)", &f.code, None, true))
            (text_field(error, "per-debut", "starts_on", "Premier jour", &f.starts_on, Some("date"), true))
            (text_field(error, "per-fin", "ends_on", "Dernier jour (inclus)", &f.ends_on, Some("date"), true))
            (select_field(error, "per-source", "population_source", "Source des populations", &source_options, &f.population_source))
            (select_field(error, "per-champ", "population_field", "Population retenue", &options(&[("municipale", "Population municipale"), ("totale", "Population totale")]), &f.population_field))
            (select_field(error, "per-prorata", "prorata_temporis", "Prorata temporis (pondérer par les jours de service)", &yes_no, &f.prorata_temporis))
            (text_field(error, "per-alpha", "alpha_permille", "α en millièmes (poids du nombre de téléservices, 500 pour 0,5)", &f.alpha_permille, Some("number"), true))
            (select_field(error, "per-combi", "combination", "Combinaison des deux critères", &options(&[("sum", "Somme"), ("product", "Produit")]), &f.combination))
            (select_field(error, "per-epci", "epci_population", "Population de m2A", &options(&[("communes_sum", "Somme de ses communes"), ("other_communes", "Communes sans téléservice"), ("none", "Aucune")]), &f.epci_population))
            (select_field(error, "per-mission", "state_mission_in_epci_n", "Le service CNI/passeport compte dans le n_i de m2A", &yes_no, &f.state_mission_in_epci_n))
            button type="submit" { "Ouvrir la période" }
        }))
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    respond(status, "Périodes et coûts", body)
}

/// The cost periods and the form to open one.
#[utoipa::path(get, path = "/registre/periodes", tag = "pages",
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme")))]
pub async fn periods_page(State(state): State<RegistryState>, admin: Admin) -> Response {
    render_periods(&state, &admin, &PeriodForm::default(), None).await
}

/// A date field as typed (`YYYY-MM-DD`, what a date input sends).
fn date(raw: &str, field: &'static str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::unprocessable("invalid_date", "Date invalide (jj/mm/aaaa).").with_field(field))
}

/// A path segment safe to put back in a `Location` header.
fn safe_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Opens the period, then its page (or the form with its error).
#[utoipa::path(post, path = "/registre/periodes", tag = "pages",
    request_body(content = PeriodForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page de la période"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 409, description = "Code déjà pris"), (status = 422, description = "Champ invalide")))]
pub async fn periods_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Form(f): Form<PeriodForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let parsed = (|| {
        let starts_on = date(&f.starts_on, "starts_on")?;
        let last = date(&f.ends_on, "ends_on")?;
        let alpha_permille = f.alpha_permille.trim().parse::<i64>().map_err(|_| {
            ApiError::unprocessable("invalid_key", "α : entier de 0 à 1000.").with_field("alpha_permille")
        })?;
        Ok::<_, ApiError>(NewPeriod {
            code: f.code.clone(),
            starts_on,
            ends_on: last.succ_opt().unwrap_or(last),
            prorata_temporis: f.prorata_temporis == "true",
            alpha_permille,
            combination: f.combination.clone(),
            epci_population: f.epci_population.clone(),
            state_mission_in_epci_n: f.state_mission_in_epci_n == "true",
            population_source: f.population_source.clone(),
            population_field: f.population_field.clone(),
            costs: Vec::new(),
        })
    })();
    let input = match parsed {
        Ok(p) => p,
        Err(e) => return render_periods(&state, &admin, &f, Some(&e)).await,
    };
    match ops::create_period(&state.pool, &input).await {
        Ok(()) if safe_code(input.code.trim()) => {
            Redirect::to(&format!("{PERIODS}/{}?cree=1", input.code.trim())).into_response()
        }
        Ok(()) => Redirect::to(PERIODS).into_response(),
        Err(e) => render_periods(&state, &admin, &f, Some(&e)).await,
    }
}

/// The add-cost form as typed.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    teleservice_code: String,
    #[serde(default)]
    label: String,
    /// In euros (`1234,56`).
    #[serde(default)]
    amount: String,
}

async fn render_period(
    state: &RegistryState,
    admin: &Admin,
    code: &str,
    f: &CostForm,
    error: Option<&ApiError>,
    notice: Option<&str>,
) -> Response {
    let period = match ops::period(&state.pool, code).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let today = state.clock.now().date_naive();
    let (costs, services) = match (
        ops::period_costs(&state.pool, &period.code).await,
        store::teleservices(&state.pool, None, today).await,
    ) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) => return error_page(e),
        (_, Err(e)) => return error_page(e.into()),
    };
    let total: i64 = costs.iter().map(|c| c.amount_cents).sum();
    let categories = options(&CATEGORIES);
    let service_options: Vec<(String, String)> = std::iter::once((
        String::new(),
        "Aucun (socle, hébergement, frais matériels)".to_string(),
    ))
    .chain(services.iter().map(|s| {
        let kind = TELESERVICE_KINDS
            .iter()
            .find(|(k, _)| *k == s.kind)
            .map_or(s.kind.as_str(), |(_, l)| l);
        (s.code.clone(), format!("{} — {}", s.name, kind))
    }))
    .collect();
    let amount_err = err_for(error, "amount_cents");
    let title = format!("Période {}", period.code);
    let body = html! {
        (nav(admin, PERIODS))
        @if let Some(n) = notice {
            (ui::success(n))
        }
        p {
            "Du " (french_date(period.starts_on)) " au "
            (french_date(period.ends_on.pred_opt().unwrap_or(period.ends_on))) " inclus — "
            @if period.closed { "période close : ni sa clé ni ses coûts ne changent." } @else { "période ouverte." }
            " " a href={ "/registre/repartition?periode=" (period.code) } { "Voir la répartition de la période " (period.code) }
        }
        h2 { "Clé de répartition (décision du comité de pilotage)" }
        dl {
            @for d in period.key.decisions(&period.key) {
                dt { (d.label) }
                dd { (d.shown) }
            }
        }
        div.table-scroll role="region" aria-label="Coûts de la période" tabindex="0" {
            table.wide {
                caption { "Coûts de la période : " (super::count(costs.len(), "ligne", "lignes")) ", " (ops::euros(total)) " HT" }
                thead { tr {
                    th scope="col" { "Libellé" }
                    th scope="col" { "Catégorie" }
                    th scope="col" { "Téléservice" }
                    th scope="col" { "Montant HT" }
                } }
                tbody {
                    @for c in &costs {
                        tr {
                            th scope="row" { (c.label) }
                            td { (ops::category_label(&c.category)) }
                            td { (c.teleservice_code.as_deref().unwrap_or("—")) }
                            td { (ops::euros(c.amount_cents)) }
                        }
                    }
                }
            }
        }
        @if !period.closed {
            h2 #ajout { "Ajouter un coût" }
            (form_error(error, &["category", "teleservice_code", "label", "amount_cents"]))
            (ui::staff_form(Some(&format!("{PERIODS}/{}/couts", period.code)), &admin.csrf(), false, html! {
                (select_field(error, "c-cat", "category", "Catégorie", &categories, if f.category.is_empty() { "socle" } else { &f.category }))
                (select_field(error, "c-service", "teleservice_code", "Téléservice financé (modules, mission de l'État)", &service_options, &f.teleservice_code))
                (text_field(error, "c-libelle", "label", "Libellé", &f.label, None, true))
                (ui::field_error("err-c-montant", amount_err))
                (ui::Input {
                    id: "c-montant",
                    name: "amount",
                    label: "Montant HT en euros (ex. 12 500,00)",
                    value: Some(&f.amount),
                    required: true,
                    error_id: amount_err.map(|_| "err-c-montant"),
                    ..ui::Input::default()
                })
                button type="submit" { "Ajouter ce coût" }
            }))
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    respond(status, &title, body)
}

/// A period: its key, its costs, and the form to add one while it is open.
#[utoipa::path(get, path = "/registre/periodes/{code}", tag = "pages", params(("code" = String, Path, description = "Code de la période"), DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs de la plateforme"), (status = 404, description = "Période inconnue")))]
pub async fn period_page(
    State(state): State<RegistryState>,
    admin: Admin,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = if q.cree.is_some() {
        Some("Période ouverte avec sa clé. Ajoutez maintenant ses coûts.")
    } else if q.ajoute.is_some() {
        Some("Coût ajouté.")
    } else {
        None
    };
    render_period(&state, &admin, &code, &CostForm::default(), None, notice).await
}

/// Adds a cost to the period, then its page again (or the form with its error).
#[utoipa::path(post, path = "/registre/periodes/{code}/couts", tag = "pages", params(("code" = String, Path, description = "Code de la période")),
    request_body(content = CostForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page de la période"), (status = 403, description = "Jeton CSRF invalide ou rôle"),
              (status = 404, description = "Période inconnue"), (status = 409, description = "Période close"),
              (status = 422, description = "Champ invalide")))]
pub async fn cost_post(
    State(state): State<RegistryState>,
    admin: Admin,
    Path(code): Path<String>,
    Form(f): Form<CostForm>,
) -> Response {
    if let Some(refused) = admin.refuse_forged(&f.csrf) {
        return refused;
    }
    let Some(amount_cents) = parse_euros(&f.amount) else {
        let e = ApiError::unprocessable("invalid_amount", "Montant : en euros, par exemple 12 500,00.")
            .with_field("amount_cents");
        return render_period(&state, &admin, &code, &f, Some(&e), None).await;
    };
    let service = f.teleservice_code.trim();
    let input = NewCost {
        category: f.category.clone(),
        teleservice_code: (!service.is_empty()).then(|| service.to_string()),
        label: f.label.clone(),
        amount_cents,
    };
    match ops::add_cost(&state.pool, &code, &input).await {
        Ok(()) if safe_code(code.trim()) => {
            Redirect::to(&format!("{PERIODS}/{}?ajoute=1#ajout", code.trim())).into_response()
        }
        Ok(()) => Redirect::to(PERIODS).into_response(),
        // An unknown period has no page to show the form on.
        Err(e) if e.status == StatusCode::NOT_FOUND => error_page(e),
        Err(e) => render_period(&state, &admin, &code, &f, Some(&e), None).await,
    }
}
