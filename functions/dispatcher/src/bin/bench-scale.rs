//! A million reminders due in one minute: a simulation of the dispatcher at that scale (not a
//! test: it prints figures; `make bench-scale`).
//!
//! The dispatcher's own code (`dispatch_group`, the storage layer, the AWS SDK with its retries
//! and timeouts) runs against a stand-in for DynamoDB plugged in as the SDK's HTTP client. The
//! stand-in keeps the due index and the reminders' state, answers the calls the dispatcher makes
//! (`Query` of a due shard, the fire's `TransactWriteItems`, `UpdateItem`) and applies what bounds
//! DynamoDB at this scale:
//!
//! - **per-partition throughput**: 1,000 write units and 3,000 read units a second for each
//!   partition of each index (token buckets holding one second), a transaction's items costing
//!   two units each, an index entry whose sort key moves costing two index writes (delete and
//!   put). A request that would exceed a partition's budget is refused with
//!   `ThrottlingException`, as a throttled index refuses the table's write, and the SDK's own
//!   retry policy handles it;
//! - **latency**: every call waits a time drawn uniformly from the in-region range
//!   (`LATENCY_MS`, default 4-6; transactions `TX_LATENCY_MS`, default 8-12);
//! - **CPU**: each run (one Lambda invocation) spends `CPU_US` (default 200, the SDK's measured
//!   cost of a call on this machine, docs/PERFORMANCE.md) of processor time per call, one call at
//!   a time.
//!
//! Time is simulated (tokio's paused clock): sleeps, timeouts, backoffs and deadlines run on it,
//! so the machine's own speed does not enter the figures. Each simulated minute starts the runs
//! of that minute (every dispatch group at once, each with its 55 s deadline), until everything
//! has fired or ten minutes have passed.
//!
//! The stand-in checks the conditions that make a fire exactly-once (the reminder still at the
//! occurrence, the notification not yet written); the checks on the habit and the user always
//! hold in this population (every habit and user is active), so they only cost capacity here.
//!
//!     bench-scale [N] [GROUPS,...]        (default 1000000 and 1,8)

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::{
    http::{http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector},
    orchestrator::{HttpRequest, HttpResponse},
};
use aws_smithy_types::body::SdkBody;
use dispatcher::{dispatch_group, DispatchConfig, ShardGroup};
use serde_json::{json, Map, Value};
use shared::{
    keys,
    models::{ReminderItem, ReminderSpec},
    schedule::Day,
    storage::Db,
};
use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::time::Instant;

/// DynamoDB's per-partition limits.
const WRITE_UNITS_PER_SECOND: f64 = 1000.0;
const READ_UNITS_PER_SECOND: f64 = 3000.0;

#[derive(Debug, Clone, Copy)]
struct Settings {
    latency: (Duration, Duration),
    tx_latency: (Duration, Duration),
    cpu: Duration,
}

fn range_ms(var: &str, default: (u64, u64)) -> (Duration, Duration) {
    let (lo, hi) = std::env::var(var)
        .ok()
        .and_then(|v| v.split_once('-').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))))
        .unwrap_or(default);
    (Duration::from_millis(lo), Duration::from_millis(hi.max(lo)))
}

/// A token bucket of one second's units.
struct Bucket {
    tokens: f64,
    at: Instant,
    rate: f64,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Self {
        Bucket { tokens: rate, at: now, rate }
    }
    fn refill(&mut self, now: Instant) {
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * self.rate).min(self.rate);
        self.at = now;
    }
}

/// One armed reminder as the stand-in keeps it: its item as first written (what the due index
/// returns) and where it stands now.
struct Reminder {
    wire: Arc<str>,
    next_fire_at: Value,
    shard: String,
    due_sk: String,
}

#[derive(Default)]
struct World {
    /// Due index: shard -> sort key -> reminder key.
    due: HashMap<String, BTreeMap<String, String>>,
    reminders: HashMap<String, Reminder>,
    notifications: std::collections::HashSet<String>,
    buckets: HashMap<String, Bucket>,
    /// When each reminder fired (simulated time since the minute it was due).
    fired: Vec<Duration>,
    calls: u64,
    throttled: u64,
    /// Index writes per (partition, simulated second), for the busiest partition's rate.
    writes: HashMap<(String, u64), f64>,
    seed: u64,
}

