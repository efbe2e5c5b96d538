//! The DynamoDB client: built once per process, with timeouts and retries sized for a Lambda
//! deadline ([`Tuning`]).
//!
//! The storage layer's writes recognise their own earlier success when the SDK retries them after
//! a lost answer (transactions by their `ClientRequestToken`, single-item puts by comparing what a
//! failed condition found with what they wrote; README, "Timeouts, retries and lost answers"),
//! which is what makes these retries safe to allow.

use std::{collections::HashMap, time::Duration};

/// Timeouts and retries of DynamoDB requests (`DYNAMODB_*` variables, README "Timeouts, retries
/// and lost answers"). The defaults cut one call (3 attempts of 1 s, with backoff) at 3 s, so a
/// request making three calls one after the other, each at its worst, ends inside an HTTP
/// function's 10 s timeout. (A transaction cancelled by a concurrent one is sent again, a new
/// call: such cancellations come back at once.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt, from sending the request to the whole answer.
    pub attempt: Duration,
    /// One call, all its attempts and backoffs included.
    pub operation: Duration,
    /// Attempts per call (the first included), in the SDK's standard retry mode.
    pub max_attempts: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            connect: Duration::from_millis(1000),
            attempt: Duration::from_millis(1000),
            operation: Duration::from_millis(3000),
            max_attempts: 3,
        }
    }
}

/// Exponential backoff with full jitter between attempts starts here and stays under
/// [`MAX_BACKOFF`] (the SDK's own defaults, 1 s and 20 s, suit no Lambda deadline).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
pub const MAX_BACKOFF: Duration = Duration::from_millis(1000);

impl Tuning {
    /// Reads `DYNAMODB_CONNECT_TIMEOUT_MS`, `DYNAMODB_ATTEMPT_TIMEOUT_MS`,
    /// `DYNAMODB_OPERATION_TIMEOUT_MS` (10–60000) and `DYNAMODB_MAX_ATTEMPTS` (1–10); unset ones
    /// keep their defaults.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, crate::config::ConfigError> {
        let d = Tuning::default();
        let vars = crate::config::Vars(vars);
        let get = |name, lo, hi, default| vars.whole(name, lo..=hi, default);
        let ms = |name, default: Duration| get(name, 10, 60_000, default.as_millis() as u64).map(Duration::from_millis);
        let tuning = Tuning {
            connect: ms("DYNAMODB_CONNECT_TIMEOUT_MS", d.connect)?,
            attempt: ms("DYNAMODB_ATTEMPT_TIMEOUT_MS", d.attempt)?,
            operation: ms("DYNAMODB_OPERATION_TIMEOUT_MS", d.operation)?,
            max_attempts: get("DYNAMODB_MAX_ATTEMPTS", 1, 10, u64::from(d.max_attempts))? as u32,
        };
        if tuning.operation < tuning.attempt {
            return Err(crate::config::ConfigError::Malformed {
                name: "DYNAMODB_OPERATION_TIMEOUT_MS",
                reason: "must be at least DYNAMODB_ATTEMPT_TIMEOUT_MS".into(),
            });
        }
        Ok(tuning)
    }

    /// [`from_vars`](Self::from_vars) on the process environment.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Applies the timeouts and the retry policy to a client configuration.
    pub fn apply(&self, conf: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
        use aws_sdk_dynamodb::config::{retry::RetryConfig, timeout::TimeoutConfig};
        conf.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(self.connect)
                .operation_attempt_timeout(self.attempt)
                .operation_timeout(self.operation)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(self.max_attempts)
                .with_initial_backoff(INITIAL_BACKOFF)
                .with_max_backoff(MAX_BACKOFF),
        )
    }
}

/// A function's AWS SDK configuration, once per process, from the environment Lambda gives it:
/// the region (`AWS_REGION`), the credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, read on the first request) and `TLS_ROOTS`. Not the SDK's default chains:
/// they build an STS and an instance-metadata client, each parsing its endpoint rules, at every
/// start, to look where Lambda never puts credentials (docs/PERFORMANCE.md, "Cold start"). No
/// network calls; a bad `TLS_ROOTS` ends the process with a clear message.
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(super::tls::Roots::from_env().http_client())
        .load()
        .await
}

/// The configuration of an operator's tool (`habit-admin`): the SDK's default chains, so that a
/// profile, SSO or an instance role serve as well as the environment.
pub async fn operator_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(super::tls::Roots::from_env().http_client())
        .load()
        .await
}

/// Builds the DynamoDB client once, at start-up. `endpoint` points at DynamoDB Local. `table` is
/// the caller's own table: with `DYNAMODB_CALL_LOG` set (tests only), every request's IAM action
/// is recorded ([`super::counter::CallRecorder`]).
pub fn client(
    sdk: &aws_config::SdkConfig,
    tuning: &Tuning,
    endpoint: Option<&str>,
    table: &str,
) -> aws_sdk_dynamodb::Client {
    let mut conf = tuning.apply(aws_sdk_dynamodb::config::Builder::from(sdk));
    if let Some(endpoint) = endpoint {
        conf = conf.endpoint_url(endpoint);
    }
    if let Some(recorder) = super::counter::CallRecorder::from_env(table) {
        conf = conf.interceptor(recorder);
    }
    aws_sdk_dynamodb::Client::from_conf(conf.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fit_an_http_function_and_variables_override_them() {
        let d = Tuning::from_vars(&vars(&[])).unwrap();
        assert_eq!(d, Tuning::default());
        // Three calls in a row, each at its worst, stay inside the 10 s function timeout.
        assert!(d.operation * 3 < Duration::from_secs(10));
        assert!(d.attempt * d.max_attempts >= d.operation, "the operation timeout is what cuts the retries");
        let t = Tuning::from_vars(&vars(&[("DYNAMODB_ATTEMPT_TIMEOUT_MS", "250"), ("DYNAMODB_MAX_ATTEMPTS", "5")]))
            .unwrap();
        assert_eq!((t.attempt, t.max_attempts), (Duration::from_millis(250), 5));
    }

    #[test]
    fn malformed_or_inconsistent_values_are_refused_by_name() {
        for (name, value) in [
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "0"),
            ("DYNAMODB_CONNECT_TIMEOUT_MS", "1s"),
            ("DYNAMODB_MAX_ATTEMPTS", "11"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "500"),
        ] {
            let err = Tuning::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
