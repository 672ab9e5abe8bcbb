//! Configuration: one typed struct read from the environment (or flags), with documented defaults.

use clap::Args;
use std::fmt;
use std::net::SocketAddr;

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Shortest `APP_SECRET` accepted: hold tokens are signed with a key derived from it, and a short
/// secret could be found offline from any token, then holds forged.
pub const MIN_APP_SECRET_LEN: usize = 32;

/// `APP_SECRET`, refused when shorter than [`MIN_APP_SECRET_LEN`] characters.
pub fn parse_app_secret(raw: &str) -> Result<Secret, String> {
    if raw.chars().count() < MIN_APP_SECRET_LEN {
        return Err(format!(
            "APP_SECRET trop court : {MIN_APP_SECRET_LEN} caractères au moins (par exemple `openssl rand -base64 48`)"
        ));
    }
    Ok(Secret::new(raw))
}

/// Shortest hub token accepted: the hub's secret is all that guards the endpoints that reveal who
/// booked with a pré-demande number.
pub const MIN_HUB_TOKEN_LEN: usize = 24;

/// `ANTS_HUB_TOKENS`: each comma-separated token long enough to resist guessing.
fn parse_hub_tokens(raw: &str) -> Result<Secret, String> {
    let tokens: Vec<&str> = raw.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return Err("ANTS_HUB_TOKENS ne contient aucun jeton".into());
    }
    if let Some(short) = tokens.iter().position(|t| t.chars().count() < MIN_HUB_TOKEN_LEN) {
        return Err(format!(
            "ANTS_HUB_TOKENS : le jeton n°{} est trop court ({MIN_HUB_TOKEN_LEN} caractères au moins)",
            short + 1
        ));
    }
    Ok(Secret::new(raw))
}

/// The hub tokens of the test configurations.
pub const TEST_HUB_TOKENS: [&str; 2] = ["hub-token-1-for-the-tests-only", "hub-token-2-for-the-tests-only"];

/// The secret the test configurations share (booking-service and notifier).
pub const TEST_APP_SECRET: &str = "test-app-secret-that-is-long-enough-0123456789";

/// Where the service finds PostgreSQL.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/mairie_rdv"
    )]
    pub database_url: String,
    /// Size of the connection pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
}

/// How to reach the ANTS coordination API (pré-demande statuses and declarations).
#[derive(Debug, Clone, Args)]
pub struct AntsApiConfig {
    /// Base URL of the coordination API (production:
    /// `https://api-coordination.rendezvouspasseport.ants.gouv.fr/api`). Unset: numbers are only
    /// checked for their format, and declarations stay queued.
    #[arg(long, env = "ANTS_API_URL")]
    pub ants_api_url: Option<String>,
    /// Token sent as `x-rdv-opt-auth-token`.
    #[arg(long, env = "ANTS_API_TOKEN")]
    pub ants_api_token: Option<Secret>,
    /// Milliseconds one ANTS call may take.
    #[arg(long, env = "ANTS_TIMEOUT_MS", default_value_t = 3000)]
    pub ants_timeout_ms: u64,
}

/// The ANTS national hub calling our editor endpoints.
#[derive(Debug, Clone, Args)]
pub struct AntsHubConfig {
    /// Header carrying the hub's shared secret.
    #[arg(long, env = "ANTS_HUB_HEADER", default_value = "X-HUB-RDV-AUTH-TOKEN")]
    pub ants_hub_header: String,
    /// Accepted hub tokens, comma-separated, each of 24 characters or more. Unset: the endpoints
    /// answer 401 to everyone.
    #[arg(long, env = "ANTS_HUB_TOKENS", value_parser = parse_hub_tokens)]
    pub ants_hub_tokens: Option<Secret>,
    /// Seconds a booking keeps retrying an unreachable ANTS status check.
    #[arg(long, env = "ANTS_STATUS_RETRY_SECS", default_value_t = 3)]
    pub ants_status_retry_secs: u64,
    /// When ANTS stays unreachable: `accept` the booking and flag its numbers for reconciliation,
    /// or `refuse` it (503, retry later).
    #[arg(long, env = "ANTS_UNREACHABLE_POLICY", value_enum, default_value_t = AntsUnreachablePolicy::Accept)]
    pub ants_unreachable_policy: AntsUnreachablePolicy,
}

