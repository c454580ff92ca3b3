//! The console's pages. Each handler: [`Console`] (signed in, language, CSRF) → permission
//! check → store (or the API handler that already validates the same operation) → template.
//! Writes are POST forms answered with a redirect (post/redirect/get), so a reload never
//! repeats them.

use super::charts::{self, LineChart, Series};
use super::i18n::{self, Lang};
use super::render;
use super::session::{urlencode, Console};
use crate::error::{AppError, AppResult};
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::http::AppState;
use crate::store::{ConsoleCustomerQuery, CustomerSort, DashboardBuckets, OrderFilter};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use minijinja::context;
use minijinja::value::Value;
use serde::Deserialize;
use std::collections::HashMap;
use wafa_domain::{OrderStatus, Permission};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/customers", get(customers))
        .route("/customers.csv", get(customers_csv))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/notes", post(add_note))
        .route("/customers/{id}/merge", get(merge_page).post(merge_submit))
        .route("/merges/{id}/undo", post(undo_merge))
        .route("/orders", get(orders))
        .route("/orders/{id}", get(order))
        .route("/analytics", get(analytics))
        .route("/analytics/recompute", post(recompute))
        .route("/sources", get(sources).post(connect_source))
        .route("/sources/{id}", get(source))
        .route("/deliveries/{id}/replay", post(replay))
        .route("/imports", get(imports).post(start_import))
        .route("/imports/jobs/{n}", get(import_job))
        .route("/imports/{id}", get(import_record))
        .route("/imports/{id}/errors.csv", get(import_errors_csv))
        .route("/settings", get(settings))
        .route("/settings/workspace", post(save_workspace))
        .route("/settings/members", post(add_member))
        .route("/settings/members/{id}/role", post(member_role))
        .route("/settings/members/{id}/remove", post(remove_member))
        .route("/settings/keys", post(create_key))
        .route("/settings/keys/{id}/revoke", post(revoke_key))
}

/// Merge the page's own values into the shared layout context.
fn page(c: &Console, v: Value) -> Value {
    context! { ..v, ..c.base() }
}

/// The refusal page when the signed-in role lacks `p`.
fn refuse(c: &Console, p: Permission) -> Option<Response> {
    if c.can(p) {
        None
    } else {
        Some(c.fail(AppError::forbidden(format!(
            "needs permission {}",
            p.as_str()
        ))))
    }
}

macro_rules! tri {
    ($c:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $c.fail(e.into()),
        }
    };
}

/// Any serialisable record as a template value.
fn ser<T: serde::Serialize>(t: T) -> Value {
    Value::from(minijinja::value::Serde(t))
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------
// Dashboard

#[derive(Deserialize, Default)]
pub struct DashboardQuery {
    period: Option<String>,
    currency: Option<String>,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    revenue: i64,
    orders: i64,
    revenue_orders: i64,
    cod_revenue: i64,
    prepaid_revenue: i64,
    cod_orders: i64,
    refunded: i64,
}

fn totals(b: &DashboardBuckets) -> (Totals, HashMap<i64, i64>) {
    let mut t = Totals::default();
    let mut per_bucket: HashMap<i64, i64> = HashMap::new();
    for (bucket, status, method, n, total, refunded) in &b.rows {
        if status != "cancelled" {
            t.orders += n;
        }
        t.refunded += refunded;
        let is_cod = method == "cash_on_delivery";
        if is_cod && status != "cancelled" {
            t.cod_orders += n;
        }
        if DashboardBuckets::is_revenue(status, method) {
            let net = (total - refunded).max(0);
            t.revenue += net;
            t.revenue_orders += n;
            if is_cod {
                t.cod_revenue += net;
            } else {
                t.prepaid_revenue += net;
            }
            *per_bucket.entry(*bucket).or_default() += net;
        }
    }
    (t, per_bucket)
}

/// Local midnight after "now" in the workspace's zone, as UTC ms.
fn end_of_today(tz: &str) -> i64 {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now().to_zoned(zone);
    now.date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(now.time_zone().clone()).ok())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond())
}

fn change(now: f64, before: f64) -> Value {
    if before == 0.0 {
        return Value::from(());
    }
    Value::from((now - before) / before)
}

