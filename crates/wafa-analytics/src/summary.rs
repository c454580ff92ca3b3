//! Transaction log → per-customer (frequency, recency, T, monetary) summaries.
//!
//! Conventions follow the BG/NBD literature and Python `lifetimes`
//! (`summary_data_from_transaction_data`), so fitted parameters are comparable:
//! * all purchases on the same calendar day are merged into one purchase occasion;
//! * `frequency` counts *repeat* occasions (the first purchase is excluded);
//! * `recency` is the age of the customer at the last occasion (0 if no repeats), `t` the age at
//!   the end of the calibration period, both in the chosen [`TimeUnit`] (weeks are continuous
//!   7-day weeks, so fractional);
//! * `monetary` is the mean value of the repeat occasions (0 if none), as Gamma-Gamma expects.
//!
//! Revenue rules (only paid, non-refunded orders; cash-on-delivery counted once delivered) are the
//! caller's job: pass only transactions that count as revenue.
//!
//! Why this implementation: it must summarise 10M rows in well under a second. Customers are
//! mapped to dense indices with a fast non-cryptographic hash, rows are bucketed per customer by
//! a counting sort, and each customer's handful of rows is sorted locally.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// One revenue-counting purchase. `amount_minor` is in minor currency units (cents, halalas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction<C = String> {
    pub customer: C,
    pub date: NaiveDate,
    pub amount_minor: i64,
}

/// Time unit of recency/T and of model rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Day,
    #[default]
    Week,
}

impl TimeUnit {
    /// Number of days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
        }
    }
}

/// How to summarise a transaction log.
#[derive(Debug, Clone, Default)]
pub struct SummaryOptions {
    pub time_unit: TimeUnit,
    /// Last day of the calibration period (inclusive). Customers first seen after it are
    /// dropped; later purchases go to the holdout columns. `None`: everything is calibration.
    pub calibration_end: Option<NaiveDate>,
    /// End of observation (inclusive). Defaults to the latest transaction date.
    pub observation_end: Option<NaiveDate>,
}

/// Per-customer summary of the calibration period (and holdout, if a calibration end was given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary<C = String> {
    pub customer: C,
    pub first_purchase: NaiveDate,
    /// Last purchase within the calibration period.
    pub last_purchase: NaiveDate,
    /// Repeat purchase occasions (distinct days after the first) in calibration.
    pub frequency: u32,
    /// Age at last purchase, in time units.
    pub recency: f64,
    /// Age at the end of calibration, in time units.
    pub t: f64,
    /// Mean value of repeat occasions in minor units (0 when `frequency == 0`).
    pub monetary_minor: f64,
    /// All revenue in calibration, first purchase included, minor units.
    pub revenue_minor: i64,
    /// Transaction rows in calibration (orders, not merged).
    pub orders: u32,
    /// Distinct purchase occasions in the holdout period.
    pub holdout_frequency: u32,
    /// Length of the holdout period in time units (0 without calibration end).
    pub holdout_duration: f64,
    pub holdout_revenue_minor: i64,
}

/// FxHash-style hasher: a multiply-rotate hash, far faster than SipHash for short keys. The
/// input is not adversarial (it is the merchant's own export), so DoS resistance is not needed.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so that hashbrown's top bits are well mixed.
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

/// HashMap with the fast hasher.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Days since 0001-01-01 (chrono's CE day number), the internal integer date.
#[inline]
pub fn day_number(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce()
}

/// Inverse of [`day_number`]; saturates to chrono's limits instead of panicking.
pub fn date_from_day_number(n: i64) -> NaiveDate {
    let clamped = n.clamp(1, 100_000 * 366) as i32;
    NaiveDate::from_num_days_from_ce_opt(clamped).unwrap_or(NaiveDate::MAX)
}

/// A transaction log grouped by customer: customer `c` (dense index, in order of first
/// appearance) owns `rows[offsets[c]..offsets[c + 1]]`, sorted by day.
pub struct GroupedLog {
    /// Index into the input of each customer's first row (to recover the customer key).
    pub first_row: Vec<usize>,
    pub offsets: Vec<u32>,
    /// (day number, amount in minor units), sorted by day within each customer.
    pub rows: Vec<(i32, i64)>,
    pub min_day: i32,
    pub max_day: i32,
}

/// Group rows by customer with a hash map to dense indices plus a counting sort (O(n)), then
/// sort each customer's few rows by day.
pub fn group_by_customer<C: Hash + Eq>(transactions: &[Transaction<C>]) -> GroupedLog {
    let mut index: FastMap<&C, u32> = FastMap::default();
    index.reserve(transactions.len() / 4);
    let mut ids: Vec<u32> = Vec::with_capacity(transactions.len());
    let mut first_row: Vec<usize> = Vec::new();
    let mut max_day = i32::MIN;
    let mut min_day = i32::MAX;
    for (row, t) in transactions.iter().enumerate() {
        let next = first_row.len() as u32;
        let id = *index.entry(&t.customer).or_insert(next);
        if id == next {
            first_row.push(row);
        }
        ids.push(id);
        let d = day_number(t.date);
        max_day = max_day.max(d);
        min_day = min_day.min(d);
    }
    drop(index);
    let n_customers = first_row.len();
    let mut offsets = vec![0u32; n_customers + 1];
    for &id in &ids {
        offsets[id as usize + 1] += 1;
    }
    for i in 0..n_customers {
        offsets[i + 1] += offsets[i];
    }
    let mut cursor: Vec<u32> = offsets[..n_customers].to_vec();
    let mut rows: Vec<(i32, i64)> = vec![(0, 0); transactions.len()];
    for (t, &id) in transactions.iter().zip(&ids) {
        let slot = &mut cursor[id as usize];
        rows[*slot as usize] = (day_number(t.date), t.amount_minor);
        *slot += 1;
    }
    for c in 0..n_customers {
        let slice = &mut rows[offsets[c] as usize..offsets[c + 1] as usize];
        if slice.len() > 1 {
            slice.sort_unstable_by_key(|r| r.0);
        }
    }
    GroupedLog {
        first_row,
        offsets,
        rows,
        min_day,
        max_day,
    }
}

