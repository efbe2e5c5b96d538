//! What every handler shares: the table, the token keys and the configuration. Built once per
//! process (a Lambda execution environment), cloned cheaply into each request.

use crate::{
    config::{AuthConfig, Config},
    cursor::CursorKey,
    jwt::JwtKeys,
    storage::Db,
};
use std::{ops::Deref, sync::Arc};

pub struct Inner {
    pub db: Db,
    pub jwt: JwtKeys,
    pub cursors: CursorKey,
    pub config: Config,
    pub auth: AuthConfig,
    /// Built on first use (it reads the platform's root certificates): only `POST
    /// /me/webhooks/{id}/test` sends from a request.
    webhooks: std::sync::OnceLock<crate::webhooks::Sender>,
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
    pub fn new(config: Config, auth: AuthConfig, client: aws_sdk_dynamodb::Client) -> Self {
        AppState(Arc::new(Inner {
            db: Db::new(client, config.table_name.clone()),
            jwt: JwtKeys::new(&auth),
            cursors: CursorKey::derive(&auth.signing_keys),
            config,
            auth,
            webhooks: std::sync::OnceLock::new(),
        }))
    }

    /// The webhook sender of this process.
    pub fn webhook_sender(&self) -> &crate::webhooks::Sender {
        self.webhooks.get_or_init(|| crate::webhooks::Sender::new(self.config.webhooks.clone()))
    }

    /// Reads the configuration from the environment (and the signing keys from Secrets Manager
    /// in AWS), sets up telemetry and builds the DynamoDB client. A configuration error ends the
    /// process with a clear message.
    pub async fn from_env() -> Self {
        let sdk = crate::storage::sdk_config().await;
        let config = Config::from_env().unwrap_or_else(|e| crate::config::exit_with(e));
        let auth = AuthConfig::from_env(&sdk).await.unwrap_or_else(|e| crate::config::exit_with(e));
        crate::telemetry::init(config.log_level);
        let client = config.client(&sdk);
        AppState::new(config, auth, client)
    }
}
