//! Reads and writes that only the web console needs: the dashboard's sums, the customer list
//! with its filters and sorts, per-user language, password-reset links, and the analytics
//! insights stored with the predictions.
//!
//! The dashboard never scans the orders table: it reads per-day sums from a covering index
//! (`orders_ws_dashboard`), and the revenue rule itself stays in `wafa_domain::order`, applied
//! to the grouped rows in Rust so the screen and the analytics count the same orders.

use super::customers::push_tag_city;
use super::sql::Sql;
use super::{now_ms, Store};
use crate::error::{AppError, AppResult};
use sqlx::Row;
use std::collections::HashMap;
use wafa_domain::order::counts_as_revenue;
use wafa_domain::{ErrorCode, OrderStatus, PaymentMethod};
use wafa_model::Customer;

/// Orders of one currency grouped by day bucket, status and payment method.
#[derive(Debug, Clone, Default)]
pub struct DashboardBuckets {
    /// (bucket index, status, payment method, orders, total, refunded)
    pub rows: Vec<(i64, String, String, i64, i64, i64)>,
}

impl DashboardBuckets {
    /// Whether the grouped row's money counts as revenue (the domain's rule).
    pub fn is_revenue(status: &str, method: &str) -> bool {
        let s = OrderStatus::parse(status).unwrap_or(OrderStatus::Placed);
        counts_as_revenue(s, PaymentMethod::parse_loose(method), &[])
    }
}

/// How the customer list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerSort {
    #[default]
    Newest,
    Oldest,
    LastOrder,
    Orders,
    Clv,
    Name,
}

impl CustomerSort {
    pub fn parse(s: &str) -> Option<CustomerSort> {
        Some(match s {
            "newest" => CustomerSort::Newest,
            "oldest" => CustomerSort::Oldest,
            "last_order" => CustomerSort::LastOrder,
            "orders" => CustomerSort::Orders,
            "clv" => CustomerSort::Clv,
            "name" => CustomerSort::Name,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerSort::Newest => "newest",
            CustomerSort::Oldest => "oldest",
            CustomerSort::LastOrder => "last_order",
            CustomerSort::Orders => "orders",
            CustomerSort::Clv => "clv",
            CustomerSort::Name => "name",
        }
    }
}

/// The console's customer list: the API's filters plus predictions, money and dates.
#[derive(Debug, Clone, Default)]
pub struct ConsoleCustomerQuery {
    pub q: Option<String>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub source_id: Option<i64>,
    pub segment: Option<String>,
    /// P(alive) range in parts per million, [from, to).
    pub p_alive_ppm: Option<(i64, i64)>,
    /// Net revenue at least this much in `spent_currency` (minor units).
    pub min_spent_minor: Option<i64>,
    pub spent_currency: String,
    /// Last order at or after / before (UTC ms).
    pub last_order_from: Option<i64>,
    pub last_order_to: Option<i64>,
    pub sort: CustomerSort,
    pub offset: i64,
    pub limit: i64,
}

impl ConsoleCustomerQuery {
    fn only_text(&self) -> bool {
        self.tag.is_none()
            && self.city.is_none()
            && self.source_id.is_none()
            && self.segment.is_none()
            && self.p_alive_ppm.is_none()
            && self.min_spent_minor.is_none()
            && self.last_order_from.is_none()
            && self.last_order_to.is_none()
            && self.sort == CustomerSort::Newest
    }
}

/// A row of the customer list.
#[derive(Debug, Clone)]
pub struct ConsoleCustomer {
    pub customer: Customer,
    /// Net revenue per currency (minor units), by the domain's revenue rule.
    pub spent: Vec<(String, i64)>,
    /// Orders placed (any status) and the latest one (UTC ms).
    pub orders: i64,
    pub last_order_at: Option<i64>,
    pub p_alive_ppm: Option<i64>,
    pub segment: Option<String>,
    pub clv: Option<(String, i64)>,
}

/// A staff user as the console shows them.
#[derive(Debug, Clone)]
pub struct UserAccount {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub language: Option<String>,
}

/// SQL for "this order's money counts as revenue", built from the domain's rule so the list
/// filter cannot disagree with the dashboard.
fn revenue_condition(alias: &str) -> String {
    let mut parts = Vec::new();
    for (method, label) in [
        (PaymentMethod::CashOnDelivery, "= 'cash_on_delivery'"),
        (PaymentMethod::Card, "<> 'cash_on_delivery'"),
    ] {
        let statuses: Vec<String> = OrderStatus::ALL
            .iter()
            .filter(|s| counts_as_revenue(**s, method, &[]))
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        if !statuses.is_empty() {
            parts.push(format!(
                "({alias}.payment_method {label} AND {alias}.status IN ({}))",
                statuses.join(", ")
            ));
        }
    }
    format!("({})", parts.join(" OR "))
}

impl Store {
    /// Per-bucket sums of a currency's orders placed in `[from, to)`; bucket = (placed_at − from) / bucket_ms.
    pub async fn dashboard_buckets(
        &self,
        workspace_id: i64,
        currency: &str,
        from: i64,
        to: i64,
        bucket_ms: i64,
    ) -> AppResult<DashboardBuckets> {
        let rows = sqlx::query(
            "SELECT (placed_at - $3) / $5 AS bucket, status, payment_method, COUNT(*) AS n, \
             CAST(SUM(total_minor) AS BIGINT) AS total, CAST(SUM(refunded_minor) AS BIGINT) AS refunded \
             FROM orders WHERE workspace_id = $1 AND currency = $2 AND placed_at >= $3 AND placed_at < $4 \
             GROUP BY (placed_at - $3) / $5, status, payment_method",
        )
        .bind(workspace_id)
        .bind(currency)
        .bind(from)
        .bind(to)
        .bind(bucket_ms.max(1))
        .fetch_all(&self.read)
        .await?;
        Ok(DashboardBuckets {
            rows: rows
                .iter()
                .map(|r| {
                    (
                        r.get("bucket"),
                        r.get("status"),
                        r.get("payment_method"),
                        r.get("n"),
                        r.get::<Option<i64>, _>("total").unwrap_or(0),
                        r.get::<Option<i64>, _>("refunded").unwrap_or(0),
                    )
                })
                .collect(),
        })
    }

