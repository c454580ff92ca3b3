//! The edge: raw API/CSV inputs become validated values before any storage code sees them.
//!
//! Why here and not in handlers: the HTTP API, the CSV importer, the demo loader and (later)
//! webhooks all create customers and orders; they share these functions so the rules are
//! the same whichever door the data came in by. Errors name the offending field.

use crate::error::{AppError, AppResult};
use serde_json::{Map, Value};
use wafa_domain::customer::{normalize_tag, parse_birthday};
use wafa_domain::time::parse_timestamp_ms;
use wafa_domain::{
    Channel, Consent, ConsentState, Currency, Email, ErrorCode, Language, OrderStatus,
    PaymentMethod, Phone, Region,
};
use wafa_model::{ConsentInput, CustomerInput, IdentityInput, OrderInput, ProductInput};

pub const MAX_NAME: usize = 200;
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    Email,
    Phone,
    External,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::External => "external",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValidIdentity {
    pub kind: IdentityKind,
    /// Email lower-cased, phone in E.164, external id as given (trimmed).
    pub value: String,
    /// 0 for email and phone.
    pub source_id: i64,
    pub verified: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ValidCustomer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub identities: Vec<ValidIdentity>,
    pub language: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<i64>,
    pub tags: Vec<String>,
    pub attributes: Map<String, Value>,
    pub consents: Vec<Consent>,
    pub created_at: Option<i64>,
}

/// Trimmed, bounded free text; empty becomes `None`.
pub fn text(field: &str, v: Option<&str>, max: usize) -> AppResult<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    let t = v.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(AppError::validation(field, "contains control characters"));
    }
    Ok(Some(t.to_owned()))
}

pub fn identity(i: &IdentityInput, region: Region) -> AppResult<ValidIdentity> {
    match i.kind.as_str() {
        "email" => Ok(ValidIdentity {
            kind: IdentityKind::Email,
            value: Email::parse(&i.value)?.as_str().to_owned(),
            source_id: 0,
            verified: i.verified,
        }),
        "phone" => Ok(ValidIdentity {
            kind: IdentityKind::Phone,
            value: Phone::parse(&i.value, region)?.as_str().to_owned(),
            source_id: 0,
            verified: i.verified,
        }),
        "external" => {
            let value = text("value", Some(&i.value), 200)?
                .ok_or_else(|| AppError::validation("value", "empty external id"))?;
            let source_id = i.source_id.ok_or_else(|| {
                AppError::validation("source_id", "external ids need a source_id")
            })?;
            // An external id is the source's own key: always authoritative.
            Ok(ValidIdentity {
                kind: IdentityKind::External,
                value,
                source_id,
                verified: true,
            })
        }
        other => Err(AppError::validation(
            "kind",
            format!("unknown identity kind {other:?} (email, phone, external)"),
        )),
    }
}

pub fn consent(c: &ConsentInput, now: i64) -> AppResult<Consent> {
    let channel = Channel::parse(&c.channel).ok_or_else(|| {
        AppError::validation(
            "channel",
            format!(
                "unknown channel {:?} (email, sms, whatsapp, push)",
                c.channel
            ),
        )
    })?;
    let state = ConsentState::parse(&c.state).ok_or_else(|| {
        AppError::validation(
            "state",
            format!(
                "unknown consent state {:?} (granted, revoked, unknown)",
                c.state
            ),
        )
    })?;
    Ok(Consent {
        channel,
        state,
        updated_at: now,
        source: text("source", c.source.as_deref(), 64)?,
    })
}

pub fn consents(list: &[ConsentInput], now: i64) -> AppResult<Vec<Consent>> {
    let mut out: Vec<Consent> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let c = consent(c, now).map_err(|e| e.at(&format!("consents[{i}]")))?;
        out.retain(|x| x.channel != c.channel);
        out.push(c);
    }
    Ok(out)
}

pub fn language(v: Option<&str>) -> AppResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Language::parse(s)
            .map(|l| Some(l.as_str().to_owned()))
            .ok_or_else(|| {
                AppError::validation("language", format!("unsupported language {s:?} (ar, en)"))
            }),
    }
}

pub fn country(v: Option<&str>) -> AppResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic()) => {
            Ok(Some(s.to_ascii_uppercase()))
        }
        Some(s) => Err(AppError::validation(
            "country",
            format!("{s:?} is not an ISO 3166-1 alpha-2 code"),
        )),
    }
}

pub fn gender(v: Option<&str>) -> AppResult<Option<String>> {
    match v
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(s) if ["male", "female", "other"].contains(&s.as_str()) => Ok(Some(s)),
        Some(s) => Err(AppError::validation(
            "gender",
            format!("{s:?}: use male, female or other"),
        )),
    }
}

pub fn birthday(v: Option<&str>) -> AppResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_birthday(s).map(Some).ok_or_else(|| {
            AppError::validation("birthday", format!("{s:?}: use YYYY-MM-DD or --MM-DD"))
        }),
    }
}

