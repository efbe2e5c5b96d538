//! E-mail links against DynamoDB Local and a local SES (aws-ses-v2-local, which keeps what it was
//! sent): verification at registration, at a change of address and on request; password reset,
//! the same answer for every address, revoking every session. Each link works once.

use habit_tests::{last_link_token, mail_to, TestApp, PASSWORD};
use serde_json::json;

/// A name no other test uses (the local SES is shared by every test of the process).
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &ulid::Ulid::new().to_string().to_lowercase()[18..])
}

#[tokio::test]
async fn registration_sends_a_link_that_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let name = unique("v");
    let s = app.register(&name).await;
    let address = format!("{name}@example.com");
    let mail = mail_to(&address).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["subject"], "Confirm your e-mail address");
    assert_eq!(mail[0]["from"], "reminders@habit-tracker.test");
    assert_eq!(app.get("/me", &s.access).await.body["email_verified"], false);
    let token = last_link_token(&address, "verify-email").await.expect("a link");
    let r = app.call("POST", "/auth/verify-email", None, Some(json!({"token": token}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(app.get("/me", &s.access).await.body["email_verified"], true);
    let again = app.call("POST", "/auth/verify-email", None, Some(json!({"token": token}))).await;
    again.problem(400);
    again.names_field("token");
    let forged = format!("{}x", &token[..token.len() - 1]);
    app.call("POST", "/auth/verify-email", None, Some(json!({"token": forged}))).await.problem(400);
    app.call("POST", "/me/email-verification", Some(&s.access), None).await.problem(409);
}

#[tokio::test]
async fn a_new_address_is_unverified_until_its_own_link_and_older_links_stop_working() {
    let app = TestApp::spawn().await;
    let name = unique("c");
    let s = app.register(&name).await;
    let old = format!("{name}@example.com");
    let first = last_link_token(&old, "verify-email").await.unwrap();
    // A resend replaces the first link.
    let r = app.call("POST", "/me/email-verification", Some(&s.access), None).await;
    assert_eq!(r.status, 202);
    let second = last_link_token(&old, "verify-email").await.unwrap();
    assert_ne!(first, second);
    // At most one a minute.
    let again = app.call("POST", "/me/email-verification", Some(&s.access), None).await;
    again.problem(429);
    assert_eq!(last_link_token(&old, "verify-email").await.unwrap(), second, "nothing more sent");
    app.call("POST", "/auth/verify-email", None, Some(json!({"token": first}))).await.problem(400);
    // A new address: the old address's link verifies nothing.
    let new = format!("{name}@example.org");
    let r = app.call("PATCH", "/me", Some(&s.access), Some(json!({"email": new, "current_password": PASSWORD}))).await;
    assert_eq!((r.status.as_u16(), r.body["email_verified"].as_bool()), (200, Some(false)), "{}", r.body);
    app.call("POST", "/auth/verify-email", None, Some(json!({"token": second}))).await.problem(400);
    let token = last_link_token(&new, "verify-email").await.expect("a link to the new address");
    assert_eq!(app.call("POST", "/auth/verify-email", None, Some(json!({"token": token}))).await.status, 204);
    let me = app.get("/me", &s.access).await;
    assert_eq!((me.body["email"].as_str(), me.body["email_verified"].as_bool()), (Some(new.as_str()), Some(true)));
}

#[tokio::test]
async fn a_password_reset_answers_alike_for_every_address_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let name = unique("r");
    let s = app.register(&name).await;
    let address = format!("{name}@example.com");
    let unknown = format!("{}@example.com", unique("nobody"));
    let known = app.call("POST", "/auth/password-reset", None, Some(json!({"email": address.to_uppercase()}))).await;
    let none = app.call("POST", "/auth/password-reset", None, Some(json!({"email": unknown}))).await;
    assert_eq!((known.status.as_u16(), none.status.as_u16()), (202, 202));
    assert_eq!(known.body, none.body, "the same answer whether or not an account has the address");
    assert!(mail_to(&unknown).await.is_empty());
    let reset = mail_to(&address).await;
    assert_eq!(reset.last().unwrap()["subject"], "Reset your Habit Tracker password");
    // Asked again at once: the same answer, nothing more in the inbox (one link per 5 minutes).
    let again = app.call("POST", "/auth/password-reset", None, Some(json!({"email": address}))).await;
    assert_eq!((again.status.as_u16(), &again.body), (202, &known.body));
    assert_eq!(mail_to(&address).await.len(), reset.len(), "no second link within the cooldown");
    let token = last_link_token(&address, "reset-password").await.expect("a reset link");
    // The new password is checked before the link is used: a weak one leaves it usable.
    let weak = app
        .call(
            "POST",
            "/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": "aaaaaaaaaaaa"})),
        )
        .await;
    weak.problem(400);
    weak.names_field("new_password");
    let new_password = "a brand new horse battery";
    let r = app
        .call("POST", "/auth/password-reset/confirm", None, Some(json!({"token": token, "new_password": new_password})))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    app.get("/me", &s.access).await.problem(401);
    let refreshed = app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    refreshed.problem(401);
    let old = app.call("POST", "/auth/login", None, Some(json!({"username": name, "password": PASSWORD}))).await;
    old.problem(401);
    let login = app.call("POST", "/auth/login", None, Some(json!({"username": name, "password": new_password}))).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let again = app
        .call(
            "POST",
            "/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": "yet another horse battery"})),
        )
        .await;
    again.problem(400);
    again.names_field("token");
    // A verification link is not a reset link.
    let verify = last_link_token(&address, "verify-email").await.unwrap();
    app.call(
        "POST",
        "/auth/password-reset/confirm",
        None,
        Some(json!({"token": verify, "new_password": "yet another horse battery"})),
    )
    .await
    .problem(400);
}

