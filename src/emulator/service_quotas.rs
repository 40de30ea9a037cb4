//! The two Service Quotas calls a client makes for `--rate auto` (JSON 1.1, `X-Amz-Target`,
//! signing name `servicequotas`), answering for service code `connect` with the quota "Rate of
//! UpdateContactAttributes API requests" set to the emulator's `--rate`.
//!
//! The quota code is the emulator's own (`UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE`); clients should
//! find the quota by its name, as the name is what AWS documents.

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::response::Failure;

/// The signing name of Service Quotas.
pub const SIGNING_NAME: &str = "servicequotas";
/// The `X-Amz-Target` prefix of Service Quotas operations.
pub const TARGET_PREFIX: &str = "ServiceQuotasV20190624.";
pub const SERVICE_CODE: &str = "connect";
pub const UPDATE_CONTACT_ATTRIBUTES_QUOTA_NAME: &str = "Rate of UpdateContactAttributes API requests";
pub const UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE: &str = "L-EMU0UCA1";
/// What the quota reads when the emulator runs without `--rate` (and so enforces no quota): a
/// small placeholder, so a client using `--rate auto` against it still gets a number.
pub const DEFAULT_RATE: f64 = 2.0;

const NO_SUCH_RESOURCE: &str = "NoSuchResourceException";
const ILLEGAL_ARGUMENT: &str = "IllegalArgumentException";
const INVALID_ACTION: &str = "InvalidAction";

#[derive(Debug, Deserialize)]
struct QuotaRequest {
    #[serde(rename = "ServiceCode")]
    service_code: Option<String>,
    #[serde(rename = "QuotaCode")]
    quota_code: Option<String>,
}

/// Answers the operation named by `target` (the whole `X-Amz-Target` value) with a JSON body.
pub fn handle(target: &str, body: &[u8], rate: Option<f64>, region: &str) -> Result<Value, Failure> {
    let request: QuotaRequest = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, ILLEGAL_ARGUMENT, format!("Malformed request body: {e}")))?;
    let service_code = request.service_code.as_deref().ok_or_else(|| illegal("ServiceCode is required"))?;
    if service_code != SERVICE_CODE {
        return Err(no_such(format!(
            "The request failed because the specified service {service_code} does not exist."
        )));
    }
    let quota = quota(rate, region);
    match target.strip_prefix(TARGET_PREFIX) {
        Some("ListServiceQuotas") => Ok(json!({ "Quotas": [quota] })),
        Some("GetServiceQuota") => match request.quota_code.as_deref() {
            Some(UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE) => Ok(json!({ "Quota": quota })),
            Some(other) => {
                Err(no_such(format!("The request failed because the specified quota {other} does not exist.")))
            }
            None => Err(illegal("QuotaCode is required")),
        },
        _ => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            INVALID_ACTION,
            format!("The emulator does not implement {target}"),
        )),
    }
}

fn quota(rate: Option<f64>, region: &str) -> Value {
    json!({
        "ServiceCode": SERVICE_CODE,
        "ServiceName": "Amazon Connect",
        "QuotaArn": format!("arn:aws:servicequotas:{region}:123456789012:connect/{UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE}"),
        "QuotaCode": UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE,
        "QuotaName": UPDATE_CONTACT_ATTRIBUTES_QUOTA_NAME,
        "Value": rate.unwrap_or(DEFAULT_RATE),
        "Unit": "None",
        "Adjustable": true,
        "GlobalQuota": false,
        "Period": { "PeriodValue": 1, "PeriodUnit": "SECOND" },
        "QuotaAppliedAtLevel": "ACCOUNT",
    })
}

fn illegal(message: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, ILLEGAL_ARGUMENT, message)
}

fn no_such(message: String) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, NO_SUCH_RESOURCE, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(operation: &str) -> String {
        format!("{TARGET_PREFIX}{operation}")
    }

    #[test]
    fn list_names_the_quota_with_the_configured_rate() {
        let answer =
            handle(&target("ListServiceQuotas"), br#"{"ServiceCode":"connect"}"#, Some(12.5), "us-east-1").unwrap();
        assert_eq!(answer["Quotas"][0]["QuotaName"], UPDATE_CONTACT_ATTRIBUTES_QUOTA_NAME);
        assert_eq!(answer["Quotas"][0]["Value"], 12.5);
    }

    #[test]
    fn get_answers_the_quota_by_code() {
        let body = format!(r#"{{"ServiceCode":"connect","QuotaCode":"{UPDATE_CONTACT_ATTRIBUTES_QUOTA_CODE}"}}"#);
        let answer = handle(&target("GetServiceQuota"), body.as_bytes(), None, "eu-west-2").unwrap();
        assert_eq!(answer["Quota"]["Value"], DEFAULT_RATE);
        assert!(answer["Quota"]["QuotaArn"].as_str().unwrap().contains("eu-west-2"));
    }

    #[test]
    fn other_services_quotas_and_operations_are_refused() {
        let other_service = handle(&target("ListServiceQuotas"), br#"{"ServiceCode":"ec2"}"#, None, "r");
        assert_eq!(other_service.unwrap_err().error_type, NO_SUCH_RESOURCE);
        let other_quota =
            handle(&target("GetServiceQuota"), br#"{"ServiceCode":"connect","QuotaCode":"L-1"}"#, None, "r");
        assert_eq!(other_quota.unwrap_err().error_type, NO_SUCH_RESOURCE);
        let other_operation =
            handle(&target("RequestServiceQuotaIncrease"), br#"{"ServiceCode":"connect"}"#, None, "r");
        assert_eq!(other_operation.unwrap_err().error_type, INVALID_ACTION);
        assert_eq!(handle(&target("ListServiceQuotas"), b"{", None, "r").unwrap_err().status, 400);
    }
}
