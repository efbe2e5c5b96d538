//! Typed configuration, parsed once from environment variables at start-up.
//!
//! `Config` is what every function reads, `AuthConfig` what the HTTP functions read on top (set
//! by `infra/template.yaml` in the cloud and by `scripts/dev.sh` / the test harness locally). A
//! missing or malformed variable fails at start with a message naming it, never later in a
//! request.

use crate::signing::SigningKeys;
use std::{collections::HashMap, time::Duration};

/// The variable naming the Secrets Manager secret that holds the signing keys (in AWS).
pub const SIGNING_KEYS_SECRET_VAR: &str = "SIGNING_KEYS_SECRET_ARN";

/// What every function needs (the HTTP functions, the dispatcher, the operator tool): the table,
/// how to reach it, and the log level.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Local endpoint (DynamoDB Local); `None` in the cloud.
    pub dynamodb_endpoint: Option<String>,
    pub log_level: tracing::Level,
    /// Timeouts and retries of DynamoDB calls (`DYNAMODB_*_TIMEOUT_MS`, `DYNAMODB_MAX_ATTEMPTS`).
    pub dynamodb: crate::storage::Tuning,
    /// How webhooks are sent (`WEBHOOK_TIMEOUT_MS`, `WEBHOOK_ALLOW_PRIVATE`).
    pub webhooks: WebhookSettings,
}

/// What the HTTP functions need on top: every one checks access tokens and signs cursors; auth
/// and users also issue tokens, start sessions and count password checks.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The keys of HS256 access tokens and (derived) cursor signatures.
    pub signing_keys: SigningKeys,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// A session ends this long after its login however often it is refreshed.
    pub session_max_age: Duration,
    /// Password checks one source address may cause per 5 minutes (`LOGIN_SOURCE_ATTEMPTS`).
    pub login_source_attempts: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
}

/// Ends the process at start-up on a configuration error, naming the variable.
pub fn exit_with(e: impl std::fmt::Display) -> ! {
    eprintln!("configuration error: {e}");
    std::process::exit(2)
}

/// `LOG_LEVEL`: `error`, `warn`, `info` (when unset) or `debug`. Not `trace`: at that level the
/// Lambda runtime logs whole events, passwords and tokens included.
pub fn log_level(value: Option<&str>) -> Result<tracing::Level, ConfigError> {
    match value.map(str::trim).filter(|v| !v.is_empty()).map(|v| (v, v.parse::<tracing::Level>())) {
        None => Ok(tracing::Level::INFO),
        Some((_, Ok(level))) if level != tracing::Level::TRACE => Ok(level),
        Some((v, _)) => Err(ConfigError::Malformed {
            name: "LOG_LEVEL",
            reason: format!("expected one of error, warn, info, debug (trace would log secrets); got {v:?}"),
        }),
    }
}

/// A map of variables (the environment, or a test's own) read as configuration: blank is unset.
pub struct Vars<'a>(pub &'a HashMap<String, String>);

impl Vars<'_> {
    pub fn get(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A whole number in `range`, `default` when unset.
    pub fn whole(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| ConfigError::Malformed {
                name,
                reason: format!("expected a whole number from {} to {}, got {v:?}", range.start(), range.end()),
            }),
        }
    }

    /// A number of seconds from 1 to `max`, `default` when unset.
    pub fn seconds(&self, name: &'static str, default: u64, max: u64) -> Result<Duration, ConfigError> {
        self.whole(name, 1..=max, default).map(Duration::from_secs)
    }
}

/// How webhooks are sent (`WEBHOOK_TIMEOUT_MS`, `WEBHOOK_ALLOW_PRIVATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// One attempt's whole time: connecting, sending, the answer's head.
    pub timeout: Duration,
    /// Endpoints may be on private, loopback or link-local addresses, and plain `http`: for
    /// `make dev` and the tests only (`WEBHOOK_ALLOW_PRIVATE=true`); never set in the template.
    pub allow_private: bool,
}

impl WebhookSettings {
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let allow_private = match vars.get("WEBHOOK_ALLOW_PRIVATE") {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(ConfigError::Malformed {
                    name: "WEBHOOK_ALLOW_PRIVATE",
                    reason: format!("expected true or false, got {v:?}"),
                })
            }
        };
        Ok(WebhookSettings {
            timeout: Duration::from_millis(vars.whole("WEBHOOK_TIMEOUT_MS", 100..=30_000, 10_000)?),
            allow_private,
        })
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Parses configuration from a map of variables (the environment, or a test's own map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name| Vars(vars).get(name).map(str::to_owned);
        let dynamodb_endpoint = match get("DYNAMODB_ENDPOINT") {
            None => None,
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => Some(v),
            Some(v) => {
                return Err(ConfigError::Malformed {
                    name: "DYNAMODB_ENDPOINT",
                    reason: format!("expected an http(s) URL, got {v:?}"),
                })
            }
        };
        Ok(Config {
            table_name: get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            dynamodb_endpoint,
            log_level: log_level(get("LOG_LEVEL").as_deref())?,
            dynamodb: crate::storage::Tuning::from_vars(vars)?,
            webhooks: WebhookSettings::from_vars(vars)?,
        })
    }

    /// The DynamoDB client this configuration describes.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        crate::storage::client(sdk, &self.dynamodb, self.dynamodb_endpoint.as_deref(), &self.table_name)
    }
}

