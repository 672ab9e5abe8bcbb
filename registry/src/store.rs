//! Registry data in PostgreSQL: members, catalog, subscriptions, orders, periods.

use crate::allocation::{
    Alpha, Category, Cost, Key, Member, MemberKind, Offer, Period, Service, ServiceKind,
};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// A member as listed.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct MemberRow {
    pub id: Uuid,
    pub kind: String,
    pub insee_code: Option<String>,
    pub siren: String,
    pub name: String,
    pub adhesion_date: NaiveDate,
    pub deliberation_ref: String,
    pub population_municipale: Option<i32>,
    pub population_totale: Option<i32>,
}

/// Members with their latest population figures.
pub async fn members(pool: &PgPool) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT m.id, m.kind, m.insee_code, m.siren, m.name, m.adhesion_date, m.deliberation_ref,
                p.municipale AS population_municipale, p.totale AS population_totale
         FROM registry_members m
         LEFT JOIN LATERAL (SELECT municipale, totale FROM member_populations WHERE member_id = m.id
                            ORDER BY source DESC LIMIT 1) p ON true
         ORDER BY m.kind DESC, m.insee_code NULLS FIRST, m.name",
    )
    .fetch_all(pool)
    .await
}

/// A téléservice as listed.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct TeleserviceRow {
    pub code: String,
    pub name: String,
    pub description: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub kind: String,
    pub public_url: Option<String>,
    pub status: String,
}

/// The catalog, or what a resident of `commune` is offered on `today`: services the commune offers,
/// services the EPCI offers to all its communes, and state missions (offered everywhere).
pub async fn teleservices(
    pool: &PgPool,
    commune: Option<&str>,
    today: NaiveDate,
) -> sqlx::Result<Vec<TeleserviceRow>> {
    sqlx::query_as(
        "SELECT t.code, t.name, t.description, t.owner_id, o.name AS owner_name, t.kind, t.public_url, t.status
         FROM teleservices t JOIN registry_members o ON o.id = t.owner_id
         WHERE $1::text IS NULL OR (t.status = 'active' AND (t.kind = 'state_mission' OR EXISTS (
             SELECT 1 FROM subscriptions s JOIN registry_members m ON m.id = s.member_id
             WHERE s.teleservice_code = t.code AND s.starts_on <= $2 AND (s.ends_on IS NULL OR s.ends_on > $2)
               AND (m.insee_code = $1 OR m.kind = 'epci'))))
         ORDER BY t.code",
    )
    .bind(commune)
    .bind(today)
    .fetch_all(pool)
    .await
}

/// A subscription as listed.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub member_id: Uuid,
    pub member_name: String,
    pub teleservice_code: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

/// Every subscription.
pub async fn subscriptions(pool: &PgPool) -> sqlx::Result<Vec<SubscriptionRow>> {
    sqlx::query_as(
        "SELECT s.id, s.member_id, m.name AS member_name, s.teleservice_code, s.starts_on, s.ends_on
         FROM subscriptions s JOIN registry_members m ON m.id = s.member_id
         ORDER BY m.name, s.teleservice_code, s.starts_on",
    )
    .fetch_all(pool)
    .await
}

/// A cost period with the key its steering committee decided.
#[derive(Debug, Clone)]
pub struct StoredPeriod {
    pub code: String,
    pub starts_on: NaiveDate,
    /// Exclusive.
    pub ends_on: NaiveDate,
    pub closed: bool,
    pub key: Key,
}

impl StoredPeriod {
    /// The period's dates.
    pub fn period(&self) -> Period {
        Period {
            start: self.starts_on,
            end: self.ends_on,
        }
    }
}

/// Everything the allocation of a period needs under one key, read from the database.
pub struct AllocationInput {
    pub members: Vec<Member>,
    pub services: Vec<Service>,
    pub offers: Vec<Offer>,
    pub costs: Vec<Cost>,
}