    /// Distinct customers with a (not cancelled) order in `currency` in `[from, to)` (read from
    /// the dashboard's covering index), and how many of them were new (their first order
    /// falls in the range: one primary-key lookup per buyer, no index on the counters).
    pub async fn buyers_between(
        &self,
        workspace_id: i64,
        currency: &str,
        from: i64,
        to: i64,
    ) -> AppResult<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS buyers, CAST(COALESCE(SUM(CASE WHEN c.first_order_at >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS new_buyers \
             FROM customers c WHERE c.id IN (SELECT DISTINCT customer_id FROM orders WHERE workspace_id = $1 AND currency = $4 \
             AND placed_at >= $2 AND placed_at < $3 AND status <> 'cancelled')",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .bind(currency)
        .fetch_one(&self.read)
        .await?;
        Ok((r.get("buyers"), r.get("new_buyers")))
    }

    /// Live (not merged) customer profiles, and how many were created before `at`.
    pub async fn customer_totals(&self, workspace_id: i64) -> AppResult<i64> {
        // All profiles (an index-only count) minus the merged ones (a small partial index).
        let all: i64 = sqlx::query("SELECT COUNT(*) AS n FROM customers WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&self.read)
            .await?
            .get("n");
        let merged: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM customers WHERE workspace_id = $1 AND merged_into IS NOT NULL",
        )
        .bind(workspace_id)
        .fetch_one(&self.read)
        .await?
        .get("n");
        Ok(all - merged)
    }

    /// Currencies the workspace has fitted models for (a cheap proxy for "currencies its
    /// orders use": the table has one row per currency).
    pub async fn model_currencies(&self, workspace_id: i64) -> AppResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT currency FROM workspace_models WHERE workspace_id = $1 ORDER BY customers DESC, currency",
        )
        .bind(workspace_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(|r| r.get("currency")).collect())
    }

