//! SigV4 verification, as AWS front doors do it: parse the `Authorization` header, check the
//! credential scope, the clock skew, the session token and the payload hash, rebuild the canonical
//! request and compare signatures in constant time. Pure: the caller passes the clock's time, so
//! tests can pin it to a recorded request's moment.

use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::Credential;
use crate::wire::error_type;

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from the service's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Why a request's signature was refused. `error_type()` is the `x-amzn-ErrorType` AWS answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("Missing Authentication Token")]
    MissingAuthorization,
    #[error("Authorization header is malformed: {0}")]
    Malformed(String),
    #[error("{INVALID_TOKEN}")]
    UnknownAccessKey,
    #[error("Credential should be scoped to a valid region, not '{0}'.")]
    WrongRegion(String),
    #[error("Credential should be scoped to correct service: '{expected}'.")]
    WrongService { expected: String },
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{date}'"
    )]
    ScopeDate { scope: String, date: String },
    #[error("Missing or malformed X-Amz-Date header (expected YYYYMMDD'T'HHMMSS'Z')")]
    BadDate,
    #[error("Signature expired: {date} is now earlier than {limit} ({now} - 5 min.)")]
    Expired { date: String, limit: String, now: String },
    #[error("Signature not yet current: {date} is still later than {limit} ({now} + 5 min.)")]
    NotYetCurrent { date: String, limit: String, now: String },
    #[error("The request must include the X-Amz-Security-Token header for temporary credentials.")]
    MissingToken,
    #[error("{INVALID_TOKEN}")]
    WrongToken,
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("'Host' must be a signed header.")]
    HostNotSigned,
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHash,
    #[error("{MISMATCH}")]
    Mismatch,
}

impl SigError {
    /// The error type header value. A session token that does not belong to the access key is
    /// answered UnrecognizedClientException, as STS-issued tokens that fail validation are.
    pub fn error_type(&self) -> &'static str {
        match self {
            SigError::UnknownAccessKey | SigError::WrongToken => error_type::UNRECOGNIZED_CLIENT,
            SigError::ExpiredToken => error_type::EXPIRED_TOKEN,
            _ => error_type::INVALID_SIGNATURE,
        }
    }
}

/// The request as the verifier needs it: the raw path and query as sent, and the body bytes.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Checks signatures against a fixed set of credentials, caching derived signing keys.
pub struct Verifier {
    credentials: HashMap<String, Credential>,
    region: String,
    /// (access key, date, service) -> signing key; the region is fixed per verifier.
    keys: Mutex<HashMap<(String, String, String), [u8; 32]>>,
}

impl Verifier {
    pub fn new(credentials: &[Credential], region: &str) -> Verifier {
        let credentials = credentials.iter().map(|c| (c.access_key_id.clone(), c.clone())).collect();
        Verifier { credentials, region: region.to_owned(), keys: Mutex::new(HashMap::new()) }
    }

