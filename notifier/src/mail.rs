//! The emails: what they say about one appointment, read at sending time, in French, as plain
//! text and as HTML. The HTML part is a maud template (escaped by construction; people's text goes
//! through [`Text`], the service's one HTML escape) inside a small layout shared by every message.
//! The calendar attachment is written by `booking_service::formats::calendar` (see `worker`).

use booking_service::domain::motif::Motif;
use booking_service::domain::party::PartySize;
use booking_service::domain::status::AppointmentStatus;
use booking_service::formats::text::Text;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup, DOCTYPE};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// The four messages a citizen receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Confirmation,
    Reschedule,
    Cancellation,
    Reminder,
    /// Reconciliation with ANTS found a problem with a number; the appointment stands.
    AntsWarning,
}

impl MailKind {
    /// From the outbox `kind` column.
    pub fn from_outbox(kind: &str) -> Option<Self> {
        match kind {
            "confirmation" => Some(Self::Confirmation),
            "reschedule" => Some(Self::Reschedule),
            "cancellation" => Some(Self::Cancellation),
            "reminder" => Some(Self::Reminder),
            "ants_warning" => Some(Self::AntsWarning),
            _ => None,
        }
    }

    /// The outbox kinds this worker sends (with the staff's password-reset link and the waiting
    /// list's offers).
    pub const OUTBOX_KINDS: [&'static str; 8] = [
        "confirmation",
        "reschedule",
        "cancellation",
        "reminder",
        "ants_warning",
        STAFF_PASSWORD_RESET,
        WAITLIST_OFFER,
        SMS_REMINDER,
    ];
}

/// "1 personne", "3 personnes".
fn persons_label(p: PartySize) -> String {
    if p.get() > 1 {
        format!("{p} personnes")
    } else {
        "1 personne".to_string()
    }
}

/// The outbox kind of the reminder by SMS.
pub const SMS_REMINDER: &str = "sms_reminder";

/// The SMS reminder: short (one or two SMS), the time, the place, the one link, how to stop.
pub fn render_sms_reminder(motif: Motif, start: DateTime<Utc>, tz: Tz, site: &str, link: &str) -> String {
    format!(
        "Rappel : RDV {} le {}, {}. Confirmer ou libérer le créneau : {link} STOP pour ne plus recevoir de SMS",
        motif.label_fr(),
        booking_service::domain::french::datetime(start, tz),
        site,
    )
}

/// The outbox kind of a slot offered to a waiting-list subscriber.
pub const WAITLIST_OFFER: &str = "waitlist_offer";

/// What the offer email says: the slot, the site, until when it is held, and the one link.
pub struct OfferText<'a> {
    pub site_name: &'a str,
    pub address: &'a str,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub tz: Tz,
    pub link: &'a str,
}

/// The email offering a freed slot to a waiting-list subscriber.
pub fn render_waitlist_offer(o: &OfferText<'_>) -> Rendered {
    let when = booking_service::domain::french::datetime(o.start, o.tz);
    let until = booking_service::domain::french::datetime(o.expires_at, o.tz);
    let subject = format!("Un créneau s'est libéré : {when}");
    let intro = format!(
        "Vous êtes inscrit sur la liste d'attente. Un créneau s'est libéré et il vous est réservé \
         jusqu'au {until} : {} pour {}, le {when}, à {}, {}.",
        o.motif.label_fr(),
        persons_label(o.persons),
        o.site_name,
        o.address,
    );
    let after = "Passé ce délai, il sera proposé à la personne suivante. Si vous n'en voulez pas, \
                 vous pouvez aussi vous désinscrire depuis le même lien.";
    let text = format!(
        "Bonjour,\n\n{intro}\n\nPrendre ce rendez-vous : {}\n\n{after}\n\n{AUTOMATIC}\n",
        o.link
    );
    let html = layout(
        &subject,
        html! {
            p { "Bonjour," }
            p { (Text(&intro)) }
            p { a href=(Text(o.link)) { "Prendre ce rendez-vous" } }
            p { (Text(after)) }
        },
    )
    .into_string();
    Rendered { subject, text, html }
}

