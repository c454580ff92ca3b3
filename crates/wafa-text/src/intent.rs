//! E-commerce intent classification (where is my order, cancel, return, refund, …)
//! for Arabic dialects, Arabizi and English.
//!
//! Why: routing and auto-replies need the customer's goal, not just sentiment. Same
//! hashed features as sentiment (shared [`crate::features`]), a separate linear model
//! trained by `examples/train_intent.rs` on `data/intents/train.tsv` (hand-written
//! base phrasings expanded programmatically; see `data/intents/generate.py`).
//! A few keyword rules handle inputs the model cannot see (no words at all).

use serde::{Deserialize, Serialize};

use std::sync::OnceLock;

use crate::fasthash::{word_set, FastMap, FastSet};
use crate::features::{mask_features, raw_features, Analysis, Kind, Tok};
use crate::linear::LinearModel;

/// Hash table size exponent of the intent model.
pub const BITS: u32 = 16;

/// The embedded model.
pub static MODEL_BYTES: &[u8] = include_bytes!("../model/intent.bin");

macro_rules! intents {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// Intent label; serialises in snake_case (`where_is_my_order`, …).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum IntentLabel { $($v),* }
        /// All labels in model order.
        pub const LABELS: &[&str] = &[$($s),*];
        impl IntentLabel {
            pub const ALL: &'static [IntentLabel] = &[$(IntentLabel::$v),*];
            pub fn as_str(self) -> &'static str {
                match self { $(IntentLabel::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(IntentLabel::$v),)* _ => None }
            }
        }
    };
}

intents! {
    WhereIsMyOrder => "where_is_my_order",
    Cancel => "cancel",
    Return => "return",
    Refund => "refund",
    Exchange => "exchange",
    ChangeAddressOrPhone => "change_address_or_phone",
    PaymentProblem => "payment_problem",
    CodConfirmation => "cod_confirmation",
    CodRefusal => "cod_refusal",
    Complaint => "complaint",
    ProductQuestion => "product_question",
    DiscountQuestion => "discount_question",
    Greeting => "greeting",
    Thanks => "thanks",
    Other => "other",
}

/// An intent prediction: `{"label": …, "score": probability}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub label: IntentLabel,
    /// Probability of `label` in [0, 1].
    pub score: f32,
}

/// Load the embedded intent model (a fallback predicting `where_is_my_order`
/// uniformly if it is corrupt — never panics).
pub fn load_model() -> LinearModel {
    LinearModel::from_bytes(MODEL_BYTES).unwrap_or_else(|_| LinearModel::empty(LABELS))
}

/// Greetings and politeness that customers wrap around any request ("السلام عليكم …
/// لو سمحت", "hi … please"). They are removed before classification unless nothing
/// else is left, so "هلا وين طلبي" is about the order, not a greeting.
const FILLER: &[&str] = &[
    "السلام",
    "سلام",
    "عليكم",
    "عليك",
    "ورحمه",
    "الله",
    "وبركاته",
    "مرحبا",
    "مرحبتين",
    "هلا",
    "اهلا",
    "اهلين",
    "هاي",
    "صباح",
    "مساء",
    "الخير",
    "النور",
    "يا",
    "جماعه",
    "لو",
    "سمحت",
    "سمحتي",
    "سمحتو",
    "فضلك",
    "من",
    "يخليك",
    "يعافيك",
    "بسرعه",
    "ضروري",
    "عاجل",
    "اخي",
    "اختي",
    "حبيبي",
    "غالي",
    "hi",
    "hello",
    "hey",
    "there",
    "please",
    "plz",
    "pls",
    "urgent",
    "asap",
    "sir",
    "dear",
    "good",
    "morning",
    "evening",
    "salam",
    "marhaba",
    "ahlan",
    "kindly",
    "شلونكم",
    "كيفكم",
    "ازيكم",
    "والله",
];

