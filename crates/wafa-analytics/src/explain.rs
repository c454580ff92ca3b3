//! Short bilingual (English / Arabic) reasons attached to every per-customer number, so a
//! merchant can see *why* a customer is "at risk" without knowing what BG/NBD is.
//!
//! Arabic uses Western digits (common in Gulf commerce UIs) with correct noun agreement for
//! counts (1 / 2 / 3–10 / 11+), which matters for the text reading naturally.

use std::fmt::Write;

/// What an explanation is built from (days are calendar days).
#[derive(Debug, Clone, Copy)]
pub struct ExplainInput<'a> {
    pub p_alive: f64,
    /// Purchase occasions including the first.
    pub orders: u32,
    pub days_since_last: f64,
    /// Customer's own mean days between purchase occasions (None for one-time buyers).
    pub usual_gap_days: Option<f64>,
    /// Population typical gap, used for one-time buyers.
    pub population_gap_days: Option<f64>,
    pub expected_purchases: f64,
    pub expected_window_days: u32,
    pub clv_text: &'a str,
    pub horizon_months: u32,
    pub segment_en: &'a str,
    pub segment_ar: &'a str,
    /// True when no model could be fitted and numbers are empirical estimates.
    pub empirical: bool,
}

/// Push an Arabic counted noun (after a preposition): 1 → `one`, 2 → `two`, 3–10 → "n few",
/// 11+ → "n many".
fn push_ar_count(out: &mut String, n: u64, one: &str, two: &str, few: &str, many: &str) {
    match n {
        1 => out.push_str(one),
        2 => out.push_str(two),
        3..=10 => {
            let _ = write!(out, "{n} {few}");
        }
        _ => {
            let _ = write!(out, "{n} {many}");
        }
    }
}

fn push_ar_orders(out: &mut String, n: u64) {
    push_ar_count(out, n, "طلب واحد", "طلبان", "طلبات", "طلبًا");
}

fn push_ar_days(out: &mut String, n: u64) {
    push_ar_count(out, n, "يوم واحد", "يومين", "أيام", "يومًا");
}

fn push_ar_months(out: &mut String, n: u64) {
    push_ar_count(out, n, "شهر واحد", "شهرين", "أشهر", "شهرًا");
}

/// "3 طلبات", "طلب واحد", "طلبان", "15 طلبًا".
pub fn ar_orders(n: u64) -> String {
    let mut s = String::new();
    push_ar_orders(&mut s, n);
    s
}

/// Days after a preposition (قبل / كل / خلال): "يوم واحد", "يومين", "3 أيام", "140 يومًا".
pub fn ar_days(n: u64) -> String {
    let mut s = String::new();
    push_ar_days(&mut s, n);
    s
}

/// Months after a preposition: "شهر واحد", "شهرين", "3 أشهر", "12 شهرًا".
pub fn ar_months(n: u64) -> String {
    let mut s = String::new();
    push_ar_months(&mut s, n);
    s
}

fn push_en_count(out: &mut String, n: u64, word: &str) {
    let _ = write!(out, "{n} {word}");
    if n != 1 {
        out.push('s');
    }
}

/// Two decimals without the float formatting machinery (values here are small and positive).
fn push_2dp(out: &mut String, v: f64) {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    let hundredths = (v * 100.0).round() as u64;
    let _ = write!(out, "{}.{:02}", hundredths / 100, hundredths % 100);
}

/// Build (English, Arabic) explanations.
pub fn explain(e: &ExplainInput) -> (String, String) {
    let days = e.days_since_last.max(0.0).round() as u64;
    let mut en = String::with_capacity(224);
    let mut ar = String::with_capacity(384);
    en.push_str("P(alive) ");
    push_2dp(&mut en, e.p_alive);
    en.push_str(": ");
    push_en_count(&mut en, e.orders as u64, "order");
    ar.push_str("احتمال أن يكون العميل نشطًا ");
    push_2dp(&mut ar, e.p_alive);
    ar.push_str(": ");
    push_ar_orders(&mut ar, e.orders as u64);
    let push_when_en = |en: &mut String| {
        if days == 0 {
            en.push_str("today");
        } else {
            push_en_count(en, days, "day");
            en.push_str(" ago");
        }
    };
    let push_when_ar = |ar: &mut String| {
        if days == 0 {
            ar.push_str("اليوم");
        } else {
            ar.push_str("قبل ");
            push_ar_days(ar, days);
        }
    };
    match e.usual_gap_days {
        Some(gap) if e.orders > 1 => {
            let gap_days = gap.round().max(1.0) as u64;
            en.push_str(", last one ");
            push_when_en(&mut en);
            en.push_str(", usually orders every ");
            push_en_count(&mut en, gap_days, "day");
            ar.push_str("، آخرها ");
            push_when_ar(&mut ar);
            ar.push_str("، ويطلب عادةً كل ");
            push_ar_days(&mut ar, gap_days);
            if e.days_since_last > 2.0 * gap {
                en.push_str(" (overdue)");
                ar.push_str(" (متأخر عن موعده المعتاد)");
            }
        }
        _ => {
            en.push_str(", ");
            push_when_en(&mut en);
            en.push_str(", no repeat purchase yet");
            ar.push(' ');
            push_when_ar(&mut ar);
            ar.push_str("، ولم يكرر الشراء بعد");
            if let Some(pop) = e.population_gap_days {
                let pop_days = pop.round().max(1.0) as u64;
                en.push_str(" (repeat customers typically reorder every ");
                push_en_count(&mut en, pop_days, "day");
                en.push(')');
                ar.push_str(" (يعيد العملاء الشراء عادةً كل ");
                push_ar_days(&mut ar, pop_days);
                ar.push(')');
            }
        }
    }
    en.push_str(". Expected ");
    push_2dp(&mut en, e.expected_purchases);
    let _ = write!(
        en,
        " orders in the next {} days; {}-month value ≈ {} ({}).",
        e.expected_window_days, e.horizon_months, e.clv_text, e.segment_en
    );
    ar.push_str(". المتوقع ");
    push_2dp(&mut ar, e.expected_purchases);
    let _ = write!(
        ar,
        " طلب خلال الأيام الـ{} القادمة؛ القيمة المتوقعة خلال ",
        e.expected_window_days
    );
    push_ar_months(&mut ar, e.horizon_months as u64);
    let _ = write!(ar, " ≈ {} ({}).", e.clv_text, e.segment_ar);
    if e.empirical {
        en.push_str(" Estimated from simple averages: too little data for a model.");
        ar.push_str(" تقدير من متوسطات بسيطة: البيانات غير كافية لبناء نموذج.");
    }
    (en, ar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_naturally_in_both_languages() {
        let (en, ar) = explain(&ExplainInput {
            p_alive: 0.31,
            orders: 3,
            days_since_last: 140.0,
            usual_gap_days: Some(45.0),
            population_gap_days: Some(38.0),
            expected_purchases: 0.42,
            expected_window_days: 90,
            clv_text: "230.50 SAR",
            horizon_months: 12,
            segment_en: "At risk",
            segment_ar: "معرّضون للخسارة",
            empirical: false,
        });
        assert!(
            en.starts_with("P(alive) 0.31: 3 orders, last one 140 days ago, usually orders every 45 days (overdue)"),
            "{en}"
        );
        assert!(
            ar.contains("3 طلبات، آخرها قبل 140 يومًا، ويطلب عادةً كل 45 يومًا"),
            "{ar}"
        );
        assert!(ar.contains("خلال 12 شهرًا"), "{ar}");
        assert_eq!(ar_days(2), "يومين");
        assert_eq!(ar_orders(1), "طلب واحد");
    }
}
