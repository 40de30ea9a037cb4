//! No secret anywhere: a whole job with temporary credentials at the most verbose log level, with
//! failures so that every output file exists, and then every byte it wrote is searched for the
//! secret key, the session token and the Authorization header's value.

use crate::pipeline::support::*;
use connect_attrs::emulator::{Config, Credential};
use std::path::Path;

const ACCESS: &str = "ASIAHARDENINGEXAMPLE";
const SECRET: &str = "hardening/Secret+Key0123456789abcdefghijKLMN";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEHardeningSessionToken//////////wEaCXVzLWVhc3QtMSJHMEUCIQ";

/// Every text the run left: stdout, stderr, and each file under the scratch directory.
pub(crate) fn everything_written(scratch: &Scratch, output: &Output) -> Vec<(String, String)> {
    let mut texts = vec![("stdout".to_string(), output.stdout.clone()), ("stderr".to_string(), output.stderr.clone())];
    let mut stack = vec![scratch.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a dir") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read a file");
                texts.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    texts
}

fn assert_no_secret(texts: &[(String, String)]) {
    // Pieces too, so a shortened or wrapped print is caught.
    let needles = [SECRET, &SECRET[9..25], TOKEN, &TOKEN[20..44], "Signature=", "Credential=", "SignedHeaders="];
    for (name, text) in texts {
        for needle in needles {
            assert!(!text.contains(needle), "{name} contains {needle:?}");
        }
        for line in text.lines().filter(|l| l.to_ascii_lowercase().contains("authorization")) {
            let lower = line.to_ascii_lowercase();
            assert!(!lower.contains("aws4-hmac-sha256 "), "{name}: an Authorization value in {line:?}");
        }
    }
}

fn job(extra_env: &[(&str, &str)], log_format: &str) {
    let handle = emulator(Config {
        credentials: vec![Credential::new(ACCESS, SECRET, Some(TOKEN))],
        not_found: vec!["gone-*".into()],
        fail_500: 0.3,
        seed: 11,
        ..Config::default()
    });
    let scratch = Scratch::new();
    let mut text = simple_wide("inst", "c-", 40);
    text.push_str("inst,gone-1,Gold,1,x\ninst,gone-2,Gold,2,y\ninst,ragged,row\n");
    scratch.write("in.csv", &text);
    scratch.write("bad.csv", "InitialContactId,Bad Key\nc-x,1\n");
    // --rate auto: the Service Quotas call is signed with the same credentials.
    let extra = ["-vv", "--log-format", log_format, "--rate", "auto", "--max-attempts", "2", "--instance-id", "inst"];
    let args = run_args(&handle, &extra, &["in.csv", "bad.csv"]);
    let url = handle.url();
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", ACCESS),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ];
    env.extend_from_slice(extra_env);
    let output = connect_attrs_env(scratch.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None, &env);
    output.assert_code(1);
    let summary = assert_summary_file(&scratch, &output);
    assert!(count(&summary, "updated") > 0, "{summary:#}");
    assert!(count(&summary, "failed") > 0 && count(&summary, "invalid") > 0 && count(&summary, "bad_rows") > 0);
    for file in ["run/errors.csv", "run/retry.csv", "run/summary.json"] {
        assert!(scratch.path().join(file).exists(), "{file} was written");
    }
    assert!(output.stderr.contains("TRACE") || output.stderr.contains("\"TRACE\""), "-vv logs at trace");
    assert!(output.stderr.contains("authorization: <redacted>"), "the signed request is logged, redacted");
    assert_no_secret(&everything_written(&scratch, &output));
}

#[test]
fn a_whole_job_at_trace_level_writes_no_secret_anywhere() {
    job(&[], "text");
}

#[test]
fn json_logs_and_rust_log_trace_for_every_dependency_write_no_secret_either() {
    job(&[("RUST_LOG", "trace")], "json");
}

#[test]
fn the_search_would_find_a_leak() {
    let leaked = vec![("stderr".to_string(), format!("DEBUG sending with {SECRET}"))];
    assert!(std::panic::catch_unwind(|| assert_no_secret(&leaked)).is_err());
    let header = vec![("x".to_string(), "authorization: AWS4-HMAC-SHA256 Cred".to_string())];
    assert!(std::panic::catch_unwind(|| assert_no_secret(&header)).is_err());
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).exists());
}

/// A server that answers every request as AWS answers a signature that does not match: a 403
/// whose message quotes the canonical request it expected, the session token's value included.
fn quoting_server() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                loop {
                    let (mut line, mut length) = (String::new(), 0usize);
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let message = format!(
                        "The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been\n'POST\n/contact/attributes\n\ncontent-type:application/json\nx-amz-security-token:{TOKEN}\n'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20261126T000000Z'\n"
                    );
                    let body = serde_json::json!({ "message": message }).to_string();
                    let answer = format!(
                        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: InvalidSignatureException\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// The run stops on the refused signature (exit 2), and the token the service quoted back is in
/// no output: not in the quota lookup's warning, the stop message, the summary or errors.csv.
#[test]
fn a_service_message_quoting_the_session_token_is_written_nowhere() {
    let url = quoting_server();
    let scratch = Scratch::new();
    scratch.write("in.csv", simple_wide("inst", "c-", 5));
    let args = ["run", "--endpoint-url", &url, "--run-dir", "run", "--rate", "auto", "--instance-id", "inst", "in.csv"];
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS),
        ("AWS_SECRET_ACCESS_KEY", "a-wrong-secret-0123456789abcdefghij"),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("AWS_ENDPOINT_URL_SERVICE_QUOTAS", url.as_str()),
    ];
    let output = connect_attrs_env(scratch.path(), &args, None, &env);
    output.assert_code(2);
    assert!(output.stderr.contains("InvalidSignatureException"), "{}", output.stderr);
    assert!(output.stderr.contains("x-amz-security-token:<redacted>"), "{}", output.stderr);
    assert_no_secret(&everything_written(&scratch, &output));
}
