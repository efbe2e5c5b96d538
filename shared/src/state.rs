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
    /// The VAPID key (Web Push): read at start by the function that serves the push routes.
    vapid: Option<crate::push::Vapid>,
    /// The mailer (SES): read at start by the functions that send links (auth, users).
    mailer: Option<crate::email::Mailer>,
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
            vapid: None,
            mailer: None,
        }))
    }

    /// This state with the mailer (before it is shared).
    pub fn with_mailer(mut self, mailer: crate::email::Mailer) -> Self {
        Arc::get_mut(&mut self.0).expect("with_mailer before the state is shared").mailer = Some(mailer);
        self
    }

    /// The mailer; a function started without one cannot send mail (a 500, logged).
    pub fn mailer(&self) -> Result<&crate::email::Mailer, crate::ApiError> {
        self.mailer.as_ref().ok_or_else(|| crate::ApiError::internal("this function has no mailer"))
    }

    /// This state with the VAPID key (before it is shared).
    pub fn with_vapid(mut self, vapid: crate::push::Vapid) -> Self {
        Arc::get_mut(&mut self.0).expect("with_vapid before the state is shared").vapid = Some(vapid);
        self
    }

    /// The VAPID key; a function started without one cannot serve Web Push (a 500, logged).
    pub fn vapid(&self) -> Result<&crate::push::Vapid, crate::ApiError> {
        self.vapid.as_ref().ok_or_else(|| crate::ApiError::internal("this function has no VAPID key"))
    }

    /// The webhook sender of this process.
    pub fn webhook_sender(&self) -> &crate::webhooks::Sender {
        self.webhooks.get_or_init(|| {
            crate::webhooks::Sender::new(self.config.webhooks.clone(), &crate::storage::tls::Roots::from_env())
        })
    }

    /// Reads the configuration from the environment (and the signing keys from Secrets Manager
    /// in AWS), sets up telemetry and builds the DynamoDB client. A configuration error ends the
    /// process with a clear message.
    pub async fn from_env() -> Self {
        Self::load(false, false).await
    }

    /// [`from_env`](Self::from_env) with the VAPID key (`VAPID_SECRET_ARN` or `VAPID_SECRET`, and
    /// `VAPID_SUBJECT`): the function that serves the Web Push routes.
    pub async fn from_env_with_push() -> Self {
        Self::load(true, false).await
    }

    /// [`from_env`](Self::from_env) with the mailer (`SES_FROM_ADDRESS`, `APP_URL`, ...): the
    /// functions that send e-mail links.
    pub async fn from_env_with_mail() -> Self {
        Self::load(false, true).await
    }

    async fn load(push: bool, mail: bool) -> Self {
        let sdk = crate::storage::sdk_config().await;
        let config = Config::from_env().unwrap_or_else(|e| crate::config::exit_with(e));
        let auth = AuthConfig::from_env(&sdk).await.unwrap_or_else(|e| crate::config::exit_with(e));
        crate::telemetry::init(config.log_level);
        let client = config.client(&sdk);
        let mut state = AppState::new(config, auth, client);
        if push {
            let vapid = crate::push::Vapid::from_env(&sdk).await.unwrap_or_else(|e| crate::config::exit_with(e));
            state = state.with_vapid(vapid);
        }
        if mail {
            let mailer = crate::email::Mailer::from_env(&sdk).await.unwrap_or_else(|e| crate::config::exit_with(e));
            state = state.with_mailer(mailer);
        }
        state
    }
}
