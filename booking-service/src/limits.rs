//! Per-client limits that hold across every instance: a GCRA (generic cell rate algorithm) kept
//! in Redis by one script, with governor in each process as the first line (a client over the
//! limit on this instance is refused without a round trip). N instances behind a round-robin
//! balancer therefore allow a client the limit once, not N times. Without Redis each instance
//! falls back to its own line: limits loosen, bookings stay exact (they never depend on limits).

use crate::kv::Kv;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// GCRA over the server's clock (`TIME`: instances' clocks may differ). The key holds the
/// theoretical arrival time (TAT) in ms; a request is allowed when now ≥ TAT − tolerance, and
/// moves TAT one emission interval on. Returns 0 when allowed, else the ms to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', tat - now + 1000)
return 0
";

/// One limit (a scope such as public writes or staff logins), `per_minute` for each client.
pub struct SharedLimit {
    scope: &'static str,
    interval_ms: u64,
    burst: u64,
    local: DefaultKeyedRateLimiter<String>,
    script: redis::Script,
    refused: AtomicU64,
}

impl SharedLimit {
    /// `per_minute` requests a minute per client, in bursts of up to `per_minute`.
    pub fn per_minute(scope: &'static str, per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        Self {
            scope,
            interval_ms: (60_000 / u64::from(n.get())).max(1),
            burst: u64::from(n.get()),
            local: RateLimiter::keyed(Quota::per_minute(n)),
            script: redis::Script::new(GCRA),
            refused: AtomicU64::new(0),
        }
    }

    /// The scope's name (in keys and metrics).
    pub fn scope(&self) -> &'static str {
        self.scope
    }

    /// Requests refused so far by this instance.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `Ok` when `client` may go on, else the seconds to wait. `client` is already an opaque key
    /// (an HMAC, never an address).
    pub async fn check(&self, kv: &Kv, client: &str) -> Result<(), u64> {
        if let Err(not_until) = self.local.check_key(&client.to_string()) {
            return self.refuse(not_until.wait_time_from(DefaultClock::default().now()));
        }
        match self.shared_wait(kv, client).await {
            Some(0) | None => Ok(()),
            Some(ms) => self.refuse(Duration::from_millis(ms)),
        }
    }

    fn refuse(&self, wait: Duration) -> Result<(), u64> {
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(wait.as_secs() + 1)
    }

    /// The wait Redis imposes, or `None` when Redis cannot say (the local line stands alone).
    async fn shared_wait(&self, kv: &Kv, client: &str) -> Option<u64> {
        let mut conn = kv.conn().await?;
        // The client in braces: one hash slot per client on a Redis Cluster.
        let key = format!("{}:rate:{}:{{{client}}}", kv.prefix, self.scope);
        let tolerance = self.interval_ms * (self.burst - 1);
        let mut call = self.script.key(key);
        call.arg(self.interval_ms).arg(tolerance);
        match call.invoke_async::<u64>(&mut conn).await {
            Ok(ms) => Some(ms),
            Err(e) => {
                tracing::warn!(error = %e, scope = self.scope, "shared limit unavailable; local limit only");
                None
            }
        }
    }

    /// Forgets clients not seen for a while (bounded memory under a scan of many addresses).
    pub fn prune(&self) {
        self.local.retain_recent();
        self.local.shrink_to_fit();
    }
}
