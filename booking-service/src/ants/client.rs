//! Client of the ANTS coordination API: `GET /status`, `POST /appointments`, `DELETE /appointments`.
//! Every parameter goes in the query string (also for POST and DELETE), as ANTS publishes it, and
//! the token in `x-rdv-opt-auth-token`.

use super::health::{AntsHealth, HealthCell};
use super::status::AntsStatus;
use crate::config::{AntsApiConfig, Secret};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// An appointment ANTS knows for a number (ours or another editor's).
///
/// `status` does not return `meeting_point_id` (rdv-service-public found it against ANTS's
/// integration API): it may be missing or `null`, so nothing may rely on it; which site an entry
/// belongs to comes from our own records. Any field may be `null` without making the whole answer
/// unreadable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AntsAppointment {
    #[serde(default, deserialize_with = "null_as_default")]
    pub management_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub meeting_point: String,
    #[serde(default)]
    pub meeting_point_id: Option<String>,
    /// As ANTS wrote it back (compare with [`super::parse_ants_datetime`], and send it back as is).
    #[serde(default, deserialize_with = "null_as_default")]
    pub appointment_date: String,
}

/// What ANTS says of one pré-demande number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberStatus {
    /// `validated`, `consumed`, `declared`, `unknown` or `expired` (see [`AntsStatus`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub appointments: Vec<AntsAppointment>,
}

impl NumberStatus {
    /// The status, typed.
    pub fn kind(&self) -> AntsStatus {
        AntsStatus::parse(&self.status)
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum AntsError {
    /// Network error, timeout, 429 or 5xx: try again later.
    #[error("ANTS unreachable: {0}")]
    Unreachable(String),
    /// ANTS refused our token (401/403): a configuration fault, not a refusal of the call. Waiting
    /// and retrying is right (nothing is lost); it clears once the token is fixed.
    #[error("ANTS refused our token: {0}")]
    Unauthorized(String),
    /// ANTS refused the call itself (another 4xx).
    #[error("ANTS refused: {0}")]
    Rejected(String),
}

/// What a declaration came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// ANTS recorded it.
    Created,
    /// ANTS already holds an appointment with this `management_url` ("Already exists in database"):
    /// maybe ours from an earlier attempt, maybe a stale one with the same link. The caller looks.
    AlreadyExists,
}

/// The coordination API.
pub struct AntsClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
    health: HealthCell,
}

impl AntsClient {
    /// A client when `ANTS_API_URL` is set.
    pub fn from_config(c: &AntsApiConfig) -> Option<Self> {
        let base = c.ants_api_url.as_ref()?.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(c.ants_timeout_ms))
            .connect_timeout(Duration::from_millis(c.ants_timeout_ms))
            .build()
            .ok()?;
        Some(Self {
            http,
            base,
            token: c.ants_api_token.clone().unwrap_or_else(|| Secret::new("")),
            health: HealthCell::default(),
        })
    }

    /// What the last calls showed (`/readyz`).
    pub fn health(&self) -> AntsHealth {
        self.health.get()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(u16, String), AntsError> {
        let sent = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-rdv-opt-auth-token", self.token.expose())
            .header("accept", "application/json")
            .query(query)
            .send()
            .await;
        let answer = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.text().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => {
                self.health.unreachable();
                // reqwest's message carries the URL, hence the numbers of the query: never shown.
                return Err(AntsError::Unreachable(describe_transport_error(&e)));
            }
        };
        match status {
            401 | 403 => {
                self.health.token_refused(status);
                Err(AntsError::Unauthorized(format!(
                    "HTTP {status}: {}",
                    excerpt(&body)
                )))
            }
            429 | 500.. => {
                self.health.unreachable();
                Err(AntsError::Unreachable(format!(
                    "HTTP {status}: {}",
                    excerpt(&body)
                )))
            }
            _ => {
                self.health.answered();
                Ok((status, body))
            }
        }
    }

    /// Status of each number; `meeting_point_id` is the site asking (ANTS wants it to know which
    /// mairie checks numbers).
    pub async fn status(
        &self,
        numbers: &[String],
        meeting_point_id: &str,
    ) -> Result<HashMap<String, NumberStatus>, AntsError> {
        let mut q: Vec<(&str, &str)> = numbers.iter().map(|n| ("application_ids", n.as_str())).collect();
        q.push(("meeting_point_id", meeting_point_id));
        let (status, body) = self.call(reqwest::Method::GET, "/status", &q).await?;
        if status != 200 {
            return Err(AntsError::Rejected(format!("HTTP {status}: {}", excerpt(&body))));
        }
        // serde's message may quote a value of the answer: masked like the rest.
        serde_json::from_str(&body).map_err(|e| {
            AntsError::Unreachable(format!("unreadable status answer: {}", excerpt(&e.to_string())))
        })
    }

    /// Declares an appointment.
    pub async fn declare(
        &self,
        number: &str,
        meeting_point_id: &str,
        meeting_point: &str,
        appointment_date: &str,
        management_url: &str,
    ) -> Result<Declared, AntsError> {
        let q = [
            ("application_id", number),
            ("meeting_point_id", meeting_point_id),
            ("meeting_point", meeting_point),
            ("appointment_date", appointment_date),
            ("management_url", management_url),
        ];
        let (status, body) = self.call(reqwest::Method::POST, "/appointments", &q).await?;
        if body.to_ascii_lowercase().contains("already exist") {
            return Ok(Declared::AlreadyExists);
        }
        #[derive(Deserialize)]
        struct Success {
            success: Option<bool>,
        }
        let refused_in_body = serde_json::from_str::<Success>(&body).is_ok_and(|s| s.success == Some(false));
        if (200..300).contains(&status) && !refused_in_body {
            Ok(Declared::Created)
        } else {
            Err(AntsError::Rejected(format!("HTTP {status}: {}", excerpt(&body))))
        }
    }

    /// Withdraws a declaration; returns ANTS's `rowcount` (0: ANTS matched nothing). Send the
    /// `meeting_point` and `appointment_date` that `status` returned, not ours: ANTS matches on
    /// them, and a renamed site or a date written back in another form would match nothing.
    pub async fn delete(
        &self,
        number: &str,
        meeting_point_id: &str,
        meeting_point: &str,
        appointment_date: &str,
    ) -> Result<u64, AntsError> {
        let q = [
            ("application_id", number),
            ("meeting_point_id", meeting_point_id),
            ("meeting_point", meeting_point),
            ("appointment_date", appointment_date),
        ];
        let (status, body) = self.call(reqwest::Method::DELETE, "/appointments", &q).await?;
        if !(200..300).contains(&status) {
            return Err(AntsError::Rejected(format!("HTTP {status}: {}", excerpt(&body))));
        }
        #[derive(Deserialize)]
        struct RowCount {
            rowcount: u64,
        }
        serde_json::from_str::<RowCount>(&body)
            .map(|r| r.rowcount)
            .map_err(|_| AntsError::Unreachable(format!("unreadable delete answer: {}", excerpt(&body))))
    }
}

