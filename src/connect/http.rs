//! The real sender: signs each attempt afresh (SigV4 dates expire) and POSTs it with reqwest over
//! keep-alive connections. Answers are turned into [`Attempt`]s; nothing here decides to retry,
//! except one re-sign with refreshed credentials when the service says they expired.

use super::classify::{self, Answer, Attempt};
use super::credentials::CredentialCache;
use super::sign::PostSigner;
use crate::wire::{SIGNING_NAME, UPDATE_CONTACT_ATTRIBUTES_PATH};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const CONTENT_TYPE: &str = "application/json";

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct HttpSenderError(String);

pub struct HttpSender {
    client: reqwest::Client,
    url: String,
    /// `url` parsed once: parsing (with IDNA) on every request showed in profiles.
    parsed: reqwest::Url,
    signer: PostSigner,
    credentials: Arc<CredentialCache>,
}

impl HttpSender {
    /// `endpoint` is the service root (`https://connect.us-east-1.amazonaws.com`, or the emulator).
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: Arc<CredentialCache>,
        timeout: Duration,
    ) -> Result<HttpSender, HttpSenderError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            // Retries are ours (deliver), with backoff: reqwest's own policy would copy every
            // request in case it retries. A redirect cannot carry the signature anyway.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build();
        let raw = format!("{}{UPDATE_CONTACT_ATTRIBUTES_PATH}", endpoint.trim_end_matches('/'));
        let parsed = reqwest::Url::parse(&raw).map_err(|e| HttpSenderError(format!("endpoint {raw}: {e}")))?;
        // Sign the URL as it is sent (default port dropped, IPv6 written canonically).
        let url = String::from(parsed.clone());
        let client = client.map_err(|e| HttpSenderError(e.to_string()))?;
        let signer = PostSigner::new(&url, region, SIGNING_NAME, CONTENT_TYPE);
        Ok(HttpSender { client, url, parsed, signer, credentials })
    }

    /// One UpdateContactAttributes call (plus one re-sign if the credentials had expired).
    pub async fn post(&self, body: Bytes) -> Attempt {
        let credentials = match self.credentials.get(SystemTime::now()).await {
            Ok(credentials) => credentials,
            Err(err) => return credentials_attempt(err.to_string()),
        };
        let attempt = self.post_signed(&credentials, body.clone()).await;
        if !is_expired(&attempt) {
            return attempt;
        }
        tracing::info!("the service says the credentials expired: fetching new ones");
        match self.credentials.refresh_after(&credentials).await {
            Ok(fresh) => self.post_signed(&fresh, body).await,
            Err(_) => attempt,
        }
    }

    async fn post_signed(&self, credentials: &Credentials, body: Bytes) -> Attempt {
        let signed = match self.signer.sign(credentials, &body, SystemTime::now()) {
            Ok(headers) => headers,
            Err(err) => return credentials_attempt(err.to_string()),
        };
        tracing::trace!(url = %self.url, headers = %Redacted(&signed), bytes = body.len(), "POST");
        let mut request = reqwest::Request::new(reqwest::Method::POST, self.parsed.clone());
        let headers = request.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in signed {
            // Static lowercase names; the values are ASCII (the signer checks the session token).
            match HeaderValue::try_from(value) {
                Ok(value) => headers.insert(HeaderName::from_static(name), value),
                Err(_) => return credentials_attempt(format!("the signed {name} header is not a valid header value")),
            };
        }
        *request.body_mut() = Some(body.into());
        match self.client.execute(request).await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let headers = std::mem::take(response.headers_mut());
                let body = response.bytes().await.unwrap_or_default();
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                Attempt::Answered(classify::answer(status, header, &body))
            }
            Err(err) => Attempt::Transport { timeout: err.is_timeout(), message: describe(err) },
        }
    }
}

/// The URL as the HTTP client will send it (default port dropped, IPv6 written canonically), so
/// the Host that is signed is the Host that is sent.
pub fn normalized(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_string(), String::from)
}

/// Headers as a log line shows them: the signature and the session token never appear.
struct Redacted<'a>(&'a [(&'static str, String)]);

impl std::fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            let secret =
                name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-amz-security-token");
            let shown = if secret { "<redacted>" } else { value.as_str() };
            write!(f, "{}{name}: {shown}", if i == 0 { "" } else { "; " })?;
        }
        Ok(())
    }
}

fn is_expired(attempt: &Attempt) -> bool {
    matches!(attempt, Attempt::Answered(a) if matches!(a.error_type.as_deref(), Some("ExpiredTokenException" | "ExpiredToken")))
}

/// No credentials to sign with: as fatal as the service refusing them.
fn credentials_attempt(message: String) -> Attempt {
    Attempt::Answered(Answer {
        status: 403,
        error_type: Some("MissingCredentials".into()),
        message: Some(message),
        request_id: None,
    })
}

/// reqwest's error with its causes, without the URL.
fn describe(error: reqwest::Error) -> String {
    super::describe_error(&error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_url_is_the_one_sent() {
        assert_eq!(
            normalized("https://connect.us-east-1.amazonaws.com:443/x"),
            "https://connect.us-east-1.amazonaws.com/x"
        );
        assert_eq!(normalized("http://[::ffff:127.0.0.1]:8080/x"), "http://[::ffff:7f00:1]:8080/x");
        assert_eq!(normalized("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080/x");
    }

    #[test]
    fn logged_headers_hide_the_signature_and_the_session_token() {
        let headers = [
            ("x-amz-date", "20260301T000000Z".to_string()),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/connect/aws4_request, SignedHeaders=host, Signature=abcdef".to_string()),
            ("x-amz-security-token", "TOKEN-VALUE".to_string()),
        ];
        let shown = Redacted(&headers).to_string();
        assert_eq!(shown, "x-amz-date: 20260301T000000Z; authorization: <redacted>; x-amz-security-token: <redacted>");
    }
}
