//! Webhooks end to end against DynamoDB Local and real HTTP receivers on loopback: the outbox
//! written with the event, the deliver function fed as DynamoDB Streams and the schedule feed it,
//! signatures, retries with the same id, timeouts, giving up (dead-letter list, switched off,
//! the user told), derived events once, and the `/me/webhooks` routes.

use super::dispatcher::{armed, habit, ALL};
use chrono::{DateTime, Duration, Utc};
use deliver::{DeliverConfig, Deliverer, Report};
use habit_tests::{Session, TestApp};
use serde_json::{json, Value};
use shared::models::{DeliveryItem, DeliveryStatus, OutboxItem};
use std::sync::{Arc, Mutex};

/// What a receiver was sent: headers and body of each request.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: String,
    pub(crate) raw: Vec<u8>,
    pub(crate) headers: std::collections::HashMap<String, String>,
}

/// An HTTP receiver on loopback: `/ok` answers 204; `/flaky` 500 three times, then 200; `/fail`
/// always 503; `/gone` 410; `/push` 201 (as a push service); `/hang` answers after 3 s (longer
/// than the tests' 1 s attempt) while `hang` is set.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<(String, Received)>>>,
    hang: Arc<std::sync::atomic::AtomicBool>,
    base: String,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        use axum::{extract::State, http::HeaderMap, routing::post, Router};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver { base: format!("http://{}", listener.local_addr().unwrap()), ..Default::default() };
        r.hang.store(true, std::sync::atomic::Ordering::SeqCst);
        async fn take(
            State(r): State<Receiver>,
            uri: axum::http::Uri,
            h: HeaderMap,
            raw: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            use axum::http::StatusCode;
            let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let got = Received {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp").parse().unwrap_or(0),
                signature: header("webhook-signature"),
                body: String::from_utf8_lossy(&raw).into_owned(),
                raw: raw.to_vec(),
                headers: h.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned())).collect(),
            };
            let path = uri.path().to_owned();
            let seen = {
                let mut all = r.got.lock().unwrap();
                all.push((path.clone(), got));
                all.iter().filter(|(p, _)| *p == path).count()
            };
            match path.as_str() {
                "/flaky" if seen <= 3 => StatusCode::INTERNAL_SERVER_ERROR,
                "/fail" => StatusCode::SERVICE_UNAVAILABLE,
                "/gone" => StatusCode::GONE,
                "/push" => StatusCode::CREATED,
                "/hang" if r.hang.load(std::sync::atomic::Ordering::SeqCst) => {
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    StatusCode::OK
                }
                "/flaky" | "/hang" => StatusCode::OK,
                _ => StatusCode::NO_CONTENT,
            }
        }
        let app = Router::new().route("/{*path}", post(take)).with_state(r.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let app = app.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        r
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn at(&self, path: &str) -> Vec<Received> {
        self.got.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, r)| r.clone()).collect()
    }
}

pub(crate) fn cfg() -> DeliverConfig {
    DeliverConfig { max_attempts: 4, disable_after: 4, ..DeliverConfig::default() }
}

