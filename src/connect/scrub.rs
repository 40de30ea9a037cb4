//! What a service says, made fit to print. AWS's answer to a signature that does not match quotes
//! the canonical request it expected, and that holds the `x-amz-security-token` header's value:
//! with a wrong secret and a valid session token, the token would reach the log, the summary and
//! errors.csv. Every message an AWS service sends goes through [`service_text`] before it is kept.
//!
//! Two passes: the credentials' own secret values, wherever they appear, and the places a
//! signed request carries secrets (the token header, `Signature=`, a presigned URL's token).

use aws_credential_types::Credentials;

const HIDDEN: &str = "<redacted>";

/// Where a secret value starts, each followed by the value up to a delimiter. Lowercase: the
/// text is searched without regard to case.
const MARKERS: [&str; 4] = ["x-amz-security-token:", "x-amz-security-token=", "signature=", "x-amz-signature="];

/// `text` with the secret key, the session token and any signature or token a quoted request
/// holds replaced by `<redacted>`. The access key id is not secret and stays.
pub fn service_text(text: &str, credentials: Option<&Credentials>) -> String {
    let mut clean = text.to_string();
    if let Some(credentials) = credentials {
        for secret in [Some(credentials.secret_access_key()), credentials.session_token()].into_iter().flatten() {
            // A short value would match ordinary text; real secrets are 40 characters and more.
            if secret.len() >= 16 {
                clean = clean.replace(secret, HIDDEN);
            }
        }
    }
    for marker in MARKERS {
        clean = hide_after(&clean, marker);
    }
    clean
}

/// Replaces the value after each `marker` (any case), up to whitespace, `,`, `&`, `'` or `"`.
fn hide_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(marker) {
        let value_start = at + found + marker.len();
        out.push_str(&text[at..value_start]);
        let value_len = text[value_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '&' | '\'' | '"'))
            .unwrap_or(text.len() - value_start);
        if value_len > 0 {
            out.push_str(HIDDEN);
        }
        at = value_start + value_len;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "SessionTokenValueQWERTY0123456789abcdefTOKEN";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn credentials() -> Credentials {
        Credentials::new("AKIDEXAMPLE", SECRET, Some(TOKEN.into()), None, "test")
    }

    #[test]
    fn a_quoted_canonical_request_loses_its_token() {
        let said = format!(
            "The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been\n'POST\n/contact/attributes\n\ncontent-type:application/json\nhost:connect.us-east-1.amazonaws.com\nx-amz-date:20261126T000000Z\nx-amz-security-token:{TOKEN}\n\ncontent-type;host;x-amz-date;x-amz-security-token\nabc'"
        );
        for credentials in [Some(credentials()), None] {
            let clean = service_text(&said, credentials.as_ref());
            assert!(!clean.contains(TOKEN), "{clean}");
            assert!(clean.contains("x-amz-security-token:<redacted>\n"), "{clean}");
            assert!(clean.contains("host:connect.us-east-1.amazonaws.com"), "{clean}");
        }
    }

    #[test]
    fn signatures_tokens_and_the_secret_are_hidden_wherever_they_are() {
        let said = format!(
            "Credential=AKIDEXAMPLE/20261126/us-east-1/connect/aws4_request, SignedHeaders=host, Signature=0123abcd; \
             url ?X-Amz-Security-Token={TOKEN}&X-Amz-Signature=ffee; secret {SECRET} and token {TOKEN} again"
        );
        let clean = service_text(&said, Some(&credentials()));
        for secret in [TOKEN, SECRET, "0123abcd", "ffee"] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(clean.contains("Credential=AKIDEXAMPLE/20261126"), "the access key id is not secret: {clean}");
    }

    #[test]
    fn ordinary_messages_are_left_alone() {
        for said in ["Contact not found: c-1", "Rate exceeded", "", "signature="] {
            assert_eq!(service_text(said, Some(&credentials())), said);
        }
    }
}
