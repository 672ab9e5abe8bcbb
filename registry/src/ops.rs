//! The registry's operations, each called by its API route and by its page alike: the input's
//! rules, the store's call, and a refusal the client can act on (an [`ApiError`] with a stable
//! code and, when one field is at fault, that field). SQL lives in [`crate::store`] and
//! [`crate::store_admin`].

use crate::allocation::{
    allocate, Allocation, Alpha, Combination, EpciPopulation, Key, Overrides, PopulationField,
};
use crate::store::{self, Agreement, OrderError, OrderRow, StoredPeriod};
use crate::store_admin::{self, CostInsert, PeriodInsert, PeriodRow, TeleserviceInsert};
use booking_service::db::constraints::violated;
use booking_service::error::{ApiError, ApiResult};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Euros as French write them: `1 234,56 €` (narrow no-break space between thousands, no-break
/// space before the sign).
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let units = (cents / 100).unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    // A no-break space before the sign: an amount never wraps away from its currency.
    format!("{sign}{grouped},{:02}\u{a0}€", (cents % 100).abs())
}

/// Dates the registry stores: years a convention can run (PostgreSQL would refuse far ones
/// with an error that is not the client's to read).
fn plausible(d: NaiveDate) -> bool {
    (2000..=2200).contains(&d.year())
}

/// A text field's value trimmed, refused when empty or longer than `max` characters.
fn required_text<'a>(value: &'a str, max: usize, field: &'static str, what: &str) -> ApiResult<&'a str> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{what} : requis, {max} caractères au plus."),
        )
        .with_field(field));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Catalog

/// A new téléservice.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewTeleservice {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub owner_id: Uuid,
    /// `mutualisable`, `specific` or `state_mission`.
    pub kind: String,
    pub public_url: Option<String>,
}

/// The kinds of téléservice, as stored and as said in French.
pub const TELESERVICE_KINDS: [(&str, &str); 3] = [
    ("mutualisable", "Mutualisable (partagé selon la population)"),
    ("specific", "Spécifique (payé par son propriétaire)"),
    ("state_mission", "Mission de l'État (payée par m2A)"),
];

/// Adds a téléservice to the catalog.
pub async fn create_teleservice(pool: &PgPool, t: &NewTeleservice) -> ApiResult<()> {
    if !TELESERVICE_KINDS.iter().any(|(k, _)| *k == t.kind) {
        return Err(ApiError::unprocessable(
            "invalid_kind",
            "kind : mutualisable, specific ou state_mission.",
        )
        .with_field("kind"));
    }
    let code_ok = (2..=60).contains(&t.code.len())
        && t.code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok || t.name.trim().is_empty() {
        return Err(
            ApiError::unprocessable("invalid_field", "code (a-z, 0-9, -) et nom requis.").with_field("code"),
        );
    }
    let row = TeleserviceInsert {
        code: &t.code,
        name: t.name.trim(),
        description: &t.description,
        owner_id: t.owner_id,
        kind: &t.kind,
        public_url: t.public_url.as_deref(),
    };
    match store_admin::insert_teleservice(pool, &row).await {
        Ok(()) => {
            tracing::info!(code = %t.code, kind = %t.kind, "téléservice added to the catalog");
            Ok(())
        }
        Err(e) if violated(&e) == Some("teleservices_pkey") => {
            Err(ApiError::conflict("code_taken", "Ce code de téléservice existe déjà.").with_field("code"))
        }
        Err(e) if violated(&e) == Some("teleservices_owner_id_fkey") => Err(ApiError::unprocessable(
            "unknown_member",
            "Membre propriétaire inconnu.",
        )
        .with_field("owner_id")),
        Err(e) => Err(e.into()),
    }
}

/// A member starts offering a téléservice.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewSubscription {
    pub member_id: Uuid,
    pub teleservice_code: String,
    pub starts_on: NaiveDate,
    /// Exclusive; absent: ongoing.
    pub ends_on: Option<NaiveDate>,
}

