//! UpdateContactAttributes over HTTP, signed by the SDK's signer: success and merge, each 400,
//! 404 and 403 class, Service Quotas, and the introspection endpoints.

use connect_attrs::emulator::{Config, Credential, Stats};
use serde_json::json;
use std::time::{Duration, SystemTime};

use super::{Signer, signed_update, start, update, update_body};

#[test]
fn updates_succeed_and_merge_over_one_keep_alive_connection() {
    let (handle, mut client) = start(Config::default());
    let first = update(&handle, &mut client, &update_body("inst-1", "c-1", json!({"a": "1", "b": "2"})));
    assert_eq!((first.status, first.body.as_str()), (200, "{}"));
    assert!(first.header("x-amzn-requestid").is_some());
    let second = update(&handle, &mut client, &update_body("inst-1", "c-1", json!({"b": "3", "c": ""})));
    assert_eq!(second.status, 200);
    let state = handle.state();
    let contact = state.contact("inst-1", "c-1").expect("stored");
    assert_eq!(contact.attributes, [("a", "1"), ("b", "3"), ("c", "")].map(|(k, v)| (k.into(), v.into())).into());
    assert_eq!(contact.updates, 2);
    let stats = handle.stats();
    assert_eq!((stats.requests, stats.accepted, stats.contacts), (2, 2, 1));
    assert_eq!(stats.by_status["200"], 2);
}

#[test]
fn body_rules_answer_400() {
    let (handle, mut client) = start(Config::default());
    let bad_key = update(&handle, &mut client, &update_body("i", "c", json!({"Account.Status": "x"})));
    let message = bad_key.assert_error(400, "InvalidParameterException");
    assert!(message.contains("Account.Status"), "{message}");
    let missing = update(&handle, &mut client, br#"{"InstanceId":"i","Attributes":{}}"#);
    missing.assert_error(400, "InvalidParameterException");
    let not_json = update(&handle, &mut client, b"InstanceId=i");
    not_json.assert_error(400, "InvalidRequestException");
    let half = "v".repeat(16_384);
    assert_eq!(update(&handle, &mut client, &update_body("i", "c", json!({"a": half}))).status, 200);
    let merged_too_big = update(&handle, &mut client, &update_body("i", "c", json!({"b": half})));
    assert!(merged_too_big.assert_error(400, "InvalidParameterException").contains("32768"));
    assert_eq!(handle.stats().by_error_type["InvalidParameterException"], 3);
    assert_eq!(handle.stats().by_error_type["InvalidRequestException"], 1);
}

#[test]
fn unknown_instances_and_contacts_answer_404_and_old_contacts_400() {
    let config = Config {
        instances: vec!["known".into()],
        not_found: vec!["gone-*".into()],
        predates: vec!["2017-*".into(), "exact-old".into()],
        ..Config::default()
    };
    let (handle, mut client) = start(config);
    let unknown = update(&handle, &mut client, &update_body("other", "c", json!({"a": "1"})));
    unknown.assert_error(404, "ResourceNotFoundException");
    let gone = update(&handle, &mut client, &update_body("known", "gone-42", json!({"a": "1"})));
    gone.assert_error(404, "ResourceNotFoundException");
    for old in ["2017-01-01-x", "exact-old"] {
        let answer = update(&handle, &mut client, &update_body("known", old, json!({"a": "1"})));
        assert!(answer.assert_error(400, "InvalidRequestException").contains("2018-09-12"));
    }
    assert_eq!(update(&handle, &mut client, &update_body("known", "c", json!({"a": "1"}))).status, 200);
    assert_eq!(handle.state().instances.len(), 1);
}

#[test]
fn signature_failures_answer_403_with_the_aws_error_types() {
    let (handle, mut client) = start(Config::default());
    let body = update_body("i", "c", json!({"a": "1"}));
    let wrong_secret = Credential::new("AKIDEXAMPLE", "wrong", None);
    let answer = client.post("/contact/attributes", &signed_update(&handle, &wrong_secret, &body)).unwrap();
    assert!(answer.assert_error(403, "InvalidSignatureException").contains("does not match"));
    let unknown_key = Credential::new("AKIDUNKNOWN", "wrong", None);
    let answer = client.post("/contact/attributes", &signed_update(&handle, &unknown_key, &body)).unwrap();
    let message = answer.assert_error(403, "UnrecognizedClientException");
    assert_eq!(message, "The security token included in the request is invalid.");
    let unsigned = client.send("POST", "/contact/attributes", &[], &body).unwrap();
    unsigned.assert_error(403, "InvalidSignatureException");
    let stats = handle.stats();
    assert_eq!((stats.signature_failures, stats.accepted), (3, 0));
    assert!(handle.state().instances.is_empty());
}

#[test]
fn a_stale_date_or_wrong_scope_is_an_invalid_signature() {
    let (handle, mut client) = start(Config::default());
    let host = format!("127.0.0.1:{}", handle.port());
    let body = update_body("i", "c", json!({"a": "1"}));
    let credential = Credential::default();
    let send = |client: &mut super::Client, signer: Signer<'_>| {
        let signed = signer.sign(&host, "/contact/attributes", &[("content-type", "application/json")], &body);
        client.post("/contact/attributes", &signed).unwrap()
    };
    let stale = Signer {
        credential: &credential,
        region: "us-east-1",
        service: "connect",
        time: SystemTime::now() - Duration::from_secs(400),
    };
    assert!(send(&mut client, stale).assert_error(403, "InvalidSignatureException").starts_with("Signature expired"));
    let region = Signer { credential: &credential, region: "eu-west-2", service: "connect", time: SystemTime::now() };
    assert!(send(&mut client, region).assert_error(403, "InvalidSignatureException").contains("region"));
    let service = Signer { credential: &credential, region: "us-east-1", service: "s3", time: SystemTime::now() };
    assert!(send(&mut client, service).assert_error(403, "InvalidSignatureException").contains("service"));
}

