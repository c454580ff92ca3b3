//! Compact multinomial logistic regression over hashed features.
//!
//! Why: a linear model over hashed n-grams is the classic strong baseline for short
//! text classification, trains in seconds, needs no framework, and predicts in
//! microseconds. Weights are stored bucket-major (`w[bucket * classes + class]`) so
//! one feature touches one cache line, quantised to i16 with one scale (the file is
//! ~2 bytes × buckets × classes).
//!
//! Optionally the model also has a few dense real-valued inputs (e.g. lexicon
//! valence sums) with unquantised f32 weights; they are not scaled by the 1/√n
//! feature norm, so their strength does not fade in long messages.
//!
//! File format (little endian): magic `WFLM`, u32 version (1, or 2 with dense inputs),
//! u32 bits, u32 classes, per class: u16 label length + UTF-8 label; f32 bias × classes;
//! f32 scale; i16 weights × (2^bits × classes); version 2 only: u32 dense inputs `d`,
//! f32 weights × (d × classes), input-major.

/// Error loading a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid model: {}", self.0)
    }
}

impl std::error::Error for ModelError {}

/// A trained, quantised linear classifier.
#[derive(Clone, Debug)]
pub struct LinearModel {
    bits: u32,
    labels: Vec<String>,
    bias: Vec<f32>,
    scale: f32,
    w: Vec<i16>,
    /// Dense-input weights, input-major (`dense[j * classes + class]`).
    dense: Vec<f32>,
}

