//! SigV4 signing with the aws-sigv4 crate. The time is a parameter: the signer never reads the
//! clock, so a test can sign at a vector's time and compare with botocore's signature.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

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
            let signed = signature_headers(
                &credentials,
                &v.region,
                "connect",
                &v.url,
                &[("content-type", content_type)],
                v.body.as_bytes(),
                vector_time(&v.time),
            )
            .unwrap();
            let get = |name: &str| signed.iter().find(|(n, _)| *n == name).map(|(_, value)| value.clone());
            assert_eq!(get("authorization").as_ref(), Some(&v.headers["Authorization"]), "{}", v.name);
            assert_eq!(get("x-amz-date").as_ref(), Some(&v.headers["X-Amz-Date"]), "{}", v.name);
            assert_eq!(get("x-amz-security-token"), v.headers.get("X-Amz-Security-Token").cloned(), "{}", v.name);
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} valid vectors");
    }
}
