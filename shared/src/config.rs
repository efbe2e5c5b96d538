//! Typed configuration, parsed once from environment variables at start-up.
//!
//! Every function reads the same variables (set by `infra/template.yaml` in the cloud and by
//! `scripts/dev.sh` / the test harness locally). A missing or malformed variable fails at start
//! with a message naming it, never later in a request.

use std::{collections::HashMap, time::Duration};

/// Minimum length of the signing secret in bytes: HS256 keys shorter than the hash are weak.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Clone)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Local endpoint (DynamoDB Local); `None` in the cloud.
    pub dynamodb_endpoint: Option<String>,
    /// Secret for HS256 access tokens and (derived) cursor signatures.
    pub jwt_secret: Vec<u8>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub log_level: tracing::Level,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("jwt_secret", &"<redacted>")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("log_level", &self.log_level)
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

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Parses configuration from a map of variables (the environment, or a test's own map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).map(str::to_owned).ok_or(ConfigError::Missing(name));
        let seconds = |name: &'static str, default: u64, max: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n)),
                    _ => Err(ConfigError::Malformed {
                        name,
                        reason: format!("expected whole seconds from 1 to {max}, got {v:?}"),
                    }),
                },
            }
        };

        let jwt_secret = required("JWT_SECRET")?.into_bytes();
        if jwt_secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Malformed {
                name: "JWT_SECRET",
                reason: format!("must be at least {MIN_SECRET_LEN} bytes"),
            });
        }
        let log_level = match get("LOG_LEVEL") {
            None => tracing::Level::INFO,
            Some(v) => v.parse().map_err(|_| ConfigError::Malformed {
                name: "LOG_LEVEL",
                reason: format!("expected one of error, warn, info, debug, trace; got {v:?}"),
            })?,
        };
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
            jwt_secret,
            jwt_issuer: get("JWT_ISSUER").unwrap_or("habit-tracker").to_owned(),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or("habit-tracker-api").to_owned(),
            access_token_ttl: seconds("ACCESS_TOKEN_TTL_SECONDS", 900, 3600)?,
            refresh_token_ttl: seconds("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 90 * 24 * 3600)?,
            log_level,
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
        let ep = Config::from_vars(&vars(&[
            ("TABLE_NAME", "t"),
            ("JWT_SECRET", SECRET),
            ("DYNAMODB_ENDPOINT", "localhost:8000"),
        ]));
        assert!(ep.unwrap_err().to_string().contains("DYNAMODB_ENDPOINT"));
    }
}
