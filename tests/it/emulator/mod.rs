//! Integration tests of the local Connect emulator: the SigV4 vectors, every answer class over
//! HTTP, the binary, and a real AWS client (boto3).

mod binary;
mod boto3;
mod client;
mod http_api;
mod http_faults;
mod vectors;

use connect_attrs::connect::sign::signature_headers;
use connect_attrs::emulator::{Config, Credential, Handle, spawn};
use std::time::SystemTime;

pub use client::{Answer, Client};

/// A signed request, ready to send: the headers a client would put on the wire.
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Who signs, where and when.
pub struct Signer<'a> {
    pub credential: &'a Credential,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
}

impl Signer<'_> {
    /// Signs a POST like the AWS SDKs do (the client's signer, on the `aws-sigv4` crate), for `host`.
    pub fn sign(&self, host: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Signed {
        let url = format!("http://{host}{path}");
        let credentials = self.credential.into();
        let added =
            signature_headers(&credentials, self.region, self.service, &url, extra, body, self.time).expect("sign");
        let mut headers: Vec<(String, String)> = vec![("host".into(), host.into())];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        headers.extend(added.into_iter().map(|(k, v)| (k.to_string(), v)));
        Signed { headers, body: body.to_vec() }
    }
}

/// An UpdateContactAttributes body.
pub fn update_body(instance: &str, contact: &str, attributes: serde_json::Value) -> Vec<u8> {
    serde_json::json!({"InstanceId": instance, "InitialContactId": contact, "Attributes": attributes})
        .to_string()
        .into_bytes()
}

/// Signs `body` for UpdateContactAttributes with `credential`, now, in us-east-1.
pub fn signed_update(handle: &Handle, credential: &Credential, body: &[u8]) -> Signed {
    let host = format!("127.0.0.1:{}", handle.port());
    let json = [("content-type", "application/json")];
    let signer = Signer { credential, region: "us-east-1", service: "connect", time: SystemTime::now() };
    signer.sign(&host, "/contact/attributes", &json, body)
}

/// Starts an emulator and opens one keep-alive connection to it.
pub fn start(config: Config) -> (Handle, Client) {
    let handle = spawn(config).expect("emulator starts");
    let client = Client::connect(handle.port());
    (handle, client)
}

/// Sends a signed UpdateContactAttributes with the default credentials.
pub fn update(handle: &Handle, client: &mut Client, body: &[u8]) -> Answer {
    let signed = signed_update(handle, &Credential::default(), body);
    client.post("/contact/attributes", &signed).expect("an answer")
}