const MAGIC: &[u8; 4] = b"WFLM";

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| ModelError("truncated".into()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

impl LinearModel {
    /// A model that predicts the first label with uniform probabilities; used when
    /// an embedded model is missing or corrupt so callers never panic.
    pub fn empty(labels: &[&str]) -> Self {
        LinearModel {
            bits: 1,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            bias: vec![0.0; labels.len()],
            scale: 0.0,
            w: vec![0; 2 * labels.len()],
            dense: Vec::new(),
        }
    }

    /// Parse a model file.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ModelError> {
        let mut r = Reader { b, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(ModelError("bad magic".into()));
        }
        let version = r.u32()?;
        if !(1..=2).contains(&version) {
            return Err(ModelError("unsupported version".into()));
        }
        let bits = r.u32()?;
        let classes = r.u32()? as usize;
        if !(1..=26).contains(&bits) || !(1..=64).contains(&classes) {
            return Err(ModelError("bad dimensions".into()));
        }
        let mut labels = Vec::with_capacity(classes);
        for _ in 0..classes {
            let l = r.take(2)?;
            let len = u16::from_le_bytes([l[0], l[1]]) as usize;
            let s =
                std::str::from_utf8(r.take(len)?).map_err(|_| ModelError("label utf8".into()))?;
            labels.push(s.to_string());
        }
        let mut bias = Vec::with_capacity(classes);
        for _ in 0..classes {
            bias.push(r.f32()?);
        }
        let scale = r.f32()?;
        let n = (1usize << bits) * classes;
        let raw = r.take(n * 2)?;
        let w = raw
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        let mut dense = Vec::new();
        if version == 2 {
            let d = r.u32()? as usize;
            if d > 4096 {
                return Err(ModelError("bad dense dimension".into()));
            }
            for _ in 0..d * classes {
                dense.push(r.f32()?);
            }
        }
        if r.pos != b.len() {
            return Err(ModelError("trailing bytes".into()));
        }
        Ok(LinearModel {
            bits,
            labels,
            bias,
            scale,
            w,
            dense,
        })
    }

    /// Serialise to the file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(self.w.len() * 2 + 64);
        o.extend_from_slice(MAGIC);
        let version: u32 = if self.dense.is_empty() { 1 } else { 2 };
        o.extend_from_slice(&version.to_le_bytes());
        o.extend_from_slice(&self.bits.to_le_bytes());
        o.extend_from_slice(&(self.labels.len() as u32).to_le_bytes());
        for l in &self.labels {
            o.extend_from_slice(&(l.len() as u16).to_le_bytes());
            o.extend_from_slice(l.as_bytes());
        }
        for b in &self.bias {
            o.extend_from_slice(&b.to_le_bytes());
        }
        o.extend_from_slice(&self.scale.to_le_bytes());
        for w in &self.w {
            o.extend_from_slice(&w.to_le_bytes());
        }
        if version == 2 {
            let d = self.dense_dim() as u32;
            o.extend_from_slice(&d.to_le_bytes());
            for w in &self.dense {
                o.extend_from_slice(&w.to_le_bytes());
            }
        }
        o
    }

    /// Number of dense inputs the model was trained with (0 for a purely hashed model).
    pub fn dense_dim(&self) -> usize {
        self.dense.len() / self.labels.len().max(1)
    }

    /// Add `delta` to the bias of class `k` (decision-threshold tuning).
    pub fn add_bias(&mut self, k: usize, delta: f32) {
        if let Some(b) = self.bias.get_mut(k) {
            *b += delta;
        }
    }

    /// Table size exponent the features must be hashed with.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Class labels in model order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Class probabilities (softmax) for hashed features, written into `probs`.
    pub fn predict_into(&self, feats: &[u32], probs: &mut Vec<f32>) {
        self.predict_dense_into(feats, &[], probs);
    }

    /// Class probabilities for hashed features plus dense inputs `dense` (missing
    /// inputs count as 0, extra ones are ignored), written into `probs`.
    pub fn predict_dense_into(&self, feats: &[u32], dense: &[f32], probs: &mut Vec<f32>) {
        let c = self.labels.len();
        probs.clear();
        probs.resize(c, 0.0);
        let mut acc = vec![0i32; c];
        let mask = (1usize << self.bits) - 1;
        for &f in feats {
            let base = (f as usize & mask) * c;
            if let Some(row) = self.w.get(base..base + c) {
                for (a, &w) in acc.iter_mut().zip(row) {
                    *a += w as i32;
                }
            }
        }
        let norm = feature_norm(feats.len());
        for k in 0..c {
            probs[k] = self.bias[k] + acc[k] as f32 * self.scale * norm;
        }
        for (x, row) in dense.iter().zip(self.dense.chunks_exact(c)) {
            for (p, w) in probs.iter_mut().zip(row) {
                *p += x * w;
            }
        }
        softmax(probs);
    }

    /// [`LinearModel::predict`] with dense inputs.
    pub fn predict_dense(&self, feats: &[u32], dense: &[f32]) -> (usize, f32, Vec<f32>) {
        let mut p = Vec::new();
        self.predict_dense_into(feats, dense, &mut p);
        let (i, v) = argmax(&p);
        (i, v, p)
    }

    /// Convenience: returns (best class index, its probability, all probabilities).
    pub fn predict(&self, feats: &[u32]) -> (usize, f32, Vec<f32>) {
        let mut p = Vec::new();
        self.predict_into(feats, &mut p);
        let (i, v) = argmax(&p);
        (i, v, p)
    }
}

/// Features are binary with value 1/sqrt(n), so long messages do not saturate.
#[inline]
pub fn feature_norm(n: usize) -> f32 {
    1.0 / (n.max(1) as f32).sqrt()
}

/// In-place softmax; NaN-safe (non-finite inputs give a uniform distribution).
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        let u = 1.0 / v.len().max(1) as f32;
        v.iter_mut().for_each(|x| *x = u);
        return;
    }
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Index and value of the largest element (first on ties; (0, 0) when empty).
pub fn argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    if v.is_empty() {
        (0, 0.0)
    } else {
        best
    }
}

/// AdaGrad trainer for [`LinearModel`] (used by the offline training examples).
pub struct Trainer {
    bits: u32,
    classes: usize,
    w: Vec<f32>,
    g: Vec<f32>,
    bias: Vec<f32>,
    gb: Vec<f32>,
    /// Learning rate.
    pub lr: f32,
    /// L2 penalty applied to touched weights.
    pub l2: f32,
    /// Running sums for epoch-snapshot averaging (see [`Trainer::snapshot`]).
    avg_w: Vec<f32>,
    avg_b: Vec<f32>,
    snapshots: u32,
    /// Dense-input weights and their AdaGrad accumulators (input-major).
    dw: Vec<f32>,
    dg: Vec<f32>,
    avg_d: Vec<f32>,
}