/// Why a call got no answer, without the URL (it carries pré-demande numbers and links).
fn describe_transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "answer cut short"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", excerpt(&detail))
    }
}

/// The start of an answer, fit for an error message that ends up in logs and in the outbox, in
/// case ANTS echoes what it was sent: a word shaped like a pré-demande number (ten capitals or
/// digits), any longer word holding a digit, and any long word in mixed case (a management token)
/// are masked.
fn excerpt(s: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let len = word.chars().count();
        let number_like = len == 10 && word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let with_digit = len >= 10 && word.chars().any(|c| c.is_ascii_digit());
        let mixed_case = word.chars().any(|c| c.is_lowercase()) && word.chars().any(|c| c.is_uppercase());
        if number_like || with_digit || (len >= 20 && mixed_case) {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars().take(300) {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_answer_without_or_with_a_null_meeting_point_id_parses() {
        let body = r#"{
            "ABCDE12345": {"status": "validated", "appointments": [
                {"management_url": "https://a.example/rdv/x", "meeting_point": "Mairie A",
                 "appointment_date": "2026-12-01T08:30:00"},
                {"management_url": "https://b.example/rdv/y", "meeting_point": "Mairie B",
                 "meeting_point_id": null, "appointment_date": "2026-12-02 09:00:00"},
                {"management_url": null, "meeting_point": "Mairie C", "meeting_point_id": "12",
                 "appointment_date": "2026-12-03 10:00:00", "editor_comment": "inconnu"}
            ]},
            "FGHIJ67890": {"status": "unknown", "appointments": null}
        }"#;
        let map: HashMap<String, NumberStatus> = serde_json::from_str(body).unwrap();
        let a = &map["ABCDE12345"];
        assert_eq!(a.kind(), AntsStatus::Validated);
        assert_eq!(a.appointments.len(), 3);
        assert_eq!(a.appointments[0].meeting_point_id, None);
        assert_eq!(a.appointments[1].meeting_point_id, None);
        assert_eq!(a.appointments[2].meeting_point_id.as_deref(), Some("12"));
        assert_eq!(a.appointments[2].management_url, "");
        assert_eq!(map["FGHIJ67890"].kind(), AntsStatus::Unknown);
        assert!(map["FGHIJ67890"].appointments.is_empty());
    }

    #[test]
    fn excerpts_mask_numbers_and_tokens_but_keep_the_words() {
        assert_eq!(
            excerpt(r#"{"detail": "X-RDV-OPT-AUTH-TOKEN header invalid"}"#),
            r#"{"detail": "X-RDV-OPT-AUTH-TOKEN header invalid"}"#
        );
        assert_eq!(
            excerpt("Already exists in database: ABCDE12345 https://x.example/rdv/Zx9_aaaaaaaaaaaa"),
            "Already exists in database: *** https://x.example/rdv/***"
        );
        assert_eq!(
            excerpt("ABCDEFGHIJ, application_id, rdv/mEXODVqzCceXoPvrPqTtrTnJILUSxSBwHlDi"),
            "***, application_id, rdv/***"
        );
    }
}
