#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::run(users::app(shared::AppState::from_env().await)).await
}
