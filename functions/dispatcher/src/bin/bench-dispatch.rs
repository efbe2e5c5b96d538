//! Benchmark of the reminder dispatcher against DynamoDB Local (not a test: it prints figures).
//!
//! Loads N reminders all due in the same minute (one user and habit each: reminders of one user
//! due in the same minute contend on that user's item, which real users do not do at scale), runs one
//! dispatcher pass, and prints reminders fired per second, DynamoDB calls per reminder, and whether
//! every reminder fired exactly once (one notification each, none on a second pass).
//!
//!     DYNAMODB_ENDPOINT=http://127.0.0.1:8000 bench-dispatch [N] [CONCURRENCY]
//!
//! `make bench-dispatch` starts DynamoDB Local and runs it in release mode.

use dispatcher::{dispatch, DispatchConfig};
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
    let t = Instant::now();
    let report = dispatch(&db, &cfg, now, None).await.expect("dispatch");
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
        "| reminders | concurrency | fired | seconds | fired/s | DynamoDB calls | calls/reminder | exactly once |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {concurrency} | {} | {secs:.2} | {:.0} | {calls} | {:.2} | {} |",
        report.fired,
        report.fired as f64 / secs,
        calls as f64 / n.max(1) as f64,
        if exactly_once { "yes" } else { "NO" }
    );
    println!("\nsecond pass: {second:?}; notifications stored: {notifications}");
    std::process::exit(if exactly_once { 0 } else { 1 });
}