pub fn tags(list: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let t = normalize_tag(t).ok_or_else(|| {
            AppError::validation(&format!("tags[{i}]"), "tags are 1 to 64 characters")
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > 100 {
        return Err(AppError::validation("tags", "at most 100 tags"));
    }
    Ok(out)
}

pub fn attributes(m: &Map<String, Value>) -> AppResult<Map<String, Value>> {
    for k in m.keys() {
        if k.is_empty() || k.chars().count() > 64 {
            return Err(AppError::validation(
                "attributes",
                format!("key {k:?} must be 1 to 64 characters"),
            ));
        }
    }
    if Value::Object(m.clone()).to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(AppError::validation(
            "attributes",
            format!("larger than {MAX_ATTRIBUTES_BYTES} bytes"),
        ));
    }
    Ok(m.clone())
}

pub fn timestamp(field: &str, v: Option<&str>) -> AppResult<Option<i64>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_timestamp_ms(s).map(Some).ok_or_else(|| {
            AppError::validation(field, format!("{s:?} is not a date-time (use RFC 3339)"))
        }),
    }
}

pub fn customer(input: &CustomerInput, region: Region, now: i64) -> AppResult<ValidCustomer> {
    let mut identities: Vec<ValidIdentity> = Vec::new();
    let mut push = |v: ValidIdentity| {
        if let Some(existing) = identities
            .iter_mut()
            .find(|x| x.kind == v.kind && x.value == v.value && x.source_id == v.source_id)
        {
            existing.verified |= v.verified;
        } else {
            identities.push(v);
        }
    };
    if let Some(e) = input.email.as_deref().filter(|s| !s.trim().is_empty()) {
        push(ValidIdentity {
            kind: IdentityKind::Email,
            value: Email::parse(e)?.as_str().to_owned(),
            source_id: 0,
            verified: input.email_verified,
        });
    }
    if let Some(p) = input.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        push(ValidIdentity {
            kind: IdentityKind::Phone,
            value: Phone::parse(p, region)?.as_str().to_owned(),
            source_id: 0,
            verified: input.phone_verified,
        });
    }
    for (i, id) in input.identities.iter().enumerate() {
        push(identity(id, region).map_err(|e| e.at(&format!("identities[{i}]")))?);
    }
    if identities.len() > 50 {
        return Err(AppError::validation("identities", "at most 50 identities"));
    }
    Ok(ValidCustomer {
        first_name: text("first_name", input.first_name.as_deref(), MAX_NAME)?,
        last_name: text("last_name", input.last_name.as_deref(), MAX_NAME)?,
        identities,
        language: language(input.language.as_deref())?,
        birthday: birthday(input.birthday.as_deref())?,
        gender: gender(input.gender.as_deref())?,
        city: text("city", input.city.as_deref(), 100)?,
        country: country(input.country.as_deref())?,
        company_id: input.company_id,
        tags: tags(&input.tags)?,
        attributes: attributes(&input.attributes)?,
        consents: consents(&input.consents, now)?,
        created_at: timestamp("created_at", input.created_at.as_deref())?,
    })
}

#[derive(Debug, Clone)]
pub struct ValidLine {
    pub product_id: Option<i64>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone)]
pub struct ValidOrder {
    pub customer_id: i64,
    pub source_id: i64,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub currency: Currency,
    pub status: OrderStatus,
    pub payment_method: PaymentMethod,
    pub placed_at: i64,
    pub lines: Vec<ValidLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub city: Option<String>,
    /// Already refunded (imports of historical orders); 0 for new orders.
    pub refunded_minor: i64,
    pub return_reason: Option<String>,
}

fn non_negative(field: &str, v: i64) -> AppResult<i64> {
    if v < 0 {
        return Err(AppError::field(
            ErrorCode::InvalidAmount,
            field,
            "must not be negative",
        ));
    }
    Ok(v)
}

pub fn order_lines(lines: &[wafa_model::OrderLineInput]) -> AppResult<Vec<ValidLine>> {
    if lines.len() > 1000 {
        return Err(AppError::validation("lines", "at most 1000 lines"));
    }
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let at = |e: AppError| e.at(&format!("lines[{i}]"));
        if l.quantity <= 0 || l.quantity > 1_000_000 {
            return Err(at(AppError::field(
                ErrorCode::InvalidQuantity,
                "quantity",
                format!("{} is not a positive quantity", l.quantity),
            )));
        }
        let unit = non_negative("unit_price_minor", l.unit_price_minor).map_err(at)?;
        let total = unit.checked_mul(l.quantity).ok_or_else(|| {
            at(AppError::field(
                ErrorCode::InvalidAmount,
                "unit_price_minor",
                "amount too large",
            ))
        })?;
        out.push(ValidLine {
            product_id: l.product_id,
            sku: text("sku", l.sku.as_deref(), 100).map_err(at)?,
            title: text("title", Some(&l.title), 300)
                .map_err(at)?
                .unwrap_or_else(|| "—".to_owned()),
            quantity: l.quantity,
            unit_price_minor: unit,
            total_minor: total,
        });
    }
    Ok(out)
}

