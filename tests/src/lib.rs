//! Test harness: every test gets its own fresh table in a real DynamoDB Local, and the functions'
//! routers as API Gateway would route to them (Zero To Production's `spawn_app`).
//!
//! DynamoDB Local is found at `DYNAMODB_ENDPOINT` when set (the Makefile starts one for the whole
//! run); otherwise the harness starts one itself from the project's install (`npm ci`) and stops
//! it when the test process ends.

use aws_sdk_dynamodb::{types::AttributeValue, Client};
use axum::{body::Body, http::Request, Router};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use shared::storage::counter::{CallCounter, CallRecorder};
use shared::{
    config::{AuthConfig, Config},
    domain::Role,
    http::Route,
    AppState,
};
use std::{collections::HashMap, net::TcpStream, sync::OnceLock, time::Duration};
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const ISSUER: &str = "habit-tracker";
pub const AUDIENCE: &str = "habit-tracker-api";
pub const PASSWORD: &str = "correct horse battery";

/// The `kid` of the test key ([`SECRET`]), as the functions put it in every token's header.
pub fn kid() -> String {
    shared::signing::SigningKeys::single(SECRET.as_bytes()).expect("test key").active
}

pub mod faults;
pub mod iam;
pub mod template;

pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The DynamoDB Local endpoint, started on first use when none is given.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(e) = std::env::var("DYNAMODB_ENDPOINT") {
            if !e.is_empty() {
                return e;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = repo_root().join("scripts/dynamodb-local.sh");
        start_for_this_process(&format!("'{}' {port}", script.display()), port, "DynamoDB Local");
        format!("http://127.0.0.1:{port}")
    })
}

/// Starts `command` (a shell command line) for as long as this test process lives (a watcher
/// shell stops it as soon as the process is gone), and waits until `port` takes connections.
fn start_for_this_process(command: &str, port: u16, what: &str) {
    let watcher = format!(
        "{command} >/dev/null 2>&1 & child=$!; while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill $child",
        pid = std::process::id()
    );
    let mut child = std::process::Command::new("sh").arg("-c").arg(watcher).spawn().expect(what);
    std::thread::spawn(move || child.wait());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start (run `make setup`)");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The local SES (aws-ses-v2-local, npm), started on first use when `SES_ENDPOINT` names none.
pub fn ses_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Some(e) = std::env::var("SES_ENDPOINT").ok().filter(|e| !e.is_empty()) {
            return e;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = repo_root().join("node_modules/.bin/aws-ses-v2-local");
        start_for_this_process(&format!("'{}' --port {port}", bin.display()), port, "aws-ses-v2-local");
        format!("http://127.0.0.1:{port}")
    })
}

/// The test worlds' mailer: the local SES, links to the test app.
pub fn mailer() -> shared::email::Mailer {
    shared::email::Mailer::local(
        ses_endpoint(),
        shared::email::EmailSettings {
            from: "reminders@habit-tracker.test".into(),
            configuration_set: None,
            app_url: APP_URL.into(),
            endpoint: None,
        },
    )
}

/// Where the test worlds' e-mail links point.
pub const APP_URL: &str = "https://app.habit-tracker.test";

/// The messages the local SES was sent to `to`, oldest first (`GET /store`).
pub async fn mail_to(to: &str) -> Vec<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = ses_endpoint().trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("local SES");
    stream.write_all(format!("GET /store HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let store: Value = serde_json::from_str(body).expect("the store is JSON");
    store["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"]["to"].as_array().is_some_and(|t| t.iter().any(|a| a == to)))
        .cloned()
        .collect()
}

/// The token of the last link of `page` (`verify-email`, `reset-password`) mailed to `to`.
pub async fn last_link_token(to: &str, page: &str) -> Option<String> {
    let prefix = format!("{APP_URL}/{page}?token=");
    mail_to(to).await.iter().rev().find_map(|m| {
        let text = m["body"]["text"].as_str()?;
        let start = text.find(&prefix)? + prefix.len();
        Some(text[start..].split_whitespace().next()?.to_owned())
    })
}

/// A client of the test DynamoDB Local, counting the requests it sends.
pub fn client(calls: &CallCounter) -> Client {
    shared::storage::counter::local_client(endpoint(), &local_tuning(), calls, None)
}

