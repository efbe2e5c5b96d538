//! The roots of trust (`shared::storage::tls`). The code path that gives the SDK the compiled-in
//! Amazon roots, given a root of this test's own instead, reaches DynamoDB Local through a TLS
//! stand-in whose certificate that root signed; a stand-in signed by another root is refused, and
//! so is this test's root by the Amazon roots. The webhook and push sender likewise: it verifies
//! the endpoint's chain against exactly the roots it is given, Mozilla's by default.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use shared::storage::tls::Roots;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{rustls, TlsAcceptor};

/// A certificate authority of the test's own.
fn root(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A TLS endpoint for `localhost` with a certificate `issuer` signed, passing every connection on
/// to DynamoDB Local.
async fn tls_front(issuer: &CertifiedIssuer<'static, KeyPair>) -> String {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, issuer).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), issuer.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = habit_tests::endpoint().trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A handshake the client refuses ends here.
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let Ok(mut plain) = TcpStream::connect(&upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    format!("https://localhost:{port}")
}

/// A DynamoDB client, as the functions build theirs, trusting `roots` and calling `endpoint`.
async fn list_tables(roots: &Roots, endpoint: &str) -> Result<(), String> {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(roots.http_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tls-test"))
        .endpoint_url(endpoint);
    let client = aws_sdk_dynamodb::Client::from_conf(shared::storage::Tuning::default().apply(conf).build());
    client.list_tables().limit(1).send().await.map(|_| ()).map_err(|e| format!("{:?}", e))
}

/// The test's root (as PEM), a stand-in it signed, and a stand-in another root signed.
async fn fronts() -> (Vec<u8>, String, String) {
    let ours = root("habit tracker test root");
    let front = tls_front(&ours).await;
    let impostor = tls_front(&root("another root")).await;
    (ours.pem().into_bytes(), front, impostor)
}

#[tokio::test]
async fn the_sdk_trusts_exactly_the_roots_it_is_given() {
    let (ours, front, impostor) = fronts().await;

    list_tables(&Roots::Pem(ours.clone()), &front).await.expect("our root reaches DynamoDB Local over TLS");
    for (roots, endpoint, why) in [
        (Roots::Pem(ours.clone()), &impostor, "a certificate signed by another root"),
        (Roots::Compiled, &front, "the test root, to the compiled-in Amazon roots"),
    ] {
        let err = list_tables(&roots, endpoint).await.expect_err(why);
        assert!(err.contains("UnknownIssuer"), "{why}: refused for another reason: {err}");
    }
}

/// One webhook attempt to `url` by a sender trusting `roots` (loopback allowed, as in tests).
async fn webhook(roots: &Roots, url: &str) -> shared::models::Attempt {
    let settings = shared::webhooks::Settings { timeout: std::time::Duration::from_secs(5), allow_private: true };
    let sender = shared::webhooks::Sender::new(settings, roots);
    sender.send(url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_tls", "{}", chrono::Utc::now()).await
}

#[tokio::test]
async fn webhooks_are_sent_only_to_endpoints_whose_chain_the_sender_trusts() {
    let (ours, front, impostor) = fronts().await;

    // Through the handshake, an HTTP answer comes back (DynamoDB Local's, to a webhook it does not
    // understand): the attempt has a status code, no error.
    let reached = webhook(&Roots::Pem(ours.clone()), &front).await;
    assert!(reached.status_code.is_some() && reached.error.is_none(), "over TLS with our root: {reached:?}");
    for (roots, url, why) in [
        (Roots::Pem(ours.clone()), &impostor, "a certificate signed by another root"),
        (Roots::Compiled, &front, "the test root, to Mozilla's compiled-in roots"),
    ] {
        let attempt = webhook(&roots, url).await;
        assert_eq!(attempt.status_code, None, "{why}: {attempt:?}");
        let error = attempt.error.unwrap_or_default();
        assert!(error.contains("UnknownIssuer"), "{why}: refused for another reason: {error}");
    }
}