impl Trainer {
    pub fn new(bits: u32, classes: usize) -> Self {
        let n = (1usize << bits) * classes;
        Trainer {
            bits,
            classes,
            w: vec![0.0; n],
            g: vec![1e-6; n],
            bias: vec![0.0; classes],
            gb: vec![1e-6; classes],
            lr: 0.3,
            l2: 1e-6,
            avg_w: Vec::new(),
            avg_b: Vec::new(),
            snapshots: 0,
            dw: Vec::new(),
            dg: Vec::new(),
            avg_d: Vec::new(),
        }
    }

    /// A trainer whose model also takes `dense` real-valued inputs.
    pub fn with_dense(bits: u32, classes: usize, dense: usize) -> Self {
        let mut t = Trainer::new(bits, classes);
        t.dw = vec![0.0; dense * classes];
        t.dg = vec![1e-6; dense * classes];
        t
    }

    fn logits(&self, feats: &[u32], dense: &[f32], out: &mut [f32]) {
        let c = self.classes;
        let norm = feature_norm(feats.len());
        out.copy_from_slice(&self.bias);
        for &f in feats {
            let base = f as usize * c;
            for (o, w) in out.iter_mut().zip(&self.w[base..base + c]) {
                *o += w * norm;
            }
        }
        for (x, row) in dense.iter().zip(self.dw.chunks_exact(c)) {
            for (o, w) in out.iter_mut().zip(row) {
                *o += x * w;
            }
        }
    }

    /// Probabilities under the current float weights.
    pub fn probs(&self, feats: &[u32]) -> Vec<f32> {
        self.probs_dense(feats, &[])
    }

    /// Probabilities under the current float weights, with dense inputs.
    pub fn probs_dense(&self, feats: &[u32], dense: &[f32]) -> Vec<f32> {
        let mut p = vec![0.0; self.classes];
        self.logits(feats, dense, &mut p);
        softmax(&mut p);
        p
    }

    /// One weighted AdaGrad step on the cross-entropy loss. `target` may be a soft
    /// distribution over classes (sums to 1).
    pub fn step(&mut self, feats: &[u32], target: &[f32], weight: f32) {
        self.step_dense(feats, &[], target, weight);
    }

    /// [`Trainer::step`] with dense inputs (see [`Trainer::with_dense`]).
    pub fn step_dense(&mut self, feats: &[u32], dense: &[f32], target: &[f32], weight: f32) {
        let c = self.classes;
        let mut p = vec![0.0; c];
        self.logits(feats, dense, &mut p);
        softmax(&mut p);
        let norm = feature_norm(feats.len());
        for k in 0..c {
            let grad = (p[k] - target[k]) * weight;
            self.gb[k] += grad * grad;
            self.bias[k] -= self.lr * grad / self.gb[k].sqrt();
            for (j, &x) in dense.iter().enumerate() {
                let i = j * c + k;
                if i >= self.dw.len() || x == 0.0 {
                    continue;
                }
                let gw = grad * x + self.l2 * self.dw[i];
                self.dg[i] += gw * gw;
                self.dw[i] -= self.lr * gw / self.dg[i].sqrt();
            }
            for &f in feats {
                let i = f as usize * c + k;
                let gw = grad * norm + self.l2 * self.w[i];
                self.g[i] += gw * gw;
                self.w[i] -= self.lr * gw / self.g[i].sqrt();
            }
        }
    }

    /// Add the current weights to the running average (call at the end of an
    /// epoch). When any snapshot was taken, [`Trainer::finish`] ships the average
    /// of the snapshots, which is smoother than the last iterate.
    pub fn snapshot(&mut self) {
        if self.avg_w.is_empty() {
            self.avg_w = vec![0.0; self.w.len()];
            self.avg_b = vec![0.0; self.bias.len()];
        }
        for (a, w) in self.avg_w.iter_mut().zip(&self.w) {
            *a += w;
        }
        for (a, b) in self.avg_b.iter_mut().zip(&self.bias) {
            *a += b;
        }
        if self.avg_d.is_empty() {
            self.avg_d = vec![0.0; self.dw.len()];
        }
        for (a, d) in self.avg_d.iter_mut().zip(&self.dw) {
            *a += d;
        }
        self.snapshots += 1;
    }

