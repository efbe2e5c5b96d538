//! The authorization matrix, generated from the route table: every route of every function ×
//! every kind of caller × objects owned by user A, by user B and by nobody. Each answer must match
//! the route's declared policy, and after every refused call the table must hold exactly what it
//! held before.
//!
//! The routes come from the code (`habit_tests::all_routes`), so a new route cannot be forgotten:
//! it fails here until its policy is declared in [`policy`].

use chrono::{DateTime, Utc};
use futures::StreamExt;
use habit_tests::{all_routes, openapi_document, Session, TestApp, PASSWORD, SECRET};
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    A,
    B,
    Admin,
    /// A user deactivated by an admin, calling with the token issued before.
    Deactivated,
    /// User A with an access token past its `exp`.
    Expired,
}

const CALLERS: [Caller; 6] =
    [Caller::Anonymous, Caller::A, Caller::B, Caller::Admin, Caller::Deactivated, Caller::Expired];

/// Whose object the request addresses (in its path, or in its body for `{habit}` references).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The route addresses no object, or a catalogue object that exists.
    NoOne,
    A,
    B,
    /// An id that names nothing.
    Missing,
}

/// What a route's object is, which decides the owners it is tried against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    None,
    /// A user-owned object: tried as A's, B's and a missing one.
    Owned,
    /// A catalogue object (category, challenge): tried as the existing one and a missing one.
    Catalogue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// Anyone; the answer does not depend on the caller: always `status`.
    Public(u16),
    /// Any signed-in, active user, on their own data (or the catalogue).
    SignedIn,
    /// Only the object's owner; anyone else is told it does not exist (404).
    Owner,
    /// The object's owner or an admin.
    OwnerOrAdmin,
    /// Only admins (others 403).
    Admin,
    /// Only a member of the challenge (user A is the one member).
    Member,
}

/// The declared policy of every route: its object and who may call it. A route missing here
/// fails the test.
fn policy(method: &str, path: &str) -> Option<(Object, Policy)> {
    use Object as O;
    use Policy as P;
    Some(match (method, path) {
        ("POST", "/auth/register") => (O::None, P::Public(201)),
        ("POST", "/auth/login") => (O::None, P::Public(200)),
        // Refresh and logout take a refresh token in the body, never a bearer: a bad one is 401
        // whoever calls.
        ("POST", "/auth/refresh" | "/auth/logout") => (O::None, P::Public(401)),
        // A link's token in the body, never a bearer: a bad one is 400 whoever calls.
        ("POST", "/auth/verify-email" | "/auth/password-reset/confirm") => (O::None, P::Public(400)),
        // The same answer for every address and every caller.
        ("POST", "/auth/password-reset") => (O::None, P::Public(202)),
        ("POST", "/me/email-verification") => (O::None, P::SignedIn),
        ("GET", "/health" | "/openapi.json" | "/time-zones" | "/push/public-key") => (O::None, P::Public(200)),
        ("GET" | "PATCH" | "DELETE", "/me") | ("PUT", "/me/password") => (O::None, P::SignedIn),
        ("GET" | "PUT" | "PATCH", "/me/profile") | ("GET", "/me/today" | "/me/notifications") => (O::None, P::SignedIn),
        ("POST", "/me/notifications/read-all") | ("GET", "/me/challenges") => (O::None, P::SignedIn),
        ("GET", "/users") | ("GET", "/admin/habits") => (O::None, P::Admin),
        ("GET" | "PATCH" | "DELETE", "/users/{id}") | ("GET", "/users/{id}/profile") => (O::Owned, P::Admin),
        ("POST" | "GET", "/habits") => (O::None, P::SignedIn),
        ("PUT" | "DELETE", "/habits/{id}/categories/{category_id}") => (O::Owned, P::OwnerOrAdmin),
        ("GET" | "PATCH" | "DELETE", "/habits/{id}")
        | ("GET", "/habits/{id}/entries" | "/habits/{id}/stats")
        | ("GET" | "PUT" | "DELETE", "/habits/{id}/entries/{date}") => (O::Owned, P::Owner),
        ("POST", "/reminders") => (O::Owned, P::Owner), // the habit named in the body
        ("GET", "/reminders") => (O::None, P::SignedIn),
        ("GET" | "PATCH" | "DELETE", "/reminders/{id}") | ("PATCH", "/me/notifications/{id}") => (O::Owned, P::Owner),
        ("POST", "/categories" | "/challenges") => (O::None, P::Admin),
        ("GET", "/categories" | "/challenges") => (O::None, P::SignedIn),
        ("GET", "/categories/{id}" | "/challenges/{id}" | "/challenges/{id}/leaderboard") => {
            (O::Catalogue, P::SignedIn)
        }
        ("PATCH" | "DELETE", "/categories/{id}" | "/challenges/{id}")
        | ("GET", "/categories/{id}/habits" | "/challenges/{id}/participants") => (O::Catalogue, P::Admin),
        ("POST", "/challenges/{id}/join") => (O::Owned, P::Owner), // the habit named in the body
        ("DELETE", "/challenges/{id}/membership") => (O::Catalogue, P::Member),
        ("POST" | "GET", "/me/webhooks" | "/me/push-subscriptions") => (O::None, P::SignedIn),
        ("DELETE", "/me/push-subscriptions/{id}") => (O::Owned, P::Owner),
        ("GET" | "PATCH" | "DELETE", "/me/webhooks/{id}")
        | ("POST", "/me/webhooks/{id}/test")
        | ("GET", "/me/webhooks/{id}/deliveries") => (O::Owned, P::Owner),
        _ => return None,
    })
}

