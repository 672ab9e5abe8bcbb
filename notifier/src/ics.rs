//! The calendar attachment (RFC 5545): `METHOD:REQUEST` for a booking or a move, `METHOD:CANCEL` for a
//! cancellation; one stable UID per appointment and `SEQUENCE` raised on each change, so mail clients
//! update the same calendar entry. Times are in UTC.

use crate::mail::MailData;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

/// `REQUEST` or `CANCEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    /// The iCalendar method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// A parameter value (`CN=…`) cannot carry quotes, and `;`, `:` or `,` would end or split it.
fn param_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '"' | ';' | ':' | ',') || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The calendar UID of an appointment: stable across moves and cancellation.
pub fn uid(d: &MailData, domain: &str) -> String {
    format!("{}@{domain}", d.appointment_id)
}

/// The `.ics` text for `d`. `organizer` is the mairie's address, `attendee` the citizen's.
pub fn calendar(
    d: &MailData,
    method: Method,
    organizer: (&str, &str),
    attendee: &str,
    domain: &str,
) -> String {
    let mut event = Event::new();
    event
        .uid(&uid(d, domain))
        .sequence(u32::try_from(d.sequence).unwrap_or(0))
        .summary(&format!("Rendez-vous {} – {}", d.motif.label_fr(), d.site_name))
        .description(&format!("Référence {}. {} personne(s).", d.reference, d.persons))
        .location(&format!("{} – {}", d.site_name, d.address))
        .starts(d.start)
        .ends(d.end)
        .status(if method == Method::Cancel {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    event.append_property(
        Property::new("ORGANIZER", format!("mailto:{}", organizer.1))
            .add_parameter("CN", &param_text(organizer.0))
            .done(),
    );
    let name = param_text(&format!("{} {}", d.first_name, d.last_name));
    event.append_property(
        Property::new("ATTENDEE", format!("mailto:{attendee}"))
            .add_parameter("CN", &name)
            .add_parameter("ROLE", "REQ-PARTICIPANT")
            .add_parameter(
                "PARTSTAT",
                if method == Method::Cancel {
                    "DECLINED"
                } else {
                    "ACCEPTED"
                },
            )
            .done(),
    );
    let mut cal = Calendar::new();
    cal.append_property(Property::new("METHOD", method.as_str()));
    cal.append_property(Property::new("PRODID", "-//m2A//Rendez-vous CNI-passeport//FR"));
    cal.push(event.done());
    cal.done().to_string()
}