/// Greeting words (normalised). A message made only of filler words that
/// contains one of these is a greeting, whatever the model says.
const GREETINGS: &[&str] = &[
    "السلام",
    "سلام",
    "مرحبا",
    "مرحبتين",
    "هلا",
    "اهلا",
    "اهلين",
    "هاي",
    "صباح",
    "مساء",
    "شلونكم",
    "كيفكم",
    "ازيكم",
    "كيفكن",
    "hi",
    "hello",
    "hey",
    "salam",
    "marhaba",
    "ahlan",
    "morning",
    "evening",
];

fn is_filler(w: &str) -> bool {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| word_set(FILLER)).contains(w)
}

fn is_greeting(w: &str) -> bool {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| word_set(GREETINGS)).contains(w)
}

/// Which tokens the intent model looks at: words that are not filler (and
/// numbers); everything when that would leave no word.
fn content_mask(a: &Analysis) -> Vec<bool> {
    let keep: Vec<bool> = a
        .tokens
        .iter()
        .map(|t| {
            matches!(t.kind, Kind::Arabic | Kind::Latin | Kind::Number) && !is_filler(&t.surface)
        })
        .collect();
    let words = a
        .tokens
        .iter()
        .zip(&keep)
        .any(|(t, k)| *k && t.kind != Kind::Number);
    if words {
        keep
    } else {
        vec![true; a.tokens.len()]
    }
}

/// Classify an analysed message from its raw features
/// ([`crate::features::raw_features`]); `sentiment_score` (−1..1) lets a clearly
/// negative message that the model reads as a question/other become a complaint.
pub fn classify_with(
    model: &LinearModel,
    a: &Analysis,
    raw: &[(u64, u32)],
    sentiment_score: f32,
    feats: &mut Vec<u32>,
) -> Intent {
    // Rule: nothing word-like (empty, digits, punctuation, emoji only) → other.
    if !a
        .tokens
        .iter()
        .any(|t| matches!(t.kind, Kind::Arabic | Kind::Latin))
    {
        return Intent {
            label: IntentLabel::Other,
            score: 1.0,
        };
    }
    // Rule: only filler words, at least one a greeting ("هلا", "hi there") → greeting.
    let only_filler = a
        .tokens
        .iter()
        .filter(|t| matches!(t.kind, Kind::Arabic | Kind::Latin))
        .all(|t| is_filler(&t.surface) || is_greeting(&t.surface));
    if only_filler && a.tokens.iter().any(|t| is_greeting(&t.surface)) {
        return Intent {
            label: IntentLabel::Greeting,
            score: 0.9,
        };
    }
    features_from_raw(a, raw, model.bits(), feats);
    let (mut i, mut p, probs) = model.predict(feats);
    // Rule: a complaint is negative by definition; a clearly positive message the
    // model reads as a complaint ("الـ quality ممتازة") takes its runner-up intent.
    // Same for a weak product question that is really praise ("وصلت الشنطة وحلوة
    // مره يعطيكم العافية").
    let complaint = model.labels().iter().position(|l| l == "complaint");
    let question = model.labels().iter().position(|l| l == "product_question");
    if sentiment_score > 0.5 && Some(i) == question && p < 0.5 {
        let bit = KEYWORDS
            .iter()
            .position(|(k, _)| *k == "thanks")
            .map_or(0, |i| 1u16 << i);
        let thanks = a.tokens.iter().any(|t| token_cues(t) & bit != 0);
        let label = if thanks {
            IntentLabel::Thanks
        } else {
            IntentLabel::Other
        };
        return Intent { label, score: 0.5 };
    }
    if sentiment_score > 0.5 && Some(i) == complaint && p < 0.95 {
        let mut rest = probs.clone();
        if let Some(x) = rest.get_mut(i) {
            *x = f32::NEG_INFINITY;
        }
        let (j, pj) = crate::linear::argmax(&rest);
        if pj < 0.25 {
            // No credible alternative: positive feedback without a request.
            return Intent {
                label: IntentLabel::Other,
                score: 0.5,
            };
        }
        i = j;
        p = pj;
    }
    let mut label = model
        .labels()
        .get(i)
        .and_then(|s| IntentLabel::parse(s))
        .unwrap_or(IntentLabel::Other);
    let mut score = p;
    if sentiment_score < -0.5
        && p < 0.6
        && matches!(
            label,
            IntentLabel::Other | IntentLabel::ProductQuestion | IntentLabel::Greeting
        )
    {
        label = IntentLabel::Complaint;
        score = (-sentiment_score).min(0.9) * 0.8;
    }
    Intent { label, score }
}

