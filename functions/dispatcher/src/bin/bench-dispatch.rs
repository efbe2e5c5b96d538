//! Benchmark of the reminder dispatcher and the delivery after it, against DynamoDB Local and a
//! local SES (not a test: it prints figures).
//!
//! Loads N reminders all due in the same minute (one user and habit each: reminders of one user
//! due in the same minute contend on that user's item, which real users do not do at scale), runs one
//! dispatcher pass, and prints reminders fired per second, DynamoDB calls per reminder, and whether
//! every reminder fired exactly once (one notification each, none on a second pass).
//!
//! Then the delivery: the users' channels are split in three (a webhook, a browser's push
//! subscription, reminders by e-mail to a verified address). The outbox items are handed to the
//! deliver function as DynamoDB Streams batches of 100 (as Lambda does), and a receiver here
//! counts what arrives: every webhook by its `webhook-id`, every push by its subscription, every
//! e-mail in the local SES's store. It prints deliveries per second and whether each reminder
//! reached its channel exactly once (a scheduled run afterwards sends nothing more).
//!
//!     DYNAMODB_ENDPOINT=http://127.0.0.1:8000 SES_ENDPOINT=http://127.0.0.1:8005 bench-dispatch [N] [CONCURRENCY]
//!
//! `GROUPS=8` fires the minute as the template does, in eight runs at once (one per dispatch
//! group, `CONCURRENCY` each); `DELIVER=0` leaves out the delivery half.
//!
//! `make bench-dispatch` starts DynamoDB Local and the local SES, and runs it in release mode.

use dispatcher::{dispatch, dispatch_group, DispatchConfig, Report, ShardGroup};
use futures::{stream, StreamExt};
use shared::storage::{counter::CallCounter, Db};
use std::time::Instant;

async fn load(db: &Db, items: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let batches: Vec<Vec<WriteRequest>> = items
        .chunks(25)
        .map(|c| {
            c.iter()
                .map(|i| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(i.clone())).build().unwrap())
                        .build()
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .for_each_concurrent(16, |mut batch| async move {
            while !batch.is_empty() {
                let out =
                    db.client.batch_write_item().request_items(&db.table, batch).send().await.expect("batch write");
                batch = out.unprocessed_items.and_then(|mut m| m.remove(&db.table)).unwrap_or_default();
            }
        })
        .await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT (DynamoDB Local) is required");
    let counter = CallCounter::default();
    let client = shared::storage::counter::local_client(
        &endpoint,
        &shared::storage::Tuning::from_env().expect("DYNAMODB_* settings"),
        &counter,
        None,
    );
    let table = format!("bench-{}", ulid::Ulid::new());
    shared::storage::table::create_table(&client, &table).await.expect("create table");
    let db = Db::new(client, table.clone());

    // N users with one reminder each (a user's reminders due in the same minute contend on
    // that user's item, which real users do not do at scale).
    let users = n.max(1);
    let (items, _) = dispatcher::fixture::due_reminders(users, 1);
    let t = Instant::now();
    load(&db, items).await;
    println!("loaded {n} reminders for {users} users in {:.1} s", t.elapsed().as_secs_f64());

    let now = dispatcher::fixture::due_at();
    let cfg = DispatchConfig { concurrency, ..DispatchConfig::default() };
    counter.take();
    let groups: u32 = std::env::var("GROUPS").ok().and_then(|g| g.parse().ok()).unwrap_or(1).clamp(1, 64);
    let t = Instant::now();
    let runs = (0..groups).map(|index| dispatch_group(&db, &cfg, ShardGroup { index, of: groups }, now, None));
    let report = futures::future::join_all(runs).await.into_iter().fold(Report::default(), |mut total, r| {
        total.fired += r.expect("dispatch").fired;
        total
    });
    let secs = t.elapsed().as_secs_f64();
    let calls = counter.take();
    let second = dispatch(&db, &cfg, now, None).await.expect("second dispatch");
    let notifications = db
        .client
        .scan()
        .table_name(&table)
        .filter_expression("entity = :n")
        .expression_attribute_values(":n", aws_sdk_dynamodb::types::AttributeValue::S("Notification".into()))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|p| p.expect("scan").count as usize)
        .sum::<usize>();
    let exactly_once = report.fired == n && second.fired == 0 && notifications == n;
    println!();
    println!(
        "| reminders | runs × concurrency | fired | seconds | fired/s | DynamoDB calls | calls/reminder | exactly once |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {groups} × {concurrency} | {} | {secs:.2} | {:.0} | {calls} | {:.2} | {} |",
        report.fired,
        report.fired as f64 / secs,
        calls as f64 / n.max(1) as f64,
        if exactly_once { "yes" } else { "NO" }
    );
    println!("\nsecond pass: {second:?}; notifications stored: {notifications}");
    let delivered_once =
        std::env::var("DELIVER").as_deref() == Ok("0") || delivery::run(&db, &counter, concurrency).await;
    std::process::exit(if exactly_once && delivered_once { 0 } else { 1 });
}

