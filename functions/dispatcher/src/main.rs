use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use std::time::Duration;

/// Stop taking new work this long before the Lambda deadline.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let vars = std::env::vars().collect();
    let (table, cfg) = match (std::env::var("TABLE_NAME"), dispatcher::DispatchConfig::from_vars(&vars)) {
        (Ok(table), Ok(cfg)) if !table.is_empty() => (table, cfg),
        (_, Err(e)) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
        _ => {
            eprintln!("configuration error: environment variable TABLE_NAME is required but not set");
            std::process::exit(2);
        }
    };
    let level = std::env::var("LOG_LEVEL").ok().and_then(|l| l.parse().ok()).unwrap_or(tracing::Level::INFO);
    shared::telemetry::init(level);
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty());
    let db = shared::storage::Db::new(shared::storage::client(endpoint.as_deref()).await, table);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (db, cfg) = (&db, &cfg);
        async move {
            let deadline_ms = event.context.deadline;
            let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
            let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(SAFETY_MARGIN);
            let deadline = tokio::time::Instant::now() + left;
            dispatcher::handle_event(db, cfg, &event.payload, chrono::Utc::now(), Some(deadline))
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
