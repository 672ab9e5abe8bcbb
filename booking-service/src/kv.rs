//! The Redis connection: established lazily and re-established by the connection manager, so the
//! service starts and stays exact without Redis (holds then lose only their reservation comfort).

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long after a failed connection attempt the next one is made.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A shared, lazily connected Redis handle.
pub struct Kv {
    client: Option<redis::Client>,
    conn: Mutex<Option<ConnectionManager>>,
    /// When the last attempt to connect failed: for a second after, callers degrade at once
    /// instead of each waiting for its own attempt.
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// Prefix of every key this deployment writes.
    pub prefix: String,
}

impl Kv {
    /// A handle for `url`; an unparsable URL gives a handle that is always unavailable.
    pub fn new(url: &str, prefix: &str) -> Self {
        let client = match redis::Client::open(url) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "invalid REDIS_URL; running without Redis");
                None
            }
        };
        Self {
            client,
            conn: Mutex::new(None),
            failed_at: std::sync::Mutex::new(None),
            prefix: prefix.to_string(),
        }
    }

    /// A connection, or `None` when Redis cannot be reached right now (callers degrade).
    pub async fn conn(&self) -> Option<ConnectionManager> {
        let client = self.client.as_ref()?;
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Some(c.clone());
        }
        if self.recently_failed() {
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(300))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            Duration::from_millis(800),
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        {
            Ok(Ok(c)) => {
                *guard = Some(c.clone());
                Some(c)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis unreachable");
                self.note_failure();
                None
            }
            Err(_) => {
                tracing::warn!("Redis connection timed out");
                self.note_failure();
                None
            }
        }
    }

    fn recently_failed(&self) -> bool {
        self.failed_at
            .lock()
            .expect("kv lock")
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE)
    }

    fn note_failure(&self) {
        *self.failed_at.lock().expect("kv lock") = Some(std::time::Instant::now());
    }

    /// A connection for subscribing, or `None` when Redis cannot be reached right now.
    pub async fn pubsub(&self) -> Option<redis::aio::PubSub> {
        let client = self.client.as_ref()?;
        match tokio::time::timeout(Duration::from_millis(800), client.get_async_pubsub()).await {
            Ok(Ok(p)) => Some(p),
            _ => None,
        }
    }

    /// Whether Redis answers a PING within half a second.
    pub async fn ping(&self) -> bool {
        let Some(mut c) = self.conn().await else {
            return false;
        };
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut c);
        matches!(
            tokio::time::timeout(Duration::from_millis(500), ping).await,
            Ok(Ok(_))
        )
    }
}
