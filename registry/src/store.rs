//! Registry data in PostgreSQL: members, catalog, subscriptions, orders, periods.

use crate::allocation::{Category, Cost, Member, MemberKind, Offer, Period, Service, ServiceKind};
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

/// A period and its key.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PeriodRow {
    pub code: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub alpha_permille: i32,
    pub population_source: String,
    pub population_field: String,
    pub epci_population: String,
    pub closed: bool,
}

/// Everything the allocation of a period needs, read from the database.
pub struct AllocationInput {
    pub period: PeriodRow,
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
        _ => Category::StateMission,
    }
}

/// Loads a period's inputs, with the populations its key names; `None` for an unknown period.
pub async fn allocation_input(pool: &PgPool, code: &str) -> sqlx::Result<Option<AllocationInput>> {
    let Some(period): Option<PeriodRow> = sqlx::query_as(
        "SELECT code, starts_on, ends_on, alpha_permille, population_source, population_field, epci_population, closed
         FROM cost_periods WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    #[derive(FromRow)]
    struct M {
        id: Uuid,
        kind: String,
        insee_code: Option<String>,
        siren: String,
        name: String,
        adhesion_date: NaiveDate,
        municipale: Option<i32>,
        totale: Option<i32>,
    }
    let rows: Vec<M> = sqlx::query_as(
        "SELECT m.id, m.kind, m.insee_code, m.siren, m.name, m.adhesion_date, p.municipale, p.totale
         FROM registry_members m LEFT JOIN member_populations p ON p.member_id = m.id AND p.source = $1
         WHERE m.adhesion_date < $2",
    )
    .bind(&period.population_source)
    .bind(period.ends_on)
    .fetch_all(pool)
    .await?;
    let pick = |m: Option<i32>, t: Option<i32>| {
        i64::from(if period.population_field == "totale" { t } else { m }.unwrap_or(0))
    };
    let communes_sum: i64 = rows
        .iter()
        .filter(|r| r.kind == "commune")
        .map(|r| pick(r.municipale, r.totale))
        .sum();
    let members = rows
        .into_iter()
        .map(|r| {
            let epci = r.kind == "epci";
            let population = match (epci, period.epci_population.as_str()) {
                (true, "communes_sum") => communes_sum,
                (true, _) => 0,
                (false, _) => pick(r.municipale, r.totale),
            };
            Member {
                id: r.id,
                key: r.insee_code.unwrap_or(r.siren),
                name: r.name,
                kind: if epci {
                    MemberKind::Epci
                } else {
                    MemberKind::Commune
                },
                population,
                adhesion: r.adhesion_date,
            }
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
    .bind(code)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(c, service, label, cents)| Cost { category: category(&c), service, label, cents })
    .collect();
    Ok(Some(AllocationInput {
        period,
        members,
        services,
        offers,
        costs,
    }))
}

impl AllocationInput {
    /// The allocation period of the key.
    pub fn period(&self) -> Period {
        Period {
            start: self.period.starts_on,
            end: self.period.ends_on,
            alpha_permille: i64::from(self.period.alpha_permille),
        }
    }
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
