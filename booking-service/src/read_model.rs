//! The read model: what availability reads need (the active sites with their motif settings, and
//! each site's calendar of rules, closures and live appointments) kept in memory and kept exact
//! across instances by per-site versions.
//!
//! Every committed change bumps its site's version in PostgreSQL (triggers of migration 0017).
//! Each instance polls every version (`READ_MODEL_POLL_MS`) and drops its copy of a site as soon as
//! it sees a newer one; the service's own writes are also announced on `site_changed` right after
//! they commit, and every instance listens. The staleness bound is therefore: a change made through
//! any instance is no longer served by any other after the announcement's delivery (milliseconds);
//! any change at all (an operator's SQL, a lost notification, a dropped listening connection) after
//! one poll interval plus one poll query (500 ms by default: under one second). This process's own
//! writes drop the site at once.
//!
//! Holds, notice and release are applied at read time on top of a calendar, so the clock moving
//! needs no refresh. Staleness can only show a slot that was just taken (holding it is then refused
//! by the check against the database) or hide one just freed, for at most the bound: never a double
//! booking, which the database's exclusion constraint decides alone.

use crate::db::calendar::load_calendar;
use crate::db::site_versions::{self, TERRITORY};
use crate::db::territory::{self, MotifSetting, SiteFilter, SiteRow};
use crate::domain::slots::{FirstStarts, SiteCalendar};
use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use uuid::Uuid;

struct Entry {
    version: i64,
    /// When its load began: a write of this process after that instant makes it stale.
    load_began: Instant,
    from: NaiveDate,
    to: NaiveDate,
    calendar: Arc<SiteCalendar>,
}

/// The active sites (in the public list's order) with their communes' postcodes and motif settings.
pub struct Territory {
    version: i64,
    load_began: Instant,
    sites: Vec<SiteRow>,
    /// Position of each site in `sites`.
    index: HashMap<Uuid, usize>,
    postcodes: HashMap<Uuid, Vec<String>>,
    settings: HashMap<Uuid, Vec<MotifSetting>>,
}

impl Territory {
    /// An active site.
    pub fn site(&self, id: Uuid) -> Option<&SiteRow> {
        self.index.get(&id).map(|i| &self.sites[*i])
    }

    /// The active sites matching `f`, as [`territory::list_sites`] lists them.
    pub fn sites(&self, f: &SiteFilter) -> Vec<SiteRow> {
        self.site_refs(f).cloned().collect()
    }

    /// The active sites matching `f`, borrowed.
    pub fn site_refs<'a>(&'a self, f: &'a SiteFilter) -> impl Iterator<Item = &'a SiteRow> + 'a {
        self.sites
            .iter()
            .filter(|s| f.id.is_none_or(|id| s.id == id))
            .filter(|s| f.commune.as_deref().is_none_or(|c| s.commune_insee == c))
            .filter(|s| {
                f.postcode.as_deref().is_none_or(|p| {
                    s.postcode == p
                        || self
                            .postcodes
                            .get(&s.id)
                            .is_some_and(|ps| ps.iter().any(|x| x == p))
                })
            })
            .filter(|s| f.department.as_deref().is_none_or(|d| s.department_code == d))
    }

    /// A site's setting for `motif`, if it offers it.
    pub fn motif(&self, site: Uuid, motif: crate::domain::motif::Motif) -> Option<MotifSetting> {
        self.settings
            .get(&site)?
            .iter()
            .find(|m| m.motif == motif)
            .copied()
    }

    /// The motif settings of `sites`, as [`territory::motif_settings`] gives them.
    pub fn settings(&self, sites: &[Uuid]) -> Vec<(Uuid, MotifSetting)> {
        let mut out: Vec<(Uuid, MotifSetting)> = sites
            .iter()
            .flat_map(|id| {
                self.settings
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(move |m| (*id, *m))
            })
            .collect();
        out.sort_by_key(|(site, m)| (*site, m.motif));
        out.dedup();
        out
    }
}

