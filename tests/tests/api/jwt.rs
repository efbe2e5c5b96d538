//! Access-token verification: every forged, stale or malformed token is a 401 on a real route.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use habit_tests::{Session, TestApp, AUDIENCE, ISSUER, SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims that would be accepted, for `s`.
fn good_claims(s: &Session) -> Value {
    let n = now();
    json!({"sub": s.user_id, "role": "user", "ver": 0, "iss": ISSUER, "aud": AUDIENCE, "iat": n, "nbf": n, "exp": n + 300, "jti": "j"})
}

/// Signs as the functions do: the test key's `kid` in the header.
fn sign(claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    sign_as(Some(habit_tests::kid()), claims, alg, secret)
}

fn sign_as(kid: Option<String>, claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    encode(&Header { kid, ..Header::new(alg) }, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().kid
}

fn with(claims: &Value, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims.clone();
    f(c.as_object_mut().unwrap());
    c
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_401() {
    let app = TestApp::spawn().await;
    let s = app.register("target").await;
    let good = good_claims(&s);
    let key = SECRET.as_bytes();
    // The control: a correctly made token is accepted, so every rejection below is meaningful.
    assert_eq!(app.get("/me", &sign(&good, Algorithm::HS256, key)).await.status, 200);

    let header_none = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64.encode(good.to_string());
    let n = now();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", format!("{header_none}.{payload}.")),
        ("wrong key", sign(&good, Algorithm::HS256, b"another-secret-another-secret-another")),
        ("no kid", sign_as(None, &good, Algorithm::HS256, key)),
        ("unknown kid", sign_as(Some("other".into()), &good, Algorithm::HS256, key)),
        ("other algorithm (HS512)", sign(&good, Algorithm::HS512, key)),
        ("other algorithm (HS384)", sign(&good, Algorithm::HS384, key)),
        (
            "expired",
            sign(
                &with(&good, |c| {
                    c.insert("exp".into(), json!(n - 120));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "not yet valid",
            sign(
                &with(&good, |c| {
                    c.insert("nbf".into(), json!(n + 600));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "wrong iss",
            sign(
                &with(&good, |c| {
                    c.insert("iss".into(), json!("evil"));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "wrong aud",
            sign(
                &with(&good, |c| {
                    c.insert("aud".into(), json!("other-api"));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "missing sub",
            sign(
                &with(&good, |c| {
                    c.remove("sub");
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "missing exp",
            sign(
                &with(&good, |c| {
                    c.remove("exp");
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "missing iat",
            sign(
                &with(&good, |c| {
                    c.remove("iat");
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "missing nbf",
            sign(
                &with(&good, |c| {
                    c.remove("nbf");
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "exp as string",
            sign(
                &with(&good, |c| {
                    c.insert("exp".into(), json!((n + 300).to_string()));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "ver as string",
            sign(
                &with(&good, |c| {
                    c.insert("ver".into(), json!("0"));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "unknown subject",
            sign(
                &with(&good, |c| {
                    c.insert("sub".into(), json!(ulid::Ulid::new().to_string()));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "role raised in token",
            sign(
                &with(&good, |c| {
                    c.insert("role".into(), json!("admin"));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "old token version",
            sign(
                &with(&good, |c| {
                    c.insert("ver".into(), json!(7));
                }),
                Algorithm::HS256,
                key,
            ),
        ),
        ("refresh token as access token", s.refresh.clone()),
        ("tampered payload", {
            let t = sign(&good, Algorithm::HS256, key);
            let parts: Vec<&str> = t.split('.').collect();
            let evil = B64.encode(
                with(&good, |c| {
                    c.insert("sub".into(), json!("someone-else"));
                })
                .to_string(),
            );
            format!("{}.{}.{}", parts[0], evil, parts[2])
        }),
        ("garbage", "a.b.c".into()),
    ];
    for (name, token) in cases {
        let r = app.get("/me", &token).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        r.problem(401);
    }
    // Malformed Authorization headers.
    for header in ["Basic abc", "Bearer", "Bearer ", "token"] {
        let req = http::Request::builder()
            .uri("/me")
            .header("authorization", header)
            .body(axum::body::Body::empty())
            .unwrap();
        app.send(req).await.problem(401);
    }
}

#[tokio::test]
async fn tokens_issued_before_a_password_change_deactivation_or_role_change_are_401() {
    let app = TestApp::spawn().await;
    let admin = app.admin("boss").await;
    for (name, change) in
        [("pwd", None), ("deact", Some(json!({"is_active": false}))), ("promo", Some(json!({"role": "admin"})))]
    {
        let s = app.register(name).await;
        assert_eq!(app.get("/me", &s.access).await.status, 200);
        match change {
            None => {
                let r = app
                    .call(
                        "PUT",
                        "/me/password",
                        Some(&s.access),
                        Some(
                            json!({"current_password": habit_tests::PASSWORD, "new_password": "completely different"}),
                        ),
                    )
                    .await;
                assert_eq!(r.status, 200);
            }
            Some(body) => {
                let r = app.call("PATCH", &format!("/users/{}", s.user_id), Some(&admin.access), Some(body)).await;
                assert_eq!(r.status, 200);
            }
        }
        app.get("/me", &s.access).await.problem(401);
    }
}

/// A key rotation: a token signed with the old key is still accepted once a new key is added
/// (and made active), and refused once the old key is removed; tokens carry their key's `kid`.
#[tokio::test]
async fn a_key_rotation_logs_nobody_out_and_a_removed_key_verifies_nothing() {
    let app = TestApp::spawn().await;
    let s = app.register("rotating").await;
    let (old, new) = (habit_tests::kid(), "2026-12");
    assert_eq!(kid_of(&s.access).as_deref(), Some(old.as_str()));
    let new_secret = "rotated-secret-rotated-secret-rotated-0";

    let during = app.rekeyed(&json!({"active": new, old.as_str(): SECRET, new: new_secret}).to_string());
    assert_eq!(during.get("/me", &s.access).await.status, 200, "the old key still verifies");
    let fresh = during.login("rotating").await;
    assert_eq!(kid_of(&fresh.access).as_deref(), Some(new), "the active key signs");
    assert_eq!(app.get("/me", &fresh.access).await.status, 401, "a function without the new key refuses it");

    let after = app.rekeyed(&json!({"active": new, new: new_secret}).to_string());
    after.get("/me", &s.access).await.problem(401);
    assert_eq!(after.get("/me", &fresh.access).await.status, 200);
    // A page begun before the old key was removed: its cursor was signed with the old key.
    let admin = app.admin("rotadmin").await;
    for name in ["rotuser1", "rotuser2"] {
        app.register(name).await;
    }
    let page = app.get("/users?limit=1", &admin.access).await;
    let cursor = page.body["next_cursor"].as_str().expect("a next page").to_owned();
    let admin_after = after.login("rotadmin").await;
    let path = format!("/users?limit=1&cursor={cursor}");
    assert_eq!(during.get(&path, &during.login("rotadmin").await.access).await.status, 200);
    after.get(&path, &admin_after.access).await.names_field("cursor");
}

/// The read routes confirm the caller while their read is under way (`shared::auth::Reader`):
/// the refusal still wins. A revoked token gets 401 on each of them, where the read alone would
/// have answered 200 with the caller's data or 404 for a missing item.
#[tokio::test]
async fn reads_sent_alongside_the_account_check_refuse_a_revoked_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin("readboss").await;
    let s = app.register("reader").await;
    let r = app
        .call("POST", "/habits", Some(&s.access), Some(json!({"title": "Read", "frequency": {"type": "daily"}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let habit = r.body["habit_id"].as_str().unwrap().to_owned();
    let missing = ulid::Ulid::new().to_string();
    let reads = [
        ("/habits".to_owned(), 200),
        (format!("/habits/{habit}"), 200),
        (format!("/habits/{missing}"), 404),
        (format!("/habits/{habit}/stats"), 200),
        (format!("/habits/{missing}/stats"), 404),
        (format!("/habits/{habit}/entries"), 200),
        (format!("/habits/{habit}/entries/2026-01-01"), 404),
        ("/me/today".to_owned(), 200),
        ("/me/profile".to_owned(), 200),
        ("/reminders".to_owned(), 200),
        (format!("/reminders/{missing}"), 404),
        ("/me/notifications".to_owned(), 200),
        ("/me/webhooks".to_owned(), 200),
        (format!("/me/webhooks/{missing}"), 404),
        ("/me/push-subscriptions".to_owned(), 200),
        ("/categories".to_owned(), 200),
        (format!("/categories/{missing}"), 404),
        ("/me/challenges".to_owned(), 200),
        (format!("/challenges/{missing}"), 404),
        (format!("/challenges/{missing}/leaderboard"), 404),
    ];
    for (path, status) in &reads {
        assert_eq!(app.get(path, &s.access).await.status, *status, "{path} before the revocation");
    }
    let r = app
        .call("PATCH", &format!("/users/{}", s.user_id), Some(&admin.access), Some(json!({"is_active": false})))
        .await;
    assert_eq!(r.status, 200);
    for (path, _) in &reads {
        let r = app.get(path, &s.access).await;
        assert_eq!(r.status, 401, "{path} after the revocation: {}", r.body);
        r.problem(401);
    }
}
