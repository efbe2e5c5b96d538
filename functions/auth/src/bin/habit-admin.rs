//! `habit-admin`: operator commands that must not be open endpoints. Works against DynamoDB Local
//! (`DYNAMODB_ENDPOINT`) and against a deployed table (your AWS credentials, `TABLE_NAME`).
//!
//! ```text
//! habit-admin create-table
//! habit-admin create-admin <username> <email>     # password from ADMIN_PASSWORD, or generated and printed
//! ```

use shared::{domain::Role, models::ProfileItem, storage::Db};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: habit-admin create-table | create-admin <username> <email>\n  env: TABLE_NAME (required), DYNAMODB_ENDPOINT (local), ADMIN_PASSWORD (optional)");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match shared::config::Config::from_env() {
        Ok(config) => config,
        Err(e @ shared::config::ConfigError::Missing(_)) => {
            eprintln!("configuration error: {e}");
            return usage();
        }
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = config.client(&shared::storage::operator_sdk_config().await);
    let table = config.table_name;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["create-table"] => match shared::storage::table::create_table(&client, &table).await {
            Ok(()) => {
                println!("table {table} is ready");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("could not create table {table}: {e}");
                ExitCode::FAILURE
            }
        },
        ["create-admin", username, email] => {
            let db = Db::new(client, table);
            let (password, generated) = match std::env::var("ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (random_password(), true),
            };
            match create_admin(&db, username, email, &password).await {
                Ok(true) => {
                    println!("admin {username} created");
                    if generated {
                        println!("password: {password}");
                    }
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    println!("user {username} already exists; nothing changed");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("could not create admin: {e:?}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => usage(),
    }
}

fn random_password() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

/// Creates the admin unless the username is taken (then returns `false`).
async fn create_admin(db: &Db, username: &str, email: &str, password: &str) -> Result<bool, shared::ApiError> {
    let user = auth::new_user(username, email, None, password, Role::Admin).await?;
    if db.username_taken(&user.username).await? {
        return Ok(false);
    }
    db.create_user(&user, &ProfileItem::empty(&user.user_id, user.created_at), None).await?;
    Ok(true)
}
