//! The pieces the pages repeat, as functions returning [`Markup`]: notices, hidden fields,
//! labelled inputs and the error next to them, slot buttons grouped by day, staff forms carrying
//! the CSRF token, and the staff day table. Every value is escaped by maud as it is spliced in.

use crate::domain::status::AppointmentStatus;
use chrono::NaiveDate;
use maud::{html, Markup, Render};
use std::fmt::Display;
use uuid::Uuid;

/// Information that is part of the page (no live region).
pub fn info(content: impl Render) -> Markup {
    html! { p.notice { (content) } }
}

/// Something that did not go as asked, announced at once; the page offers a way on.
pub fn warning(content: impl Render) -> Markup {
    html! { p.notice role="alert" { (content) } }
}

/// What was just done, announced politely.
pub fn success(content: impl Render) -> Markup {
    html! { p.success role="status" { (content) } }
}

/// An error, announced at once.
pub fn error(content: impl Render) -> Markup {
    html! { p.error role="alert" { (content) } }
}

/// An error next to its field(s): the paragraph they point at with `aria-describedby`. Nothing
/// when there is no error.
pub fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error id=(id) role="alert" { (message) }
        }
    }
}

/// A hidden form field.
pub fn hidden(name: &str, value: impl Display) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// A labelled input. When `error_id` is set the input is marked invalid and described by that
/// error (see [`field_error`]).
#[derive(Debug, Default)]
pub struct Input<'a> {
    /// The element's id, which the label points at.
    pub id: &'a str,
    /// The form field's name.
    pub name: &'a str,
    /// The label's text.
    pub label: &'a str,
    /// `type` (text when absent).
    pub kind: Option<&'a str>,
    /// `autocomplete` token.
    pub autocomplete: Option<&'a str>,
    /// The value typed before, shown again.
    pub value: Option<&'a str>,
    /// Whether the field must be filled.
    pub required: bool,
    /// `minlength`.
    pub minlength: Option<u16>,
    /// `maxlength`.
    pub maxlength: Option<u16>,
    /// `autocapitalize`.
    pub autocapitalize: Option<&'a str>,
    /// The id of the error describing this field, when it is wrong.
    pub error_id: Option<&'a str>,
}

impl Render for Input<'_> {
    fn render(&self) -> Markup {
        html! {
            label for=(self.id) { (self.label) }
            input id=(self.id) name=(self.name) type=[self.kind] autocomplete=[self.autocomplete]
                value=[self.value] required[self.required] minlength=[self.minlength]
                maxlength=[self.maxlength] autocapitalize=[self.autocapitalize]
                aria-describedby=[self.error_id] aria-invalid=[self.error_id.map(|_| "true")];
        }
    }
}

/// What a slot button holds: the fields posted to `/reserver` besides the time.
#[derive(Debug, Clone, Copy)]
pub struct SlotTarget<'a> {
    /// The site's id.
    pub site_id: &'a str,
    /// The motif's code.
    pub motif: &'a str,
    /// How many persons.
    pub persons: &'a str,
    /// The management token of an appointment being moved.
    pub moving: Option<&'a str>,
}

/// One free time as a button.
#[derive(Debug)]
pub struct TimeButton {
    /// The instant posted (RFC 3339).
    pub start: String,
    /// The button's text.
    pub text: String,
    /// A fuller name for screen readers, when the text alone (a time) would be ambiguous.
    pub aria_label: Option<String>,
}

/// One free time as a form that holds it: works without JavaScript, one button per time.
pub fn slot_button(target: &SlotTarget, time: &TimeButton) -> Markup {
    html! {
        li {
            form method="post" action="/reserver" {
                (hidden("site_id", target.site_id))
                (hidden("motif", target.motif))
                (hidden("persons", target.persons))
                (hidden("start", &time.start))
                @if let Some(token) = target.moving {
                    (hidden("deplacer", token))
                }
                button type="submit" aria-label=[time.aria_label.as_deref()] { (time.text) }
            }
        }
    }
}

/// Free times as a list of buttons.
pub fn slot_list(target: &SlotTarget, times: &[TimeButton]) -> Markup {
    html! {
        ul.slots {
            @for time in times {
                (slot_button(target, time))
            }
        }
    }
}

/// One day's free times.
#[derive(Debug)]
pub struct DaySlots {
    /// The day as people say it, the heading of its times.
    pub label: String,
    /// Its times, in order.
    pub times: Vec<TimeButton>,
}

/// Free times grouped by day, a heading per day.
pub fn slots_by_day(target: &SlotTarget, days: &[DaySlots]) -> Markup {
    html! {
        @for day in days {
            h2 { (day.label) }
            (slot_list(target, &day.times))
        }
    }
}

/// A staff form: posted with the session's CSRF token, which the handler checks. Without
/// `action` it posts to the page's own address.
pub fn staff_form(action: Option<&str>, csrf: &str, inline: bool, content: Markup) -> Markup {
    html! {
        form method="post" action=[action] class=[inline.then_some("inline")] {
            (hidden("csrf", csrf))
            (content)
        }
    }
}