pub async fn dashboard(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<DashboardQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::OrdersRead) {
        return r;
    }
    let days: i64 = match q.period.as_deref() {
        Some("7d") => 7,
        Some("90d") => 90,
        Some("365d") => 365,
        _ => 30,
    };
    let mut currencies = tri!(c, st.store.model_currencies(c.p.workspace_id).await);
    if !currencies.contains(&c.workspace.default_currency) {
        currencies.insert(0, c.workspace.default_currency.clone());
    }
    let currency = q
        .currency
        .filter(|x| currencies.contains(x))
        .unwrap_or_else(|| c.workspace.default_currency.clone());
    let day = 86_400_000i64;
    let end = end_of_today(&c.workspace.timezone);
    let start = end - days * day;
    let prev_start = start - days * day;
    let bucket = if days > 90 { 7 * day } else { day };
    let ws = c.p.workspace_id;
    let (cur, prev, buyers, prev_buyers, customers_total) = tri!(
        c,
        tokio::try_join!(
            st.store
                .dashboard_buckets(ws, &currency, start, end, bucket),
            st.store
                .dashboard_buckets(ws, &currency, prev_start, start, bucket),
            st.store.buyers_between(ws, &currency, start, end),
            st.store.buyers_between(ws, &currency, prev_start, start),
            st.store.customer_totals(ws),
        )
    );
    let (t, per_bucket) = totals(&cur);
    let (pt, prev_bucket) = totals(&prev);
    let nb = (days * day + bucket - 1) / bucket;
    let series_now: Vec<(f64, f64)> = (0..nb)
        .map(|i| (i as f64, *per_bucket.get(&i).unwrap_or(&0) as f64))
        .collect();
    let series_prev: Vec<(f64, f64)> = (0..nb)
        .map(|i| (i as f64, *prev_bucket.get(&i).unwrap_or(&0) as f64))
        .collect();
    let lang = c.lang;
    let tz = c.workspace.timezone.clone();
    let ticks: Vec<(f64, String)> = (0..nb)
        .step_by(((nb as usize) / 6).max(1))
        .map(|i| (i as f64, short_date(start + i * bucket, &tz, lang)))
        .collect();
    let scale = wafa_domain::Currency::parse(&currency)
        .map(|c| 10f64.powi(c.decimals() as i32))
        .unwrap_or(100.0);
    let to_major: Vec<(f64, f64)> = series_now.iter().map(|(x, y)| (*x, y / scale)).collect();
    let prev_major: Vec<(f64, f64)> = series_prev.iter().map(|(x, y)| (*x, y / scale)).collect();
    let chart = LineChart {
        title: i18n::t(lang, "dashboard.revenue_chart"),
        series: vec![
            Series {
                name: i18n::t(lang, "dashboard.this_period"),
                points: &to_major,
                class: "s1",
                dashed: false,
            },
            Series {
                name: i18n::t(lang, "dashboard.previous_period"),
                points: &prev_major,
                class: "s2",
                dashed: true,
            },
        ],
        x_ticks: ticks,
        x_range: (0.0, (nb - 1).max(1) as f64),
        marker: None,
        lang,
        y_format: charts::compact_axis,
    }
    .render();
    let (buyers_now, new_now) = buyers;
    let (buyers_prev, new_prev) = prev_buyers;
    let returning = (buyers_now - new_now).max(0);
    let returning_prev = (buyers_prev - new_prev).max(0);
    let aov = if t.revenue_orders > 0 {
        t.revenue / t.revenue_orders
    } else {
        0
    };
    let aov_prev = if pt.revenue_orders > 0 {
        pt.revenue / pt.revenue_orders
    } else {
        0
    };
    let repeat = if buyers_now > 0 {
        returning as f64 / buyers_now as f64
    } else {
        0.0
    };
    let repeat_prev = if buyers_prev > 0 {
        returning_prev as f64 / buyers_prev as f64
    } else {
        0.0
    };
    let payment_bars = charts::bars(&[
        (
            i18n::t(lang, "payment.cash_on_delivery"),
            t.cod_revenue as f64,
            i18n::money(t.cod_revenue, &currency, lang),
        ),
        (
            i18n::t(lang, "payment.prepaid"),
            t.prepaid_revenue as f64,
            i18n::money(t.prepaid_revenue, &currency, lang),
        ),
    ]);
    let customer_bars = charts::bars(&[
        (
            i18n::t(lang, "dashboard.new"),
            new_now as f64,
            i18n::int(new_now, lang),
        ),
        (
            i18n::t(lang, "dashboard.returning"),
            returning as f64,
            i18n::int(returning, lang),
        ),
    ]);
    let v = context! {
        title => i18n::t(lang, "nav.dashboard"),
        period => format!("{days}d"),
        periods => vec!["7d", "30d", "90d", "365d"],
        currency => currency.clone(),
        currencies => currencies,
        from => start, to => end - 1,
        kpis => vec![
            context!{ key => "customers", value => i18n::int(customers_total, lang), change => Value::from(()), compare => false },
            context!{ key => "active", value => i18n::int(buyers_now, lang), change => change(buyers_now as f64, buyers_prev as f64), compare => true },
            context!{ key => "revenue", value => i18n::money(t.revenue, &currency, lang), change => change(t.revenue as f64, pt.revenue as f64), compare => true },
            context!{ key => "orders", value => i18n::int(t.orders, lang), change => change(t.orders as f64, pt.orders as f64), compare => true },
            context!{ key => "aov", value => i18n::money(aov, &currency, lang), change => change(aov as f64, aov_prev as f64), compare => true },
            context!{ key => "repeat_rate", value => i18n::percent(repeat, lang), change => change(repeat, repeat_prev), compare => true },
            context!{ key => "new_customers", value => i18n::int(new_now, lang), change => change(new_now as f64, new_prev as f64), compare => true },
            context!{ key => "cod_share", value => i18n::percent(if t.orders > 0 { t.cod_orders as f64 / t.orders as f64 } else { 0.0 }, lang), change => Value::from(()), compare => false },
        ],
        chart => Value::from_safe_string(chart),
        payment_bars => Value::from_safe_string(payment_bars),
        customer_bars => Value::from_safe_string(customer_bars),
        refunded => i18n::money(t.refunded, &currency, lang),
    };
    render("dashboard.html", page(&c, v))
}

