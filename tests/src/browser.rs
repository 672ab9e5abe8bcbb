//! A small WebDriver client driving Debian's Chromium through chromedriver, for the browser tests:
//! navigate, find, click, type, read the page, run a script, take screenshots.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless Chromium session.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: String,
    child: Child,
    shots: PathBuf,
    step: std::sync::atomic::AtomicUsize,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a phone-sized window; screenshots go to
    /// `target/browser-screenshots/<name>/`.
    pub async fn start(name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed: bash deploy/test.sh installs it");
        let driver = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        crate::wait_until("chromedriver", Duration::from_secs(10), || async {
            http.get(format!("{driver}/status")).send().await.is_ok()
        })
        .await;
        let profile = std::env::temp_dir().join(format!("rdv-chromium-{}", uuid::Uuid::new_v4()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=412,915", format!("--user-data-dir={}", profile.display())]}}}});
        let resp: Value = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/browser-screenshots")
            .join(name);
        // A run's pictures replace the previous run's.
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Self {
            http,
            session,
            driver,
            child,
            shots,
            step: 0.into(),
            profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.driver, self.session);
        let resp: Value = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if let Some(err) = resp["value"].get("error") {
            panic!("webdriver {path}: {err} {}", resp["value"]["message"]);
        }
        resp["value"].clone()
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        check_security_headers(url).await;
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Types into the field matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.script("return document.body.innerText;", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 10 s) until the page shows `needle`, and returns its text: a click that submits
    /// a form returns before the next page is there.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("« {needle} » never appeared; the page says:\n{text}");
    }

    /// Runs a synchronous script.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs an asynchronous script (its last argument is the callback).
    pub async fn script_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Resizes the window (CSS pixels), e.g. 1366×900 for a desktop, 412×915 for a phone.
    pub async fn set_window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Every accessibility violation axe-core finds on the current page (WCAG 2.1 A and AA), as
    /// `impact id: help (nodes)`, for reports; tests assert on [`Self::axe_violations`].
    pub async fn axe_report(&self, axe_source: &str) -> Vec<String> {
        self.script(axe_source, json!([])).await;
        let result = self
            .script_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
                   .then(r => done(r.violations.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' (' + v.nodes.length + ')')));",
                json!([]),
            )
            .await;
        result
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    /// The browser's cookies for the current page, as `(name, value)` (HttpOnly ones included:
    /// a test can then fetch, outside the browser, what a link would download).
    pub async fn cookies(&self) -> Vec<(String, String)> {
        self.cmd(reqwest::Method::GET, "/cookie", json!({}))
            .await
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_string(),
                            c["value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a screenshot named after the step.
    pub async fn shot(&self, what: &str) {
        let png = self.cmd(reqwest::Method::GET, "/screenshot", json!({})).await;
        let bytes = STANDARD.decode(png.as_str().unwrap_or_default()).expect("png");
        let n = self.step.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::fs::write(self.shots.join(format!("{n:02}-{what}.png")), bytes).expect("write screenshot");
    }

    /// Serious or critical accessibility violations axe-core finds on the current page.
    pub async fn axe_violations(&self, axe_source: &str) -> Vec<String> {
        self.script(axe_source, json!([])).await;
        let result = self
            .script_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
                   .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
                   .map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')));",
                json!([]),
            )
            .await;
        result
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }
}

/// Every page the browser tests visit carries the security headers (fetched once more outside the
/// browser, which cannot show headers): no sniffing, no referrer, not cached, and on HTML a CSP
/// allowing scripts from the service alone (no inline script, no other origin) and no framing.
pub async fn check_security_headers(url: &str) {
    let resp = reqwest::get(url).await.expect("page");
    let h = resp.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{url}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{url}");
    if get("content-type").starts_with("text/html") {
        assert_eq!(get("cache-control"), "no-store", "{url}");
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self';"),
            "{url}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{url}: {csp}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask chromedriver to quit the browser (Drop cannot await, hence curl), then make sure:
        // Chromium outlives chromedriver, and each test would otherwise leave browsers running.
        let _ = Command::new("curl")
            .args(["-s", "-m", "5", "-X", "DELETE"])
            .arg(format!("{}/session/{}", self.driver, self.session))
            .stdout(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill")
            .arg("-9")
            .arg("-f")
            .arg(self.profile.as_os_str())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// axe-core's source, installed by `deploy/test.sh` (npm) into `tests/browser/node_modules`.
pub fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run bash deploy/test.sh (it installs axe-core)",
            path.display()
        )
    })
}
