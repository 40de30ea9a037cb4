//! What an attempt came back with, and what it means: a pure function from an answer to a class,
//! kept apart from the policy that decides how long to wait and how often to try (as smithy-rs
//! does). Error type and message are read the way the AWS SDKs read them.

use crate::wire::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER};

/// One attempt's result as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The service answered (any status).
    Answered(Answer),
    /// No answer: connection refused or reset, closed without an answer, timeout.
    Transport { message: String, timeout: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub status: u16,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

/// What to do about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// Too fast: slow down and try again; does not spend the contact's attempts.
    Throttled,
    /// Worth another try after a backoff.
    Transient,
    /// This contact cannot be updated (bad data, contact not found, too old).
    Permanent,
    /// Nothing will work until a person fixes something: stop the run.
    Fatal(Fatal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fatal {
    /// Unknown access key, bad signature, missing authentication.
    Credentials,
    AccessDenied,
    ExpiredToken,
    /// Global Resiliency: the instance is active in another region.
    InactiveRegion,
    /// An answer Connect never gives: a redirect, or a 4xx with no AWS error type (an HTML page).
    /// Something else answered (a web server, load balancer or proxy): every contact would get
    /// the same, so it says nothing about this one.
    NotConnect,
}

const THROTTLING: [&str; 7] = [
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
];
const CREDENTIALS: [&str; 7] = [
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
];
const EXPIRED: [&str; 3] = ["ExpiredTokenException", "ExpiredToken", "RequestExpired"];
const ACCESS_DENIED: [&str; 2] = ["AccessDeniedException", "AccessDenied"];

pub fn classify(attempt: &Attempt) -> Class {
    let answer = match attempt {
        Attempt::Transport { .. } => return Class::Transient,
        Attempt::Answered(answer) => answer,
    };
    let kind = answer.error_type.as_deref().unwrap_or("");
    if (200..300).contains(&answer.status) {
        Class::Success
    } else if answer.status == 429 || THROTTLING.contains(&kind) {
        Class::Throttled
    } else if EXPIRED.contains(&kind) {
        Class::Fatal(Fatal::ExpiredToken)
    } else if CREDENTIALS.contains(&kind) {
        Class::Fatal(Fatal::Credentials)
    } else if ACCESS_DENIED.contains(&kind) {
        Class::Fatal(Fatal::AccessDenied)
    } else if kind == "InvalidActiveRegionException" {
        Class::Fatal(Fatal::InactiveRegion)
    } else if matches!(answer.status, 500 | 502 | 503 | 504) || answer.status >= 500 {
        Class::Transient
    } else if not_from_connect(answer) {
        Class::Fatal(Fatal::NotConnect)
    } else {
        Class::Permanent
    }
}

/// Connect names the error of every 4xx it sends (the `x-amzn-ErrorType` header or the body's
/// `__type`/`code`), and never redirects. A 403 with no type is not AWS refusing the credentials
/// either: AWS says which (`InvalidSignatureException`, `AccessDeniedException`...).
fn not_from_connect(answer: &Answer) -> bool {
    let untyped_4xx = (400..500).contains(&answer.status) && answer.error_type.is_none();
    (300..400).contains(&answer.status) || untyped_4xx
}

/// Reads status, headers and body into an [`Answer`], as the SDKs do: the error type is the
/// `x-amzn-ErrorType` header, else the body's `code` or `__type`, keeping only the name (after a
/// `#`, before a `:`); the message is `message`, `Message` or `errorMessage`.
pub fn answer(status: u16, header: impl Fn(&str) -> Option<String>, body: &[u8]) -> Answer {
    let request_id = header(REQUEST_ID_HEADER);
    if (200..300).contains(&status) {
        return Answer { status, request_id, ..Answer::default() };
    }
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let error_type = header(ERROR_TYPE_HEADER)
        .or_else(|| text("code"))
        .or_else(|| text("__type"))
        .map(|raw| sanitize_error_type(&raw))
        .filter(|t| !t.is_empty());
    let message = text("message").or_else(|| text("Message")).or_else(|| text("errorMessage"));
    Answer { status, error_type, message, request_id }
}

/// `aws.protocoltests#FooError:http://internal.amazon.com/...` -> `FooError`.
pub fn sanitize_error_type(raw: &str) -> String {
    let before_colon = raw.split(':').next().unwrap_or("");
    before_colon.rsplit('#').next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, kind: Option<&str>) -> Attempt {
        Attempt::Answered(Answer { status, error_type: kind.map(str::to_string), ..Answer::default() })
    }

    #[test]
    fn success() {
        assert_eq!(classify(&answered(200, None)), Class::Success);
    }

    #[test]
    fn throttling_by_status_or_code() {
        assert_eq!(classify(&answered(429, None)), Class::Throttled);
        assert_eq!(classify(&answered(400, Some("ThrottlingException"))), Class::Throttled);
        assert_eq!(classify(&answered(400, Some("TooManyRequestsException"))), Class::Throttled);
        assert_eq!(classify(&answered(400, Some("LimitExceededException"))), Class::Throttled);
    }

    #[test]
    fn transient_server_errors_and_transport() {
        for status in [500, 502, 503, 504] {
            assert_eq!(classify(&answered(status, None)), Class::Transient, "{status}");
        }
        assert_eq!(classify(&answered(500, Some("InternalServiceException"))), Class::Transient);
        let dropped = Attempt::Transport { message: "connection closed".into(), timeout: false };
        assert_eq!(classify(&dropped), Class::Transient);
    }

    #[test]
    fn permanent_client_errors() {
        for kind in ["InvalidRequestException", "InvalidParameterException", "ResourceNotFoundException"] {
            let status = if kind.starts_with("Resource") { 404 } else { 400 };
            assert_eq!(classify(&answered(status, Some(kind))), Class::Permanent, "{kind}");
        }
    }

    #[test]
    fn fatal_errors() {
        assert_eq!(classify(&answered(403, Some("UnrecognizedClientException"))), Class::Fatal(Fatal::Credentials));
        assert_eq!(classify(&answered(403, Some("InvalidSignatureException"))), Class::Fatal(Fatal::Credentials));
        assert_eq!(classify(&answered(403, Some("AccessDeniedException"))), Class::Fatal(Fatal::AccessDenied));
        assert_eq!(classify(&answered(403, Some("ExpiredTokenException"))), Class::Fatal(Fatal::ExpiredToken));
        assert_eq!(classify(&answered(400, Some("InvalidActiveRegionException"))), Class::Fatal(Fatal::InactiveRegion));
    }

    #[test]
    fn answers_connect_never_gives_are_not_connect() {
        for status in [301, 302, 307, 400, 401, 403, 404, 405, 413] {
            assert_eq!(classify(&answered(status, None)), Class::Fatal(Fatal::NotConnect), "{status}");
        }
        // What a web server or proxy sends: an HTML page, no AWS error type anywhere.
        let html = answer(405, |_| None, b"<html><body><h1>405 Not Allowed</h1></body></html>");
        assert_eq!(classify(&Attempt::Answered(html)), Class::Fatal(Fatal::NotConnect));
        // A typed 3xx is still no answer of Connect's.
        assert_eq!(classify(&answered(301, Some("Moved"))), Class::Fatal(Fatal::NotConnect));
    }

    #[test]
    fn connects_own_4xx_stay_with_the_contact() {
        let not_found = answer(
            404,
            |name| (name == ERROR_TYPE_HEADER).then(|| "ResourceNotFoundException".to_string()),
            br#"{"message":"Contact not found"}"#,
        );
        assert_eq!(classify(&Attempt::Answered(not_found)), Class::Permanent);
        let typed_in_body = answer(400, |_| None, br#"{"__type":"com.amazonaws.connect#InvalidRequestException"}"#);
        assert_eq!(classify(&Attempt::Answered(typed_in_body)), Class::Permanent);
        // A proxy's 429 or 5xx may pass: they stay throttled and transient.
        assert_eq!(classify(&answered(429, None)), Class::Throttled);
        assert_eq!(classify(&answered(502, None)), Class::Transient);
    }

    #[test]
    fn answer_reads_header_then_body() {
        let headers = |name: &str| match name {
            "x-amzn-errortype" => Some("ResourceNotFoundException:http://internal.amazon.com/coral/".to_string()),
            "x-amzn-requestid" => Some("req-1".to_string()),
            _ => None,
        };
        let a = answer(404, headers, br#"{"message":"Contact not found"}"#);
        assert_eq!(a.error_type.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(a.message.as_deref(), Some("Contact not found"));
        assert_eq!(a.request_id.as_deref(), Some("req-1"));

        let a =
            answer(400, |_| None, br#"{"__type":"com.amazonaws.connect#InvalidParameterException","Message":"bad"}"#);
        assert_eq!(a.error_type.as_deref(), Some("InvalidParameterException"));
        assert_eq!(a.message.as_deref(), Some("bad"));

        let a = answer(400, |_| None, br#"{"code":"Throttling","errorMessage":"slow"}"#);
        assert_eq!(a.error_type.as_deref(), Some("Throttling"));
        assert_eq!(a.message.as_deref(), Some("slow"));

        let a = answer(502, |_| None, b"<html>bad gateway</html>");
        assert_eq!((a.error_type, a.message), (None, None));
    }
}
