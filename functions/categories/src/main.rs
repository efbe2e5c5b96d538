#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::run(categories::app(shared::AppState::from_env().await)).await
}
