//! The real sender: signs each attempt afresh (SigV4 dates expire) and POSTs it over keep-alive
//! HTTP/1.1 connections. Answers are turned into [`Attempt`]s; nothing here decides to retry,
//! except one re-sign with refreshed credentials when the service says they expired.
//!
//! This hot path uses hyper's HTTP/1.1 connections directly, kept in [`super::pool`] and made by
//! [`super::route`]; reqwest still serves the occasional Service Quotas lookup. On a no-quota run
//! reqwest's own layers (URL handling, proxy matching per request, its service stack) cost about
//! a third of the client's user CPU (BENCHMARKS.md, "Ninth session"), and hyper's pooled client
//! much of the rest ("Eleventh session").

use super::classify::{self, Answer, Attempt};
use super::credentials::CredentialCache;
use super::pool::Connections;
use super::sign::PostSigner;
use crate::wire::{SIGNING_NAME, UPDATE_CONTACT_ATTRIBUTES_PATH};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::Full;
use hyper_util::client::proxy::matcher::Matcher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const CONTENT_TYPE: &str = "application/json";
/// How long a connection may sit idle and still be used: less than the minute after which AWS's
/// front ends close idle connections.
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct HttpSenderError(String);

pub struct HttpSender {
    connections: Connections,
    url: String,
    /// The path, as the request line names it (the connection already goes to the host).
    path: http::Uri,
    host: HeaderValue,
    /// The whole exchange, from asking for a connection to the answer's last byte.
    timeout: Duration,
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
        let raw = format!("{}{UPDATE_CONTACT_ATTRIBUTES_PATH}", endpoint.trim_end_matches('/'));
        // Sign the URL as it is sent (default port dropped, IPv6 written canonically).
        let url = normalized(&raw);
        let uri: http::Uri = url.parse().map_err(|e| HttpSenderError(format!("endpoint {raw}: {e}")))?;
        let (connector, proxy) =
            super::route::connector(&uri, &Matcher::from_env(), Duration::from_secs(10)).map_err(HttpSenderError)?;
        if let Some(proxy) = proxy {
            tracing::info!(%proxy, "sending through the proxy the environment names");
        }
        // The Host that is signed: the URL's authority, with the default port already dropped.
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let host = HeaderValue::from_str(authority).map_err(|e| HttpSenderError(format!("endpoint {raw}: {e}")))?;
        let path = http::Uri::from_static(UPDATE_CONTACT_ATTRIBUTES_PATH);
        // No retries of its own (deliver retries, with backoff) and no redirects (a redirect
        // could not carry the signature anyway).
        let connections = Connections::new(connector, uri, IDLE_TIMEOUT);
        let signer = PostSigner::new(&url, region, SIGNING_NAME, CONTENT_TYPE);
        Ok(HttpSender { connections, url, path, host, timeout, signer, credentials })
    }

    /// The URL every request is POSTed to.
    pub fn url(&self) -> &str {
        &self.url
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
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.path.clone();
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in signed {
            // Static lowercase names; the values are ASCII (the signer checks the session token).
            match HeaderValue::try_from(value) {
                Ok(value) => headers.insert(HeaderName::from_static(name), value),
                Err(_) => return credentials_attempt(format!("the signed {name} header is not a valid header value")),
            };
        }
        match tokio::time::timeout(self.timeout, self.connections.exchange(request)).await {
            Ok(Ok((parts, body))) => {
                let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let mut answer = classify::answer(parts.status.as_u16(), header, &body);
                // A signature mismatch quotes the request it expected, session token included.
                answer.message = answer.message.map(|m| super::scrub::service_text(&m, Some(credentials)));
                Attempt::Answered(answer)
            }
            Ok(Err(error)) => {
                Attempt::Transport { timeout: timed_out(&*error), message: super::describe_error(&*error) }
            }
            Err(_) => Attempt::Transport {
                timeout: true,
                message: format!("no answer within {} s (--timeout)", self.timeout.as_secs_f64()),
            },
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

/// Whether an error or one of its causes is a timeout (connecting took longer than allowed).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        cause = error.source();
    }
    false
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
    fn a_timeout_anywhere_among_the_causes_is_a_timeout() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let timeout = Wrapper(std::io::Error::new(std::io::ErrorKind::TimedOut, "tcp connect timed out"));
        let refused = Wrapper(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        assert!(timed_out(&timeout));
        assert!(!timed_out(&refused));
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
