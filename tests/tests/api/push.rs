//! Web Push against DynamoDB Local and a stand-in push service on loopback: the public key, the
//! subscription routes, a fired reminder pushed encrypted and VAPID-signed to every subscribed
//! browser, and a subscription its push service says has ended (410) removed. (The message is
//! decrypted by the reference implementation, Python's `http_ece`, in `tests/e2e/push.py`.)

use super::dispatcher::{armed, habit, ALL};
use super::webhooks::{cfg, outbox, run_schedule, run_stream, Receiver};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64U, Engine};
use chrono::{Duration, Utc};
use habit_tests::{Session, TestApp};
use serde_json::{json, Value};

async fn subscribe(app: &TestApp, s: &Session, endpoint: &str) -> String {
    let body = json!({"endpoint": endpoint, "expirationTime": null, "keys": habit_tests::push_keys()});
    let r = app.call("POST", "/me/push-subscriptions", Some(&s.access), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["subscription_id"].as_str().unwrap().to_owned()
}

/// A reminder of `s` fired now by the dispatcher; returns its notification id.
async fn fire(app: &TestApp, s: &Session) -> String {
    let h = habit(app, s, json!({})).await;
    let r = armed(app, s, &h, "07:30", &ALL, "Europe/Berlin", Utc::now()).await;
    let due = r.next_fire_at.unwrap();
    assert_eq!(dispatcher::dispatch(&app.dispatcher, &Default::default(), due, None).await.unwrap().fired, 1);
    let n = app.get("/me/notifications", &s.access).await;
    n.body["items"][0]["notification_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_public_key_is_public_and_the_one_pushes_are_signed_with() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/push/public-key", None, None).await;
    assert_eq!(r.status, 200);
    let key = r.body["public_key"].as_str().unwrap();
    assert_eq!(key, app.state.vapid().unwrap().public_key());
    assert_eq!(B64U.decode(key).unwrap().len(), 65, "an uncompressed P-256 point");
}

#[tokio::test]
async fn a_fired_reminder_is_pushed_encrypted_and_vapid_signed_to_every_browser() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("pushed").await;
    subscribe(&app, &s, &rx.url("/push/a")).await;
    subscribe(&app, &s, &rx.url("/push/b")).await;
    let notification = fire(&app, &s).await;
    let report = run_stream(&app, &cfg(), Utc::now()).await;
    assert_eq!((report.delivered, report.failed_attempts), (2, 0), "{report:?}");
    let key = app.state.vapid().unwrap().public_key();
    for path in ["/push/a", "/push/b"] {
        let got = rx.at(path);
        assert_eq!(got.len(), 1, "{path}");
        let h = &got[0].headers;
        assert_eq!(h["content-encoding"], "aes128gcm");
        assert_eq!(h["ttl"], "3600");
        let auth = h["authorization"].strip_prefix("vapid t=").unwrap();
        let (jwt, k) = auth.split_once(", k=").unwrap();
        assert_eq!(k, key);
        let claims: Value = serde_json::from_slice(&B64U.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["aud"], rx.url(""), "the audience is the push service's origin");
        // RFC 8188 header: salt (16), record size, key id length 65 (the sender's public key).
        let raw = &got[0].raw;
        assert_eq!((raw[20], raw[21]), (65, 4), "the sender's ephemeral key follows the header");
        assert!(!String::from_utf8_lossy(raw).contains("time"), "the message is not readable on the way");
        assert_ne!(
            &raw[..16],
            &rx.at(if path == "/push/a" { "/push/b" } else { "/push/a" })[0].raw[..16],
            "a salt each"
        );
    }
    assert!(outbox(&app).await.is_empty());
    let n = app.get("/me/notifications", &s.access).await;
    assert_eq!(n.body["items"][0]["notification_id"], notification.as_str(), "the notification stays in the API too");
}

#[tokio::test]
async fn a_subscription_its_push_service_says_has_ended_is_removed() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let s = app.register("unsubscribed").await;
    let gone = subscribe(&app, &s, &rx.url("/gone")).await;
    let kept = subscribe(&app, &s, &rx.url("/push/kept")).await;
    fire(&app, &s).await;
    let report = run_stream(&app, &cfg(), Utc::now()).await;
    assert_eq!((report.delivered, report.subscriptions_removed, report.retries_scheduled), (1, 1, 0), "{report:?}");
    let list = app.get("/me/push-subscriptions", &s.access).await;
    let ids: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|i| i["subscription_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [kept.as_str()], "{gone} removed");
    assert!(run_schedule(&app, &cfg(), Utc::now() + Duration::hours(3)).await.events == 0, "nothing left to retry");
}

#[tokio::test]
async fn subscriptions_are_checked_replaced_by_endpoint_and_stay_with_their_owner() {
    let app = TestApp::spawn().await;
    let s = app.register("subscriber").await;
    let other = app.register("outsider").await;
    let keys = habit_tests::push_keys();
    for (body, field) in [
        (json!({"endpoint": "ftp://push.example/x", "keys": keys}), "endpoint"),
        (
            json!({"endpoint": "https://push.example/x", "keys": {"p256dh": "AAAA", "auth": keys["auth"]}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": "https://push.example/x", "keys": {"p256dh": keys["p256dh"], "auth": "AAAA"}}),
            "keys.auth",
        ),
    ] {
        let r = app.call("POST", "/me/push-subscriptions", Some(&s.access), Some(body)).await;
        r.problem(400);
        r.names_field(field);
    }
    app.call("POST", "/me/push-subscriptions", Some(&s.access), Some(json!({"endpoint": "https://push.example/x"})))
        .await
        .problem(400);
    let a = subscribe(&app, &s, "https://push.example/x").await;
    let again = subscribe(&app, &s, "https://push.example/x").await;
    assert_eq!(a, again, "the same browser (endpoint) again is the same subscription");
    assert_eq!(app.get("/me/push-subscriptions", &s.access).await.body["items"].as_array().unwrap().len(), 1);
    for i in 1..10 {
        subscribe(&app, &s, &format!("https://push.example/{i}")).await;
    }
    let r = app
        .call(
            "POST",
            "/me/push-subscriptions",
            Some(&s.access),
            Some(json!({"endpoint": "https://push.example/11", "keys": keys})),
        )
        .await;
    r.problem(409);
    app.call("DELETE", &format!("/me/push-subscriptions/{a}"), Some(&other.access), None).await.problem(404);
    assert_eq!(app.get("/me/push-subscriptions", &other.access).await.body, json!({"items": []}));
    let d = app.call("DELETE", &format!("/me/push-subscriptions/{a}"), Some(&s.access), None).await;
    assert_eq!(d.status, 204);
    app.call("DELETE", &format!("/me/push-subscriptions/{a}"), Some(&s.access), None).await.problem(404);
}
