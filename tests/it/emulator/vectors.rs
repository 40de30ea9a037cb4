//! The botocore-signed vectors: with the clock pinned to each vector's time, every `valid: true`
//! request verifies and every `valid: false` one is refused. The vectors name
//! connect.REGION.amazonaws.com as Host, so the verifier is called directly, not over HTTP.

use connect_attrs::emulator::Credential;
use connect_attrs::emulator::sigv4::{SignedRequest, Verifier, parse_amz_date};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Debug, Clone, Deserialize)]
struct Vector {
    name: String,
    region: String,
    service: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    time: String,
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    body: String,
    valid: bool,
}

fn load() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sigv4-botocore.json");
    let text = std::fs::read_to_string(path).expect("read the vectors");
    serde_json::from_str::<Vectors>(&text).expect("parse the vectors").vectors
}

fn check(vector: &Vector) -> Result<String, String> {
    let credential = Credential::new(&vector.access_key_id, &vector.secret_access_key, vector.session_token.as_deref());
    let verifier = Verifier::new(&[credential], &vector.region);
    let method: Method = vector.method.parse().expect("method");
    let uri: Uri = vector.url.parse().expect("url");
    let mut headers = HeaderMap::new();
    for (name, value) in &vector.headers {
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).expect("header name");
        headers.append(name, HeaderValue::from_str(value).expect("header value"));
    }
    let request = SignedRequest { method: &method, uri: &uri, headers: &headers, body: vector.body.as_bytes() };
    let now = parse_amz_date(&vector.time).expect("vector time");
    verifier.verify(&request, &vector.service, now).map_err(|e| e.to_string())
}

#[test]
fn botocore_vectors_valid_verify_and_tampered_are_refused() {
    let vectors = load();
    assert!(vectors.iter().any(|v| v.valid) && vectors.iter().any(|v| !v.valid), "both kinds present");
    let mut wrong = Vec::new();
    for vector in &vectors {
        let result = check(vector);
        if result.is_ok() != vector.valid {
            wrong.push(format!("{} (valid: {}): {result:?}", vector.name, vector.valid));
        }
    }
    assert!(wrong.is_empty(), "verifier disagrees with the vectors:\n{}", wrong.join("\n"));
}

#[test]
fn valid_vectors_are_refused_once_the_clock_moves_past_five_minutes() {
    for vector in load().iter().filter(|v| v.valid) {
        let later = Vector { time: shift(&vector.time, 301), ..vector.clone() };
        let refused = check(&later).expect_err(&vector.name);
        assert!(refused.starts_with("Signature expired"), "{refused}");
    }
}

fn shift(amz_date: &str, seconds: u64) -> String {
    let at = parse_amz_date(amz_date).expect("date") + std::time::Duration::from_secs(seconds);
    connect_attrs::emulator::sigv4::format_amz_date(at)
}
