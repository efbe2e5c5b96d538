//! E-mail through Amazon SES (v2): the sender, the links the messages carry, and the signed,
//! single-use, expiring tokens in them (e-mail verification, password reset).
//!
//! A link token is signed like a page cursor ([`CursorKey`], scoped to its purpose) and names the
//! user, the address it was sent to and a nonce; the nonce is kept on the user item until the
//! token is used (a conditional write removes it), so a token works once, and a newer one
//! replaces an older one.

use crate::{
    config::{ConfigError, Vars},
    cursor::CursorKey,
    error::ApiError,
    storage::{n, s, Item},
};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use chrono::{DateTime, Utc};
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

/// What a link token is for (its signing scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn scope(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "link:verify-email",
            Purpose::ResetPassword => "link:password-reset",
        }
    }

    /// How long a link works.
    pub fn lifetime(self) -> chrono::Duration {
        match self {
            Purpose::VerifyEmail => chrono::Duration::hours(48),
            Purpose::ResetPassword => chrono::Duration::hours(1),
        }
    }

    /// The least time between two links of this purpose to one account.
    pub fn cooldown(self) -> chrono::Duration {
        match self {
            Purpose::VerifyEmail => chrono::Duration::minutes(1),
            Purpose::ResetPassword => chrono::Duration::minutes(5),
        }
    }

    /// The page of the app the link opens (it posts the token to the API).
    fn page(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify-email",
            Purpose::ResetPassword => "reset-password",
        }
    }
}

/// What a valid link token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    pub user_id: String,
    /// The address the link was sent to: it verifies that address, no other.
    pub email: String,
    pub nonce: String,
}

/// Signs a link token for `claims`, valid until `now + purpose.lifetime()`.
pub fn issue(keys: &CursorKey, purpose: Purpose, claims: &LinkClaims, now: DateTime<Utc>) -> Result<String, ApiError> {
    let item: Item = [
        ("u".to_owned(), s(&claims.user_id)),
        ("e".to_owned(), s(&claims.email)),
        ("n".to_owned(), s(&claims.nonce)),
        ("x".to_owned(), n((now + purpose.lifetime()).timestamp())),
    ]
    .into_iter()
    .collect();
    keys.encode(purpose.scope(), &item)
}

/// The claims of a token this API signed for `purpose` and that has not expired; anything else
/// is a 400 naming `token` (whether forged, for another purpose, or old).
pub fn verify(keys: &CursorKey, purpose: Purpose, token: &str, now: DateTime<Utc>) -> Result<LinkClaims, ApiError> {
    let bad = || ApiError::invalid("token", "is not a valid link, or it has expired or been used");
    let item = keys.decode(purpose.scope(), token).map_err(|_| bad())?;
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().ok_or_else(bad);
    let expires: i64 = item.get("x").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    if now.timestamp() > expires {
        return Err(bad());
    }
    Ok(LinkClaims { user_id: text("u")?, email: text("e")?, nonce: text("n")? })
}

/// A new nonce for a link.
pub fn nonce() -> String {
    ulid::Ulid::new().to_string()
}

/// Where mail comes from and where its links point (`SES_FROM_ADDRESS`, `SES_CONFIGURATION_SET`,
/// `APP_URL`, and locally `SES_ENDPOINT`).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub from: String,
    pub configuration_set: Option<String>,
    /// The app's address: links open `<APP_URL>/verify-email?token=...` and
    /// `<APP_URL>/reset-password?token=...`.
    pub app_url: String,
    /// A local SES (aws-ses-v2-local); `None` in the cloud.
    pub endpoint: Option<String>,
}

impl EmailSettings {
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let v = Vars(vars);
        let from = v.get("SES_FROM_ADDRESS").ok_or(ConfigError::Missing("SES_FROM_ADDRESS"))?;
        if crate::domain::Email::parse(from).is_err() {
            return Err(ConfigError::Malformed {
                name: "SES_FROM_ADDRESS",
                reason: format!("not an e-mail address: {from:?}"),
            });
        }
        let app_url = v.get("APP_URL").ok_or(ConfigError::Missing("APP_URL"))?.trim_end_matches('/').to_owned();
        if !(app_url.starts_with("https://") || app_url.starts_with("http://")) {
            return Err(ConfigError::Malformed {
                name: "APP_URL",
                reason: format!("expected an http(s) URL, got {app_url:?}"),
            });
        }
        Ok(EmailSettings {
            from: from.to_owned(),
            configuration_set: v.get("SES_CONFIGURATION_SET").map(str::to_owned),
            app_url,
            endpoint: v.get("SES_ENDPOINT").map(str::to_owned),
        })
    }

    /// The link a message carries.
    pub fn link(&self, purpose: Purpose, token: &str) -> String {
        format!("{}/{}?token={token}", self.app_url, purpose.page())
    }
}

