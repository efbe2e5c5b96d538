//! Webhooks as the Standard Webhooks specification (<https://www.standardwebhooks.com>) has them:
//! the endpoint's secret, the signature of each attempt, which addresses an endpoint may have
//! (no private, loopback or link-local address in the cloud: a webhook must not reach inside the
//! network it is sent from), and the HTTP client that sends them.

pub use crate::config::WebhookSettings as Settings;
use crate::models::Attempt;
use crate::storage::tls::Roots;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use hyper_util::client::legacy::connect::{dns::Name, HttpConnector};
use sha2::Sha256;
use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

/// What an endpoint URL looks like, as the OpenAPI document states it (the webhooks' `url`, the
/// push subscriptions' `endpoint`): an absolute `http(s)` URL of plain characters. [`check_url`] adds what a pattern
/// cannot say: `https` only outside local development, a public address.
pub const URL_PATTERN: &str = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$";

/// Whether a URL's path and query are of the documented form: plain characters, `%` only
/// before two hex digits (what RFC 3986 calls a URI).
fn plain_path_and_query(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@/?-".contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The prefix of a secret, as the specification writes it.
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest endpoint URL taken.
pub const URL_MAX: usize = 2048;

/// A new endpoint secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

/// The `webhook-signature` of one attempt: `v1,` and the base64 HMAC-SHA256, keyed with the
/// secret's bytes, of `<id>.<timestamp>.<body>`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = B64.decode(secret.trim_start_matches(SECRET_PREFIX)).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The request body of an event: `{"type", "timestamp", "data"}`.
pub fn body(event_type: crate::models::EventType, at: DateTime<Utc>, data: &serde_json::Value) -> String {
    serde_json::json!({
        "type": event_type.as_str(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), unspecified, multicast, broadcast, documentation, benchmarking or reserved, and for
/// IPv6 none of those nor a unique-local address, nor an IPv4 address wrapped in IPv6 that is one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16)
            // and Teredo (2001::/32) carry or reach IPv4 addresses: refused as a whole.
            let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || compatible
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0))
                || s[0] == 0x2002
                || (s[0] == 0x0064 && s[1] == 0xff9b))
        }
    }
}

/// Checks an endpoint URL: `https` (or `http` where private addresses are allowed), a host, no
/// user name or password, at most [`URL_MAX`] characters, and a host that is not a private,
/// loopback or link-local address or `localhost` (unless allowed). A name is checked again
/// when it is resolved, on every attempt, and only the addresses found public are connected to.
pub fn check_url(url: &str, allow_private: bool) -> Result<http::Uri, String> {
    if url.len() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters"));
    }
    let uri: http::Uri = url.parse().map_err(|_| "must be an absolute URL".to_owned())?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_private => {}
        _ => return Err("must be an https URL".into()),
    }
    let Some(authority) = uri.authority() else { return Err("must be an absolute URL".into()) };
    if authority.as_str().contains('@') {
        return Err("must not carry a user name or password".into());
    }
    let host = authority.host();
    if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return Err("must name a host by its name or IPv4 address".into());
    }
    if !uri.path_and_query().is_none_or(|pq| plain_path_and_query(pq.as_str())) {
        return Err("must be a URL of plain characters (`%` only before two hex digits)".into());
    }
    if !allow_private {
        let lower = host.to_ascii_lowercase();
        let private_name = lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".internal");
        let private_ip = host.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip));
        if private_name || private_ip {
            return Err("must not point to a private, loopback or link-local address".into());
        }
    }
    Ok(uri)
}

/// Resolves names for the HTTP client, keeping only public addresses (unless allowed): a name
/// that resolves to an inside address is refused at the moment of connecting, so a name that
/// changes its answer after the endpoint was checked reaches nothing inside either.
#[derive(Clone)]
struct PublicResolver {
    allow_private: bool,
}

impl tower::Service<Name> for PublicResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "refused address"));
            }
            Ok(public.into_iter())
        })
    }
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector<PublicResolver>>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Sends webhook attempts and Web Push messages. Built once per process.
#[derive(Clone)]
pub struct Sender {
    client: HttpsClient,
    settings: Settings,
}