fn category(s: &str) -> Category {
    match s {
        "socle" => Category::Socle,
        "hebergement" => Category::Hebergement,
        "module" => Category::Module,
        "specific" => Category::Specific,
        "material" => Category::Material,
        _ => Category::StateMission,
    }
}

/// A value the schema's CHECK allows and the code does not know: the two are out of step.
fn undecodable(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("cost_periods.{column}: unexpected {value:?}").into())
}

/// A period and its stored key; `None` for an unknown period.
pub async fn period(pool: &PgPool, code: &str) -> sqlx::Result<Option<StoredPeriod>> {
    #[derive(FromRow)]
    struct Row {
        code: String,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        closed: bool,
        prorata_temporis: bool,
        alpha_permille: i32,
        combination: String,
        epci_population: String,
        state_mission_in_epci_n: bool,
        population_source: String,
        population_field: String,
    }
    let Some(r): Option<Row> = sqlx::query_as(
        "SELECT code, starts_on, ends_on, closed, prorata_temporis, alpha_permille, combination, epci_population,
                state_mission_in_epci_n, population_source, population_field
         FROM cost_periods WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let key = Key {
        prorata_temporis: r.prorata_temporis,
        alpha_permille: Alpha::from_permille(i64::from(r.alpha_permille))
            .ok_or_else(|| undecodable("alpha_permille", &r.alpha_permille.to_string()))?,
        combination: r
            .combination
            .parse()
            .map_err(|()| undecodable("combination", &r.combination))?,
        epci_population: r
            .epci_population
            .parse()
            .map_err(|()| undecodable("epci_population", &r.epci_population))?,
        state_mission_in_epci_n: r.state_mission_in_epci_n,
        population_field: r
            .population_field
            .parse()
            .map_err(|()| undecodable("population_field", &r.population_field))?,
        population_source: r.population_source,
    };
    Ok(Some(StoredPeriod {
        code: r.code,
        starts_on: r.starts_on,
        ends_on: r.ends_on,
        closed: r.closed,
        key,
    }))
}

/// The population sources on record, so a what-if can only name one of them.
pub async fn population_sources(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT source FROM member_populations ORDER BY source")
        .fetch_all(pool)
        .await
}

/// Loads a period's inputs with the populations `key` names (its source and field). Reads only.
pub async fn allocation_input(
    pool: &PgPool,
    period: &StoredPeriod,
    key: &Key,
) -> sqlx::Result<AllocationInput> {
    #[derive(FromRow)]
    struct M {
        id: Uuid,
        kind: String,
        insee_code: Option<String>,
        siren: String,
        name: String,
        adhesion_date: NaiveDate,
        population: Option<i32>,
    }
    let rows: Vec<M> = sqlx::query_as(
        "SELECT m.id, m.kind, m.insee_code, m.siren, m.name, m.adhesion_date,
                CASE WHEN $3 = 'totale' THEN p.totale ELSE p.municipale END AS population
         FROM registry_members m LEFT JOIN member_populations p ON p.member_id = m.id AND p.source = $1
         WHERE m.adhesion_date < $2",
    )
    .bind(&key.population_source)
    .bind(period.ends_on)
    .bind(key.population_field.code())
    .fetch_all(pool)
    .await?;
    let members = rows
        .into_iter()
        .map(|r| Member {
            id: r.id,
            key: r.insee_code.unwrap_or(r.siren),
            name: r.name,
            kind: if r.kind == "epci" {
                MemberKind::Epci
            } else {
                MemberKind::Commune
            },
            population: i64::from(r.population.unwrap_or(0)),
            adhesion: r.adhesion_date,
        })
        .collect();
    let services =
        sqlx::query_as::<_, (String, String, Uuid)>("SELECT code, kind, owner_id FROM teleservices")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|(code, kind, owner)| Service {
                code,
                kind: match kind.as_str() {
                    "mutualisable" => ServiceKind::Mutualisable,
                    "specific" => ServiceKind::Specific,
                    _ => ServiceKind::StateMission,
                },
                owner,
            })
            .collect();
    let offers = sqlx::query_as::<_, (Uuid, String, NaiveDate, Option<NaiveDate>)>(
        "SELECT member_id, teleservice_code, starts_on, ends_on FROM subscriptions",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(member, service, from, to)| Offer {
        member,
        service,
        from,
        to,
    })
    .collect();
    let costs = sqlx::query_as::<_, (String, Option<String>, String, i64)>(
        "SELECT category, teleservice_code, label, amount_cents FROM period_costs WHERE period_code = $1 ORDER BY category, label",
    )
    .bind(&period.code)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(c, service, label, cents)| Cost { category: category(&c), service, label, cents })
    .collect();
    Ok(AllocationInput {
        members,
        services,
        offers,
        costs,
    })
}

