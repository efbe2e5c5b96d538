use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::config::{exit_with, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let vars = std::env::vars().collect();
    let config = Config::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    let cfg = deliver::DeliverConfig::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    shared::telemetry::init(config.log_level);
    let db = shared::storage::Db::new(config.client(&shared::storage::sdk_config().await), &config.table_name);
    let sender = shared::webhooks::Sender::new(config.webhooks.clone());
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (db, sender, cfg) = (&db, &sender, &cfg);
        async move {
            let deadline = shared::deadline::stop_at(event.context.deadline, deliver::FALLBACK_TIMEOUT);
            deliver::handle_event(db, sender, cfg, &event.payload, chrono::Utc::now(), Some(deadline))
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
