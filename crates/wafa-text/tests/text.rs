//! Integration tests: the public tagging API shape, dialect/negation behaviour,
//! accuracy floors on the held-out sets shipped in `data/` (never trained on), and
//! total behaviour on hostile input.

use std::path::Path;

use proptest::prelude::*;
use wafa_text::eval::Confusion;
use wafa_text::faq::{FaqEntry, FaqIndex};
use wafa_text::{tagger, IntentLabel, Lang, SentimentLabel, Tagger};

fn data(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel))
        .expect(rel)
}

#[test]
fn tags_json_has_exact_shape() {
    let json = wafa_text::tag_jsonl_line(tagger(), "وين طلبي؟ صار لي اسبوع");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["intent", "lang", "sentiment"]);
    for k in ["sentiment", "intent"] {
        let mut sub: Vec<_> = obj[k].as_object().unwrap().keys().cloned().collect();
        sub.sort();
        assert_eq!(sub, ["label", "score"], "{k}");
        assert!(obj[k]["score"].is_f64());
    }
    assert_eq!(obj["lang"], "ar");
    assert_eq!(obj["intent"]["label"], "where_is_my_order");
    assert!(!json.contains('\n'));
}

#[test]
fn negation_and_dialects() {
    let t = tagger();
    for s in [
        "مو حلو",
        "المنتج مش حلو",
        "not good",
        "the product is not good at all",
        "mesh kowayes",
        "el montag mesh kowayes khales",
        "ما عجبني المنتج",
        "ماعجبنيش خالص",
        "المنتج سيء جدا",
        "خدمة زفت والتوصيل متأخر",
        "terrible quality, broke after a day",
    ] {
        let r = t.tag(s).sentiment;
        assert_eq!(r.label, SentimentLabel::Negative, "{s}: {r:?}");
        assert!(r.score < 0.0, "{s}");
    }
    for s in [
        "المنتج حلو",
        "حلو اوي بجد",
        "وايد حلو مشكورين",
        "كتير منيح يسلمو",
        "منتج ممتاز وأنصح به",
        "جمييييل 😍",
        "great product, fast delivery",
        "el montag 7elw awi",
    ] {
        let r = t.tag(s).sentiment;
        assert_eq!(r.label, SentimentLabel::Positive, "{s}: {r:?}");
        assert!(r.score > 0.0, "{s}");
    }
}

#[test]
fn lexicon_inputs_are_wired() {
    // The shipped model was trained with the lexicon inputs the tagger computes.
    let m = wafa_text::sentiment::load_model();
    assert_eq!(m.dense_dim(), wafa_text::lexicon::DENSE);
    assert!(wafa_text::lexicon::lexicon().len() > 5000);
    let t = tagger();
    for (s, want) in [
        (
            "I love this phone, the battery lasts forever",
            SentimentLabel::Positive,
        ),
        (
            "Absolutely horrible customer support",
            SentimentLabel::Negative,
        ),
        (
            "Stopped working after a week. Total waste of money.",
            SentimentLabel::Negative,
        ),
        ("التطبيق ممتاز وسهل الاستخدام", SentimentLabel::Positive),
    ] {
        assert_eq!(t.tag(s).sentiment.label, want, "{s}");
    }
}

#[test]
fn languages() {
    let t = tagger();
    assert_eq!(t.tag("وين طلبي").lang, Lang::Ar);
    let d = t.tag_detailed("وين طلبي");
    assert!(d.lang_confidence > 0.9 && d.sentiment_confidence > 0.0);
    assert_eq!(d.tags, t.tag("وين طلبي"));
    assert_eq!(t.tag_detailed("😍").lang_confidence, 0.0);
    assert_eq!(t.tag("where is my order").lang, Lang::En);
    assert_eq!(t.tag("3ayez a3raf el order fen").lang, Lang::Arabizi);
    assert_eq!(
        t.tag("الاوردر بتاعي order number 5521 where is it").lang,
        Lang::Mixed
    );
}

#[test]
fn intents_by_dialect() {
    let t = tagger();
    let cases = [
        ("وين طلبي صار له اسبوع", IntentLabel::WhereIsMyOrder),
        ("3ayez a3raf el order fen", IntentLabel::WhereIsMyOrder),
        ("ابي الغي الطلب", IntentLabel::Cancel),
        ("عايز ارجع المنتج", IntentLabel::Return),
        ("متى ترجع فلوسي", IntentLabel::Refund),
        ("ابي ابدل المقاس", IntentLabel::Exchange),
        ("بدي غير العنوان", IntentLabel::ChangeAddressOrPhone),
        ("my card was declined", IntentLabel::PaymentProblem),
        ("السلام عليكم", IntentLabel::Greeting),
        ("شكرا جزيلا", IntentLabel::Thanks),
        ("عندكم كود خصم؟", IntentLabel::DiscountQuestion),
    ];
    for (s, want) in cases {
        assert_eq!(t.tag(s).intent.label, want, "{s}");
    }
}

