//! Offline training of the embedded intent model.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-text cargo run --release -p wafa-text --example train_intent -- \
//!     --data crates/wafa-text/data/intents --out crates/wafa-text/model/
//! ```
//! Trains on `train.tsv` only, writes `intent.bin`, prints per-intent P/R/F1 on
//! `test.tsv` (held-out base phrasings). Deterministic.

use std::fs;
use std::path::PathBuf;

use wafa_text::eval::Confusion;
use wafa_text::features::analyze;
use wafa_text::intent::{classify_with, BITS, LABELS};
use wafa_text::linear::{Rng, Trainer};

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

fn load(path: &PathBuf) -> Vec<(usize, String)> {
    let s = fs::read_to_string(path).expect("intent tsv");
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (lab, text) = l.split_once('\t')?;
            Some((LABELS.iter().position(|x| *x == lab)?, text.to_string()))
        })
        .collect()
}

fn main() {
    let data =
        PathBuf::from(arg("--data").unwrap_or_else(|| "crates/wafa-text/data/intents".into()));
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "crates/wafa-text/model".into()));
    let epochs: usize = arg("--epochs").and_then(|s| s.parse().ok()).unwrap_or(12);
    let train = load(&data.join("train.tsv"));
    let test = load(&data.join("test.tsv"));
    let feats: Vec<Vec<u32>> = train
        .iter()
        .map(|(_, t)| {
            let mut f = Vec::new();
            wafa_text::intent::training_features(&analyze(t), BITS, &mut f);
            f
        })
        .collect();
    let mut t = Trainer::new(BITS, LABELS.len());
    t.lr = 0.3;
    let mut rng = Rng(0x1a7e_47aa_0000_0003);
    let mut order: Vec<usize> = (0..train.len()).collect();
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let mut target = vec![0.0; LABELS.len()];
            target[train[i].0] = 1.0;
            t.step(&feats[i], &target, 1.0);
        }
    }
    let model = t.finish(LABELS);
    let bytes = model.to_bytes();
    fs::create_dir_all(&out).expect("out dir");
    fs::write(out.join("intent.bin"), &bytes).expect("write");
    println!(
        "wrote {} ({} bytes), {} train examples",
        out.join("intent.bin").display(),
        bytes.len(),
        train.len()
    );
    let senti_model = wafa_text::sentiment::load_model();
    let mut c = Confusion::new(LABELS);
    for (gold, text) in &test {
        let a = analyze(text);
        let senti = wafa_text::sentiment::classify(&senti_model, &a);
        let mut raw = Vec::new();
        wafa_text::features::raw_features(&a, &mut raw);
        let p = classify_with(&model, &a, &raw, senti.score, &mut Vec::new());
        let pred = LABELS
            .iter()
            .position(|x| *x == p.label.as_str())
            .unwrap_or(0);
        c.add(*gold, pred);
        if pred != *gold && std::env::var("SHOW_ERRORS").is_ok() {
            println!(
                "  MISS gold={} pred={} ({:.2}) {text}",
                LABELS[*gold], LABELS[pred], p.score
            );
        }
    }
    println!("test (held-out phrasings): {}", c.summary());
    print!("{}", c.report());
}
