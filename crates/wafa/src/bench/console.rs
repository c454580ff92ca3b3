//! `wafa bench console`: server-side render time of the console's pages on a large database
//! (e.g. the 1,000,000 customers `wafa bench import` loads). Requests go through the real
//! router in-process (`tower::ServiceExt::oneshot`) with a real session cookie, so the time
//! is the server's: routing, session lookup, queries, template rendering — no network.

use super::report;
use crate::error::AppError;
use crate::http::{AppState, Config};
use axum::body::Body;
use axum::http::Request;
use std::time::Instant;
use tower::ServiceExt;

pub async fn console(database_url: &str, rounds: usize) -> Result<(), AppError> {
    let (store, ws) = super::loaded_workspace(database_url).await?;
    let customers = store.customer_totals(ws).await?;
    println!("workspace {ws}: {customers} customers");
    if store.insights(ws).await?.is_empty() {
        let t = Instant::now();
        let s = crate::predict::recompute(&store, ws).await?;
        println!(
            "computed predictions and insights for {} customers in {:.1}s",
            s.customers,
            t.elapsed().as_secs_f64()
        );
    }
    let owner = store
        .list_members(ws, None, 1)
        .await?
        .first()
        .map(|m| m.user_id)
        .ok_or_else(|| AppError::internal("the workspace has no staff user"))?;
    let token = crate::auth::new_token(crate::http::extract::SESSION_PREFIX);
    store
        .create_session(&crate::auth::token_hash(&token), owner, ws, 3_600_000)
        .await?;
    let cookie = format!("{}={token}", crate::http::extract::SESSION_COOKIE);
    let (router, _) = crate::http::api(AppState::new(
        store.clone(),
        Config {
            ..Default::default()
        },
    ));
    let max_id = customers.max(1);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = move |n: i64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        1 + (x >> 33) as i64 % n.max(1)
    };
    let fixed = [
        "/",
        "/?period=365d",
        "/customers",
        "/customers?q=%D8%A7%D8%AD%D9%85%D8%AF",
        "/customers?q=%D9%86%D9%88%D8%B1%D8%A9%20%D8%A7%D9%84%D9%82%D8%AD%D8%B7%D8%A7%D9%86%D9%8A",
        "/customers?q=0501234567",
        "/customers?segment=champions",
        "/customers?churn=high&sort=clv",
        "/customers?sort=last_order",
        "/customers?page=20",
        "/orders",
        "/orders?status=refunded",
        "/analytics",
        "/sources",
        "/imports",
        "/settings",
    ];
    let mut all = Vec::new();
    let mut run = |label: String, ms: Vec<f64>| {
        all.extend_from_slice(&ms);
        report(&label, ms);
    };
    // One warm-up pass (first queries load pages into the OS cache).
    for path in fixed {
        get(&router, path, &cookie).await?;
    }
    for path in fixed {
        let mut ms = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            get(&router, path, &cookie).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        run(format!("  GET {path}"), ms);
    }
    for (label, n) in [("customers/{id}", max_id), ("orders/{id}", max_id * 5)] {
        let mut ms = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let id = next(n);
            let path = format!("/{}", label.replace("{id}", &id.to_string()));
            let t = Instant::now();
            get(&router, &path, &cookie).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        run(format!("  GET /{label} (random ids)"), ms);
    }
    report("all console pages", all);
    store.close().await;
    Ok(())
}

async fn get(router: &axum::Router, path: &str, cookie: &str) -> Result<(), AppError> {
    let req = Request::get(path)
        .header("cookie", cookie)
        .header("accept-language", "ar")
        .body(Body::empty())
        .map_err(|e| AppError::internal(e.to_string()))?;
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    // A missing random id is a normal 404 page; anything else is a failure of the bench.
    if !(status.is_success() || status == 404) {
        return Err(AppError::internal(format!(
            "{path}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )));
    }
    Ok(())
}
