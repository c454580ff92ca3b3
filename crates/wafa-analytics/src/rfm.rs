//! RFM scoring: recency, frequency and monetary quintile scores 1–5 and the widely used named
//! segments from the (R, F) score grid.
//!
//! Scores are relative to the batch of customers passed in (quintiles of that population), so
//! pass the whole customer base. Ties are handled deterministically: tied values share the score
//! of the lowest rank in their tie group, so equal inputs always get equal scores (with many
//! one-order customers most of them get F = 1 rather than being split arbitrarily).
//!
//! Segment grid (R, F), as in the common "RFM segmentation" score map, with "Lost" carved out of
//! Hibernating for the very worst cell:
//! * Champions R5 F4–5 · Loyal R3–4 F4–5 · Potential loyalist R4–5 F2–3 · New R5 F1
//! * Promising R4 F1 · Need attention R3 F3 · About to sleep R3 F1–2
//! * At risk R1–2 F3–4 · Cannot lose them R1–2 F5 · Hibernating R1–2 F1–2 (except R1 F1) · Lost R1 F1

use serde::{Deserialize, Serialize};

/// Named RFM segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CannotLoseThem,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CannotLoseThem,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// Segment for recency and frequency scores (1–5; out-of-range values are clamped).
    pub fn from_scores(r: u8, f: u8) -> Segment {
        use Segment::*;
        // GRID[r - 1][f - 1]
        const GRID: [[Segment; 5]; 5] = [
            [Lost, Hibernating, AtRisk, AtRisk, CannotLoseThem],
            [Hibernating, Hibernating, AtRisk, AtRisk, CannotLoseThem],
            [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            [
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Loyal,
                Loyal,
            ],
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
        ];
        GRID[(r.clamp(1, 5) - 1) as usize][(f.clamp(1, 5) - 1) as usize]
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::Loyal => "Loyal",
            Segment::PotentialLoyalist => "Potential loyalist",
            Segment::New => "New",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need attention",
            Segment::AboutToSleep => "About to sleep",
            Segment::AtRisk => "At risk",
            Segment::CannotLoseThem => "Cannot lose them",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }

    pub fn name_ar(self) -> &'static str {
        match self {
            Segment::Champions => "الأبطال",
            Segment::Loyal => "العملاء المخلصون",
            Segment::PotentialLoyalist => "مخلصون محتملون",
            Segment::New => "عملاء جدد",
            Segment::Promising => "واعدون",
            Segment::NeedAttention => "يحتاجون إلى اهتمام",
            Segment::AboutToSleep => "على وشك الخمول",
            Segment::AtRisk => "معرّضون للخسارة",
            Segment::CannotLoseThem => "لا يمكن خسارتهم",
            Segment::Hibernating => "خاملون",
            Segment::Lost => "مفقودون",
        }
    }
}

/// Per-customer RFM inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RfmInput {
    /// Days since the last purchase (lower is better).
    pub days_since_last: f64,
    /// Purchase occasions (higher is better).
    pub orders: f64,
    /// Total revenue (higher is better).
    pub revenue: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    pub recency: u8,
    pub frequency: u8,
    pub monetary: u8,
    pub segment: Segment,
}

/// Map an f64 to a u64 with the same order (NaN → below −∞), so sorting is a plain integer sort.
fn order_key(v: f64) -> u64 {
    if v.is_nan() {
        return 0;
    }
    let bits = (v + 0.0).to_bits(); // −0.0 + 0.0 = +0.0: equal values, equal keys
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Quintile scores 1–5 where larger values score higher. NaN counts as the smallest value.
pub fn quintile_scores(values: &[f64]) -> Vec<u8> {
    let n = values.len();
    // (key, index) pairs sort fast and ties stay in index order (deterministic).
    let mut order: Vec<(u64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (order_key(v), i as u32))
        .collect();
    order.sort_unstable();
    let mut scores = vec![1u8; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        let score = (1 + (5 * i) / n).min(5) as u8;
        for &(_, ix) in &order[i..=j] {
            scores[ix as usize] = score;
        }
        i = j + 1;
    }
    scores
}

/// RFM scores and segments for a population.
pub fn rfm_scores(inputs: &[RfmInput]) -> Vec<RfmScore> {
    let rec: Vec<f64> = inputs.iter().map(|i| -i.days_since_last).collect();
    let freq: Vec<f64> = inputs.iter().map(|i| i.orders).collect();
    let mon: Vec<f64> = inputs.iter().map(|i| i.revenue).collect();
    let (r, f, m) = (
        quintile_scores(&rec),
        quintile_scores(&freq),
        quintile_scores(&mon),
    );
    (0..inputs.len())
        .map(|i| RfmScore {
            recency: r[i],
            frequency: f[i],
            monetary: m[i],
            segment: Segment::from_scores(r[i], f[i]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_cell_and_matches_the_map() {
        assert_eq!(Segment::from_scores(5, 5), Segment::Champions);
        assert_eq!(Segment::from_scores(3, 4), Segment::Loyal);
        assert_eq!(Segment::from_scores(4, 2), Segment::PotentialLoyalist);
        assert_eq!(Segment::from_scores(5, 1), Segment::New);
        assert_eq!(Segment::from_scores(4, 1), Segment::Promising);
        assert_eq!(Segment::from_scores(3, 3), Segment::NeedAttention);
        assert_eq!(Segment::from_scores(3, 2), Segment::AboutToSleep);
        assert_eq!(Segment::from_scores(2, 4), Segment::AtRisk);
        assert_eq!(Segment::from_scores(1, 5), Segment::CannotLoseThem);
        assert_eq!(Segment::from_scores(2, 1), Segment::Hibernating);
        assert_eq!(Segment::from_scores(1, 1), Segment::Lost);
        let mut seen = std::collections::HashSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                seen.insert(Segment::from_scores(r, f));
            }
        }
        assert_eq!(seen.len(), 11);
        assert_eq!(Segment::Champions.name_ar(), "الأبطال");
    }

    #[test]
    fn quintiles_with_ties_are_deterministic() {
        let v: Vec<f64> = (0..10).map(|i| i as f64).collect();
        assert_eq!(quintile_scores(&v), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        let tied = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quintile_scores(&tied), vec![1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
        assert!(quintile_scores(&[]).is_empty());
        assert_eq!(quintile_scores(&[7.0]), vec![1]);
        assert_eq!(
            quintile_scores(&[-0.0, 0.0, -1.0, f64::NAN, 1.0]),
            vec![3, 3, 2, 1, 5]
        );
    }
}