pub fn order(input: &OrderInput, now: i64) -> AppResult<ValidOrder> {
    let currency = Currency::parse(&input.currency)?;
    let status = match input.status.as_deref() {
        None => OrderStatus::Placed,
        Some(s) => OrderStatus::parse(s)
            .ok_or_else(|| AppError::validation("status", format!("unknown status {s:?}")))?,
    };
    let lines = order_lines(&input.lines)?;
    let subtotal = lines
        .iter()
        .try_fold(0i64, |acc, l| acc.checked_add(l.total_minor))
        .ok_or_else(|| AppError::field(ErrorCode::InvalidAmount, "lines", "amount too large"))?;
    let discount = non_negative("discount_minor", input.discount_minor)?;
    let shipping = non_negative("shipping_minor", input.shipping_minor)?;
    let tax = non_negative("tax_minor", input.tax_minor)?;
    let computed = subtotal
        .saturating_add(shipping)
        .saturating_add(tax)
        .saturating_sub(discount)
        .max(0);
    let total = match input.total_minor {
        Some(t) => non_negative("total_minor", t)?,
        None => computed,
    };
    Ok(ValidOrder {
        customer_id: input.customer_id,
        source_id: input.source_id.unwrap_or(0),
        external_id: text("external_id", input.external_id.as_deref(), 200)?,
        number: text("number", input.number.as_deref(), 64)?,
        currency,
        status,
        payment_method: input
            .payment_method
            .as_deref()
            .map(PaymentMethod::parse_loose)
            .unwrap_or(PaymentMethod::Other),
        placed_at: timestamp("placed_at", input.placed_at.as_deref())?.unwrap_or(now),
        lines,
        subtotal_minor: subtotal,
        discount_minor: discount,
        shipping_minor: shipping,
        tax_minor: tax,
        total_minor: total,
        city: text("city", input.city.as_deref(), 100)?,
        refunded_minor: 0,
        return_reason: None,
    })
}

pub fn product(input: &ProductInput) -> AppResult<(Currency, ProductInput)> {
    let currency = Currency::parse(&input.currency)?;
    non_negative("price_minor", input.price_minor)?;
    let mut p = input.clone();
    p.title = text("title", Some(&input.title), 300)?
        .ok_or_else(|| AppError::validation("title", "required"))?;
    p.title_ar = text("title_ar", input.title_ar.as_deref(), 300)?;
    p.sku = text("sku", input.sku.as_deref(), 100)?;
    p.external_id = text("external_id", input.external_id.as_deref(), 200)?;
    p.category = text("category", input.category.as_deref(), 100)?;
    p.url = text("url", input.url.as_deref(), 2000)?;
    p.image_url = text("image_url", input.image_url.as_deref(), 2000)?;
    p.currency = currency.code().to_owned();
    Ok((currency, p))
}

/// A validated [`wafa_model::CustomerPatch`]: `None` = leave, `Some(None)` = clear.
#[derive(Debug, Clone, Default)]
pub struct ValidPatch {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub birthday: Option<Option<String>>,
    pub gender: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub company_id: Option<Option<i64>>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<Map<String, Value>>,
    pub consents: Option<Vec<Consent>>,
    pub add_identities: Vec<ValidIdentity>,
}

impl ValidPatch {
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        let checks: [(&'static str, bool); 12] = [
            ("first_name", self.first_name.is_some()),
            ("last_name", self.last_name.is_some()),
            ("language", self.language.is_some()),
            ("birthday", self.birthday.is_some()),
            ("gender", self.gender.is_some()),
            ("city", self.city.is_some()),
            ("country", self.country.is_some()),
            ("company_id", self.company_id.is_some()),
            ("tags", self.tags.is_some()),
            ("attributes", self.attributes.is_some()),
            ("consents", self.consents.is_some()),
            ("identities", !self.add_identities.is_empty()),
        ];
        for (name, set) in checks {
            if set {
                f.push(name);
            }
        }
        f
    }
}

fn opt<T>(
    v: &Option<Option<String>>,
    f: impl Fn(Option<&str>) -> AppResult<Option<T>>,
) -> AppResult<Option<Option<T>>> {
    match v {
        None => Ok(None),
        Some(inner) => Ok(Some(f(inner.as_deref())?)),
    }
}

pub fn patch(p: &wafa_model::CustomerPatch, region: Region, now: i64) -> AppResult<ValidPatch> {
    let mut add = Vec::new();
    for (i, id) in p.add_identities.iter().enumerate() {
        add.push(identity(id, region).map_err(|e| e.at(&format!("add_identities[{i}]")))?);
    }
    Ok(ValidPatch {
        first_name: opt(&p.first_name, |v| text("first_name", v, MAX_NAME))?,
        last_name: opt(&p.last_name, |v| text("last_name", v, MAX_NAME))?,
        language: opt(&p.language, language)?,
        birthday: opt(&p.birthday, birthday)?,
        gender: opt(&p.gender, gender)?,
        city: opt(&p.city, |v| text("city", v, 100))?,
        country: opt(&p.country, country)?,
        company_id: p.company_id,
        tags: p.tags.as_ref().map(|t| tags(t)).transpose()?,
        attributes: p.attributes.as_ref().map(attributes).transpose()?,
        consents: p.consents.as_ref().map(|c| consents(c, now)).transpose()?,
        add_identities: add,
    })
}