/// The outbox kind of a staff member's password-reset link.
pub const STAFF_PASSWORD_RESET: &str = "staff_password_reset";

/// The email carrying a one-time link to set a new staff password.
pub fn render_password_reset(display_name: &str, link: &str, minutes: i64) -> Rendered {
    let subject = "Nouveau mot de passe – espace des agents".to_string();
    let intro = format!(
        "Une demande de nouveau mot de passe a été faite pour votre compte d'agent. Le lien ci-dessous \
         fonctionne une seule fois, pendant {minutes} minutes. Si vous n'êtes pas à l'origine de cette \
         demande, ignorez ce message : votre mot de passe actuel reste valable."
    );
    let text = format!(
        "Bonjour {display_name},\n\n{intro}\n\nChoisir un nouveau mot de passe : {link}\n\n{AUTOMATIC}\n"
    );
    let html = layout(
        &subject,
        html! {
            p { "Bonjour " (Text(display_name)) "," }
            p { (Text(&intro)) }
            p { a href=(Text(link)) { "Choisir un nouveau mot de passe" } }
        },
    )
    .into_string();
    Rendered { subject, text, html }
}

#[derive(Debug, Clone, FromRow)]
struct Row {
    id: Uuid,
    reference: String,
    status: AppointmentStatus,
    motif: Motif,
    persons: PartySize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    first_name: String,
    last_name: String,
    email: Option<String>,
    calendar_sequence: i32,
    cancelled_by: Option<String>,
    cancel_reason: Option<String>,
    manage_token_sealed: Option<Vec<u8>>,
    site_name: String,
    address_line: String,
    postcode: String,
    city: String,
    timezone: String,
    site_email: Option<String>,
    site_id: Uuid,
    numbers: Vec<String>,
    ants_notes: Vec<String>,
}

/// Everything an email says about an appointment.
#[derive(Debug, Clone)]
pub struct MailData {
    pub appointment_id: Uuid,
    pub reference: String,
    pub status: AppointmentStatus,
    pub motif: Motif,
    pub persons: PartySize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub sequence: i32,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub manage_token_sealed: Option<Vec<u8>>,
    pub site_name: String,
    pub address: String,
    pub tz: Tz,
    pub site_email: Option<String>,
    pub what_to_bring: Vec<String>,
    pub numbers: Vec<String>,
    /// Why numbers were flagged by the ANTS reconciliation.
    pub ants_notes: Vec<String>,
}

/// The appointment as it is now (a message always tells the current truth).
pub async fn load(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<MailData>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT a.id, a.reference, a.status, a.motif, a.persons, lower(a.during) AS start, upper(a.during) AS \"end\",
                a.first_name, a.last_name, a.email, a.calendar_sequence, a.cancelled_by, a.cancel_reason,
                a.manage_token_sealed, s.name AS site_name, s.address_line, s.postcode, s.city, s.timezone,
                s.email AS site_email, a.site_id,
                array(SELECT number FROM appointment_pre_demandes d WHERE d.appointment_id = a.id ORDER BY number) AS numbers,
                array(SELECT ants_note FROM appointment_pre_demandes d
                      WHERE d.appointment_id = a.id AND d.ants_check = 'flagged' AND d.ants_note IS NOT NULL
                      ORDER BY number) AS ants_notes
         FROM appointments a JOIN sites s ON s.id = a.site_id
         WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    // The site's lists as its pages show them (one rule: booking-service's).
    let own = booking_service::db::calendar_admin::what_to_bring(pool, r.site_id, r.motif).await?;
    Ok(Some({
        let motif = r.motif;
        MailData {
            appointment_id: r.id,
            reference: r.reference,
            status: r.status,
            persons: r.persons,
            start: r.start,
            end: r.end,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            sequence: r.calendar_sequence,
            cancelled_by: r.cancelled_by,
            cancel_reason: r.cancel_reason,
            manage_token_sealed: r.manage_token_sealed,
            address: format!("{}, {} {}", r.address_line, r.postcode, r.city),
            site_name: r.site_name,
            tz: r.timezone.parse().unwrap_or(chrono_tz::Europe::Paris),
            site_email: r.site_email,
            what_to_bring: own
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| default_what_to_bring(motif)),
            numbers: r.numbers,
            ants_notes: r.ants_notes,
            motif,
        }
    }))
}

