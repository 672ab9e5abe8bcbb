//! Formats shared by the booking service, the notifier and the registry: the calendar file, CSV
//! cells, text for HTML templates. Kept out of the handlers so the other crates never reach into
//! them, and written once so the two ends of one exchange (the email and the download, the staff
//! export and the registry's) cannot drift apart.
//!
//! - [`calendar`]: the appointment as an iCalendar file (UID, SEQUENCE, METHOD rules).
//! - [`csv`]: one cell of the semicolon-separated exports, safe from formula injection.
//! - [`stamp`]: instants on a site's wall clock, written fast (availability and ANTS answers).
//! - [`text`]: people's text inside HTML templates, escaped the same way everywhere.

pub mod calendar;
pub mod csv;
pub mod stamp;
pub mod text;
