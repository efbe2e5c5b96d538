//! Typed configuration, parsed once from environment variables at start-up.
//!
//! Every function reads the same variables (set by `infra/template.yaml` in the cloud and by
//! `scripts/dev.sh` / the test harness locally). A missing or malformed variable fails at start
//! with a message naming it, never later in a request.

use crate::signing::SigningKeys;
use std::{collections::HashMap, time::Duration};

/// The variable naming the Secrets Manager secret that holds the signing keys (in AWS).
pub const SIGNING_KEYS_SECRET_VAR: &str = "SIGNING_KEYS_SECRET_ARN";

#[derive(Clone)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Local endpoint (DynamoDB Local); `None` in the cloud.
    pub dynamodb_endpoint: Option<String>,
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
    pub log_level: tracing::Level,
    /// Timeouts and retries of DynamoDB calls (`DYNAMODB_*_TIMEOUT_MS`, `DYNAMODB_MAX_ATTEMPTS`).
    pub dynamodb: crate::storage::Tuning,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("signing_keys", &self.signing_keys)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("session_max_age", &self.session_max_age)
            .field("login_source_attempts", &self.login_source_attempts)
            .field("log_level", &self.log_level)
            .field("dynamodb", &self.dynamodb)
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
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

impl Config {
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
        let get = |name: &'static str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).map(str::to_owned).ok_or(ConfigError::Missing(name));
        let whole = |name: &'static str, default: u64, max: u64, unit: &str| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(ConfigError::Malformed {
                        name,
                        reason: format!("expected whole {unit} from 1 to {max}, got {v:?}"),
                    }),
                },
            }
        };
        let seconds =
            |name: &'static str, default: u64, max: u64| whole(name, default, max, "seconds").map(Duration::from_secs);

        let signing_keys = match (get("JWT_KEYS"), get("JWT_SECRET")) {
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
        let log_level = log_level(get("LOG_LEVEL"))?;
        let dynamodb_endpoint = match get("DYNAMODB_ENDPOINT") {
            None => None,
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => Some(v.to_owned()),
            Some(v) => {
                return Err(ConfigError::Malformed {
                    name: "DYNAMODB_ENDPOINT",
                    reason: format!("expected an http(s) URL, got {v:?}"),
                })
            }
        };
        Ok(Config {
            table_name: required("TABLE_NAME")?,
            dynamodb_endpoint,
            signing_keys,
            jwt_issuer: get("JWT_ISSUER").unwrap_or("habit-tracker").to_owned(),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or("habit-tracker-api").to_owned(),
            access_token_ttl: seconds("ACCESS_TOKEN_TTL_SECONDS", 900, 3600)?,
            refresh_token_ttl: seconds("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 90 * 24 * 3600)?,
            session_max_age: seconds("SESSION_MAX_AGE_SECONDS", 90 * 24 * 3600, 365 * 24 * 3600)?,
            login_source_attempts: whole("LOGIN_SOURCE_ATTEMPTS", 100, 1_000_000, "attempts")? as u32,
            log_level,
            dynamodb: crate::storage::Tuning::from_vars(vars)?,
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
        let c = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", SECRET)])).unwrap();
        assert_eq!(c.table_name, "t");
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.log_level, tracing::Level::INFO);
        assert!(c.dynamodb_endpoint.is_none());
        assert!(!format!("{c:?}").contains(SECRET), "secret must not be printed");
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        assert_eq!(
            Config::from_vars(&vars(&[("JWT_SECRET", SECRET)])).unwrap_err(),
            ConfigError::Missing("TABLE_NAME")
        );
        let short = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", "short")])).unwrap_err();
        assert!(short.to_string().contains("JWT_SECRET"));
        let ttl =
            Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", SECRET), ("ACCESS_TOKEN_TTL_SECONDS", "0")]));
        assert!(ttl.unwrap_err().to_string().contains("ACCESS_TOKEN_TTL_SECONDS"));
        let lvl = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", SECRET), ("LOG_LEVEL", "loud")]));
        assert!(lvl.unwrap_err().to_string().contains("LOG_LEVEL"));
        let trace = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", SECRET), ("LOG_LEVEL", "trace")]));
        assert!(trace.unwrap_err().to_string().contains("trace would log secrets"));
        let both = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_SECRET", SECRET), ("JWT_KEYS", "{}")]));
        assert!(both.unwrap_err().to_string().contains("not both"));
        let bad_set = Config::from_vars(&vars(&[("TABLE_NAME", "t"), ("JWT_KEYS", "{\"active\": \"x\"}")]));
        assert!(bad_set.unwrap_err().to_string().contains("JWT_KEYS"));
        let ep = Config::from_vars(&vars(&[
            ("TABLE_NAME", "t"),
            ("JWT_SECRET", SECRET),
            ("DYNAMODB_ENDPOINT", "localhost:8000"),
        ]));
        assert!(ep.unwrap_err().to_string().contains("DYNAMODB_ENDPOINT"));
    }
}
