//! What crosses the wire for UpdateContactAttributes, shared by the client and the emulator:
//! the request body, the error body, and the error type names the service uses.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The request path of UpdateContactAttributes.
pub const UPDATE_CONTACT_ATTRIBUTES_PATH: &str = "/contact/attributes";
/// The SigV4 signing name of Amazon Connect.
pub const SIGNING_NAME: &str = "connect";
/// The header holding the error type of a failed call.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";
/// The header holding the request id the service assigned.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// The request body. Borrowing keeps building a request free of copies.
#[derive(Debug, Serialize)]
pub struct UpdateContactAttributes<'a, A: Serialize> {
    #[serde(rename = "InstanceId")]
    pub instance_id: &'a str,
    #[serde(rename = "InitialContactId")]
    pub initial_contact_id: &'a str,
    #[serde(rename = "Attributes")]
    pub attributes: A,
}

/// The request body as the service receives it (owned; every field optional so the emulator can
/// answer a missing one the way the service does).
#[derive(Debug, Deserialize)]
pub struct UpdateContactAttributesInput {
    #[serde(rename = "InstanceId")]
    pub instance_id: Option<String>,
    #[serde(rename = "InitialContactId")]
    pub initial_contact_id: Option<String>,
    #[serde(rename = "Attributes")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}

/// Error type names (the `x-amzn-ErrorType` header, without the `:http://...` suffix).
pub mod error_type {
    pub const INVALID_REQUEST: &str = "InvalidRequestException";
    pub const INVALID_PARAMETER: &str = "InvalidParameterException";
    pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";
    pub const INTERNAL_SERVICE: &str = "InternalServiceException";
    pub const THROTTLING: &str = "ThrottlingException";
    pub const INVALID_ACTIVE_REGION: &str = "InvalidActiveRegionException";
    pub const INVALID_SIGNATURE: &str = "InvalidSignatureException";
    pub const UNRECOGNIZED_CLIENT: &str = "UnrecognizedClientException";
    pub const EXPIRED_TOKEN: &str = "ExpiredTokenException";
    pub const ACCESS_DENIED: &str = "AccessDeniedException";
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailableException";
}
