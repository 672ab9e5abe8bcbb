//! The platform administrator's writes, and the lists their pages show, in PostgreSQL: the
//! catalog, a period's populations, cost periods and their costs, orders issued and withdrawn.
//! Rules are checked in [`crate::ops`]; here is only SQL.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// A téléservice to insert, already checked.
pub struct TeleserviceInsert<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub owner_id: Uuid,
    pub kind: &'a str,
    pub public_url: Option<&'a str>,
}

/// Adds a téléservice (constraint names tell a taken code or an unknown owner).
pub async fn insert_teleservice(pool: &PgPool, t: &TeleserviceInsert<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO teleservices (code, name, description, owner_id, kind, public_url) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.code)
    .bind(t.name)
    .bind(t.description)
    .bind(t.owner_id)
    .bind(t.kind)
    .bind(t.public_url)
    .execute(pool)
    .await?;
    Ok(())
}

/// The kind of a téléservice (`mutualisable`, `specific`, `state_mission`); `None` if unknown.
pub async fn teleservice_kind(pool: &PgPool, code: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT kind FROM teleservices WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await
}

/// Whether any member has figures from `source`.
pub async fn population_source_exists(pool: &PgPool, source: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM member_populations WHERE source = $1)")
        .bind(source)
        .fetch_one(pool)
        .await
}

/// Stores one source's populations for several members, all or none (a duplicate member and
/// source, or an unknown member, fails the whole batch).
pub async fn insert_populations(
    pool: &PgPool,
    source: &str,
    figures: &[(Uuid, i32, i32)],
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for (member, municipale, totale) in figures {
        sqlx::query(
            "INSERT INTO member_populations (member_id, source, municipale, totale) VALUES ($1, $2, $3, $4)",
        )
        .bind(member)
        .bind(source)
        .bind(municipale)
        .bind(totale)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A period as listed, with its costs' count and total.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PeriodRow {
    pub code: String,
    pub starts_on: NaiveDate,
    /// Exclusive.
    pub ends_on: NaiveDate,
    pub closed: bool,
    pub population_source: String,
    pub costs: i64,
    pub total_cents: i64,
}

/// Every period, the latest first.
pub async fn periods(pool: &PgPool) -> sqlx::Result<Vec<PeriodRow>> {
    sqlx::query_as(
        "SELECT p.code, p.starts_on, p.ends_on, p.closed, p.population_source,
                count(c.id) AS costs, coalesce(sum(c.amount_cents), 0)::bigint AS total_cents
         FROM cost_periods p LEFT JOIN period_costs c ON c.period_code = p.code
         GROUP BY p.code ORDER BY p.starts_on DESC, p.code",
    )
    .fetch_all(pool)
    .await
}

/// A period to insert, already checked.
pub struct PeriodInsert<'a> {
    pub code: &'a str,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub prorata_temporis: bool,
    pub alpha_permille: i32,
    pub combination: &'a str,
    pub epci_population: &'a str,
    pub state_mission_in_epci_n: bool,
    pub population_source: &'a str,
    pub population_field: &'a str,
}

/// A cost line to insert, already checked.
pub struct CostInsert<'a> {
    pub category: &'a str,
    pub teleservice_code: Option<&'a str>,
    pub label: &'a str,
    pub amount_cents: i64,
}

async fn insert_cost_in(conn: &mut sqlx::PgConnection, period: &str, c: &CostInsert<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO period_costs (id, period_code, category, teleservice_code, label, amount_cents)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::new_v4())
    .bind(period)
    .bind(c.category)
    .bind(c.teleservice_code)
    .bind(c.label)
    .bind(c.amount_cents)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates a period, its key and its first costs, all or none (`cost_periods_pkey`: code taken).
