//! A fault-injecting stand-in between the functions and DynamoDB Local: what the cloud does to a
//! request that DynamoDB Local never does. Each request is read whole, its operation named by its
//! `X-Amz-Target`, and the [`Plan`] decides (with a seeded random source, in arrival order) whether
//! it meets a [`Fault`]:
//!
//! - [`Fault::Lose`]: the request reaches the table, then the connection is dropped instead of
//!   returning DynamoDB's answer (a timeout after a committed write);
//! - [`Fault::Delay`]: the request reaches the table, the answer comes after `d` (past the SDK's
//!   attempt timeout, so the client gives up on it and retries);
//! - [`Fault::Throughput`] / [`Fault::Throttling`]: `ProvisionedThroughputExceededException` /
//!   `ThrottlingException`, the request not applied;
//! - [`Fault::Internal`]: the request reaches the table, the answer is `InternalServerError` (AWS:
//!   "the operation may or may not have succeeded");
//! - [`Fault::Conflict`]: a `TransactWriteItems` cancelled with `TransactionConflict`, not applied.
//!
//! Everything else is passed through unchanged (the SDK's signature included: DynamoDB Local does
//! not check it).

use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, Request, Response, StatusCode};
use rand::{Rng, SeedableRng};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Lose,
    Delay(Duration),
    Throughput,
    Throttling,
    Internal,
    Conflict,
}

impl Fault {
    /// The fault's name in figures and tables.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Lose => "answer lost after the write",
            Fault::Delay(_) => "answer delayed past the attempt timeout",
            Fault::Throughput => "ProvisionedThroughputExceeded",
            Fault::Throttling => "ThrottlingException",
            Fault::Internal => "InternalServerError after the write",
            Fault::Conflict => "TransactionConflict",
        }
    }

    /// Whether the request reaches the table before the fault.
    pub fn applied(self) -> bool {
        matches!(self, Fault::Lose | Fault::Delay(_) | Fault::Internal)
    }
}

/// The operations that change the table.
pub const WRITES: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];
/// The operations that read it.
pub const READS: &[&str] = &["GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"];

/// One way a request can fail: `fault` strikes a request of one of `operations` with probability
/// `chance`, or exactly its `nth` (from 1) such request.
#[derive(Debug, Clone)]
pub struct Rule {
    pub operations: Vec<String>,
    pub fault: Fault,
    pub chance: f64,
    pub nth: Option<u64>,
}

impl Rule {
    pub fn new(operations: &[&str], fault: Fault, chance: f64) -> Self {
        Rule { operations: operations.iter().map(|s| s.to_string()).collect(), fault, chance, nth: None }
    }

    /// `fault` on the `nth` request (from 1) of `operation` only.
    pub fn nth(operation: &str, fault: Fault, nth: u64) -> Self {
        Rule { operations: vec![operation.to_owned()], fault, chance: 0.0, nth: Some(nth) }
    }
}

/// The rules in force; the first rule that strikes a request decides its fault.
#[derive(Debug, Clone, Default)]
pub struct Plan(pub Vec<Rule>);

#[derive(Default)]
struct State {
    plan: Plan,
    rng: Option<rand::rngs::StdRng>,
    /// Requests seen per operation (for `nth` rules).
    seen: BTreeMap<String, u64>,
    injected: BTreeMap<(String, Fault), u64>,
    requests: u64,
}

/// The stand-in, listening on [`endpoint`](Self::endpoint) until dropped.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Answer = Response<Full<Bytes>>;

fn error_answer(status: StatusCode, kind: &str, message: &str, extra: Option<serde_json::Value>) -> Answer {
    let mut body = serde_json::json!({ "__type": kind, "message": message, "Message": message });
    if let (Some(extra), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra.as_object().cloned().unwrap_or_default());
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", ulid::Ulid::new().to_string())
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("answer")
}

impl FaultProxy {
    /// Starts a stand-in for `upstream` (DynamoDB Local's URL) on a free local port.
    pub async fn start(upstream: &str, seed: u64, plan: Plan) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let upstream: Arc<str> = upstream.trim_start_matches("http://").into();
        let state = Arc::new(Mutex::new(State {
            plan,
            rng: Some(rand::rngs::StdRng::seed_from_u64(seed)),
            ..Default::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (state, upstream) = (shared.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve(req, state.clone(), upstream.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { endpoint, state, task }
    }

    /// Replaces the rules (the random source goes on).
    pub fn set_plan(&self, plan: Plan) {
        let mut state = self.state.lock().unwrap();
        state.plan = plan;
        state.seen.clear();
    }

    /// Faults injected so far, by operation and fault.
    pub fn injected(&self) -> BTreeMap<(String, Fault), u64> {
        self.state.lock().unwrap().injected.clone()
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.state.lock().unwrap().requests
    }
}

fn decide(state: &Mutex<State>, operation: &str) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    state.requests += 1;
    let seen = {
        let n = state.seen.entry(operation.to_owned()).or_default();
        *n += 1;
        *n
    };
    let rules = state.plan.0.clone();
    for rule in rules.iter().filter(|r| r.operations.iter().any(|o| o == operation)) {
        if rule.fault == Fault::Conflict && operation != "TransactWriteItems" {
            continue;
        }
        let strikes = match rule.nth {
            Some(nth) => nth == seen,
            None => state.rng.as_mut().expect("rng").random::<f64>() < rule.chance,
        };
        if strikes {
            *state.injected.entry((operation.to_owned(), rule.fault)).or_default() += 1;
            return Some(rule.fault);
        }
    }
    None
}

async fn forward(upstream: &str, parts: http::request::Parts, body: Bytes) -> Result<Answer, hyper::Error> {
    let stream = tokio::net::TcpStream::connect(upstream).await.expect("DynamoDB Local reachable");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let answer = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = answer.into_parts();
    let bytes = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(bytes)))
}

/// Why a connection was dropped without an answer.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by the fault proxy")
    }
}
impl std::error::Error for Dropped {}

async fn serve(
    req: Request<hyper::body::Incoming>,
    state: Arc<Mutex<State>>,
    upstream: Arc<str>,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let fault = decide(&state, &operation);
    let items = || {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
            .unwrap_or(1)
    };
    match fault {
        None => Ok(forward(&upstream, parts, body).await?),
        Some(Fault::Lose) => {
            forward(&upstream, parts, body).await?;
            Err(Box::new(Dropped))
        }
        Some(Fault::Delay(d)) => {
            let answer = forward(&upstream, parts, body).await?;
            tokio::time::sleep(d).await;
            Ok(answer)
        }
        Some(Fault::Internal) => {
            forward(&upstream, parts, body).await?;
            Ok(error_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "Internal server error",
                None,
            ))
        }
        Some(Fault::Throughput) => Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
            None,
        )),
        Some(Fault::Throttling) => Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "com.amazon.coral.availability#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
            None,
        )),
        Some(Fault::Conflict) => {
            let reasons: Vec<_> = (0..items())
                .map(|_| serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}))
                .collect();
            Ok(error_answer(
                StatusCode::BAD_REQUEST,
                "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
                Some(serde_json::json!({ "CancellationReasons": reasons })),
            ))
        }
    }
}
