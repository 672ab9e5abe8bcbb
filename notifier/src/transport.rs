//! Where messages go: an SMTP relay (lettre, pooled connections, timeouts, STARTTLS or implicit
//! TLS, credentials, an extra trusted certificate), or `.eml` files in a directory for the demo.

use crate::config::NotifierConfig;
use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// A delivery failure, classified for the retry policy.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later (connection refused, timeout, 4xx).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help (5xx: unknown mailbox, refused content).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// The configured delivery.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Dir(PathBuf),
}

impl Transport {
    /// Builds the transport from the configuration.
    pub fn from_config(c: &NotifierConfig) -> anyhow::Result<Self> {
        let Some(url) = &c.smtp_url else {
            std::fs::create_dir_all(&c.mail_dir)
                .with_context(|| format!("cannot create MAIL_DIR {}", c.mail_dir.display()))?;
            return Ok(Transport::Dir(c.mail_dir.clone()));
        };
        let url = url::Url::parse(url.expose()).context("SMTP_URL is not a URL")?;
        let host = url.host_str().context("SMTP_URL has no host")?.to_string();
        let implicit = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => anyhow::bail!("SMTP_URL scheme must be smtp or smtps, not {other}"),
        };
        let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = &c.smtp_ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read SMTP_CA_FILE {}", path.display()))?;
            tls = tls.add_root_certificate(
                Certificate::from_pem(&pem).context("SMTP_CA_FILE is not a PEM certificate")?,
            );
        }
        let tls = tls.build_rustls().context("TLS parameters")?;
        let mode = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        // STARTTLS is required unless plain text is asked for in so many words: an "opportunistic"
        // upgrade is silently skipped by anyone on the path who strips the STARTTLS offer, and the
        // messages carry the management links.
        let tls = match (implicit, mode.as_deref()) {
            (true, _) => Tls::Wrapper(tls),
            (false, None | Some("required")) => Tls::Required(tls),
            (false, Some("none")) => Tls::None,
            (false, Some(other)) => {
                anyhow::bail!("SMTP_URL tls= must be required (the default) or none, not {other}")
            }
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(c.smtp_timeout_secs)))
            .pool_config(PoolConfig::new().max_size(u32::try_from(c.concurrency).unwrap_or(8).max(1)));
        if !url.username().is_empty() {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            b = b.credentials(Credentials::new(user, pass));
        }
        Ok(Transport::Smtp(b.build()))
    }

    /// Sends one message. `file_name` names the `.eml` in directory mode.
    pub async fn send(&self, msg: &Message, file_name: &str) -> Result<(), SendError> {
        match self {
            Transport::Smtp(t) => match t.send(msg.clone()).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            Transport::Dir(dir) => {
                let path = dir.join(file_name);
                tokio::fs::write(&path, msg.formatted())
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
