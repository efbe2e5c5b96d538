#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::run(reminders::app(shared::AppState::from_env_with_push().await)).await
}