/// A purchase order as listed (announced orders are visible to every member).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OrderRow {
    pub id: Uuid,
    pub reference: String,
    pub member_id: Uuid,
    pub member_name: String,
    pub teleservice_code: Option<String>,
    pub amount_cents: i64,
    pub order_date: NaiveDate,
    pub status: String,
    pub label: String,
}

/// Every order, newest first.
pub async fn orders(pool: &PgPool) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as(
        "SELECT o.id, o.reference, o.member_id, m.name AS member_name, o.teleservice_code, o.amount_cents,
                o.order_date, o.status, o.label
         FROM purchase_orders o JOIN registry_members m ON m.id = o.member_id
         ORDER BY o.order_date DESC, o.reference DESC",
    )
    .fetch_all(pool)
    .await
}

/// The framework agreement.
#[derive(Debug, Clone, Copy, Serialize, FromRow, ToSchema)]
pub struct Agreement {
    pub term_start: NaiveDate,
    /// Exclusive.
    pub term_end: NaiveDate,
    pub min_cents: i64,
    pub max_cents: i64,
}

/// Why an order was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no framework agreement")]
    NoAgreement,
    #[error("outside the term")]
    OutsideTerm(Agreement),
    #[error("would pass the maximum")]
    Ceiling { agreement: Agreement, committed: i64 },
    #[error("unknown member or téléservice")]
    Unknown,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Announces an order: one transaction that locks the agreement row, so two concurrent orders
/// cannot both pass the ceiling.
pub async fn announce_order(
    pool: &PgPool,
    member: Uuid,
    teleservice: Option<&str>,
    amount_cents: i64,
    order_date: NaiveDate,
    label: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<OrderRow, OrderError> {
    let mut tx = pool.begin().await?;
    let agreement: Agreement = sqlx::query_as(
        "SELECT term_start, term_end, min_cents, max_cents FROM framework_agreement WHERE id = 1 FOR UPDATE",
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(OrderError::NoAgreement)?;
    if order_date < agreement.term_start || order_date >= agreement.term_end {
        return Err(OrderError::OutsideTerm(agreement));
    }
    let committed: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM purchase_orders WHERE status IN ('announced', 'issued')",
    )
    .fetch_one(&mut *tx)
    .await?;
    // Checked: an absurd amount must be refused as over the ceiling, not wrap around under it.
    if committed
        .checked_add(amount_cents)
        .is_none_or(|total| total > agreement.max_cents)
    {
        return Err(OrderError::Ceiling { agreement, committed });
    }
    let id = Uuid::new_v4();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM purchase_orders")
        .fetch_one(&mut *tx)
        .await?;
    let reference = format!("BC-{}-{:04}", order_date.format("%Y"), n + 1);
    let res = sqlx::query(
        "INSERT INTO purchase_orders (id, reference, member_id, teleservice_code, amount_cents, order_date, status, label, announced_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'announced', $7, $8)",
    )
    .bind(id)
    .bind(&reference)
    .bind(member)
    .bind(teleservice)
    .bind(amount_cents)
    .bind(order_date)
    .bind(label)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation()) =>
        {
            return Err(OrderError::Unknown)
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    orders(pool)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(OrderError::Unknown)
}
