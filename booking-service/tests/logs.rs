//! No personal data in logs: the real binary, with verbose logging, serves a booking, a lookup by
//! management link and a cancellation; its output must name none of the citizen's data or tokens.

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::process::{Command, Stdio};
use std::time::Duration;

#[sqlx::test(migrations = "../migrations")]
async fn the_service_logs_no_personal_data_nor_tokens(_opts: PgPoolOptions, connect: PgConnectOptions) {
    let db = connect.get_database().unwrap().to_string();
    // The test's own database, on the server the suite was pointed at (TEST_DATABASE_URL).
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL")).unwrap();
    url.set_path(&db);
    let url = url.to_string();
    let bin = env!("CARGO_BIN_EXE_booking-service");
    let seeded = Command::new(bin)
        .arg("seed-demo")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = std::env::temp_dir().join(format!("rdv-logs-{db}.txt"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_SECRET", "log-test-secret-log-test-secret-0123456789")
        .env("REDIS_KEY_PREFIX", format!("logtest-{db}"))
        .env("RUST_LOG", "debug,hyper=info,h2=info,reqwest=info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        up,
        "the service never answered /healthz (see {})",
        log_path.display()
    );
    let sites: Vec<Value> = client
        .get(format!("{base}/api/v1/sites"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let site = sites[0]["id"].as_str().unwrap().to_string();
    let avail: Value = client
        .get(format!(
            "{base}/api/v1/sites/{site}/availability?motif=CNI&persons=1"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = avail["slots"][5]["start"].as_str().unwrap().to_string();
    let hold: Value = client
        .post(format!("{base}/api/v1/holds"))
        .json(&json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hold_id = hold["hold_id"].as_str().unwrap().to_string();
    let (mail, first, last, phone, number) = (
        "journal.secret@example.fr",
        "Zéphyrine",
        "Confidentielle",
        "+33612345678",
        "ZZLOG12345",
    );
    let booked: Value = client
        .post(format!("{base}/api/v1/appointments"))
        .json(&json!({"hold_id": hold_id, "pre_demande_numbers": [number],
                      "citizen": {"first_name": first, "last_name": last, "email": mail, "phone": phone}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = booked["manage_token"].as_str().expect("booked").to_string();
    assert_eq!(
        client
            .get(format!("{base}/api/v1/manage/{token}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        client
            .post(format!("{base}/api/v1/manage/{token}/cancel"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // A refused one too: errors are logged as well.
    let _ = client
        .post(format!("{base}/api/v1/appointments"))
        .json(&json!({"hold_id": hold_id, "pre_demande_numbers": [number], "citizen": {"first_name": first, "last_name": last, "email": mail}}))
        .send()
        .await
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        logs.contains("appointment booked"),
        "the test must see the logs:\n{logs}"
    );
    assert!(logs.contains("appointment cancelled by citizen"));
    for secret in [
        mail,
        "journal.secret",
        first,
        last,
        phone,
        "612345678",
        number,
        token.as_str(),
        hold_id.as_str(),
    ] {
        assert!(!logs.contains(secret), "« {secret} » found in the logs");
    }
}
