use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
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
    let (level, tuning) = match shared::config::log_level(std::env::var("LOG_LEVEL").ok().as_deref())
        .and_then(|level| Ok((level, shared::storage::Tuning::from_env()?)))
    {
        Ok(found) => found,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    shared::telemetry::init(level);
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty());
    let db = shared::storage::Db::new(
        shared::storage::client(&shared::storage::sdk_config().await, &tuning, endpoint.as_deref(), &table),
        table,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (db, cfg) = (&db, &cfg);
        async move {
            let deadline = shared::deadline::stop_at(event.context.deadline, dispatcher::FALLBACK_TIMEOUT);
            dispatcher::handle_event(db, cfg, &event.payload, chrono::Utc::now(), Some(deadline))
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
