//! ANTS declarations from the outbox, and the reconciliation with ANTS's `status`.
//!
//! Per pré-demande number, calls go out strictly in outbox order: a row is only claimed when no
//! earlier row of the same number is pending (leased, or waiting for a retry), so a retried POST can
//! never land after its DELETE and leave a ghost declaration blocking the number nationwide.
//! `ants_declarations` keeps what ANTS was last told.
//!
//! ANTS as it really answers (rdv-service-public and the hub's own code are the references):
//! - `status` entries carry no `meeting_point_id`, so an entry is recognised by its
//!   `management_url` (one per appointment and number) and its site comes from our records;
//! - a DELETE must repeat the `meeting_point` and `appointment_date` ANTS stored, which is what
//!   `status` returns: after a site is renamed, ours would match nothing (`rowcount: 0`);
//! - a POST whose `management_url` ANTS already holds answers "Already exists in database": we look
//!   at what it holds before calling that done;
//! - a 401/403 is our token, not the call: the row waits (never failed for it) and goes out once a
//!   worker starts with a fixed token.

use crate::config::NotifierConfig;
use crate::worker::{count_outcome, drain_loop, record_outcome, OutboxRow, Outcome};
use booking_service::ants::client::{AntsAppointment, AntsClient, AntsError, Declared};
use booking_service::ants::status::booked_elsewhere_note;
use booking_service::ants::{
    coordination_date, is_link_of, is_our_link, management_url, parse_ants_datetime, token_of_link,
};
use booking_service::clock::Clock;
use booking_service::secrets::Sealer;
use booking_service::tokens::hash_token;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::{FromRow, PgPool};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// How a row deferred for a refused token starts its `last_error` (see
/// [`AntsWorker::retry_rows_refused_for_the_token`]).
const TOKEN_REFUSED: &str = "ANTS refused our token";

/// The declaration worker.
pub struct AntsWorker {
    pool: PgPool,
    client: AntsClient,
    config: NotifierConfig,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    /// Outcomes counted for `/metrics`.
    pub telemetry: Arc<booking_service::telemetry::Telemetry>,
}

/// What a reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Numbers whose status was read.
    pub checked: usize,
    /// Declarations queued because ANTS lacked ours (or held it stale).
    pub redeclared: usize,
    /// Withdrawals queued for entries of ours ANTS should no longer hold.
    pub withdrawn: usize,
    /// Appointments newly flagged (status not `validated`, or booked elsewhere).
    pub flagged: usize,
    /// Numbers booked unchecked (ANTS down or refusing our token) that ANTS now validates.
    pub confirmed: usize,
}

/// Why a row could not be handled now.
enum Step {
    Db(sqlx::Error),
    Ants(AntsError),
    /// Will not get better by retrying: the row fails, with why.
    Fail(String),
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Db(e)
    }
}

impl From<AntsError> for Step {
    fn from(e: AntsError) -> Self {
        Step::Ants(e)
    }
}

/// An ANTS row's payload.
struct Job {
    number: String,
    /// The meeting point id sent to ANTS (our site).
    site_id: Option<Uuid>,
    /// The appointment's start when queued (a move queues the old one with its DELETE).
    start: Option<DateTime<Utc>>,
    /// A withdrawal queued by reconciliation: the entry exactly as `status` returned it.
    entry: Option<AntsAppointment>,
}

impl Job {
    fn parse(p: &Value) -> Option<Self> {
        let text = |k: &str| p.get(k).and_then(Value::as_str);
        let number = text("number")?.to_string();
        let entry = match (text("meeting_point"), text("appointment_date")) {
            (Some(mp), Some(date)) => Some(AntsAppointment {
                management_url: text("management_url").unwrap_or_default().to_string(),
                meeting_point: mp.to_string(),
                meeting_point_id: None,
                appointment_date: date.to_string(),
            }),
            _ => None,
        };
        Some(Self {
            number,
            site_id: text("site_id").and_then(|s| Uuid::parse_str(s).ok()),
            start: text("start").and_then(|s| s.parse().ok()),
            entry,
        })
    }
}

/// What ANTS was last told for a number.
#[derive(FromRow)]
struct Told {
    meeting_point_id: Uuid,
    appointment_date: String,
    management_url: String,
}