    /// Verifies `request` as a call to `service`, at time `now`. Returns the access key id.
    pub fn verify(&self, request: &SignedRequest<'_>, service: &str, now: SystemTime) -> Result<String, SigError> {
        let header = header_str(request.headers, "authorization").ok_or(SigError::MissingAuthorization)?;
        let auth = parse_authorization(header)?;
        let credential = self.credentials.get(auth.access_key_id).ok_or(SigError::UnknownAccessKey)?;
        self.check_scope(&auth, service)?;
        let amz_date = header_str(request.headers, "x-amz-date").ok_or(SigError::BadDate)?;
        check_date(amz_date, auth.date, now)?;
        check_token(credential, header_str(request.headers, "x-amz-security-token"))?;
        if credential.expires_at.is_some_and(|at| at <= now) {
            return Err(SigError::ExpiredToken);
        }
        if !auth.signed_headers.split(';').any(|h| h == "host") {
            return Err(SigError::HostNotSigned);
        }
        let payload_hash = payload_hash(request)?;
        let canonical = canonical_request(request, auth.signed_headers, &payload_hash)?;
        let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
        let string_to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(&canonical)));
        let key = self.signing_key(credential, auth.date, service);
        let provided = hex::decode(auth.signature).map_err(|_| SigError::Mismatch)?;
        let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| SigError::Mismatch)?;
        mac.update(string_to_sign.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&provided).map_err(|_| SigError::Mismatch)?;
        Ok(credential.access_key_id.clone())
    }

    fn check_scope(&self, auth: &Authorization<'_>, service: &str) -> Result<(), SigError> {
        if auth.region != self.region {
            return Err(SigError::WrongRegion(auth.region.to_owned()));
        }
        if auth.service != service {
            return Err(SigError::WrongService { expected: service.to_owned() });
        }
        Ok(())
    }

    fn signing_key(&self, credential: &Credential, date: &str, service: &str) -> [u8; 32] {
        let id = (credential.access_key_id.clone(), date.to_owned(), service.to_owned());
        if let Some(key) = self.keys.lock().ok().and_then(|keys| keys.get(&id).copied()) {
            return key;
        }
        let key = derive_key(&credential.secret_access_key, date, &self.region, service);
        if let Ok(mut keys) = self.keys.lock() {
            // Dates roll over; a handful of entries per credential is all a run ever needs.
            if keys.len() > 1024 {
                keys.clear();
            }
            keys.insert(id, key);
        }
        key
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, SigError> {
    let rest = header
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| SigError::Malformed(format!("unsupported algorithm, expected {ALGORITHM}")))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or_else(|| SigError::Malformed(part.trim().to_owned()))?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return Err(SigError::Malformed(format!("unknown parameter {name}"))),
        }
    }
    let missing = |what: &str| SigError::Malformed(format!("Authorization header requires '{what}' parameter"));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let mut scope = credential.split('/');
    let mut next = || scope.next().filter(|s| !s.is_empty());
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (next(), next(), next(), next(), next(), next())
    else {
        return Err(SigError::Malformed(format!(
            "Credential is not AKID/DATE/REGION/SERVICE/aws4_request: {credential}"
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed_headers.ok_or_else(|| missing("SignedHeaders"))?,
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

fn check_date(amz_date: &str, scope_date: &str, now: SystemTime) -> Result<(), SigError> {
    let at = parse_amz_date(amz_date).ok_or(SigError::BadDate)?;
    if amz_date.get(..8) != Some(scope_date) {
        return Err(SigError::ScopeDate { scope: scope_date.to_owned(), date: amz_date.to_owned() });
    }
    let shown = |t: SystemTime| format_amz_date(t);
    if at + MAX_SKEW < now {
        let limit = now.checked_sub(MAX_SKEW).unwrap_or(now);
        return Err(SigError::Expired { date: amz_date.to_owned(), limit: shown(limit), now: shown(now) });
    }
    if at > now + MAX_SKEW {
        return Err(SigError::NotYetCurrent {
            date: amz_date.to_owned(),
            limit: shown(now + MAX_SKEW),
            now: shown(now),
        });
    }
    Ok(())
}

fn check_token(credential: &Credential, sent: Option<&str>) -> Result<(), SigError> {
    match (&credential.session_token, sent) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(SigError::MissingToken),
        (Some(expected), Some(sent)) if expected == sent => Ok(()),
        _ => Err(SigError::WrongToken),
    }
}

/// `X-Amz-Date` format: 20261125T031500Z, always UTC.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let at = time::PrimitiveDateTime::parse(text, format).ok()?.assume_utc();
    Some(SystemTime::from(at))
}

pub fn format_amz_date(at: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(at).format(format).unwrap_or_default()
}

/// The body hash that was signed: `x-amz-content-sha256` if sent (it must then match the body).
fn payload_hash(request: &SignedRequest<'_>) -> Result<String, SigError> {
    let computed = hex::encode(Sha256::digest(request.body));
    match header_str(request.headers, "x-amz-content-sha256") {
        Some(sent) if !sent.eq_ignore_ascii_case(&computed) => Err(SigError::PayloadHash),
        // The client signed the header's spelling of the hash, whatever its case.
        Some(sent) => Ok(sent.to_owned()),
        None => Ok(computed),
    }
}

fn canonical_request(
    request: &SignedRequest<'_>,
    signed_headers: &str,
    payload_hash: &str,
) -> Result<String, SigError> {
    let mut out = String::with_capacity(512);
    out.push_str(request.method.as_str());
    out.push('\n');
    canonical_uri(request.uri.path(), &mut out);
    out.push('\n');
    canonical_query(request.uri.query().unwrap_or(""), &mut out);
    out.push('\n');
    for name in signed_headers.split(';') {
        canonical_header(request.headers, name, &mut out)?;
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// Non-S3 services encode each segment of the path as sent (so `%` is encoded again), after
/// removing dot segments.
fn canonical_uri(path: &str, out: &mut String) {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        out.push('/');
    }
    for segment in segments {
        out.push('/');
        uri_encode(segment.as_bytes(), out);
    }
}

/// Query parameters decoded, re-encoded strictly and sorted by name then value.
fn canonical_query(query: &str, out: &mut String) {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut key = String::new();
            let mut value = String::new();
            uri_encode(&percent_decode(k), &mut key);
            uri_encode(&percent_decode(v), &mut value);
            (key, value)
        })
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(out, "{k}={v}");
    }
}

fn canonical_header(headers: &HeaderMap, name: &str, out: &mut String) -> Result<(), SigError> {
    let mut values = headers.get_all(name).iter().peekable();
    if values.peek().is_none() {
        // A header that was signed but not sent cannot reproduce the client's signature.
        return Err(SigError::Mismatch);
    }
    out.push_str(name);
    out.push(':');
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = std::str::from_utf8(value.as_bytes()).map_err(|_| SigError::Mismatch)?;
        // Trim, and collapse runs of spaces to one.
        for (j, word) in text.split_whitespace().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out.push('\n');
    Ok(())
}

fn uri_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
