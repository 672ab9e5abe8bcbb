//! The service's own binaries started as processes, as in production: several booking-service
//! instances and notifiers over one PostgreSQL database and one Redis, each on its own port,
//! stopped with SIGTERM and started again. `deploy/test.sh` builds the binaries first.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A binary of the workspace, built beside the test (`target/debug/NAME`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    // target/debug/deps/<test> → target/debug/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --bins` first (deploy/test.sh does)",
        path.display()
    );
    path
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// A process of ours, killed when dropped; its output goes to a log file kept for a failed test.
pub struct Proc {
    pub name: String,
    pub port: u16,
    command: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `binary args…` with `env` (on top of ours), logging to a temporary file.
    pub fn start(name: &str, binary: &str, args: &[&str], env: &[(&str, String)], port: u16) -> Self {
        let mut p = Self {
            name: name.to_string(),
            port,
            command: std::iter::once(binary.to_string())
                .chain(args.iter().map(|a| a.to_string()))
                .collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            child: None,
            log: std::env::temp_dir().join(format!("fleet-{name}-{}.log", uuid::Uuid::new_v4().simple())),
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(binary(&self.command[0]))
            .args(&self.command[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn");
        self.child = Some(child);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM (what Kubernetes and systemd send) and waits for the exit; its status.
    pub async fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + within;
        let mut child = self.child.take().expect("running");
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not exit within {within:?} of SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the same command again.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// The log so far (for a failed assertion's message).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `http://127.0.0.1:PORT{path}` answers 200.
    pub async fn wait_ready(&self, path: &str, within: Duration) {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(r) = client.get(&url).timeout(Duration::from_secs(1)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} not ready on {url} within {within:?}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A booking-service instance on `port` over `database_url`, Redis `redis_url` under `prefix`,
/// trusting loopback's `X-Forwarded-For` (the tests' clients stand behind a proxy).
pub fn booking_instance(name: &str, database_url: &str, redis_url: &str, prefix: &str, port: u16) -> Proc {
    Proc::start(
        name,
        "booking-service",
        &["serve"],
        &[
            ("DATABASE_URL", database_url.to_string()),
            ("DATABASE_MAX_CONNECTIONS", "8".into()),
            ("REDIS_URL", redis_url.to_string()),
            ("REDIS_KEY_PREFIX", prefix.to_string()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("PUBLIC_BASE_URL", "http://rdv.test".into()),
            ("APP_SECRET", booking_service::config::TEST_APP_SECRET.into()),
            ("TRUSTED_PROXIES", "127.0.0.0/8".into()),
            ("PUBLIC_WRITES_PER_MINUTE", "100000".into()),
            ("MAX_LIVE_PER_SITE_DAY", "0".into()),
            ("SHUTDOWN_DRAIN_SECS", "2".into()),
        ],
        port,
    )
}

/// A notifier sending through the SMTP server on `smtp_port`.
pub fn notifier_instance(name: &str, database_url: &str, smtp_port: u16) -> Proc {
    let port = free_port();
    Proc::start(
        name,
        "notifier",
        &["run"],
        &[
            ("DATABASE_URL", database_url.to_string()),
            ("DATABASE_MAX_CONNECTIONS", "4".into()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}?tls=none")),
            ("MAIL_FROM", "Mairies de m2A <rdv@m2a.test>".into()),
            ("APP_SECRET", booking_service::config::TEST_APP_SECRET.into()),
            ("PUBLIC_BASE_URL", "http://rdv.test".into()),
            ("NOTIFIER_POLL_SECS", "1".into()),
            ("NOTIFIER_HTTP_ADDR", format!("127.0.0.1:{port}")),
        ],
        port,
    )
}
