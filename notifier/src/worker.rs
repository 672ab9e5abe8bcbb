//! The outbox worker: claims due email rows (`FOR UPDATE SKIP LOCKED`, then a lease), sends them,
//! and records the outcome. Wakes on `LISTEN outbox`, polls as a fallback. Several instances may run
//! at once; a killed instance's rows come back when their lease ends. Delivery is at least once, and
//! every row has a stable Message-ID so a duplicate is recognisable.

use crate::config::NotifierConfig;
use crate::mail::{self, MailKind};
use crate::sms::SmsSender;
use crate::transport::{SendError, Transport};
use booking_service::clock::Clock;
use booking_service::domain::citizen::mask_email;
use booking_service::domain::status::AppointmentStatus;
use booking_service::formats::calendar::{self, Method, Party};
use booking_service::secrets::Sealer;
use booking_service::telemetry::Telemetry;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use rand::Rng;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgPool};
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// A claimed outbox row.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub appointment_id: Option<Uuid>,
    pub payload: Value,
    pub attempts: i32,
}

/// What became of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Not to be sent (stale reminder, appointment gone, no address): with why.
    Dropped(String),
    Retry(String),
    Failed(String),
    /// Not now, with no attempt spent: due again at this instant (an SMS at night).
    Deferred(DateTime<Utc>),
}

/// The email worker.
pub struct Worker {
    pool: PgPool,
    transport: Transport,
    sms: SmsSender,
    config: NotifierConfig,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    from: Mailbox,
    domain: String,
    /// Outcomes counted for `/metrics`.
    pub telemetry: Arc<Telemetry>,
}

