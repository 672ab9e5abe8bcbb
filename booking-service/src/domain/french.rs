//! French wording shared by the pages and the emails: dates as people say them, and what to bring.

use super::motif::Motif;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

const DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// "mercredi 2 décembre 2026" in the site's time zone.
pub fn day_label(at: DateTime<Utc>, tz: Tz) -> String {
    date_label(at.with_timezone(&tz).date_naive())
}

/// "mercredi 2 décembre 2026".
pub fn date_label(d: NaiveDate) -> String {
    format!(
        "{} {} {} {}",
        DAYS[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS[d.month0() as usize],
        d.year()
    )
}

/// "mercredi 2 décembre 2026 à 09:00" in the site's time zone.
pub fn datetime(at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} à {}",
        day_label(at, tz),
        at.with_timezone(&tz).format("%H:%M")
    )
}

/// What to bring (domain rules), when the site has not set its own list.
pub fn what_to_bring(motif: Motif) -> Vec<&'static str> {
    let mut items = Vec::new();
    if motif.requires_pre_demande() {
        items.extend([
            "Le numéro de pré-demande de chaque personne (ou son QR code)",
            "Une photo d'identité de moins de 6 mois par personne (ou le code e-photo)",
            "Un justificatif de domicile de moins d'un an",
            "L'ancien titre, le cas échéant",
        ]);
    } else {
        items.extend(["Le récépissé de votre demande", "L'ancien titre, le cas échéant"]);
    }
    if matches!(motif, Motif::Passport | Motif::CniPassport) {
        items.push(
            "Pour un passeport : un timbre fiscal (86 € adulte, 42 € de 15 à 17 ans, 17 € moins de 15 ans)",
        );
    }
    items.push("Un mineur vient accompagné d'un parent ou de son représentant légal");
    items
}

/// How an appointment was taken (the `source` column), as staff say it; an unknown code as is.
pub fn source_label(code: &str) -> &str {
    match code {
        "online" => "En ligne",
        "counter" => "Guichet",
        "phone" => "Téléphone",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_in_french_in_local_time() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
        assert_eq!(
            datetime(at, chrono_tz::Europe::Paris),
            "mercredi 2 décembre 2026 à 09:00"
        );
        assert!(what_to_bring(Motif::Passport)
            .iter()
            .any(|i| i.contains("timbre fiscal")));
        assert!(!what_to_bring(Motif::Cni)
            .iter()
            .any(|i| i.contains("timbre fiscal")));
    }
}