    /// The console's customer list: filters, sorts and offset paging, with each row's
    /// prediction and net spend.
    pub async fn console_customers(
        &self,
        workspace_id: i64,
        region: wafa_domain::Region,
        f: &ConsoleCustomerQuery,
    ) -> AppResult<Vec<ConsoleCustomer>> {
        let customers = if f.only_text() && f.offset == 0 {
            // The API's search path (fast name/phone/email search, newest first).
            self.list_customers(
                workspace_id,
                region,
                &super::CustomerFilter {
                    q: f.q.clone(),
                    limit: f.limit,
                    ..Default::default()
                },
            )
            .await?
        } else {
            let ids = self.console_customer_ids(workspace_id, region, f).await?;
            let mut found = self.customers_by_ids(workspace_id, &ids).await?;
            let rank: HashMap<i64, usize> =
                ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            found.sort_by_key(|c| rank.get(&c.id).copied().unwrap_or(usize::MAX));
            found
        };
        self.decorate_customers(workspace_id, customers).await
    }

    async fn console_customer_ids(
        &self,
        workspace_id: i64,
        region: wafa_domain::Region,
        f: &ConsoleCustomerQuery,
    ) -> AppResult<Vec<i64>> {
        let mut q = Sql::new("SELECT c.id FROM customers c");
        let needs_prediction =
            f.segment.is_some() || f.p_alive_ppm.is_some() || f.sort == CustomerSort::Clv;
        if needs_prediction {
            // Sorted by CLV, the CLV index drives. Otherwise customers drive, in the sort's
            // order, and each one's prediction is looked up by key until a page is full:
            // SQLite's CROSS JOIN keeps that join order (a segment holds ~10% of customers,
            // so a page reads a few hundred rows instead of sorting a whole segment).
            // (The join condition goes in WHERE: PostgreSQL's CROSS JOIN takes no ON.)
            q.push(if f.sort == CustomerSort::Clv {
                " JOIN customer_predictions p ON p.customer_id = c.id"
            } else {
                " CROSS JOIN customer_predictions p"
            });
        }
        q.push(" WHERE c.workspace_id = ")
            .int(workspace_id)
            .push(" AND c.merged_into IS NULL");
        if needs_prediction {
            q.push(" AND p.customer_id = c.id AND p.workspace_id = ")
                .int(workspace_id);
        }
        push_tag_city(&mut q, workspace_id, f.tag.as_deref(), f.city.as_deref());
        if let Some(source) = f.source_id {
            q.push(" AND c.id IN (SELECT customer_id FROM identities WHERE workspace_id = ")
                .int(workspace_id)
                .push(" AND kind = 'external' AND source_id = ")
                .int(source)
                .push(")");
        }
        if let Some(seg) = &f.segment {
            q.push(" AND p.rfm_segment = ").text(seg.clone());
        }
        if let Some((lo, hi)) = f.p_alive_ppm {
            // Sorted by CLV, walk the CLV index and filter (a third of customers match a
            // churn band); `+ 0` keeps the planner off the P(alive) index, which would
            // collect the whole band and sort it (2 s at a million customers, measured).
            let col = if f.sort == CustomerSort::Clv {
                "p.p_alive_ppm + 0"
            } else {
                "p.p_alive_ppm"
            };
            q.push(&format!(" AND {col} >= "))
                .int(lo)
                .push(&format!(" AND {col} < "))
                .int(hi);
        }
        if f.sort == CustomerSort::LastOrder {
            // "Most recent order" lists customers who ordered, newest first, straight from
            // the (workspace, last order) index.
            q.push(" AND c.last_order_at IS NOT NULL");
        }
        if let Some(from) = f.last_order_from {
            q.push(" AND c.last_order_at >= ").int(from);
        }
        if let Some(to) = f.last_order_to {
            q.push(" AND c.last_order_at < ").int(to);
        }
        if let Some(min) = f.min_spent_minor {
            q.push(" AND (SELECT COALESCE(CAST(SUM(o.total_minor - o.refunded_minor) AS BIGINT), 0) FROM orders o WHERE o.customer_id = c.id AND o.currency = ")
            .text(f.spent_currency.clone())
            .push(&format!(" AND {}) >= ", revenue_condition("o")))
            .int(min);
        }
        if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            super::customers::push_search(&mut q, workspace_id, region, text);
        }
        q.push(match f.sort {
            CustomerSort::Newest => " ORDER BY c.id DESC",
            CustomerSort::Oldest => " ORDER BY c.id ASC",
            CustomerSort::LastOrder => " ORDER BY c.last_order_at DESC, c.id DESC",
            CustomerSort::Orders => " ORDER BY c.orders_count DESC, c.id DESC",
            // No tie-break column: it would stop the planner walking the CLV index.
            CustomerSort::Clv => " ORDER BY p.clv_minor DESC",
            CustomerSort::Name => {
                " ORDER BY CASE WHEN c.first_name IS NULL THEN 1 ELSE 0 END, c.first_name, c.last_name, c.id"
            }
        });
        q.push(" LIMIT ")
            .int(f.limit)
            .push(" OFFSET ")
            .int(f.offset);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// Attach predictions and net spend to listed customers (two indexed lookups).
    async fn decorate_customers(
        &self,
        workspace_id: i64,
        customers: Vec<Customer>,
    ) -> AppResult<Vec<ConsoleCustomer>> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = customers.iter().map(|c| c.id).collect();
        // `workspace_id + 0`: still checked, but not an index the planner could prefer to the
        // per-customer keys (the workspace's covering indexes would scan a million rows).
        let mut q = Sql::new("SELECT customer_id, p_alive_ppm, rfm_segment, currency, clv_minor FROM customer_predictions WHERE workspace_id + 0 = ");
        q.int(workspace_id).push(" AND customer_id IN ");
        q.list(ids.iter().copied());
        let mut preds: HashMap<i64, (i64, String, String, i64)> = HashMap::new();
        for r in q.query().fetch_all(&self.read).await? {
            preds.insert(
                r.get("customer_id"),
                (
                    r.get("p_alive_ppm"),
                    r.get("rfm_segment"),
                    r.get("currency"),
                    r.get("clv_minor"),
                ),
            );
        }
        let mut q = Sql::new("SELECT customer_id, currency, status, payment_method, total_minor, refunded_minor, placed_at FROM orders WHERE workspace_id + 0 = ");
        q.int(workspace_id).push(" AND customer_id IN ");
        q.list(ids.iter().copied());
        let mut spent: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
        let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
        for r in q.query().fetch_all(&self.read).await? {
            let placed: i64 = r.get("placed_at");
            let e = counts.entry(r.get("customer_id")).or_insert((0, placed));
            e.0 += 1;
            e.1 = e.1.max(placed);
            super::customers::add_net_revenue(spent.entry(r.get("customer_id")).or_default(), &r);
        }
        Ok(customers
            .into_iter()
            .map(|c| {
                let p = preds.remove(&c.id);
                let mut s = spent.remove(&c.id).unwrap_or_default();
                s.sort_by_key(|x| std::cmp::Reverse(x.1));
                let (orders, last) = counts.get(&c.id).copied().unwrap_or((0, 0));
                ConsoleCustomer {
                    spent: s,
                    orders,
                    last_order_at: (orders > 0).then_some(last),
                    p_alive_ppm: p.as_ref().map(|p| p.0),
                    segment: p.as_ref().map(|p| p.1.clone()),
                    clv: p.map(|p| (p.2, p.3)),
                    customer: c,
                }
            })
            .collect())
    }

