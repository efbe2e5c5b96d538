//! Telemetry, set up once per process: JSON logs on stdout (CloudWatch), one line per event,
//! carrying the fields of the current span. `lambda_runtime` opens a span per invocation with the
//! Lambda `requestId`, so every line written while handling a request names it.

use tracing::Level;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

/// The AWS SDK and the HTTP stack under it: at `debug` they write some 500 lines per DynamoDB
/// call (phases, connection pooling), which drown the application's own lines and cost
/// CloudWatch money. They log at `LOG_LEVEL` up to `info`, never more.
const DEPENDENCIES: [&str; 8] =
    ["aws_smithy", "aws_sdk", "aws_config", "aws_runtime", "hyper", "h2", "rustls", "tower"];

/// The filter for `level`: this project's code and the Lambda runtime at `level`, the SDK and
/// HTTP stack at most at `info`.
pub fn filter(level: Level) -> Targets {
    let dependencies = level.min(Level::INFO);
    Targets::new().with_default(level).with_targets(DEPENDENCIES.map(|target| (target, dependencies)))
}

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops).
pub fn init(level: Level) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .finish()
        .with(filter(level))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::Filter;

    #[test]
    fn dependencies_log_at_most_info_and_the_rest_at_the_level() {
        let debug = filter(Level::DEBUG);
        assert!(debug.would_enable("habits", &Level::DEBUG));
        assert!(debug.would_enable("lambda_runtime::layers", &Level::DEBUG));
        assert!(!debug.would_enable("aws_smithy_runtime::client::orchestrator", &Level::DEBUG));
        assert!(!debug.would_enable("hyper_util::client", &Level::DEBUG));
        assert!(debug.would_enable("aws_smithy_runtime::client::orchestrator", &Level::INFO));
        let warn = filter(Level::WARN);
        assert!(!warn.would_enable("aws_sdk_dynamodb", &Level::INFO));
        assert!(!warn.would_enable("shared::http", &Level::INFO));
        let _ = <Targets as Filter<tracing_subscriber::Registry>>::max_level_hint;
    }
}
