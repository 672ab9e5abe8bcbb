//! `seed-national`: a France-size territory for load tests and capacity planning. Every commune
//! of France (the gazetteer kept in `data/communes-france.csv`), equipped sites in every
//! département, overseas ones included (their own time zones and holidays), realistic weekly
//! hours and a 150-day horizon; optionally N appointments spread over it, written with `COPY`.
//!
//! Deterministic from a seed (the plan does not depend on the database), idempotent (ids are
//! derived from names; a second run adds nothing, and appointments are rewritten only when their
//! number changed).

use crate::domain::departments;
use crate::domain::gazetteer::{self, Place};
use crate::domain::holidays::HolidayCalendar;
use crate::domain::tz::resolve_local;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use uuid::Uuid;

/// Namespace of the national territory's ids (sites, stations, rules).
const NATIONAL_NAMESPACE: Uuid = Uuid::from_u128(0x6e61_7469_6f6e_616c_2d74_6572_7269_746f);
/// Appointments written by the seed carry references with this prefix.
const REFERENCE_PREFIX: &str = "NAT-";
/// The booking horizon of every national site, in days.
pub const HORIZON_DAYS: i32 = 150;

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct NationalOptions {
    /// How many equipped sites (at least one per département).
    pub sites: usize,
    /// Appointments to pre-book across the territory.
    pub appointments: u64,
    /// The seed every choice derives from.
    pub seed: u64,
}

/// One planned site.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSite {
    pub id: Uuid,
    pub insee: String,
    pub name: String,
    pub department: String,
    pub postcode: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: &'static str,
    pub stations: Vec<Uuid>,
    /// `(ISO weekday, start, end)`, the same for every station of the site.
    pub hours: Vec<(i16, NaiveTime, NaiveTime)>,
    /// Minutes per person (identity card and passport alike).
    pub minutes: i32,
}

fn national_id(key: &str) -> Uuid {
    Uuid::new_v5(&NATIONAL_NAMESPACE, key.as_bytes())
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("literal time")
}

/// The département codes the schema accepts (the gazetteer also knows overseas collectivities).
fn known_department(d: &str) -> bool {
    d.len() == 2 || (d.len() == 3 && d.starts_with("97"))
}

/// How many sites a commune gets among `budget`: one per 60,000 inhabitants, at least one.
fn sites_for(population: i32) -> usize {
    1 + usize::try_from(population / 60_000).unwrap_or(0).min(15)
}

/// Weekly hours: mornings and afternoons on weekdays, sometimes a late Thursday, a Saturday
/// morning or a Wednesday afternoon off.
fn weekly_hours(rng: &mut StdRng) -> Vec<(i16, NaiveTime, NaiveTime)> {
    let late_thursday = rng.gen_bool(0.3);
    let saturday = rng.gen_bool(0.4);
    let wednesday_off = rng.gen_bool(0.3);
    let mut out = Vec::new();
    for wd in 1..=5i16 {
        out.push((wd, t(8, 30), t(12, 0)));
        if wd == 3 && wednesday_off {
            continue;
        }
        out.push((
            wd,
            t(13, 30),
            if wd == 4 && late_thursday {
                t(18, 30)
            } else {
                t(17, 0)
            },
        ));
    }
    if saturday {
        out.push((6, t(9, 0), t(12, 0)));
    }
    out
}

