//! ANTS declarations from the outbox, and the reconciliation with ANTS's `status`.
//!
//! Per pré-demande number, calls go out strictly in outbox order: a row is only claimed when no
//! earlier row of the same number is pending (leased, or waiting for a retry), so a retried POST can
//! never land after its DELETE and leave a ghost declaration blocking the number nationwide. Calls
//! are idempotent ("already exists" and `rowcount: 0` count as done). `ants_declarations` keeps what
//! ANTS was last told; reconciliation compares it and our live appointments with `status`.

use crate::config::NotifierConfig;
use crate::worker::{drain_loop, record_outcome, OutboxRow, Outcome};
use booking_service::ants::client::{status_message, AntsClient, AntsError};
use booking_service::ants::coordination_date;
use booking_service::clock::Clock;
use booking_service::secrets::{Keys, Sealer};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::{FromRow, PgPool};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// The declaration worker.
pub struct AntsWorker {
    pool: PgPool,
    client: AntsClient,
    config: NotifierConfig,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
}

/// What a reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: usize,
    pub redeclared: usize,
    pub withdrawn: usize,
    pub flagged: usize,
}

impl AntsWorker {
    /// A worker when the coordination API is configured.
    pub fn new(pool: PgPool, config: NotifierConfig, clock: Arc<dyn Clock>) -> Option<Self> {
        let client = AntsClient::from_config(&config.ants_api)?;
        let sealer = Sealer::new(&Keys::derive(config.app_secret.expose()).seal);
        Some(Self {
            pool,
            client,
            config,
            clock,
            sealer,
        })
    }

