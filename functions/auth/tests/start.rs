//! What the auth function does when it starts (its own test process, so that nothing else has
//! run first): the dummy password hash that unknown users are checked against is computed then
//! (on a thread of its own, beside the first request), not by the first unknown-user login, which
//! would otherwise be measurably slower than the rest.

#[tokio::test]
async fn the_dummy_hash_is_computed_when_the_function_starts() {
    assert!(!shared::password::dummy_ready(), "nothing has hashed yet in this process");
    let vars = [
        ("TABLE_NAME", "unused"),
        ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
        ("JWT_SECRET", "a-test-secret-of-at-least-32-bytes!!"),
    ];
    let vars = vars.map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    let config = shared::config::Config::from_vars(&vars).expect("a configuration");
    let auth = shared::config::AuthConfig::from_vars(&vars).expect("a token configuration");
    // A client that is never called: building the app is what is tested.
    let client = config.client(&shared::storage::sdk_config().await);
    let _app = auth::app(shared::AppState::new(config, auth, client));
    let started = std::time::Instant::now();
    while !shared::password::dummy_ready() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the dummy hash was not computed at start");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
