//! Reservations of held ranges in Redis, one Lua script per operation so each is atomic and costs one
//! round trip. Entries expire by Redis's own clock (`TIME`), so the application's clock cannot
//! resurrect or shorten them. Station keys are hash-tagged by site (`{site}`): a script touching
//! several stations of one site stays in one Redis Cluster slot.
//!
//! Every method answers `None` when Redis cannot be reached; callers then degrade (holds become
//! signed tokens without reservation) and stay exact, since the database decides at confirmation.

use crate::domain::intervals::Interval;
use crate::holds::mirror::{HoldMirror, LiveHold};
use crate::kv::Kv;
use chrono::{DateTime, Utc};
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;
use uuid::Uuid;

/// Tries the station keys in order; reserves `[start, end)` on the first where no live entry
/// overlaps. Returns the 1-based index of that key, or 0 when every station is taken.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hid, s, e, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local channel, site = ARGV[5], ARGV[6]
local exp = now + ttl
for i, key in ipairs(KEYS) do
  local entries = redis.call('HGETALL', key)
  local free, keep_until = true, exp
  for j = 1, #entries, 2 do
    local a, b, x = string.match(entries[j + 1], '^(%d+):(%d+):(%d+)$')
    a, b, x = tonumber(a), tonumber(b), tonumber(x)
    if x <= now then
      redis.call('HDEL', key, entries[j])
    else
      if x > keep_until then keep_until = x end
      if a < e and s < b and entries[j] ~= hid then free = false end
    end
  end
  if free then
    redis.call('HSET', key, hid, string.format('%d:%d:%d', s, e, exp))
    redis.call('PEXPIREAT', key, string.format('%d', keep_until))
    redis.call('PUBLISH', channel, site)
    return i
  end
end
return 0
",
    )
});

/// The live entries of the station keys, as a flat list `key index, start, end, expiry, ...`.
static HELD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local entries = redis.call('HGETALL', key)
  for j = 1, #entries, 2 do
    local a, b, x = string.match(entries[j + 1], '^(%d+):(%d+):(%d+)$')
    if tonumber(x) > now then
      table.insert(out, i)
      table.insert(out, a)
      table.insert(out, b)
      table.insert(out, x)
    end
  end
end
return out
",
    )
});

/// Adds a hold to a client's set unless it already has `max` live ones. 1 = added, 0 = over quota.
static CLIENT_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hid, max, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for j = 1, #entries, 2 do
  if tonumber(entries[j + 1]) <= now then
    redis.call('HDEL', KEYS[1], entries[j])
  elseif entries[j] ~= hid then
    live = live + 1
  end
end
if live >= max then return 0 end
redis.call('HSET', KEYS[1], hid, string.format('%d', now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
",
    )
});

/// Redis operations on holds; each change is published on [`HoldStore::channel`] in the same
/// round trip, and this process's mirror is told at once.
pub struct HoldStore<'a> {
    kv: &'a Kv,
    mirror: &'a HoldMirror,
}

/// How long one Redis call may take before the caller degrades.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);

impl<'a> HoldStore<'a> {
    /// Holds stored in `kv`, mirrored by `mirror`.
    pub fn new(kv: &'a Kv, mirror: &'a HoldMirror) -> Self {
        Self { kv, mirror }
    }

    /// The channel on which a site's id is published whenever its holds change.
    pub fn channel(prefix: &str) -> String {
        format!("{prefix}:holds-changed")
    }

    fn station_key(&self, site: Uuid, station: Uuid) -> String {
        format!("{}:hold:{{{site}}}:{station}", self.kv.prefix)
    }

    fn client_key(&self, client: &str) -> String {
        format!("{}:client:{{{client}}}", self.kv.prefix)
    }