    /// Distinct tags and cities of the workspace, for the list's filter choices (capped).
    pub async fn customer_facets(
        &self,
        workspace_id: i64,
    ) -> AppResult<(Vec<String>, Vec<String>)> {
        // Distinct tags by seeking from one to the next in the primary key: `SELECT DISTINCT`
        // would read every (tag, customer) pair — 0.8 s at a million tagged customers.
        let mut tags: Vec<String> = Vec::new();
        let mut conn = self.read.acquire().await?;
        loop {
            let r = match tags.last() {
                None => sqlx::query("SELECT tag FROM customer_tags WHERE workspace_id = $1 ORDER BY tag LIMIT 1")
                    .bind(workspace_id)
                    .fetch_optional(&mut *conn)
                    .await?,
                Some(last) => sqlx::query("SELECT tag FROM customer_tags WHERE workspace_id = $1 AND tag > $2 ORDER BY tag LIMIT 1")
                    .bind(workspace_id)
                    .bind(last)
                    .fetch_optional(&mut *conn)
                    .await?,
            };
            match r {
                Some(r) if tags.len() < 200 => tags.push(r.get("tag")),
                _ => break,
            }
        }
        drop(conn);
        let cities = sqlx::query(
            // The cities of the newest 5,000 customers: DISTINCT over all of them reads
            // every row (0.9 s at a million), and a filter list needs the common ones.
            "SELECT DISTINCT city FROM (SELECT city FROM customers WHERE workspace_id = $1 AND city IS NOT NULL ORDER BY id DESC LIMIT 5000) AS d ORDER BY city LIMIT 200",
        )
        .bind(workspace_id)
        .fetch_all(&self.read)
        .await?;
        Ok((tags, cities.iter().map(|r| r.get("city")).collect()))
    }

