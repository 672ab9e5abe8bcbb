//! Demo territory: the 39 communes of m2A and a realistic subset equipped with sites, stations and
//! weekly hours. Ids are derived from names (UUID v5), so running the seed again changes nothing.
//!
//! Commune data: `@etalab/decoupage-administratif` 6.0.0 (MIT); town-centre coordinates:
//! `@countrystatecity/countries` 1.0.9 (ODbL). Demo sites sit at their town centre and their
//! addresses say they are demo data.

use crate::domain::text::fold;
use anyhow::Context;
use chrono::{NaiveDate, NaiveTime};
use sqlx::PgPool;
use uuid::Uuid;

/// The m2A communes CSV kept in the project.
pub const M2A_COMMUNES_CSV: &str = include_str!("../../data/m2a-communes.csv");

/// One commune line of the CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CommuneRecord {
    pub insee_code: String,
    pub name: String,
    pub postcodes: Vec<String>,
    pub population: i32,
    pub population_totale: i32,
    pub siren: String,
    pub coordinates: Option<(f64, f64)>,
}

/// The département of an INSEE code: three digits overseas (97x), two elsewhere (incl. 2A/2B).
pub fn department_of(insee: &str) -> &str {
    if insee.starts_with("97") {
        &insee[..3]
    } else {
        &insee[..2]
    }
}

/// Parses the m2A CSV (no quoted fields in it; a malformed line is an error, not skipped).
pub fn parse_communes(csv: &str) -> anyhow::Result<Vec<CommuneRecord>> {
    let mut out = Vec::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(f.len() == 8, "line {}: expected 8 fields, got {}", n + 1, f.len());
        let coord = |s: &str| -> anyhow::Result<Option<f64>> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                Ok(Some(
                    s.trim()
                        .parse()
                        .with_context(|| format!("line {}: bad coordinate", n + 1))?,
                ))
            }
        };
        let coordinates = match (coord(f[6])?, coord(f[7])?) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            _ => None,
        };
        out.push(CommuneRecord {
            insee_code: f[0].to_string(),
            name: f[1].to_string(),
            postcodes: f[2].split_whitespace().map(str::to_string).collect(),
            population: f[3]
                .parse()
                .with_context(|| format!("line {}: bad population", n + 1))?,
            population_totale: f[4]
                .parse()
                .with_context(|| format!("line {}: bad population", n + 1))?,
            siren: f[5].to_string(),
            coordinates,
        });
    }
    Ok(out)
}

const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6d32_615f_7264_765f_6465_6d6f_0000_0001);

/// A stable id for a named demo object.
pub fn demo_id(name: &str) -> Uuid {
    Uuid::new_v5(&DEMO_NAMESPACE, name.as_bytes())
}

struct DemoSite {
    insee: &'static str,
    name: &'static str,
    stations: &'static [&'static str],
    /// Thursday evening opening until 18:30.
    late_thursday: bool,
    saturday_morning: bool,
    /// Closed on Wednesday afternoons.
    wednesday_half_day: bool,
    minutes_per_person: i32,
    horizon_days: i32,
    release_time: (u32, u32),
    step: i32,
}

