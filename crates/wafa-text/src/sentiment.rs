//! Sentiment (negative / neutral / positive) for Arabic (MSA and dialects), Arabizi and
//! English, from the embedded hashed linear model trained offline by
//! `examples/train_sentiment.rs`.
//!
//! Why a signed score: dashboards plot sentiment trends, so besides the label we
//! expose `p(positive) − p(negative)` in [−1, 1].

use serde::{Deserialize, Serialize};

use crate::features::{features, Analysis, Kind};
use crate::lexicon::{dense_features, lexicon, DENSE};
use crate::linear::LinearModel;

/// Class order of the sentiment model file.
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
/// A neutral argmax becomes positive/negative when |p(pos) − p(neg)| reaches this.
pub const NEUTRAL_MAX_POLARITY: f32 = 0.4;
/// Hash table size exponent of the sentiment model.
pub const BITS: u32 = 18;

/// The embedded model (see `model/NOTICE.md` for the training data licences).
pub static MODEL_BYTES: &[u8] = include_bytes!("../model/sentiment.bin");

/// Sentiment label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }
    fn from_index(i: usize) -> Self {
        match i {
            0 => SentimentLabel::Negative,
            2 => SentimentLabel::Positive,
            _ => SentimentLabel::Neutral,
        }
    }
}

/// A sentiment prediction. Serialises as `{"label": …, "score": …}` where `score`
/// is the signed polarity in [−1, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// p(positive) − p(negative), in [−1, 1]: use this for trends.
    pub score: f32,
    /// Probability of the chosen label (not serialised).
    #[serde(skip)]
    pub confidence: f32,
}

/// Load the embedded sentiment model (a uniform fallback if it is corrupt).
pub fn load_model() -> LinearModel {
    LinearModel::from_bytes(MODEL_BYTES).unwrap_or_else(|_| LinearModel::empty(&LABELS))
}

/// Classify from hashed features `feats` (computed with [`BITS`]) alone, without
/// the lexicon inputs (see [`classify_features_dense`], which the tagger uses).
pub fn classify_features(model: &LinearModel, feats: &[u32]) -> Sentiment {
    classify_features_dense(model, feats, &[])
}

/// The dense (lexicon) inputs of an analysed message.
pub fn dense_inputs(a: &Analysis) -> [f32; DENSE] {
    let mut d = [0.0; DENSE];
    dense_features(lexicon(), a, &mut d);
    d
}

/// Classify from hashed features `feats` (computed with [`BITS`]) and the dense
/// lexicon inputs `dense` ([`dense_inputs`]).
pub fn classify_features_dense(model: &LinearModel, feats: &[u32], dense: &[f32]) -> Sentiment {
    let mut probs = Vec::with_capacity(3);
    model.predict_dense_into(feats, dense, &mut probs);
    decide(&probs)
}

/// The decision rule on class probabilities (negative, neutral, positive): argmax,
/// except that a neutral argmax with a clear pos/neg gap goes to the polar side
/// (measured: no loss on ArSarcasm macro-F1, fewer polar reviews called neutral).
pub fn decide(probs: &[f32]) -> Sentiment {
    let (mut i, mut p) = crate::linear::argmax(probs);
    let get = |k: usize| probs.get(k).copied().unwrap_or(0.0);
    let score = (get(2) - get(0)).clamp(-1.0, 1.0);
    if i == 1 && score.abs() >= NEUTRAL_MAX_POLARITY {
        i = if score > 0.0 { 2 } else { 0 };
        p = get(i);
    }
    Sentiment {
        label: SentimentLabel::from_index(i),
        score,
        confidence: p,
    }
}

/// True when the message has something to judge (a word or an emoji); empty,
/// digit-only or punctuation-only messages are neutral with score 0.
pub fn has_content(a: &Analysis) -> bool {
    a.tokens
        .iter()
        .any(|t| matches!(t.kind, Kind::Arabic | Kind::Latin | Kind::Emoji))
}

/// The neutral result for messages without content.
pub const NO_CONTENT: Sentiment = Sentiment {
    label: SentimentLabel::Neutral,
    score: 0.0,
    confidence: 1.0,
};

/// Classify an analysed message.
pub fn classify(model: &LinearModel, a: &Analysis) -> Sentiment {
    if !has_content(a) {
        return NO_CONTENT;
    }
    let mut f = Vec::new();
    features(a, model.bits(), &mut f);
    classify_features_dense(model, &f, &dense_inputs(a))
}
