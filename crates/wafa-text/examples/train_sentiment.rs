//! Offline training of the embedded sentiment model.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-text cargo run --release -p wafa-text --example train_sentiment -- \
//!     --data /work/shared/data/sentiment --out crates/wafa-text/model/
//! ```
//! Deterministic (fixed seed, hash-based validation split). Writes `sentiment.bin` and
//! prints validation metrics (never trained on) per source, language and dialect.
//!
//! Training material and why:
//! - ArSarcasm-v2 (POS/NEG/NEU, dialect-labelled tweets) — the only 3-class Arabic set;
//! - ATSAD (emoji-labelled tweets) with the emojis STRIPPED (else the model learns the
//!   labelling rule), down-weighted because distant labels are noisy, 2-class only;
//! - VADER English ground truth (mean valence −4..4 → neg < −0.5 ≤ neu ≤ 0.5 < pos);
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
use wafa_text::features::{analyze, features, hash_str};
use wafa_text::linear::{Rng, Trainer};
use wafa_text::normalize::strip_emoji;
use wafa_text::sentiment::{classify_features, BITS, LABELS};

struct Ex {
    text: String,
    label: usize,
    weight: f32,
    /// Reporting group, e.g. "arsarcasm/gulf".
    group: String,
    val: bool,
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
            });
        }
    }
}

fn load_vader_gt(dir: &Path, out: &mut Vec<Ex>) {
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
                weight: 1.0,
                group: g.into(),
                val,
            });
        }
    }
}

