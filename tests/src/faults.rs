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
//! - [`Fault::Conflict`]: a `TransactWriteItems` cancelled with `TransactionConflict`, not applied
//!   (never to a token the proxy has let through before: DynamoDB answers a token it may have
//!   committed from its idempotency record);
//! - [`Fault::InProgress`]: `TransactionInProgressException`, what DynamoDB answers a token whose
//!   first request is still being applied (only to a token let through before), not applied.
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
    InProgress,
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
            Fault::InProgress => "TransactionInProgress",
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

/// Which requests of its operations a rule strikes.
#[derive(Debug, Clone, Copy)]
pub enum Strikes {
    /// Each with this probability (from the seeded source).
    Chance(f64),
    /// Exactly the nth request (from 1) of the operation.
    Nth(u64),
    /// Every nth request of the operation (the nth, the 2nth, ...), except a call's last attempt
    /// (as the SDK's `amz-sdk-request: attempt=N; max=M` header tells): every call gets through,
    /// however the requests of concurrent calls interleave (a listing's 16 shard queries at once).
    Every(u64),
}

/// One way a request can fail: `fault` strikes requests of `operations` as `strikes` says.
#[derive(Debug, Clone)]
pub struct Rule {
    pub operations: Vec<String>,
    pub fault: Fault,
    pub strikes: Strikes,
}

impl Rule {
    pub fn new(operations: &[&str], fault: Fault, chance: f64) -> Self {
        Rule { operations: operations.iter().map(|s| s.to_string()).collect(), fault, strikes: Strikes::Chance(chance) }
    }

    /// `fault` on the `nth` request (from 1) of `operation` only.
    pub fn nth(operation: &str, fault: Fault, nth: u64) -> Self {
        Rule { operations: vec![operation.to_owned()], fault, strikes: Strikes::Nth(nth) }
    }

    /// A rule as the `fault-proxy` command line gives it: `OPERATIONS:FAULT:STRIKES`, where
    /// OPERATIONS is `writes`, `reads` or operation names joined by `+`; FAULT is `lose`,
    /// `delay=MS`, `throughput`, `throttling`, `internal`, `conflict` or `in-progress`; STRIKES is
    /// `every=N` or
    /// `chance=P`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let [operations, fault, strikes] = parts[..] else {
            return Err(format!("{text:?}: expected OPERATIONS:FAULT:STRIKES"));
        };
        let operations: Vec<String> = match operations {
            "writes" => WRITES.iter().map(|s| s.to_string()).collect(),
            "reads" => READS.iter().map(|s| s.to_string()).collect(),
            names => names.split('+').map(str::to_owned).collect(),
        };
        let number = |v: &str| v.parse::<f64>().map_err(|_| format!("{text:?}: {v:?} is not a number"));
        let fault = match fault.split_once('=') {
            None if fault == "lose" => Fault::Lose,
            None if fault == "throughput" => Fault::Throughput,
            None if fault == "throttling" => Fault::Throttling,
            None if fault == "internal" => Fault::Internal,
            None if fault == "conflict" => Fault::Conflict,
            None if fault == "in-progress" => Fault::InProgress,
            Some(("delay", ms)) => Fault::Delay(Duration::from_millis(number(ms)? as u64)),
            _ => return Err(format!("{text:?}: unknown fault {fault:?}")),
        };
        let strikes = match strikes.split_once('=') {
            Some(("every", n)) => Strikes::Every((number(n)? as u64).max(2)),
            Some(("chance", p)) => Strikes::Chance(number(p)?),
            _ => return Err(format!("{text:?}: expected every=N or chance=P, got {strikes:?}")),
        };
        Ok(Rule { operations, fault, strikes })
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
    /// The `ClientRequestToken`s of the transactions let through to the table.
    forwarded: std::collections::HashSet<String>,
    /// Every answer's network latency, drawn uniformly from this range (none by default).
    latency: Option<(Duration, Duration)>,
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
        Self::start_on(0, upstream, seed, plan).await
    }

    /// [`start`](Self::start) on `port` of 127.0.0.1 (0: a free one).
    pub async fn start_on(port: u16, upstream: &str, seed: u64, plan: Plan) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
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

    /// Gives every answer a latency drawn uniformly from `min..=max`, as a call inside an AWS
    /// region takes (4–6 ms) where DynamoDB Local on loopback answers in a fraction of that: a
    /// benchmark behind it measures round trips as the cloud counts them.
    pub fn set_latency(&self, min: Duration, max: Duration) {
        self.state.lock().unwrap().latency = Some((min, max.max(min)));
    }

    /// Replaces the rules (the random source goes on).
    pub fn set_plan(&self, plan: Plan) {
        let mut state = self.state.lock().unwrap();
        state.plan = plan;
        state.seen.clear();
    }

    /// Faults injected so far, by fault (`fault n, fault n, ...`).
    pub fn faults(&self) -> String {
        by_fault(&self.state.lock().unwrap()).1
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

/// `GET` this path of the proxy for [`FaultProxy::summary`]'s line (DynamoDB's clients only POST `/`).
pub const SUMMARY_PATH: &str = "/__faults";

/// The faults injected, by fault: `(total, "fault n, fault n, ...")`.
fn by_fault(state: &State) -> (u64, String) {
    let mut by_fault: BTreeMap<&str, u64> = BTreeMap::new();
    for ((_, fault), n) in &state.injected {
        *by_fault.entry(fault.name()).or_default() += n;
    }
    let faults: Vec<String> = by_fault.iter().map(|(k, v)| format!("{k} {v}")).collect();
    (by_fault.values().sum(), faults.join(", "))
}

fn summarize(state: &State) -> String {
    let (total, faults) = by_fault(state);
    format!("{total} faults in {} DynamoDB requests: {faults}", state.requests)
}

/// The fault that meets a request of `operation` (a transaction's `token`), if any; a request met
/// by none, or by one that lets it through first, is recorded as let through.
fn decide(state: &Mutex<State>, operation: &str, token: Option<&str>, last_attempt: bool) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    let fault = choose(&mut state, operation, token, last_attempt);
    if let (Some(token), None | Some(Fault::Lose | Fault::Delay(_) | Fault::Internal)) = (token, fault) {
        state.forwarded.insert(token.to_owned());
    }
    fault
}

