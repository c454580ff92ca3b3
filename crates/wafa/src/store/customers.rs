//! Customers, their identities, search, companies, notes and events.
//!
//! Identity resolution lives here because it must be atomic with the write: within one
//! transaction we look up which existing customer (if any) owns the incoming external id or
//! verified email/phone, and either update that customer or create a new one. If the
//! incoming record points at two different customers we refuse (409) rather than guess:
//! merging is a person's decision (see `merges.rs`).

pub(crate) use super::sql::Sql;
use super::timeline::{insert_timeline, TimelineWrite};
use super::{audit, json_col, now_ms, Store};
use crate::error::{AppError, AppResult};
use crate::validate::{IdentityKind, ValidCustomer, ValidIdentity};
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use wafa_domain::time::format_ms;
use wafa_domain::{Consent, Currency, ErrorCode, OrderStatus, PaymentMethod};
use wafa_model::{
    Company, CompanyInput, ConsentView, Customer, CustomerStats, Identity, MoneyView, Note,
};

/// What `upsert_customer` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub customer_id: i64,
    /// `created`, `external_id`, `email` or `phone`.
    pub resolution: &'static str,
    /// False when the customer existed and nothing about it changed (idempotent re-imports).
    pub changed: bool,
}

/// Filters for the customer list. All are optional and combine with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Name (Arabic-insensitive prefix per word), email, phone in any format, or external id.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<i64>,
    pub source_id: Option<i64>,
    /// Keyset pagination: only ids below this.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The upper bound of a prefix range: every string starting with `p` sorts below it.
pub(crate) fn prefix_end(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

const CUSTOMER_COLS: &str = "id, first_name, last_name, language, birthday, gender, city, country, company_id, tags, attributes, consents, orders_count, first_order_at, last_order_at, merged_into, created_at, updated_at";

fn company_from_row(r: &sqlx::any::AnyRow) -> Company {
    Company {
        id: r.get("id"),
        name: r.get("name"),
        domain: r.get("domain"),
        registration_number: r.get("registration_number"),
        created_at: format_ms(r.get("created_at")),
    }
}

fn consent_views(consents: &[Consent]) -> Vec<ConsentView> {
    consents
        .iter()
        .map(|c| ConsentView {
            channel: c.channel.as_str().to_owned(),
            state: c.state.as_str().to_owned(),
            updated_at: format_ms(c.updated_at),
            source: c.source.clone(),
        })
        .collect()
}

pub(crate) fn full_name(
    first: Option<&str>,
    last: Option<&str>,
    identities: &[Identity],
) -> String {
    let name = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        return name;
    }
    identities
        .iter()
        .find(|i| i.kind == "email")
        .or_else(|| identities.iter().find(|i| i.kind == "phone"))
        .map(|i| i.value.clone())
        .unwrap_or_else(|| "—".to_owned())
}

fn customer_from_row(
    r: &sqlx::any::AnyRow,
    identities: Vec<Identity>,
    stats: Option<CustomerStats>,
) -> Customer {
    let first: Option<String> = r.get("first_name");
    let last: Option<String> = r.get("last_name");
    let consents: Vec<Consent> = json_col(r, "consents");
    Customer {
        id: r.get("id"),
        full_name: full_name(first.as_deref(), last.as_deref(), &identities),
        first_name: first,
        last_name: last,
        identities,
        language: r.get("language"),
        birthday: r.get("birthday"),
        gender: r.get("gender"),
        city: r.get("city"),
        country: r.get("country"),
        company_id: r.get("company_id"),
        tags: json_col(r, "tags"),
        attributes: json_col(r, "attributes"),
        consents: consent_views(&consents),
        created_at: format_ms(r.get("created_at")),
        updated_at: format_ms(r.get("updated_at")),
        merged_into: r.get("merged_into"),
        stats,
        prediction: None,
    }
}

fn identity_from_row(r: &sqlx::any::AnyRow) -> Identity {
    Identity {
        id: r.get("id"),
        kind: r.get("kind"),
        value: r.get("value"),
        source_id: Some(r.get::<i64, _>("source_id")).filter(|s| *s != 0),
        verified: r.get::<i64, _>("verified") != 0,
    }
}