    pub async fn user_account(&self, user_id: i64) -> AppResult<UserAccount> {
        let r = sqlx::query("SELECT id, email, name, language FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        Ok(UserAccount {
            id: r.get("id"),
            email: r.get("email"),
            name: r.get("name"),
            language: r.get("language"),
        })
    }

    pub async fn set_user_language(&self, user_id: i64, language: Option<&str>) -> AppResult<()> {
        sqlx::query("UPDATE users SET language = $2 WHERE id = $1")
            .bind(user_id)
            .bind(language)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Record a password-reset link (only its hash is kept). Returns false when the user
    /// asked for too many links recently (the caller answers the same either way).
    pub async fn create_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        ttl_ms: i64,
    ) -> AppResult<bool> {
        let now = now_ms();
        let recent: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM password_resets WHERE user_id = $1 AND created_at > $2",
        )
        .bind(user_id)
        .bind(now - 3_600_000)
        .fetch_one(&self.read)
        .await?
        .get("n");
        if recent >= 5 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(now + ttl_ms)
            .execute(&self.write)
            .await?;
        Ok(true)
    }

    /// The user a reset link belongs to, if it is unused and unexpired.
    pub async fn password_reset_user(&self, token_hash: &str) -> AppResult<Option<i64>> {
        let r = sqlx::query(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.read)
        .await?;
        Ok(r.map(|r| r.get("user_id")))
    }

    /// Use a reset link: set the password, mark every open link of the user used, and end
    /// the user's sessions — in one transaction, so a link works once.
    pub async fn reset_password(&self, token_hash: &str, password_hash: &str) -> AppResult<i64> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "reset link expired or used"))?;
        let user_id: i64 = r.get("user_id");
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ws: Vec<i64> = sqlx::query("SELECT workspace_id FROM memberships WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get("workspace_id"))
            .collect();
        for w in ws {
            super::audit(
                &mut tx,
                w,
                &format!("user:{user_id}"),
                "user.password_reset",
                "user",
                Some(user_id),
                serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(user_id)
    }

    pub async fn user_id_by_email(&self, email: &str) -> AppResult<Option<i64>> {
        Ok(sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.read)
            .await?
            .map(|r| r.get("id")))
    }

    /// The analytics screen's stored insights, per currency.
    pub async fn insights(
        &self,
        workspace_id: i64,
    ) -> AppResult<Vec<(String, i64, serde_json::Value)>> {
        let rows = sqlx::query("SELECT currency, computed_at, body FROM workspace_insights WHERE workspace_id = $1 ORDER BY currency")
            .bind(workspace_id)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get("currency"),
                    r.get("computed_at"),
                    serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default(),
                )
            })
            .collect())
    }

    /// Replace the workspace's stored insights (one transaction).
    pub async fn replace_insights(
        &self,
        workspace_id: i64,
        insights: Vec<(String, serde_json::Value)>,
    ) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM workspace_insights WHERE workspace_id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        for (currency, body) in insights {
            sqlx::query("INSERT INTO workspace_insights (workspace_id, currency, computed_at, body) VALUES ($1, $2, $3, $4)")
                .bind(workspace_id)
                .bind(currency)
                .bind(now)
                .bind(body.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
