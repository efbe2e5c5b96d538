use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::config::{exit_with, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let vars = std::env::vars().collect();
    let config = Config::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    let cfg = deliver::DeliverConfig::from_vars(&vars).unwrap_or_else(|e| exit_with(e));
    shared::telemetry::init(config.log_level);
    let sdk = shared::storage::sdk_config().await;
    let db = shared::storage::Db::new(config.client(&sdk), &config.table_name);
    let vapid = shared::push::Vapid::from_env(&sdk).await.unwrap_or_else(|e| exit_with(e));
    let mailer = shared::email::Mailer::from_env(&sdk).await.unwrap_or_else(|e| exit_with(e));
    let sender = shared::webhooks::Sender::new(config.webhooks.clone(), &shared::storage::tls::Roots::from_env());
    let deliverer = deliver::Deliverer { db: &db, sender: &sender, vapid: &vapid, mailer: &mailer, cfg: &cfg };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        let deadline = shared::deadline::stop_at(event.context.deadline, deliver::FALLBACK_TIMEOUT);
        deliverer
            .handle_event(&event.payload, chrono::Utc::now(), Some(deadline))
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
}