/// Records that a member offers a téléservice from a date (to another).
pub async fn create_subscription(pool: &PgPool, s: &NewSubscription) -> ApiResult<()> {
    if s.ends_on.is_some_and(|e| e <= s.starts_on) {
        return Err(
            ApiError::unprocessable("invalid_dates", "La fin doit suivre le début.").with_field("ends_on"),
        );
    }
    match store_admin::insert_subscription(pool, s.member_id, &s.teleservice_code, s.starts_on, s.ends_on)
        .await
    {
        Ok(()) => {
            tracing::info!(member = %s.member_id, teleservice = %s.teleservice_code, "subscription recorded");
            Ok(())
        }
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation()) =>
        {
            Err(ApiError::unprocessable(
                "unknown_reference",
                "Membre ou téléservice inconnu.",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Members

/// A commune joining the group.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Joining {
    /// INSEE code of a commune known to the platform.
    pub insee_code: String,
    pub siren: String,
    pub adhesion_date: NaiveDate,
    /// Reference of the council deliberation.
    pub deliberation_ref: String,
}

/// A commune joins; its name and population come from the commune data.
pub async fn join(pool: &PgPool, j: &Joining) -> ApiResult<()> {
    if j.siren.len() != 9 || !j.siren.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable("invalid_siren", "SIREN : 9 chiffres.").with_field("siren"));
    }
    if j.deliberation_ref.trim().is_empty() {
        return Err(
            ApiError::unprocessable("invalid_field", "Référence de la délibération requise.")
                .with_field("deliberation_ref"),
        );
    }
    let Some((name, population)) = store_admin::commune(pool, j.insee_code.trim()).await? else {
        return Err(
            ApiError::unprocessable("unknown_commune", "Commune inconnue de la plateforme.")
                .with_field("insee_code"),
        );
    };
    let id = Uuid::new_v4();
    let row = store_admin::MemberInsert {
        id,
        insee: j.insee_code.trim(),
        siren: &j.siren,
        name: &name,
        adhesion_date: j.adhesion_date,
        deliberation_ref: j.deliberation_ref.trim(),
        population,
    };
    let res = store_admin::insert_member(pool, &row).await;
    match res {
        Ok(()) => {
            tracing::info!(member = %id, insee = %j.insee_code.trim(), "commune joined the group");
            Ok(())
        }
        // The same commune (its INSEE code) or the same SIREN: already a member.
        Err(e)
            if matches!(
                violated(&e),
                Some("registry_members_insee_code_key" | "registry_members_siren_key")
            ) =>
        {
            Err(ApiError::conflict(
                "already_member",
                "Cette commune est déjà membre.",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Populations

/// One member's figures.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PopulationFigure {
    pub member_id: Uuid,
    pub municipale: i64,
    pub totale: i64,
}

/// A new source of populations (e.g. the next census year) with the figures of its members.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewPopulations {
    /// The source's name, as a period's key will name it (e.g. `insee-2027`).
    pub source: String,
    pub figures: Vec<PopulationFigure>,
}

/// Records a new source's populations, all or none: a source is entered once, so a period's key
/// that names it always reads the same figures.
pub async fn add_populations(pool: &PgPool, p: &NewPopulations) -> ApiResult<usize> {
    let source = required_text(&p.source, 100, "source", "Source des populations")?;
    if p.figures.is_empty() {
        return Err(
            ApiError::unprocessable("no_figures", "Saisissez la population d'au moins un membre.")
                .with_field("figures"),
        );
    }
    let mut figures = Vec::with_capacity(p.figures.len());
    let mut seen = std::collections::BTreeSet::new();
    for f in &p.figures {
        let fits = |v: i64| i32::try_from(v).ok().filter(|v| *v >= 0);
        let (Some(m), Some(t)) = (fits(f.municipale), fits(f.totale)) else {
            return Err(ApiError::unprocessable(
                "invalid_population",
                "Population : un nombre entier positif ou nul.",
            )
            .with_field("figures")
            .with_extra(json!({"member_id": f.member_id})));
        };
        if t < m {
            return Err(ApiError::unprocessable(
                "invalid_population",
                "La population totale ne peut être inférieure à la population municipale.",
            )
            .with_field("figures")
            .with_extra(json!({"member_id": f.member_id})));
        }
        if !seen.insert(f.member_id) {
            return Err(
                ApiError::unprocessable("duplicate_member", "Un même membre figure deux fois.")
                    .with_field("figures"),
            );
        }
        figures.push((f.member_id, m, t));
    }
    if store_admin::population_source_exists(pool, source).await? {
        return Err(ApiError::conflict(
            "source_exists",
            "Cette source de populations est déjà enregistrée : choisissez un autre nom.",
        )
        .with_field("source"));
    }
    match store_admin::insert_populations(pool, source, &figures).await {
        Ok(()) => {
            tracing::info!(source, members = figures.len(), "populations recorded");
            Ok(figures.len())
        }
        Err(e) if violated(&e) == Some("member_populations_pkey") => Err(ApiError::conflict(
            "source_exists",
            "Cette source de populations est déjà enregistrée : choisissez un autre nom.",
        )
        .with_field("source")),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation()) =>
        {
            Err(ApiError::unprocessable("unknown_member", "Membre inconnu.").with_field("figures"))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Periods and costs

/// The cost categories, as stored and as said in French.
pub const CATEGORIES: [(&str, &str); 6] = [
    ("socle", "Socle de base"),
    ("hebergement", "Hébergement"),
    ("module", "Module mutualisé"),
    ("specific", "Module spécifique"),
    ("state_mission", "Mission de l'État (CNI-passeport)"),
    ("material", "Frais matériels du groupement (art. 3.5)"),
];

/// A category's French name (the code itself if unknown).
pub fn category_label(code: &str) -> &str {
    CATEGORIES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, l)| l)
}

/// A cost line of a period.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCost {
    /// `socle`, `hebergement`, `module`, `specific`, `state_mission` or `material`.
    pub category: String,
    /// The téléservice it pays for: required for `module` (mutualisable), `specific` and
    /// `state_mission`, absent otherwise.
    pub teleservice_code: Option<String>,
    pub label: String,
    /// Amount HT in euro cents.
    pub amount_cents: i64,
}

/// A new cost period, its key and, optionally, its costs.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewPeriod {
    /// e.g. `2027`.
    pub code: String,
    pub starts_on: NaiveDate,
    /// Exclusive.
    pub ends_on: NaiveDate,
    #[serde(default)]
    pub prorata_temporis: bool,
    /// α in thousandths, 0 to 1000 (default 500).
    #[serde(default = "default_alpha")]
    pub alpha_permille: i64,
    /// `sum` (default) or `product`.
    #[serde(default = "default_combination")]
    pub combination: String,
    /// `communes_sum` (default), `other_communes` or `none`.
    #[serde(default = "default_epci_population")]
    pub epci_population: String,
    #[serde(default)]
    pub state_mission_in_epci_n: bool,
    /// A population source on record.
    pub population_source: String,
    /// `municipale` (default) or `totale`.
    #[serde(default = "default_population_field")]
    pub population_field: String,
    #[serde(default)]
    pub costs: Vec<NewCost>,
}

fn default_alpha() -> i64 {
    500
}
fn default_combination() -> String {
    "sum".into()
}
fn default_epci_population() -> String {
    "communes_sum".into()
}
fn default_population_field() -> String {
    "municipale".into()
}

/// A cost line checked: its category known, its téléservice of the kind the category pays for.
async fn checked_cost<'a>(pool: &PgPool, c: &'a NewCost) -> ApiResult<CostInsert<'a>> {
    let category = c.category.trim();
    if !CATEGORIES.iter().any(|(k, _)| *k == category) {
        return Err(ApiError::unprocessable(
            "invalid_category",
            "Catégorie : socle, hebergement, module, specific, state_mission ou material.",
        )
        .with_field("category"));
    }
    let label = required_text(&c.label, 200, "label", "Libellé du coût")?;
    if c.amount_cents < 0 || c.amount_cents > 1_000_000_000_000 {
        return Err(
            ApiError::unprocessable("invalid_amount", "Montant : positif ou nul, en euros HT.")
                .with_field("amount_cents"),
        );
    }
    let service = c
        .teleservice_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let wanted = match category {
        "module" => Some("mutualisable"),
        "specific" => Some("specific"),
        "state_mission" => Some("state_mission"),
        _ => None,
    };
    match (wanted, service) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(ApiError::unprocessable(
                "unexpected_teleservice",
                "Le socle, l'hébergement et les frais matériels ne désignent aucun téléservice.",
            )
            .with_field("teleservice_code"))
        }
        (Some(_), None) => {
            return Err(ApiError::unprocessable(
                "missing_teleservice",
                "Ce coût doit désigner le téléservice qu'il finance.",
            )
            .with_field("teleservice_code"))
        }
        (Some(kind), Some(code)) => {
            let found = if code.len() <= 60 {
                store_admin::teleservice_kind(pool, code).await?
            } else {
                None
            };
            if found.as_deref() != Some(kind) {
                return Err(ApiError::unprocessable(
                    "teleservice_kind",
                    format!("Ce coût doit désigner un téléservice du catalogue de type « {kind} »."),
                )
                .with_field("teleservice_code"));
            }
        }
    }
    Ok(CostInsert {
        category,
        teleservice_code: service,
        label,
        amount_cents: c.amount_cents,
    })
}

