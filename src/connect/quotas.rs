//! `--rate auto`: the account's applied value of the Service Quotas quota "Rate of
//! UpdateContactAttributes API requests" (service code `connect`), found by its name through
//! ListServiceQuotas (JSON 1.1, SigV4 service `servicequotas`).

use super::credentials::CredentialCache;
use super::sign::signature_headers;
use serde::Deserialize;
use std::time::{Duration, SystemTime};

pub const QUOTA_NAME: &str = "Rate of UpdateContactAttributes API requests";
const SERVICE_CODE: &str = "connect";
const SIGNING_NAME: &str = "servicequotas";
const TARGET: &str = "ServiceQuotasV20190624.ListServiceQuotas";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Pages to read before giving up (Amazon Connect has about a hundred quotas).
const MAX_PAGES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("{0}")]
    Request(String),
    #[error("Service Quotas answered HTTP {status} {error_type}: {message}")]
    Refused { status: u16, error_type: String, message: String },
    #[error("Service Quotas has no quota named {QUOTA_NAME:?} for service code connect")]
    NotFound,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(rename = "Quotas", default)]
    quotas: Vec<Quota>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Quota {
    #[serde(rename = "QuotaName")]
    name: Option<String>,
    #[serde(rename = "Value")]
    value: Option<f64>,
}

/// The Service Quotas endpoint: `AWS_ENDPOINT_URL_SERVICE_QUOTAS`, `AWS_ENDPOINT_URL`, else regional.
pub fn endpoint(region: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    env("AWS_ENDPOINT_URL_SERVICE_QUOTAS")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| format!("https://servicequotas.{region}.amazonaws.com"))
}

/// The applied requests-per-second value of the quota, in this account and region.
pub async fn update_contact_attributes_rate(
    endpoint: &str,
    region: &str,
    credentials: &CredentialCache,
) -> Result<f64, QuotaError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| QuotaError::Request(e.to_string()))?;
    let url = super::http::normalized(&format!("{}/", endpoint.trim_end_matches('/')));
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut request = serde_json::json!({ "ServiceCode": SERVICE_CODE, "MaxResults": 100 });
        if let Some(token) = &next_token {
            request["NextToken"] = serde_json::Value::String(token.clone());
        }
        let page = list_page(&client, &url, region, credentials, request.to_string()).await?;
        let found = page.quotas.iter().find(|q| q.name.as_deref() == Some(QUOTA_NAME)).and_then(|q| q.value);
        if let Some(value) = found.filter(|v| v.is_finite() && *v > 0.0) {
            return Ok(value);
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => break,
        }
    }
    Err(QuotaError::NotFound)
}

async fn list_page(
    client: &reqwest::Client,
    url: &str,
    region: &str,
    credentials: &CredentialCache,
    body: String,
) -> Result<Page, QuotaError> {
    let credentials = credentials.get(SystemTime::now()).await.map_err(|e| QuotaError::Request(e.to_string()))?;
    let headers = [("content-type", CONTENT_TYPE), ("x-amz-target", TARGET)];
    let signed =
        signature_headers(&credentials, region, SIGNING_NAME, url, &headers, body.as_bytes(), SystemTime::now())
            .map_err(|e| QuotaError::Request(e.to_string()))?;
    let mut request = client.post(url).header("content-type", CONTENT_TYPE).header("x-amz-target", TARGET);
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let response =
        request.body(body).send().await.map_err(|e| QuotaError::Request(super::describe_error(&e.without_url())))?;
    let status = response.status().as_u16();
    let header = {
        let headers = response.headers().clone();
        move |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    };
    let bytes = response.bytes().await.map_err(|e| QuotaError::Request(super::describe_error(&e.without_url())))?;
    if !(200..300).contains(&status) {
        let answer = super::classify::answer(status, header, &bytes);
        return Err(QuotaError::Refused {
            status,
            error_type: answer.error_type.unwrap_or_default(),
            message: super::scrub::service_text(&answer.message.unwrap_or_default(), Some(&credentials)),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| QuotaError::Request(format!("unreadable ListServiceQuotas answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_precedence() {
        let both = |name: &str| match name {
            "AWS_ENDPOINT_URL_SERVICE_QUOTAS" => Some("http://127.0.0.1:1".to_string()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:2".to_string()),
            _ => None,
        };
        assert_eq!(endpoint("us-east-1", &both), "http://127.0.0.1:1");
        let global = |name: &str| (name == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:2".to_string());
        assert_eq!(endpoint("us-east-1", &global), "http://127.0.0.1:2");
        assert_eq!(endpoint("eu-west-2", &|_| None), "https://servicequotas.eu-west-2.amazonaws.com");
    }

    #[test]
    fn pages_are_read_by_quota_name() {
        let page: Page = serde_json::from_str(
            r#"{"Quotas":[{"QuotaName":"Other","Value":3.0},{"QuotaName":"Rate of UpdateContactAttributes API requests","Value":12.0}],"NextToken":"x"}"#,
        )
        .unwrap();
        assert_eq!(page.quotas[1].value, Some(12.0));
        assert_eq!(page.next_token.as_deref(), Some("x"));
    }
}
