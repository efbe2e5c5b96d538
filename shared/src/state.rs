//! What every handler shares: the table, the token keys and the configuration. Built once per
//! process (a Lambda execution environment), cloned cheaply into each request.

use crate::{config::Config, cursor::CursorKey, jwt::JwtKeys, storage::Db};
use std::{ops::Deref, sync::Arc};

pub struct Inner {
    pub db: Db,
    pub jwt: JwtKeys,
    pub cursors: CursorKey,
    pub config: Config,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        AppState(Arc::new(Inner {
            db: Db::new(client, config.table_name.clone()),
            jwt: JwtKeys::new(&config),
            cursors: CursorKey::derive(&config.signing_keys),
            config,
        }))
    }

    /// Reads the configuration from the environment (and the signing keys from Secrets Manager
    /// in AWS), sets up telemetry and builds the DynamoDB client. A configuration error ends the
    /// process with a clear message.
    pub async fn from_env() -> Self {
        let sdk = crate::storage::sdk_config().await;
        let config = match Config::from_env(&sdk).await {
            Ok(config) => config,
            Err(e) => {
                eprintln!("configuration error: {e}");
                std::process::exit(2);
            }
        };
        crate::telemetry::init(config.log_level);
        let client =
            crate::storage::client(&sdk, &config.dynamodb, config.dynamodb_endpoint.as_deref(), &config.table_name);
        AppState::new(config, client)
    }
}