fn short_date(ms: i64, tz: &str, lang: Lang) -> String {
    i18n::zoned(ms, tz)
        .map(|z| {
            format!(
                "{} {}",
                i18n::int(z.day() as i64, lang),
                i18n::month_name(z.month(), lang)
            )
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Customers

#[derive(Deserialize, Default, Clone)]
pub struct CustomersQuery {
    q: Option<String>,
    tag: Option<String>,
    city: Option<String>,
    source: Option<String>,
    segment: Option<String>,
    churn: Option<String>,
    min_spent: Option<String>,
    last_order: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

const SEGMENTS: [&str; 11] = [
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose_them",
    "hibernating",
    "lost",
];

impl CustomersQuery {
    /// The store query for one page of `per_page` rows (one more is fetched to know whether
    /// a next page exists).
    fn to_store(&self, c: &Console, per_page: i64) -> AppResult<ConsoleCustomerQuery> {
        let page: i64 = blank(&self.page)
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .clamp(1, 10_000);
        let now = jiff::Timestamp::now().as_millisecond();
        let day = 86_400_000;
        let (last_order_from, last_order_to) = match self.last_order.as_deref() {
            Some("30") => (Some(now - 30 * day), None),
            Some("90") => (Some(now - 90 * day), None),
            Some("365") => (Some(now - 365 * day), None),
            Some("over90") => (None, Some(now - 90 * day)),
            Some("over365") => (None, Some(now - 365 * day)),
            _ => (None, None),
        };
        let currency = c.workspace.default_currency.clone();
        let min_spent_minor = match blank(&self.min_spent) {
            Some(s) => Some(
                wafa_domain::Currency::parse(&currency)
                    .and_then(|cur| cur.parse_amount(&s))
                    .map_err(|e| AppError::from(e).at("min_spent"))?,
            ),
            None => None,
        };
        Ok(ConsoleCustomerQuery {
            q: blank(&self.q),
            tag: blank(&self.tag),
            city: blank(&self.city),
            source_id: blank(&self.source).and_then(|s| s.parse().ok()),
            segment: blank(&self.segment).filter(|s| SEGMENTS.contains(&s.as_str())),
            p_alive_ppm: match self.churn.as_deref() {
                Some("high") => Some((0, 300_000)),
                Some("medium") => Some((300_000, 700_000)),
                Some("low") => Some((700_000, 1_000_001)),
                _ => None,
            },
            min_spent_minor,
            spent_currency: currency,
            last_order_from,
            last_order_to,
            sort: self
                .sort
                .as_deref()
                .and_then(CustomerSort::parse)
                .unwrap_or_default(),
            offset: (page - 1) * per_page,
            limit: per_page + 1,
        })
    }

    /// The query string without `page`/`sort` (for links that change only those).
    fn base_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("tag", &self.tag),
            ("city", &self.city),
            ("source", &self.source),
            ("segment", &self.segment),
            ("churn", &self.churn),
            ("min_spent", &self.min_spent),
            ("last_order", &self.last_order),
        ] {
            if let Some(v) = blank(v) {
                parts.push(format!("{k}={}", urlencode(&v)));
            }
        }
        parts.join("&")
    }
}

fn customer_row(c: &Console, r: &crate::store::ConsoleCustomer) -> Value {
    let cu = &r.customer;
    let email = cu
        .identities
        .iter()
        .find(|i| i.kind == "email")
        .map(|i| i.value.clone());
    let phone = cu
        .identities
        .iter()
        .find(|i| i.kind == "phone")
        .map(|i| i.value.clone());
    context! {
        id => cu.id,
        name => cu.full_name.clone(),
        email => email,
        phone => phone,
        city => cu.city.clone(),
        orders => r.orders,
        last_order_at => r.last_order_at,
        spent => r.spent.first().map(|(cur, v)| i18n::money(*v, cur, c.lang)),
        segment => r.segment.clone(),
        p_alive => r.p_alive_ppm.map(|p| p as f64 / 1e6),
        churn => r.p_alive_ppm.map(|p| if p < 300_000 { "high" } else if p < 700_000 { "medium" } else { "low" }),
        tags => cu.tags.clone(),
    }
}

pub async fn customers(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<CustomersQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::CustomersRead) {
        return r;
    }
    const PER_PAGE: i64 = 50;
    let (query, error) = match q.to_store(&c, PER_PAGE) {
        Ok(x) => (x, None),
        Err(e) => {
            let mut safe = q.clone();
            safe.min_spent = None;
            (
                safe.to_store(&c, PER_PAGE).unwrap_or_default(),
                Some(match c.lang {
                    Lang::Ar => e.code.message_ar(),
                    Lang::En => e.code.message_en(),
                }),
            )
        }
    };
    let ws = c.p.workspace_id;
    let (rows, facets, sources) = tri!(
        c,
        tokio::try_join!(
            st.store.console_customers(ws, c.p.region, &query),
            st.store.customer_facets(ws),
            st.store.list_sources(ws, None, 100),
        )
    );
    let has_more = rows.len() as i64 > PER_PAGE;
    let list: Vec<Value> = rows
        .iter()
        .take(PER_PAGE as usize)
        .map(|r| customer_row(&c, r))
        .collect();
    let page_no = query.offset / PER_PAGE + 1;
    let base = q.base_query();
    let sort = query.sort.as_str();
    let v = context! {
        title => i18n::t(c.lang, "nav.customers"),
        customers => list,
        f => context! {
            q => q.q.clone(), tag => q.tag.clone(), city => q.city.clone(), source => q.source.clone(),
            segment => q.segment.clone(), churn => q.churn.clone(), min_spent => q.min_spent.clone(),
            last_order => q.last_order.clone(),
        },
        sort => sort,
        base_query => base.clone(),
        page => page_no,
        next_page => if has_more { Some(page_no + 1) } else { None },
        prev_page => if page_no > 1 { Some(page_no - 1) } else { None },
        tags => facets.0,
        cities => facets.1,
        sources => sources.iter().map(|s| context!{ id => s.id, name => s.name.clone(), platform => s.platform.clone() }).collect::<Vec<_>>(),
        segments => SEGMENTS.to_vec(),
        error => error,
        export_url => format!("/customers.csv?{base}&sort={sort}"),
    };
    render("customers.html", page(&c, v))
}

/// A cell a spreadsheet will not run: values starting with = + - @ get a leading quote
/// (E.164 phones, `+` and digits only, stay as they are). Quoting is the csv writer's job.
fn defuse(s: &str) -> String {
    let phone_like =
        s.len() > 1 && s.starts_with('+') && s[1..].bytes().all(|b| b.is_ascii_digit());
    if !phone_like && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// A CSV body as a download, UTF-8 with a BOM so spreadsheet programs read Arabic correctly.
fn csv_download(body: Vec<u8>, file_name: &str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The current view as CSV (UTF-8 with BOM so spreadsheet programs read Arabic correctly).
pub async fn customers_csv(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<CustomersQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::CustomersRead) {
        return r;
    }
    const CHUNK: i64 = 1000;
    const MAX_ROWS: i64 = 200_000;
    let mut query = tri!(c, q.to_store(&c, CHUNK));
    query.offset = 0;
    query.limit = CHUNK;
    let mut w = csv::Writer::from_writer(BOM.to_vec());
    let header = [
        "id",
        "name",
        "email",
        "phone",
        "city",
        "orders",
        "last_order_at",
        "spent",
        "rfm_segment",
        "p_alive",
        "tags",
    ];
    tri!(
        c,
        w.write_record(header)
            .map_err(|e| AppError::internal(e.to_string()))
    );
    loop {
        let rows = tri!(
            c,
            st.store
                .console_customers(c.p.workspace_id, c.p.region, &query)
                .await
        );
        let n = rows.len() as i64;
        for r in &rows {
            let cu = &r.customer;
            let ident = |k: &str| {
                cu.identities
                    .iter()
                    .find(|i| i.kind == k)
                    .map(|i| i.value.clone())
                    .unwrap_or_default()
            };
            let cells = [
                cu.id.to_string(),
                cu.full_name.clone(),
                ident("email"),
                ident("phone"),
                cu.city.clone().unwrap_or_default(),
                r.orders.to_string(),
                r.last_order_at
                    .map(wafa_domain::time::format_ms)
                    .unwrap_or_default(),
                r.spent
                    .first()
                    .map(|(cur, v)| i18n::money(*v, cur, Lang::En).replace('\u{a0}', " "))
                    .unwrap_or_default(),
                r.segment.clone().unwrap_or_default(),
                r.p_alive_ppm
                    .map(|p| format!("{:.3}", p as f64 / 1e6))
                    .unwrap_or_default(),
                cu.tags.join(" "),
            ];
            tri!(
                c,
                w.write_record(cells.iter().map(|s| defuse(s)))
                    .map_err(|e| AppError::internal(e.to_string()))
            );
        }
        query.offset += CHUNK;
        if n < CHUNK || query.offset >= MAX_ROWS {
            break;
        }
    }
    let body = tri!(
        c,
        w.into_inner()
            .map_err(|e| AppError::internal(e.to_string()))
    );
    csv_download(body, "customers.csv")
}

#[derive(Deserialize, Default)]
pub struct CustomerQuery {
    before: Option<String>,
    merged: Option<String>,
    undone: Option<String>,
}

fn timeline_view(c: &Console, e: &wafa_model::TimelineEntry) -> Value {
    let status = e.data.get("status").and_then(|s| s.as_str());
    let detail = match c.lang {
        Lang::En => e.summary.clone(),
        Lang::Ar => {
            let mut parts = Vec::new();
            if let Some(s) = status {
                parts.push(i18n::t(c.lang, &format!("status.{s}")));
            }
            if let (Some(total), Some(cur)) = (
                e.data.get("total_minor").and_then(|v| v.as_i64()),
                e.data.get("currency").and_then(|v| v.as_str()),
            ) {
                parts.push(i18n::money(total, cur, c.lang));
            }
            for k in ["name", "body", "text", "number"] {
                if let Some(v) = e.data.get(k).and_then(|v| v.as_str()) {
                    parts.push(v.to_owned());
                }
            }
            parts.join(" · ")
        }
    };
    context! {
        kind => e.kind.clone(),
        at => e.occurred_at.clone(),
        detail => detail,
        ref_id => e.ref_id,
    }
}

pub async fn customer(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<CustomerQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::CustomersRead) {
        return r;
    }
    let ws = c.p.workspace_id;
    let before = q.before.as_deref().and_then(|b| {
        let (a, b) = b.split_once('_')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    let cu = tri!(c, st.store.get_customer(ws, id).await);
    if let Some(into) = cu.merged_into {
        return Redirect::to(&format!("/customers/{into}?merged={id}")).into_response();
    }
    let order_filter = OrderFilter {
        customer_id: Some(id),
        status: None,
        before_id: None,
        limit: 20,
    };
    let (timeline, notes, orders, merges, sentiment, prediction) = tri!(
        c,
        tokio::try_join!(
            st.store.timeline(ws, id, before, 31),
            st.store.list_notes(ws, id, None, 20),
            st.store.list_orders(ws, &order_filter),
            st.store.list_merges(ws, Some(id), None, 20),
            st.store.sentiment_trend(ws, id),
            st.store.prediction(ws, id),
        )
    );
    let company = match cu.company_id {
        Some(cid) => st.store.get_company(ws, cid).await.ok(),
        None => None,
    };
    let lang = c.lang;
    let more = timeline.len() > 30;
    let next_before = if more {
        timeline.get(29).map(|(e, at)| format!("{}_{}", at, e.id))
    } else {
        None
    };
    let tl: Vec<Value> = timeline
        .iter()
        .take(30)
        .map(|(e, _)| timeline_view(&c, e))
        .collect();
    // Sentiment trend: monthly average, −1…1 shifted to 0…2 for the chart's zero baseline.
    let pts: Vec<(f64, f64)> = sentiment
        .by_month
        .iter()
        .enumerate()
        .map(|(i, m)| (i as f64, m.average + 1.0))
        .collect();
    let sentiment_chart = if pts.len() >= 2 {
        Some(Value::from_safe_string(
            LineChart {
                title: i18n::t(lang, "customer.sentiment_trend"),
                series: vec![Series {
                    name: i18n::t(lang, "customer.sentiment"),
                    points: &pts,
                    class: "s1",
                    dashed: false,
                }],
                x_ticks: sentiment
                    .by_month
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (i as f64, m.month.clone()))
                    .collect(),
                x_range: (0.0, (pts.len() - 1) as f64),
                marker: None,
                lang,
                y_format: |v, lang| i18n::decimal(v - 1.0, 1, lang),
            }
            .render(),
        ))
    } else {
        None
    };
    let explanation = prediction.as_ref().map(|p| match lang {
        Lang::Ar => p.explanation_ar.clone(),
        Lang::En => p.explanation_en.clone(),
    });
    let orders_v: Vec<Value> = orders
        .iter()
        .map(|o| {
            context! {
                id => o.id, number => o.number.clone(), status => o.status.clone(),
                payment_method => o.payment_method.clone(), placed_at => o.placed_at.clone(),
                total => i18n::money(o.total_minor, &o.currency, lang),
                refunded => if o.refunded_minor > 0 { Some(i18n::money(o.refunded_minor, &o.currency, lang)) } else { None },
                return_reason => o.return_reason.clone(),
                history => o.status_history.iter().map(|h| context!{ status => h.status.clone(), at => h.at.clone(), reason => h.reason.clone(), note => h.note.clone() }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let stats = cu.stats.as_ref();
    let v = context! {
        title => cu.full_name.clone(),
        customer => context! {
            id => cu.id, name => cu.full_name.clone(), first_name => cu.first_name.clone(), last_name => cu.last_name.clone(),
            language => cu.language.clone(), birthday => cu.birthday.clone(), gender => cu.gender.clone(),
            city => cu.city.clone(), country => cu.country.clone(), tags => cu.tags.clone(),
            created_at => cu.created_at.clone(),
            identities => cu.identities.iter().map(|i| context!{ kind => i.kind.clone(), value => i.value.clone(), verified => i.verified, source_id => i.source_id }).collect::<Vec<_>>(),
            consents => cu.consents.iter().map(|x| context!{ channel => x.channel.clone(), state => x.state.clone(), updated_at => x.updated_at.clone(), source => x.source.clone() }).collect::<Vec<_>>(),
            attributes => cu.attributes.iter().map(|(k, v)| (k.clone(), match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() })).collect::<Vec<_>>(),
            orders_count => stats.map(|s| s.orders_count).unwrap_or(0),
            first_order_at => stats.and_then(|s| s.first_order_at.clone()),
            last_order_at => stats.and_then(|s| s.last_order_at.clone()),
            net_revenue => stats.map(|s| s.net_revenue.iter().map(|m| i18n::money(m.amount_minor, &m.currency, lang)).collect::<Vec<_>>()).unwrap_or_default(),
        },
        company => company.map(|co| context!{ name => co.name, domain => co.domain }),
        prediction => prediction.as_ref().map(|p| context! {
            clv => i18n::money(p.clv_minor, &p.currency, lang),
            p_alive => p.p_alive,
            churn_risk => p.churn_risk,
            expected_orders_90d => i18n::decimal(p.expected_orders_90d, 2, lang),
            next_order => p.expected_next_order.clone(),
            segment => p.rfm_segment.clone(),
            rfm => format!("{}{}{}", p.rfm_recency, p.rfm_frequency, p.rfm_monetary),
            computed_at => p.computed_at.clone(),
            model_version => p.model_version.clone(),
        }),
        explanation => explanation,
        orders => orders_v,
        timeline => tl,
        next_before => next_before,
        notes => notes.iter().map(|n| context!{ body => n.body.clone(), at => n.created_at.clone() }).collect::<Vec<_>>(),
        merges => merges.iter().map(|m| context!{ id => m.id, survivor_id => m.survivor_id, merged_id => m.merged_id, at => m.created_at.clone(), undone_at => m.undone_at.clone(), actor => m.actor.clone() }).collect::<Vec<_>>(),
        sentiment => context! {
            texts => sentiment.texts,
            average => i18n::decimal(sentiment.average, 2, lang),
            label => if sentiment.texts == 0 { "none" } else if sentiment.average > 0.2 { "positive" } else if sentiment.average < -0.2 { "negative" } else { "neutral" },
            chart => sentiment_chart,
            recent => sentiment.recent.iter().take(5).map(|t| serde_json::to_value(t).unwrap_or_default()).map(ser).collect::<Vec<_>>(),
        },
        can_merge => c.can(Permission::CustomersMerge),
        can_note => c.can(Permission::NotesWrite),
        flash_merged => q.merged.is_some(),
        flash_undone => q.undone.is_some(),
    };
    render("customer.html", page(&c, v))
}

#[derive(Deserialize)]
pub struct NoteForm {
    body: String,
    csrf: Option<String>,
}

pub async fn add_note(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    if let Some(r) = refuse(&c, Permission::NotesWrite) {
        return r;
    }
    let body = f.body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return c.fail(AppError::validation("body", "1 to 10,000 characters"));
    }
    tri!(
        c,
        st.store
            .add_note(c.p.workspace_id, &c.p.actor, c.p.user_id, id, body)
            .await
    );
    Redirect::to(&format!("/customers/{id}#notes")).into_response()
}

#[derive(Deserialize, Default)]
pub struct MergeQuery {
    other: Option<String>,
    q: Option<String>,
}

pub async fn merge_page(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<MergeQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::CustomersMerge) {
        return r;
    }
    let ws = c.p.workspace_id;
    let survivor = tri!(c, st.store.get_customer(ws, id).await);
    let mut candidates = Vec::new();
    if let Some(text) = blank(&q.q) {
        let found = tri!(
            c,
            st.store
                .console_customers(
                    ws,
                    c.p.region,
                    &ConsoleCustomerQuery {
                        q: Some(text),
                        limit: 20,
                        ..Default::default()
                    }
                )
                .await
        );
        candidates = found
            .iter()
            .filter(|r| r.customer.id != id)
            .map(|r| customer_row(&c, r))
            .collect();
    }
    let mut preview = Value::from(());
    let mut other_v = Value::from(());
    if let Some(other) = q.other.as_deref().and_then(|o| o.parse::<i64>().ok()) {
        let other_c = tri!(c, st.store.get_customer(ws, other).await);
        let p = tri!(
            c,
            st.store
                .merge_preview(ws, id, other, &serde_json::Map::new())
                .await
        );
        other_v = context! {
            id => other_c.id, name => other_c.full_name.clone(),
            identities => other_c.identities.iter().map(|i| context!{ kind => i.kind.clone(), value => i.value.clone() }).collect::<Vec<_>>(),
            orders_count => other_c.stats.as_ref().map(|s| s.orders_count).unwrap_or(0),
        };
        let moves: Vec<(String, i64)> = p
            .moves
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                    .filter(|(_, n)| *n > 0)
                    .collect()
            })
            .unwrap_or_default();
        preview = context! {
            conflicts => p.consent_conflicts.clone(),
            moves => moves,
        };
    }
    let v = context! {
        title => i18n::t(c.lang, "merge.title"),
        survivor => context! {
            id => survivor.id, name => survivor.full_name.clone(),
            identities => survivor.identities.iter().map(|i| context!{ kind => i.kind.clone(), value => i.value.clone() }).collect::<Vec<_>>(),
            orders_count => survivor.stats.as_ref().map(|s| s.orders_count).unwrap_or(0),
        },
        q => q.q.clone(),
        candidates => candidates,
        other => other_v,
        preview => preview,
    };
    render("merge.html", page(&c, v))
}

pub async fn merge_submit(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    tri!(c, c.check_csrf(f.get("csrf").map(String::as_str)));
    if let Some(r) = refuse(&c, Permission::CustomersMerge) {
        return r;
    }
    let Some(other) = f.get("other").and_then(|o| o.parse::<i64>().ok()) else {
        return c.fail(AppError::validation(
            "other",
            "choose the customer to merge",
        ));
    };
    // Consent choices arrive as consent.<channel> = granted|revoked|unknown.
    let mut resolution = serde_json::Map::new();
    for (k, v) in &f {
        if let Some(channel) = k.strip_prefix("consent.") {
            resolution.insert(channel.to_owned(), serde_json::Value::String(v.clone()));
        }
    }
    let m = tri!(
        c,
        st.store
            .merge_customers(c.p.workspace_id, &c.p.actor, id, other, &resolution)
            .await
    );
    Redirect::to(&format!(
        "/customers/{}?merged={}",
        m.survivor_id, m.merged_id
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn undo_merge(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    if let Some(r) = refuse(&c, Permission::CustomersMerge) {
        return r;
    }
    let m = tri!(
        c,
        st.store.undo_merge(c.p.workspace_id, &c.p.actor, id).await
    );
    Redirect::to(&format!(
        "/customers/{}?undone={}",
        m.survivor_id, m.merged_id
    ))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// Orders

#[derive(Deserialize, Default)]
pub struct OrdersQuery {
    status: Option<String>,
    before: Option<String>,
}

pub async fn orders(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<OrdersQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::OrdersRead) {
        return r;
    }
    const PER_PAGE: i64 = 50;
    let status = blank(&q.status).and_then(|s| OrderStatus::parse(&s));
    let before_id = blank(&q.before).and_then(|b| b.parse().ok());
    let rows = tri!(
        c,
        st.store
            .list_orders(
                c.p.workspace_id,
                &OrderFilter {
                    customer_id: None,
                    status,
                    before_id,
                    limit: PER_PAGE + 1
                }
            )
            .await
    );
    let next = if rows.len() as i64 > PER_PAGE {
        rows.get(PER_PAGE as usize - 1).map(|o| o.id)
    } else {
        None
    };
    let lang = c.lang;
    let v = context! {
        title => i18n::t(lang, "nav.orders"),
        status => status.map(|s| s.as_str()),
        statuses => OrderStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        orders => rows.iter().take(PER_PAGE as usize).map(|o| context!{
            id => o.id, number => o.number.clone(), customer_id => o.customer_id, status => o.status.clone(),
            payment_method => o.payment_method.clone(), placed_at => o.placed_at.clone(),
            total => i18n::money(o.total_minor, &o.currency, lang),
            refunded => if o.refunded_minor > 0 { Some(i18n::money(o.refunded_minor, &o.currency, lang)) } else { None },
        }).collect::<Vec<_>>(),
        next_before => next,
    };
    render("orders.html", page(&c, v))
}

pub async fn order(State(st): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    if let Some(r) = refuse(&c, Permission::OrdersRead) {
        return r;
    }
    let o = tri!(c, st.store.get_order(c.p.workspace_id, id).await);
    let cu = st
        .store
        .get_customer(c.p.workspace_id, o.customer_id)
        .await
        .ok();
    let lang = c.lang;
    let cur = o.currency.clone();
    let m = |v: i64| i18n::money(v, &cur, lang);
    let v = context! {
        title => o.number.clone().unwrap_or_else(|| format!("#{}", o.id)),
        order => context! {
            id => o.id, number => o.number.clone(), external_id => o.external_id.clone(), status => o.status.clone(),
            payment_method => o.payment_method.clone(), placed_at => o.placed_at.clone(), city => o.city.clone(),
            subtotal => m(o.subtotal_minor), discount => m(o.discount_minor), shipping => m(o.shipping_minor),
            tax => m(o.tax_minor), total => m(o.total_minor),
            refunded => if o.refunded_minor > 0 { Some(m(o.refunded_minor)) } else { None },
            return_reason => o.return_reason.clone(),
            lines => o.lines.iter().map(|l| context!{ title => l.title.clone(), sku => l.sku.clone(), quantity => l.quantity, unit => m(l.unit_price_minor), total => m(l.total_minor) }).collect::<Vec<_>>(),
            history => o.status_history.iter().map(|h| context!{ status => h.status.clone(), at => h.at.clone(), reason => h.reason.clone(), note => h.note.clone() }).collect::<Vec<_>>(),
        },
        customer => cu.map(|cu| context!{ id => cu.id, name => cu.full_name }),
    };
    render("order.html", page(&c, v))
}

// ---------------------------------------------------------------------------------------
// Analytics

#[derive(Deserialize, Default)]
pub struct AnalyticsQuery {
    currency: Option<String>,
}

pub async fn analytics(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<AnalyticsQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::CustomersRead) {
        return r;
    }
    let ws = c.p.workspace_id;
    let (insights, (segments, models)) = tri!(
        c,
        tokio::try_join!(st.store.insights(ws), st.store.prediction_overview(ws))
    );
    let lang = c.lang;
    let currencies: Vec<String> = insights.iter().map(|i| i.0.clone()).collect();
    let chosen = q
        .currency
        .filter(|x| currencies.contains(x))
        .or_else(|| {
            currencies
                .iter()
                .find(|x| **x == c.workspace.default_currency)
                .cloned()
        })
        .or_else(|| currencies.first().cloned());
    let mut v = context! {
        title => i18n::t(lang, "nav.analytics"),
        currencies => currencies.clone(),
        currency => chosen.clone(),
        segments => segments.iter().map(|(s, n)| context!{ segment => s.clone(), count => *n }).collect::<Vec<_>>(),
        can_recompute => c.can(Permission::CustomersWrite),
    };
    if let Some((cur, computed_at, body)) = insights.iter().find(|i| Some(&i.0) == chosen.as_ref())
    {
        let total = body["customers"].as_f64().unwrap_or(0.0).max(1.0);
        // RFM grid: rows recency 5 → 1 (recent at top), columns frequency 1 → 5.
        let grid = &body["rfm_grid"];
        let rows: Vec<Value> = (1..=5)
            .rev()
            .map(|r| {
                let cells: Vec<Value> = (1..=5)
                    .map(|f| {
                        let n = grid[r - 1][f - 1].as_i64().unwrap_or(0);
                        context! { n => n, share => n as f64 / total, heat => charts::heat((n as f64 / total * 8.0).min(1.0)) }
                    })
                    .collect();
                context! { r => r, cells => cells }
            })
            .collect();
        let cohorts: Vec<Value> = body["cohorts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|co| {
                        let ret: Vec<Value> = co["retention"]
                            .as_array()
                            .map(|r| {
                                r.iter()
                                    .map(|x| {
                                        let x = x.as_f64().unwrap_or(0.0);
                                        context! { v => x, heat => charts::heat((x * 2.5).min(1.0)) }
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        context! { cohort => co["cohort"].as_str().unwrap_or("").to_owned(), customers => co["customers"].as_i64().unwrap_or(0), retention => ret }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let clv_bins: Vec<(String, f64, String)> = body["clv_bins"]
            .as_array()
            .map(|a| {
                let bounds: Vec<i64> = a.iter().map(|b| b[0].as_i64().unwrap_or(0)).collect();
                a.iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let lo = i18n::money(bounds[i], cur, lang);
                        let label = match bounds.get(i + 1) {
                            Some(hi) => format!("{lo} – {}", i18n::money(*hi, cur, lang)),
                            None => format!("≥ {lo}"),
                        };
                        let n = b[1].as_f64().unwrap_or(0.0);
                        (label, n, i18n::int(n as i64, lang))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tracking = &body["tracking"];
        let mut tracking_chart = None;
        if let Some(points) = tracking["points"].as_array() {
            let actual: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0)))
                .collect();
            let predicted: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p[0].as_f64().unwrap_or(0.0), p[2].as_f64().unwrap_or(0.0)))
                .collect();
            let max_x = actual.last().map(|p| p.0).unwrap_or(1.0);
            let ticks = (0..=4)
                .map(|i| {
                    let x = (max_x * i as f64 / 4.0).round();
                    (
                        x,
                        i18n::t_with(
                            lang,
                            "analytics.week_n",
                            &[("n", i18n::int(x as i64, lang))],
                        ),
                    )
                })
                .collect();
            tracking_chart = Some(Value::from_safe_string(
                LineChart {
                    title: i18n::t(lang, "analytics.tracking"),
                    series: vec![
                        Series {
                            name: i18n::t(lang, "analytics.actual"),
                            points: &actual,
                            class: "s1",
                            dashed: false,
                        },
                        Series {
                            name: i18n::t(lang, "analytics.predicted"),
                            points: &predicted,
                            class: "s2",
                            dashed: true,
                        },
                    ],
                    x_ticks: ticks,
                    x_range: (0.0, max_x.max(1.0)),
                    marker: tracking["calibration_end_week"]
                        .as_f64()
                        .map(|x| (x, i18n::t(lang, "analytics.holdout_starts"))),
                    lang,
                    y_format: charts::compact_axis,
                }
                .render(),
            ));
        }
        let model = models.iter().find(|m| &m.0 == cur).map(|m| m.3.clone());
        v = context! {
            ..v,
            ..context! {
                has_insights => true,
                computed_at => *computed_at,
                customers => body["customers"].as_i64().unwrap_or(0),
                rfm_rows => rows,
                cohorts => cohorts,
                clv_bars => Value::from_safe_string(charts::bars(&clv_bins)),
                tracking_chart => tracking_chart,
                model_name => model.as_ref().and_then(|m| m["purchase"]["model"].as_str().or_else(|| m["purchase"].as_object().and_then(|o| o.keys().next().map(|k| k.as_str()))).map(str::to_owned)),
            }
        };
    }
    render("analytics.html", page(&c, v))
}

pub async fn recompute(
    State(st): State<AppState>,
    c: Console,
    Form(f): Form<CsrfForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    if let Some(r) = refuse(&c, Permission::CustomersWrite) {
        return r;
    }
    tri!(
        c,
        crate::predict::recompute(&st.store, c.p.workspace_id).await
    );
    Redirect::to("/analytics").into_response()
}

// ---------------------------------------------------------------------------------------
// Sources and deliveries

pub async fn sources(State(st): State<AppState>, c: Console) -> Response {
    if let Some(r) = refuse(&c, Permission::SourcesRead) {
        return r;
    }
    render_sources(&st, &c, None).await
}

async fn render_sources(
    st: &AppState,
    c: &Console,
    created: Option<crate::sources::SourceCreated>,
) -> Response {
    let ws = c.p.workspace_id;
    let list = tri!(c, st.store.list_sources(ws, None, 100).await);
    let mut rows = Vec::new();
    for s in &list {
        let stats = st.store.source_stats(ws, s.id).await.ok();
        rows.push(context! {
            id => s.id, name => s.name.clone(), platform => s.platform.clone(), created_at => s.created_at.clone(),
            stats => stats.map(ser),
            webhook_url => if s.platform == "events" || s.platform == "api" || s.platform == "csv" { None } else { Some(format!("{}/webhooks/{}", st.config.public_url.trim_end_matches('/'), s.id)) },
        });
    }
    let v = context! {
        title => i18n::t(c.lang, "nav.sources"),
        sources => rows,
        platforms => vec!["salla", "zid", "shopify", "woocommerce", "events"],
        can_write => c.can(Permission::SourcesWrite),
        created => created.map(|x| context!{ name => x.source.name, platform => x.source.platform, id => x.source.id, webhook_url => x.webhook_url, write_key => x.write_key }),
        events_url => format!("{}/v1/batch", st.config.public_url.trim_end_matches('/')),
    };
    render("sources.html", page(c, v))
}

#[derive(Deserialize)]
pub struct SourceForm {
    platform: String,
    name: String,
    secret: Option<String>,
    csrf: Option<String>,
}

pub async fn connect_source(
    State(st): State<AppState>,
    c: Console,
    Form(f): Form<SourceForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    if let Some(r) = refuse(&c, Permission::SourcesWrite) {
        return r;
    }
    let created = tri!(
        c,
        crate::sources::add_source(
            &st.store,
            c.p.workspace_id,
            &c.p.actor,
            &f.platform,
            &f.name,
            f.secret.as_deref(),
            &st.config.public_url,
        )
        .await
    );
    // Rendered directly (not redirected): a write key is shown this once.
    render_sources(&st, &c, Some(created)).await
}

#[derive(Deserialize, Default)]
pub struct SourceQuery {
    status: Option<String>,
    before: Option<String>,
    partial: Option<String>,
}

pub async fn source(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<SourceQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::SourcesRead) {
        return r;
    }
    let ws = c.p.workspace_id;
    if !tri!(c, st.store.source_exists(ws, id).await) {
        return c.fail(AppError::not_found("source"));
    }
    let status =
        blank(&q.status).filter(|s| ["pending", "processed", "failed"].contains(&s.as_str()));
    let before = blank(&q.before).and_then(|b| b.parse().ok());
    let (stats, log, all) = tri!(
        c,
        tokio::try_join!(
            st.store.source_stats(ws, id),
            st.store
                .list_deliveries(ws, id, status.as_deref(), before, 51),
            st.store.list_sources(ws, None, 100),
        )
    );
    let Some(src) = all.iter().find(|s| s.id == id) else {
        return c.fail(AppError::not_found("source"));
    };
    let next = if log.len() > 50 {
        log.get(49).map(|d| d.id)
    } else {
        None
    };
    let v = context! {
        title => src.name.clone(),
        source => context!{ id => src.id, name => src.name.clone(), platform => src.platform.clone() },
        webhook_url => format!("{}/webhooks/{}", st.config.public_url.trim_end_matches('/'), src.id),
        stats => ser(&stats),
        status => status,
        deliveries => log.iter().take(50).map(ser).collect::<Vec<_>>(),
        next_before => next,
        can_replay => c.can(Permission::SourcesWrite),
    };
    let ctx = page(&c, v);
    if q.partial.is_some() {
        // The live log refreshes just its table.
        return match super::ENV
            .get_template("source.html")
            .and_then(|t| t.render_captured(ctx))
            .and_then(|mut cap| cap.with_state_mut(|s| s.render_block("log")))
        {
            Ok(html) => axum::response::Html(html).into_response(),
            Err(e) => c.fail(AppError::internal(e.to_string())),
        };
    }
    render("source.html", ctx)
}

pub async fn replay(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    tri!(c, c.check_csrf(f.get("csrf").map(String::as_str)));
    if let Some(r) = refuse(&c, Permission::SourcesWrite) {
        return r;
    }
    tri!(
        c,
        st.store
            .replay_delivery(c.p.workspace_id, &c.p.actor, id)
            .await
    );
    st.ingest.notify_one();
    let back = f
        .get("source")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| format!("/sources/{s}"))
        .unwrap_or_else(|| "/sources".into());
    Redirect::to(&back).into_response()
}

// ---------------------------------------------------------------------------------------
// Imports

pub async fn imports(State(st): State<AppState>, c: Console) -> Response {
    if let Some(r) = refuse(&c, Permission::Import) {
        return r;
    }
    let list = tri!(c, st.store.list_imports(c.p.workspace_id, None, 30).await);
    let v = context! {
        title => i18n::t(c.lang, "nav.imports"),
        imports => list.iter().map(ser).collect::<Vec<_>>(),
    };
    render("imports.html", page(&c, v))
}

/// Accept an upload and import it in the background; the job page shows progress.
pub async fn start_import(State(st): State<AppState>, c: Console, mut form: Multipart) -> Response {
    if let Some(r) = refuse(&c, Permission::Import) {
        return r;
    }
    let mut csrf = None;
    let mut kind = None;
    let mut file: Option<(Option<String>, Vec<u8>)> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let file_name = field.file_name().map(str::to_owned);
                match field.bytes().await {
                    Ok(b) => match name.as_str() {
                        "csrf" => csrf = Some(String::from_utf8_lossy(&b).into_owned()),
                        "kind" => kind = Some(String::from_utf8_lossy(&b).into_owned()),
                        "file" => file = Some((file_name, b.to_vec())),
                        _ => {}
                    },
                    Err(e) => {
                        return c.fail(AppError::new(
                            wafa_domain::ErrorCode::BadRequest,
                            e.body_text(),
                        ))
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                return c.fail(AppError::new(
                    wafa_domain::ErrorCode::BadRequest,
                    e.body_text(),
                ))
            }
        }
    }
    tri!(c, c.check_csrf(csrf.as_deref()));
    let Some((file_name, bytes)) = file.filter(|f| !f.1.is_empty()) else {
        return c.fail(AppError::validation("file", "choose a CSV file"));
    };
    let expect = tri!(c, crate::import::expected_format(kind.as_deref()));
    let job = {
        let mut jobs = st.import_progress.lock().unwrap_or_else(|e| e.into_inner());
        let n = jobs.keys().max().copied().unwrap_or(0) + 1;
        // Finished jobs are forgotten once there are many (their records stay in the database).
        if jobs.len() > 100 {
            jobs.retain(|_, j| j.result.is_none());
        }
        jobs.insert(
            n,
            crate::http::ImportJob {
                workspace_id: c.p.workspace_id,
                done: 0,
                total: 0,
                result: None,
            },
        );
        n
    };
    let store = st.store.clone();
    let jobs = st.import_progress.clone();
    let actor = c.p.actor.clone();
    let ws = c.p.workspace_id;
    let region = c.p.region;
    tokio::spawn(async move {
        let progress = |done: u64, total: u64| {
            if let Some(j) = jobs.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&job) {
                j.done = done;
                j.total = total;
            }
        };
        let outcome = crate::import::import_csv(
            &store,
            crate::import::ImportRequest {
                workspace_id: ws,
                actor: &actor,
                region,
                expect,
                source_id: None,
                file_name: file_name.as_deref(),
            },
            bytes.to_vec(),
            &progress,
        )
        .await;
        if let Ok(o) = &outcome {
            if o.record.rows_created + o.record.rows_updated > 0 {
                let _ = crate::predict::recompute(&store, ws).await;
            }
        }
        if let Some(j) = jobs.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&job) {
            j.result = Some(outcome.map(|o| o.record.id).map_err(|e| (e.code, e.detail)));
        }
    });
    Redirect::to(&format!("/imports/jobs/{job}")).into_response()
}

