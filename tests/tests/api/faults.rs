//! Truthful answers when DynamoDB's answers are lost, slow or refused: the API's user stories
//! driven through the fault proxy (`habit_tests::faults`), every answer checked against the table
//! as a direct, fault-free reader sees it.
//!
//! An answer is true when a 2xx means its change is there once and an error means it is not;
//! a 503 must carry `Retry-After`, and repeating the same request must end in one change. After
//! each run nothing may be half-written: no item without the items it belongs to, no counter
//! that disagrees with what it counts. The figures are printed (`cargo test -p habit-tests --test
//! faults -- --nocapture`) and recorded in `docs/FAULTS.md`.

use habit_tests::{
    faults::{Fault, FaultProxy, Plan, Rule, READS, WRITES},
    Response, Session, TestApp, PASSWORD,
};
use serde_json::{json, Value};
use shared::storage::Tuning;
use std::{collections::BTreeMap, time::Duration};

/// The functions' DynamoDB timeouts in these worlds: the defaults' shape, shortened so that a
/// delayed answer costs a fraction of a second.
fn tuning() -> Tuning {
    Tuning {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(400),
        operation: Duration::from_millis(2500),
        max_attempts: 3,
    }
}

/// Past the attempt timeout of [`tuning`].
const DELAY: Duration = Duration::from_millis(600);

/// What one run found.
#[derive(Default, Debug)]
struct Tally {
    requests: u64,
    answers: BTreeMap<u16, u64>,
    untrue: Vec<String>,
    unavailable: u64,
    without_retry_after: u64,
    repeated: u64,
}

/// How a step's change shows to a fault-free reader, as a number of things (0 or 1).
enum Probe {
    /// 1 when the path answers 200, 0 when 404.
    Exists(String),
    /// How many items of the list at the path have `field` equal to the value.
    Count(String, &'static str, String),
    /// 1 when the array `field` of the object at the path holds the value (or an object with it).
    Holds(String, &'static str, String),
}

struct Run<'a> {
    faulty: &'a TestApp,
    clean: &'a TestApp,
    tally: Tally,
}

impl Run<'_> {
    async fn observe(&self, probe: &Probe, s: &Session) -> i64 {
        let path = match probe {
            Probe::Exists(p) | Probe::Count(p, ..) | Probe::Holds(p, ..) => p,
        };
        let r = self.clean.get(path, &s.access).await;
        assert!(r.status == 200 || r.status == 404, "{path}: {} {}", r.status, r.body);
        let n = match probe {
            Probe::Exists(_) => usize::from(r.status == 200),
            Probe::Count(_, field, value) => r.body["items"]
                .as_array()
                .map_or(0, |items| items.iter().filter(|i| i[*field] == value.as_str()).count()),
            Probe::Holds(_, field, value) => {
                let holds = |v: &Value| {
                    v == value.as_str() || v.as_object().is_some_and(|o| o.values().any(|v| v == value.as_str()))
                };
                usize::from(r.body[*field].as_array().is_some_and(|a| a.iter().any(holds)))
            }
        };
        n as i64
    }