/// Classify an analysed message without sentiment information.
pub fn classify(model: &LinearModel, a: &Analysis) -> Intent {
    let mut raw = Vec::new();
    raw_features(a, &mut raw);
    classify_with(model, a, &raw, 0.0, &mut Vec::new())
}

/// Intent keyword cues (normalised). Arabic cues match as substrings of a token,
/// Latin cues as token prefixes. Each match emits one feature per intent, whose
/// weight the model learns; the lists add synonyms the training phrasings lack.
const KEYWORDS: &[(&str, &[&str])] = &[
    (
        "where_is_my_order",
        &[
            "وين",
            "يصل",
            "تصل",
            "توصل",
            "فين",
            "اين",
            "متى",
            "امتى",
            "ايمتى",
            "يوصل",
            "وصل",
            "تتبع",
            "تاخر",
            "اتاخر",
            "track",
            "where",
            "arriv",
            "deliver",
            "shipped",
            "status",
            "late",
        ],
    ),
    (
        "cancel",
        &["الغ", "الغاء", "كنسل", "لغي", "cancel", "kansel"],
    ),
    (
        "return",
        &["ارجع", "ارجاع", "استرجع", "مرتجع", "رجعه", "return", "back"],
    ),
    (
        "refund",
        &[
            "فلوس",
            "مبلغ",
            "مصاري",
            "استرداد",
            "مسترد",
            "تعويض",
            "refund",
            "money",
            "charged",
        ],
    ),
    (
        "exchange",
        &[
            "بدل",
            "ابدل",
            "استبدال",
            "تبديل",
            "exchang",
            "swap",
            "instead",
        ],
    ),
    (
        "change_address_or_phone",
        &[
            "عنوان",
            "لوكيشن",
            "موقعي",
            "جوال",
            "موبايل",
            "تلفون",
            "تليفون",
            "هاتف",
            "address",
            "location",
            "phone",
            "number",
        ],
    ),
    (
        "payment_problem",
        &[
            "دفع",
            "بطاقه",
            "كارت",
            "فيزا",
            "مدى",
            "تابي",
            "تمارا",
            "انخصم",
            "اتخصم",
            "payment",
            "card",
            "declin",
            "pay",
            "transaction",
        ],
    ),
    (
        "cod_confirmation",
        &[
            "اكد",
            "تاكيد",
            "موافق",
            "نعم",
            "ايوه",
            "ايوا",
            "confirm",
            "yes",
            "sure",
            "aywa",
        ],
    ),
    ("cod_refusal", &["رفض", "ماطلبت", "refus", "didn't"]),
    (
        "complaint",
        &[
            "شكوى",
            "اشتكي",
            "سيء",
            "زفت",
            "مكسور",
            "تالف",
            "نصب",
            "مقلد",
            "معيوب",
            "عيب",
            "خربان",
            "complain",
            "broken",
            "rude",
            "scam",
            "fake",
            "damaged",
            "terribl",
            "worst",
        ],
    ),
    (
        "product_question",
        &[
            "متوفر",
            "موجود",
            "سعر",
            "بكام",
            "مقاس",
            "خامه",
            "ضمان",
            "اصلي",
            "مواصفات",
            "available",
            "stock",
            "price",
            "size",
            "color",
            "warranty",
            "material",
            "origin",
        ],
    ),
    (
        "discount_question",
        &[
            "خصم",
            "كود",
            "كوبون",
            "عروض",
            "عرض",
            "اوفر",
            "تخفيض",
            "coupon",
            "discount",
            "promo",
            "sale",
            "offer",
            "code",
        ],
    ),
    (
        "thanks",
        &[
            "شكر",
            "مشكور",
            "يعطيك",
            "تسلم",
            "يسلمو",
            "جزاك",
            "ميرسي",
            "قصرت",
            "thank",
            "thx",
            "merci",
            "appreciat",
        ],
    ),
];