/// Sends mail through SES v2. Built once per process; the SES client itself on the first message
/// (building one sets up the SDK's endpoint rules, which most starts of a function never need:
/// docs/PERFORMANCE.md, "Cold start").
#[derive(Clone, Debug)]
pub struct Mailer {
    conf: aws_sdk_sesv2::Config,
    client: Arc<OnceLock<aws_sdk_sesv2::Client>>,
    pub settings: EmailSettings,
}

impl Mailer {
    pub fn new(sdk: &aws_config::SdkConfig, settings: EmailSettings) -> Self {
        let mut conf = aws_sdk_sesv2::config::Builder::from(sdk);
        if let Some(endpoint) = &settings.endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        Mailer { conf: conf.build(), client: Arc::default(), settings }
    }

    /// A mailer of a local SES (aws-ses-v2-local) at `endpoint`, with local credentials (tests).
    pub fn local(endpoint: &str, mut settings: EmailSettings) -> Self {
        settings.endpoint = Some(endpoint.to_owned());
        let conf = aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new("local", "local", None, None, "local"))
            .endpoint_url(endpoint)
            .build();
        Mailer { conf, client: Arc::default(), settings }
    }

    fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client.get_or_init(|| aws_sdk_sesv2::Client::from_conf(self.conf.clone()))
    }

    /// The mailer the environment describes (`SES_*`, `APP_URL`).
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Ok(Mailer::new(sdk, EmailSettings::from_vars(&std::env::vars().collect())?))
    }

    /// Sends a plain-text message. A failure is logged by the caller and is not the user's.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), String> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|e| e.to_string());
        let message =
            Message::builder().subject(content(subject)?).body(Body::builder().text(content(text)?).build()).build();
        self.client()
            .send_email()
            .from_email_address(&self.settings.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e)))
    }
}

/// Sends `user` a link of `purpose` with its nonce (the one on the user item, or `nonce`). A
/// failure to send is logged, not answered: the account is as it should be, and the user can ask
/// again.
pub async fn send_link(state: &crate::AppState, user: &crate::models::UserItem, purpose: Purpose, nonce: &str) {
    let outcome = async {
        let mailer = state.mailer().map_err(|e| e.to_string())?;
        let claims = LinkClaims { user_id: user.user_id.clone(), email: user.email.clone(), nonce: nonce.to_owned() };
        let link = mailer
            .settings
            .link(purpose, &issue(&state.cursors, purpose, &claims, Utc::now()).map_err(|e| e.to_string())?);
        let (subject, text) = match purpose {
            Purpose::VerifyEmail => (
                "Confirm your e-mail address",
                format!(
                    "Hello {},\n\nconfirm this address for your Habit Tracker account:\n\n{link}\n\n\
                     The link works once, for 48 hours. If you did not ask for it, you can ignore this message.\n",
                    user.username
                ),
            ),
            Purpose::ResetPassword => (
                "Reset your Habit Tracker password",
                format!(
                    "Hello {},\n\nchoose a new password here:\n\n{link}\n\n\
                     The link works once, for one hour, and signs you out everywhere. If you did not ask \
                     for it, ignore this message: your password stays as it is.\n",
                    user.username
                ),
            ),
        };
        mailer.send(&user.email, subject, &text).await
    };
    if let Err(e) = outcome.await {
        tracing::error!(error = %e, user_id = %user.user_id, ?purpose, "an e-mail link could not be sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::SigningKeys;

    fn keys(secret: &[u8]) -> CursorKey {
        CursorKey::derive(&SigningKeys::single(secret).unwrap())
    }

    #[test]
    fn a_token_works_for_its_purpose_until_it_expires_and_not_forged() {
        let k = keys(b"0123456789abcdef0123456789abcdef-email");
        let claims = LinkClaims { user_id: "U1".into(), email: "ann@example.com".into(), nonce: nonce() };
        let now = Utc::now();
        let t = issue(&k, Purpose::ResetPassword, &claims, now).unwrap();
        assert_eq!(verify(&k, Purpose::ResetPassword, &t, now).unwrap(), claims);
        assert!(verify(&k, Purpose::ResetPassword, &t, now + chrono::Duration::minutes(59)).is_ok());
        assert!(verify(&k, Purpose::ResetPassword, &t, now + chrono::Duration::minutes(61)).is_err(), "expired");
        assert!(verify(&k, Purpose::VerifyEmail, &t, now).is_err(), "another purpose");
        assert!(verify(&keys(b"another-key-0123456789abcdef-0123456"), Purpose::ResetPassword, &t, now).is_err());
        let mut forged = t.clone();
        forged.replace_range(0..1, if t.starts_with('e') { "f" } else { "e" });
        assert!(verify(&k, Purpose::ResetPassword, &forged, now).is_err());
    }
}
