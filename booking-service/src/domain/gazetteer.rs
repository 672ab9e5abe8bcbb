//! Every commune of France with a position, to search from a commune that has no station (most of
//! them). Built once by `tools/communes_france.py` from open data (see `data/README.md`) and
//! compiled in: the `communes` table holds the communes of the service, this is the whole country.

use super::text::fold;
use std::sync::LazyLock;

/// The kept file.
const COMMUNES_FRANCE_CSV: &str = include_str!("../../data/communes-france.csv");

/// How the position of a commune was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The commune's own place in the gazetteer.
    Commune,
    /// The mean position of the placed communes of its intercommunalité: a few km off.
    Epci,
    /// The mean position of the placed communes of its département: far off.
    Departement,
}

impl Precision {
    /// Distances from this position are only approximate.
    pub fn is_approximate(self) -> bool {
        self != Precision::Commune
    }
}

/// A commune of France.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub insee_code: String,
    pub name: String,
    /// Folded name, what search compares.
    pub search_name: String,
    pub department: String,
    pub postcodes: Vec<String>,
    pub population: i32,
    pub latitude: f64,
    pub longitude: f64,
    pub precision: Precision,
}

/// Parses the kept CSV (no quoted fields; a malformed line is an error, not skipped).
pub fn parse(csv: &str) -> Result<Vec<Place>, String> {
    let mut out = Vec::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bad = |what: &str| format!("line {}: {what}", n + 1);
        if f.len() != 8 {
            return Err(bad("expected 8 fields"));
        }
        let precision = match f[7] {
            "commune" => Precision::Commune,
            "epci" => Precision::Epci,
            "departement" => Precision::Departement,
            _ => return Err(bad("bad precision")),
        };
        out.push(Place {
            insee_code: f[0].to_string(),
            name: f[1].to_string(),
            search_name: fold(f[1]),
            department: f[2].to_string(),
            postcodes: f[3].split_whitespace().map(str::to_string).collect(),
            population: f[4].parse().map_err(|_| bad("bad population"))?,
            latitude: f[5].parse().map_err(|_| bad("bad latitude"))?,
            longitude: f[6].parse().map_err(|_| bad("bad longitude"))?,
            precision,
        });
    }
    Ok(out)
}

static FRANCE: LazyLock<Vec<Place>> =
    LazyLock::new(|| parse(COMMUNES_FRANCE_CSV).expect("the kept communes file parses (unit-tested)"));

/// Every commune of France, by INSEE code.
pub fn france() -> &'static [Place] {
    &FRANCE
}

/// The commune with this INSEE code.
pub fn by_insee(insee: &str) -> Option<&'static Place> {
    let all = france();
    all.binary_search_by(|p| p.insee_code.as_str().cmp(insee))
        .ok()
        .map(|i| &all[i])
}

/// Communes matching a name (accents, case and hyphens ignored) or a postcode, best first: the
/// exact name, then names starting with the text, then names containing it; the most populous
/// first within each. At most `limit`.
pub fn search<'a>(places: &'a [Place], text: &str, limit: usize) -> Vec<&'a Place> {
    let text = text.trim();
    if text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()) {
        let mut found: Vec<&Place> = places
            .iter()
            .filter(|p| p.postcodes.iter().any(|c| c == text))
            .collect();
        found.sort_by_key(|p| std::cmp::Reverse(p.population));
        found.truncate(limit);
        return found;
    }
    let q = fold(text);
    if q.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(u8, &Place)> = places
        .iter()
        .filter_map(|p| {
            let rank = if p.search_name == q {
                0
            } else if p.search_name.starts_with(&q) {
                1
            } else if p.search_name.contains(&q) {
                2
            } else {
                return None;
            };
            Some((rank, p))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.population.cmp(&a.1.population)));
    found.into_iter().take(limit).map(|(_, p)| p).collect()
}

/// Whether the text (a name or a postcode) designates this commune, as [`search`] finds it.
pub fn matches(place: &Place, text: &str) -> bool {
    let text = text.trim();
    if text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()) {
        return place.postcodes.iter().any(|c| c == text);
    }
    let q = fold(text);
    !q.is_empty() && place.search_name.contains(&q)
}

/// A distance as the pages say it: one decimal, French comma ("3,4 km").
pub fn km_label(km: f64) -> String {
    format!("{:.1} km", km).replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geo::distance_km;

    #[test]
    fn the_kept_file_has_every_commune_sorted_with_a_position() {
        let all = france();
        assert!(all.len() > 34_000, "{}", all.len());
        assert!(all.windows(2).all(|w| w[0].insee_code < w[1].insee_code));
        assert!(all
            .iter()
            .all(|p| (-90.0..=90.0).contains(&p.latitude) && (-180.0..=180.0).contains(&p.longitude)));
        let habsheim = by_insee("68118").unwrap();
        assert_eq!(habsheim.name, "Habsheim");
        assert_eq!(habsheim.postcodes, vec!["68440"]);
        let rixheim = by_insee("68278").unwrap();
        let d = distance_km(
            habsheim.latitude,
            habsheim.longitude,
            rixheim.latitude,
            rixheim.longitude,
        );
        assert!((2.0..5.0).contains(&d), "{d}");
        assert!(by_insee("99999").is_none());
    }

    #[test]
    fn search_ignores_accents_and_case_and_knows_postcodes() {
        let all = france();
        assert_eq!(search(all, "habsheim", 1)[0].insee_code, "68118");
        assert_eq!(search(all, "CHALAMPÉ", 1)[0].insee_code, "68064");
        assert_eq!(search(all, "chalampe", 1)[0].insee_code, "68064");
        // Saint-Denis: the exact name first, the most populous of those first.
        let sd = search(all, "saint denis", 3);
        assert!(sd.iter().all(|p| p.search_name == "saint denis"), "{sd:?}");
        assert_eq!(sd[0].insee_code, "97411");
        assert_eq!(search(all, "68440", 5)[0].insee_code, "68118");
        assert!(search(all, "  ", 5).is_empty());
        assert!(search(all, "zzzzzz", 5).is_empty());
        let habsheim = by_insee("68118").unwrap();
        assert!(matches(habsheim, "68440") && matches(habsheim, "HABSHEIM") && matches(habsheim, "habs"));
        assert!(!matches(habsheim, "68170") && !matches(habsheim, "rixheim") && !matches(habsheim, " "));
    }

    #[test]
    fn distances_read_in_french() {
        assert_eq!(km_label(3.456), "3,5 km");
        assert_eq!(km_label(0.0), "0,0 km");
    }
}