/// What to bring when the site has not set its own list.
pub fn default_what_to_bring(motif: Motif) -> Vec<String> {
    booking_service::domain::french::what_to_bring(motif)
        .into_iter()
        .map(String::from)
        .collect()
}

/// "mercredi 2 décembre 2026 à 09:00" in the site's time zone.
pub fn french_datetime(at: DateTime<Utc>, tz: Tz) -> String {
    booking_service::domain::french::datetime(at, tz)
}

/// A message's parts.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What one message says, before it is written as text and as HTML.
struct Content<'a> {
    subject: String,
    intro: String,
    facts: Vec<(&'static str, String)>,
    /// The list of documents to bring (absent from a cancellation).
    bring: Option<&'a [String]>,
    /// The line with the link, in the text part.
    link_line: String,
    /// The link's label and address, in the HTML part.
    link: (&'static str, &'a str),
    /// The reminder's two answers: "je confirme" and "je libère" (labels and addresses).
    answers: Vec<(&'static str, String)>,
}

/// Renders the message of `kind` for `d`. `manage_url` is the citizen's link (absent for a
/// cancellation); `rebook_url` is where to book again.
pub fn render(kind: MailKind, d: &MailData, manage_url: Option<&str>, rebook_url: &str) -> Rendered {
    let c = content(kind, d, manage_url, rebook_url);
    Rendered {
        text: text_part(d, &c),
        html: html_part(d, &c).into_string(),
        subject: c.subject,
    }
}

fn content<'a>(
    kind: MailKind,
    d: &'a MailData,
    manage_url: Option<&'a str>,
    rebook_url: &'a str,
) -> Content<'a> {
    let when = french_datetime(d.start, d.tz);
    let (subject, intro) = match kind {
        MailKind::Confirmation => (
            format!("Rendez-vous confirmé : {when} – {}", d.site_name),
            "Votre rendez-vous est confirmé.".to_string(),
        ),
        MailKind::Reschedule => (
            format!("Rendez-vous déplacé : {when} – {}", d.site_name),
            "Votre rendez-vous a bien été déplacé. Voici le nouvel horaire.".to_string(),
        ),
        MailKind::Reminder => (
            format!("Rappel : rendez-vous {when} – {}", d.site_name),
            "Nous vous rappelons votre rendez-vous. Si vous ne pouvez pas venir, annulez-le : le créneau servira à quelqu'un d'autre.".to_string(),
        ),
        MailKind::AntsWarning => (
            format!("Vérifiez votre pré-demande : rendez-vous du {when}"),
            format!(
                "Une vérification auprès de l'ANTS signale un problème : {} Votre rendez-vous est maintenu ; vérifiez votre dossier ou contactez la mairie, et annulez le rendez-vous s'il n'est plus utile.",
                d.ants_notes.join(" ")
            ),
        ),
        MailKind::Cancellation => {
            let intro = if d.cancelled_by.as_deref() == Some("staff") {
                let reason = d.cancel_reason.as_deref().filter(|r| !r.trim().is_empty()).unwrap_or("raison de service");
                format!(
                    "Nous sommes désolés : la mairie a dû annuler votre rendez-vous (motif : {reason}). Vous pouvez reprendre rendez-vous en ligne."
                )
            } else {
                "Votre rendez-vous a bien été annulé.".to_string()
            };
            (format!("Rendez-vous annulé : {when} – {}", d.site_name), intro)
        }
    };
    let persons = persons_label(d.persons);
    let mut facts: Vec<(&'static str, String)> = vec![
        ("Date et heure", when),
        ("Lieu", format!("{} – {}", d.site_name, d.address)),
        ("Motif", d.motif.label_fr().to_string()),
        ("Nombre de personnes", persons),
        ("Référence", d.reference.clone()),
    ];
    if !d.numbers.is_empty() {
        facts.push(("Numéros de pré-demande", d.numbers.join(", ")));
    }
    let link_line = match (kind, manage_url) {
        (MailKind::Cancellation, _) => format!("Reprendre rendez-vous : {rebook_url}"),
        (_, Some(url)) => format!("Annuler ou déplacer ce rendez-vous : {url}"),
        (_, None) => format!("Pour annuler ou déplacer ce rendez-vous, contactez la mairie. Prendre rendez-vous : {rebook_url}"),
    };
    let link = match (kind, manage_url) {
        (MailKind::Cancellation, _) | (_, None) => ("Reprendre rendez-vous", rebook_url),
        (_, Some(url)) => ("Annuler ou déplacer ce rendez-vous", url),
    };
    // The reminder asks for an answer: the citizen confirms, or frees the slot for the waiting list.
    let answers = match (kind, manage_url) {
        (MailKind::Reminder, Some(url)) => vec![
            ("Je confirme ma venue", format!("{url}/confirmer")),
            (
                "Je libère mon créneau (il sera proposé à la liste d'attente)",
                format!("{url}/annuler"),
            ),
        ],
        _ => Vec::new(),
    };
    Content {
        subject,
        intro,
        facts,
        bring: (kind != MailKind::Cancellation).then_some(d.what_to_bring.as_slice()),
        link_line,
        link,
        answers,
    }
}

