//! Shared text analysis and hashed features for the linear models.
//!
//! Why hashing: a fixed-size table (2^bits buckets) gives a compact, allocation-light
//! model that handles an open vocabulary (dialect spellings, typos, Arabizi) without a
//! vocabulary file. Features per message:
//! - stem unigrams (Snowball Arabic after our normaliser, Snowball English), marked
//!   when inside a negation scope ("مش حلو", "not good", "ما عجبني") so the model can
//!   learn that negated positives are negative;
//! - surface word unigrams and stem bigrams;
//! - character 2–4-grams of each word with boundary markers, for dialect and
//!   spelling robustness (كويس / كويسه / كوايس share most n-grams);
//! - emoji tokens, `?`, `!`, elongation and language tag.
//!
//! Arabizi tokens are transliterated to Arabic before featurising so one model serves
//! both scripts.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::arabizi;
use crate::fasthash::{FastMap, FastSet};
use crate::lang::{detect_normalized, is_en_common, Lang, LangGuess};
use crate::normalize::{has_elongation, is_arabic_token, is_emoji_token, normalize};

/// Only the first this-many bytes of a message are analysed (at a char boundary):
/// bounded latency for pathological 1 MB inputs; real messages are far shorter.
pub const MAX_BYTES: usize = 4096;

/// Token kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Arabic,
    Latin,
    Number,
    Emoji,
    Punct,
}

/// One analysed token.
#[derive(Clone, Debug)]
pub struct Tok {
    /// Normalised surface form (Arabizi already transliterated to Arabic).
    pub surface: String,
    /// Light stem used for word features and FAQ retrieval.
    pub stem: String,
    pub kind: Kind,
    /// Inside a negation scope.
    pub neg: bool,
    /// The token is itself a negator.
    pub negator: bool,
}

/// A message after normalisation, language detection, transliteration and stemming.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub lang: LangGuess,
    pub tokens: Vec<Tok>,
    pub elongated: bool,
}

fn ar_stemmer() -> &'static Stemmer {
    static S: OnceLock<Stemmer> = OnceLock::new();
    S.get_or_init(|| Stemmer::create(Algorithm::Arabic))
}

fn en_stemmer() -> &'static Stemmer {
    static S: OnceLock<Stemmer> = OnceLock::new();
    S.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Arabic negators (normalised spelling) across MSA and dialects.
const AR_NEG: &[&str] = &[
    "ما",
    "مو",
    "مش",
    "مب",
    "موب",
    "مهو",
    "مهب",
    "ماهو",
    "ماهي",
    "مهي",
    "لا",
    "لم",
    "لن",
    "ليس",
    "ليست",
    "مافي",
    "مافيه",
    "مافيش",
    "مفيش",
    "بدون",
    "غير",
    "ولا",
    "مش",
    "ابدا",
    "بلا",
    "مانيش",
    "مكانش",
    "ماكان",
];
/// English negators.
const EN_NEG: &[&str] = &[
    "not", "no", "never", "nor", "without", "nothing", "none", "cannot", "cant", "dont", "doesnt",
    "didnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt", "shouldnt", "couldnt",
    "hardly", "neither", "barely", "aint", "havent", "hasnt",
];
/// Words that end a negation scope (contrast).
const SCOPE_END: &[&str] = &[
    "بس", "لكن", "but", "however", "although", "though", "بل", "انما", "وبس",
];

fn negators() -> &'static FastSet<&'static str> {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| AR_NEG.iter().chain(EN_NEG).copied().collect())
}

fn is_negator(tok: &str) -> bool {
    negators().contains(tok) || tok.ends_with("n't")
}

/// Egyptian/Levantine circumfix and Gulf prefix negation glued to a verb:
/// "ماعجبنيش", "ماوصلش", "ماعجبني". Returns the inner word.
fn fused_negation(tok: &str) -> Option<&str> {
    if !is_arabic_token(tok) || tok.chars().count() < 5 || negators().contains(tok) {
        return None;
    }
    let inner = tok
        .strip_prefix("ما")
        .or_else(|| tok.strip_prefix('م').filter(|_| tok.ends_with('ش')))?;
    let inner = inner.strip_suffix('ش').unwrap_or(inner);
    // Words that merely start with ما: ماشاءالله, مازال, ماء, مال…
    if inner.chars().count() < 3
        || inner.starts_with("شاء")
        || inner.starts_with("زال")
        || inner.starts_with('ل')
    {
        return None;
    }
    Some(inner)
}

/// The inner word of a verb with fused negation ("ماعجبنيش" → "عجبني"), if any.
pub fn fused_negation_inner(tok: &str) -> Option<&str> {
    // Cheap pre-check: fused negation always starts with م.
    if !tok.starts_with('م') {
        return None;
    }
    fused_negation(tok)
}

thread_local! {
    /// Per-thread memo of stems: Snowball is the most expensive step of analysis
    /// and customer vocabulary is highly repetitive. Bounded: cleared when full.
    static STEM_CACHE: std::cell::RefCell<FastMap<String, String>> =
        std::cell::RefCell::new(FastMap::default());
}
const STEM_CACHE_MAX: usize = 50_000;

