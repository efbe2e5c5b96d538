#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::run(users::app(shared::AppState::from_env_with_mail().await)).await
}