impl AntsWorker {
    /// A worker when the coordination API is configured.
    pub fn new(pool: PgPool, config: NotifierConfig, clock: Arc<dyn Clock>) -> Option<Self> {
        let client = AntsClient::from_config(&config.ants_api)?;
        let sealer = config.sealer();
        Some(Self {
            pool,
            client,
            config,
            clock,
            sealer,
            telemetry: Arc::default(),
        })
    }

    fn base(&self) -> &str {
        self.config.public_base_url.trim_end_matches('/')
    }

    /// Runs until `shutdown`, reconciling every `ants_reconcile_hours`.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        match self.retry_rows_refused_for_the_token().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "ANTS rows refused for the token retried with this one"),
            Err(e) => tracing::warn!(error = %e, "could not bring forward the rows refused for the token"),
        }
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

    /// Rows deferred because ANTS refused our token are due again now. The token is read when the
    /// worker starts, so a restart with a fixed token should not wait out their backoff (up to an
    /// hour); `run` calls this first. Returns how many rows were brought forward.
    pub async fn retry_rows_refused_for_the_token(&self) -> sqlx::Result<u64> {
        let now = self.clock.now();
        let done = sqlx::query(
            "UPDATE outbox SET due_at = $1
             WHERE status = 'pending' AND kind IN ('ants_declare', 'ants_delete') AND due_at > $1
               AND starts_with(last_error, $2)",
        )
        .bind(now)
        .bind(TOKEN_REFUSED)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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
                match record_outcome(&self.pool, &row, &outcome, now, self.config.retry_base_ms).await {
                    Ok(()) => count_outcome(&self.telemetry, &row, &outcome),
                    Err(e) => {
                        tracing::warn!(outbox = row.id, error = %e, "could not record the ANTS outcome")
                    }
                }
            })
            .await;
        Ok(n)
    }

    async fn handle(&self, row: &OutboxRow) -> Outcome {
        let Some(job) = Job::parse(&row.payload) else {
            return Outcome::Failed("malformed ANTS payload".into());
        };
        let step = match row.kind.as_str() {
            "ants_declare" => self.declare(row, &job).await,
            "ants_delete" => self.withdraw(row, &job).await,
            other => Ok(Outcome::Dropped(format!("not an ANTS kind: {other}"))),
        };
        match step {
            Ok(outcome) => {
                if outcome == Outcome::Sent {
                    tracing::info!(outbox = row.id, kind = %row.kind, "ANTS told");
                }
                outcome
            }
            Err(Step::Db(e)) => Outcome::Retry(format!("database: {e}")),
            // A configuration fault, not a verdict on the row: wait for the token to be fixed,
            // whatever the number of attempts (the client has raised the alarm).
            Err(Step::Ants(AntsError::Unauthorized(e))) => Outcome::Retry(format!("{TOKEN_REFUSED}: {e}")),
            Err(Step::Ants(AntsError::Unreachable(e))) if row.attempts >= self.config.ants_max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {e}", row.attempts))
            }
            Err(Step::Ants(AntsError::Unreachable(e))) => Outcome::Retry(e),
            Err(Step::Ants(AntsError::Rejected(e))) => Outcome::Failed(e),
            Err(Step::Fail(why)) => Outcome::Failed(why),
        }
    }

    /// POSTs the appointment, unless it is no longer live.
    async fn declare(&self, row: &OutboxRow, job: &Job) -> Result<Outcome, Step> {
        let number = job.number.as_str();
        // A declaration queued for what is no longer live (cancelled meanwhile, or a repair queued by
        // a reconciliation that raced the cancellation) must never reach ANTS: it would block the
        // number nationwide.
        let live: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM appointment_pre_demandes WHERE appointment_id = $1 AND number = $2 AND live)",
        )
        .bind(row.appointment_id)
        .bind(number)
        .fetch_one(&self.pool)
        .await?;
        if !live {
            return Ok(Outcome::Dropped("no longer live: not declared".into()));
        }
        let (Some(appointment), Some(site_id), Some(start)) = (row.appointment_id, job.site_id, job.start)
        else {
            return Err(Step::Fail("malformed ANTS payload".into()));
        };
        let (site_name, tz) = self.site(site_id).await?;
        let date = coordination_date(start, tz);
        let token = self
            .token_of(appointment)
            .await?
            .ok_or_else(|| Step::Fail("no management token for this appointment".into()))?;
        let url = management_url(self.base(), &token, number);
        let site = site_id.to_string();
        if self
            .client
            .declare(number, &site, &site_name, &date, &url)
            .await?
            == Declared::AlreadyExists
        {
            self.settle_existing(number, &site, &site_name, &date, &url)
                .await?;
        }
        sqlx::query(
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
        .await?;
        Ok(Outcome::Sent)
    }

    /// ANTS already holds an appointment with our link for this number. Done when it is this very
    /// appointment (an earlier attempt landed without our hearing of it); when it is a stale one
    /// (another date or meeting point, e.g. a "regularisation" by the hub), it is withdrawn with
    /// ANTS's own values and the declaration made again.
    async fn settle_existing(
        &self,
        number: &str,
        site: &str,
        site_name: &str,
        date: &str,
        url: &str,
    ) -> Result<(), Step> {
        let held: Vec<AntsAppointment> = self
            .status_of(number, site)
            .await?
            .into_iter()
            .filter(|a| a.management_url == url)
            .collect();
        if held.iter().any(|a| is_same_entry(a, site_name, date)) {
            return Ok(());
        }
        if held.is_empty() {
            return Err(Step::Fail(
                "ANTS answers \"already exists\" but lists no appointment with this management link".into(),
            ));
        }
        for a in &held {
            self.delete_entry(number, site, a).await?;
        }
        match self.client.declare(number, site, site_name, date, url).await? {
            Declared::Created => Ok(()),
            Declared::AlreadyExists => Err(Step::Fail(
                "ANTS still holds this management link after withdrawing its stale appointment".into(),
            )),
        }
    }

    /// Withdraws from ANTS what it holds of ours for this row.
    async fn withdraw(&self, row: &OutboxRow, job: &Job) -> Result<Outcome, Step> {
        let number = job.number.as_str();
        let told = self.told(number).await?;
        let site_id = match (job.site_id, &told) {
            (Some(s), _) => s,
            (None, Some(t)) => t.meeting_point_id,
            (None, None) => return Err(Step::Fail("malformed ANTS payload: no meeting point".into())),
        };
        let site = site_id.to_string();
        if let Some(entry) = &job.entry {
            // Queued by reconciliation with the entry exactly as `status` returned it.
            if self.delete_entry(number, &site, entry).await? == 0
                && self
                    .status_of(number, &site)
                    .await?
                    .iter()
                    .any(|a| a.management_url == entry.management_url && is_same_as(a, entry))
            {
                return Err(Step::Fail(
                    "ANTS kept the appointment it was asked to withdraw".into(),
                ));
            }
            sqlx::query("DELETE FROM ants_declarations WHERE number = $1 AND management_url = $2")
                .bind(number)
                .bind(&entry.management_url)
                .execute(&self.pool)
                .await?;
            return Ok(Outcome::Sent);
        }
        // A cancellation or a move: every entry with one of this appointment's links (a move keeps
        // the link, and the DELETE runs before the new POST), with ANTS's own meeting point and date.
        let token = match row.appointment_id {
            Some(a) => self.token_of(a).await?,
            None => None,
        };
        let told_url = told.as_ref().map(|t| t.management_url.as_str());
        let mine = |a: &AntsAppointment| {
            token
                .as_deref()
                .is_some_and(|t| is_link_of(&a.management_url, self.base(), t))
                || Some(a.management_url.as_str()) == told_url
        };
        let held: Vec<AntsAppointment> = self
            .status_of(number, &site)
            .await?
            .into_iter()
            .filter(&mine)
            .collect();
        let mut missed = false;
        for a in &held {
            // One DELETE may remove several entries (ANTS matches number, meeting point and date),
            // so a `rowcount: 0` is only a failure if the entry is still listed afterwards.
            missed |= self.delete_entry(number, &site, a).await? == 0;
        }
        if missed && self.status_of(number, &site).await?.iter().any(&mine) {
            return Err(Step::Fail(
                "ANTS kept the appointment it was asked to withdraw".into(),
            ));
        }
        if held.is_empty() {
            // `status` lists nothing of ours. rdv-service-public saw ANTS refuse a POST as "already
            // exists" while `status` listed nothing, then a DELETE remove two rows (their issue
            // #4318): one DELETE with what we declared costs little, and `rowcount: 0` is fine here.
            let (site_name, tz) = self.site(site_id).await?;
            let date = match (job.start, &told) {
                (Some(start), _) => Some(coordination_date(start, tz)),
                (None, Some(t)) => Some(t.appointment_date.clone()),
                (None, None) => None,
            };
            if let Some(date) = date {
                self.client.delete(number, &site, &site_name, &date).await?;
            }
        }
        sqlx::query("DELETE FROM ants_declarations WHERE number = $1")
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(Outcome::Sent)
    }

    /// DELETE of one entry as ANTS returned it; ANTS's `rowcount`.
    async fn delete_entry(&self, number: &str, site: &str, a: &AntsAppointment) -> Result<u64, Step> {
        Ok(self
            .client
            .delete(number, site, &a.meeting_point, &a.appointment_date)
            .await?)
    }

    /// The appointments ANTS lists for one number.
    async fn status_of(&self, number: &str, site: &str) -> Result<Vec<AntsAppointment>, Step> {
        let mut map = self.client.status(&[number.to_string()], site).await?;
        Ok(map.remove(number).map(|s| s.appointments).unwrap_or_default())
    }

    /// A site's name and time zone.
    async fn site(&self, id: Uuid) -> Result<(String, chrono_tz::Tz), Step> {
        let site: Option<(String, String)> = sqlx::query_as("SELECT name, timezone FROM sites WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let (name, tz) = site.ok_or_else(|| Step::Fail("site gone".into()))?;
        Ok((name, tz.parse().unwrap_or(chrono_tz::Europe::Paris)))
    }

    /// The appointment's management token (gone once the appointment is anonymised).
    async fn token_of(&self, appointment: Uuid) -> sqlx::Result<Option<String>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT manage_token_sealed FROM appointments WHERE id = $1")
                .bind(appointment)
                .fetch_optional(&self.pool)
                .await?;
        Ok(sealed.flatten().and_then(|s| self.sealer.open(&s).ok()))
    }

    async fn told(&self, number: &str) -> sqlx::Result<Option<Told>> {
        sqlx::query_as(
            "SELECT meeting_point_id, appointment_date, management_url FROM ants_declarations WHERE number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await
    }

    /// The site of one of our entries, from our records (`status` does not say): the appointment
    /// its link belongs to, else `fallback`.
    async fn site_of_link(&self, url: &str, fallback: Uuid) -> sqlx::Result<Uuid> {
        let Some(token) = token_of_link(url, self.base()) else {
            return Ok(fallback);
        };
        let site: Option<Uuid> =
            sqlx::query_scalar("SELECT site_id FROM appointments WHERE manage_token_hash = $1")
                .bind(hash_token(token))
                .fetch_optional(&self.pool)
                .await?;
        Ok(site.unwrap_or(fallback))
    }

    /// Compares our live appointments and what ANTS was last told with ANTS's `status`, entry by
    /// entry through the management link: declares what ANTS lacks (or holds stale: another date
    /// or meeting point name), withdraws entries of ours it should no longer hold, with the values
    /// it returned, and flags (with an email to the citizen) numbers ANTS reports as unusable or
    /// booked elsewhere. Never cancels anything; other editors' entries are never touched.
    pub async fn reconcile(&self) -> anyhow::Result<ReconcileReport> {
        #[derive(FromRow)]
        struct Expected {
            number: String,
            appointment_id: Option<Uuid>,
            site_id: Uuid,
            site_name: String,
            start: Option<DateTime<Utc>>,
            timezone: String,
            ants_check: Option<String>,
            manage_token_sealed: Option<Vec<u8>>,
        }
        // Live numbers, and numbers ANTS was told about that are no longer live with us.
        let rows: Vec<Expected> = sqlx::query_as(
            "SELECT d.number, a.id AS appointment_id, a.site_id, s.name AS site_name, lower(a.during) AS start,
                    s.timezone, d.ants_check, a.manage_token_sealed
             FROM appointment_pre_demandes d JOIN appointments a ON a.id = d.appointment_id JOIN sites s ON s.id = a.site_id
             WHERE d.live
             UNION ALL
             SELECT t.number, NULL, t.meeting_point_id, s.name, NULL, s.timezone, NULL, NULL
             FROM ants_declarations t JOIN sites s ON s.id = t.meeting_point_id
             WHERE NOT EXISTS (SELECT 1 FROM appointment_pre_demandes d WHERE d.number = t.number AND d.live)",
        )
        .fetch_all(&self.pool)
        .await?;
        let base = self.base().to_string();
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
                    let tz: chrono_tz::Tz = r.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
                    // What ANTS should hold for this number: one entry, with our link, date and name.
                    let expected = match (r.appointment_id, r.start, &r.manage_token_sealed) {
                        (Some(appointment), Some(start), Some(sealed)) => {
                            self.sealer.open(sealed).ok().map(|token| {
                                let url = management_url(&base, &token, &r.number);
                                (appointment, start, url, coordination_date(start, tz))
                            })
                        }
                        _ => None,
                    };
                    let is_current = |a: &AntsAppointment| {
                        expected.as_ref().is_some_and(|(_, _, url, date)| {
                            &a.management_url == url && is_same_entry(a, &r.site_name, date)
                        })
                    };
                    let mut current_seen = false;
                    for a in st
                        .appointments
                        .iter()
                        .filter(|a| is_our_link(&a.management_url, &base))
                    {
                        if is_current(a) && !current_seen {
                            current_seen = true;
                            continue;
                        }
                        let site_of_entry = self.site_of_link(&a.management_url, r.site_id).await?;
                        self.enqueue(
                            "ants_delete",
                            r.appointment_id,
                            json!({"number": r.number, "site_id": site_of_entry, "meeting_point": a.meeting_point,
                                   "appointment_date": a.appointment_date, "management_url": a.management_url}),
                            now,
                        )
                        .await?;
                        report.withdrawn += 1;
                    }
                    let Some((appointment, start, _, _)) = expected else {
                        continue;
                    };
                    let status = st.kind();
                    // Only a validated number is declared: ANTS treats the others as errors.
                    if !current_seen && status.may_book() {
                        self.enqueue(
                            "ants_declare",
                            Some(appointment),
                            json!({"number": r.number, "site_id": r.site_id, "start": start}),
                            now,
                        )
                        .await?;
                        report.redeclared += 1;
                    }
                    let elsewhere = st
                        .appointments
                        .iter()
                        .any(|a| !is_our_link(&a.management_url, &base));
                    let problem = if !status.may_book() {
                        Some(status.booked_note(&r.number))
                    } else if elsewhere {
                        Some(booked_elsewhere_note(&r.number))
                    } else {
                        None
                    };
                    match (problem, r.ants_check.as_deref()) {
                        (Some(_), Some("flagged")) => {}
                        (Some(note), _) => {
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
                        // Booked while ANTS could not answer (down, or refusing our token): checked now.
                        (None, Some("unchecked")) => {
                            sqlx::query("UPDATE appointment_pre_demandes SET ants_check = 'validated' WHERE appointment_id = $1 AND number = $2 AND ants_check = 'unchecked'")
                                .bind(appointment)
                                .bind(&r.number)
                                .execute(&self.pool)
                                .await?;
                            report.confirmed += 1;
                        }
                        (None, _) => {}
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

/// Whether ANTS's entry is at `meeting_point` and `date` (ours, `YYYY-MM-DD HH:MM:SS`), whatever form
/// ANTS writes its date back in. The name counts: the hub compares it with our
/// `searchApplicationIds`, so a renamed site is declared again under its new name.
fn is_same_entry(a: &AntsAppointment, meeting_point: &str, date: &str) -> bool {
    is_same_as(
        a,
        &AntsAppointment {
            meeting_point: meeting_point.to_string(),
            appointment_date: date.to_string(),
            ..AntsAppointment::default()
        },
    )
}

/// Same meeting point and same wall-clock date (in whatever form each is written).
fn is_same_as(a: &AntsAppointment, b: &AntsAppointment) -> bool {
    a.meeting_point == b.meeting_point
        && parse_ants_datetime(&a.appointment_date).is_some()
        && parse_ants_datetime(&a.appointment_date) == parse_ants_datetime(&b.appointment_date)
}
