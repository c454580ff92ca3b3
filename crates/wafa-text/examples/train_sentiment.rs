//! Offline training of the embedded sentiment model.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-text cargo run --release -p wafa-text --example train_sentiment -- \
//!     --data /work/shared/data/sentiment --out crates/wafa-text/model/
//! ```
//! Deterministic (fixed seeds, hash-based splits; ~1.5 min). Writes `sentiment.bin` and
//! `lexicon.tsv` and prints validation metrics (never trained on, never used to choose)
//! per source, language and dialect.
//!
//! Procedure: the validation split (15% by text hash) is set aside; the rest is split into
//! `--folds` cross-validation folds. Fold models give pooled out-of-fold predictions, on
//! which the neutral logit bias is tuned (and on which every option was chosen: the
//! `SUMMARY oof` line). The shipped model is trained on the whole training portion, as the
//! weight average of `--seeds` runs with different shuffles, and gets the tuned bias.
//! Besides hashed n-grams, the model takes the dense lexicon inputs of `src/lexicon.rs`,
//! built from the table this program writes.
//!
//! Training material and why:
//! - ArSarcasm-v2 (POS/NEG/NEU, dialect-labelled tweets) — the only 3-class Arabic set;
//! - ATSAD (emoji-labelled tweets) with the emojis STRIPPED (else the model learns the
//!   labelling rule), down-weighted because distant labels are noisy, 2-class only;
//! - VADER English ground truth (mean valence −4..4 → neg < −0.5 ≤ neu ≤ 0.5 < pos;
//!   trained with soft targets: |valence| < 1 is partly neutral);
//! - lexicons as one-word examples (nlpjs_ar AFINN-style, VADER English) plus their
//!   negated forms ("مش X", "not X") with the opposite label: priors that carry
//!   to out-of-domain reviews and teach negation on every lexicon word;
//! - templated review-style sentences (products, delivery, service; Gulf, Egyptian,
//!   Levantine, MSA, English, Arabizi) generated below, so review vocabulary is not
//!   left to tweets alone. The hand-written sanity set is never used here.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use wafa_text::eval::Confusion;
use wafa_text::features::{analyze, features, hash_str, stem, Kind};
use wafa_text::lexicon::{dense_features, Lexicon, DENSE};
use wafa_text::linear::{Rng, Trainer};
use wafa_text::normalize::{is_arabic_token, normalize, strip_emoji};
use wafa_text::sentiment::{classify_features_dense, decide, SentimentLabel, BITS, LABELS};

struct Ex {
    text: String,
    label: usize,
    weight: f32,
    /// Reporting group, e.g. "arsarcasm/gulf".
    group: String,
    val: bool,
    /// Mean human valence (VADER ground truth only), for soft training targets.
    valence: Option<f32>,
}

fn is_val(text: &str) -> bool {
    hash_str(b'S', text) % 100 < 15
}

fn label_idx(s: &str) -> Option<usize> {
    match s.trim().to_ascii_uppercase().as_str() {
        "NEG" | "NEGATIVE" => Some(0),
        "NEU" | "NEUTRAL" => Some(1),
        "POS" | "POSITIVE" => Some(2),
        _ => None,
    }
}

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

fn load_arsarcasm(dir: &Path, out: &mut Vec<Ex>, dialect_w: f32, sarcasm_w: f32) {
    let path = dir.join("train/arsarcasm_v2/training_data.csv");
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .expect("arsarcasm csv");
    for rec in rdr.records().flatten() {
        if rec.len() < 4 {
            continue;
        }
        let text = rec[0].trim_matches('"').to_string();
        let Some(label) = label_idx(&rec[2]) else {
            continue;
        };
        let dialect = rec[3].trim().to_string();
        let val = is_val(&text);
        // Dialectal tweets are scarce next to MSA: optionally up-weight them.
        let mut weight = if dialect == "msa" { 1.0 } else { dialect_w };
        // Sarcastic tweets pair positive words with negative labels; optionally
        // down-weight them so review-style text is not confused.
        if rec[1].trim().eq_ignore_ascii_case("true") {
            weight *= sarcasm_w;
        }
        out.push(Ex {
            text,
            label,
            weight,
            group: format!("arsarcasm/{dialect}"),
            val,
            valence: None,
        });
    }
}

fn load_atsad(dir: &Path, out: &mut Vec<Ex>, weight: f32) {
    for (file, label) in [
        ("train_Arabic_tweets_negative_20190413.tsv", 0),
        ("train_Arabic_tweets_positive_20190413.tsv", 2),
    ] {
        let s = fs::read_to_string(dir.join("train/atsad").join(file)).expect("atsad");
        for line in s.lines() {
            let Some((_, t)) = line.split_once('\t') else {
                continue;
            };
            // Emojis were the labelling rule: strip them.
            let text = strip_emoji(t);
            if text.trim().is_empty() {
                continue;
            }
            let val = is_val(&text);
            out.push(Ex {
                text,
                label,
                weight,
                group: "atsad(2-class)".into(),
                val,
                valence: None,
            });
        }
    }
}

