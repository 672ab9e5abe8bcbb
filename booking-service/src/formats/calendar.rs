//! The appointment as an iCalendar file (RFC 5545), written in one place for both ends: the
//! attachment of the notifier's emails and the download from the citizen's management page. A
//! citizen who adds both to a calendar gets one entry, updated by every later file.
//!
//! The rules:
//! - **UID** `{appointment id}@rdv-cni-passeport.invalid` ([`uid`]): stable across moves and
//!   cancellation, the same from both services (see [`UID_DOMAIN`] for why the host is fixed).
//! - **SEQUENCE** is the appointment's `calendar_sequence`, raised in the same transaction as each
//!   move and cancellation: a client replaces its entry only with a higher (or equal) sequence.
//! - **METHOD** ([`Method`]): `REQUEST` in the email about a booking or a move, `CANCEL` in the
//!   email about a cancellation (RFC 5546), `PUBLISH` for the download, which is a copy to keep and
//!   not an invitation to answer (what calendar applications expect of a downloaded file).
//! - **STATUS** `CANCELLED` for a cancelled appointment, whatever the method (a download after a
//!   cancellation is a `PUBLISH` with `STATUS:CANCELLED` and the raised sequence), otherwise
//!   `CONFIRMED`.
//! - Exactly one `PRODID` ([`PRODID`]); times in UTC; DTSTAMP is when the file is written.
//! - No management link in the event: a calendar is often shared or synchronised elsewhere, and
//!   the link is a bearer secret.
//!
//! The file is written by hand rather than with a library so that the calendar's properties are
//! exactly these: TEXT values escaped (`\\`, `;`, `,`, line breaks), parameter values quoted,
//! lines folded at 75 octets without splitting a UTF-8 character.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The right-hand side of every UID. Fixed rather than taken from `PUBLIC_BASE_URL`: a UID must
/// never change for an appointment, and the public address can (a new domain, a proxy), which
/// would turn the next update into a second entry; the two services also default that address
/// differently when it is unset. The appointment id is a random UUID, unique on its own; the
/// host only names the namespace, and a reserved `.invalid` name (RFC 2606) claims nobody's domain.
pub const UID_DOMAIN: &str = "rdv-cni-passeport.invalid";

/// The product identifier, written once per file.
pub const PRODID: &str = "-//m2A//Rendez-vous CNI-passeport//FR";

/// What the file asks of the calendar application that opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A copy to keep: the download.
    Publish,
    /// An entry to add or update: the email about a booking or a move.
    Request,
    /// An entry to remove: the email about a cancellation.
    Cancel,
}

impl Method {
    /// The iCalendar name, also the `method` parameter of the attachment's content type.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// A person or office with an email address (organizer or attendee).
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// What the file says about one appointment; built by each caller from its own types.
#[derive(Debug, Clone)]
pub struct Appointment<'a> {
    pub id: Uuid,
    /// The appointment's `calendar_sequence`.
    pub sequence: i32,
    /// The motif's French label.
    pub motif: &'a str,
    pub site_name: &'a str,
    /// Street, postcode and city.
    pub address: &'a str,
    pub reference: &'a str,
    pub persons: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether the appointment is cancelled (always so with [`Method::Cancel`]).
    pub cancelled: bool,
    /// The mairie; required by `REQUEST` and `CANCEL`, written with `PUBLISH` when known.
    pub organizer: Option<Party<'a>>,
    /// The citizen; for `REQUEST` and `CANCEL` only (RFC 5546 has none in a `PUBLISH`).
    pub attendee: Option<Party<'a>>,
    pub method: Method,
    /// When the file is written (DTSTAMP).
    pub stamp: DateTime<Utc>,
}

/// The calendar UID of an appointment: the same in every file about it, from either service.
pub fn uid(appointment_id: Uuid) -> String {
    format!("{appointment_id}@{UID_DOMAIN}")
}

