//! The Redis connection: established lazily and re-established by the connection manager, so the
//! service starts and stays exact without Redis (holds then lose only their reservation comfort).
//!
//! Either one server (or a Sentinel-managed primary behind one address), or a Redis Cluster
//! (`REDIS_CLUSTER=true`, `REDIS_URL` listing seed nodes separated by commas). Every key the
//! service writes carries a hash tag (`{site}`, `{client}`), so each script and pipeline touches
//! one slot; publications reach every node of a cluster, so subscribing on any node hears them.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long after a failed connection attempt the next one is made.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Where Redis is.
enum Target {
    Single(redis::Client),
    Cluster {
        client: ClusterClient,
        /// Seeds, for subscribing (any node hears every publication).
        seeds: Vec<redis::Client>,
    },
}

/// A connection to one server or to a cluster; cheap to clone.
#[derive(Clone)]
pub enum KvConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for KvConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            KvConn::Single(c) => c.req_packed_command(cmd),
            KvConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            KvConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            KvConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            KvConn::Single(c) => c.get_db(),
            KvConn::Cluster(c) => c.get_db(),
        }
    }
}

/// A shared, lazily connected Redis handle.
pub struct Kv {
    target: Option<Target>,
    conn: Mutex<Option<KvConn>>,
    /// When the last attempt to connect failed: for a second after, callers degrade at once
    /// instead of each waiting for its own attempt.
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// Prefix of every key this deployment writes.
    pub prefix: String,
}

impl Kv {
    /// A handle for `url` (a cluster's seeds, comma-separated, when `cluster`); an unparsable
    /// URL gives a handle that is always unavailable.
    pub fn new(url: &str, prefix: &str, cluster: bool) -> Self {
        let target = if cluster {
            let urls: Vec<&str> = url.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
            let seeds: Result<Vec<redis::Client>, _> = urls.iter().map(|u| redis::Client::open(*u)).collect();
            let client = ClusterClient::builder(urls)
                .connection_timeout(Duration::from_millis(300))
                .response_timeout(Duration::from_millis(500))
                .retries(1)
                .build();
            match (client, seeds) {
                (Ok(client), Ok(seeds)) => Some(Target::Cluster { client, seeds }),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "invalid REDIS_URL for a cluster; running without Redis");
                    None
                }
            }
        } else {
            match redis::Client::open(url) {
                Ok(c) => Some(Target::Single(c)),
                Err(e) => {
                    tracing::error!(error = %e, "invalid REDIS_URL; running without Redis");
                    None
                }
            }
        };
        Self {
            target,
            conn: Mutex::new(None),
            failed_at: std::sync::Mutex::new(None),
            prefix: prefix.to_string(),
        }
    }

    /// A connection, or `None` when Redis cannot be reached right now (callers degrade).
    pub async fn conn(&self) -> Option<KvConn> {
        let target = self.target.as_ref()?;
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Some(c.clone());
        }
        if self.recently_failed() {
            return None;
        }
        let connect = async {
            match target {
                Target::Single(client) => {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Duration::from_millis(300))
                        .set_response_timeout(Duration::from_millis(500))
                        .set_number_of_retries(1);
                    ConnectionManager::new_with_config(client.clone(), config)
                        .await
                        .map(KvConn::Single)
                }
                Target::Cluster { client, .. } => client.get_async_connection().await.map(KvConn::Cluster),
            }
        };
        match tokio::time::timeout(Duration::from_millis(800), connect).await {
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

    /// A connection for subscribing, or `None` when Redis cannot be reached right now. On a
    /// cluster, the first seed that answers (publications are broadcast to every node).
    pub async fn pubsub(&self) -> Option<redis::aio::PubSub> {
        let clients: Vec<&redis::Client> = match self.target.as_ref()? {
            Target::Single(c) => vec![c],
            Target::Cluster { seeds, .. } => seeds.iter().collect(),
        };
        for client in clients {
            if let Ok(Ok(p)) =
                tokio::time::timeout(Duration::from_millis(800), client.get_async_pubsub()).await
            {
                return Some(p);
            }
        }
        None
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