impl Worker {
    /// A worker over `pool` with the configured transport.
    pub fn new(pool: PgPool, config: NotifierConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let transport = Transport::from_config(&config)?;
        let sms = SmsSender::from_config(&config)?;
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}"))?;
        let domain = from.email.domain().to_string();
        let sealer = config.sealer();
        Ok(Self {
            pool,
            transport,
            sms,
            config,
            clock,
            sealer,
            from,
            domain,
            telemetry: Arc::default(),
        })
    }

    /// Runs until `shutdown` resolves; a batch in progress is finished first.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        let (pool, poll, batch) = (self.pool.clone(), self.config.poll_secs, self.config.batch_size);
        drain_loop(&pool, poll, batch, shutdown, || self.process_batch()).await;
    }

    /// Claims one batch of due email rows and handles them; returns how many were claimed.
    pub async fn process_batch(&self) -> sqlx::Result<usize> {
        let now = self.clock.now();
        let rows = claim(
            &self.pool,
            now,
            Duration::seconds(self.config.lease_secs),
            self.config.batch_size,
        )
        .await?;
        let n = rows.len();
        futures::stream::iter(rows)
            .for_each_concurrent(self.config.concurrency.max(1), |row| async move {
                let outcome = self.handle(&row, now).await;
                if let Err(e) = self.record(&row, &outcome).await {
                    // The lease will expire and the row be retried: at least once, never lost.
                    tracing::warn!(outbox = row.id, error = %e, "could not record the outcome");
                }
            })
            .await;
        Ok(n)
    }

    /// Decides and sends one row.
    pub async fn handle(&self, row: &OutboxRow, now: DateTime<Utc>) -> Outcome {
        if row.kind == mail::STAFF_PASSWORD_RESET {
            return self.password_reset(row).await;
        }
        if row.kind == mail::WAITLIST_OFFER {
            return self.waitlist_offer(row, now).await;
        }
        if row.kind == mail::SMS_REMINDER {
            return self.sms_reminder(row, now).await;
        }
        let Some(kind) = MailKind::from_outbox(&row.kind) else {
            return Outcome::Dropped(format!("not an email kind: {}", row.kind));
        };
        let Some(id) = row.appointment_id else {
            return Outcome::Dropped("no appointment".into());
        };
        let data = match mail::load(&self.pool, id).await {
            Ok(Some(d)) => d,
            Ok(None) => return Outcome::Dropped("appointment deleted".into()),
            Err(e) => return Outcome::Retry(format!("database: {e}")),
        };
        let live = data.status.is_live();
        match kind {
            MailKind::Reminder => {
                if !live {
                    return Outcome::Dropped(format!("appointment {}", data.status));
                }
                if now >= data.start {
                    return Outcome::Dropped("reminder after the start".into());
                }
                let planned = row
                    .payload
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<DateTime<Utc>>().ok());
                if planned.is_some_and(|p| p != data.start) {
                    return Outcome::Dropped("appointment moved; its new reminder replaces this one".into());
                }
            }
            // A confirmation of what has since been cancelled would mislead: the cancellation follows.
            MailKind::Confirmation | MailKind::Reschedule | MailKind::AntsWarning if !live => {
                return Outcome::Dropped(format!("appointment {}", data.status));
            }
            _ => {}
        }
        let Some(email) = data.email.clone() else {
            return Outcome::Dropped("no email address".into());
        };
        // Mailbox::new quotes the display name: "Martin (épouse Durand)" or "Dupont, Marie" are fine.
        let to = match email.parse::<lettre::Address>() {
            Ok(address) => Mailbox::new(Some(format!("{} {}", data.first_name, data.last_name)), address),
            Err(e) => return Outcome::Failed(format!("bad recipient address: {e}")),
        };
        let base = self.config.public_base_url.trim_end_matches('/');
        let manage_url = match (kind, &data.manage_token_sealed) {
            (MailKind::Cancellation, _) | (_, None) => None,
            (_, Some(sealed)) => self.sealer.open(sealed).ok().map(|t| format!("{base}/rdv/{t}")),
        };
        let rebook = format!("{base}/");
        let rendered = mail::render(kind, &data, manage_url.as_deref(), &rebook);
        let method = match kind {
            MailKind::Confirmation | MailKind::Reschedule => Some(Method::Request),
            MailKind::Cancellation => Some(Method::Cancel),
            MailKind::Reminder | MailKind::AntsWarning => None,
        };
        let organizer_addr = data
            .site_email
            .clone()
            .unwrap_or_else(|| self.from.email.to_string());
        let alternative = MultiPart::alternative_plain_html(rendered.text, rendered.html);
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(format!(
                "<outbox-{}.{}@{}>",
                row.id,
                id.simple(),
                self.domain
            )));
        let message = match method {
            Some(m) => {
                let attendee = format!("{} {}", data.first_name, data.last_name);
                let cal = calendar::ics(&calendar::Appointment {
                    id: data.appointment_id,
                    sequence: data.sequence,
                    motif: data.motif.label_fr(),
                    site_name: &data.site_name,
                    address: &data.address,
                    reference: &data.reference,
                    persons: u32::from(data.persons.get()),
                    start: data.start,
                    end: data.end,
                    cancelled: data.status == AppointmentStatus::Cancelled,
                    organizer: Some(Party {
                        name: &data.site_name,
                        email: &organizer_addr,
                    }),
                    attendee: Some(Party {
                        name: &attendee,
                        email: &email,
                    }),
                    method: m,
                    stamp: now,
                });
                let ctype =
                    ContentType::parse(&format!("text/calendar; charset=utf-8; method={}", m.as_str()))
                        .expect("static content type");
                builder.multipart(
                    MultiPart::mixed().multipart(alternative).singlepart(
                        Attachment::new(
                            if m == Method::Cancel {
                                "annulation.ics"
                            } else {
                                "rendez-vous.ics"
                            }
                            .to_string(),
                        )
                        .body(cal, ctype),
                    ),
                )
            }
            None => builder.multipart(alternative),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("cannot build message: {e}")),
        };
        self.deliver(row, &message, &email).await
    }

    /// Sends a staff member's one-time password link (the token comes sealed in the row).
    async fn password_reset(&self, row: &OutboxRow) -> Outcome {
        use base64::Engine;
        let Some(account) = row
            .payload
            .get("account_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Outcome::Failed("password reset without an account".into());
        };
        let sealed = row
            .payload
            .get("sealed")
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
        let Some(token) = sealed.and_then(|s| self.sealer.open(&s).ok()) else {
            return Outcome::Failed("password reset token cannot be opened (APP_SECRET changed?)".into());
        };
        let found: Result<Option<(String, String, bool)>, _> =
            sqlx::query_as("SELECT email, display_name, active FROM staff_accounts WHERE id = $1")
                .bind(account)
                .fetch_optional(&self.pool)
                .await;
        let (email, name) = match found {
            Ok(Some((email, name, true))) => (email, name),
            Ok(_) => return Outcome::Dropped("account gone or deactivated".into()),
            Err(e) => return Outcome::Retry(format!("database: {e}")),
        };
        let to = match email.parse::<lettre::Address>() {
            Ok(a) => Mailbox::new(Some(name.clone()), a),
            Err(e) => return Outcome::Failed(format!("bad recipient address: {e}")),
        };
        let base = self.config.public_base_url.trim_end_matches('/');
        let link = format!("{base}/agents/mot-de-passe/{token}");
        let r =
            mail::render_password_reset(&name, &link, booking_service::staff::accounts::RESET_LINK_MINUTES);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .message_id(Some(format!("<outbox-{}.reset@{}>", row.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(r.text, r.html));
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("cannot build message: {e}")),
        };
        self.deliver(row, &message, &email).await
    }

    /// Sends the reminder by SMS, if the citizen still wants it and the appointment is still to
    /// come; never at night (21:00–08:00 at the site): deferred to 08:00 then.
    async fn sms_reminder(&self, row: &OutboxRow, now: DateTime<Utc>) -> Outcome {
        let Some(id) = row.appointment_id else {
            return Outcome::Dropped("no appointment".into());
        };
        type SmsRow = (
            Option<String>,
            bool,
            String,
            DateTime<Utc>,
            String,
            String,
            Option<Vec<u8>>,
            booking_service::domain::motif::Motif,
        );
        let found: Result<Option<SmsRow>, _> = sqlx::query_as(
            "SELECT a.phone, a.sms_reminder, a.status, lower(a.during), s.name, s.timezone, a.manage_token_sealed, a.motif
             FROM appointments a JOIN sites s ON s.id = a.site_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await;
        let (phone, wanted, status, start, site, tz, sealed, motif) = match found {
            Ok(Some(r)) => r,
            Ok(None) => return Outcome::Dropped("appointment deleted".into()),
            Err(e) => return Outcome::Retry(format!("database: {e}")),
        };
        let Some(phone) = phone.filter(|_| wanted) else {
            return Outcome::Dropped("SMS not wanted (or stopped by a reply)".into());
        };
        if status != "booked" || start <= now {
            return Outcome::Dropped("appointment no longer to come".into());
        }
        let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Europe::Paris);
        if let Some(morning) = after_night(now, tz) {
            return Outcome::Deferred(morning);
        }
        let Some(token) = sealed.and_then(|s| self.sealer.open(&s).ok()) else {
            return Outcome::Dropped("no management link to send".into());
        };
        let base = self.config.public_base_url.trim_end_matches('/');
        let text =
            mail::render_sms_reminder(motif, start, tz, &site, &format!("{base}/rdv/{token}/confirmer"));
        match self
            .sms
            .send(&phone, &text, &format!("{:08}-sms_reminder.sms", row.id))
            .await
        {
            Ok(()) => {
                tracing::info!(outbox = row.id, "SMS sent");
                Outcome::Sent
            }
            Err(SendError::Permanent(e)) => Outcome::Failed(e),
            Err(SendError::Transient(e)) if row.attempts >= self.config.max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {e}", row.attempts))
            }
            Err(SendError::Transient(e)) => Outcome::Retry(e),
        }
    }

    /// Sends a waiting-list offer: the slot held for the subscriber and the link to accept it. An
    /// offer already taken, withdrawn or lapsed is not announced.
    async fn waitlist_offer(&self, row: &OutboxRow, now: DateTime<Utc>) -> Outcome {
        let Some(offer) = row
            .payload
            .get("offer_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Outcome::Failed("waiting-list offer without an offer".into());
        };
        let o = match booking_service::db::waitlist::offer_mail(&self.pool, offer).await {
            Ok(Some(o)) => o,
            Ok(None) => return Outcome::Dropped("offer deleted".into()),
            Err(e) => return Outcome::Retry(format!("database: {e}")),
        };
        if o.status != "offered" || o.expires_at <= now {
            return Outcome::Dropped("offer no longer live".into());
        }
        let Some(email) = o.email.clone() else {
            return Outcome::Dropped("subscriber's address erased".into());
        };
        let Ok(token) = self.sealer.open(&o.manage_token_sealed) else {
            return Outcome::Failed("waiting-list token cannot be opened (APP_SECRET changed?)".into());
        };
        let to = match email.parse::<lettre::Address>() {
            Ok(a) => Mailbox::new(None, a),
            Err(e) => return Outcome::Failed(format!("bad recipient address: {e}")),
        };
        let tz: chrono_tz::Tz = o.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
        let base = self.config.public_base_url.trim_end_matches('/');
        let link = format!("{base}/liste-attente/{token}");
        let address = format!("{}, {} {}", o.address_line, o.postcode, o.city);
        let r = mail::render_waitlist_offer(&mail::OfferText {
            site_name: &o.site_name,
            address: &address,
            motif: o.motif,
            persons: o.persons,
            start: o.start,
            expires_at: o.expires_at,
            tz,
            link: &link,
        });
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .message_id(Some(format!("<outbox-{}.offer@{}>", row.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(r.text, r.html));
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("cannot build message: {e}")),
        };
        self.deliver(row, &message, &email).await
    }

    /// Sends a built message for `row` and says what became of it: sent, retried later (a
    /// transient failure, until the attempts run out), or failed for good.
    async fn deliver(&self, row: &OutboxRow, message: &Message, to: &str) -> Outcome {
        match self
            .transport
            .send(message, &format!("{:08}-{}.eml", row.id, row.kind))
            .await
        {
            Ok(()) => {
                tracing::info!(outbox = row.id, kind = %row.kind, to = %mask_email(to), "email sent");
                Outcome::Sent
            }
            Err(SendError::Permanent(e)) => Outcome::Failed(e),
            Err(SendError::Transient(e)) if row.attempts >= self.config.max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {e}", row.attempts))
            }
            Err(SendError::Transient(e)) => Outcome::Retry(e),
        }
    }

    async fn record(&self, row: &OutboxRow, outcome: &Outcome) -> sqlx::Result<()> {
        record_outcome(
            &self.pool,
            row,
            outcome,
            self.clock.now(),
            self.config.retry_base_ms,
        )
        .await?;
        count_outcome(&self.telemetry, row, outcome);
        Ok(())
    }
}