fn choose(state: &mut State, operation: &str, token: Option<&str>, last_attempt: bool) -> Option<Fault> {
    state.requests += 1;
    let seen = {
        let n = state.seen.entry(operation.to_owned()).or_default();
        *n += 1;
        *n
    };
    let rules = state.plan.0.clone();
    for rule in rules.iter().filter(|r| r.operations.iter().any(|o| o == operation)) {
        let forwarded = token.is_some_and(|t| state.forwarded.contains(t));
        let realistic = match rule.fault {
            Fault::Conflict => operation == "TransactWriteItems" && !forwarded,
            Fault::InProgress => operation == "TransactWriteItems" && forwarded,
            _ => true,
        };
        if !realistic {
            continue;
        }
        let strikes = match rule.strikes {
            Strikes::Nth(nth) => nth == seen,
            Strikes::Every(n) => seen % n == 0 && !last_attempt,
            Strikes::Chance(p) => state.rng.as_mut().expect("rng").random::<f64>() < p,
        };
        if strikes {
            *state.injected.entry((operation.to_owned(), rule.fault)).or_default() += 1;
            return Some(rule.fault);
        }
    }
    None
}

/// Whether an `amz-sdk-request` header (`ttl=...; attempt=3; max=3`) names a call's last attempt.
fn is_last_attempt(header: &str) -> bool {
    let field = |name: &str| {
        header.split(';').find_map(|f| f.trim().strip_prefix(name)?.strip_prefix('=')?.parse::<u32>().ok())
    };
    matches!((field("attempt"), field("max")), (Some(a), Some(m)) if a >= m)
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
    if parts.uri.path() == SUMMARY_PATH {
        let summary = summarize(&state.lock().unwrap());
        return Ok(Response::new(Full::new(Bytes::from(summary))));
    }
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let json = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
    let last_attempt = parts.headers.get("amz-sdk-request").and_then(|v| v.to_str().ok()).is_some_and(is_last_attempt);
    let fault = decide(&state, &operation, json["ClientRequestToken"].as_str(), last_attempt);
    let latency = {
        let mut state = state.lock().unwrap();
        state.latency.map(|(min, max)| state.rng.as_mut().expect("rng").random_range(min..=max))
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let items = || json["TransactItems"].as_array().map_or(1, Vec::len);
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
        Some(Fault::InProgress) => Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#TransactionInProgressException",
            "The transaction with the given request token is already in progress.",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_the_command_line() {
        let r = Rule::parse("writes:lose:every=3").unwrap();
        assert_eq!((r.operations.len(), r.fault), (WRITES.len(), Fault::Lose));
        assert!(matches!(r.strikes, Strikes::Every(3)));
        let r = Rule::parse("Query+GetItem:delay=1500:chance=0.5").unwrap();
        assert_eq!(r.operations, ["Query", "GetItem"]);
        assert_eq!(r.fault, Fault::Delay(Duration::from_millis(1500)));
        assert!(matches!(r.strikes, Strikes::Chance(p) if p == 0.5));
        for bad in ["writes:lose", "writes:explode:every=2", "writes:lose:sometimes", "reads:delay=x:every=2"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_every_rule_spares_a_call_s_last_attempt() {
        assert!(is_last_attempt("amz-sdk-invocation-id; ttl=20261203T000000Z; attempt=3; max=3"));
        assert!(!is_last_attempt("attempt=2; max=3"));
        assert!(!is_last_attempt("attempt=1"), "without max nothing is known");
        let mut state = State { plan: Plan(vec![Rule::parse("Query:lose:every=2").unwrap()]), ..State::default() };
        let struck: Vec<bool> = [false, false, false, true, false, false]
            .iter()
            .map(|&last| choose(&mut state, "Query", None, last).is_some())
            .collect();
        // The 2nd and 6th requests are struck; the 4th, a last attempt, is let through.
        assert_eq!(struck, [false, true, false, false, false, true]);
    }
}