/// The client that the function (or tool) `caller` gets in a test world: counted like every
/// client, and with `DYNAMODB_CALL_LOG` set (as `make test` does), each request's IAM action
/// recorded under `caller` for the permission check (`--bin permissions`).
pub fn client_of(caller: &str, config: &Config, calls: &CallCounter) -> Client {
    let endpoint = config.dynamodb_endpoint.as_deref().unwrap_or(endpoint());
    let recorder = CallRecorder::from_env_as(caller, &config.table_name);
    shared::storage::counter::local_client(endpoint, &config.dynamodb, calls, recorder)
}

/// The test configuration of `table`.
pub fn config(table: &str) -> Config {
    // Webhook receivers of the tests listen on loopback, and a hanging one is given up quickly.
    let vars: HashMap<String, String> = [
        ("TABLE_NAME", table),
        ("DYNAMODB_ENDPOINT", endpoint()),
        ("WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_TIMEOUT_MS", "1000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut config = Config::from_vars(&vars).expect("test config");
    config.dynamodb = local_tuning();
    config
}

/// The test token configuration with the signing keys given by `keys` (`JWT_SECRET` or `JWT_KEYS`).
pub fn auth_config(keys: &[(&str, &str)]) -> AuthConfig {
    let vars: HashMap<String, String> = [("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)]
        .iter()
        .chain(keys)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    AuthConfig::from_vars(&vars).expect("test token config")
}

/// A browser's push subscription keys: the public half of a new P-256 key pair, and an auth secret.
pub fn push_keys() -> Value {
    use aws_lc_rs::agreement;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64U, Engine};
    let key = agreement::PrivateKey::generate(&agreement::ECDH_P256).expect("key");
    serde_json::json!({"p256dh": B64U.encode(key.compute_public_key().expect("public key").as_ref()), "auth": B64U.encode([9u8; 16])})
}

/// The test worlds' VAPID key (Web Push).
pub fn vapid() -> shared::push::Vapid {
    shared::push::Vapid::from_secret("the-test-worlds-vapid-secret-0123456789", "mailto:tests@example.com")
        .expect("test VAPID key")
}

/// The test token configuration with the test secret.
pub fn auth() -> AuthConfig {
    auth_config(&[("JWT_SECRET", SECRET)])
}

/// The functions' DynamoDB timeouts in test worlds: DynamoDB Local on a busy two-core machine can
/// take seconds to answer what DynamoDB answers in milliseconds, and a timeout there would retry
/// requests the tests count. The fault harness (`tests/tests/api/faults.rs`) sets tight ones on purpose.
pub fn local_tuning() -> shared::storage::Tuning {
    shared::storage::Tuning {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(10),
        operation: Duration::from_secs(30),
        ..Default::default()
    }
}

/// Every function: its routes and its router.
pub struct Function {
    pub name: &'static str,
    pub routes: &'static [Route],
    pub router: Router,
}

/// One HTTP function of the workspace, as the tests see it.
pub struct FunctionDef {
    /// The binary name (the SAM template's `Binary`, the local router's `function`).
    pub name: &'static str,
    /// Its routes, from its handlers' `#[utoipa::path]`.
    pub routes: fn() -> &'static [Route],
    /// Builds its router from the shared state (the function's `app`).
    pub app: fn(AppState) -> Router,
    /// Its part of the OpenAPI document.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
}

macro_rules! function_defs {
    ($($name:ident),*) => {
        /// Every HTTP function of the workspace. The route, infra, OpenAPI and authorization tests
        /// read this list, so a new function is checked once it is added here.
        pub const FUNCTIONS: &[FunctionDef] = &[$(FunctionDef {
            name: stringify!($name),
            routes: || $name::ROUTES.as_slice(),
            app: $name::app,
            openapi: $name::openapi,
        }),*];
    };
}
function_defs!(auth, users, habits, categories, reminders, challenges);

/// Every function of a world on `config`'s table with the token keys of `auth`, each with a client of its own (see
/// [`client_of`]).
pub fn functions(config: &Config, auth: &AuthConfig, calls: &CallCounter) -> Vec<Function> {
    FUNCTIONS
        .iter()
        .map(|f| {
            let state = AppState::new(config.clone(), auth.clone(), client_of(f.name, config, calls))
                .with_vapid(vapid())
                .with_mailer(mailer());
            Function { name: f.name, routes: (f.routes)(), router: (f.app)(state) }
        })
        .collect()
}

/// Every route of the API with the function serving it.
pub fn all_routes() -> Vec<(&'static str, Route)> {
    FUNCTIONS.iter().flat_map(|f| (f.routes)().iter().map(move |r| (f.name, *r))).collect()
}

/// The API's OpenAPI document, as the code describes it (committed as `docs/openapi.json`).
pub fn openapi_document() -> serde_json::Value {
    shared::openapi::document(FUNCTIONS.iter().map(|f| (f.openapi)()))
}

/// Where the committed OpenAPI document lives (served by `GET /openapi.json`).
pub fn openapi_path() -> std::path::PathBuf {
    repo_root().join("docs/openapi.json")
}

/// Whether an API Gateway route path (`/users/{id}`) matches a concrete path.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, a): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| (p.starts_with('{') && !a.is_empty()) || p == a)
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts a problem+json answer with `status`, returning the body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.headers[http::header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string() && self.body["title"].is_string() && self.body["detail"].is_string());
        &self.body
    }

    /// Asserts a validation problem that names `field`.
    #[track_caller]
    pub fn names_field(&self, field: &str) {
        let body = self.problem(400);
        let fields: Vec<&str> =
            body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&field), "expected field {field} in {fields:?}");
    }
}