const DEMO_SITES: &[DemoSite] = &[
    DemoSite {
        insee: "68224",
        name: "Mairie de Mulhouse – Hôtel de Ville",
        stations: &["DR 1", "DR 2", "DR 3"],
        late_thursday: true,
        saturday_morning: true,
        wednesday_half_day: false,
        minutes_per_person: 15,
        horizon_days: 60,
        release_time: (8, 0),
        step: 15,
    },
    DemoSite {
        insee: "68224",
        name: "Mairie annexe de Bourtzwiller",
        stations: &["DR 1"],
        late_thursday: false,
        saturday_morning: false,
        wednesday_half_day: true,
        minutes_per_person: 15,
        horizon_days: 45,
        release_time: (8, 0),
        step: 15,
    },
    DemoSite {
        insee: "68224",
        name: "Mairie annexe de Dornach",
        stations: &["DR 1", "DR 2"],
        late_thursday: false,
        saturday_morning: true,
        wednesday_half_day: false,
        minutes_per_person: 15,
        horizon_days: 45,
        release_time: (8, 0),
        step: 15,
    },
    DemoSite {
        insee: "68278",
        name: "Mairie de Rixheim",
        stations: &["DR 1", "DR 2"],
        late_thursday: false,
        saturday_morning: true,
        wednesday_half_day: false,
        minutes_per_person: 15,
        horizon_days: 30,
        release_time: (8, 30),
        step: 15,
    },
    DemoSite {
        insee: "68376",
        name: "Mairie de Wittenheim",
        stations: &["DR 1"],
        late_thursday: false,
        saturday_morning: false,
        wednesday_half_day: true,
        minutes_per_person: 20,
        horizon_days: 60,
        release_time: (0, 0),
        step: 10,
    },
    DemoSite {
        insee: "68154",
        name: "Mairie d'Illzach",
        stations: &["DR 1"],
        late_thursday: true,
        saturday_morning: false,
        wednesday_half_day: false,
        minutes_per_person: 15,
        horizon_days: 60,
        release_time: (0, 0),
        step: 15,
    },
    DemoSite {
        insee: "68271",
        name: "Mairie de Riedisheim",
        stations: &["DR 1", "DR 2"],
        late_thursday: false,
        saturday_morning: false,
        wednesday_half_day: false,
        minutes_per_person: 20,
        horizon_days: 60,
        release_time: (9, 0),
        step: 10,
    },
    DemoSite {
        insee: "68166",
        name: "Mairie de Kingersheim",
        stations: &["DR 1"],
        late_thursday: false,
        saturday_morning: true,
        wednesday_half_day: true,
        minutes_per_person: 15,
        horizon_days: 90,
        release_time: (0, 0),
        step: 15,
    },
];

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("literal time")
}

/// Weekly ranges of a demo site as `(ISO weekday, start, end)`.
fn weekly_ranges(s: &DemoSite) -> Vec<(i16, NaiveTime, NaiveTime)> {
    let mut out = Vec::new();
    for wd in 1..=5i16 {
        out.push((wd, t(8, 30), t(12, 0)));
        if wd == 3 && s.wednesday_half_day {
            continue;
        }
        let close = if wd == 4 && s.late_thursday {
            t(18, 30)
        } else {
            t(17, 0)
        };
        out.push((wd, t(13, 30), close));
    }
    if s.saturday_morning {
        out.push((6, t(9, 0), t(12, 0)));
    }
    out
}

