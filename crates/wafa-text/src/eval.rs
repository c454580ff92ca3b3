//! Evaluation helpers (confusion matrix, accuracy, per-class P/R/F1, macro-F1),
//! shared by the training examples, the tests and the reported numbers in NOTES.md.

/// A confusion matrix over `n` classes: `m[gold][pred]`.
#[derive(Clone, Debug)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub m: Vec<Vec<u32>>,
}

impl Confusion {
    pub fn new(labels: &[&str]) -> Self {
        let n = labels.len();
        Confusion {
            labels: labels.iter().map(|s| s.to_string()).collect(),
            m: vec![vec![0; n]; n],
        }
    }

    pub fn add(&mut self, gold: usize, pred: usize) {
        if let Some(row) = self.m.get_mut(gold) {
            if let Some(c) = row.get_mut(pred) {
                *c += 1;
            }
        }
    }

    pub fn total(&self) -> u32 {
        self.m.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let t = self.total();
        if t == 0 {
            return 0.0;
        }
        let ok: u32 = (0..self.m.len()).map(|i| self.m[i][i]).sum();
        ok as f64 / t as f64
    }

    /// (precision, recall, f1, support) of class `k`.
    pub fn prf(&self, k: usize) -> (f64, f64, f64, u32) {
        let tp = self.m[k][k] as f64;
        let pred: u32 = self.m.iter().map(|r| r[k]).sum();
        let gold: u32 = self.m[k].iter().sum();
        let p = if pred > 0 { tp / pred as f64 } else { 0.0 };
        let r = if gold > 0 { tp / gold as f64 } else { 0.0 };
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        (p, r, f, gold)
    }

    /// Mean F1 over classes that have gold support.
    pub fn macro_f1(&self) -> f64 {
        let fs: Vec<f64> = (0..self.m.len())
            .filter(|&k| self.prf(k).3 > 0)
            .map(|k| self.prf(k).2)
            .collect();
        if fs.is_empty() {
            0.0
        } else {
            fs.iter().sum::<f64>() / fs.len() as f64
        }
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "n={} acc={:.3} macroF1={:.3}",
            self.total(),
            self.accuracy(),
            self.macro_f1()
        )
    }

    /// Per-class report lines.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for k in 0..self.m.len() {
            let (p, r, f, n) = self.prf(k);
            s.push_str(&format!(
                "  {:<24} P={:.3} R={:.3} F1={:.3} n={}\n",
                self.labels[k], p, r, f, n
            ));
        }
        s
    }
}
