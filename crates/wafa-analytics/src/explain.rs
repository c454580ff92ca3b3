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

fn ar_count(n: u64, one: &str, two: &str, few: &str, many: &str) -> String {
    match n {
        1 => one.to_string(),
        2 => two.to_string(),
        3..=10 => format!("{n} {few}"),
        _ => format!("{n} {many}"),
    }
}

/// "3 طلبات", "طلب واحد", "طلبان", "15 طلبًا".
pub fn ar_orders(n: u64) -> String {
    ar_count(n, "طلب واحد", "طلبان", "طلبات", "طلبًا")
}

/// Days after a preposition (قبل / كل / خلال): "يوم واحد", "يومين", "3 أيام", "140 يومًا".
pub fn ar_days(n: u64) -> String {
    ar_count(n, "يوم واحد", "يومين", "أيام", "يومًا")
}

/// Months after a preposition: "شهر واحد", "شهرين", "3 أشهر", "12 شهرًا".
pub fn ar_months(n: u64) -> String {
    ar_count(n, "شهر واحد", "شهرين", "أشهر", "شهرًا")
}

fn en_plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Build (English, Arabic) explanations.
pub fn explain(e: &ExplainInput) -> (String, String) {
    let days = e.days_since_last.max(0.0).round() as u64;
    let mut en = String::with_capacity(200);
    let mut ar = String::with_capacity(300);
    let _ = write!(
        en,
        "P(alive) {:.2}: {}",
        e.p_alive,
        en_plural(e.orders as u64, "order")
    );
    let _ = write!(
        ar,
        "احتمال أن يكون العميل نشطًا {:.2}: {}",
        e.p_alive,
        ar_orders(e.orders as u64)
    );
    let when_en = if days == 0 {
        "today".to_string()
    } else {
        format!("{} ago", en_plural(days, "day"))
    };
    let when_ar = if days == 0 {
        "اليوم".to_string()
    } else {
        format!("قبل {}", ar_days(days))
    };
    match e.usual_gap_days {
        Some(gap) if e.orders > 1 => {
            let gap_days = gap.round().max(1.0) as u64;
            let _ = write!(
                en,
                ", last one {when_en}, usually orders every {}",
                en_plural(gap_days, "day")
            );
            let _ = write!(ar, "، آخرها {when_ar}، ويطلب عادةً كل {}", ar_days(gap_days));
            if e.days_since_last > 2.0 * gap {
                en.push_str(" (overdue)");
                ar.push_str(" (متأخر عن موعده المعتاد)");
            }
        }
        _ => {
            let _ = write!(en, ", {when_en}, no repeat purchase yet");
            let _ = write!(ar, " {when_ar}، ولم يكرر الشراء بعد");
            if let Some(pop) = e.population_gap_days {
                let pop_days = pop.round().max(1.0) as u64;
                let _ = write!(
                    en,
                    " (repeat customers typically reorder every {})",
                    en_plural(pop_days, "day")
                );
                let _ = write!(ar, " (يعيد العملاء الشراء عادةً كل {})", ar_days(pop_days));
            }
        }
    }
    let _ = write!(
        en,
        ". Expected {:.2} orders in the next {} days; {}-month value ≈ {} ({}).",
        e.expected_purchases, e.expected_window_days, e.horizon_months, e.clv_text, e.segment_en
    );
    let _ = write!(
        ar,
        ". المتوقع {:.2} طلب خلال الأيام الـ{} القادمة؛ القيمة المتوقعة خلال {} ≈ {} ({}).",
        e.expected_purchases,
        e.expected_window_days,
        ar_months(e.horizon_months as u64),
        e.clv_text,
        e.segment_ar
    );
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
