//! The `wafa` command: the server and its operator tools.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use wafa::http::{AppState, Config};
use wafa::store::Store;

#[derive(Parser)]
#[command(name = "wafa", version, about = "Wafa (وفاء): self-hosted CRM and customer retention for online stores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DbArgs {
    /// A SQLite file path (created if missing), `sqlite://…`, or `postgres://…`.
    #[arg(long, env = "WAFA_DATABASE_URL", default_value = "wafa.db")]
    database_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (JSON API, OpenAPI at /openapi.json, health at /healthz).
    Serve {
        #[arg(long, env = "WAFA_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        #[command(flatten)]
        db: DbArgs,
        /// Load the demo store if the database is empty.
        #[arg(long)]
        demo: bool,
        /// Allow anyone who reaches the server to create a workspace (POST /v1/signup).
        #[arg(long, env = "WAFA_ALLOW_SIGNUP", default_value_t = true, action = clap::ArgAction::Set)]
        allow_signup: bool,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAFA_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { bind, db, demo, allow_signup } => serve(&bind, &db.database_url, demo, allow_signup).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(bind: &str, database_url: &str, demo: bool, allow_signup: bool) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(database_url).await?;
    if store.workspace_count().await? == 0 {
        if demo {
            wafa::bootstrap::demo_workspace(&store).await?;
        } else if let Some(owner) = wafa::bootstrap::owner_from_env() {
            wafa::bootstrap::first_workspace(&store, &owner, "My store").await?;
        } else {
            println!("The database is empty: create your workspace with POST /v1/signup, or restart with --demo.");
        }
    }
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    println!("Wafa is running on http://{addr}  (API docs: http://{addr}/openapi.json)");
    tracing::info!(%addr, backend = ?store.backend(), "serving");
    wafa::http::serve(listener, AppState::new(store.clone(), Config { allow_signup })).await?;
    store.close().await;
    Ok(())
}
