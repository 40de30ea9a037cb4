//! The floors P2 is read against: UpdateContactAttributes requests, each signed once, sent
//! `requests` times in all to the emulator by a client that does nothing else (each of its
//! `concurrency` tasks sends its own contact's request over and over). Each floor runs in a child
//! process (this bench binary started again with `--floor`), so its CPU time is its own.
//!
//! - `transport`: connect-attrs's own keep-alive pool (`connect::pool`, hyper's HTTP/1.1) on the
//!   same one-worker tokio runtime the tool uses: what sending costs with no reading, merging,
//!   rate control, signing, classifying or journal.
//! - `sockets`: the request's bytes written and the answer read on plain tokio sockets, with no
//!   HTTP library: what the kernel and the runtime cost for one write and one read per request.

use aws_credential_types::Credentials;
use bytes::Bytes;
use connect_attrs::connect::pool::Connections;
use connect_attrs::connect::request_body;
use connect_attrs::connect::route;
use connect_attrs::connect::sign::PostSigner;
use connect_attrs::emulator::{DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};
use connect_attrs::merge::Contact;
use connect_attrs::wire::{SIGNING_NAME, UPDATE_CONTACT_ATTRIBUTES_PATH};
use http_body_util::Full;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const KINDS: [&str; 2] = ["transport", "sockets"];

/// `--floor KIND URL REQUESTS CONCURRENCY`: runs one floor client, and says how it ended (failure
/// if any answer was not a 200); `None` when the arguments do not ask for a floor.
pub fn main_if_asked(args: &[String]) -> Option<ExitCode> {
    let at = args.iter().position(|a| a == "--floor")?;
    let [kind, url, requests, concurrency] = args.get(at + 1..at + 5)? else { return None };
    let (Ok(requests), Ok(concurrency)) = (requests.parse::<usize>(), concurrency.parse::<usize>()) else {
        eprintln!("usage: --floor KIND URL REQUESTS CONCURRENCY, KIND one of {KINDS:?}");
        return Some(ExitCode::FAILURE);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().ok()?;
    let ok = runtime.block_on(async move {
        let left = Arc::new(AtomicUsize::new(requests));
        let connections = Arc::new(pool(url));
        let mut tasks = Vec::new();
        for task in 0..concurrency {
            let (left, connections) = (left.clone(), connections.clone());
            let (kind, request) = (kind.clone(), Signed::new(url, task));
            tasks.push(tokio::spawn(async move {
                match kind.as_str() {
                    "transport" => through_pool(&connections, &request, &left).await,
                    "sockets" => through_socket(&request, &left).await,
                    other => panic!("unknown floor {other}"),
                }
            }));
        }
        let mut ok = true;
        for task in tasks {
            ok &= task.await.expect("floor task");
        }
        ok
    });
    Some(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One request, signed once: a floor run must end within the emulator's 5 minutes of clock skew.
struct Signed {
    head: http::request::Parts,
    body: Bytes,
    /// The whole request as it goes on the wire, for the socket floor.
    wire: Vec<u8>,
}

impl Signed {
    /// The request for contact number `contact`.
    fn new(url: &str, contact: usize) -> Signed {
        let full = format!("{url}{UPDATE_CONTACT_ATTRIBUTES_PATH}");
        let signer = PostSigner::new(&full, "us-east-1", SIGNING_NAME, "application/json");
        let credentials = Credentials::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None, None, "floor");
        // The contact P2's input gives, and its body as connect-attrs builds it.
        let attributes = [("CustomerTier", "Gold".to_string()), ("LastOrderId", format!("ORD-{contact}"))]
            .into_iter()
            .chain([("OpenCases", (contact % 5).to_string())])
            .map(|(key, value)| (key.to_string(), value))
            .collect();
        let body = Bytes::from(request_body(&Contact {
            instance_id: "bench-instance".into(),
            contact_id: format!("{contact:08x}-1111-2222-3333-444444444444"),
            attributes,
            lines: Vec::new(),
        }));
        let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
        let mut request = http::Request::post(UPDATE_CONTACT_ATTRIBUTES_PATH)
            .header(http::header::HOST, &host)
            .header(http::header::CONTENT_TYPE, "application/json");
        let mut wire = format!(
            "POST {UPDATE_CONTACT_ATTRIBUTES_PATH} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in signer.sign(&credentials, &body, SystemTime::now()).expect("sign") {
            request = request.header(name, &value);
            wire.push_str(&format!("{name}: {value}\r\n"));
        }
        wire.push_str("\r\n");
        let mut wire = wire.into_bytes();
        wire.extend_from_slice(&body);
        let (head, ()) = request.body(()).expect("request").into_parts();
        Signed { head, body, wire }
    }
}

fn pool(url: &str) -> Connections {
    let uri: http::Uri = url.parse().expect("emulator URL");
    // The emulator is on this machine: never proxied, whatever the environment says.
    let (connector, _) =
        route::connector(&uri, &hyper_util::client::proxy::matcher::Matcher::from_env(), Duration::from_secs(10))
            .expect("connector");
    Connections::new(connector, uri, Duration::from_secs(50))
}

/// Takes one of the requests left, if any.
fn take(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
}

async fn through_pool(connections: &Connections, signed: &Signed, left: &AtomicUsize) -> bool {
    while take(left) {
        let mut request = http::Request::new(Full::new(signed.body.clone()));
        *request.method_mut() = signed.head.method.clone();
        *request.uri_mut() = signed.head.uri.clone();
        *request.headers_mut() = signed.head.headers.clone();
        match connections.exchange(request).await {
            Ok((parts, _)) if parts.status == 200 => {}
            _ => return false,
        }
    }
    true
}

async fn through_socket(signed: &Signed, left: &AtomicUsize) -> bool {
    let authority = signed.head.headers[http::header::HOST].to_str().expect("host");
    let mut socket = tokio::net::TcpStream::connect(authority).await.expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    let mut buffer = vec![0u8; 64 << 10];
    while take(left) {
        socket.write_all(&signed.wire).await.expect("write");
        // Read one whole answer: its head, then as many body bytes as content-length says.
        let mut filled = 0;
        loop {
            assert!(filled < buffer.len(), "an answer longer than {} bytes", buffer.len());
            let n = socket.read(&mut buffer[filled..]).await.expect("read");
            assert!(n > 0, "the emulator closed the connection");
            filled += n;
            if answer_length(&buffer[..filled]).is_some_and(|length| filled >= length) {
                if !buffer.starts_with(b"HTTP/1.1 200") {
                    return false;
                }
                break;
            }
        }
    }
    true
}

/// The whole length of the answer at the start of `bytes`, once its head is complete (the
/// emulator always sends content-length).
fn answer_length(bytes: &[u8]) -> Option<usize> {
    const NAME: &[u8] = b"content-length:";
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let length = bytes[..end]
        .split(|&b| b == b'\n')
        .find(|line| line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME))
        .and_then(|line| std::str::from_utf8(&line[NAME.len()..]).ok())
        .and_then(|value| value.trim().parse::<usize>().ok())?;
    Some(end + length)
}