/// Creates a period with its key and costs, all or none.
pub async fn create_period(pool: &PgPool, p: &NewPeriod) -> ApiResult<()> {
    let code = p.code.trim();
    let code_ok = (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !code_ok {
        return Err(ApiError::unprocessable(
            "invalid_code",
            "Code de la période : lettres, chiffres et tirets (ex. 2027).",
        )
        .with_field("code"));
    }
    if !plausible(p.starts_on) || !plausible(p.ends_on) {
        return Err(
            ApiError::unprocessable("invalid_dates", "Dates entre 2000 et 2200.").with_field("starts_on"),
        );
    }
    if p.ends_on <= p.starts_on {
        return Err(
            ApiError::unprocessable("invalid_dates", "La fin doit suivre le début.").with_field("ends_on"),
        );
    }
    let alpha = Alpha::from_permille(p.alpha_permille).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_key",
            "α : entier de 0 à 1000 (en millièmes, 500 pour 0,5).",
        )
        .with_field("alpha_permille")
    })?;
    let choice_err = |field: &'static str, choices: &[&str]| {
        ApiError::unprocessable("invalid_key", format!("{field} : {}.", choices.join(", "))).with_field(field)
    };
    let combination: Combination = p
        .combination
        .parse()
        .map_err(|()| choice_err("combination", Combination::CHOICES))?;
    let epci: EpciPopulation = p
        .epci_population
        .parse()
        .map_err(|()| choice_err("epci_population", EpciPopulation::CHOICES))?;
    let field: PopulationField = p
        .population_field
        .parse()
        .map_err(|()| choice_err("population_field", PopulationField::CHOICES))?;
    let source = required_text(
        &p.population_source,
        100,
        "population_source",
        "Source des populations",
    )?;
    if !store_admin::population_source_exists(pool, source).await? {
        return Err(ApiError::unprocessable(
            "unknown_population_source",
            "Source de population inconnue : enregistrez d'abord ses populations.",
        )
        .with_field("population_source")
        .with_extra(json!({ "known_sources": store::population_sources(pool).await? })));
    }
    let mut costs = Vec::with_capacity(p.costs.len());
    for c in &p.costs {
        costs.push(checked_cost(pool, c).await?);
    }
    let alpha_permille = i32::try_from(alpha.permille()).unwrap_or(500);
    let row = PeriodInsert {
        code,
        starts_on: p.starts_on,
        ends_on: p.ends_on,
        prorata_temporis: p.prorata_temporis,
        alpha_permille,
        combination: combination.code(),
        epci_population: epci.code(),
        state_mission_in_epci_n: p.state_mission_in_epci_n,
        population_source: source,
        population_field: field.code(),
    };
    match store_admin::insert_period(pool, &row, &costs).await {
        Ok(()) => {
            tracing::info!(period = code, costs = costs.len(), "cost period created");
            Ok(())
        }
        Err(e) if violated(&e) == Some("cost_periods_pkey") => {
            Err(ApiError::conflict("period_exists", "Une période porte déjà ce code.").with_field("code"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Every period with its costs' count and total.
pub async fn periods(pool: &PgPool) -> ApiResult<Vec<PeriodRow>> {
    Ok(store_admin::periods(pool).await?)
}

/// A period, or 404.
pub async fn period(pool: &PgPool, code: &str) -> ApiResult<StoredPeriod> {
    let code = code.trim();
    if code.is_empty() || code.len() > 40 {
        return Err(ApiError::not_found("period_not_found", "Période inconnue."));
    }
    store::period(pool, code)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "Période inconnue."))
}

/// A period's cost lines.
pub async fn period_costs(pool: &PgPool, code: &str) -> ApiResult<Vec<store_admin::CostRow>> {
    Ok(store_admin::period_costs(pool, code).await?)
}

/// Adds a cost line to an open period.
pub async fn add_cost(pool: &PgPool, period_code: &str, c: &NewCost) -> ApiResult<()> {
    let p = period(pool, period_code).await?;
    if p.closed {
        return Err(ApiError::conflict(
            "period_closed",
            "Cette période est close : ses coûts ne changent plus.",
        ));
    }
    let cost = checked_cost(pool, c).await?;
    match store_admin::insert_cost(pool, &p.code, &cost).await {
        Ok(()) => {
            tracing::info!(period = %p.code, category = cost.category, "cost added");
            Ok(())
        }
        // Closed between the check and the insert: the database's guard said so.
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23000") => {
            Err(ApiError::conflict(
                "period_closed",
                "Cette période est close : ses coûts ne changent plus.",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

/// A member's running total.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberTotal {
    pub member_id: Uuid,
    pub member_name: String,
    pub total_cents: i64,
}

/// Orders and totals against the agreement.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersOut {
    pub agreement: Option<Agreement>,
    /// Announced and issued orders.
    pub committed_cents: i64,
    pub remaining_cents: Option<i64>,
    /// The group has not yet reached the agreement's minimum.
    pub below_minimum: Option<bool>,
    pub per_member: Vec<MemberTotal>,
    pub orders: Vec<OrderRow>,
}

/// Every order, with totals per member and for the group against the agreement (withdrawn
/// orders count for nothing).
pub async fn orders(pool: &PgPool) -> ApiResult<OrdersOut> {
    let orders = store::orders(pool).await?;
    let agreement = store_admin::agreement(pool).await?;
    let live = |o: &&OrderRow| o.status != "withdrawn";
    let committed: i64 = orders.iter().filter(live).map(|o| o.amount_cents).sum();
    let mut per: BTreeMap<(String, Uuid), i64> = BTreeMap::new();
    for o in orders.iter().filter(live) {
        *per.entry((o.member_name.clone(), o.member_id)).or_default() += o.amount_cents;
    }
    Ok(OrdersOut {
        remaining_cents: agreement.map(|a| a.max_cents - committed),
        below_minimum: agreement.map(|a| committed < a.min_cents),
        agreement,
        committed_cents: committed,
        per_member: per
            .into_iter()
            .map(|((member_name, member_id), total_cents)| MemberTotal {
                member_id,
                member_name,
                total_cents,
            })
            .collect(),
        orders,
    })
}

/// An order's status in French.
pub fn order_status_label(status: &str) -> &str {
    match status {
        "announced" => "Annoncé",
        "issued" => "Émis",
        "withdrawn" => "Retiré",
        other => other,
    }
}

/// A new order.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewOrder {
    pub member_id: Uuid,
    pub teleservice_code: Option<String>,
    /// Amount HT in euro cents.
    pub amount_cents: i64,
    pub order_date: NaiveDate,
    #[serde(default)]
    pub label: String,
}

/// Announces an order; refused past the agreement's maximum or outside its term.
pub async fn announce_order(pool: &PgPool, o: &NewOrder, now: DateTime<Utc>) -> ApiResult<OrderRow> {
    if o.amount_cents <= 0 {
        return Err(
            ApiError::unprocessable("invalid_amount", "Le montant doit être positif.")
                .with_field("amount_cents"),
        );
    }
    let euros_plain = |c: i64| format!("{},{:02} €", c / 100, (c % 100).abs());
    match store::announce_order(pool, o.member_id, o.teleservice_code.as_deref(), o.amount_cents, o.order_date, &o.label, now).await {
        Ok(row) => {
            tracing::info!(reference = %row.reference, amount_cents = row.amount_cents, "order announced");
            Ok(row)
        }
        Err(OrderError::Ceiling { agreement, committed }) => Err(ApiError::conflict(
            "agreement_ceiling",
            format!(
                "Ce bon de commande dépasserait le maximum de l'accord-cadre ({} HT) : déjà engagé {}, reste {}.",
                euros_plain(agreement.max_cents),
                euros_plain(committed),
                euros_plain(agreement.max_cents - committed)
            ),
        )
        .with_field("amount_cents")
        .with_extra(json!({"remaining_cents": agreement.max_cents - committed}))),
        Err(OrderError::OutsideTerm(a)) => Err(ApiError::unprocessable(
            "outside_term",
            format!("La date doit être dans la durée de l'accord-cadre (du {} au {}, exclu).", a.term_start, a.term_end),
        )
        .with_field("order_date")),
        Err(OrderError::NoAgreement) => Err(ApiError::conflict("no_agreement", "Aucun accord-cadre n'est enregistré.")),
        Err(OrderError::Unknown) => Err(ApiError::unprocessable("unknown_reference", "Membre ou téléservice inconnu.")),
        Err(OrderError::Db(e)) => Err(e.into()),
    }
}

/// Issues an announced order.
pub async fn issue_order(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    if store_admin::issue_order(pool, id, now).await? {
        tracing::info!(order = %id, "order issued");
        return Ok(());
    }
    match store_admin::order_status(pool, id).await? {
        Some(_) => Err(ApiError::conflict(
            "not_announced",
            "Ce bon n'est pas à l'état annoncé.",
        )),
        None => Err(ApiError::not_found("order_not_found", "Bon de commande inconnu.")),
    }
}

/// Withdraws an announced or issued order: it stays listed, and counts no more against the
/// agreement's maximum nor in its member's total.
pub async fn withdraw_order(pool: &PgPool, id: Uuid) -> ApiResult<()> {
    if store_admin::withdraw_order(pool, id).await? {
        tracing::info!(order = %id, "order withdrawn");
        return Ok(());
    }
    match store_admin::order_status(pool, id).await? {
        Some(_) => Err(ApiError::conflict(
            "already_withdrawn",
            "Ce bon de commande est déjà retiré.",
        )),
        None => Err(ApiError::not_found("order_not_found", "Bon de commande inconnu.")),
    }
}

// ---------------------------------------------------------------------------------------------
// Allocation

/// A period's split: the stored period, the key the split used, and the split.
pub struct Split {
    pub stored: StoredPeriod,
    pub key: Key,
    pub allocation: Allocation,
}

/// The split of period `code` under its committee's key, or a what-if's choices in its place.
pub async fn split(pool: &PgPool, code: &str, what_if: &Overrides) -> ApiResult<Split> {
    let stored = store::period(pool, code)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "Période inconnue."))?;
    let key = stored.key.with(what_if);
    if key.population_source != stored.key.population_source {
        let known = store::population_sources(pool).await?;
        if !known.contains(&key.population_source) {
            return Err(ApiError::unprocessable(
                "unknown_population_source",
                "Source de population inconnue : voir known_sources.",
            )
            .with_field("population_source")
            .with_extra(json!({ "known_sources": known })));
        }
    }
    let input = store::allocation_input(pool, &stored, &key).await?;
    let allocation = allocate(
        &stored.period(),
        &key,
        &input.members,
        &input.services,
        &input.offers,
        &input.costs,
    )
    .map_err(|e| ApiError::unprocessable("unallocatable_cost", e.to_string()))?;
    Ok(Split {
        stored,
        key,
        allocation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_are_written_the_french_way() {
        assert_eq!(euros(123_456), "1\u{202f}234,56\u{a0}€");
        assert_eq!(euros(5), "0,05\u{a0}€");
        assert_eq!(euros(-150), "-1,50\u{a0}€");
        assert_eq!(euros(100_000_000), "1\u{202f}000\u{202f}000,00\u{a0}€");
    }
}