/// A user signed in through the API.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// One isolated world: a fresh table and the functions serving it.
pub struct TestApp {
    pub table: String,
    pub client: Client,
    /// DynamoDB requests sent by the functions (and by the test's own reads).
    pub calls: CallCounter,
    /// The test's own access to the world (setting up and reading back), not a function's.
    pub state: AppState,
    pub functions: Vec<Function>,
    /// The table as the reminder dispatcher reaches it (its calls recorded as the dispatcher's).
    pub dispatcher: shared::storage::Db,
    /// The table as the deliver function reaches it (its calls recorded as its own).
    pub deliver: shared::storage::Db,
}

impl TestApp {
    pub async fn spawn() -> Self {
        // `TEST_LOG=debug cargo test ...` shows the functions' logs.
        if let Ok(level) = std::env::var("TEST_LOG") {
            shared::telemetry::init(level.parse().unwrap_or(tracing::Level::DEBUG));
        }
        let table = format!("t-{}", ulid::Ulid::new());
        let calls = CallCounter::default();
        let client = client(&calls);
        shared::storage::table::create_table_without_stream(&client, &table).await.expect("create table");
        let state = AppState::new(config(&table), auth(), client.clone()).with_vapid(vapid()).with_mailer(mailer());
        let functions = functions(&config(&table), &auth(), &calls);
        let dispatcher = shared::storage::Db::new(client_of("dispatcher", &config(&table), &calls), table.clone());
        let deliver = shared::storage::Db::new(client_of("deliver", &config(&table), &calls), table.clone());
        TestApp { table, client, calls, state, functions, dispatcher, deliver }
    }

    /// The same world served by functions that sign and verify with the key set `keys_json`
    /// (`JWT_KEYS`): the functions after a key rotation.
    pub fn rekeyed(&self, keys_json: &str) -> TestApp {
        TestApp {
            table: self.table.clone(),
            client: self.client.clone(),
            calls: self.calls.clone(),
            state: self.state.clone(),
            functions: functions(&config(&self.table), &auth_config(&[("JWT_KEYS", keys_json)]), &self.calls),
            dispatcher: self.dispatcher.clone(),
            deliver: self.deliver.clone(),
        }
    }

    /// The same world served by functions (and a dispatcher) whose DynamoDB requests go to
    /// `endpoint` (a [`faults::FaultProxy`] in front of the world's DynamoDB Local) with the
    /// timeouts and retries of `tuning`. The test's own access (`state`, `client`) stays direct.
    pub fn behind(&self, endpoint: &str, tuning: shared::storage::Tuning) -> TestApp {
        let mut config = config(&self.table);
        config.dynamodb_endpoint = Some(endpoint.to_owned());
        config.dynamodb = tuning;
        TestApp {
            table: self.table.clone(),
            client: self.client.clone(),
            calls: self.calls.clone(),
            state: self.state.clone(),
            functions: functions(&config, &auth(), &self.calls),
            dispatcher: shared::storage::Db::new(client_of("dispatcher", &config, &self.calls), self.table.clone()),
            deliver: shared::storage::Db::new(client_of("deliver", &config, &self.calls), self.table.clone()),
        }
    }