impl World {
    fn random(&mut self) -> f64 {
        // xorshift64*: the latencies' draw, reproducible.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn draw(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        lo + (hi - lo).mul_f64(self.random())
    }

    /// Takes `units` from each partition's bucket, or none if any lacks them.
    fn spend(&mut self, now: Instant, wants: &[(String, f64, f64)], t0: Instant) -> bool {
        for (partition, units, rate) in wants {
            let b = self.buckets.entry(partition.clone()).or_insert_with(|| Bucket::new(*rate, now));
            b.refill(now);
            if b.tokens < *units {
                return false;
            }
        }
        let second = (now - t0).as_secs();
        for (partition, units, rate) in wants {
            self.buckets.get_mut(partition).expect("a bucket").tokens -= units;
            if *rate == WRITE_UNITS_PER_SECOND {
                *self.writes.entry((partition.clone(), second)).or_default() += units;
            }
        }
        true
    }
}

fn s(v: &Value) -> &str {
    v["S"].as_str().unwrap_or_default()
}

fn key_of(key: &Value) -> String {
    format!("{}|{}", s(&key["PK"]), s(&key["SK"]))
}

fn error(kind: &str, message: &str, extra: Option<Value>) -> (u16, Value) {
    let mut body = json!({"__type": kind, "message": message});
    if let (Some(Value::Object(extra)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra);
    }
    (400, body)
}

fn throttled() -> (u16, Value) {
    error(
        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "Throughput exceeds the current capacity of your table or index.",
        None,
    )
}

/// Evaluates `name = :value` terms joined by AND (the dispatcher's conditions on the reminder).
fn holds(condition: &str, item: &Map<String, Value>, values: &Value) -> bool {
    condition.split(" AND ").all(|term| match term.split_once(" = ") {
        Some((name, value)) => item.get(name.trim()) == Some(&values[value.trim()]),
        None => true,
    })
}

struct Sim {
    world: Mutex<World>,
    settings: Settings,
    t0: Instant,
}

impl Sim {
    /// Answers one request at simulated time `now`.
    fn answer(&self, target: &str, body: &Value, now: Instant) -> (u16, Value) {
        let mut w = self.world.lock().unwrap();
        w.calls += 1;
        let answer = match target {
            "Query" => self.query(&mut w, body, now),
            "TransactWriteItems" => self.transact(&mut w, body, now),
            "UpdateItem" => {
                let update = body.clone();
                self.apply(&mut w, &[json!({ "Update": update })], now, false)
            }
            other => error("com.amazonaws.dynamodb.v20120810#UnknownOperationException", other, None),
        };
        if answer.1["__type"].as_str().is_some_and(|t| t.ends_with("ThrottlingException")) {
            w.throttled += 1;
        }
        answer
    }

    fn query(&self, w: &mut World, body: &Value, now: Instant) -> (u16, Value) {
        let values = &body["ExpressionAttributeValues"];
        let (pk, upper) = (s(&values[":pk"]).to_owned(), s(&values[":sk2"]).to_owned());
        let limit = body["Limit"].as_u64().unwrap_or(100) as usize;
        let after = body["ExclusiveStartKey"]["GSI1SK"]["S"].as_str().map(str::to_owned);
        let shard = w.due.get(&pk);
        let page: Vec<(String, String)> = shard
            .map(|m| {
                let lower = after.as_ref().map_or(Bound::Unbounded, |a| Bound::Excluded(a.clone()));
                m.range((lower, Bound::Included(upper.clone())))
                    .take(limit + 1)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let bytes: usize = page.iter().map(|(_, k)| w.reminders[k].wire.len()).sum();
        let units = ((bytes as f64 / 4096.0).ceil() * 0.5).max(0.5);
        if !w.spend(now, &[(format!("read GSI1/{pk}"), units, READ_UNITS_PER_SECOND)], self.t0) {
            return throttled();
        }
        let mut out = String::from("{\"Items\":[");
        for (i, (_, k)) in page.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&w.reminders[k].wire);
        }
        out.push_str(&format!("],\"Count\":{},\"ScannedCount\":{}", page.len(), page.len()));
        if let (true, Some((sk, k))) = (more, page.last()) {
            let (rpk, rsk) = k.split_once('|').expect("a key");
            out.push_str(&format!(
                ",\"LastEvaluatedKey\":{{\"PK\":{{\"S\":\"{rpk}\"}},\"SK\":{{\"S\":\"{rsk}\"}},\"GSI1PK\":{{\"S\":\"{pk}\"}},\"GSI1SK\":{{\"S\":\"{sk}\"}}}}"
            ));
        }
        out.push('}');
        (200, serde_json::from_str(&out).expect("a page"))
    }

