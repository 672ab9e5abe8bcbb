//! The appointment as a calendar file, downloaded from the management page. The file itself is
//! written by [`crate::formats::calendar`], as the email's attachment is: same UID, same SEQUENCE,
//! so a citizen who adds both gets one entry. The download is `METHOD:PUBLISH` (a copy to keep,
//! not an invitation); a cancelled appointment's file says `STATUS:CANCELLED`.

use super::citizen::load_appointment;
use super::error_page;
use crate::app::AppState;
use crate::domain::status::AppointmentStatus;
use crate::formats::calendar::{self, Method};
use crate::request::extract::Path;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The appointment as an iCalendar file.
#[utoipa::path(get, path = "/rdv/{token}/calendrier.ics", tag = "pages", params(("token" = String, Path, description = "Lien de gestion")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, description = "Lien inconnu")))]
pub async fn ics(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let a = match load_appointment(&state, &token).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let address = format!("{}, {} {}", a.address_line, a.postcode, a.city);
    let file = calendar::ics(&calendar::Appointment {
        id: a.id,
        sequence: a.calendar_sequence,
        motif: a.motif.label_fr(),
        site_name: &a.site_name,
        address: &address,
        reference: &a.reference,
        persons: u32::from(a.persons.get()),
        start: a.start,
        end: a.end,
        cancelled: a.status == AppointmentStatus::Cancelled,
        // The site's address is not in the management view; a PUBLISH needs no one to reply to.
        organizer: None,
        attendee: None,
        method: Method::Publish,
        stamp: state.clock.now(),
    });
    (
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8; method=PUBLISH",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rendez-vous.ics\"",
            ),
        ],
        file,
    )
        .into_response()
}