/// The staff day table's setting: which site and day, and the session's CSRF token.
#[derive(Debug)]
pub struct DayTable<'a> {
    /// The table's caption (the day).
    pub caption: String,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// The site, where the buttons come back to.
    pub site_id: Uuid,
    /// The day shown, where the buttons come back to.
    pub day: NaiveDate,
}

/// One appointment of the staff day.
#[derive(Debug)]
pub struct DayLine<'a> {
    /// The appointment.
    pub id: Uuid,
    /// The station's name.
    pub station: &'a str,
    /// Local time, `HH:MM`.
    pub time: String,
    /// The citizen's first name.
    pub first_name: &'a str,
    /// The citizen's last name.
    pub last_name: &'a str,
    /// The motif.
    pub motif: &'a str,
    /// How many persons.
    pub persons: i16,
    /// Where the appointment is.
    pub status: AppointmentStatus,
}

/// The next steps at the counter from a status, as buttons (cancelling has its own form, which
/// asks for the reason); which ones is the status's rule.
fn next_steps(status: AppointmentStatus) -> Vec<(AppointmentStatus, &'static str)> {
    status
        .staff_marks()
        .map(|to| {
            let label = match to {
                AppointmentStatus::CheckedIn => "Arrivé",
                AppointmentStatus::Done => "Terminé",
                _ => "Absent",
            };
            (to, label)
        })
        .collect()
}

/// A site's day by station and time, with each appointment's status in French and its buttons.
pub fn day_table(table: &DayTable, lines: &[DayLine]) -> Markup {
    html! {
        table {
            caption { (table.caption) }
            thead {
                tr {
                    th scope="col" { "Poste" }
                    th scope="col" { "Heure" }
                    th scope="col" { "Usager" }
                    th scope="col" { "Motif" }
                    th scope="col" { "Statut" }
                    th scope="col" { "Actions" }
                }
            }
            tbody {
                @for line in lines {
                    tr {
                        td { (line.station) }
                        td { (line.time) }
                        td { a href={ "/agents/rdv/" (line.id) } { (line.first_name) " " (line.last_name) } }
                        td { (motif_label(line.motif)) " (" (persons(line.persons)) ")" }
                        td { (line.status.label_fr()) }
                        td { (day_actions(table, line)) }
                    }
                }
            }
        }
    }
}

/// A motif's French name (a code the type does not know is shown as stored).
pub fn motif_label(code: &str) -> &str {
    code.parse::<crate::domain::motif::Motif>()
        .map_or(code, |m| m.label_fr())
}

/// "1 personne", "3 personnes".
pub fn persons(n: i16) -> String {
    if n > 1 {
        format!("{n} personnes")
    } else {
        format!("{n} personne")
    }
}

/// Why staff cancel, offered in the grid so that cancelling is one click (the first is chosen).
const CANCEL_REASONS: [&str; 4] = [
    "À la demande de l'usager",
    "Fermeture exceptionnelle de la mairie",
    "Absence de l'agent",
    "Rendez-vous en double",
];

