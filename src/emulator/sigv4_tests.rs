//! Unit tests of the verifier: each piece of the canonical request, each refusal, and requests
//! signed by the `aws-sigv4` crate (the SDK's own signer).

use super::*;
use http::HeaderValue;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const URL: &str = "http://127.0.0.1:8080/contact/attributes";
const BODY: &[u8] = br#"{"InstanceId":"i","InitialContactId":"c","Attributes":{"a":"b"}}"#;

fn at(text: &str) -> SystemTime {
    parse_amz_date(text).unwrap()
}

/// Signs like the SDK (the client's signer, `aws-sigv4`): returns the headers a client would send.
fn signed(credential: &Credential, region: &str, service: &str, time: SystemTime, body: &[u8]) -> HeaderMap {
    let headers = [("host", "127.0.0.1:8080"), ("content-type", "application/json")];
    let added =
        crate::connect::sign::signature_headers(&credential.into(), region, service, URL, &headers[1..], body, time)
            .unwrap();
    let mut map = HeaderMap::new();
    let all = headers.into_iter().chain(added.iter().map(|(name, value)| (*name, value.as_str())));
    for (name, value) in all {
        map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn verify(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    service: &str,
    now: SystemTime,
) -> Result<String, SigError> {
    let uri: Uri = "/contact/attributes".parse().unwrap();
    let request = SignedRequest { method: &Method::POST, uri: &uri, headers, body };
    verifier.verify(&request, service, now)
}

fn default_verifier() -> Verifier {
    Verifier::new(&[Credential::default()], "us-east-1")
}

#[test]
fn derives_the_aws_documentation_signing_key() {
    let key = derive_key(SECRET, "20120215", "us-east-1", "iam");
    assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

#[test]
fn an_sdk_signed_request_verifies_and_a_changed_body_does_not() {
    let now = at("20261125T031500Z");
    let headers = signed(&Credential::default(), "us-east-1", "connect", now, BODY);
    assert_eq!(verify(&default_verifier(), &headers, BODY, "connect", now), Ok(AKID.to_owned()));
    // Twice: the second check uses the cached signing key.
    assert!(verify(&default_verifier(), &headers, BODY, "connect", now).is_ok());
    let changed = verify(&default_verifier(), &headers, b"{}", "connect", now);
    assert_eq!(changed, Err(SigError::Mismatch));
}

#[test]
fn a_wrong_secret_is_a_mismatch() {
    let now = at("20261125T031500Z");
    let wrong = Credential::new(AKID, "not-the-secret", None);
    let headers = signed(&wrong, "us-east-1", "connect", now, BODY);
    let refused = verify(&default_verifier(), &headers, BODY, "connect", now).unwrap_err();
    assert_eq!((refused.clone(), refused.error_type()), (SigError::Mismatch, "InvalidSignatureException"));
}

#[test]
fn an_unknown_access_key_is_an_unrecognized_client() {
    let now = at("20261125T031500Z");
    let headers = signed(&Credential::new("AKIDOTHER", SECRET, None), "us-east-1", "connect", now, BODY);
    let refused = verify(&default_verifier(), &headers, BODY, "connect", now).unwrap_err();
    assert_eq!(refused.error_type(), "UnrecognizedClientException");
    assert_eq!(refused.to_string(), "The security token included in the request is invalid.");
}

#[test]
fn the_scope_must_name_the_region_and_service() {
    let now = at("20261125T031500Z");
    let other_region = signed(&Credential::default(), "eu-west-1", "connect", now, BODY);
    let refused = verify(&default_verifier(), &other_region, BODY, "connect", now);
    assert_eq!(refused, Err(SigError::WrongRegion("eu-west-1".into())));
    let other_service = signed(&Credential::default(), "us-east-1", "servicequotas", now, BODY);
    let refused = verify(&default_verifier(), &other_service, BODY, "connect", now);
    assert_eq!(refused, Err(SigError::WrongService { expected: "connect".into() }));
}

#[test]
fn the_date_must_be_within_five_minutes() {
    let signed_at = at("20261125T031500Z");
    let headers = signed(&Credential::default(), "us-east-1", "connect", signed_at, BODY);
    let verifier = default_verifier();
    assert!(verify(&verifier, &headers, BODY, "connect", at("20261125T032000Z")).is_ok());
    assert!(verify(&verifier, &headers, BODY, "connect", at("20261125T031000Z")).is_ok());
    let late = verify(&verifier, &headers, BODY, "connect", at("20261125T032001Z")).unwrap_err();
    assert_eq!(
        late.to_string(),
        "Signature expired: 20261125T031500Z is now earlier than 20261125T031501Z (20261125T032001Z - 5 min.)"
    );
    let early = verify(&verifier, &headers, BODY, "connect", at("20261125T030959Z")).unwrap_err();
    assert!(matches!(early, SigError::NotYetCurrent { .. }), "{early}");
    assert_eq!(early.error_type(), "InvalidSignatureException");
}

#[test]
fn session_credentials_need_their_own_token() {
    let now = at("20260301T235959Z");
    let temporary = Credential::new("ASIAEXAMPLE", "temp-secret", Some("TOKEN-1"));
    let verifier = Verifier::new(std::slice::from_ref(&temporary), "us-east-1");
    let headers = signed(&temporary, "us-east-1", "connect", now, BODY);
    assert!(verify(&verifier, &headers, BODY, "connect", now).is_ok());
    let mut without = headers.clone();
    without.remove("x-amz-security-token");
    assert_eq!(verify(&verifier, &without, BODY, "connect", now), Err(SigError::MissingToken));
    let other = Credential { session_token: Some("TOKEN-2".into()), ..temporary };
    let wrong =
        verify(&verifier, &signed(&other, "us-east-1", "connect", now, BODY), BODY, "connect", now).unwrap_err();
    assert_eq!((wrong.clone(), wrong.error_type()), (SigError::WrongToken, "UnrecognizedClientException"));
}

#[test]
fn host_must_be_signed() {
    let now = at("20261125T031500Z");
    let mut headers = signed(&Credential::default(), "us-east-1", "connect", now, BODY);
    let auth = headers["authorization"].to_str().unwrap().replace("content-type;host;", "content-type;");
    headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(verify(&default_verifier(), &headers, BODY, "connect", now), Err(SigError::HostNotSigned));
}

#[test]
fn a_content_sha256_header_must_match_the_body() {
    let now = at("20261125T031500Z");
    let mut headers = signed(&Credential::default(), "us-east-1", "connect", now, BODY);
    headers.insert("x-amz-content-sha256", HeaderValue::from_static("00"));
    assert_eq!(verify(&default_verifier(), &headers, BODY, "connect", now), Err(SigError::PayloadHash));
}

#[test]
fn missing_and_malformed_authorization_headers() {
    let now = at("20261125T031500Z");
    assert_eq!(
        verify(&default_verifier(), &HeaderMap::new(), BODY, "connect", now),
        Err(SigError::MissingAuthorization)
    );
    for bad in [
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/connect, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/connect/aws4_request, Signature=00",
    ] {
        assert!(matches!(parse_authorization(bad), Err(SigError::Malformed(_))), "{bad}");
    }
    let good = "AWS4-HMAC-SHA256 Credential=AK/20261125/us-east-1/connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab";
    let parsed = parse_authorization(good).unwrap();
    assert_eq!((parsed.access_key_id, parsed.region, parsed.signed_headers), ("AK", "us-east-1", "host;x-amz-date"));
}

#[test]
fn the_scope_date_must_be_the_request_date() {
    let result = check_date("20261125T031500Z", "20261124", at("20261125T031500Z"));
    assert!(matches!(result, Err(SigError::ScopeDate { .. })));
    assert_eq!(check_date("2026-11-25", "20261125", at("20261125T031500Z")), Err(SigError::BadDate));
}

#[test]
fn canonical_uri_encodes_each_segment_again() {
    let mut out = String::new();
    canonical_uri("/a b/%2F/./c/../d~_-.", &mut out);
    assert_eq!(out, "/a%20b/%252F/d~_-.");
    out.clear();
    canonical_uri("/", &mut out);
    assert_eq!(out, "/");
}

#[test]
fn canonical_query_is_sorted_and_strictly_encoded() {
    let mut out = String::new();
    canonical_query("b=2&a=3&a=1&c=x%2Fy&d", &mut out);
    assert_eq!(out, "a=1&a=3&b=2&c=x%2Fy&d=");
}

#[test]
fn canonical_headers_trim_and_collapse_spaces() {
    let mut headers = HeaderMap::new();
    headers.insert("x-a", HeaderValue::from_static("  one   two  "));
    headers.append("x-b", HeaderValue::from_static("1"));
    headers.append("x-b", HeaderValue::from_static(" 2"));
    let mut out = String::new();
    canonical_header(&headers, "x-a", &mut out).unwrap();
    canonical_header(&headers, "x-b", &mut out).unwrap();
    assert_eq!(out, "x-a:one two\nx-b:1,2\n");
    assert_eq!(canonical_header(&headers, "x-missing", &mut out), Err(SigError::Mismatch));
}

#[test]
fn a_signed_content_sha256_header_that_matches_verifies() {
    let now = at("20261125T031500Z");
    let hash = hex::encode(Sha256::digest(BODY));
    let uri: Uri = "/contact/attributes".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert("x-amz-date", HeaderValue::from_static("20261125T031500Z"));
    headers.insert("x-amz-content-sha256", HeaderValue::from_str(&hash).unwrap());
    // Sign by hand, step by step as the AWS documentation spells it out.
    let request = SignedRequest { method: &Method::POST, uri: &uri, headers: &headers, body: BODY };
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical = canonical_request(&request, signed_headers, &hash).unwrap();
    let scope = "20261125/us-east-1/connect/aws4_request";
    let digest = hex::encode(Sha256::digest(&canonical));
    let to_sign = format!("AWS4-HMAC-SHA256\n20261125T031500Z\n{scope}\n{digest}");
    let key = derive_key(SECRET, "20261125", "us-east-1", "connect");
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    let auth =
        format!("AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed_headers}, Signature={signature}");
    headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(verify(&default_verifier(), &headers, BODY, "connect", now), Ok(AKID.to_owned()));
}

#[test]
fn expired_credentials_are_refused_with_expired_token() {
    let now = at("20260301T235959Z");
    let valid_until = at("20260302T000000Z");
    let temporary = Credential::new("ASIAEXAMPLE", "temp-secret", Some("TOKEN-1")).expiring_at(valid_until);
    let verifier = Verifier::new(std::slice::from_ref(&temporary), "us-east-1");
    let headers = signed(&temporary, "us-east-1", "connect", now, BODY);
    assert!(verify(&verifier, &headers, BODY, "connect", now).is_ok());
    let later = at("20260302T000001Z");
    let headers = signed(&temporary, "us-east-1", "connect", later, BODY);
    let expired = verify(&verifier, &headers, BODY, "connect", later).unwrap_err();
    assert_eq!((expired.clone(), expired.error_type()), (SigError::ExpiredToken, "ExpiredTokenException"));
}
