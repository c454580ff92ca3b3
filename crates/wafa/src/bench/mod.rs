//! `wafa bench`: the performance benchmarks. Numbers are printed, never asserted.
//!
//! - `import`: writes a synthetic Shopify customer export and orders CSV (deterministic), then
//!   imports both through the same path as `wafa import`, and reports rows/s.
//! - `query`: on the loaded database, times customer searches (Arabic name variants, phones in
//!   several formats, emails, external ids) and timeline pages, and reports p50/p99.

use crate::error::AppError;
use crate::import::{import_csv, ImportRequest};
use crate::store::{CustomerFilter, NewWorkspace, Store};
use std::time::Instant;

pub struct ImportBench {
    pub database_url: String,
    pub customers: u64,
    pub order_lines: u64,
    pub dir: std::path::PathBuf,
}

fn ensure_dir(p: &std::path::Path) -> Result<(), AppError> {
    std::fs::create_dir_all(p)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", p.display())))
}

/// Write the synthetic files (reused when present with the same sizes).
fn synth_files(b: &ImportBench) -> Result<(std::path::PathBuf, std::path::PathBuf), AppError> {
    ensure_dir(&b.dir)?;
    let cfg = wafa_ingest::synth::SynthConfig {
        seed: 7,
        customers: b.customers,
        order_lines: b.order_lines,
        now_ms: 1_795_000_000_000,
    };
    let cpath = b.dir.join(format!("customers-{}.csv", b.customers));
    let opath = b
        .dir
        .join(format!("orders-{}-{}.csv", b.customers, b.order_lines));
    let io = |e: std::io::Error| AppError::internal(e.to_string());
    if !cpath.exists() {
        let t = Instant::now();
        let f = std::io::BufWriter::new(std::fs::File::create(&cpath).map_err(io)?);
        wafa_ingest::synth::write_customers(&cfg, f).map_err(io)?;
        println!(
            "wrote {} in {:.1}s",
            cpath.display(),
            t.elapsed().as_secs_f64()
        );
    }
    if !opath.exists() {
        let t = Instant::now();
        let f = std::io::BufWriter::new(std::fs::File::create(&opath).map_err(io)?);
        wafa_ingest::synth::write_orders(&cfg, f).map_err(io)?;
        println!(
            "wrote {} in {:.1}s",
            opath.display(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok((cpath, opath))
}

pub async fn import(b: ImportBench) -> Result<(), AppError> {
    let (cpath, opath) = synth_files(&b)?;
    let store = Store::connect(&b.database_url).await?;
    let ws = match store.list_workspaces().await?.first() {
        Some(w) => w.id,
        None => {
            let hash = crate::auth::hash_password("bench-password-not-secret")
                .map_err(AppError::internal)?;
            let nw = NewWorkspace {
                name: "Bench",
                default_currency: "SAR",
                default_region: "SA",
                timezone: "Asia/Riyadh",
                language: "ar",
            };
            store
                .create_workspace_with_owner(nw, "bench@wafa.local", None, &hash)
                .await?
                .0
                .id
        }
    };
    // Both files come from one store: their customer ids are the same store's ids.
    let source = store
        .find_or_create_source(ws, "bench", "shopify", "Bench store")
        .await?;
    let mut total_rows = 0i64;
    let all = Instant::now();
    for (path, label) in [(&cpath, "customers"), (&opath, "orders")] {
        let bytes = std::fs::read(path).map_err(|e| AppError::internal(e.to_string()))?;
        let lines = bytes.iter().filter(|b| **b == b'\n').count() - 1;
        let t = Instant::now();
        let req = ImportRequest {
            workspace_id: ws,
            actor: "bench",
            region: wafa_domain::Region::default(),
            expect: None,
            source_id: Some(source),
            file_name: None,
        };
        let last = std::sync::Mutex::new(Instant::now());
        let out = import_csv(&store, req, bytes, &|done, total| {
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if l.elapsed().as_secs() >= 10 {
                *l = Instant::now();
                println!(
                    "  {label}: {done}/{total} ({:.0} CSV lines/s so far)",
                    done as f64 / t.elapsed().as_secs_f64()
                );
            }
        })
        .await?;
        let secs = t.elapsed().as_secs_f64();
        let r = out.record;
        println!(
            "import {label}: {lines} CSV lines → {} records ({} created, {} unchanged, {} failed) in {secs:.1}s = {:.0} CSV lines/s",
            r.rows_total,
            r.rows_created,
            r.rows_unchanged,
            r.rows_failed,
            lines as f64 / secs
        );
        total_rows += lines as i64;
    }
    let secs = all.elapsed().as_secs_f64();
    println!(
        "import total: {total_rows} CSV lines in {secs:.1}s = {:.0} rows/s end to end ({:?})",
        total_rows as f64 / secs,
        store.backend()
    );
    store.close().await;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

/// The database `bench import` loaded, and its (first) workspace.
pub(crate) async fn loaded_workspace(database_url: &str) -> Result<(Store, i64), AppError> {
    let store = Store::connect(database_url).await?;
    let ws = store
        .list_workspaces()
        .await?
        .first()
        .map(|w| w.id)
        .ok_or_else(|| AppError::internal("empty database: run `wafa bench import` first"))?;
    Ok((store, ws))
}

pub async fn query(database_url: &str, rounds: usize) -> Result<(), AppError> {
    let (store, ws) = loaded_workspace(database_url).await?;
    let region = wafa_domain::Region::default();
    let probe = store
        .list_customers(
            ws,
            region,
            &CustomerFilter {
                limit: 1,
                ..Default::default()
            },
        )
        .await?;
    let max_id = probe.first().map(|c| c.id).unwrap_or(1);
    println!("database has customers up to id {max_id}");
    let queries: Vec<String> = vec![
        "احمد".into(),
        "أحمد العتيبي".into(),
        "فاطمه".into(),
        "مني".into(),
        "نورة القحطاني".into(),
        "خالد الحربي".into(),
        "john".into(),
        "sara".into(),
        "0501234567".into(),
        "+966 50 000 1234".into(),
        "00966500001234".into(),
        "c12345@example.com".into(),
        "user1@".into(),
        "C4242".into(),
        "nobody-matches-this".into(),
    ];
    let mut search_ms = Vec::new();
    let mut per_query: Vec<Vec<f64>> = vec![Vec::new(); queries.len()];
    for _ in 0..rounds {
        for (i, q) in queries.iter().enumerate() {
            let t = Instant::now();
            let f = CustomerFilter {
                q: Some(q.clone()),
                limit: 51,
                ..Default::default()
            };
            let _ = store.list_customers(ws, region, &f).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            search_ms.push(ms);
            per_query[i].push(ms);
        }
    }
    for (q, ms) in queries.iter().zip(per_query) {
        report(&format!("  search {q:?}"), ms);
    }
    report("customer search (store, 50 per page)", search_ms);
    let mut timeline_ms = Vec::new();
    let mut x: u64 = 12345;
    for _ in 0..rounds * 20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = 1 + (x >> 33) as i64 % max_id;
        let t = Instant::now();
        let _ = store.timeline(ws, id, None, 51).await?;
        timeline_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("timeline first page (store, 50 entries)", timeline_ms);
    let mut list_ms = Vec::new();
    for _ in 0..rounds * 5 {
        let t = Instant::now();
        let _ = store
            .list_customers(
                ws,
                region,
                &CustomerFilter {
                    limit: 51,
                    before_id: Some(max_id / 2),
                    ..Default::default()
                },
            )
            .await?;
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("customer list page (store)", list_ms);
    store.close().await;
    Ok(())
}

pub mod console;
pub mod load;

use crate::http::{AppState, Config};
use load::{basic, batch_body, open_loop, Conn};

async fn fresh_sqlite(dir: &std::path::Path, name: &str) -> Result<(Store, String), AppError> {
    ensure_dir(dir)?;
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = path.display().to_string();
    Ok((Store::connect(&url).await?, url))
}

async fn bench_workspace(store: &Store) -> Result<i64, AppError> {
    let hash =
        crate::auth::hash_password("bench-password-not-secret").map_err(AppError::internal)?;
    let nw = NewWorkspace {
        name: "Bench",
        default_currency: "SAR",
        default_region: "SA",
        timezone: "Asia/Riyadh",
        language: "ar",
    };
    Ok(store
        .create_workspace_with_owner(nw, "bench@wafa.local", None, &hash)
        .await?
        .0
        .id)
}

async fn serve_in_process(store: &Store) -> Result<String, AppError> {
    let state = AppState::new(store.clone(), Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::internal(e.to_string()))?
        .to_string();
    let (router, _) = crate::http::api(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

async fn drain(store: &Store, ws: i64, source: i64, started: Instant) -> Result<f64, AppError> {
    loop {
        let s = store.source_stats(ws, source).await?;
        if s.pending == 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn latency_line(label: &str, r: &load::LoadResult) {
    let mut ms = r.latencies_ms.clone();
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: {} requests ok, {} failed in {:.1}s; latency p50={:.2}ms p99={:.2}ms max={:.2}ms",
        r.ok,
        r.failed,
        r.seconds,
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

/// Segment-style batches of `batch` events at `rate` events/s for `seconds`, on SQLite.
pub async fn events(
    dir: &std::path::Path,
    rate: f64,
    seconds: f64,
    batch: u64,
) -> Result<(), AppError> {
    let (store, _) = fresh_sqlite(dir, "events-bench.db").await?;
    let ws = bench_workspace(&store).await?;
    let src = crate::sources::add_source(
        &store,
        ws,
        "bench",
        "events",
        "Bench site",
        None,
        "http://bench",
    )
    .await?;
    let key = src.write_key.unwrap_or_default();
    let addr = serve_in_process(&store).await?;
    let requests = (rate * seconds / batch as f64).ceil() as u64;
    let auth = basic(&key);
    let started = Instant::now();
    let r = open_loop(&addr, 16, rate / batch as f64, requests, move |i| {
        (
            "/v1/batch".to_owned(),
            vec![
                ("Authorization", auth.clone()),
                ("Content-Type", "application/json".to_owned()),
            ],
            batch_body(i * batch, batch, |n| n % 20_000),
        )
    })
    .await?;
    latency_line(
        &format!("events API, batches of {batch}, offered {rate:.0} events/s"),
        &r,
    );
    println!(
        "accepted: {:.0} events/s",
        (r.ok * batch) as f64 / r.seconds
    );
    // Whether processing kept up: what is still waiting when the last request is answered.
    let backlog = store.source_stats(ws, src.source.id).await?.pending;
    let lag = Instant::now();
    let done = drain(&store, ws, src.source.id, started).await?;
    println!(
        "backlog when sending stopped: {backlog} deliveries ({} events), processed {:.2}s later",
        backlog as u64 * batch,
        lag.elapsed().as_secs_f64()
    );
    let stats = store.source_stats(ws, src.source.id).await?;
    println!("processed: {} deliveries ({} failed) = {} events in {done:.1}s = {:.0} events/s end to end", stats.processed, stats.failed, stats.processed as u64 * batch, (stats.processed as u64 * batch) as f64 / done);
    Ok(())
}

/// Single signed Shopify order webhooks at `rate` per second for `seconds`.
pub async fn webhooks(dir: &std::path::Path, rate: f64, seconds: f64) -> Result<(), AppError> {
    let (store, _) = fresh_sqlite(dir, "webhooks-bench.db").await?;
    let ws = bench_workspace(&store).await?;
    let src = crate::sources::add_source(
        &store,
        ws,
        "bench",
        "shopify",
        "Bench shop",
        Some("bench-secret"),
        "http://bench",
    )
    .await?;
    let addr = serve_in_process(&store).await?;
    let path = format!("/webhooks/{}", src.source.id);
    let total = (rate * seconds) as u64;
    let started = Instant::now();
    let r = open_loop(&addr, 16, rate, total, move |i| {
        let body = format!(
            "{{\"id\":{},\"name\":\"#{i}\",\"email\":\"c{}@example.com\",\"currency\":\"SAR\",\"total_price\":\"199.00\",\"subtotal_price\":\"199.00\",\"financial_status\":\"paid\",\"created_at\":\"2026-11-01T10:00:00+03:00\",\"updated_at\":\"2026-11-01T10:00:00+03:00\",\"customer\":{{\"id\":{},\"email\":\"c{}@example.com\",\"first_name\":\"Sara\"}},\"line_items\":[{{\"id\":{i},\"title\":\"Oud\",\"quantity\":1,\"price\":\"199.00\",\"sku\":\"OUD\"}}]}}",
            5_000_000_000_000_000u64 + i,
            i % 5000,
            7_000_000_000_000_000u64 + i % 5000,
            i % 5000
        )
        .into_bytes();
        let sig = wafa_ingest::webhooks::hmac_base64("bench-secret", &body);
        (
            path.clone(),
            vec![
                ("X-Shopify-Hmac-Sha256", sig),
                ("X-Shopify-Topic", "orders/create".to_owned()),
                ("X-Shopify-Webhook-Id", format!("bench-{i}")),
                ("Content-Type", "application/json".to_owned()),
            ],
            body,
        )
    })
    .await?;
    latency_line(&format!("webhooks, offered {rate:.0}/s"), &r);
    let done = drain(&store, ws, src.source.id, started).await?;
    let stats = store.source_stats(ws, src.source.id).await?;
    println!(
        "processed: {} orders ({} failed) in {done:.1}s",
        stats.processed, stats.failed
    );
    Ok(())
}

/// Kill the server with SIGKILL `kills` times while a client sends `events` numbered events
/// (retrying unacknowledged batches, as real clients do); then count what was kept.
pub async fn crash(dir: &std::path::Path, events: u64, kills: u32) -> Result<(), AppError> {
    let (store, url) = fresh_sqlite(dir, "crash-bench.db").await?;
    let ws = bench_workspace(&store).await?;
    let src = crate::sources::add_source(
        &store,
        ws,
        "bench",
        "events",
        "Crash site",
        None,
        "http://bench",
    )
    .await?;
    let key = src.write_key.unwrap_or_default();
    store.close().await;
    let exe = std::env::current_exe().map_err(|e| AppError::internal(e.to_string()))?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| AppError::internal(e.to_string()))?;
        l.local_addr()
            .map_err(|e| AppError::internal(e.to_string()))?
            .port()
    };
    let addr = format!("127.0.0.1:{port}");
    let spawn = || {
        tokio::process::Command::new(&exe)
            .args([
                "serve",
                "--bind",
                &addr,
                "--database-url",
                &url,
                "--predict-every-minutes",
                "0",
            ])
            .env("WAFA_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AppError::internal(e.to_string()))
    };
    let mut child = spawn()?;
    let batch = 100u64;
    let batches = events.div_ceil(batch);
    let auth = basic(&key);
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let retries = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sender = {
        let (addr, acked, retries) = (addr.clone(), acked.clone(), retries.clone());
        tokio::spawn(async move {
            let mut conn: Option<Conn> = None;
            for b in 0..batches {
                let body = batch_body(b * batch, batch.min(events - b * batch), |n| n % 1000);
                loop {
                    if conn.is_none() {
                        conn = Conn::open(&addr).await.ok();
                    }
                    let res = match conn.as_mut() {
                        Some(c) => {
                            c.post(
                                "/v1/batch",
                                &[
                                    ("Authorization", auth.clone()),
                                    ("Content-Type", "application/json".to_owned()),
                                ],
                                &body,
                            )
                            .await
                        }
                        None => Err(std::io::Error::other("no connection")),
                    };
                    match res {
                        Ok(200) => {
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            break;
                        }
                        _ => {
                            conn = None;
                            retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        })
    };
    let started = Instant::now();
    let mut killed = 0;
    while killed < kills && !sender.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let _ = child.start_kill();
        let _ = child.wait().await;
        killed += 1;
        child = spawn()?;
    }
    sender
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let send_secs = started.elapsed().as_secs_f64();
    let store = Store::connect(&url).await?;
    drain(&store, ws, src.source.id, Instant::now()).await?;
    let (present, distinct, timeline) = store.crash_counts(ws).await?;
    let _ = child.start_kill();
    println!(
        "crash test: {events} events in {batches} batches sent over {send_secs:.1}s with {killed} kill -9 restarts; {} batch sends retried after a kill; acknowledged batches {}",
        retries.load(std::sync::atomic::Ordering::SeqCst),
        acked.load(std::sync::atomic::Ordering::SeqCst)
    );
    println!(
        "kept events: {present} (distinct message ids {distinct}); lost acknowledged events: {}; duplicates: {} (timeline entries {timeline})",
        events.saturating_sub(distinct as u64),
        (present - distinct) + (timeline - distinct).max(0)
    );
    Ok(())
}
