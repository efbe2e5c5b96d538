//! Telemetry, set up once per process: JSON logs on stdout (CloudWatch), one line per event,
//! carrying the fields of the current span. `lambda_runtime` opens a span per invocation with the
//! Lambda `requestId`, so every line written while handling a request names it.

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops).
pub fn init(level: tracing::Level) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