    /// Reserves `[start, end)` on the first of `stations` with no overlapping live hold.
    /// `Some(Some(station))` on success, `Some(None)` when all are held, `None` without Redis.
    pub async fn reserve(
        &self,
        site: Uuid,
        stations: &[Uuid],
        hid: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        ttl: Duration,
    ) -> Option<Option<Uuid>> {
        if stations.is_empty() {
            return Some(None);
        }
        let mut conn = self.kv.conn().await?;
        let mut inv = RESERVE.prepare_invoke();
        for st in stations {
            inv.key(self.station_key(site, *st));
        }
        inv.arg(hid)
            .arg(start.timestamp_millis())
            .arg(end.timestamp_millis())
            .arg(ttl.as_millis() as u64)
            .arg(Self::channel(&self.kv.prefix))
            .arg(site.to_string());
        let result = tokio::time::timeout(CALL_TIMEOUT, inv.invoke_async(&mut conn)).await;
        self.mirror.changed(site);
        let idx: i64 = match result {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "hold reservation failed; degrading");
                return None;
            }
            Err(_) => return None,
        };
        Some(
            usize::try_from(idx)
                .ok()
                .filter(|&i| i >= 1)
                .map(|i| stations[i - 1]),
        )
    }

    /// Live held ranges on the given stations, as `(station, interval)`: from the mirror when it has
    /// a current copy, else from Redis (and the copy kept).
    pub async fn held(&self, site: Uuid, stations: &[Uuid]) -> Option<Vec<(Uuid, Interval)>> {
        if stations.is_empty() {
            return Some(Vec::new());
        }
        if let Some(held) = self.mirror.get(site, stations, Utc::now()) {
            return Some(held);
        }
        let ticket = self.mirror.ticket(site);
        let mut conn = self.kv.conn().await?;
        let mut inv = HELD.prepare_invoke();
        for st in stations {
            inv.key(self.station_key(site, *st));
        }
        let flat: Vec<i64> = match tokio::time::timeout(CALL_TIMEOUT, inv.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => v,
            _ => return None,
        };
        let live: Vec<LiveHold> = flat
            .chunks_exact(4)
            .filter_map(|c| {
                Some(LiveHold {
                    station: *stations.get(usize::try_from(c[0]).ok()?.checked_sub(1)?)?,
                    interval: Interval::new(
                        DateTime::from_timestamp_millis(c[1])?,
                        DateTime::from_timestamp_millis(c[2])?,
                    )?,
                    expires: DateTime::from_timestamp_millis(c[3])?,
                })
            })
            .collect();
        let held = live.iter().map(|h| (h.station, h.interval)).collect();
        self.mirror.keep(site, ticket, stations, live);
        Some(held)
    }

    /// Counts a new hold against a client's quota. `Some(true)` if under `max`, `Some(false)` if
    /// over, `None` without Redis.
    pub async fn acquire_client(&self, client: &str, hid: &str, max: u32, ttl: Duration) -> Option<bool> {
        let mut conn = self.kv.conn().await?;
        let mut inv = CLIENT_ACQUIRE.prepare_invoke();
        inv.key(self.client_key(client))
            .arg(hid)
            .arg(max)
            .arg(ttl.as_millis() as u64);
        match tokio::time::timeout(CALL_TIMEOUT, inv.invoke_async::<i64>(&mut conn)).await {
            Ok(Ok(n)) => Some(n == 1),
            _ => None,
        }
    }

    /// Drops a hold's reservation and its place in the client's quota (best effort).
    pub async fn release(&self, site: Uuid, station: Uuid, client: &str, hid: &str) {
        let Some(mut conn) = self.kv.conn().await else {
            return;
        };
        // Two calls, not one pipeline: the station's key and the client's are in different
        // slots of a cluster.
        let mut pipe = redis::pipe();
        pipe.hdel(self.station_key(site, station), hid).ignore();
        pipe.publish(Self::channel(&self.kv.prefix), site.to_string())
            .ignore();
        let _ = tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
        self.mirror.changed(site);
        let cmd = redis::cmd("HDEL").arg(self.client_key(client)).arg(hid).clone();
        let _ = tokio::time::timeout(CALL_TIMEOUT, cmd.query_async::<()>(&mut conn)).await;
    }

    /// Drops a reservation only, keeping the client's quota entry (the hold is still being placed).
    pub async fn unreserve(&self, site: Uuid, station: Uuid, hid: &str) {
        let Some(mut conn) = self.kv.conn().await else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.hdel(self.station_key(site, station), hid).ignore();
        pipe.publish(Self::channel(&self.kv.prefix), site.to_string())
            .ignore();
        let _ = tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
        self.mirror.changed(site);
    }

    /// Drops a client's quota entry only (when the reservation itself failed).
    pub async fn release_client(&self, client: &str, hid: &str) {
        let Some(mut conn) = self.kv.conn().await else {
            return;
        };
        let cmd = redis::cmd("HDEL").arg(self.client_key(client)).arg(hid).clone();
        let _ = tokio::time::timeout(CALL_TIMEOUT, cmd.query_async::<()>(&mut conn)).await;
    }
}
