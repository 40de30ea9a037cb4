//! A minimal blocking HTTP/1.1 client over one keep-alive connection, so tests see exactly what
//! the emulator wrote (or that it closed the connection without writing anything).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Signed;

pub struct Client {
    port: u16,
    reader: BufReader<TcpStream>,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn error_type(&self) -> Option<&str> {
        self.header("x-amzn-errortype")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_owned()
    }

    /// Asserts an AWS-shaped error answer and returns its message.
    pub fn assert_error(&self, status: u16, error_type: &str) -> String {
        assert_eq!((self.status, self.error_type()), (status, Some(error_type)), "{self:?}");
        assert!(self.header("x-amzn-requestid").is_some_and(|id| id.len() == 36), "{self:?}");
        assert!(self.header("content-type").is_some_and(|t| t.contains("json")), "{self:?}");
        let message = self.message();
        assert!(!message.is_empty(), "{self:?}");
        message
    }
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        Client { port, reader: BufReader::new(stream) }
    }

    /// Sends a request on the open connection; `Err` when the emulator closed it without answering.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::io::Result<Answer> {
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            request.push_str(&format!("host: 127.0.0.1:{}\r\n", self.port));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let stream = self.reader.get_mut();
        stream.write_all(request.as_bytes())?;
        stream.write_all(body)?;
        self.read_answer()
    }

    pub fn post(&mut self, path: &str, signed: &Signed) -> std::io::Result<Answer> {
        self.send("POST", path, &signed.headers, &signed.body)
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, &[], b"").expect("an answer")
    }

    fn read_answer(&mut self) -> std::io::Result<Answer> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length: usize =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    }
}