    fn transact(&self, w: &mut World, body: &Value, now: Instant) -> (u16, Value) {
        let items = body["TransactItems"].as_array().cloned().unwrap_or_default();
        self.apply(w, &items, now, true)
    }

    /// Applies a transaction's items (or one `UpdateItem`, `transaction` false).
    fn apply(&self, w: &mut World, items: &[Value], now: Instant, transaction: bool) -> (u16, Value) {
        let per_item = if transaction { 2.0 } else { 1.0 };
        let mut wants = Vec::new();
        for op in items {
            let (kind, body) = op.as_object().and_then(|o| o.iter().next()).expect("an operation");
            let key = if kind == "Put" { &body["Item"] } else { &body["Key"] };
            wants.push((format!("write TABLE/{}", s(&key["PK"])), per_item, WRITE_UNITS_PER_SECOND));
            if kind == "Update" {
                if let Some(r) = w.reminders.get(&key_of(key)) {
                    wants.push((format!("write GSI1/{}", r.shard), 2.0, WRITE_UNITS_PER_SECOND));
                }
            }
            if let Some(gsi) = body["Item"]["GSI1PK"]["S"].as_str() {
                wants.push((format!("write GSI1/{gsi}"), 1.0, WRITE_UNITS_PER_SECOND));
            }
        }
        if !w.spend(now, &wants, self.t0) {
            return throttled();
        }
        // Conditions first, all or nothing.
        let mut reasons = Vec::new();
        let mut failed = false;
        for op in items {
            let (kind, body) = op.as_object().and_then(|o| o.iter().next()).expect("an operation");
            let ok = match kind.as_str() {
                "Update" => match w.reminders.get(&key_of(&body["Key"])) {
                    Some(r) => {
                        let state: Map<String, Value> = [
                            ("next_fire_at".to_owned(), r.next_fire_at.clone()),
                            ("is_active".to_owned(), json!({"BOOL": true})),
                        ]
                        .into_iter()
                        .collect();
                        holds(
                            body["ConditionExpression"].as_str().unwrap_or(""),
                            &state,
                            &body["ExpressionAttributeValues"],
                        )
                    }
                    None => false,
                },
                "Put" if body["ConditionExpression"] == "attribute_not_exists(PK)" => {
                    !w.notifications.contains(&key_of(&body["Item"]))
                }
                _ => true,
            };
            failed |= !ok;
            reasons.push(json!({"Code": if ok { "None" } else { "ConditionalCheckFailed" }}));
        }
        if failed {
            return if transaction {
                error(
                    "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons",
                    Some(json!({ "CancellationReasons": reasons })),
                )
            } else {
                error(
                    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "The conditional request failed",
                    None,
                )
            };
        }
        let mut fired = false;
        for op in items {
            let (kind, body) = op.as_object().and_then(|o| o.iter().next()).expect("an operation");
            match kind.as_str() {
                "Update" => {
                    let k = key_of(&body["Key"]);
                    let next = body["ExpressionAttributeValues"][":next"].clone();
                    if let Some(r) = w.reminders.get_mut(&k) {
                        // Its next occurrence is a day later: out of every simulated minute's reach.
                        let (shard, due_sk) = (r.shard.clone(), r.due_sk.clone());
                        r.next_fire_at = next;
                        if let Some(m) = w.due.get_mut(&shard) {
                            m.remove(&due_sk);
                        }
                    }
                }
                "Put" if body["ConditionExpression"] == "attribute_not_exists(PK)" => {
                    w.notifications.insert(key_of(&body["Item"]));
                    fired = true;
                }
                _ => {}
            }
        }
        if fired {
            let at = now - self.t0;
            w.fired.push(at);
        }
        (200, json!({}))
    }
}