    /// Quantise into a [`LinearModel`].
    pub fn finish(&self, labels: &[&str]) -> LinearModel {
        Trainer::finish_average(std::slice::from_ref(self), labels)
    }

    /// Weights to ship: the snapshot average when snapshots were taken, else the
    /// current iterate.
    fn effective(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        if self.snapshots > 0 {
            let k = self.snapshots as f32;
            (
                self.avg_w.iter().map(|x| x / k).collect(),
                self.avg_b.iter().map(|x| x / k).collect(),
                self.avg_d.iter().map(|x| x / k).collect(),
            )
        } else {
            (self.w.clone(), self.bias.clone(), self.dw.clone())
        }
    }

    /// Quantise the average of several trainers' weights (same shape; e.g. runs
    /// with different shuffling seeds: averaging removes most of the run-to-run
    /// noise of SGD on a convex loss) into one [`LinearModel`].
    ///
    /// # Panics
    /// If `ts` is empty or the trainers differ in shape.
    pub fn finish_average(ts: &[Trainer], labels: &[&str]) -> LinearModel {
        let (mut wf, mut bias, mut dense) = ts[0].effective();
        for t in &ts[1..] {
            let (w2, b2, d2) = t.effective();
            assert!(
                w2.len() == wf.len() && d2.len() == dense.len(),
                "trainer shapes"
            );
            wf.iter_mut().zip(&w2).for_each(|(a, b)| *a += b);
            bias.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
            dense.iter_mut().zip(&d2).for_each(|(a, b)| *a += b);
        }
        if ts.len() > 1 {
            let k = ts.len() as f32;
            for v in [&mut wf, &mut bias, &mut dense] {
                v.iter_mut().for_each(|x| *x /= k);
            }
        }
        let max = wf.iter().fold(0f32, |m, &x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let w = wf
            .iter()
            .map(|&x| (x / scale).round().clamp(-32767.0, 32767.0) as i16)
            .collect();
        LinearModel {
            bits: ts[0].bits,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            bias,
            scale,
            w,
            dense,
        }
    }
}

/// Deterministic xorshift RNG for shuffling in training.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_roundtrip() {
        let mut t = Trainer::new(4, 2);
        for _ in 0..50 {
            t.step(&[1, 2], &[1.0, 0.0], 1.0);
            t.step(&[3, 4], &[0.0, 1.0], 1.0);
        }
        let m = t.finish(&["a", "b"]);
        let m2 = LinearModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(m2.predict(&[1, 2]).0, 0);
        assert_eq!(m2.predict(&[3, 4]).0, 1);
        assert!(LinearModel::from_bytes(b"").is_err());
        assert!(LinearModel::from_bytes(&m.to_bytes()[..20]).is_err());
        assert_eq!(LinearModel::empty(&["x", "y"]).predict(&[0, 1, 99]).0, 0);
    }

    #[test]
    fn dense_roundtrip() {
        let mut t = Trainer::with_dense(4, 3, 2);
        for _ in 0..200 {
            t.step_dense(&[1], &[1.0, 0.0], &[1.0, 0.0, 0.0], 1.0);
            t.step_dense(&[1], &[-1.0, 0.0], &[0.0, 0.0, 1.0], 1.0);
            t.step_dense(&[1], &[0.0, 1.0], &[0.0, 1.0, 0.0], 1.0);
        }
        let m = t.finish(&["a", "b", "c"]);
        assert_eq!(m.dense_dim(), 2);
        let bytes = m.to_bytes();
        assert_eq!(&bytes[4..8], &2u32.to_le_bytes());
        let m2 = LinearModel::from_bytes(&bytes).unwrap();
        assert_eq!(m2.dense_dim(), 2);
        assert_eq!(m2.predict_dense(&[1], &[1.0, 0.0]).0, 0);
        assert_eq!(m2.predict_dense(&[1], &[-1.0, 0.0]).0, 2);
        assert_eq!(m2.predict_dense(&[1], &[0.0, 1.0]).0, 1);
        assert!(LinearModel::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        // A purely hashed model keeps the version-1 format.
        let m1 = Trainer::new(4, 2).finish(&["a", "b"]);
        assert_eq!(&m1.to_bytes()[4..8], &1u32.to_le_bytes());
    }
}