/// The `.ics` text (CRLF line ends) of `a`.
pub fn ics(a: &Appointment<'_>) -> String {
    let cancelled = a.cancelled || a.method == Method::Cancel;
    let mut out = String::with_capacity(1024);
    let mut line = |l: &str| push_folded(&mut out, l);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line(&format!("PRODID:{PRODID}"));
    line("CALSCALE:GREGORIAN");
    line(&format!("METHOD:{}", a.method.as_str()));
    line("BEGIN:VEVENT");
    line(&format!("UID:{}", uid(a.id)));
    line(&format!("SEQUENCE:{}", a.sequence.max(0)));
    line(&format!("DTSTAMP:{}", utc(a.stamp)));
    line(&format!("DTSTART:{}", utc(a.start)));
    line(&format!("DTEND:{}", utc(a.end)));
    line(&format!(
        "SUMMARY:{}",
        text(&format!("Rendez-vous {} – {}", a.motif, a.site_name))
    ));
    line(&format!(
        "LOCATION:{}",
        text(&format!("{} – {}", a.site_name, a.address))
    ));
    line(&format!(
        "DESCRIPTION:{}",
        text(&format!(
            "Référence {}. Nombre de personnes : {}.",
            a.reference, a.persons
        ))
    ));
    line(if cancelled {
        "STATUS:CANCELLED"
    } else {
        "STATUS:CONFIRMED"
    });
    if let Some(o) = a.organizer {
        line(&format!("ORGANIZER;CN={}:mailto:{}", param(o.name), uri(o.email)));
    }
    if let Some(p) = a.attendee {
        line(&format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT={}:mailto:{}",
            param(p.name),
            if cancelled { "DECLINED" } else { "ACCEPTED" },
            uri(p.email)
        ));
    }
    line("END:VEVENT");
    line("END:VCALENDAR");
    out
}

/// One appointment in a staff feed: staff data (names, phone, station) that the citizens' file
/// never carries; the feed's URL is a secret given to the commune's staff only.
#[derive(Debug, Clone)]
pub struct StaffEvent<'a> {
    pub id: Uuid,
    /// The appointment's `calendar_sequence`.
    pub sequence: i32,
    /// The motif's French label.
    pub motif: &'a str,
    /// "2 personnes".
    pub persons: &'a str,
    /// First and last name.
    pub names: &'a str,
    pub station: &'a str,
    pub reference: &'a str,
    pub phone: Option<&'a str>,
    /// The status's French label.
    pub status: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The UID of an appointment in a staff feed: stable per appointment, but not the citizen's
/// [`uid`], so a calendar holding both (an agent booked for themselves) keeps two entries instead
/// of letting one overwrite the other's content.
pub fn staff_uid(appointment_id: Uuid) -> String {
    format!("agents-{appointment_id}@{UID_DOMAIN}")
}