/// Loads the communes and equips the demo sites. Idempotent.
pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<SeedReport> {
    let communes = parse_communes(M2A_COMMUNES_CSV)?;
    let mut tx = pool.begin().await?;
    for c in &communes {
        sqlx::query(
            "INSERT INTO communes (insee_code, name, search_name, department_code, postcodes, population, siren, latitude, longitude)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (insee_code) DO UPDATE SET name = EXCLUDED.name, search_name = EXCLUDED.search_name,
                 postcodes = EXCLUDED.postcodes, population = EXCLUDED.population, siren = EXCLUDED.siren,
                 latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude",
        )
        .bind(&c.insee_code)
        .bind(&c.name)
        .bind(fold(&c.name))
        .bind(department_of(&c.insee_code))
        .bind(&c.postcodes)
        .bind(c.population)
        .bind(&c.siren)
        .bind(c.coordinates.map(|p| p.0))
        .bind(c.coordinates.map(|p| p.1))
        .execute(&mut *tx)
        .await?;
    }
    let valid_from = NaiveDate::from_ymd_opt(2024, 1, 1).expect("literal date");
    let mut sites = 0;
    for s in DEMO_SITES {
        let c = communes
            .iter()
            .find(|c| c.insee_code == s.insee)
            .with_context(|| format!("demo site in unknown commune {}", s.insee))?;
        // Demo sites only where the commune's own position is known: never a made-up one.
        let Some((lat, lon)) = c.coordinates else { continue };
        let site_id = demo_id(s.name);
        sqlx::query(
            "INSERT INTO sites (id, commune_insee, name, address_line, postcode, city, latitude, longitude, timezone, is_demo)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Europe/Paris', true)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(site_id)
        .bind(&c.insee_code)
        .bind(s.name)
        .bind("Hôtel de Ville (adresse de démonstration)")
        .bind(c.postcodes.first().map(String::as_str).unwrap_or(""))
        .bind(&c.name)
        .bind(lat)
        .bind(lon)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO booking_policies (site_id, min_notice_minutes, horizon_days, release_time, cancel_deadline_minutes, slot_step_minutes)
             VALUES ($1, 120, $2, $3, 240, $4) ON CONFLICT (site_id) DO NOTHING",
        )
        .bind(site_id)
        .bind(s.horizon_days)
        .bind(t(s.release_time.0, s.release_time.1))
        .bind(s.step)
        .execute(&mut *tx)
        .await?;
        for (motif, per_person, max) in [
            ("CNI", s.minutes_per_person, 5),
            ("PASSPORT", s.minutes_per_person, 5),
            ("CNI-PASSPORT", s.minutes_per_person * 2, 4),
            ("RETRIEVAL", 10, 5),
        ] {
            sqlx::query(
                "INSERT INTO site_motifs (site_id, motif, minutes_per_person, max_persons)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(site_id)
            .bind(motif)
            .bind(per_person)
            .bind(max)
            .execute(&mut *tx)
            .await?;
        }
        for station in s.stations {
            let station_key = format!("{}/{}", s.name, station);
            let station_id = demo_id(&station_key);
            sqlx::query(
                "INSERT INTO stations (id, site_id, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(station_id)
            .bind(site_id)
            .bind(*station)
            .execute(&mut *tx)
            .await?;
            for (wd, start, end) in weekly_ranges(s) {
                sqlx::query(
                    "INSERT INTO opening_rules (id, station_id, weekday, start_time, end_time, valid_from)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(demo_id(&format!("{station_key}/{wd}/{start}")))
                .bind(station_id)
                .bind(wd)
                .bind(start)
                .bind(end)
                .bind(valid_from)
                .execute(&mut *tx)
                .await?;
            }
        }
        sites += 1;
    }
    tx.commit().await?;
    Ok(SeedReport {
        communes: communes.len(),
        sites,
    })
}

/// What the seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub communes: usize,
    pub sites: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_csv_has_the_39_communes_of_m2a() {
        let c = parse_communes(M2A_COMMUNES_CSV).unwrap();
        assert_eq!(c.len(), 39);
        assert_eq!(c.iter().map(|c| i64::from(c.population)).sum::<i64>(), 272_950);
        assert_eq!(c.iter().filter(|c| c.coordinates.is_some()).count(), 32);
        let mulhouse = c.iter().find(|c| c.insee_code == "68224").unwrap();
        assert_eq!(mulhouse.postcodes, vec!["68100", "68200"]);
    }

    #[test]
    fn departments_of_insee_codes() {
        assert_eq!(department_of("68224"), "68");
        assert_eq!(department_of("2A004"), "2A");
        assert_eq!(department_of("97411"), "974");
    }

    #[test]
    fn every_demo_site_is_in_a_commune_with_coordinates_and_has_a_lunch_break() {
        let c = parse_communes(M2A_COMMUNES_CSV).unwrap();
        for s in DEMO_SITES {
            let commune = c.iter().find(|c| c.insee_code == s.insee).unwrap();
            assert!(commune.coordinates.is_some(), "{}", s.name);
            let monday: Vec<_> = weekly_ranges(s).into_iter().filter(|r| r.0 == 1).collect();
            assert_eq!(monday.len(), 2, "{}", s.name);
            assert!(monday[0].2 < monday[1].1);
        }
    }
}