/// The delivery half of the benchmark.
mod delivery {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64U, Engine};
    use shared::{
        keys,
        models::{EventType, PushSubscriptionItem, UserItem, WebhookItem},
        storage::{counter::CallCounter, Db},
    };
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
        time::Instant,
    };

    /// What the receiver got: webhook ids and push paths, each with how often.
    #[derive(Default)]
    struct Counts {
        webhooks: HashMap<String, usize>,
        pushes: HashMap<String, usize>,
    }

    /// An HTTP receiver on loopback answering 204 (webhooks) and 201 (pushes), counting.
    async fn receiver() -> (String, Arc<Mutex<Counts>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let counts = Arc::new(Mutex::new(Counts::default()));
        let shared = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let counts = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let counts = counts.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let id = req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
                            let mut c = counts.lock().expect("counts");
                            let status = if let Some(id) = id {
                                *c.webhooks.entry(id).or_default() += 1;
                                204
                            } else {
                                *c.pushes.entry(path).or_default() += 1;
                                201
                            };
                            let answer = hyper::Response::builder().status(status).body(String::new()).expect("answer");
                            Ok::<_, std::convert::Infallible>(answer)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (base, counts)
    }

    /// Gives every user of the table one channel, in turn: a webhook, a push subscription, e-mail.
    async fn channels(db: &Db, base: &str) -> (usize, usize, Vec<String>) {
        use aws_lc_rs::agreement;
        let (mut users, mut start) = (Vec::new(), None);
        loop {
            let page = db
                .client
                .scan()
                .table_name(&db.table)
                .filter_expression("entity = :u")
                .expression_attribute_values(":u", aws_sdk_dynamodb::types::AttributeValue::S(UserItem::ENTITY.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            users.extend(
                page.items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| shared::storage::from_item::<UserItem>(i).expect("user")),
            );
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let now = chrono::Utc::now();
        let (mut hooks, mut subs, mut mails, mut items) = (0, 0, Vec::new(), Vec::new());
        for (i, mut user) in users.into_iter().enumerate() {
            match i % 3 {
                0 => {
                    let hook = WebhookItem::new(
                        &user.user_id,
                        format!("{base}/hook"),
                        None,
                        vec![EventType::ReminderFired],
                        now,
                    );
                    items.push(shared::storage::to_item(&hook).expect("item"));
                    hooks += 1;
                }
                1 => {
                    let browser = agreement::PrivateKey::generate(&agreement::ECDH_P256).expect("key");
                    let endpoint = format!("{base}/push/{}", user.user_id);
                    let id = PushSubscriptionItem::id_for(&endpoint);
                    let key = keys::push_subscription(&user.user_id, &id);
                    let sub = PushSubscriptionItem {
                        pk: key.pk,
                        sk: key.sk,
                        entity: PushSubscriptionItem::ENTITY.into(),
                        subscription_id: id,
                        user_id: user.user_id.clone(),
                        endpoint,
                        p256dh: B64U.encode(browser.compute_public_key().expect("public key").as_ref()),
                        auth: B64U.encode([5u8; 16]),
                        expiration_time: None,
                        created_at: now,
                    };
                    items.push(shared::storage::to_item(&sub).expect("item"));
                    subs += 1;
                }
                _ => {
                    user.email_verified = true;
                    user.email_reminders = true;
                    mails.push(user.email.clone());
                    items.push(shared::storage::to_item(&user).expect("item"));
                }
            }
        }
        super::load(db, items).await;
        (hooks, subs, mails)
    }

    /// The e-mails the local SES holds, by recipient.
    async fn mailed(ses: &str) -> HashMap<String, usize> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = ses.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("the local SES");
        stream.write_all(format!("GET /store HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes()).await.expect("ask");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        let text = String::from_utf8_lossy(&raw);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let store: serde_json::Value = serde_json::from_str(body).expect("the store is JSON");
        let mut out = HashMap::new();
        for m in store["emails"].as_array().into_iter().flatten() {
            for to in m["destination"]["to"].as_array().into_iter().flatten() {
                *out.entry(to.as_str().unwrap_or_default().to_owned()).or_default() += 1;
            }
        }
        out
    }

    /// Delivers the fired reminders and prints the figures; `true` when each reached its channel
    /// exactly once.
    pub async fn run(db: &Db, counter: &CallCounter, concurrency: usize) -> bool {
        let ses = std::env::var("SES_ENDPOINT").expect("SES_ENDPOINT (the local SES) is required");
        let (base, counts) = receiver().await;
        let (hooks, subs, mails) = channels(db, &base).await;
        // The outbox's inserts, as the stream hands them to the function: batches of 100.
        let outbox: Vec<(String, String)> = {
            let (mut out, mut start) = (Vec::new(), None);
            loop {
                let page = db
                    .client
                    .scan()
                    .table_name(&db.table)
                    .filter_expression("entity = :o")
                    .expression_attribute_values(":o", aws_sdk_dynamodb::types::AttributeValue::S("Outbox".into()))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .expect("scan");
                for i in page.items.unwrap_or_default() {
                    let o: shared::models::OutboxItem = shared::storage::from_item(i).expect("outbox item");
                    out.push((o.user_id, o.event_id));
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break out;
                }
            }
        };
        let settings = shared::webhooks::Settings { timeout: std::time::Duration::from_secs(10), allow_private: true };
        let sender = shared::webhooks::Sender::new(settings, &shared::storage::tls::Roots::Compiled);
        let vapid =
            shared::push::Vapid::from_secret("the-benchmark's-vapid-secret-0123456789", "mailto:bench@example.com")
                .expect("a VAPID key");
        let mailer = shared::email::Mailer::local(
            &ses,
            shared::email::EmailSettings {
                from: "reminders@habit-tracker.bench".into(),
                configuration_set: None,
                app_url: "https://app.example.com".into(),
                endpoint: None,
            },
        );
        let cfg = deliver::DeliverConfig { concurrency, ..Default::default() };
        let d = deliver::Deliverer { db, sender: &sender, vapid: &vapid, mailer: &mailer, cfg: &cfg };
        let now = chrono::Utc::now();
        let events = outbox.len();
        counter.take();
        let t = Instant::now();
        let mut report = deliver::Report::default();
        // Lambda's poller hands a shard's batches over one after another; the table's stream has
        // shards enough for the batches to run side by side, `concurrency / 10` of them here.
        let batches: Vec<Vec<(String, String, u32)>> =
            outbox.chunks(100).map(|c| c.iter().map(|(u, e)| (u.clone(), e.clone(), 0)).collect()).collect();
        let reports: Vec<deliver::Report> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
            futures::stream::iter(batches.into_iter().map(|b| d.run(b, now, None))),
            (concurrency / 10).max(1),
        ))
        .await;
        for r in &reports {
            report.events += r.events;
            report.delivered += r.delivered;
            report.failed_attempts += r.failed_attempts;
            report.errors += r.errors;
        }
        let secs = t.elapsed().as_secs_f64();
        let calls = counter.take();
        // What the stream's pass left (an error on the way: the item is due again when its lease
        // ends) the schedule's runs finish, as in the cloud; the last run must find nothing.
        let (mut retried, mut runs) = (0, 0);
        let later = loop {
            runs += 1;
            let at = now + chrono::Duration::hours(3 * runs);
            let event = serde_json::json!({"detail-type": "Scheduled Event"});
            let r = d.handle_event(&event, at, None).await.expect("a scheduled run");
            retried += r.delivered;
            if r.events == 0 || runs == 5 {
                break r;
            }
        };
        let mailed = mailed(&ses).await;
        let c = counts.lock().expect("counts");
        let hooks_once = c.webhooks.len() == hooks && c.webhooks.values().all(|n| *n == 1);
        let pushes_once = c.pushes.len() == subs && c.pushes.values().all(|n| *n == 1);
        let mails_once = mails.iter().all(|m| mailed.get(m) == Some(&1));
        let once = hooks_once && pushes_once && mails_once && later.events == 0 && report.delivered + retried == events;
        println!();
        println!(
            "| events | webhooks | pushes | e-mails | seconds | delivered/s | DynamoDB calls | calls/event | delivered later by the schedule | each delivered exactly once |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {events} | {} of {hooks} | {} of {subs} | {} of {} | {secs:.2} | {:.0} | {calls} | {:.2} | {retried} | {} |",
            c.webhooks.len(),
            c.pushes.len(),
            mails.iter().filter(|m| mailed.contains_key(*m)).count(),
            mails.len(),
            report.delivered as f64 / secs,
            calls as f64 / events.max(1) as f64,
            if once { "yes" } else { "NO" }
        );
        println!(
            "\nthe stream's pass: {report:?}; {runs} scheduled run(s) after it delivered {retried}, the last found {} due",
            later.events
        );
        once
    }
}