/// Stem one normalised token (memoised per thread).
pub fn stem(tok: &str, kind: Kind) -> String {
    if !matches!(kind, Kind::Arabic | Kind::Latin) || tok.len() > 64 {
        return stem_uncached(tok, kind);
    }
    STEM_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(s) = c.get(tok) {
            return s.clone();
        }
        let s = stem_uncached(tok, kind);
        if c.len() >= STEM_CACHE_MAX {
            c.clear();
        }
        c.insert(tok.to_string(), s.clone());
        s
    })
}

fn stem_uncached(tok: &str, kind: Kind) -> String {
    match kind {
        Kind::Arabic => {
            // Snowball Arabic is aggressive on very short words; keep ≤3 letters.
            if tok.chars().count() <= 3 {
                tok.to_string()
            } else {
                ar_stemmer().stem(tok).into_owned()
            }
        }
        Kind::Latin => en_stemmer().stem(tok).into_owned(),
        _ => tok.to_string(),
    }
}

fn kind_of(tok: &str) -> Kind {
    if is_emoji_token(tok) {
        Kind::Emoji
    } else if tok == "?" || tok == "!" {
        Kind::Punct
    } else if is_arabic_token(tok) {
        Kind::Arabic
    } else if tok.chars().all(|c| c.is_ascii_digit()) {
        Kind::Number
    } else {
        Kind::Latin
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_BYTES {
        return text;
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Analyse a message. Never panics; empty input gives no tokens.
pub fn analyze(text: &str) -> Analysis {
    let text = truncate(text);
    let norm = normalize(text);
    let lang = detect_normalized(&norm);
    let mut tokens: Vec<Tok> = Vec::with_capacity(norm.len() / 4 + 1);
    // Pass 1: tokens, with Arabizi words transliterated (a multi-word table entry
    // such as "mesh7elw" → "مش حلو" becomes several tokens).
    let mut pieces: Vec<(String, Kind)> = Vec::with_capacity(norm.len() / 4 + 1);
    for raw in norm.split(' ').filter(|t| !t.is_empty()) {
        let kind = kind_of(raw);
        let translit = kind == Kind::Latin
            && match lang.lang {
                Lang::Arabizi => !is_en_common(raw),
                Lang::Mixed => arabizi::is_arabizi_evidence(raw),
                _ => false,
            };
        if translit {
            let a = arabizi::word_to_arabic(raw);
            if is_arabic_token(&a) {
                for w in a.split(' ').filter(|w| !w.is_empty()) {
                    pieces.push((w.to_string(), Kind::Arabic));
                }
                continue;
            }
        }
        pieces.push((raw.to_string(), kind));
    }
    // Pass 2: negation scope and stems.
    let mut scope = 0u8;
    for (surface, kind) in pieces {
        let plain_owned = surface.contains('\'').then(|| surface.replace('\'', ""));
        let plain = plain_owned.as_deref().unwrap_or(&surface);
        let negator = is_negator(&surface) || (plain_owned.is_some() && is_negator(plain));
        if kind == Kind::Punct || SCOPE_END.contains(&surface.as_str()) {
            scope = 0;
        }
        // A verb with fused negation ("ماعجبنيش", "ماوصلني") is negated itself and
        // opens a scope like a separate negator.
        let fused = kind == Kind::Arabic && !negator && fused_negation(&surface).is_some();
        let neg = (scope > 0 && !negator) || fused;
        if scope > 0 && matches!(kind, Kind::Arabic | Kind::Latin) && !negator {
            scope -= 1;
        }
        let stem_src = if kind == Kind::Latin {
            plain
        } else {
            surface.as_str()
        };
        let st = stem(stem_src, kind);
        tokens.push(Tok {
            surface,
            stem: st,
            kind,
            neg,
            negator,
        });
        if negator || fused {
            scope = 3;
        }
    }
    Analysis {
        lang,
        tokens,
        elongated: has_elongation(text),
    }
}

// --- hashing -----------------------------------------------------------------

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const NEG_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fnv_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

#[inline]
fn mix(mut h: u64) -> u64 {
    // splitmix64 finaliser: spreads FNV's low-entropy high bits.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[inline]
fn feat(kind: u8, s: &str) -> u64 {
    fnv_bytes(fnv_bytes(FNV_OFFSET, &[kind]), s.as_bytes())
}

/// Hash of a word-level string key, exposed for tests and the FAQ index.
pub fn hash_str(kind: u8, s: &str) -> u64 {
    mix(feat(kind, s))
}

/// Token index used for message-level features in [`raw_features`].
pub const GLOBAL: u32 = 0x7FFF_FFFF;
/// Bit of a raw feature's tag marking it as inside a negation scope.
pub const NEG_BIT: u32 = 0x8000_0000;

/// Append the hashed feature bucket indices of `a` to `out` (cleared first), with
/// negation marking (the sentiment view). `bits` is the table size exponent.
pub fn features(a: &Analysis, bits: u32, out: &mut Vec<u32>) {
    let mut raw = Vec::with_capacity(a.tokens.len() * 12 + 4);
    raw_features(a, &mut raw);
    mask_features(&raw, bits, true, |_| true, out);
}

/// Turn raw features into bucket indices of a `2^bits` table, keeping those whose
/// token index passes `keep` (message-level features have index [`GLOBAL`]). With
/// `negation`, features inside a negation scope go to the separate negated space
/// (sentiment wants that; intent does not: "can't pay" is still about payment).
/// `out` is cleared first.
pub fn mask_features(
    raw: &[(u64, u32)],
    bits: u32,
    negation: bool,
    keep: impl Fn(u32) -> bool,
    out: &mut Vec<u32>,
) {
    out.clear();
    let mask = (1u64 << bits) - 1;
    for &(h, tag) in raw {
        let tok = tag & !NEG_BIT;
        if !keep(tok) {
            continue;
        }
        let salted = negation && tag & NEG_BIT != 0;
        out.push((mix(if salted { h ^ NEG_SALT } else { h }) & mask) as u32);
    }
}

/// All features of `a` as unmixed 64-bit hashes, each tagged with the index of the
/// token that produced it ([`GLOBAL`] for message-level ones) and [`NEG_BIT`] when
/// inside a negation scope. Computed once per message and masked per model, so
/// sentiment and intent share the work.
pub fn raw_features(a: &Analysis, out: &mut Vec<(u64, u32)>) {
    out.clear();
    // Messages without letters (emoji, digits) get no language feature, so the
    // Arabic default does not lend them Arabic's bias: their emoji decide.
    if a.lang.confidence > 0.0 {
        out.push((feat(b'L', a.lang.lang.as_str()), GLOBAL));
    }
    if a.elongated {
        out.push((feat(b'X', "elong"), GLOBAL));
    }
    let mut prev: Option<u64> = None;
    let mut chars: Vec<u32> = Vec::with_capacity(32);
    for (ti, t) in a.tokens.iter().enumerate() {
        let ti = ti as u32;
        let mut push = |h: u64, neg: bool| out.push((h, if neg { ti | NEG_BIT } else { ti }));
        match t.kind {
            Kind::Punct => {
                push(feat(b'P', &t.surface), false);
                prev = None;
                continue;
            }
            Kind::Emoji => {
                push(feat(b'E', &t.surface), t.neg);
                prev = None;
                continue;
            }
            Kind::Number => {
                let size = if t.surface.len() >= 4 {
                    "long"
                } else {
                    "short"
                };
                push(feat(b'N', size), false);
                prev = None;
                continue;
            }
            _ => {}
        }
        // Inside a negation scope every word-level feature moves to a separate
        // "negated" space (the classic _NEG marking), so "مش حلو" does not share
        // the positive weights of "حلو".
        let su = feat(b'U', &t.stem);
        push(su, t.neg);
        if t.neg {
            push(feat(b'n', "neg"), false);
        }
        push(feat(b'W', &t.surface), t.neg);
        if let Some(p) = prev {
            push(p.rotate_left(17) ^ su ^ 0x5bd1_e995, false);
        }
        prev = Some(su);
        if t.negator {
            push(feat(b'G', "negator"), false);
        }
        if let Some(inner) = fused_negation(&t.surface) {
            push(feat(b'U', &stem(inner, Kind::Arabic)), true);
            push(feat(b'n', "neg"), false);
        }
        // Character n-grams with boundary markers.
        chars.clear();
        chars.push('<' as u32);
        chars.extend(t.surface.chars().take(24).map(|c| c as u32));
        chars.push('>' as u32);
        let n = chars.len();
        for size in 2..=4usize {
            if n < size {
                break;
            }
            for start in 0..=(n - size) {
                let mut h = FNV_OFFSET ^ (size as u64);
                for &c in &chars[start..start + size] {
                    h ^= c as u64;
                    h = h.wrapping_mul(FNV_PRIME);
                }
                push(h, t.neg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_scope() {
        let a = analyze("المنتج مش حلو بس التوصيل سريع");
        let negs: Vec<bool> = a.tokens.iter().map(|t| t.neg).collect();
        assert_eq!(negs, vec![false, false, true, false, false, false]);
        let a = analyze("not good at all");
        assert!(a.tokens[1].neg);
        let a = analyze("el montag mesh kowayes");
        assert_eq!(a.lang.lang, Lang::Arabizi);
        assert_eq!(a.tokens[3].surface, "كويس");
        assert!(a.tokens[3].neg);
        assert_eq!(fused_negation("ماعجبنيش"), Some("عجبني"));
        assert_eq!(fused_negation("ماشاءالله"), None);
    }

    #[test]
    fn stems() {
        assert_eq!(stem("المنتجات", Kind::Arabic), stem("منتج", Kind::Arabic));
        assert_eq!(stem("refunds", Kind::Latin), "refund");
    }

    #[test]
    fn bounded_and_total() {
        let big = "ا".repeat(600_000);
        let a = analyze(&big);
        let mut f = Vec::new();
        features(&a, 18, &mut f);
        assert!(f.iter().all(|&b| b < (1 << 18)));
        let a = analyze("");
        features(&a, 18, &mut f);
        assert!(f.is_empty());
    }
}
