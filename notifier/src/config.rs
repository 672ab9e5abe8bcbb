//! Notifier configuration, from the environment with documented defaults.

use booking_service::config::{AntsApiConfig, DbConfig, Secret};
use clap::Args;
use std::path::PathBuf;

/// Everything `notifier run` needs.
#[derive(Debug, Clone, Args)]
pub struct NotifierConfig {
    /// Database settings.
    #[command(flatten)]
    pub db: DbConfig,
    /// SMTP relay: `smtp://host:port` (STARTTLS required; `?tls=none` for plain text, written out),
    /// `smtps://host:port` (implicit TLS); credentials as `smtp://user:password@host`.
    /// Unset: emails are written as `.eml` files in `MAIL_DIR`.
    #[arg(long, env = "SMTP_URL")]
    pub smtp_url: Option<Secret>,
    /// A PEM certificate to trust for the relay (e.g. a mairie's self-signed relay).
    #[arg(long, env = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Seconds an SMTP connection or command may take.
    #[arg(long, env = "SMTP_TIMEOUT_SECS", default_value_t = 15)]
    pub smtp_timeout_secs: u64,
    /// Sender of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Rendez-vous CNI-passeport <rdv@mairies.invalid>"
    )]
    pub mail_from: String,
    /// Where emails go when no SMTP relay is configured.
    #[arg(long, env = "MAIL_DIR", default_value = "demo-data/mail")]
    pub mail_dir: PathBuf,
    /// The SMS provider's endpoint (one JSON `POST` per message); unset: SMS are written to
    /// `SMS_DIR`.
    #[arg(long, env = "SMS_PROVIDER_URL")]
    pub sms_provider_url: Option<String>,
    /// Its bearer token.
    #[arg(long, env = "SMS_PROVIDER_TOKEN")]
    pub sms_provider_token: Option<Secret>,
    /// The sender name shown on the phone (11 characters at most for most operators).
    #[arg(long, env = "SMS_SENDER", default_value = "MAIRIE")]
    pub sms_sender: String,
    /// Where SMS go when no provider is configured.
    #[arg(long, env = "SMS_DIR", default_value = "demo-data/sms")]
    pub sms_dir: PathBuf,
    /// Public URL of the booking service (links in emails).
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub public_base_url: String,
    /// The service's secret (the same as booking-service's): opens the sealed management tokens.
    #[arg(long, env = "APP_SECRET", value_parser = booking_service::config::parse_app_secret)]
    pub app_secret: Secret,
    /// During a rotation, the secret being retired (management links sealed under it still open).
    #[arg(long, env = "APP_SECRET_PREVIOUS", value_parser = booking_service::config::parse_app_secret)]
    pub app_secret_previous: Option<Secret>,
    /// Rows claimed per batch.
    #[arg(long, env = "NOTIFIER_BATCH_SIZE", default_value_t = 50)]
    pub batch_size: i64,
    /// Emails sent at once within a batch.
    #[arg(long, env = "NOTIFIER_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds between polls when no notification arrives.
    #[arg(long, env = "NOTIFIER_POLL_SECS", default_value_t = 5)]
    pub poll_secs: u64,
    /// Seconds a claimed row stays leased to this worker (a crashed worker's rows return after it).
    #[arg(long, env = "NOTIFIER_LEASE_SECS", default_value_t = 300)]
    pub lease_secs: i64,
    /// Attempts before a row is marked failed.
    #[arg(long, env = "NOTIFIER_MAX_ATTEMPTS", default_value_t = 10)]
    pub max_attempts: i32,
    /// First retry delay in milliseconds; doubled each attempt (with jitter), capped at one hour.
    #[arg(long, env = "NOTIFIER_RETRY_BASE_MS", default_value_t = 30_000)]
    pub retry_base_ms: u64,
    /// The ANTS coordination API (declarations); unset: declarations stay queued.
    #[command(flatten)]
    pub ants_api: AntsApiConfig,
    /// Attempts before an ANTS call is marked failed (ANTS may be down for a day: keep trying).
    #[arg(long, env = "ANTS_MAX_ATTEMPTS", default_value_t = 200)]
    pub ants_max_attempts: i32,
    /// Hours between reconciliations with ANTS's `status` (0: never, outside `notifier reconcile`).
    #[arg(long, env = "ANTS_RECONCILE_HOURS", default_value_t = 24)]
    pub ants_reconcile_hours: u64,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (probes and Prometheus; keep it
    /// off the public network).
    #[arg(long, env = "NOTIFIER_HTTP_ADDR", default_value = "127.0.0.1:9102")]
    pub http_addr: std::net::SocketAddr,
}

impl NotifierConfig {
    /// A configuration for tests (file delivery unless `smtp_url` is set afterwards).
    pub fn for_tests(database_url: &str, mail_dir: PathBuf) -> Self {
        Self {
            db: DbConfig {
                database_url: database_url.to_string(),
                database_max_connections: 4,
            },
            smtp_url: None,
            smtp_ca_file: None,
            smtp_timeout_secs: 5,
            mail_from: "Mairies de m2A <rdv@m2a.test>".to_string(),
            sms_provider_url: None,
            sms_provider_token: None,
            sms_sender: "MAIRIE".to_string(),
            // Beside the emails' folder, not in it: tests read that folder as emails only.
            sms_dir: mail_dir.with_extension("sms"),
            mail_dir,
            public_base_url: "http://rdv.test".to_string(),
            app_secret: Secret::new(booking_service::config::TEST_APP_SECRET),
            app_secret_previous: None,
            batch_size: 50,
            concurrency: 8,
            poll_secs: 1,
            lease_secs: 300,
            max_attempts: 5,
            retry_base_ms: 100,
            ants_api: AntsApiConfig {
                ants_api_url: None,
                ants_api_token: None,
                ants_timeout_ms: 1000,
            },
            ants_max_attempts: 200,
            ants_reconcile_hours: 0,
            http_addr: "127.0.0.1:0".parse().expect("literal address"),
        }
    }
}

impl NotifierConfig {
    /// The sealer of management tokens: the current secret, and the previous during a rotation.
    pub fn sealer(&self) -> booking_service::secrets::Sealer {
        booking_service::secrets::Sealer::from_ring(&booking_service::secrets::KeyRing::derive(
            self.app_secret.expose(),
            self.app_secret_previous.as_ref().map(|s| s.expose()),
        ))
    }
}