/// Where the declared policy has a documented exception, with the reason.
fn exception(method: &str, path: &str, caller: Caller, owner: Owner) -> Option<u16> {
    match (method, path, caller, owner) {
        // A is already a member of the challenge: joining again is a conflict.
        ("POST", "/challenges/{id}/join", Caller::A, Owner::A) => Some(409),
        // Admins cannot delete themselves while they are the admin calling.
        ("DELETE", "/me", Caller::Admin, _) => Some(409),
        _ => None,
    }
}

fn expected(p: Policy, success: u16, caller: Caller, owner: Owner) -> u16 {
    let signed_in = matches!(caller, Caller::A | Caller::B | Caller::Admin);
    if let Policy::Public(status) = p {
        return status;
    }
    if !signed_in {
        return 401;
    }
    let owns = matches!((caller, owner), (Caller::A, Owner::A) | (Caller::B, Owner::B));
    let exists = owner != Owner::Missing;
    let allowed = match p {
        Policy::Public(_) => unreachable!(),
        Policy::SignedIn => exists,
        Policy::Owner => owns,
        Policy::OwnerOrAdmin => owns || (caller == Caller::Admin && exists),
        Policy::Admin if caller != Caller::Admin => return 403,
        Policy::Admin => exists,
        Policy::Member => caller == Caller::A && exists,
    };
    if allowed {
        success
    } else {
        404
    }
}

/// One user's objects in the world.
#[derive(Clone, Default)]
struct Objects {
    user: String,
    habit: String,
    reminder: String,
    notification: String,
    webhook: String,
    subscription: String,
}

/// The world every route is tried in: three active users, a deactivated one, an admin, and
/// objects of each kind.
struct World {
    app: TestApp,
    a: Session,
    b: Session,
    admin: Session,
    deactivated: Session,
    expired: String,
    objects: HashMap<&'static str, Objects>,
    category: String,
    challenge: String,
    today: String,
}

async fn ok(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let r = app.call(method, path, Some(token), body).await;
    assert!(r.status.is_success(), "{method} {path}: {} {}", r.status, r.body);
    r.body
}