pub async fn insert_period(
    pool: &PgPool,
    p: &PeriodInsert<'_>,
    costs: &[CostInsert<'_>],
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO cost_periods (code, starts_on, ends_on, prorata_temporis, alpha_permille, combination,
                                   epci_population, state_mission_in_epci_n, population_source, population_field)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.code)
    .bind(p.starts_on)
    .bind(p.ends_on)
    .bind(p.prorata_temporis)
    .bind(p.alpha_permille)
    .bind(p.combination)
    .bind(p.epci_population)
    .bind(p.state_mission_in_epci_n)
    .bind(p.population_source)
    .bind(p.population_field)
    .execute(&mut *tx)
    .await?;
    for c in costs {
        insert_cost_in(&mut tx, p.code, c).await?;
    }
    tx.commit().await
}

/// Adds a cost to a period (the database refuses one for a closed period).
pub async fn insert_cost(pool: &PgPool, period: &str, c: &CostInsert<'_>) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    insert_cost_in(&mut conn, period, c).await
}

/// A cost line as listed.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CostRow {
    pub id: Uuid,
    pub category: String,
    pub teleservice_code: Option<String>,
    pub label: String,
    pub amount_cents: i64,
}

/// A period's costs, by category then label.
pub async fn period_costs(pool: &PgPool, period: &str) -> sqlx::Result<Vec<CostRow>> {
    sqlx::query_as(
        "SELECT id, category, teleservice_code, label, amount_cents FROM period_costs
         WHERE period_code = $1 ORDER BY category, label",
    )
    .bind(period)
    .fetch_all(pool)
    .await
}

/// The framework agreement, if recorded.
pub async fn agreement(pool: &PgPool) -> sqlx::Result<Option<crate::store::Agreement>> {
    sqlx::query_as("SELECT term_start, term_end, min_cents, max_cents FROM framework_agreement WHERE id = 1")
        .fetch_optional(pool)
        .await
}

/// An order's status, if it exists.
pub async fn order_status(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM purchase_orders WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Issues an announced order; false when it is not (or no longer) announced.
pub async fn issue_order(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE purchase_orders SET status = 'issued', issued_at = $2 WHERE id = $1 AND status = 'announced'",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Withdraws an announced or issued order; false when it is already withdrawn (or unknown).
pub async fn withdraw_order(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE purchase_orders SET status = 'withdrawn' WHERE id = $1 AND status IN ('announced', 'issued')",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// A commune of the platform: its name and population, if known.
pub async fn commune(pool: &PgPool, insee: &str) -> sqlx::Result<Option<(String, Option<i32>)>> {
    sqlx::query_as("SELECT name, population FROM communes WHERE insee_code = $1")
        .bind(insee)
        .fetch_optional(pool)
        .await
}

/// A commune's member row to insert, already checked.
#[derive(Clone, Copy)]
pub struct MemberInsert<'a> {
    pub id: Uuid,
    pub insee: &'a str,
    pub siren: &'a str,
    pub name: &'a str,
    pub adhesion_date: NaiveDate,
    pub deliberation_ref: &'a str,
    pub population: Option<i32>,
}

/// A commune joining, already checked: its member row and, when known, its population from the
/// commune data (source `communes`), both or neither (constraint names tell an existing member).
pub async fn insert_member(pool: &PgPool, m: &MemberInsert<'_>) -> sqlx::Result<()> {
    let MemberInsert {
        id,
        insee,
        siren,
        name,
        adhesion_date,
        deliberation_ref,
        population,
    } = *m;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO registry_members (id, kind, insee_code, siren, name, adhesion_date, deliberation_ref)
         VALUES ($1, 'commune', $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(insee)
    .bind(siren)
    .bind(name)
    .bind(adhesion_date)
    .bind(deliberation_ref)
    .execute(&mut *tx)
    .await?;
    if let Some(p) = population {
        sqlx::query(
            "INSERT INTO member_populations (member_id, source, municipale, totale) VALUES ($1, 'communes', $2, $2)",
        )
        .bind(id)
        .bind(p)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A member starts offering a téléservice (foreign keys tell an unknown member or service).
pub async fn insert_subscription(
    pool: &PgPool,
    member: Uuid,
    teleservice: &str,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, member_id, teleservice_code, starts_on, ends_on) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(member)
    .bind(teleservice)
    .bind(starts_on)
    .bind(ends_on)
    .execute(pool)
    .await?;
    Ok(())
}
