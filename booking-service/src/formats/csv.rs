//! One cell of the CSV files opened by spreadsheets (the staff export, the registry's allocations):
//! semicolon-separated, so the cell is quoted when it holds the separator, a quote or a line break,
//! and a leading `=`, `+`, `-`, `@`, tab or carriage return is neutralised with an apostrophe so a
//! name typed by a citizen can never run as a formula (OWASP "CSV injection").

/// `s` as one cell, safe from formula injection and from the separator.
pub fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A period's appointments as the staff export's CSV: UTF-8 with a BOM (so spreadsheets read the
/// accents), semicolons, French headers and French words for the status, origin and motif
/// (never a code such as `booked` or `PASSPORT`), local date and time at the site, every cell
/// through [`cell`].
pub fn appointments(rows: &[crate::db::agenda::EntryRow], tz: chrono_tz::Tz) -> String {
    let mut out = String::from("\u{feff}Date;Heure;Poste;Référence;Statut;Origine;Motif;Personnes;Nom;Prénom;Courriel;Téléphone;Numéros de pré-demande\r\n");
    for r in rows {
        let l = r.start_utc.with_timezone(&tz);
        let motif = r
            .motif
            .parse::<crate::domain::motif::Motif>()
            .map(|m| m.label_fr().to_string())
            .unwrap_or_else(|_| r.motif.clone());
        let cells = [
            l.format("%d/%m/%Y").to_string(),
            l.format("%H:%M").to_string(),
            r.station_name.clone(),
            r.reference.clone(),
            r.status.label_fr().to_string(),
            crate::domain::french::source_label(&r.source).to_string(),
            motif,
            r.persons.to_string(),
            r.last_name.clone(),
            r.first_name.clone(),
            r.email.clone().unwrap_or_default(),
            r.phone.clone().unwrap_or_default(),
            r.pre_demande_numbers.join(" "),
        ];
        out.push_str(&cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(";"));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(cell("Zoé Dupont"), "Zoé Dupont");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+33 6"), "'+33 6");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\t=1"), "'\t=1");
    }

    #[test]
    fn the_export_says_statuses_origins_and_motifs_in_french() {
        use crate::db::agenda::EntryRow;
        use crate::domain::status::AppointmentStatus;
        use chrono::{TimeZone, Utc};
        let start = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
        let row = EntryRow {
            id: uuid::Uuid::nil(),
            reference: "RDV-AAAA-BBBB".into(),
            site_id: uuid::Uuid::nil(),
            station_id: uuid::Uuid::nil(),
            station_name: "DR 1".into(),
            start_utc: start,
            end_utc: start + chrono::Duration::minutes(15),
            status: AppointmentStatus::NoShow,
            source: "phone".into(),
            motif: "PASSPORT".into(),
            persons: 2,
            first_name: "Zoé".into(),
            last_name: "=SUM(A1)".into(),
            email: None,
            phone: Some("+33 6 12 34 56 78".into()),
            pre_demande_numbers: vec!["ABCDE12345".into()],
            ants_flags: Vec::new(),
        };
        let csv = super::appointments(&[row], chrono_tz::Europe::Paris);
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert!(lines[0].starts_with("Date;Heure;Poste;Référence;Statut;Origine;Motif;"));
        assert_eq!(
            lines[1],
            "02/12/2026;10:00;DR 1;RDV-AAAA-BBBB;absent;Téléphone;Passeport;2;'=SUM(A1);Zoé;;'+33 6 12 34 56 78;ABCDE12345"
        );
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(cell("a;b"), "\"a;b\"");
        assert_eq!(cell("dite \"Mimi\""), "\"dite \"\"Mimi\"\"\"");
        assert_eq!(cell("deux\nlignes"), "\"deux\nlignes\"");
        assert_eq!(cell("=a;b"), "\"'=a;b\"");
    }
}