#[derive(Deserialize, Default)]
pub struct JobQuery {
    format: Option<String>,
}

pub async fn import_job(
    State(st): State<AppState>,
    c: Console,
    Path(n): Path<u64>,
    Query(q): Query<JobQuery>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::Import) {
        return r;
    }
    let job = st
        .import_progress
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&n)
        .filter(|j| j.workspace_id == c.p.workspace_id)
        .cloned();
    let Some(job) = job else {
        return c.fail(AppError::not_found("import"));
    };
    let (done, error, import_id) = match &job.result {
        None => (false, None, None),
        Some(Ok(id)) => (true, None, Some(*id)),
        Some(Err((code, detail))) => (
            true,
            Some(format!(
                "{} ({})",
                match c.lang {
                    Lang::Ar => code.message_ar(),
                    Lang::En => code.message_en(),
                },
                detail
            )),
            None,
        ),
    };
    if q.format.as_deref() == Some("json") {
        return Json(serde_json::json!({
            "done": done, "rows_done": job.done, "rows_total": job.total,
            "import_id": import_id, "error": error,
        }))
        .into_response();
    }
    if let Some(id) = import_id {
        return Redirect::to(&format!("/imports/{id}")).into_response();
    }
    let v = context! {
        title => i18n::t(c.lang, "import.running"),
        job => n, done => done, rows_done => job.done, rows_total => job.total, error => error,
    };
    render("import.html", page(&c, v))
}