/// Rewrite a customer's name search terms and tag index rows.
pub(crate) async fn write_indexes(
    conn: &mut AnyConnection,
    workspace_id: i64,
    customer_id: i64,
    first: Option<&str>,
    last: Option<&str>,
    tags: &[String],
) -> AppResult<()> {
    sqlx::query("DELETE FROM customer_search_terms WHERE customer_id = $1")
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    let mut words = wafa_text::normalize::search_tokens(&format!(
        "{} {}",
        first.unwrap_or(""),
        last.unwrap_or("")
    ));
    words.truncate(20);
    for t in words {
        sqlx::query("INSERT INTO customer_search_terms (workspace_id, term, customer_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(workspace_id)
            .bind(t)
            .bind(customer_id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM customer_tags WHERE customer_id = $1")
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    for t in tags {
        sqlx::query("INSERT INTO customer_tags (workspace_id, tag, customer_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(workspace_id)
            .bind(t)
            .bind(customer_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn load_identities(
    conn: &mut AnyConnection,
    customer_id: i64,
) -> AppResult<Vec<Identity>> {
    let rows = sqlx::query("SELECT id, kind, value, source_id, verified FROM identities WHERE customer_id = $1 ORDER BY id")
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(identity_from_row).collect())
}

/// Identities of many customers in one query (no N+1 on list pages).
pub(crate) async fn load_identities_many(
    conn: &mut AnyConnection,
    customer_ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, Vec<Identity>>> {
    let mut out: std::collections::HashMap<i64, Vec<Identity>> = std::collections::HashMap::new();
    for chunk in customer_ids.chunks(200) {
        let mut q = Sql::new("SELECT id, customer_id, kind, value, source_id, verified FROM identities WHERE customer_id IN ");
        q.list(chunk.iter().copied()).push(" ORDER BY id");
        for r in q.query().fetch_all(&mut *conn).await? {
            out.entry(r.get("customer_id"))
                .or_default()
                .push(identity_from_row(&r));
        }
    }
    Ok(out)
}

/// Add an order row's (currency, status, payment_method, total_minor, refunded_minor) net
/// revenue to per-currency totals, if the domain's revenue rule counts it.
pub(crate) fn add_net_revenue(totals: &mut Vec<(String, i64)>, o: &sqlx::any::AnyRow) {
    let status = OrderStatus::parse(&o.get::<String, _>("status")).unwrap_or(OrderStatus::Placed);
    let method = PaymentMethod::parse_loose(&o.get::<String, _>("payment_method"));
    if !wafa_domain::order::counts_as_revenue(status, method, &[]) {
        return;
    }
    let net = o.get::<i64, _>("total_minor") - o.get::<i64, _>("refunded_minor");
    let cur: String = o.get("currency");
    match totals.iter_mut().find(|(c, _)| *c == cur) {
        Some((_, v)) => *v += net,
        None => totals.push((cur, net)),
    }
}

/// Net revenue per currency under the domain's revenue rule.
pub(crate) async fn customer_stats(
    conn: &mut AnyConnection,
    r: &sqlx::any::AnyRow,
) -> AppResult<CustomerStats> {
    let id: i64 = r.get("id");
    let rows = sqlx::query("SELECT currency, status, payment_method, total_minor, refunded_minor FROM orders WHERE customer_id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let mut totals: Vec<(String, i64)> = Vec::new();
    for o in &rows {
        add_net_revenue(&mut totals, o);
    }
    totals.sort();
    Ok(CustomerStats {
        orders_count: r.get("orders_count"),
        first_order_at: r.get::<Option<i64>, _>("first_order_at").map(format_ms),
        last_order_at: r.get::<Option<i64>, _>("last_order_at").map(format_ms),
        net_revenue: totals.into_iter().map(|(c, v)| money_view(&c, v)).collect(),
    })
}

pub(crate) fn money_view(currency: &str, minor: i64) -> MoneyView {
    let amount = Currency::parse(currency)
        .map(|c| c.format_amount(minor))
        .unwrap_or_else(|_| minor.to_string());
    MoneyView {
        currency: currency.to_owned(),
        amount_minor: minor,
        amount,
    }
}

/// Find who owns an identity: external ids and verified emails/phones only.
async fn owner_of(
    conn: &mut AnyConnection,
    workspace_id: i64,
    id: &ValidIdentity,
) -> AppResult<Option<i64>> {
    if id.kind != IdentityKind::External && !id.verified {
        return Ok(None);
    }
    let r = sqlx::query("SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND source_id = $3 AND value = $4 AND verified = 1")
        .bind(workspace_id)
        .bind(id.kind.as_str())
        .bind(id.source_id)
        .bind(&id.value)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|r| r.get("customer_id")))
}

/// Merge a new consent statement into the stored set; returns whether anything changed.
fn apply_consents(stored: &mut Vec<Consent>, incoming: &[Consent]) -> bool {
    let mut changed = false;
    for c in incoming {
        match stored.iter_mut().find(|s| s.channel == c.channel) {
            Some(s) if s.state == c.state => {}
            Some(s) => {
                *s = c.clone();
                changed = true;
            }
            None => {
                stored.push(c.clone());
                changed = true;
            }
        }
    }
    stored.sort_by_key(|c| c.channel);
    changed
}

/// How an upsert resolves and records itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpsertMode {
    /// Bulk imports from a merchant's own export: an email or phone held by exactly one
    /// customer resolves to that customer even when unverified, so re-importing a file
    /// (or importing orders after customers) finds the same people.
    pub loose: bool,
    /// Skip the per-customer audit record (the import writes one record for the run).
    pub quiet: bool,
}

/// Unverified fallback for imports: the one customer holding this email/phone, if exactly one.
async fn sole_holder(
    conn: &mut AnyConnection,
    workspace_id: i64,
    id: &ValidIdentity,
) -> AppResult<Option<i64>> {
    if id.kind == IdentityKind::External {
        return Ok(None);
    }
    let rows = sqlx::query("SELECT DISTINCT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3 LIMIT 2")
        .bind(workspace_id)
        .bind(id.kind.as_str())
        .bind(&id.value)
        .fetch_all(&mut *conn)
        .await?;
    Ok(if rows.len() == 1 {
        Some(rows[0].get("customer_id"))
    } else {
        None
    })
}

/// Create or update a customer by identity resolution, inside the caller's transaction.
pub(crate) async fn upsert_customer_tx(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    v: &ValidCustomer,
) -> AppResult<UpsertOutcome> {
    upsert_customer_mode(conn, workspace_id, actor, v, UpsertMode::default()).await
}

pub(crate) async fn upsert_customer_mode(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    v: &ValidCustomer,
    mode: UpsertMode,
) -> AppResult<UpsertOutcome> {
    let now = now_ms();
    if let Some(cid) = v.company_id {
        let ok = sqlx::query("SELECT id FROM companies WHERE id = $1 AND workspace_id = $2")
            .bind(cid)
            .bind(workspace_id)
            .fetch_optional(&mut *conn)
            .await?;
        if ok.is_none() {
            return Err(AppError::field(
                ErrorCode::ValidationFailed,
                "company_id",
                "no such company in this workspace",
            ));
        }
    }
    for id in v
        .identities
        .iter()
        .filter(|i| i.kind == IdentityKind::External)
    {
        ensure_source(&mut *conn, workspace_id, id.source_id).await?;
    }
    // Resolution order: external id, then verified email, then verified phone.
    let mut found: Vec<(i64, &'static str)> = Vec::new();
    let mut ordered: Vec<&ValidIdentity> = v.identities.iter().collect();
    ordered.sort_by_key(|i| match i.kind {
        IdentityKind::External => 0,
        IdentityKind::Email => 1,
        IdentityKind::Phone => 2,
    });
    for id in ordered {
        if let Some(owner) = owner_of(conn, workspace_id, id).await? {
            let how = match id.kind {
                IdentityKind::External => "external_id",
                IdentityKind::Email => "email",
                IdentityKind::Phone => "phone",
            };
            if !found.iter().any(|(c, _)| *c == owner) {
                found.push((owner, how));
            }
        }
    }
    if found.is_empty() && mode.loose {
        for id in &v.identities {
            if let Some(owner) = sole_holder(conn, workspace_id, id).await? {
                found.push((
                    owner,
                    if id.kind == IdentityKind::Email {
                        "email"
                    } else {
                        "phone"
                    },
                ));
                break;
            }
        }
    }
    if found.len() > 1 {
        let ids: Vec<i64> = found.iter().map(|(c, _)| *c).collect();
        return Err(AppError::new(
            ErrorCode::DuplicateIdentity,
            format!("the identities given belong to different customers {ids:?}; merge them first"),
        )
        .with_extra(json!({"customer_ids": ids})));
    }

    let (customer_id, resolution, mut changed) = match found.first() {
        None => {
            let created_at = v.created_at.unwrap_or(now);
            let id: i64 = sqlx::query("INSERT INTO customers (workspace_id, first_name, last_name, language, birthday, gender, city, country, company_id, tags, attributes, consents, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id")
                .bind(workspace_id)
                .bind(&v.first_name)
                .bind(&v.last_name)
                .bind(&v.language)
                .bind(&v.birthday)
                .bind(&v.gender)
                .bind(&v.city)
                .bind(&v.country)
                .bind(v.company_id)
                .bind(serde_json::to_string(&v.tags).unwrap_or_else(|_| "[]".into()))
                .bind(Value::Object(v.attributes.clone()).to_string())
                .bind(serde_json::to_string(&v.consents).unwrap_or_else(|_| "[]".into()))
                .bind(created_at)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?
                .get("id");
            write_indexes(
                conn,
                workspace_id,
                id,
                v.first_name.as_deref(),
                v.last_name.as_deref(),
                &v.tags,
            )
            .await?;
            insert_timeline(
                conn,
                &TimelineWrite {
                    workspace_id,
                    customer_id: id,
                    occurred_at: created_at,
                    kind: "customer_created",
                    ref_id: Some(id),
                    summary: "Customer created".into(),
                    data: json!({"by": actor}),
                },
            )
            .await?;
            (id, "created", true)
        }
        Some(&(id, how)) => {
            let r = sqlx::query(AssertSqlSafe(format!(
                "SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1"
            )))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            let pick = |new: &Option<String>, col: &str| -> Option<String> {
                new.clone().or_else(|| r.get::<Option<String>, _>(col))
            };
            let first = pick(&v.first_name, "first_name");
            let last = pick(&v.last_name, "last_name");
            let language = pick(&v.language, "language");
            let birthday = pick(&v.birthday, "birthday");
            let gender = pick(&v.gender, "gender");
            let city = pick(&v.city, "city");
            let country = pick(&v.country, "country");
            let company_id = v
                .company_id
                .or_else(|| r.get::<Option<i64>, _>("company_id"));
            let old_tags: Vec<String> = json_col(&r, "tags");
            let mut tags = old_tags.clone();
            for t in &v.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            let old_attrs: Map<String, Value> = json_col(&r, "attributes");
            let mut attrs = old_attrs.clone();
            for (k, val) in &v.attributes {
                attrs.insert(k.clone(), val.clone());
            }
            let mut consents: Vec<Consent> = json_col(&r, "consents");
            let consent_changed = apply_consents(&mut consents, &v.consents);
            let changed = first != r.get::<Option<String>, _>("first_name")
                || last != r.get::<Option<String>, _>("last_name")
                || language != r.get::<Option<String>, _>("language")
                || birthday != r.get::<Option<String>, _>("birthday")
                || gender != r.get::<Option<String>, _>("gender")
                || city != r.get::<Option<String>, _>("city")
                || country != r.get::<Option<String>, _>("country")
                || company_id != r.get::<Option<i64>, _>("company_id")
                || tags != old_tags
                || attrs != old_attrs
                || consent_changed;
            if changed {
                sqlx::query("UPDATE customers SET first_name = $2, last_name = $3, language = $4, birthday = $5, gender = $6, city = $7, country = $8, company_id = $9, tags = $10, attributes = $11, consents = $12, updated_at = $13 WHERE id = $1")
                    .bind(id)
                    .bind(&first)
                    .bind(&last)
                    .bind(&language)
                    .bind(&birthday)
                    .bind(&gender)
                    .bind(&city)
                    .bind(&country)
                    .bind(company_id)
                    .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
                    .bind(Value::Object(attrs).to_string())
                    .bind(serde_json::to_string(&consents).unwrap_or_else(|_| "[]".into()))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                write_indexes(
                    conn,
                    workspace_id,
                    id,
                    first.as_deref(),
                    last.as_deref(),
                    &tags,
                )
                .await?;
            }
            (id, how, changed)
        }
    };

    // Attach identities the customer does not have yet; upgrade verification.
    let existing = load_identities(conn, customer_id).await?;
    for id in &v.identities {
        let same = existing.iter().find(|e| {
            e.kind == id.kind.as_str()
                && e.value == id.value
                && e.source_id.unwrap_or(0) == id.source_id
        });
        match same {
            Some(e) if e.verified || !id.verified => {}
            Some(e) => {
                sqlx::query("UPDATE identities SET verified = 1 WHERE id = $1")
                    .bind(e.id)
                    .execute(&mut *conn)
                    .await?;
                changed = true;
            }
            None => {
                sqlx::query("INSERT INTO identities (workspace_id, customer_id, kind, value, source_id, verified, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(workspace_id)
                    .bind(customer_id)
                    .bind(id.kind.as_str())
                    .bind(&id.value)
                    .bind(id.source_id)
                    .bind(id.verified as i64)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                changed = true;
            }
        }
    }
    if changed && resolution != "created" {
        sqlx::query("UPDATE customers SET updated_at = $2 WHERE id = $1")
            .bind(customer_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    if changed && !mode.quiet {
        let action = if resolution == "created" {
            "customer.create"
        } else {
            "customer.update"
        };
        audit(
            conn,
            workspace_id,
            actor,
            action,
            "customer",
            Some(customer_id),
            json!({"resolution": resolution}),
        )
        .await?;
    }
    Ok(UpsertOutcome {
        customer_id,
        resolution,
        changed,
    })
}

impl Store {
    pub async fn upsert_customer(
        &self,
        workspace_id: i64,
        actor: &str,
        v: &ValidCustomer,
    ) -> AppResult<UpsertOutcome> {
        let mut tx = self.write.begin().await?;
        let out = upsert_customer_tx(&mut tx, workspace_id, actor, v).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// A customer with identities and stats. A merged-away customer is still readable (its
    /// `merged_into` says where it went).
    pub async fn get_customer(&self, workspace_id: i64, id: i64) -> AppResult<Customer> {
        let mut conn = self.read.acquire().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))?;
        let identities = load_identities(&mut conn, id).await?;
        let stats = customer_stats(&mut conn, &r).await?;
        drop(conn);
        let mut c = customer_from_row(&r, identities, Some(stats));
        c.prediction = self.prediction(workspace_id, id).await?;
        Ok(c)
    }

    pub async fn customer_exists(&self, workspace_id: i64, id: i64) -> AppResult<()> {
        sqlx::query(
            "SELECT id FROM customers WHERE id = $1 AND workspace_id = $2 AND merged_into IS NULL",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.read)
        .await?
        .map(|_| ())
        .ok_or_else(|| AppError::not_found("customer"))
    }

    /// List or search customers, newest first. See [`CustomerFilter`].
    pub async fn list_customers(
        &self,
        workspace_id: i64,
        region: wafa_domain::Region,
        f: &CustomerFilter,
    ) -> AppResult<Vec<Customer>> {
        if let Some(ids) = self.one_word_search(workspace_id, region, f).await? {
            return self.customers_by_ids(workspace_id, &ids).await;
        }
        let mut q = Sql::new(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.workspace_id = "
        ));
        q.int(workspace_id).push(" AND c.merged_into IS NULL");
        if let Some(before) = f.before_id {
            q.push(" AND c.id < ").int(before);
        }
        push_tag_city(&mut q, workspace_id, f.tag.as_deref(), f.city.as_deref());
        if let Some(country) = &f.country {
            q.push(" AND c.country = ")
                .text(country.to_ascii_uppercase());
        }
        if let Some(company) = f.company_id {
            q.push(" AND c.company_id = ").int(company);
        }
        if let Some(source) = f.source_id {
            q.push(" AND c.id IN (SELECT customer_id FROM identities WHERE workspace_id = ")
                .int(workspace_id)
                .push(" AND kind = 'external' AND source_id = ")
                .int(source)
                .push(")");
        }
        if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            push_search(&mut q, workspace_id, region, text);
        }
        q.push(" ORDER BY c.id DESC LIMIT ").int(f.limit);
        let mut conn = self.read.acquire().await?;
        let rows = q.query().fetch_all(&mut *conn).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
        let mut identities = load_identities_many(&mut conn, &ids).await?;
        Ok(rows
            .iter()
            .map(|r| {
                customer_from_row(
                    r,
                    identities
                        .remove(&r.get::<i64, _>("id"))
                        .unwrap_or_default(),
                    None,
                )
            })
            .collect())
    }

    /// Name search without collecting every match: a first name like محمد matches a tenth of
    /// a store, so `IN (all matches)` costs 100+ ms at a million customers. Instead, each word
    /// is expanded to the (few) indexed words it is a prefix of; the rarest word drives, its
    /// customer ids walked newest first in index order, and candidates are checked against
    /// the other words by their own indexed words. `None` when the filter has other parts, or
    /// a prefix covers too many words to walk (then the general query runs).
    async fn one_word_search(
        &self,
        workspace_id: i64,
        region: wafa_domain::Region,
        f: &CustomerFilter,
    ) -> AppResult<Option<Vec<i64>>> {
        let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if f.tag.is_some()
            || f.city.is_some()
            || f.country.is_some()
            || f.company_id.is_some()
            || f.source_id.is_some()
        {
            return Ok(None);
        }
        let before = f.before_id.unwrap_or(i64::MAX);
        let mut conn = self.read.acquire().await?;
        let mut found: Vec<i64> = Vec::new();
        // Identities: an email (prefix), a phone in any format, an external id.
        let is_email = text.contains('@');
        let phone = if text.chars().filter(|c| c.is_numeric()).count() >= 6 {
            wafa_domain::Phone::parse(text, region).ok()
        } else {
            None
        };
        let mut id_queries: Vec<(&str, String, Option<String>)> =
            vec![("external", text.to_owned(), None)];
        if is_email {
            let e = text.to_lowercase();
            id_queries.push(("email", e.clone(), Some(prefix_end(&e))));
        }
        if let Some(p) = &phone {
            id_queries.push(("phone", p.as_str().to_owned(), None));
        }
        for (kind, from, to) in id_queries {
            let rows = match to {
                Some(to) => sqlx::query("SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value >= $3 AND value < $4 AND customer_id < $5 LIMIT 1000")
                    .bind(workspace_id)
                    .bind(kind)
                    .bind(&from)
                    .bind(&to)
                    .bind(before)
                    .fetch_all(&mut *conn)
                    .await?,
                None => sqlx::query("SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3 AND customer_id < $4")
                    .bind(workspace_id)
                    .bind(kind)
                    .bind(&from)
                    .bind(before)
                    .fetch_all(&mut *conn)
                    .await?,
            };
            found.extend(rows.iter().map(|r| r.get::<i64, _>("customer_id")));
        }
        let tokens = if is_email || phone.is_some() {
            Vec::new()
        } else {
            wafa_text::normalize::search_tokens(text)
        };
        if tokens.len() > 5 {
            return Ok(None);
        }
        // Each word → the indexed words it prefixes (one index seek each), and a capped count.
        const CAP: i64 = 5000;
        let mut words: Vec<(String, Vec<String>, i64)> = Vec::new();
        for token in &tokens {
            let end = prefix_end(token);
            let mut terms: Vec<String> = Vec::new();
            let mut from = token.clone();
            let mut inclusive = true;
            loop {
                let op = if inclusive { ">=" } else { ">" };
                let r = sqlx::query(AssertSqlSafe(format!("SELECT term FROM customer_search_terms WHERE workspace_id = $1 AND term {op} $2 AND term < $3 ORDER BY term LIMIT 1")))
                    .bind(workspace_id)
                    .bind(&from)
                    .bind(&end)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(r) = r else { break };
                let t: String = r.get("term");
                terms.push(t.clone());
                if terms.len() > 30 {
                    return Ok(None);
                }
                from = t;
                inclusive = false;
            }
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM customer_search_terms WHERE workspace_id = $1 AND term >= $2 AND term < $3 LIMIT $4) AS capped")
                .bind(workspace_id)
                .bind(token)
                .bind(&end)
                .bind(CAP)
                .fetch_one(&mut *conn)
                .await?
                .get("n");
            words.push((token.clone(), terms, n));
        }
        words.sort_by_key(|w| w.2);
        let driver_terms: Vec<String> = words.first().map(|w| w.1.clone()).unwrap_or_default();
        let others: Vec<String> = words.iter().skip(1).map(|w| w.0.clone()).collect();
        let limit = f.limit.max(0) as usize;
        let mut cursor = before;
        let mut named = 0usize;
        const PAGE: i64 = 500;
        while named < limit && !driver_terms.is_empty() {
            let mut page: Vec<i64> = Vec::new();
            for t in &driver_terms {
                let rows = sqlx::query("SELECT customer_id FROM customer_search_terms WHERE workspace_id = $1 AND term = $2 AND customer_id < $3 ORDER BY customer_id DESC LIMIT $4")
                    .bind(workspace_id)
                    .bind(t)
                    .bind(cursor)
                    .bind(PAGE)
                    .fetch_all(&mut *conn)
                    .await?;
                page.extend(rows.iter().map(|r| r.get::<i64, _>("customer_id")));
            }
            page.sort_unstable_by(|a, b| b.cmp(a));
            page.dedup();
            page.truncate(PAGE as usize);
            let Some(&last) = page.last() else { break };
            let keep = if others.is_empty() {
                page
            } else {
                // Every other word must prefix one of the candidate's indexed words.
                let mut q = Sql::new(
                    "SELECT customer_id, term FROM customer_search_terms WHERE customer_id IN ",
                );
                q.list(page.iter().copied());
                let rows = q.query().fetch_all(&mut *conn).await?;
                let mut by_customer: std::collections::HashMap<i64, Vec<String>> =
                    std::collections::HashMap::new();
                for r in &rows {
                    by_customer
                        .entry(r.get("customer_id"))
                        .or_default()
                        .push(r.get("term"));
                }
                page.into_iter()
                    .filter(|c| {
                        others.iter().all(|w| {
                            by_customer
                                .get(c)
                                .map(|ts| ts.iter().any(|t| t.starts_with(w.as_str())))
                                .unwrap_or(false)
                        })
                    })
                    .collect()
            };
            named += keep.len();
            found.extend(keep);
            cursor = last;
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.dedup();
        found.truncate(limit);
        Ok(Some(found))
    }

    /// Live customers with these ids, newest first.
    pub(crate) async fn customers_by_ids(
        &self,
        workspace_id: i64,
        ids: &[i64],
    ) -> AppResult<Vec<Customer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.workspace_id = "
        ));
        q.int(workspace_id)
            .push(" AND c.merged_into IS NULL AND c.id IN ")
            .list(ids.iter().copied())
            .push(" ORDER BY c.id DESC");
        let mut conn = self.read.acquire().await?;
        let rows = q.query().fetch_all(&mut *conn).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
        let mut identities = load_identities_many(&mut conn, &ids).await?;
        Ok(rows
            .iter()
            .map(|r| {
                customer_from_row(
                    r,
                    identities
                        .remove(&r.get::<i64, _>("id"))
                        .unwrap_or_default(),
                    None,
                )
            })
            .collect())
    }

    pub async fn patch_customer(
        &self,
        workspace_id: i64,
        actor: &str,
        id: i64,
        patch: crate::validate::ValidPatch,
    ) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))?;
        if let Some(into) = r.get::<Option<i64>, _>("merged_into") {
            return Err(AppError::new(
                ErrorCode::AlreadyMerged,
                format!("customer {id} was merged into {into}"),
            )
            .with_extra(json!({"merged_into": into})));
        }
        let keep = |p: &Option<Option<String>>, col: &str| -> Option<String> {
            match p {
                Some(v) => v.clone(),
                None => r.get::<Option<String>, _>(col),
            }
        };
        let first = keep(&patch.first_name, "first_name");
        let last = keep(&patch.last_name, "last_name");
        let company_id = match patch.company_id {
            Some(v) => v,
            None => r.get::<Option<i64>, _>("company_id"),
        };
        if let Some(cid) = company_id {
            let ok = sqlx::query("SELECT id FROM companies WHERE id = $1 AND workspace_id = $2")
                .bind(cid)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await?;
            if ok.is_none() {
                return Err(AppError::field(
                    ErrorCode::ValidationFailed,
                    "company_id",
                    "no such company in this workspace",
                ));
            }
        }
        let tags: Vec<String> = patch.tags.clone().unwrap_or_else(|| json_col(&r, "tags"));
        let mut attrs: Map<String, Value> = json_col(&r, "attributes");
        if let Some(a) = &patch.attributes {
            for (k, v) in a {
                if v.is_null() {
                    attrs.remove(k);
                } else {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            if Value::Object(attrs.clone()).to_string().len()
                > crate::validate::MAX_ATTRIBUTES_BYTES
            {
                return Err(AppError::validation("attributes", "attributes too large"));
            }
        }
        let mut consents: Vec<Consent> = json_col(&r, "consents");
        if let Some(c) = &patch.consents {
            apply_consents(&mut consents, c);
        }
        sqlx::query("UPDATE customers SET first_name = $2, last_name = $3, language = $4, birthday = $5, gender = $6, city = $7, country = $8, company_id = $9, tags = $10, attributes = $11, consents = $12, updated_at = $13 WHERE id = $1")
            .bind(id)
            .bind(&first)
            .bind(&last)
            .bind(keep(&patch.language, "language"))
            .bind(keep(&patch.birthday, "birthday"))
            .bind(keep(&patch.gender, "gender"))
            .bind(keep(&patch.city, "city"))
            .bind(keep(&patch.country, "country"))
            .bind(company_id)
            .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
            .bind(Value::Object(attrs).to_string())
            .bind(serde_json::to_string(&consents).unwrap_or_else(|_| "[]".into()))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        write_indexes(
            &mut tx,
            workspace_id,
            id,
            first.as_deref(),
            last.as_deref(),
            &tags,
        )
        .await?;
        for ident in &patch.add_identities {
            if let Some(owner) = owner_of(&mut tx, workspace_id, ident).await? {
                if owner != id {
                    return Err(AppError::new(
                        ErrorCode::DuplicateIdentity,
                        format!(
                            "{} {} belongs to customer {owner}",
                            ident.kind.as_str(),
                            ident.value
                        ),
                    )
                    .with_extra(json!({"customer_ids": [owner]})));
                }
                continue;
            }
            if ident.kind == IdentityKind::External {
                ensure_source(&mut tx, workspace_id, ident.source_id).await?;
            }
            sqlx::query("INSERT INTO identities (workspace_id, customer_id, kind, value, source_id, verified, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(workspace_id)
                .bind(id)
                .bind(ident.kind.as_str())
                .bind(&ident.value)
                .bind(ident.source_id)
                .bind(ident.verified as i64)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        audit(
            &mut tx,
            workspace_id,
            actor,
            "customer.update",
            "customer",
            Some(id),
            json!({"fields": patch.changed_fields()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_company(
        &self,
        workspace_id: i64,
        actor: &str,
        input: &CompanyInput,
    ) -> AppResult<Company> {
        let name = crate::validate::text("name", Some(&input.name), 200)?
            .ok_or_else(|| AppError::validation("name", "required"))?;
        let domain = crate::validate::text("domain", input.domain.as_deref(), 200)?;
        let reg = crate::validate::text(
            "registration_number",
            input.registration_number.as_deref(),
            64,
        )?;
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO companies (workspace_id, name, domain, registration_number, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(workspace_id)
            .bind(&name)
            .bind(&domain)
            .bind(&reg)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .get("id");
        audit(
            &mut tx,
            workspace_id,
            actor,
            "company.create",
            "company",
            Some(id),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(Company {
            id,
            name,
            domain,
            registration_number: reg,
            created_at: format_ms(now),
        })
    }

    pub async fn get_company(&self, workspace_id: i64, id: i64) -> AppResult<Company> {
        let r = sqlx::query("SELECT id, name, domain, registration_number, created_at FROM companies WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| AppError::not_found("company"))?;
        Ok(company_from_row(&r))
    }

    pub async fn list_companies(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<Company>> {
        let rows = sqlx::query("SELECT id, name, domain, registration_number, created_at FROM companies WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(workspace_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(company_from_row).collect())
    }

    pub async fn add_note(
        &self,
        workspace_id: i64,
        actor: &str,
        author_user_id: Option<i64>,
        customer_id: i64,
        body: &str,
    ) -> AppResult<Note> {
        let body = crate::validate::text("body", Some(body), 10_000)?
            .ok_or_else(|| AppError::validation("body", "a note cannot be empty"))?;
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        live_customer(&mut tx, workspace_id, customer_id).await?;
        let id = insert_note(
            &mut tx,
            workspace_id,
            customer_id,
            &body,
            author_user_id,
            now,
        )
        .await?;
        audit(
            &mut tx,
            workspace_id,
            actor,
            "note.create",
            "customer",
            Some(customer_id),
            json!({"note_id": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(Note {
            id,
            customer_id,
            body,
            author_user_id,
            created_at: format_ms(now),
        })
    }

    pub async fn list_notes(
        &self,
        workspace_id: i64,
        customer_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<Note>> {
        let rows = sqlx::query("SELECT id, customer_id, body, author_user_id, created_at FROM notes WHERE workspace_id = $1 AND customer_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4")
            .bind(workspace_id)
            .bind(customer_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Note {
                id: r.get("id"),
                customer_id: r.get("customer_id"),
                body: r.get("body"),
                author_user_id: r.get("author_user_id"),
                created_at: format_ms(r.get("created_at")),
            })
            .collect())
    }

    pub async fn add_event(
        &self,
        workspace_id: i64,
        actor: &str,
        customer_id: i64,
        name: &str,
        properties: &Map<String, Value>,
        occurred_at: i64,
    ) -> AppResult<i64> {
        let name = crate::validate::text("name", Some(name), 200)?
            .ok_or_else(|| AppError::validation("name", "required"))?;
        let props = Value::Object(properties.clone()).to_string();
        if props.len() > 32 * 1024 {
            return Err(AppError::validation("properties", "larger than 32 KiB"));
        }
        let mut tx = self.write.begin().await?;
        live_customer(&mut tx, workspace_id, customer_id).await?;
        let id: i64 = sqlx::query("INSERT INTO events (workspace_id, customer_id, name, properties, occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(workspace_id)
            .bind(customer_id)
            .bind(&name)
            .bind(&props)
            .bind(occurred_at)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?
            .get("id");
        insert_timeline(
            &mut tx,
            &TimelineWrite {
                workspace_id,
                customer_id,
                occurred_at,
                kind: "event",
                ref_id: Some(id),
                summary: name.clone(),
                data: json!({"name": name, "properties": properties, "by": actor}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

pub(crate) async fn insert_note(
    conn: &mut AnyConnection,
    workspace_id: i64,
    customer_id: i64,
    body: &str,
    author: Option<i64>,
    at: i64,
) -> AppResult<i64> {
    let id: i64 = sqlx::query("INSERT INTO notes (workspace_id, customer_id, body, author_user_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(workspace_id)
        .bind(customer_id)
        .bind(body)
        .bind(author)
        .bind(at)
        .fetch_one(&mut *conn)
        .await?
        .get("id");
    super::texts::tag_text(conn, workspace_id, customer_id, "note", Some(id), at, body).await?;
    let summary: String = body.chars().take(140).collect();
    insert_timeline(
        conn,
        &TimelineWrite {
            workspace_id,
            customer_id,
            occurred_at: at,
            kind: "note",
            ref_id: Some(id),
            summary,
            data: json!({"author_user_id": author}),
        },
    )
    .await?;
    Ok(id)
}

/// Fail (422, on the `source_id` field) unless the source belongs to this workspace.
pub(crate) async fn ensure_source(
    conn: &mut AnyConnection,
    workspace_id: i64,
    source_id: i64,
) -> AppResult<()> {
    let found = sqlx::query("SELECT id FROM sources WHERE id = $1 AND workspace_id = $2")
        .bind(source_id)
        .bind(workspace_id)
        .fetch_optional(&mut *conn)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(AppError::field(
            ErrorCode::ValidationFailed,
            "source_id",
            format!("no source {source_id} in this workspace"),
        )),
    }
}

/// Fail with 404 unless the customer exists in this workspace, and 409 if it was merged away.
pub(crate) async fn live_customer(
    conn: &mut AnyConnection,
    workspace_id: i64,
    id: i64,
) -> AppResult<()> {
    let r = sqlx::query("SELECT merged_into FROM customers WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))?;
    if let Some(into) = r.get::<Option<i64>, _>("merged_into") {
        return Err(AppError::new(
            ErrorCode::AlreadyMerged,
            format!("customer {id} was merged into {into}"),
        )
        .with_extra(json!({"merged_into": into})));
    }
    Ok(())
}

/// The list filters the API and the console share: customers carrying `tag`, living in
/// `city` (the caller's query selects customers as `c`).
pub(crate) fn push_tag_city(q: &mut Sql, workspace_id: i64, tag: Option<&str>, city: Option<&str>) {
    if let Some(tag) = tag {
        q.push(" AND c.id IN (SELECT customer_id FROM customer_tags WHERE workspace_id = ")
            .int(workspace_id)
            .push(" AND tag = ")
            .text(tag)
            .push(")");
    }
    if let Some(city) = city {
        q.push(" AND c.city = ").text(city);
    }
}

/// Search: a customer matches if its email starts with the text, its phone equals the text
/// read as a phone number, an external id equals the text, or every word of the text is the
/// start of a word of its (normalised) name.
pub(crate) fn push_search(q: &mut Sql, workspace_id: i64, region: wafa_domain::Region, text: &str) {
    q.push(" AND (");
    let mut any = false;
    if text.contains('@') {
        let e = text.to_lowercase();
        q.push("c.id IN (SELECT customer_id FROM identities WHERE workspace_id = ")
            .int(workspace_id);
        q.push(" AND kind = 'email' AND value >= ")
            .text(e.clone())
            .push(" AND value < ")
            .text(prefix_end(&e))
            .push(")");
        any = true;
    }
    let digits = text.chars().filter(|c| c.is_numeric()).count();
    if digits >= 6 {
        if let Ok(phone) = wafa_domain::Phone::parse(text, region) {
            if any {
                q.push(" OR ");
            }
            q.push("c.id IN (SELECT customer_id FROM identities WHERE workspace_id = ")
                .int(workspace_id);
            q.push(" AND kind = 'phone' AND value = ")
                .text(phone.as_str().to_owned())
                .push(")");
            any = true;
        }
    }
    if any {
        q.push(" OR ");
    }
    q.push("c.id IN (SELECT customer_id FROM identities WHERE workspace_id = ")
        .int(workspace_id);
    q.push(" AND kind = 'external' AND value = ")
        .text(text.to_owned())
        .push(")");
    let tokens = wafa_text::normalize::search_tokens(text);
    if !tokens.is_empty() && !text.contains('@') {
        q.push(" OR (");
        for (i, t) in tokens.iter().take(5).enumerate() {
            if i > 0 {
                q.push(" AND ");
            }
            q.push("c.id IN (SELECT customer_id FROM customer_search_terms WHERE workspace_id = ")
                .int(workspace_id);
            q.push(" AND term >= ")
                .text(t.clone())
                .push(" AND term < ")
                .text(prefix_end(t))
                .push(")");
        }
        q.push(")");
    }
    q.push(")");
}