/// A site's day as a grid: one row per start time, one column per station (the desktop view;
/// phones get [`day_table`]). Each appointment links to its page and carries its buttons.
pub fn day_grid(table: &DayTable, stations: &[&str], lines: &[DayLine]) -> Markup {
    let mut times: Vec<&str> = lines.iter().map(|l| l.time.as_str()).collect();
    times.sort_unstable();
    times.dedup();
    html! {
        table.day-grid {
            caption { "Grille du " (table.caption) " : heures en lignes, postes en colonnes" }
            thead {
                tr {
                    th scope="col" { "Heure" }
                    @for st in stations { th scope="col" { (st) } }
                }
            }
            tbody {
                @for time in &times {
                    tr {
                        th scope="row" { (time) }
                        @for st in stations {
                            td {
                                @for line in lines.iter().filter(|l| l.time == *time && l.station == *st) {
                                    (grid_cell(table, line))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One appointment in the grid: who, what, status, and one-click buttons.
fn grid_cell(table: &DayTable, line: &DayLine) -> Markup {
    let action = format!("/agents/rendez-vous/{}/statut", line.id);
    let who = format!("{} {}", line.first_name, line.last_name);
    let back = html! {
        (hidden("site", table.site_id))
        (hidden("jour", table.day))
    };
    let reason_id = format!("g-motif-{}", line.id);
    html! {
        div class={ "cell status-" (line.status.code()) } {
            a href={ "/agents/rdv/" (line.id) } { (who) }
            br;
            span.hint { (motif_label(line.motif)) ", " (persons(line.persons)) " · " (line.status.label_fr()) }
            div {
                @for (to, label) in next_steps(line.status) {
                    (staff_form(Some(&action), table.csrf, true, html! {
                        (hidden("status", to.code()))
                        (back)
                        button type="submit" aria-label={ (label) " : " (who) } { (label) }
                    }))
                    " "
                }
                @if line.status.staff_may_set(AppointmentStatus::Cancelled) {
                    (staff_form(Some(&action), table.csrf, true, html! {
                        (hidden("status", AppointmentStatus::Cancelled.code()))
                        (back)
                        label.visually-hidden for=(reason_id) { "Motif d'annulation pour " (who) }
                        select id=(reason_id) name="reason" {
                            @for r in CANCEL_REASONS { option { (r) } }
                        }
                        button type="submit" class="secondary" aria-label={ "Annuler : " (who) } { "Annuler" }
                    }))
                }
            }
        }
    }
}

/// A line's forms: cancel with a reason, then the next steps.
fn day_actions(table: &DayTable, line: &DayLine) -> Markup {
    let action = format!("/agents/rendez-vous/{}/statut", line.id);
    let back = html! {
        (hidden("site", table.site_id))
        (hidden("jour", table.day))
    };
    let reason_id = format!("motif-{}", line.id);
    html! {
        @if line.status.staff_may_set(AppointmentStatus::Cancelled) {
            (staff_form(Some(&action), table.csrf, false, html! {
                (hidden("status", AppointmentStatus::Cancelled.code()))
                (back)
                (Input {
                    id: &reason_id,
                    name: "reason",
                    label: "Motif d'annulation (envoyé à l'usager)",
                    required: true,
                    ..Input::default()
                })
                button type="submit" class="secondary" { "Annuler" }
            }))
        }
        @for (to, label) in next_steps(line.status) {
            (staff_form(Some(&action), table.csrf, true, html! {
                (hidden("status", to.code()))
                (back)
                button type="submit" aria-label={ (label) " : " (line.first_name) " " (line.last_name) } {
                    (label)
                }
            }))
            " "
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_errors_described() {
        let html = Input {
            id: "email",
            name: "email",
            label: "Adresse",
            value: Some("\"><script>"),
            error_id: Some("err-email"),
            ..Input::default()
        }
        .render()
        .into_string();
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;\""), "{html}");
        assert!(html.contains("aria-describedby=\"err-email\" aria-invalid=\"true\""));
        assert_eq!(field_error("err-email", None).into_string(), "");
    }

    #[test]
    fn the_day_table_says_statuses_in_french_and_offers_the_next_steps() {
        let table = DayTable {
            caption: "02/12/2026".into(),
            csrf: "jeton",
            site_id: Uuid::nil(),
            day: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        };
        let line = |status| DayLine {
            id: Uuid::nil(),
            station: "Guichet 1",
            time: "10:00".into(),
            first_name: "Camille",
            last_name: "<Durand>",
            motif: "CNI",
            persons: 1,
            status,
        };
        let html = day_table(&table, &[line(AppointmentStatus::CheckedIn)]).into_string();
        assert!(html.contains("<td>arrivé</td>"), "{html}");
        assert!(!html.contains("checked_in</td>"));
        assert!(html.contains("aria-label=\"Terminé : Camille &lt;Durand&gt;\""));
        assert_eq!(html.matches("name=\"csrf\" value=\"jeton\"").count(), 3);
        let closed = day_table(&table, &[line(AppointmentStatus::Cancelled)]).into_string();
        assert!(closed.contains("<td>annulé</td>") && !closed.contains("<form"));
    }

    #[test]
    fn the_day_grid_puts_times_in_rows_stations_in_columns_and_cancels_in_one_click() {
        let table = DayTable {
            caption: "02/12/2026".into(),
            csrf: "jeton",
            site_id: Uuid::nil(),
            day: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        };
        let line = |n: u128, station, time: &str, status| DayLine {
            id: Uuid::from_u128(n),
            station,
            time: time.into(),
            first_name: "Camille",
            last_name: "Durand",
            motif: "PASSPORT",
            persons: 2,
            status,
        };
        let lines = [
            line(1, "Poste 2", "09:00", AppointmentStatus::Booked),
            line(2, "Poste 1", "09:00", AppointmentStatus::Done),
            line(3, "Poste 1", "10:30", AppointmentStatus::Booked),
        ];
        let html = day_grid(&table, &["Poste 1", "Poste 2"], &lines).into_string();
        // Two rows (09:00, 10:30), each with a cell per station.
        assert_eq!(html.matches("<th scope=\"row\">").count(), 2, "{html}");
        assert!(html.find(">09:00<").unwrap() < html.find(">10:30<").unwrap());
        assert_eq!(html.matches("<td>").count(), 4);
        // Labels, not codes; the passport appointment of two persons.
        assert!(html.contains("Passeport, 2 personnes") && !html.contains(">PASSPORT"));
        // Booked lines: arrived, absent and cancel (a chosen reason: one click); done: none.
        assert_eq!(html.matches("aria-label=\"Annuler : Camille Durand\"").count(), 2);
        assert_eq!(html.matches("<select id=\"g-motif-").count(), 2);
        assert_eq!(html.matches("name=\"csrf\" value=\"jeton\"").count(), 6);
        assert!(html.contains(&format!("href=\"/agents/rdv/{}\"", Uuid::from_u128(2))));
    }
}
