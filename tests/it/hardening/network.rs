//! Data goes only where it should: a plain-http endpoint off this machine is refused (exit 2)
//! before anything is read or sent, unless `--allow-insecure-endpoint`; TLS certificates are
//! verified: a server with a self-signed certificate gets no request, and one whose CA is trusted
//! (`SSL_CERT_FILE`) gets every contact; and a proxy from the environment carries the requests.
//!
//! "Off this machine" is simulated with `http://[::ffff:127.0.0.1]:PORT`: the check does not take
//! an IPv4-mapped address for loopback, yet the connection would reach the emulator, so the
//! emulator's request count shows that the refusal, not the network, kept the data back.

use crate::pipeline::support::*;
use connect_attrs::emulator::{Config, Handle};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::TcpListener;
use std::sync::{Arc, mpsc};
use std::time::Duration;

fn mapped_url(handle: &Handle) -> String {
    format!("http://[::ffff:127.0.0.1]:{}", handle.port())
}

fn run_env(scratch: &Scratch, args: &[String], env: &[(&str, &str)]) -> Output {
    connect_attrs_env(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None, env)
}

#[test]
fn plain_http_off_this_machine_is_refused_before_anything_is_sent() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 5));
    let mut args = run_args(&handle, &[], &["in.csv"]);
    let at = args.iter().position(|a| a == "--endpoint-url").unwrap() + 1;
    args[at] = mapped_url(&handle);
    let refused = run_env(&scratch, &args, &[]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("is plain http to another machine"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
    assert!(!scratch.run_dir().exists(), "refused before the inputs are read");
    assert_eq!(handle.stats().requests, 0);

    args.insert(1, "--allow-insecure-endpoint".into());
    run_env(&scratch, &args, &[]).assert_code(0);
    assert_eq!(handle.state().instances["inst"].len(), 5, "with the flag the same endpoint is used");
}

#[test]
fn a_plain_http_endpoint_from_the_environment_is_refused_too() {
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 2));
    let args: Vec<String> = ["run", "--rate", "10", "in.csv"].iter().map(|s| s.to_string()).collect();
    let output = run_env(&scratch, &args, &[("AWS_ENDPOINT_URL", "http://connect.example.com")]);
    output.assert_code(2);
    assert!(output.stderr.contains("http://connect.example.com is plain http"), "{}", output.stderr);
}

#[test]
fn a_plain_http_service_quotas_endpoint_is_refused_for_rate_auto() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 2));
    let args = run_args(&handle, &["--rate", "auto"], &["in.csv"]);
    let quotas = mapped_url(&handle);
    let output = run_env(&scratch, &args, &[("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.as_str())]);
    output.assert_code(2);
    assert!(output.stderr.contains("is plain http to another machine"), "{}", output.stderr);
    assert_eq!(handle.stats().requests, 0, "not even the quota call was sent");
}

#[test]
fn validate_does_not_ask_a_plain_http_service_quotas_endpoint_either() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 2));
    let args: Vec<String> =
        ["validate", "--json", "--run-dir", "run", "in.csv"].iter().map(|s| s.to_string()).collect();
    let quotas = mapped_url(&handle);
    let output = run_env(&scratch, &args, &[("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.as_str())]);
    output.assert_code(0);
    assert!(output.stdout.contains("is plain http to another machine"), "{}", output.stdout);
    assert_eq!(handle.stats().requests, 0, "the quota was not asked in clear text");
}

/// A TLS server on 127.0.0.1 with a self-signed certificate; reports each handshake's result.
/// A TLS server configuration with the certificate and key `tests/data/tls/{name}.pem|.key`.
fn server_config(name: &str) -> Arc<rustls::ServerConfig> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/");
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(format!("{data}{name}.pem"))
        .expect("the certificate")
        .collect::<Result<_, _>>()
        .expect("PEM");
    let key = PrivateKeyDer::from_pem_file(format!("{data}{name}.key")).expect("the key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server config");
    Arc::new(config)
}

fn self_signed_server() -> (u16, mpsc::Receiver<Result<(), String>>) {
    let config = server_config("self-signed");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (report, results) = mpsc::channel();
    std::thread::spawn(move || {
        // A few connections at most; the thread ends with the test binary.
        for stream in listener.incoming().take(8) {
            let Ok(mut socket) = stream else { continue };
            let mut connection = rustls::ServerConnection::new(config.clone()).expect("a connection");
            let mut result = Ok(());
            while connection.is_handshaking() {
                if let Err(err) = connection.complete_io(&mut socket) {
                    result = Err(err.to_string());
                    break;
                }
            }
            if report.send(result).is_err() {
                return;
            }
        }
    });
    (port, results)
}

#[test]
fn tls_certificates_are_verified_a_self_signed_server_gets_no_request() {
    let (port, results) = self_signed_server();
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 1));
    let url = format!("https://127.0.0.1:{port}");
    let args: Vec<String> =
        ["run", "--endpoint-url", &url, "--rate", "10", "--max-attempts", "1", "--run-dir", "run", "in.csv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let output = run_env(&scratch, &args, &[]);
    assert_ne!(output.code, 0, "{}", output.stderr);
    let summary = output.summary();
    assert_eq!(count(&summary, "updated"), 0, "{summary:#}");
    let errors = errors_csv(&scratch);
    assert!(errors[0].message.to_lowercase().contains("certificate"), "{:?}", errors[0]);
    // The server saw the client give up during the handshake: no request was ever sent to it.
    let first = results.recv_timeout(Duration::from_secs(60)).expect("the server saw a connection");
    let refused = first.expect_err("the handshake must fail");
    assert!(refused.contains("alert"), "{refused}");
    assert!(results.try_iter().all(|r| r.is_err()), "no handshake succeeded");
}

