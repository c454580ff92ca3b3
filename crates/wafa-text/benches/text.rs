//! Throughput benchmark (plain `Instant` timing, no harness): `cargo bench -p wafa-text`.
//! Reports model load time and size, and single-core tagging throughput on
//! ~200-character messages (Arabic dialects, English, Arabizi, mixed), plus FAQ
//! query throughput.
use std::hint::black_box;
use std::time::Instant;

use wafa_text::faq::{FaqEntry, FaqIndex};
use wafa_text::Tagger;

const SEEDS: &[&str] = &[
    "السلام عليكم، طلبت فستان من اسبوعين ولين الحين ما وصل، وين الطلب؟ رقم الطلب 45821 ولا احد يرد على الواتساب ",
    "المنتج تحفة بجد والتوصيل كان سريع جدا، الخامة حلوة والمقاس مظبوط، شكرا ليكم وهشتري تاني أكيد ان شاء الله 😍 ",
    "Hi, I ordered a pair of shoes last week and the size is wrong. Can I exchange them for a bigger size please? ",
    "3ayez a3raf el order fen, ba2ali 5 ayam mestany w mafish 7ad byrod 3alaya, law sama7t 7ad yeshoflي el mawdoo3 ",
    "مرحبا، بدي غير عنوان التوصيل لأنو انتقلت، و كمان بدي اعرف اذا في خصم عالطلبية التانية، يعطيكن العافية ",
    "The item arrived broken and customer service is not answering. I want a refund, this is unacceptable!! ",
    "الاوردر بتاعي order #5521 لسه موصلش، can you check the tracking please? محتاجه ضروري قبل العيد ",
];

fn messages(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut s = String::new();
            let mut k = i;
            while s.chars().count() < 200 {
                s.push_str(SEEDS[k % SEEDS.len()]);
                k += 3;
            }
            s.chars().take(200).collect()
        })
        .collect()
}

fn main() {
    let t0 = Instant::now();
    let tagger = Tagger::new();
    let load = t0.elapsed();
    println!(
        "model load: {:.2} ms (sentiment {} B + lexicon {} B + intent {} B embedded)",
        load.as_secs_f64() * 1e3,
        wafa_text::sentiment::MODEL_BYTES.len(),
        wafa_text::lexicon::LEXICON_TSV.len(),
        wafa_text::intent::MODEL_BYTES.len()
    );
    let msgs = messages(5000);
    // Warm-up.
    for m in msgs.iter().take(500) {
        black_box(tagger.tag(m));
    }
    let rounds = 4;
    let t = Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            black_box(tagger.tag(black_box(m)));
        }
    }
    let el = t.elapsed().as_secs_f64();
    let n = (msgs.len() * rounds) as f64;
    let phase = |name: &str, f: &dyn Fn(&str)| {
        let t = Instant::now();
        for m in &msgs {
            f(m);
        }
        println!(
            "  phase {name}: {:.1} µs/msg",
            t.elapsed().as_secs_f64() / msgs.len() as f64 * 1e6
        );
    };
    phase("normalize", &|m| {
        black_box(wafa_text::normalize::normalize(m));
    });
    phase("normalize+lang", &|m| {
        black_box(wafa_text::lang::detect(m));
    });
    phase("analyze (adds stemming, negation)", &|m| {
        black_box(wafa_text::features::analyze(m));
    });
    phase("analyze+features(18 bits)", &|m| {
        let mut f = Vec::new();
        wafa_text::features::features(&wafa_text::features::analyze(m), 18, &mut f);
        black_box(f);
    });
    let analysed: Vec<_> = msgs
        .iter()
        .map(|m| wafa_text::features::analyze(m))
        .collect();
    let t = Instant::now();
    for a in &analysed {
        let mut d = [0.0; wafa_text::lexicon::DENSE];
        wafa_text::lexicon::dense_features(wafa_text::lexicon::lexicon(), a, &mut d);
        black_box(d);
    }
    println!(
        "  sentiment lexicon inputs alone: {:.2} µs/msg",
        t.elapsed().as_secs_f64() / analysed.len() as f64 * 1e6
    );
    println!("tag (normalise+lang+sentiment+intent), 200-char messages: {:.0} msg/s on one core ({:.1} µs/msg)", n / el, el / n * 1e6);

    let entries: Vec<FaqEntry> = (0..20)
        .map(|i| FaqEntry {
            id: i.to_string(),
            question: format!("{} سؤال رقم {i}", SEEDS[i % SEEDS.len()]),
            answer: "الجواب".into(),
            phrasings: vec![],
        })
        .collect();
    let t = Instant::now();
    let idx = FaqIndex::new(&entries);
    let build = t.elapsed();
    let t = Instant::now();
    for m in msgs.iter().take(2000) {
        black_box(idx.best(m));
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "faq: build 20 entries {:.2} ms; query {:.0} q/s",
        build.as_secs_f64() * 1e3,
        2000.0 / el
    );
}
