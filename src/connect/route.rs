//! How the sender reaches the endpoint: TCP (no Nagle delay), TLS verified by the platform's
//! verifier (rustls with aws-lc-rs), and through an HTTP proxy's CONNECT tunnel when
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` name one for the endpoint and `NO_PROXY` does not
//! exclude it, as curl reads them. An endpoint on this machine (the emulator) is never proxied.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tower_service::Service;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The connector for `endpoint`: TLS over a direct or tunnelled TCP connection, all of it (TCP,
/// the proxy's answer, the TLS handshake) within `connect_timeout`. `proxies` is usually
/// [`Matcher::from_env`]. Returns the proxy chosen (its URI without credentials) too.
pub fn connector(
    endpoint: &http::Uri,
    proxies: &Matcher,
    connect_timeout: Duration,
) -> Result<(Bounded<HttpsConnector<Route>>, Option<String>), String> {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.enforce_http(false);
    // As reqwest did: a pooled connection a middlebox dropped is found before a request waits on it.
    tcp.set_keepalive(Some(Duration::from_secs(15)));
    tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
    tcp.set_keepalive_retries(Some(3));
    let proxy = if on_this_machine(endpoint) { None } else { proxies.intercept(endpoint) };
    let (route, shown) = match proxy {
        None => (Route::Direct(tcp), None),
        Some(proxy) => {
            let uri = proxy.uri().clone();
            if uri.scheme_str() != Some("http") {
                return Err(format!(
                    "proxy {}: only http:// proxies are supported (a CONNECT tunnel over plain HTTP)",
                    without_credentials(&uri)
                ));
            }
            let shown = without_credentials(&uri);
            let mut tunnel = Tunnel::new(uri, tcp);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            (Route::Tunnel(tunnel), Some(shown))
        }
    };
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let tls = if endpoint.scheme_str() == Some("http") {
        // No TLS is ever made to a plain http endpoint (a tunnel carries it as it is), so the
        // platform's certificates, about 10 ms of CPU to load, are left alone.
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
    } else {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider)
            .map_err(|e| format!("cannot set up TLS: {e}"))?
    };
    let tls = tls.https_or_http().enable_http1().wrap_connector(route);
    Ok((Bounded { inner: tls, limit: connect_timeout }, shown))
}

/// A connector whose every connection must be ready within `limit`, or fails with a `TimedOut`
/// I/O error (which the sender reports as a timeout).
#[derive(Clone)]
pub struct Bounded<C> {
    inner: C,
    limit: Duration,
}

impl<C> Service<http::Uri> for Bounded<C>
where
    C: Service<http::Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: http::Uri) -> Self::Future {
        let (connecting, limit) = (self.inner.call(destination), self.limit);
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {} s", limit.as_secs_f64()),
                )) as BoxError),
            }
        })
    }
}

/// TCP straight to the endpoint, or through a proxy's tunnel.
#[derive(Clone)]
pub enum Route {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

impl Service<http::Uri> for Route {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Route::Direct(tcp) => tcp.poll_ready(cx).map_err(Into::into),
            Route::Tunnel(tunnel) => tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, destination: http::Uri) -> Self::Future {
        match self {
            Route::Direct(tcp) => {
                let connecting = tcp.call(destination);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Route::Tunnel(tunnel) => {
                let connecting = tunnel.call(with_explicit_port(destination));
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

/// `destination` with its scheme's default port written out. The tunnel asks the proxy for the
/// URI's port and takes 443 when it names none, which is wrong for a plain `http://` endpoint.
fn with_explicit_port(destination: http::Uri) -> http::Uri {
    let port = match destination.scheme_str() {
        _ if destination.port().is_some() => return destination,
        Some("http") => 80,
        Some("https") => 443,
        _ => return destination,
    };
    let Some(host) = destination.host() else { return destination };
    let Ok(authority) = format!("{host}:{port}").parse::<http::uri::Authority>() else { return destination };
    let mut parts = destination.clone().into_parts();
    parts.authority = Some(authority);
    http::Uri::from_parts(parts).unwrap_or(destination)
}

/// The rule `--endpoint-url` checks plain http against ([`crate::plan::is_loopback`]).
fn on_this_machine(uri: &http::Uri) -> bool {
    reqwest::Url::parse(&uri.to_string()).is_ok_and(|url| crate::plan::is_loopback(&url))
}

