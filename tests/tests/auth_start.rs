//! What the auth function does when it starts (its own test process, so that nothing else has
//! run first): the dummy password hash that unknown users are checked against is computed then,
//! not by the first unknown-user login, which would otherwise be measurably slower than the rest.

#[tokio::test]
async fn the_dummy_hash_is_computed_when_the_function_starts() {
    assert!(!shared::password::dummy_ready(), "nothing has hashed yet in this process");
    let state = shared::AppState::new(habit_tests::config("unused"), habit_tests::client(&Default::default()));
    let _app = auth::app(state);
    assert!(shared::password::dummy_ready());
}
