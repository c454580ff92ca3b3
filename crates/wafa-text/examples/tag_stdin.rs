//! Tag stdin lines as JSONL (what `wafa text --jsonl` does):
//! `echo "وين طلبي" | cargo run -q -p wafa-text --example tag_stdin`
use std::io::{BufRead, Write};

fn main() {
    let t = wafa_text::tagger();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.unwrap_or_default();
        if writeln!(out, "{}", wafa_text::tag_jsonl_line(t, &line)).is_err() {
            break;
        }
    }
}