/// A proxy URI as it may be shown: scheme, host and port, never a user or password.
fn without_credentials(uri: &http::Uri) -> String {
    let host = uri.host().unwrap_or_default();
    match uri.port_u16() {
        Some(port) => format!("{}://{host}:{port}", uri.scheme_str().unwrap_or("http")),
        None => format!("{}://{host}", uri.scheme_str().unwrap_or("http")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(all: &str, no: &str) -> Matcher {
        Matcher::builder().all(all.to_string()).no(no.to_string()).build()
    }

    fn route_of(endpoint: &str, matcher: &Matcher) -> Result<Option<String>, String> {
        connector(&endpoint.parse().unwrap(), matcher, Duration::from_secs(1)).map(|(_, proxy)| proxy)
    }

    #[test]
    fn a_proxy_from_the_environment_is_used_and_shown_without_its_password() {
        let matcher = proxies("http://user:secret@proxy.example:3128", "");
        let shown = route_of("https://connect.us-east-1.amazonaws.com", &matcher).unwrap();
        assert_eq!(shown.as_deref(), Some("http://proxy.example:3128"));
    }

    #[test]
    fn no_proxy_and_this_machine_go_direct() {
        let matcher = proxies("http://proxy.example:3128", "amazonaws.com");
        assert_eq!(route_of("https://connect.us-east-1.amazonaws.com", &matcher), Ok(None));
        let matcher = proxies("http://proxy.example:3128", "");
        assert_eq!(route_of("http://127.0.0.1:8080", &matcher), Ok(None));
        assert_eq!(route_of("http://[::1]:8080", &matcher), Ok(None));
        assert_eq!(route_of("http://localhost:8080", &matcher), Ok(None));
        assert_eq!(route_of("https://connect.eu-west-2.amazonaws.com", &Matcher::builder().build()), Ok(None));
    }

    #[tokio::test]
    async fn a_connection_not_ready_in_time_fails_as_a_timeout() {
        #[derive(Clone)]
        struct Stalls;
        impl Service<http::Uri> for Stalls {
            type Response = ();
            type Error = std::io::Error;
            type Future = std::future::Pending<Result<(), std::io::Error>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: http::Uri) -> Self::Future {
                std::future::pending()
            }
        }
        let mut bounded = Bounded { inner: Stalls, limit: Duration::from_millis(20) };
        let error = bounded.call("https://example.com".parse().unwrap()).await.unwrap_err();
        let io = error.downcast_ref::<std::io::Error>().expect("an I/O error");
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    }

    /// What a proxy is asked to CONNECT to for `endpoint` (a proxy on 127.0.0.1 that answers 200
    /// and reports the request line).
    async fn connect_line(endpoint: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy: http::Uri = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                if socket.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                request.push(byte[0]);
            }
            socket.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.unwrap();
            String::from_utf8(request).unwrap().lines().next().unwrap_or_default().to_string()
        });
        let mut route = Route::Tunnel(Tunnel::new(proxy, HttpConnector::new()));
        route.call(endpoint.parse().unwrap()).await.unwrap();
        server.await.unwrap()
    }

    #[tokio::test]
    async fn a_tunnel_goes_to_the_schemes_default_port_unless_the_endpoint_names_one() {
        assert_eq!(
            connect_line("http://connect.example/contact/attributes").await,
            "CONNECT connect.example:80 HTTP/1.1"
        );
        assert_eq!(
            connect_line("https://connect.example/contact/attributes").await,
            "CONNECT connect.example:443 HTTP/1.1"
        );
        assert_eq!(connect_line("http://connect.example:8080/x").await, "CONNECT connect.example:8080 HTTP/1.1");
        assert_eq!(connect_line("http://[2001:db8::1]/x").await, "CONNECT [2001:db8::1]:80 HTTP/1.1");
    }

    #[test]
    fn a_proxy_that_is_not_plain_http_is_refused_by_name_without_credentials() {
        let matcher = proxies("socks5://user:secret@proxy.example:1080", "");
        let error = route_of("https://connect.us-east-1.amazonaws.com", &matcher).unwrap_err();
        assert!(error.contains("socks5://proxy.example:1080"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}
