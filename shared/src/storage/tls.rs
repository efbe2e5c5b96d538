//! The roots of trust of the functions' HTTPS clients: the AWS clients (DynamoDB, SES, Secrets
//! Manager), and the webhook and Web Push sender (`crate::webhooks::Sender`).
//!
//! Every AWS endpoint the functions call presents a chain to one of the Amazon Trust Services
//! roots (Amazon Root CA 1–4, and Starfield Services Root CA G2, which cross-signs them). Those five
//! certificates are compiled into the binary (`shared/certs/amazon-trust-services.pem`, from
//! Debian's `ca-certificates`, each with its subject, expiry and SHA-256 fingerprint), and the
//! SDK's HTTPS client is given exactly that store, with the platform's roots off: a cold start then
//! parses five certificates instead of reading and decoding the platform's hundreds
//! (docs/PERFORMANCE.md, "Cold start").
//!
//! Webhooks and push services are anybody's HTTPS endpoints: the sender trusts Mozilla's root
//! program as the `webpki-roots` crate compiles it in (what browsers trust), again without reading
//! a certificate file at start. `TLS_ROOTS=platform` switches both back to the platform's store,
//! for an endpoint behind another CA (a corporate proxy, a VPC endpoint with a private name).

use crate::config::ConfigError;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

/// The Amazon Trust Services roots, PEM.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// Which certificates the AWS clients trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The compiled-in roots (the default): the Amazon Trust Services roots for the AWS clients,
    /// Mozilla's for webhooks and push services.
    Compiled,
    /// The platform's store (`TLS_ROOTS=platform`), read when the client is created.
    Platform,
    /// These PEM certificates only (tests: a root of their own).
    Pem(Vec<u8>),
}

impl Roots {
    /// `TLS_ROOTS`: `compiled` (the default) or `platform`.
    pub fn from_vars(vars: &std::collections::HashMap<String, String>) -> Result<Self, ConfigError> {
        match vars.get("TLS_ROOTS").map(|v| v.trim()) {
            None | Some("") | Some("compiled") => Ok(Roots::Compiled),
            Some("platform") => Ok(Roots::Platform),
            Some(_) => {
                Err(ConfigError::Malformed { name: "TLS_ROOTS", reason: "must be `compiled` or `platform`".into() })
            }
        }
    }

    /// [`from_vars`](Self::from_vars) on the process environment; a bad value ends the process
    /// with a clear message.
    pub fn from_env() -> Self {
        Self::from_vars(&std::env::vars().collect()).unwrap_or_else(|e| crate::config::exit_with(e))
    }

    fn trust_store(&self) -> TrustStore {
        match self {
            Roots::Compiled => TrustStore::empty().with_pem_certificate(AMAZON_ROOTS),
            Roots::Platform => TrustStore::default(),
            Roots::Pem(pem) => TrustStore::empty().with_pem_certificate(pem.clone()),
        }
    }

    /// The SDK's HTTPS client (rustls on aws-lc, as the SDK's default) trusting these roots.
    pub fn http_client(&self) -> SharedHttpClient {
        let context = TlsContext::builder().with_trust_store(self.trust_store()).build().expect("a TLS context");
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(value: Option<&str>) -> HashMap<String, String> {
        value.map(|v| [("TLS_ROOTS".to_owned(), v.to_owned())].into()).unwrap_or_default()
    }

    #[test]
    fn compiled_by_default_platform_on_request_anything_else_refused() {
        assert_eq!(Roots::from_vars(&vars(None)).unwrap(), Roots::Compiled);
        assert_eq!(Roots::from_vars(&vars(Some("compiled"))).unwrap(), Roots::Compiled);
        assert_eq!(Roots::from_vars(&vars(Some("platform"))).unwrap(), Roots::Platform);
        let err = Roots::from_vars(&vars(Some("amazon"))).unwrap_err();
        assert!(err.to_string().contains("TLS_ROOTS"), "{err}");
    }

    #[test]
    fn the_compiled_roots_are_the_five_amazon_trust_services_roots() {
        let pem = std::str::from_utf8(AMAZON_ROOTS).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        for name in
            ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root"]
        {
            assert!(pem.contains(name), "{name} missing");
        }
    }
}
