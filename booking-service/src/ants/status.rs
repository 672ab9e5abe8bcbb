//! What ANTS's `status` says of a pré-demande number, read as the editors in production read it
//! (rdv-service-public's `AntsApi::ERROR_STATUSES`), and what the citizen should do about each.
//!
//! Only `validated` lets a number book. `declared` is *not* "already declared for a filing": it means
//! the number is not officially recognised by ANTS (it is known only because some software declared
//! an appointment with it), so it is refused like `unknown`.

use std::fmt;

/// One number's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AntsStatus {
    /// A pré-demande ANTS knows and that may be used: the only one that books.
    Validated,
    /// Already used: the application was filed and processed.
    Consumed,
    /// Not officially recognised by ANTS.
    Declared,
    /// Unknown to ANTS.
    Unknown,
    /// Expired.
    Expired,
    /// A value ANTS did not publish (kept to be shown, refused like the others).
    Other(String),
}

impl AntsStatus {
    /// Reads ANTS's value.
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "validated" => Self::Validated,
            "consumed" => Self::Consumed,
            "declared" => Self::Declared,
            "unknown" => Self::Unknown,
            "expired" => Self::Expired,
            other => Self::Other(other.to_string()),
        }
    }

    /// Whether an appointment may be booked with it.
    pub fn may_book(&self) -> bool {
        matches!(self, Self::Validated)
    }

    /// Why booking is refused, and what to do, for the citizen booking with `number`.
    pub fn refusal_message(&self, number: &str) -> String {
        match self {
            Self::Validated => format!("La pré-demande {number} est valide."),
            Self::Consumed => format!(
                "La pré-demande {number} a déjà servi : le dossier correspondant a été déposé et instruit. \
                 Pour une nouvelle demande de titre, faites une nouvelle pré-demande sur ants.gouv.fr et \
                 prenez rendez-vous avec son numéro."
            ),
            Self::Expired => format!(
                "La pré-demande {number} a expiré. Faites une nouvelle pré-demande sur ants.gouv.fr, puis \
                 prenez rendez-vous avec son numéro."
            ),
            Self::Unknown => format!(
                "Le numéro de pré-demande {number} n'est pas reconnu par l'ANTS. Vérifiez-le sur le \
                 récapitulatif de votre pré-demande (10 lettres ou chiffres) ; si vous n'avez pas encore fait \
                 de pré-demande, faites-la sur ants.gouv.fr."
            ),
            Self::Declared => format!(
                "Le numéro de pré-demande {number} n'est pas officiellement reconnu par l'ANTS. Vérifiez-le \
                 sur le récapitulatif de votre pré-demande sur ants.gouv.fr ; s'il est exact, contactez la \
                 mairie avant de prendre rendez-vous."
            ),
            Self::Other(s) => format!(
                "La pré-demande {number} ne permet pas de prendre rendez-vous pour l'instant (statut ANTS \
                 « {s} »). Vérifiez votre pré-demande sur ants.gouv.fr ou contactez la mairie."
            ),
        }
    }

    /// The note on an appointment already booked with `number` (staff agenda, warning email): the
    /// appointment is kept, so this says what to bring or check.
    pub fn booked_note(&self, number: &str) -> String {
        match self {
            Self::Validated => format!("La pré-demande {number} est valide."),
            Self::Consumed => format!(
                "La pré-demande {number} a déjà servi pour un dossier déposé et instruit. S'il s'agit d'une \
                 nouvelle demande, faites une nouvelle pré-demande sur ants.gouv.fr et apportez son numéro."
            ),
            Self::Expired => format!(
                "La pré-demande {number} a expiré : faites une nouvelle pré-demande sur ants.gouv.fr et \
                 apportez son numéro au rendez-vous."
            ),
            Self::Unknown => format!(
                "Le numéro de pré-demande {number} n'est pas reconnu par l'ANTS : vérifiez-le sur le \
                 récapitulatif de votre pré-demande et indiquez le bon numéro à la mairie."
            ),
            Self::Declared => format!(
                "Le numéro de pré-demande {number} n'est pas officiellement reconnu par l'ANTS : vérifiez-le \
                 sur le récapitulatif de votre pré-demande et indiquez le bon numéro à la mairie."
            ),
            Self::Other(s) => format!(
                "La pré-demande {number} n'est pas utilisable selon l'ANTS (statut « {s} ») : vérifiez votre \
                 dossier sur ants.gouv.fr ou contactez la mairie."
            ),
        }
    }
}

/// The note on an appointment whose number ANTS also knows at another editor.
pub fn booked_elsewhere_note(number: &str) -> String {
    format!(
        "La pré-demande {number} a aussi un rendez-vous dans une autre commune : annulez celui dont vous \
         n'avez plus besoin, il bloque un créneau pour d'autres."
    )
}

impl fmt::Display for AntsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Validated => "validated",
            Self::Consumed => "consumed",
            Self::Declared => "declared",
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::Other(s) => s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_validated_books_and_declared_reads_as_not_recognised() {
        for s in [
            "validated",
            "consumed",
            "declared",
            "unknown",
            "expired",
            "archived",
        ] {
            let st = AntsStatus::parse(s);
            assert_eq!(st.to_string(), s);
            assert_eq!(st.may_book(), s == "validated");
        }
        let declared = AntsStatus::parse("declared").refusal_message("ABCDE12345");
        assert!(
            declared.contains("n'est pas officiellement reconnu"),
            "{declared}"
        );
        assert!(!declared.contains("déjà déclarée"));
        for st in ["consumed", "declared", "unknown", "expired", "archived"].map(AntsStatus::parse) {
            for m in [st.refusal_message("ABCDE12345"), st.booked_note("ABCDE12345")] {
                assert!(m.contains("ABCDE12345"), "{m}");
                // Each says what to do next, not only what is wrong.
                assert!(["ants.gouv.fr", "mairie"].iter().any(|w| m.contains(w)), "{m}");
            }
        }
    }
}
