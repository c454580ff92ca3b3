//! First run: the first workspace and its owner, and the demo store.
//!
//! Why the owner's password is printed once: a self-hosted server has no email set up on
//! first run, so the operator must be able to sign in from what the terminal shows. It is
//! taken from `WAFA_ADMIN_EMAIL`/`WAFA_ADMIN_PASSWORD` when set, else generated.

use crate::error::AppError;
use crate::store::{CustomerImportRow, ImportBatch, NewWorkspace, OrderImportRow, Store};
use crate::validate;
use wafa_ingest::demo::DemoStore;

pub struct Owner {
    pub email: String,
    pub password: String,
    pub generated: bool,
}

pub fn owner_from_env() -> Option<Owner> {
    let email = std::env::var("WAFA_ADMIN_EMAIL")
        .ok()
        .filter(|s| !s.trim().is_empty())?;
    let (password, generated) = match std::env::var("WAFA_ADMIN_PASSWORD")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(p) => (p, false),
        None => (crate::auth::new_password(), true),
    };
    Some(Owner {
        email,
        password,
        generated,
    })
}

pub async fn first_workspace(store: &Store, owner: &Owner, name: &str) -> Result<i64, AppError> {
    let email = wafa_domain::Email::parse(&owner.email)?;
    let hash = crate::auth::hash_password(&owner.password).map_err(AppError::internal)?;
    let ws = NewWorkspace {
        name,
        default_currency: "SAR",
        default_region: "SA",
        timezone: "Asia/Riyadh",
        language: "ar",
    };
    let (workspace, _) = store
        .create_workspace_with_owner(ws, email.as_str(), Some("Owner"), &hash)
        .await?;
    println!(
        "Created workspace {} ({name}). Sign in as {}",
        workspace.id,
        email.as_str()
    );
    if owner.generated {
        println!("  password (shown once): {}", owner.password);
    }
    Ok(workspace.id)
}

/// Create the demo workspace and owner and load the demo store into it.
pub async fn demo_workspace(store: &Store) -> Result<i64, AppError> {
    let owner = owner_from_env().unwrap_or_else(|| Owner {
        email: "owner@demo.wafa.local".into(),
        password: crate::auth::new_password(),
        generated: true,
    });
    let ws = first_workspace(store, &owner, "متجر وفاء التجريبي — Wafa Demo Store").await?;
    let started = std::time::Instant::now();
    let demo = wafa_ingest::demo::generate(&wafa_ingest::demo::DemoConfig::new(
        2026,
        crate::store::now_ms(),
    ));
    let counts = load_demo(store, ws, &demo).await?;
    println!(
        "Loaded the demo store in {:.1}s: {counts}",
        started.elapsed().as_secs_f64()
    );
    Ok(ws)
}

/// Write a generated demo store into a workspace through the same paths imports use.
pub async fn load_demo(store: &Store, ws: i64, demo: &DemoStore) -> Result<String, AppError> {
    let actor = "system:demo";
    let region = wafa_domain::Region::default();
    let now = crate::store::now_ms();
    // The merchant sells through a Salla store and a Shopify site: one profile per customer
    // across both, with each order keyed to the store it came from.
    let salla = store
        .find_or_create_source(ws, actor, "salla", "متجر سلة — Salla store")
        .await?;
    let shopify = store
        .find_or_create_source(ws, actor, "shopify", "Shopify site")
        .await?;
    let mut product_ids = Vec::with_capacity(demo.products.len());
    for p in &demo.products {
        let (_, valid) = validate::product(p)?;
        product_ids.push(store.upsert_product(ws, actor, &valid).await?.0);
    }
    let mut customer_ids = Vec::with_capacity(demo.customers.len());
    for chunk in demo.customers.chunks(crate::import::BATCH) {
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, c) in chunk.iter().enumerate() {
            let customer = validate::customer(&c.input, region, now)
                .map_err(|e| e.at(&format!("demo customer {}", customer_ids.len() + i)))?;
            let company = c.company.map(|k| demo.companies[k].name.clone());
            rows.push(CustomerImportRow {
                line: 0,
                customer,
                company,
                note: c.notes.first().cloned(),
            });
        }
        for out in store
            .import_batch(ws, actor, ImportBatch::Customers(rows))
            .await?
        {
            let (_, id) = out.map_err(|f| f.error)?;
            customer_ids.push(id);
        }
    }
    for (c, id) in demo.customers.iter().zip(&customer_ids) {
        for note in c.notes.iter().skip(1) {
            store.add_note(ws, actor, None, *id, note).await?;
        }
    }
    let mut n_orders = 0;
    for (k, chunk) in demo.orders.chunks(crate::import::BATCH).enumerate() {
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, o) in chunk.iter().enumerate() {
            let n = k * crate::import::BATCH + i;
            let mut input = o.input.clone();
            input.customer_id = customer_ids[o.customer];
            input.source_id = Some(if o.customer % 3 == 0 { shopify } else { salla });
            input.external_id = Some(format!("demo-{}", n + 1));
            for (line, p) in input.lines.iter_mut().zip(&o.line_products) {
                line.product_id = product_ids.get(*p).copied();
            }
            let mut order = validate::order(&input, now)?;
            order.refunded_minor = o.refunded_minor;
            order.return_reason = o.history.iter().find_map(|(_, _, r)| r.clone());
            rows.push(OrderImportRow {
                line: 0,
                customer: Default::default(),
                customer_id: Some(input.customer_id),
                order,
                history: Some(o.history.clone()),
            });
        }
        for out in store
            .import_batch(ws, actor, ImportBatch::Orders(rows))
            .await?
        {
            out.map_err(|f| f.error)?;
            n_orders += 1;
        }
    }
    for c in &demo.carts {
        let mut input = c.input.clone();
        input.customer_id = c.customer.map(|k| customer_ids[k]);
        input.source_id = Some(salla);
        for (line, p) in input.lines.iter_mut().zip(&c.line_products) {
            line.product_id = product_ids.get(*p).copied();
        }
        let currency = wafa_domain::Currency::parse(&input.currency)?;
        let lines = validate::order_lines(&input.lines)?;
        let at = validate::timestamp("updated_at", input.updated_at.as_deref())?.unwrap_or(now);
        store
            .upsert_cart(ws, actor, &input, currency, &lines, at)
            .await?;
    }
    Ok(format!(
        "{} customers, {} companies, {} products, {n_orders} orders, {} carts",
        customer_ids.len(),
        demo.companies.len(),
        product_ids.len(),
        demo.carts.len()
    ))
}