/// Summarise a transaction log. Output order: customers in order of first appearance in
/// `transactions` (deterministic). Customers whose first purchase is after the calibration end
/// are omitted. Never panics; an empty log gives an empty summary.
pub fn summarize<C: Hash + Eq + Clone>(
    transactions: &[Transaction<C>],
    options: &SummaryOptions,
) -> Vec<CustomerSummary<C>> {
    if transactions.is_empty() {
        return Vec::new();
    }
    let GroupedLog {
        first_row,
        offsets,
        rows,
        max_day,
        ..
    } = group_by_customer(transactions);
    let n_customers = first_row.len();
    let unit = options.time_unit.days();
    let obs_end = options.observation_end.map(day_number).unwrap_or(max_day);
    let cal_end = options.calibration_end.map(day_number).unwrap_or(obs_end);
    let holdout_duration = if options.calibration_end.is_some() {
        (obs_end - cal_end).max(0) as f64 / unit
    } else {
        0.0
    };

    // 3. Per-customer scan of the day-sorted rows.
    let mut out = Vec::with_capacity(n_customers);
    for c in 0..n_customers {
        let slice = &rows[offsets[c] as usize..offsets[c + 1] as usize];
        let first_day = slice[0].0;
        if first_day > cal_end {
            continue;
        }
        let mut frequency = 0u32;
        let mut holdout_frequency = 0u32;
        let mut last_day = first_day;
        let mut revenue: i64 = 0;
        let mut holdout_revenue: i64 = 0;
        let mut repeat_revenue: i64 = 0;
        let mut orders = 0u32;
        let mut prev_day = i32::MIN;
        for &(day, amount) in slice.iter() {
            if day > obs_end {
                break;
            }
            let new_occasion = day != prev_day;
            prev_day = day;
            if day <= cal_end {
                revenue = revenue.saturating_add(amount);
                orders += 1;
                if day != first_day {
                    repeat_revenue = repeat_revenue.saturating_add(amount);
                    if new_occasion {
                        frequency += 1;
                        last_day = day;
                    }
                }
            } else {
                holdout_revenue = holdout_revenue.saturating_add(amount);
                if new_occasion {
                    holdout_frequency += 1;
                }
            }
        }
        let monetary_minor = if frequency > 0 {
            repeat_revenue as f64 / frequency as f64
        } else {
            0.0
        };
        out.push(CustomerSummary {
            customer: transactions[first_row[c]].customer.clone(),
            first_purchase: date_from_day_number(first_day as i64),
            last_purchase: date_from_day_number(last_day as i64),
            frequency,
            recency: (last_day - first_day) as f64 / unit,
            t: (cal_end - first_day) as f64 / unit,
            monetary_minor,
            revenue_minor: revenue,
            orders,
            holdout_frequency,
            holdout_duration,
            holdout_revenue_minor: holdout_revenue,
        });
    }
    out
}

/// Recompute recency/T of a summary as of `now` (for scoring at a later date than calibration).
pub fn ages_at(
    summary: &CustomerSummary<impl Clone>,
    now: NaiveDate,
    unit: TimeUnit,
) -> (f64, f64) {
    let first = day_number(summary.first_purchase);
    let last = day_number(summary.last_purchase);
    let now = day_number(now).max(last);
    (
        (last - first) as f64 / unit.days(),
        (now - first) as f64 / unit.days(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(c: &str, d: &str, a: i64) -> Transaction {
        Transaction {
            customer: c.to_string(),
            date: NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
            amount_minor: a,
        }
    }

    #[test]
    fn merges_same_day_and_excludes_first_purchase() {
        let log = vec![
            tx("a", "2024-01-01", 100),
            tx("a", "2024-01-01", 50),
            tx("b", "2024-01-05", 10),
            tx("a", "2024-01-08", 30),
            tx("a", "2024-01-08", 10),
            tx("a", "2024-01-15", 20),
        ];
        let s = summarize(
            &log,
            &SummaryOptions {
                time_unit: TimeUnit::Week,
                ..Default::default()
            },
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].customer, "a");
        assert_eq!(s[0].frequency, 2);
        assert!((s[0].recency - 2.0).abs() < 1e-12);
        assert!((s[0].t - 2.0).abs() < 1e-12);
        assert!((s[0].monetary_minor - 30.0).abs() < 1e-12);
        assert_eq!(s[0].revenue_minor, 210);
        assert_eq!(s[0].orders, 5);
        assert_eq!(s[1].frequency, 0);
        assert!((s[1].t - 10.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn calibration_split_and_empty_input() {
        let log = vec![
            tx("a", "2024-01-01", 100),
            tx("a", "2024-02-01", 100),
            tx("a", "2024-03-01", 100),
            tx("b", "2024-02-10", 10),
        ];
        let s = summarize(
            &log,
            &SummaryOptions {
                time_unit: TimeUnit::Day,
                calibration_end: NaiveDate::from_ymd_opt(2024, 2, 5),
                observation_end: None,
            },
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].frequency, 1);
        assert_eq!(s[0].holdout_frequency, 1);
        assert!((s[0].t - 35.0).abs() < 1e-12);
        assert!((s[0].holdout_duration - 25.0).abs() < 1e-12);
        assert!(summarize::<String>(&[], &SummaryOptions::default()).is_empty());
    }
}