#[test]
fn sanity_set_accuracy_floor() {
    let t = tagger();
    let labels = ["negative", "neutral", "positive"];
    let mut c = Confusion::new(&labels);
    let mut two = Confusion::new(&["negative", "positive"]);
    for line in data("sentiment/sanity.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let mut it = line.splitn(3, '\t');
        let (Some(gold), Some(_), Some(text)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let g = labels.iter().position(|x| *x == gold).unwrap();
        let s = t.sentiment(text);
        c.add(
            g,
            labels.iter().position(|x| *x == s.label.as_str()).unwrap(),
        );
        if g != 1 {
            two.add(g / 2, usize::from(s.score > 0.0));
        }
    }
    assert!(c.total() >= 130);
    assert!(c.accuracy() >= 0.85, "sanity 3-class {}", c.summary());
    assert!(two.accuracy() >= 0.90, "sanity 2-class {}", two.summary());
}

#[test]
fn intent_test_split_floor() {
    let t = tagger();
    let mut c = Confusion::new(wafa_text::intent::LABELS);
    for line in data("intents/test.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let (gold, text) = line.split_once('\t').unwrap();
        let g = wafa_text::intent::LABELS
            .iter()
            .position(|x| *x == gold)
            .unwrap();
        let p = t.tag(text).intent.label.as_str();
        c.add(
            g,
            wafa_text::intent::LABELS
                .iter()
                .position(|x| *x == p)
                .unwrap(),
        );
    }
    assert!(c.total() >= 300);
    assert!(c.accuracy() >= 0.78, "intent test {}", c.summary());
}

#[test]
fn faq_paraphrase_floor() {
    let entries: Vec<FaqEntry> = serde_json::from_str(&data("faq/faq.json")).unwrap();
    let idx = FaqIndex::new(&entries);
    let (mut n, mut ok) = (0, 0);
    for line in data("faq/paraphrases.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let (gold, q) = line.split_once('\t').unwrap();
        n += 1;
        ok += usize::from(idx.best(q).is_some_and(|h| h.id == gold));
    }
    assert!(n >= 100);
    let acc = ok as f64 / n as f64;
    assert!(acc >= 0.80, "faq top1 {acc}");
    // Off-topic questions stay below the answer threshold.
    for q in ["tell me a joke", "شو اخبار الطقس اليوم", "hello", ""] {
        let c = idx.best(q).map(|h| h.confidence).unwrap_or(0.0);
        assert!(c < wafa_text::faq::DEFAULT_THRESHOLD, "{q}: {c}");
    }
}

#[test]
fn hostile_inputs_are_defined() {
    let t = Tagger::new();
    let big = "ممتاز ".repeat(200_000); // ~1.2 MB
    let cases: Vec<String> = vec![
        String::new(),
        "😍😍😍".into(),
        "🙏🏽❤️‍🔥".into(),
        "1234567890".into(),
        "٠١٢٣٤٥".into(),
        "\u{200F}\u{202B}\u{2066}\u{FEFF}\u{200D}".into(),
        "\0\u{1}\u{7}\t\r\n".into(),
        "مرحبا hello שלום Привет 你好".into(),
        "?!?!?!".into(),
        big,
        "a".repeat(1 << 20),
    ];
    for s in &cases {
        let tags = t.tag(s);
        assert!((-1.0..=1.0).contains(&tags.sentiment.score));
        assert!((0.0..=1.0).contains(&tags.intent.score));
        let json = serde_json::to_string(&tags).unwrap();
        assert!(json.starts_with("{\"lang\":"));
    }
    assert_eq!(t.tag("").intent.label, IntentLabel::Other);
    assert_eq!(t.tag("😍😍").intent.label, IntentLabel::Other);
    assert_eq!(t.tag("😍😍").sentiment.label, SentimentLabel::Positive);
    assert_eq!(t.tag("").sentiment.label, SentimentLabel::Neutral);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn tag_is_total(s in "\\PC{0,80}", ar in "[\u{0600}-\u{06FF} ]{0,40}") {
        let t = tagger();
        for input in [s.as_str(), ar.as_str()] {
            let tags = t.tag(input);
            prop_assert!(tags.sentiment.score.is_finite());
            prop_assert!((0.0..=1.0).contains(&tags.intent.score));
            let _ = wafa_text::normalize::search_key(input);
            let _ = wafa_text::normalize::normalize(input);
        }
    }
}

#[test]
fn tagger_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tagger>();
    assert_send_sync::<FaqIndex>();
    let h = std::thread::spawn(|| tagger().tag("مرحبا").intent.label);
    assert_eq!(h.join().unwrap(), IntentLabel::Greeting);
}
