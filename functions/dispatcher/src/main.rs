use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::config::{exit_with, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let vars = std::env::vars().collect();
    let config = Config::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    let cfg = dispatcher::DispatchConfig::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    shared::telemetry::init(config.log_level);
    let db = shared::storage::Db::new(config.client(&shared::storage::sdk_config().await), config.table_name);
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