async fn add_webhook(app: &TestApp, s: &Session, url: &str, types: &[&str]) -> (String, String) {
    let r = app.call("POST", "/me/webhooks", Some(&s.access), Some(json!({"url": url, "event_types": types}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (r.body["webhook_id"].as_str().unwrap().to_owned(), r.body["secret"].as_str().unwrap().to_owned())
}

/// The outbox items as a DynamoDB Streams batch (`INSERT`, keys only), as Lambda hands it over.
async fn stream_event(app: &TestApp) -> Value {
    let records: Vec<Value> = outbox(app)
        .await
        .iter()
        .map(|o| {
            json!({"eventName": "INSERT", "eventSource": "aws:dynamodb",
                   "dynamodb": {"Keys": {"PK": {"S": o.pk}, "SK": {"S": o.sk}}, "StreamViewType": "KEYS_ONLY"}})
        })
        .collect();
    json!({ "Records": records })
}

pub(crate) async fn outbox(app: &TestApp) -> Vec<OutboxItem> {
    let items = app.items().await;
    items
        .into_iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("Outbox"))
        .map(|i| shared::storage::from_item(i).unwrap())
        .collect()
}

async fn deliveries(app: &TestApp, s: &Session, hook: &str) -> Vec<Value> {
    let r = app.get(&format!("/me/webhooks/{hook}/deliveries"), &s.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// The deliver function of the world, with `cfg`.
pub(crate) fn deliverer<'a>(app: &'a TestApp, cfg: &'a DeliverConfig) -> Deliverer<'a> {
    Deliverer {
        db: &app.deliver,
        sender: app.state.webhook_sender(),
        vapid: app.state.vapid().unwrap(),
        mailer: app.state.mailer().unwrap(),
        cfg,
    }
}

pub(crate) async fn run_stream(app: &TestApp, c: &DeliverConfig, now: DateTime<Utc>) -> Report {
    deliverer(app, c).handle_event(&stream_event(app).await, now, None).await.unwrap()
}

pub(crate) async fn run_schedule(app: &TestApp, c: &DeliverConfig, now: DateTime<Utc>) -> Report {
    let event = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    deliverer(app, c).handle_event(&event, now, None).await.unwrap()
}

fn verify(secret: &str, r: &Received) {
    let expected = shared::webhooks::signature(secret, &r.id, r.timestamp, &r.body);
    assert_eq!(r.signature, expected, "signature of {}", r.id);
}

async fn record(app: &TestApp, s: &Session, h: &str, date: chrono::NaiveDate, note: &str) {
    let r = app
        .call(
            "PUT",
            &format!("/habits/{h}/entries/{date}"),
            Some(&s.access),
            Some(json!({"status": "done", "note": note})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_fired_reminder_is_delivered_once_signed_with_the_notification_id() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("hooked").await;
    let (hook, secret) = add_webhook(&app, &s, &rx.url("/ok"), &["reminder.fired"]).await;
    let h = habit(&app, &s, json!({})).await;
    let now = Utc::now();
    let r = armed(&app, &s, &h, "07:30", &ALL, "Europe/Berlin", now).await;
    let due = r.next_fire_at.unwrap();
    let fired = dispatcher::dispatch(&app.dispatcher, &Default::default(), due, None).await.unwrap();
    assert_eq!(fired.fired, 1);
    assert_eq!(outbox(&app).await.len(), 1, "the event is written with the notification");

    let report = run_stream(&app, &cfg(), due).await;
    assert_eq!((report.events, report.delivered, report.failed_attempts), (1, 1, 0), "{report:?}");
    let got = rx.at("/ok");
    assert_eq!(got.len(), 1);
    let notes = app.get("/me/notifications", &s.access).await;
    let note = &notes.body["items"][0];
    assert_eq!(got[0].id, note["notification_id"].as_str().unwrap(), "webhook-id is the notification's id");
    verify(&secret, &got[0]);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "reminder.fired");
    assert_eq!(body["data"]["message"], "time");
    assert_eq!(body["data"]["habit_id"], h.as_str());
    assert!(outbox(&app).await.is_empty(), "a settled event leaves the outbox");

    let listed = deliveries(&app, &s, &hook).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["attempts"][0]["status_code"], 204);
    assert_eq!(listed[0]["payload"], body);

    // The same stream batch again (a redelivery) and a scheduled run send nothing more.
    let again = deliverer(&app, &cfg()).handle_event(&json!({"Records": [{
        "eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": format!("USER#{}", s.user_id)}, "SK": {"S": format!("OUTBOX#{}", got[0].id)}}}}]}), due, None)
        .await
        .unwrap();
    assert_eq!((again.events, again.taken_elsewhere), (0, 1));
    assert_eq!(run_schedule(&app, &cfg(), due + Duration::hours(3)).await.events, 0);
    assert_eq!(rx.at("/ok").len(), 1);
}

#[tokio::test]
async fn a_failing_endpoint_gets_every_attempt_with_the_same_id_and_body_until_it_answers() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("flaky").await;
    let (hook, secret) = add_webhook(&app, &s, &rx.url("/flaky"), &["entry.recorded"]).await;
    let h = habit(&app, &s, json!({})).await;
    record(&app, &s, &h, Utc::now().date_naive() - Duration::days(1), "first").await;
    let t0 = Utc::now();
    let first = run_stream(&app, &cfg(), t0).await;
    assert_eq!((first.failed_attempts, first.retries_scheduled), (1, 1), "{first:?}");
    let next = &outbox(&app).await[0];
    let wait = next.gsi1sk[..12].parse::<i64>().unwrap() - t0.timestamp();
    assert!((15..=30).contains(&wait), "the first retry after 15-30 s (30 s with jitter), got {wait}");
    // Each scheduled run far enough ahead takes the retry that is due.
    for k in 1..=3 {
        let r = run_schedule(&app, &cfg(), t0 + Duration::hours(3 * k)).await;
        assert_eq!(r.events, 1, "run {k}: {r:?}");
    }
    let got = rx.at("/flaky");
    assert_eq!(got.len(), 4, "three failures, then the success");
    assert!(got.iter().all(|g| g.id == got[0].id && g.body == got[0].body), "same id and body on every attempt");
    got.iter().for_each(|g| verify(&secret, g));
    let listed = deliveries(&app, &s, &hook).await;
    assert_eq!(listed[0]["status"], "delivered");
    let codes: Vec<i64> =
        listed[0]["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 500, 500, 200]);
    let w = app.get(&format!("/me/webhooks/{hook}"), &s.access).await;
    assert_eq!((w.body["enabled"].as_bool(), w.body["consecutive_failures"].as_u64()), (Some(true), Some(0)));
    assert!(outbox(&app).await.is_empty());
}

#[tokio::test]
async fn an_endpoint_that_always_fails_is_given_up_switched_off_and_its_user_told() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("failing").await;
    let (hook, _) = add_webhook(&app, &s, &rx.url("/fail"), &["entry.recorded"]).await;
    let h = habit(&app, &s, json!({})).await;
    record(&app, &s, &h, Utc::now().date_naive(), "x").await;
    let t0 = Utc::now();
    let mut total = run_stream(&app, &cfg(), t0).await;
    for k in 1..=5 {
        let r = run_schedule(&app, &cfg(), t0 + Duration::hours(3 * k)).await;
        total.failed_attempts += r.failed_attempts;
        total.dead += r.dead;
        total.webhooks_disabled += r.webhooks_disabled;
    }
    assert_eq!((total.failed_attempts, total.dead, total.webhooks_disabled), (4, 1, 1), "{total:?}");
    assert_eq!(rx.at("/fail").len(), 4, "max_attempts, then no more");
    let listed = deliveries(&app, &s, &hook).await;
    assert_eq!(listed[0]["status"], "dead");
    assert_eq!(listed[0]["attempts"].as_array().unwrap().len(), 4);
    let (dead, _) = app.state.db.dead_deliveries(10, None).await.unwrap();
    let dead: Vec<&DeliveryItem> = dead.iter().collect();
    assert_eq!(dead.len(), 1, "the dead-letter list holds it");
    assert_eq!((dead[0].target_id.as_str(), dead[0].status), (hook.as_str(), DeliveryStatus::Dead));
    let w = app.get(&format!("/me/webhooks/{hook}"), &s.access).await;
    assert_eq!(w.body["enabled"], false);
    assert_eq!(w.body["disabled_reason"], "4 failed deliveries in a row");
    let notes = app.get("/me/notifications", &s.access).await;
    let told = notes.body["items"].as_array().unwrap().iter().find(|n| n["kind"] == "webhook_disabled").cloned();
    let told = told.expect("the user is told");
    assert_eq!(told["webhook_id"], hook.as_str());
    assert!(outbox(&app).await.is_empty());
    // Switched off: the next event has nobody to go to.
    record(&app, &s, &h, Utc::now().date_naive() - Duration::days(1), "y").await;
    let r = run_stream(&app, &cfg(), Utc::now()).await;
    assert_eq!(r.no_receiver, 1, "{r:?}");
    // Switched on again: its run of failures starts afresh.
    let on = app.call("PATCH", &format!("/me/webhooks/{hook}"), Some(&s.access), Some(json!({"enabled": true}))).await;
    assert_eq!(
        (on.body["enabled"].as_bool(), on.body["consecutive_failures"].as_u64()),
        (Some(true), Some(0)),
        "{}",
        on.body
    );
    assert_eq!(on.body["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_and_is_retried() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("hanging").await;
    let (hook, _) = add_webhook(&app, &s, &rx.url("/hang"), &["entry.recorded"]).await;
    let h = habit(&app, &s, json!({})).await;
    record(&app, &s, &h, Utc::now().date_naive(), "x").await;
    let t0 = Utc::now();
    let first = run_stream(&app, &cfg(), t0).await;
    assert_eq!((first.failed_attempts, first.retries_scheduled), (1, 1), "{first:?}");
    let listed = deliveries(&app, &s, &hook).await;
    assert_eq!(listed[0]["status"], "pending");
    assert_eq!(listed[0]["attempts"][0]["error"], "timed out after 1000 ms");
    assert_eq!(listed[0]["attempts"][0]["status_code"], Value::Null);
    rx.hang.store(false, std::sync::atomic::Ordering::SeqCst);
    let second = run_schedule(&app, &cfg(), t0 + Duration::hours(3)).await;
    assert_eq!(second.delivered, 1, "{second:?}");
    assert_eq!(rx.at("/hang").len(), 2);
}

#[tokio::test]
async fn an_entry_event_is_written_only_for_a_user_whose_webhooks_take_it() {
    let app = TestApp::spawn().await;
    let s = app.register("quiet").await;
    let h = habit(&app, &s, json!({})).await;
    record(&app, &s, &h, Utc::now().date_naive(), "no hooks").await;
    assert!(outbox(&app).await.is_empty(), "nobody takes entry events: no outbox item");
    let (hook, _) = add_webhook(&app, &s, "http://127.0.0.1:9/x", &["reminder.fired"]).await;
    let s = app.login("quiet").await;
    record(&app, &s, &h, Utc::now().date_naive(), "reminders only").await;
    assert!(outbox(&app).await.is_empty());
    let r = app
        .call(
            "PATCH",
            &format!("/me/webhooks/{hook}"),
            Some(&s.access),
            Some(json!({"event_types": ["streak.milestone"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = app.login("quiet").await;
    record(&app, &s, &h, Utc::now().date_naive(), "milestones").await;
    assert_eq!(outbox(&app).await.len(), 1, "a derived type needs the entry's event");
}

#[tokio::test]
async fn a_streak_milestone_and_a_challenge_goal_are_delivered_once() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let admin = app.admin("hookadmin").await;
    let s = app.register("streaker").await;
    let h = habit(&app, &s, json!({"start_date": "2020-01-01"})).await;
    let today = Utc::now().date_naive();
    let c = app
        .call("POST", "/challenges", Some(&admin.access), Some(json!({
            "challenge_name": "Week", "start_date": today - Duration::days(10), "end_date": today + Duration::days(10), "goal_days": 3})))
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let cid = c.body["challenge_id"].as_str().unwrap().to_owned();
    let j = app.call("POST", &format!("/challenges/{cid}/join"), Some(&s.access), Some(json!({"habit_id": h}))).await;
    assert_eq!(j.status, 201, "{}", j.body);
    add_webhook(&app, &s, &rx.url("/ok"), &["streak.milestone", "challenge.goal_reached"]).await;
    let s = app.login("streaker").await;
    for back in (0..7).rev() {
        record(&app, &s, &h, today - Duration::days(back), "done").await;
        run_stream(&app, &cfg(), Utc::now()).await;
    }
    // The seventh day again (a changed note): the same milestone, not a second one.
    record(&app, &s, &h, today, "changed").await;
    let r = run_stream(&app, &cfg(), Utc::now()).await;
    assert_eq!(r.no_receiver, 1, "{r:?}");
    let bodies: Vec<Value> = rx.at("/ok").iter().map(|g| serde_json::from_str(&g.body).unwrap()).collect();
    let of = |t: &str| bodies.iter().filter(|b| b["type"] == t).cloned().collect::<Vec<_>>();
    let streaks = of("streak.milestone");
    assert_eq!(streaks.len(), 1, "{bodies:?}");
    assert_eq!(
        (streaks[0]["data"]["streak"].as_u64(), streaks[0]["data"]["date"].as_str()),
        (Some(7), Some(today.to_string().as_str()))
    );
    let goals = of("challenge.goal_reached");
    assert_eq!(goals.len(), 1, "{bodies:?}");
    assert_eq!(
        (goals[0]["data"]["challenge_id"].as_str(), goals[0]["data"]["goal_days"].as_u64()),
        (Some(cid.as_str()), Some(3))
    );
    assert_eq!(of("entry.recorded").len(), 0, "not asked for");
}

#[tokio::test]
async fn webhook_routes_check_input_hide_the_secret_and_stay_with_their_owner() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("owner").await;
    let other = app.register("stranger").await;
    for (body, field) in [
        (json!({"url": "ftp://x.example/", "event_types": ["reminder.fired"]}), "url"),
        (json!({"url": "not a url", "event_types": ["reminder.fired"]}), "url"),
        (json!({"url": "https://x.example/", "event_types": []}), "event_types"),
        (
            json!({"url": "https://x.example/", "event_types": ["reminder.fired"], "description": "d".repeat(201)}),
            "description",
        ),
    ] {
        let r = app.call("POST", "/me/webhooks", Some(&s.access), Some(body)).await;
        r.problem(400);
        r.names_field(field);
    }
    let r = app
        .call(
            "POST",
            "/me/webhooks",
            Some(&s.access),
            Some(json!({"url": "https://x.example/", "event_types": ["habit.deleted"]})),
        )
        .await;
    r.problem(400);
    let twice = json!({"url": rx.url("/ok"), "event_types": ["reminder.fired", "reminder.fired"]});
    let r = app.call("POST", "/me/webhooks", Some(&s.access), Some(twice)).await;
    r.problem(400);
    r.names_field("event_types");
    let (hook, secret) = add_webhook(&app, &s, &rx.url("/ok"), &["reminder.fired"]).await;
    assert!(secret.starts_with("whsec_"));
    let got = app.get(&format!("/me/webhooks/{hook}"), &s.access).await;
    assert_eq!(got.body["event_types"], json!(["reminder.fired"]));
    assert!(!got.body.to_string().contains(&secret), "the secret is shown once");
    assert!(!app.get("/me/webhooks", &s.access).await.body.to_string().contains(&secret));
    // Another user sees nothing of it.
    for (m, p) in [
        ("GET", format!("/me/webhooks/{hook}")),
        ("PATCH", format!("/me/webhooks/{hook}")),
        ("DELETE", format!("/me/webhooks/{hook}")),
        ("POST", format!("/me/webhooks/{hook}/test")),
        ("GET", format!("/me/webhooks/{hook}/deliveries")),
    ] {
        let body = (m == "PATCH").then(|| json!({"enabled": false}));
        app.call(m, &p, Some(&other.access), body).await.problem(404);
    }
    assert_eq!(app.get("/me/webhooks", &other.access).await.body, json!({"items": []}));
    // The test delivery reaches the endpoint, signed.
    let t = app.call("POST", &format!("/me/webhooks/{hook}/test"), Some(&s.access), None).await;
    assert_eq!(
        (t.status.as_u16(), t.body["delivered"].as_bool(), t.body["status_code"].as_u64()),
        (200, Some(true), Some(204)),
        "{}",
        t.body
    );
    let sent = rx.at("/ok");
    assert_eq!(sent.len(), 1);
    verify(&secret, &sent[0]);
    assert_eq!(serde_json::from_str::<Value>(&sent[0].body).unwrap()["type"], "webhook.test");
    // At most ten.
    for _ in 1..10 {
        add_webhook(&app, &s, &rx.url("/ok"), &["entry.recorded"]).await;
    }
    let r = app
        .call(
            "POST",
            "/me/webhooks",
            Some(&s.access),
            Some(json!({"url": rx.url("/ok"), "event_types": ["entry.recorded"]})),
        )
        .await;
    r.problem(409);
    let d = app.call("DELETE", &format!("/me/webhooks/{hook}"), Some(&s.access), None).await;
    assert_eq!(d.status, 204);
    app.call("DELETE", &format!("/me/webhooks/{hook}"), Some(&s.access), None).await.problem(404);
    let me =
        app.state.db.get::<shared::models::UserItem>(&shared::keys::user(&s.user_id), true).await.unwrap().unwrap();
    assert_eq!(me.webhook_events, [shared::models::EventType::EntryRecorded], "the types the remaining webhooks take");
}

/// The sample events (`events/deliver-*.json`), as Lambda delivers them, start the delivery.
#[tokio::test]
async fn the_sample_stream_and_schedule_events_start_the_delivery() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("sampled").await;
    add_webhook(&app, &s, &rx.url("/flaky"), &["entry.recorded"]).await;
    let h = habit(&app, &s, json!({})).await;
    record(&app, &s, &h, Utc::now().date_naive(), "x").await;
    let event_id = outbox(&app).await[0].event_id.clone();
    let read =
        |name: &str| std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let stream: Value = serde_json::from_str(
        &read("deliver-outbox-stream.json").replace("{{user_id}}", &s.user_id).replace("{{event_id}}", &event_id),
    )
    .unwrap();
    assert_eq!(deliver::stream_outbox_keys(&stream), Some(vec![(s.user_id.clone(), event_id.clone())]));
    let c = cfg();
    let d = deliverer(&app, &c);
    let first = d.handle_event(&stream, Utc::now(), None).await.unwrap();
    assert_eq!((first.events, first.failed_attempts), (1, 1), "{first:?}");
    let scheduled: Value = serde_json::from_str(&read("deliver-scheduled.json")).unwrap();
    let later = Utc::now() + Duration::hours(3);
    let retry = d.handle_event(&scheduled, later, None).await.unwrap();
    assert_eq!((retry.events, retry.failed_attempts), (1, 1), "{retry:?}");
    assert!(rx.at("/flaky").iter().all(|g| g.id == event_id));
    let unknown = d.handle_event(&json!({"hello": 1}), later, None).await;
    assert!(unknown.is_err(), "neither a stream batch nor a schedule is refused");
}
