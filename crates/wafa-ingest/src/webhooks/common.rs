//! Building blocks shared by the platform mappers.

use super::json::{money, quantity, rfc3339, text};
use super::{MapContext, MapError, StatusAt};
use serde_json::Value;
use wafa_domain::{Currency, OrderStatus, PaymentMethod};
use wafa_model::{ConsentInput, CustomerInput, IdentityInput, OrderLineInput, ProductInput};

/// A customer from its parts; identities in the order external id, email, phone.
pub(crate) struct Person {
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
}

impl Person {
    pub fn into_input(self, ctx: &MapContext) -> CustomerInput {
        let mut c = CustomerInput {
            first_name: self.first_name,
            last_name: self.last_name,
            ..Default::default()
        };
        if let Some(id) = self.external_id {
            c.identities.push(IdentityInput {
                kind: "external".into(),
                value: id,
                source_id: ctx.source_id,
                verified: false,
            });
        }
        if let Some(e) = self.email.filter(|e| e.contains('@')) {
            c.identities.push(IdentityInput {
                kind: "email".into(),
                value: e,
                source_id: None,
                verified: self.email_verified,
            });
        }
        if let Some(p) = self.phone.filter(|p| p.chars().any(|c| c.is_ascii_digit())) {
            c.identities.push(IdentityInput {
                kind: "phone".into(),
                value: p,
                source_id: None,
                verified: false,
            });
        }
        c
    }
}

/// Split "Mohammed Ali" into first and last name (first word / rest).
pub(crate) fn split_name(full: Option<String>) -> (Option<String>, Option<String>) {
    match full {
        None => (None, None),
        Some(f) => {
            let f = f.trim().to_owned();
            match f.split_once(char::is_whitespace) {
                Some((a, b)) if !b.trim().is_empty() => {
                    (Some(a.to_owned()), Some(b.trim().to_owned()))
                }
                _ => ((!f.is_empty()).then_some(f), None),
            }
        }
    }
}

pub(crate) fn consent(c: &mut CustomerInput, channel: &str, granted: bool, source: &str) {
    c.consents.retain(|x| x.channel != channel);
    c.consents.push(ConsentInput {
        channel: channel.into(),
        state: if granted { "granted" } else { "revoked" }.into(),
        source: Some(source.into()),
    });
}

pub(crate) fn has_identity(c: &CustomerInput) -> bool {
    !c.identities.is_empty()
}

/// One order/cart line and the product it is of.
#[allow(clippy::too_many_arguments)]
pub(crate) fn line(
    ctx: &MapContext,
    cur: Currency,
    field: &str,
    title: Option<String>,
    sku: Option<String>,
    qty: Option<&Value>,
    unit_price: Option<&Value>,
    product_external_id: Option<String>,
) -> Result<(OrderLineInput, Option<ProductInput>), MapError> {
    let quantity = quantity(qty, &format!("{field}.quantity"))?;
    let unit_price_minor = money(unit_price, cur, &format!("{field}.price"))?.unwrap_or(0);
    line_minor(
        ctx,
        cur,
        title,
        sku,
        quantity,
        unit_price_minor,
        product_external_id,
    )
}

pub(crate) fn line_minor(
    ctx: &MapContext,
    cur: Currency,
    title: Option<String>,
    sku: Option<String>,
    quantity: i64,
    unit_price_minor: i64,
    product_external_id: Option<String>,
) -> Result<(OrderLineInput, Option<ProductInput>), MapError> {
    let title = title
        .or_else(|| sku.clone())
        .unwrap_or_else(|| "item".to_owned());
    let product = product_external_id.map(|pid| ProductInput {
        source_id: ctx.source_id,
        external_id: Some(pid),
        sku: sku.clone(),
        title: title.clone(),
        title_ar: None,
        category: None,
        price_minor: unit_price_minor,
        currency: cur.code().to_owned(),
        url: None,
        image_url: None,
    });
    Ok((
        OrderLineInput {
            product_id: None,
            sku,
            title,
            quantity,
            unit_price_minor,
        },
        product,
    ))
}

/// The payment method wire name for a platform's method/gateway string.
pub(crate) fn payment(s: &str) -> String {
    PaymentMethod::parse_loose(s).as_str().to_owned()
}

/// A history from (status, time) evidence: ordered by time, then by rank; duplicates
/// removed; ending with `current` at `current_at`.
pub(crate) fn history(
    mut points: Vec<StatusAt>,
    current: OrderStatus,
    current_at: i64,
) -> Vec<StatusAt> {
    points.retain(|p| p.status != current);
    points.push(StatusAt {
        status: current,
        at: current_at,
    });
    points.sort_by_key(|p| (p.at, p.status.rank()));
    let mut out: Vec<StatusAt> = Vec::new();
    for p in points {
        if !out.iter().any(|q| q.status == p.status) {
            out.push(p);
        }
    }
    // The current status is last even when its evidence is older than another point.
    if let Some(i) = out.iter().position(|p| p.status == current) {
        let c = out.remove(i);
        out.push(c);
    }
    out
}

pub(crate) fn s(v: Option<&Value>) -> Option<String> {
    text(v)
}

pub(crate) fn placed(ms: i64) -> Option<String> {
    Some(rfc3339(ms))
}