impl AuthConfig {
    /// Reads the process environment. With `SIGNING_KEYS_SECRET_ARN` set (in AWS), the signing
    /// keys come from that Secrets Manager secret, read once here, instead of `JWT_KEYS`.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        if let Some(secret) = vars.get(SIGNING_KEYS_SECRET_VAR).filter(|v| !v.is_empty()) {
            if ["JWT_KEYS", "JWT_SECRET"].iter().any(|k| vars.get(*k).is_some_and(|v| !v.is_empty())) {
                return Err(ConfigError::Malformed {
                    name: SIGNING_KEYS_SECRET_VAR,
                    reason: "set SIGNING_KEYS_SECRET_ARN, or JWT_KEYS / JWT_SECRET, not both".into(),
                });
            }
            let keys = crate::signing::fetch(sdk, secret)
                .await
                .map_err(|reason| ConfigError::Malformed { name: SIGNING_KEYS_SECRET_VAR, reason })?;
            vars.insert("JWT_KEYS".into(), keys);
        }
        Self::from_vars(&vars)
    }

    /// Parses configuration from a map of variables (the environment, or a test's own map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let signing_keys = match (vars.get("JWT_KEYS"), vars.get("JWT_SECRET")) {
            (Some(json), None) => {
                SigningKeys::parse(json).map_err(|reason| ConfigError::Malformed { name: "JWT_KEYS", reason })?
            }
            (None, Some(secret)) => SigningKeys::single(secret.as_bytes())
                .map_err(|reason| ConfigError::Malformed { name: "JWT_SECRET", reason })?,
            (Some(_), Some(_)) => {
                return Err(ConfigError::Malformed {
                    name: "JWT_KEYS",
                    reason: "set JWT_KEYS or JWT_SECRET, not both".into(),
                })
            }
            (None, None) => return Err(ConfigError::Missing("JWT_SECRET")),
        };
        Ok(AuthConfig {
            signing_keys,
            jwt_issuer: vars.get("JWT_ISSUER").unwrap_or("habit-tracker").to_owned(),
            jwt_audience: vars.get("JWT_AUDIENCE").unwrap_or("habit-tracker-api").to_owned(),
            access_token_ttl: vars.seconds("ACCESS_TOKEN_TTL_SECONDS", 900, 3600)?,
            refresh_token_ttl: vars.seconds("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 90 * 24 * 3600)?,
            session_max_age: vars.seconds("SESSION_MAX_AGE_SECONDS", 90 * 24 * 3600, 365 * 24 * 3600)?,
            login_source_attempts: vars.whole("LOGIN_SOURCE_ATTEMPTS", 1..=1_000_000, 100)? as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_required_and_defaults() {
        let c = Config::from_vars(&vars(&[("TABLE_NAME", "t")])).unwrap();
        assert_eq!(c.table_name, "t");
        assert_eq!(c.log_level, tracing::Level::INFO);
        assert!(c.dynamodb_endpoint.is_none());
        let a = AuthConfig::from_vars(&vars(&[("JWT_SECRET", SECRET)])).unwrap();
        assert_eq!(a.access_token_ttl, Duration::from_secs(900));
        assert!(!format!("{a:?}").contains(SECRET), "secret must not be printed");
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        assert_eq!(
            Config::from_vars(&vars(&[("JWT_SECRET", SECRET)])).unwrap_err(),
            ConfigError::Missing("TABLE_NAME")
        );
        assert_eq!(
            AuthConfig::from_vars(&vars(&[("TABLE_NAME", "t")])).unwrap_err(),
            ConfigError::Missing("JWT_SECRET")
        );
        let short = AuthConfig::from_vars(&vars(&[("JWT_SECRET", "short")])).unwrap_err();
        assert!(short.to_string().contains("JWT_SECRET"));
        let ttl = AuthConfig::from_vars(&vars(&[("JWT_SECRET", SECRET), ("ACCESS_TOKEN_TTL_SECONDS", "0")]));
        assert!(ttl.unwrap_err().to_string().contains("ACCESS_TOKEN_TTL_SECONDS"));
        let lvl = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("LOG_LEVEL", "loud")]));
        assert!(lvl.unwrap_err().to_string().contains("LOG_LEVEL"));
        let trace = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("LOG_LEVEL", "trace")]));
        assert!(trace.unwrap_err().to_string().contains("trace would log secrets"));
        let both = AuthConfig::from_vars(&vars(&[("JWT_SECRET", SECRET), ("JWT_KEYS", "{}")]));
        assert!(both.unwrap_err().to_string().contains("not both"));
        let bad_set = AuthConfig::from_vars(&vars(&[("JWT_KEYS", "{\"active\": \"x\"}")]));
        assert!(bad_set.unwrap_err().to_string().contains("JWT_KEYS"));
        let ep = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("DYNAMODB_ENDPOINT", "localhost:8000")]));
        assert!(ep.unwrap_err().to_string().contains("DYNAMODB_ENDPOINT"));
    }
}