pub async fn import_record(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::Import) {
        return r;
    }
    let rec = tri!(c, st.store.get_import(c.p.workspace_id, id).await);
    let errors: Vec<Value> = rec
        .errors
        .as_array()
        .map(|a| a.iter().take(200).map(ser).collect())
        .unwrap_or_default();
    let v = context! {
        title => i18n::t(c.lang, "import.result"),
        import => ser(&rec),
        errors => errors,
        more_errors => rec.rows_failed > 200,
    };
    render("import.html", page(&c, v))
}

pub async fn import_errors_csv(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
) -> Response {
    if let Some(r) = refuse(&c, Permission::Import) {
        return r;
    }
    let rec = tri!(c, st.store.get_import(c.p.workspace_id, id).await);
    let errors: Vec<crate::import::ImportRowError> =
        serde_json::from_value(rec.errors).unwrap_or_default();
    let mut body = BOM.to_vec();
    tri!(
        c,
        crate::import::write_error_report(&mut body, &errors)
            .map_err(|e| AppError::internal(e.to_string()))
    );
    csv_download(body, &format!("import-{id}-errors.csv"))
}

// ---------------------------------------------------------------------------------------
// Settings: workspace, staff, API keys (through the API's own handlers, which validate and
// authorise exactly as the API does).

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    saved: Option<String>,
}