/// The national plan: the most populous communes of each département first (every département
/// gets its largest), then the most populous of France, until `sites` are placed.
pub fn plan(places: &[Place], sites: usize, seed: u64) -> Vec<PlannedSite> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut by_size: Vec<&Place> = places
        .iter()
        .filter(|p| known_department(&p.department))
        .collect();
    by_size.sort_by(|a, b| {
        b.population
            .cmp(&a.population)
            .then(a.insee_code.cmp(&b.insee_code))
    });
    let mut firsts: BTreeMap<&str, &Place> = BTreeMap::new();
    for p in &by_size {
        firsts.entry(p.department.as_str()).or_insert(p);
    }
    let mut chosen: Vec<(&Place, usize)> = firsts.values().map(|p| (*p, 0)).collect();
    let mut placed = chosen.len();
    'fill: for p in &by_size {
        let already = chosen.iter().any(|(c, _)| c.insee_code == p.insee_code);
        let wanted = sites_for(p.population);
        for k in usize::from(already)..wanted {
            if placed >= sites {
                break 'fill;
            }
            chosen.push((p, k));
            placed += 1;
        }
    }
    chosen.truncate(sites);
    chosen
        .into_iter()
        .map(|(p, k)| {
            let key = format!("{}/{k}", p.insee_code);
            let n_stations = 1
                + usize::try_from(p.population / 25_000).unwrap_or(0).min(4)
                + usize::from(rng.gen_bool(0.2));
            let name = if k == 0 {
                format!("Mairie de {}", p.name)
            } else {
                format!("Mairie annexe {k} de {}", p.name)
            };
            PlannedSite {
                id: national_id(&key),
                stations: (1..=n_stations)
                    .map(|s| national_id(&format!("{key}/DR {s}")))
                    .collect(),
                hours: weekly_hours(&mut rng),
                minutes: if rng.gen_bool(0.7) { 15 } else { 20 },
                insee: p.insee_code.clone(),
                name,
                department: p.department.clone(),
                postcode: p.postcodes.first().cloned().unwrap_or_default(),
                city: p.name.clone(),
                // A few hundred metres apart, so that annexes of one city are not one point.
                latitude: p.latitude + 0.004 * k as f64,
                longitude: p.longitude,
                timezone: departments::timezone(&p.department),
            }
        })
        .collect()
}

/// What the national seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalReport {
    pub communes: usize,
    pub sites: usize,
    pub stations: usize,
    pub appointments: u64,
}

/// Writes the national territory (and appointments) into `pool`'s database.
pub async fn seed_national(pool: &PgPool, opts: NationalOptions) -> anyhow::Result<NationalReport> {
    let places = gazetteer::france();
    let planned = plan(places, opts.sites, opts.seed);
    let mut tx = pool.begin().await?;
    // Tens of thousands of rows: the per-row version triggers are off for this transaction only
    // (the DDL is transactional) and every version is bumped once at the end.
    set_triggers(&mut tx, TERRITORY_TRIGGERS, false).await?;
    write_communes(&mut tx, places).await?;
    write_sites(&mut tx, &planned).await?;
    set_triggers(&mut tx, TERRITORY_TRIGGERS, true).await?;
    bump_every_version(&mut tx).await?;
    tx.commit().await?;
    let appointments = write_appointments(pool, &planned, opts).await?;
    Ok(NationalReport {
        communes: places.len(),
        sites: planned.len(),
        stations: planned.iter().map(|s| s.stations.len()).sum(),
        appointments,
    })
}

/// The version triggers of the tables the territory is written to, as `(table, trigger)`.
const TERRITORY_TRIGGERS: &[(&str, &str)] = &[
    ("communes", "communes_site_changed"),
    ("sites", "sites_site_changed"),
    ("booking_policies", "booking_policies_site_changed"),
    ("site_motifs", "site_motifs_site_changed"),
    ("stations", "stations_site_changed"),
    ("opening_rules", "opening_rules_site_changed"),
];