async fn objects_of(app: &TestApp, s: &Session, today: &str) -> Objects {
    let h = ok(app, "POST", "/habits", &s.access, Some(json!({"title": "Walk", "frequency": {"type": "daily"}}))).await
        ["habit_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(app, "PUT", &format!("/habits/{h}/entries/{today}"), &s.access, Some(json!({"status": "done"}))).await;
    let r = ok(
        app,
        "POST",
        "/reminders",
        &s.access,
        Some(json!({"habit_id": h, "reminder_time": "07:00", "repeat_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "time_zone": "UTC", "message": "Walk"})),
    )
    .await;
    // An endpoint nothing listens on: a test delivery to it answers, having failed.
    let w = ok(
        app,
        "POST",
        "/me/webhooks",
        &s.access,
        Some(json!({"url": "http://127.0.0.1:9/hook", "event_types": ["reminder.fired"]})),
    )
    .await;
    Objects {
        user: s.user_id.clone(),
        habit: h,
        reminder: r["reminder_id"].as_str().unwrap().to_owned(),
        notification: String::new(),
        webhook: w["webhook_id"].as_str().unwrap().to_owned(),
        subscription: ok(app, "POST", "/me/push-subscriptions", &s.access, Some(push_subscription(&s.user_id))).await
            ["subscription_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// A browser's push subscription (its endpoint made from `tag`).
fn push_subscription(tag: &str) -> Value {
    json!({"endpoint": format!("https://push.example.com/{tag}"), "keys": habit_tests::push_keys()})
}

/// Fires every reminder once (one dispatcher run at their common time) and notes each user's
/// notification.
async fn notify(app: &TestApp, users: [(&Session, &mut Objects); 2]) {
    let r = ok(app, "GET", "/reminders", &users[0].0.access, None).await;
    let at: DateTime<Utc> = r["items"][0]["next_fire_at"].as_str().unwrap().parse().unwrap();
    let report = dispatcher::dispatch(&app.dispatcher, &dispatcher::DispatchConfig::default(), at, None).await.unwrap();
    assert_eq!(report.fired, 2, "{report:?}");
    for (s, objects) in users {
        let n = ok(app, "GET", "/me/notifications", &s.access, None).await;
        objects.notification = n["items"][0]["notification_id"].as_str().unwrap().to_owned();
    }
}

/// A's access token, re-signed with `exp` in the past (everything else as issued).
fn expired_token(s: &Session) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    let payload = s.access.split('.').nth(1).unwrap();
    let mut claims: Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    let now = Utc::now().timestamp();
    claims["iat"] = json!(now - 3600);
    claims["nbf"] = json!(now - 3600);
    claims["exp"] = json!(now - 600);
    jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(habit_tests::kid()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

impl World {
    async fn build() -> World {
        let app = TestApp::spawn().await;
        let (a, b, admin, deactivated) =
            tokio::join!(app.register("usera"), app.register("userb"), app.admin("boss"), app.register("gone"));
        let today = Utc::now().date_naive().to_string();
        let (mut oa, mut ob) = tokio::join!(objects_of(&app, &a, &today), objects_of(&app, &b, &today));
        notify(&app, [(&a, &mut oa), (&b, &mut ob)]).await;
        ok(&app, "PATCH", &format!("/users/{}", deactivated.user_id), &admin.access, Some(json!({"is_active": false})))
            .await;
        let category = ok(&app, "POST", "/categories", &admin.access, Some(json!({"name": "Health"}))).await
            ["category_id"]
            .as_str()
            .unwrap()
            .to_owned();
        for (s, o) in [(&a, &oa), (&b, &ob)] {
            ok(&app, "PUT", &format!("/habits/{}/categories/{category}", o.habit), &s.access, None).await;
        }
        let end = (Utc::now().date_naive() + chrono::Days::new(30)).to_string();
        let challenge = ok(
            &app,
            "POST",
            "/challenges",
            &admin.access,
            Some(json!({"challenge_name": "Move", "start_date": today, "end_date": end, "goal_days": 10})),
        )
        .await["challenge_id"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&app, "POST", &format!("/challenges/{challenge}/join"), &a.access, Some(json!({"habit_id": oa.habit})))
            .await;
        let expired = expired_token(&a);
        let objects = HashMap::from([("a", oa), ("b", ob)]);
        World { app, a, b, admin, deactivated, expired, objects, category, challenge, today }
    }

    /// The other user's key in `objects`, for A and B.
    fn other(&self, caller: Caller) -> Option<&'static str> {
        match caller {
            Caller::A => Some("b"),
            Caller::B => Some("a"),
            _ => None,
        }
    }

    fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::A => Some(&self.a.access),
            Caller::B => Some(&self.b.access),
            Caller::Admin => Some(&self.admin.access),
            Caller::Deactivated => Some(&self.deactivated.access),
            Caller::Expired => Some(&self.expired),
        }
    }

    /// The ids a request uses for `owner`'s objects.
    fn ids(&self, owner: Owner) -> Objects {
        let missing = ulid::Ulid::new().to_string();
        match owner {
            Owner::A => self.objects["a"].clone(),
            Owner::B => self.objects["b"].clone(),
            Owner::Missing => Objects {
                user: missing.clone(),
                habit: missing.clone(),
                reminder: missing.clone(),
                notification: missing.clone(),
                webhook: missing.clone(),
                subscription: missing,
            },
            Owner::NoOne => Objects::default(),
        }
    }

    /// The concrete path and body of a route for `owner`'s objects.
    fn request(&self, method: &str, path: &str, object: Object, owner: Owner) -> (String, Option<Value>) {
        let ids = self.ids(owner);
        let missing = ulid::Ulid::new().to_string();
        let catalogue = |existing: &str| if owner == Owner::Missing { missing.clone() } else { existing.to_owned() };
        let id = match path {
            p if p.starts_with("/users/") => ids.user.clone(),
            p if p.starts_with("/habits/") => ids.habit.clone(),
            p if p.starts_with("/reminders/") => ids.reminder.clone(),
            p if p.starts_with("/me/notifications/") => ids.notification.clone(),
            p if p.starts_with("/me/webhooks/") => ids.webhook.clone(),
            p if p.starts_with("/me/push-subscriptions/") => ids.subscription.clone(),
            p if p.starts_with("/categories/") => catalogue(&self.category),
            p if p.starts_with("/challenges/") && object == Object::Catalogue => catalogue(&self.challenge),
            _ => self.challenge.clone(),
        };
        let concrete =
            path.replace("{id}", &id).replace("{date}", &self.today).replace("{category_id}", &self.category);
        let unique = ulid::Ulid::new().to_string().to_lowercase();
        let body = match (method, path) {
            ("POST", "/auth/register") => Some(
                json!({"username": format!("u{}", &unique[16..]), "email": format!("{unique}@example.com"), "password": PASSWORD}),
            ),
            ("POST", "/auth/login") => Some(json!({"username": self.a.username, "password": PASSWORD})),
            ("POST", "/auth/refresh" | "/auth/logout") => Some(json!({"refresh_token": "rt1.not.a.token"})),
            ("POST", "/auth/verify-email") => Some(json!({"token": "not.a.token"})),
            ("POST", "/auth/password-reset/confirm") => {
                Some(json!({"token": "not.a.token", "new_password": "another horse battery"}))
            }
            ("POST", "/auth/password-reset") => Some(json!({"email": format!("{unique}@example.com")})),
            ("PATCH", "/me") => Some(json!({"phone": null})),
            ("DELETE", "/me") => Some(json!({"current_password": PASSWORD})),
            ("PUT", "/me/password") => {
                Some(json!({"current_password": PASSWORD, "new_password": "another horse battery"}))
            }
            ("PUT" | "PATCH", "/me/profile") => Some(json!({"bio": "hello"})),
            ("PATCH", "/users/{id}") => Some(json!({"is_active": true})),
            ("POST", "/habits") => Some(json!({"title": "Read", "frequency": {"type": "daily"}})),
            ("PATCH", "/habits/{id}") => Some(json!({"title": "Read more"})),
            ("PUT", "/habits/{id}/entries/{date}") => Some(json!({"status": "partial"})),
            ("POST", "/reminders") => Some(
                json!({"habit_id": ids.habit, "reminder_time": "08:00", "repeat_days": ["mon"], "message": "Read"}),
            ),
            ("PATCH", "/reminders/{id}") => Some(json!({"message": "Read now"})),
            ("PATCH", "/me/notifications/{id}") => Some(json!({"read": true})),
            ("POST", "/me/webhooks") => {
                Some(json!({"url": "https://hooks.example.com/h", "event_types": ["entry.recorded"]}))
            }
            ("PATCH", "/me/webhooks/{id}") => Some(json!({"description": "d"})),
            ("POST", "/me/push-subscriptions") => Some(push_subscription(&unique)),
            ("POST", "/categories") => Some(json!({"name": format!("c{unique}")})),
            ("PATCH", "/categories/{id}") => Some(json!({"description": "d"})),
            ("POST", "/challenges") => {
                Some(json!({"challenge_name": "Run", "start_date": self.today, "end_date": self.today, "goal_days": 1}))
            }
            ("PATCH", "/challenges/{id}") => Some(json!({"description": "d"})),
            ("POST", "/challenges/{id}/join") => Some(json!({"habit_id": ids.habit})),
            _ => None,
        };
        (concrete, body)
    }
}

/// The documented success status of every operation: its one 2xx response, or, where it also
/// documents 202 (work finished later, as an account deletion past its deadline), the other one.
fn success_statuses() -> HashMap<(String, String), u16> {
    let doc = openapi_document();
    let mut out = HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let ok: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|s| s.starts_with('2'))
                .map(|s| s.parse().unwrap())
                .collect();
            let primary: Vec<u16> = ok.iter().copied().filter(|s| *s != 202 || ok.len() == 1).collect();
            assert_eq!(primary.len(), 1, "{method} {path}: one success status expected (besides 202)");
            out.insert((method.to_uppercase(), path.clone()), primary[0]);
        }
    }
    out
}

struct Outcome {
    cases: usize,
    failures: Vec<String>,
}

/// Runs every case of one route: the refusals in one world (each checked to change nothing), and
/// every call that succeeds in a world of its own (so one success cannot hide or cause another).
async fn run_route(method: &'static str, path: &'static str, object: Object, policy: Policy, success: u16) -> Outcome {
    let shared_world = World::build().await;
    let owners: &[Owner] = match object {
        Object::None => &[Owner::NoOne],
        Object::Owned => &[Owner::A, Owner::B, Owner::Missing],
        Object::Catalogue => &[Owner::NoOne, Owner::Missing],
    };
    let cases: Vec<(Caller, Owner, u16)> = CALLERS
        .iter()
        .flat_map(|&c| owners.iter().map(move |&o| (c, o)))
        .map(|(c, o)| (c, o, exception(method, path, c, o).unwrap_or_else(|| expected(policy, success, c, o))))
        .collect();
    let mut failures = Vec::new();
    for &(caller, owner, want) in &cases {
        let fresh = if want < 400 { Some(World::build().await) } else { None };
        let world = fresh.as_ref().unwrap_or(&shared_world);
        let (concrete, body) = world.request(method, path, object, owner);
        let before = if want >= 400 { Some(world.app.items().await) } else { None };
        let r = world.app.call(method, &concrete, world.token(caller), body).await;
        let name = format!("{method} {path} as {caller:?} on {owner:?}'s object");
        if r.status.as_u16() != want {
            failures.push(format!("{name}: expected {want}, got {} {}", r.status, r.body));
            continue;
        }
        if want >= 400 {
            let is_problem = r.headers.get("content-type").is_some_and(|v| v == "application/problem+json");
            if !is_problem || r.body["status"] != want {
                failures.push(format!("{name}: not a problem+json {want}: {}", r.body));
            }
        }
        // What a user is shown never names the other user's objects (lists above all).
        if let (Some(other), false) = (world.other(caller), matches!(policy, Policy::Public(_))) {
            let text = r.body.to_string();
            let o = &world.objects[other];
            for id in [&o.user, &o.habit, &o.reminder, &o.notification] {
                if text.contains(id.as_str()) {
                    failures.push(format!("{name}: the answer names another user's object {id}"));
                }
            }
        }
        if let Some(before) = before {
            if world.app.items().await != before {
                failures.push(format!("{name}: refused with {want} but the table changed"));
            }
        }
    }
    Outcome { cases: cases.len(), failures }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_declared() {
    let success = success_statuses();
    let routes = all_routes();
    let undeclared: Vec<String> = routes
        .iter()
        .filter(|(_, r)| policy(r.method, r.path).is_none())
        .map(|(_, r)| format!("{} {}", r.method, r.path))
        .collect();
    assert!(undeclared.is_empty(), "routes without a declared policy: {undeclared:?}");
    let outcomes: Vec<Outcome> = futures::stream::iter(routes.iter().map(|(_, r)| {
        let (object, p) = policy(r.method, r.path).unwrap();
        run_route(r.method, r.path, object, p, success[&(r.method.to_owned(), r.path.to_owned())])
    }))
    .buffer_unordered(4)
    .collect()
    .await;
    let cases: usize = outcomes.iter().map(|o| o.cases).sum();
    let failures: Vec<&String> = outcomes.iter().flat_map(|o| &o.failures).collect();
    println!("authorization matrix: {} routes, {cases} cases, {} failures", routes.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n")
    );
}
