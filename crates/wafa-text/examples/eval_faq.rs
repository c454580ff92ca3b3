//! FAQ paraphrase evaluation: builds the index from `data/faq/faq.json` and reports
//! top-1 accuracy on `data/faq/paraphrases.tsv`, plus answer rate and precision at
//! the default threshold. `cargo run --release -p wafa-text --example eval_faq`
use std::fs;
use std::path::Path;

use wafa_text::faq::{FaqEntry, FaqIndex, DEFAULT_THRESHOLD};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/faq");
    let entries: Vec<FaqEntry> =
        serde_json::from_str(&fs::read_to_string(dir.join("faq.json")).expect("faq"))
            .expect("json");
    let idx = FaqIndex::new(&entries);
    let s = fs::read_to_string(dir.join("paraphrases.tsv")).expect("paraphrases");
    let (mut n, mut ok, mut answered, mut answered_ok) = (0, 0, 0, 0);
    let mut confs: Vec<(f32, bool)> = Vec::new();
    for line in s.lines().filter(|l| !l.starts_with('#')) {
        let Some((gold, q)) = line.split_once('\t') else {
            continue;
        };
        n += 1;
        let hit = idx.best(q);
        let (id, conf) = hit.map(|h| (h.id, h.confidence)).unwrap_or_default();
        if id == gold {
            ok += 1;
        } else if std::env::var("SHOW_ERRORS").is_ok() {
            println!("  MISS gold={gold} got={id} ({conf:.2}) {q}");
        }
        confs.push((conf, id == gold));
        if conf >= DEFAULT_THRESHOLD {
            answered += 1;
            answered_ok += usize::from(id == gold);
        }
    }
    println!(
        "FAQ paraphrases: n={n} top1={:.3} answered@{DEFAULT_THRESHOLD}={:.3} precision@thr={:.3}",
        ok as f64 / n as f64,
        answered as f64 / n as f64,
        answered_ok as f64 / answered.max(1) as f64
    );
    for thr in [0.3f32, 0.4, 0.5, 0.6] {
        let ans: Vec<_> = confs.iter().filter(|c| c.0 >= thr).collect();
        let good = ans.iter().filter(|c| c.1).count();
        println!(
            "  threshold {thr:.1}: answered {:.3} precision {:.3}",
            ans.len() as f64 / n as f64,
            good as f64 / ans.len().max(1) as f64
        );
    }
    let unrelated = [
        "ما رأيك في مباراة الهلال امس",
        "tell me a joke",
        "ابي وظيفة عندكم",
        "شو اخبار الطقس",
        "hello",
    ];
    for q in unrelated {
        let c = idx.best(q).map(|h| h.confidence).unwrap_or(0.0);
        println!("  unrelated {q:?}: confidence {c:.2}");
    }
}