    /// Sends a request as API Gateway would deliver it from the client address `source_ip`
    /// (its `requestContext.http.sourceIp`).
    pub async fn call_from(&self, source_ip: &str, method: &str, path: &str, body: Option<Value>) -> Response {
        use lambda_http::{aws_lambda_events::apigw::ApiGatewayV2httpRequestContext, request::RequestContext};
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip.to_owned());
        let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        req = req.extension(RequestContext::ApiGatewayV2(context));
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    /// Sends a request to the function API Gateway would route it to.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        self.call_with(method, path, token, &[], body).await
    }

    /// [`call`](Self::call) with extra request `headers`.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Response {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let router = self
            .functions
            .iter()
            .find(|f| f.routes.iter().any(|r| path_matches(r.path, &path) && r.method == method.as_str()))
            .or_else(|| self.functions.iter().find(|f| f.routes.iter().any(|r| path_matches(r.path, &path))))
            .unwrap_or(&self.functions[0])
            .router
            .clone();
        let res = router.oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Response { status: parts.status, headers: parts.headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call("GET", path, Some(token), None).await
    }

    /// Registers `name` (e-mail `<name>@example.com`) and returns the session.
    pub async fn register(&self, name: &str) -> Session {
        let email = format!("{name}@example.com");
        let r = self
            .call("POST", "/auth/register", None, Some(json!({"username": name, "email": email, "password": PASSWORD})))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        session_of(&r.body)
    }

    /// Creates an admin directly in the table (as `habit-admin create-admin` does) and logs in.
    pub async fn admin(&self, name: &str) -> Session {
        let user = auth::new_user(name, &format!("{name}@example.com"), None, PASSWORD, Role::Admin).await.unwrap();
        self.state
            .db
            .create_user(&user, &shared::models::ProfileItem::empty(&user.user_id, user.created_at), None)
            .await
            .unwrap();
        self.login(name).await
    }

    pub async fn login(&self, name: &str) -> Session {
        let r = self.call("POST", "/auth/login", None, Some(json!({"username": name, "password": PASSWORD}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        session_of(&r.body)
    }

    /// Writes `item` as it is, unconditionally (tests only: to place a world in a given state).
    pub async fn put_item<T: serde::Serialize>(&self, item: &T) {
        let item = shared::storage::to_item(item).expect("item");
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.expect("put");
    }

    /// Writes many items as they are (`BatchWriteItem`, 25 a call, 8 calls at once), unprocessed
    /// ones again until none are left (tests only: to place a world in a given state).
    pub async fn put_items(&self, items: Vec<HashMap<String, AttributeValue>>) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        use futures::StreamExt;
        let batches = items.chunks(25).map(|c| {
            c.iter()
                .map(|i| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(i.clone())).build().unwrap())
                        .build()
                })
                .collect::<Vec<_>>()
        });
        futures::stream::iter(batches)
            .for_each_concurrent(8, |mut batch| async move {
                while !batch.is_empty() {
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(&self.table, batch)
                        .send()
                        .await
                        .expect("batch write");
                    batch = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                }
            })
            .await;
    }

    /// Every item of the table (tests only: the API itself never scans).
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self.client.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.unwrap();
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                let mut keyed: Vec<_> = out.into_iter().collect();
                keyed.sort_by_key(|i| format!("{:?}{:?}", i.get("PK"), i.get("SK")));
                return keyed;
            }
        }
    }

    /// Items whose `entity` is `entity`.
    pub async fn count(&self, entity: &str) -> usize {
        self.items().await.iter().filter(|i| i.get("entity") == Some(&AttributeValue::S(entity.into()))).count()
    }
}

pub fn session_of(body: &Value) -> Session {
    Session {
        user_id: body["user"]["user_id"].as_str().expect("user_id").to_owned(),
        username: body["user"]["username"].as_str().expect("username").to_owned(),
        email: body["user"]["email"].as_str().expect("email").to_owned(),
        access: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}
