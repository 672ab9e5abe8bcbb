//! Live holds per site, mirrored in memory so that availability reads do not ask Redis each time.
//!
//! Every change to a site's holds (a reservation, a release) is published on one Redis channel by
//! the script or pipeline that makes it, in the same round trip; every instance subscribes and drops
//! its copy of a site's holds when it hears that the site changed. A copy is used only while the
//! subscription that was live when it was read is still live, and for at most `max_age` (a safety
//! net for changes made behind the service's back, by hand in Redis). Expired holds are dropped at
//! read time by their own expiry instant, so an expiry needs no message.
//!
//! Bound: a hold placed or released through any instance is no longer misreported by any other once
//! the message is delivered (milliseconds); while the subscription is down every read asks Redis, as
//! if there were no mirror. Like every view of holds, this only hides or shows a slot on a page: the
//! Redis reservation decides who holds, and the database's constraint who books.

use crate::domain::intervals::Interval;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A live hold as Redis stores it: the station reserved, the range, and when it lapses.
#[derive(Clone, Copy, Debug)]
pub struct LiveHold {
    pub station: Uuid,
    pub interval: Interval,
    pub expires: DateTime<Utc>,
}

/// One site's holds as read from Redis.
struct Copy {
    subscription: u64,
    change: u64,
    read_at: Instant,
    stations: Vec<Uuid>,
    holds: Vec<LiveHold>,
}

#[derive(Default)]
struct State {
    /// The live subscription's number (each new subscription gets the next); `None` when down.
    subscription: Option<u64>,
    subscriptions: u64,
    /// How many changes were heard of per site: a read begun before one must not be kept.
    changes: HashMap<Uuid, u64>,
    copies: HashMap<Uuid, Copy>,
}

/// What a read from Redis must still match to be kept: no subscription change, no site change.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    subscription: Option<u64>,
    change: u64,
}

/// The mirror of every site's live holds.
pub struct HoldMirror {
    max_age: Duration,
    state: Mutex<State>,
}

impl HoldMirror {
    /// A mirror keeping copies at most `max_age` (zero: no copy is kept, every read asks Redis).
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("hold mirror lock")
    }

    /// The live holds of `site` on `stations` at `now`, when a current copy covers them.
    pub fn get(&self, site: Uuid, stations: &[Uuid], now: DateTime<Utc>) -> Option<Vec<(Uuid, Interval)>> {
        let state = self.state();
        let live = state.subscription?;
        let copy = state.copies.get(&site)?;
        let current = copy.subscription == live
            && copy.change == state.changes.get(&site).copied().unwrap_or(0)
            && copy.read_at.elapsed() < self.max_age
            && stations.iter().all(|s| copy.stations.contains(s));
        current.then(|| {
            copy.holds
                .iter()
                .filter(|h| h.expires > now && stations.contains(&h.station))
                .map(|h| (h.station, h.interval))
                .collect()
        })
    }

    /// Taken before reading `site`'s holds from Redis.
    pub fn ticket(&self, site: Uuid) -> Ticket {
        let state = self.state();
        Ticket {
            subscription: state.subscription,
            change: state.changes.get(&site).copied().unwrap_or(0),
        }
    }

    /// Keeps what was read with `ticket`, unless the site changed or the subscription moved since.
    pub fn keep(&self, site: Uuid, ticket: Ticket, stations: &[Uuid], holds: Vec<LiveHold>) {
        if self.max_age.is_zero() {
            return;
        }
        let mut state = self.state();
        let Some(subscription) = ticket.subscription else {
            return;
        };
        if state.subscription != Some(subscription)
            || state.changes.get(&site).copied().unwrap_or(0) != ticket.change
        {
            return;
        }
        state.copies.insert(
            site,
            Copy {
                subscription,
                change: ticket.change,
                read_at: Instant::now(),
                stations: stations.to_vec(),
                holds,
            },
        );
    }

    /// `site`'s holds changed (heard on the channel, or written by this process).
    pub fn changed(&self, site: Uuid) {
        let mut state = self.state();
        *state.changes.entry(site).or_insert(0) += 1;
        state.copies.remove(&site);
    }

    fn subscribed(&self) {
        let mut state = self.state();
        state.subscriptions += 1;
        state.subscription = Some(state.subscriptions);
        state.copies.clear();
    }

    fn unsubscribed(&self) {
        let mut state = self.state();
        state.subscription = None;
        state.copies.clear();
    }

    /// Subscribes to `channel` for as long as the mirror lives, again after each lost connection.
    pub fn watch(self: &Arc<Self>, kv: Arc<crate::kv::Kv>, channel: String) {
        if !self.max_age.is_zero() {
            tokio::spawn(subscribe_loop(Arc::downgrade(self), kv, channel));
        }
    }
}

