//! Checks our Arabizi transliteration against the shared seed lexicon
//! (`lexicons/arabizi/lexicon.json`, MIT), which is used here for evaluation only and
//! not shipped: `cargo run --release -p wafa-text --example eval_arabizi -- --data /work/shared/data/sentiment`
//! Reports exact matches after model normalisation, and character-trigram overlap.
use std::collections::BTreeSet;
use std::path::PathBuf;

use wafa_text::arabizi::word_to_arabic;
use wafa_text::normalize::normalize;

fn trigrams(s: &str) -> BTreeSet<String> {
    let c: Vec<char> = format!("<{s}>").chars().collect();
    c.windows(3).map(|w| w.iter().collect()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = args
        .iter()
        .position(|a| a == "--data")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "/work/shared/data/sentiment".into());
    let path = PathBuf::from(data).join("lexicons/arabizi/lexicon.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("lexicon json");
    let Some(entries) = v["entries"].as_object() else {
        eprintln!("no entries");
        return;
    };
    let (mut n, mut exact, mut overlap) = (0, 0, 0.0);
    let mut misses = Vec::new();
    for (latin, e) in entries {
        let Some(ar) = e["ar"].as_str() else { continue };
        let gold = normalize(ar).replace(' ', "");
        let ours = normalize(&word_to_arabic(&latin.to_lowercase())).replace(' ', "");
        n += 1;
        if gold == ours {
            exact += 1;
        } else {
            misses.push(format!("{latin} → {ours} (seed: {gold})"));
        }
        let (g, o) = (trigrams(&gold), trigrams(&ours));
        let inter = g.intersection(&o).count() as f64;
        let union = g.union(&o).count().max(1) as f64;
        overlap += inter / union;
    }
    println!(
        "Arabizi seed lexicon: n={n} exact={:.3} mean char-trigram Jaccard={:.3}",
        exact as f64 / n.max(1) as f64,
        overlap / n.max(1) as f64
    );
    if std::env::var("SHOW_ERRORS").is_ok() {
        for m in misses {
            println!("  {m}");
        }
    }
}