/// A CONNECT proxy on this machine: tunnels every connection to where it is asked to, and keeps
/// each request head it was sent.
fn connect_proxy() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let port = listener.local_addr().expect("proxy address").port();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().expect("clone"));
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                seen.lock().unwrap().push(head.clone());
                let Ok(upstream) = std::net::TcpStream::connect(&target) else { return };
                let mut client = client;
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").expect("answer CONNECT");
                let (mut up_read, mut up_write) = (upstream.try_clone().expect("clone"), upstream);
                let mut down_write = client.try_clone().expect("clone");
                std::thread::spawn(move || std::io::copy(&mut up_read, &mut down_write));
                let _ = std::io::copy(&mut reader, &mut up_write);
            });
        }
    });
    (port, heads)
}

#[test]
fn a_proxy_from_the_environment_carries_the_requests_through_a_tunnel() {
    let handle = emulator(Config::default());
    let (proxy_port, heads) = connect_proxy();
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "p-", 5));
    let mut args = run_args(&handle, &[], &["in.csv"]);
    let at = args.iter().position(|a| a == "--endpoint-url").unwrap() + 1;
    // An address the run does not take for this machine, so the proxy applies.
    args[at] = mapped_url(&handle);
    args.insert(1, "--allow-insecure-endpoint".into());
    args.insert(1, "-vv".into());
    let proxy = format!("http://operator:pa55word@127.0.0.1:{proxy_port}");
    let output = run_env(&scratch, &args, &[("HTTP_PROXY", &proxy), ("NO_PROXY", "")]);
    output.assert_code(0);
    assert_eq!(handle.state().instances["inst"].len(), 5);
    let heads = heads.lock().unwrap().clone();
    assert!(!heads.is_empty(), "nothing went through the proxy");
    for head in &heads {
        let emulator = format!("CONNECT [::ffff:7f00:1]:{} HTTP/1.1", handle.port());
        assert!(head.starts_with(&emulator), "{head}");
        // "operator:pa55word" in base64.
        let auth = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization")));
        assert_eq!(auth.map(|(_, value)| value.trim()), Some("Basic b3BlcmF0b3I6cGE1NXdvcmQ="), "{head}");
    }
    for (name, text) in super::secrets::everything_written(&scratch, &output) {
        assert!(!text.contains("pa55word"), "the proxy password is in {name}");
    }
}

#[test]
fn the_emulator_on_this_machine_is_never_proxied() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "d-", 3));
    let args = run_args(&handle, &[], &["in.csv"]);
    // A proxy that is not there: a proxied request could not get through.
    let output = run_env(&scratch, &args, &[("HTTP_PROXY", "http://127.0.0.1:9"), ("ALL_PROXY", "http://127.0.0.1:9")]);
    output.assert_code(0);
    assert_eq!(handle.state().instances["inst"].len(), 3);
}

/// A TLS front for the emulator: terminates TLS with a certificate from the test CA
/// (`tests/data/tls/test-ca.pem`) and passes each HTTP/1.1 exchange (framed by Content-Length)
/// to the emulator in plain text. Counts the exchanges it carried.
fn tls_front(emulator_port: u16) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let config = server_config("test-server");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let carried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = carried.clone();
    /// One HTTP/1.1 message: its head up to the blank line, then Content-Length bytes.
    fn message(from: &mut impl Read) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut byte = [0u8];
        while !bytes.ends_with(b"\r\n\r\n") {
            if from.read(&mut byte).ok()? == 0 {
                return None;
            }
            bytes.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
        let mut body = vec![0; length];
        from.read_exact(&mut body).ok()?;
        bytes.extend_from_slice(&body);
        Some(bytes)
    }
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            let (config, count) = (config.clone(), count.clone());
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).expect("a connection");
                let mut tls = rustls::StreamOwned::new(connection, socket);
                let mut plain = std::net::TcpStream::connect(("127.0.0.1", emulator_port)).expect("the emulator");
                while let Some(request) = message(&mut tls) {
                    plain.write_all(&request).expect("to the emulator");
                    let Some(answer) = message(&mut plain) else { return };
                    tls.write_all(&answer).expect("to the client");
                    tls.flush().expect("flush");
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    (port, carried)
}

#[test]
fn https_with_a_trusted_certificate_gets_every_contact_through() {
    let handle = emulator(Config::default());
    let (port, carried) = tls_front(handle.port());
    let scratch = Scratch::new();
    let text = simple_wide("inst", "tls-", 20);
    scratch.write("in.csv", &text);
    let mut args = run_args(&handle, &[], &["in.csv"]);
    let at = args.iter().position(|a| a == "--endpoint-url").unwrap() + 1;
    // The name the certificate holds, and the port of the TLS front.
    args[at] = format!("https://localhost:{port}");
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/test-ca.pem");
    let output = run_env(&scratch, &args, &[("SSL_CERT_FILE", ca)]);
    output.assert_code(0);
    assert_state(&handle, &expected_merge(&[&text], ""));
    assert_eq!(carried.load(std::sync::atomic::Ordering::Relaxed), 20, "every request went through TLS");
}