async fn subscribe_loop(mirror: Weak<HoldMirror>, kv: Arc<crate::kv::Kv>, channel: String) {
    loop {
        if let Some(mut pubsub) = kv.pubsub().await {
            match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let Some(m) = mirror.upgrade() else { return };
                    m.subscribed();
                    drop(m);
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Some(m) = mirror.upgrade() else { return };
                        match msg.get_payload::<String>().map(|p| Uuid::parse_str(p.as_str())) {
                            Ok(Ok(site)) => m.changed(site),
                            _ => tracing::warn!("hold mirror: unreadable message"),
                        }
                    }
                    tracing::warn!("hold mirror: subscription lost, reconnecting");
                    if let Some(m) = mirror.upgrade() {
                        m.unsubscribed();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "hold mirror: cannot subscribe"),
            }
        }
        if mirror.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hold(station: Uuid, h: u32, expires_h: u32) -> LiveHold {
        let at = |h| Utc.with_ymd_and_hms(2026, 12, 2, h, 0, 0).unwrap();
        LiveHold {
            station,
            interval: Interval::new(at(h), at(h + 1)).unwrap(),
            expires: at(expires_h),
        }
    }

    #[test]
    fn a_copy_serves_until_a_change_or_a_new_subscription() {
        let m = HoldMirror::new(Duration::from_secs(60));
        let (site, st) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap();
        // Not subscribed: nothing is kept.
        m.keep(site, m.ticket(site), &[st], vec![hold(st, 9, 8)]);
        assert!(m.get(site, &[st], now).is_none());
        m.subscribed();
        let t = m.ticket(site);
        m.keep(site, t, &[st], vec![hold(st, 9, 8), hold(st, 10, 6)]);
        // The hold that lapsed at 06:00 is not reported at 07:00.
        assert_eq!(m.get(site, &[st], now).map(|v| v.len()), Some(1));
        // A station the copy did not read is not answered from it.
        assert!(m.get(site, &[st, Uuid::new_v4()], now).is_none());
        m.changed(site);
        assert!(m.get(site, &[st], now).is_none());
        // A read begun before the change is not kept.
        m.keep(site, t, &[st], vec![]);
        assert!(m.get(site, &[st], now).is_none());
        m.keep(site, m.ticket(site), &[st], vec![]);
        assert_eq!(m.get(site, &[st], now).map(|v| v.len()), Some(0));
        // A resubscription may have missed messages: every copy goes.
        let before = m.ticket(site);
        m.unsubscribed();
        m.subscribed();
        assert!(m.get(site, &[st], now).is_none());
        m.keep(site, before, &[st], vec![]);
        assert!(m.get(site, &[st], now).is_none());
    }

    #[test]
    fn a_copy_ages_out() {
        let m = HoldMirror::new(Duration::from_millis(30));
        let (site, st) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap();
        m.subscribed();
        m.keep(site, m.ticket(site), &[st], vec![]);
        assert!(m.get(site, &[st], now).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(m.get(site, &[st], now).is_none());
    }
}
