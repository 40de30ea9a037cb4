//! Keep-alive HTTP/1.1 connections to the one endpoint, each driven by the task that uses it.
//!
//! hyper's pooled client gives every connection a task of its own, hands each request to that task
//! through a channel and the answer back through another, and keeps its idle connections in a map
//! keyed by host. A sender that only ever talks to one endpoint needs none of it: here the task
//! sending a request checks a connection out, drives it until the answer's last byte, and puts it
//! back. The connection is only polled while someone waits on it; one closed while idle is found
//! when it is next checked out, and the request goes on a new connection instead.

use super::route::{Bounded, BoxError, Route};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::rt::TokioIo;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tower_service::Service;

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;
type Driver = http1::Connection<Io, Full<Bytes>>;

/// An answer's status and headers, and its whole body (`classify::Answer` is what they mean).
pub type Response = (http::response::Parts, Bytes);

/// The connections to one endpoint: made by `connector`, kept while idle for `idle_timeout`.
pub struct Connections {
    connector: Bounded<HttpsConnector<Route>>,
    destination: http::Uri,
    idle_timeout: Duration,
    /// Most recently used last: a connection is taken from the end, so the oldest ones age out.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

struct Connection {
    send: http1::SendRequest<Full<Bytes>>,
    driver: Pin<Box<Driver>>,
}

/// Why an exchange failed, and whether the request went out at all.
enum Failed {
    /// The connection was closed before the request was written: it can go on another one.
    NotSent(Box<http::Request<Full<Bytes>>>, BoxError),
    Sent(BoxError),
}

impl Connections {
    pub fn new(connector: Bounded<HttpsConnector<Route>>, destination: http::Uri, idle_timeout: Duration) -> Self {
        Connections { connector, destination, idle_timeout, idle: Mutex::new(Vec::new()) }
    }

    /// Sends `request` (origin-form, with its Host header) and reads the whole answer. A request
    /// that a kept-alive connection could not take (the server closed it while it was idle) is
    /// sent on another; a failure after it went out is returned, for the caller to retry or not.
    pub async fn exchange(&self, mut request: http::Request<Full<Bytes>>) -> Result<Response, BoxError> {
        loop {
            let (mut connection, reused) = match self.checkout() {
                Some(connection) => (connection, true),
                // Boxed: connecting is rare, and its future would make every exchange's larger.
                None => (Box::pin(self.connect()).await?, false),
            };
            match connection.exchange(request).await {
                Ok(answer) => {
                    if !closes(&answer.0) {
                        self.checkin(connection);
                    }
                    return Ok(answer);
                }
                // Each turn either takes an idle connection (there are finitely many) or makes a
                // new one, and a new one's failure is returned.
                Err(Failed::NotSent(unsent, _)) if reused => request = *unsent,
                Err(Failed::NotSent(_, error) | Failed::Sent(error)) => return Err(error),
            }
        }
    }

    /// How many connections wait idle.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    fn checkout(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().ok()?;
        let now = Instant::now();
        let stale = idle.iter().take_while(|i| now.saturating_duration_since(i.since) >= self.idle_timeout).count();
        idle.drain(..stale);
        idle.pop().map(|i| i.connection)
    }

    fn checkin(&self, connection: Connection) {
        if connection.send.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(Idle { connection, since: Instant::now() });
        }
    }

    async fn connect(&self) -> Result<Connection, BoxError> {
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx)).await?;
        let io = connector.call(self.destination.clone()).await?;
        let (send, driver) = http1::handshake(io).await?;
        Ok(Connection { send, driver: Box::pin(driver) })
    }
}

impl Connection {
    async fn exchange(&mut self, request: http::Request<Full<Bytes>>) -> Result<Response, Failed> {
        let Connection { send, driver } = self;
        // A kept-alive connection may have been closed while it sat idle: that shows here.
        if let Err(error) = drive(driver, send.ready()).await.and_then(|ready| ready.map_err(Into::into)) {
            return Err(Failed::NotSent(Box::new(request), error));
        }
        let answer = async {
            let response = match send.try_send_request(request).await {
                Ok(response) => response,
                Err(mut error) => {
                    return Err(match error.take_message() {
                        Some(unsent) => Failed::NotSent(Box::new(unsent), error.into_error().into()),
                        None => Failed::Sent(error.into_error().into()),
                    });
                }
            };
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| Failed::Sent(e.into()))?.to_bytes();
            Ok((parts, body))
        };
        drive(driver, answer).await.map_err(Failed::Sent)?
    }
}

/// Polls `work` and keeps the connection going meanwhile. The connection ending first is an
/// error, unless `work` finished with what the connection did on its way out.
async fn drive<T>(driver: &mut Pin<Box<Driver>>, work: impl Future<Output = T>) -> Result<T, BoxError> {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(done));
        }
        match driver.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(ended) => Poll::Ready(match work.as_mut().poll(cx) {
                Poll::Ready(done) => Ok(done),
                Poll::Pending => Err(match ended {
                    Ok(()) => "the connection was closed before the answer".into(),
                    Err(error) => error.into(),
                }),
            }),
        }
    })
    .await
}