pub async fn settings(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<SettingsQuery>,
) -> Response {
    render_settings(&st, &c, q.saved.is_some(), None, None).await
}

async fn render_settings(
    st: &AppState,
    c: &Console,
    saved: bool,
    new_key: Option<String>,
    error: Option<AppError>,
) -> Response {
    if let Some(r) = refuse(c, Permission::WorkspaceManage) {
        return r;
    }
    let ws = c.p.workspace_id;
    let members = if c.can(Permission::UsersManage) {
        tri!(c, st.store.list_members(ws, None, 200).await)
    } else {
        Vec::new()
    };
    let keys = if c.can(Permission::KeysManage) {
        tri!(c, st.store.list_api_keys(ws, None, 100).await)
    } else {
        Vec::new()
    };
    let audit = if c.can(Permission::AuditRead) {
        tri!(c, st.store.list_audit(ws, None, 20).await)
    } else {
        Vec::new()
    };
    let v = context! {
        title => i18n::t(c.lang, "nav.settings"),
        saved => saved,
        new_key => new_key,
        error => error.map(|e| format!("{} ({})", match c.lang { Lang::Ar => e.code.message_ar(), Lang::En => e.code.message_en() }, e.detail)),
        members => members.iter().map(ser).collect::<Vec<_>>(),
        keys => keys.iter().map(ser).collect::<Vec<_>>(),
        audit => audit.iter().map(ser).collect::<Vec<_>>(),
        roles => vec!["owner", "admin", "marketer", "agent", "viewer"],
        scopes => c.p.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        can_users => c.can(Permission::UsersManage),
        can_keys => c.can(Permission::KeysManage),
        me => c.user.id,
        currencies => vec!["SAR", "AED", "KWD", "BHD", "OMR", "QAR", "EGP", "JOD", "USD", "EUR"],
        timezones => vec!["Asia/Riyadh", "Asia/Dubai", "Asia/Kuwait", "Asia/Bahrain", "Asia/Qatar", "Asia/Muscat", "Africa/Cairo", "Asia/Amman", "Asia/Beirut", "Asia/Baghdad", "Africa/Casablanca", "Europe/London", "UTC"],
    };
    render("settings.html", page(c, v))
}

