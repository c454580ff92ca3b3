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
        let out = import_csv(&store, req, &bytes, &|done, total| {
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if l.elapsed().as_secs() >= 10 {
                *l = Instant::now();
                println!(
                    "  {label}: {done}/{total} ({:.0} rows/s so far)",
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

pub async fn query(database_url: &str, rounds: usize) -> Result<(), AppError> {
    let store = Store::connect(database_url).await?;
    let ws = store
        .list_workspaces()
        .await?
        .first()
        .map(|w| w.id)
        .ok_or_else(|| AppError::internal("empty database: run `wafa bench import` first"))?;
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
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            let f = CustomerFilter {
                q: Some(q.clone()),
                limit: 51,
                ..Default::default()
            };
            let _ = store.list_customers(ws, region, &f).await?;
            search_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
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