    /// Sends one request through the faults; a 503 is repeated as a client would (the same
    /// request with the same `Idempotency-Key`), up to 5 times. Returns the last answer and how
    /// many repeats it took.
    async fn send(
        &mut self,
        label: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (Response, u32) {
        let key = ulid::Ulid::new().to_string();
        let headers = [("idempotency-key", key.as_str())];
        let mut repeats = 0;
        loop {
            let r = self.faulty.call_with(method, path, token, &headers, body.clone()).await;
            self.tally.requests += 1;
            *self.tally.answers.entry(r.status.as_u16()).or_default() += 1;
            if r.status != 503 {
                return (r, repeats);
            }
            self.tally.unavailable += 1;
            if !r.headers.contains_key(http::header::RETRY_AFTER) {
                self.tally.without_retry_after += 1;
                self.tally.untrue.push(format!("{label}: 503 without Retry-After"));
            }
            if repeats == 5 {
                return (r, repeats);
            }
            repeats += 1;
            self.tally.repeated += 1;
        }
    }

    /// One step of a story, judged: `delta` is the change the request asks for (+1 to make
    /// something, -1 to remove it) as `probe` counts it. A 2xx must show that change once; an
    /// error must show none (a repeated delete may find gone what its first attempt removed).
    async fn step(
        &mut self,
        label: &str,
        path: &str,
        s: &Session,
        body: Option<Value>,
        probe: Probe,
        delta: i64,
    ) -> Response {
        let before = self.observe(&probe, s).await;
        let method = label.split(' ').next().expect("a method");
        let (r, repeats) = self.send(label, method, path, Some(&s.access), body).await;
        let after = self.observe(&probe, s).await;
        let expected = if r.status.is_success() || (r.status == 404 && delta < 0 && repeats > 0) {
            before + delta
        } else {
            before
        };
        // Still 503 after 5 repeats: either state is true of "may or may not".
        let unknown = r.status == 503 && (after == before || after == before + delta);
        if (after != expected && !unknown) || (r.status.is_server_error() && r.status != 503) {
            self.tally.untrue.push(format!(
                "{label}: answered {} ({}) after {repeats} repeats; before {before}, after {after}",
                r.status, r.body
            ));
        }
        r
    }
}

/// One user's story: register, three habits, entries, a category, two reminders, a challenge
/// joined and left, a rename, a refresh, a habit deleted.
async fn story(run: &mut Run<'_>, n: usize, challenge: &str, category: &str) {
    let name = format!("user{n}x{}", &ulid::Ulid::new().to_string().to_lowercase()[16..]);
    let credentials = json!({"username": name, "password": PASSWORD});
    let body = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let (r, repeats) = run.send("POST /auth/register", "POST", "/auth/register", None, Some(body)).await;
    // Registration is judged by logging in: after a 201 the account exists (once: its name is
    // guarded); after an error it does not.
    let login = run.clean.call("POST", "/auth/login", None, Some(credentials)).await;
    let s = match (r.status.as_u16(), login.status.as_u16()) {
        (201, 200) => habit_tests::session_of(&r.body),
        (503, 200 | 401) if repeats == 5 => return,
        (409, 200) if repeats > 0 => {
            // The first attempt made the account; its repeat finds the name taken.
            run.tally.untrue.push("POST /auth/register: 409 on a repeat for the account its first attempt made".into());
            return;
        }
        (status, login) => {
            run.tally
                .untrue
                .push(format!("POST /auth/register answered {status} ({}), login afterwards {login}", r.body));
            return;
        }
    };
    let refreshed = run.clean.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    if refreshed.status != 200 {
        run.tally.untrue.push(format!("the session of a 201 registration does not refresh: {}", refreshed.status));
        return;
    }
    let s = Session { refresh: refreshed.body["refresh_token"].as_str().unwrap().to_owned(), ..s };

    let mut habits = Vec::new();
    for title in ["Read", "Run", "Sleep"] {
        let body = json!({"title": title, "frequency": {"type": "daily"}, "start_date": "2026-01-01"});
        let probe = Probe::Count("/habits?limit=100".into(), "title", title.into());
        let r = run.step("POST /habits", "/habits", &s, Some(body), probe, 1).await;
        if let Some(id) = r.body["habit_id"].as_str() {
            habits.push(id.to_owned());
        }
    }
    let Some(first) = habits.first().cloned() else { return };
    for date in ["2026-11-28", "2026-11-29", "2026-11-30"] {
        let path = format!("/habits/{first}/entries/{date}");
        let probe = Probe::Exists(path.clone());
        run.step("PUT /habits/{id}/entries/{date}", &path, &s, Some(json!({"status": "done"})), probe, 1).await;
    }
    let link = format!("/habits/{first}/categories/{category}");
    let linked = || Probe::Holds(format!("/habits/{first}"), "categories", category.to_owned());
    run.step("PUT /habits/{id}/categories/{category_id}", &link, &s, None, linked(), 1).await;
    for (i, habit) in habits.iter().take(2).enumerate() {
        let message = format!("reminder {i}");
        let body =
            json!({"habit_id": habit, "reminder_time": "07:30", "repeat_days": ["mon", "thu"], "message": message});
        let probe = Probe::Count("/reminders?limit=100".into(), "message", message);
        run.step("POST /reminders", "/reminders", &s, Some(body), probe, 1).await;
    }
    let member = || Probe::Count("/me/challenges?limit=100".into(), "challenge_id", challenge.to_owned());
    let join = format!("/challenges/{challenge}/join");
    run.step("POST /challenges/{id}/join", &join, &s, Some(json!({"habit_id": first})), member(), 1).await;
    let renamed = format!("Read more {n}");
    let probe = Probe::Count("/habits?limit=100".into(), "title", renamed.clone());
    let path = format!("/habits/{first}");
    run.step("PATCH /habits/{id}", &path, &s, Some(json!({"title": renamed})), probe, 1).await;
    run.step("DELETE /habits/{id}/categories/{category_id}", &link, &s, None, linked(), -1).await;
    let leave = format!("/challenges/{challenge}/membership");
    run.step("DELETE /challenges/{id}/membership", &leave, &s, None, member(), -1).await;
    if let Some(last) = habits.get(2) {
        let path = format!("/habits/{last}");
        run.step("DELETE /habits/{id}", &path, &s, None, Probe::Exists(path.clone()), -1).await;
    }
    // A refresh through the faults: a 200's new token works; an error leaves the old one working.
    let (r, _) =
        run.send("POST /auth/refresh", "POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    let usable = if r.status == 200 { r.body["refresh_token"].as_str().unwrap_or_default() } else { &s.refresh };
    let check = run.clean.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": usable}))).await;
    if check.status != 200 {
        run.tally.untrue.push(format!(
            "POST /auth/refresh answered {}; the token it left refreshes with {}",
            r.status, check.status
        ));
    }
}

fn attr(item: &shared::storage::Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok().cloned().or_else(|| v.as_n().ok().cloned()))
}

/// Items that a failure left without what they belong to, or counters that disagree with what
/// they count: each described.
async fn half_written(app: &TestApp) -> Vec<String> {
    let items = app.items().await;
    let mut found = Vec::new();
    let by_entity = |e: &'static str| items.iter().filter(move |i| attr(i, "entity").as_deref() == Some(e));
    let has = |pk: &str, sk: &str| {
        items.iter().any(|i| attr(i, "PK").as_deref() == Some(pk) && attr(i, "SK").as_deref() == Some(sk))
    };
    for user in by_entity("User") {
        let (pk, id) = (attr(user, "PK").unwrap(), attr(user, "user_id").unwrap());
        if !has(&pk, shared::keys::PROFILE_SK) {
            found.push(format!("user {id} without a profile"));
        }
        for guard in ["UsernameGuard", "EmailGuard"] {
            let n = by_entity(guard).filter(|g| attr(g, "user_id").as_deref() == Some(&id)).count();
            if n != 1 {
                found.push(format!("user {id} with {n} {guard}s"));
            }
        }
        let count = |entity: &'static str| by_entity(entity).filter(|i| attr(i, "PK").as_deref() == Some(&pk)).count();
        let limits = shared::keys::limits(&id);
        let limit =
            items.iter().find(|i| attr(i, "PK") == Some(limits.pk.clone()) && attr(i, "SK") == Some(limits.sk.clone()));
        for (entity, field) in [("Habit", "habits"), ("Reminder", "reminders")] {
            let counted = limit.and_then(|l| attr(l, field)).map_or(0, |v| v.parse::<usize>().unwrap());
            if counted != count(entity) {
                found.push(format!("user {id}: {} {field} counted, {} kept", counted, count(entity)));
            }
        }
    }
    for guard in by_entity("UsernameGuard").chain(by_entity("EmailGuard")).chain(by_entity("RefreshFamily")) {
        let id = attr(guard, "user_id").unwrap();
        if !has(&shared::keys::user_pk(&id), shared::keys::USER_SK) {
            found.push(format!("{} of a user that does not exist", attr(guard, "entity").unwrap()));
        }
    }
    for entity in ["Entry", "HabitCategory", "Reminder", "Membership"] {
        for item in by_entity(entity) {
            let habit = attr(item, "habit_id").unwrap();
            if !has(&attr(item, "PK").unwrap(), &shared::keys::habit_sk(&habit)) {
                found.push(format!("{entity} of habit {habit}, which is gone"));
            }
        }
    }
    for challenge in by_entity("Challenge") {
        let id = attr(challenge, "challenge_id").unwrap();
        let members = by_entity("Membership").filter(|m| attr(m, "challenge_id").as_deref() == Some(&id)).count();
        let counted: usize = attr(challenge, "participant_count").unwrap().parse().unwrap();
        if counted != members {
            found.push(format!("challenge {id}: {counted} participants counted, {members} memberships"));
        }
    }
    found
}

/// The faults of the story runs: most requests meet none; writes lose their answers (as the
/// issue's outside test did, one write in five, plus delays and 500s after the write), any
/// request may be throttled, transactions may meet a conflict.
fn mixed_plan() -> Plan {
    Plan(vec![
        Rule::new(WRITES, Fault::Lose, 0.20),
        Rule::new(WRITES, Fault::Internal, 0.03),
        Rule::new(WRITES, Fault::Delay(DELAY), 0.03),
        Rule::new(&["TransactWriteItems"], Fault::Conflict, 0.05),
        Rule::new(WRITES, Fault::Throughput, 0.04),
        Rule::new(READS, Fault::Throttling, 0.04),
        Rule::new(READS, Fault::Lose, 0.03),
    ])
}

/// One row of the table in docs/FAULTS.md.
fn row(seed: u64, proxy: &FaultProxy, tally: &Tally, half: usize) -> String {
    let answers: Vec<String> = tally.answers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(
        "| {seed} | {} | {} | {} | {} | {} | {} of {} ({} repeats) | {half} |",
        tally.requests,
        proxy.requests(),
        proxy.faults(),
        answers.join(", "),
        tally.untrue.len(),
        tally.unavailable - tally.without_retry_after,
        tally.unavailable,
        tally.repeated,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_stories_get_true_answers_through_lost_slow_and_refused_dynamodb_answers() {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for seed in [1u64, 2] {
        let clean = TestApp::spawn().await;
        let admin = clean.admin("faultadmin").await;
        let c = clean
            .call(
                "POST",
                "/challenges",
                Some(&admin.access),
                Some(json!({"challenge_name": "Faults", "start_date": "2026-11-01", "end_date": "2027-01-31", "goal_days": 5})),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        let cat = clean.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "Faulty"}))).await;
        assert_eq!(cat.status, 201, "{}", cat.body);
        let proxy = FaultProxy::start(habit_tests::endpoint(), seed, mixed_plan()).await;
        let faulty = clean.behind(&proxy.endpoint, tuning());
        let mut run = Run { faulty: &faulty, clean: &clean, tally: Tally::default() };
        for n in 0..12 {
            story(&mut run, n, c.body["challenge_id"].as_str().unwrap(), cat.body["category_id"].as_str().unwrap())
                .await;
        }
        let half = half_written(&clean).await;
        rows.push(row(seed, &proxy, &run.tally, half.len()));
        failures.extend(run.tally.untrue.iter().map(|u| format!("seed {seed}: {u}")));
        failures.extend(half.iter().map(|h| format!("seed {seed}: half-written: {h}")));
    }
    println!("| seed | API requests | DynamoDB requests | faults injected | answers | untrue | 503 with Retry-After | half-written |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    assert!(failures.is_empty(), "{} untrue answers or half-written items:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dispatcher_under_throttling_fires_a_thousand_reminders_exactly_once_over_its_next_runs() {
    use dispatcher::{dispatch, fixture, DispatchConfig};
    let clean = TestApp::spawn().await;
    // 250 users with 4 habits and a reminder on each, all due at 07:30 UTC.
    let (items, reminders) = fixture::due_reminders(250, 4);
    clean.put_items(items).await;
    let plan = Plan(vec![
        Rule::new(&["TransactWriteItems", "UpdateItem"], Fault::Throughput, 0.25),
        Rule::new(&["Query"], Fault::Throttling, 0.15),
        Rule::new(&["TransactWriteItems"], Fault::Lose, 0.05),
        Rule::new(&["TransactWriteItems"], Fault::Conflict, 0.05),
    ]);
    let proxy = FaultProxy::start(habit_tests::endpoint(), 7, plan).await;
    let faulty = clean.behind(&proxy.endpoint, tuning());
    // Runs a minute apart, as EventBridge makes them, until one finds nothing due.
    let due_at = fixture::due_at();
    let mut fired = Vec::new();
    for minute in 0..30 {
        let now = due_at + chrono::Duration::minutes(minute);
        let report = dispatch(&faulty.dispatcher, &DispatchConfig::default(), now, None).await.expect("a run");
        fired.push(report.fired);
        if report.due == 0 {
            break;
        }
    }
    let injected: u64 = proxy.injected().values().sum();
    println!(
        "dispatcher: 1000 reminders due; {injected} faults injected in {} DynamoDB requests; fired per run {fired:?}",
        proxy.requests()
    );
    assert!(injected > 100, "the faults were injected: {injected}");
    // (A run counts what it saw fire: an occurrence whose answer was lost at every attempt
    // fired all the same, and the next run finds it no longer due.)
    assert!(fired.len() > 1 && *fired.last().unwrap() == 0, "a last run found nothing left: {fired:?}");
    assert_eq!(clean.count("Notification").await, 1000, "one notification per reminder");
    let next_day = due_at + chrono::Duration::days(1);
    for r in &reminders {
        let now = clean.state.db.get_reminder(&r.user_id, &r.reminder_id).await.unwrap().unwrap();
        assert_eq!(now.next_fire_at, Some(next_day), "moved on to the next occurrence");
        assert_eq!(now.last_fired_at, Some(due_at));
    }
}

/// Each kind of write, its first attempt's answer lost after the write: the answer is the
/// success it was, and the change is there once.
#[tokio::test]
async fn a_write_whose_answer_is_lost_answers_its_success() {
    let clean = TestApp::spawn().await;
    let admin = clean.admin("lostadmin").await;
    let cat = clean.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "Lost"}))).await;
    let category = cat.body["category_id"].as_str().unwrap().to_owned();
    let proxy = FaultProxy::start(habit_tests::endpoint(), 0, Plan::default()).await;
    let faulty = clean.behind(&proxy.endpoint, tuning());
    let lose_next = |operation: &str| proxy.set_plan(Plan(vec![Rule::nth(operation, Fault::Lose, 1)]));

    lose_next("TransactWriteItems");
    let body = json!({"username": "lostuser", "email": "lost@example.com", "password": PASSWORD});
    let r = faulty.call("POST", "/auth/register", None, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let s = habit_tests::session_of(&r.body);
    let refreshed = clean.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    assert_eq!(refreshed.status, 200, "the session registration started was stored with the account");

    lose_next("TransactWriteItems");
    let r = faulty
        .call("POST", "/habits", Some(&s.access), Some(json!({"title": "Walk", "frequency": {"type": "daily"}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let h = r.body["habit_id"].as_str().unwrap().to_owned();
    assert_eq!(clean.count("Habit").await, 1);

    lose_next("PutItem");
    let r = faulty.call("PATCH", &format!("/habits/{h}"), Some(&s.access), Some(json!({"title": "Walk far"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(clean.get(&format!("/habits/{h}"), &s.access).await.body["title"], "Walk far");

    let link = format!("/habits/{h}/categories/{category}");
    assert_eq!(clean.call("PUT", &link, Some(&s.access), None).await.status, 204);
    lose_next("TransactWriteItems");
    let r = faulty.call("DELETE", &link, Some(&s.access), None).await;
    assert_eq!(r.status, 204, "{}", r.body);

    let login = json!({"username": "lostuser", "password": PASSWORD});
    lose_next("PutItem");
    let r = faulty.call("POST", "/auth/login", None, Some(login)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    lose_next("PutItem");
    let r = faulty.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": refresh}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let again =
        clean.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": r.body["refresh_token"]}))).await;
    assert_eq!(again.status, 200, "the token the lost rotation issued works");
    assert_eq!(proxy.injected().values().sum::<u64>(), 6, "every fault above struck");
    assert!(half_written(&clean).await.is_empty());
}

/// Writes throttled at every attempt: 503 with `Retry-After`, and nothing written; a throttled
/// read, the same 503.
#[tokio::test]
async fn a_throttled_write_answers_503_with_retry_after_and_writes_nothing() {
    let clean = TestApp::spawn().await;
    let s = clean.register("throttled").await;
    let before = clean.items().await;
    let proxy =
        FaultProxy::start(habit_tests::endpoint(), 0, Plan(vec![Rule::new(WRITES, Fault::Throughput, 1.0)])).await;
    let faulty = clean.behind(&proxy.endpoint, tuning());
    let r = faulty
        .call("POST", "/habits", Some(&s.access), Some(json!({"title": "Walk", "frequency": {"type": "daily"}})))
        .await;
    r.problem(503);
    assert_eq!(r.headers[http::header::RETRY_AFTER], "1");
    assert_eq!(proxy.injected().values().sum::<u64>(), u64::from(tuning().max_attempts), "the SDK tried each attempt");
    assert_eq!(clean.items().await, before, "nothing written");

    proxy.set_plan(Plan(vec![Rule::new(&["Query"], Fault::Throttling, 1.0)]));
    let r = faulty.get("/habits", &s.access).await;
    r.problem(503);
    assert_eq!(r.headers[http::header::RETRY_AFTER], "1");
}

/// A create whose every answer is lost ends in a 503; repeating it with its `Idempotency-Key`
/// answers the first answer (marked replayed) and makes nothing twice; the key with another body
/// is refused.
#[tokio::test]
async fn a_create_repeated_with_its_idempotency_key_after_a_503_is_made_once() {
    let clean = TestApp::spawn().await;
    let s = clean.register("repeater").await;
    let proxy =
        FaultProxy::start(habit_tests::endpoint(), 0, Plan(vec![Rule::new(&["TransactWriteItems"], Fault::Lose, 1.0)]))
            .await;
    let faulty = clean.behind(&proxy.endpoint, tuning());
    let body = json!({"title": "Swim", "frequency": {"type": "daily"}});
    let key = [("Idempotency-Key", "01JF1Q2W3E4R5T6Y7U8I9O0P")];
    let first = faulty.call_with("POST", "/habits", Some(&s.access), &key, Some(body.clone())).await;
    first.problem(503);
    assert_eq!(clean.count("Habit").await, 1, "the lost answers hid a committed write");

    proxy.set_plan(Plan::default());
    let again = faulty.call_with("POST", "/habits", Some(&s.access), &key, Some(body.clone())).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let third = faulty.call_with("POST", "/habits", Some(&s.access), &key, Some(body.clone())).await;
    assert_eq!((third.status.as_u16(), &third.body), (201, &again.body), "the same answer each time");
    assert_eq!(clean.count("Habit").await, 1);
    let listed = clean.get("/habits", &s.access).await;
    assert_eq!(listed.body["items"][0]["habit_id"], again.body["habit_id"], "the replayed habit is the one made");

    let other = faulty
        .call_with(
            "POST",
            "/habits",
            Some(&s.access),
            &key,
            Some(json!({"title": "Dive", "frequency": {"type": "daily"}})),
        )
        .await;
    other.problem(422);
    let bad = faulty
        .call_with("POST", "/habits", Some(&s.access), &[("Idempotency-Key", "no spaces allowed")], Some(body.clone()))
        .await;
    bad.names_field("Idempotency-Key");
    // Without a key, a repeat is a new request; with a new key, too.
    let fresh =
        faulty.call_with("POST", "/habits", Some(&s.access), &[("Idempotency-Key", "another-key")], Some(body)).await;
    assert_eq!(fresh.status, 201);
    assert!(!fresh.headers.contains_key("idempotent-replayed"));
    assert_eq!(clean.count("Habit").await, 2);
    // Another user's same key is theirs alone.
    let t = clean.register("neighbour").await;
    let theirs = faulty
        .call_with(
            "POST",
            "/habits",
            Some(&t.access),
            &key,
            Some(json!({"title": "Row", "frequency": {"type": "daily"}})),
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
}

/// A transaction whose answer is lost, then asked again while DynamoDB still applies it
/// (`TransactionInProgress`, twice): asked once more with the same token, it answers its success.
#[tokio::test]
async fn a_transaction_still_in_progress_is_asked_again_with_its_token() {
    let clean = TestApp::spawn().await;
    let s = clean.register("patient").await;
    let plan = Plan(vec![
        Rule::nth("TransactWriteItems", Fault::Lose, 1),
        Rule::nth("TransactWriteItems", Fault::InProgress, 2),
        Rule::nth("TransactWriteItems", Fault::InProgress, 3),
    ]);
    let proxy = FaultProxy::start(habit_tests::endpoint(), 0, plan).await;
    let faulty = clean.behind(&proxy.endpoint, tuning());
    let r = faulty
        .call("POST", "/habits", Some(&s.access), Some(json!({"title": "Wait", "frequency": {"type": "daily"}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(proxy.injected().values().sum::<u64>(), 3, "{}", proxy.faults());
    assert_eq!(clean.count("Habit").await, 1);
    assert!(half_written(&clean).await.is_empty());
}