fn keyword_map() -> &'static FastMap<&'static str, u16> {
    static MAP: OnceLock<FastMap<&'static str, u16>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: FastMap<&'static str, u16> = FastMap::default();
        for (i, (_, cues)) in KEYWORDS.iter().enumerate() {
            for c in *cues {
                *m.entry(*c).or_default() |= 1 << i;
            }
        }
        m
    })
}

/// Bitmask of intents whose cue occurs in the token: Arabic cues as substrings
/// starting within the first 3 letters (after clitics like و/ب/ال), Latin cues as
/// prefixes.
fn token_cues(t: &Tok) -> u16 {
    let m = keyword_map();
    let mut bits = 0u16;
    // Char boundaries of the first 14 chars (cues are ≤10 chars, start ≤3).
    let mut idx = [0usize; 15];
    let mut n = 0;
    for (i, _) in t.surface.char_indices().take(14) {
        idx[n] = i;
        n += 1;
    }
    idx[n] = t
        .surface
        .char_indices()
        .nth(n)
        .map(|(i, _)| i)
        .unwrap_or(t.surface.len());
    let max_start = if t.kind == Kind::Arabic { n.min(3) } else { 0 };
    for s in 0..=max_start {
        for len in 2..=10usize {
            if s + len > n {
                break;
            }
            if let Some(b) = m.get(&t.surface[idx[s]..idx[s + len]]) {
                bits |= b;
            }
        }
    }
    bits
}

fn keyword_features(a: &Analysis, keep: &[bool], bits: u32, out: &mut Vec<u32>) {
    let mask = (1u64 << bits) - 1;
    let mut hit = 0u16;
    for (t, k) in a.tokens.iter().zip(keep) {
        if *k && matches!(t.kind, Kind::Arabic | Kind::Latin) {
            hit |= token_cues(t);
        }
    }
    for (i, (intent, _)) in KEYWORDS.iter().enumerate() {
        if hit & (1 << i) != 0 {
            out.push((crate::features::hash_str(b'K', intent) & mask) as u32);
        }
    }
}

/// Intent features from the message's raw features: filler tokens masked out,
/// keyword cue features appended.
pub fn features_from_raw(a: &Analysis, raw: &[(u64, u32)], bits: u32, out: &mut Vec<u32>) {
    let keep = content_mask(a);
    mask_features(
        raw,
        bits,
        false,
        |t| keep.get(t as usize).copied().unwrap_or(false),
        out,
    );
    keyword_features(a, &keep, bits, out);
}

/// Features exactly as [`classify_with`] computes them; used by the training
/// example so training and inference see the same view.
pub fn training_features(a: &Analysis, bits: u32, out: &mut Vec<u32>) {
    let mut raw = Vec::new();
    raw_features(a, &mut raw);
    features_from_raw(a, &raw, bits, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::analyze;

    #[test]
    fn cues_and_rules() {
        let a = analyze("ابي الغي طلبي");
        let cancel = KEYWORDS.iter().position(|(k, _)| *k == "cancel").unwrap();
        assert!(a.tokens.iter().any(|t| token_cues(t) & (1 << cancel) != 0));
        let m = load_model();
        assert_eq!(classify(&m, &analyze("")).label, IntentLabel::Other);
        assert_eq!(
            classify(&m, &analyze("هلا والله")).label,
            IntentLabel::Greeting
        );
        // Praise read as a weak product question → thanks (has a thanks cue).
        let praise = analyze("وصلتني الشنطة وحلوة مره يعطيكم العافية");
        let mut raw = Vec::new();
        raw_features(&praise, &mut raw);
        let got = classify_with(&m, &praise, &raw, 0.8, &mut Vec::new()).label;
        assert!(
            matches!(got, IntentLabel::Thanks | IntentLabel::Other),
            "{got:?}"
        );
    }
}