const AUTOMATIC: &str = "Cet e-mail est envoyé automatiquement, merci de ne pas y répondre.";

/// The plain-text part.
fn text_part(d: &MailData, c: &Content<'_>) -> String {
    let mut text = format!("Bonjour {} {},\n\n{}\n\n", d.first_name, d.last_name, c.intro);
    for (k, v) in &c.facts {
        text.push_str(&format!("{k} : {v}\n"));
    }
    if let Some(bring) = c.bring {
        text.push_str("\nÀ apporter :\n");
        for item in bring {
            text.push_str(&format!("- {item}\n"));
        }
    }
    if !c.answers.is_empty() {
        text.push('\n');
        for (label, url) in &c.answers {
            text.push_str(&format!("{label} : {url}\n"));
        }
    }
    text.push_str(&format!("\n{}\n\n{AUTOMATIC}\n", c.link_line));
    text
}

/// The HTML part: the facts as a table, the list, the link, in the emails' layout.
fn html_part(d: &MailData, c: &Content<'_>) -> Markup {
    let (label, url) = c.link;
    layout(
        &c.subject,
        html! {
            p { "Bonjour " (Text(&d.first_name)) " " (Text(&d.last_name)) "," }
            p { (Text(&c.intro)) }
            table {
                @for (k, v) in &c.facts {
                    tr { th align="left" scope="row" { (k) } td { (Text(v)) } }
                }
            }
            @if let Some(bring) = c.bring {
                p { "À apporter :" }
                ul { @for item in bring { li { (Text(item)) } } }
            }
            @for (answer, to) in &c.answers {
                p { a href=(Text(to)) { (answer) } }
            }
            p { a href=(Text(url)) { (label) } }
        },
    )
}

