//! The availability cache: each site's calendar as PostgreSQL has it (rules, closures, live
//! appointments) kept in memory for a short time, so a rush of readers (citizens, the ANTS hub)
//! costs little database work. Holds, notice and release are applied at read time on top of it, so
//! the clock moving needs no refresh. This process's own bookings, moves and cancellations
//! invalidate the site at once; other replicas' changes show within the TTL. Staleness can only
//! show a slot that was just taken (holding it is then refused by the database check) or hide one
//! just freed for a moment: never a double booking.

use crate::db::calendar::load_calendar;
use crate::domain::slots::SiteCalendar;
use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

struct Entry {
    loaded: Instant,
    from: NaiveDate,
    to: NaiveDate,
    calendar: Arc<SiteCalendar>,
}

/// Site calendars with a time to live, loaded once per site however many ask at the same moment.
pub struct CalendarCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, Entry>>,
    /// One loader per site at a time (single flight): concurrent misses wait for the first.
    loading: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl CalendarCache {
    /// A cache whose entries live `ttl` (zero disables caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, site: Uuid, from: NaiveDate, to: NaiveDate) -> Option<Arc<SiteCalendar>> {
        let entries = self.entries.lock().expect("cache lock");
        let e = entries.get(&site)?;
        (e.loaded.elapsed() < self.ttl && e.from <= from && e.to >= to).then(|| e.calendar.clone())
    }

    /// The calendar of `site` covering local days `from..=to`. A miss loads `load_from..=load_to`
    /// (a superset chosen by the caller, so later requests for other days hit).
    #[allow(clippy::too_many_arguments)]
    pub async fn get(
        &self,
        pool: &PgPool,
        site: Uuid,
        tz: Tz,
        department: &str,
        (from, to): (NaiveDate, NaiveDate),
        (load_from, load_to): (NaiveDate, NaiveDate),
    ) -> sqlx::Result<Arc<SiteCalendar>> {
        if let Some(c) = self.fresh(site, from, to) {
            return Ok(c);
        }
        let gate = self
            .loading
            .lock()
            .expect("cache lock")
            .entry(site)
            .or_default()
            .clone();
        let _one_loader = gate.lock().await;
        if let Some(c) = self.fresh(site, from, to) {
            return Ok(c);
        }
        let (lf, lt) = (load_from.min(from), load_to.max(to));
        let mut conn = pool.acquire().await?;
        let calendar = Arc::new(load_calendar(&mut conn, site, tz, department, lf, lt).await?);
        if !self.ttl.is_zero() {
            self.entries.lock().expect("cache lock").insert(
                site,
                Entry {
                    loaded: Instant::now(),
                    from: lf,
                    to: lt,
                    calendar: calendar.clone(),
                },
            );
        }
        Ok(calendar)
    }

    /// Forgets a site's calendar (after a booking, move or cancellation there).
    pub fn invalidate(&self, site: Uuid) {
        self.entries.lock().expect("cache lock").remove(&site);
    }
}