fn load_lexicons(dir: &Path, out: &mut Vec<Ex>, w: f32) {
    let s = fs::read_to_string(dir.join("lexicons/nlpjs_ar/afinn_ar.json")).expect("afinn_ar");
    let m: BTreeMap<String, f32> = serde_json::from_str(&s).expect("afinn json");
    let negs = ["مش", "مو", "ما", "غير", "مب"];
    for (i, (word, score)) in m.iter().enumerate() {
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
        });
        if word.chars().any(|c| c.is_alphabetic()) {
            let neg = negs[i % negs.len()];
            out.push(Ex {
                text: format!("{neg} {word}"),
                label: 2 - label,
                weight: wt * 0.5,
                group: "lexicon".into(),
                val: false,
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
        });
        if word.chars().all(|c| c.is_ascii_alphabetic()) {
            let neg = negs[i % negs.len()];
            out.push(Ex {
                text: format!("{neg} {word}"),
                label: 2 - label,
                weight: wt * 0.5,
                group: "lexicon".into(),
                val: false,
            });
        }
    }
}

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
    let ar_pos = [
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
    let ar_neg = [
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
    let en_pos = [
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
    let en_neg = [
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
                format!("{it}{s} {} {}", pick(&ar_pos, 10), pick(&ar_pos_tail, 20)),
                2,
                w,
            )),
            1 => out.push(ex(
                format!("{it}{s} {} {}", pick(&ar_neg, 10), pick(&ar_neg_tail, 20)),
                0,
                w,
            )),
            2 => out.push(ex(
                format!(
                    "{s} {} {} {}",
                    pick(&ar_neg_words, 30),
                    pick(&ar_pos, 10),
                    pick(&ar_neg_tail, 20)
                ),
                0,
                w,
            )),
            _ => out.push(ex(
                format!(
                    "{it}{s} {} و{} {}",
                    pick(&ar_pos, 10),
                    pick(&ar_subj, 15),
                    pick(&ar_pos, 25)
                ),
                2,
                w,
            )),
        }
        let e = pick(&en_subj, 3);
        match (r >> 44) % 4 {
            0 => out.push(ex(
                format!("{e} is {} {}", pick(&en_pos, 12), pick(&en_pos_tail, 22)),
                2,
                w,
            )),
            1 => out.push(ex(
                format!("{e} was {} {}", pick(&en_neg, 12), pick(&en_neg_tail, 22)),
                0,
                w,
            )),
            2 => out.push(ex(
                format!(
                    "{e} {} {} {}",
                    pick(&en_negw, 33),
                    pick(&en_pos, 12),
                    pick(&en_neg_tail, 22)
                ),
                0,
                w,
            )),
            _ => out.push(ex(
                format!(
                    "{e} is {} and {} is {}",
                    pick(&en_pos, 12),
                    pick(&en_subj, 17),
                    pick(&en_pos, 27)
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
    }
}

fn main() {
    let data = PathBuf::from(arg("--data").unwrap_or_else(|| "/work/shared/data/sentiment".into()));
    let out_dir = PathBuf::from(arg("--out").unwrap_or_else(|| "crates/wafa-text/model".into()));
    let epochs: usize = arg("--epochs").and_then(|s| s.parse().ok()).unwrap_or(5);
    let atsad_w: f32 = arg("--atsad-weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.3);
    let lex_w: f32 = arg("--lex-weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let tpl_w: f32 = arg("--tpl-weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let lr: f32 = arg("--lr").and_then(|s| s.parse().ok()).unwrap_or(0.1);
    let mut rng = Rng(0x5eed_1234_abcd_0001);

    let mut all = Vec::new();
    let dialect_w: f32 = arg("--dialect-weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let sarcasm_w: f32 = arg("--sarcasm-weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.3);
    load_arsarcasm(&data, &mut all, dialect_w, sarcasm_w);
    load_atsad(&data, &mut all, atsad_w);
    load_vader_gt(&data, &mut all);
    load_lexicons(&data, &mut all, lex_w);
    templates(&mut all, tpl_w, &mut rng);

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
            e.weight *= (t / (*k as f32 * c)).clamp(0.3, 3.0);
        }
    }

    eprintln!("featurising {} examples…", all.len());
    let feats: Vec<Vec<u32>> = all
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            features(&analyze(&e.text), BITS, &mut f);
            f
        })
        .collect();
    let mut order: Vec<usize> = (0..all.len()).filter(|&i| !all[i].val).collect();
    let avg_last: usize = arg("--avg-last").and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut t = Trainer::new(BITS, 3);
    t.lr = lr;
    t.l2 = arg("--l2").and_then(|s| s.parse().ok()).unwrap_or(1e-6);
    for ep in 0..epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let mut target = [0.0f32; 3];
            target[all[i].label] = 1.0;
            t.step(&feats[i], &target, all[i].weight);
        }
        if ep + avg_last >= epochs {
            t.snapshot();
        }
        eprintln!("epoch {ep} done");
    }
    let model = t.finish(&LABELS);
    fs::create_dir_all(&out_dir).expect("out dir");
    let bytes = model.to_bytes();
    fs::write(out_dir.join("sentiment.bin"), &bytes).expect("write model");
    println!(
        "wrote {} ({} bytes)",
        out_dir.join("sentiment.bin").display(),
        bytes.len()
    );

    // Validation (quantised model, exactly what ships).
    let mut groups: BTreeMap<String, (Confusion, Confusion)> = BTreeMap::new();
    let mut lang_groups: BTreeMap<String, (Confusion, Confusion)> = BTreeMap::new();
    for (i, e) in all.iter().enumerate().filter(|(_, e)| e.val) {
        let s = classify_features(&model, &feats[i]);
        let pred3 = match s.label.as_str() {
            "negative" => 0,
            "neutral" => 1,
            _ => 2,
        };
        let lang = if e.group.starts_with("vader") {
            "en"
        } else if e.group.starts_with("arsarcasm") {
            "ar(arsarcasm all dialects)"
        } else {
            "ar(atsad)"
        };
        let mut keys = vec![(e.group.clone(), false), (lang.to_string(), true)];
        if e.group.starts_with("arsarcasm/") && e.group != "arsarcasm/msa" {
            keys.push(("ar(arsarcasm dialectal, non-MSA)".to_string(), true));
        }
        for (key, is_lang) in keys {
            let map = if is_lang {
                &mut lang_groups
            } else {
                &mut groups
            };
            let entry = map.entry(key).or_insert_with(|| {
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
    println!("\nValidation (15% hash split, never trained on). 3-class (shipped decision) | 2-class (gold pos/neg only, sign of score):");
    for (g, (c3, c2)) in groups.iter().chain(lang_groups.iter()) {
        println!("{g:<22} 3c: {}   2c: {}", c3.summary(), c2.summary());
    }
    for key in ["ar(arsarcasm dialectal, non-MSA)", "en"] {
        if let Some((c3, _)) = lang_groups.get(key) {
            println!("per-class, {key}:");
            print!("{}", c3.report());
        }
    }
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
        let mut f = Vec::new();
        features(&analyze(text), BITS, &mut f);
        let s = classify_features(&model, &f);
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

    // Neutral-decision study: neutral iff p(neutral) >= tau (else the larger of
    // pos/neg). Shows the trade-off between 3-class macro-F1 and pos/neg label
    // accuracy (what a two-class review judge sees).
    if std::env::var("NEUTRAL_STUDY").is_ok() {
        for delta in [0.1f32, 0.2, 0.3, 0.4] {
            // Neutral only when it is the argmax AND |p(pos) - p(neg)| < delta.
            let mut ars = Confusion::new(&LABELS);
            let mut dia = Confusion::new(&LABELS);
            let mut polar_ok = 0;
            let mut polar_n = 0;
            let mut san = Confusion::new(&LABELS);
            for (i, e) in all
                .iter()
                .enumerate()
                .filter(|(_, e)| e.val && !e.group.starts_with("atsad"))
            {
                let (_, _, p) = model.predict(&feats[i]);
                let am = wafa_text::linear::argmax(&p).0;
                let pred = if am == 1 && (p[2] - p[0]).abs() >= delta {
                    if p[2] > p[0] {
                        2
                    } else {
                        0
                    }
                } else {
                    am
                };
                if e.group.starts_with("arsarcasm") {
                    ars.add(e.label, pred);
                    if e.group != "arsarcasm/msa" {
                        dia.add(e.label, pred);
                    }
                }
                if e.label != 1 {
                    polar_n += 1;
                    polar_ok += usize::from(pred == e.label);
                }
            }
            let _ = &mut san;
            println!(
                "delta={delta:.1} arsarcasm3c {} | dialectal3c {} | polar label acc {:.3}",
                ars.summary(),
                dia.summary(),
                polar_ok as f64 / polar_n as f64
            );
        }
        for tau in [0.0f32, 0.4, 0.5, 0.6, 0.7] {
            let mut ars = Confusion::new(&LABELS);
            let mut en = Confusion::new(&LABELS);
            let mut polar_ok = 0;
            let mut polar_n = 0;
            for (i, e) in all
                .iter()
                .enumerate()
                .filter(|(_, e)| e.val && !e.group.starts_with("atsad"))
            {
                let (_, _, p) = model.predict(&feats[i]);
                let pred = if tau == 0.0 {
                    wafa_text::linear::argmax(&p).0
                } else if p[1] >= tau {
                    1
                } else if p[2] > p[0] {
                    2
                } else {
                    0
                };
                if e.group.starts_with("arsarcasm") {
                    ars.add(e.label, pred);
                } else {
                    en.add(e.label, pred);
                }
                if e.label != 1 {
                    polar_n += 1;
                    polar_ok += usize::from(pred == e.label);
                }
            }
            println!(
                "tau={tau:.1} arsarcasm3c {} | en3c {} | polar label acc {:.3}",
                ars.summary(),
                en.summary(),
                polar_ok as f64 / polar_n as f64
            );
        }
    }
}