#[tokio::test]
async fn a_deactivated_account_gets_no_reset_link() {
    let app = TestApp::spawn().await;
    let admin = app.admin(&unique("a")).await;
    let name = unique("d");
    let s = app.register(&name).await;
    let r = app
        .call("PATCH", &format!("/users/{}", s.user_id), Some(&admin.access), Some(json!({"is_active": false})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let address = format!("{name}@example.com");
    let before = mail_to(&address).await.len();
    let r = app.call("POST", "/auth/password-reset", None, Some(json!({"email": address}))).await;
    assert_eq!(r.status, 202);
    assert_eq!(mail_to(&address).await.len(), before, "nothing sent");
}

#[tokio::test]
async fn reminders_are_emailed_to_a_verified_address_when_asked_for() {
    use super::dispatcher::{armed, habit, ALL};
    let app = TestApp::spawn().await;
    let name = unique("e");
    let s = app.register(&name).await;
    let address = format!("{name}@example.com");
    let r = app.call("PATCH", "/me", Some(&s.access), Some(json!({"email_reminders": true}))).await;
    assert_eq!(r.body["email_reminders"], true, "{}", r.body);
    let h = habit(&app, &s, json!({})).await;
    let reminder = armed(&app, &s, &h, "07:30", &ALL, "Europe/Berlin", chrono::Utc::now()).await;
    let mut due = reminder.next_fire_at.unwrap();
    let reminders =
        || async { mail_to(&address).await.into_iter().filter(|m| m["subject"] == "Reminder: time").count() };
    // Not verified yet: nothing e-mailed.
    assert_eq!(dispatcher::dispatch(&app.dispatcher, &Default::default(), due, None).await.unwrap().fired, 1);
    let report = super::webhooks::run_stream(&app, &super::webhooks::cfg(), chrono::Utc::now()).await;
    assert_eq!(report.no_receiver, 1, "{report:?}");
    assert_eq!(reminders().await, 0);
    let token = last_link_token(&address, "verify-email").await.unwrap();
    assert_eq!(app.call("POST", "/auth/verify-email", None, Some(json!({"token": token}))).await.status, 204);
    due += chrono::Duration::days(1);
    assert_eq!(dispatcher::dispatch(&app.dispatcher, &Default::default(), due, None).await.unwrap().fired, 1);
    let report = super::webhooks::run_stream(&app, &super::webhooks::cfg(), chrono::Utc::now()).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(reminders().await, 1, "the reminder e-mailed once");
}