/// A staff subscription feed (RFC 5545, `METHOD:PUBLISH`): one event per appointment, named
/// `calendar_name` in the subscribing application.
pub fn staff_feed(calendar_name: &str, events: &[StaffEvent<'_>], stamp: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(512 + events.len() * 512);
    let mut line = |l: &str| push_folded(&mut out, l);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line(&format!("PRODID:{PRODID}"));
    line("CALSCALE:GREGORIAN");
    line(&format!("METHOD:{}", Method::Publish.as_str()));
    line(&format!("X-WR-CALNAME:{}", text(calendar_name)));
    // A subscription is re-read by the application: every quarter of an hour is asked for.
    line("REFRESH-INTERVAL;VALUE=DURATION:PT15M");
    line("X-PUBLISHED-TTL:PT15M");
    for e in events {
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", staff_uid(e.id)));
        line(&format!("SEQUENCE:{}", e.sequence.max(0)));
        line(&format!("DTSTAMP:{}", utc(stamp)));
        line(&format!("DTSTART:{}", utc(e.start)));
        line(&format!("DTEND:{}", utc(e.end)));
        line(&format!(
            "SUMMARY:{}",
            text(&format!("{} – {} – {}", e.motif, e.names, e.persons))
        ));
        line(&format!("LOCATION:{}", text(e.station)));
        let phone = e.phone.map(|p| format!(" Téléphone : {p}.")).unwrap_or_default();
        line(&format!(
            "DESCRIPTION:{}",
            text(&format!(
                "{} ({}). {}. Guichet : {}. État : {}.{phone}",
                e.motif, e.persons, e.names, e.station, e.status
            ))
        ));
        line(&format!(
            "COMMENT:{}",
            text(&format!("Référence {}", e.reference))
        ));
        line("STATUS:CONFIRMED");
        line("TRANSP:OPAQUE");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// A UTC DATE-TIME: `20261025T080000Z`.
fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks escaped; other
/// control characters, which TEXT cannot carry, become spaces.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A parameter value as a quoted string (RFC 5545 §3.1): it may then hold `:`, `;` and `,`, but
/// never a double quote (written `'`) nor a control character (a space).
fn param(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        out.push(match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        });
    }
    out.push('"');
    out
}

/// A URI value: nothing that could end the line.
fn uri(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Appends `line` folded at 75 octets (RFC 5545 §3.1), then CRLF. A fold never splits a UTF-8
/// character and, when it can, is not placed next to a space: some readers trim each physical line.
fn push_folded(out: &mut String, line: &str) {
    const LIMIT: usize = 75;
    let mut rest = line;
    // The first physical line has 75 octets; each continuation starts with a space, then 74.
    let mut room = LIMIT;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let near_space = |i: usize| {
            let b = rest.as_bytes();
            matches!(b[i - 1], b' ' | b'\t') || matches!(b[i], b' ' | b'\t')
        };
        let mut at = cut;
        while at > 1 && (!rest.is_char_boundary(at) || near_space(at)) {
            at -= 1;
        }
        if at <= 1 {
            at = cut;
        }
        out.push_str(&rest[..at]);
        out.push_str("\r\n ");
        rest = &rest[at..];
        room = LIMIT - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn appointment() -> Appointment<'static> {
        Appointment {
            id: Uuid::nil(),
            sequence: 2,
            motif: "Carte nationale d'identité",
            site_name: "Mairie de Rixheim",
            address: "Hôtel de Ville, 28 rue Zuber, 68170 Rixheim",
            reference: "RDV-ABCD-EFGH",
            persons: 2,
            start: Utc.with_ymd_and_hms(2026, 10, 25, 8, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 10, 25, 8, 30, 0).unwrap(),
            cancelled: false,
            organizer: Some(Party {
                name: "Mairie de Rixheim",
                email: "rdv@rixheim.fr",
            }),
            attendee: Some(Party {
                name: "Marie Dupont, épouse Martin (dite \"Mimi\")",
                email: "marie@example.fr",
            }),
            method: Method::Request,
            stamp: Utc.with_ymd_and_hms(2026, 10, 1, 7, 0, 0).unwrap(),
        }
    }

    fn unfold(ics: &str) -> String {
        ics.replace("\r\n ", "")
    }

    #[test]
    fn one_calendar_with_one_prodid_one_event_and_the_rules() {
        let s = ics(&appointment());
        assert!(s.ends_with("END:VCALENDAR\r\n"));
        assert_eq!(s.matches("PRODID").count(), 1);
        let s = unfold(&s);
        for want in [
            "METHOD:REQUEST\r\n",
            "UID:00000000-0000-0000-0000-000000000000@rdv-cni-passeport.invalid\r\n",
            "SEQUENCE:2\r\n",
            "DTSTAMP:20261001T070000Z\r\n",
            "DTSTART:20261025T080000Z\r\n",
            "DTEND:20261025T083000Z\r\n",
            "STATUS:CONFIRMED\r\n",
            "LOCATION:Mairie de Rixheim – Hôtel de Ville\\, 28 rue Zuber\\, 68170 Rixheim\r\n",
            "ORGANIZER;CN=\"Mairie de Rixheim\":mailto:rdv@rixheim.fr\r\n",
            "ATTENDEE;CN=\"Marie Dupont, épouse Martin (dite 'Mimi')\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:marie@example.fr\r\n",
        ] {
            assert!(s.contains(want), "{want} not in\n{s}");
        }
        assert_eq!(s.matches("BEGIN:VEVENT").count(), 1);
    }

    #[test]
    fn a_cancellation_says_cancelled_and_a_download_has_no_attendee() {
        let mut a = appointment();
        a.method = Method::Cancel;
        let s = ics(&a);
        assert!(s.contains("METHOD:CANCEL\r\n") && s.contains("STATUS:CANCELLED\r\n"));
        assert!(unfold(&s).contains("PARTSTAT=DECLINED"));
        // The download of a cancelled appointment: PUBLISH, cancelled by its status.
        a.method = Method::Publish;
        a.cancelled = true;
        a.attendee = None;
        a.organizer = None;
        let s = ics(&a);
        assert!(s.contains("METHOD:PUBLISH\r\n") && s.contains("STATUS:CANCELLED\r\n"));
        assert!(!s.contains("ATTENDEE") && !s.contains("ORGANIZER"));
        a.cancelled = false;
        assert!(ics(&a).contains("STATUS:CONFIRMED\r\n"));
    }

    #[test]
    fn text_is_escaped_and_cannot_add_a_line() {
        assert_eq!(text("a\\b;c,d"), "a\\\\b\\;c\\,d");
        assert_eq!(text("un\r\ndeux\ntrois\rquatre"), "un\\ndeux\\ntrois\\nquatre");
        assert_eq!(text("x\u{7}y\tz"), "x y\tz");
        assert_eq!(param("a\"b\nc"), "\"a'b c\"");
        assert_eq!(uri("a@b.fr\r\nX-EVIL:1"), "a@b.frX-EVIL:1");
        let mut a = appointment();
        a.site_name = "Mairie\r\nX-INJECTED:1";
        assert!(!ics(&a).contains("\r\nX-INJECTED"));
    }

    #[test]
    fn long_lines_are_folded_at_75_octets_on_character_boundaries() {
        let mut a = appointment();
        let long = "é".repeat(30) + &" ".repeat(5) + &"Ville-sur-Mer ".repeat(10) + "€€€";
        a.address = &long;
        let s = ics(&a);
        for physical in s.split("\r\n") {
            assert!(physical.len() <= 75, "{} octets: {physical}", physical.len());
            assert!(!physical.ends_with(' '), "ends with a space: {physical:?}");
        }
        assert!(unfold(&s).contains(&text(&long)));
        // Every line is CRLF-terminated; no bare LF.
        assert_eq!(s.matches('\n').count(), s.matches("\r\n").count());
    }

    #[test]
    fn folding_falls_back_to_the_character_boundary_on_a_run_of_spaces() {
        let mut out = String::new();
        let line = format!("X:{}", " ".repeat(200));
        push_folded(&mut out, &line);
        assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
        assert!(out.split("\r\n").all(|l| l.len() <= 75));
    }

    #[test]
    fn a_staff_feed_has_one_event_per_appointment_with_staff_uids_and_escaped_text() {
        let at = |h| Utc.with_ymd_and_hms(2026, 12, 2, h, 0, 0).unwrap();
        let event = |id: u128, names: &'static str, start: DateTime<Utc>| StaffEvent {
            id: Uuid::from_u128(id),
            sequence: 1,
            motif: "Passeport",
            persons: "2 personnes",
            names,
            station: "DR 1",
            reference: "RDV-ABCD-EFGH",
            phone: Some("+33612345678"),
            status: "réservé",
            start,
            end: start + chrono::Duration::minutes(30),
        };
        let events = [
            event(1, "Zoé Martin", at(8)),
            event(2, "Jean; Dupont, fils\nBEGIN:VEVENT", at(9)),
        ];
        let ics = staff_feed("Rendez-vous – Mairie, DR 1", &events, at(7));
        let flat = unfold(&ics);
        assert_eq!(flat.matches("BEGIN:VEVENT\r\n").count(), 2, "{flat}");
        assert_eq!(flat.matches("PRODID:").count(), 1);
        assert!(flat.contains("METHOD:PUBLISH\r\n"));
        assert!(flat.contains("X-WR-CALNAME:Rendez-vous – Mairie\\, DR 1\r\n"));
        assert!(flat.contains(&format!("UID:agents-{}@{UID_DOMAIN}\r\n", Uuid::from_u128(1))));
        assert!(!flat.contains(&format!("UID:{}\r\n", uid(Uuid::from_u128(1)))));
        assert!(flat.contains("DTSTART:20261202T080000Z\r\n"));
        assert!(flat.contains("SUMMARY:Passeport – Zoé Martin – 2 personnes\r\n"));
        // A name cannot end the event nor add a property.
        assert!(flat.contains("SUMMARY:Passeport – Jean\\; Dupont\\, fils\\nBEGIN:VEVENT – 2 personnes"));
        assert!(ics.split("\r\n").all(|l| l.len() <= 75));
        let empty = staff_feed("Vide", &[], at(7));
        assert!(!empty.contains("BEGIN:VEVENT") && empty.ends_with("END:VCALENDAR\r\n"));
    }
}