/// The SDK's HTTP client for one run: its CPU (one call at a time) and the stand-in.
#[derive(Clone)]
struct Connector {
    sim: Arc<Sim>,
    /// When the run's processor is free again: calls queue for it, `CPU_US` each. (A timeline
    /// rather than a sleep per call: tokio's timers count whole milliseconds.)
    cpu: Arc<Mutex<Instant>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated DynamoDB")
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (sim, cpu) = (self.sim.clone(), self.cpu.clone());
        let target =
            request.headers().get("x-amz-target").unwrap_or_default().rsplit('.').next().unwrap_or_default().to_owned();
        let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        HttpConnectorFuture::new(async move {
            let done = {
                let mut free = cpu.lock().unwrap();
                *free = (*free).max(Instant::now()) + sim.settings.cpu;
                *free
            };
            tokio::time::sleep_until(done).await;
            let wait = {
                let mut w = sim.world.lock().unwrap();
                let range = if target == "TransactWriteItems" { sim.settings.tx_latency } else { sim.settings.latency };
                w.draw(range)
            };
            // Half the round trip to reach the table, the answer on the way back.
            tokio::time::sleep(wait / 2).await;
            let (status, answer) = sim.answer(&target, &body, Instant::now());
            tokio::time::sleep(wait - wait / 2).await;
            let mut response =
                HttpResponse::new(status.try_into().expect("a status"), SdkBody::from(answer.to_string()));
            response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
            response.headers_mut().insert("x-amzn-requestid", "simulated");
            Ok(response)
        })
    }
}

fn db_for(sim: &Arc<Sim>) -> Db {
    let connector = Connector { sim: sim.clone(), cpu: Arc::new(Mutex::new(Instant::now())) };
    let http = http_client_fn(move |_, _| SharedHttpConnector::new(connector.clone()));
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("sim", "sim", None, None, "sim"))
        .endpoint_url("http://dynamodb.simulated")
        .http_client(http);
    let conf = shared::storage::Tuning::default().apply(conf);
    Db::new(aws_sdk_dynamodb::Client::from_conf(conf.build()), "sim".to_owned())
}

/// DynamoDB's JSON for an attribute value.
fn wire(v: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::Bool(b) => json!({ "BOOL": b }),
        A::Null(_) => json!({ "NULL": true }),
        A::Ss(l) => json!({ "SS": l }),
        A::L(l) => json!({ "L": l.iter().map(wire).collect::<Vec<_>>() }),
        A::M(m) => json!({ "M": m.iter().map(|(k, v)| (k.clone(), wire(v))).collect::<Map<_, _>>() }),
        other => panic!("no wire form for {other:?}"),
    }
}

fn world(n: usize) -> World {
    let after = dispatcher::fixture::armed_at();
    let mut w = World { seed: 0x9e37_79b9_7f4a_7c15, ..Default::default() };
    for _ in 0..n {
        let spec = ReminderSpec {
            habit_id: ulid::Ulid::new().to_string(),
            reminder_time: "07:30".into(),
            repeat_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun],
            time_zone: "UTC".into(),
            message: "stretch".into(),
            is_active: true,
        };
        let mut r = ReminderItem::new(&ulid::Ulid::new().to_string(), spec, after);
        r.arm(after);
        let item = shared::storage::to_item(&r).expect("an item");
        let wire: Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), wire(v))).collect();
        let key = format!("{}|{}", s(&wire["PK"]), s(&wire["SK"]));
        let (shard, due_sk) = (s(&wire["GSI1PK"]).to_owned(), s(&wire["GSI1SK"]).to_owned());
        w.due.entry(shard.clone()).or_default().insert(due_sk.clone(), key.clone());
        let next_fire_at = wire["next_fire_at"].clone();
        w.reminders.insert(key, Reminder { wire: Value::Object(wire).to_string().into(), next_fire_at, shard, due_sk });
    }
    w
}

