//! A sweep of hostile values through every route an OpenAPI document lists: dates of year
//! ±262143, a NUL byte, huge integers, a malformed token in every path segment, query parameter
//! and body field, and a 10 MB body; each request sent anonymously and with the given credentials.
//! Services of the platform must answer every one with a 4xx (or a success), never a 5xx.

use serde_json::{Map, Value};

/// The values tried in every field.
pub const HOSTILE: [&str; 7] = [
    "+262143-12-31",
    "-262143-01-01",
    "+262142-12-31T23:59:59Z",
    "a\u{0}b",
    "99999999999999999999999999",
    "-9223372036854775809",
    "not-a-token-%%",
];

/// What a sweep did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Requests sent.
    pub sent: usize,
    /// One line per 5xx answer.
    pub failures: Vec<String>,
}

/// The JSON properties a route's body documents (following one `$ref`), and whether it is JSON.
fn body_fields(doc: &Value, op: &Value) -> Option<(Vec<String>, bool)> {
    let content = op["requestBody"]["content"].as_object()?;
    let (kind, media) = content.iter().next()?;
    let mut schema = &media["schema"];
    if let Some(r) = schema["$ref"].as_str() {
        schema = &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")];
    }
    let fields = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    Some((fields, kind.contains("json")))
}

/// Sends every hostile value through every route of `doc` at `base`, anonymously and with
/// `credentials` (extra headers), skipping the paths in `skip`.
pub async fn sweep(
    client: &reqwest::Client,
    base: &str,
    doc: &Value,
    credentials: &[(&str, String)],
    skip: &[&str],
) -> Sweep {
    let huge = "x".repeat(10 * 1024 * 1024);
    let mut out = Sweep::default();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if skip.contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            let params: Vec<(String, String)> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p["name"].as_str().unwrap_or_default().to_string(),
                                p["in"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = body_fields(doc, op);
            for value in HOSTILE.iter().map(|v| v.to_string()).chain([huge.clone()]) {
                let is_huge = value.len() > 1000;
                let mut url = path.clone();
                let mut query = Vec::new();
                for (name, place) in &params {
                    if place == "path" {
                        let v = if is_huge { "x" } else { value.as_str() };
                        let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                        url = url.replace(&format!("{{{name}}}"), &v);
                    } else if !is_huge {
                        query.push((name.clone(), value.clone()));
                    }
                }
                for with_credentials in [false, true] {
                    let mut req = client
                        .request(
                            method.to_uppercase().parse().expect("method"),
                            format!("{base}{url}"),
                        )
                        .query(&query);
                    if with_credentials {
                        for (k, v) in credentials {
                            req = req.header(*k, v);
                        }
                    }
                    if let Some((fields, json)) = &body {
                        if is_huge {
                            let kind = if *json {
                                "application/json"
                            } else {
                                "application/x-www-form-urlencoded"
                            };
                            req = req
                                .header("content-type", kind)
                                .body(format!("{{\"x\": \"{value}\"}}"));
                        } else if *json {
                            let v = value
                                .parse::<i64>()
                                .map(Value::from)
                                .unwrap_or_else(|_| Value::from(value.clone()));
                            let obj: Map<String, Value> =
                                fields.iter().map(|f| (f.clone(), v.clone())).collect();
                            req = req.json(&obj);
                        } else {
                            let form: Vec<(String, String)> =
                                fields.iter().map(|f| (f.clone(), value.clone())).collect();
                            req = req.form(&form);
                        }
                    }
                    out.sent += 1;
                    let status = req.send().await.expect("request").status().as_u16();
                    if status >= 500 {
                        let shown: String = value.chars().take(30).collect();
                        out.failures.push(format!(
                            "{method} {url} value={shown:?} credentials={with_credentials} → {status}"
                        ));
                    }
                }
            }
        }
    }
    out
}