/// After a settings form: back to the section on success, the page with the error otherwise.
async fn settings_outcome<T>(
    st: &AppState,
    c: &Console,
    result: AppResult<T>,
    section: &str,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/settings?saved=1#{section}")).into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = render_settings(st, c, false, None, Some(e)).await;
            *r.status_mut() = status;
            r
        }
    }
}

pub async fn save_workspace(
    State(st): State<AppState>,
    c: Console,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    tri!(c, c.check_csrf(f.get("csrf").map(String::as_str)));
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = crate::http::account::WorkspaceInput {
        name: get("name"),
        default_currency: get("default_currency"),
        default_region: get("default_region"),
        timezone: get("timezone"),
        language: get("language"),
    };
    let result = crate::http::account::update_workspace(
        State(st.clone()),
        Auth(c.p.clone()),
        ApiJson(input),
    )
    .await;
    settings_outcome(&st, &c, result, "workspace").await
}

pub async fn add_member(
    State(st): State<AppState>,
    c: Console,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    tri!(c, c.check_csrf(f.get("csrf").map(String::as_str)));
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = crate::http::account::MemberInput {
        email: get("email"),
        password: get("password"),
        name: blank(&f.get("name").cloned()),
        role: get("role"),
    };
    let result =
        crate::http::account::add_user(State(st.clone()), Auth(c.p.clone()), ApiJson(input)).await;
    settings_outcome(&st, &c, result, "staff").await
}

