//! SigV4 signing with the aws-sigv4 crate. The time is a parameter: the signer never reads the
//! clock, so a test can sign at a vector's time and compare with botocore's signature.
//!
//! [`signature_headers`] signs any request through aws-sigv4's `sign`. [`PostSigner`] signs the one
//! request the sender repeats (a JSON POST to one URL) with aws-sigv4's own key derivation, but
//! keeps the derived key for the day and writes the canonical request from a template: `sign`
//! rebuilt both every time, and that was 15% of the client's CPU at full speed. The day's HMAC is
//! kept keyed too (its two padded key blocks hashed once, not per request), and every string is
//! written with `push_str` into a buffer of the right size: `format!` and aws-sigv4's hex
//! encoding (a `String` collected a char at a time) were most of what was left of signing.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// The headers to add to a request so AWS accepts it: `x-amz-date`, `authorization` and, with
/// temporary credentials, `x-amz-security-token`. `headers` are the request's own headers to sign
/// (the Host comes from `url`, exactly as the HTTP client will send it).
pub fn signature_headers(
    credentials: &Credentials,
    region: &str,
    service: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, SignError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let request = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    let (signed, _query) = instructions.into_parts();
    Ok(signed.into_iter().map(|h| (h.name(), h.value().to_string())).collect())
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// A SHA-256 digest in lowercase hex, on the stack (`hex::encode` built a `String` a char at a
/// time, which showed in profiles at full speed).
struct HexSha256([u8; 64]);

impl HexSha256 {
    fn of(bytes: &[u8]) -> HexSha256 {
        HexSha256::from_digest(&Sha256::digest(bytes))
    }

    fn from_digest(digest: &[u8]) -> HexSha256 {
        let mut text = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(digest, &mut text);
        HexSha256(text)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Signs POSTs of one content type to one URL, as [`signature_headers`] would, byte for byte.
///
/// The signing key is derived once per (secret, UTC date): new credentials or a new day derive a
/// new one. The region and service are fixed for the signer's life. On construction the template
/// is checked against aws-sigv4's `sign`; an endpoint it does not reproduce (an unusual path or
/// host) is signed through `sign` every time instead.
pub struct PostSigner {
    url: String,
    region: String,
    service: String,
    content_type: &'static str,
    /// `POST\n<path>\n\ncontent-type:<type>\nhost:<host>\nx-amz-date:` (the date follows).
    canonical_head: String,
    /// `/<region>/<service>/aws4_request`: the credential scope after its date.
    scope_tail: String,
    /// `None` when the template differs from aws-sigv4: every request goes through `sign`.
    template_ok: bool,
    key: RwLock<Option<DayKey>>,
}

/// A derived signing key, as the HMAC keyed with it, and what it was derived from. Holds the
/// secret: never printed.
struct DayKey {
    secret: String,
    date: [u8; 8],
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PostSigner {
    // The cached key and the secret it came from stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostSigner")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("template_ok", &self.template_ok)
            .finish_non_exhaustive()
    }
}

impl PostSigner {
    /// A signer for POSTs of `content_type` to `url` (already normalized, as the HTTP client
    /// sends it: see [`super::http::normalized`]).
    pub fn new(url: &str, region: &str, service: &str, content_type: &'static str) -> PostSigner {
        let canonical_head = reqwest::Url::parse(url).ok().map(|parsed| {
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                (None, _) => String::new(),
            };
            format!("POST\n{}\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:", parsed.path())
        });
        let mut signer = PostSigner {
            url: url.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            content_type,
            scope_tail: format!("/{region}/{service}/aws4_request"),
            template_ok: canonical_head.is_some(),
            canonical_head: canonical_head.unwrap_or_default(),
            key: RwLock::new(None),
        };
        signer.template_ok = signer.template_ok && signer.matches_aws_sigv4();
        if !signer.template_ok {
            tracing::debug!(url, "signing every request through aws-sigv4's sign (template differs)");
        }
        signer
    }

    /// The headers to add, as [`signature_headers`] returns them for this request.
    pub fn sign(
        &self,
        credentials: &Credentials,
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        if !self.template_ok {
            let headers = [("content-type", self.content_type)];
            return signature_headers(credentials, &self.region, &self.service, &self.url, &headers, body, time);
        }
        let token = credentials.session_token();
        if token.is_some_and(|t| http::HeaderValue::from_str(t).is_err()) {
            return Err(SignError("the session token is not a valid header value".into()));
        }
        let stamp = AmzDateTime::of(time);
        let date_time = stamp.as_str();
        let date = &date_time[..8];
        let signed_headers = if token.is_some() {
            "content-type;host;x-amz-date;x-amz-security-token"
        } else {
            "content-type;host;x-amz-date"
        };
        let token_len = token.map_or(0, |t| t.len() + 22);
        let mut canonical = String::with_capacity(self.canonical_head.len() + token_len + 160);
        for part in [&self.canonical_head, date_time] {
            canonical.push_str(part);
        }
        if let Some(token) = token {
            canonical.push_str("\nx-amz-security-token:");
            canonical.push_str(token);
        }
        for part in ["\n\n", signed_headers, "\n", HexSha256::of(body).as_str()] {
            canonical.push_str(part);
        }
        let mut string_to_sign = String::with_capacity(ALGORITHM.len() + self.scope_tail.len() + 96);
        let canonical_hash = HexSha256::of(canonical.as_bytes());
        for part in [ALGORITHM, "\n", date_time, "\n", date, &self.scope_tail, "\n", canonical_hash.as_str()] {
            string_to_sign.push_str(part);
        }
        let signature = self.with_key(credentials.secret_access_key(), time, date, |mac| {
            let mut mac = mac.clone();
            mac.update(string_to_sign.as_bytes());
            HexSha256::from_digest(&mac.finalize().into_bytes())
        })?;
        let access_key = credentials.access_key_id();
        let mut authorization = String::with_capacity(access_key.len() + self.scope_tail.len() + 200);
        for part in [
            ALGORITHM,
            " Credential=",
            access_key,
            "/",
            date,
            &self.scope_tail,
            ", SignedHeaders=",
            signed_headers,
            ", Signature=",
            signature.as_str(),
        ] {
            authorization.push_str(part);
        }
        let mut headers = Vec::with_capacity(3);
        headers.push(("x-amz-date", date_time.to_string()));
        headers.push(("authorization", authorization));
        if let Some(token) = token {
            headers.push(("x-amz-security-token", token.to_string()));
        }
        Ok(headers)
    }

    /// Runs `f` with the HMAC keyed with the signing key for `secret` on `date`, the key derived
    /// (by aws-sigv4) only when the secret or the date changed since the last call.
    fn with_key<T>(
        &self,
        secret: &str,
        time: SystemTime,
        date: &str,
        f: impl FnOnce(&Hmac<Sha256>) -> T,
    ) -> Result<T, SignError> {
        let date: [u8; 8] = date.as_bytes().try_into().unwrap_or_default();
        if let Ok(cached) = self.key.read()
            && let Some(day) = cached.as_ref()
            && day.date == date
            && day.secret == secret
        {
            return Ok(f(&day.mac));
        }
        let key = v4::generate_signing_key(secret, time, &self.region, &self.service);
        // HMAC takes a key of any length: no error comes back in practice.
        let mac = Hmac::<Sha256>::new_from_slice(key.as_ref()).map_err(|e| SignError(e.to_string()))?;
        let out = f(&mac);
        if let Ok(mut cached) = self.key.write() {
            *cached = Some(DayKey { secret: secret.to_string(), date, mac });
        }
        Ok(out)
    }

    /// Whether the template signs exactly as aws-sigv4's `sign` does for this URL (checked with
    /// made-up credentials, with and without a session token).
    fn matches_aws_sigv4(&self) -> bool {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let probes = [
            Credentials::new("AKIDPROBE", "probe-secret", None, None, "probe"),
            Credentials::new("AKIDPROBE", "probe-secret", Some("probe-token".into()), None, "probe"),
        ];
        let headers = [("content-type", self.content_type)];
        let same = probes.iter().all(|probe| {
            let slow = signature_headers(probe, &self.region, &self.service, &self.url, &headers, b"{}", time);
            matches!((slow, self.sign(probe, b"{}", time)), (Ok(a), Ok(b)) if a == b)
        });
        // The probe's key must not stay cached.
        if let Ok(mut cached) = self.key.write() {
            *cached = None;
        }
        same
    }
}

/// `20261125T031500Z` (UTC, seconds truncated as aws-sigv4 does), on the stack.
struct AmzDateTime([u8; 16]);

impl AmzDateTime {
    fn of(time: SystemTime) -> AmzDateTime {
        let t = time::OffsetDateTime::from(time);
        let mut text = *b"00000000T000000Z";
        // Years past 9999 keep their last four digits; SigV4 dates have four.
        let fields = [
            (0, 4, t.year().rem_euclid(10_000) as u32),
            (4, 2, u32::from(u8::from(t.month()))),
            (6, 2, u32::from(t.day())),
            (9, 2, u32::from(t.hour())),
            (11, 2, u32::from(t.minute())),
            (13, 2, u32::from(t.second())),
        ];
        for (start, width, mut value) in fields {
            for digit in text[start..start + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        AmzDateTime(text)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        time: String,
        url: String,
        headers: std::collections::BTreeMap<String, String>,
        body: String,
        valid: bool,
    }

    fn vector_time(text: &str) -> SystemTime {
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let parsed = time::PrimitiveDateTime::parse(text, format).unwrap().assume_utc();
        SystemTime::UNIX_EPOCH + Duration::from_secs(parsed.unix_timestamp() as u64)
    }

    /// Our signer and botocore sign the same request alike: byte-equal Authorization headers.
    #[test]
    fn signatures_equal_botocore_on_every_valid_vector() {
        #[derive(Deserialize)]
        struct File {
            vectors: Vec<Vector>,
        }
        let text = include_str!("../../tests/data/sigv4-botocore.json");
        let file: File = serde_json::from_str(text).unwrap();
        let mut checked = 0;
        for v in file.vectors.iter().filter(|v| v.valid) {
            let credentials =
                Credentials::new(&v.access_key_id, &v.secret_access_key, v.session_token.clone(), None, "test");
            let content_type = &v.headers["Content-Type"];
            assert_eq!(content_type, "application/json", "{}", v.name);
            let time = vector_time(&v.time);
            let general = signature_headers(
                &credentials,
                &v.region,
                "connect",
                &v.url,
                &[("content-type", content_type)],
                v.body.as_bytes(),
                time,
            )
            .unwrap();
            let signer = PostSigner::new(&v.url, &v.region, "connect", "application/json");
            assert!(signer.template_ok, "{}", v.name);
            let templated = signer.sign(&credentials, v.body.as_bytes(), time).unwrap();
            for (path, signed) in [("signature_headers", general), ("PostSigner", templated)] {
                let get = |name: &str| signed.iter().find(|(n, _)| *n == name).map(|(_, value)| value.clone());
                let what = format!("{} through {path}", v.name);
                assert_eq!(get("authorization").as_ref(), Some(&v.headers["Authorization"]), "{what}");
                assert_eq!(get("x-amz-date").as_ref(), Some(&v.headers["X-Amz-Date"]), "{what}");
                assert_eq!(get("x-amz-security-token"), v.headers.get("X-Amz-Security-Token").cloned(), "{what}");
            }
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} valid vectors");
    }

    fn general(url: &str, credentials: &Credentials, body: &[u8], time: SystemTime) -> Vec<(&'static str, String)> {
        let headers = [("content-type", "application/json")];
        signature_headers(credentials, "us-east-1", "connect", url, &headers, body, time).unwrap()
    }

    /// The templated signer and aws-sigv4's `sign` agree on the endpoints a run can have, with and
    /// without a session token, across secrets, days and bodies (the cached key follows each change).
    #[test]
    fn post_signer_equals_signature_headers() {
        let day = Duration::from_secs(86_400);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let urls = [
            "https://connect.us-east-1.amazonaws.com/contact/attributes",
            "http://127.0.0.1:8080/contact/attributes",
            "http://[::ffff:7f00:1]:8080/contact/attributes",
            "http://localhost/base/contact/attributes",
        ];
        let credentials = [
            Credentials::new("AKID1", "secret-one", None, None, "t"),
            Credentials::new("AKID1", "secret-two", Some("token/with+chars=".into()), None, "t"),
            Credentials::new("AKID2", "secret-one", Some("another-token".into()), None, "t"),
        ];
        for url in urls {
            let signer = PostSigner::new(url, "us-east-1", "connect", "application/json");
            assert!(signer.template_ok, "{url}");
            for (i, time) in
                [start, start + Duration::from_secs(1), start + day, start + day * 40].into_iter().enumerate()
            {
                for c in &credentials {
                    let body = format!("{{\"n\":{i},\"v\":\"\u{e9} x\"}}");
                    assert_eq!(
                        signer.sign(c, body.as_bytes(), time).unwrap(),
                        general(url, c, body.as_bytes(), time),
                        "{url}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_new_secret_or_a_new_day_derives_a_new_key() {
        let url = "http://127.0.0.1:8080/contact/attributes";
        let signer = PostSigner::new(url, "us-east-1", "connect", "application/json");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let old = Credentials::new("AKID", "old-secret", None, None, "t");
        let refreshed = Credentials::new("AKID", "new-secret", None, None, "t");
        assert_eq!(signer.sign(&old, b"{}", time).unwrap(), general(url, &old, b"{}", time));
        let cached_date = |s: &PostSigner| s.key.read().unwrap().as_ref().map(|k| (k.secret.clone(), k.date));
        assert_eq!(cached_date(&signer), Some(("old-secret".into(), *b"20260921")));
        assert_eq!(signer.sign(&refreshed, b"{}", time).unwrap(), general(url, &refreshed, b"{}", time));
        assert_eq!(cached_date(&signer), Some(("new-secret".into(), *b"20260921")));
        let tomorrow = time + Duration::from_secs(86_400);
        assert_eq!(signer.sign(&refreshed, b"{}", tomorrow).unwrap(), general(url, &refreshed, b"{}", tomorrow));
        assert_eq!(cached_date(&signer), Some(("new-secret".into(), *b"20260922")));
    }

    #[test]
    fn an_endpoint_the_template_does_not_reproduce_is_signed_by_aws_sigv4() {
        // aws-sigv4 normalizes and encodes paths; the template writes them as they are.
        let url = "http://127.0.0.1:8080/a%20b/contact/attributes";
        let signer = PostSigner::new(url, "us-east-1", "connect", "application/json");
        assert!(!signer.template_ok);
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let c = Credentials::new("AKID", "secret", None, None, "t");
        assert_eq!(signer.sign(&c, b"{}", time).unwrap(), general(url, &c, b"{}", time));
    }

    #[test]
    fn the_date_is_written_as_aws_sigv4_writes_it() {
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        for seconds in [0, 951_782_400, 1_790_000_000, 1_790_000_059, 4_102_444_799, 253_402_300_799] {
            let time = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
            let expected = time::OffsetDateTime::from(time).format(&format).unwrap();
            assert_eq!(AmzDateTime::of(time).as_str(), expected, "{seconds}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_key() {
        let signer = PostSigner::new("http://127.0.0.1:8080/x", "us-east-1", "connect", "application/json");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        signer.sign(&Credentials::new("AKID", "very-secret", None, None, "t"), b"{}", time).unwrap();
        let shown = format!("{signer:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("key:"), "{shown}");
    }
}
