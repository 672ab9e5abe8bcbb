//! Where SMS go: an HTTP provider (one JSON `POST` per message, bearer token: the shape French
//! SMS gateways take), or `.sms` files in a directory by default, as emails go to `.eml` files.
//! Citizens stop them by replying STOP: the provider forwards the reply to the booking service
//! (`POST /api/v1/sms/replies`), which turns the reminders of that number off.

use crate::config::NotifierConfig;
use crate::transport::SendError;
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The configured SMS delivery.
pub enum SmsSender {
    /// `POST {url}` with `{"to", "text", "sender"}` and `Authorization: Bearer {token}`.
    Http {
        client: reqwest::Client,
        url: String,
        token: String,
        sender: String,
    },
    /// One file per message in this directory.
    Dir(PathBuf),
}

impl SmsSender {
    /// From the configuration: the provider when `SMS_PROVIDER_URL` is set, else files.
    pub fn from_config(c: &NotifierConfig) -> anyhow::Result<Self> {
        match &c.sms_provider_url {
            Some(url) => Ok(Self::Http {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(c.smtp_timeout_secs))
                    .build()
                    .context("SMS HTTP client")?,
                url: url.clone(),
                token: c
                    .sms_provider_token
                    .as_ref()
                    .map(|t| t.expose().to_string())
                    .context("SMS_PROVIDER_TOKEN is required with SMS_PROVIDER_URL")?,
                sender: c.sms_sender.clone(),
            }),
            // Created at the first SMS: most deployments never write one.
            None => Ok(Self::Dir(c.sms_dir.clone())),
        }
    }

    /// Sends `text` to `to` (E.164); `name` names the file in directory mode.
    pub async fn send(&self, to: &str, text: &str, name: &str) -> Result<(), SendError> {
        match self {
            Self::Dir(dir) => {
                let body = format!("To: {to}\n\n{text}\n");
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendError::Transient(format!("cannot create SMS_DIR: {e}")))?;
                tokio::fs::write(dir.join(name), body)
                    .await
                    .map_err(|e| SendError::Transient(format!("cannot write the SMS file: {e}")))
            }
            Self::Http {
                client,
                url,
                token,
                sender,
            } => {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "to": to, "text": text, "sender": sender }))
                    .send()
                    .await
                    .map_err(|e| SendError::Transient(format!("SMS provider unreachable: {e}")))?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else if status.is_server_error() || status.as_u16() == 429 {
                    Err(SendError::Transient(format!("SMS provider answered {status}")))
                } else {
                    Err(SendError::Permanent(format!("SMS provider refused: {status}")))
                }
            }
        }
    }
}