    /// Runs until `shutdown`, reconciling every `ants_reconcile_hours`.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        let every = self.config.ants_reconcile_hours;
        let reconciler = {
            let me = self.clone();
            async move {
                if every == 0 {
                    return std::future::pending::<()>().await;
                }
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(every * 3600));
                loop {
                    tick.tick().await;
                    match me.reconcile().await {
                        Ok(r) => tracing::info!(?r, "ANTS reconciliation done"),
                        Err(e) => tracing::warn!(error = %e, "ANTS reconciliation failed"),
                    }
                }
            }
        };
        let (pool, poll, batch) = (self.pool.clone(), self.config.poll_secs, self.config.batch_size);
        tokio::select! {
            _ = drain_loop(&pool, poll, batch, shutdown, || self.process_batch()) => {}
            _ = reconciler => {}
        }
    }

    /// Claims the first pending ANTS row of each number (none whose earlier row is still pending)
    /// and sends them; returns how many were claimed.
    pub async fn process_batch(&self) -> sqlx::Result<usize> {
        let now = self.clock.now();
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "UPDATE outbox o SET claimed_until = $2, attempts = o.attempts + 1
             WHERE o.id IN (
                 SELECT c.id FROM outbox c
                 WHERE c.status = 'pending' AND c.kind IN ('ants_declare', 'ants_delete') AND c.due_at <= $1
                   AND (c.claimed_until IS NULL OR c.claimed_until <= $1)
                   AND NOT EXISTS (SELECT 1 FROM outbox e
                                   WHERE e.status = 'pending' AND e.kind IN ('ants_declare', 'ants_delete')
                                     AND e.payload ->> 'number' = c.payload ->> 'number' AND e.id < c.id)
                 ORDER BY c.id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING o.id, o.kind, o.appointment_id, o.payload, o.attempts",
        )
        .bind(now)
        .bind(now + Duration::seconds(self.config.lease_secs))
        .bind(self.config.batch_size)
        .fetch_all(&self.pool)
        .await?;
        let n = rows.len();
        futures::stream::iter(rows)
            .for_each_concurrent(self.config.concurrency.max(1), |row| async move {
                let outcome = self.handle(&row).await;
                let now = self.clock.now();
                if let Err(e) =
                    record_outcome(&self.pool, &row, &outcome, now, self.config.retry_base_ms).await
                {
                    tracing::warn!(outbox = row.id, error = %e, "could not record the ANTS outcome");
                }
            })
            .await;
        Ok(n)
    }

    async fn handle(&self, row: &OutboxRow) -> Outcome {
        let p = &row.payload;
        let (Some(number), Some(site_id)) = (
            p.get("number").and_then(Value::as_str),
            p.get("site_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok()),
        ) else {
            return Outcome::Failed("malformed ANTS payload".into());
        };
        let site: Option<(String, String)> =
            match sqlx::query_as("SELECT name, timezone FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await
            {
                Ok(s) => s,
                Err(e) => return Outcome::Retry(format!("database: {e}")),
            };
        let Some((site_name, tz)) = site else {
            return Outcome::Failed("site gone".into());
        };
        let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Europe::Paris);
        let date = match (
            p.get("appointment_date").and_then(Value::as_str),
            p.get("start").and_then(Value::as_str),
        ) {
            (Some(d), _) => d.to_string(),
            (None, Some(s)) => match s.parse::<DateTime<Utc>>() {
                Ok(start) => coordination_date(start, tz),
                Err(_) => return Outcome::Failed("malformed start".into()),
            },
            _ => return Outcome::Failed("no appointment date".into()),
        };
        let site_id_s = site_id.to_string();
        let result = match row.kind.as_str() {
            "ants_declare" => {
                // A declaration queued for what is no longer live (cancelled meanwhile, or a repair
                // queued by a reconciliation that raced the cancellation) must never reach ANTS:
                // it would block the number nationwide.
                let live: bool = match sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM appointment_pre_demandes WHERE appointment_id = $1 AND number = $2 AND live)",
                )
                .bind(row.appointment_id)
                .bind(number)
                .fetch_one(&self.pool)
                .await
                {
                    Ok(l) => l,
                    Err(e) => return Outcome::Retry(format!("database: {e}")),
                };
                if !live {
                    return Outcome::Dropped("no longer live: not declared".into());
                }
                let url = match self.management_url(row.appointment_id, number).await {
                    Ok(u) => u,
                    Err(o) => return o,
                };
                match self.client.declare(number, &site_id_s, &site_name, &date, &url).await {
                    Ok(()) => sqlx::query(
                        "INSERT INTO ants_declarations (number, meeting_point_id, appointment_date, management_url, told_at)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (number) DO UPDATE SET meeting_point_id = EXCLUDED.meeting_point_id,
                             appointment_date = EXCLUDED.appointment_date, management_url = EXCLUDED.management_url,
                             told_at = EXCLUDED.told_at",
                    )
                    .bind(number)
                    .bind(site_id)
                    .bind(&date)
                    .bind(&url)
                    .bind(self.clock.now())
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| AntsError::Unreachable(format!("database: {e}"))),
                    Err(e) => Err(e),
                }
            }
            "ants_delete" => match self.client.delete(number, &site_id_s, &site_name, &date).await {
                Ok(_) => sqlx::query(
                    "DELETE FROM ants_declarations WHERE number = $1 AND meeting_point_id = $2 AND appointment_date = $3",
                )
                .bind(number)
                .bind(site_id)
                .bind(&date)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| AntsError::Unreachable(format!("database: {e}"))),
                Err(e) => Err(e),
            },
            other => return Outcome::Dropped(format!("not an ANTS kind: {other}")),
        };
        match result {
            Ok(()) => {
                tracing::info!(outbox = row.id, kind = %row.kind, "ANTS told");
                Outcome::Sent
            }
            Err(AntsError::Unreachable(e)) if row.attempts >= self.config.ants_max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {e}", row.attempts))
            }
            Err(AntsError::Unreachable(e)) => Outcome::Retry(e),
            Err(AntsError::Rejected(e)) => Outcome::Failed(e),
        }
    }

    /// The citizen's management link, unique per number as ANTS requires.
    async fn management_url(&self, appointment: Option<Uuid>, number: &str) -> Result<String, Outcome> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT manage_token_sealed FROM appointments WHERE id = $1")
                .bind(appointment)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| Outcome::Retry(format!("database: {e}")))?;
        let token = sealed
            .flatten()
            .and_then(|s| self.sealer.open(&s).ok())
            .ok_or_else(|| Outcome::Failed("no management token for this appointment".into()))?;
        let base = self.config.public_base_url.trim_end_matches('/');
        Ok(format!("{base}/rdv/{token}?application_id={number}"))
    }

    /// Compares our live appointments and what ANTS was last told with ANTS's `status`: declares
    /// what ANTS lacks, withdraws what it should no longer hold, and flags (with an email to the
    /// citizen) numbers ANTS reports as unusable or booked elsewhere. Never cancels anything.
    pub async fn reconcile(&self) -> anyhow::Result<ReconcileReport> {
        #[derive(FromRow)]
        struct Expected {
            number: String,
            appointment_id: Option<Uuid>,
            site_id: Uuid,
            start: Option<DateTime<Utc>>,
            timezone: String,
            ants_check: Option<String>,
        }
        // Live numbers, and numbers ANTS was told about that are no longer live with us.
        let rows: Vec<Expected> = sqlx::query_as(
            "SELECT d.number, a.id AS appointment_id, a.site_id, lower(a.during) AS start, s.timezone, d.ants_check
             FROM appointment_pre_demandes d JOIN appointments a ON a.id = d.appointment_id JOIN sites s ON s.id = a.site_id
             WHERE d.live
             UNION ALL
             SELECT t.number, NULL, t.meeting_point_id, NULL, s.timezone, NULL
             FROM ants_declarations t JOIN sites s ON s.id = t.meeting_point_id
             WHERE NOT EXISTS (SELECT 1 FROM appointment_pre_demandes d WHERE d.number = t.number AND d.live)",
        )
        .fetch_all(&self.pool)
        .await?;
        let base = self.config.public_base_url.trim_end_matches('/').to_string();
        let now = self.clock.now();
        let mut report = ReconcileReport::default();
        let mut by_site: HashMap<Uuid, Vec<&Expected>> = HashMap::new();
        for r in &rows {
            by_site.entry(r.site_id).or_default().push(r);
        }
        for (site, list) in by_site {
            for chunk in list.chunks(50) {
                let ids: Vec<String> = chunk.iter().map(|r| r.number.clone()).collect();
                let statuses = self.client.status(&ids, &site.to_string()).await?;
                for r in chunk {
                    report.checked += 1;
                    let Some(st) = statuses.get(&r.number) else {
                        continue;
                    };
                    let tz: chrono_tz::Tz = r.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
                    let expected_date = r.start.map(|s| coordination_date(s, tz));
                    let ours: Vec<_> = st
                        .appointments
                        .iter()
                        .filter(|a| a.management_url.starts_with(&base))
                        .collect();
                    let pending: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending'
                                        AND kind IN ('ants_declare', 'ants_delete') AND payload ->> 'number' = $1)",
                    )
                    .bind(&r.number)
                    .fetch_one(&self.pool)
                    .await?;
                    if pending {
                        continue; // calls already queued for it: let them land first
                    }
                    let site_s = site.to_string();
                    for a in &ours {
                        let matches = Some(&a.appointment_date) == expected_date.as_ref()
                            && a.meeting_point_id == site_s;
                        if !matches {
                            self.enqueue(
                                "ants_delete",
                                r.appointment_id,
                                json!({"number": r.number,
                                "site_id": a.meeting_point_id, "appointment_date": a.appointment_date}),
                                now,
                            )
                            .await?;
                            report.withdrawn += 1;
                        }
                    }
                    let (Some(appointment), Some(start), Some(date)) =
                        (r.appointment_id, r.start, expected_date.as_ref())
                    else {
                        continue;
                    };
                    if !ours
                        .iter()
                        .any(|a| &a.appointment_date == date && a.meeting_point_id == site_s)
                    {
                        self.enqueue(
                            "ants_declare",
                            Some(appointment),
                            json!({"number": r.number, "site_id": site, "start": start}),
                            now,
                        )
                        .await?;
                        report.redeclared += 1;
                    }
                    let others = st
                        .appointments
                        .iter()
                        .filter(|a| !a.management_url.starts_with(&base))
                        .count();
                    let problem = if st.status != "validated" && st.status != "declared" {
                        Some(status_message(&r.number, &st.status))
                    } else if others > 0 {
                        Some(format!(
                            "La pré-demande {} a aussi un rendez-vous dans une autre commune.",
                            r.number
                        ))
                    } else {
                        None
                    };
                    if let (Some(note), false) = (problem, r.ants_check.as_deref() == Some("flagged")) {
                        sqlx::query("UPDATE appointment_pre_demandes SET ants_check = 'flagged', ants_note = $3 WHERE appointment_id = $1 AND number = $2")
                            .bind(appointment)
                            .bind(&r.number)
                            .bind(&note)
                            .execute(&self.pool)
                            .await?;
                        self.enqueue(
                            "ants_warning",
                            Some(appointment),
                            json!({"number": r.number}),
                            now,
                        )
                        .await?;
                        report.flagged += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn enqueue(
        &self,
        kind: &str,
        appointment: Option<Uuid>,
        payload: Value,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO outbox (kind, appointment_id, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(kind)
            .bind(appointment)
            .bind(payload)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
