//! The real sender: signs each attempt afresh (SigV4 dates expire) and POSTs it with reqwest over
//! keep-alive connections. Answers are turned into [`Attempt`]s; nothing here decides to retry,
//! except one re-sign with refreshed credentials when the service says they expired.

use super::classify::{self, Answer, Attempt};
use super::credentials::CredentialCache;
use super::sign::signature_headers;
use crate::wire::{SIGNING_NAME, UPDATE_CONTACT_ATTRIBUTES_PATH};
use aws_credential_types::Credentials;
use bytes::Bytes;
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
    region: String,
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
            .build();
        let url = format!("{}{UPDATE_CONTACT_ATTRIBUTES_PATH}", endpoint.trim_end_matches('/'));
        let parsed = reqwest::Url::parse(&url).map_err(|e| HttpSenderError(format!("endpoint {url}: {e}")))?;
        let client = client.map_err(|e| HttpSenderError(e.to_string()))?;
        Ok(HttpSender { client, url, parsed, region: region.to_string(), credentials })
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
        let signed = match signature_headers(
            credentials,
            &self.region,
            SIGNING_NAME,
            &self.url,
            &[("content-type", CONTENT_TYPE)],
            &body,
            SystemTime::now(),
        ) {
            Ok(headers) => headers,
            Err(err) => return credentials_attempt(err.to_string()),
        };
        let mut request = self.client.post(self.parsed.clone()).header("content-type", CONTENT_TYPE);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.bytes().await.unwrap_or_default();
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                Attempt::Answered(classify::answer(status, header, &body))
            }
            Err(err) => Attempt::Transport { timeout: err.is_timeout(), message: describe(err) },
        }
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