struct Row {
    groups: u32,
    fired_in_minute: usize,
    fired: usize,
    minutes: u32,
    p50: Duration,
    p99: Duration,
    throttled: u64,
    busiest: f64,
    calls: u64,
}

async fn simulate(n: usize, groups: u32, settings: Settings, concurrency: usize) -> Row {
    let t0 = Instant::now();
    let sim = Arc::new(Sim { world: Mutex::new(world(n)), settings, t0 });
    let cfg = DispatchConfig { concurrency, ..DispatchConfig::default() };
    let dbs: Vec<Db> = (0..groups).map(|_| db_for(&sim)).collect();
    let due = dispatcher::fixture::due_at();
    let mut minutes = 0;
    for minute in 0..10u32 {
        let start = t0 + Duration::from_secs(60 * u64::from(minute));
        tokio::time::sleep_until(start).await;
        minutes = minute + 1;
        let now = due + chrono::Duration::minutes(i64::from(minute));
        let runs = dbs.iter().enumerate().map(|(i, db)| {
            let group = ShardGroup { index: i as u32, of: groups };
            let cfg = cfg.clone();
            async move { dispatch_group(db, &cfg, group, now, Some(start + Duration::from_secs(55))).await }
        });
        for report in futures::future::join_all(runs).await {
            report.expect("a run");
        }
        if sim.world.lock().unwrap().fired.len() >= n {
            break;
        }
    }
    let w = sim.world.lock().unwrap();
    let mut fired = w.fired.clone();
    fired.sort();
    let pct = |p: f64| {
        fired.get(((fired.len() as f64 * p) as usize).min(fired.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    let mut per_second: HashMap<&(String, u64), f64> = HashMap::new();
    for (k, v) in &w.writes {
        if k.0.starts_with("write GSI1/") {
            per_second.insert(k, *v);
        }
    }
    Row {
        groups,
        fired_in_minute: fired.iter().filter(|t| **t < Duration::from_secs(60)).count(),
        fired: fired.len(),
        minutes,
        p50: pct(0.5),
        p99: pct(0.99),
        throttled: w.throttled,
        busiest: per_second.values().copied().fold(0.0, f64::max),
        calls: w.calls,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let groups: Vec<u32> = args
        .get(1)
        .map(|g| g.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, dispatcher::SHARD_GROUPS]);
    let settings = Settings {
        latency: range_ms("LATENCY_MS", (4, 6)),
        tx_latency: range_ms("TX_LATENCY_MS", (8, 12)),
        cpu: Duration::from_micros(std::env::var("CPU_US").ok().and_then(|v| v.parse().ok()).unwrap_or(200)),
    };
    let concurrency = 64; // DISPATCH_CONCURRENCY in the template
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("a runtime");
    println!(
        "| reminders due | runs a minute × shards each | concurrency per run | call latency (transactions) | CPU per call | fired within 60 s | fired in all | minutes | p50 lateness | p99 lateness | throttled calls | busiest index partition, writes/s | DynamoDB calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for g in groups {
        let wall = std::time::Instant::now();
        let row = runtime.block_on(simulate(n, g, settings, concurrency));
        eprintln!("simulated {} groups in {:.0} s of this machine's time", g, wall.elapsed().as_secs_f64());
        println!(
            "| {n} | {} × {} | {concurrency} | {}–{} ms ({}–{} ms) | {} µs | {} ({:.2} %) | {} | {} | {:.1} s | {:.1} s | {} | {:.0} | {} |",
            row.groups,
            keys::DUE_SHARDS / row.groups,
            settings.latency.0.as_millis(),
            settings.latency.1.as_millis(),
            settings.tx_latency.0.as_millis(),
            settings.tx_latency.1.as_millis(),
            settings.cpu.as_micros(),
            row.fired_in_minute,
            100.0 * row.fired_in_minute as f64 / n as f64,
            row.fired,
            row.minutes,
            row.p50.as_secs_f64(),
            row.p99.as_secs_f64(),
            row.throttled,
            row.busiest,
            row.calls,
        );
    }
}
