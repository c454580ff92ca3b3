//! The `wafa` command: the server and its operator tools.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use wafa::http::{AppState, Config};
use wafa::store::Store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "wafa",
    version,
    about = "Wafa (وفاء): self-hosted CRM and customer retention for online stores"
)]
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
        /// Minutes between recomputations of every workspace's predictions (0: never).
        #[arg(long, env = "WAFA_PREDICT_EVERY_MINUTES", default_value_t = 360)]
        predict_every_minutes: u64,
        /// The URL stores reach this server at (for webhook URLs); default http://BIND.
        #[arg(long, env = "WAFA_PUBLIC_URL")]
        public_url: Option<String>,
        /// SMTP server for password-reset e-mails, e.g. smtp://user:pass@host:587?tls=required.
        #[arg(long, env = "WAFA_SMTP_URL")]
        smtp_url: Option<String>,
        /// The sender of Wafa's e-mails.
        #[arg(
            long,
            env = "WAFA_MAIL_FROM",
            default_value = "Wafa <no-reply@localhost>"
        )]
        mail_from: String,
    },
    /// Connect a source: a store (shopify, woocommerce, salla, zid) with its webhook secret,
    /// or the events API (events). Prints the source id and its webhook URL or write key.
    Source {
        #[command(subcommand)]
        which: SourceCommand,
    },
    /// Recompute customer predictions (CLV, P(alive), next order, RFM segment) now.
    Predict {
        #[arg(long)]
        workspace: Option<i64>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Import a CSV file: a Shopify customer export or a Wafa orders CSV (see
    /// crates/wafa-ingest/ORDERS_CSV.md). Bad rows are reported; good rows import; importing
    /// the same file again changes nothing.
    Import {
        /// The CSV file (UTF-8, UTF-8 with BOM, UTF-16 or Windows-1256).
        file: std::path::PathBuf,
        /// The workspace to import into; may be omitted when there is only one.
        #[arg(long)]
        workspace: Option<i64>,
        /// The source the file's ids belong to; default one source per format.
        #[arg(long)]
        source_id: Option<i64>,
        /// Refuse the file unless it is of this kind.
        #[arg(long, value_parser = ["customers", "orders"])]
        kind: Option<String>,
        /// Where to write the per-row error report (CSV); default FILE.errors.csv.
        #[arg(long)]
        errors: Option<std::path::PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Customer analytics on any transaction log (customer, date, amount): RFM, BG/NBD,
    /// Pareto/NBD, MBG/NBD, BG/BB, Gamma-Gamma, CLV, cohorts, calibration/holdout validation.
    /// Prints a summary and writes a report (per-customer CSV, SVG charts, JSON).
    Analyze {
        /// A CSV with a header, or a raw CDNOW file (whitespace-separated `id YYYYMMDD n amount`).
        file: std::path::PathBuf,
        /// `day` or `week` (7-day continuous weeks, as in the papers).
        #[arg(long, default_value = "day")]
        time_unit: String,
        /// Fit on purchases up to this date (YYYY-MM-DD) and validate on the rest.
        #[arg(long)]
        calibration_end: Option<String>,
        /// Column names, e.g. `customer=email,date=created_at,amount=total`.
        #[arg(long)]
        columns: Option<String>,
        /// `auto`, `csv` or `cdnow`.
        #[arg(long, default_value = "auto")]
        format: String,
        /// ISO 4217 currency of the amounts (decides their decimals).
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Write the machine-readable summary here.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Directory for the report files.
        #[arg(long, default_value = "wafa-report")]
        out: std::path::PathBuf,
    },
    /// Tag text from stdin with language, sentiment and intent (Arabic dialects, Arabizi,
    /// English). With --jsonl: one message per line in, one JSON object per line out.
    Text {
        #[arg(long)]
        jsonl: bool,
    },
    /// Performance benchmarks (build with --release). They print numbers; see README.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum SourceCommand {
    Add {
        #[arg(long, value_parser = ["shopify", "woocommerce", "salla", "zid", "events", "csv", "api"])]
        platform: String,
        /// The webhook signing secret (Salla/Zid: the token) for store platforms.
        #[arg(long)]
        secret: Option<String>,
        /// A name for people; default the platform.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        workspace: Option<i64>,
        /// The URL stores reach the server at.
        #[arg(long, env = "WAFA_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Import synthetic CSVs (Shopify customers, then orders) and report rows/s.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Order lines (rows) in the orders file.
        #[arg(long, default_value_t = 5_000_000)]
        orders: u64,
        /// Where the synthetic files are written (and reused).
        #[arg(long, default_value = "bench-data")]
        dir: std::path::PathBuf,
        #[arg(long, env = "WAFA_DATABASE_URL", default_value = "bench-data/bench.db")]
        database_url: String,
    },
    /// Events API throughput and latency (Segment batches) on SQLite.
    Events {
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long, default_value_t = 100)]
        batch: u64,
        #[arg(long, default_value = "bench-data")]
        dir: std::path::PathBuf,
    },
    /// Webhook acknowledge latency (signed Shopify orders) at a fixed rate.
    Webhooks {
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value = "bench-data")]
        dir: std::path::PathBuf,
    },
    /// kill -9 the server repeatedly while events are sent; count lost and duplicated events.
    Crash {
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        #[arg(long, default_value_t = 8)]
        kills: u32,
        #[arg(long, default_value = "bench-data")]
        dir: std::path::PathBuf,
    },
    /// Server-side render time of the console's pages on a database loaded by `bench import`.
    Console {
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        #[arg(long, env = "WAFA_DATABASE_URL", default_value = "bench-data/bench.db")]
        database_url: String,
    },
    /// Time customer search and timeline pages on a database loaded by `bench import`.
    Query {
        #[arg(long, default_value_t = 40)]
        rounds: usize,
        #[arg(long, env = "WAFA_DATABASE_URL", default_value = "bench-data/bench.db")]
        database_url: String,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAFA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            bind,
            db,
            demo,
            allow_signup,
            predict_every_minutes,
            public_url,
            smtp_url,
            mail_from,
        } => {
            let mailer = match smtp_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => match wafa::web::Mailer::from_url(url, &mail_from) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                None => None,
            };
            serve(
                &bind,
                &db.database_url,
                demo,
                allow_signup,
                predict_every_minutes,
                public_url,
                mailer,
            )
            .await
        }
        Command::Source {
            which:
                SourceCommand::Add {
                    platform,
                    secret,
                    name,
                    workspace,
                    public_url,
                    db,
                },
        } => {
            add_source(
                &platform,
                secret.as_deref(),
                name.as_deref(),
                workspace,
                &public_url,
                &db.database_url,
            )
            .await
        }
        Command::Predict { workspace, db } => predict(workspace, &db.database_url).await,
        Command::Import {
            file,
            workspace,
            source_id,
            kind,
            errors,
            db,
        } => {
            import(
                &file,
                workspace,
                source_id,
                kind.as_deref(),
                errors,
                &db.database_url,
            )
            .await
        }
        Command::Analyze {
            file,
            time_unit,
            calibration_end,
            columns,
            format,
            currency,
            json,
            out,
        } => analyze(
            &file,
            &time_unit,
            calibration_end.as_deref(),
            columns.as_deref(),
            &format,
            &currency,
            json.as_deref(),
            &out,
        ),
        Command::Text { jsonl } => text(jsonl),
        Command::Bench {
            which:
                BenchCommand::Events {
                    rate,
                    seconds,
                    batch,
                    dir,
                },
        } => wafa::bench::events(&dir, rate, seconds, batch)
            .await
            .map_err(Into::into),
        Command::Bench {
            which: BenchCommand::Webhooks { rate, seconds, dir },
        } => wafa::bench::webhooks(&dir, rate, seconds)
            .await
            .map_err(Into::into),
        Command::Bench {
            which: BenchCommand::Crash { events, kills, dir },
        } => wafa::bench::crash(&dir, events, kills)
            .await
            .map_err(Into::into),
        Command::Bench {
            which:
                BenchCommand::Import {
                    customers,
                    orders,
                    dir,
                    database_url,
                },
        } => wafa::bench::import(wafa::bench::ImportBench {
            database_url,
            customers,
            order_lines: orders,
            dir,
        })
        .await
        .map_err(Into::into),
        Command::Bench {
            which:
                BenchCommand::Query {
                    rounds,
                    database_url,
                },
        } => wafa::bench::query(&database_url, rounds)
            .await
            .map_err(Into::into),
        Command::Bench {
            which:
                BenchCommand::Console {
                    rounds,
                    database_url,
                },
        } => wafa::bench::console::console(&database_url, rounds)
            .await
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    bind: &str,
    database_url: &str,
    demo: bool,
    allow_signup: bool,
    predict_every_minutes: u64,
    public_url: Option<String>,
    mailer: Option<wafa::web::Mailer>,
) -> Result<(), Box<dyn std::error::Error>> {
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
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    println!("Wafa is running on http://{addr}  (console: http://{addr}/ · API docs: http://{addr}/openapi.json)");
    tracing::info!(%addr, backend = ?store.backend(), "serving");
    if predict_every_minutes > 0 {
        wafa::predict::spawn_schedule(
            store.clone(),
            std::time::Duration::from_secs(predict_every_minutes * 60),
        );
    }
    wafa::http::serve(
        listener,
        AppState::new(
            store.clone(),
            Config {
                allow_signup,
                public_url: public_url.unwrap_or_else(|| format!("http://{addr}")),
                mailer,
            },
        ),
    )
    .await?;
    store.close().await;
    Ok(())
}