pub async fn member_role(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    tri!(c, c.check_csrf(f.get("csrf").map(String::as_str)));
    let input = crate::http::account::RoleInput {
        role: f.get("role").cloned().unwrap_or_default(),
    };
    let result = crate::http::account::set_user_role(
        State(st.clone()),
        Auth(c.p.clone()),
        ApiPath(id),
        ApiJson(input),
    )
    .await;
    settings_outcome(&st, &c, result, "staff").await
}

pub async fn remove_member(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    let result =
        crate::http::account::remove_user(State(st.clone()), Auth(c.p.clone()), ApiPath(id)).await;
    settings_outcome(&st, &c, result, "staff").await
}

pub async fn create_key(
    State(st): State<AppState>,
    c: Console,
    body: axum::body::Bytes,
) -> Response {
    // Repeated `scope` fields: parse the form by hand (serde_urlencoded has no lists).
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    tri!(c, c.check_csrf(get("csrf").as_deref()));
    let input = crate::http::account::ApiKeyInput {
        name: get("name").unwrap_or_default(),
        scopes: pairs
            .iter()
            .filter(|(n, _)| n == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    match crate::http::account::create_key(State(st.clone()), Auth(c.p.clone()), ApiJson(input))
        .await
    {
        // Rendered, not redirected: the key is shown this once.
        Ok((_, Json(created))) => render_settings(&st, &c, true, Some(created.key), None).await,
        Err(e) => render_settings(&st, &c, false, None, Some(e)).await,
    }
}

pub async fn revoke_key(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    tri!(c, c.check_csrf(f.csrf.as_deref()));
    let result =
        crate::http::account::revoke_key(State(st.clone()), Auth(c.p.clone()), ApiPath(id)).await;
    settings_outcome(&st, &c, result, "keys").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_defused() {
        assert_eq!(defuse("plain"), "plain");
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("+966501234567"), "+966501234567");
        assert_eq!(defuse("+1+1"), "'+1+1");
        assert_eq!(defuse("-2"), "'-2");
    }
}
