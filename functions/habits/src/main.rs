#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::run(habits::app(shared::AppState::from_env().await)).await
}
