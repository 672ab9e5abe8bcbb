//! Client of the ANTS coordination API: `GET /status`, `POST /appointments`, `DELETE /appointments`.
//! Every parameter goes in the query string (also for POST and DELETE), as ANTS publishes it.

use crate::config::{AntsApiConfig, Secret};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// An appointment ANTS knows for a number (possibly at another editor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AntsAppointment {
    #[serde(default)]
    pub management_url: String,
    #[serde(default)]
    pub meeting_point: String,
    #[serde(default)]
    pub meeting_point_id: String,
    #[serde(default)]
    pub appointment_date: String,
}

/// What ANTS says of one pré-demande number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberStatus {
    /// `validated`, `consumed`, `declared`, `unknown` or `expired`.
    pub status: String,
    #[serde(default)]
    pub appointments: Vec<AntsAppointment>,
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum AntsError {
    /// Network error, timeout or 5xx: try again later.
    #[error("ANTS unreachable: {0}")]
    Unreachable(String),
    /// ANTS refused the call (4xx other than "already exists").
    #[error("ANTS refused: {0}")]
    Rejected(String),
}

/// The coordination API.
pub struct AntsClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
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
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(u16, String), AntsError> {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-rdv-opt-auth-token", self.token.expose())
            .query(query)
            .send()
            .await
            .map_err(|e| AntsError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| AntsError::Unreachable(e.to_string()))?;
        if status >= 500 || status == 429 {
            return Err(AntsError::Unreachable(format!(
                "HTTP {status}: {}",
                truncate(&body)
            )));
        }
        Ok((status, body))
    }

    /// Status of each number (`meeting_point_id` is the site asking).
    pub async fn status(
        &self,
        numbers: &[String],
        meeting_point_id: &str,
    ) -> Result<HashMap<String, NumberStatus>, AntsError> {
        let mut q: Vec<(&str, &str)> = numbers.iter().map(|n| ("application_ids", n.as_str())).collect();
        q.push(("meeting_point_id", meeting_point_id));
        let (status, body) = self.call(reqwest::Method::GET, "/status", &q).await?;
        if status != 200 {
            return Err(AntsError::Rejected(format!("HTTP {status}: {}", truncate(&body))));
        }
        serde_json::from_str(&body)
            .map_err(|e| AntsError::Unreachable(format!("unreadable status answer: {e}")))
    }

    /// Declares an appointment; "already exists" counts as done.
    pub async fn declare(
        &self,
        number: &str,
        meeting_point_id: &str,
        meeting_point: &str,
        appointment_date: &str,
        management_url: &str,
    ) -> Result<(), AntsError> {
        let q = [
            ("application_id", number),
            ("meeting_point_id", meeting_point_id),
            ("meeting_point", meeting_point),
            ("appointment_date", appointment_date),
            ("management_url", management_url),
        ];
        let (status, body) = self.call(reqwest::Method::POST, "/appointments", &q).await?;
        if (200..300).contains(&status) || body.to_ascii_lowercase().contains("already exist") {
            Ok(())
        } else {
            Err(AntsError::Rejected(format!("HTTP {status}: {}", truncate(&body))))
        }
    }

    /// Withdraws a declaration; returns ANTS's `rowcount` (0 when it had nothing: also done).
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
            return Err(AntsError::Rejected(format!("HTTP {status}: {}", truncate(&body))));
        }
        #[derive(Deserialize)]
        struct RowCount {
            rowcount: u64,
        }
        Ok(serde_json::from_str::<RowCount>(&body)
            .map(|r| r.rowcount)
            .unwrap_or(0))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The French message for a number ANTS will not let book.
pub fn status_message(number: &str, status: &str) -> String {
    match status {
        "consumed" => format!(
            "La pré-demande {number} a déjà servi à produire un titre : faites une nouvelle pré-demande."
        ),
        "expired" => format!(
            "La pré-demande {number} a expiré : faites une nouvelle pré-demande sur le site de l'ANTS."
        ),
        "unknown" => format!("La pré-demande {number} est inconnue de l'ANTS : vérifiez le numéro."),
        "declared" => {
            format!("La pré-demande {number} est déjà déclarée pour un dépôt : contactez votre mairie.")
        }
        other => {
            format!("La pré-demande {number} ne permet pas de prendre rendez-vous (statut ANTS : {other}).")
        }
    }
}
