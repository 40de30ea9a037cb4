//! End-to-end throughput of the local Connect emulator: signed, valid UpdateContactAttributes
//! requests over keep-alive connections, no quota. The load generator is deliberately cheap (one
//! thread, pre-signed requests written as raw bytes, responses parsed by hand) so the figure is
//! the emulator's, not the client's.
//!
//! cargo bench --bench emulator_throughput -- [--connections N] [--seconds S] [--distinct D]
//!
//! The command and its figures are recorded in BENCHMARKS.md.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use connect_attrs::emulator::{Config, Credential, spawn};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TARGET_PER_SECOND: f64 = 20_000.0;

struct Options {
    /// Under `cargo test`: too short and unoptimized to judge the target.
    smoke: bool,
    connections: usize,
    seconds: u64,
    distinct: usize,
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    ok: u64,
    other: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; without it this runs under `cargo test`, where a one-second
    // smoke run keeps the benchmark from rotting. Unknown flags are ignored.
    let mut options = match args.iter().any(|a| a == "--bench") {
        true => Options { smoke: false, connections: 32, seconds: 5, distinct: 2_000 },
        false => Options { smoke: true, connections: 4, seconds: 1, distinct: 50 },
    };
    for pair in args.windows(2) {
        let value = pair[1].parse().ok();
        match (pair[0].as_str(), value) {
            ("--connections", Some(n)) => options.connections = n,
            ("--seconds", Some(n)) => options.seconds = n as u64,
            ("--distinct", Some(n)) => options.distinct = n,
            _ => {}
        }
    }
    options
}

/// One complete HTTP/1.1 request, signed now, as the bytes a client would write.
fn presign(port: u16, index: usize) -> Vec<u8> {
    let credential = Credential::default();
    let identity = aws_credential_types::Credentials::new(
        &credential.access_key_id,
        &credential.secret_access_key,
        None,
        None,
        "bench",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("connect")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let body = format!(
        r#"{{"InstanceId":"bench-instance","InitialContactId":"contact-{index:06}","Attributes":{{"Tier":"gold","Seq":"{index}"}}}}"#
    );
    let host = format!("127.0.0.1:{port}");
    let headers = [("host", host.as_str()), ("content-type", "application/json")];
    let url = format!("http://{host}/contact/attributes");
    let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = String::from("POST /contact/attributes HTTP/1.1\r\n");
    for (name, value) in headers.into_iter().chain(instructions.headers()) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    request.into_bytes()
}

/// Sends requests on one keep-alive connection until `deadline`.
async fn drive(port: u16, requests: Arc<Vec<Vec<u8>>>, start: usize, deadline: Instant) -> Tally {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut tally = Tally::default();
    let mut buffer = Vec::with_capacity(4096);
    let mut index = start;
    while Instant::now() < deadline {
        stream.write_all(&requests[index % requests.len()]).await.expect("write");
        index += 1;
        match read_status(&mut stream, &mut buffer).await {
            Some(200) => tally.ok += 1,
            Some(_) => tally.other += 1,
            None => break,
        }
    }
    tally
}

/// Reads one response; returns its status, or `None` if the connection closed.
async fn read_status(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<u16> {
    loop {
        if let Some((status, length)) = parse(buffer) {
            buffer.drain(..length);
            return Some(status);
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The status and total length of the first complete response in `buffer`.
fn parse(buffer: &[u8]) -> Option<(u16, usize)> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().ok()))??;
    (buffer.len() >= head_end + length).then_some((status, head_end + length))
}

fn main() {
    let options = options();
    let handle = spawn(Config::default()).expect("start the emulator");
    let port = handle.port();
    let requests = Arc::new((0..options.distinct).map(|i| presign(port, i)).collect::<Vec<_>>());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let tallies = runtime.block_on(async {
        let tasks: Vec<_> = (0..options.connections)
            .map(|c| tokio::spawn(drive(port, Arc::clone(&requests), c * 997, deadline)))
            .collect();
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await.expect("connection task"));
        }
        tallies
    });
    let elapsed = started.elapsed().as_secs_f64();
    let ok: u64 = tallies.iter().map(|t| t.ok).sum();
    let other: u64 = tallies.iter().map(|t| t.other).sum();
    let per_second = ok as f64 / elapsed;
    let stats = handle.stats();
    println!(
        "emulator throughput: {ok} accepted (+{other} other) in {elapsed:.2} s over {} keep-alive connections, {} distinct signed requests",
        options.connections, options.distinct
    );
    println!("requests/s: {per_second:.0}");
    println!(
        "emulator stats: accepted {}, max_accepted_in_1s {}, contacts {}",
        stats.accepted, stats.max_accepted_in_1s, stats.contacts
    );
    let verdict = match (options.smoke, per_second >= TARGET_PER_SECOND && other == 0) {
        (true, _) => "not judged (smoke run under cargo test; use cargo bench)",
        (false, true) => "met",
        (false, false) => "not met",
    };
    println!("target >= {TARGET_PER_SECOND:.0}/s: {verdict}");
}
