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

/// Hasher for keys that are already uniformly random (fingerprints): keeps the last word.
#[derive(Default, Clone, Copy)]
pub struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(SEED);
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

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

/// Two-lane 128-bit key fingerprint used to identify customers without comparing keys.
///
/// Each lane is a multiply-rotate fold (a bijection per 8-byte word) followed by the splitmix64
/// finaliser (also a bijection), with different constants. Keys of up to 7 bytes (and integer
/// ids) therefore map injectively — no collision is possible; for longer keys the chance that two
/// of n distinct customers share a fingerprint is about n²/2¹²⁹ (≈ 10⁻²⁷ for a million).
#[derive(Clone, Copy)]
struct Fingerprinter {
    a: u64,
    b: u64,
}

const LANE_B_SEED: u64 = 0x2545_F491_4F6C_DD1D;
const LANE_B_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

impl Fingerprinter {
    fn new() -> Self {
        Fingerprinter {
            a: 0,
            b: LANE_B_SEED,
        }
    }
    #[inline]
    fn add(&mut self, w: u64) {
        self.a = (self.a.rotate_left(5) ^ w).wrapping_mul(SEED);
        self.b = (self.b.rotate_left(23) ^ w).wrapping_mul(LANE_B_MUL);
    }
    fn finish128(&self) -> (u64, u64) {
        (fmix64(self.a), fmix64(self.b ^ 0x5555_5555_5555_5555))
    }
}

#[inline]
fn fmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Hasher for Fingerprinter {
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
            // Mark the length so "a" and "a\0" differ.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
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
    fn finish(&self) -> u64 {
        self.finish128().0
    }
}

#[inline]
fn fingerprint<C: Hash>(key: &C) -> (u64, u64) {
    let mut f = Fingerprinter::new();
    key.hash(&mut f);
    f.finish128()
}

/// Where one customer's rows are in [`GroupedLog::rows`].
#[derive(Debug, Clone, Copy)]
pub struct CustomerSpan {
    /// Index into the input of the customer's first row (to recover the key).
    pub first_row: usize,
    pub start: usize,
    pub len: usize,
}

/// A transaction log grouped by customer. `customers` are in order of first appearance; each
/// owns `rows[start..start + len]`, as (day number, amount in minor units) sorted by day.
pub struct GroupedLog {
    pub customers: Vec<CustomerSpan>,
    pub rows: Vec<(i32, i64)>,
    pub min_day: i32,
    pub max_day: i32,
}

impl GroupedLog {
    #[inline]
    pub fn rows_of(&self, span: &CustomerSpan) -> &[(i32, i64)] {
        &self.rows[span.start..span.start + span.len]
    }
}

/// One partitioned row.
#[derive(Clone, Copy, Default)]
struct PartRow {
    fp: (u64, u64),
    amount: i64,
    day: i32,
    row: usize,
}