async fn predict(
    workspace: Option<i64>,
    database_url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(database_url).await?;
    let ws = pick_workspace(&store, workspace).await?;
    let s = wafa::predict::recompute(&store, ws.id).await?;
    println!(
        "Predictions recomputed for {} customers in {:.2}s ({:?})",
        s.customers, s.seconds, s.per_currency
    );
    store.close().await;
    Ok(())
}

async fn pick_workspace(
    store: &Store,
    requested: Option<i64>,
) -> Result<wafa::store::WorkspaceRecord, Box<dyn std::error::Error>> {
    let all = store.list_workspaces().await?;
    match requested {
        Some(id) => Ok(all
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| format!("no workspace {id}"))?),
        None if all.len() == 1 => Ok(all.into_iter().next().expect("one workspace")),
        None if all.is_empty() => Err(
            "the database has no workspace yet: run `wafa serve --demo` or sign up first".into(),
        ),
        None => Err(format!(
            "several workspaces exist ({}); choose one with --workspace",
            all.iter()
                .map(|w| format!("{} {}", w.id, w.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()),
    }
}

async fn import(
    file: &std::path::Path,
    workspace: Option<i64>,
    source_id: Option<i64>,
    kind: Option<&str>,
    errors_path: Option<std::path::PathBuf>,
    database_url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use wafa_ingest::csv_import::CsvFormat;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let store = Store::connect(database_url).await?;
    let ws = pick_workspace(&store, workspace).await?;
    let region = wafa_domain::Region::parse(&ws.default_region)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let expect = kind.map(|k| {
        if k == "customers" {
            CsvFormat::ShopifyCustomers
        } else {
            CsvFormat::GenericOrders
        }
    });
    let file_name = file.file_name().map(|f| f.to_string_lossy().into_owned());
    let req = wafa::import::ImportRequest {
        workspace_id: ws.id,
        actor: "cli",
        region,
        expect,
        source_id,
        file_name: file_name.as_deref(),
    };
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        bar.set_length(total.max(done));
        bar.set_position(done);
    };
    let out = wafa::import::import_csv(&store, req, bytes, &progress).await;
    bar.finish_and_clear();
    let out = out?;
    let secs = started.elapsed().as_secs_f64();
    let r = &out.record;
    println!(
        "Imported {} ({} file, {}) into workspace {}: {} rows in {secs:.1}s ({:.0} rows/s): {} created, {} updated, {} unchanged, {} failed.",
        file.display(),
        r.kind,
        r.encoding.as_deref().unwrap_or("?"),
        ws.id,
        r.rows_total,
        r.rows_total as f64 / secs.max(1e-9),
        r.rows_created,
        r.rows_updated,
        r.rows_unchanged,
        r.rows_failed
    );
    if !out.errors.is_empty() {
        let path = errors_path
            .unwrap_or_else(|| std::path::PathBuf::from(format!("{}.errors.csv", file.display())));
        wafa::import::write_error_report(std::fs::File::create(&path)?, &out.errors)?;
        println!(
            "{} rows were rejected; their errors are in {}",
            out.errors.len(),
            path.display()
        );
    }
    store.close().await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn analyze(
    file: &std::path::Path,
    time_unit: &str,
    calibration_end: Option<&str>,
    columns: Option<&str>,
    format: &str,
    currency: &str,
    json: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = wafa_analytics::AnalyzeOptions {
        time_unit: time_unit.parse()?,
        format: format.parse()?,
        currency: currency.to_owned(),
        ..Default::default()
    };
    if let Some(c) = calibration_end {
        options.calibration_end = Some(
            c.parse()
                .map_err(|e| format!("--calibration-end {c:?}: {e} (use YYYY-MM-DD)"))?,
        );
    }
    if let Some(c) = columns {
        options.columns = c.parse()?;
    }
    let input =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let report = wafa_analytics::build_report(std::io::BufReader::new(input), &options)?;
    print!("{}", report.summary_text);
    std::fs::create_dir_all(out)?;
    for (name, bytes) in &report.files {
        std::fs::write(out.join(name), bytes)?;
    }
    if let Some(j) = json {
        std::fs::write(j, serde_json::to_vec_pretty(&report.json)?)?;
    }
    if !report.row_errors.is_empty() {
        let first = &report.row_errors[0];
        eprintln!(
            "{} rows could not be used (first: line {}: {})",
            report.row_errors.len(),
            first.line,
            first.message
        );
    }
    println!("Report written to {}", out.display());
    Ok(())
}

/// Read stdin as bytes so invalid UTF-8 is replaced, not fatal.
fn text(jsonl: bool) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{BufRead, Read, Write};
    let tagger = wafa_text::tagger();
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if jsonl {
        let mut reader = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            writeln!(out, "{}", wafa_text::tag_jsonl_line(tagger, line))?;
        }
    } else {
        let mut buf = Vec::new();
        stdin.lock().read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&tagger.tag(text.trim()))?
        )?;
    }
    out.flush()?;
    Ok(())
}

async fn add_source(
    platform: &str,
    secret: Option<&str>,
    name: Option<&str>,
    workspace: Option<i64>,
    public_url: &str,
    database_url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(database_url).await?;
    let ws = pick_workspace(&store, workspace).await?;
    let created = wafa::sources::add_source(
        &store,
        ws.id,
        "cli",
        platform,
        name.unwrap_or(platform),
        secret,
        public_url,
    )
    .await?;
    println!("source id: {}", created.source.id);
    if let Some(url) = &created.webhook_url {
        println!("webhook URL: {url}");
    }
    if let Some(key) = &created.write_key {
        println!("write key (shown once): {key}");
        println!(
            "events endpoint: {}/v1/batch (HTTP Basic user = write key)",
            public_url.trim_end_matches('/')
        );
    }
    store.close().await;
    Ok(())
}