/// Whether the server said it closes the connection after this answer.
fn closes(parts: &http::response::Parts) -> bool {
    parts
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.split(',').any(|token| token.trim().eq_ignore_ascii_case("close"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::client::proxy::matcher::Matcher;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
    const OK_THEN_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}";

    /// What the test server does with the n-th request on a connection (counted from 0).
    #[derive(Clone, Copy)]
    enum Reply {
        /// Answers and keeps the connection open.
        Answer,
        /// Answers, then closes the connection.
        AnswerThenClose,
        /// Answers with `connection: close`, then closes.
        AnswerClose,
        /// Writes half a status line and closes.
        Cut,
    }

    /// A server on 127.0.0.1 answering each connection's requests as `reply` says. It counts
    /// connections, and reports each connection it closed (after the close) on the channel.
    async fn server(reply: fn(usize) -> Reply) -> (http::Uri, Arc<AtomicUsize>, mpsc::UnboundedReceiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/contact/attributes", listener.local_addr().unwrap()).parse().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    for n in 0.. {
                        if !read_request(&mut socket).await {
                            return;
                        }
                        let (bytes, close): (&[u8], bool) = match reply(n) {
                            Reply::Answer => (OK, false),
                            Reply::AnswerThenClose => (OK, true),
                            Reply::AnswerClose => (OK_THEN_CLOSE, true),
                            Reply::Cut => (b"HTTP/1.1 2", true),
                        };
                        socket.get_mut().write_all(bytes).await.unwrap();
                        if close {
                            drop(socket);
                            let _ = closed_tx.send(());
                            return;
                        }
                    }
                });
            }
        });
        (uri, accepted, closed)
    }

    /// Reads one request (headers and a content-length body); `false` at the end of the stream.
    async fn read_request(socket: &mut BufReader<TcpStream>) -> bool {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                return false;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        socket.read_exact(&mut body).await.is_ok()
    }

    fn connections(uri: &http::Uri, idle_timeout: Duration) -> Connections {
        let (connector, _) = super::super::route::connector(uri, &Matcher::builder().build(), Duration::from_secs(5))
            .expect("a connector");
        Connections::new(connector, uri.clone(), idle_timeout)
    }

    fn request(uri: &http::Uri) -> http::Request<Full<Bytes>> {
        http::Request::post("/contact/attributes")
            .header(http::header::HOST, uri.authority().unwrap().as_str())
            .body(Full::new(Bytes::from_static(b"{\"a\":\"b\"}")))
            .unwrap()
    }

    async fn status(connections: &Connections, uri: &http::Uri) -> Result<u16, String> {
        connections.exchange(request(uri)).await.map(|(parts, _)| parts.status.as_u16()).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (uri, accepted, _) = server(|_| Reply::Answer).await;
        let connections = connections(&uri, Duration::from_secs(50));
        for _ in 0..5 {
            let (parts, body) = connections.exchange(request(&uri)).await.unwrap();
            assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"{}"[..]));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(connections.idle_count(), 1);
    }

    /// Eight requests at once, each from a task of its own; their statuses.
    async fn eight_at_once(connections: &Arc<Connections>, uri: &http::Uri) -> Vec<Result<u16, String>> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (connections, uri) = (connections.clone(), uri.clone());
            tasks.spawn(async move { status(&connections, &uri).await });
        }
        tasks.join_all().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_at_once_each_get_a_connection_and_all_are_kept() {
        let (uri, accepted, _) = server(|_| Reply::Answer).await;
        let connections = Arc::new(connections(&uri, Duration::from_secs(50)));
        let answers = eight_at_once(&connections, &uri).await;
        assert!(answers.iter().all(|a| a == &Ok(200)), "{answers:?}");
        let made = accepted.load(Ordering::SeqCst);
        assert!((1..=8).contains(&made), "{made}");
        assert_eq!(connections.idle_count(), made);
        // And they serve the next round; a new one only when all are busy.
        let answers = eight_at_once(&connections, &uri).await;
        assert!(answers.iter().all(|a| a == &Ok(200)), "{answers:?}");
        assert!(accepted.load(Ordering::SeqCst) <= 8);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_replaced_without_an_error() {
        let (uri, accepted, mut closed) = server(|_| Reply::AnswerThenClose).await;
        let connections = connections(&uri, Duration::from_secs(50));
        assert_eq!(status(&connections, &uri).await, Ok(200));
        // The client kept the connection: the server gave no sign it would close it.
        assert_eq!(connections.idle_count(), 1);
        closed.recv().await.unwrap();
        assert_eq!(status(&connections, &uri).await, Ok(200));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_that_says_close_does_not_keep_its_connection() {
        let (uri, accepted, _) = server(|_| Reply::AnswerClose).await;
        let connections = connections(&uri, Duration::from_secs(50));
        assert_eq!(status(&connections, &uri).await, Ok(200));
        assert_eq!(connections.idle_count(), 0);
        assert_eq!(status(&connections, &uri).await, Ok(200));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_cut_during_the_answer_is_an_error_and_is_not_kept() {
        let (uri, accepted, _) = server(|n| if n == 1 { Reply::Cut } else { Reply::Answer }).await;
        let connections = connections(&uri, Duration::from_secs(50));
        assert_eq!(status(&connections, &uri).await, Ok(200));
        // The request went out: it is not sent again on its own (the caller decides).
        assert!(status(&connections, &uri).await.is_err());
        assert_eq!(connections.idle_count(), 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(status(&connections, &uri).await, Ok(200));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_server_that_is_gone_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: http::Uri = format!("http://{}/contact/attributes", listener.local_addr().unwrap()).parse().unwrap();
        drop(listener);
        let connections = connections(&uri, Duration::from_secs(50));
        assert!(status(&connections, &uri).await.is_err());
    }

    #[tokio::test]
    async fn a_connection_idle_for_longer_than_the_timeout_is_not_used() {
        let (uri, accepted, _) = server(|_| Reply::Answer).await;
        let connections = connections(&uri, Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(status(&connections, &uri).await, Ok(200));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // Only the last one waits (the stale ones went when the next was checked out).
        assert_eq!(connections.idle_count(), 1);
    }
}
