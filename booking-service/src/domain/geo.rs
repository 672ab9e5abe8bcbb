//! Great-circle distances for "sites near me".

/// Distance in kilometres between two WGS84 points (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulhouse_to_rixheim_is_about_five_km() {
        let d = distance_km(47.75205, 7.32866, 47.7497, 7.40203);
        assert!((5.0..6.0).contains(&d), "{d}");
    }

    #[test]
    fn paris_to_saint_denis_de_la_reunion_is_far() {
        let d = distance_km(48.8566, 2.3522, -20.8823, 55.4504);
        assert!((9300.0..9500.0).contains(&d), "{d}");
    }
}