async fn set_triggers(conn: &mut PgConnection, triggers: &[(&str, &str)], on: bool) -> sqlx::Result<()> {
    let verb = if on { "ENABLE" } else { "DISABLE" };
    for (table, trigger) in triggers {
        // Names from the constant above, never from input.
        sqlx::query(&format!("ALTER TABLE {table} {verb} TRIGGER {trigger}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every site's version (and the territory's) moves once: instances reload at their next poll.
async fn bump_every_version(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO site_versions (site_id)
         SELECT id FROM sites UNION ALL SELECT '00000000-0000-0000-0000-000000000000'::uuid
         ON CONFLICT (site_id) DO UPDATE SET version = site_versions.version + 1",
    )
    .execute(conn)
    .await
    .map(|_| ())
}

async fn write_communes(conn: &mut PgConnection, places: &[Place]) -> sqlx::Result<()> {
    let places: Vec<&Place> = places
        .iter()
        .filter(|p| known_department(&p.department))
        .collect();
    for chunk in places.chunks(5_000) {
        // Postcodes travel as one comma-separated text each (arrays of arrays do not unnest).
        sqlx::query(
            "INSERT INTO communes (insee_code, name, search_name, department_code, postcodes, population, latitude, longitude)
             SELECT i, n, s, d, string_to_array(pc, ','), pop, lat, lon
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::float8[])
                  AS x(i, n, s, d, pc, pop, lat, lon)
             ON CONFLICT (insee_code) DO NOTHING",
        )
        .bind(chunk.iter().map(|p| p.insee_code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.search_name.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.department.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.postcodes.join(",")).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.population).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.latitude).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.longitude).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn write_sites(conn: &mut PgConnection, planned: &[PlannedSite]) -> sqlx::Result<()> {
    for chunk in planned.chunks(1_000) {
        sqlx::query(
            "INSERT INTO sites (id, commune_insee, name, address_line, postcode, city, latitude, longitude, timezone)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::float8[], $8::float8[], $9::text[])
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(chunk.iter().map(|s| s.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.insee.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|_| "Place de la Mairie").collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.postcode.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.city.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.latitude).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.longitude).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.timezone).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO booking_policies (site_id, min_notice_minutes, horizon_days, slot_step_minutes)
             SELECT id, 120, $2, step FROM UNNEST($1::uuid[], $3::int[]) AS x(id, step)
             ON CONFLICT (site_id) DO NOTHING",
        )
        .bind(chunk.iter().map(|s| s.id).collect::<Vec<_>>())
        .bind(HORIZON_DAYS)
        .bind(chunk.iter().map(|s| s.minutes).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO site_motifs (site_id, motif, minutes_per_person, max_persons)
             SELECT id, m.motif, CASE WHEN m.motif = 'RETRIEVAL' THEN 10
                                      WHEN m.motif = 'CNI-PASSPORT' THEN 2 * minutes ELSE minutes END, m.max
             FROM UNNEST($1::uuid[], $2::int[]) AS x(id, minutes)
             CROSS JOIN (VALUES ('CNI', 5), ('PASSPORT', 5), ('CNI-PASSPORT', 4), ('RETRIEVAL', 5)) AS m(motif, max)
             ON CONFLICT DO NOTHING",
        )
        .bind(chunk.iter().map(|s| s.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.minutes).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        let stations: Vec<(Uuid, Uuid, String)> = chunk
            .iter()
            .flat_map(|s| {
                s.stations
                    .iter()
                    .enumerate()
                    .map(|(i, st)| (*st, s.id, format!("DR {}", i + 1)))
            })
            .collect();
        sqlx::query(
            "INSERT INTO stations (id, site_id, name)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) ON CONFLICT (id) DO NOTHING",
        )
        .bind(stations.iter().map(|s| s.0).collect::<Vec<_>>())
        .bind(stations.iter().map(|s| s.1).collect::<Vec<_>>())
        .bind(stations.iter().map(|s| s.2.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        let rules: Vec<(Uuid, Uuid, i16, NaiveTime, NaiveTime)> = chunk
            .iter()
            .flat_map(|s| {
                s.stations.iter().flat_map(|st| {
                    s.hours
                        .iter()
                        .map(move |(wd, a, b)| (national_id(&format!("{st}/{wd}/{a}")), *st, *wd, *a, *b))
                })
            })
            .collect();
        sqlx::query(
            "INSERT INTO opening_rules (id, station_id, weekday, start_time, end_time, valid_from)
             SELECT id, st, wd, a, b, DATE '2024-01-01'
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int2[], $4::time[], $5::time[]) AS x(id, st, wd, a, b)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(rules.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rules.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rules.iter().map(|r| r.2).collect::<Vec<_>>())
        .bind(rules.iter().map(|r| r.3).collect::<Vec<_>>())
        .bind(rules.iter().map(|r| r.4).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Every bookable one-person start of every station over the horizon from `first`, in the order
/// appointments are drawn: day by day, then site, station and time.
fn capacity(planned: &[PlannedSite], first: NaiveDate) -> u64 {
    let mut n = 0u64;
    for s in planned {
        for d in 0..i64::from(HORIZON_DAYS) {
            let wd = (first + Duration::days(d)).weekday().number_from_monday();
            for (w, a, b) in &s.hours {
                if u32::try_from(*w).ok() == Some(wd) {
                    let minutes = u64::try_from((*b - *a).num_minutes()).unwrap_or(0);
                    n += minutes / u64::try_from(s.minutes).unwrap_or(15) * s.stations.len() as u64;
                }
            }
        }
    }
    n
}

const APPOINTMENT_TRIGGER: &[(&str, &str)] = &[("appointments", "appointments_site_changed")];

/// Rewrites the seed's appointments when their number is not `opts.appointments`.
async fn write_appointments(
    pool: &PgPool,
    planned: &[PlannedSite],
    opts: NationalOptions,
) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE reference LIKE 'NAT-%'")
        .fetch_one(&mut *tx)
        .await?;
    if u64::try_from(existing).unwrap_or(0) == opts.appointments {
        return Ok(opts.appointments);
    }
    // Millions of rows: as for the territory, the version trigger is off for this transaction.
    set_triggers(&mut tx, APPOINTMENT_TRIGGER, false).await?;
    sqlx::query("DELETE FROM appointments WHERE reference LIKE 'NAT-%'")
        .execute(&mut *tx)
        .await?;
    let first = Utc::now().date_naive() + Duration::days(1);
    let cap = capacity(planned, first).max(1);
    // Drawn a little above the target rate, and cut at the target.
    let p = (opts.appointments as f64 / cap as f64 * 1.05).min(1.0);
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0xA990_1A7E);
    // Through a staging table: a start already booked by other means is skipped, not an error.
    sqlx::query(
        "CREATE TEMPORARY TABLE national_staging (LIKE appointments INCLUDING DEFAULTS) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let mut copy = tx
        .copy_in_raw(
            "COPY national_staging (id, reference, site_id, station_id, motif, persons, during, status, source,
                               first_name, last_name, email, created_at, updated_at) FROM STDIN (FORMAT csv)",
        )
        .await?;
    let (mut written, mut buf) = (0u64, String::with_capacity(1 << 20));
    let now = Utc::now().format("%Y-%m-%d %H:%M:%S+00").to_string();
    let zones: Vec<Tz> = planned
        .iter()
        .map(|s| s.timezone.parse().unwrap_or(Tz::Europe__Paris))
        .collect();
    let mut holidays: Vec<HolidayCalendar> = planned
        .iter()
        .map(|s| HolidayCalendar::new(&s.department))
        .collect();
    'days: for d in 0..i64::from(HORIZON_DAYS) {
        let day = first + Duration::days(d);
        let wd = day.weekday().number_from_monday();
        for (i, s) in planned.iter().enumerate() {
            if holidays[i].contains(day) {
                continue;
            }
            let step = Duration::minutes(i64::from(s.minutes));
            for (_, a, b) in s
                .hours
                .iter()
                .filter(|(w, _, _)| u32::try_from(*w).ok() == Some(wd))
            {
                for st in &s.stations {
                    let mut at = day.and_time(*a);
                    while at + step <= day.and_time(*b) {
                        if written >= opts.appointments {
                            break 'days;
                        }
                        if rng.gen_bool(p) {
                            let start = resolve_local(zones[i], at);
                            let end = start + step;
                            let _ = writeln!(
                                buf,
                                "{},{REFERENCE_PREFIX}{written:010},{},{st},CNI,1,\"[{},{})\",booked,online,Camille,Martin,national-{written}@example.invalid,{now},{now}",
                                Uuid::new_v4(),
                                s.id,
                                start.format("%Y-%m-%d %H:%M:%S+00"),
                                end.format("%Y-%m-%d %H:%M:%S+00"),
                            );
                            written += 1;
                            if buf.len() > (1 << 20) {
                                copy.send(buf.as_bytes()).await?;
                                buf.clear();
                            }
                        }
                        at += step;
                    }
                }
            }
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await?;
    let written =
        sqlx::query("INSERT INTO appointments SELECT * FROM national_staging ON CONFLICT DO NOTHING")
            .execute(&mut *tx)
            .await?
            .rows_affected();
    sqlx::query("ALTER TABLE appointments ENABLE TRIGGER appointments_site_changed")
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE site_versions SET version = version + 1")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_covers_every_departement_and_is_deterministic() {
        let places = gazetteer::france();
        let a = plan(places, 2_400, 7);
        assert_eq!(a.len(), 2_400);
        assert_eq!(a, plan(places, 2_400, 7));
        let departments: std::collections::BTreeSet<&str> = places
            .iter()
            .map(|p| p.department.as_str())
            .filter(|d| known_department(d))
            .collect();
        for d in &departments {
            assert!(a.iter().any(|s| &s.department == d), "no site in {d}");
        }
        assert!(departments.len() >= 100, "{}", departments.len());
        // Overseas sites keep their own zone; ids are unique; 1 to 6 stations each.
        assert!(a.iter().any(|s| s.timezone == "Indian/Reunion"));
        let ids: std::collections::HashSet<Uuid> = a.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), a.len());
        assert!(a.iter().all(|s| (1..=6).contains(&s.stations.len())));
        let stations: usize = a.iter().map(|s| s.stations.len()).sum();
        assert!(stations >= 3_000, "{stations}");
    }
}
