//! Building answers the way AWS shapes them: `x-amzn-RequestId` on everything, and errors as a
//! status, an `x-amzn-ErrorType` header and a JSON `{"message": ...}` body; and, for tests of an
//! endpoint that is not Connect, an HTML page as a web server sends.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::wire::{ERROR_TYPE_HEADER, ErrorBody, REQUEST_ID_HEADER};

pub type Body = Full<Bytes>;

/// The REST-JSON content type of Connect answers.
pub const REST_JSON: &str = "application/json";
/// The JSON 1.1 content type of Service Quotas answers.
pub const JSON_11: &str = "application/x-amz-json-1.1";

/// An error answer before it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, error_type, message: message.into() }
    }
}

/// A fresh request id shaped like AWS's (a random UUID v4).
pub fn request_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{:032x}", (bits & !(0xF000 << 64) & !(0xC << 60)) | (0x4000 << 64) | (0x8 << 60));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

pub fn json(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    response
}

pub fn error(failure: &Failure, content_type: &'static str) -> Response<Body> {
    let body = serde_json::to_vec(&ErrorBody { message: failure.message.clone() }).unwrap_or_default();
    let mut response = json(failure.status, content_type, body);
    response.headers_mut().insert(ERROR_TYPE_HEADER, HeaderValue::from_static(failure.error_type));
    response
}

/// What a web server, load balancer or proxy sends: the status and an HTML page, with no AWS
/// error type and no request id.
pub fn html_page(status: StatusCode) -> Response<Body> {
    let page = format!("<html><body><h1>{status}</h1></body></html>");
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let lengths: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
        assert_ne!(request_id(), id);
    }

    #[test]
    fn errors_carry_type_request_id_and_message() {
        let failure = Failure::new(StatusCode::TOO_MANY_REQUESTS, "ThrottlingException", "Rate exceeded");
        let response = error(&failure, REST_JSON);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[ERROR_TYPE_HEADER], "ThrottlingException");
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));
        assert_eq!(response.headers()[header::CONTENT_TYPE], REST_JSON);
    }
}