fn load_vader_gt(dir: &Path, out: &mut Vec<Ex>, amazon_w: f32) {
    for (file, g) in [
        ("amazonReviewSnippets_GroundTruth.txt", "vader/amazon"),
        ("movieReviewSnippets_GroundTruth.txt", "vader/movie"),
        ("nytEditorialSnippets_GroundTruth.txt", "vader/nyt"),
        ("tweets_GroundTruth.txt", "vader/tweets"),
    ] {
        let s = fs::read_to_string(dir.join("train/vader_en_groundtruth").join(file))
            .expect("vader gt");
        for line in s.lines() {
            let mut it = line.splitn(3, '\t');
            let (Some(_), Some(v), Some(text)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(v) = v.trim().parse::<f32>() else {
                continue;
            };
            let label = if v < -0.5 {
                0
            } else if v > 0.5 {
                2
            } else {
                1
            };
            let val = is_val(text);
            out.push(Ex {
                text: text.to_string(),
                label,
                weight: if g == "vader/amazon" { amazon_w } else { 1.0 },
                group: g.into(),
                val,
                valence: Some(v),
            });
        }
    }
}

/// nlp.js Arabic entries that are machine-translation errors in the review domain:
/// بارد is "cool" (+2) in the source but means "cold" (food, drinks, service: negative).
const AR_LEX_EXCLUDE: &[&str] = &["بارد"];

fn load_lexicons(dir: &Path, out: &mut Vec<Ex>, w: f32) {
    let s = fs::read_to_string(dir.join("lexicons/nlpjs_ar/afinn_ar.json")).expect("afinn_ar");
    let m: BTreeMap<String, f32> = serde_json::from_str(&s).expect("afinn json");
    let negs = ["مش", "مو", "ما", "غير", "مب"];
    for (i, (word, score)) in m.iter().enumerate() {
        if AR_LEX_EXCLUDE.contains(&normalize(word).as_str()) {
            continue;
        }
        if score.abs() < 1.0 {
            continue;
        }
        let label = if *score > 0.0 { 2 } else { 0 };
        let wt = w * (score.abs().min(3.0) / 3.0);
        out.push(Ex {
            text: word.clone(),
            label,
            weight: wt,
            group: "lexicon".into(),
            val: false,
            valence: None,
        });
        if word.chars().any(|c| c.is_alphabetic()) {
            let neg = negs[i % negs.len()];
            out.push(Ex {
                text: format!("{neg} {word}"),
                label: 2 - label,
                weight: wt * 0.5,
                group: "lexicon".into(),
                val: false,
                valence: None,
            });
        }
    }
    let s =
        fs::read_to_string(dir.join("lexicons/vader_en/vader_lexicon.txt")).expect("vader lexicon");
    let negs = ["not", "never", "isn't", "wasn't", "no"];
    for (i, line) in s.lines().enumerate() {
        let mut it = line.split('\t');
        let (Some(word), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(v) = v.trim().parse::<f32>() else {
            continue;
        };
        if v.abs() < 1.0 {
            continue;
        }
        let label = if v > 0.0 { 2 } else { 0 };
        let wt = w * (v.abs().min(3.0) / 3.0);
        out.push(Ex {
            text: word.to_string(),
            label,
            weight: wt,
            group: "lexicon".into(),
            val: false,
            valence: None,
        });
        if word.chars().all(|c| c.is_ascii_alphabetic()) {
            let neg = negs[i % negs.len()];
            out.push(Ex {
                text: format!("{neg} {word}"),
                label: 2 - label,
                weight: wt * 0.5,
                group: "lexicon".into(),
                val: false,
                valence: None,
            });
        }
    }
}

/// Review words used by the templates.
const AR_POS: &[&str] = &[
    "ممتاز",
    "رائع",
    "جميل",
    "حلو",
    "وايد حلو",
    "مره حلو",
    "يجنن",
    "رهيب",
    "فخم",
    "تحفة",
    "جامد",
    "كويس جدا",
    "حلو اوي",
    "منيح",
    "كتير حلو",
    "بيجنن",
    "ممتاز جدا",
    "عالي الجودة",
    "سريع",
    "مرتب",
    "نظيف",
    "اصلي",
    "مضبوط",
    "يستاهل",
    "خيالي",
    "روعة",
    "فنان",
    "زين",
    "مرة زين",
    "مية مية",
    "فوق الممتاز",
    "احترافي",
    "يفتح النفس",
    "مريح",
    "ناعم",
    "عملي",
    "جودته عالية",
    "سعره مناسب",
    "ممتازه",
    "لطيف",
    "شيك",
    "أنيق",
];
const AR_NEG: &[&str] = &[
    "سيء",
    "سيئ جدا",
    "زفت",
    "وحش",
    "خايس",
    "تعبان",
    "رديء",
    "متأخر",
    "بطيء",
    "غالي",
    "مغشوش",
    "تقليد",
    "مكسور",
    "خربان",
    "بايظ",
    "معيوب",
    "مقرف",
    "فاشل",
    "مخيب للآمال",
    "ناقص",
    "غلط",
    "سيئه",
    "ضعيف",
    "بايخ",
    "مضروب",
    "تالف",
    "مستعمل",
    "وسخ",
    "حرامية",
    "نصب",
    "أسوأ شي",
    "ما له داعي",
    "خسارة فلوس",
    "مزعج",
    "قليل ذوق",
    "ما ينفع",
    "باهت",
    "مقطوع",
    "مشقوق",
    "مهترئ",
];
const EN_POS: &[&str] = &[
    "great",
    "excellent",
    "amazing",
    "perfect",
    "fantastic",
    "good",
    "awesome",
    "fast",
    "comfortable",
    "beautiful",
    "reliable",
    "worth it",
    "superb",
    "lovely",
    "outstanding",
    "very good",
    "solid",
    "impressive",
    "top notch",
    "exactly as described",
    "well made",
    "helpful",
    "quick",
];
const EN_NEG: &[&str] = &[
    "terrible",
    "awful",
    "bad",
    "poor",
    "cheap",
    "broken",
    "slow",
    "late",
    "damaged",
    "defective",
    "useless",
    "disappointing",
    "overpriced",
    "horrible",
    "flimsy",
    "fake",
    "rude",
    "faulty",
    "the worst",
    "a waste of money",
    "not as described",
    "unacceptable",
    "garbage",
];

/// Templated review-style sentences (see module docs).
fn templates(out: &mut Vec<Ex>, w: f32, rng: &mut Rng) {
    let ar_subj = [
        "المنتج",
        "الطلب",
        "التوصيل",
        "الشحن",
        "الجودة",
        "الخدمة",
        "التعامل",
        "السعر",
        "المقاس",
        "القماش",
        "التغليف",
        "المتجر",
        "خدمة العملاء",
        "الجهاز",
        "العطر",
        "اللون",
        "الطلبية",
        "المندوب",
        "الاوردر",
        "الخامة",
        "الشنطة",
        "الجوال",
        "الساعة",
        "الكريم",
        "الفستان",
        "البضاعة",
        "الموقع",
        "التطبيق",
    ];
    let ar_pos = AR_POS;
    let ar_neg = AR_NEG;
    let ar_neg_words = ["مو", "مش", "ما كان", "غير", "مب", "ليس", "مهوب", "مش كتير"];
    let ar_intens = [
        "",
        "",
        "والله ",
        "صراحة ",
        "بصراحة ",
        "بجد ",
        "حقيقي ",
        "جد ",
    ];
    let ar_pos_tail = [
        "",
        "",
        "انصح فيه",
        "شكرا لكم",
        "يعطيكم العافية",
        "تسلم ايديكم",
        "بطلب مرة ثانية",
        "هشتري تاني",
        "الله يوفقكم",
        "ممنونين",
        "يسلمو",
        "انصح به",
        "ما قصرتوا",
        "مبسوط",
        "راضي تماما",
        "الحمدلله",
    ];
    let ar_neg_tail = [
        "",
        "",
        "ما انصح فيه",
        "للأسف",
        "لن أشتري مرة أخرى",
        "مش هشتري تاني",
        "ابي فلوسي",
        "حسبي الله",
        "ندمت",
        "زعلان",
        "خسارة",
        "ما بنصح فيهم",
        "تجربة سيئة",
        "ما راح اتعامل معكم",
        "مضيعة وقت",
        "ومحد يرد",
        "وما حدا رد علي",
        "ولا احد يرد",
        "ولسه ما وصل",
        "وتأخر كثير",
        "ومفيش حد بيرد",
        "والطلب متأخر",
    ];
    let en_subj = [
        "the product",
        "this item",
        "delivery",
        "shipping",
        "the quality",
        "customer service",
        "the seller",
        "the packaging",
        "the fit",
        "the material",
        "the battery",
        "the price",
        "the dress",
        "the phone",
        "the app",
        "the store",
        "my order",
        "the shoes",
        "the color",
        "support",
    ];
    let en_pos = EN_POS;
    let en_neg = EN_NEG;
    let en_negw = [
        "not",
        "wasn't",
        "isn't",
        "never",
        "not really",
        "was not",
        "is not",
    ];
    let en_pos_tail = [
        "",
        "",
        "highly recommend",
        "thanks!",
        "will buy again",
        "love it",
        "five stars",
        "very happy",
    ];
    let en_neg_tail = [
        "",
        "",
        "do not buy",
        "very disappointed",
        "never again",
        "want a refund",
        "one star",
        "avoid",
        "and nobody answers",
        "and no one replied",
        "still not delivered",
        "and it arrived late",
    ];
    let az_pos = [
        "7elw",
        "7elw awi",
        "kwayes gedan",
        "tohfa",
        "momtaz",
        "gamed",
        "roo3a",
        "zain",
        "mneeh ktir",
    ];
    let az_neg = [
        "wa7esh",
        "zeft",
        "mesh kowayes",
        "mo zain",
        "sayi2",
        "5arban",
        "ghali awi",
        "met2akher",
    ];
    let az_subj = [
        "el montag",
        "el order",
        "el tawsil",
        "el 5ama",
        "el service",
        "el talab",
        "el shahn",
    ];
    let n = 4000;
    for _ in 0..n {
        let r = rng.next_u64() as usize;
        let pick = |xs: &[&'static str], k: usize| xs[(r >> k) % xs.len()];
        let s = pick(&ar_subj, 0);
        let it = pick(&ar_intens, 5);
        // positive, negative, negated positive (→ negative), negated negative (→ weakly positive)
        match (r >> 40) % 4 {
            0 => out.push(ex(
                format!("{it}{s} {} {}", pick(ar_pos, 10), pick(&ar_pos_tail, 20)),
                2,
                w,
            )),
            1 => out.push(ex(
                format!("{it}{s} {} {}", pick(ar_neg, 10), pick(&ar_neg_tail, 20)),
                0,
                w,
            )),
            2 => out.push(ex(
                format!(
                    "{s} {} {} {}",
                    pick(&ar_neg_words, 30),
                    pick(ar_pos, 10),
                    pick(&ar_neg_tail, 20)
                ),
                0,
                w,
            )),
            _ => out.push(ex(
                format!(
                    "{it}{s} {} و{} {}",
                    pick(ar_pos, 10),
                    pick(&ar_subj, 15),
                    pick(ar_pos, 25)
                ),
                2,
                w,
            )),
        }
        let e = pick(&en_subj, 3);
        match (r >> 44) % 4 {
            0 => out.push(ex(
                format!("{e} is {} {}", pick(en_pos, 12), pick(&en_pos_tail, 22)),
                2,
                w,
            )),
            1 => out.push(ex(
                format!("{e} was {} {}", pick(en_neg, 12), pick(&en_neg_tail, 22)),
                0,
                w,
            )),
            2 => out.push(ex(
                format!(
                    "{e} {} {} {}",
                    pick(&en_negw, 33),
                    pick(en_pos, 12),
                    pick(&en_neg_tail, 22)
                ),
                0,
                w,
            )),
            _ => out.push(ex(
                format!(
                    "{e} is {} and {} is {}",
                    pick(en_pos, 12),
                    pick(&en_subj, 17),
                    pick(en_pos, 27)
                ),
                2,
                w,
            )),
        }
        if matches!((r >> 50) % 3, 0) {
            let a = pick(&az_subj, 7);
            if (r >> 52) & 1 == 0 {
                out.push(ex(format!("{a} {}", pick(&az_pos, 9)), 2, w));
            } else {
                out.push(ex(format!("{a} {}", pick(&az_neg, 9)), 0, w));
            }
        }
    }
    // Strongly polar emoji, alone and appended to polar sentences (the nlpjs
    // lexicon scores some of them weakly, e.g. 😡 = −1).
    let emo_pos = [
        "😍", "🥰", "❤", "👍", "👌", "🔥", "💯", "😊", "🤩", "👏", "😘", "💕", "🌹", "😁",
    ];
    let emo_neg = [
        "😡", "🤬", "😠", "😤", "👎", "💔", "😞", "😢", "😭", "🙄", "😒", "🤮", "😩", "😑",
    ];
    for (k, e) in emo_pos.iter().enumerate() {
        out.push(ex(e.to_string(), 2, w));
        out.push(ex(format!("{e}{e}"), 2, w));
        out.push(ex(format!("{} {e}", ar_pos[k % ar_pos.len()]), 2, w));
        out.push(ex(format!("{} {e}", en_pos[k % en_pos.len()]), 2, w));
    }
    for (k, e) in emo_neg.iter().enumerate() {
        out.push(ex(e.to_string(), 0, w));
        out.push(ex(format!("{e}{e}"), 0, w));
        out.push(ex(format!("{} {e}", ar_neg[k % ar_neg.len()]), 0, w));
        out.push(ex(format!("{} {e}", en_neg[k % en_neg.len()]), 0, w));
    }
    // Neutral: logistics questions and statements that carry no opinion.
    let neu = [
        "وين طلبي",
        "متى يوصل الطلب",
        "كم سعر الشحن",
        "هل المنتج متوفر",
        "ابي اغير العنوان",
        "وصل الطلب اليوم",
        "عندكم مقاس كبير",
        "الطلب رقم",
        "ابغى استفسر عن",
        "امتى الاوردر يوصل",
        "فين الطلب بتاعي",
        "قديش التوصيل",
        "بدي اعرف وين الطلبية",
        "هل يوجد خصم",
        "كيف ادفع",
        "where is my order",
        "when will it arrive",
        "do you have this in blue",
        "i placed an order yesterday",
        "how much is shipping",
        "can i change my address",
        "what sizes are available",
        "is cash on delivery available",
        "the order number is",
        "tracking number please",
    ];
    for q in neu {
        for suffix in ["", " ?", " لو سمحت", " please", " 123"] {
            out.push(ex(format!("{q}{suffix}"), 1, w));
        }
    }
}

fn ex(text: String, label: usize, weight: f32) -> Ex {
    Ex {
        text,
        label,
        weight,
        group: "template".into(),
        val: false,
        valence: None,
    }
}

/// Build the lexicon table shipped as `model/lexicon.tsv` (see `src/lexicon.rs`):
/// VADER English (mean valence −4..4) and nlp.js Arabic/emoji (−5..5, scaled by 0.8
/// to VADER's range), keyed by the normalised single-token form, plus stem fallbacks
/// where every lexicon word with that stem agrees in sign. Sorted: deterministic.
fn build_lexicon(dir: &Path, arabic: bool) -> String {
    let mut words: BTreeMap<String, (f32, f32)> = BTreeMap::new();
    let mut add = |w: &str, v: f32| {
        let n = normalize(w);
        if n.is_empty() || n.contains(' ') || n == "?" || n == "!" || v == 0.0 {
            return;
        }
        let e = words.entry(n).or_default();
        e.0 += v;
        e.1 += 1.0;
    };
    let s =
        fs::read_to_string(dir.join("lexicons/vader_en/vader_lexicon.txt")).expect("vader lexicon");
    for line in s.lines() {
        let mut it = line.split('\t');
        let (Some(w), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        if let Ok(v) = v.trim().parse::<f32>() {
            add(w, v);
        }
    }
    let s = fs::read_to_string(dir.join("lexicons/nlpjs_ar/afinn_ar.json")).expect("afinn_ar");
    let m: BTreeMap<String, f32> = serde_json::from_str(&s).expect("afinn json");
    for (w, v) in &m {
        // Without Arabic words (`--ar-lexicon-inputs 0`): only nlp.js's emoji remain.
        let n = normalize(w);
        if (!arabic && is_arabic_token(&n)) || AR_LEX_EXCLUDE.contains(&n.as_str()) {
            continue;
        }
        add(w, v * 0.8);
    }
    let mut stems: BTreeMap<String, (f32, f32, bool, bool)> = BTreeMap::new();
    let mut out = String::new();
    for (w, (sum, n)) in &words {
        let v = sum / n;
        out.push_str(&format!("w\t{w}\t{v:.3}\n"));
        let kind = if is_arabic_token(w) {
            Kind::Arabic
        } else if w.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
            Kind::Latin
        } else {
            continue;
        };
        let st = stem(&w.replace('\'', ""), kind);
        let e = stems.entry(st).or_default();
        e.0 += v;
        e.1 += 1.0;
        e.2 |= v > 0.0;
        e.3 |= v < 0.0;
    }
    for (st, (sum, n, p, q)) in &stems {
        if p != q && !st.is_empty() {
            out.push_str(&format!("s\t{st}\t{:.3}\n", sum / n));
        }
    }
    out
}

/// Cross-validation fold of a training example (`None`: validation, lexicon or
/// template examples, which are never held out). Decision thresholds are tuned on
/// pooled out-of-fold predictions over the training portion, never on validation.
fn fold_of(e: &Ex, folds: u64) -> Option<u64> {
    if e.val || matches!(e.group.as_str(), "lexicon" | "template") {
        None
    } else {
        Some(hash_str(b'D', &e.text) % folds)
    }
}

struct Cfg {
    epochs: usize,
    lr: f32,
    l2: f32,
    avg_last: usize,
    dense: bool,
    /// Soft targets for rated examples: |valence| ≥ `soft` is fully polar (0: off).
    soft: f32,
    /// Runs with different shuffling seeds whose weights are averaged.
    seeds: usize,
}

fn train(
    all: &[Ex],
    feats: &[Vec<u32>],
    dense: &[[f32; DENSE]],
    use_ex: &dyn Fn(usize) -> bool,
    cfg: &Cfg,
    seed: u64,
) -> wafa_text::linear::LinearModel {
    let mut runs = Vec::new();
    for r in 0..cfg.seeds.max(1) {
        let seed = seed ^ (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        runs.push(train_run(all, feats, dense, use_ex, cfg, seed));
    }
    Trainer::finish_average(&runs, &LABELS)
}

fn train_run(
    all: &[Ex],
    feats: &[Vec<u32>],
    dense: &[[f32; DENSE]],
    use_ex: &dyn Fn(usize) -> bool,
    cfg: &Cfg,
    seed: u64,
) -> Trainer {
    let mut rng = Rng(seed);
    let mut order: Vec<usize> = (0..all.len()).filter(|&i| use_ex(i)).collect();
    let mut t = if cfg.dense {
        Trainer::with_dense(BITS, 3, DENSE)
    } else {
        Trainer::new(BITS, 3)
    };
    t.lr = cfg.lr;
    t.l2 = cfg.l2;
    for ep in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let mut target = [0.0f32; 3];
            match all[i].valence {
                // Soft target: weak valences are partly neutral (VADER ground truth).
                Some(v) if cfg.soft > 0.0 => {
                    let a = (v.abs() / cfg.soft).min(1.0);
                    target[1] = 1.0 - a;
                    target[if v > 0.0 { 2 } else { 0 }] += a;
                }
                _ => target[all[i].label] = 1.0,
            }
            let d: &[f32] = if cfg.dense { &dense[i] } else { &[] };
            t.step_dense(&feats[i], d, &target, all[i].weight);
        }
        if ep + cfg.avg_last >= cfg.epochs {
            t.snapshot();
        }
    }
    t
}

type Report = BTreeMap<String, (Confusion, Confusion)>;

/// Probabilities with `delta` added to the neutral logit (exactly what
/// `LinearModel::add_bias(1, delta)` does to the model).
fn shift_neutral(p: &[f32; 3], delta: f32) -> [f32; 3] {
    let mut q = [p[0], p[1] * delta.exp(), p[2]];
    let s: f32 = q.iter().sum();
    q.iter_mut().for_each(|x| *x /= s);
    q
}

/// 3-class (shipped decision) and 2-class (gold pos/neg, sign of score) confusions
/// per source group, per language and for dialectal (non-MSA) ArSarcasm, over the
/// examples that have probabilities.
fn polarity_gap_override() -> Option<f32> {
    std::env::var("GAP").ok().and_then(|s| s.parse().ok())
}

fn evaluate(all: &[Ex], probs: &[Option<[f32; 3]>], delta: f32) -> Report {
    let mut groups: Report = BTreeMap::new();
    for (e, p) in all.iter().zip(probs) {
        let Some(p) = p else { continue };
        let mut s = decide(&shift_neutral(p, delta));
        if let Some(g) = polarity_gap_override() {
            // Study only: the decision rule with another neutral→polar gap.
            let q = shift_neutral(p, delta);
            let am = wafa_text::linear::argmax(&q).0;
            let i = if am == 1 && (q[2] - q[0]).abs() >= g {
                if q[2] > q[0] {
                    2
                } else {
                    0
                }
            } else {
                am
            };
            s.label = [
                SentimentLabel::Negative,
                SentimentLabel::Neutral,
                SentimentLabel::Positive,
            ][i];
        }
        let pred3 = LABELS
            .iter()
            .position(|x| *x == s.label.as_str())
            .unwrap_or(1);
        let lang = if e.group.starts_with("vader") {
            "en"
        } else if e.group.starts_with("arsarcasm") {
            "ar(arsarcasm all dialects)"
        } else {
            "ar(atsad)"
        };
        let mut keys = vec![e.group.clone(), lang.to_string()];
        if e.group.starts_with("arsarcasm/") && e.group != "arsarcasm/msa" {
            keys.push("ar(arsarcasm dialectal, non-MSA)".to_string());
        }
        for key in keys {
            let entry = groups.entry(key).or_insert_with(|| {
                (
                    Confusion::new(&LABELS),
                    Confusion::new(&["negative", "positive"]),
                )
            });
            entry.0.add(e.label, pred3);
            if e.label != 1 {
                entry.1.add(e.label / 2, usize::from(s.score > 0.0));
            }
        }
    }
    groups
}

fn probs_of(
    model: &wafa_text::linear::LinearModel,
    feats: &[u32],
    dense: &[f32; DENSE],
    use_dense: bool,
) -> [f32; 3] {
    let d: &[f32] = if use_dense { dense } else { &[] };
    let (_, _, p) = model.predict_dense(feats, d);
    [p[0], p[1], p[2]]
}

fn f1(r: &Report, k: &str) -> f64 {
    r.get(k).map(|c| c.0.macro_f1()).unwrap_or(0.0)
}
fn acc2(r: &Report, k: &str) -> f64 {
    r.get(k).map(|c| c.1.accuracy()).unwrap_or(0.0)
}

fn print_report(title: &str, r: &Report) {
    println!("\n{title}. 3-class (shipped decision) | 2-class (gold pos/neg only, sign of score):");
    let (langs, groups): (Vec<_>, Vec<_>) = r.iter().partition(|(k, _)| k.contains('('));
    for (g, (c3, c2)) in groups.into_iter().chain(langs) {
        println!("{g:<22} 3c: {}   2c: {}", c3.summary(), c2.summary());
    }
    for key in ["ar(arsarcasm dialectal, non-MSA)", "en"] {
        if let Some((c3, _)) = r.get(key) {
            println!("per-class, {key}:");
            print!("{}", c3.report());
        }
    }
}

fn main() {
    let data = PathBuf::from(arg("--data").unwrap_or_else(|| "/work/shared/data/sentiment".into()));
    let out_dir = PathBuf::from(arg("--out").unwrap_or_else(|| "crates/wafa-text/model".into()));
    let num = |name: &str, default: f32| -> f32 {
        arg(name).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let atsad_w = num("--atsad-weight", 0.3);
    let lex_w = num("--lex-weight", 1.0);
    let tpl_w = num("--tpl-weight", 0.5);
    let dialect_w = num("--dialect-weight", 3.0);
    let sarcasm_w = num("--sarcasm-weight", 0.6);
    let cfg = Cfg {
        epochs: num("--epochs", 5.0) as usize,
        lr: num("--lr", 0.1),
        l2: num("--l2", 1e-6),
        avg_last: num("--avg-last", 0.0) as usize,
        dense: num("--lexicon-inputs", 1.0) != 0.0,
        soft: num("--soft-valence", 1.0),
        seeds: num("--seeds", 5.0) as usize,
    };
    let mut rng = Rng(0x5eed_1234_abcd_0001);

    let lexicon_tsv = build_lexicon(&data, num("--ar-lexicon-inputs", 1.0) != 0.0);
    let lex = Lexicon::parse(&lexicon_tsv);
    eprintln!("lexicon: {} words", lex.len());

    let mut all = Vec::new();
    load_arsarcasm(&data, &mut all, dialect_w, sarcasm_w);
    load_atsad(&data, &mut all, atsad_w);
    load_vader_gt(&data, &mut all, num("--amazon-weight", 3.0));
    load_lexicons(&data, &mut all, lex_w);
    templates(&mut all, tpl_w, &mut rng);

    let balance_pow = num("--balance-power", 1.0);
    // Class balance per source group: each group's classes weigh the same in total.
    let mut counts: BTreeMap<(String, usize), f32> = BTreeMap::new();
    let mut gtot: BTreeMap<String, (f32, usize)> = BTreeMap::new();
    for e in all.iter().filter(|e| !e.val) {
        let g = e.group.split('/').next().unwrap_or("").to_string();
        *counts.entry((g.clone(), e.label)).or_default() += 1.0;
        gtot.entry(g).or_default().0 += 1.0;
    }
    for ((g, _), _) in counts.iter() {
        gtot.get_mut(g).unwrap().1 += 1;
    }
    for e in all.iter_mut() {
        let g = e.group.split('/').next().unwrap_or("").to_string();
        if let (Some(c), Some((t, k))) = (counts.get(&(g.clone(), e.label)), gtot.get(&g)) {
            e.weight *= (t / (*k as f32 * c)).clamp(0.3, 3.0).powf(balance_pow);
        }
    }

    eprintln!("featurising {} examples…", all.len());
    let mut feats: Vec<Vec<u32>> = Vec::with_capacity(all.len());
    let mut dense: Vec<[f32; DENSE]> = Vec::with_capacity(all.len());
    for e in &all {
        let a = analyze(&e.text);
        let mut f = Vec::new();
        features(&a, BITS, &mut f);
        feats.push(f);
        let mut d = [0.0; DENSE];
        dense_features(&lex, &a, &mut d);
        dense.push(d);
    }
    let folds = num("--folds", 5.0).max(2.0) as u64;
    let fold: Vec<Option<u64>> = all.iter().map(|e| fold_of(e, folds)).collect();
    if std::env::var("LEX_ONLY").is_ok() {
        // Lexicon alone (sign of the summed compounds) on pos/neg gold, per group.
        let mut m: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
        for (i, e) in all.iter().enumerate().filter(|(i, _)| all[*i].val) {
            if e.label == 1 {
                continue;
            }
            let s = dense[i][0] + dense[i][1] + dense[i][2];
            let x = m.entry(e.group.clone()).or_default();
            x.0 += 1;
            x.1 += u32::from((s > 0.0) == (e.label == 2) && s != 0.0);
            x.2 += u32::from(s == 0.0);
        }
        for (g, (n, ok, zero)) in m {
            println!(
                "lexicon-only {g:<20} n={n} acc={:.3} no-hit={:.3}",
                ok as f64 / n as f64,
                zero as f64 / n as f64
            );
        }
    }

    // Pass 1: K-fold models over the training portion → out-of-fold probabilities,
    // on which the neutral bias is tuned.
    let seed = rng.0;
    let mut oof: Vec<Option<[f32; 3]>> = vec![None; all.len()];
    for k in 0..folds {
        let m = train(
            &all,
            &feats,
            &dense,
            &|i| !all[i].val && fold[i] != Some(k),
            &cfg,
            seed,
        );
        for i in (0..all.len()).filter(|&i| fold[i] == Some(k)) {
            oof[i] = Some(probs_of(&m, &feats[i], &dense[i], cfg.dense));
        }
        eprintln!("fold {k} done");
    }
    let objective = |r: &Report| {
        (f1(r, "ar(arsarcasm all dialects)") + f1(r, "ar(arsarcasm dialectal, non-MSA)")) / 2.0
    };
    let mut best = (f64::NEG_INFINITY, 0.0f32);
    for k in -10..=10 {
        let delta = k as f32 * 0.1;
        let r = evaluate(&all, &oof, delta);
        let o = objective(&r);
        if std::env::var("SHOW_TUNING").is_ok() {
            println!(
                "oof neutral bias {delta:+.1}: ar3c {:.3} dialectal3c {:.3} en3c {:.3}",
                f1(&r, "ar(arsarcasm all dialects)"),
                f1(&r, "ar(arsarcasm dialectal, non-MSA)"),
                f1(&r, "en")
            );
        }
        // Prefer the smallest change on near-ties (within 0.002).
        if o > best.0 + 0.002 || (o > best.0 - 0.002 && delta.abs() < best.1.abs()) {
            best = (best.0.max(o), delta);
        }
    }
    let neutral_bias = if num("--tune-neutral", 1.0) != 0.0 {
        best.1
    } else {
        0.0
    };
    let r = evaluate(&all, &oof, neutral_bias);
    println!(
        "SUMMARY oof ({folds}-fold, neutral bias {neutral_bias:+.1}): dialectal3c {:.3} ar3c {:.3} en3c {:.3} | 2c amazon {:.3} en {:.3} ar {:.3} atsad {:.3}",
        f1(&r, "ar(arsarcasm dialectal, non-MSA)"),
        f1(&r, "ar(arsarcasm all dialects)"),
        f1(&r, "en"),
        acc2(&r, "vader/amazon"),
        acc2(&r, "en"),
        acc2(&r, "ar(arsarcasm all dialects)"),
        acc2(&r, "ar(atsad)"),
    );
    if std::env::var("OOF_ONLY").is_ok() {
        return;
    }

    // Pass 2: the shipped model, trained on the whole training portion, with the
    // tuned neutral bias.
    let mut model = train(&all, &feats, &dense, &|i| !all[i].val, &cfg, seed);
    model.add_bias(1, neutral_bias);
    fs::create_dir_all(&out_dir).expect("out dir");
    let bytes = model.to_bytes();
    fs::write(out_dir.join("sentiment.bin"), &bytes).expect("write model");
    fs::write(out_dir.join("lexicon.tsv"), &lexicon_tsv).expect("write lexicon");
    println!(
        "wrote {} ({} bytes) and lexicon.tsv ({} bytes)",
        out_dir.join("sentiment.bin").display(),
        bytes.len(),
        lexicon_tsv.len()
    );

    // Validation (quantised model, exactly what ships).
    let val_probs: Vec<Option<[f32; 3]>> = (0..all.len())
        .map(|i| {
            all[i]
                .val
                .then(|| probs_of(&model, &feats[i], &dense[i], cfg.dense))
        })
        .collect();
    let val = evaluate(&all, &val_probs, 0.0);
    if let Ok(g) = std::env::var("SHOW_VAL_ERRORS") {
        // 2-class errors (sign of score) of one validation group, e.g. vader/amazon.
        for (e, p) in all.iter().zip(&val_probs) {
            if let (Some(p), true) = (p, e.group == g && e.label != 1) {
                let score = p[2] - p[0];
                if (score > 0.0) != (e.label == 2) {
                    println!(
                        "  VAL-MISS gold={} score={score:+.2} {}",
                        LABELS[e.label], e.text
                    );
                }
            }
        }
    }
    print_report(
        "Validation (15% hash split, never trained on or tuned on)",
        &val,
    );

    // Hand-written sanity set (never trained on).
    let sanity =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sentiment/sanity.tsv"))
            .expect("sanity");
    let mut by_var: BTreeMap<String, Confusion> = BTreeMap::new();
    let mut all3 = Confusion::new(&LABELS);
    let mut all2 = Confusion::new(&["negative", "positive"]);
    for line in sanity.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.splitn(3, '\t');
        let (Some(l), Some(var), Some(text)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Some(gold) = label_idx(l) else { continue };
        let a = analyze(text);
        let mut f = Vec::new();
        features(&a, BITS, &mut f);
        let mut d = [0.0; DENSE];
        dense_features(&lex, &a, &mut d);
        let s = classify_features_dense(&model, &f, if cfg.dense { &d } else { &[] });
        let pred = LABELS
            .iter()
            .position(|x| *x == s.label.as_str())
            .unwrap_or(1);
        by_var
            .entry(var.to_string())
            .or_insert_with(|| Confusion::new(&LABELS))
            .add(gold, pred);
        all3.add(gold, pred);
        if gold != 1 {
            all2.add(gold / 2, usize::from(s.score > 0.0));
        }
        if pred != gold && std::env::var("SHOW_ERRORS").is_ok() {
            println!(
                "  MISS gold={l} pred={} score={:.2} {text}",
                s.label.as_str(),
                s.score
            );
        }
    }
    println!(
        "\nSanity set (hand-written reviews): 3c {}  2c(sign) {}",
        all3.summary(),
        all2.summary()
    );
    for (v, c) in &by_var {
        println!("  {v:<10} {}", c.summary());
    }
    println!(
        "\nSUMMARY val: dialectal3c {:.3} ar3c {:.3} | 2c amazon {:.3} en {:.3} ar {:.3} atsad {:.3} | sanity 3c {:.3} 2c {:.3}",
        f1(&val, "ar(arsarcasm dialectal, non-MSA)"),
        f1(&val, "ar(arsarcasm all dialects)"),
        acc2(&val, "vader/amazon"),
        acc2(&val, "en"),
        acc2(&val, "ar(arsarcasm all dialects)"),
        acc2(&val, "ar(atsad)"),
        all3.accuracy(),
        all2.accuracy()
    );
}
