//! What a citizen types when booking, parsed once at the edge: names, email, phone, pré-demande numbers.

use std::fmt;

/// Why a citizen field was refused; `field` names it for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON field at fault.
    pub field: &'static str,
    /// French explanation.
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// An ANTS pré-demande number: trimmed, uppercased, exactly 10 characters `[A-Z0-9]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreDemandeNumber(String);

impl PreDemandeNumber {
    /// Parses one number as typed.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_ascii_uppercase();
        if s.len() == 10 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            Ok(Self(s))
        } else {
            Err(err(
                "pre_demande_numbers",
                format!(
                    "Numéro de pré-demande invalide « {} » : 10 lettres ou chiffres attendus.",
                    raw.trim()
                ),
            ))
        }
    }

    /// The normalized number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PreDemandeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, syntax checked and lowercased (one person, one address, however typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a plausible local part and a dotted domain.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let bad = || err("citizen.email", "Adresse électronique invalide.");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"']);
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
        if local_ok && domain_ok {
            Ok(Self(s))
        } else {
            Err(bad())
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox this address reaches, for counting one person once: without a `+tag`, and
    /// without the dots that Gmail ignores (`googlemail.com` is `gmail.com`). Mail still goes to
    /// [`Email::as_str`]. Kept in step with migration 0010, which filled old rows the same way.
    pub fn identity(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let local = local.split('+').next().unwrap_or(local);
        match domain {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            _ => format!("{local}@{domain}"),
        }
    }

    /// The address with most of it hidden, for logs: `j***@e***.fr`.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

/// Masks an email address for logs (first letter of the local part and of the domain only).
pub fn mask_email(s: &str) -> String {
    let (local, domain) = s.rsplit_once('@').unwrap_or((s, ""));
    let first = |x: &str| x.chars().next().map(String::from).unwrap_or_default();
    let tld = domain.rsplit_once('.').map(|(_, t)| t).unwrap_or("");
    format!("{}***@{}***.{}", first(local), first(domain), tld)
}

/// A phone number in E.164 (`+` then 8 to 15 digits), any country; spaces, dots and dashes allowed
/// when typed, and a French national number (`06…`) is read as +33.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let e164 = if let Some(rest) = compact.strip_prefix("00") {
            format!("+{rest}")
        } else if compact.len() == 10 && compact.starts_with('0') && !compact.starts_with("00") {
            format!("+33{}", &compact[1..])
        } else {
            compact
        };
        let digits = e164.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(e164))
        } else {
            Err(err(
                "citizen.phone",
                "Numéro de téléphone invalide (format international, ex. +33 6 12 34 56 78).",
            ))
        }
    }

    /// The number in E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: trimmed, 1 to 100 characters, no control characters.
pub fn person_name(raw: &str, field: &'static str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(err(field, "Nom invalide (1 à 100 caractères)."));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_has_one_identity_whatever_its_tags_and_dots() {
        let id = |s: &str| Email::parse(s).unwrap().identity();
        assert_eq!(id("Jean.Dupont+rdv1@Gmail.com"), "jeandupont@gmail.com");
        assert_eq!(id("jeandupont+2@googlemail.com"), "jeandupont@gmail.com");
        assert_eq!(id("x+1@mairie.fr"), id("x+2@mairie.fr"));
        // Outside Gmail, dots are part of the mailbox.
        assert_ne!(id("jean.dupont@orange.fr"), id("jeandupont@orange.fr"));
        assert_eq!(Email::parse("X+1@Mairie.fr").unwrap().as_str(), "x+1@mairie.fr");
    }

    #[test]
    fn pre_demande_numbers_are_normalized_or_refused() {
        assert_eq!(
            PreDemandeNumber::parse("  abcde12345 ").unwrap().as_str(),
            "ABCDE12345"
        );
        for bad in ["ABCDE1234", "ABCDE123456", "ABCDE-1234", "ÀBCDE12345", ""] {
            assert!(PreDemandeNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Jeanne.Dupont@Example.FR ").unwrap().as_str(),
            "jeanne.dupont@example.fr"
        );
        assert!(Email::parse("marie+rdv@mulhouse.alsace").is_ok());
        for bad in [
            "jeanne",
            "jeanne@",
            "@example.fr",
            "a@b",
            "a b@example.fr",
            "a@exa mple.fr",
            "a..b@example.fr",
            "a@-x.fr",
            "a@example.123",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Email::parse("jeanne@example.fr").unwrap().masked(),
            "j***@e***.fr"
        );
    }

    #[test]
    fn phones_any_country() {
        assert_eq!(
            Phone::parse("+33 6 12 34 56 78").unwrap().as_str(),
            "+33612345678"
        );
        assert_eq!(Phone::parse("06.12.34.56.78").unwrap().as_str(), "+33612345678");
        assert_eq!(
            Phone::parse("0041 61 123 45 67").unwrap().as_str(),
            "+41611234567"
        );
        assert_eq!(
            Phone::parse("+262 692 12 34 56").unwrap().as_str(),
            "+262692123456"
        );
        for bad in ["12345", "+33 6 12 34 56 78 99 99 99", "+33abc", "+0612345678", ""] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(person_name("  Élodie ", "citizen.first_name").unwrap(), "Élodie");
        assert!(person_name("   ", "citizen.first_name").is_err());
        assert!(person_name("a\u{0}b", "citizen.first_name").is_err());
    }
}