/// Claims and handles batches until `shutdown`: again at once after a full batch, otherwise on the
/// next `NOTIFY outbox` or after `poll_secs` (the fallback when notifications are lost).
pub async fn drain_loop<F, Fut>(
    pool: &PgPool,
    poll_secs: u64,
    batch: i64,
    shutdown: impl Future<Output = ()>,
    mut batch_fn: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<usize>>,
{
    tokio::pin!(shutdown);
    let mut listener = listen(pool).await;
    loop {
        let claimed = match batch_fn().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "outbox batch failed; retrying after the poll interval");
                0
            }
        };
        if claimed as i64 >= batch {
            continue;
        }
        let poll = tokio::time::sleep(std::time::Duration::from_secs(poll_secs));
        tokio::select! {
            _ = &mut shutdown => return,
            _ = poll => {
                if listener.is_none() {
                    listener = listen(pool).await;
                }
            }
            woke = recv(&mut listener) => {
                if !woke {
                    listener = None;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(pool).await.ok()?;
    l.listen("outbox").await.ok()?;
    Some(l)
}

/// Writes the outcome of a row: sent, dropped, failed, or deferred with backoff.
/// Counts an outcome under its row's kind: `notifier_sent_total`, `notifier_failures_total` (to
/// be retried or given up), `notifier_dropped_total`, `notifier_deferred_total`.
pub fn count_outcome(telemetry: &Telemetry, row: &OutboxRow, outcome: &Outcome) {
    let name = match outcome {
        Outcome::Sent => "notifier_sent_total",
        Outcome::Dropped(_) => "notifier_dropped_total",
        Outcome::Retry(_) | Outcome::Failed(_) => "notifier_failures_total",
        Outcome::Deferred(_) => "notifier_deferred_total",
    };
    telemetry.count(name, "kind", &row.kind);
}

pub async fn record_outcome(
    pool: &PgPool,
    row: &OutboxRow,
    outcome: &Outcome,
    now: DateTime<Utc>,
    retry_base_ms: u64,
) -> sqlx::Result<()> {
    {
        let q = match outcome {
            Outcome::Sent => sqlx::query(
                "UPDATE outbox SET status = 'sent', sent_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1",
            )
            .bind(row.id)
            .bind(now),
            Outcome::Dropped(why) => {
                sqlx::query("UPDATE outbox SET status = 'dropped', claimed_until = NULL, last_error = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(why)
            }
            Outcome::Failed(why) => {
                tracing::warn!(outbox = row.id, kind = %row.kind, error = %why, "email failed for good");
                sqlx::query("UPDATE outbox SET status = 'failed', claimed_until = NULL, last_error = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(why)
            }
            Outcome::Deferred(at) => {
                sqlx::query("UPDATE outbox SET claimed_until = NULL, due_at = $2, attempts = greatest(attempts - 1, 0) WHERE id = $1")
                    .bind(row.id)
                    .bind(*at)
            }
            Outcome::Retry(why) => {
                let delay = backoff(retry_base_ms, row.attempts);
                tracing::info!(outbox = row.id, attempt = row.attempts, retry_in_ms = delay.num_milliseconds(), error = %why, "email deferred");
                sqlx::query("UPDATE outbox SET claimed_until = NULL, due_at = $2, last_error = $3 WHERE id = $1")
                    .bind(row.id)
                    .bind(now + delay)
                    .bind(why)
            }
        };
        q.execute(pool).await?;
        Ok(())
    }
}

/// When `now` is at night at the site (21:00–08:00 local), the next 08:00 there.
pub fn after_night(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::{NaiveTime, Timelike};
    let local = now.with_timezone(&tz);
    let hour = local.hour();
    if (8..21).contains(&hour) {
        return None;
    }
    let day = if hour >= 21 {
        local.date_naive() + Duration::days(1)
    } else {
        local.date_naive()
    };
    let eight = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).expect("08:00"));
    Some(booking_service::domain::tz::resolve_local(tz, eight))
}

/// Waits for a notification; false when the listening connection broke.
async fn recv(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(l) => l.try_recv().await.map(|n| n.is_some()).unwrap_or(false),
        None => std::future::pending().await,
    }
}

/// Delay before attempt `attempts + 1`: base × 2^(attempts − 1), capped at an hour, with jitter
/// (between half and all of it) so a relay coming back is not hit by every row at once.
pub fn backoff(base_ms: u64, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    let full = base_ms.saturating_mul(1u64 << exp).min(3_600_000);
    let jittered = rand::thread_rng().gen_range(full / 2..=full.max(1));
    Duration::milliseconds(i64::try_from(jittered).unwrap_or(3_600_000))
}

/// Claims due email rows: locked with `SKIP LOCKED` so concurrent workers take different rows, then
/// leased until `now + lease` and their attempt counted.
pub async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "UPDATE outbox o SET claimed_until = $2, attempts = o.attempts + 1
         WHERE o.id IN (
             SELECT id FROM outbox
             WHERE status = 'pending' AND due_at <= $1 AND kind = ANY ($3)
               AND (claimed_until IS NULL OR claimed_until <= $1)
             ORDER BY due_at, id
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING o.id, o.kind, o.appointment_id, o.payload, o.attempts",
    )
    .bind(now)
    .bind(now + lease)
    .bind(&MailKind::OUTBOX_KINDS[..])
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 1..8 {
            let full = 1000i64 << (attempt - 1);
            let d = backoff(1000, attempt).num_milliseconds();
            assert!((full / 2..=full).contains(&d), "attempt {attempt}: {d}");
        }
        assert!(backoff(30_000, 50).num_milliseconds() <= 3_600_000);
    }
}