impl Sender {
    /// A sender trusting `roots`: by default Mozilla's roots compiled in (no certificate file is
    /// read at start), the platform's store with `TLS_ROOTS=platform` (`crate::storage::tls`).
    pub fn new(settings: Settings, roots: &Roots) -> Self {
        let mut http = HttpConnector::new_with_resolver(PublicResolver { allow_private: settings.allow_private });
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match roots {
            Roots::Compiled => builder.with_webpki_roots(),
            Roots::Platform => {
                builder.with_native_roots().expect("the platform's root certificates (Lambda's runtime has them)")
            }
            Roots::Pem(pem) => {
                use rustls::pki_types::{pem::PemObject, CertificateDer};
                let mut store = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    store.add(cert.expect("a PEM certificate")).expect("a root certificate");
                }
                builder.with_tls_config(
                    rustls::ClientConfig::builder().with_root_certificates(store).with_no_client_auth(),
                )
            }
        };
        let https = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Sender { client, settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One attempt: POSTs `body` to `url`, signed with `secret` for the event `id` at `now`.
    /// Redirects are not followed; a 2xx answer is a delivery, anything else a failure.
    pub async fn send(&self, url: &str, secret: &str, id: &str, body: &str, now: DateTime<Utc>) -> Attempt {
        let timestamp = now.timestamp();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature(secret, id, timestamp, body)),
        ];
        self.post(url, &headers, body.as_bytes().to_vec(), now).await
    }

    /// One POST of `body` with `headers` to `url` (checked as [`check_url`] says, and resolved to
    /// public addresses only), within the attempt's timeout: its status, or why there was none.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>, now: DateTime<Utc>) -> Attempt {
        let started = std::time::Instant::now();
        Attempt::of(now, started, self.request(url, headers, body).await)
    }

    async fn request(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Result<u16, String> {
        let uri = check_url(url, self.settings.allow_private)?;
        let mut request = http::Request::post(uri).header(http::header::USER_AGENT, "habit-tracker/1");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request =
            request.body(http_body_util::Full::new(bytes::Bytes::from(body))).map_err(|e| format!("request: {e}"))?;
        match tokio::time::timeout(self.settings.timeout, self.client.request(request)).await {
            Err(_) => Err(format!("timed out after {} ms", self.settings.timeout.as_millis())),
            Ok(Err(e)) => Err(describe(&e)),
            Ok(Ok(answer)) => Ok(answer.status().as_u16()),
        }
    }
}

/// What went wrong, in words a user can act on (never the whole error chain).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "refused: the name resolves to a private, loopback or link-local address".into()
                }
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::TimedOut => "connection timed out".into(),
                _ => format!("connection failed: {io}"),
            };
        }
        source = s.source();
    }
    if e.is_connect() {
        "connection failed".into()
    } else {
        "the endpoint closed the connection without an answer".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_specifications_example() {
        // The example of the Standard Webhooks specification (and its reference libraries' tests).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(signature(secret, id, 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_new_every_time_and_of_the_specifications_form() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(B64.decode(&a[SECRET_PREFIX.len()..]).unwrap().len(), 24);
    }

    #[test]
    fn inside_addresses_are_refused_in_the_cloud_and_taken_locally() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://localhost:8443/hook",
            "https://api.localhost/hook",
        ] {
            assert!(check_url(url, false).is_err(), "{url} refused in the cloud");
            assert!(check_url(url, true).is_ok(), "{url} taken locally");
        }
        assert!(check_url("https://hooks.example.com/in?x=1", false).is_ok());
        assert!(check_url("https://93.184.216.34/", false).is_ok());
        // IPv6 literals are not taken (a name, or an IPv4 address); the resolver checks what a
        // name's IPv6 addresses are.
        for url in ["https://[2606:4700::1111]/", "https://[::1]/", "https://[b727a:]/"] {
            assert!(check_url(url, true).is_err(), "{url}");
        }
        for ip in [
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("2606:4700::1111".parse().unwrap()));
        for url in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "/relative",
            "https://u:p@hooks.example.com/",
            "https://hooks.example.com/a%9jb",
            "https://hooks.example.com/a%2",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
        }
        assert!(check_url("http://127.0.0.1:9000/", true).is_ok(), "plain http only where private is allowed");
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(URL_MAX)), true).is_err());
    }

    proptest::proptest! {
        /// Every URL of the documented form is taken where private addresses are allowed (the
        /// schema promises nothing the code refuses but the address and the scheme).
        #[test]
        fn urls_of_the_documented_form_are_taken_locally(url in URL_PATTERN.trim_start_matches('^').trim_end_matches('$')) {
            proptest::prop_assume!(url.len() <= URL_MAX);
            proptest::prop_assert!(check_url(&url, true).is_ok(), "{url}: {:?}", check_url(&url, true));
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_when_connecting() {
        use std::str::FromStr;
        use tower::Service;
        let name = || Name::from_str("localhost").unwrap();
        let refused = PublicResolver { allow_private: false }.call(name()).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        let found: Vec<SocketAddr> = PublicResolver { allow_private: true }.call(name()).await.unwrap().collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
