//! Monthly acquisition cohorts and headline retention metrics.
//!
//! A customer's cohort is the calendar month of their first purchase; month offset k counts
//! calendar months after it. Retention at k = customers of the cohort who bought in that month /
//! cohort size (offset 0 is 100% by definition). Revenue is all revenue of the cohort in that
//! month. These are descriptive statistics and need no model, so they work on any amount of data.

use crate::summary::{date_from_day_number, group_by_customer, Transaction};
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use std::hash::Hash;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    /// "YYYY-MM".
    pub cohort: String,
    pub customers: u32,
    /// Active customers per month offset (index 0 = acquisition month).
    pub active: Vec<u32>,
    pub retention: Vec<f64>,
    pub revenue_minor: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyMetrics {
    pub customers: u64,
    pub orders: u64,
    pub revenue_minor: i64,
    /// Share of customers with purchases on at least two different days.
    pub repeat_purchase_rate: f64,
    /// Days between consecutive purchase days of the same customer (None without repeats).
    pub mean_days_between_orders: Option<f64>,
    pub median_days_between_orders: Option<f64>,
    /// Revenue / orders (rows), in minor units.
    pub average_order_value_minor: f64,
}

fn month_index(day: i32) -> i32 {
    let d = date_from_day_number(day as i64);
    d.year() * 12 + d.month0() as i32
}

/// Monthly acquisition cohorts, oldest first. Offsets run up to the last month in the data.
pub fn monthly_cohorts<C: Hash + Eq>(transactions: &[Transaction<C>]) -> Vec<CohortRow> {
    if transactions.is_empty() {
        return Vec::new();
    }
    let g = group_by_customer(transactions);
    let last_month = month_index(g.max_day);
    let first_month = month_index(g.min_day);
    let n_cohorts = (last_month - first_month + 1) as usize;
    let mut rows: Vec<CohortRow> = (0..n_cohorts)
        .map(|i| {
            let m = first_month + i as i32;
            let width = n_cohorts - i;
            CohortRow {
                cohort: format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
                customers: 0,
                active: vec![0; width],
                retention: vec![0.0; width],
                revenue_minor: vec![0; width],
            }
        })
        .collect();
    for span in &g.customers {
        let slice = g.rows_of(span);
        let cohort_month = month_index(slice[0].0);
        let row = &mut rows[(cohort_month - first_month) as usize];
        row.customers += 1;
        let mut last_offset = -1i32;
        for &(day, amount) in slice {
            let offset = month_index(day) - cohort_month;
            let k = offset as usize;
            if k < row.revenue_minor.len() {
                row.revenue_minor[k] = row.revenue_minor[k].saturating_add(amount);
                if offset != last_offset {
                    row.active[k] += 1;
                    last_offset = offset;
                }
            }
        }
    }
    for row in &mut rows {
        if row.customers > 0 {
            for k in 0..row.active.len() {
                row.retention[k] = row.active[k] as f64 / row.customers as f64;
            }
        }
    }
    rows.retain(|r| r.customers > 0);
    rows
}

/// Headline metrics of a transaction log.
pub fn key_metrics<C: Hash + Eq>(transactions: &[Transaction<C>]) -> KeyMetrics {
    let g = group_by_customer(transactions);
    let mut gaps: Vec<i32> = Vec::new();
    let mut repeaters = 0u64;
    let mut revenue: i64 = 0;
    for span in &g.customers {
        let slice = g.rows_of(span);
        let mut prev: Option<i32> = None;
        let mut repeat = false;
        for &(day, amount) in slice {
            revenue = revenue.saturating_add(amount);
            if let Some(p) = prev {
                if day != p {
                    gaps.push(day - p);
                    repeat = true;
                }
            }
            prev = Some(day);
        }
        if repeat {
            repeaters += 1;
        }
    }
    let customers = g.customers.len() as u64;
    let orders = transactions.len() as u64;
    let (mean, median) = if gaps.is_empty() {
        (None, None)
    } else {
        let mean = gaps.iter().map(|&v| v as f64).sum::<f64>() / gaps.len() as f64;
        gaps.sort_unstable();
        let n = gaps.len();
        let median = if n % 2 == 1 {
            gaps[n / 2] as f64
        } else {
            (gaps[n / 2 - 1] as f64 + gaps[n / 2] as f64) / 2.0
        };
        (Some(mean), Some(median))
    };
    KeyMetrics {
        customers,
        orders,
        revenue_minor: revenue,
        repeat_purchase_rate: if customers > 0 {
            repeaters as f64 / customers as f64
        } else {
            0.0
        },
        mean_days_between_orders: mean,
        median_days_between_orders: median,
        average_order_value_minor: if orders > 0 {
            revenue as f64 / orders as f64
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn tx(c: &str, y: i32, m: u32, d: u32, a: i64) -> Transaction {
        Transaction {
            customer: c.into(),
            date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            amount_minor: a,
        }
    }

    #[test]
    fn cohorts_and_metrics() {
        let log = vec![
            tx("a", 2024, 1, 5, 100),
            tx("a", 2024, 1, 20, 50),
            tx("a", 2024, 3, 1, 70),
            tx("b", 2024, 1, 9, 10),
            tx("c", 2024, 2, 2, 30),
            tx("c", 2024, 2, 2, 30),
        ];
        let rows = monthly_cohorts(&log);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].cohort, "2024-01");
        assert_eq!(rows[0].customers, 2);
        assert_eq!(rows[0].active, vec![2, 0, 1]);
        assert_eq!(rows[0].revenue_minor, vec![160, 0, 70]);
        assert!((rows[0].retention[2] - 0.5).abs() < 1e-12);
        assert_eq!(rows[1].cohort, "2024-02");
        let k = key_metrics(&log);
        assert_eq!(k.customers, 3);
        assert!((k.repeat_purchase_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(k.median_days_between_orders, Some(28.0));
        assert!((k.average_order_value_minor - 290.0 / 6.0).abs() < 1e-12);
        assert!(monthly_cohorts::<String>(&[]).is_empty());
        assert_eq!(key_metrics::<String>(&[]).customers, 0);
    }
}