/// What a booking does when ANTS cannot be asked about its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AntsUnreachablePolicy {
    /// Book, and flag the numbers for reconciliation.
    Accept,
    /// Answer 503: the citizen retries later.
    Refuse,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// A list of networks (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(pub Vec<ipnet::IpNet>);

impl CidrList {
    /// Whether `ip` is in one of the networks.
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// `a.b.c.d/n` or a bare address (a /32 or /128), comma-separated; empty means none.
pub fn parse_cidr_list(raw: &str) -> Result<CidrList, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("réseau invalide « {s} » (attendu : 10.0.0.0/8, fd00::/8 ou une adresse)")
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(CidrList)
}

/// `PUBLIC_BASE_URL`: an absolute http(s) URL with a host, kept without its trailing slash.
fn parse_base_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("URL invalide : {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("une URL http:// ou https:// avec un nom d'hôte est attendue".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("l'URL de base ne doit avoir ni paramètres ni fragment".into());
    }
    Ok(raw.trim().trim_end_matches('/').to_string())
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Database settings.
    #[command(flatten)]
    pub db: DbConfig,
    /// Redis connection URL (holds, rate state). Without Redis the service runs degraded but exact.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,
    /// `REDIS_URL` is a Redis Cluster: its seed nodes, separated by commas.
    #[arg(long, env = "REDIS_CLUSTER", default_value_t = false, action = clap::ArgAction::Set)]
    pub redis_cluster: bool,
    /// Prefix of every Redis key this instance writes (lets several deployments share one Redis).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "rdv")]
    pub redis_key_prefix: String,
    /// Address and port to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: SocketAddr,
    /// Public URL of the service, used in management links and ANTS callbacks.
    /// Defaults to `http://BIND_ADDR`.
    #[arg(long, env = "PUBLIC_BASE_URL", value_parser = parse_base_url)]
    pub public_base_url: Option<String>,
    /// Requests served at once; beyond, new ones are answered 503 with `Retry-After` at once
    /// rather than queued (a rush must not pile up until everything times out).
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    /// Holds, confirmations and management actions one client may send per minute (per process).
    #[arg(long, env = "PUBLIC_WRITES_PER_MINUTE", default_value_t = 30)]
    pub public_writes_per_minute: u32,
    /// Seconds a request may run before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 15)]
    pub request_timeout_secs: u64,
    /// Longest date range, in days, one availability request may ask for.
    #[arg(long, env = "MAX_AVAILABILITY_DAYS", default_value_t = 92)]
    pub max_availability_days: u32,
    /// The service's secret: signs hold tokens and seals management tokens for the notifier.
    /// Every replica and the notifier need the same one (at least 32 characters).
    #[arg(long, env = "APP_SECRET", value_parser = parse_app_secret)]
    pub app_secret: Secret,
    /// During a rotation, the secret being retired: what it signed or sealed is still accepted
    /// (new tokens use `APP_SECRET`); unset it once `booking-service reseal` has run and the
    /// holds issued before the switch have expired.
    #[arg(long, env = "APP_SECRET_PREVIOUS", value_parser = parse_app_secret)]
    pub app_secret_previous: Option<Secret>,
    /// How long a hold keeps its slot, in seconds.
    #[arg(long, env = "HOLD_TTL_SECONDS", default_value_t = 600)]
    pub hold_ttl_secs: u64,
    /// How many slots one client (address) may hold at once.
    #[arg(long, env = "MAX_HOLDS_PER_CLIENT", default_value_t = 2)]
    pub max_holds_per_client: u32,
    /// How many live appointments one mailbox may have, service-wide (`x+1@` and `x+2@` are one
    /// mailbox, and so are Gmail addresses that differ by dots).
    #[arg(long, env = "MAX_LIVE_APPOINTMENTS_PER_EMAIL", default_value_t = 2)]
    pub max_live_appointments_per_email: i64,
    /// How many live appointments one mailbox or one phone number may have at one site on one
    /// day (0: no limit). One appointment takes a whole family (persons > 1), so one is enough.
    #[arg(long, env = "MAX_LIVE_PER_SITE_DAY", default_value_t = 1)]
    pub max_live_per_site_day: i64,
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated CIDR list, e.g.
    /// `10.0.0.0/8,fd00::/8`). Empty (the default): the client is the socket's peer. Behind a trusted
    /// proxy, the client is the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy
    /// (entries further left are whatever the client sent).
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = parse_cidr_list, default_value = "")]
    pub trusted_proxies: CidrList,
    /// Minutes after its end before an unmarked appointment is set `ended` (freeing its numbers).
    #[arg(long, env = "ENDED_GRACE_MINUTES", default_value_t = 120)]
    pub ended_grace_minutes: i64,
    /// Days after its end before a past appointment's personal data is anonymised.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 365)]
    pub retention_days: i64,
    /// Longest a site's calendar (rules, closures, bookings) and the site list are served from
    /// memory when no version moved (a safety net: versions announce every change); 0 turns the
    /// read model off, every read then goes to PostgreSQL.
    #[arg(long, env = "AVAILABILITY_CACHE_MS", default_value_t = 300_000)]
    pub availability_cache_ms: u64,
    /// Milliseconds between two reads of every site's version: the staleness bound when
    /// notifications are lost (0: no poll).
    #[arg(long, env = "READ_MODEL_POLL_MS", default_value_t = 500)]
    pub read_model_poll_ms: u64,
    /// Listen to PostgreSQL's announcements of changed sites (`false`: the poll alone).
    #[arg(long, env = "READ_MODEL_LISTEN", default_value_t = true, action = clap::ArgAction::Set)]
    pub read_model_listen: bool,
    /// Load every site's calendar into memory at start, in the background; `/readyz` answers 503
    /// `warming` until it is done, so a rolling restart sends no search to a cold instance.
    #[arg(long, env = "READ_MODEL_WARM", default_value_t = true, action = clap::ArgAction::Set)]
    pub read_model_warm: bool,
    /// Seconds between SIGTERM and closing the listener: `/readyz` answers 503 `draining` and
    /// every answer closes its connection, so the balancer (Kubernetes endpoints, a proxy's
    /// health check) moves traffic away while this instance still answers; then in-flight
    /// requests finish and the process exits.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value_t = 5)]
    pub shutdown_drain_secs: u64,
    /// Longest a site's live holds are served from memory (a safety net: every change to them is
    /// published on Redis and heard at once); 0: every availability read asks Redis.
    #[arg(long, env = "HOLDS_MIRROR_MS", default_value_t = 1000)]
    pub holds_mirror_ms: u64,
    /// Minutes a freed slot stays held for the waiting-list subscriber it is offered to.
    #[arg(long, env = "WAITLIST_OFFER_MINUTES", default_value_t = 120)]
    pub waitlist_offer_minutes: i64,
    /// Milliseconds between two passes of the waiting list (lapsed offers, free slots to offer);
    /// 0: only after this process frees a slot.
    #[arg(long, env = "WAITLIST_SWEEP_MS", default_value_t = 5000)]
    pub waitlist_sweep_ms: u64,
    /// Shared secret the SMS provider sends (header `X-SMS-Token`) when it forwards a citizen's
    /// reply to `POST /api/v1/sms/replies`; unset: that endpoint answers 401 to everyone.
    #[arg(long, env = "SMS_INBOUND_TOKEN")]
    pub sms_inbound_token: Option<Secret>,
    /// Hours a staff session lasts.
    #[arg(long, env = "STAFF_SESSION_HOURS", default_value_t = 10)]
    pub staff_session_hours: i64,
    /// Login attempts allowed per client address and minute (all accounts together).
    #[arg(long, env = "STAFF_LOGIN_PER_MINUTE", default_value_t = 20)]
    pub staff_login_per_minute: u32,
    /// ANTS coordination API.
    #[command(flatten)]
    pub ants_api: AntsApiConfig,
    /// ANTS hub.
    #[command(flatten)]
    pub ants_hub: AntsHubConfig,
    /// Log format: `text` or `json`.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind_addr))
            .trim_end_matches('/')
            .to_string()
    }

    /// A configuration for tests: the documented defaults (parsed exactly as `serve` parses them),
    /// local servers, a key prefix of its own, and limits that tests do not hit by accident.
    pub fn for_tests(database_url: &str, redis_url: &str) -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            serve: ServeConfig,
        }
        use clap::Parser;
        let prefix = format!("rdv-test-{}", uuid::Uuid::new_v4().simple());
        let mut c = Defaults::try_parse_from([
            "test",
            "--database-url",
            database_url,
            "--redis-url",
            redis_url,
            "--redis-key-prefix",
            &prefix,
            "--bind-addr",
            "127.0.0.1:0",
            "--public-base-url",
            "http://rdv.test",
            "--app-secret",
            TEST_APP_SECRET,
        ])
        .expect("the defaults parse")
        .serve;
        c.public_writes_per_minute = 100_000;
        // The harness stands for clients with `X-Forwarded-For` from loopback; a test of the
        // socket's own address empties this.
        c.trusted_proxies = parse_cidr_list("127.0.0.0/8,::1").expect("literal networks");
        c.staff_login_per_minute = 1000;
        // Every test citizen shares one phone number; the tests of this cap set it themselves.
        c.max_live_per_site_day = 0;
        // Tests create their sites after the service starts; the warm-up test turns it on.
        c.read_model_warm = false;
        c.shutdown_drain_secs = 0;
        c.ants_api = AntsApiConfig {
            ants_api_url: None,
            ants_api_token: None,
            ants_timeout_ms: 1000,
        };
        c.ants_hub.ants_hub_tokens = Some(Secret::new(TEST_HUB_TOKENS.join(",")));
        c.ants_hub.ants_status_retry_secs = 1;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    fn parse(extra: &[&str]) -> Result<ServeConfig, String> {
        let mut args = vec!["serve", "--app-secret", TEST_APP_SECRET];
        args.extend_from_slice(extra);
        Cli::try_parse_from(args)
            .map(|c| c.serve)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn nonsense_stops_the_start_with_a_clear_message() {
        assert!(parse(&["--log-format", "jsno"]).unwrap_err().contains("jsno"));
        assert!(parse(&["--ants-unreachable-policy", "refus"]).is_err());
        assert!(parse(&["--public-base-url", "rdv.example.fr"]).is_err());
        assert!(parse(&["--public-base-url", "ftp://rdv.example.fr"]).is_err());
        assert!(parse(&["--public-base-url", "https://rdv.example.fr/?x=1"]).is_err());
        assert!(parse(&["--ants-hub-tokens", "x".repeat(30).as_str()]).is_ok());
        let hub = format!("{},shorttoken", "x".repeat(30));
        assert!(parse(&["--ants-hub-tokens", hub.as_str()])
            .unwrap_err()
            .contains("n°2"));
        let short = Cli::try_parse_from(["serve", "--app-secret", "hunter2"]);
        assert!(short.err().unwrap().to_string().contains("APP_SECRET trop court"));
    }

    #[test]
    fn trusted_proxies_take_networks_and_bare_addresses() {
        let c = parse(&["--trusted-proxies", "10.0.0.0/8, 2001:db8::/32,192.0.2.7"]).unwrap();
        assert!(c.trusted_proxies.contains(&"10.1.2.3".parse().unwrap()));
        assert!(c.trusted_proxies.contains(&"192.0.2.7".parse().unwrap()));
        assert!(!c.trusted_proxies.contains(&"192.0.2.8".parse().unwrap()));
        assert!(c.trusted_proxies.contains(&"2001:db8::1".parse().unwrap()));
        assert!(parse(&[]).unwrap().trusted_proxies.0.is_empty());
        assert!(parse(&["--trusted-proxies", "10.0.0.0/33"]).is_err());
        assert!(parse(&["--trusted-proxies", "proxy.local"]).is_err());
    }

    #[test]
    fn good_values_parse_and_the_base_url_loses_its_trailing_slash() {
        let c = parse(&[
            "--log-format",
            "json",
            "--ants-unreachable-policy",
            "refuse",
            "--public-base-url",
            "https://rdv.example.fr/",
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.ants_hub.ants_unreachable_policy, AntsUnreachablePolicy::Refuse);
        assert_eq!(c.public_base_url(), "https://rdv.example.fr");
        let d = parse(&[]).unwrap();
        assert_eq!(
            (d.log_format, d.ants_hub.ants_unreachable_policy),
            (LogFormat::Text, AntsUnreachablePolicy::Accept)
        );
    }

    #[test]
    fn the_test_configuration_is_the_defaults_but_for_its_documented_changes() {
        let t = ServeConfig::for_tests("postgres://db/x", "redis://r/1");
        let d = parse(&[]).unwrap();
        assert_eq!(t.max_holds_per_client, d.max_holds_per_client);
        assert_eq!(t.hold_ttl_secs, d.hold_ttl_secs);
        assert_eq!(
            t.max_live_appointments_per_email,
            d.max_live_appointments_per_email
        );
        assert_eq!(t.db.database_url, "postgres://db/x");
        assert!(t.redis_key_prefix.starts_with("rdv-test-"));
    }
}