/// First starts and the calendar they were computed from (held weakly: only its identity counts).
type KeptFirstStarts = (Weak<SiteCalendar>, FirstStarts);

/// Versions heard of, and this process's own writes.
#[derive(Default)]
struct Known {
    /// The newest version announced per site.
    versions: HashMap<Uuid, i64>,
    /// The last write of this process per site.
    written: HashMap<Uuid, Instant>,
}

impl Known {
    fn current(&self, site: Uuid, version: i64, load_began: Instant) -> bool {
        version >= self.versions.get(&site).copied().unwrap_or(0)
            && self.written.get(&site).is_none_or(|w| *w < load_began)
    }
}

/// Site calendars and the territory in memory, each loaded once however many ask at once.
pub struct ReadModel {
    /// Longest an entry is served even when no version moved (zero disables the read model).
    max_age: Duration,
    /// Where this process's changes are announced (none: only the poll tells other instances).
    announce_to: Option<PgPool>,
    known: Mutex<Known>,
    entries: Mutex<HashMap<Uuid, Entry>>,
    /// One loader per site at a time (single flight): concurrent misses wait for the first.
    loading: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    territory: Mutex<Option<Arc<Territory>>>,
    territory_loading: tokio::sync::Mutex<()>,
    /// The first free starts per site and duration (minutes), each for the calendar it was
    /// computed from: a new calendar (any change) leaves it behind.
    firsts: Mutex<HashMap<(Uuid, i64), KeptFirstStarts>>,
    /// The start-up warm-up is done (or none was asked).
    warm: std::sync::atomic::AtomicBool,
    /// Calendar reads served from memory, and those that loaded from the database.
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl ReadModel {
    /// A read model whose entries are served at most `max_age` (zero: every read loads), announcing
    /// this process's changes through `announce_to`.
    pub fn new(max_age: Duration, announce_to: Option<PgPool>) -> Self {
        Self {
            max_age,
            announce_to,
            known: Mutex::default(),
            entries: Mutex::default(),
            loading: Mutex::default(),
            territory: Mutex::default(),
            territory_loading: tokio::sync::Mutex::default(),
            firsts: Mutex::default(),
            warm: std::sync::atomic::AtomicBool::new(true),
            hits: std::sync::atomic::AtomicU64::new(0),
            misses: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Calendar reads so far: (served from memory, loaded from the database).
    pub fn hits_and_misses(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().expect("read model lock")
    }

    fn fresh(&self, site: Uuid, from: NaiveDate, to: NaiveDate) -> Option<Arc<SiteCalendar>> {
        let entries = self.entries.lock().expect("read model lock");
        let e = entries.get(&site)?;
        (e.load_began.elapsed() < self.max_age
            && e.from <= from
            && e.to >= to
            && self.known().current(site, e.version, e.load_began))
        .then(|| e.calendar.clone())
    }

    /// The calendar of `site` held now if it covers local `day`, with the version it was read at,
    /// current or not: the caller compares the version with the database's.
    pub fn held_calendar(&self, site: Uuid, day: NaiveDate) -> Option<(i64, Arc<SiteCalendar>)> {
        let entries = self.entries.lock().expect("read model lock");
        let e = entries.get(&site)?;
        (e.from <= day && day <= e.to).then(|| (e.version, e.calendar.clone()))
    }

    /// The calendar of `site` covering local days `from..=to`. A miss loads `load_from..=load_to`
    /// (a superset chosen by the caller, so later requests for other days hit).
    #[allow(clippy::too_many_arguments)]
    pub async fn calendar(
        &self,
        pool: &PgPool,
        site: Uuid,
        tz: Tz,
        department: &str,
        (from, to): (NaiveDate, NaiveDate),
        (load_from, load_to): (NaiveDate, NaiveDate),
    ) -> sqlx::Result<Arc<SiteCalendar>> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(c) = self.fresh(site, from, to) {
            self.hits.fetch_add(1, Relaxed);
            return Ok(c);
        }
        let gate = self
            .loading
            .lock()
            .expect("read model lock")
            .entry(site)
            .or_default()
            .clone();
        let _one_loader = gate.lock().await;
        if let Some(c) = self.fresh(site, from, to) {
            self.hits.fetch_add(1, Relaxed);
            return Ok(c);
        }
        self.misses.fetch_add(1, Relaxed);
        let (lf, lt) = (load_from.min(from), load_to.max(to));
        let load_began = Instant::now();
        let mut conn = pool.acquire().await?;
        // The version first: data read after it is at least as new, so an entry is never marked
        // newer than what it holds (at worst it is reloaded once more).
        let version = site_versions::version(&mut *conn, site).await?;
        let calendar = Arc::new(load_calendar(&mut conn, site, tz, department, lf, lt).await?);
        if !self.max_age.is_zero() {
            self.entries.lock().expect("read model lock").insert(
                site,
                Entry {
                    version,
                    load_began,
                    from: lf,
                    to: lt,
                    calendar: calendar.clone(),
                },
            );
        }
        Ok(calendar)
    }

    fn fresh_territory(&self) -> Option<Arc<Territory>> {
        let t = self.territory.lock().expect("read model lock").clone()?;
        (t.load_began.elapsed() < self.max_age && self.known().current(TERRITORY, t.version, t.load_began))
            .then_some(t)
    }

    /// The active sites and their motif settings.
    pub async fn territory(&self, pool: &PgPool) -> sqlx::Result<Arc<Territory>> {
        if let Some(t) = self.fresh_territory() {
            return Ok(t);
        }
        let _one_loader = self.territory_loading.lock().await;
        if let Some(t) = self.fresh_territory() {
            return Ok(t);
        }
        let load_began = Instant::now();
        let version = site_versions::version(pool, TERRITORY).await?;
        let sites = territory::list_sites(pool, &SiteFilter::default()).await?;
        let ids: Vec<Uuid> = sites.iter().map(|s| s.id).collect();
        let mut settings: HashMap<Uuid, Vec<MotifSetting>> = HashMap::new();
        for (site, m) in territory::motif_settings(pool, &ids).await? {
            settings.entry(site).or_default().push(m);
        }
        let postcodes = site_versions::site_postcodes(pool).await?.into_iter().collect();
        let t = Arc::new(Territory {
            version,
            load_began,
            index: sites.iter().enumerate().map(|(i, s)| (s.id, i)).collect(),
            sites,
            postcodes,
            settings,
        });
        if !self.max_age.is_zero() {
            *self.territory.lock().expect("read model lock") = Some(t.clone());
        }
        Ok(t)
    }

    /// An active site. A site not in memory is looked for again when the territory moved since
    /// (one query, only on this rare path): a site created a moment ago is found at once.
    pub async fn site(&self, pool: &PgPool, id: Uuid) -> sqlx::Result<Option<SiteRow>> {
        let t = self.territory(pool).await?;
        if let Some(s) = t.site(id) {
            return Ok(Some(s.clone()));
        }
        let now = site_versions::version(pool, TERRITORY).await?;
        if now <= t.version {
            return Ok(None);
        }
        self.heard(TERRITORY, now);
        Ok(self.territory(pool).await?.site(id).cloned())
    }

    /// The earliest start at `now` of `site` for `minutes`, from the first starts kept for
    /// `calendar` (see [`FirstStarts::first_at`]); `None` when none are kept or they cannot tell.
    pub fn first_start(
        &self,
        site: Uuid,
        minutes: i64,
        calendar: &Arc<SiteCalendar>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Option<chrono::DateTime<chrono::Utc>>> {
        let firsts = self.firsts.lock().expect("read model lock");
        let (of, f) = firsts.get(&(site, minutes))?;
        if !std::ptr::eq(of.as_ptr(), Arc::as_ptr(calendar)) {
            return None;
        }
        f.first_at(now, calendar.policy.min_notice)
    }

    /// Keeps the first free starts of `site` for `minutes` computed from `calendar`.
    pub fn keep_first_starts(&self, site: Uuid, minutes: i64, calendar: &Arc<SiteCalendar>, f: FirstStarts) {
        if !self.max_age.is_zero() {
            self.firsts
                .lock()
                .expect("read model lock")
                .insert((site, minutes), (Arc::downgrade(calendar), f));
        }
    }

    /// Whether the start-up warm-up is done (true when none was asked).
    pub fn is_warm(&self) -> bool {
        self.warm.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the warm-up as begun (`false`) or done (`true`).
    pub fn set_warm(&self, warm: bool) {
        self.warm.store(warm, std::sync::atomic::Ordering::Release);
    }

    /// This process changed a site's calendar (a booking, move, cancellation, rule): its copy is
    /// dropped at once, without waiting for the notification.
    pub fn invalidate(&self, site: Uuid) {
        self.known().written.insert(site, Instant::now());
        self.entries.lock().expect("read model lock").remove(&site);
        self.announce(site);
    }

    /// This process changed the territory (a site, its stations or motif settings).
    pub fn invalidate_territory(&self) {
        self.known().written.insert(TERRITORY, Instant::now());
        self.announce(TERRITORY);
    }

    /// Tells the other instances, without waiting (a lost announcement costs at most one poll).
    fn announce(&self, site: Uuid) {
        if let Some(pool) = self.announce_to.clone() {
            tokio::spawn(async move {
                if let Err(e) = site_versions::announce(&pool, &[site]).await {
                    tracing::warn!(error = %e, "read model: announcement failed");
                }
            });
        }
    }

    /// `version` of `site` was heard of (a notification or a poll).
    pub fn heard(&self, site: Uuid, version: i64) {
        {
            let mut known = self.known();
            let v = known.versions.entry(site).or_insert(version);
            *v = (*v).max(version);
        }
        let mut entries = self.entries.lock().expect("read model lock");
        if entries.get(&site).is_some_and(|e| e.version < version) {
            entries.remove(&site);
        }
    }

    /// Listens to the announcements and polls the versions, for as long as the model lives.
    /// `listen` false leaves only the poll (tests show it alone keeps the bound).
    pub fn watch(self: &Arc<Self>, pool: PgPool, poll: Duration, listen: bool) {
        if listen {
            tokio::spawn(listen_loop(Arc::downgrade(self), pool.clone()));
        }
        if !poll.is_zero() {
            tokio::spawn(poll_loop(Arc::downgrade(self), pool, poll));
        }
    }
}

/// Applies notifications as they come; reconnects after a lost connection (what was announced
/// meanwhile is caught by the poll).
async fn listen_loop(model: Weak<ReadModel>, pool: PgPool) {
    loop {
        match site_versions::listen(&pool).await {
            Ok(mut listener) => loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        let Some(model) = model.upgrade() else { return };
                        if let Some((site, version)) = site_versions::parse(n.payload()) {
                            model.heard(site, version);
                        }
                    }
                    // The connection was lost: notifications may have been missed.
                    Ok(None) => tracing::warn!("read model: listening connection lost, reconnecting"),
                    Err(e) => {
                        tracing::warn!(error = %e, "read model: listening failed");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "read model: cannot listen"),
        }
        if model.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads every version each `every`: the bound when notifications are lost.
async fn poll_loop(model: Weak<ReadModel>, pool: PgPool, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if model.strong_count() == 0 {
            return;
        }
        match site_versions::all(&pool).await {
            Ok(rows) => {
                let Some(model) = model.upgrade() else { return };
                for (site, version) in rows {
                    model.heard(site, version);
                }
            }
            Err(e) => tracing::warn!(error = %e, "read model: version poll failed"),
        }
    }
}