/// Group rows by customer, cache-consciously, in O(n):
/// 1. fingerprint every key and radix-partition the rows by the fingerprint's top bits into
///    partitions of ~64k rows (sequential reads, streaming writes);
/// 2. within each partition (now cache-resident) map fingerprints to local customers with a
///    small hash map, bucket the rows per customer by a counting sort and sort each customer's
///    few rows by day;
/// 3. order customers by first appearance.
///
/// Keys are never compared, only fingerprinted (see `Fingerprinter`), which avoids a random
/// memory access per row — the difference between ~1 s and ~0.3 s for 10M rows.
pub fn group_by_customer<C: Hash + Eq>(transactions: &[Transaction<C>]) -> GroupedLog {
    let n = transactions.len();
    if n == 0 {
        return GroupedLog {
            customers: Vec::new(),
            rows: Vec::new(),
            min_day: 0,
            max_day: 0,
        };
    }
    // ~64k rows per partition, at most 256 partitions (more write streams thrash the TLB).
    let bits = (n / 65_536)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .min(8);
    let shift = 64 - bits.max(1);
    let part_of = |fp0: u64| {
        if bits == 0 {
            0
        } else {
            (fp0 >> shift) as usize
        }
    };
    let n_parts = 1usize << bits;

    // Pass 1: fingerprint each row and append it to its partition (one sequential read, a few
    // hundred streaming writes; nothing is zero-initialised up front).
    let per_part = n / n_parts + n / n_parts / 8 + 16;
    let mut parts: Vec<Vec<PartRow>> = (0..n_parts).map(|_| Vec::with_capacity(per_part)).collect();
    let (mut min_day, mut max_day) = (i32::MAX, i32::MIN);
    for (i, t) in transactions.iter().enumerate() {
        let fp = fingerprint(&t.customer);
        let day = day_number(t.date);
        min_day = min_day.min(day);
        max_day = max_day.max(day);
        parts[part_of(fp.0)].push(PartRow {
            fp,
            amount: t.amount_minor,
            day,
            row: i,
        });
    }

    // Pass 3: per partition, local customers and their day-sorted rows.
    let mut rows: Vec<(i32, i64)> = Vec::with_capacity(n);
    let mut spans: Vec<CustomerSpan> = Vec::new();
    // Keyed by the fingerprint; its second lane (independent of the partition bits) is the hash.
    let mut local: HashMap<(u64, u64), u32, BuildHasherDefault<PrehashedHasher>> =
        HashMap::default();
    let mut local_first: Vec<usize> = Vec::new();
    let mut local_count: Vec<usize> = Vec::new();
    let mut ids: Vec<u32> = Vec::new();
    let mut scratch: Vec<(i32, i64)> = Vec::new();
    for part in parts {
        let slice = &part[..];
        if slice.is_empty() {
            continue;
        }
        local.clear();
        local_first.clear();
        local_count.clear();
        ids.clear();
        for r in slice {
            let next = local_first.len() as u32;
            let id = *local.entry(r.fp).or_insert(next);
            if id == next {
                local_first.push(r.row);
                local_count.push(0);
            }
            local_count[id as usize] += 1;
            ids.push(id);
        }
        // Counting sort of the partition's rows by local customer.
        let base = rows.len();
        let mut start = base;
        let mut starts: Vec<usize> = Vec::with_capacity(local_count.len());
        for (c, &len) in local_count.iter().enumerate() {
            starts.push(start);
            spans.push(CustomerSpan {
                first_row: local_first[c],
                start,
                len,
            });
            start += len;
        }
        scratch.clear();
        scratch.resize(slice.len(), (0, 0));
        let mut fill = starts.clone();
        for (r, &id) in slice.iter().zip(&ids) {
            let slot = &mut fill[id as usize];
            scratch[*slot - base] = (r.day, r.amount);
            *slot += 1;
        }
        for (c, &len) in local_count.iter().enumerate() {
            if len > 1 {
                let s = starts[c] - base;
                scratch[s..s + len].sort_unstable_by_key(|x| x.0);
            }
        }
        rows.extend_from_slice(&scratch);
    }
    // First-appearance order.
    spans.sort_unstable_by_key(|s| s.first_row);
    GroupedLog {
        customers: spans,
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
    let grouped = group_by_customer(transactions);
    let max_day = grouped.max_day;
    let unit = options.time_unit.days();
    let obs_end = options.observation_end.map(day_number).unwrap_or(max_day);
    let cal_end = options.calibration_end.map(day_number).unwrap_or(obs_end);
    let holdout_duration = if options.calibration_end.is_some() {
        (obs_end - cal_end).max(0) as f64 / unit
    } else {
        0.0
    };

    // Per-customer scan of the day-sorted rows.
    let mut out = Vec::with_capacity(grouped.customers.len());
    for span in &grouped.customers {
        let slice = grouped.rows_of(span);
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
            customer: transactions[span.first_row].customer.clone(),
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
pub fn ages_at<C>(summary: &CustomerSummary<C>, now: NaiveDate, unit: TimeUnit) -> (f64, f64) {
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
    fn fingerprints_keep_distinct_customers_apart() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let mut log: Vec<Transaction> = [
            "",
            "\0",
            "a",
            "a\0",
            "b",
            "ab",
            "ba",
            "abcdefgh",
            "abcdefgh\0",
        ]
        .iter()
        .map(|k| Transaction {
            customer: k.to_string(),
            date: d,
            amount_minor: 1,
        })
        .collect();
        for i in 0..200_000u32 {
            log.push(Transaction {
                customer: format!("customer-{i}@example.com"),
                date: d,
                amount_minor: 1,
            });
        }
        log.extend(log.clone());
        let s = summarize(&log, &SummaryOptions::default());
        assert_eq!(s.len(), 200_009);
        assert!(s.iter().all(|c| c.orders == 2));
        assert_eq!(s[1].customer, "\0");
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