/// The frame of every email's HTML part: language, title, the service's name, the content, and
/// the automatic-sending notice.
fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (Text(title)) }
            }
            body style="font-family: sans-serif; line-height: 1.5; max-width: 40em" {
                p { strong { "Rendez-vous carte d'identité et passeport" } }
                (content)
                p { small { (AUTOMATIC) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_service::formats::text::html_escape;
    use chrono::TimeZone;

    fn data() -> MailData {
        MailData {
            appointment_id: Uuid::nil(),
            reference: "RDV-ABCD-EFGH".into(),
            status: AppointmentStatus::Booked,
            motif: Motif::Passport,
            persons: PartySize::new(2).unwrap(),
            start: Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 2, 8, 30, 0).unwrap(),
            first_name: "Zoé".into(),
            last_name: "<script>".into(),
            email: Some("zoe@example.fr".into()),
            sequence: 0,
            cancelled_by: None,
            cancel_reason: None,
            manage_token_sealed: None,
            site_name: "Mairie de Rixheim".into(),
            address: "Hôtel de Ville, 68170 Rixheim".into(),
            tz: chrono_tz::Europe::Paris,
            site_email: None,
            what_to_bring: default_what_to_bring(Motif::Passport),
            numbers: vec!["ABCDE12345".into(), "FGHIJ67890".into()],
            ants_notes: vec![],
        }
    }

    #[test]
    fn confirmation_names_everything_in_french_and_escapes_html() {
        let r = render(
            MailKind::Confirmation,
            &data(),
            Some("http://x/rdv/t"),
            "http://x/",
        );
        assert!(r.subject.contains("mercredi 2 décembre 2026 à 09:00"));
        for needle in [
            "Mairie de Rixheim",
            "Hôtel de Ville",
            "Passeport",
            "2 personnes",
            "ABCDE12345",
            "timbre fiscal",
            "http://x/rdv/t",
        ] {
            assert!(r.text.contains(needle), "{needle}");
            assert!(r.html.contains(&html_escape(needle)), "{needle}");
        }
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
    }

    #[test]
    fn cancellation_by_the_mairie_gives_the_reason_and_a_rebooking_link() {
        let mut d = data();
        d.cancelled_by = Some("staff".into());
        d.cancel_reason = Some("panne du dispositif".into());
        let r = render(MailKind::Cancellation, &d, Some("http://x/rdv/t"), "http://x/");
        assert!(r.text.contains("panne du dispositif"));
        assert!(r.text.contains("Reprendre rendez-vous : http://x/"));
        assert!(!r.text.contains("http://x/rdv/t"));
    }

    #[test]
    fn the_text_part_is_the_plain_letter() {
        let r = render(MailKind::Reminder, &data(), Some("http://x/rdv/t"), "http://x/");
        let bring: String = default_what_to_bring(Motif::Passport)
            .iter()
            .map(|i| format!("- {i}\n"))
            .collect();
        assert_eq!(
            r.text,
            format!(
                "Bonjour Zoé <script>,\n\n\
                 Nous vous rappelons votre rendez-vous. Si vous ne pouvez pas venir, annulez-le : le créneau servira à quelqu'un d'autre.\n\n\
                 Date et heure : mercredi 2 décembre 2026 à 09:00\n\
                 Lieu : Mairie de Rixheim – Hôtel de Ville, 68170 Rixheim\n\
                 Motif : Passeport\n\
                 Nombre de personnes : 2 personnes\n\
                 Référence : RDV-ABCD-EFGH\n\
                 Numéros de pré-demande : ABCDE12345, FGHIJ67890\n\
                 \nÀ apporter :\n{bring}\
                 \nJe confirme ma venue : http://x/rdv/t/confirmer\n\
                 Je libère mon créneau (il sera proposé à la liste d'attente) : http://x/rdv/t/annuler\n\
                 \nAnnuler ou déplacer ce rendez-vous : http://x/rdv/t\n\n\
                 Cet e-mail est envoyé automatiquement, merci de ne pas y répondre.\n"
            )
        );
    }

    #[test]
    fn the_html_part_is_one_french_document_with_people_s_text_escaped() {
        let mut d = data();
        d.first_name = "Zoé & \"Léa\"".into();
        d.cancelled_by = Some("staff".into());
        d.cancel_reason = Some("l'agent est absent".into());
        let r = render(MailKind::Cancellation, &d, None, "http://x/?a=1&b=2");
        assert!(
            r.html.starts_with("<!DOCTYPE html><html lang=\"fr\">"),
            "{}",
            r.html
        );
        assert_eq!(r.html.matches("<title>").count(), 1);
        assert!(r
            .html
            .contains("Bonjour Zoé &amp; &quot;Léa&quot; &lt;script&gt;,"));
        assert!(r.html.contains("motif : l&#39;agent est absent"));
        assert!(r
            .html
            .contains("<a href=\"http://x/?a=1&amp;b=2\">Reprendre rendez-vous</a>"));
        assert!(
            !r.html.contains("À apporter"),
            "nothing to bring to a cancelled appointment"
        );
        assert!(r.html.contains("merci de ne pas y répondre"));
    }
}