#[test]
fn session_credentials_need_the_matching_token() {
    let temporary = Credential::new("ASIATEMP", "temp-secret", Some("token-1"));
    let (handle, mut client) = start(Config { credentials: vec![temporary.clone()], ..Config::default() });
    let body = update_body("i", "c", json!({"a": "1"}));
    assert_eq!(client.post("/contact/attributes", &signed_update(&handle, &temporary, &body)).unwrap().status, 200);
    let mut without = signed_update(&handle, &temporary, &body);
    without.headers.retain(|(k, _)| k != "x-amz-security-token");
    client.post("/contact/attributes", &without).unwrap().assert_error(403, "InvalidSignatureException");
    let other_token = Credential { session_token: Some("token-2".into()), ..temporary };
    let answer = client.post("/contact/attributes", &signed_update(&handle, &other_token, &body)).unwrap();
    answer.assert_error(403, "UnrecognizedClientException");
}

#[test]
fn service_quotas_report_the_configured_rate() {
    let (handle, mut client) = start(Config { rate: Some(7.5), ..Config::default() });
    let host = format!("127.0.0.1:{}", handle.port());
    let credential = Credential::default();
    let signer =
        Signer { credential: &credential, region: "us-east-1", service: "servicequotas", time: SystemTime::now() };
    let call = |client: &mut super::Client, operation: &str, body: &str| {
        let target = format!("ServiceQuotasV20190624.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        client.post("/", &signer.sign(&host, "/", &headers, body.as_bytes())).unwrap()
    };
    let list = call(&mut client, "ListServiceQuotas", r#"{"ServiceCode":"connect"}"#);
    assert_eq!(list.status, 200, "{list:?}");
    let quotas = list.json()["Quotas"].as_array().cloned().unwrap_or_default();
    let quota =
        quotas.iter().find(|q| q["QuotaName"] == "Rate of UpdateContactAttributes API requests").expect("named quota");
    assert_eq!(quota["Value"], 7.5);
    let code = quota["QuotaCode"].as_str().unwrap_or_default().to_owned();
    let get = call(&mut client, "GetServiceQuota", &format!(r#"{{"ServiceCode":"connect","QuotaCode":"{code}"}}"#));
    assert_eq!(get.json()["Quota"]["Value"], 7.5);
    call(&mut client, "ListServiceQuotas", r#"{"ServiceCode":"ec2"}"#).assert_error(400, "NoSuchResourceException");
    // Signed for connect instead of servicequotas: the scope names the wrong service.
    let connect_signer = Signer { service: "connect", ..signer };
    let target = [("x-amz-target", "ServiceQuotasV20190624.ListServiceQuotas")];
    let wrong = client.post("/", &connect_signer.sign(&host, "/", &target, br#"{"ServiceCode":"connect"}"#)).unwrap();
    wrong.assert_error(403, "InvalidSignatureException");
}

#[test]
fn introspection_shows_state_and_stats_and_resets() {
    let (handle, mut client) = start(Config::default());
    update(&handle, &mut client, &update_body("i", "c", json!({"a": "1"})));
    update(&handle, &mut client, &update_body("i", "c", json!({"bad key": "1"})));
    let state = client.get("/_emulator/state");
    assert_eq!(state.status, 200);
    assert_eq!(state.json()["instances"]["i"]["c"]["attributes"]["a"], "1");
    assert_eq!(state.json()["instances"]["i"]["c"]["updates"], 1);
    let stats: Stats = serde_json::from_str(&client.get("/_emulator/stats").body).expect("stats JSON");
    assert_eq!(stats, handle.stats());
    assert_eq!((stats.requests, stats.accepted, stats.contacts), (2, 1, 1));
    assert_eq!(stats.by_error_type["InvalidParameterException"], 1);
    let reset = client.send("POST", "/_emulator/reset", &[], b"").unwrap();
    assert_eq!(reset.status, 200);
    assert_eq!(handle.stats(), Stats::default());
    assert!(handle.state().instances.is_empty());
    client.get("/_emulator/nothing").assert_error(404, "UnknownOperationException");
    handle.reset();
}

#[test]
fn other_operations_are_unknown() {
    let (handle, mut client) = start(Config::default());
    let host = format!("127.0.0.1:{}", handle.port());
    let credential = Credential::default();
    let signer = Signer { credential: &credential, region: "us-east-1", service: "connect", time: SystemTime::now() };
    let answer = client.post("/contact/other", &signer.sign(&host, "/contact/other", &[], b"{}")).unwrap();
    answer.assert_error(404, "UnknownOperationException");
}

#[test]
fn the_clock_is_injectable_so_old_signatures_can_be_replayed() {
    let signed_at = connect_attrs::emulator::sigv4::parse_amz_date("20200102T030405Z").expect("date");
    let config = Config { clock: connect_attrs::emulator::Clock::fixed(signed_at), ..Config::default() };
    let (handle, mut client) = start(config);
    let host = format!("127.0.0.1:{}", handle.port());
    let credential = Credential::default();
    let signer = Signer { credential: &credential, region: "us-east-1", service: "connect", time: signed_at };
    let body = update_body("i", "c", json!({"a": "1"}));
    let signed = signer.sign(&host, "/contact/attributes", &[("content-type", "application/json")], &body);
    assert_eq!(client.post("/contact/attributes", &signed).unwrap().status, 200);
    // The same request against the system clock is six years late.
    let (_system, mut other) = start(Config { port: 0, ..Config::default() });
    let answer = other.post("/contact/attributes", &signed).unwrap();
    assert!(answer.assert_error(403, "InvalidSignatureException").starts_with("Signature expired"));
}

#[tokio::test]
async fn the_in_process_emulator_serves_async_clients_too() {
    let handle = connect_attrs::emulator::spawn(Config::default()).expect("emulator starts");
    let client = reqwest::Client::new();
    let unsigned = client.post(format!("{}/contact/attributes", handle.url())).body("{}").send().await.expect("answer");
    assert_eq!(unsigned.status(), 403);
    assert_eq!(unsigned.headers()["x-amzn-errortype"], "InvalidSignatureException");
    let stats = client.get(format!("{}/_emulator/stats", handle.url())).send().await.expect("answer");
    let stats: Stats = serde_json::from_str(&stats.text().await.expect("body")).expect("stats JSON");
    assert_eq!(stats.signature_failures, 1);
    // Dropping the handle inside an async test must not hang or panic.
    drop(handle);
}
