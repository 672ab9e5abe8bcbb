//! What a département decides for its sites: the time zone their rules are written in.

/// The IANA time zone of a département's mairies: overseas ones have their own, every other one
/// is on Paris time.
pub fn timezone(department: &str) -> &'static str {
    match department {
        "971" => "America/Guadeloupe",
        "972" => "America/Martinique",
        "973" => "America/Cayenne",
        "974" => "Indian/Reunion",
        "975" => "America/Miquelon",
        "976" => "Indian/Mayotte",
        "977" => "America/St_Barthelemy",
        "978" => "America/Marigot",
        "986" => "Pacific/Wallis",
        "987" => "Pacific/Tahiti",
        "988" => "Pacific/Noumea",
        _ => "Europe/Paris",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overseas_departements_keep_their_own_time_and_every_zone_is_known() {
        assert_eq!(timezone("68"), "Europe/Paris");
        assert_eq!(timezone("2A"), "Europe/Paris");
        assert_eq!(timezone("974"), "Indian/Reunion");
        assert_eq!(timezone("973"), "America/Cayenne");
        for d in [
            "01", "971", "972", "973", "974", "975", "976", "977", "978", "986", "987", "988",
        ] {
            assert!(timezone(d).parse::<chrono_tz::Tz>().is_ok(), "{d}");
        }
    }
}
